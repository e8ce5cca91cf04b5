"""Checks for the "two-layer network" and "initialization" notebooks.

Losses
    check_softmax, check_softmax_cross_entropy, check_mse_loss
Two-layer network (affine - ReLU - affine)
    check_two_layer_loss_and_grads, check_two_layer_single_example, check_two_layer_mse_loss_and_grads,
    check_train_two_layer
Gradient checking
    check_numeric_gradient, check_rel_error
Initialization
    check_init

Every check follows graders/layers.py: callable and signature, then structure (tuple length, dict keys),
exact shape and float64, finite values, values against reference_impl with the likely mistake named, and
where the student's function returns both a loss and its gradient, the gradient is compared with finite
differences of the student's OWN loss ("fix the loss first" / "the mistake is in the gradient").

Network parameters are a dict {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}; hidden pre-activations
are kept at least 0.02 away from the ReLU kink, and N, D, H, C differ from each other so that a transpose or
a sum over the wrong axis shows as a wrong shape. ``thorough=True`` (hidden tests) adds a batch of one,
larger shapes and, for the softmax losses, output scores around 1e3 (the stability test).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (brief, VALUE_TOL, Report, StudentCodeError, StudentTimeout, array_problem, call_student, close,
                          describe, diagnose, numeric_vjp_safe, require_callable, unpack)
from reference_impl import gradcheck as ref_gc
from reference_impl import losses as ref_losses
from reference_impl import network as ref_net

__all__ = [
    "check_softmax", "check_softmax_cross_entropy", "check_mse_loss", "check_two_layer_loss_and_grads",
    "check_two_layer_single_example", "check_two_layer_mse_loss_and_grads", "check_train_two_layer",
    "check_numeric_gradient", "check_rel_error", "check_init",
]

PARAM_KEYS = ("W1", "b1", "W2", "b2")
KINK_MARGIN = 0.02          # |hidden pre-activation| is at least this far from 0 in every case
LARGE_LOGIT = 1000.0        # offset of the "large logits" cases (exp overflows above ~709)
INIT_Z = 6.0                # init variance tolerance in standard deviations of the sample variance
INIT_MIN_DRAWS = 1000       # layers with fewer weights are not tested for their variance
_MUTATION_NOTE = "modified its input arrays in place"


# =============================================================================================== machinery


class _Stop(Exception):
    """The student's code timed out: the remaining cases are skipped."""


def _name(fn: Any, default: str) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name.isidentifier() else default


def _same_array(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                    and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
        return bool(a == b)
    except Exception:
        return a is b


def _changes(before: Sequence, after: Sequence, names: Sequence[str]) -> list[tuple[str, Any, Any]]:
    """(description, old, new) for every argument (or dict entry) the student's call changed in place."""
    out = []
    for name, b, a in zip(names, before, after):
        if isinstance(b, dict):
            if not isinstance(a, dict):
                out.append((f"{name} (replaced by a {type(a).__name__})", b, a))
                continue
            for k in b:
                if k not in a:
                    out.append((f"{name} (key {k!r} deleted)", b[k], None))
                elif not _same_array(b[k], a[k]):
                    out.append((f"{name}[{k!r}]", b[k], a[k]))
            for k in a:
                if k not in b:
                    out.append((f"{name} (key {k!r} added)", None, a[k]))
        elif isinstance(b, np.ndarray) and not _same_array(b, a):
            out.append((name, b, a))
    return out


class _Grader:
    """A Report, the sub-check names, and student calls that fail named sub-checks instead of raising."""

    def __init__(self, exercise: str, points, seed: int, names: Sequence[str]):
        self.report = Report(exercise, points, seed)
        self.names = list(names)
        for n in self.names:
            self.report.declare(n)
        self.usable = False

    def note_usable(self, *problems: str | None) -> None:
        """Record a usable result: some output is right, or every output has the right structure (its problem,
        if any, is only a difference in values)."""
        if any(p is None for p in problems) or all(p is None or p.startswith("values differ") for p in problems):
            self.usable = True

    def fail(self, name: str, message: str) -> None:
        self.report.fail(name, message)

    def passed(self, name: str) -> bool:
        return self.report.passed(name)

    def call(self, fn: Callable, *args, label: str, where: str, fail: Sequence[str],
             watch: Sequence[str] | None = None, hint: Callable[[str], str] | None = None):
        """(ok, result, changed). A StudentCodeError fails every sub-check in ``fail`` (ok False); a timeout
        also raises _Stop. With ``watch`` (argument names), ``changed`` lists in-place modifications."""
        try:
            if watch is None:
                return True, call_student(fn, *args, label=label, notes=self.report.notes), []
            result, changed = _call_watching(fn, args, watch, label, self.report.notes)
            return True, result, changed
        except StudentCodeError as exc:
            text = f"{where}: {exc}" + (hint(str(exc)) if hint else "")
            for n in fail:
                self.fail(n, text)
            if isinstance(exc, StudentTimeout):
                raise _Stop from None
            return False, None, []

    def finish(self, gated: str | None = None):
        """``gated``: a side-condition sub-check (such as "inputs not modified") that is credited only when some
        call returned a usable result (one output right, or all outputs of the right structure, shapes and
        dtype with wrong values), so that a function that raises or returns garbage earns nothing."""
        if gated and self.report.passed(gated) and not self.usable:
            self.fail(gated, "not credited: your function never returned a usable result (see above).")
        return self.report.finish()


def _call_watching(fn: Callable, args: tuple, names: Sequence[str], label: str, notes: list[str]):
    """call_student, also returning what the student's function changed in its (copied) arguments."""
    after: dict[str, Any] = {}
    own: list[str] = []
    result = call_student(fn, *args, label=label, notes=own, after=after)
    notes.extend(n for n in own if _MUTATION_NOTE not in n)  # the caller grades modification itself
    changed = _changes(args, after["args"], names) if "args" in after else []
    return result, changed


def _number_problem(got: Any, expected: float, tol: float = VALUE_TOL, what: str = "the loss") -> str | None:
    """array_problem for a scalar result: a Python float, a NumPy float64 or a 0-d float64 array."""
    if isinstance(got, bool) or (got is not None and not isinstance(got, (int, float, np.number, np.ndarray))):
        return f"expected a number (a Python float or NumPy float64), got {type(got).__name__} ({brief(got)})."
    problem = array_problem(got, np.float64(expected), tol=tol, scalar_ok=True)
    if problem and isinstance(got, np.ndarray) and got.shape != ():
        problem += f" {what[0].upper() + what[1:]} must be one number (e.g. a .mean() or float(...)), not an array."
    return problem


def _unstable_hint(text: str) -> str:
    return describe(diagnoses.get("SOFTMAX_UNSTABLE")) if "Overflow" in text else ""


def _finite(*arrays: Any) -> bool:
    try:
        return all(bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64)))) for a in arrays)
    except (TypeError, ValueError):
        return False


def _safe_numeric(f: Callable[[np.ndarray], Any], x: np.ndarray, label: str) -> np.ndarray | None:
    """Finite-difference gradient of the student's scalar function f at x, or None (error, timeout, NaN)."""
    try:
        return call_student(lambda: numeric_vjp_safe(f, x, np.float64(1.0)), label=label)
    except StudentCodeError:
        return None


