"""Checks for the pooling exercises of notebook 11: max-pool and average-pool forward/backward.

Student contracts (NCHW, float64, no padding, the same as reference_impl.conv)::

    out, cache = maxpool2d_forward(x, pool_h, pool_w, stride); dx = maxpool2d_backward(dout, cache)
    out, cache = avgpool2d_forward(x, pool_h, pool_w, stride); dx = avgpool2d_backward(dout, cache)

Max-pool routes each window's gradient, whole, to its FIRST maximum in row-major order (np.argmax of the flattened
window, ties included); average-pool gives every entry dout / (pool_h * pool_w); overlapping windows add. The
checks run like graders/conv.py's (same runner: the student's own cache, a random dout, inputs watched, mistakes
named, a larger case with a time budget that finite differences cannot meet, named NUMERIC_NOT_ANALYTIC). Cases
are grouped by kind (distinct values, exact ties, overlapping windows; separate and overlapping windows for
average-pool), and the visible test has every kind the hidden test tries, non-square pools included.
"""

from __future__ import annotations

import numpy as np

from graders.conv import _Case, _pair, _wins
from graders.core import Report, require_callable
from reference_impl import conv as _ref

__all__ = ["check_maxpool", "check_avgpool"]


def _pool_win(x, ph, pw, s):
    Ho, Wo = (x.shape[2] - ph) // s + 1, (x.shape[3] - pw) // s + 1
    return _wins(x, ph, pw, s, Ho, Wo).reshape(x.shape[:2] + (Ho, Wo, ph * pw))


def _pool_scatter(weights, dout, x_shape, ph, pw, s, assign: str | None = None) -> np.ndarray:
    """dx from per-window weights (N, C, Ho, Wo, ph*pw) times dout; ``assign`` "window": dx[window] = ... (the whole
    window overwritten, last window wins), "entry": only the weighted entries overwritten."""
    N, C, Ho, Wo, _ = weights.shape
    contrib = (weights * dout[..., None]).reshape(N, C, Ho, Wo, ph, pw)
    dx = np.zeros(x_shape)
    for i in range(Ho):
        for j in range(Wo):
            view = dx[:, :, i * s:i * s + ph, j * s:j * s + pw]
            if assign == "window":
                view[...] = contrib[:, :, i, j]
            elif assign == "entry":
                mask = weights[:, :, i, j].reshape(N, C, ph, pw) != 0
                view[mask] = contrib[:, :, i, j][mask]
            else:
                view += contrib[:, :, i, j]
    return dx


def _onehot(idx, k):
    return (np.arange(k) == idx[..., None]).astype(np.float64)


def _maxpool_mistakes(case: _Case, name: str) -> dict:
    x, ph, pw, s = case.args
    win = _pool_win(x, ph, pw, s)
    k = ph * pw
    top = win.max(axis=-1, keepdims=True)
    ties = (win == top).astype(np.float64)
    first = _onehot(win.argmax(axis=-1), k)
    last = _onehot(k - 1 - win[..., ::-1].argmax(axis=-1), k)

    def sc(wts, assign=None):
        return _pool_scatter(wts, case.dout, x.shape, ph, pw, s, assign)
    return {"MAXPOOL_TIES_ALL": [sc(ties)],
            "MAXPOOL_TIE_ORDER": [sc(last), sc(ties / ties.sum(axis=-1, keepdims=True))],
            "COL2IM_OVERWRITE": [sc(first, "window"), sc(first, "entry")],
            "MAXPOOL_ROUTING": [sc(np.full(win.shape, 1.0 / k)), sc(np.ones(win.shape)), sc(_onehot(np.zeros(
                win.shape[:-1], int), k)), sc(_onehot(win.argmin(axis=-1), k))]}


def _avgpool_mistakes(case: _Case, name: str) -> dict:
    x, ph, pw, s = case.args
    win = _pool_win(x, ph, pw, s)
    k = ph * pw

    def sc(wts, assign=None):
        return _pool_scatter(wts, case.dout, x.shape, ph, pw, s, assign)
    return {"AVGPOOL_SHARE": [sc(np.ones(win.shape)), sc(np.full(win.shape, 1.0 / ph)), sc(np.full(win.shape, 1 / pw))],
            "COL2IM_OVERWRITE": [sc(np.full(win.shape, 1.0 / k), "window")]}


