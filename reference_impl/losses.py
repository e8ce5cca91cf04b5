"""Losses returning ``(loss, dscores)`` in one call, float64, averaged over the batch."""

from __future__ import annotations

import numpy as np

from reference_impl._checks import as_array, expect_shape


def log_softmax(scores):
    """Row-wise log-softmax of (N, C) scores, stable for logits of any magnitude. Returns (N, C)."""
    scores = as_array(scores, "scores", 2)
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


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
