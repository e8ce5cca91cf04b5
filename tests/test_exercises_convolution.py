"""Notebook 11 (convolution and pooling): graders/conv.py, graders/pooling.py, graders/exercises/convolution.py, the
question bank, the public inputs and visuals/conv_plots.py.

- the instructor's answers (executed from the solution notebook's cells) get full marks, visible and hidden;
- the release stubs score zero;
- every planted mistake loses points and is named by its diagnosis; every diagnosis code this notebook added is
  planted here; a finite-difference backward is named NUMERIC_NOT_ANALYTIC;
- garbage (None, wrong shapes, NaN, float32, exceptions, endless loops, modified inputs) gets a clear message;
- the worked example's numbers in the notebook are the reference's; the SymPy derivation's expected values are
  sympy.diff's; graders.public.convolution imports nothing but NumPy and SymPy.

Run also as ``pytest -p tests.remote_plugin tests/test_exercises_convolution.py``: every check then gets proxies of
the functions, served from a forked process (the cohort grader's seam), and must give the same verdicts.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import concepts, core, diagnoses  # noqa: E402
from graders import conv as gconv  # noqa: E402
from graders import pooling as gpool  # noqa: E402
from graders.exercises import convolution as ex  # noqa: E402
from graders.public import convolution as pub  # noqa: E402
from graders.question_bank import convolution as bank  # noqa: E402
from reference_impl import conv as ref  # noqa: E402
from reference_impl import symbolic_layers as SL  # noqa: E402
from tests.grading_helpers import fails as _fails  # noqa: E402
from visuals import conv_plots as vis  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "11_convolution" / "convolution.ipynb"
RELEASE = ROOT / "notebooks" / "11_convolution" / "convolution.ipynb"
NEW_CODES = ("KERNEL_FLIP", "COL2IM_OVERWRITE", "CONV_PAD_NOT_CROPPED", "STRIDE_OFF_BY_ONE", "STRIDE_IGNORED",
             "PAD_COUNTED_ONCE", "OUTPUT_SIZE_NOT_INTEGER", "CONV_BIAS_AXES", "IM2COL_LAYOUT", "MAXPOOL_TIES_ALL",
             "MAXPOOL_TIE_ORDER", "AVGPOOL_SHARE", "NUMERIC_NOT_ANALYTIC")


def _cells(path: Path) -> dict[str, str]:
    nb = nbformat.read(str(path), as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells if c.cell_type == "code"}


ANSWER_IDS = ("conv_by_hand", "output_sizes", "conv_output_size", "conv_forward", "conv_backward",
              "conv1d_derivation", "correlate_convolve", "conv_identities", "im2col_col2im", "conv_im2col",
              "maxpool", "avgpool")


def _namespace(path: Path, replace: dict[str, tuple[str, str]] | None = None) -> dict:
    """Run the setup cell and the answer cells of a notebook; ``replace`` maps a grade_id to (old, new) text."""
    src = _cells(path)
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(src["setup"], "setup", "exec"), ns)
        for gid in ANSWER_IDS:
            text = src[gid]
            if replace and gid in replace:
                old, new = replace[gid]
                assert old in text, (gid, old)
                text = text.replace(old, new)
            try:
                exec(compile(text, gid, "exec"), ns)
            except NotImplementedError:  # an unanswered cell of the release
                pass
    return ns


@pytest.fixture(scope="module")
def sol():
    return _namespace(SOURCE)


# The test cells of the notebook, as (grade_id, points, check, the names it is given).
CHECKS = [
    ("conv_by_hand", 2, ex.check_conv_by_hand, ("hand",)),
    ("output_sizes", 2, ex.check_output_sizes, ("sizes",)),
    ("conv_output_size", 1, ex.check_conv_output_size, ("conv_output_size",)),
    ("conv_forward", 3, gconv.check_conv_forward, ("conv2d_forward_naive",)),
    ("conv_backward", 3, gconv.check_conv_backward, ("conv2d_forward_naive", "conv2d_backward_naive")),
    ("conv1d_derivation", 2, ex.check_conv1d_derivation, ("dx_1d", "dw_1d")),
    ("correlate_convolve", 2, gconv.check_correlate_convolve, ("correlate2d_valid", "convolve2d_full")),
    ("conv_identities", 3, gconv.check_conv_identities, ("dw_by_correlation", "dx_by_full_convolution")),
    ("im2col_col2im", 3, gconv.check_im2col_col2im, ("im2col", "col2im")),
    ("conv_im2col", 3, gconv.check_conv_im2col, ("conv2d_forward_im2col", "conv2d_backward_im2col")),
    ("maxpool", 3, gpool.check_maxpool, ("maxpool2d_forward", "maxpool2d_backward")),
    ("avgpool", 2, gpool.check_avgpool, ("avgpool2d_forward", "avgpool2d_backward")),
]


def _run(check, ns, names, **kw):
    """(score or 0.0 when the check raised, the full text it printed or raised)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            score = check(*[ns[n] for n in names], **kw)
        except AssertionError as exc:
            return 0.0, out.getvalue() + str(exc)
    return score, out.getvalue()


