"""Checks of notebook 13, part 4: mixed precision in NumPy float16.

- :func:`check_fp16_cast_report`: what storing S * g in float16 keeps of a gradient g (flushed to zero,
  subnormal, overflow, relative error after unscaling);
- :func:`check_mlp_grads_fp16`: the learner's float16 forward and backward of the ReLU MLP with a loss scale,
  compared with ``reference_impl.precision.fp16_loss_and_grads``: values early in training, the underflow of a
  confident network without scaling, its recovery with S = 2**16;
- :func:`check_mixed_precision_step`: unscale in float32, skip a step with inf/NaN gradients, update float32
  master weights, dynamic loss scale (halve on overflow, double after ``growth_interval`` good steps).

float16 and float32 arrays cross into and out of the learner's code here on purpose (the exercises are about
them); every other value is plain data as in the rest of the course.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from graders import diagnoses
from graders.core import (StudentCodeError, brief, describe, real_number, rel_error,
                          require_callable, unpack)
from graders.exercises.tensor_backprop import _Grading, _Stop, _grads_dict, _scalar_problem
from reference_impl import network as _ref_net
from reference_impl import precision as _ref_prec

__all__ = ["check_fp16_cast_report", "check_mlp_grads_fp16", "check_mixed_precision_step", "REPORT_KEYS",
           "confident_network"]

REPORT_KEYS = ("flushed", "subnormal", "overflow", "rel_error")
FP16_TOL = 1e-2   # relative error allowed between two float16 computations of the same gradient


# ============================================================================================ the cast report


def _cast_report(g: np.ndarray, S: float) -> dict:
    """What float16 keeps of S * g (the multiplication in float64, then one cast)."""
    with np.errstate(over="ignore", invalid="ignore"):
        h = (g * S).astype(np.float16)
    nz = g != 0
    n = max(1, int(nz.sum()))
    overflow = bool(np.any(np.isinf(h)))
    back = h.astype(np.float64) / S
    return {"flushed": float(np.sum(nz & (h == 0)) / n),
            "subnormal": float(np.sum(nz & (h != 0) & (np.abs(h) < _ref_prec.FP16_SMALLEST_NORMAL)) / n),
            "overflow": overflow, "rel_error": None if overflow else rel_error(back, g)}


def _cast_cases(rng: np.random.Generator, thorough: bool):
    out = []
    specs = [(1.0, 200), (2.0**10, 150), (2.0**24, 100)] + ([(2.0**16, 300), (1.0, 50), (2.0**5, 120)]
                                                            if thorough else [])
    for S, n in specs:
        g = 10.0 ** rng.uniform(-10, 1, n) * rng.choice([-1.0, 1.0], n)
        g[rng.random(n) < 0.1] = 0.0
        if S >= 2.0**20:
            g[0] = 5.0  # S * 5 > 65504: an overflow
        out.append((S, g))
    return out


def check_fp16_cast_report(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fp16_cast_report(g, loss_scale) -> dict``.

    Contract: g float64 gradient entries (some exactly 0), loss_scale S > 0. With h = (g * S).astype(np.float16)
    (multiply in float64, then one cast) and the nonzero entries of g as the population: "flushed" = fraction of
    them whose h is 0; "subnormal" = fraction with 0 < |h| < 2**-14 (float16's smallest normal); "overflow" = True
    if some h is inf; "rel_error" = None on overflow, else the course's rel_error between h / S (in float64) and g:
    max|a - b| / max(1e-8, max(|a| + |b|)). Inputs unchanged.

    Sub-checks: one per key (fractions within 1e-12, rel_error within 1e-6 relative), "inputs left unchanged".
    Named mistakes: FP16_SCALED_AFTER_CAST (g cast first, then multiplied by S), LOSS_SCALE_NOT_UNSCALED
    (rel_error of h against g without dividing by S).
    """
    require_callable(fn, "fp16_cast_report", 2)
    g_ = _Grading("float16 casts with a loss scale", points, seed, REPORT_KEYS)
    label = "fp16_cast_report()"
    try:
        for S, g in _cast_cases(np.random.default_rng(seed), thorough):
            where = f"S = {S:g}, {g.size} entries"
            ok, got = g_.call(fn, g, S, label=label, fail=REPORT_KEYS, where=where)
            if not ok:
                continue
            if not isinstance(got, Mapping) or any(k not in got for k in REPORT_KEYS):
                for k in REPORT_KEYS:
                    g_.fail(k, f"{where}: expected a dict with keys {', '.join(REPORT_KEYS)}, got {brief(got)}.")
                continue
            want = _cast_report(g, S)
            after_cast = _cast_report(g, 1.0) if S != 1.0 else None
            for k in ("flushed", "subnormal"):
                v = real_number(got[k])
                if v is None or abs(v - want[k]) > 1e-12:
                    text = f"{where}: {k} = {brief(got[k])}, expected {want[k]:.6g}."
                    if v is not None and after_cast and abs(v - after_cast[k]) < 1e-12 and \
                            abs(want[k] - after_cast[k]) > 1e-12:
                        text += describe(diagnoses.get("FP16_SCALED_AFTER_CAST"))
                    g_.fail(k, text)
            if not isinstance(got["overflow"], (bool, np.bool_)) or bool(got["overflow"]) != want["overflow"]:
                g_.fail("overflow", f"{where}: overflow = {brief(got['overflow'])}, expected {want['overflow']} "
                                    f"(True when some S * g exceeds 65504 and becomes inf in float16).")
            r = got["rel_error"]
            if want["rel_error"] is None:
                if r is not None:
                    g_.fail("rel_error", f"{where}: rel_error = {brief(r)}; with an overflow it must be None.")
            else:
                v = real_number(r)
                if v is None or not math.isclose(v, want["rel_error"], rel_tol=1e-6, abs_tol=1e-15):
                    text = f"{where}: rel_error = {brief(r)}, expected {want['rel_error']:.6g}."
                    with np.errstate(over="ignore"):
                        unscaled = rel_error((g * S).astype(np.float16).astype(np.float64), g)
                    if v is not None and S != 1.0 and math.isclose(v, unscaled, rel_tol=1e-6):
                        text += describe(diagnoses.get("LOSS_SCALE_NOT_UNSCALED"))
                    g_.fail("rel_error", text)
    except _Stop:
        pass
    return g_.finish()


