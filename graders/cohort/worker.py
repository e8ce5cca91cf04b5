"""Grade one student's submission (in a worker process of this machine or in a Dask task on another).

``grade_student(job)`` returns a plain dict (JSON-able): student, status, score, max_score, nbgrader_score,
flags, detail, cells, diagnoses, seconds. The score is the grader's own: nbgrader's autograde runs with
:class:`graders.cohort.execute.GradedExecute`, which executes the student's cells in a bubblewrap sandbox and
the test cells in this process, so the gradebook holds scores no student code could have written.

status:
  graded            graded normally (0 is a real zero)
  timeout           a cell or the notebook's time budget ran out; what ran is graded, the rest scores 0
  dead_kernel       the student's code killed its kernel (crash, os._exit, memory limit); cells after it score 0
  needs_review      the grading itself could not finish (a test the grader could not run, a kernel that stopped
                    answering the grader): the score is what was graded before, a person should look
  tampered          the student's process attacked the grader (malformed or oversized messages, ...): the
                    score is still the grader's own, the submission is flagged for review
  rejected          the submission holds a symbolic link or a special file: not graded
  corrupt_notebook / missing_notebook   not a readable notebook / an expected notebook is absent
  error             anything else, e.g. a machine without a sandbox refusing to grade (detail says why)
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

from graders.cohort import execute, preflight, sandbox
from graders.cohort.course import COURSE_ID, Course
from graders.cohort.static_scan import scan

DIAGNOSIS_RE = re.compile(r"\[([A-Z][A-Z0-9_]{3,})\]")
FLAGGED = ("tampered", "needs_review")


def _gradebook_scores(course: Course, student: str) -> tuple[float | None, dict[str, float | None]]:
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url, COURSE_ID) as gb:
            try:
                sub = gb.find_submission(course.assignment, student)
            except MissingEntry:
                return None, {}
            cells = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell_type == "code" or g.auto_score is not None:
                        cells[g.name] = g.auto_score
            total = None if any(v is None for v in cells.values()) else float(sum(cells.values()))
            return total, cells


def _diagnoses(course: Course, student: str) -> list[str]:
    """Diagnosis codes named in the grader's own test-cell outputs of the autograded notebooks."""
    codes = []
    for path in sorted(course.autograded_dir(student).glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade") or meta.get("solution"):
                continue
            for out in cell.get("outputs", []):
                codes += DIAGNOSIS_RE.findall(out.get("text", "") + str(out.get("evalue", "")))
    return sorted(set(codes))


def _static_flags(course: Course, student: str, expected: list[str]) -> list[str]:
    """Suspicious code in the student's own cells (for the instructor; it changes no score)."""
    flags = []
    for name in expected:
        try:
            nb = nbformat.read(str(course.submission_dir(student) / name), as_version=4)
        except Exception:
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type == "code" and (meta.get("solution") or not meta.get("locked")):
                for why in scan(cell.source):
                    flags.append(f"code {why}")
    return list(dict.fromkeys(flags))


def flag_in_gradebook(course: Course, student: str, status: str, detail: str) -> None:
    """Make a flagged submission visible as such in formgrader: every grade needs a manual look, and the
    comment of each answer cell names the status."""
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url, COURSE_ID) as gb:
            try:
                sub = gb.find_submission(course.assignment, student)
            except MissingEntry:
                return
            for nb in sub.notebooks:
                for g in nb.grades:
                    g.needs_manual_grade = True
                for c in nb.comments:
                    c.manual_comment = f"FLAGGED {status}: {detail}"[:2000]
            gb.db.commit()


def grade_student(job: dict) -> dict:
    """Grade one student (``job``: root, assignment, db_url, timeout, notebook_timeout, student, max_score,
    unsafe, state)."""
    start = time.monotonic()
    record = _grade(job)
    record["seconds"] = round(time.monotonic() - start, 3)
    return record