def _consistency(got: Any, numeric: np.ndarray | None, loss_ok: bool, what: str) -> str:
    """The layers.py sentence telling a wrong loss from a wrong gradient."""
    if numeric is None:
        return ""
    try:
        agrees = close(got, numeric, 1e-5)
    except Exception:
        agrees = False
    if agrees and not loss_ok:
        return (f"\n      Your {what} IS consistent with your own loss (finite differences agree), so fix the loss "
                f"first.")
    if not agrees and loss_ok:
        return f"\n      Your loss is right, so the mistake is in {what}."
    return ""


def _away(rng: np.random.Generator, shape: Sequence[int], low: float = 0.3, high: float = 1.5) -> np.ndarray:
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


# =============================================================================================== softmax


def _softmax_cases(rng: np.random.Generator, thorough: bool):
    """(label, scores, large?) cases; the large ones mix rows around +-1e3 and a row spanning 2e3."""
    cases = [("scores (4, 5)", 2.0 * rng.standard_normal((4, 5)), False),
             ("scores (3, 7)", 3.0 * rng.standard_normal((3, 7)), False)]
    offsets = np.array([LARGE_LOGIT, -LARGE_LOGIT, 0.75 * LARGE_LOGIT, -0.75 * LARGE_LOGIT])
    big = offsets[:, None] + 3.0 * rng.standard_normal((4, 5))
    spread = rng.permutation(np.array([LARGE_LOGIT, -LARGE_LOGIT, 0.0, 0.4 * LARGE_LOGIT, -0.4 * LARGE_LOGIT]))
    cases.append(("large logits (5, 5), rows around +-1e3", np.vstack([big, spread[None, :]]), True))
    if thorough:
        cases += [("scores (1, 4)", rng.standard_normal((1, 4)), False),
                  ("scores (3, 1)", rng.standard_normal((3, 1)), False),
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
    inf/NaN. The input must not be modified. Sub-checks: "probabilities" (moderate logits) and
    "large logits (stability)".
    """
    require_callable(softmax, "softmax", 1)
    label = f"{_name(softmax, 'softmax')}()"
    g = _Grader("softmax", points, seed, ["probabilities", "large logits (stability)"])
    try:
        for where, s, large in _softmax_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            sub = "large logits (stability)" if large else "probabilities"
            ok, probs, _ = g.call(softmax, s, label=label, where=where, fail=[sub],
                                  hint=_unstable_hint if large else None)
            if not ok:
                continue
            (probs,) = unpack(probs, ("probs",), label)
            expected = ref_losses.softmax(s)
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


def _ce_cases(rng: np.random.Generator, thorough: bool):
    """(label, scores, y, large?); large rows sit around +-1e3 with a moderate spread inside each row."""
    shapes = [(5, 4), (3, 6)] + ([(1, 3), (8, 2), (12, 10)] if thorough else [])
    cases = []
    for N, C in shapes:
        cases.append((f"scores ({N}, {C})", 2.0 * rng.standard_normal((N, C)), rng.integers(0, C, N), False))
    offsets = np.array([LARGE_LOGIT, -LARGE_LOGIT, 0.9 * LARGE_LOGIT, -0.9 * LARGE_LOGIT])
    cases.append(("large logits (4, 5), rows around +-1e3", offsets[:, None] + 2.0 * rng.standard_normal((4, 5)),
                  rng.integers(0, 5, 4), True))
    if thorough:
        cases.append(("large logits (1, 3)", np.array([[3 * LARGE_LOGIT, 3 * LARGE_LOGIT - 2.0,
                                                        3 * LARGE_LOGIT + 1.0]]), np.array([1]), True))
    return cases


def check_softmax_cross_entropy(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``softmax_cross_entropy(scores, y) -> (loss, dscores)``.

    Contract: scores float64 (N, C), y int (N,) with labels in [0, C). Returns loss = the MEAN over the N
    rows of -log softmax(scores)[i, y[i]] (a Python float, NumPy float64 or 0-d float64 array) and dscores
    float64 (N, C) = (softmax(scores) - onehot(y)) / N. Must be stable for logits around +-1e3. Inputs are
    not modified. Sub-checks: "loss", "dscores", "large logits (stability)".
    """
    require_callable(fn, "softmax_cross_entropy", 2)
    label = f"{_name(fn, 'softmax_cross_entropy')}()"
    g = _Grader("softmax cross-entropy", points, seed, ["loss", "dscores", "large logits (stability)"])
    own_done = False
    try:
        for where, s, y, large in _ce_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            subs = ["large logits (stability)"] if large else ["loss", "dscores"]
            ok, res, _ = g.call(fn, s, y, label=label, where=where, fail=subs,
                                hint=_unstable_hint if large else None)
            if not ok:
                continue
            try:
                loss, ds = unpack(res, ("loss", "dscores"), label)
            except StudentCodeError as exc:
                for n in subs:
                    g.fail(n, f"{where}: {exc}")
                continue
            N, C = s.shape
            e_loss, e_ds = ref_losses.softmax_cross_entropy(s, y)
            p = ref_losses.softmax(s)
            loss_problem = _number_problem(loss, e_loss)
            ds_problem = array_problem(ds, e_ds)
            unstable = large and (not _finite(loss, ds) or (g.passed("loss") and g.passed("dscores")))
            msgs = []
            if loss_problem:
                diag = diagnose(loss, e_loss, {"MISSING_1_OVER_N": e_loss * N, "SIGN_FLIP": -e_loss,
                                               "EXTRA_1_OVER_N": e_loss / N}, generic=False)
                if diag is None and unstable:
                    diag = diagnoses.get("SOFTMAX_UNSTABLE")
                msgs.append(("loss", f"{where}: loss {loss_problem}{describe(diag)}"))
            if ds_problem:
                diag = diagnose(ds, e_ds, {"SOFTMAX_GRAD_NO_ONEHOT": p / N}, batch_size=N)
                if diag is None and unstable:
                    diag = diagnoses.get("SOFTMAX_UNSTABLE")
                text = f"{where}: dscores {ds_problem}{describe(diag)}"
                if not large and not own_done:
                    own_done = True
                    numeric = _own_loss_grad(lambda v: fn(v, y.copy())[0], s, label)
                    text += _consistency(ds, numeric, loss_problem is None, "dscores")
                msgs.append(("dscores", text))
            for sub, text in msgs:
                g.fail(subs[0] if large else sub, text)
    except _Stop:
        pass
    return g.finish()


def _own_loss_grad(loss_of: Callable[[np.ndarray], Any], x: np.ndarray, label: str) -> np.ndarray | None:
    """Finite differences of the student's own loss, if it gives a finite number at x."""
    def f(v):
        value = loss_of(v)
        return np.float64(value) if np.ndim(value) == 0 else np.asarray(value)

    return _safe_numeric(f, x, label)


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
    g = _Grader("MSE loss", points, seed, ["loss", "dpred"])
    own_done = False
    try:
        for where, pred, target in _mse_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            ok, res, _ = g.call(fn, pred, target, label=label, where=where, fail=["loss", "dpred"])
            if not ok:
                continue
            try:
                loss, dpred = unpack(res, ("loss", "dpred"), label)
            except StudentCodeError as exc:
                for n in ("loss", "dpred"):
                    g.fail(n, f"{where}: {exc}")
                continue
            N, K = pred.shape
            e_loss, e_d = ref_losses.mse_loss(pred, target)
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
                    numeric = _own_loss_grad(lambda v: fn(v, target.copy())[0], pred, label)
                    text += _consistency(dpred, numeric, loss_problem is None, "dpred")
                g.fail("dpred", text)
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== two-layer network


@dataclass
class _NetCase:
    label: str
    params: dict
    X: np.ndarray               # (N, D); (D,) for the single-example check
    target: Any                 # y (N,) int, Y (N, K) float, or one int label
    large: bool = False
    info: dict = field(default_factory=dict)


def _inputs_away(rng: np.random.Generator, N: int, W1: np.ndarray, b1: np.ndarray) -> np.ndarray | None:
    """Inputs (N, D) whose hidden pre-activations all sit at least KINK_MARGIN away from 0, with both signs
    present (so that the ReLU mask matters); None when these weights make that hard (draw new ones)."""
    X = rng.standard_normal((N, W1.shape[0]))
    for _ in range(200):
        z = X @ W1 + b1
        bad = np.any(np.abs(z) < KINK_MARGIN, axis=1)
        if not bad.any():
            if (z > 0).any() and (z < 0).any():
                return X
            bad[:] = True
        X[bad] = rng.standard_normal((int(bad.sum()), W1.shape[0]))
    return None


def _net_draw(rng: np.random.Generator, N: int, D: int, H: int, C: int) -> tuple[dict, np.ndarray]:
    """Parameters and inputs (N, D) with every hidden pre-activation away from the kink and both signs present."""
    for _ in range(1000):
        params = _net_params(rng, D, H, C)
        X = _inputs_away(rng, N, params["W1"], params["b1"])
        if X is not None:
            return params, X
    raise RuntimeError("could not draw inputs away from the ReLU kink (grader bug)")


def _net_params(rng: np.random.Generator, D: int, H: int, C: int) -> dict:
    return {"W1": rng.standard_normal((D, H)) / math.sqrt(D), "b1": 0.5 * rng.standard_normal(H),
            "W2": 1.5 * rng.standard_normal((H, C)) / math.sqrt(H), "b2": 0.5 * rng.standard_normal(C)}


def _net_cases(rng: np.random.Generator, thorough: bool, kind: str) -> list[_NetCase]:
    """kind: "softmax" (y ints), "mse" (Y floats) or "single" (one example, int label)."""
    if kind == "single":
        shapes = [(1, 4, 6, 3), (1, 4, 6, 3), (1, 5, 3, 4)] + ([(1, 1, 2, 3), (1, 7, 9, 5)] if thorough else [])
    else:
        shapes = [(5, 4, 6, 3), (7, 5, 3, 4)] + ([(1, 3, 4, 2), (12, 6, 10, 5)] if thorough else [])
    cases = []
    for N, D, H, C in shapes:
        params, X = _net_draw(rng, N, D, H, C)
        if kind == "mse":
            cases.append(_NetCase(f"N={N}, D={D}, H={H}, K={C}", params, X, rng.standard_normal((N, C))))
        elif kind == "softmax":
            cases.append(_NetCase(f"N={N}, D={D}, H={H}, C={C}", params, X, rng.integers(0, C, N)))
        else:
            cases.append(_NetCase(f"example {len(cases) + 1}, D={D}, H={H}, C={C}", params, X[0],
                                  int(rng.integers(0, C))))
    if thorough and kind != "mse":
        N, D, H, C = (6, 4, 5, 3) if kind == "softmax" else (1, 4, 5, 3)
        params, X = _net_draw(rng, N, D, H, C)
        params["b2"] = params["b2"] + LARGE_LOGIT  # every score near 1e3: exp overflows unless stabilized
        if kind == "softmax":
            cases.append(_NetCase(f"N={N}, D={D}, H={H}, C={C}, scores around 1e3", params, X,
                                  rng.integers(0, C, N), large=True))
        else:
            cases.append(_NetCase(f"D={D}, H={H}, C={C}, scores around 1e3", params, X[0], int(rng.integers(0, C)),
                                  large=True))
    return cases


def _net_variant(params: dict, X: np.ndarray, t: Any, loss_kind: str, *, dscale: str = "ok", mask: str = "ok",
                 out_relu: bool = False) -> tuple[float, dict]:
    """The two-layer network's loss and gradients, optionally with one planted mistake (for diagnoses)."""
    W1, b1, W2, b2 = (params[k] for k in PARAM_KEYS)
    z1 = X @ W1 + b1
    h = np.maximum(z1, 0.0)
    s = h @ W2 + b2
    so = np.maximum(s, 0.0) if out_relu else s
    N = X.shape[0]
    if loss_kind == "softmax":
        loss, ds = ref_losses.softmax_cross_entropy(so, t)
        if dscale == "no_onehot":
            ds = ref_losses.softmax(so) / N
    else:
        loss, ds = ref_losses.mse_loss(so, t)
    if out_relu:
        ds = ds * (s > 0)
    dh = ds @ W2.T
    dz1 = {"ok": dh * (z1 > 0), "none": dh, "dout": dh * (dh > 0), "inverted": dh * (z1 < 0), "times_h": dh * h,
           "no_bias": dh * (X @ W1 > 0), "mask_only": (z1 > 0).astype(float)}[mask]
    grads = {"W1": X.T @ dz1, "b1": dz1.sum(axis=0), "W2": h.T @ ds, "b2": ds.sum(axis=0)}
    return loss, {"grads": grads, "ds": ds, "dz1": dz1}


_MASKS = ("none", "dout", "inverted", "times_h", "no_bias", "mask_only")


def _net_candidates(case: _NetCase, X2: np.ndarray, t2: Any, loss_kind: str, e_loss: float, e_grads: dict):
    """Planted-mistake candidates: ({"loss": {...}}, {key: {code: arrays}})."""
    p = case.params
    N = X2.shape[0]
    _, ok = _net_variant(p, X2, t2, loss_kind)
    r_loss, relu_out = _net_variant(p, X2, t2, loss_kind, out_relu=True)
    loss_c: dict[str, Any] = {"SIGN_FLIP": -e_loss, "RELU_ON_OUTPUT": r_loss}
    if N > 1:
        loss_c.update({"MISSING_1_OVER_N": e_loss * N, "EXTRA_1_OVER_N": e_loss / N})
    grad_c: dict[str, dict[str, Any]] = {k: {} for k in PARAM_KEYS}
    variants = {"RELU_ON_OUTPUT": [relu_out]}
    if loss_kind == "softmax":
        variants["SOFTMAX_GRAD_NO_ONEHOT"] = [_net_variant(p, X2, t2, loss_kind, dscale="no_onehot")[1]]
    else:
        K = t2.shape[1]
        loss_c.update({"MSE_FACTOR_TWO": 2 * e_loss, "MSE_MEAN_ALL": [e_loss / K, 2 * e_loss / K]})
        for k in PARAM_KEYS:
            grad_c[k].update({"MSE_FACTOR_TWO": 2 * e_grads[k], "MSE_MEAN_ALL": [e_grads[k] / K, 2 * e_grads[k] / K]})
    variants["RELU_MASK"] = [_net_variant(p, X2, t2, loss_kind, mask=m)[1] for m in _MASKS]
    for code, vs in variants.items():
        for k in PARAM_KEYS:
            if code == "RELU_MASK" and k in ("W2", "b2"):
                continue
            grad_c[k].setdefault(code, []).extend(v["grads"][k] for v in vs)
    grad_c["W1"]["MISSING_TRANSPOSE"] = ok["dz1"].T @ X2
    grad_c["W2"]["MISSING_TRANSPOSE"] = ok["ds"].T @ np.maximum(X2 @ p["W1"] + p["b1"], 0.0)
    for bk, up in (("b1", ok["dz1"]), ("b2", ok["ds"])):
        grad_c[bk]["BIAS_SUM_AXIS"] = up.sum(axis=1)
        grad_c[bk]["BIAS_KEEPDIMS"] = up.sum(axis=0, keepdims=True)
    return loss_c, grad_c


def _grads_dict(grads: Any, keys: Sequence[str]) -> tuple[dict | None, str | None, str | None]:
    """(grads as a dict or None, why not a dict, note about extra keys)."""
    if not isinstance(grads, dict):
        hint = ""
        if isinstance(grads, (tuple, list)):
            hint = (" Return a dict keyed like params, e.g. {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}, not a "
                    f"{type(grads).__name__}.")
        elif isinstance(grads, (int, float, np.number)):
            hint = " Did you return (grads, loss)? The order is (loss, grads)."
        return None, (f"grads must be a dict with keys {list(keys)}, got {type(grads).__name__} "
                      f"({brief(grads)}).{hint}"), None
    extra = [k for k in grads if k not in keys]
    note = None
    if extra:
        note = (f"grads has extra key(s) {brief(list(extra), 100)} that params does not have; return exactly "
                f"the keys of params ({', '.join(keys)}).")
    return grads, None, note


def _missing_key_message(grads: dict, key: str) -> str:
    have = brief(list(grads), 100)
    text = f"grads has no key {key!r} (its keys: {have})."
    if f"d{key}" in grads:
        text += f" Name each gradient after its parameter: grads[{key!r}], not grads['d{key}']."
    return text


def _check_net(fn: Callable, *, kind: str, exercise: str, default_name: str, seed: int, points, thorough: bool):
    """Shared body of the three loss-and-gradients checks. kind: "softmax", "mse" or "single"."""
    label = f"{_name(fn, default_name)}()"
    grad_subs = {k: f"grads[{k!r}]" for k in PARAM_KEYS}
    names = ["loss"] + list(grad_subs.values()) + ["inputs not modified"]
    g = _Grader(exercise, points, seed, names)
    loss_kind = "mse" if kind == "mse" else "softmax"
    target_name = "Y" if kind == "mse" else "y"
    x_name = "x" if kind == "single" else "X"
    own_done: set[str] = set()
    try:
        for case in _net_cases(np.random.default_rng(seed), thorough, kind):
            where = f"case {case.label}"
            out_subs = names[:-1]
            ok, res, changed = g.call(fn, case.params, case.X, case.target, label=label, where=where, fail=out_subs,
                                      watch=("params", x_name, target_name),
                                      hint=_unstable_hint if case.large else None)
            if changed:
                what = ", ".join(c[0] for c in changed)
                g.fail("inputs not modified", f"{where}: {label} modified {what} in place. A loss function must "
                       f"leave params and the data untouched (the caller keeps using them): compute new arrays "
                       f"(z = X @ W1 + b1, h = np.maximum(z, 0)) instead of updating in place (+=, out=, slicing "
                       f"assignment).")
            if not ok:
                continue
            try:
                loss, grads = unpack(res, ("loss", "grads"), label)
            except StudentCodeError as exc:
                for n in out_subs:
                    g.fail(n, f"{where}: {exc}")
                continue
            _grade_net_case(g, fn, case, loss, grads, kind, loss_kind, label, where, grad_subs, own_done)
    except _Stop:
        pass
    return g.finish(gated="inputs not modified")


def _grade_net_case(g: _Grader, fn, case: _NetCase, loss, grads, kind, loss_kind, label, where, grad_subs,
                    own_done: set) -> None:
    if kind == "single":
        X2, t2 = case.X[None, :], np.array([case.target])
    else:
        X2, t2 = case.X, case.target
    N = X2.shape[0]
    e_loss, e_grads = ref_net.mlp_loss_and_grads(case.params, X2, t2, loss=loss_kind)
    loss_c, grad_c = _net_candidates(case, X2, t2, loss_kind, e_loss, e_grads)
    unstable = case.large and (not _finite(loss) or all(g.passed(n) for n in g.names[:-1]))
    unstable_diag = describe(diagnoses.get("SOFTMAX_UNSTABLE")) if case.large else ""

    structure: list[str | None] = []
    if isinstance(loss, dict) and not isinstance(grads, dict):
        g.fail("loss", f"{where}: the first value returned is a dict: return (loss, grads) in that order.")
        loss_ok = False
        structure.append("swapped")
    else:
        problem = _number_problem(loss, e_loss)
        structure.append(problem)
        loss_ok = problem is None
        if problem:
            diag = diagnose(loss, e_loss, loss_c, generic=False)
            extra = describe(diag) if diag else (unstable_diag if unstable or not _finite(loss) else "")
            g.fail("loss", f"{where}: loss {problem}{extra}")

    gd, why, note = _grads_dict(grads, PARAM_KEYS)
    if gd is None:
        for k in PARAM_KEYS:
            g.fail(grad_subs[k], f"{where}: {why}")
        return
    if note:
        g.report.notes.append(note)
    for k in PARAM_KEYS:
        sub = grad_subs[k]
        if k not in gd:
            g.fail(sub, f"{where}: {_missing_key_message(gd, k)}")
            structure.append("missing")
            continue
        got = gd[k]
        problem = array_problem(got, e_grads[k])
        structure.append(problem)
        if problem is None:
            continue
        diag = diagnose(got, e_grads[k], grad_c[k], batch_size=N)
        extra = describe(diag)
        if diag is None and case.large and (unstable or not _finite(got)):
            extra = unstable_diag
        if kind == "single" and k == "b1" and np.shape(got) == case.params["W1"].shape[:1] \
                and case.params["W1"].shape[0] != case.params["W1"].shape[1]:
            extra += (f"\n      dL/db1 has b1's shape (H,) = {e_grads[k].shape}; (D,) is the shape of x (some notes "
                      f"list it wrongly). For one example db1 = dz1, the gradient at the hidden pre-activation.")
        text = f"{where}: grads[{k!r}] {problem}{extra}"
        if sub not in own_done and not case.large:
            own_done.add(sub)
            numeric = _own_param_grad(fn, case, k, label)
            text += _consistency(got, numeric, loss_ok, f"grads[{k!r}]")
        g.fail(sub, text)
    g.note_usable(*structure)


def _own_param_grad(fn: Callable, case: _NetCase, key: str, label: str) -> np.ndarray | None:
    def loss_of(v):
        p = {k: np.array(a, copy=True) for k, a in case.params.items()}
        p[key] = v
        return fn(p, case.X.copy(), copy.deepcopy(case.target))[0]

    return _own_loss_grad(loss_of, case.params[key], label)


def check_two_layer_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``two_layer_loss_and_grads(params, X, y) -> (loss, grads)``.

    Contract: params is a dict {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)} of float64 arrays,
    X float64 (N, D), y int (N,) labels in [0, C). The network is scores = relu(X @ W1 + b1) @ W2 + b2
    followed by softmax cross-entropy averaged over the N examples. Returns loss (a Python float, NumPy
    float64 or 0-d float64 array) and grads, a dict with exactly the keys of params and arrays of the same
    shapes (float64). params, X and y are not modified. Sub-checks (weight 1 each): "loss", one per gradient
    "grads['W1']" ... "grads['b2']", and "inputs not modified".
    """
    require_callable(fn, "two_layer_loss_and_grads", 3)
    return _check_net(fn, kind="softmax", exercise="two-layer network loss and gradients",
                      default_name="two_layer_loss_and_grads", seed=seed, points=points, thorough=thorough)


def check_two_layer_single_example(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``two_layer_single_example(params, x, y) -> (loss, grads)`` for ONE example.

    Contract: params as in check_two_layer_loss_and_grads, x float64 (D,), y a Python int in [0, C). Same
    network (ReLU hidden layer, softmax cross-entropy). grads is a dict with the keys of params and their
    shapes: dW1 (D, H) = outer(x, dz1), db1 (H,) = dz1 (b1's shape, not x's), dW2 (H, C), db2 (C,).
    Inputs are not modified. Sub-checks: "loss", one per gradient, "inputs not modified".
    """
    require_callable(fn, "two_layer_single_example", 3)
    return _check_net(fn, kind="single", exercise="two-layer network, one example",
                      default_name="two_layer_single_example", seed=seed, points=points, thorough=thorough)


