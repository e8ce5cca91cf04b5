"""Softmax and the losses: check_softmax, check_softmax_cross_entropy, check_mse_loss.

Cases include a batch of one, shapes whose axes differ (a wrong sum axis shows as a wrong shape) and, with
``thorough``, scores around 1e3 (an unstable softmax overflows). A returned gradient is compared with the
reference and with finite differences of the student's own loss.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graders import diagnoses
from graders.core import StudentCodeError, array_problem, describe, diagnose, own_numeric_vjp, require_callable, unpack
from graders.network.grading import (LARGE_LOGIT, _consistency, _finite, _Grader, _name, _number_problem,
                                     _Stop, _unstable_hint)
from reference_impl import losses as _ref_losses


# =============================================================================================== softmax


def _softmax_cases(rng: np.random.Generator, thorough: bool):
    """(label, scores, large?) cases; the large ones mix rows around +-1e3 and a row spanning 2e3. The visible
    test has every kind (ordinary, one row, one column, large); the hidden test adds more."""
    cases = [("scores (4, 5)", 2.0 * rng.standard_normal((4, 5)), False),
             ("scores (3, 7)", 3.0 * rng.standard_normal((3, 7)), False),
             ("scores (1, 4)", rng.standard_normal((1, 4)), False),
             ("scores (3, 1)", rng.standard_normal((3, 1)), False)]
    offsets = np.array([LARGE_LOGIT, -LARGE_LOGIT, 0.75 * LARGE_LOGIT, -0.75 * LARGE_LOGIT])
    big = offsets[:, None] + 3.0 * rng.standard_normal((4, 5))
    spread = rng.permutation(np.array([LARGE_LOGIT, -LARGE_LOGIT, 0.0, 0.4 * LARGE_LOGIT, -0.4 * LARGE_LOGIT]))
    cases.append(("large logits (5, 5), rows around +-1e3", np.vstack([big, spread[None, :]]), True))
    if thorough:
        cases += [("scores (1, 1)", rng.standard_normal((1, 1)), False),
                  ("scores (16, 10)", 4.0 * rng.standard_normal((16, 10)), False),
                  ("large logits (2, 3)", np.array([[3000.0, 2999.0, 2990.0], [-2000.0, -2001.5, -1999.0]])
                   + rng.uniform(-0.5, 0.5, (2, 3)), True)]
    return cases


def _stable_softmax(s: np.ndarray, axis: int | None) -> np.ndarray:
    e = np.exp(s - np.max(s, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def check_softmax(softmax, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``softmax(scores) -> probs``.

    Contract: scores is a float64 array (N, C) of logits, one row per example; the result is a float64 array
    (N, C) whose row i is softmax(scores[i]) (non-negative, each row sums to 1). It must be numerically
    stable: rows of logits around +-1e3 (and a row spanning 2e3) must give the exact probabilities, not
    inf/NaN. The input must not be modified. Sub-checks: "probabilities" (moderate logits; one row, one column
    among them), "large logits (stability)" and the course-wide "inputs left unchanged".
    """
    require_callable(softmax, "softmax", 1)
    label = f"{_name(softmax, 'softmax')}()"
    g = _Grader("softmax", points, seed, ["probabilities", "large logits (stability)"], watch_inputs=True)
    try:
        for where, s, large in _softmax_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            sub = "large logits (stability)" if large else "probabilities"
            ok, probs, _ = g.call(softmax, s, label=label, where=where, fail=[sub], watch=("scores",),
                                  hint=_unstable_hint if large else None)
            if not ok:
                continue
            (probs,) = unpack(probs, ("probs",), label)
            expected = _ref_losses.softmax(s)
            problem = array_problem(probs, expected)
            if problem is None:
                continue
            cands = {"SOFTMAX_AXIS": [_stable_softmax(s, 0), _stable_softmax(s, None)]}
            diag = diagnose(probs, expected, cands, generic=False)
            if diag is None and large and (not _finite(probs) or g.passed("probabilities")):
                diag = diagnoses.get("SOFTMAX_UNSTABLE")
            g.fail(sub, f"{where}: probs {problem}{describe(diag)}")
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== losses