def _distinct(rng, shape) -> np.ndarray:
    """Entries pairwise at least 0.05 apart (no ties, smooth finite differences)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.05 + rng.uniform(-0.01, 0.01)).reshape(shape)


def _tied(rng, shape) -> np.ndarray:
    """Small integers (many exact ties); the first window of the first image holds a tie of two maxima."""
    x = rng.integers(0, 3, shape).astype(np.float64)
    x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1] = 1.0, 5.0, 5.0, 0.0
    return x


def _pool_case(rng, kind, xs, ph, pw, s, gen, cost=False) -> _Case:
    x = gen(rng, xs)
    if cost:  # pooling commutes with a constant shift; finite differences at 1e8 lose their digits
        x = x + 1e8
    Ho, Wo = (xs[2] - ph) // s + 1, (xs[3] - pw) // s + 1
    return _Case(kind, (x, ph, pw, s), rng.standard_normal(xs[:2] + (Ho, Wo)), cost,
                 f"x {xs}, pool {ph}x{pw}, stride {s}")


def _pool_check(forward, backward, *, exercise, names, cases, ref_pair, mistakes, seed, points):
    require_callable(forward, names[0], 4)
    require_callable(backward, names[1], 2)
    rep = Report(exercise, points, seed)
    rep.declare("forward output")
    kinds = list(dict.fromkeys(c.kind for c in cases))
    for k in kinds:
        rep.declare(f"dx, {k}")
    rep.watch_inputs()

    def out_mistakes(c):
        return {}
    _pair(rep, forward, backward, cases, fwd_name=names[0], bwd_name=names[1],
          grad_subs=lambda c: {"dx": f"dx, {c.kind}"}, ref_pair=ref_pair, out_mistakes=out_mistakes,
          grad_mistakes=mistakes, wrt=(0,), grad_names=("dx",), cost_subs=[f"dx, {k}" for k in kinds])
    return rep.finish()


def check_maxpool(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``maxpool2d_forward(x, pool_h, pool_w, stride) -> (out, cache)`` and ``maxpool2d_backward(dout, cache)
    -> dx (N, C, H, W)``: each window's gradient goes to its FIRST maximum in row-major order, overlapping windows add.

    Sub-checks (weight 1 each): forward output, "dx, distinct values" (square and non-square pools), "dx, exact
    ties" (small integers; one window with two tied maxima), "dx, overlapping windows" (stride < pool size), inputs
    left unchanged. The cost case
    belongs to "distinct values"; running out of time there fails every dx sub-check. Mistakes named:
    MAXPOOL_TIES_ALL, MAXPOOL_TIE_ORDER, COL2IM_OVERWRITE, MAXPOOL_ROUTING, NUMERIC_NOT_ANALYTIC.
    """
    rng = np.random.default_rng(seed)
    specs = [("distinct values", (2, 3, 4, 4), 2, 2, 2, _distinct), ("distinct values", (1, 2, 5, 8), 3, 2, 2, _distinct),
             ("exact ties", (2, 2, 4, 6), 2, 2, 2, _tied),
             ("exact ties", (1, 2, 4, 4), 2, 2, 1, _tied), ("overlapping windows", (1, 2, 5, 5), 3, 3, 1, _distinct),
             ("overlapping windows", (2, 1, 5, 7), 3, 3, 2, _distinct)]
    if thorough:
        specs += [("distinct values", (1, 1, 6, 8), 3, 2, 3, _distinct), ("exact ties", (2, 3, 6, 6), 3, 3, 3, _tied),
                  ("overlapping windows", (2, 2, 6, 6), 2, 3, 1, _distinct)]
    cases = [_pool_case(rng, *spec) for spec in specs]
    cases.append(_pool_case(rng, "distinct values", (2, 4, 16, 16), 2, 2, 2, _distinct, cost=True))
    return _pool_check(forward, backward, exercise="max-pool forward/backward",
                       names=("maxpool2d_forward", "maxpool2d_backward"), cases=cases,
                       ref_pair=(_ref.maxpool2d_forward, _ref.maxpool2d_backward), mistakes=_maxpool_mistakes,
                       seed=seed, points=points)


def check_avgpool(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``avgpool2d_forward(x, pool_h, pool_w, stride) -> (out, cache)`` and ``avgpool2d_backward(dout, cache)
    -> dx``: each entry of a window receives dout / (pool_h * pool_w), overlapping windows add.

    Sub-checks (weight 1 each): forward output, "dx, separate windows", "dx, overlapping windows", inputs left
    unchanged; a cost case as in :func:`check_maxpool`. Mistakes named: AVGPOOL_SHARE, COL2IM_OVERWRITE,
    NUMERIC_NOT_ANALYTIC.
    """
    rng = np.random.default_rng(seed)

    def normal(r, shape):
        return r.standard_normal(shape)
    specs = [("separate windows", (2, 3, 4, 6), 2, 2, 2, normal), ("separate windows", (1, 2, 6, 8), 3, 2, 3, normal),
             ("overlapping windows", (1, 2, 5, 5), 3, 3, 1, normal),
             ("overlapping windows", (2, 1, 5, 7), 3, 3, 2, normal)]
    if thorough:
        specs += [("separate windows", (3, 1, 2, 2), 2, 2, 2, normal),
                  ("overlapping windows", (2, 2, 6, 6), 2, 3, 1, normal)]
    cases = [_pool_case(rng, *spec) for spec in specs]
    cases.append(_pool_case(rng, "separate windows", (2, 4, 16, 16), 2, 2, 2, normal, cost=True))
    return _pool_check(forward, backward, exercise="average-pool forward/backward",
                       names=("avgpool2d_forward", "avgpool2d_backward"), cases=cases,
                       ref_pair=(_ref.avgpool2d_forward, _ref.avgpool2d_backward), mistakes=_avgpool_mistakes,
                       seed=seed, points=points)