def check_two_layer_mse_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``two_layer_mse_loss_and_grads(params, X, Y) -> (loss, grads)``.

    Contract: params {"W1": (D, H), "b1": (H,), "W2": (H, K), "b2": (K,)}, X float64 (N, D), Y float64 (N, K).
    scores = relu(X @ W1 + b1) @ W2 + b2 (no activation on the output), loss = sum((scores - Y)**2) / (2N).
    Returns (loss, grads) with grads keyed and shaped like params (float64). Inputs are not modified.
    Sub-checks: "loss", one per gradient, "inputs not modified".
    """
    require_callable(fn, "two_layer_mse_loss_and_grads", 3)
    return _check_net(fn, kind="mse", exercise="two-layer network with MSE loss",
                      default_name="two_layer_mse_loss_and_grads", seed=seed, points=points, thorough=thorough)


# =============================================================================================== training


def _gd(params: dict, X: np.ndarray, y: np.ndarray, lr: float, steps: int) -> tuple[dict, list[float], float]:
    """Full-batch gradient descent with a signed learning rate (lr < 0 is the gradient-ascent mistake)."""
    p = {k: v.copy() for k, v in params.items()}
    losses = []
    for _ in range(steps):
        value, grads = ref_net.mlp_loss_and_grads(p, X, y)
        losses.append(value)
        p = {k: p[k] - lr * grads[k] for k in p}
    final = ref_net.mlp_loss_and_grads(p, X, y)[0] if steps else float("nan")
    return p, losses, final


def _train_cases(rng: np.random.Generator, thorough: bool):
    specs = [(30, 4, 8, 3, 0.3, 12), (16, 3, 5, 2, 0.2, 5)]
    if thorough:
        specs += [(10, 3, 4, 3, 0.3, 0), (8, 5, 6, 4, 0.1, 1), (40, 6, 12, 5, 0.3, 30)]
    cases = []
    for N, D, H, C, lr, steps in specs:
        params, X = _net_draw(rng, N, D, H, C)
        y = rng.integers(0, C, N)
        cases.append((f"N={N}, D={D}, H={H}, C={C}, lr={lr}, steps={steps}", params, X, y, lr, steps))
    return cases


def _losses_array(losses: Any) -> tuple[np.ndarray | None, str | None]:
    if losses is None:
        return None, "losses is None: return the list of losses you recorded."
    if isinstance(losses, np.ndarray):
        if losses.ndim != 1:
            return None, f"losses must be a list with one number per step, got an array of shape {losses.shape}."
        items = list(losses)
    elif isinstance(losses, (list, tuple)):
        items = list(losses)
    else:
        return None, f"losses must be a list of numbers (one per step), got {type(losses).__name__} ({brief(losses)})."
    for i, v in enumerate(items):
        if isinstance(v, bool) or not (isinstance(v, (int, float, np.number))
                                       or (isinstance(v, np.ndarray) and v.shape == ())):
            return None, (f"losses[{i}] is {type(v).__name__} ({brief(v)}); every entry must be one number (the "
                          f"loss before that step, e.g. float(loss)).")
    try:
        arr = np.array([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return None, f"losses could not be read as numbers: {exc}."
    return arr, None


def check_train_two_layer(train, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``train_two_layer(params, X, y, lr, steps) -> (new_params, losses)``.

    Contract: plain full-batch gradient descent on the two-layer ReLU network with softmax cross-entropy
    (mean over N): for each of ``steps`` steps compute (loss, grads) at the current parameters, append the
    loss, then set every params[k] to params[k] - lr * grads[k]. Returns the final parameters (a new dict
    with the keys and shapes of params, float64) and losses, a list of ``steps`` numbers (the loss BEFORE
    each update). The caller's params dict and its arrays, X and y are not modified.
    Sub-checks: "losses", "new params", "inputs not modified".
    """
    require_callable(train, "train_two_layer", 5)
    label = f"{_name(train, 'train_two_layer')}()"
    g = _Grader("two-layer network training", points, seed, ["losses", "new params", "inputs not modified"])
    try:
        for where, params, X, y, lr, steps in _train_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            ok, res, changed = g.call(train, params, X, y, lr, steps, label=label, where=where,
                                      fail=["losses", "new params"], watch=("params", "X", "y"))
            if changed:
                what = ", ".join(c[0] for c in changed)
                if any(c[0].startswith("params") for c in changed):
                    advice = ("in place, so the caller's initial parameters are lost. Start from copies, new = "
                              "{k: v.copy() for k, v in params.items()}, and update those (new[k] = new[k] - lr * "
                              "grads[k]); dict(params) copies only the dict, not the arrays.")
                else:
                    advice = "in place; training must leave the data X and y untouched."
                g.fail("inputs not modified", f"{where}: {label} modified {what} {advice}")
            if not ok:
                continue
            try:
                new, losses = unpack(res, ("new_params", "losses"), label)
            except StudentCodeError as exc:
                for n in ("losses", "new params"):
                    g.fail(n, f"{where}: {exc}")
                continue
            if isinstance(losses, dict) and not isinstance(new, dict):
                for n in ("losses", "new params"):
                    g.fail(n, f"{where}: {label} returned (losses, new_params); return (new_params, losses).")
                continue
            e_params, e_losses = ref_net.train_mlp(params, X, y, lr=lr, steps=steps)
            up_params, up_losses, _ = _gd(params, X, y, -lr, steps)
            _, _, final = _gd(params, X, y, lr, steps)
            why = _grade_losses(g, where, losses, e_losses, up_losses, e_losses[1:] + [final], steps)
            g.note_usable(why, *_grade_new_params(g, where, new, params, e_params, up_params, steps))
    except _Stop:
        pass
    return g.finish(gated="inputs not modified")