def _codes(text: str) -> list[str]:
    return sorted(set(re.findall(r"\[([A-Z0-9_]+)\]", text)))


# ============================================================================================ answers and stubs


@pytest.mark.parametrize("gid,points,check,names", CHECKS, ids=[c[0] for c in CHECKS])
def test_instructor_answers_get_full_marks(sol, gid, points, check, names):
    for seed, thorough in ((0, False), (17, True)):
        score, text = _run(check, sol, names, seed=seed, points=points, thorough=thorough)
        assert score == float(points), text


def test_release_stubs_score_zero():
    stub = _namespace(RELEASE)
    for gid, points, check, names in CHECKS:
        score, text = _run(check, stub, names, seed=0, points=points)
        assert score == 0.0 and text.strip(), (gid, text)


# ============================================================================================ planted mistakes

PLANTED = [
    # (answer cell, text replaced, replacement, diagnosis named)
    ("conv_forward", "np.sum(window * w[f])", "np.sum(window * w[f, :, ::-1, ::-1])", "KERNEL_FLIP"),
    ("conv_forward", "window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]",
     "window = xp[n, :, i:i + HH, j:j + WW]", "STRIDE_IGNORED"),
    ("conv_forward", "H_out = conv_output_size(H, HH, stride, pad)\n    W_out = conv_output_size(W, WW, stride, pad)",
     "H_out = (H + 2 * pad - HH) // stride\n    W_out = (W + 2 * pad - WW) // stride", "STRIDE_OFF_BY_ONE"),
    ("conv_forward", "xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",  # the same array as a missing +1
     "xp = np.pad(x, ((0, 0), (0, 0), (pad, 0), (pad, 0)))\n"
     "    H_out, W_out = (H + pad - HH) // stride + 1, (W + pad - WW) // stride + 1", "STRIDE_OFF_BY_ONE"),
    ("conv_backward", "dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp", "CONV_PAD_NOT_CROPPED"),
    ("conv_backward", "dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp[:, :, :H, :W]", "CONV_PAD_NOT_CROPPED"),
    ("conv_backward", "dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]",
     "dxp[n, :, rows, cols] = dout[n, f, i, j] * w[f]", "COL2IM_OVERWRITE"),
    ("conv_backward", "dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]",
     "dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f, :, ::-1, ::-1]", "KERNEL_FLIP"),
    ("conv_backward", "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))", "CONV_BIAS_AXES"),
    ("conv_backward", "dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]",
     "dw[f] = dout[n, f, i, j] * xp[n, :, rows, cols]", "OVERWRITE_NOT_ACCUMULATE"),
    ("conv_backward", "rows = slice(i * stride, i * stride + HH)\n                    cols = slice(j * stride, "
     "j * stride + WW)", "rows = slice(i, i + HH)\n                    cols = slice(j, j + WW)", "STRIDE_IGNORED"),
    ("correlate_convolve", "out += k[u, v] * a[u:u + H_out, v:v + W_out]",
     "out += k[Hk - 1 - u, Wk - 1 - v] * a[u:u + H_out, v:v + W_out]", "KERNEL_FLIP"),
    ("correlate_convolve", "return correlate2d_valid(padded, k[::-1, ::-1])", "return correlate2d_valid(padded, k)",
     "KERNEL_FLIP"),
    ("conv_identities", "dx[n, c] += convolve2d_full(spread, w[f, c])[pad:pad + H, pad:pad + W]",
     "dx[n, c] += convolve2d_full(spread, w[f, c, ::-1, ::-1])[pad:pad + H, pad:pad + W]", "KERNEL_FLIP"),
    ("conv_identities", "dw[f, c] += correlate2d_valid(xp[n, c], spread)",
     "dw[f, c] += correlate2d_valid(xp[n, c], spread)[::-1, ::-1]", "KERNEL_FLIP"),
    ("conv_identities", "out = np.zeros((stride * (h - 1) + 1, stride * (w - 1) + 1))\n    out[::stride, ::stride] = d",
     "out = np.zeros(((stride + 1) * (h - 1) + 1, (stride + 1) * (w - 1) + 1))\n"
     "    out[::stride + 1, ::stride + 1] = d", "STRIDE_OFF_BY_ONE"),
    ("conv_identities", "    dx = np.zeros((N, C, H, W))\n", "    dx = np.zeros((N, C, H + 2 * pad, W + 2 * pad))\n"
     "    H, W = H + 2 * pad, W + 2 * pad\n    pad = 0\n", "CONV_PAD_NOT_CROPPED"),
    ("im2col_col2im", "xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += cols[row]",
     "xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] = cols[row]", "COL2IM_OVERWRITE"),
    ("im2col_col2im", "    return xp[:, :, pad:pad + H, pad:pad + W]", "    return xp", "CONV_PAD_NOT_CROPPED"),
    ("im2col_col2im", "    return cols\n", "    return cols.T\n", "IM2COL_LAYOUT"),
    ("im2col_col2im", "j * stride:j * stride + WW].ravel()", "j * stride:j * stride + WW].transpose(1, 2, 0).ravel()",
     "IM2COL_LAYOUT"),
    ("im2col_col2im", "cols[row] = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]",
     "cols[row] = xp[n, :, i:i + HH, j:j + WW]", "STRIDE_IGNORED"),
    ("conv_im2col", "out = rows.reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2)", "out = rows.reshape(N, F, H_out, W_out)",
     "IM2COL_LAYOUT"),
    ("conv_im2col", "drows = dout.transpose(0, 2, 3, 1).reshape(-1, F)", "drows = dout.reshape(-1, F)", "IM2COL_LAYOUT"),
    ("maxpool", "dx[n, c, i * stride + u, j * stride + v] += dout[n, c, i, j]",
     "dx[n, c, i * stride + u, j * stride + v] = dout[n, c, i, j]", "COL2IM_OVERWRITE"),
    ("maxpool", "winner[:, :, i, j] = window.argmax(axis=2)",
     "winner[:, :, i, j] = window.shape[2] - 1 - window[:, :, ::-1].argmax(axis=2)", "MAXPOOL_TIE_ORDER"),
    ("maxpool", "winner[:, :, i, j] = window.argmax(axis=2)", "winner[:, :, i, j] = window.argmin(axis=2)",
     "MAXPOOL_ROUTING"),
    ("avgpool", "share = dout / (pool_h * pool_w)", "share = dout", "AVGPOOL_SHARE"),
    ("avgpool", "+= share[:, :, i, j, None, None]", "= share[:, :, i, j, None, None]", "COL2IM_OVERWRITE"),
]


