"""Layers with forward/backward pairs (cs231n contract), batch-major, float64.

Every ``*_forward`` returns ``(out, cache)`` and every ``*_backward(dout, cache)`` returns the
gradients with respect to the forward's array arguments, in the same order.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape


# --------------------------------------------------------------------------- affine
def affine_forward(x, W, b):
    """out = x @ W + b.

    Args:
        x: (N, D) inputs. W: (D, M) weights. b: (M,) bias.
    Returns:
        out: (N, M); cache: (x, W).
    """
    x = as_array(x, "x", 2)
    W = as_array(W, "W", 2)
    b = as_array(b, "b", 1)
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"W must have shape ({x.shape[1]}, M) to match x {x.shape}, got {W.shape}")
    expect_shape(b, (W.shape[1],), "b")
    return x @ W + b, (x, W)


def affine_backward(dout, cache):
    """Gradients of the affine layer.

    Args:
        dout: (N, M) upstream gradient. cache: from affine_forward.
    Returns:
        dx: (N, D) = dout @ W.T; dW: (D, M) = x.T @ dout; db: (M,) = dout summed over the batch.
    """
    x, W = cache
    dout = as_array(dout, "dout", 2)
    expect_shape(dout, (x.shape[0], W.shape[1]), "dout")
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


# --------------------------------------------------------------------------- activations
def relu_forward(x):
    """out = max(0, x); x any shape S. Returns (out (S), cache = x)."""
    x = as_array(x, "x")
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    """dx (S) = dout * 1[x > 0] (the subgradient at 0 is taken as 0)."""
    x = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, x.shape, "dout")
    return dout * (x > 0)


def leaky_relu_forward(x, alpha: float = 0.01):
    """out = x where x > 0 else alpha * x; x any shape S. Returns (out (S), cache)."""
    x = as_array(x, "x")
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    """dx (S) = dout * (1 if x > 0 else alpha)."""
    x, alpha = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, x.shape, "dout")
    return dout * np.where(x > 0, 1.0, alpha)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Two branches so that exp never overflows.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), overflow-free; x any shape S. The cache is the output."""
    x = as_array(x, "x")
    out = _sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """dx (S) = dout * s * (1 - s), where s is the cached *output* (never re-apply sigmoid to it)."""
    s = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, s.shape, "dout")
    return dout * s * (1.0 - s)


def tanh_forward(x):
    """out = tanh(x); x any shape S. The cache is the output."""
    x = as_array(x, "x")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx (S) = dout * (1 - tanh(x)^2), computed from the cached output."""
    t = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, t.shape, "dout")
    return dout * (1.0 - t * t)


# --------------------------------------------------------------------------- max pooling
def _pool_out_len(size: int, pool: int, stride: int, name: str) -> int:
    if pool < 1 or stride < 1:
        raise ValueError(f"pool and stride must be >= 1, got pool={pool}, stride={stride}")
    if size < pool:
        raise ValueError(f"{name} ({size}) is smaller than the pool ({pool})")
    return (size - pool) // stride + 1


def max_pool1d_forward(x, pool: int, stride: int):
    """1-D max pooling over the last axis.

    Args:
        x: (N, C, L). pool: window length. stride: step between windows.
    Returns:
        out: (N, C, L_out) with L_out = (L - pool) // stride + 1; cache.
    """
    x = as_array(x, "x", 3)
    n_out = _pool_out_len(x.shape[2], pool, stride, "L")
    # windows: (N, C, L_out, pool)
    idx = np.arange(n_out)[:, None] * stride + np.arange(pool)[None, :]
    windows = x[:, :, idx]
    arg = windows.argmax(axis=-1)  # first maximum wins ties
    out = np.take_along_axis(windows, arg[..., None], axis=-1)[..., 0]
    return out, (x.shape, idx, arg)


def max_pool1d_backward(dout, cache):
    """dx (N, C, L): each window's upstream gradient goes to its (first) maximal element, summed over windows."""
    x_shape, idx, arg = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, arg.shape, "dout")
    dx = np.zeros(x_shape)
    N, C, _ = x_shape
    positions = idx[np.arange(idx.shape[0])[None, None, :], arg]  # (N, C, L_out)
    n_idx = np.arange(N)[:, None, None]
    c_idx = np.arange(C)[None, :, None]
    np.add.at(dx, (n_idx, c_idx, positions), dout)  # overlapping windows accumulate
    return dx


