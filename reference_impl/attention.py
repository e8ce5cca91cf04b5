"""Softmax, scaled dot-product attention and multi-head self-attention (cs231n contract), float64.

The math, for one batch element (every function here also takes leading batch axes)::

    S = Q K^T / sqrt(d)          Q (Tq, d), K (Tk, d): one score per (query, key) pair, S (Tq, Tk)
    P = softmax(S) row by row    each query's weights over the keys sum to 1 (masked keys get exactly 0)
    O = P V                      V (Tk, dv): every output row is a weighted average of value rows, O (Tq, dv)

Backward, given dO (Tq, dv)::

    dV = P^T dO                  (V reaches O only through P V)
    dP = dO V^T
    dS = P * (dP - rowsum(dP * P))   the softmax VJP, one row at a time, never forming the (Tk, Tk) Jacobian
    dQ = dS K / sqrt(d)          dK = dS^T Q / sqrt(d)

The softmax VJP: for one row p = softmax(s) the Jacobian is J = diag(p) - p p^T, so
``dS = J^T dP = p * dP - p (p . dP) = p * (dP - p . dP)``. It costs O(Tk) per row instead of O(Tk^2).

Masks are boolean with True = keep. A masked score is excluded from the softmax (as if it were -inf):
its probability is exactly 0, so its gradient ``dS = P * (...)`` is exactly 0 too, and whatever the
masked score was has no influence on anything. The code never writes -inf into the scores (a row of
-inf would give -inf - (-inf) = nan); it selects with ``np.where`` instead. A query row whose keys are
ALL masked has no softmax (0 / 0): every function here raises ValueError for it rather than returning
nan or a silent uniform row.

Multi-head self-attention splits the model width D into h heads of d_head = D / h by a reshape,
runs attention per head, merges the heads back and applies an output projection (see
:func:`multihead_attention_forward`).

Public API
----------
- :func:`softmax_forward`, :func:`softmax_backward` (last axis, optional mask)
- :func:`scaled_dot_product_attention_forward`, :func:`scaled_dot_product_attention_backward`
- :func:`causal_mask`, :func:`padding_mask`
- :func:`split_heads`, :func:`merge_heads`, :func:`multihead_attention_forward`,
  :func:`multihead_attention_backward`
- :func:`attention_score_memory`, :func:`attention_flops` (cost of the T x T score matrix)
- :func:`dot_product_variance`, :func:`softmax_saturation` (why the 1/sqrt(d) factor)
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape


# --------------------------------------------------------------------------- validation helpers
def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf (exclude positions with the boolean mask instead)")


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_mask(mask, shape: tuple, what: str) -> np.ndarray | None:
    """The mask broadcast (read-only view) to ``shape``, or None. Raises for bad masks and empty rows."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = keep), got dtype {mask.dtype}")
    try:
        if np.broadcast_shapes(mask.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to the {what} shape {tuple(shape)}") from None
    full = np.broadcast_to(mask, shape)
    empty = ~full.any(axis=-1)
    if np.any(empty):
        first = tuple(int(i) for i in np.argwhere(empty)[0])
        raise ValueError(
            f"mask leaves {int(empty.sum())} row(s) of the {what} with no position to attend to, the first at "
            f"index {first}; a fully masked row has no softmax (0/0). Keep at least one key per query "
            "(e.g. its own position)")
    return full


# --------------------------------------------------------------------------- softmax (last axis)
def softmax_forward(x, mask=None):
    """Softmax over the last axis, stable for scores of any magnitude.

        P[..., j] = exp(x[..., j] - m) / sum_k exp(x[..., k] - m),   m = max over the kept k of x[..., k]

    Subtracting the row max changes nothing mathematically (it cancels) but keeps exp from overflowing.

    Args:
        x: (..., n) finite scores, at least 1-D.
        mask: None, or a boolean array broadcastable to x.shape, True = keep. Masked entries get
            probability exactly 0 and are ignored by the normalization. A row with every entry masked
            raises ValueError.
    Returns:
        P: (..., n), every row sums to 1; cache: {"kind": "softmax", "P": P}.
    """
    x = as_array(x, "x")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"x must have a non-empty last axis, got shape {x.shape}")
    _check_finite(x, "x")
    full = _check_mask(mask, x.shape, "scores")
    kept = x if full is None else np.where(full, x, -np.inf)  # -inf only for the max and exp below
    m = kept.max(axis=-1, keepdims=True)  # finite: every row keeps at least one entry
    e = np.exp(kept - m)  # exp(-inf) = 0 exactly at masked entries
    P = e / e.sum(axis=-1, keepdims=True)
    return P, {"kind": "softmax", "P": P}


