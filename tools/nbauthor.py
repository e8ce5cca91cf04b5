"""Build nbgrader source notebooks from Python and lint their nbgrader metadata.

Cell kinds (nbgrader schema version 3):

- ``md(text)`` / ``code(src)``: ordinary cells the student may edit.
- ``provided(src, grade_id)``: read-only code (locked), e.g. imports and helpers the exercises rely on.
- ``answer(src, grade_id)``: a solution cell; ``### BEGIN SOLUTION`` / ``### END SOLUTION`` mark what the
  release replaces with ``raise NotImplementedError()``.
- ``tests(src, grade_id, points)``: a locked autograded test cell; its last expression should be the score
  returned by a grader (nbgrader reads a float result as partial credit). ``### BEGIN HIDDEN TESTS`` /
  ``### END HIDDEN TESTS`` mark what the release removes.
- ``written(text, grade_id, points)``: a manually graded markdown answer.

``lint(nb)`` returns the list of problems that would break grading.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat

_KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _clean(src: str) -> str:
    return textwrap.dedent(src).strip("\n")


def md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(_clean(text))


def code(src: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(_clean(src))


def provided(src: str, grade_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(_clean(src), metadata=_meta(grade_id, solution=False, grade=False, locked=True))


def provided_md(text: str, grade_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(_clean(text), metadata=_meta(grade_id, solution=False, grade=False,
                                                                      locked=True))


def answer(src: str, grade_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(_clean(src), metadata=_meta(grade_id, solution=True, grade=False, locked=False))


def tests(src: str, grade_id: str, points: float) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(_clean(src), metadata=_meta(grade_id, solution=False, grade=True, locked=True,
                                                                 points=points))


def written(text: str, grade_id: str, points: float) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(_clean(text), metadata=_meta(grade_id, solution=True, grade=True,
                                                                      locked=False, points=points))


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(_KERNEL)
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
    return nb


def write(nb: nbformat.NotebookNode, path: str | Path, *, require_hidden: bool = True) -> Path:
    """Validate, lint and write ``nb`` (outputs stripped, cell ids stable from the grade ids/positions)."""
    for i, cell in enumerate(nb.cells):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cell["id"] = re.sub(r"[^A-Za-z0-9-_]", "-", gid) if gid else f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    problems = lint(nb, require_hidden=require_hidden)
    if problems:
        raise ValueError("notebook has nbgrader problems:\n  " + "\n  ".join(problems))
    nbformat.validate(nb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def lint(nb: nbformat.NotebookNode, *, source: bool = True, require_hidden: bool = True) -> list[str]:
    """Problems in a notebook's nbgrader metadata (empty list when it is fine).

    ``source=True`` also requires what an nbgrader *source* notebook needs: solution markers in every
    code answer cell, at least one hidden test, no ``import *`` and no outputs.
    """
    problems = []
    seen = set()
    n_hidden = 0
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        where = f"cell {i}"
        if cell.cell_type == "code":
            if re.search(r"^\s*from\s+\S+\s+import\s+\*", cell.source, re.M):
                problems.append(f"{where}: `import *` is not allowed")
            if source and (cell.get("outputs") or cell.get("execution_count")):
                problems.append(f"{where}: outputs must be stripped")
        if not meta:
            continue
        gid = meta.get("grade_id")
        if not gid:
            problems.append(f"{where}: nbgrader cell without grade_id")
        elif gid in seen:
            problems.append(f"{where}: duplicate grade_id {gid!r}")
        seen.add(gid)
        if meta.get("schema_version") != 3:
            problems.append(f"{where} ({gid}): schema_version must be 3")
        if meta.get("grade"):
            pts = meta.get("points")
            if not isinstance(pts, (int, float)) or pts <= 0:
                problems.append(f"{where} ({gid}): graded cell needs positive points")
            if cell.cell_type == "code" and not meta.get("locked"):
                problems.append(f"{where} ({gid}): test cells must be locked")
        if source and meta.get("solution") and cell.cell_type == "code":
            if "### BEGIN SOLUTION" not in cell.source or "### END SOLUTION" not in cell.source:
                problems.append(f"{where} ({gid}): answer cell without ### BEGIN/END SOLUTION")
        if "### BEGIN HIDDEN TESTS" in cell.source:
            n_hidden += 1
            if not meta.get("grade"):
                problems.append(f"{where} ({gid}): hidden tests outside a graded cell")
    if source and require_hidden and not n_hidden:
        problems.append("no hidden tests in the notebook")
    return problems