def _grade_losses(g: _Grader, where: str, losses, e_losses, up_losses, after_losses, steps: int) -> str | None:
    """Grade the losses; returns a problem with their structure (None when it is right)."""
    arr, why = _losses_array(losses)
    if why:
        g.fail("losses", f"{where}: {why}")
        return why
    if arr.shape[0] != steps:
        why = (f"{arr.shape[0]} losses for {steps} steps; record exactly one loss per step (the loss before that "
               f"step's update).")
        g.fail("losses", f"{where}: {why}")
        return why
    if steps == 0:
        return None
    problem = array_problem(arr, np.array(e_losses))
    if problem is None:
        return None
    diag = diagnose(arr, np.array(e_losses), {"SIGN_FLIP": np.array(up_losses),
                                              "TRAIN_LOSS_AFTER_STEP": np.array(after_losses)}, generic=False)
    text = f"{where}: losses {problem}{describe(diag)}"
    if steps > 1 and np.all(np.isfinite(arr)) and arr[-1] >= arr[0]:
        text += (f"\n      Your losses do not decrease ({arr[0]:.6g} -> {arr[-1]:.6g}); gradient descent with this "
                 f"small learning rate lowers the loss at every step (expected {e_losses[0]:.6g} -> "
                 f"{e_losses[-1]:.6g}).")
    g.fail("losses", text)
    return None if problem.startswith("values differ") else problem


