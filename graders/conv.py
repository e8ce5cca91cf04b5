"""Checks for notebook 11 (convolution and pooling): the naive convolution, the 2-D primitives and the two gradient
identities, im2col/col2im and the convolution built on them (pooling: graders/pooling.py, on the same runner).

Student contracts (NCHW, float64, the same as reference_impl.conv)::

    out, cache = conv2d_forward_naive(x, w, b, stride, pad)   # x (N, C, H, W), w (F, C, HH, WW), b (F,)
    dx, dw, db = conv2d_backward_naive(dout, cache)           # dout (N, F, H_out, W_out)
    c = correlate2d_valid(a, k)     # (Ha - Hk + 1, Wa - Wk + 1), c[i, j] = sum_{u,v} a[i + u, j + v] * k[u, v]
    f = convolve2d_full(a, k)       # (Ha + Hk - 1, Wa + Wk - 1), f[r, t] = sum_{i,j} a[i, j] * k[r - i, t - j]
    dw = dw_by_correlation(x, dout, HH, WW, stride, pad)      # dw as a correlation of xp with (dilated) dout
    dx = dx_by_full_convolution(dout, w, x_shape, stride, pad)  # full convolution with w, then cropped
    cols = im2col(x, HH, WW, stride, pad)                     # (N*H_out*W_out, C*HH*WW), rows (n, i, j), cols (c, u, v)
    xr = col2im(cols, x_shape, HH, WW, stride, pad)           # the adjoint: overlapping windows ADD
    out, cache = conv2d_forward_im2col(x, w, b, stride, pad); dx, dw, db = conv2d_backward_im2col(dout, cache)

"Convolution" is cross-correlation (no kernel flip), out[n, f, i, j] = b[f] + sum xp[n, :, i*s + u, j*s + v] w[f, :, u, v]
with xp the input zero-padded by ``pad`` on each side.

How every check runs. Student code is called only through :func:`graders.core.call_student`, with plain arrays and
numbers; a backward receives, untouched, the cache the student's own forward returned. Inputs are seeded random
float64 arrays; the upstream gradient is random (never ones). Every exercise watches its inputs ("inputs left
unchanged", :meth:`graders.core.Report.watch_inputs`). A result is compared with reference_impl.conv (exact shape,
float64, finite, values to 1e-7 relative), and a wrong one is compared with the known mistakes computed here for the
same input (``[KERNEL_FLIP]``, ``[COL2IM_OVERWRITE]``, ``[CONV_PAD_NOT_CROPPED]``, ``[STRIDE_OFF_BY_ONE]``,
``[STRIDE_IGNORED]``, ...). Sub-checks group the cases by KIND (stride, padding,
overlapping windows, ...), and the visible test (``thorough=False``) has a case of every kind the hidden
test (``thorough=True``) tries; hidden tests draw new inputs and add sizes.

No shortcut: every backward is also run once on a larger input where perturbing the n inputs one at a time needs
2n forward passes, and the bias is 1e8, so that centred differences at any small step lose the digits the
gradient needs (dx, dw and db do not depend on b). The backward's calls of the student's own forward are COUNTED there (graders.remote.catalogue
"count_calls", on the student's side): more than ``FORWARD_CALLS`` calls and it is stopped and named
``[NUMERIC_NOT_ANALYTIC]`` in every gradient sub-check. A count, not a clock, so the verdict does not depend on how
busy the machine is; a time limit of ``BACKSTOP`` seconds (finite differences there need about a minute, a real
backward a few hundredths of a second) stops a forward called under another name. The identities, which take no
forward, get the same backstop on an input large enough (x of 32768 entries) that finite differences for dx need
minutes. (Finite differences for dw need only 2 * F * C * HH * WW passes and stay exact on a function linear in w:
no numeric trap exists there, so dw's shortcut is not caught by this check.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from graders import diagnoses
from graders.core import own_forward_vjps
from graders.remote import catalogue
from graders.core import (MUTATION_CHECK as core_mutation_check, Report, StudentCodeError, StudentTimeout,
                          array_problem, call_student, close, describe, diagnose, rel_error, require_callable, unpack)
from reference_impl import conv as _ref

__all__ = ["check_conv_forward", "check_conv_backward", "check_correlate_convolve", "check_conv_identities",
           "check_im2col_col2im", "check_conv_im2col", "FORWARD_CALLS", "BACKSTOP"]

FORWARD_CALLS = 2    # calls of the student's own forward a backward may make on the large case
BACKSTOP = 3.0       # seconds for a large case (finite differences need ~2n forward passes there: about a minute)
GRADS = ("dx", "dw", "db")


# =============================================================================================== wrong answers


def _pad(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)])


def _wins(xp: np.ndarray, HH: int, WW: int, s: int, Ho: int, Wo: int) -> np.ndarray:
    """(N, C, Ho, Wo, HH, WW): window (i, j) starts at (i*s, j*s) of xp."""
    v = sliding_window_view(xp, (HH, WW), axis=(2, 3))
    return v[:, :, : s * (Ho - 1) + 1: s, : s * (Wo - 1) + 1: s]


def _sizes(x_shape, HH, WW, s, p):
    return (x_shape[2] + 2 * p - HH) // s + 1, (x_shape[3] + 2 * p - WW) // s + 1


def _conv(x, w, b, s, p, step=None) -> np.ndarray:
    """The forward with windows spaced by ``step`` (default: the stride), on the stride's output grid."""
    Ho, Wo = _sizes(x.shape, w.shape[2], w.shape[3], s, p)
    win = _wins(_pad(x, p), w.shape[2], w.shape[3], s if step is None else step, Ho, Wo)
    return np.einsum("ncijuv,fcuv->nfij", win, w) + b[None, :, None, None]