# ============================================================================================ float16 backward


def confident_network(seed: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """(float32 params, X, y) of a ReLU MLP that classifies its own data with a margin of at least 13 logits, so
    that every per-example gradient (softmax - onehot) / N is below 2**-25 and rounds to 0 in float16 without
    loss scaling, while the parameter gradients (sums over the 128 examples) are representable; with S = 2**16
    the per-example gradients survive."""
    rng = np.random.default_rng(seed)
    N, D, H, C = 128, 4, 24, 3
    params = _ref_net.init_params([D, H, C], "he", rng)
    params["b1"] = 0.1 * rng.standard_normal(H)
    X = rng.standard_normal((N, D))
    scores = _ref_net.mlp_scores(params, X)
    top2 = np.sort(scores, axis=1)[:, -2:]
    margins = top2[:, 1] - top2[:, 0]
    keep = margins > np.quantile(margins, 0.25)  # drop the near-ties, whose margin would need a huge scale
    X, scores, margins = X[keep], scores[keep], margins[keep]
    scale = 13.0 / float(margins.min())
    params["W2"], params["b2"] = params["W2"] * scale, params["b2"] * scale
    return _ref_prec.to_master(params), X, scores.argmax(axis=1).astype(np.int64)


_F16_SUBS = ("float16 gradients, early in training (S = 1)", "underflow without scaling (S = 1)",
             "loss scaling recovers them (S = 2**16)", "loss")


def _f16_problem(got: Any, keys, label: str) -> tuple[dict | None, str | None]:
    d, problem = _grads_dict(got, keys, label)
    if problem:
        return None, problem
    for k in keys:
        v = d[k]
        if not isinstance(v, np.ndarray):
            return None, f"{label}[{k!r}] must be a NumPy array, got {type(v).__name__} ({brief(v)})."
        if v.dtype != np.float16:
            return None, (f"{label}[{k!r}] has dtype {v.dtype}; the backward must produce float16 arrays."
                          + describe(diagnoses.get("FP16_BACKWARD_NOT_FP16")))
    return d, None


def check_mlp_grads_fp16(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``mlp_grads_fp16(params, X, y, loss_scale) -> (loss, grads16)``.

    Contract: params float32 master weights {"W1", "b1", ..., "WL", "bL"} of a ReLU MLP, X (N, D) float64, y (N,)
    int64, loss_scale S. Cast the weights and X to float16, run the forward in float16 (h @ W + b, ReLU between
    layers), compute the loss and dscores = (softmax - onehot) / N in float64 from the float16 scores, cast
    S * dscores to float16 and run the whole backward in float16 (dW = h.T @ dz, db = dz.sum(0),
    dz_prev = (dz @ W.T) * (z_prev > 0)). Return the (unscaled) loss and the float16 gradients, which are
    S times the gradient. Inputs unchanged.

    Sub-checks: "float16 gradients, early in training (S = 1)" (within 1e-2 relative of the reference's float16
    gradients), "underflow without scaling (S = 1)" (a confident network: as many entries flush to exactly 0 as
    in the reference float16 backward, within 10% of the parameters), "loss scaling recovers them (S = 2**16)"
    (gradient / S within 1e-2 of the float64 gradient), "loss", "inputs left unchanged". Named mistake:
    FP16_BACKWARD_NOT_FP16 (float64 computation cast at the end, or float32/float64 results).
    """
    require_callable(fn, "mlp_grads_fp16", 4)
    g = _Grading("a float16 backward with loss scaling", points, seed, _F16_SUBS)
    label = "mlp_grads_fp16()"
    E, U, R, Lo = _F16_SUBS
    rng = np.random.default_rng(seed)
    early = _ref_prec.to_master(_ref_net.init_params([3, 8, 4], "he", rng))
    Xe, ye = rng.standard_normal((16, 3)), rng.integers(0, 4, 16)
    conf, Xc, yc = confident_network(seed)
    cases = [(E, early, Xe, ye, 1.0), (U, conf, Xc, yc, 1.0), (R, conf, Xc, yc, 2.0**16)]
    if thorough:
        cases.append((E, _ref_prec.to_master(_ref_net.init_params([5, 6, 7, 3], "he", rng)),
                      rng.standard_normal((12, 5)), rng.integers(0, 3, 12), 1.0))
    try:
        for sub, params, X, y, S in cases:
            where = f"layers {[params['W1'].shape[0]] + [params[k].shape[1] for k in params if k[0] == 'W']}, S = {S:g}"
            ok, res = g.call(fn, params, X, y, S, label=label, fail=[sub, Lo], where=where)
            if not ok:
                continue
            try:
                loss, grads = unpack(res, ("loss", "grads"), label)
            except StudentCodeError as exc:
                g.fail(sub, f"{where}: {exc}")
                continue
            want_loss, g16, g64, _ = _ref_prec._fp16_pass(params, X, y, S)
            problem = _scalar_problem(loss, want_loss, tol=1e-6)
            if problem:
                g.fail(Lo, f"{where}: {problem} (the loss comes from the float16 scores, computed in float64)")
            got, problem = _f16_problem(grads, list(params), "grads")
            if problem:
                g.fail(sub, f"{where}: {problem}")
                continue
            if sub == U:
                nonzero = sum(int(np.sum(g64[k] != 0)) for k in g64)
                want_z = sum(int(np.sum((g16[k] == 0) & (g64[k] != 0))) for k in g64)
                got_z = sum(int(np.sum((got[k] == 0) & (g64[k] != 0))) for k in g64)
                if abs(got_z - want_z) > 0.1 * nonzero:
                    text = (f"{where}: {got_z} of {nonzero} nonzero gradient entries are exactly 0 in your float16 "
                            f"gradients; a float16 backward flushes {want_z} (the per-example signals below 2**-25 "
                            f"round to 0 before they are summed).")
                    if got_z < want_z:
                        text += describe(diagnoses.get("FP16_BACKWARD_NOT_FP16"))
                    g.fail(sub, text)
                continue
            finite = all(np.all(np.isfinite(got[k])) for k in got)
            if not finite:
                g.fail(sub, f"{where}: inf or NaN in your float16 gradients (the reference has none).")
                continue
            a = np.concatenate([got[k].astype(np.float64).ravel() for k in params])
            if sub == R:  # the unscaled float16 gradient against the float64 one
                a, b, what = a / S, np.concatenate([g64[k].ravel() for k in params]), "the float64 gradient"
            else:
                b, what = np.concatenate([g16[k].astype(np.float64).ravel() for k in params]), "a float16 backward"
            err = rel_error(a, b)
            if not err < FP16_TOL:
                text = f"{where}: relative error {err:.2e} against {what} (tolerance {FP16_TOL:g})."
                if sub == R and rel_error(a * S, b) < FP16_TOL:
                    text += describe(diagnoses.get("LOSS_SCALE_NOT_UNSCALED"))
                g.fail(sub, text)
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ the step


_STEP_SUBS = ("update of the float32 master weights", "overflow: step skipped, scale halved",
              "growth after growth_interval good steps")


def _step_reference(master: dict, grads16: dict, S: float, good: int, lr: float, interval: int):
    g32 = _ref_prec.unscale_grads(grads16, S)
    found_inf = not _ref_prec.grads_are_finite(g32)
    new_S, new_good, take = _ref_prec.update_loss_scale(S, good, found_inf, growth_interval=interval)
    if not take:
        return {k: v.copy() for k, v in master.items()}, new_S, new_good, False
    return {k: (master[k] - np.float32(lr) * g32[k]).astype(np.float32) for k in master}, new_S, new_good, True


def _step_cases(rng: np.random.Generator, thorough: bool):
    def make(bad: str | None, good: int, interval: int, S: float):
        master = {"W1": rng.standard_normal((3, 4)).astype(np.float32), "b1": rng.standard_normal(4).astype(np.float32)}
        grads = {k: (rng.standard_normal(v.shape) * S * 1e-3).astype(np.float16) for k, v in master.items()}
        if bad:
            grads["W1"][1, 2] = np.float16(np.inf if bad == "inf" else np.nan)
        return master, grads, S, good, 0.1, interval
    cases = [(_STEP_SUBS[0], make(None, 3, 2000, 1024.0)), (_STEP_SUBS[1], make("inf", 7, 2000, 65536.0)),
             (_STEP_SUBS[2], make(None, 9, 10, 256.0))]
    if thorough:
        cases += [(_STEP_SUBS[1], make("nan", 0, 2000, 8.0)), (_STEP_SUBS[0], make(None, 0, 5, 1.0)),
                  (_STEP_SUBS[2], make(None, 0, 1, 2.0**10))]
    return cases


def check_mixed_precision_step(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``mixed_precision_step(master, grads16, loss_scale, good_steps, lr, growth_interval)
    -> (new_master, new_scale, new_good_steps, took_step)``.

    Contract: master float32 weights (dict), grads16 float16 gradients scaled by loss_scale (same keys), good_steps
    the number of overflow-free steps since the scale last changed. Unscale in float32 (g = grads16 / S). If some
    g is inf or NaN: return copies of the master weights unchanged, S * 0.5, 0, False. Otherwise return the new
    float32 weights master - lr * g, and good_steps + 1 with S; when good_steps + 1 reaches growth_interval,
    S * 2 and 0 instead; took_step True. Inputs unchanged.

    Sub-checks: "update of the float32 master weights" (values within 1e-6, dtype float32), "overflow: step skipped,
    scale halved", "growth after growth_interval good steps", "inputs left unchanged". Named mistakes:
    LOSS_SCALE_NOT_UNSCALED, MASTER_WEIGHTS_FP16, OVERFLOW_STEP_TAKEN, LOSS_SCALE_UPDATE.
    """
    require_callable(fn, "mixed_precision_step", 6)
    g = _Grading("a mixed-precision step with dynamic loss scaling", points, seed, _STEP_SUBS)
    label = "mixed_precision_step()"
    try:
        for sub, (master, grads, S, good, lr, interval) in _step_cases(np.random.default_rng(seed), thorough):
            where = f"S = {S:g}, good_steps = {good}, growth_interval = {interval}"
            ok, res = g.call(fn, master, grads, S, good, lr, interval, label=label, fail=[sub], where=where)
            if not ok:
                continue
            try:
                new, new_S, new_good, took = unpack(res, ("new_master", "new_scale", "new_good_steps", "took_step"),
                                                    label)
            except StudentCodeError as exc:
                g.fail(sub, f"{where}: {exc}")
                continue
            want, want_S, want_good, want_took = _step_reference(master, grads, S, good, lr, interval)
            problem = _master_problem(new, want, master, grads, S, lr)
            if problem:
                if not want_took and "Likely mistake" not in problem:
                    problem += describe(diagnoses.get("OVERFLOW_STEP_TAKEN"))
                g.fail(sub, f"{where}: {problem}")
                continue
            if not isinstance(took, (bool, np.bool_)) or bool(took) != want_took:
                g.fail(sub, f"{where}: took_step = {brief(took)}, expected {want_took}."
                       + (describe(diagnoses.get("OVERFLOW_STEP_TAKEN")) if not want_took else ""))
                continue
            v_S, v_good = real_number(new_S), real_number(new_good)
            if v_S is None or v_good is None or v_S != want_S or int(v_good) != want_good or v_good != int(v_good):
                g.fail(sub, f"{where}: new scale {brief(new_S)} and good steps {brief(new_good)}, expected {want_S:g} "
                            f"and {want_good}." + describe(diagnoses.get("LOSS_SCALE_UPDATE")))
    except _Stop:
        pass
    return g.finish()


def _master_problem(new: Any, want: dict, master: dict, grads: dict, S: float, lr: float) -> str | None:
    d, problem = _grads_dict(new, list(want), "new_master")
    if problem:
        return problem
    for k in want:
        v = d[k]
        if not isinstance(v, np.ndarray) or v.shape != want[k].shape:
            return f"new_master[{k!r}] must be an array of shape {want[k].shape}, got {brief(v)}."
        if v.dtype != np.float32:
            text = f"new_master[{k!r}] has dtype {v.dtype}; the master weights stay float32."
            if v.dtype == np.float16:
                text += describe(diagnoses.get("MASTER_WEIGHTS_FP16"))
            return text
        with np.errstate(all="ignore"):
            if not np.all(np.isfinite(v)):
                return f"new_master[{k!r}] contains inf or NaN."
            err = rel_error(v.astype(np.float64), want[k].astype(np.float64))
        if err > 1e-6:
            text = f"new_master[{k!r}] differs from the expected weights (relative error {err:.2e})."
            with np.errstate(all="ignore"):
                unscaled = (master[k] - np.float32(lr) * grads[k].astype(np.float32)).astype(np.float32)
                half = (master[k].astype(np.float16) - np.float16(lr) * (grads[k].astype(np.float16)
                                                                          / np.float16(S))).astype(np.float32)
            if np.all(np.isfinite(unscaled)) and rel_error(v, unscaled) < 1e-6:
                text += describe(diagnoses.get("LOSS_SCALE_NOT_UNSCALED"))
            elif rel_error(v, half) < 1e-6:
                text += describe(diagnoses.get("MASTER_WEIGHTS_FP16"))
            return text
    return None
