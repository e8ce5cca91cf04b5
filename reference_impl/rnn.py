"""Vanilla tanh RNN: one step, the unrolled sequence, full and truncated BPTT, gradient clipping.

    h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b),   t = 0..T-1,   h[:, -1] = h0.

Shapes: N sequences, T steps, D input features, H hidden units; float64 throughout.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape


def _check_params(D: int, H: int, Wx, Wh, b):
    Wx = as_array(Wx, "Wx", 2)
    Wh = as_array(Wh, "Wh", 2)
    b = as_array(b, "b", 1)
    expect_shape(Wx, (D, H), "Wx")
    expect_shape(Wh, (H, H), "Wh")
    expect_shape(b, (H,), "b")
    return Wx, Wh, b


# --------------------------------------------------------------------------- one step
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """next_h = tanh(x @ Wx + h_prev @ Wh + b).

    Args:
        x: (N, D) inputs of this step. h_prev: (N, H) previous hidden state.
        Wx: (D, H) input-to-hidden. Wh: (H, H) hidden-to-hidden. b: (H,) bias.
    Returns:
        next_h: (N, H); cache: (x, h_prev, Wx, Wh, next_h).
    """
    x = as_array(x, "x", 2)
    h_prev = as_array(h_prev, "h_prev", 2)
    N, D = x.shape
    if h_prev.shape[0] != N:
        raise ValueError(f"h_prev must have {N} rows like x {x.shape}, got {h_prev.shape}")
    Wx, Wh, b = _check_params(D, h_prev.shape[1], Wx, Wh, b)
    next_h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return next_h, (x, h_prev, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Gradients of one step.

    Args:
        dnext_h: (N, H) upstream gradient of next_h. cache: from rnn_step_forward.
    Returns:
        dx: (N, D); dh_prev: (N, H); dWx: (D, H); dWh: (H, H); db: (H,).
    """
    x, h_prev, Wx, Wh, next_h = cache
    dnext_h = as_array(dnext_h, "dnext_h", 2)
    expect_shape(dnext_h, next_h.shape, "dnext_h")
    da = dnext_h * (1.0 - next_h**2)  # d tanh(a)/da = 1 - tanh(a)^2, from the cached output
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


# --------------------------------------------------------------------------- sequence
def rnn_forward(x, h0, Wx, Wh, b):
    """Run the RNN over a whole sequence.

    Args:
        x: (N, T, D) inputs, T >= 1. h0: (N, H) initial state. Wx: (D, H). Wh: (H, H). b: (H,).
    Returns:
        h: (N, T, H) hidden states of steps 0..T-1; cache: (x, h0, Wx, Wh, h).
    """
    x = as_array(x, "x", 3)
    h0 = as_array(h0, "h0", 2)
    N, T, D = x.shape
    if T < 1:
        raise ValueError(f"x must have at least one time step, got shape {x.shape}")
    if h0.shape[0] != N:
        raise ValueError(f"h0 must have {N} rows like x {x.shape}, got {h0.shape}")
    H = h0.shape[1]
    Wx, Wh, b = _check_params(D, H, Wx, Wh, b)
    h = np.empty((N, T, H))
    prev = h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        h[:, t] = prev
    return h, (x, h0, Wx, Wh, h)


def _check_truncate(truncate):
    if truncate is None:
        return None
    if isinstance(truncate, bool) or not isinstance(truncate, numbers.Integral) or truncate < 1:
        raise ValueError(f"truncate must be an int >= 1 or None (full BPTT), got {truncate!r}")
    return int(truncate)


SCHEMES = ("sliding", "chunked")


