"""Losses returning ``(loss, dscores)`` in one call, float64, averaged over the batch.

Classification: softmax cross-entropy (through logsumexp), the same with label smoothing, and sigmoid +
binary cross-entropy computed from the logits. Regression: half mean squared error and the Huber loss.
Every loss is written so that logits of any magnitude (|z| = 1000) give finite values and gradients.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl._checks import as_array, expect_shape


def log_softmax(scores):
    """Row-wise log-softmax of (N, C) scores, stable for logits of any magnitude. Returns (N, C)."""
    scores = as_array(scores, "scores", 2)
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def logsumexp(scores):
    """Row-wise log(sum_c exp(scores[i, c])) of (N, C) scores. Returns (N,).

    Stable form: with m_i = max_c scores[i, c], logsumexp_i = m_i + log sum_c exp(scores[i, c] - m_i)
    (every exponent is <= 0, so nothing overflows). Its gradient is the softmax:
    d logsumexp_i / d scores[i, c] = softmax(scores)[i, c].
    """
    scores = as_array(scores, "scores", 2)
    if scores.shape[1] == 0:
        raise ValueError("scores must have at least one column")
    m = scores.max(axis=1)
    return m + np.log(np.exp(scores - m[:, None]).sum(axis=1))


def softmax(scores):
    """Row-wise softmax of (N, C) scores. Subtracting the row max keeps exp from overflowing. Returns (N, C)."""
    return np.exp(log_softmax(scores))


def _check_labels(y, N: int, C: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"y must have shape ({N},) with one integer label per row, got {y.shape}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if N and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"labels must be in [0, {C}), got range [{y.min()}, {y.max()}]")
    return y


def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy and its gradient.

    Per row, -log softmax(s)[y] = logsumexp(s) - s[y]; the gradient of logsumexp is the softmax and that of
    -s[y] is -onehot(y), hence dscores = (softmax - onehot) / N (the 1/N from the mean).

    Args:
        scores: (N, C) logits. y: (N,) integer labels in [0, C).
    Returns:
        loss: float = -mean_i log softmax(scores)[i, y_i].
        dscores: (N, C) = (softmax(scores) - onehot(y)) / N.
    """
    logp = log_softmax(scores)
    N, C = logp.shape
    if N == 0:
        raise ValueError("scores must contain at least one row")
    y = _check_labels(y, N, C)
    loss = -logp[np.arange(N), y].mean()
    dscores = np.exp(logp)
    dscores[np.arange(N), y] -= 1.0
    return float(loss), dscores / N


def mse_loss(pred, target):
    """Half mean squared error over the batch.

    Args:
        pred: (N, K). target: (N, K).
    Returns:
        loss: float = sum((pred - target)^2) / (2N).
        dpred: (N, K) = (pred - target) / N.
    """
    pred = as_array(pred, "pred", 2)
    target = as_array(target, "target", 2)
    expect_shape(target, pred.shape, "target")
    N = pred.shape[0]
    if N == 0:
        raise ValueError("pred must contain at least one row")
    diff = pred - target
    return float(0.5 * np.sum(diff * diff) / N), diff / N


def label_smoothing_cross_entropy(scores, y, eps: float):
    """Mean cross-entropy against label-smoothed targets, and its gradient.

    Target distribution per row: q = (1 - eps) * onehot(y) + eps / C (every class gets eps / C, the true
    class 1 - eps + eps / C; q sums to 1). With p = softmax(scores):

        loss = -mean_i sum_c q[i, c] * log p[i, c]
        dscores = (p - q) / N          (sum_c q = 1, so the logsumexp term contributes p once per row)

    eps = 0 is softmax_cross_entropy.

    Args:
        scores: (N, C) logits. y: (N,) integer labels in [0, C). eps: smoothing in [0, 1).
    Returns:
        loss: float. dscores: (N, C).
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 <= eps < 1.0:
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    logp = log_softmax(scores)
    N, C = logp.shape
    if N == 0:
        raise ValueError("scores must contain at least one row")
    y = _check_labels(y, N, C)
    q = np.full((N, C), eps / C)
    q[np.arange(N), y] += 1.0 - eps
    loss = -np.sum(q * logp) / N
    return float(loss), (np.exp(logp) - q) / N


def sigmoid_binary_cross_entropy(logits, y):
    """Mean binary cross-entropy of sigmoid(logits) against targets y, computed from the logits.

    Per entry, with s = sigmoid(z): l = -y log s - (1 - y) log(1 - s). Using log s = -log(1 + exp(-z)) and
    log(1 - s) = -z - log(1 + exp(-z)), and rewriting so that exp only sees -|z| <= 0:

        l = max(z, 0) - z * y + log(1 + exp(-|z|))        (finite for any z; log1p keeps small terms exact)
        dl/dz = sigmoid(z) - y

    loss is the mean over all entries (over the N examples for z of shape (N,)), so dlogits = (s - y) / z.size.

    Args:
        logits: any shape S, at least one entry, finite. y: (S) targets in [0, 1] (0/1 labels or soft).
    Returns:
        loss: float. dlogits: (S).
    """
    z = as_array(logits, "logits")
    y = as_array(y, "y")
    expect_shape(y, z.shape, "y")
    if z.size == 0:
        raise ValueError("logits must contain at least one entry")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contain NaN or inf")
    if not np.all((y >= 0) & (y <= 1)):
        raise ValueError("targets y must lie in [0, 1]")
    per_entry = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    s = np.exp(-np.logaddexp(0.0, -z))  # sigmoid(z) without overflow
    return float(per_entry.mean()), (s - y) / z.size


def huber_loss(pred, target, delta: float = 1.0):
    """Mean Huber loss: quadratic for small residuals, linear (slope delta) for large ones.

    With r = pred - target, per entry:
        l = r^2 / 2                      if |r| <= delta
        l = delta * (|r| - delta / 2)    otherwise      (value and slope continuous at |r| = delta)
        dl/dr = clip(r, -delta, delta)                   (r inside, delta * sign(r) outside)

    loss is the mean over all entries, so dpred = clip(r, -delta, delta) / pred.size.

    Args:
        pred: any shape S, at least one entry. target: (S). delta: > 0.
    Returns:
        loss: float. dpred: (S).
    """
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not np.isfinite(delta) or delta <= 0:
        raise ValueError(f"delta must be a positive finite number, got {delta!r}")
    pred = as_array(pred, "pred")
    target = as_array(target, "target")
    expect_shape(target, pred.shape, "target")
    if pred.size == 0:
        raise ValueError("pred must contain at least one entry")
    r = pred - target
    a = np.abs(r)
    per_entry = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    return float(per_entry.mean()), np.clip(r, -delta, delta) / pred.size