SHIFT = 1e15   # the shifted-logits case: 1e15 + k/8 is exact (the spacing of floats there is 1/8)


def _ce_cases(rng: np.random.Generator, thorough: bool):
    """(label, scores, y, kind); kind "ordinary", "large" (rows around +-1e3 with a moderate spread inside each
    row) or "shift" (every logit 1e15 + a multiple of 1/8: softmax ignores the common shift and a stable formula
    is exact, while a finite difference with a step below 1/16 sees no change at all and one above it misses by
    its curvature). Every kind is in the visible test; the hidden test adds more of each."""
    shapes = [(5, 4), (3, 6), (1, 3)] + ([(8, 2), (12, 10)] if thorough else [])
    cases = []
    for N, C in shapes:
        cases.append((f"scores ({N}, {C})", 2.0 * rng.standard_normal((N, C)), rng.integers(0, C, N), "ordinary"))
    offsets = np.array([LARGE_LOGIT, -LARGE_LOGIT, 0.9 * LARGE_LOGIT, -0.9 * LARGE_LOGIT])
    cases.append(("large logits (4, 5), rows around +-1e3", offsets[:, None] + 2.0 * rng.standard_normal((4, 5)),
                  rng.integers(0, 5, 4), "large"))
    cases.append(("logits 1e15 + a few units (3, 4)", SHIFT + rng.integers(-24, 25, (3, 4)) / 8.0,
                  rng.integers(0, 4, 3), "shift"))
    if thorough:
        cases.append(("large logits (1, 3)", np.array([[3 * LARGE_LOGIT, 3 * LARGE_LOGIT - 2.0,
                                                        3 * LARGE_LOGIT + 1.0]]), np.array([1]), "large"))
        cases.append(("logits -1e15 + a few units (6, 3)", -SHIFT + rng.integers(-16, 17, (6, 3)) / 8.0,
                      rng.integers(0, 3, 6), "shift"))
    return cases


