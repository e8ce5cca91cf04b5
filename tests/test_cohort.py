"""Cohort grading: every status and every cheat on a synthetic cohort, resumability after a kill, the Dask
executor, PostgreSQL gradebooks, feedback without hidden tests, and the report."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from graders.cohort import preflight, static_scan, synthetic
from graders.cohort.ledger import Ledger

TIMEOUT = 8


def _env():
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def _grade(root: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "graders.cohort", "grade", synthetic.ASSIGNMENT, "--timeout",
                           str(TIMEOUT), "--quiet", *extra], cwd=root, env=_env(), capture_output=True, text=True,
                          timeout=900)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return done


def _rows(root: Path) -> dict[str, dict]:
    with open(root / "cohort" / synthetic.ASSIGNMENT / "grades.csv") as fh:
        return {r["student"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def graded_cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    pairs = synthetic.build_cohort(root, synthetic.KINDS)
    done = _grade(root, "--workers", "2")
    return root, dict(pairs), done


def test_every_kind_gets_its_status_and_no_cheat_gains_points(graded_cohort):
    root, kinds, done = graded_cohort
    rows = _rows(root)
    assert set(rows) == set(kinds)
    for student, kind in kinds.items():
        row = rows[student]
        assert row["status"] in synthetic.EXPECTED_STATUS[kind], (kind, row)
        honest = synthetic.HONEST_SCORE.get(kind, 0.0)
        assert float(row["score"]) <= honest + 1e-9, (kind, row)
        assert row["max_score"] == "5"
    by_kind = {k: rows[s] for s, k in kinds.items()}
    assert by_kind["correct"]["score"] == "5" and by_kind["stderr_noise"]["score"] == "5"
    assert by_kind["mistaken"]["score"] == "4.25" and "BIAS_KEEPDIMS" in by_kind["mistaken"]["diagnoses"]
    assert by_kind["broken"]["score"] == "0" and by_kind["broken"]["status"] == "graded"  # a real zero
    assert "not valid JSON" in by_kind["corrupt"]["detail"]
    assert "renamed" in by_kind["renamed"]["detail"]
    assert "time limit" in by_kind["timeout"]["detail"] and float(by_kind["timeout"]["score"]) == 3.0
    # cheats that worked inside the kernel are caught by the recheck or the static scan
    assert float(by_kind["numpy_patch"]["nbgrader_score"]) > float(by_kind["numpy_patch"]["recheck_score"])
    assert "numpy.abs" in by_kind["numpy_patch"]["flags"]
    assert "Report.finish" in by_kind["graders_patch"]["flags"]
    assert by_kind["input_transformer"]["nbgrader_score"] == "5" and by_kind["input_transformer"]["score"] == "0"
    assert "reference implementation" in by_kind["import_reference"]["flags"]
    assert "sqlite3" in by_kind["write_gradebook"]["flags"]
    # the gradebook writer zeroed other students inside the kernel; they were regraded and are right
    assert by_kind["correct"]["score"] == "5" and by_kind["correct"]["nbgrader_score"] == "5"


def test_gradebook_agrees_with_the_csv_after_a_gradebook_writing_cheat(graded_cohort):
    from nbgrader.api import Gradebook

    root, kinds, _ = graded_cohort
    rows = _rows(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for student, kind in kinds.items():
                if rows[student]["status"] in ("graded", "timeout"):
                    assert gb.find_submission(synthetic.ASSIGNMENT, student).score == float(rows[student]["score"])


def test_feedback_has_no_hidden_tests(graded_cohort):
    root, kinds, _ = graded_cohort
    pages = list((root / "feedback").glob(f"*/{synthetic.ASSIGNMENT}/*.html"))
    assert len(pages) >= 8
    for page in pages:
        text = page.read_text()
        assert "HIDDEN TESTS" not in text and "seed=91" not in text and "seed=92" not in text, page


def test_report_shows_statuses_scores_and_mistakes(graded_cohort):
    root, _, _ = graded_cohort
    html = (root / "cohort" / synthetic.ASSIGNMENT / "report.html").read_text()
    for needle in ("tampered", "corrupt_notebook", "missing_notebook", "timeout", "Most frequent diagnosed mistakes",
                   "data:image/png;base64", "Scores per exercise"):
        assert needle in html


def test_second_run_grades_nothing_again(graded_cohort):
    root, kinds, _ = graded_cohort
    before = Ledger(root / "cohort" / synthetic.ASSIGNMENT / "ledger.jsonl").path.read_text().count("\n")
    done = _grade(root, "--workers", "2", "--no-feedback")
    assert f"{len(kinds)} already graded, 0 to grade" in done.stdout
    after = (root / "cohort" / synthetic.ASSIGNMENT / "ledger.jsonl").read_text().count("\n")
    assert after == before


def test_a_killed_run_resumes_without_redoing_or_losing_work(tmp_path):
    kinds = ["correct", "mistaken", "broken", "correct", "mistaken", "broken", "correct", "mistaken"]
    synthetic.build_cohort(tmp_path, kinds)
    ledger = tmp_path / "cohort" / synthetic.ASSIGNMENT / "ledger.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "graders.cohort", "grade", synthetic.ASSIGNMENT, "--workers", "1",
                             "--quiet", "--no-feedback"], cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if ledger.exists() and ledger.read_text().count("\n") >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = Ledger(ledger).load()
    assert 3 <= len(first) < len(kinds)
    mtimes = {s: (tmp_path / "autograded" / s / synthetic.ASSIGNMENT / "ex.ipynb").stat().st_mtime for s in first}
    done = _grade(tmp_path, "--workers", "2", "--no-feedback")
    assert f"{len(first)} already graded" in done.stdout
    for s, m in mtimes.items():  # not redone
        assert (tmp_path / "autograded" / s / synthetic.ASSIGNMENT / "ex.ipynb").stat().st_mtime == m
    rows = _rows(tmp_path)
    assert len(rows) == len(kinds)
    lines = [json.loads(x) for x in ledger.read_text().splitlines()]
    assert len(lines) == len({r["student"] for r in lines}) == len(kinds)  # nothing counted twice
    for s, row in rows.items():
        expected = {"correct": "5", "mistaken": "4.25", "broken": "0"}[s.split("_", 1)[1]]
        assert row["score"] == expected and row["status"] == "graded"


def test_dask_scheduler_gives_the_same_grades(tmp_path):
    distributed = pytest.importorskip("distributed")
    kinds = ["correct", "mistaken", "broken", "numpy_patch"]
    synthetic.build_cohort(tmp_path, kinds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        try:
            done = _grade(tmp_path, "--scheduler", cluster.scheduler_address, "--no-feedback")
        finally:
            cluster.close()
    assert "Dask at tcp://" in done.stdout
    rows = _rows(tmp_path)
    assert [rows[s]["score"] for s in sorted(rows)] == ["5", "4.25", "0", "0"]
    assert rows[sorted(rows)[3]]["status"] == "tampered"


@pytest.mark.skipif(not os.environ.get("BACKPROP_TEST_PG_URL"),
                    reason="set BACKPROP_TEST_PG_URL to a PostgreSQL database (.ci/run starts one on loopback)")
def test_postgresql_gradebook(tmp_path):
    import sqlalchemy
    from nbgrader.api import Gradebook

    url = os.environ["BACKPROP_TEST_PG_URL"]
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as con:  # a clean gradebook
        con.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()
    synthetic.build_cohort(tmp_path, ["correct", "mistaken", "broken"])
    _grade(tmp_path, "--workers", "2", "--db-url", url, "--no-feedback")
    assert not (tmp_path / "gradebook.db").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(url) as gb:
            got = sorted(float(gb.find_submission(synthetic.ASSIGNMENT, s).score) for s in
                         ("s000_correct", "s001_mistaken", "s002_broken"))
    assert got == [0.0, 4.25, 5.0]


# ----------------------------------------------------------------------------------------- units


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
def test_static_scan_names_cheats(src, expect):
    assert any(expect in why for why in static_scan.scan(src)), static_scan.scan(src)


def test_static_scan_leaves_honest_code_alone():
    honest = synthetic.RELU_OK + synthetic.AFFINE_OK + "\nimport numpy as np\nfrom math import exp\n"
    assert static_scan.scan(honest) == []


def _sandbox_ready() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "needs root to switch the kernel to the sandbox user"
    from graders.cohort.__main__ import ensure_sandbox_user
    from graders.cohort.kernel import sandbox_usable

    if not ensure_sandbox_user():
        return False, "could not create the sandbox user"
    return sandbox_usable()


def test_sandboxed_kernel_cannot_read_solutions_or_write_the_gradebook(tmp_path):
    ready, why = _sandbox_ready()
    if not ready:
        pytest.skip(f"sandboxed kernel unavailable here: {why}")
    pairs = dict(synthetic.build_cohort(tmp_path, ["correct", "read_solutions", "write_gradebook", "correct"]))
    done = _grade(tmp_path, "--workers", "2", "--sandbox", "on", "--no-feedback")
    assert "(sandboxed kernel)" in done.stdout
    assert "gradebook changed" not in done.stdout  # the cheat could not write it in the first place
    rows = _rows(tmp_path)
    by_kind = {k: rows[s] for s, k in pairs.items()}
    assert by_kind["correct"]["score"] == "5" and by_kind["correct"]["status"] == "graded"
    # inside the kernel the solutions were unreadable, so even nbgrader's own score shows no gain
    assert float(by_kind["read_solutions"]["nbgrader_score"]) == 0.0
    assert by_kind["read_solutions"]["status"] == "tampered" and by_kind["write_gradebook"]["status"] == "tampered"
    assert oct((tmp_path / "gradebook.db").stat().st_mode & 0o777) == "0o600"


REAL_ASSIGNMENTS = [a for a in sorted(p.name for p in (Path(__file__).resolve().parents[1] / "solutions").iterdir()
                                       if p.is_dir()) if a != "09_mock_interview"]  # 09 has no graded cells


@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_a_real_course_assignment_grades_full_zero_and_partial(tmp_path, assignment):
    """The cohort command on each notebook of the course itself (not the synthetic one): the instructor's
    answers get full marks with no tampering flag (the out-of-kernel recheck agrees with the kernel), the
    untouched release gets a real zero, and (where the notebook has multiple-choice questions) a submission
    with one wrong letter loses exactly that cell."""
    import shutil

    import nbformat

    from graders import concepts
    repo = Path(__file__).resolve().parents[1]
    src = repo / "solutions" / assignment
    shutil.copytree(src, tmp_path / "solutions" / assignment)
    shutil.copy(repo / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (nb_path,) = sorted(src.glob("*.ipynb"))
    release = nbformat.read(str(repo / "notebooks" / assignment / nb_path.name), as_version=4)
    solved = nbformat.read(str(nb_path), as_version=4)
    # a student's copy: the release with the instructor's answer cells pasted in (test cells stay the release's)
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
    if mc_cell is not None:  # one multiple-choice answer changed to a wrong letter
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
                           "--quiet", "--workers", "2"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    with open(tmp_path / "cohort" / assignment / "grades.csv") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    shown = json.dumps(rows, indent=1)
    total = sum(c.metadata["nbgrader"]["points"] for c in solved.cells if c.metadata.get("nbgrader", {}).get("grade")
                and c.cell_type == "code")
    assert rows["full"]["status"] == "graded" and not rows["full"]["flags"], shown
    assert float(rows["full"]["score"]) == total and float(rows["full"]["recheck_score"]) == total, shown
    assert rows["empty"]["status"] == "graded" and float(rows["empty"]["score"]) == 0.0, shown
    if mc_cell is not None:
        assert rows["partial"]["status"] == "graded" and not rows["partial"]["flags"], shown
        assert float(rows["partial"]["score"]) == total - mc_cell.metadata["nbgrader"]["points"], shown