@pytest.mark.parametrize("gid,old,new,code", PLANTED, ids=[f"{p[0]}-{p[3]}-{i}" for i, p in enumerate(PLANTED)])
def test_planted_mistakes_lose_points_and_are_named(gid, old, new, code):
    ns = _namespace(SOURCE, {gid: (old, new)})
    (_, points, check, names), = [c for c in CHECKS if c[0] == gid]
    score, text = _run(check, ns, names, seed=0, points=points)
    assert score < points, text
    assert code in _codes(text), text


def _maxpool_to_ties(split: bool):
    """A max-pool backward that sends a window's gradient to every tied maximum (or splits it evenly among them)."""
    def backward(dout, cache):
        x, ph, pw, s = cache
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
                mask = (win == win.max(axis=(2, 3), keepdims=True)).astype(float)
                if split:
                    mask /= mask.sum(axis=(2, 3), keepdims=True)
                dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i, j, None, None]
        return dx
    return backward


def _maxpool_forward_keeping_x(x, ph, pw, s):
    return ref.maxpool2d_forward(x, ph, pw, s)[0], (x, ph, pw, s)


def test_maxpool_to_every_tied_maximum_is_named_in_the_visible_test(capsys):
    """The visible test (seed 0, thorough=False) has exact ties, so this mistake never surprises a hidden test."""
    score = gpool.check_maxpool(_maxpool_forward_keeping_x, _maxpool_to_ties(False), seed=0, points=3)
    text = capsys.readouterr().out
    assert 0 < score < 3 and "[MAXPOOL_TIES_ALL]" in text and "✗ dx, exact ties" in text
    assert "✓ dx, distinct values" in text and "✓ dx, overlapping windows" in text
    score = gpool.check_maxpool(_maxpool_forward_keeping_x, _maxpool_to_ties(True), seed=0, points=3)
    assert score < 3 and "[MAXPOOL_TIE_ORDER]" in capsys.readouterr().out


