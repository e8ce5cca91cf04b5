"""The two-layer network (affine - ReLU - affine): loss and gradients, single example, MSE variant.

Four kinds of case, each in the visible test (``thorough`` adds more of the first three) and each graded into its
own sub-checks, so that a mistake seen in one kind costs that kind's share:

- ordinary cases (a batch of one among them): every hidden pre-activation at least KINK_MARGIN from 0, N, D, H, C
  that differ; graded into "loss" and one sub-check per gradient, each wrong gradient also compared with finite
  differences of the student's own loss ("fix the loss first" / "the mistake is in the gradient");
- scores around 1e3 (softmax losses only): an unstable softmax overflows (SOFTMAX_UNSTABLE);
- the ReLU kink (:func:`_kink_draw`): one hidden pre-activation exactly 0 (slope 0 by the course's convention,
  RELU_AT_ZERO for a mask z1 >= 0) and one 1.5e-11 above it, computed exactly by any correct code; finite
  differences of the loss miss there at every step size, so a gradient right on the ordinary cases and wrong
  only here is named NUMERIC_NOT_ANALYTIC;
- last, only when every other sub-check passed, a large network (:data:`NET_COST_SHAPE`: D = 1000 inputs,
  H = 100 hidden units, about 10^5 parameters) with NET_BACKSTOP seconds to answer. The backward pass takes about
  a millisecond there; any method that evaluates the loss once (or twice) per parameter needs 10^5 passes, at
  least tens of seconds. This is what catches the complex-step trick, f(p + i h e_k).imag / h, which has no
  cancellation error: it is exact to rounding at the kink and at large scores, so only its cost gives it away.
  A time-out (or a MemoryError) there fails the sub-check the kink cases are graded into, "analytic gradient"
  (the exercise's analytic-gradient share), and is named NUMERIC_NOT_ANALYTIC.

The usual mistakes are named by comparing with variants of the reference (a missing 1/N, a ReLU mask from the
wrong array, a missing bias gradient...). params and the data must be left unchanged: the course-wide sub-check
"inputs left unchanged" (graders.core).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (MUTATION_CHECK, StudentCodeError, StudentTimeout, array_problem, brief, call_student,
                          describe, diagnose, own_numeric_vjp, require_callable, unpack)
from graders.network.grading import (KINK_MARGIN, KINK_STEP, LARGE_LOGIT, PARAM_KEYS, _consistency, _finite,
                                     _Grader, _name, _number_problem, _Stop, _unstable_hint)
from reference_impl import losses as _ref_losses
from reference_impl import network as _ref_net


# =============================================================================================== two-layer network


@dataclass
class _NetCase:
    label: str
    params: dict
    X: np.ndarray               # (N, D); (D,) for the single-example check
    target: Any                 # y (N,) int, Y (N, K) float, or one int label
    kind: str = "ordinary"      # "ordinary", "large" (scores around 1e3) or "kink" (see _kink_draw)
    info: dict = field(default_factory=dict)

    @property
    def large(self) -> bool:
        return self.kind == "large"


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


def _kink_draw(rng: np.random.Generator, N: int, D: int, H: int, C: int) -> tuple[dict, np.ndarray]:
    """A network whose hidden pre-activations include one exactly 0 and one exactly KINK_STEP (2**-36, about
    1.5e-11) above 0, every other one at least 1/32 away from 0.

    X, W1 and b1 are small multiples of 1/4 and 1/8 (and b1 holds KINK_STEP once), so every product and partial
    sum of z1 = X @ W1 + b1 is exactly representable: any summation order (matmul, loops, einsum, one example at
    a time) gives the same z1 bit for bit, and the mask z1 > 0 is the same for every correct answer. The
    analytic gradient is exact here; centred differences straddle the kink at the exact 0 for every step, and
    at the 1.5e-11 entry either straddle it (h > 1.5e-11) or lose every digit to rounding (h < 1.5e-11).
    """
    for _ in range(1000):
        X = rng.integers(-8, 9, (N, D)) / 4.0
        W1 = rng.integers(-6, 7, (D, H)) / 8.0
        b1 = rng.integers(-4, 5, H) / 8.0
        z = X @ W1 + b1
        j0, j1 = (int(j) for j in rng.choice(H, 2, replace=False))
        i0, i1 = int(rng.integers(N)), int(rng.integers(N))
        b1[j0] -= z[i0, j0]
        b1[j1] += KINK_STEP - z[i1, j1]
        z = X @ W1 + b1
        others = np.ones_like(z, dtype=bool)
        others[i0, j0] = others[i1, j1] = False
        if z[i0, j0] != 0.0 or z[i1, j1] != KINK_STEP or np.min(np.abs(z[others])) < 1 / 32:
            continue
        if not ((z[others] > 0).any() and (z[others] < 0).any()):
            continue
        params = {"W1": W1, "b1": b1, "W2": 1.5 * rng.standard_normal((H, C)) / math.sqrt(H),
                  "b2": 0.5 * rng.standard_normal(C)}
        return params, X
    raise RuntimeError("could not draw a network at the ReLU kink (grader bug)")


def _net_cases(rng: np.random.Generator, thorough: bool, kind: str) -> list[_NetCase]:
    """kind: "softmax" (y ints), "mse" (Y floats) or "single" (one example, int label).

    Every kind of case is in the visible test (thorough=False); the hidden test adds more of the same kinds."""
    if kind == "single":
        shapes = [(1, 4, 6, 3), (1, 5, 3, 4), (1, 1, 2, 3)] + ([(1, 4, 6, 3), (1, 7, 9, 5)] if thorough else [])
    else:
        shapes = [(5, 4, 6, 3), (7, 5, 3, 4), (1, 3, 4, 2)] + ([(12, 6, 10, 5), (2, 4, 3, 5)] if thorough else [])
    specs = [("ordinary", s) for s in shapes]
    if kind != "mse":
        specs += [("large", (6, 4, 5, 3) if kind == "softmax" else (1, 4, 5, 3))]
        if thorough:
            specs += [("large", (3, 2, 4, 4) if kind == "softmax" else (1, 3, 2, 4))]
    N_k = 1 if kind == "single" else 5
    specs += [("kink", (N_k, 3, 4, 3))] + ([("kink", (1 if kind == "single" else 8, 4, 6, 2))] if thorough else [])
    cases = []
    for case_kind, (N, D, H, C) in specs:
        params, X = _kink_draw(rng, N, D, H, C) if case_kind == "kink" else _net_draw(rng, N, D, H, C)
        extra = ""
        if case_kind == "large":
            params["b2"] = params["b2"] + LARGE_LOGIT  # every score near 1e3: exp overflows unless stabilized
            extra = ", scores around 1e3"
        elif case_kind == "kink":
            extra = ", hidden pre-activations exactly 0 and 1.5e-11 (the ReLU kink)"
        if kind == "mse":
            cases.append(_NetCase(f"N={N}, D={D}, H={H}, K={C}{extra}", params, X, rng.standard_normal((N, C)),
                                  case_kind))
        elif kind == "softmax":
            cases.append(_NetCase(f"N={N}, D={D}, H={H}, C={C}{extra}", params, X, rng.integers(0, C, N),
                                  case_kind))
        else:
            cases.append(_NetCase(f"example {len(cases) + 1}, D={D}, H={H}, C={C}{extra}", params, X[0],
                                  int(rng.integers(0, C)), case_kind))
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
        loss, ds = _ref_losses.softmax_cross_entropy(so, t)
        if dscale == "no_onehot":
            ds = _ref_losses.softmax(so) / N
    else:
        loss, ds = _ref_losses.mse_loss(so, t)
    if out_relu:
        ds = ds * (s > 0)
    dh = ds @ W2.T
    dz1 = {"ok": dh * (z1 > 0), "none": dh, "dout": dh * (dh > 0), "inverted": dh * (z1 < 0), "times_h": dh * h,
           "no_bias": dh * (X @ W1 > 0), "mask_only": (z1 > 0).astype(float), "at_zero": dh * (z1 >= 0)}[mask]
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
    variants["RELU_AT_ZERO"] = [_net_variant(p, X2, t2, loss_kind, mask="at_zero")[1]]
    for code, vs in variants.items():
        for k in PARAM_KEYS:
            if code in ("RELU_MASK", "RELU_AT_ZERO") and k in ("W2", "b2"):
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


LARGE_SUB = "scores around 1e3 (stability)"
KINK_SUB = "analytic gradient (hidden units at the ReLU kink: exact 0 and 1.5e-11; a large network)"
NET_COST_SHAPE = (2, 1000, 100, 3)  # (N, D, H, C) of the cost case: ~1e5 parameters, a backward pass takes ~1 ms
NET_BACKSTOP = 2.0                  # seconds allowed on the cost case (one pass per parameter needs >= ~20 s)
_ADVICE = ("A loss function must leave params and the data untouched (the caller keeps using them): compute new "
           "arrays (z = X @ W1 + b1, h = np.maximum(z, 0)) instead of updating in place (+=, out=, slicing "
           "assignment).")


def _check_net(fn: Callable, *, kind: str, exercise: str, default_name: str, seed: int, points, thorough: bool):
    """Shared body of the three loss-and-gradients checks. kind: "softmax", "mse" or "single"."""
    label = f"{_name(fn, default_name)}()"
    grad_subs = {k: f"grads[{k!r}]" for k in PARAM_KEYS}
    ordinary = ["loss"] + list(grad_subs.values())
    g = _Grader(exercise, points, seed, ordinary, watch_inputs=True)
    if kind != "mse":
        g.report.declare(LARGE_SUB)
    g.report.declare(KINK_SUB, weight=2.0)
    loss_kind = "mse" if kind == "mse" else "softmax"
    target_name = "Y" if kind == "mse" else "y"
    x_name = "x" if kind == "single" else "X"
    state = {"own_done": set(), "ordinary_ok": True}
    rng = np.random.default_rng(seed)
    try:
        for case in _net_cases(rng, thorough, kind):
            where = f"case {case.label}"
            subs = ordinary if case.kind == "ordinary" else [LARGE_SUB if case.large else KINK_SUB]
            ok, res, changed = g.call(fn, case.params, case.X, case.target, label=label, where=where, fail=subs,
                                      watch=("params", x_name, target_name),
                                      hint=_unstable_hint if case.large else None)
            if changed:
                g.changed_inputs(where, f"{label} modified {', '.join(c[0] for c in changed)} in place. {_ADVICE}")
            if not ok:
                state["ordinary_ok"] = state["ordinary_ok"] and case.kind != "ordinary"
                continue
            try:
                loss, grads = unpack(res, ("loss", "grads"), label)
            except StudentCodeError as exc:
                for n in subs:
                    g.fail(n, f"{where}: {exc}")
                continue
            _grade_net_case(g, fn, case, loss, grads, kind, loss_kind, label, where, grad_subs, state)
        if all(sub.passed for name, sub in g.report.checks.items() if name != MUTATION_CHECK):
            _cost_case(g, fn, rng, kind, loss_kind, label)  # else the answer is wrong anyway: no backstop spent
    except _Stop:
        pass
    return g.finish()


def _cost_case(g: _Grader, fn: Callable, rng: np.random.Generator, kind: str, loss_kind: str, label: str) -> None:
    """The large network (NET_COST_SHAPE) with NET_BACKSTOP seconds: a pass per parameter cannot finish; a
    time-out, a MemoryError or a wrong value fails KINK_SUB (the analytic-gradient share)."""
    N, D, H, C = NET_COST_SHAPE
    N = 1 if kind == "single" else N
    params, X = _net_draw(rng, N, D, H, C)
    t: Any = rng.standard_normal((N, C)) if kind == "mse" else rng.integers(0, C, N)
    X2, t2 = X, t
    if kind == "single":
        X, t = X[0], int(t[0])
    n_params = sum(v.size for v in params.values())
    where = f"case N={N}, D={D}, H={H}, {'K' if kind == 'mse' else 'C'}={C} ({n_params:,} parameters, {NET_BACKSTOP:g} s)"
    try:
        res = call_student(fn, params, X, t, label=label, notes=g.report.notes, report=g.report,
                           timeout=NET_BACKSTOP)
        loss, grads = unpack(res, ("loss", "grads"), label)
    except StudentCodeError as exc:
        slow = isinstance(exc, StudentTimeout) or isinstance(exc.__cause__, MemoryError) or "MemoryError" in str(exc)
        g.fail(KINK_SUB, f"{where}: " + (
            f"{label} did not finish in {NET_BACKSTOP:g} s; the backward pass takes about a millisecond here."
            + describe(diagnoses.get("NUMERIC_NOT_ANALYTIC"))
            + f"\n      Here: one loss evaluation per parameter (finite or complex-step differences) needs "
              f"{n_params:,} forward passes." if slow else str(exc)))
        return
    e_loss, e_grads = _ref_net.mlp_loss_and_grads(params, X2, t2, loss=loss_kind)
    problem = _number_problem(loss, e_loss)
    if problem:
        g.fail(KINK_SUB, f"{where}: loss {problem}")
        return
    gd, why, _ = _grads_dict(grads, PARAM_KEYS)
    problems = [why] if gd is None else [
        _missing_key_message(gd, k) if k not in gd else
        (f"grads[{k!r}] {p}" if (p := array_problem(gd[k], e_grads[k])) else None) for k in PARAM_KEYS]
    problems = [p for p in problems if p]
    if problems:
        g.fail(KINK_SUB, f"{where}: {problems[0]}")


def _grade_net_case(g: _Grader, fn, case: _NetCase, loss, grads, kind, loss_kind, label, where, grad_subs,
                    state: dict) -> None:
    """Grade one case: an ordinary case into "loss" and one sub-check per gradient, a large-scores or kink case
    into its own sub-check (a mistake seen only there costs that share)."""
    if kind == "single":
        X2, t2 = case.X[None, :], np.array([case.target])
    else:
        X2, t2 = case.X, case.target
    N = X2.shape[0]
    e_loss, e_grads = _ref_net.mlp_loss_and_grads(case.params, X2, t2, loss=loss_kind)
    loss_c, grad_c = _net_candidates(case, X2, t2, loss_kind, e_loss, e_grads)
    special = None if case.kind == "ordinary" else (LARGE_SUB if case.large else KINK_SUB)
    unstable = case.large and not _finite(loss)
    unstable_diag = describe(diagnoses.get("SOFTMAX_UNSTABLE")) if case.large else ""

    if isinstance(loss, dict) and not isinstance(grads, dict):
        g.fail(special or "loss", f"{where}: the first value returned is a dict: return (loss, grads) in that order.")
        loss_ok = False
    else:
        problem = _number_problem(loss, e_loss)
        loss_ok = problem is None
        if problem:
            diag = diagnose(loss, e_loss, loss_c, generic=False)
            extra = describe(diag) if diag else (unstable_diag if unstable or not _finite(loss) else "")
            g.fail(special or "loss", f"{where}: loss {problem}{extra}")
            state["ordinary_ok"] = state["ordinary_ok"] and special is not None

    gd, why, note = _grads_dict(grads, PARAM_KEYS)
    if gd is None:
        for k in PARAM_KEYS:
            g.fail(special or grad_subs[k], f"{where}: {why}")
        state["ordinary_ok"] = state["ordinary_ok"] and special is not None
        return
    if note:
        g.report.notes.append(note)
    for k in PARAM_KEYS:
        sub = special or grad_subs[k]
        if k not in gd:
            g.fail(sub, f"{where}: {_missing_key_message(gd, k)}")
            state["ordinary_ok"] = state["ordinary_ok"] and special is not None
            continue
        got = gd[k]
        problem = array_problem(got, e_grads[k])
        if problem is None:
            continue
        diag = diagnose(got, e_grads[k], grad_c[k], batch_size=N)
        extra = describe(diag)
        if diag is None and case.large and (unstable or not _finite(got)):
            extra = unstable_diag
        elif diag is None and case.large and state["ordinary_ok"] and loss_ok and problem.startswith("values differ"):
            extra = describe(diagnoses.get("NUMERIC_NOT_ANALYTIC"))  # finite and close: a finite difference
        if diag is None and case.kind == "kink" and state["ordinary_ok"] and problem.startswith("values differ"):
            extra = (describe(diagnoses.get("NUMERIC_NOT_ANALYTIC")) +
                     "\n      Here: one hidden pre-activation is exactly 0 (ReLU's slope there is 0 by this course's "
                     "convention) and one is 1.5e-11 (slope 1); the mask z1 > 0 gets both right, while a centred "
                     "difference straddles the kink or, with a step below 1.5e-11, drowns in rounding.")
        if kind == "single" and k == "b1" and np.shape(got) == case.params["W1"].shape[:1] \
                and case.params["W1"].shape[0] != case.params["W1"].shape[1]:
            extra += (f"\n      dL/db1 has b1's shape (H,) = {e_grads[k].shape}; (D,) is the shape of x (some notes "
                      f"list it wrongly). For one example db1 = dz1, the gradient at the hidden pre-activation.")
        text = f"{where}: grads[{k!r}] {problem}{extra}"
        if special is None:
            state["ordinary_ok"] = False
            if sub not in state["own_done"]:
                state["own_done"].add(sub)
                numeric = _own_param_grad(fn, case, k, label)
                text += _consistency(got, numeric, loss_ok, f"grads[{k!r}]")
        g.fail(sub, text)


def _own_param_grad(fn: Callable, case: _NetCase, key: str, label: str) -> np.ndarray | None:
    """Finite differences of the student's own loss with respect to params[key] (computed where it runs)."""
    return own_numeric_vjp(fn, (case.params, case.X, case.target), (0, key), np.float64(1.0), label=label)


