"""Wall time of every visible check of every notebook 01-13, on the instructor's answer and on a planted wrong one.

    .venv/bin/python benchmarks/check_latency.py [--only 04 07] [--top 10]

For each assignment in solutions/ (the drill notebook 09 has no graded cells), every code cell runs in order in
one namespace, from the notebook's folder, as a kernel would run it (output swallowed, figures closed). At each
graded test cell the VISIBLE part (the source above ``### BEGIN HIDDEN TESTS``) is timed twice:

- ``right``: on the namespace as the instructor's answers left it;
- ``wrong``: on a copy of the namespace where the answer the check reads (every plain name passed to the check
  call) is replaced by a plausible wrong one: a letter becomes another letter, a symbolic string, SymPy
  expression or matrix changes sign, a number changes sign (an integer grows by one), an array changes sign, a
  dict or a list gets its first entry planted, a function returns its output with the first array doubled (a
  list of non-numbers reversed), a class gets ``*`` computing ``+``.

A check is a test cell's visible part; its time includes whatever the check prints and, for a wrong answer, the
failure it raises. The table lists the ten slowest, with the outcome (score, or the exception that a wrong
answer raises); the last line gives the worst time against the 0.5 s budget as a ratio (above 1 means over
budget) and the machine's load average, since on a shared machine wall time grows with the load. It measures;
it asserts nothing. A full run takes one to two minutes.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 0.5
HIDDEN = "### BEGIN HIDDEN TESTS"


# ------------------------------------------------------------------------------------------------- planting


def _plant_value(value):
    """A plausible wrong version of one answer value (see the module docstring); None when nothing fits."""
    import sympy as sp

    if isinstance(value, (bool, np.bool_)):
        return not value
    if isinstance(value, str):
        s = value.strip()
        if len(s) == 1 and s.isalpha():
            return "b" if s.lower() != "b" else "a"
        return f"-({value})"
    if isinstance(value, (int, np.integer)):
        return int(value) + 1
    if isinstance(value, (float, np.floating)):
        return -float(value) if value != 0 else 1.0
    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        return -value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            return -value if np.any(value != 0) else value + 1.0
        if value.dtype.kind in "iu":
            return value + 1
        return None
    if isinstance(value, dict):
        if not value:
            return None
        out = dict(value)
        for key in out:
            planted = _plant_value(out[key])
            if planted is not None:
                out[key] = planted
                return out
        return None
    if isinstance(value, (list, tuple)):
        items = list(value)
        for i, item in enumerate(items):
            planted = _plant_value(item)
            if planted is not None:
                items[i] = planted
                return type(value)(items) if isinstance(value, tuple) and type(value) is tuple else items
        return None
    if isinstance(value, type):
        if hasattr(value, "__mul__") and hasattr(value, "__add__"):
            return type(value.__name__, (value,), {"__mul__": value.__add__, "__rmul__": value.__add__})
        return None
    if isinstance(value, types.FunctionType):
        def planted_fn(*args, **kwargs):
            out = value(*args, **kwargs)
            wrong = _plant_output(out)
            return out if wrong is None else wrong
        planted_fn.__name__ = value.__name__
        return planted_fn
    return None


def _plant_output(out):
    """A function's output with its first array (or number) doubled, a list of other things reversed; caches are
    left alone. (Doubling, not a sign flip: a random initialisation with its sign flipped is still right.)"""
    if isinstance(out, np.ndarray) and out.dtype.kind == "f":
        return 2.0 * out if np.any(out != 0) else out + 1.0
    if isinstance(out, (float, np.floating)) and not isinstance(out, bool):
        return 2.0 * float(out) if out != 0 else 1.0
    if isinstance(out, tuple):
        items = list(out)
        for i, item in enumerate(items):
            planted = _plant_output(item)
            if planted is not None:
                items[i] = planted
                return tuple(items)
        return None
    if isinstance(out, list):
        planted = _plant_output(tuple(out))
        if planted is None and len(out) > 1:
            return out[::-1]
        return None if planted is None else list(planted)
    if isinstance(out, dict):
        for key in out:
            planted = _plant_output(out[key])
            if planted is not None:
                return {**out, key: planted}
        return None
    return _plant_value(out) if isinstance(out, (int, np.integer, str)) else None


def _checked_names(source: str) -> list[str]:
    """Plain names passed (positionally or by keyword) to the check calls of a visible test."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for arg in list(node.args) + [k.value for k in node.keywords]:
                if isinstance(arg, ast.Name) and arg.id not in names:
                    names.append(arg.id)
    return names