def _conv_out_mistakes(x, w, b, s, p) -> dict:
    Ho, Wo = _sizes(x.shape, w.shape[2], w.shape[3], s, p)
    out = {"KERNEL_FLIP": [_conv(x, w[:, :, ::-1, ::-1], b, s, p)]}
    if s > 1:
        out["STRIDE_IGNORED"] = [_conv(x, w, b, s, p, step=1)]
    if Ho > 1 and Wo > 1:
        out["STRIDE_OFF_BY_ONE"] = [_conv(x, w, b, s, p)[:, :, :-1, :-1]]
    return out  # (padding counted once gives the same array as the missing +1: STRIDE_OFF_BY_ONE names both)


def _scatter(c6: np.ndarray, padded_shape, s: int, mode: str = "add", step: int | None = None) -> np.ndarray:
    """Scatter per-window contributions c6 (N, Ho, Wo, C, HH, WW) into a zero array of ``padded_shape``.

    mode "add" (right), "uv_assign" (``=`` per kernel offset, vectorized over windows) or "window_assign" (``=``
    per window, windows in (n, i, j) order: the last window wins).
    """
    N, Ho, Wo, C, HH, WW = c6.shape
    st = s if step is None else step
    xp = np.zeros(padded_shape)
    if mode == "window_assign":
        for n in range(N):
            for i in range(Ho):
                for j in range(Wo):
                    xp[n, :, i * st:i * st + HH, j * st:j * st + WW] = c6[n, i, j]
        return xp
    for u in range(HH):
        for v in range(WW):
            rows = slice(u, u + st * (Ho - 1) + 1, st)
            cols = slice(v, v + st * (Wo - 1) + 1, st)
            val = c6[:, :, :, :, u, v].transpose(0, 3, 1, 2)
            if mode == "add":
                xp[:, :, rows, cols] += val
            else:
                xp[:, :, rows, cols] = val
    return xp


def _crop(xp: np.ndarray, p: int, H: int, W: int) -> np.ndarray:
    return xp[:, :, p:p + H, p:p + W]


def _col2im_mistakes(c6, x_shape, s, p) -> dict:
    N, C, H, W = x_shape
    shape = (N, C, H + 2 * p, W + 2 * p)
    full = _scatter(c6, shape, s)
    out = {"COL2IM_OVERWRITE": [_crop(_scatter(c6, shape, s, m), p, H, W) for m in ("window_assign", "uv_assign")]}
    if p > 0:
        out["CONV_PAD_NOT_CROPPED"] = [full, full[:, :, :H, :W], full[:, :, 2 * p:, 2 * p:]]
    if s > 1:
        out["STRIDE_IGNORED"] = [_crop(_scatter(c6, shape, s, step=1), p, H, W)]
    return out