def test_a_swapped_pool_size_fails_the_visible_test():
    """The hidden tests use non-square pools, so the visible one does too: divmod by pool_h fails there."""
    ns = _namespace(SOURCE, {"maxpool": ("divmod(winner[n, c, i, j], pool_w)", "divmod(winner[n, c, i, j], pool_h)")})
    score, text = _run(gpool.check_maxpool, ns, ("maxpool2d_forward", "maxpool2d_backward"), seed=0, points=3)
    assert score < 3 and "✗ dx, distinct values: case x (1, 2, 5, 8), pool 3x2" in text


# ============================================================================================ no shortcut

FD_SOURCE = '''
import numpy as np

def _fd(f, a, dout, h=1e-5):
    a = np.array(a, dtype=np.float64)
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + h
        p = np.sum(f(a) * dout)
        a[idx] = old - h
        m = np.sum(f(a) * dout)
        a[idx] = old
        g[idx] = (p - m) / (2 * h)
    return g
'''


@pytest.fixture(scope="module")
def fd(sol):
    """Backwards written as finite differences of the instructor's forwards (correct values, 2n forward passes)."""
    ns = dict(sol)
    exec(FD_SOURCE, ns)
    exec('''
def conv2d_backward_naive(dout, cache):
    x, w, b, s, p = cache
    return (_fd(lambda v: conv2d_forward_naive(v, w, b, s, p)[0], x, dout),
            _fd(lambda v: conv2d_forward_naive(x, v, b, s, p)[0], w, dout),
            _fd(lambda v: conv2d_forward_naive(x, w, v, s, p)[0], b, dout))

_fast_forward = conv2d_forward_im2col

def conv2d_forward_im2col(x, w, b, stride, pad):
    return _fast_forward(x, w, b, stride, pad)[0], (x, w, b, stride, pad)

def conv2d_backward_im2col(dout, cache):
    x, w, b, s, p = cache
    return (_fd(lambda v: _fast_forward(v, w, b, s, p)[0], x, dout),
            _fd(lambda v: _fast_forward(x, v, b, s, p)[0], w, dout),
            _fd(lambda v: _fast_forward(x, w, v, s, p)[0], b, dout))

def maxpool2d_forward(x, ph, pw, s):
    return _ref_max(x, ph, pw, s), (x, ph, pw, s)

def maxpool2d_backward(dout, cache):
    x, ph, pw, s = cache
    return _fd(lambda v: _ref_max(v, ph, pw, s), x, dout)

def avgpool2d_backward(dout, cache):
    x_shape, ph, pw, s = cache
    return _fd(lambda v: avgpool2d_forward(v, ph, pw, s)[0], np.zeros(x_shape), dout)

def dx_by_full_convolution(dout, w, x_shape, stride, pad):
    return _fd(lambda v: _fast_forward(v, w, np.zeros(w.shape[0]), stride, pad)[0], np.zeros(x_shape), dout)
''', ns)

    def _ref_max(x, ph, pw, s):
        N, C, H, W = x.shape
        Ho, Wo = (H - ph) // s + 1, (W - pw) // s + 1
        return np.array([[[[x[n, c, i * s:i * s + ph, j * s:j * s + pw].max() for j in range(Wo)]
                           for i in range(Ho)] for c in range(C)] for n in range(N)])
    ns["_ref_max"] = _ref_max
    return ns


