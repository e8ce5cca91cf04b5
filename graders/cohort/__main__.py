"""Grade a cohort: ``python -m graders.cohort grade ASSIGNMENT [options]`` (run from the course root).

Every submission under submitted/*/ASSIGNMENT/ is graded by nbgrader's autograde with the student's cells in a
bubblewrap sandbox of its own and the test cells run by the grader outside it (graders.cohort.execute), in
parallel worker processes or on a Dask cluster (``--scheduler ADDRESS``). Writes nbgrader's gradebook (SQLite by
default, any SQLAlchemy URL with ``--db-url``, e.g. PostgreSQL), feedback HTML without hidden tests (per
student: a failure marks that student ``feedback_error``), ``cohort/ASSIGNMENT/grades.csv`` with a status column
and ``cohort/ASSIGNMENT/report.html``.

A killed run resumes where it stopped: finished students are read from cohort/ASSIGNMENT/ledger.jsonl;
``--force`` regrades everyone. Without bubblewrap the command refuses to run unless ``--unsafe-no-sandbox`` is
given (then student code runs as the grading user: only for trusted code).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import ctypes
import io
import logging
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from graders.cohort import execute, report, sandbox
from graders.cohort.course import COURSE_ID, Course
from graders.cohort.ledger import Ledger
from graders.cohort.worker import grade_student


def _progress(done: int, total: int, start: float, stream) -> None:
    width = 30
    frac = done / total if total else 1.0
    rate = done / max(1e-9, time.time() - start)
    bar = "#" * int(width * frac) + "-" * (width - int(width * frac))
    stream.write(f"\r[{bar}] {done}/{total} submissions  {rate:.2f}/s")
    stream.flush()


def register_assignment(course: Course) -> float:
    """Put the assignment's notebooks and grade cells into the gradebook; return its maximum score."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    with tempfile.TemporaryDirectory() as tmp:
        cfg = course.config()
        cfg.CourseDirectory.release_directory = tmp
        api = NbGraderAPI(config=cfg)
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = api.generate_assignment(course.assignment, force=True)
    if not result.get("success"):
        raise SystemExit(f"could not register {course.assignment} in the gradebook:\n{result.get('error', '')}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url, COURSE_ID) as gb:
            return float(gb.find_assignment(course.assignment).max_score)


def secure_course(course: Course) -> None:
    """As root: course folders private to root (the sandbox already hides them; this covers other local users)."""
    if os.geteuid() != 0:
        return
    root = course.root
    for d in ("solutions", "submitted", "cohort", "feedback", "source", "release", "autograded"):
        if (root / d).exists():
            os.chmod(root / d, 0o700)
    for f in root.glob("*.db"):
        os.chmod(f, 0o600)


def default_workers() -> int:
    """1.5 workers per CPU: each worker spends part of a submission waiting (kernel start-up, the kernel's replies),
    so one more worker per two cores keeps the CPUs busy (measured: benchmarks/grade_cohort.py, 2 cores, 3 workers)."""
    return max(2, (3 * (os.cpu_count() or 2)) // 2)


def _die_with_parent() -> None:
    """Worker initializer: SIGKILL this worker when the grader dies (even by kill -9); its sandboxes follow."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(1)


def _executor(args):
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
        return client.get_executor(), client
    return cf.ProcessPoolExecutor(max_workers=args.workers, initializer=_die_with_parent), None


def grade(args) -> int:
    course = Course(Path(args.root), args.assignment, args.db_url, args.timeout)
    if not args.unsafe_no_sandbox and not args.scheduler:
        why = sandbox.unavailable()
        if why:
            raise SystemExit(f"refusing to grade: student code must run in a sandbox and this machine has none "
                             f"({why}). Install bubblewrap (apt-get install bubblewrap), or pass "
                             f"--unsafe-no-sandbox to run submissions as {os.environ.get('USER', 'this user')} "
                             f"(only for code you trust).")
    out = course.out_dir
    out.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(out / "ledger.jsonl")
    if args.force:
        ledger.clear()
    max_score = register_assignment(course)
    sandbox.sweep_stale_cgroups()
    sandbox.sweep_stale_uids()
    run_dir = out / "sandbox"
    execute.install_kernelspec(run_dir / "jupyter")
    execute.prepare_opt(run_dir / "opt")
    secure_course(course)
    done = {s for s, r in ledger.load().items() if not r.get("refused")}
    students = course.students()
    todo = [s for s in students if s not in done]
    where = f"Dask at {args.scheduler}" if args.scheduler else f"{args.workers} workers"
    mode = "UNSANDBOXED (--unsafe-no-sandbox)" if args.unsafe_no_sandbox else "each in its own bubblewrap sandbox"
    print(f"{course.assignment}: {len(students)} submissions, {len(students) - len(todo)} already graded, "
          f"{len(todo)} to grade with {where}, {mode}", flush=True)
    jobs = _jobs(course, args, todo, max_score, run_dir)
    start = time.time()
    _run_jobs(args, jobs, ledger, course, max_score)
    elapsed = time.time() - start
    students_set = set(students)
    records = [r for r in ledger.load().values() if r["student"] in students_set]
    drifted = _check_gradebook_drift(course, records)
    if drifted:
        print(f"gradebook changed after grading for {', '.join(drifted)}: regrading them", flush=True)
        _run_jobs(args, _jobs(course, args, drifted, max_score, run_dir), ledger, course, max_score,
                  note="gradebook restored by regrading")
        records = [r for r in ledger.load().values() if r["student"] in students_set]
    if not args.no_feedback:
        make_feedback(course, records, ledger)
    order = report.exercise_order(course)
    report.write_csv(records, out / "grades.csv")
    report.write_html(records, out / "report.html", course.assignment, order)
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"graded {len(jobs)} in {elapsed:.1f} s ({len(jobs) / max(elapsed, 1e-9):.2f}/s); statuses: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"wrote {out / 'grades.csv'} and {out / 'report.html'}")
    refused = [r for r in records if r.get("refused")]
    if refused:
        print(f"{len(refused)} submission(s) were refused by a machine without a sandbox (graded on the next run "
              f"once it has one): {refused[0]['detail']}", file=sys.stderr)
        return 2
    return 0


def _jobs(course, args, students, max_score, run_dir: Path) -> list[dict]:
    return [{"root": str(course.root), "assignment": course.assignment, "db_url": args.db_url,
             "timeout": args.timeout, "notebook_timeout": args.notebook_timeout, "student": s,
             "max_score": max_score, "opt": str(run_dir / "opt"), "kernels": str(run_dir / "jupyter"),
             "unsafe": bool(args.unsafe_no_sandbox)} for s in students]


def _run_jobs(args, jobs, ledger, course, max_score, note: str = "") -> None:
    start = time.time()
    if not jobs:
        return
    executor, client = _executor(args)
    try:
        futures = {executor.submit(grade_student, job): job["student"] for job in jobs}
        n = 0
        for fut in cf.as_completed(futures):
            student = futures[fut]
            try:
                rec = fut.result()
            except Exception as exc:  # a worker crashed: record it, keep going
                rec = {"student": student, "assignment": course.assignment, "status": "error", "score": 0.0,
                       "max_score": max_score, "flags": [], "detail": f"worker failed: {type(exc).__name__}: {exc}",
                       "diagnoses": [], "cells": {}}
            if note:
                rec.setdefault("flags", []).append(note)
            ledger.append(rec)
            n += 1
            if not args.quiet:
                _progress(n, len(jobs), start, sys.stderr)
    finally:
        executor.shutdown(wait=True)
        if client is not None:
            client.close()
    if not args.quiet:
        sys.stderr.write("\n")


def _check_gradebook_drift(course: Course, records: list[dict]) -> list[str]:
    """Students whose gradebook score changed after we graded them (someone wrote the gradebook)."""
    from nbgrader.api import Gradebook, MissingEntry

    drifted = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url, COURSE_ID) as gb:
            for r in records:
                if r.get("nbgrader_score") is None:
                    continue
                try:
                    now = gb.find_submission(course.assignment, r["student"]).score
                except MissingEntry:
                    continue
                if abs(float(now) - float(r["nbgrader_score"])) > 1e-6:
                    drifted.append(r["student"])
    return drifted


def make_feedback(course: Course, records: list[dict], ledger: Ledger) -> None:
    """nbgrader feedback HTML, student by student; a failure marks that student ``feedback_error``."""
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(config=course.config())
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)
    for r in records:
        if r["status"] in ("corrupt_notebook", "missing_notebook", "rejected", "error") or r.get("nbgrader_score") is None:
            continue
        problem = ""
        try:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = api.generate_feedback(course.assignment, r["student"])
            if not result.get("success"):
                problem = (result.get("error") or "unknown error").strip().splitlines()[-1][:300]
        except BaseException as exc:  # noqa: BLE001 - one student's feedback never stops the batch
            if isinstance(exc, KeyboardInterrupt):
                raise
            problem = f"{type(exc).__name__}: {str(exc)[:300]}"
        if problem:
            r["flags"] = list(r.get("flags") or []) + [f"feedback_error: {problem}"]
            if r["status"] == "graded":
                r["status"] = "feedback_error"
            ledger.append(r)


def rebuild_report(args) -> int:
    course = Course(Path(args.root), args.assignment, args.db_url)
    records = list(Ledger(course.out_dir / "ledger.jsonl").load().values())
    report.write_csv(records, course.out_dir / "grades.csv")
    report.write_html(records, course.out_dir / "report.html", course.assignment, report.exercise_order(course))
    print(f"wrote {course.out_dir / 'grades.csv'} and {course.out_dir / 'report.html'}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m graders.cohort", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="autograde every submission of an assignment in sandboxes, then report")
    g.add_argument("assignment")
    g.add_argument("--root", default=".", help="course root (default: current directory)")
    g.add_argument("--workers", type=int, default=default_workers(),
                   help="worker processes (default: 1.5 per CPU, as a worker waits for its kernel part of the time)")
    g.add_argument("--scheduler", help="Dask distributed scheduler address, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--db-url", help="gradebook URL (default sqlite:///ROOT/gradebook.db), e.g. postgresql://...")
    g.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    g.add_argument("--notebook-timeout", type=int, default=600,
                   help="seconds for a whole notebook, all cells and tests together (default 600)")
    g.add_argument("--force", action="store_true", help="regrade everyone (forget the ledger)")
    g.add_argument("--no-feedback", action="store_true", help="skip feedback HTML")
    g.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run student code WITHOUT bubblewrap, as this user (only for trusted code)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=grade)
    r = sub.add_parser("report", help="rewrite grades.csv and report.html from the ledger")
    r.add_argument("assignment")
    r.add_argument("--root", default=".")
    r.add_argument("--db-url")
    r.set_defaults(func=rebuild_report)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "workers", 1) < 1:
        raise SystemExit("--workers must be at least 1")
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