def _dx_mistakes(x, w, s, p, dout) -> dict:
    """Wrong dx of a convolution, by diagnosis code."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    c6 = np.einsum("nfij,fcuv->nijcuv", dout, w)
    out = _col2im_mistakes(c6, x.shape, s, p)
    naive = np.zeros((N, C, H + 2 * p, W + 2 * p))  # dxp[n, :, window] = dout[n, f, i, j] * w[f], loops n, f, i, j
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    naive[n, :, i * s:i * s + HH, j * s:j * s + WW] = dout[n, f, i, j] * w[f]
    out["COL2IM_OVERWRITE"].append(_crop(naive, p, H, W))
    flipped = np.einsum("nfij,fcuv->nijcuv", dout, w[:, :, ::-1, ::-1])
    out["KERNEL_FLIP"] = [_crop(_scatter(flipped, naive.shape, s), p, H, W)]
    return out


def _dw_mistakes(x, w, s, p, dout) -> dict:
    HH, WW = w.shape[2:]
    Ho, Wo = dout.shape[2:]
    win = _wins(_pad(x, p), HH, WW, s, Ho, Wo)
    dw = np.einsum("nfij,ncijuv->fcuv", dout, win)
    out = {"KERNEL_FLIP": [dw[:, :, ::-1, ::-1]],
           "OVERWRITE_NOT_ACCUMULATE": [dout[-1, :, -1, -1][:, None, None, None] * win[-1, :, -1, -1][None]]}
    if s > 1:
        out["STRIDE_IGNORED"] = [np.einsum("nfij,ncijuv->fcuv", dout, _wins(_pad(x, p), HH, WW, 1, Ho, Wo))]
    return out


def _db_mistakes(dout) -> dict:
    return {"CONV_BIAS_AXES": [dout.sum(axis=(2, 3)), dout.sum(axis=0), dout.sum(axis=(1, 2, 3)),
                               dout.sum(axis=(0, 2, 3), keepdims=True)],
            "OVERWRITE_NOT_ACCUMULATE": [dout[-1, :, -1, -1]]}


def _im2col_layout(dout, x, w, b, s, p) -> dict:
    """What a product in the wrong order gives: out reshaped without the transpose, dout flattened without it."""
    F = w.shape[0]
    N = x.shape[0]
    out = _ref.conv2d_forward_im2col(x, w, b, s, p)[0]
    Ho, Wo = out.shape[2:]
    cols = _ref.im2col(x, w.shape[2], w.shape[3], s, p)
    drows = dout.reshape(-1, F)  # no transpose(0, 2, 3, 1)
    right = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    return {
        "out": out.transpose(0, 2, 3, 1).reshape(N, F, Ho, Wo),
        "dx": _ref.col2im(drows @ w.reshape(F, -1), x.shape, w.shape[2], w.shape[3], s, p),
        "dw": [(drows.T @ cols).reshape(w.shape), (cols.T @ right).reshape(w.shape)],
        "db": drows.sum(axis=0),
    }


# =============================================================================================== cases


@dataclass
class _Case:
    kind: str           # the sub-check group of a forward/primitive check
    args: tuple         # the forward's positional arguments
    dout: np.ndarray | None = None
    cost: bool = False  # the large case a per-coordinate gradient cannot finish in time
    label: str = ""


LARGE_OFFSET = 1e8  # the cost case's bias: a constant part the gradient ignores and finite differences cannot


def _conv_case(rng, kind, xs, ws, s, p, cost=False) -> _Case:
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    if cost:  # out carries 1e8: centred differences at any small step lose the digits the gradient needs
        b = b + LARGE_OFFSET
    Ho, Wo = _sizes(xs, ws[2], ws[3], s, p)
    return _Case(kind, (x, w, b, s, p), rng.standard_normal((xs[0], ws[0], Ho, Wo)), cost,
                 f"x {xs}, w {ws}, stride {s}, pad {p}")


CONV_KINDS = ("stride 1, no padding", "zero padding", "stride > 1 with padding", "one image, channel and filter")


def _conv_cases(rng, thorough: bool, large: bool = False) -> list[_Case]:
    k1, k2, k3, k4 = CONV_KINDS
    if large:  # im2col: the same kinds, larger
        specs = [(k1, (4, 3, 10, 10), (8, 3, 3, 3), 1, 0), (k2, (3, 2, 9, 12), (5, 2, 3, 4), 1, 1),
                 (k3, (2, 3, 15, 15), (6, 3, 3, 3), 2, 1), (k4, (1, 1, 6, 6), (1, 1, 2, 2), 2, 0)]
        extra = [(k3, (2, 4, 13, 10), (3, 4, 5, 2), 3, 2), (k2, (2, 1, 7, 7), (4, 1, 5, 5), 1, 2)]
        cost = ((8, 3, 16, 16), (8, 3, 3, 3), 1, 1)
    else:
        specs = [(k1, (2, 3, 5, 5), (4, 3, 3, 3), 1, 0), (k2, (1, 2, 4, 5), (3, 2, 3, 2), 1, 1),
                 (k3, (2, 2, 7, 7), (2, 2, 3, 3), 2, 1), (k4, (1, 1, 4, 4), (1, 1, 2, 2), 2, 0)]
        extra = [(k3, (1, 2, 7, 7), (2, 2, 3, 3), 3, 1), (k2, (2, 1, 3, 3), (2, 1, 3, 3), 1, 2)]
        cost = ((2, 3, 14, 14), (4, 3, 3, 3), 1, 1)
    cases = [_conv_case(rng, *spec) for spec in specs + (extra if thorough else [])]
    return cases + [_conv_case(rng, k1, *cost, cost=True)]


# =============================================================================================== running student code


def _outcome(rep: Report, fn, args, label: str, timeout: float | None = None):
    """call_student watching the inputs; returns (result, None) or (None, StudentCodeError)."""
    try:
        return call_student(fn, *args, label=label, notes=rep.notes, report=rep, timeout=timeout), None
    except StudentCodeError as exc:
        return None, exc


def _out_of_time(rep: Report, label: str) -> None:
    """After a timeout nothing else is tried: every sub-check not yet failed fails (a function that never returns
    earns nothing for the cases it was not run on)."""
    for name, sub in rep.checks.items():
        if sub.passed and name != core_mutation_check:
            rep.fail(name, f"not checked: {label} ran out of time on an earlier case.")


def _compare(rep: Report, sub: str, where: str, what: str, got, want, mistakes: Callable[[], dict] | None = None,
             extra: str = "") -> bool:
    """Record ``got`` against ``want`` under ``sub``; ``mistakes()`` (computed only for a wrong answer) gives the
    known wrong answers by diagnosis code."""
    problem = array_problem(got, want)
    if problem is None:
        return True
    diag = diagnose(got, want, mistakes() if mistakes else {}, tol=1e-6)
    rep.fail(sub, f"{where}: {what} {problem}{describe(diag)}{extra}")
    return False


def _near_miss(got, want) -> bool:
    """Right in shape and to a few digits, but not to the last ones: what finite differences give on the large case
    (an analytic gradient does not depend on its 1e8 offset and is exact there)."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == np.shape(want) and bool(np.all(np.isfinite(got))) and 1e-12 < rel_error(got, want) < 1e-2