@pytest.mark.parametrize("gid", ["conv_backward", "conv_im2col", "maxpool", "avgpool", "conv_identities"])
def test_finite_differences_are_named_and_lose_every_gradient_sub_check(fd, gid):
    (_, points, check, names), = [c for c in CHECKS if c[0] == gid]
    score, text = _run(check, fd, names, seed=0, points=points)
    assert "[NUMERIC_NOT_ANALYTIC]" in text, text
    # caught without a clock: by counting the backward's calls of the forward, or by the large case's 1e8 offset (the
    # finite differences here use a forward under another name); the identities have a backstop of their own
    assert any(why in text for why in ("called your forward more than", "is right only to a few digits",
                                       "did not finish in"))
    failed = [line for line in text.splitlines() if line.startswith("  ✗ ")]
    if gid in ("conv_backward", "conv_im2col"):
        assert {"backward dx", "backward dw", "backward db"} <= {ln[4:].split(":")[0] for ln in failed}
        assert "✓ forward output" in text
    if gid in ("maxpool", "avgpool"):
        assert all(not ln.startswith("  ✓ dx") for ln in text.splitlines())
    if gid == "conv_identities":
        assert {"dx, stride 1", "dx, stride > 1"} <= {ln[4:].split(":")[0] for ln in failed}
    assert score < points


def test_a_slow_but_analytic_backward_is_not_mistaken_for_finite_differences(sol):
    """The verdict comes from counting forward calls, not from a clock: a correct backward written with slow scalar
    loops (ten times slower than the reference) keeps every point on the large case."""
    import time as _time

    fwd, bwd = sol["conv2d_forward_naive"], sol["conv2d_backward_naive"]

    def slow_backward(dout, cache):
        _time.sleep(0.4)  # far slower than any budget a clock-based rule could allow on a loaded machine
        return bwd(dout, cache)

    score, text = _run(gconv.check_conv_backward, {"conv2d_forward_naive": fwd, "conv2d_backward_naive": slow_backward},
                       ("conv2d_forward_naive", "conv2d_backward_naive"), seed=0, points=3)
    assert score == 3, text


# ============================================================================================ garbage


def _conv_fwd_returning(value):
    def forward(x, w, b, stride, pad):
        return value(x, w, b, stride, pad)
    return forward


@pytest.mark.parametrize("make,phrase", [
    (lambda x, w, b, s, p: None, "returned None"),
    (lambda x, w, b, s, p: (None, None), "got None"),
    (lambda x, w, b, s, p: (np.zeros((1, 1)), None), "shape (1, 1)"),
    (lambda x, w, b, s, p: (ref.conv2d_forward_naive(x, w, b, s, p)[0] * np.nan, None), "non-finite"),
    (lambda x, w, b, s, p: (ref.conv2d_forward_naive(x, w, b, s, p)[0].astype(np.float32), None), "dtype float32"),
    (lambda x, w, b, s, p: (ref.conv2d_forward_naive(x, w, b, s, p)[0].tolist(), None), "expected a NumPy array"),
    (lambda x, w, b, s, p: 1 / 0, "ZeroDivisionError"),
])
def test_garbage_forward_gets_a_clear_message(make, phrase):
    assert phrase in _fails(gconv.check_conv_forward, _conv_fwd_returning(make), points=3)


def test_garbage_backward_and_endless_loops(sol, monkeypatch):
    ns = {"fwd": sol["conv2d_forward_naive"]}
    for bwd, phrase in ((lambda d, c: d, "returned a single ndarray"), (lambda d, c: (d, d), "must return 3"),
                        (lambda d, c: c["x"], "raised TypeError")):
        ns["bwd"] = bwd
        score, text = _run(gconv.check_conv_backward, ns, ("fwd", "bwd"), points=3)
        assert score == pytest.approx(3 * 0.25 + 3 * 0.75 / 4) and phrase in text  # the forward and inputs only
    assert "got None. Define" in _fails(gconv.check_conv_backward, ns["fwd"], None, points=3)
    assert "positional argument" in _fails(gconv.check_conv_forward, lambda x: x, points=3)
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def endless(*args):
        while True:
            pass
    assert "did not finish within 0.3 s" in _fails(gpool.check_maxpool, endless, endless, points=3)
    assert "did not finish" in _fails(ex.check_conv_output_size, endless, points=1)