def _grade_new_params(g: _Grader, where: str, new, params, e_params, up_params, steps: int) -> list[str | None]:
    """Grade the new parameters; returns the problems found (for the usable-result bookkeeping)."""
    if not isinstance(new, dict):
        g.fail("new params", f"{where}: new_params must be a dict keyed like params, got {type(new).__name__} "
               f"({brief(new)}).")
        return ["not a dict"]
    problems: list[str | None] = []
    extra = [k for k in new if k not in params]
    if extra:
        g.report.notes.append(f"new_params has extra key(s) {brief(list(extra), 100)}; return exactly the "
                              f"keys of params.")
    unchanged = steps > 0 and all(k in new and _finite(new[k]) and np.shape(new[k]) == params[k].shape
                                  and np.array_equal(new[k], params[k]) for k in params)
    for k in params:
        if k not in new:
            g.fail("new params", f"{where}: new_params has no key {k!r} (its keys: {brief(list(new), 100)}).")
            problems.append("missing")
            continue
        problem = array_problem(new[k], e_params[k])
        problems.append(problem)
        if problem:
            diag = diagnose(new[k], e_params[k], {"SIGN_FLIP": up_params[k]}, generic=False)
            text = f"{where}: new_params[{k!r}] {problem}{describe(diag)}"
            if unchanged:
                text += ("\n      Your new parameters equal the initial ones: the updates never reached the returned "
                         "dict (e.g. `for p in params.values(): p = p - lr * g` only rebinds the loop variable).")
            g.fail("new params", text)
    return problems


