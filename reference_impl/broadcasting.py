"""Gradients through NumPy broadcasting: the unbroadcast rule and broadcast binary operations.

When an operand of shape ``s`` is broadcast to the output shape ``S`` (``out = a + b`` with ``b`` a bias,
``out = gamma * xhat`` with ``gamma`` a per-feature scale), every entry of the operand is *reused* along the
broadcast axes. A reused value collects one gradient contribution per use, so its gradient is the upstream
gradient SUMMED over those axes:

* leading axes that broadcasting added (``len(S) - len(s)`` of them) are summed away;
* axes where ``s`` has size 1 but ``S`` does not are summed with ``keepdims=True`` (the size-1 axis stays).

That is :func:`unbroadcast`. A bias gradient ``db = dout.sum(axis=0)`` and batchnorm's
``dgamma = (dout * xhat).sum(axis=0)``, ``dbeta = dout.sum(axis=0)`` are its special cases.

Functions follow the cs231n contract: ``out, cache = *_forward(...)``, ``grads = *_backward(dout, cache)``
with the gradients in the order of the forward's array arguments. Inputs are never modified.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape

__all__ = ["BINARY_OPS", "broadcast_shape", "broadcasts_to", "unbroadcast", "binary_forward", "binary_backward",
           "bias_add_forward", "bias_add_backward", "scale_shift_forward", "scale_shift_backward"]

BINARY_OPS = ("add", "sub", "mul", "div")


def _check_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints (a plain int means a 1-D shape)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of non-negative ints, got {shape!r}") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0:
            raise TypeError(f"{name} must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def broadcast_shape(shape_a, shape_b) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives ``shape_a`` and ``shape_b``.

    Align the shapes on the right; on every axis the sizes must be equal or one of them 1 (a missing
    leading axis counts as 1). Raises ValueError naming the first axis (counted from the right,
    as a negative index) where they clash.
    """
    a, b = _check_shape(shape_a, "shape_a"), _check_shape(shape_b, "shape_b")
    out = []
    for k in range(1, max(len(a), len(b)) + 1):
        da = a[-k] if k <= len(a) else 1
        db = b[-k] if k <= len(b) else 1
        if da != db and 1 not in (da, db):
            raise ValueError(f"shapes {a} and {b} do not broadcast: axis {-k} has sizes {da} and {db}")
        out.append(db if da == 1 else da)
    return tuple(reversed(out))


def broadcasts_to(shape, target) -> bool:
    """True if an operand of ``shape`` broadcasts to exactly ``target`` (so unbroadcast can undo it)."""
    try:
        return broadcast_shape(shape, target) == _check_shape(target, "target")
    except ValueError:
        return False


# --------------------------------------------------------------------------- unbroadcast
def unbroadcast(grad, shape):
    """Sum a gradient of the broadcast result back to the shape of the operand that was broadcast.

    If an operand ``a`` of shape ``s`` was broadcast to ``S = grad.shape``, then
    ``dL/da = grad`` summed over the ``len(S) - len(s)`` leading axes, and then over every axis ``i``
    with ``s[i] == 1 < S[i]`` keeping that axis (``keepdims=True``).

    Args:
        grad: (S) upstream gradient, any rank.
        shape: the operand's shape ``s``; it must broadcast to exactly ``S``
            (``len(s) <= len(S)`` and ``s[i]`` equal to the aligned ``S[i]`` or 1).
    Returns:
        (s) float64, a new array (never a view of ``grad``).
    Raises:
        ValueError if ``shape`` cannot be broadcast to ``grad.shape``; TypeError for a malformed shape.
    """
    grad = as_array(grad, "grad")
    shape = _check_shape(shape)
    S = grad.shape
    if len(shape) > len(S):
        raise ValueError(f"shape {shape} has more axes than grad {S}: broadcasting only adds leading axes, "
                         f"so {shape} cannot broadcast to {S}")
    lead = len(S) - len(shape)
    for i, s in enumerate(shape):
        if s != 1 and s != S[lead + i]:
            raise ValueError(f"shape {shape} cannot broadcast to grad shape {S}: axis {i} of shape has size {s} "
                             f"but the aligned grad axis {lead + i} has size {S[lead + i]} (must be equal or 1)")
    g = grad.sum(axis=tuple(range(lead)))  # leading axes added by broadcasting
    kept = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    g = g.sum(axis=kept, keepdims=True)  # size-1 axes that were stretched
    return np.array(g, dtype=np.float64, copy=True).reshape(shape)