def test_modified_inputs_cost_the_course_wide_share(sol, capsys):
    def forward(x, w, b, stride, pad):
        out, cache = sol["conv2d_forward_naive"](x, w, b, stride, pad)
        x *= 0
        return out, cache
    score = gconv.check_conv_forward(forward, points=4)
    assert score == pytest.approx(4 * (1 - core.MUTATION_SHARE))
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


# ============================================================================================ numbers and SymPy


def test_worked_example_numbers_in_the_notebook_are_the_references():
    x, w, b = pub.HAND_X[None, None], pub.HAND_W[None, None], np.array([pub.HAND_B])
    out, cache = ref.conv2d_forward_naive(x, w, b, 1, 0)
    dx, dw, _ = ref.conv2d_backward_naive(pub.HAND_DOUT[None, None], cache)
    text = "".join(c.source for c in nbformat.read(str(SOURCE), as_version=4).cells if c.cell_type == "markdown")
    table = r" \\ ".join(" & ".join(f"{v:g}" for v in row) for row in out[0, 0])
    assert table in text and f"= {out[0, 0, 0, 0]:g}.$$" in text
    assert f"= {dx[0, 0, 0, 0]:g}$" in text and f"{dx[0, 0, 0, 1]:g}$" in text and f"= {dw[0, 0, 0, 0]:g}$" in text
    assert out[0, 0].tolist() == [[7, 12, 8], [9, 11, 9], [2, 3, 13]]
    want, mistakes = ex._hand_expected()
    assert np.array_equal(want["out_stride2"], [[7, 8], [2, 13]]) and want["out_pad1_0_0"] == 4
    assert (want["dx_1_1"], want["dx_2_3"], want["dw_1_0"], want["db"]) == (1, -5, 3, 5)
    for key, table_ in mistakes.items():  # every named mistake differs from the right value
        for wrong in table_.values():
            assert not np.allclose(wrong, want[key]), key


@pytest.mark.parametrize("key,code", [("out_stride2", "KERNEL_FLIP"), ("out_stride2", "STRIDE_IGNORED"),
                                      ("out_pad1_0_0", "KERNEL_FLIP"), ("dx_1_1", "COL2IM_OVERWRITE"),
                                      ("dx_2_3", "KERNEL_FLIP"), ("dw_1_0", "OVERWRITE_NOT_ACCUMULATE")])
def test_hand_trace_mistakes_cost_their_entry_and_are_named(key, code, capsys):
    want, mistakes = ex._hand_expected()
    score = ex.check_conv_by_hand(dict(want, **{key: mistakes[key][code]}), points=6)
    assert score == 5.0 and f"[{code}]" in capsys.readouterr().out


def test_hand_trace_garbage():
    want, _ = ex._hand_expected()
    assert "no answer yet" in _fails(ex.check_conv_by_hand, None, points=2)
    assert "expected a dict" in _fails(ex.check_conv_by_hand, [1, 2], points=2)
    assert "shape (3,)" in _fails(ex.check_conv_by_hand, {k: [1, 2, 3] for k in want}, points=2)


def test_output_sizes_and_their_mistakes(capsys):
    right = {"a": 32, "b": 3, "c": 24, "d": 6, "e": None, "f": None}
    assert ex.check_output_sizes(right, points=2) == 2.0
    assert ex.check_output_sizes({k: (float(v) if v else v) for k, v in right.items()}, points=2) == 2.0
    for key, wrong, code in (("a", 31, "STRIDE_OFF_BY_ONE"), ("a", 30, "PAD_COUNTED_ONCE"),
                             ("e", 2, "OUTPUT_SIZE_NOT_INTEGER"), ("f", 112, "OUTPUT_SIZE_NOT_INTEGER"),
                             ("f", 112.5, "OUTPUT_SIZE_NOT_INTEGER")):
        score = ex.check_output_sizes(dict(right, **{key: wrong}), points=6)
        assert score == 5.0 and f"[{code}]" in capsys.readouterr().out, (key, wrong)
    score = ex.check_output_sizes(dict(right, b=None), points=6)
    assert score == 5.0 and "do tile" in capsys.readouterr().out
    assert "expected a dict" in _fails(ex.check_output_sizes, 32, points=2)