# =============================================================================================== gradient checking


class _TestFunction:
    """f(x) = sum(A * sin(x)) + 0.5 * sum(B * x**3) for x of one fixed shape; returns a Python float."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...]):
        self.shape = shape
        self.A = _away(rng, shape)
        self.B = _away(rng, shape)

    def __call__(self, x) -> float:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self.shape:
            raise ValueError(f"f expects an array of shape {self.shape}, got shape {x.shape}")
        return float(np.sum(self.A * np.sin(x)) + 0.5 * np.sum(self.B * x ** 3))

    def __deepcopy__(self, memo):
        return self


def _fd(f: Callable, x: np.ndarray, h: float, mode: str) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        f0 = f(x)
        grad[i] = {"forward": (fp - f0) / h, "backward": (f0 - fm) / h, "centred": (fp - fm) / (2 * h)}[mode]
    return grad


def _fd_cases(rng: np.random.Generator, thorough: bool):
    specs = [((3, 4), None), ((5,), 1e-2)] + ([((2, 3, 2), None), ((1,), 1e-4), ((6,), 1e-3)] if thorough else [])
    cases = []
    for shape, h in specs:
        x = _away(rng, shape, 0.5, 1.5)
        cases.append((f"x {shape}, " + ("default h" if h is None else f"h={h:g}"), _TestFunction(rng, shape), x, h))
    return cases


def check_numeric_gradient(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``numeric_gradient(f, x, h=1e-5) -> grad``.

    Contract: f maps a float64 array shaped like x to a Python float; x is a float64 array of any shape; h is
    the step (default 1e-5, and the given h must be used). Returns a float64 array shaped like x with
    grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h) (centred differences, as
    reference_impl.gradcheck.numeric_grad). When the function returns, x holds exactly its original values
    (restore each entry with x[i] = old). Sub-checks: "gradient", "x left unchanged". The grader calls
    fn(f, x) for the default step and fn(f, x, h) otherwise.
    """
    require_callable(fn, "numeric_gradient", 2)
    label = f"{_name(fn, 'numeric_gradient')}()"
    g = _Grader("numeric gradient", points, seed, ["gradient", "x left unchanged"])
    try:
        for where, f, x, h in _fd_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            args = (f, x) if h is None else (f, x, h)
            step = 1e-5 if h is None else h
            ok, grad, changed = g.call(fn, *args, label=label, where=where, fail=["gradient"],
                                       watch=("f", "x", "h")[:len(args)])
            moved = [c for c in changed if c[0] == "x"]
            left_moved = False
            if moved:
                _, old, new = moved[0]
                try:
                    diff = float(np.max(np.abs(np.asarray(new, dtype=np.float64) - old)))
                except Exception:
                    diff = float("inf")
                if diff <= 1e-12 * max(1.0, float(np.max(np.abs(old)))):
                    g.report.notes.append(f"{label} left x changed in its last digits (by up to {diff:.1e}): "
                                          f"restore each entry exactly with x[i] = old instead of adding h back.")
                else:
                    left_moved = True
                    g.fail("x left unchanged", f"{where}: {label} returned with x modified (largest change "
                           f"{diff:.3g}). Save old = x[i], evaluate f at old + h and old - h, then restore "
                           f"x[i] = old before moving on; the caller's x must be unchanged.")
            if not ok:
                continue
            (grad,) = unpack(grad, ("grad",), label)
            expected = ref_gc.numeric_grad(f, x, step)
            problem = array_problem(grad, expected)
            g.note_usable(problem)
            if problem is None:
                continue
            cands = {"ONE_SIDED_DIFFERENCE": [_fd(f, x, step, "forward"), _fd(f, x, step, "backward")],
                     "FD_DENOMINATOR": [2 * expected, expected * step * step, expected / 2]}
            if h is not None:
                cands["FD_STEP_IGNORED"] = ref_gc.numeric_grad(f, x, 1e-5)
            diag = diagnose(grad, expected, cands)
            text = f"{where}: grad {problem}{describe(diag)}"
            if left_moved:
                text += ("\n      x was also left modified, which moves the point where the later entries are "
                         "evaluated.")
            g.fail("gradient", text)
    except _Stop:
        pass
    return g.finish(gated="x left unchanged")