def rnn_backward(dh, cache, truncate=None, *, scheme="sliding"):
    """Backpropagation through time.

    Args:
        dh: (N, T, H) upstream gradients of every hidden state (the loss's direct dependence on h[:, t]).
        cache: from rnn_forward.
        truncate: None for full BPTT, or k >= 1 for truncated BPTT in one of two schemes (k >= T is full BPTT
            in both):
        scheme: "sliding", TBPTT(1, k): the gradient dh[:, t] flows back through at most k steps
            (t, t-1, ..., t-k+1). What would reach h[:, t-k] is dropped, except that it reaches h0 when
            t-k+1 == 0 (or when the window is cut short by the start of the sequence). Equivalently, the loss
            term at t is computed from h[:, t-k] treated as a constant.
            "chunked", TBPTT(k, k), what a training loop does when it detaches the hidden state every k steps:
            the sequence is cut into chunks [0, k), [k, 2k), ...; the gradient of the loss at t flows back to
            the start of its chunk, so h[:, s-1] is a constant for a chunk starting at s > 0 (the first chunk
            reaches h0). A loss term crosses between 1 and k steps.
    Returns:
        dx: (N, T, D); dh0: (N, H); dWx: (D, H); dWh: (H, H); db: (H,).
    """
    x, h0, Wx, Wh, h = cache
    dh = as_array(dh, "dh", 3)
    expect_shape(dh, h.shape, "dh")
    k = _check_truncate(truncate)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    N, T, D = x.shape
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])

    if k is None or scheme == "chunked":
        # One carry: the gradient reaching h[:, t] is dh[:, t] from the loss PLUS what flows back from t+1.
        # Chunked truncation drops the carry where a chunk starts (t = k, 2k, ...): h[:, t-1] is a constant there.
        carry = np.zeros_like(h0)
        for t in reversed(range(T)):
            h_prev = h[:, t - 1] if t > 0 else h0
            da = (dh[:, t] + carry) * (1.0 - h[:, t] ** 2)
            dx[:, t] = da @ Wx.T
            dWx += x[:, t].T @ da
            dWh += h_prev.T @ da
            db += da.sum(axis=0)
            carry = da @ Wh.T
            if k is not None and t > 0 and t % k == 0:
                carry = np.zeros_like(h0)
        return dx, carry, dWx, dWh, db

    # Truncated: the contributions of different loss terms expire at different steps, so they are kept
    # apart. carries[j] (N, H) is the gradient reaching h[:, t] from the loss term at t + j, which has
    # already crossed j steps; it may cross step t only if j < k.
    carries = np.zeros((0, N, h0.shape[1]))
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        carries = np.concatenate([dh[None, :, t], carries[: k - 1]])  # drop the terms that crossed k steps
        local = 1.0 - h[:, t] ** 2
        da = carries.sum(axis=0) * local  # parameter gradients are linear in the carries: sum them first
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        carries = (carries * local) @ Wh.T  # now at h[:, t-1], each having crossed one more step
    # Every carry still alive crossed step 0 within its window, so it reaches h0.
    return dx, carries.sum(axis=0), dWx, dWh, db


# --------------------------------------------------------------------------- gradient norm against time lag
def gradient_norms_by_lag(x, h0, Wx, Wh, b, g):
    """How the gradient of a loss at the LAST step shrinks or grows as it flows back in time.

    The loss is L = sum(g * h[:, T-1]) (only the last state is scored, upstream gradient g). Going back one
    step multiplies the gradient by the local Jacobian: dL/dh[:, t-1] = (dL/dh[:, t] * (1 - h[:, t]**2)) @ Wh.T.

    Args:
        x: (N, T, D) inputs. h0: (N, H). Wx: (D, H). Wh: (H, H). b: (H,). g: (N, H) upstream gradient dL/dh[:, T-1].
    Returns:
        norms: (T + 1,) float64. norms[k] = ||dL/dh[:, T-1-k]|| (Frobenius norm over N and H) for lag
        k = 0..T-1, and norms[T] = ||dL/dh0||. norms[0] = ||g||.
    """
    h, (x, h0, Wx, Wh, _) = rnn_forward(x, h0, Wx, Wh, b)  # validated float64 arrays
    g = as_array(g, "g", 2)
    expect_shape(g, h0.shape, "g")
    T = x.shape[1]
    norms = np.empty(T + 1)
    carry = g.copy()
    norms[0] = np.linalg.norm(carry)
    for t in reversed(range(T)):
        carry = (carry * (1.0 - h[:, t] ** 2)) @ Wh.T
        norms[T - t] = np.linalg.norm(carry)
    return norms


# --------------------------------------------------------------------------- clipping
def clip_grad_norm(grads, max_norm):
    """Clip a set of gradients by their global L2 norm.

    Args:
        grads: dict name -> array (any shapes); not modified.
        max_norm: positive finite number.
    Returns:
        new_grads: a new dict with new float64 arrays (same keys and shapes), every array scaled by
            max_norm / (total_norm + 1e-6) if total_norm > max_norm, else unchanged copies.
        total_norm: float, sqrt(sum over all arrays of sum(g**2)), measured before clipping.
    """
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real) or not (0 < max_norm < np.inf):
        raise ValueError(f"max_norm must be a positive finite number, got {max_norm!r}")
    arrays = {name: as_array(g, f"grads[{name!r}]").copy() for name, g in grads.items()}
    for name, g in arrays.items():
        if not np.all(np.isfinite(g)):
            raise ValueError(f"grads[{name!r}] contains NaN or inf; clipping cannot repair it")
    # Scale by the largest entry first so that squaring huge (exploding) gradients cannot overflow.
    peak = max((float(np.abs(g).max()) for g in arrays.values() if g.size), default=0.0)
    if peak == 0.0:
        return arrays, 0.0
    total_norm = peak * float(np.sqrt(sum(np.sum((g / peak) ** 2) for g in arrays.values())))
    if total_norm > max_norm:
        scale = max_norm / (total_norm + 1e-6)
        arrays = {name: g * scale for name, g in arrays.items()}
    return arrays, total_norm