def check_two_layer_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``two_layer_loss_and_grads(params, X, y) -> (loss, grads)``.

    Contract: params is a dict {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)} of float64 arrays,
    X float64 (N, D), y int (N,) labels in [0, C). The network is scores = relu(X @ W1 + b1) @ W2 + b2
    followed by softmax cross-entropy averaged over the N examples. Returns loss (a Python float, NumPy
    float64 or 0-d float64 array) and grads, a dict with exactly the keys of params and arrays of the same
    shapes (float64). params, X and y are not modified. Sub-checks: "loss" and one per gradient "grads['W1']" ...
    "grads['b2']" on ordinary cases (weight 1 each), "scores around 1e3 (stability)" (1), "analytic gradient"
    (2: hidden units at the ReLU kink, where the derivative at exactly 0 is 0 and finite differences fail at every
    step; then, only when every other sub-check passed, a network of NET_COST_SHAPE with about 1e5 parameters,
    which must answer within NET_BACKSTOP = 2 s: a backward pass takes about a millisecond there, one loss
    evaluation per parameter tens of seconds, so the limit is about 2000 times the work needed and still a tenth
    of what a per-parameter method needs, even on a busy machine) and the course-wide "inputs left unchanged".
    Not allowed: gradients by numerical differentiation of any kind (centred, forward or complex-step
    differences): NUMERIC_NOT_ANALYTIC, the "analytic gradient" share.
    """
    require_callable(fn, "two_layer_loss_and_grads", 3)
    return _check_net(fn, kind="softmax", exercise="two-layer network loss and gradients",
                      default_name="two_layer_loss_and_grads", seed=seed, points=points, thorough=thorough)


def check_two_layer_single_example(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``two_layer_single_example(params, x, y) -> (loss, grads)`` for ONE example.

    Contract: params as in check_two_layer_loss_and_grads, x float64 (D,), y a Python int in [0, C). Same
    network (ReLU hidden layer, softmax cross-entropy). grads is a dict with the keys of params and their
    shapes: dW1 (D, H) = outer(x, dz1), db1 (H,) = dz1 (b1's shape, not x's), dW2 (H, C), db2 (C,).
    Inputs are not modified. Sub-checks as check_two_layer_loss_and_grads (the cost case has N = 1, D = 1000),
    and numerical differentiation is not allowed either.
    """
    require_callable(fn, "two_layer_single_example", 3)
    return _check_net(fn, kind="single", exercise="two-layer network, one example",
                      default_name="two_layer_single_example", seed=seed, points=points, thorough=thorough)


def check_two_layer_mse_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``two_layer_mse_loss_and_grads(params, X, Y) -> (loss, grads)``.

    Contract: params {"W1": (D, H), "b1": (H,), "W2": (H, K), "b2": (K,)}, X float64 (N, D), Y float64 (N, K).
    scores = relu(X @ W1 + b1) @ W2 + b2 (no activation on the output), loss = sum((scores - Y)**2) / (2N).
    Returns (loss, grads) with grads keyed and shaped like params (float64). Inputs are not modified.
    Sub-checks as check_two_layer_loss_and_grads, without the large-scores one; numerical differentiation is not
    allowed either.
    """
    require_callable(fn, "two_layer_mse_loss_and_grads", 3)
    return _check_net(fn, kind="mse", exercise="two-layer network with MSE loss",
                      default_name="two_layer_mse_loss_and_grads", seed=seed, points=points, thorough=thorough)
