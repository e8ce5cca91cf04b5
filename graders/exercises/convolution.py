"""Checks specific to notebook 11 (convolution and pooling); the layer checks live in graders/conv.py.

- :func:`check_conv_by_hand`: numbers of the small worked example (4 x 4 input, 2 x 2 kernel, from
  graders.public.convolution): a strided output, a padded corner, two entries of dx (covered by four and by two
  windows), one entry of dw, db;
- :func:`check_output_sizes`: the output sizes of ``OUTPUT_SIZE_QUESTIONS``, None where the windows do not tile;
- :func:`check_conv_output_size`: the function ``conv_output_size(H, K, stride, pad)``, which must raise ValueError
  when the size is not an integer or the kernel does not fit;
- :func:`check_conv1d_derivation`: dL/dx and dL/dw of a 1-D cross-correlation with stride 2 and padding 1 as
  SymPy expressions, compared with ``sympy.diff`` (reference_impl.symbolic_layers.conv1d_identities).

Expected values are computed here from the public inputs with reference_impl, never written in the notebook; the
helpers that compute them are private.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import sympy as sp

from graders import diagnoses, typed
from graders.core import (GradingError, Report, StudentCodeError, StudentTimeout, array_problem, brief,
                          call_student, require_callable)
from graders.public import convolution as pub
from reference_impl import conv as _ref
from reference_impl import symbolic as _ref_symbolic
from reference_impl import symbolic_layers as _ref_sym

__all__ = ["HAND_KEYS", "check_conv_by_hand", "check_output_sizes", "check_conv_output_size",
           "check_conv1d_derivation"]


def _label(code: str) -> str:
    diag = diagnoses.CATALOGUE.get(code)
    return code if diag is None else f"{diag.title} [{diag.code}]: {diag.advice}"


# ============================================================================================ the worked example

HAND_KEYS = ("out_stride2", "out_pad1_0_0", "dx_1_1", "dx_2_3", "dw_1_0", "db")


def _hand_expected() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(expected values, {key: {mistake code or description: wrong value}}) from reference_impl.conv."""
    x, w, dout = pub.HAND_X[None, None], pub.HAND_W[None, None], pub.HAND_DOUT[None, None]
    b = np.array([pub.HAND_B])
    flip = w[:, :, ::-1, ::-1]
    s2 = _ref.conv2d_forward_naive(x, w, b, 2, 0)[0][0, 0]
    s1 = _ref.conv2d_forward_naive(x, w, b, 1, 0)[0][0, 0]
    p1 = _ref.conv2d_forward_naive(x, w, b, 1, 1)[0][0, 0, 0, 0]
    _, cache = _ref.conv2d_forward_naive(x, w, b, 1, 0)
    dx, dw, db = _ref.conv2d_backward_naive(dout, cache)
    _, cache_f = _ref.conv2d_forward_naive(x, flip, b, 1, 0)
    dx_f = _ref.conv2d_backward_naive(dout, cache_f)[0]
    X, Wk, D = pub.HAND_X, pub.HAND_W, pub.HAND_DOUT
    last = {}  # "=" instead of "+=": only the last window (in row-major order) that covers the entry counts
    for (r, t) in ((1, 1), (2, 3)):
        for i in range(D.shape[0]):
            for j in range(D.shape[1]):
                if 0 <= r - i < Wk.shape[0] and 0 <= t - j < Wk.shape[1]:
                    last[(r, t)] = D[i, j] * Wk[r - i, t - j]
    want = {"out_stride2": s2, "out_pad1_0_0": float(p1), "dx_1_1": float(dx[0, 0, 1, 1]),
            "dx_2_3": float(dx[0, 0, 2, 3]), "dw_1_0": float(dw[0, 0, 1, 0]), "db": float(db[0])}
    mistakes = {
        "out_stride2": {"KERNEL_FLIP": _ref.conv2d_forward_naive(x, flip, b, 2, 0)[0][0, 0],
                        "STRIDE_IGNORED": s1[:2, :2], "the bias b was left out": s2 - pub.HAND_B},
        "out_pad1_0_0": {"KERNEL_FLIP": float(X[0, 0] * Wk[0, 0] + pub.HAND_B),
                         "padding ignored: with pad = 1 the first window covers a row and a column of zeros":
                             float(s1[0, 0])},
        "dx_1_1": {"COL2IM_OVERWRITE": float(last[(1, 1)]), "KERNEL_FLIP": float(dx_f[0, 0, 1, 1])},
        "dx_2_3": {"COL2IM_OVERWRITE": float(last[(2, 3)]), "KERNEL_FLIP": float(dx_f[0, 0, 2, 3])},
        "dw_1_0": {"KERNEL_FLIP": float(dw[0, 0, 0, 1]),
                   "OVERWRITE_NOT_ACCUMULATE": float(D[-1, -1] * X[D.shape[0], D.shape[1] - 1])},
        "db": {"db averaged instead of summed over the output positions": float(D.mean())},
    }
    return want, mistakes