# --------------------------------------------------------------------------- binary operations
def binary_forward(op: str, a, b):
    """Elementwise ``a op b`` with NumPy broadcasting, op in ("add", "sub", "mul", "div").

    Args:
        op: the operation name. a: shape s_a. b: shape s_b; s_a and s_b must broadcast to S.
            For "div", b must have no zero entry.
    Returns:
        out: (S); cache for binary_backward.
    """
    if op not in BINARY_OPS:
        raise ValueError(f"op must be one of {BINARY_OPS}, got {op!r}")
    a = as_array(a, "a")
    b = as_array(b, "b")
    broadcast_shape(a.shape, b.shape)  # a clear error before NumPy's
    if op == "add":
        out = a + b
    elif op == "sub":
        out = a - b
    elif op == "mul":
        out = a * b
    else:
        if np.any(b == 0):
            raise ValueError("div: b has a zero entry (a / b is undefined there)")
        out = a / b
    return out, (op, a, b)


def binary_backward(dout, cache):
    """Gradients of ``out = a op b`` for both operands, each unbroadcast to its own shape.

    Local derivatives, elementwise on the broadcast shape S:
        add: d/da = 1,   d/db = 1
        sub: d/da = 1,   d/db = -1
        mul: d/da = b,   d/db = a
        div: d/da = 1/b, d/db = -a/b^2
    then ``da = unbroadcast(dout * d/da, a.shape)`` and likewise for b.

    Args:
        dout: (S) upstream gradient. cache: from binary_forward.
    Returns:
        da: (s_a); db: (s_b).
    """
    op, a, b = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, broadcast_shape(a.shape, b.shape), "dout")
    if op == "add":
        ga, gb = dout, dout
    elif op == "sub":
        ga, gb = dout, -dout
    elif op == "mul":
        ga, gb = dout * b, dout * a
    else:
        ga, gb = dout / b, -dout * a / (b * b)
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


# --------------------------------------------------------------------------- special cases
def bias_add_forward(x, b):
    """out = x + b with a bias b broadcast over every leading axis of x.

    Args:
        x: (..., M), at least 1-D. b: (M,).
    Returns:
        out: (..., M); cache.
    """
    x = as_array(x, "x")
    b = as_array(b, "b", 1)
    if x.ndim < 1 or x.shape[-1] != b.shape[0]:
        raise ValueError(f"b must have shape ({x.shape[-1] if x.ndim else '?'},) to match the last axis of x "
                         f"{x.shape}, got {b.shape}")
    return binary_forward("add", x, b)


def bias_add_backward(dout, cache):
    """dx (..., M) = dout; db (M,) = dout summed over every leading axis (= unbroadcast(dout, (M,)))."""
    return binary_backward(dout, cache)


def scale_shift_forward(xhat, gamma, beta):
    """out = gamma * xhat + beta: the affine tail of batchnorm and layernorm.

    Args:
        xhat: shape S. gamma, beta: shapes that broadcast to S, e.g. (D,) for xhat (N, D), or
            (1, C, 1, 1) for spatial batchnorm on xhat (N, C, H, W).
    Returns:
        out: (S); cache.
    """
    xhat = as_array(xhat, "xhat")
    gamma = as_array(gamma, "gamma")
    beta = as_array(beta, "beta")
    for p, name in ((gamma, "gamma"), (beta, "beta")):
        if not broadcasts_to(p.shape, xhat.shape):
            raise ValueError(f"{name} of shape {p.shape} must broadcast to xhat's shape {xhat.shape} "
                             "(e.g. (D,) for (N, D), (1, C, 1, 1) for (N, C, H, W))")
    return gamma * xhat + beta, (xhat, gamma, beta)


def scale_shift_backward(dout, cache):
    """Gradients of out = gamma * xhat + beta.

        dxhat  = dout * gamma                          (S)
        dgamma = unbroadcast(dout * xhat, gamma.shape)  = (dout * xhat).sum(axis=0) for gamma (D,)
        dbeta  = unbroadcast(dout, beta.shape)          = dout.sum(axis=0)          for beta (D,)

    Returns:
        dxhat: (S); dgamma: gamma's shape; dbeta: beta's shape.
    """
    xhat, gamma, beta = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, xhat.shape, "dout")
    return dout * gamma, unbroadcast(dout * xhat, gamma.shape), unbroadcast(dout, beta.shape)