def softmax_backward(dP, cache):
    """VJP of the last-axis softmax, one row at a time, without forming the Jacobian.

        dx = P * (dP - sum(dP * P, axis=-1, keepdims=True))

    (J = diag(p) - p p^T is symmetric, so J^T dP = p * dP - p * (p . dP).) Where P is exactly 0
    (masked entries) dx is exactly 0.

    Args:
        dP: (..., n) upstream gradient, the shape of P. cache: from softmax_forward.
    Returns:
        dx: (..., n).
    """
    if not isinstance(cache, dict) or cache.get("kind") != "softmax":
        raise TypeError("cache must be the dict returned by softmax_forward")
    P = cache["P"]
    dP = as_array(dP, "dP")
    expect_shape(dP, P.shape, "dP")
    return P * (dP - np.sum(dP * P, axis=-1, keepdims=True))


# --------------------------------------------------------------------------- masks
def causal_mask(T):
    """(T, T) boolean, ``mask[i, j] = j <= i``: query i sees keys 0..i (itself and the past), never the future.

    Broadcasts against scores of shape (B, T, T) or (B, h, T, T). Row i keeps i + 1 keys, so no row is empty.
    """
    T = _positive_int(T, "T")
    return np.tril(np.ones((T, T), dtype=bool))


def padding_mask(lengths, T):
    """Key-padding mask: (B, 1, T) boolean, ``mask[b, 0, j] = j < lengths[b]``.

    Sequence b has lengths[b] real tokens followed by padding; no query may attend to a padded key. The
    middle axis of size 1 broadcasts over the queries of (B, Tq, T) scores; combine with a causal mask by
    ``causal_mask(T) & padding_mask(lengths, T)`` (shape (B, T, T)). Queries at padded positions still
    attend to the real keys; their outputs are typically ignored by the loss.

    Args:
        lengths: (B,) integers in 1..T (a length of 0 would leave every row empty).
        T: padded sequence length.
    Returns:
        mask: (B, 1, T) bool.
    """
    T = _positive_int(T, "T")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-D array (one length per sequence), got shape {lengths.shape}")
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must lie in 1..{T}, got {lengths.tolist()}")
    return (np.arange(T)[None, :] < lengths[:, None])[:, None, :]


# --------------------------------------------------------------------------- scaled dot-product attention
def scaled_dot_product_attention_forward(Q, K, V, mask=None):
    """out = softmax(Q K^T / sqrt(d), masked) V.

    Args:
        Q: (B, Tq, d) queries. K: (B, Tk, d) keys. V: (B, Tk, dv) values. More leading axes are allowed
            (e.g. (B, h, T, d) for heads) as long as Q, K and V share them exactly.
        mask: None or a boolean array broadcastable to (B, Tq, Tk), True = keep (see causal_mask,
            padding_mask). A query row with every key masked raises ValueError.
    Returns:
        out: (B, Tq, dv).
        cache: dict with "Q", "K", "V", "P" (B, Tq, Tk) the attention weights (exact zeros where masked),
            "scale" = 1 / sqrt(d), "mask" (None or the mask broadcast to (B, Tq, Tk)).
    """
    Q, K, V = as_array(Q, "Q"), as_array(K, "K"), as_array(V, "V")
    for arr, name in ((Q, "Q"), (K, "K"), (V, "V")):
        if arr.ndim < 3:
            raise ValueError(f"{name} must be at least 3-D (batch, positions, features), got shape {arr.shape}")
        _check_finite(arr, name)
    lead, (Tq, d) = Q.shape[:-2], Q.shape[-2:]
    if K.shape[:-2] != lead or K.shape[-1] != d:
        raise ValueError(f"K must have shape {lead + ('Tk', d)} to match Q {Q.shape}, got {K.shape}")
    Tk = K.shape[-2]
    if V.shape[:-1] != K.shape[:-1]:
        raise ValueError(f"V must have shape {K.shape[:-1] + ('dv',)} to match K {K.shape}, got {V.shape}")
    if min(Tq, Tk, d) < 1:
        raise ValueError(f"need Tq, Tk, d >= 1, got Q {Q.shape} and K {K.shape}")
    scale = 1.0 / np.sqrt(d)
    S = (Q @ np.swapaxes(K, -1, -2)) * scale  # (B, Tq, Tk)
    full = _check_mask(mask, S.shape, "scores")  # shape, dtype, no empty row
    P, _ = softmax_forward(S, full)
    out = P @ V
    return out, {"kind": "sdpa", "Q": Q, "K": K, "V": V, "P": P, "scale": scale, "mask": full}


