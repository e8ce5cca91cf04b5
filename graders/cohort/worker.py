"""Grade one student's submission (runs inside a worker process or on a Dask worker).

``grade_student(job)`` returns a plain dict (picklable, JSON-able):

    student, status, score, max_score, nbgrader_score, recheck_score, flags, detail, cells, diagnoses

status is one of: graded, timeout (a cell hit the time limit; the rest is graded), dead_kernel,
corrupt_notebook, missing_notebook, tampered (the out-of-kernel recheck disagrees with nbgrader, or cheating
was detected; score 0 pending the instructor's review), error (anything else; detail says what).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import nbformat

from graders.cohort import preflight
from graders.cohort.course import COURSE_ID, Course
from graders.cohort.kernel import KERNEL_NAME
from graders.cohort.recheck import recheck

DIAGNOSIS_RE = re.compile(r"\[([A-Z][A-Z0-9_]{3,})\]")
_API_CACHE: dict = {}


def _api(course: Course, kernel_name: str | None):
    key = (str(course.root), course.assignment, course.gradebook_url, course.timeout, kernel_name)
    if key not in _API_CACHE:
        from nbgrader.apps import NbGraderAPI

        _API_CACHE.clear()
        _API_CACHE[key] = NbGraderAPI(config=course.config(kernel_name))
    return _API_CACHE[key]


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
                    cells[g.name] = g.auto_score
            total = None if any(v is None for v in cells.values()) else float(sum(cells.values()))
            return total, cells


def _scan_autograded(course: Course, student: str) -> tuple[list[str], list[str]]:
    """(execution problems, diagnosis codes) from the autograded notebooks' outputs."""
    problems, codes = [], []
    for path in sorted(course.autograded_dir(student).glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    if out.get("ename") == "CellTimeoutError":
                        problems.append("timeout")
                    elif out.get("ename") in ("DeadKernelError",):
                        problems.append("dead_kernel")
                text = out.get("text", "") if out.get("output_type") == "stream" else \
                    "\n".join(out.get("traceback", [])) + str(out.get("evalue", "")) + \
                    str(out.get("data", {}).get("text/plain", ""))
                if meta.get("grade") and not meta.get("solution"):
                    codes += DIAGNOSIS_RE.findall(text)
    return problems, codes


def grade_student(job: dict) -> dict:
    """Autograde + recheck one student; ``job`` has root, assignment, db_url, timeout, student, sandbox."""
    import time

    start = time.monotonic()
    record = _grade(job)
    record["seconds"] = round(time.monotonic() - start, 3)
    return record


def _grade(job: dict) -> dict:
    course = Course(job["root"], job["assignment"], job.get("db_url"), job.get("timeout", 60))
    student = job["student"]
    expected = course.source_notebooks()
    record = {"student": student, "assignment": course.assignment, "status": "error", "score": 0.0,
              "max_score": job.get("max_score"), "nbgrader_score": None, "recheck_score": None, "flags": [],
              "detail": "", "cells": {}, "diagnoses": []}
    status, detail = preflight.check_submission(course.submission_dir(student), expected)
    if status != preflight.OK:
        record.update(status=status, detail=detail)
        return record

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if job.get("kernel_path"):
        os.environ["JUPYTER_PATH"] = job["kernel_path"]
    os.environ["BACKPROP_SANDBOX"] = "1" if job.get("sandbox") else "0"
    api = _api(course, KERNEL_NAME if job.get("kernel_path") else None)
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = api.autograde(course.assignment, student)
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    nb_total, nb_cells = _gradebook_scores(course, student)
    problems, codes = _scan_autograded(course, student)
    record["nbgrader_score"] = nb_total
    record["diagnoses"] = sorted(set(codes))

    # The out-of-kernel recheck, notebook by notebook.
    flags, re_cells, re_ok, total_max, re_errors = [], {}, True, 0.0, []
    for name in expected:
        rr = recheck(course.root / "solutions" / course.assignment / name, course.submission_dir(student) / name,
                     timeout=max(300, 10 * course.timeout), cell_seconds=course.timeout)
        re_ok &= rr.ok
        flags += rr.flags
        if not rr.ok:
            re_errors.append(rr.error)
        re_cells.update(rr.scores)
        total_max += sum(rr.max_scores.values())
    record["max_score"] = total_max
    record["recheck_score"] = float(sum(re_cells.values()))
    record["cells"] = {g: {"nbgrader": nb_cells.get(g), "recheck": re_cells.get(g)} for g in re_cells}

    died = ("DeadKernelError" in text or "Kernel died" in text or "dead_kernel" in problems) and \
        "before replying to kernel_info" not in text
    disagree = [g for g in re_cells if nb_cells.get(g) is None or abs((nb_cells.get(g) or 0.0) - re_cells[g]) > 1e-6]
    if flags or (disagree and re_ok and not died and result.get("success")):
        record.update(status="tampered", score=0.0, flags=flags + ([f"recheck disagrees on {', '.join(disagree)}"]
                                                                   if disagree else []),
                      detail="cheating evidence or a grade the clean recheck could not reproduce; review by hand")
        return record
    if died:
        # nbgrader records nothing for a notebook whose kernel died; the recheck kept the cells that ran
        record.update(status="dead_kernel", score=float(nb_total if nb_total is not None else
                                                         record["recheck_score"] or 0.0),
                      detail="the kernel died during grading (a crash, a kill or the memory limit); cells that did "
                             "not run score 0" + (f"; recheck: {'; '.join(re_errors)}" if re_errors else ""))
        return record
    if not result.get("success"):
        causes = [ln.strip() for ln in text.splitlines() if re.search(r"\w+(Error|Exception):", ln)
                  and "NbGraderException" not in ln]
        cause = causes[-1] if causes else "unknown cause"
        record.update(status="error", detail=f"nbgrader autograde failed: {cause[:300]}")
        return record
    if "timeout" in problems:
        record.update(status="timeout", score=float(nb_total or 0.0),
                      detail=f"a cell ran past the time limit ({course.timeout} s) and scored 0")
        return record
    record.update(status="graded", score=float(nb_total or 0.0))
    return record