def check_softmax_cross_entropy(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``softmax_cross_entropy(scores, y) -> (loss, dscores)``.

    Contract: scores float64 (N, C), y int (N,) with labels in [0, C). Returns loss = the MEAN over the N
    rows of -log softmax(scores)[i, y[i]] (a Python float, NumPy float64 or 0-d float64 array) and dscores
    float64 (N, C) = (softmax(scores) - onehot(y)) / N. Must be stable for logits around +-1e3 and exact for
    logits shifted by 1e15 (softmax ignores a common shift; dscores by finite differences of the loss fails
    there: NUMERIC_NOT_ANALYTIC). Inputs are not modified. Sub-checks: "loss", "dscores" (ordinary cases, a
    batch of one among them), "large logits (stability)" (around +-1e3 and 1e15) and the course-wide "inputs
    left unchanged".
    """
    require_callable(fn, "softmax_cross_entropy", 2)
    label = f"{_name(fn, 'softmax_cross_entropy')}()"
    g = _Grader("softmax cross-entropy", points, seed, ["loss", "dscores", "large logits (stability)"],
                watch_inputs=True)
    own_done = False
    ordinary_ok = True
    try:
        for where, s, y, kind in _ce_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            large = kind != "ordinary"
            subs = ["large logits (stability)"] if large else ["loss", "dscores"]
            ok, res, _ = g.call(fn, s, y, label=label, where=where, fail=subs, watch=("scores", "y"),
                                hint=_unstable_hint if large else None)
            if not ok:
                ordinary_ok = ordinary_ok and large
                continue
            try:
                loss, ds = unpack(res, ("loss", "dscores"), label)
            except StudentCodeError as exc:
                for n in subs:
                    g.fail(n, f"{where}: {exc}")
                continue
            N, C = s.shape
            e_loss, e_ds = _ref_losses.softmax_cross_entropy(s, y)
            p = _ref_losses.softmax(s)
            loss_problem = _number_problem(loss, e_loss)
            ds_problem = array_problem(ds, e_ds)
            unstable = large and (not _finite(loss, ds) or (g.passed("loss") and g.passed("dscores")))
            ordinary_ok = ordinary_ok and (large or not (loss_problem or ds_problem))
            msgs = []
            if loss_problem:
                diag = diagnose(loss, e_loss, {"MISSING_1_OVER_N": e_loss * N, "SIGN_FLIP": -e_loss,
                                               "EXTRA_1_OVER_N": e_loss / N}, generic=False)
                if diag is None and unstable:
                    diag = diagnoses.get("SOFTMAX_UNSTABLE")
                msgs.append(("loss", f"{where}: loss {loss_problem}{describe(diag)}"))
            if ds_problem:
                diag = diagnose(ds, e_ds, {"SOFTMAX_GRAD_NO_ONEHOT": p / N}, batch_size=N, generic=False)
                if diag is None and kind == "shift" and ordinary_ok and loss_problem is None and _finite(ds):
                    diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")  # all zeros here is what a step below 1/16 gives
                diag = diag or diagnose(ds, e_ds, batch_size=N)
                if diag is None and unstable:
                    diag = diagnoses.get("SOFTMAX_UNSTABLE")
                text = f"{where}: dscores {ds_problem}{describe(diag)}"
                if not large and not own_done:
                    own_done = True
                    numeric = own_numeric_vjp(fn, (s, y), (0,), np.float64(1.0), label=label)
                    text += _consistency(ds, numeric, loss_problem is None, "dscores")
                msgs.append(("dscores", text))
            for sub, text in msgs:
                g.fail(subs[0] if large else sub, text)
    except _Stop:
        pass
    return g.finish()


def _mse_cases(rng: np.random.Generator, thorough: bool):
    shapes = [(5, 3), (6, 4)] + ([(1, 1), (1, 3), (7, 1), (10, 5)] if thorough else [])
    return [(f"pred ({N}, {K})", rng.standard_normal((N, K)), rng.standard_normal((N, K))) for N, K in shapes]


def check_mse_loss(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``mse_loss(pred, target) -> (loss, dpred)``.

    Contract: pred and target float64 (N, K). loss = sum((pred - target)**2) / (2N) (a Python float,
    NumPy float64 or 0-d float64 array); dpred float64 (N, K) = (pred - target) / N. Inputs are not
    modified. Sub-checks: "loss", "dpred".
    """
    require_callable(fn, "mse_loss", 2)
    label = f"{_name(fn, 'mse_loss')}()"
    g = _Grader("MSE loss", points, seed, ["loss", "dpred"], watch_inputs=True)
    own_done = False
    try:
        for where, pred, target in _mse_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            ok, res, _ = g.call(fn, pred, target, label=label, where=where, fail=["loss", "dpred"],
                                watch=("pred", "target"))
            if not ok:
                continue
            try:
                loss, dpred = unpack(res, ("loss", "dpred"), label)
            except StudentCodeError as exc:
                for n in ("loss", "dpred"):
                    g.fail(n, f"{where}: {exc}")
                continue
            N, K = pred.shape
            e_loss, e_d = _ref_losses.mse_loss(pred, target)
            loss_problem = _number_problem(loss, e_loss)
            if loss_problem:
                diag = diagnose(loss, e_loss, {"MISSING_1_OVER_N": e_loss * N, "MSE_FACTOR_TWO": 2 * e_loss,
                                               "MSE_MEAN_ALL": [e_loss / K, 2 * e_loss / K],
                                               "EXTRA_1_OVER_N": e_loss / N, "SIGN_FLIP": -e_loss}, generic=False)
                g.fail("loss", f"{where}: loss {loss_problem}{describe(diag)}")
            problem = array_problem(dpred, e_d)
            if problem:
                diag = diagnose(dpred, e_d, {"MSE_FACTOR_TWO": 2 * e_d, "MSE_MEAN_ALL": [e_d / K, 2 * e_d / K]},
                                batch_size=N)
                text = f"{where}: dpred {problem}{describe(diag)}"
                if not own_done:
                    own_done = True
                    numeric = own_numeric_vjp(fn, (pred, target), (0,), np.float64(1.0), label=label)
                    text += _consistency(dpred, numeric, loss_problem is None, "dpred")
                g.fail("dpred", text)
    except _Stop:
        pass
    return g.finish()
