"""Out-of-kernel recheck of a submission: the student's answer cells with the instructor's own test cells,
run by plain Python in a fresh, resource-limited process, with tripwires for known cheats.

Cell sequence: the submission's cells in order, where every locked or test cell is replaced by the source's
version (so edited or deleted tests do not matter; deleted ones are appended), and only answer cells and
the student's own unlocked cells keep the student's text. IPython magics (``%...``/``!...``) are dropped,
so input transformers and kernel tricks have no effect.

In the child process, before any student code runs:

- every public function of numpy, graders and reference_impl is recorded; before each test cell they are
  restored (monkeypatching is undone) and any change is reported as tampering;
- reference_impl functions and ``open`` are wrapped: a call made directly from student code to the reference
  library, or a read of the solutions, the gradebook or a notebook file, is reported;
- NBGRADER_* environment variables are absent, the working directory is empty, memory and CPU are capped.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MEMORY_LIMIT = 3 * 1024 ** 3
def _child_entry(spec_path: str, workdir: str, env: dict, done=None) -> None:
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from graders.cohort import _recheck_child

    code = 1
    try:
        code = _recheck_child.main(spec_path)
    finally:
        if done is not None:
            done.send(code)  # the fork server reports exits ~0.4 s late; this tells the parent at once
        os._exit(code)


@dataclass
class RecheckResult:
    ok: bool                                  # the child ran to completion (else ``error`` says why)
    scores: dict[str, float] = field(default_factory=dict)   # grade_id -> points
    max_scores: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)          # tampering evidence
    error: str = ""

    @property
    def score(self) -> float:
        return float(sum(self.scores.values()))


def build_cells(source_nb: Path, submitted_nb: Path) -> list[dict]:
    """The cell sequence described in the module docstring: dicts with kind, grade_id, source, points."""
    src = nbformat.read(str(source_nb), as_version=4)
    sub = nbformat.read(str(submitted_nb), as_version=4)
    by_id = {}
    for c in src.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("grade_id"):
            by_id[meta["grade_id"]] = c
    used = set()
    out = []
    for c in sub.cells:
        if c.cell_type != "code":
            continue
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid in by_id:
            sc = by_id[gid]
            smeta = sc.metadata["nbgrader"]
            used.add(gid)
            if sc.cell_type != "code":
                continue
            if smeta.get("grade") and not smeta.get("solution"):
                out.append({"kind": "test", "grade_id": gid, "source": sc.source, "points": float(smeta["points"])})
            elif smeta.get("solution"):
                out.append({"kind": "answer", "grade_id": gid, "source": c.source})
            else:
                out.append({"kind": "provided", "grade_id": gid, "source": sc.source})
        elif not gid:
            out.append({"kind": "student", "grade_id": None, "source": c.source})
    for gid, sc in by_id.items():  # deleted locked/test cells come back
        meta = sc.metadata["nbgrader"]
        if gid not in used and sc.cell_type == "code" and not meta.get("solution"):
            kind = "test" if meta.get("grade") else "provided"
            out.append({"kind": kind, "grade_id": gid, "source": sc.source, "points": float(meta.get("points", 0))})
    return out


def recheck(source_nb: Path, submitted_nb: Path, *, timeout: float = 300, cell_seconds: int = 120,
            protected: list[str] | None = None) -> RecheckResult:
    """Run the recheck child for one notebook and return its scores and flags."""
    cells = build_cells(source_nb, submitted_nb)
    from graders.cohort.static_scan import scan

    static = [f"cell {c['grade_id'] or 'without id'}: {why}" for c in cells if c["kind"] in ("answer", "student")
              for why in scan(c["source"])]
    max_scores = {c["grade_id"]: c["points"] for c in cells if c["kind"] == "test"}
    with tempfile.TemporaryDirectory(prefix="recheck-") as tmp:
        spec = Path(tmp) / "cells.json"
        result_path = Path(tmp) / "result.json"
        spec.write_text(json.dumps({"cells": cells, "protected": protected or [], "result": str(result_path),
                                    "cell_seconds": int(cell_seconds)}))
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NBGRADER")}
        env["MPLBACKEND"] = "Agg"
        from graders.cohort.forkserver import context

        ctx = context()
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child_entry, args=(str(spec), str(workdir), env, sender), daemon=True)
        proc.start()
        sender.close()
        finished = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if receiver.poll(min(1.0, max(0.0, deadline - time.monotonic()))):
                    receiver.recv()
                    finished = True
                    break
            except (EOFError, OSError):  # the child died without reporting
                break
            if not proc.is_alive():
                break
        receiver.close()
        if finished:
            proc.join(0)
        else:
            proc.join(min(2.0, max(0.0, deadline - time.monotonic())))
        if proc.is_alive() and not finished:
            proc.kill()
            proc.join()
            return RecheckResult(False, {g: 0.0 for g in max_scores}, max_scores, static,
                                 f"recheck exceeded {timeout:g} s")
        if not result_path.exists():
            return RecheckResult(False, {g: 0.0 for g in max_scores}, max_scores, static,
                                 f"recheck process died (exit code {proc.exitcode})")
        data = json.loads(result_path.read_text())
    if data.get("partial"):  # died after some test cells: keep what they scored
        scores = {g: float(data["scores"].get(g, 0.0)) for g in max_scores}
        return RecheckResult(False, scores, max_scores, list(dict.fromkeys(static + data["flags"])),
                             f"recheck process died after {len(data['scores'])} test cell(s)")
    scores = {g: float(data["scores"].get(g, 0.0)) for g in max_scores}
    return RecheckResult(True, scores, max_scores, list(dict.fromkeys(static + data["flags"])), data.get("error", ""))
