"""Training a classifier end to end with a hand-written backward, and gradient accumulation.

The model is :mod:`reference_impl.network`'s MLP (affine - ReLU - ... - affine - softmax cross-entropy,
parameters ``{"W1", "b1", ..., "WL", "bL"}``). A *loss-and-grads* function is any function
``loss_and_grads(params, X, y) -> (loss, grads)`` with ``grads`` keyed like ``params``; two are given:
``network.mlp_loss_and_grads`` (layer functions) and :func:`tensor_mlp_loss_and_grads` (the
:mod:`reference_impl.autodiff.tensor` engine). They agree to round-off, so either trains the same model.

Gradient accumulation: for a mean loss over N examples split into k micro-batches of N / k each,
``L = (1/N) sum_n l_n = sum_j (1/k) L_j`` with ``L_j`` the mean over micro-batch j. So the full-batch
gradient is the sum of the micro-batch gradients each divided by k (:func:`accumulate_gradients`).
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from reference_impl import network
from reference_impl._checks import as_array
from reference_impl.autodiff.tensor import Tensor, cross_entropy

__all__ = ["sgd_train", "predict", "accuracy", "decision_grid", "accumulate_gradients",
           "tensor_mlp_loss_and_grads"]


def _default_loss_and_grads(params, X, y):
    return network.mlp_loss_and_grads(params, X, y, loss="softmax", activation="relu")


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def sgd_train(params, X, y, *, lr: float, steps: int, momentum: float = 0.0, batch_size: int | None = None,
              rng: np.random.Generator | None = None, loss_and_grads: Callable | None = None):
    """Minimise a loss with SGD (optionally with momentum). ``params`` is not modified.

    Update per step, with g the gradient of the (mini)batch loss:
        v <- momentum * v - lr * g;   p <- p + v          (momentum = 0: plain p <- p - lr * g)

    Args:
        params: dict of float64 arrays. X: (N, D). y: (N,) labels (whatever loss_and_grads takes).
        lr: > 0. steps: >= 0. momentum: in [0, 1).
        batch_size: None for full batch, else minibatches of that size drawn without replacement with rng.
        rng: Generator, needed only with batch_size.
        loss_and_grads: ``(params, X, y) -> (loss, grads)``; default network.mlp_loss_and_grads (ReLU, softmax).
    Returns:
        (new params dict, history): history[t] is the loss before step t (len == steps).
    Raises:
        FloatingPointError if the loss stops being finite (learning rate too high).
    """
    lr = _positive(lr, "lr")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    X = as_array(X, "X", 2)
    y = np.asarray(y)
    if len(y) != X.shape[0]:
        raise ValueError(f"y has {len(y)} entries but X has {X.shape[0]} rows")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("minibatch training needs rng, a numpy.random.Generator")
    f = loss_and_grads or _default_loss_and_grads
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    history = []
    for _ in range(steps):
        if batch_size is None:
            xb, yb = X, y
        else:
            idx = rng.choice(X.shape[0], size=min(batch_size, X.shape[0]), replace=False)
            xb, yb = X[idx], y[idx]
        value, grads = f(params, xb, yb)
        if not np.isfinite(value):
            raise FloatingPointError(f"loss became {value} after {len(history)} steps; lower the learning rate")
        history.append(float(value))
        for k in params:
            velocity[k] = momentum * velocity[k] - lr * grads[k]
            params[k] = params[k] + velocity[k]
    return params, history


def predict(params, X):
    """Predicted class per row: argmax of the MLP scores. X (N, D) -> (N,) int64."""
    return network.mlp_scores(params, X).argmax(axis=1).astype(np.int64)


def accuracy(params, X, y) -> float:
    """Fraction of rows of X (N, D) whose predicted class equals y (N,)."""
    y = np.asarray(y)
    pred = predict(params, X)
    if y.shape != pred.shape:
        raise ValueError(f"y must have shape {pred.shape}, got {y.shape}")
    return float(np.mean(pred == y))


def decision_grid(params, X, *, resolution: int = 200, margin: float = 0.5, predict_fn: Callable | None = None):
    """Predicted class on a regular grid covering the data, for a decision-boundary plot.

    Args:
        params: the MLP's parameters. X: (N, 2) data (sets the plotted range).
        resolution: grid points per axis (>= 2). margin: added around the data's bounding box.
        predict_fn: optional ``(params, P) -> (M,)`` labels for points P (M, 2); default :func:`predict`.
    Returns:
        xx, yy: (resolution, resolution) coordinates (np.meshgrid); labels: (resolution, resolution) int64.
        Plot with ``plt.contourf(xx, yy, labels, alpha=0.3)``.
    """
    X = as_array(X, "X", 2)
    if X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be (N, 2) with N >= 1 points, got {X.shape}")
    if isinstance(resolution, bool) or not isinstance(resolution, numbers.Integral) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    points = np.column_stack([xx.ravel(), yy.ravel()])
    labels = np.asarray((predict_fn or predict)(params, points)).astype(np.int64)
    return xx, yy, labels.reshape(xx.shape)


def accumulate_gradients(loss_and_grads: Callable, params, X, y, k: int):
    """The full-batch loss and gradient of a MEAN loss, from k equal micro-batches.

        L = sum_j L_j / k,   grad L = sum_j grad L_j / k    (L_j: mean loss of micro-batch j)

    Without the 1/k the result is k times too large; with unequal micro-batch sizes the right weight
    of L_j is n_j / N, not 1/k, so unequal splits are refused.

    Args:
        loss_and_grads: ``(params, X, y) -> (loss, grads)`` with a mean loss. params: dict of arrays.
        X: (N, ...) examples. y: (N, ...) targets. k: number of micro-batches, dividing N.
    Returns:
        loss: float, grads: dict like params (equal to loss_and_grads(params, X, y) up to round-off).
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    N = len(X)
    if len(y) != N:
        raise ValueError(f"y has {len(y)} entries but X has {N}")
    if N % k:
        raise ValueError(f"N = {N} examples do not split into k = {k} equal micro-batches; with unequal sizes "
                         "weight each micro-batch loss by n_j / N instead of 1 / k")
    m = N // k
    total, acc = 0.0, None
    for j in range(k):
        loss_j, grads_j = loss_and_grads(params, X[j * m:(j + 1) * m], y[j * m:(j + 1) * m])
        total += loss_j / k
        if acc is None:
            acc = {name: np.array(g, dtype=np.float64) / k for name, g in grads_j.items()}
        else:
            for name, g in grads_j.items():
                acc[name] += g / k
    return float(total), acc


def tensor_mlp_loss_and_grads(params, X, y):
    """network.mlp_loss_and_grads (ReLU, softmax cross-entropy), computed with the Tensor engine.

    Builds leaves for the parameters, runs affine - ReLU - ... - affine - cross_entropy on Tensors, calls
    ``loss.backward()`` and returns (loss float, grads dict of arrays keyed like params).
    """
    L = network.num_layers(params)
    leaves = {name: Tensor(value, requires_grad=True, label=name) for name, value in params.items()}
    h = Tensor(as_array(X, "X", 2))
    for l in range(1, L + 1):
        h = h @ leaves[f"W{l}"] + leaves[f"b{l}"]
        if l < L:
            h = h.relu()
    loss = cross_entropy(h, y)
    loss.backward()
    return loss.item(), {name: t.grad for name, t in leaves.items()}