def _rel_error_cases(rng: np.random.Generator, thorough: bool):
    """(label, a, b, floor case?)."""
    a = rng.standard_normal((3, 4))
    c = rng.standard_normal(5)
    tiny = 1e-10 * rng.standard_normal(4)
    cases = [("a, b (3, 4) nearly equal", a, a + 1e-6 * rng.standard_normal((3, 4)), False),
             ("a, b (5,) different", c, rng.standard_normal(5), False),
             ("a, b (2, 3) different scales", 100.0 * rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), False),
             ("a == b (4,)", c[:4], c[:4].copy(), False),
             ("a, b (2, 3) all zeros", np.zeros((2, 3)), np.zeros((2, 3)), True),
             ("a, b (4,) around 1e-10", tiny, tiny + 3e-11 * rng.standard_normal(4), True)]
    if thorough:
        cases += [("a, b (2, 3, 2)", rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2)), False),
                  ("a, b (1,)", np.array([2.0]), np.array([-1.0]), False),
                  ("a, b (3,) around 1e12", 1e12 * rng.standard_normal(3), 1e12 * rng.standard_normal(3), False),
                  ("a zero, b (3,) around 1e-9", np.zeros(3), 1e-9 * rng.standard_normal(3), True)]
    return cases


def _rel_error_variants(a: np.ndarray, b: np.ndarray) -> dict[str, list[float]]:
    d = np.abs(a - b)
    s = np.abs(a) + np.abs(b)
    return {
        "REL_ERROR_FORMULA": [np.max(d / np.maximum(1e-8, s)), np.max(d / s) if np.all(s > 0) else np.nan,
                              np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b)),
                              np.max(d) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(b)))],
        "REL_ERROR_FLOOR": [np.max(d) / np.max(s) if np.max(s) > 0 else np.nan, np.max(d) / (np.max(s) + 1e-8)],
    }


