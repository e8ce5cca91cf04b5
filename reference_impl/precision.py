"""Mixed-precision training in NumPy float16: underflow, loss scaling with overflow checks, fp32 master weights.

float16 facts (``np.finfo(np.float16)``): largest value 65504; smallest normal 2^-14 ~ 6.1e-5; smallest
subnormal 2^-24 ~ 6.0e-8 (anything below half of it rounds to 0); 11 significant bits, so the spacing
of numbers near 1.0 is 2^-10 ~ 9.8e-4.

The recipe frameworks use (autocast + GradScaler), reproduced here on an MLP:

1. Keep **float32 master weights**. Each step casts them to float16 for the forward and backward.
   (An update lr * g smaller than half the float16 spacing of a weight would vanish if the weights
   themselves were float16: :func:`lost_update_fraction`.)
2. Compute the loss in high precision, multiply it by the **loss scale** S, and run the backward in
   float16. Late in training, when most examples are classified confidently, many per-example gradients
   fall below 2^-25 and flush to zero, and many parameter gradients become subnormals with few significant
   bits (:func:`underflow_report` measures both); multiplying by S shifts them back into float16's range.
   Every gradient is scaled by S (the backward is linear in the upstream gradient), so g / S is unbiased.
3. Unscale in float32 (g / S). If any gradient is inf or NaN (S too large: something passed 65504),
   **skip the step**. Dynamic scaling (:func:`update_loss_scale`) halves S after an overflow and doubles
   it after ``growth_interval`` overflow-free steps in a row.

Unlike the rest of reference_impl this module works in float16/float32 on purpose; everything that is
compared with it (reference gradients) is float64.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl import losses, network
from reference_impl._checks import as_array

__all__ = ["FP16_MAX", "FP16_SMALLEST_NORMAL", "FP16_SMALLEST_SUBNORMAL", "SCALING_MODES", "to_master",
           "fp16_loss_and_grads", "unscale_grads", "grads_are_finite", "update_loss_scale", "underflow_report",
           "lost_update_fraction", "train_mixed_precision"]

FP16_MAX = float(np.finfo(np.float16).max)  # 65504.0
FP16_SMALLEST_NORMAL = float(np.finfo(np.float16).smallest_normal)  # 2**-14
FP16_SMALLEST_SUBNORMAL = float(np.finfo(np.float16).smallest_subnormal)  # 2**-24
SCALING_MODES = ("none", "static", "dynamic")


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"loss scale must be a positive finite number, got {scale!r}")
    return float(scale)


def to_master(params):
    """float32 copies of a parameter dict: the master weights."""
    return {k: np.array(v, dtype=np.float32, copy=True) for k, v in params.items()}


def fp16_loss_and_grads(master, X, y, loss_scale: float = 1.0):
    """Loss and float16 gradients of the ReLU MLP (softmax cross-entropy), the backward run in float16.

    Forward in float16 from the cast weights: z_l = h_{l-1} @ W_l + b_l, h_l = relu(z_l), scores = z_L.
    The loss and dscores = (softmax - onehot) / N are computed in float64 from the float16 scores;
    the backward starts from ``(dscores * loss_scale)`` rounded to float16 and stays in float16:
        dW_l = h_{l-1}.T @ dz_l,  db_l = sum_n dz_l,  dz_{l-1} = (dz_l @ W_l.T) * 1[z_{l-1} > 0].
    Every array is float16; matrix products and sums accumulate in float32 and round the result to
    float16 (as GPU tensor cores do), so the errors measured are float16's range and storage, not a
    float16 running sum.

    Args:
        master: {"W1": (d0, d1), "b1": (d1,), ...} (any float dtype; cast to float16).
        X: (N, d0). y: (N,) integer labels. loss_scale: S > 0.
    Returns:
        loss: float (unscaled). grads: dict of float16 arrays = S * gradient, possibly containing inf/NaN
        (overflow) or zeros where the true gradient underflowed.
    Raises:
        FloatingPointError if the float16 forward overflows (scaling cannot fix that).
    """
    loss, grads, _, _ = _fp16_pass(master, X, y, _check_scale(loss_scale))
    return loss, grads


def _matmul16(a, b):
    """float16 @ float16 -> float16 with float32 accumulation (what GPU tensor cores do)."""
    return (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)


def _fp16_pass(master, X, y, S: float):
    """The float16 pass of fp16_loss_and_grads, with a float64 twin of its backward.

    The twin starts from the unscaled float64 dscores and uses the same float16 activations and weights
    (upcast), so the two backwards differ only by float16 rounding, underflow and overflow.
    Returns (loss, grads16, grads64, (flushed signals, nonzero signals)) where a "signal" is an entry of
    dscores or of a dz_l, i.e. one example's gradient with respect to one unit.
    """
    L = network.num_layers(master)
    p16 = {k: np.asarray(v).astype(np.float16) for k, v in master.items()}
    with np.errstate(over="ignore", invalid="ignore"):
        hs, zs = [as_array(X, "X", 2).astype(np.float16)], []
        for l in range(1, L + 1):
            z = _matmul16(hs[-1], p16[f"W{l}"]) + p16[f"b{l}"]
            zs.append(z)
            if l < L:
                hs.append(np.maximum(z, np.float16(0)))
        if not np.all(np.isfinite(zs[-1])):
            raise FloatingPointError("the float16 forward overflowed (a score exceeds 65504); loss scaling only "
                                     "protects the backward")
        loss, dscores = losses.softmax_cross_entropy(zs[-1].astype(np.float64), y)
        dz16, dz64 = (dscores * S).astype(np.float16), dscores
        grads16, grads64, flushed, nonzero = {}, {}, 0, 0
        for l in range(L, 0, -1):
            flushed += int(np.sum((dz64 != 0) & (dz16 == 0)))
            nonzero += int(np.sum(dz64 != 0))
            grads16[f"W{l}"] = _matmul16(hs[l - 1].T, dz16)
            grads16[f"b{l}"] = dz16.sum(axis=0, dtype=np.float32).astype(np.float16)
            grads64[f"W{l}"] = hs[l - 1].astype(np.float64).T @ dz64
            grads64[f"b{l}"] = dz64.sum(axis=0)
            if l > 1:
                dz16 = _matmul16(dz16, p16[f"W{l}"].T) * (zs[l - 2] > 0)
                dz64 = (dz64 @ p16[f"W{l}"].astype(np.float64).T) * (zs[l - 2] > 0)
    return loss, grads16, grads64, (flushed, nonzero)


def unscale_grads(grads, loss_scale: float):
    """float32 gradients g / S from float16 gradients scaled by S (inf/NaN stay inf/NaN)."""
    S = _check_scale(loss_scale)
    with np.errstate(over="ignore", invalid="ignore"):
        return {k: np.asarray(g).astype(np.float32) / np.float32(S) for k, g in grads.items()}


def grads_are_finite(grads) -> bool:
    """False if any gradient entry is inf or NaN (an overflow: the step must be skipped)."""
    return all(bool(np.all(np.isfinite(g))) for g in grads.values())


def update_loss_scale(scale: float, good_steps: int, found_inf: bool, *, growth_interval: int = 2000,
                      growth_factor: float = 2.0, backoff_factor: float = 0.5):
    """One step of dynamic loss scaling (the rule of PyTorch's GradScaler).

        overflow:  skip the step, scale *= backoff_factor, good_steps = 0
        otherwise: take the step, good_steps += 1; when good_steps reaches growth_interval,
                   scale *= growth_factor and good_steps = 0

    Args:
        scale: current S > 0. good_steps: overflow-free steps since the last change (>= 0).
        found_inf: whether this step's gradients contained inf/NaN.
    Returns:
        (new_scale, new_good_steps, take_step).
    """
    scale = _check_scale(scale)
    if isinstance(good_steps, bool) or not isinstance(good_steps, numbers.Integral) or good_steps < 0:
        raise ValueError(f"good_steps must be an int >= 0, got {good_steps!r}")
    if isinstance(growth_interval, bool) or not isinstance(growth_interval, numbers.Integral) or growth_interval < 1:
        raise ValueError(f"growth_interval must be an int >= 1, got {growth_interval!r}")
    if not growth_factor > 1.0 or not 0.0 < backoff_factor < 1.0:
        raise ValueError(f"need growth_factor > 1 and 0 < backoff_factor < 1, got {growth_factor!r}, "
                         f"{backoff_factor!r}")
    if found_inf:
        return scale * backoff_factor, 0, False
    good_steps += 1
    if good_steps >= growth_interval:
        return scale * growth_factor, 0, True
    return scale, good_steps, True


def _compare(g16, g64, S: float) -> dict:
    """Flushed / subnormal fractions and relative error of float16 gradients g16 (scaled by S) vs float64 g64."""
    flushed = subnormal = nonzero = 0
    per_param = {}
    for k, g in g64.items():
        nz = g != 0
        lost = nz & (g16[k] == 0)
        per_param[k] = float(lost.sum() / max(1, nz.sum()))
        flushed += int(lost.sum())
        subnormal += int(np.sum(nz & (np.abs(g16[k]) < FP16_SMALLEST_NORMAL)))
        nonzero += int(nz.sum())
    finite = grads_are_finite(g16)
    rel = None
    if finite:
        g32 = unscale_grads(g16, S)
        a = np.concatenate([g32[k].astype(np.float64).ravel() for k in g64])
        b = np.concatenate([g64[k].ravel() for k in g64])
        rel = float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))
    return {"overflow": not finite, "param_flushed": flushed / max(1, nonzero),
            "param_subnormal": subnormal / max(1, nonzero), "flushed_per_param": per_param, "rel_error": rel}


def underflow_report(master, X, y, loss_scale: float = 1.0):
    """Measure what a float16 backward with loss scale S loses against the same backward in float64.

    The reference is the float64 backward from the same float16 forward (same activations, weights and
    dscores), so the differences are float16's range and rounding in the backward only.

    Returns a dict:
        "loss_scale": S.
        "overflow": True if some scaled float16 gradient is inf/NaN (the step would be skipped).
        "signal_flushed": fraction of the nonzero per-example backward signals (entries of S * dscores and of
            every S * dz_l) that are 0 in float16: gradients that underflowed before being summed into dW.
        "param_flushed": fraction of nonzero parameter-gradient entries that are exactly 0 in float16.
        "param_subnormal": fraction of nonzero parameter-gradient entries stored as 0 or as a float16
            subnormal (|g * S| < 2^-14: fewer than 11 significant bits).
        "flushed_per_param": param_flushed for every parameter.
        "rel_error": rel_error(float16 gradient / S, float64 gradient) over all parameters (None on overflow).
    """
    S = _check_scale(loss_scale)
    _, g16, g64, (flushed, nonzero) = _fp16_pass(master, X, y, S)
    report = {"loss_scale": S, "signal_flushed": flushed / max(1, nonzero)}
    report.update(_compare(g16, g64, S))
    return report


def lost_update_fraction(params, grads, lr: float):
    """Why the master weights are float32: the fraction of nonzero updates lr * g that change nothing.

    For each entry with lr * g != 0, the update is lost in a dtype if ``dtype(w) - dtype(lr * g)``,
    rounded to that dtype, equals ``dtype(w)`` (|lr * g| below half the dtype's spacing at w).

    Args:
        params: dict of weights. grads: dict of gradients, same keys and shapes. lr: > 0.
    Returns:
        {"float16": fraction, "float32": fraction} over all nonzero updates.
    """
    lr = _check_scale(lr)
    out = {}
    for dtype in (np.float16, np.float32):
        lost, total = 0, 0
        with np.errstate(over="ignore", under="ignore"):
            for k, w in params.items():
                step = np.asarray(grads[k], dtype=np.float64) * lr
                w_t = np.asarray(w).astype(dtype)
                mask = step != 0
                new = (w_t - step.astype(dtype)).astype(dtype)
                lost += int(np.sum(mask & (new == w_t)))
                total += int(mask.sum())
        out[np.dtype(dtype).name] = lost / max(1, total)
    return out


def train_mixed_precision(params, X, y, *, lr: float, steps: int, scaling: str = "dynamic",
                          loss_scale: float = 2.0**16, growth_interval: int = 2000, growth_factor: float = 2.0,
                          backoff_factor: float = 0.5):
    """SGD on the ReLU MLP with float16 forward/backward and float32 master weights.

    Each step: grads16 = fp16_loss_and_grads(master, X, y, S); g = grads16 / S in float32; if some g is
    inf/NaN the step is SKIPPED (weights unchanged), otherwise master -= lr * g (float32). The scale S:
        "none":    S = 1 always (no scaling);
        "static":  S = loss_scale always (overflowing steps are skipped, S never changes);
        "dynamic": S starts at loss_scale and follows :func:`update_loss_scale`.

    Args:
        params: initial weights (copied to float32 masters; not modified). X: (N, d0). y: (N,) labels.
        lr: > 0. steps: >= 0.
    Returns:
        dict with "params" (final float32 masters), "losses" (loss at every step), "scales" (S used at every
        step), "skipped" (indices of skipped steps), "n_skipped", "signal_flushed" (per step: the fraction of
        nonzero per-example backward signals that were 0 in float16, as in underflow_report).
    """
    if scaling not in SCALING_MODES:
        raise ValueError(f"scaling must be one of {SCALING_MODES}, got {scaling!r}")
    lr = _check_scale(lr)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    S = 1.0 if scaling == "none" else _check_scale(loss_scale)
    master = to_master(params)
    good = 0
    losses_, scales, skipped, flushed = [], [], [], []
    for t in range(steps):
        loss, g16, _, (n_flushed, n_nonzero) = _fp16_pass(master, X, y, S)
        flushed.append(n_flushed / max(1, n_nonzero))
        losses_.append(float(loss))
        scales.append(S)
        g32 = unscale_grads(g16, S)
        finite = grads_are_finite(g32)
        if scaling == "dynamic":
            S, good, take = update_loss_scale(S, good, not finite, growth_interval=growth_interval,
                                              growth_factor=growth_factor, backoff_factor=backoff_factor)
        else:
            take = finite
        if not take:
            skipped.append(t)
            continue
        for k in master:
            master[k] = (master[k] - np.float32(lr) * g32[k]).astype(np.float32)
    return {"params": master, "losses": losses_, "scales": scales, "skipped": skipped,
            "n_skipped": len(skipped), "signal_flushed": flushed}
