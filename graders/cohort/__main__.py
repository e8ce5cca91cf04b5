"""Grade a cohort: ``python -m graders.cohort grade ASSIGNMENT [options]`` (run from the course root).

Autogrades every submission under submitted/*/ASSIGNMENT/ in parallel worker processes (or on a Dask cluster
with ``--scheduler ADDRESS``), rechecks each one out of the kernel, writes nbgrader's gradebook (SQLite by
default, any SQLAlchemy URL with ``--db-url``, e.g. PostgreSQL), feedback HTML without hidden tests,
``cohort/ASSIGNMENT/grades.csv`` with a status column, and ``cohort/ASSIGNMENT/report.html``.

A killed run resumes where it stopped: finished students are read from cohort/ASSIGNMENT/ledger.jsonl.
``--force`` regrades everyone.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from graders.cohort import report
from graders.cohort.course import COURSE_ID, Course
from graders.cohort.kernel import install_kernelspec, sandbox_usable, sandbox_user
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
    from nbgrader.apps import NbGraderAPI
    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory() as tmp:
        cfg = course.config()
        cfg.CourseDirectory.release_directory = tmp
        api = NbGraderAPI(config=cfg)
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = api.generate_assignment(course.assignment, force=True)
        # generate_assignment writes into <release>/<assignment>; the temporary folder is discarded
    if not result.get("success"):
        raise SystemExit(f"could not register {course.assignment} in the gradebook:\n{result.get('error', '')}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url, COURSE_ID) as gb:
            return float(gb.find_assignment(course.assignment).max_score)


def secure_course(course: Course) -> None:
    """With a sandbox user: the kernel may traverse the course root but not read solutions or the gradebook."""
    root = course.root
    os.chmod(root, 0o711)
    for d in ("solutions", "submitted", "cohort", "feedback", "source", "release"):
        if (root / d).exists():
            os.chmod(root / d, 0o700)
    for f in root.glob("*.db"):
        os.chmod(f, 0o600)
    (root / "autograded").mkdir(exist_ok=True)
    os.chmod(root / "autograded", 0o711)
    for sub in (root / "autograded").iterdir():
        os.chmod(sub, 0o711)


def ensure_sandbox_user(name: str = "nbsandbox") -> bool:
    """Create the sandbox account when running as root and it is missing; True when it exists."""
    if os.geteuid() != 0:
        return False
    if sandbox_user() is not None:
        return True
    useradd = shutil.which("useradd")
    if not useradd:
        return False
    subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   capture_output=True)
    return sandbox_user() is not None


def _executor(args):
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
        return client.get_executor(), client
    return cf.ProcessPoolExecutor(max_workers=args.workers), None


def grade(args) -> int:
    course = Course(Path(args.root), args.assignment, args.db_url, args.timeout)
    out = course.out_dir
    out.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(out / "ledger.jsonl")
    if args.force:
        ledger.clear()
    max_score = register_assignment(course)
    kernel_prefix = out / "jupyter"
    install_kernelspec(kernel_prefix)
    sandboxed, why_not = False, "--sandbox off"
    if args.sandbox != "off":
        if ensure_sandbox_user():
            sandboxed, why_not = sandbox_usable()
        else:
            why_not = "not running as root (or useradd is missing)"
    if args.sandbox == "on" and not sandboxed:
        raise SystemExit(f"--sandbox on is impossible here: {why_not}")
    if not sandboxed and args.sandbox == "auto":
        print(f"note: kernels run as the grading user ({why_not}); the out-of-kernel recheck still runs", flush=True)
    if sandboxed:
        secure_course(course)
        os.chmod(out, 0o711)
        for p in [kernel_prefix, kernel_prefix / "kernels"]:
            os.chmod(p, 0o755)
    done = ledger.load()
    students = course.students()
    todo = [s for s in students if s not in done]
    print(f"{course.assignment}: {len(students)} submissions, {len(students) - len(todo)} already graded, "
          f"{len(todo)} to grade with {'Dask at ' + args.scheduler if args.scheduler else f'{args.workers} workers'}"
          f"{' (sandboxed kernel)' if sandboxed else ''}", flush=True)
    jobs = _jobs(course, args, todo, max_score, kernel_prefix, sandboxed)
    start = time.time()
    _run_jobs(args, jobs, ledger, course, max_score)
    elapsed = time.time() - start
    students_set = set(students)
    records = [r for r in ledger.load().values() if r["student"] in students_set]
    drifted = _check_gradebook_drift(course, records)
    if drifted:  # someone wrote other students' grades: grade them again, their own kernels are honest
        print(f"gradebook changed after grading for {', '.join(drifted)}: regrading them", flush=True)
        by_student = {j["student"]: j for j in _jobs(course, args, drifted, max_score, kernel_prefix, sandboxed)}
        _run_jobs(args, list(by_student.values()), ledger, course, max_score, note="gradebook restored by regrading")
        records = [r for r in ledger.load().values() if r["student"] in students_set]
    if not args.no_feedback:
        make_feedback(course, [r["student"] for r in records if r["status"] in ("graded", "timeout")])
    report.write_csv(records, out / "grades.csv")
    report.write_html(records, out / "report.html", course.assignment)
    counts = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"graded {len(jobs)} in {elapsed:.1f} s ({len(jobs) / max(elapsed, 1e-9):.2f}/s); statuses: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"wrote {out / 'grades.csv'} and {out / 'report.html'}")
    return 0


def _jobs(course, args, students, max_score, kernel_prefix, sandboxed) -> list[dict]:
    return [{"root": str(course.root), "assignment": course.assignment, "db_url": args.db_url,
             "timeout": args.timeout, "student": s, "max_score": max_score, "kernel_path": str(kernel_prefix),
             "sandbox": sandboxed} for s in students]


def _run_jobs(args, jobs, ledger, course, max_score, note: str = "") -> None:
    start = time.time()
    if jobs:
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


def make_feedback(course: Course, students: list[str]) -> None:
    """nbgrader feedback HTML for these students, then a check that no hidden test reached it."""
    from nbgrader.apps import NbGraderAPI

    if not students:
        return
    api = NbGraderAPI(config=course.config())
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)
    for s in students:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            api.generate_feedback(course.assignment, s)
    hidden = _hidden_lines(course)
    for s in students:
        for page in (course.root / "feedback" / s / course.assignment).glob("*.html"):
            text = page.read_text(encoding="utf-8", errors="replace")
            leaked = [ln for ln in hidden if ln in text]
            if leaked or "BEGIN HIDDEN TESTS" in text:
                page.unlink()
                raise SystemExit(f"feedback for {s} contained hidden test code ({leaked[:1]}); it was deleted. "
                                 f"Check GenerateFeedback.preprocessors includes ClearHiddenTests.")


def _hidden_lines(course: Course) -> list[str]:
    import nbformat

    lines = []
    for nb_path in (course.root / "solutions" / course.assignment).glob("*.ipynb"):
        nb = nbformat.read(str(nb_path), as_version=4)
        for c in nb.cells:
            for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", c.source, re.S):
                lines += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 20]
    return lines


def rebuild_report(args) -> int:
    course = Course(Path(args.root), args.assignment, args.db_url)
    records = list(Ledger(course.out_dir / "ledger.jsonl").load().values())
    report.write_csv(records, course.out_dir / "grades.csv")
    report.write_html(records, course.out_dir / "report.html", course.assignment)
    print(f"wrote {course.out_dir / 'grades.csv'} and {course.out_dir / 'report.html'}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m graders.cohort", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="autograde, recheck and report every submission of an assignment")
    g.add_argument("assignment")
    g.add_argument("--root", default=".", help="course root (default: current directory)")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="worker processes (default: CPUs)")
    g.add_argument("--scheduler", help="Dask distributed scheduler address, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--db-url", help="gradebook URL (default sqlite:///ROOT/gradebook.db), e.g. postgresql://...")
    g.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    g.add_argument("--force", action="store_true", help="regrade everyone (forget the ledger)")
    g.add_argument("--no-feedback", action="store_true", help="skip feedback HTML")
    g.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                   help="run kernels as an unprivileged user (auto: when root)")
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