def scaled_dot_product_attention_backward(dout, cache):
    """Gradients of scaled dot-product attention.

        dV = P^T dout;   dP = dout V^T;   dS = P * (dP - rowsum(dP * P));
        dQ = dS K * scale;   dK = dS^T Q * scale         (scale = 1 / sqrt(d))

    Masked positions have P = 0 exactly, so dS = 0 exactly there: nothing flows through a masked pair.

    Args:
        dout: (B, Tq, dv) upstream gradient. cache: from scaled_dot_product_attention_forward.
    Returns:
        dQ: (B, Tq, d); dK: (B, Tk, d); dV: (B, Tk, dv).
    """
    if not isinstance(cache, dict) or cache.get("kind") != "sdpa":
        raise TypeError("cache must be the dict returned by scaled_dot_product_attention_forward")
    Q, K, V, P, scale = cache["Q"], cache["K"], cache["V"], cache["P"], cache["scale"]
    dout = as_array(dout, "dout")
    expect_shape(dout, P.shape[:-1] + V.shape[-1:], "dout")
    dV = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(V, -1, -2)
    dS = softmax_backward(dP, {"kind": "softmax", "P": P})
    dQ = (dS @ K) * scale
    dK = (np.swapaxes(dS, -1, -2) @ Q) * scale
    return dQ, dK, dV


