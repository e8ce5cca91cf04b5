"""Cohort grading, as an instructor runs it and as hostile students attack it.

One synthetic cohort holds honest work and an attack for every cause found against the old grader (see
graders.cohort.synthetic.ATTACKS): every honest student must score exactly what their answers earn, every attack
at most what its honest part earns (or be flagged), nothing may leak or outlive the run, and the batch completes
with grades.csv, report.html and feedback. Then: resuming after ``kill -9`` (with no orphans), the Dask path with
the same sandbox, refusing without bubblewrap, PostgreSQL, the course's own notebooks, and units.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import nbformat
import pytest

from graders.cohort import preflight, sandbox, static_scan, synthetic
from graders.cohort.ledger import Ledger

TIMEOUT = 8
NOTEBOOK_TIMEOUT = 30
A = synthetic.ASSIGNMENT
SECRET = "s3cret-value-0f-the-instructor"
needs_sandbox = pytest.mark.skipif(sandbox.unavailable() is not None,
                                   reason=f"no bubblewrap sandbox here ({sandbox.unavailable()}); .ci/run installs it")


def _env(**extra) -> dict:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.update(extra)
    return env


def _grade(root: Path, *extra: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "graders.cohort", "grade", A, "--timeout", str(TIMEOUT),
                           "--notebook-timeout", str(NOTEBOOK_TIMEOUT), "--quiet", *extra], cwd=root,
                          env=env or _env(), capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return done


def _rows(root: Path) -> dict[str, dict]:
    with open(root / "cohort" / A / "grades.csv") as fh:
        return {r["student"]: r for r in csv.DictReader(fh)}


def _outputs(root: Path, student: str) -> str:
    """Everything the student's notebook printed or raised (outputs only, never sources)."""
    path = root / "autograded" / student / A / f"{A}.ipynb"
    if not path.exists():
        return ""
    nb = nbformat.read(str(path), as_version=4)
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", "") + str(o.get("evalue", "")) + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _sandbox_processes() -> list[str]:
    """Processes still running as a per-submission uid, or a bwrap/kernel of a grading run."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_COUNT or "sandbox_kernel" in cmd \
                or ("bwrap" in cmd and "/submission" in cmd):
            found.append(f"{pid} uid {uid}: {cmd[:120]}")
    return found


def _wait_until_gone(seconds: float = 10.0) -> list[str]:
    deadline = time.time() + seconds
    left = _sandbox_processes()
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = _sandbox_processes()
    return left


# ================================================================================= one cohort, every attack


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    if sandbox.unavailable():
        pytest.skip(f"no bubblewrap sandbox here ({sandbox.unavailable()}); .ci/run installs it")
    root = tmp_path_factory.mktemp("cohort")
    os.chmod(root, 0o755)
    pairs = dict(synthetic.build_cohort(root, synthetic.KINDS))
    start = time.time()
    done = _grade(root, "--workers", "2", env=_env(PGPASSWORD=SECRET, BACKPROP_TEST_SECRET=SECRET))
    return root, pairs, done, time.time() - start


def test_honest_students_score_exactly_what_their_answers_earn(cohort):
    root, kinds, _, _ = cohort
    rows = _rows(root)
    for student, kind in kinds.items():
        if kind in synthetic.HONEST:
            assert rows[student]["status"] == "graded", rows[student]
            assert float(rows[student]["score"]) == synthetic.HONEST_SCORE[kind], rows[student]
    assert {rows[s]["max_score"] for s in rows} == {"6"}
    mistaken = next(rows[s] for s, k in kinds.items() if k == "mistaken")
    assert "BIAS_KEEPDIMS" in mistaken["diagnoses"]


def test_every_attack_scores_at_most_what_its_honest_part_earns(cohort):
    root, kinds, _, _ = cohort
    rows = _rows(root)
    causes = set()
    for student, kind in kinds.items():
        if kind in synthetic.HONEST:
            continue
        row = rows[student]
        assert row["status"] in synthetic.expected_statuses(kind), (kind, row)
        assert float(row["score"]) <= synthetic.worth(kind) + 1e-9, (kind, row)
        if kind in synthetic.ATTACKS:
            causes.add(synthetic.ATTACKS[kind]["cause"])
    assert causes >= {1, 2, 3, 4, 5, 7, 8}  # 6 (private home) and 9-10 (gradebook, feedback) have tests below


def test_no_attack_found_anything_inside_its_sandbox(cohort):
    root, kinds, _, _ = cohort
    for student, kind in kinds.items():
        text = _outputs(root, student)
        assert "LEAKED" not in text, (kind, [ln for ln in text.splitlines() if "LEAKED" in ln][:5])
        assert SECRET not in text
    read = _outputs(root, next(s for s, k in kinds.items() if k == "read_course"))
    assert "working folder: /submission" in read  # the attack ran, and saw none of the course


def test_limits_hold_and_nothing_outlives_the_run(cohort):
    root, kinds, _, _ = cohort
    rows = _rows(root)
    by = {k: s for s, k in kinds.items()}
    assert "fork refused after" in _outputs(root, by["fork_bomb"])
    ledger = Ledger(root / "cohort" / A / "ledger.jsonl").load()
    assert ledger[by["loop_cells"]]["seconds"] < NOTEBOOK_TIMEOUT + 20  # a budget per notebook, not per cell
    assert "output limit" in rows[by["output_flood"]]["flags"]
    flood = root / "autograded" / by["output_flood"] / A / f"{A}.ipynb"
    assert flood.stat().st_size < 5_000_000
    time.sleep(5)  # the detached writer waits 4 s before it writes, if it still lives
    assert _wait_until_gone() == []
    for name in ("grades.csv", "ledger.jsonl"):
        assert "FORGED" not in (root / "cohort" / A / name).read_text()
    assert b"FORGED" not in (root / "gradebook.db").read_bytes()
    assert sandbox.live_claims() == []  # every uid this run claimed was given back
    for ctl in ("memory", "pids"):
        base = sandbox.CGROUP_ROOT / ctl / sandbox.CGROUP_NAME
        assert not base.exists() or not [d for d in base.iterdir() if d.is_dir()]


def test_batch_completes_with_reports_and_per_student_feedback(cohort):
    root, kinds, done, _ = cohort
    out = root / "cohort" / A
    assert (out / "grades.csv").exists() and (out / "report.html").exists()
    by = {k: s for s, k in kinds.items()}
    assert (root / "feedback" / by["hidden_text"] / A / f"{A}.html").exists()
    assert _rows(root)[by["hidden_text"]]["status"] == "graded"
    html = (out / "report.html").read_text()
    assert html.index("Needs attention") < html.index("Submissions by status") < html.index("Scores per exercise")
    assert html.index(by["protocol_garbage"]) < html.index(by["serve_hijack"])  # tampered before needs_review
    order = [html.index(f"<td>{g}</td>") for g in ("relu_tests", "affine_tests", "mc_tests")]
    assert order == sorted(order)  # exercises in notebook order


def test_feedback_never_shows_hidden_tests(cohort):
    root, kinds, _, _ = cohort
    mistaken = next(s for s, k in kinds.items() if k == "mistaken")
    page = (root / "feedback" / mistaken / A / f"{A}.html").read_text()
    assert "hidden tests: ✗ affine forward/backward: backward db" in page
    assert "seed 92" not in page and "thorough=True" not in page
    graded = (root / "autograded" / mistaken / A / f"{A}.ipynb").read_text()
    assert "seed 92" in graded  # the instructor's copy keeps the hidden test's full output


def test_flagged_submissions_show_as_flagged_in_the_gradebook(cohort):
    from nbgrader.api import Gradebook

    root, kinds, _, _ = cohort
    by = {k: s for s, k in kinds.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "backprop-course") as gb:
            for kind, status in (("protocol_garbage", "tampered"), ("serve_hijack", "needs_review")):
                sub = gb.find_submission(A, by[kind])
                nb = sub.notebooks[0]
                assert all(g.needs_manual_grade for g in nb.grades)
                assert all(f"FLAGGED {status}" in (c.manual_comment or "") for c in nb.comments)
            honest = gb.find_submission(A, by["correct"]).notebooks[0]
            assert not any(g.needs_manual_grade for g in honest.grades if g.auto_score is not None)
            assert float(gb.find_submission(A, by["correct"]).score) == 6.0


def test_second_run_grades_nothing_again(cohort):
    root, kinds, _, _ = cohort
    before = (root / "cohort" / A / "ledger.jsonl").read_text().count("\n")
    done = _grade(root, "--workers", "2", "--no-feedback")
    assert f"{len(kinds)} already graded, 0 to grade" in done.stdout
    assert (root / "cohort" / A / "ledger.jsonl").read_text().count("\n") == before


# ================================================================================= the sandbox itself


PROBE = """import os, sys
print('uid', os.getuid(), os.geteuid(), 'gid', os.getgid())
for _p in ['{root}/solutions/ex/ex.ipynb', '{root}/gradebook.db', sys.base_prefix + '/bin/python3']:
    try:
        with open(_p, 'rb') as _fh:
            _fh.read(1)
        print('readable', _p)
    except OSError as _e:
        print('unreadable', _p, type(_e).__name__)