def _numeric_message(label: str, case: _Case, why: str) -> str:
    n = sum(a.size for a in case.args if isinstance(a, np.ndarray))
    return (f"case {case.label}: {label} {why}. Perturbing each of the n = {n} inputs one at a time needs 2n = "
            f"{2 * n} forward passes." + describe(diagnoses.get("NUMERIC_NOT_ANALYTIC")))


def _own_forward_vjps(forward, args: tuple, dout: np.ndarray, wrt: Sequence[int]) -> dict[int, np.ndarray]:
    """Centred differences of the student's forward (first output) along dout, w.r.t. args[k] for k in wrt, keyed
    by k (computed where the forward runs: core.own_forward_vjps)."""
    got = own_forward_vjps(forward, args, list(wrt), dout)
    return {wrt[i]: v for i, v in got.items()}


def _pair(rep: Report, forward, backward, cases: list[_Case], *, fwd_name: str, bwd_name: str, grad_subs: dict,
          ref_pair: tuple[Callable, Callable], out_mistakes: Callable, grad_mistakes: Callable, wrt: Sequence[int],
          grad_names: Sequence[str], cost_subs: Sequence[str], fwd_sub: str = "forward output") -> None:
    """Grade a forward/backward pair case by case.

    grad_subs(case) -> {grad name: sub-check name}; grad_mistakes(case, name) -> {code: wrong arrays}. The student's
    backward gets the student's cache. A cost case times the forward and gives the backward a budget; running out
    of it fails every sub-check in ``cost_subs``.
    """
    smallest = min((c for c in cases if not c.cost), key=lambda c: c.args[0].size)
    own_done = skip_backward = False
    for case in sorted(cases, key=lambda c: not c.cost):  # the cost case first: a slow backward is stopped once
        where = f"case {case.label}"
        ref_out, ref_cache = ref_pair[0](*case.args)
        ref_grads = ref_pair[1](case.dout, ref_cache)
        ref_grads = ref_grads if isinstance(ref_grads, tuple) else (ref_grads,)
        subs = grad_subs(case)
        res, err = _outcome(rep, forward, case.args, fwd_name)
        if err is None:
            try:
                out, cache = unpack(res, ("out", "cache"), fwd_name)
            except StudentCodeError as exc:
                err = exc
        if err is not None:
            rep.fail(fwd_sub, f"{where}: {err}")
            for g in grad_names:
                rep.fail(subs[g], f"{where}: not checked because {fwd_name} failed.")
            if isinstance(err, StudentTimeout):
                return _out_of_time(rep, fwd_name)
            continue
        forward_ok = _compare(rep, fwd_sub, where, "out", out, ref_out, lambda: out_mistakes(case))
        if skip_backward:
            continue
        if case.cost:  # count the backward's calls of the student's forward (on the student's side)
            res, err = _outcome(rep, catalogue.item("count_calls", limit=FORWARD_CALLS),
                                (backward, forward, (case.dout, cache)), bwd_name, timeout=BACKSTOP)
            calls = res[1] if err is None and isinstance(res, (list, tuple)) and len(res) == 2 else 0
            if isinstance(err, StudentTimeout) or calls > FORWARD_CALLS:
                why = (f"called your forward more than {FORWARD_CALLS} times" if calls > FORWARD_CALLS else
                       f"did not finish in {BACKSTOP:g} s")
                for sub in cost_subs:
                    rep.fail(sub, _numeric_message(bwd_name, case, why))
                skip_backward = True
                continue
            res = res[0] if err is None else None
        else:
            res, err = _outcome(rep, backward, (case.dout, cache), bwd_name)
        if err is None:
            try:
                grads = unpack(res, grad_names, bwd_name)
            except StudentCodeError as exc:
                err = exc
        if err is not None:
            for g in grad_names:
                rep.fail(subs[g], f"{where}: {err}")
            if isinstance(err, StudentTimeout):
                return _out_of_time(rep, bwd_name)
            continue
        problems = [array_problem(g, r) for g, r in zip(grads, ref_grads)]
        own: dict[int, np.ndarray] = {}
        if (not forward_ok or any(problems)) and case is smallest and not own_done:
            own_done = True
            try:
                own = call_student(lambda c=case: _own_forward_vjps(forward, c.args, c.dout, wrt),
                                   label=f"finite differences of {fwd_name}") or {}
            except StudentCodeError:
                own = {}
        for k, (name, got, want, problem) in enumerate(zip(grad_names, grads, ref_grads, problems)):
            if problem is None:
                continue
            numeric_own = own.get(wrt[k]) if k < len(wrt) else None
            extra = ""
            if numeric_own is not None and close(got, numeric_own, 1e-5) and not forward_ok:
                extra = ("\n      Your backward IS consistent with your own forward (finite differences agree), so "
                         "fix the forward first.")
            elif numeric_own is not None and forward_ok:
                extra = "\n      Your forward is right, so the mistake is in the backward."
            if case.cost and _near_miss(got, want):
                rep.fail(subs[name], _numeric_message(bwd_name, case, f"is right only to a few digits on it ({name})"))
                continue
            _compare(rep, subs[name], where, name, got, want, lambda: grad_mistakes(case, name), extra)


