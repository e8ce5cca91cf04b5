"""Cohort grading throughput: plain sequential `nbgrader autograde` against `python -m graders.cohort grade`.

    .venv/bin/python benchmarks/grade_cohort.py [--n 200] [--workers 2] [--keep DIR]

Builds a synthetic cohort (graders.cohort.synthetic: correct, mistaken, broken, corrupt, renamed and
adversarial submissions), makes two identical copies, grades one with a single sequential `nbgrader
autograde ASSIGNMENT` call and the other with our command (parallel workers, out-of-kernel recheck, reports
and feedback left out of the timing with --no-feedback), then prints submissions per second for both, the
ratio, and whether nbgrader's per-student scores are identical in the two gradebooks. Our command runs with
``--sandbox off`` here so that both runs execute student code under the same conditions (the sandbox makes a
solutions-reading cheat fail inside the kernel, which would change nbgrader's score for it, as intended).

Kinds that need minutes by design (an infinite loop waiting for the cell timeout) or that rewrite other
students' grades (making the two gradebooks differ on purpose) are left out of the timed cohort; the tests
cover them.
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

TIMED_KINDS = [k for k in synthetic.KINDS if k not in ("timeout", "write_gradebook")]
# Mostly honest work, as in a real cohort: ~60% correct or mistaken, the rest broken or adversarial.
WEIGHTS = {"correct": 6, "mistaken": 5, "broken": 2, "stderr_noise": 1}


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
    ap.add_argument("--workers", type=int, default=2)
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
    done = subprocess.run([sys.executable, "-m", "graders.cohort", "grade", synthetic.ASSIGNMENT, "--workers",
                           str(args.workers), "--timeout", str(args.timeout), "--no-feedback", "--quiet",
                           "--sandbox", "off"],
                          cwd=par, env=env, capture_output=True, text=True)
    t_par = time.perf_counter() - t
    if done.returncode != 0:
        print(done.stdout, done.stderr[-3000:])
        return 1

    s_seq, s_par = scores(seq), scores(par)
    # Submissions nbgrader cannot read (corrupt JSON, renamed notebook) get a silent 0 from plain nbgrader; our
    # command records them with a status in grades.csv instead of a gradebook score, so they are compared there.
    unreadable = [k for k in s_seq if s_par.get(k) is None]
    s_seq = {k: v for k, v in s_seq.items() if k not in unreadable}
    s_par = {k: v for k, v in s_par.items() if k not in unreadable}
    same = s_seq == s_par
    n = args.n
    print(f"sequential nbgrader autograde : {t_seq:8.1f} s  {n / t_seq:6.2f} submissions/s")
    print(f"graders.cohort ({args.workers} workers)    : {t_par:8.1f} s  {n / t_par:6.2f} submissions/s "
          f"(includes the out-of-kernel recheck)")
    print(f"speed-up: {t_seq / t_par:.2f}x on {os.cpu_count()} cores")
    print(f"nbgrader scores identical in both gradebooks: {same} ({len(s_seq)} gradable submissions; "
          f"{len(unreadable)} unreadable ones are a silent 0 in plain nbgrader and a status in our grades.csv)")
    if not same:
        diff = {k: (s_seq.get(k), s_par.get(k)) for k in s_seq if s_seq.get(k) != s_par.get(k)}
        print(f"  differing: {dict(list(diff.items())[:10])}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
