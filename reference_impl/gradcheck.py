"""Numerical gradient checking by centered finite differences (float64)."""

from __future__ import annotations

from typing import Callable

import numpy as np


def _as_float64(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.float64, copy=True)


def numeric_grad(f: Callable[[np.ndarray], float], x, h: float = 1e-5) -> np.ndarray:
    """Centered-difference gradient of a scalar function.

    Args:
        f: maps an array shaped like ``x`` to a scalar.
        x: point of evaluation, any shape S. Not modified.
        h: step size.

    Returns:
        grad: shape S, ``grad[i] ~= (f(x + h e_i) - f(x - h e_i)) / (2h)``.
    """
    x = _as_float64(x, "x")
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = float(f(x))
        flat[i] = old - h
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def numeric_vjp(f: Callable[[np.ndarray], np.ndarray], x, dout, h: float = 1e-5) -> np.ndarray:
    """Numerical vector-Jacobian product ``dout^T J_f(x)``.

    Args:
        f: maps an array shaped like ``x`` (shape S) to an array of shape O.
        x: shape S. Not modified.
        dout: upstream gradient, shape O (use a random one: ``ones`` hides mistakes).
        h: step size.

    Returns:
        shape S: the gradient of ``sum(f(x) * dout)`` with respect to ``x``.
    """
    dout = _as_float64(dout, "dout")

    def scalar(z: np.ndarray) -> float:
        out = np.asarray(f(z), dtype=np.float64)
        if out.shape != dout.shape:
            raise ValueError(f"f(x) has shape {out.shape} but dout has shape {dout.shape}")
        return float(np.sum(out * dout))

    return numeric_grad(scalar, x, h)


def rel_error(a, b) -> float:
    """Whole-array relative error ``max|a - b| / max(1e-8, max(|a| + |b|))``.

    Scale-aware: tiny entries of a large gradient do not dominate the result.
    Raises ValueError if shapes differ (comparing broadcast arrays hides bugs).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))