def max_pool2d_forward(x, pool_h: int, pool_w: int, stride: int):
    """2-D max pooling.

    Args:
        x: (N, C, H, W).
    Returns:
        out: (N, C, H_out, W_out), H_out = (H - pool_h) // stride + 1, likewise W_out; cache.
    """
    x = as_array(x, "x", 4)
    N, C, H, W = x.shape
    h_out = _pool_out_len(H, pool_h, stride, "H")
    w_out = _pool_out_len(W, pool_w, stride, "W")
    rows = np.arange(h_out)[:, None] * stride + np.arange(pool_h)[None, :]  # (H_out, ph)
    cols = np.arange(w_out)[:, None] * stride + np.arange(pool_w)[None, :]  # (W_out, pw)
    # windows: (N, C, H_out, W_out, ph*pw) in row-major window order
    windows = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]
    windows = windows.reshape(N, C, h_out, w_out, pool_h * pool_w)
    arg = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, arg[..., None], axis=-1)[..., 0]
    return out, (x.shape, rows, cols, pool_w, arg)


def max_pool2d_backward(dout, cache):
    """dx (N, C, H, W): each window's upstream gradient goes to its (first) maximal element."""
    x_shape, rows, cols, pool_w, arg = cache
    dout = as_array(dout, "dout")
    expect_shape(dout, arg.shape, "dout")
    N, C, h_out, w_out = arg.shape
    r = rows[np.arange(h_out)[:, None], arg // pool_w]  # (N, C, H_out, W_out) via broadcasting
    c = cols[np.arange(w_out)[None, :], arg % pool_w]
    dx = np.zeros(x_shape)
    n_idx = np.arange(N)[:, None, None, None]
    c_idx = np.arange(C)[None, :, None, None]
    np.add.at(dx, (n_idx, c_idx, r, c), dout)
    return dx


# --------------------------------------------------------------------------- residual block
def residual_forward(x, W1, b1, W2, b2):
    """out = x + F(x) with F(x) = relu(x @ W1 + b1) @ W2 + b2.

    Args:
        x: (N, D). W1: (D, H). b1: (H,). W2: (H, D). b2: (D,).
    Returns:
        out: (N, D); cache.
    """
    a, cache_a = affine_forward(x, W1, b1)
    h, cache_r = relu_forward(a)
    f, cache_b = affine_forward(h, W2, b2)
    if f.shape != cache_a[0].shape:
        raise ValueError(f"F(x) has shape {f.shape} but x has shape {cache_a[0].shape}; W2 must be (H, D)")
    return cache_a[0] + f, (cache_a, cache_r, cache_b)


def residual_backward(dout, cache):
    """Returns (dx (N, D), dW1, db1, dW2, db2).

    The skip path contributes the identity: dx = dout + (dF/dx)^T dout.
    """
    cache_a, cache_r, cache_b = cache
    dh, dW2, db2 = affine_backward(dout, cache_b)
    da = relu_backward(dh, cache_r)
    dx_f, dW1, db1 = affine_backward(da, cache_a)
    return dout + dx_f, dW1, db1, dW2, db2


# --------------------------------------------------------------------------- dropout
def dropout_forward(x, p_drop: float, rng: np.random.Generator, train: bool = True):
    """Inverted dropout: zero each unit with probability p_drop, scale survivors by 1/(1-p_drop).

    With keep mask m (m_i = 1 with probability 1 - p), out = x * m / (1 - p), so
    E[out_i] = x_i (1 - p) / (1 - p) = x_i: the expected activation is the same in training and at test
    time, where the layer is the identity (no rescaling needed at inference).

    Args:
        x: any shape S. p_drop: in [0, 1). rng: the caller's Generator (no global state).
        train: at test time the layer is the identity.
    Returns:
        out: (S); cache: the scaled mask (S) or None at test time.
    """
    x = as_array(x, "x")
    if isinstance(p_drop, bool) or not isinstance(p_drop, numbers.Real) or not 0.0 <= p_drop < 1.0:
        raise ValueError(f"p_drop must be a number in [0, 1), got {p_drop!r}")
    if not train:
        return x.copy(), None
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")
    mask = (rng.random(x.shape) >= p_drop) / (1.0 - p_drop)
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx (S) = dout * mask (identity at test time)."""
    dout = as_array(dout, "dout")
    if cache is None:
        return dout.copy()
    expect_shape(dout, cache.shape, "dout")
    return dout * cache