def check_rel_error(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``rel_error(a, b) -> float``.

    Contract: a and b are float64 arrays of the same shape; the result is one number (Python float, NumPy
    float64 or 0-d float64 array) equal to max|a - b| / max(1e-8, max(|a| + |b|)) (whole-array, as
    reference_impl.gradcheck.rel_error); two zero arrays give 0.0. Inputs are not modified.
    Sub-checks: "general arrays", "near-zero arrays (the 1e-8 floor)".
    """
    require_callable(fn, "rel_error", 2)
    label = f"{_name(fn, 'rel_error')}()"
    subs = {False: "general arrays", True: "near-zero arrays (the 1e-8 floor)"}
    g = _Grader("rel_error", points, seed, list(subs.values()))
    try:
        for where, a, b, floor in _rel_error_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            sub = subs[floor]
            ok, res, _ = g.call(fn, a, b, label=label, where=where, fail=[sub])
            if not ok:
                continue
            (res,) = unpack(res, ("rel_error",), label)
            expected = ref_gc.rel_error(a, b)
            problem = _number_problem(res, expected, what="rel_error")
            if problem is None:
                continue
            variants = _rel_error_variants(a, b)
            order = ["REL_ERROR_FLOOR", "REL_ERROR_FORMULA"] if floor else ["REL_ERROR_FORMULA", "REL_ERROR_FLOOR"]
            cands = {k: [np.float64(v) for v in variants[k] if np.isfinite(v)] for k in order}
            diag = diagnose(res, expected, cands, generic=False)
            if diag is None and floor and not _finite(res):
                diag = diagnoses.get("REL_ERROR_FLOOR")
            hint = ""
            if isinstance(res, np.ndarray) and res.shape == a.shape and a.size > 1:
                hint = ("\n      You returned one value per entry; rel_error is a single number for the whole "
                        "array (take the max of |a - b| and of |a| + |b|).")
            g.fail(sub, f"{where}: rel_error {problem}{describe(diag)}{hint}")
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== initialization


def _init_target(scheme: str, fan_in: int, fan_out: int) -> tuple[float, str]:
    if scheme == "he":
        return 2.0 / fan_in, f"2/fan_in = 2/{fan_in}"
    return 2.0 / (fan_in + fan_out), f"2/(fan_in + fan_out) = 2/{fan_in + fan_out}"


def _init_candidates(scheme: str, fi: int, fo: int) -> dict[str, list[float]]:
    if scheme == "he":
        return {"INIT_FAN_OUT": [2.0 / fo, 1.0 / fo], "INIT_STD_AS_VARIANCE": [(2.0 / fi) ** 2],
                "INIT_MISSING_FACTOR_2": [1.0 / fi], "INIT_WRONG_SCHEME": [2.0 / (fi + fo)],
                "INIT_FIXED_SCALE": [1.0, 1e-4]}
    return {"INIT_STD_AS_VARIANCE": [(2.0 / (fi + fo)) ** 2], "INIT_MISSING_FACTOR_2": [1.0 / (fi + fo)],
            "INIT_WRONG_SCHEME": [2.0 / fi, 1.0 / fi], "INIT_FIXED_SCALE": [1.0, 1e-4]}


def _init_cases(thorough: bool) -> list[list[int]]:
    return [[800, 200, 10], [3, 5, 2]] + ([[100, 1000, 3], [1, 1], [6, 4, 3, 2, 5]] if thorough else [])


SCHEME_NAMES = {"he": "He", "xavier": "Xavier"}


def check_init(fn, scheme: str, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``init_params(layer_sizes, rng) -> params`` for ``scheme`` "he" or "xavier".

    Contract: layer_sizes is a list [d0, d1, ..., dL] of ints, rng a numpy.random.Generator that provides
    ALL the randomness. Returns a dict with "W{l}" float64 (d_{l-1}, d_l) and "b{l}" float64 (d_l,) for
    l = 1..L: biases are zero; weights are independent normal draws with mean 0 and variance 2/fan_in
    (He) or 2/(fan_in + fan_out) (Xavier), where fan_in = d_{l-1} and fan_out = d_l.

    The variance is tested on layers with at least INIT_MIN_DRAWS weights: the sample variance of n
    independent N(0, s^2) draws has relative standard deviation sqrt(2/(n-1)), and the grader allows
    INIT_Z = 6 of them (about 2% for the 800 x 200 layer; a false alarm has probability below 1e-8).
    The mean must lie within 6 s/sqrt(n) of 0 and the excess kurtosis within 6 sqrt(24/n) of the normal's 0
    (a uniform distribution, excess kurtosis -1.2, fails).
    Sub-checks: "keys and shapes", "biases are zero", "weight distribution", "uses the rng argument".
    """
    if scheme not in SCHEME_NAMES:
        raise ValueError(f"check_init: scheme must be one of {list(SCHEME_NAMES)}, got {scheme!r}")
    require_callable(fn, "init_params", 2)
    label = f"{_name(fn, 'init_params')}()"
    names = ["keys and shapes", "biases are zero", "weight distribution", "uses the rng argument"]
    g = _Grader(f"{SCHEME_NAMES[scheme]} initialization", points, seed, names)
    try:
        for k, sizes in enumerate(_init_cases(thorough)):
            where = f"case layer_sizes={sizes}"
            ok, params, _ = g.call(fn, list(sizes), np.random.default_rng([seed, k]), label=label, where=where,
                                   fail=names[:3])
            if ok:
                (params,) = unpack(params, ("params",), label)
                _grade_init_case(g, where, params, sizes, scheme)
        _grade_init_rng(g, fn, label, seed)
    except _Stop:
        pass
    return g.finish()


def _grade_init_case(g: _Grader, where: str, params: Any, sizes: list[int], scheme: str) -> None:
    if not isinstance(params, dict):
        for n in ("keys and shapes", "biases are zero", "weight distribution"):
            g.fail(n, f"{where}: expected a dict {{'W1': ..., 'b1': ..., ...}}, got {type(params).__name__} "
                   f"({brief(params)}).")
        return
    L = len(sizes) - 1
    keys = [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]
    extra = [k for k in params if k not in keys]
    if extra:
        g.report.notes.append(f"params has extra key(s) {brief(list(extra), 100)}; expected exactly {keys}.")
    for l in range(1, L + 1):
        fi, fo = sizes[l - 1], sizes[l]
        for key, shape in ((f"W{l}", (fi, fo)), (f"b{l}", (fo,))):
            if key not in params:
                g.fail("keys and shapes", f"{where}: params has no key {key!r} (its keys: "
                       f"{brief(list(params), 100)}); expected {keys}.")
                continue
            problem = _init_array_problem(params[key], shape)
            if problem:
                g.fail("keys and shapes", f"{where}: params[{key!r}] {problem}")
        b, W = params.get(f"b{l}"), params.get(f"W{l}")
        if _numeric_array(b) is None:
            g.fail("biases are zero", f"{where}: b{l} not checked: it is missing or not a numeric NumPy array.")
        elif np.any(b != 0):
            g.fail("biases are zero", f"{where}: b{l} is not all zeros ({_preview(b)}); start biases at "
                   f"np.zeros(fan_out): random weights already break the symmetry.")
        W = _numeric_array(W)
        if W is None or W.size != fi * fo:
            g.fail("weight distribution", f"{where}: W{l} not checked: it is missing, not a numeric NumPy array "
                   f"or does not have {fi} x {fo} entries.")
        else:
            _grade_weights(g, where, f"W{l}", W, fi, fo, scheme)


def _numeric_array(a: Any) -> np.ndarray | None:
    """a as float64 when it is a finite numeric NumPy array, else None."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
        return None
    return a.astype(np.float64, copy=False)


def _preview(a: np.ndarray) -> str:
    flat = np.asarray(a, dtype=np.float64).ravel()
    return "[" + ", ".join(f"{v:.3g}" for v in flat[:4]) + (", ...]" if flat.size > 4 else "]")


def _init_array_problem(arr: Any, shape: tuple) -> str | None:
    if arr is None:
        return "is None."
    if not isinstance(arr, np.ndarray):
        return f"must be a NumPy array of shape {shape}, got {type(arr).__name__} ({brief(arr)})."
    if arr.shape != shape:
        hint = ""
        if arr.shape == shape[::-1] and len(shape) == 2:
            hint = (" (transposed: here W has shape (fan_in, fan_out) = (layer_sizes[l-1], layer_sizes[l]) so "
                    "that out = x @ W)")
        elif len(shape) == 1 and arr.shape == (1,) + shape:
            hint = " (use np.zeros(fan_out), without the extra dimension)"
        return f"has shape {arr.shape}, expected {shape}{hint}."
    if arr.dtype != np.float64:
        return f"has dtype {arr.dtype}, expected float64."
    if not np.all(np.isfinite(arr)):
        return "has non-finite values."
    return None


def _grade_weights(g: _Grader, where: str, key: str, W: np.ndarray, fi: int, fo: int, scheme: str) -> None:
    n = W.size
    if not np.any(W):
        g.fail("weight distribution", f"{where}: {key} is all zeros: every hidden unit would compute the same "
               f"thing forever (symmetry is never broken). Draw random weights.")
        return
    if n > 1 and np.unique(W).size < 0.99 * n:
        g.fail("weight distribution", f"{where}: {key} has only {np.unique(W).size} distinct values among {n}: "
               f"draw every weight independently (one rng.standard_normal((fan_in, fan_out)) call), do not repeat "
               f"rows or columns.")
        return
    if n < INIT_MIN_DRAWS:
        return
    target, formula = _init_target(scheme, fi, fo)
    var = float(np.var(W))
    tol = INIT_Z * math.sqrt(2.0 / (n - 1))
    std = math.sqrt(target)
    mean = float(np.mean(W))
    if abs(mean) > INIT_Z * std / math.sqrt(n):
        g.fail("weight distribution", f"{where}: {key} has mean {mean:.3g}; the weights must be centred at 0 "
               f"(allowed |mean| <= {INIT_Z * std / math.sqrt(n):.2g} for {n} draws).")
    if abs(var / target - 1.0) > tol:
        diag = None
        for code, values in _init_candidates(scheme, fi, fo).items():
            if any(abs(v / target - 1.0) > tol and abs(var / v - 1.0) <= tol for v in values):
                diag = diagnoses.get(code)
                break
        g.fail("weight distribution", f"{where}: {key} ({fi} x {fo}) has variance {var:.4g}, but "
               f"{SCHEME_NAMES[scheme]} initialization needs {formula} = {target:.4g} (allowed within "
               f"{100 * tol:.1f}% for {n} draws).{describe(diag)}")
        return
    z = (W - mean) / math.sqrt(var)
    kurt = float(np.mean(z ** 4) - 3.0)
    kurt_tol = INIT_Z * math.sqrt(24.0 / n)
    if abs(kurt) > kurt_tol:
        g.fail("weight distribution", f"{where}: {key} does not look normally distributed (excess kurtosis "
               f"{kurt:.2f}, allowed within {kurt_tol:.2f} of a normal's 0; a uniform has -1.2): draw "
               f"rng.standard_normal(...) and scale it.")


def _grade_init_rng(g: _Grader, fn: Callable, label: str, seed: int) -> None:
    sizes = [6, 5, 4]
    where = f"reproducibility, layer_sizes={sizes}"
    sub = "uses the rng argument"
    results = []
    for s in (seed, seed, seed + 1):
        ok, res, _ = g.call(fn, list(sizes), np.random.default_rng([seed, 99, s]), label=label, where=where,
                            fail=[sub])
        if not ok:
            return
        if not isinstance(res, dict) or any(not isinstance(res.get(f"W{l}"), np.ndarray) for l in (1, 2)):
            g.fail(sub, f"{where}: not checked because {label} does not return a dict of arrays here.")
            return
        results.append(res)
    same = all(_same_array(results[0][f"W{l}"], results[1][f"W{l}"]) for l in (1, 2))
    differ = any(not _same_array(results[0][f"W{l}"], results[2][f"W{l}"]) for l in (1, 2))
    if not same:
        g.fail(sub, f"{where}: two calls with identically seeded generators gave different weights: draw from the "
               f"rng argument (rng.standard_normal(...)), not from np.random.randn / np.random.normal.")
    elif not differ:
        g.fail(sub, f"{where}: generators with different seeds gave the same weights: draw from the rng argument "
               f"(do not call np.random.seed or create your own generator inside the function).")