# --------------------------------------------------------------------------- multi-head self-attention
def split_heads(X, num_heads):
    """(B, T, D) -> (B, h, T, D // h): reshape to (B, T, h, d_head), then swap the T and h axes.

    Head k gets features k*d_head .. (k+1)*d_head - 1 of every position. Raises ValueError unless h divides D.
    """
    X = as_array(X, "X", 3)
    h = _positive_int(num_heads, "num_heads")
    B, T, D = X.shape
    if D % h:
        raise ValueError(f"num_heads={h} must divide the model width D={D}")
    return X.reshape(B, T, h, D // h).transpose(0, 2, 1, 3)


def merge_heads(Xh):
    """(B, h, T, d_head) -> (B, T, h * d_head): the inverse of split_heads (swap back, then reshape)."""
    Xh = as_array(Xh, "Xh", 4)
    B, h, T, dh = Xh.shape
    return Xh.transpose(0, 2, 1, 3).reshape(B, T, h * dh)


def _check_mha_args(X, Wq, Wk, Wv, Wo, num_heads):
    X = as_array(X, "X", 3)
    _check_finite(X, "X")
    B, T, D = X.shape
    if min(B, T, D) < 1:
        raise ValueError(f"X must have B, T, D >= 1, got shape {X.shape}")
    Ws = []
    for W, name in ((Wq, "Wq"), (Wk, "Wk"), (Wv, "Wv"), (Wo, "Wo")):
        W = as_array(W, name, 2)
        expect_shape(W, (D, D), name)
        _check_finite(W, name)
        Ws.append(W)
    h = _positive_int(num_heads, "num_heads")
    if D % h:
        raise ValueError(f"num_heads={h} must divide the model width D={D}")
    return X, Ws, h


def multihead_attention_forward(X, Wq, Wk, Wv, Wo, num_heads, mask=None):
    """Multi-head self-attention without biases.

        Q = X Wq,  K = X Wk,  V = X Wv                      (B, T, D) each; W* are (D_in, D_out) = (D, D)
        Qh, Kh, Vh = split_heads(Q, h), ...                 (B, h, T, d_head), d_head = D / h
        A = attention(Qh, Kh, Vh, mask)                     per head, scale 1 / sqrt(d_head)
        out = merge_heads(A) Wo                             (B, T, D)

    Weights multiply from the right (``X @ W``, as in the affine layer), not PyTorch's ``x @ W.T``.
    There are no biases: a bias adds only ``db = dout summed over B and T`` (the affine lesson), and
    leaving them out keeps the list of gradients fixed.

    Args:
        X: (B, T, D). Wq, Wk, Wv, Wo: (D, D). num_heads: h, a divisor of D.
        mask: None or boolean broadcastable to (B, T, T), True = keep; the same mask for every head.
    Returns:
        out: (B, T, D).
        cache: dict; "P" (B, h, T, T) holds every head's attention weights (for plots), "heads" (B, T, D)
            the merged head outputs before Wo.
    """
    X, (Wq, Wk, Wv, Wo), h = _check_mha_args(X, Wq, Wk, Wv, Wo, num_heads)
    B, T, D = X.shape
    full = _check_mask(mask, (B, T, T), "scores")
    Qh, Kh, Vh = split_heads(X @ Wq, h), split_heads(X @ Wk, h), split_heads(X @ Wv, h)
    A, cache_a = scaled_dot_product_attention_forward(Qh, Kh, Vh, None if full is None else full[:, None])
    M = merge_heads(A)
    out = M @ Wo
    cache = {"kind": "mha", "X": X, "Wq": Wq, "Wk": Wk, "Wv": Wv, "Wo": Wo, "num_heads": h, "heads": M,
             "P": cache_a["P"], "attention": cache_a}
    return out, cache


def multihead_attention_backward(dout, cache):
    """Gradients of multi-head self-attention, walking the forward graph backwards.

        dWo = sum_{b,t} M^T dout;  dM = dout Wo^T;  dA = split_heads(dM)
        dQh, dKh, dVh = attention backward per head;  dQ = merge_heads(dQh), likewise dK, dV
        dWq = sum_{b,t} X^T dQ  (likewise dWk, dWv);  dX = dQ Wq^T + dK Wk^T + dV Wv^T
    X fans out into three projections, so its gradient is the sum of the three paths.

    Args:
        dout: (B, T, D). cache: from multihead_attention_forward.
    Returns:
        dX: (B, T, D); dWq, dWk, dWv, dWo: (D, D).
    """
    if not isinstance(cache, dict) or cache.get("kind") != "mha":
        raise TypeError("cache must be the dict returned by multihead_attention_forward")
    X, Wq, Wk, Wv, Wo, M, h = (cache[k] for k in ("X", "Wq", "Wk", "Wv", "Wo", "heads", "num_heads"))
    dout = as_array(dout, "dout")
    expect_shape(dout, X.shape, "dout")
    D = X.shape[2]
    dWo = M.reshape(-1, D).T @ dout.reshape(-1, D)
    dA = split_heads(dout @ Wo.T, h)
    dQh, dKh, dVh = scaled_dot_product_attention_backward(dA, cache["attention"])
    dQ, dK, dV = merge_heads(dQh), merge_heads(dKh), merge_heads(dVh)
    X2 = X.reshape(-1, D)
    dWq, dWk, dWv = (X2.T @ g.reshape(-1, D) for g in (dQ, dK, dV))
    dX = dQ @ Wq.T + dK @ Wk.T + dV @ Wv.T
    return dX, dWq, dWk, dWv, dWo


# --------------------------------------------------------------------------- cost of the score matrix
def attention_score_memory(B, h, T, bytes_per_value):
    """Bytes of ONE (B, h, T, T) score array: ``B * h * T**2 * bytes_per_value``.

    The scores S and the weights P each have this size; training keeps P (the backward needs it) for every
    layer, so memory grows with T^2: doubling the sequence length quadruples it. bytes_per_value is 4 for
    float32, 2 for float16/bfloat16, 8 for float64. Example: B=1, h=1, T=4096 in float32 is 64 MiB.

    Returns:
        int, a number of bytes.
    """
    B, h, T = _positive_int(B, "B"), _positive_int(h, "h"), _positive_int(T, "T")
    bpv = _positive_int(bytes_per_value, "bytes_per_value")
    return B * h * T * T * bpv


def attention_flops(B, h, T, d_head):
    """Floating-point operations of the two matrix products of self-attention (forward pass).

    A (m, k) @ (k, n) product costs m*n*k multiply-adds = 2*m*n*k flops (a multiply-add counts as 2).
        QK^T: per head (T, d_head) @ (d_head, T) -> 2 * B * h * T**2 * d_head flops
        PV:   per head (T, T) @ (T, d_head)      -> 2 * B * h * T**2 * d_head flops
    Both grow with T^2 (the projections, 2 * B * T * D^2 each with D = h * d_head, grow only with T).
    The softmax adds O(B h T^2) more, not counted.

    Returns:
        dict with int values: "qk" (QK^T), "pv" (PV), "total" (their sum).
    """
    B, h, T = _positive_int(B, "B"), _positive_int(h, "h"), _positive_int(T, "T")
    d = _positive_int(d_head, "d_head")
    qk = 2 * B * h * T * T * d
    pv = 2 * B * h * T * T * d
    return {"qk": qk, "pv": pv, "total": qk + pv}


# --------------------------------------------------------------------------- why 1 / sqrt(d)
def _dims(dims) -> np.ndarray:
    d = np.asarray(dims)
    if d.ndim != 1 or d.size == 0 or d.dtype.kind not in "iu" or d.min() < 1:
        raise ValueError(f"dims must be a non-empty 1-D sequence of positive integers, got {dims!r}")
    return d.astype(np.int64)


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")


def dot_product_variance(dims, rng, n_samples=20000):
    """Empirical variance of q . k for random q, k with i.i.d. N(0, 1) entries, raw and scaled by 1/sqrt(d).

    Math: each term q_i k_i has mean 0 and variance E[q_i^2] E[k_i^2] = 1, and the d terms are independent,
    so Var(q . k) = d: the raw scores spread out as sqrt(d). Dividing by sqrt(d) gives variance 1 for every d,
    which keeps the softmax out of saturation (see softmax_saturation).

    Args:
        dims: 1-D sequence of positive ints (the key dimension d). rng: numpy Generator (the only randomness).
        n_samples: pairs (q, k) drawn per d.
    Returns:
        dict: "d" (len,) int64, "var_raw" (len,) ~ d, "var_scaled" (len,) ~ 1 (sample variances, ddof=0).
    """
    d = _dims(dims)
    _check_rng(rng)
    n = _positive_int(n_samples, "n_samples")
    var_raw = np.empty(d.size)
    for i, di in enumerate(d):
        q = rng.standard_normal((n, di))
        k = rng.standard_normal((n, di))
        var_raw[i] = np.var(np.sum(q * k, axis=1))
    return {"d": d, "var_raw": var_raw, "var_scaled": var_raw / d}


def softmax_saturation(dims, rng, n_keys=16, n_samples=2000):
    """How peaked the softmax over q . k scores gets as d grows, without and with the 1/sqrt(d) factor.

    For each d, draws n_samples queries q and n_keys keys k_j with N(0, 1) entries, takes s_j = q . k_j
    (raw) or s_j / sqrt(d) (scaled), p = softmax(s), and averages over the samples:
      - max_j p_j (1 / n_keys for a uniform row, 1 for a one-hot row);
      - ||J||_F, the size of the softmax Jacobian J = diag(p) - p p^T, computed without forming J as
        sqrt(sum p^2 - 2 sum p^3 + (sum p^2)^2). It tends to 0 as p becomes one-hot: a saturated softmax
        passes almost no gradient back to the scores, which is what the 1/sqrt(d) factor prevents.

    Returns:
        dict of (len,) arrays: "d" (int64), "max_prob_raw", "max_prob_scaled", "jac_norm_raw", "jac_norm_scaled".
    """
    d = _dims(dims)
    _check_rng(rng)
    n_keys = _positive_int(n_keys, "n_keys")
    n = _positive_int(n_samples, "n_samples")
    out = {"d": d}
    for key in ("max_prob_raw", "max_prob_scaled", "jac_norm_raw", "jac_norm_scaled"):
        out[key] = np.empty(d.size)
    for i, di in enumerate(d):
        q = rng.standard_normal((n, 1, di))
        k = rng.standard_normal((n, n_keys, di))
        s = np.sum(q * k, axis=-1)  # (n, n_keys)
        for tag, scores in (("raw", s), ("scaled", s / np.sqrt(di))):
            p, _ = softmax_forward(scores)
            s2, s3 = np.sum(p**2, axis=-1), np.sum(p**3, axis=-1)
            out[f"max_prob_{tag}"][i] = p.max(axis=-1).mean()
            out[f"jac_norm_{tag}"][i] = np.sqrt(np.maximum(s2 - 2 * s3 + s2**2, 0.0)).mean()
    return out