def test_conv_output_size_mistakes(sol, capsys):
    good = sol["conv_output_size"]

    def floors(H, K, s, p):
        return (H + 2 * p - K) // s + 1

    def no_plus_one(H, K, s, p):
        return good(H, K, s, p) - 1

    def pad_once(H, K, s, p):
        if (H + p - K) % s:
            raise ValueError("no")
        return (H + p - K) // s + 1

    def type_error(H, K, s, p):
        if (H + 2 * p - K) % s:
            raise TypeError("not an integer")
        return good(H, K, s, p)

    def returns_float(H, K, s, p):
        return float(good(H, K, s, p))
    for fn, code in ((floors, "OUTPUT_SIZE_NOT_INTEGER"), (no_plus_one, "STRIDE_OFF_BY_ONE"),
                     (pad_once, "PAD_COUNTED_ONCE")):
        score, text = _run(ex.check_conv_output_size, {"f": fn}, ("f",), points=1)
        assert score < 1 and f"[{code}]" in text, fn.__name__
    assert ex.check_conv_output_size(type_error, points=1) < 1
    assert "expected a ValueError; instead" in capsys.readouterr().out
    assert ex.check_conv_output_size(returns_float, points=1) < 1 and "return an int" in capsys.readouterr().out


S = pub.conv1d_symbols()


def _true_1d():
    r = SL.conv1d_identities(5, 3, 2, 1)
    return r["dx"], r["dw"]


def test_derivation_expected_values_are_sympys_and_forms_are_free():
    dx, dw = _true_1d()
    expected, mistakes, _ = ex._conv1d_expected()
    assert [expected[f"dx[{i}]"] for i in range(5)] == dx and [expected[f"dw[{k}]"] for k in range(3)] == dw
    assert sp.expand(dx[0] - S["dout0"] * S["w1"]) == 0  # the padding: x0 is the SECOND entry of xp
    assert ex.check_conv1d_derivation(dx, dw, points=2) == 2.0
    assert ex.check_conv1d_derivation([str(e) for e in dx], [str(e) for e in dw], points=2, thorough=True) == 2.0
    plain = {n: sp.Symbol(n) for n in S}  # the learner's own symbols, without assumptions
    assert ex.check_conv1d_derivation([e.subs({S[n]: plain[n] for n in S}) for e in dx], dw, points=1) == 1.0
    assert ex.check_conv1d_derivation([(e ** 2 - 1) / (e - 1) - 1 for e in dx], dw, points=1) == 1.0


@pytest.mark.parametrize("code", ["KERNEL_FLIP", "CONV_PAD_NOT_CROPPED", "STRIDE_OFF_BY_ONE", "STRIDE_IGNORED"])
def test_derivation_mistakes_are_named(code, capsys):
    dx, dw = _true_1d()
    _, mistakes, _ = ex._conv1d_expected()
    wrong_dx = [mistakes[f"dx[{i}]"][code] for i in range(5)]
    try:
        score = ex.check_conv1d_derivation(wrong_dx, dw, points=2)
        text = capsys.readouterr().out
    except AssertionError as exc:
        score, text = 0.0, str(exc)
    assert score < 2 and f"[{code}]" in text


def test_derivation_garbage():
    dx, dw = _true_1d()
    assert "still None" in _fails(ex.check_conv1d_derivation, None, dw, points=2)
    assert "list of 5" in _fails(ex.check_conv1d_derivation, dx[:4], dw, points=2)
    text = _fails(ex.check_conv1d_derivation, ["import os"] * 5, ["y"] * 3, points=2)
    assert "could not read" in text


# ============================================================================================ public, pictures, bank


