"""Issue 12, across the course: every check where a learner types numbers (trace tables, single numbers, counts)
gives full marks to the instructor's answer rounded to four significant digits, and to the same numbers typed as
strings; every notebook that states the precision states the same one (graders.typed.PRECISION).

The instructor's answers come from executing the solution notebooks' code cells in order (test cells skipped),
as a kernel would; each check is the visible part of its test cell."""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from graders import typed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = "### BEGIN HIDDEN TESTS"

# notebook -> the test cells whose answers are typed numbers
TYPED_CHECKS = {
    "01_chain_rule": ["test_neuron_chain", "test_paths_table", "test_deep_chain"],
    "02_computational_graphs": ["test_loss_forward", "test_loss_backward", "test_sum_times_trace", "test_fanout_trace"],
    "05_ad_modes": ["test_reverse_trace", "test_pass_counts"],
    "06_bptt": ["test_two_step_trace", "test_decay_prediction"],
    "07_batchnorm": ["test_bn_trace"],
    "08_vanishing_exploding": ["test_depth_estimates"],
    "10_attention": ["test_one_query_trace", "test_score_memory"],
    "11_convolution": ["test_conv_by_hand", "test_output_sizes"],
    "12_gated_rnn": ["test_lstm_trace"],
}


def _notebook(name: str) -> Path:
    (path,) = sorted((ROOT / "solutions" / name).glob("*.ipynb"))
    return path


@pytest.fixture(scope="module")
def executed() -> dict:
    """name -> (namespace after the last typed answer, {test cell id: (visible source, points)})."""
    out = {}
    old = os.getcwd()
    try:
        for name, wanted in TYPED_CHECKS.items():
            path = _notebook(name)
            nb = nbformat.read(str(path), as_version=4)
            os.chdir(path.parent)
            ns: dict = {"__name__": "__main__"}
            tests = {}
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade") and not meta.get("solution"):
                    if meta["grade_id"] in wanted:
                        tests[meta["grade_id"]] = (cell.source.split(HIDDEN)[0], float(meta["points"]))
                        if len(tests) == len(wanted):
                            break
                    continue
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile(cell.source, f"{name}:{meta.get('grade_id', 'cell')}", "exec"), ns)
                plt.close("all")
            assert set(tests) == set(wanted), (name, sorted(tests))
            out[name] = (ns, tests)
    finally:
        os.chdir(old)
    return out


def _four_digits(v):
    """Every float in v rounded to four significant digits (integers, strings, None left alone)."""
    if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.4g}")
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return np.array([float(f"{x:.4g}") for x in v.ravel()]).reshape(v.shape)
    if isinstance(v, dict):
        return {k: _four_digits(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_four_digits(x) for x in v)
    return v


def _as_text(v):
    """Every number of a dict (or a lone number, or a flat list of numbers) written as the string a learner
    would type."""
    if isinstance(v, dict):
        return {k: _as_text(x) for k, x in v.items()}
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return [_as_text(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, np.number)) for x in v):
        return [_as_text(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return v
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return v


def _score(ns: dict, source: str, replace: dict) -> float:
    run = dict(ns, **replace)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, "visible test", "exec"), run)
    return float(run["score"])


def _answer_names(source: str) -> list[str]:
    """The plain names passed to the check call (the learner's answers)."""
    call = source.split("(", 1)[1]
    return [n for n in re.findall(r"(?<![\w.=\"'])([A-Za-z_]\w*)(?=\s*[,)])", call) if n not in ("True", "False")]


CASES = [(name, gid) for name, gids in TYPED_CHECKS.items() for gid in gids]


@pytest.mark.parametrize("name, gid", CASES)
def test_four_significant_digits_get_full_marks(executed, name, gid):
    ns, tests = executed[name]
    source, points = tests[gid]
    names = [n for n in _answer_names(source) if n in ns]
    assert names, source
    assert _score(ns, source, {}) == points  # the instructor's answer as computed
    rounded = {n: _four_digits(ns[n]) for n in names}
    assert _score(ns, source, rounded) == points, rounded


@pytest.mark.parametrize("name, gid", CASES)
def test_numbers_typed_as_strings_get_full_marks(executed, name, gid):
    ns, tests = executed[name]
    source, points = tests[gid]
    names = [n for n in _answer_names(source) if n in ns]
    as_text = {n: _as_text(_four_digits(ns[n])) for n in names}
    assert _score(ns, source, as_text) == points, as_text


def test_every_stated_precision_is_the_course_one():
    """A notebook that states how precise a typed number must be says it in the same words everywhere: every
    "tolerance" and every "significant digits" in the notebooks' text is part of graders.typed.PRECISION."""
    assert typed.PRECISION == "Four significant digits are enough (relative tolerance 5e-4)"
    stated = 0
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            text = " ".join(cell.source.split())
            n = text.count(typed.PRECISION)
            stated += n
            for word in ("tolerance", "significant digits"):
                assert text.lower().count(word) == n, (path.name, text[:300])
    assert stated >= 5
    assert typed.PRECISION in " ".join((ROOT / "README.md").read_text().split())