def _value_problem(got: Any, want: Any, what: str) -> str | None:
    if got is None:
        return f"{what}: no answer yet (still None)."
    if np.ndim(want) == 0:
        value = typed.number(got)
        if value is None:
            return f"{what}: {typed.number_problem(got)}"
        return None if math.isclose(value, float(want), rel_tol=typed.REL_TOL, abs_tol=typed.ABS_TOL) else \
            f"{what}: got {value:.6g}, which is not right."
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{what}: expected a {np.shape(want)} array of numbers, got {brief(got)}."
    if arr.shape != np.shape(want):
        return f"{what}: shape {arr.shape}, expected {np.shape(want)}."
    return array_problem(arr, want, tol=1e-6)


def _matches(got: Any, wrong: Any) -> bool:
    return _value_problem(got, wrong, "") is None


def check_conv_by_hand(answers_: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the worked example's numbers: a dict with the keys of HAND_KEYS.

    ``out_stride2``: the (2, 2) output with stride 2, no padding; ``out_pad1_0_0``: the top-left output with stride 1
    and pad 1; ``dx_1_1``, ``dx_2_3``: entries of dx for the stride-1, unpadded layer and upstream ``HAND_DOUT``;
    ``dw_1_0``: an entry of dw; ``db``. One sub-check per key (weight 1); a wrong value equal to a known mistake
    (KERNEL_FLIP, STRIDE_IGNORED, COL2IM_OVERWRITE, OVERWRITE_NOT_ACCUMULATE, ...) is named.
    """
    if answers_ is None:
        raise GradingError(f"convolution by hand: no answer yet: fill in the dict with keys {', '.join(HAND_KEYS)}.")
    if not isinstance(answers_, Mapping):
        raise GradingError(f"convolution by hand: expected a dict with keys {', '.join(HAND_KEYS)}, got "
                           f"{type(answers_).__name__}.")
    want, mistakes = _hand_expected()
    rep = Report("convolution by hand", points, seed)
    for key in HAND_KEYS:
        rep.declare(key)
    for key in HAND_KEYS:
        if key not in answers_:
            rep.fail(key, f"'{key}' is missing from the dict.")
            continue
        problem = _value_problem(answers_[key], want[key], f"'{key}'")
        if problem:
            for code, wrong in mistakes[key].items():
                if not _matches(want[key], wrong) and _matches(answers_[key], wrong):
                    problem += f"\n      This is what you get when {_label(code)}"
                    break
            rep.fail(key, problem)
    return rep.finish()


# ============================================================================================ output size


def _size_or_none(H, K, stride, pad):
    try:
        return _ref.conv_output_size(H, K, stride, pad)
    except ValueError:
        return None


def _size_mistakes(H, K, stride, pad) -> dict[str, list[float]]:
    span = H + 2 * pad - K
    out = {"STRIDE_OFF_BY_ONE": [span / stride, span / stride + 2],
           "PAD_COUNTED_ONCE": [(H + pad - K) / stride + 1, (H + pad - K) // stride + 1]}
    if span % stride:
        out["OUTPUT_SIZE_NOT_INTEGER"] = [span // stride + 1, span / stride + 1, -(-span // stride) + 1]
    return out


def _size_problem(got: Any, cfg: Mapping[str, int], what: str) -> str | None:
    want = _size_or_none(**cfg)
    numbers = f"H = {cfg['H']}, K = {cfg['K']}, stride = {cfg['stride']}, pad = {cfg['pad']}"
    if want is None:
        if got is None:
            return None
        value = typed.number(got)
        msg = f"{what} ({numbers}): got {brief(got)}, but (H + 2*pad - K) / stride is not an integer here."
        if value is not None and any(math.isclose(value, v) for v in _size_mistakes(**cfg)["OUTPUT_SIZE_NOT_INTEGER"]):
            msg += f"\n      {_label('OUTPUT_SIZE_NOT_INTEGER')}"
        return msg + " Answer None for a configuration whose windows do not tile the padded input."
    if got is None:
        return f"{what} ({numbers}): got None, but these windows do tile the padded input; give the size."
    value = typed.number(got)
    if value is None:
        return f"{what} ({numbers}): expected a whole number (or None), got {brief(got)}."
    if math.isclose(value, want):
        return None
    for code, wrongs in _size_mistakes(**cfg).items():
        if any(math.isclose(value, v) and not math.isclose(v, want) for v in wrongs):
            return f"{what} ({numbers}): got {value:g}.\n      {_label(code)}"
    return f"{what} ({numbers}): got {value:g}, which is not right."


def check_output_sizes(sizes: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade a dict {key: output size or None} for every configuration of ``OUTPUT_SIZE_QUESTIONS`` (one axis:
    H, K, stride, pad). None is right exactly where (H + 2*pad - K) / stride is not an integer. One sub-check per
    key; mistakes named: STRIDE_OFF_BY_ONE, PAD_COUNTED_ONCE, OUTPUT_SIZE_NOT_INTEGER (a floored size)."""
    keys = list(pub.OUTPUT_SIZE_QUESTIONS)
    if sizes is None:
        raise GradingError(f"output sizes: no answer yet: fill in the dict with keys {', '.join(keys)}.")
    if not isinstance(sizes, Mapping):
        raise GradingError(f"output sizes: expected a dict with keys {', '.join(keys)}, got {type(sizes).__name__}.")
    rep = Report("output sizes", points, seed)
    for key in keys:
        rep.declare(key)
    for key, cfg in pub.OUTPUT_SIZE_QUESTIONS.items():
        if key not in sizes:
            rep.fail(key, f"'{key}' is missing from the dict.")
        else:
            rep.record(key, _size_problem(sizes[key], cfg, f"'{key}'"))
    return rep.finish()


def _size_configs(rng: np.random.Generator, thorough: bool) -> tuple[list, list, list]:
    """(valid, non-integer, kernel too large) configurations (H, K, stride, pad)."""
    # first a case where a missing +1 and padding counted once give different numbers (a failed sub-check keeps
    # its first two messages)
    valid = [(10, 3, 1, 2), (7, 3, 2, 0), (32, 3, 1, 1), (11, 3, 2, 1), (28, 5, 1, 0), (5, 5, 1, 0), (1, 3, 1, 1),
             (9, 3, 3, 0)]
    bad = [(6, 3, 2, 0), (224, 7, 2, 3), (10, 4, 3, 1)]
    large = [(2, 5, 1, 1), (3, 4, 1, 0)]
    if thorough:
        for _ in range(12):
            K, s, p = int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(0, 4))
            H = int(rng.integers(max(1, K - 2 * p), 40))
            (valid if (H + 2 * p - K) % s == 0 else bad).append((H, K, s, p))
        large.append((1, 4, 2, 1))
    return valid, bad, large