# =============================================================================================== naive convolution


def _conv_grad_mistakes(case: _Case, name: str) -> dict:
    x, w, b, s, p = case.args
    if name == "dx":
        return _dx_mistakes(x, w, s, p, case.dout)
    if name == "dw":
        return _dw_mistakes(x, w, s, p, case.dout)
    return _db_mistakes(case.dout)


def check_conv_forward(forward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``conv2d_forward_naive(x, w, b, stride, pad) -> (out, cache)`` (the cache is not read).

    Sub-checks, one per kind of case (weight 1 each): stride 1 without padding; zero padding (non-square input and
    kernel); stride > 1 with padding (overlapping windows); one image, channel and filter; plus "inputs left
    unchanged". Mistakes named: KERNEL_FLIP, STRIDE_IGNORED, STRIDE_OFF_BY_ONE.
    """
    require_callable(forward, "conv2d_forward_naive", 5)
    rep = Report("convolution forward (naive)", points, seed)
    for k in CONV_KINDS:
        rep.declare(k)
    rep.watch_inputs()
    for case in _conv_cases(np.random.default_rng(seed), thorough):
        if case.cost:
            continue
        res, err = _outcome(rep, forward, case.args, "conv2d_forward_naive")
        if err is None:
            try:
                out, _ = unpack(res, ("out", "cache"), "conv2d_forward_naive")
            except StudentCodeError as exc:
                err = exc
        if err is not None:
            rep.fail(case.kind, f"case {case.label}: {err}")
            if isinstance(err, StudentTimeout):
                _out_of_time(rep, "conv2d_forward_naive")
                break
            continue
        _compare(rep, case.kind, f"case {case.label}", "out", out, _ref.conv2d_forward_naive(*case.args)[0],
                 lambda: _conv_out_mistakes(*case.args))
    return rep.finish()


def _conv_pair_check(forward, backward, *, exercise, fwd_name, bwd_name, seed, points, thorough, large):
    require_callable(forward, fwd_name, 5)
    require_callable(backward, bwd_name, 2)
    rep = Report(exercise, points, seed)
    rep.declare("forward output")
    for g in GRADS:
        rep.declare(f"backward {g}")
    rep.watch_inputs()
    cases = _conv_cases(np.random.default_rng(seed), thorough, large=large)
    ref_pair = ((_ref.conv2d_forward_im2col, _ref.conv2d_backward_im2col) if large else
                (_ref.conv2d_forward_naive, _ref.conv2d_backward_naive))
    if large:
        def out_mistakes(c):
            return dict(_conv_out_mistakes(*c.args), IM2COL_LAYOUT=[_im2col_layout(c.dout, *c.args)["out"]])

        def grad_mistakes(c, name):
            m = _conv_grad_mistakes(c, name)
            layout = _im2col_layout(c.dout, *c.args)[name]
            return dict(m, IM2COL_LAYOUT=layout)
    else:
        def out_mistakes(c):
            return _conv_out_mistakes(*c.args)
        grad_mistakes = _conv_grad_mistakes
    _pair(rep, forward, backward, cases, fwd_name=fwd_name, bwd_name=bwd_name,
          grad_subs=lambda c: {g: f"backward {g}" for g in GRADS}, ref_pair=ref_pair, out_mistakes=out_mistakes,
          grad_mistakes=grad_mistakes, wrt=(0, 1, 2), grad_names=GRADS,
          cost_subs=[f"backward {g}" for g in GRADS])
    return rep.finish()


def check_conv_backward(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``conv2d_forward_naive(x, w, b, stride, pad) -> (out, cache)`` and ``conv2d_backward_naive(dout,
    cache) -> (dx (N, C, H, W), dw (F, C, HH, WW), db (F,))``; the backward gets the student's own cache.

    Sub-checks (weight 1 each): forward output, backward dx, backward dw, backward db, and "inputs left unchanged"
    (x, w, b, dout and the cache). Cases: the kinds of :func:`check_conv_forward` (stride 1, padding, stride 2 with
    overlapping windows, a single image/channel/filter) and a larger cost case (see the module docstring). Mistakes
    named: COL2IM_OVERWRITE, CONV_PAD_NOT_CROPPED, KERNEL_FLIP, STRIDE_IGNORED, CONV_BIAS_AXES,
    OVERWRITE_NOT_ACCUMULATE, NUMERIC_NOT_ANALYTIC, and the forward's.
    """
    return _conv_pair_check(forward, backward, exercise="convolution backward (naive)",
                            fwd_name="conv2d_forward_naive", bwd_name="conv2d_backward_naive", seed=seed,
                            points=points, thorough=thorough, large=False)


def check_conv_im2col(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``conv2d_forward_im2col(x, w, b, stride, pad) -> (out, cache)`` and ``conv2d_backward_im2col(dout,
    cache) -> (dx, dw, db)`` as :func:`check_conv_backward`, on larger inputs (up to 8 images of 3 x 16 x 16 and 8
    filters), naming IM2COL_LAYOUT as well."""
    return _conv_pair_check(forward, backward, exercise="convolution with im2col", fwd_name="conv2d_forward_im2col",
                            bwd_name="conv2d_backward_im2col", seed=seed, points=points, thorough=thorough,
                            large=True)


# =============================================================================================== 2-D primitives


def _primitive_pairs(rng, thorough: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    shapes = [((5, 6), (2, 3)), ((4, 4), (4, 4)), ((3, 5), (1, 1)), ((6, 4), (3, 2))]
    if thorough:
        shapes += [((7, 3), (2, 3)), ((2, 2), (2, 1))]
    return [(rng.standard_normal(a), rng.standard_normal(k)) for a, k in shapes]


def _full_corr(a, k):
    Hk, Wk = k.shape
    return _ref.correlate2d_valid(np.pad(a, ((Hk - 1, Hk - 1), (Wk - 1, Wk - 1))), k)


def check_correlate_convolve(correlate, convolve, *, seed: int = 0, points: float | None = None,
                             thorough: bool = False):
    """Grade ``correlate2d_valid(a, k)`` (valid cross-correlation, no flip) and ``convolve2d_full(a, k)`` (full
    convolution: the kernel flipped, a zero-padded by the kernel size minus one). Sub-checks (weight 1 each):
    correlate2d_valid, convolve2d_full, inputs left unchanged. Cases include a 1 x 1 kernel and a kernel as large
    as the input. Mistake named: KERNEL_FLIP (a flip in the correlation, none in the convolution)."""
    require_callable(correlate, "correlate2d_valid", 2)
    require_callable(convolve, "convolve2d_full", 2)
    rep = Report("2-D correlation and full convolution", points, seed)
    rep.declare("correlate2d_valid")
    rep.declare("convolve2d_full")
    rep.watch_inputs()
    for a, k in _primitive_pairs(np.random.default_rng(seed), thorough):
        where = f"case a {a.shape}, k {k.shape}"
        for name, fn, want, wrong in (
                ("correlate2d_valid", correlate, _ref.correlate2d_valid(a, k),
                 _ref.correlate2d_valid(a, k[::-1, ::-1])),
                ("convolve2d_full", convolve, _ref.convolve2d_full(a, k), _full_corr(a, k))):
            res, err = _outcome(rep, fn, (a, k), name)
            if err is not None:
                rep.fail(name, f"{where}: {err}")
                if isinstance(err, StudentTimeout):
                    _out_of_time(rep, name)
                    return rep.finish()
                continue
            _compare(rep, name, where, "result", res, want, lambda: {"KERNEL_FLIP": [wrong]})
    return rep.finish()


# =============================================================================================== the two identities


def _dilate(a, s):
    return _ref.dilate2d(a, s) if s > 1 else a


def _identity_mistakes(x, w, s, p, dout) -> tuple[dict, dict]:
    """(dw mistakes, dx mistakes) of the correlation / full-convolution forms."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = _pad(x, p)

    def dw_form(dd, src, flip=False):
        out = np.zeros((F, C) + (src.shape[2] - dd.shape[2] + 1, src.shape[3] - dd.shape[3] + 1))
        for f in range(F):
            for c in range(C):
                for n in range(N):
                    out[f, c] += _ref.correlate2d_valid(src[n, c], dd[n, f])
        return out[:, :, ::-1, ::-1] if flip else out

    def dx_form(dd, kern, crop=True):
        full = np.zeros((N, C, dd.shape[2] + HH - 1, dd.shape[3] + WW - 1))
        for n in range(N):
            for c in range(C):
                for f in range(F):
                    full[n, c] += _ref.convolve2d_full(dd[n, f], kern[f, c])
        return full[:, :, p:p + H, p:p + W] if crop else full

    dd = _dilate(dout, s)
    dw_m: dict = {"KERNEL_FLIP": [dw_form(dd, xp, flip=True)]}
    dx_m: dict = {"KERNEL_FLIP": [dx_form(dd, w[:, :, ::-1, ::-1])]}
    if p > 0:
        full = dx_form(dd, w, crop=False)
        dx_m["CONV_PAD_NOT_CROPPED"] = [full, full[:, :, :H, :W], full[:, :, 2 * p:, 2 * p:]]
    if s > 1:
        wide = _ref.dilate2d(dout, s + 1)
        dw_m["STRIDE_OFF_BY_ONE"] = [dw_form(wide, xp)] if wide.shape[2] <= xp.shape[2] and \
            wide.shape[3] <= xp.shape[3] else []
        dx_m["STRIDE_OFF_BY_ONE"] = [dx_form(wide, w)]
        dw_m["STRIDE_IGNORED"] = [dw_form(dout, xp)]
        dx_m["STRIDE_IGNORED"] = [dx_form(dout, w)]
    return {k: v for k, v in dw_m.items() if v}, dx_m


def _identity_cases(rng, thorough: bool) -> list[_Case]:
    specs = [("stride 1", (2, 3, 5, 5), (4, 3, 3, 3), 1, 0), ("stride 1", (1, 2, 4, 5), (3, 2, 3, 2), 1, 1),
             ("stride 2", (2, 2, 7, 7), (2, 2, 3, 3), 2, 1), ("stride 2", (1, 1, 4, 6), (2, 1, 2, 2), 2, 0)]
    if thorough:
        specs += [("stride 2", (1, 2, 7, 7), (2, 2, 3, 3), 3, 1), ("stride 1", (2, 1, 3, 3), (2, 1, 3, 3), 1, 2)]
    cases = [_conv_case(rng, *spec) for spec in specs]
    # the large case: dx has 8 * 64 * 64 = 32768 entries, so finite differences need 65536 forward passes (minutes
    # even with an im2col forward); a correlation and a full convolution take a tenth of a second
    return cases + [_conv_case(rng, "stride 1", (1, 8, 64, 64), (2, 8, 3, 3), 1, 1, cost=True)]


def check_conv_identities(dw_fn, dx_fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``dw_by_correlation(x, dout, HH, WW, stride, pad) -> dw (F, C, HH, WW)`` and
    ``dx_by_full_convolution(dout, w, x_shape, stride, pad) -> dx (N, C, H, W)`` (``x_shape`` a tuple of ints).

    Sub-checks (weight 1 each): "dw, stride 1", "dw, stride > 1", "dx, stride 1", "dx, stride > 1" (every group
    has a padded case), inputs left unchanged. A large case gets BACKSTOP seconds per function. Mistakes
    named: KERNEL_FLIP, CONV_PAD_NOT_CROPPED, STRIDE_OFF_BY_ONE (dilated with stride zeros), STRIDE_IGNORED (not
    dilated), NUMERIC_NOT_ANALYTIC.
    """
    require_callable(dw_fn, "dw_by_correlation", 6)
    require_callable(dx_fn, "dx_by_full_convolution", 5)
    rep = Report("dw as a correlation, dx as a full convolution", points, seed)
    subs = {("dw", "stride 1"): "dw, stride 1", ("dw", "stride 2"): "dw, stride > 1",
            ("dx", "stride 1"): "dx, stride 1", ("dx", "stride 2"): "dx, stride > 1"}
    for s in subs.values():
        rep.declare(s)
    rep.watch_inputs()
    slow: set[str] = set()  # functions that ran out of time on the large case are not called again
    cases = _identity_cases(np.random.default_rng(seed), thorough)
    for case in sorted(cases, key=lambda c: not c.cost):
        x, w, b, s, p = case.args
        where = f"case x {x.shape}, w {w.shape}, stride {s}, pad {p}"
        _, cache = _ref.conv2d_forward_naive(x, w, b, s, p)
        dx_want, dw_want, _ = _ref.conv2d_backward_naive(case.dout, cache)
        for name, fn, args, want in (
                ("dw", dw_fn, (x, case.dout, w.shape[2], w.shape[3], s, p), dw_want),
                ("dx", dx_fn, (case.dout, w, tuple(int(v) for v in x.shape), s, p), dx_want)):
            label = "dw_by_correlation" if name == "dw" else "dx_by_full_convolution"
            if label in slow:
                continue
            targets = [subs[(name, "stride 1")], subs[(name, "stride 2")]] if case.cost else [subs[(name, case.kind)]]
            res, err = _outcome(rep, fn, args, label, timeout=BACKSTOP if case.cost else None)
            if isinstance(err, StudentTimeout) and case.cost:
                for t in targets:
                    rep.fail(t, _numeric_message(label, case, f"did not finish in {BACKSTOP:g} s"))
                slow.add(label)
                continue
            if err is not None:
                for t in targets:
                    rep.fail(t, f"{where}: {err}")
                if isinstance(err, StudentTimeout):
                    _out_of_time(rep, label)
                    return rep.finish()
                continue
            # (the known mistakes are searched on the small cases: on the large one they would cost the budget)
            _compare(rep, targets[0], where, name, res, want,
                     None if case.cost else lambda: _identity_mistakes(x, w, s, p, case.dout)[0 if name == "dw" else 1])
    return rep.finish()


# =============================================================================================== im2col / col2im


def _im2col_layout_mistakes(x, HH, WW, s, p) -> dict:
    cols = _ref.im2col(x, HH, WW, s, p)
    N, C = x.shape[:2]
    Ho, Wo = _sizes(x.shape, HH, WW, s, p)
    c6 = cols.reshape(N, Ho, Wo, C, HH, WW)
    out = {"IM2COL_LAYOUT": [cols.T, c6.transpose(0, 1, 2, 4, 5, 3).reshape(cols.shape),
                             c6.transpose(1, 2, 0, 3, 4, 5).reshape(cols.shape)]}
    if s > 1:
        out["STRIDE_IGNORED"] = [_wins(_pad(x, p), HH, WW, 1, Ho, Wo).transpose(0, 2, 3, 1, 4, 5)
                                 .reshape(cols.shape)]
    return out


def _im2col_cases(rng, thorough: bool) -> list[tuple[str, tuple, tuple]]:
    """(col2im kind, x shape, (HH, WW, stride, pad))."""
    specs = [("separate windows", (2, 3, 4, 6), (2, 2, 2, 0)), ("overlapping windows", (1, 2, 5, 5), (3, 3, 1, 0)),
             ("overlapping windows and padding", (2, 2, 5, 6), (3, 2, 2, 1))]
    if thorough:
        specs += [("overlapping windows", (2, 1, 7, 7), (4, 3, 1, 0)),
                  ("overlapping windows and padding", (1, 3, 4, 4), (3, 3, 1, 2))]
    return specs


def check_im2col_col2im(im2col, col2im, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``im2col(x, HH, WW, stride, pad) -> cols (N*H_out*W_out, C*HH*WW)`` (rows (n, i, j), columns (c, u, v),
    row-major) and its adjoint ``col2im(cols, x_shape, HH, WW, stride, pad) -> (N, C, H, W)``.

    Sub-checks (weight 1 each): im2col (every case), "col2im, separate windows", "col2im, overlapping windows",
    "col2im, overlapping windows and padding", inputs left unchanged. col2im gets random cols. Mistakes named:
    IM2COL_LAYOUT, STRIDE_IGNORED, COL2IM_OVERWRITE, CONV_PAD_NOT_CROPPED.
    """
    require_callable(im2col, "im2col", 5)
    require_callable(col2im, "col2im", 6)
    rep = Report("im2col and col2im", points, seed)
    rep.declare("im2col")
    kinds = ("separate windows", "overlapping windows", "overlapping windows and padding")
    for k in kinds:
        rep.declare(f"col2im, {k}")
    rep.watch_inputs()
    rng = np.random.default_rng(seed)
    for kind, xs, (HH, WW, s, p) in _im2col_cases(rng, thorough):
        x = rng.standard_normal(xs)
        where = f"case x {xs}, kernel {HH}x{WW}, stride {s}, pad {p}"
        want = _ref.im2col(x, HH, WW, s, p)
        res, err = _outcome(rep, im2col, (x, HH, WW, s, p), "im2col")
        if err is not None:
            rep.fail("im2col", f"{where}: {err}")
            if isinstance(err, StudentTimeout):
                _out_of_time(rep, "im2col")
                break
        else:
            _compare(rep, "im2col", where, "cols", res, want, lambda: _im2col_layout_mistakes(x, HH, WW, s, p))
        cols = rng.standard_normal(want.shape)
        Ho, Wo = _sizes(xs, HH, WW, s, p)
        c6 = cols.reshape(xs[0], Ho, Wo, xs[1], HH, WW)
        res, err = _outcome(rep, col2im, (cols, tuple(xs), HH, WW, s, p), "col2im")
        if err is not None:
            rep.fail(f"col2im, {kind}", f"{where}: {err}")
            if isinstance(err, StudentTimeout):
                _out_of_time(rep, "col2im")
                break
            continue
        _compare(rep, f"col2im, {kind}", where, "col2im(cols)", res, _ref.col2im(cols, xs, HH, WW, s, p),
                 lambda: _col2im_mistakes(c6, xs, s, p))
    return rep.finish()