# ------------------------------------------------------------------------------------------------- running


def _run(source: str, ns: dict, label: str) -> tuple[float, str]:
    out = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(source, label, "exec"), ns)
        outcome = f"score {ns.get('score')}"
    except AssertionError as exc:
        outcome = "failed: " + " ".join(str(exc).split())[:70]
    except Exception as exc:  # a wrong answer may make a check raise; record it, do not stop
        outcome = f"{type(exc).__name__}: " + " ".join(str(exc).split())[:60]
    return time.perf_counter() - t0, outcome


def _notebook_rows(path: Path) -> list[tuple[str, str, str, float, str]]:
    import matplotlib
    import nbformat

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = nbformat.read(str(path), as_version=4)
    name = path.parent.name
    ns: dict = {"__name__": "__main__"}
    rows = []
    old_cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id", f"cell{i}")
            if meta.get("grade") and not meta.get("solution"):
                visible = cell.source.split(HIDDEN)[0]
                t, outcome = _run(visible, ns, gid)
                rows.append((name, gid, "right", t, outcome))
                wrong_ns = dict(ns)
                planted = []
                for var in _checked_names(visible):
                    if var in ns:
                        wrong = _plant_value(ns[var])
                        if wrong is not None:
                            wrong_ns[var] = wrong
                            planted.append(var)
                if planted:
                    t, outcome = _run(visible, wrong_ns, gid)
                    rows.append((name, gid, "wrong " + ",".join(planted), t, outcome))
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            _, outcome = _run(source, ns, gid)
            if not outcome.startswith("score"):
                rows.append((name, gid, "cell", float("nan"), outcome))
            plt.close("all")
    finally:
        os.chdir(old_cwd)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="notebook number prefixes, e.g. 04 07")
    ap.add_argument("--top", type=int, default=10, help="how many of the slowest checks to list")
    ap.add_argument("--all", action="store_true", help="list every timed check, not only the slowest")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    paths = sorted(p for p in (ROOT / "solutions").glob("[01][0-9]_*/*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.parent.name.split("_")[0] in args.only]
    rows, problems = [], []
    t_start = time.perf_counter()
    for path in paths:
        for row in _notebook_rows(path):
            (problems if row[2] == "cell" else rows).append(row)
    elapsed = time.perf_counter() - t_start
    if not rows:
        print("no graded cells found")
        return 0
    rows.sort(key=lambda r: -r[3])
    shown = rows if args.all else rows[:args.top]
    print(f"{'notebook':24s} {'cell':28s} {'answer':18s} {'seconds':>8s}  outcome")
    for nb, gid, kind, t, outcome in shown:
        print(f"{nb:24s} {gid:28s} {kind[:18]:18s} {t:8.3f}  {outcome}")
    for nb, gid, _, _, outcome in problems:
        print(f"note: {nb} cell {gid} raised while setting up: {outcome}")
    n_right = sum(1 for r in rows if r[2] == "right")
    over = [r for r in rows if r[3] > BUDGET_S]
    worst = rows[0]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{len(rows)} checks timed ({n_right} right answers, {len(rows) - n_right} planted wrong ones) "
          f"in {elapsed:.0f} s; {len(over)} over the {BUDGET_S} s budget.")
    print(f"worst: {worst[3]:.3f} s ({worst[0]} {worst[1]}, {worst[2]}) = {worst[3] / BUDGET_S:.2f}x the "
          f"{BUDGET_S} s budget; load average {load:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