def _grade(job: dict) -> dict:
    course = Course(job["root"], job["assignment"], job.get("db_url"), job.get("timeout", 60))
    student = job["student"]
    expected = course.source_notebooks()
    record = {"student": student, "assignment": course.assignment, "status": "error", "score": 0.0,
              "max_score": job.get("max_score"), "nbgrader_score": None, "flags": [], "detail": "", "cells": {},
              "diagnoses": []}
    if not job.get("unsafe"):
        why = sandbox.unavailable()
        if why:
            record.update(detail=f"refused on {socket.gethostname()}: no sandbox for student code ({why}); "
                                 f"install bubblewrap there or pass --unsafe-no-sandbox", refused=True)
            return record
    status, detail = preflight.check_submission(course.submission_dir(student), expected)
    if status != preflight.OK:
        record.update(status=status, detail=detail)
        return record
    record["flags"] = _static_flags(course, student, expected)

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    state = Path(tempfile.mkdtemp(prefix="backprop-grade-"))
    os.chmod(state, 0o711)
    execute.set_job(execute.Job(student=student, opt=Path(job["opt"]), kernels=Path(job["kernels"]), state=state,
                                notebook_timeout=float(job.get("notebook_timeout", 600)),
                                cell_timeout=float(job.get("timeout", 60)), unsafe=bool(job.get("unsafe"))))
    try:
        result = _autograde(course, student)
        runs = list(execute.runs())
    finally:
        execute.set_job(None)
        shutil.rmtree(state, ignore_errors=True)
    nb_total, nb_cells = _gradebook_scores(course, student)
    record["nbgrader_score"] = nb_total
    record["score"] = float(nb_total or 0.0)
    record["cells"] = {g: {"score": v} for g, v in nb_cells.items()}
    record["diagnoses"] = _diagnoses(course, student)
    hidden = {g: v for r in runs for g, v in r.hidden.items()}
    if hidden:
        record["hidden_failures"] = hidden
    evidence = [e for r in runs for e in r.evidence]
    grader_errors = [e for r in runs for e in r.grader_errors]
    dead = [r.dead for r in runs if r.dead]
    if not result.get("success") and nb_total is None:
        text = (result.get("error") or "") + "\n" + (result.get("log") or "")
        causes = [ln.strip() for ln in text.splitlines() if re.search(r"\w+(Error|Exception):", ln)
                  and "NbGraderException" not in ln]
        record.update(status="error", score=0.0,
                      detail=f"nbgrader autograde failed: {(causes[-1] if causes else 'unknown cause')[:300]}")
        return record
    if evidence:
        record.update(status="tampered", flags=record["flags"] + evidence,
                      detail="the submission's process broke the grading protocol; the score is the grader's own")
    elif grader_errors or any("stopped answering" in d or "did not return" in d or "grading socket" in d
                              for d in dead):
        record.update(status="needs_review", detail="; ".join(grader_errors + dead)[:1000] +
                      " (the score counts what was graded before that)")
    elif dead:
        record.update(status="dead_kernel", detail=f"{dead[0]}; cells after that point score 0")
    elif any(r.budget_used for r in runs) or any(r.cell_timeouts for r in runs):
        cells = [c for r in runs for c in r.cell_timeouts]
        record.update(status="timeout",
                      detail=(f"cell(s) {', '.join(cells)} ran past the time limit ({course.timeout} s)" if cells
                              else f"the notebook's time budget ({job.get('notebook_timeout', 600)} s) ran out")
                      + "; what did not run scores 0")
    else:
        record.update(status="graded")
    if any(r.output_cut for r in runs):
        record["flags"] = record["flags"] + ["output limit reached (further output dropped)"]
    if record["status"] in FLAGGED:
        try:
            flag_in_gradebook(course, student, record["status"], record["detail"])
        except Exception as exc:  # the flag is a convenience; the CSV and the report carry the status anyway
            record["flags"] = record["flags"] + [f"could not flag in the gradebook: {exc}"]
    return record


_API: dict = {}


def _autograde(course: Course, student: str) -> dict:
    from nbgrader.apps import NbGraderAPI

    key = (str(course.root), course.assignment, course.gradebook_url, course.timeout)
    api = _API.get(key)
    if api is None:
        _API.clear()
        api = _API[key] = NbGraderAPI(config=course.config(graded_execute=True))
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return api.autograde(course.assignment, student)