def _out_of_time(rep: Report, subs) -> float | None:
    for sub in subs:
        if rep.passed(sub):
            rep.fail(sub, "not checked: conv_output_size ran out of time on an earlier call.")
    return rep.finish()


def check_conv_output_size(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``conv_output_size(H, K, stride, pad) -> int``: ``(H + 2*pad - K) / stride + 1`` as an int, and a
    ValueError when that is not an integer or when K is larger than the padded input H + 2*pad.

    Sub-checks: "valid configurations" (weight 2), "non-integer sizes rejected", "kernel larger than the padded
    input rejected", inputs left unchanged. Mistakes named: STRIDE_OFF_BY_ONE, PAD_COUNTED_ONCE,
    OUTPUT_SIZE_NOT_INTEGER.
    """
    require_callable(fn, "conv_output_size", 4)
    rep = Report("conv_output_size", points, seed)
    subs = ("valid configurations", "non-integer sizes rejected", "kernel larger than the padded input rejected")
    rep.declare(subs[0], weight=2.0)
    rep.declare(subs[1])
    rep.declare(subs[2])
    rep.watch_inputs()
    valid, bad, large = _size_configs(np.random.default_rng(seed), thorough)
    label = "conv_output_size"
    for (H, K, s, p) in valid:
        where = f"conv_output_size({H}, {K}, {s}, {p})"
        try:
            got = call_student(fn, H, K, s, p, label=label, notes=rep.notes, report=rep)
        except StudentCodeError as exc:
            rep.fail(subs[0], f"{where}: {exc}")
            if isinstance(exc, StudentTimeout):
                return _out_of_time(rep, subs)
            continue
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
            rep.fail(subs[0], f"{where} returned {brief(got)} ({type(got).__name__}); return an int (check that the "
                              f"division is exact, then use //).")
            continue
        problem = _size_problem(int(got), {"H": H, "K": K, "stride": s, "pad": p}, where)
        if problem:
            rep.fail(subs[0], problem)
    for configs, sub in ((bad, subs[1]), (large, subs[2])):
        for (H, K, s, p) in configs:
            where = f"conv_output_size({H}, {K}, {s}, {p})"
            try:
                got = call_student(fn, H, K, s, p, label=label, notes=rep.notes, report=rep)
            except StudentCodeError as exc:
                if isinstance(exc, StudentTimeout):
                    rep.fail(sub, f"{where}: {exc}")
                    return _out_of_time(rep, subs)
                if f"{label} raised ValueError" not in str(exc):
                    rep.fail(sub, f"{where}: expected a ValueError; instead {exc}")
                continue
            why = ("(H + 2*pad - K) is not a multiple of the stride" if sub == subs[1] else
                   "the kernel is larger than the padded input")
            msg = f"{where} returned {brief(got)}, but {why}: raise ValueError with a message that says so."
            if sub == subs[1]:
                msg += f"\n      {_label('OUTPUT_SIZE_NOT_INTEGER')}"
            rep.fail(sub, msg)
    return rep.finish()


# ============================================================================================ SymPy derivation


def _conv1d_closed(S: Mapping[str, sp.Symbol], *, spacing: int, offset: int, flip: bool):
    """dx (L entries, taken from dxp at ``offset``) and dw of the 1-D layer, with dout spread ``spacing`` apart
    (the stride when right) and the kernel reversed when ``flip``: the closed forms of the classic mistakes."""
    L, K, pad = pub.CONV1D["L"], pub.CONV1D["K"], pub.CONV1D["pad"]
    x = [S[f"x{i}"] for i in range(L)]
    w = [S[f"w{k}"] for k in range(K)]
    if flip:
        w = w[::-1]
    dout = [S[n] for n in S if n.startswith("dout")]
    xp = [sp.Integer(0)] * pad + x + [sp.Integer(0)] * pad
    dd = [sp.Integer(0)] * (spacing * (len(dout) - 1) + 1)
    for i, d in enumerate(dout):
        dd[i * spacing] = d
    n_p = len(xp)
    dxp = [sp.Add(*[dd[m] * w[r - m] for m in range(len(dd)) if 0 <= r - m < K]) for r in range(n_p + K)]
    dx = [dxp[offset + i] if offset + i < len(dxp) else sp.Integer(0) for i in range(L)]
    dw = [sp.Add(*[xp[m + k] * dd[m] for m in range(len(dd)) if m + k < n_p]) for k in range(K)]
    return dx, dw


def _conv1d_expected():
    c = pub.CONV1D
    r = _ref_sym.conv1d_identities(c["L"], c["K"], c["stride"], c["pad"])
    S = pub.conv1d_symbols()
    expected = {f"dx[{i}]": e for i, e in enumerate(r["dx"])}
    expected.update({f"dw[{k}]": e for k, e in enumerate(r["dw"])})
    s, p = c["stride"], c["pad"]
    variants = {"KERNEL_FLIP": dict(spacing=s, offset=p, flip=True),
                "CONV_PAD_NOT_CROPPED": dict(spacing=s, offset=0, flip=False),
                "STRIDE_OFF_BY_ONE": dict(spacing=s + 1, offset=p, flip=False),
                "STRIDE_IGNORED": dict(spacing=1, offset=p, flip=False)}
    mistakes: dict[str, dict[str, Any]] = {k: {} for k in expected}
    for code, kw in variants.items():
        dx, dw = _conv1d_closed(S, **kw)
        if code == "KERNEL_FLIP":  # dw is a correlation: flipping it reverses the entries
            dw = [expected[f"dw[{c['K'] - 1 - k}]"] for k in range(c["K"])]
        for i, e in enumerate(dx):
            mistakes[f"dx[{i}]"][code] = e
        if code != "CONV_PAD_NOT_CROPPED":
            for k, e in enumerate(dw):
                mistakes[f"dw[{k}]"][code] = e
    return expected, mistakes, S


def _expr_problem(answer: Any, want: sp.Expr, wrongs: Mapping[str, sp.Expr], S: Mapping[str, sp.Symbol],
                  what: str, seed: int) -> str | None:
    """None when ``answer`` equals the polynomial ``want``; else why not, naming a mistake it equals.

    The expected values and the mistakes are polynomials, so an answer that expands to a polynomial is compared
    exactly (sp.expand of the difference); anything else goes through graders.answers' SymPy-then-numeric test."""
    if answer is None:
        return f"{what}: no answer yet (None)."
    if isinstance(answer, (list, tuple, dict, set, np.ndarray, sp.MatrixBase)):
        return f"{what}: expected one scalar expression, got {type(answer).__name__} {brief(answer)}."
    try:
        parsed = _ref_symbolic.parse_answer(answer, S)
    except (ValueError, TypeError, SyntaxError) as exc:
        return f"{what}: could not read {brief(answer)}: {exc}"
    symbols = list(S.values())

    def same(a, b) -> bool:
        diff = sp.expand(a - b)
        if diff == 0:
            return True
        if diff.is_polynomial(*symbols):
            return False
        return _ref_symbolic.are_equivalent(a, b, S, time_limit=0.5, rng=seed)
    try:
        if same(parsed, want):
            return None
        for code, wrong in wrongs.items():
            if sp.expand(wrong - want) != 0 and same(parsed, wrong):
                return f"{what}: {parsed} is not right; it is what you get when {_label(code)}"
    except (ValueError, TypeError) as exc:
        return f"{what}: could not compare {brief(answer)}: {exc}"
    return f"{what}: {parsed} is not the derivative of L with respect to this entry."


def check_conv1d_derivation(dx: Any, dw: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade dL/dx (a list of L = 5 expressions) and dL/dw (K = 3) of the 1-D cross-correlation
    ``y_i = sum_k w_k * xp[2i + k]`` (stride 2, pad 1) with ``L = sum_i dout_i * y_i``, in the symbols of
    graders.public.convolution.conv1d_symbols (SymPy expressions or strings; symbols of the same names without
    assumptions are fine). One sub-check per entry (weight 1); the expected entries come from sympy.diff
    (reference_impl.symbolic_layers.conv1d_identities) and any equal form counts. Mistakes named: KERNEL_FLIP,
    CONV_PAD_NOT_CROPPED, STRIDE_OFF_BY_ONE, STRIDE_IGNORED."""
    L, K = pub.CONV1D["L"], pub.CONV1D["K"]
    for name, value, n in (("dx", dx, L), ("dw", dw, K)):
        if value is None:
            raise GradingError(f"1-D convolution gradients: {name} is still None; make it a list of {n} expressions.")
        if not isinstance(value, (list, tuple)) or len(value) != n:
            raise GradingError(f"1-D convolution gradients: {name} must be a list of {n} expressions "
                               f"({name}[0], ..., {name}[{n - 1}]), got {brief(value)}.")
    expected, mistakes, S = _conv1d_expected()
    given = {f"dx[{i}]": e for i, e in enumerate(dx)}
    given.update({f"dw[{k}]": e for k, e in enumerate(dw)})
    rep = Report("1-D convolution gradients", points, seed)
    for key in expected:
        rep.declare(key)
    for key, want in expected.items():
        rep.record(key, _expr_problem(given[key], want, mistakes[key], S, key, seed + (1000 if thorough else 0)))
    return rep.finish()