"""


@needs_sandbox
def test_student_code_never_runs_as_root_and_sees_no_course_files(tmp_path):
    """With the interpreter under a home that others cannot enter (root's 0700 home with pyenv, as on these
    machines; .ci/run leaves it so), the kernel still starts, as an unprivileged uid that cannot read solutions
    or the gradebook."""
    os.chmod(tmp_path, 0o755)
    synthetic.build_course(tmp_path)
    release = synthetic.release_notebook(tmp_path)
    folder = tmp_path / "submitted" / "probe" / A
    folder.mkdir(parents=True)
    nb = synthetic._fill(release, synthetic.RELU_OK, synthetic.AFFINE_OK, "relu_cache_choice = 'c'",
                         before=[PROBE.replace("{root}", str(tmp_path.resolve()))])
    nbformat.write(nb, str(folder / f"{A}.ipynb"))
    _grade(tmp_path, "--workers", "1", "--no-feedback")
    text = _outputs(tmp_path, "probe")
    uid_line = next(ln for ln in text.splitlines() if ln.startswith("uid "))
    uid, euid = (int(x) for x in uid_line.split()[1:3])
    assert uid != 0 and euid != 0, uid_line
    assert f"unreadable {tmp_path.resolve()}/solutions/ex/ex.ipynb" in text
    assert f"unreadable {tmp_path.resolve()}/gradebook.db" in text
    assert "readable " + sys.base_prefix in text.replace("unreadable", "")  # the interpreter itself is usable
    assert float(_rows(tmp_path)["probe"]["score"]) == 6.0
    home = Path(sys.base_prefix)
    private = [p for p in [home, *home.parents] if p != Path("/") and not os.stat(p).st_mode & 0o001]
    if os.geteuid() == 0 and not private:
        pytest.skip("the interpreter is not under a private folder here; the point above still holds")


@needs_sandbox
def test_a_killed_run_leaves_nothing_running_and_resumes(tmp_path):
    kinds = ["correct", "mistaken", "broken", "correct", "mistaken", "fork_bomb", "correct", "mistaken"]
    synthetic.build_cohort(tmp_path, kinds)
    ledger = tmp_path / "cohort" / A / "ledger.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "graders.cohort", "grade", A, "--workers", "2", "--quiet",
                             "--no-feedback"], cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        if ledger.exists() and ledger.read_text().count("\n") >= 3 and _sandbox_processes():
            break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # the grader only: its workers, sandboxes and kernels must follow
    proc.wait()
    assert _wait_until_gone(15) == []
    workers = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).find(str(tmp_path)) >= 0]
    assert workers == []
    first = Ledger(ledger).load()
    assert 3 <= len(first) < len(kinds)
    done = _grade(tmp_path, "--workers", "2", "--no-feedback")
    assert f"{len(first)} already graded" in done.stdout
    rows = _rows(tmp_path)
    lines = [json.loads(x) for x in ledger.read_text().splitlines()]
    assert len(lines) == len({r["student"] for r in lines}) == len(kinds)  # nothing graded twice
    for s, row in rows.items():
        assert float(row["score"]) == synthetic.worth(s.split("_", 1)[1]), row


def _cmdline(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@needs_sandbox
def test_dask_workers_grade_in_the_same_sandbox(tmp_path):
    distributed = pytest.importorskip("distributed")
    kinds = ["correct", "mistaken", "read_course", "import_reference"]
    pairs = dict(synthetic.build_cohort(tmp_path, kinds))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                           dashboard_address=None)
        try:
            done = _grade(tmp_path, "--scheduler", cluster.scheduler_address, "--no-feedback")
        finally:
            cluster.close()
    assert "Dask at tcp://" in done.stdout and "bubblewrap sandbox" in done.stdout
    rows = _rows(tmp_path)
    for s, k in pairs.items():
        assert float(rows[s]["score"]) == synthetic.worth(k) if k in synthetic.HONEST else \
            float(rows[s]["score"]) <= synthetic.worth(k), rows[s]
        assert "LEAKED" not in _outputs(tmp_path, s)


@needs_sandbox
def test_a_dask_worker_without_bubblewrap_refuses_its_tasks(tmp_path):
    pytest.importorskip("distributed")
    synthetic.build_cohort(tmp_path, ["correct"])
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(sys.executable, bare / "python")
    env = dict(os.environ, PATH=str(bare))  # the worker machine has Python but no bwrap
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
                              "--dashboard-address", ":0", "--scheduler-file", str(tmp_path / "s.json")],
                             env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(200):
            if (tmp_path / "s.json").exists():
                break
            time.sleep(0.1)
        address = json.loads((tmp_path / "s.json").read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        done = _grade(tmp_path, "--scheduler", address, "--no-feedback", check=False)
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                p.wait(30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused by a machine without a sandbox" in done.stderr and "bubblewrap" in done.stderr
    assert _rows(tmp_path)["s000_correct"]["status"] == "error"


def test_grading_refuses_without_bubblewrap_unless_told_it_is_unsafe(tmp_path):
    synthetic.build_cohort(tmp_path, ["correct"])
    bare = tmp_path / "bin"
    bare.mkdir()
    env = dict(os.environ, PATH=str(bare))
    done = _grade(tmp_path, "--workers", "1", check=False, env=env)
    assert done.returncode != 0 and "refusing to grade" in (done.stdout + done.stderr)
    assert "bubblewrap" in done.stdout + done.stderr and not (tmp_path / "cohort" / A / "grades.csv").exists()
    done = _grade(tmp_path, "--workers", "1", "--unsafe-no-sandbox", "--no-feedback",
                  env=dict(env, PATH=f"{bare}:{Path(sys.executable).parent}:/usr/bin:/bin"))
    assert "UNSANDBOXED" in done.stdout
    assert _rows(tmp_path)["s000_correct"]["score"] == "6"


@pytest.mark.skipif(not os.environ.get("BACKPROP_TEST_PG_URL"),
                    reason="set BACKPROP_TEST_PG_URL to a PostgreSQL database (.ci/run starts one on loopback)")
@needs_sandbox
def test_postgresql_gradebook(tmp_path):
    import sqlalchemy
    from nbgrader.api import Gradebook

    url = os.environ["BACKPROP_TEST_PG_URL"]
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as con:  # a clean gradebook
        con.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()
    synthetic.build_cohort(tmp_path, ["correct", "mistaken", "env_probe"])
    done = _grade(tmp_path, "--workers", "2", "--db-url", url, "--no-feedback")
    assert not (tmp_path / "gradebook.db").exists()
    assert "LEAKED" not in _outputs(tmp_path, "s002_env_probe") and "backprop_grader" not in \
        _outputs(tmp_path, "s002_env_probe")  # neither the URL's password nor the command line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(url) as gb:
            got = [float(gb.find_submission(A, s).score) for s in ("s000_correct", "s001_mistaken", "s002_env_probe")]
    assert got == [6.0, 4.1, 1.0], done.stdout


# ================================================================================= the course's own notebooks


REAL_ASSIGNMENTS = [a for a in sorted(p.name for p in (Path(__file__).resolve().parents[1] / "solutions").iterdir()
                                       if p.is_dir()) if a != "09_mock_interview"]  # 09 has no graded cells


@needs_sandbox
@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_a_real_course_assignment_grades_full_zero_and_partial(tmp_path, assignment):
    """The cohort command on each notebook of the course itself: the instructor's answers get full marks with no
    flag (every answer cell works inside the sandbox, without the checks or the reference library), the untouched
    release gets a real zero, and one wrong multiple-choice letter loses exactly that cell."""
    from graders import concepts

    repo = Path(__file__).resolve().parents[1]
    src = repo / "solutions" / assignment
    shutil.copytree(src, tmp_path / "solutions" / assignment)
    shutil.copy(repo / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (nb_path,) = sorted(src.glob("*.ipynb"))
    release = nbformat.read(str(repo / "notebooks" / assignment / nb_path.name), as_version=4)
    solved = nbformat.read(str(nb_path), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solved.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    full = nbformat.from_dict(json.loads(json.dumps(release)))
    for c in full.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            c.source = answers[gid]
    students = [("full", full), ("empty", release)]
    mc_cell = next((c for c in solved.cells if "concepts.check_choice(" in c.source
                    and c.metadata.get("nbgrader", {}).get("grade")), None)
    if mc_cell is not None:
        partial = nbformat.from_dict(json.loads(json.dumps(full)))
        qid = mc_cell.source.split('check_choice("')[1].split('"')[0]
        q = concepts.questions()[qid]
        wrong = next(letter for letter in q.options if concepts.digest(qid, letter) != q.answer_digest)
        var = mc_cell.source.split(f'check_choice("{qid}", ')[1].split(",")[0].strip()
        answer_cell = next(c for c in partial.cells if c.metadata.get("nbgrader", {}).get("solution")
                           and f"{var} =" in c.source)
        answer_cell.source += f"\n{var} = {wrong!r}"
        students.append(("partial", partial))
    for student, nb in students:
        out = tmp_path / "submitted" / student / assignment / nb_path.name
        out.parent.mkdir(parents=True)
        nbformat.write(nb, str(out))
    done = subprocess.run([sys.executable, "-m", "graders.cohort", "grade", assignment, "--timeout", "120",
                           "--quiet", "--workers", "2", "--no-feedback"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    with open(tmp_path / "cohort" / assignment / "grades.csv") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    shown = json.dumps(rows, indent=1)
    total = sum(c.metadata["nbgrader"]["points"] for c in solved.cells if c.metadata.get("nbgrader", {}).get("grade")
                and c.cell_type == "code")
    assert rows["full"]["status"] == "graded" and float(rows["full"]["score"]) == total, shown
    assert rows["empty"]["status"] == "graded" and float(rows["empty"]["score"]) == 0.0, shown
    if mc_cell is not None:
        assert rows["partial"]["status"] == "graded", shown
        assert float(rows["partial"]["score"]) == total - mc_cell.metadata["nbgrader"]["points"], shown
    # every non-test cell of the instructor's notebook ran without an error inside the sandbox
    graded = nbformat.read(str(tmp_path / "autograded" / "full" / assignment / nb_path.name), as_version=4)
    errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.get("ename"), str(o.get("evalue"))[:200])
              for c in graded.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == [], errors


# ================================================================================= units


def test_preflight_statuses(tmp_path):
    assert preflight.check_submission(tmp_path, ["ex.ipynb"])[0] == "missing_notebook"
    (tmp_path / "other.ipynb").write_text("{}")
    status, detail = preflight.check_submission(tmp_path, ["ex.ipynb"])
    assert status == "missing_notebook" and "other.ipynb instead" in detail
    (tmp_path / "ex.ipynb").write_text("{not json")
    assert preflight.check_submission(tmp_path, ["ex.ipynb"])[0] == "corrupt_notebook"
    (tmp_path / "ex.ipynb").write_text(json.dumps({"cells": "nope"}))
    status, detail = preflight.check_submission(tmp_path, ["ex.ipynb"])
    assert status == "corrupt_notebook" and "not a valid notebook" in detail
    (tmp_path / "sub").mkdir()
    os.symlink("/etc", tmp_path / "sub" / "link")
    status, detail = preflight.check_submission(tmp_path, ["ex.ipynb"])
    assert status == "rejected" and "sub/link is a symbolic link" in detail
    os.unlink(tmp_path / "sub" / "link")
    os.mkfifo(tmp_path / "sub" / "pipe")
    assert preflight.check_submission(tmp_path, ["ex.ipynb"])[0] == "rejected"
    link = tmp_path.parent / f"{tmp_path.name}-link"
    os.symlink(tmp_path, link)
    assert preflight.check_submission(link, ["ex.ipynb"])[0] == "rejected"


def test_ledger_ignores_a_torn_last_line(tmp_path):
    led = Ledger(tmp_path / "l.jsonl")
    led.append({"student": "a", "score": 1})
    led.append({"student": "b", "score": 2})
    with open(led.path, "a") as fh:
        fh.write('{"student": "c", "sco')
    assert set(led.load()) == {"a", "b"}


@pytest.mark.parametrize("src,expect", [
    ("import sqlite3", "sqlite3"), ("from reference_impl.layers import relu_forward", "reference implementation"),
    ("x = open('../../solutions/a.ipynb')", "course files"), ("import os\nos._exit(0)", "os._exit"),
    ("get_ipython().input_transformers_post.append(f)", "input transformer"),
    ("import os\nos.environ['NBGRADER_EXECUTION']", "nbgrader's environment"),
    ("from graders.layers import ref", ".ref"),
])
def test_static_scan_names_suspicious_code(src, expect):
    assert any(expect in why for why in static_scan.scan(src)), static_scan.scan(src)


def test_static_scan_leaves_honest_code_alone():
    honest = synthetic.RELU_OK + synthetic.AFFINE_OK + "\nimport numpy as np\nfrom math import exp\n"
    assert static_scan.scan(honest) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="per-submission uids need root")
def test_concurrent_uid_claims_never_collide():
    import threading

    got: list = []

    def claim():
        for _ in range(25):
            got.append(sandbox._claim_uid("same student"))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(got) == len(set(got)) == 100 and all(u is not None for u in got)
    finally:
        for uid in got:
            sandbox._release_uid(uid)


def test_the_sandbox_command_binds_nothing_of_the_course(tmp_path):
    box = sandbox.Box(work=tmp_path / "w", kernel_dir=tmp_path / "k", opt=tmp_path / "opt", limits=sandbox.Limits(),
                      name="unit", uid=61999)
    argv = box.command(["python", "-c", "pass"], env={})
    cmd = " ".join(argv)
    repo = Path(__file__).resolve().parents[1]
    sources = [Path(argv[i + 1]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")]
    assert f"--bind {tmp_path / 'w'} {sandbox.WORK_INSIDE}" in cmd
    for src in sources:  # the interpreter and the venv (which may live in the repo) only, never the course
        if src == repo or repo in src.parents:
            assert src == Path(sys.prefix) or Path(sys.prefix) in src.parents, src
    assert "--clearenv" in cmd and "--unshare-all" in cmd and "--die-with-parent" in cmd
    if os.geteuid() == 0:
        assert "--reuid=61999" in cmd and "--no-new-privs" in cmd and "--unshare-pid" in cmd
