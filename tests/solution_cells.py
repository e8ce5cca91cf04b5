"""The instructor's answers of a notebook, for grader tests: run chosen cells of solutions/NN_topic/*.ipynb.

``solution_namespace("05_ad_modes", ["value_engine", "hvp"])`` executes the setup cell and then the cells with
those ids (answer cells keep their ``### BEGIN SOLUTION`` code) in one fresh namespace and returns it, so a test
can grade the notebook's own ``Value`` class or ``hvp`` exactly as the notebook defines them. Cells are found by
their cell id or nbgrader grade_id; the setup cell (id ``setup``) always runs first.
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
import nbformat

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=None)
def _cells(name: str) -> dict[str, str]:
    (path,) = sorted((ROOT / "solutions" / name).glob("*.ipynb"))
    nb = nbformat.read(str(path), as_version=4)
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out[cell.get("id")] = cell.source
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            out[gid] = cell.source
    return out


def solution_namespace(name: str, cell_ids: list[str] | tuple[str, ...]) -> dict:
    """A namespace after running the setup cell and ``cell_ids`` (in that order) of notebook ``name``."""
    matplotlib.use("Agg")
    cells = _cells(name)
    ns: dict = {"__name__": f"solution_{name}"}
    for cid in ["setup", *cell_ids]:
        exec(compile(cells[cid], f"<{name}:{cid}>", "exec"), ns)
    return ns
