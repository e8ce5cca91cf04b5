"""Cohort grading throughput: plain sequential `nbgrader autograde` against `python -m graders.cohort grade`.

    .venv/bin/python benchmarks/grade_cohort.py [--n 200] [--workers N] [--keep DIR]

Builds a synthetic cohort (graders.cohort.synthetic: honest, broken, unreadable and hostile submissions), makes
two identical copies, grades one with a single sequential `nbgrader autograde ASSIGNMENT` call (student code
and tests in one unsandboxed kernel, as nbgrader does by default) and the other with our command as instructors
run it: every submission in its own bubblewrap sandbox, the tests run by the grader outside it, parallel workers
(feedback left out of both timings with --no-feedback). Prints submissions per second for both, the ratio, and
whether the honest students' scores are identical in the two gradebooks (hostile ones may differ on purpose:
what worked inside nbgrader's kernel does not work in the sandbox).

Kinds that need minutes by design (loops waiting for timeouts, memory and process attacks) are left out of the
timed cohort; the tests cover them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from graders.cohort import synthetic
from graders.cohort.__main__ import default_workers

TIMED_KINDS = list(synthetic.HONEST) + ["corrupt", "renamed", "frame_walk", "trace_and_patch", "code_swap",
                                         "public_helpers", "import_reference", "dunder_answer", "env_probe",
                                         "hidden_text", "extra_symlink"]
# Mostly honest work, as in a real cohort: ~70% correct or mistaken, the rest broken, unreadable or hostile.
WEIGHTS = {"correct": 8, "mistaken": 6, "broken": 2, "stderr_noise": 1, "chatty": 1}


def cohort_kinds(n: int) -> list[str]:
    pool = []
    for k in TIMED_KINDS:
        pool += [k] * WEIGHTS.get(k, 1)
    return [pool[i % len(pool)] for i in range(n)]


def scores(root: Path) -> dict[str, float | None]:
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for student in sorted(p.name for p in (root / "submitted").iterdir()):
                try:
                    out[student] = float(gb.find_submission(synthetic.ASSIGNMENT, student).score)
                except MissingEntry:
                    out[student] = None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="submissions (default 200)")
    ap.add_argument("--workers", type=int, default=None, help="default: the cohort command's own default")
    ap.add_argument("--timeout", type=int, default=30, help="cell timeout in seconds")
    ap.add_argument("--keep", help="build the cohorts in this folder and keep them")
    args = ap.parse_args(argv)
    base = Path(args.keep or tempfile.mkdtemp(prefix="cohort-bench-"))
    seq, par = base / "sequential", base / "parallel"
    for d in (seq, par):
        if d.exists():
            shutil.rmtree(d)
    kinds = cohort_kinds(args.n)
    synthetic.build_cohort(seq, kinds)
    shutil.copytree(seq, par)
    print(f"cohort: {args.n} submissions ({', '.join(f'{k} {kinds.count(k)}' for k in dict.fromkeys(kinds))})")

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    subprocess.run([nbgrader, "generate_assignment", synthetic.ASSIGNMENT, "--force",
                    f"--CourseDirectory.release_directory={base / 'release-tmp'}", "--log-level=ERROR"],
                   cwd=seq, env=env, check=True, capture_output=True)
    t = time.perf_counter()
    subprocess.run([nbgrader, "autograde", synthetic.ASSIGNMENT, f"--Execute.timeout={args.timeout}",
                    "--log-level=ERROR"], cwd=seq, env=env, capture_output=True)
    t_seq = time.perf_counter() - t

    t = time.perf_counter()
    workers = args.workers or default_workers()
    done = subprocess.run([sys.executable, "-m", "graders.cohort", "grade", synthetic.ASSIGNMENT, "--workers",
                           str(workers), "--timeout", str(args.timeout), "--no-feedback", "--quiet"],
                          cwd=par, env=env, capture_output=True, text=True)
    t_par = time.perf_counter() - t
    if done.returncode != 0 or "bubblewrap sandbox" not in done.stdout:
        print(done.stdout, done.stderr[-3000:])
        return 1

    s_seq, s_par = scores(seq), scores(par)
    honest = [k for k in s_seq if k.split("_", 1)[1] in synthetic.HONEST]
    same = all(s_seq[k] == s_par.get(k) == synthetic.HONEST_SCORE[k.split("_", 1)[1]] for k in honest)
    n = args.n
    print(f"sequential nbgrader autograde (no sandbox)     : {t_seq:8.1f} s  {n / t_seq:6.2f} submissions/s")
    print(f"graders.cohort ({workers} workers, bubblewrap, tests out of the sandbox): {t_par:8.1f} s  "
          f"{n / t_par:6.2f} submissions/s")
    print(f"speed-up: {t_seq / t_par:.2f}x on {os.cpu_count()} cores")
    print(f"honest students' scores identical in both gradebooks (and equal to what their answers earn): {same} "
          f"({len(honest)} honest submissions)")
    if not same:
        diff = {k: (s_seq.get(k), s_par.get(k)) for k in honest if s_seq.get(k) != s_par.get(k)}
        print(f"  differing: {dict(list(diff.items())[:10])}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