def test_public_inputs_import_only_numpy_and_sympy():
    code = ("import sys, graders.public.convolution as c; c.conv1d_symbols(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('graders', 'reference_impl', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert eval(out) == ["graders", "graders.public", "graders.public.convolution"]
    for cfg in pub.OUTPUT_SIZE_QUESTIONS.values():
        assert set(cfg) == {"H", "K", "stride", "pad"}
    answers = {k: ex._size_or_none(**cfg) for k, cfg in pub.OUTPUT_SIZE_QUESTIONS.items()}
    assert answers == {"a": 32, "b": 3, "c": 24, "d": 6, "e": None, "f": None}


def test_visuals_only_use_numpy_and_matplotlib_and_draw():
    text = (ROOT / "visuals" / "conv_plots.py").read_text()
    assert "graders" not in text.split('"""', 2)[2] and "reference_impl" not in text
    fig = vis.plot_receptive_fields(pub.HAND_X, pub.HAND_W, pub.HAND_B, positions=((0, 0), (1, 2)))
    shown = [t.get_text() for t in fig.axes[2].texts]
    assert shown == [f"{v:g}" for v in ref.conv2d_forward_naive(pub.HAND_X[None, None], pub.HAND_W[None, None],
                                                               np.array([pub.HAND_B]), 1, 0)[0].ravel()]
    fig2 = vis.plot_im2col(4, 4, (2, 2))
    labels = [t.get_text() for t in fig2.axes[0].texts]
    assert len(labels) == 36 and labels.count("x11") == 4 and labels.count("x00") == 1
    dout = np.array([[1.0, 2.0], [-1.0, 3.0]])
    fig3 = vis.plot_flipped_kernel(dout, pub.HAND_W, position=(1, 1))
    dx_shown = np.array([float(t.get_text()) for t in fig3.axes[2].texts]).reshape(3, 3)
    np.testing.assert_allclose(dx_shown, ref.convolve2d_full(dout, pub.HAND_W))
    with pytest.raises(ValueError, match="does not tile"):
        vis.plot_receptive_fields(np.ones((6, 6)), np.ones((3, 3)), stride=2)
    with pytest.raises(ValueError, match="outside"):
        vis.plot_flipped_kernel(dout, pub.HAND_W, position=(5, 0))
    plt.close("all")


RIGHT_LETTERS = {"conv_im2col_memory": "c", "conv_dx_stride": "b", "pool_sum_dx": "a"}


@pytest.mark.parametrize("qid", sorted(bank.QUESTIONS))
def test_questions(qid, capsys):
    q = bank.QUESTIONS[qid]
    assert concepts.check_choice(qid, RIGHT_LETTERS[qid], points=1) == 1.0
    for letter in q.options:
        if letter != RIGHT_LETTERS[qid]:
            assert concepts.digest(qid, letter) in q.feedback, (qid, letter)
            assert q.feedback[concepts.digest(qid, letter)] in _fails(concepts.check_choice, qid, letter, points=1)


def test_question_facts_are_computed():
    """im2col of a 3x3, stride-1, same-padded layer has 9 times the entries of x; a stride-2 dx needs dout dilated;
    max-pool with ties and overlaps keeps sum(dx) == sum(dout)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 6))
    assert ref.im2col(x, 3, 3, 1, 1).size == 9 * x.size
    w, dout = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((2, 2, 2, 2))
    xs = rng.standard_normal((2, 3, 5, 5))
    _, cache = ref.conv2d_forward_naive(xs, w, np.zeros(2), 2, 0)
    dx = ref.conv2d_backward_naive(dout, cache)[0]
    assert np.allclose(ref.conv2d_dx_as_full_convolution(dout, w, xs.shape, 2, 0), dx)
    xt = rng.integers(0, 2, (1, 2, 5, 5)).astype(float)
    out, cache = ref.maxpool2d_forward(xt, 3, 3, 1)
    d = rng.standard_normal(out.shape)
    assert ref.maxpool2d_backward(d, cache).sum() == pytest.approx(d.sum())


def test_every_diagnosis_code_of_the_notebook_is_planted_here():
    text = Path(__file__).read_text()
    for code in NEW_CODES:
        assert code in diagnoses.CATALOGUE
        assert text.count(code) >= 2, f"{code} is not planted in this file"
    assert set(_codes("".join(f"[{c}]" for c in NEW_CODES))) == set(NEW_CODES)
