"""Gradient checkpointing for a chain of N layers: O(sqrt N) stored activations for one extra forward pass.

Plain backpropagation through ``h_{i+1} = layer_i(h_i)`` keeps every activation ``h_0, ..., h_N``
because the backward of layer i needs its input ``h_i`` and its output ``h_{i+1}``: N + 1 arrays.
Checkpointing with segment length ``k`` keeps only the *checkpoints* ``h_0, h_k, h_{2k}, ...`` (and
the output ``h_N``) during the forward pass. The backward pass handles the segments
``[s, e) = [0, k), [k, 2k), ..., [(c-1)k, N)`` from last to first: it recomputes
``h_{s+1}, ..., h_{e-1}`` from the checkpoint ``h_s``, backpropagates through layers
``e-1, ..., s`` and frees each activation as soon as no remaining layer needs it.

Exact counts (``c = ceil(N / k)`` segments, the last one of length ``r = N - (c - 1) k``):

* recomputed layer evaluations: ``N - c`` (every layer output except the segment ends, which are
  stored already), so the total is ``2N - c`` layer forward calls: about one extra forward pass;
* peak number of stored activations: ``N + 1`` when ``c == 1``, else ``c + k`` when ``r == k``
  and ``c + k - 1`` when ``r < k``. With ``k = isqrt(N)`` this is about ``2 sqrt(N)`` instead of
  ``N + 1``. (Segment j, starting at ``s = jk``, holds ``j + 1`` checkpoints, its ``len - 1``
  recomputed activations and its end ``h_e``; the last segment is the fullest.)

A *layer* is a pair ``(forward, backward)``: ``forward(x) -> y`` and
``backward(x, y, dy) -> (dx, dparam)``, where ``dy = dL/dy`` and ``dparam`` is the gradient of the
layer's parameter. :func:`tanh_chain` builds the chain ``h_{i+1} = tanh(h_i @ W_i)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "BackpropStats",
    "tanh_layer",
    "tanh_chain",
    "chain_forward",
    "segments",
    "default_segment_length",
    "expected_peak_stored",
    "expected_recomputed",
    "backprop_full",
    "backprop_checkpointed",
]

Layer = tuple[Callable[[np.ndarray], np.ndarray],
              Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class BackpropStats:
    """What a backward pass cost.

    Attributes:
        peak_stored: the largest number of activations held in the store at the same time.
        forward_calls: layer forward evaluations in total (the forward pass plus recomputation).
        recomputed: ``forward_calls - N``, the layer evaluations repeated during the backward pass.
        checkpoints: indices i of the activations h_i kept by the forward pass (besides h_N).
    """

    peak_stored: int
    forward_calls: int
    recomputed: int
    checkpoints: tuple[int, ...]


# --------------------------------------------------------------------------------------- layers
def tanh_layer(W: np.ndarray) -> Layer:
    """The layer ``y = tanh(x @ W)`` for x (B, D) and W (D, D') as a (forward, backward) pair.

    backward(x, y, dy) -> (dx (B, D), dW (D, D')), using dz = dy * (1 - y**2).
    """
    W = np.array(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (D, D'), got shape {W.shape}")

    def forward(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != W.shape[0]:
            raise ValueError(f"layer input must have shape (B, {W.shape[0]}), got {x.shape}")
        return np.tanh(x @ W)

    def backward(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y, dy = np.asarray(x), np.asarray(y), np.asarray(dy)
        if x.ndim != 2 or x.shape[1] != W.shape[0]:
            raise ValueError(f"backward: x (the layer input) must have shape (B, {W.shape[0]}), got {x.shape}")
        if y.shape != (x.shape[0], W.shape[1]) or dy.shape != y.shape:
            raise ValueError(f"backward: y (the layer output) and dy must have shape {(x.shape[0], W.shape[1])}, "
                             f"got {y.shape} and {dy.shape}")
        dz = dy * (1.0 - y * y)
        return dz @ W.T, x.T @ dz

    return forward, backward


def tanh_chain(Ws: Sequence[np.ndarray]) -> list[Layer]:
    """Layers ``h_{i+1} = tanh(h_i @ Ws[i])`` for i = 0..N-1."""
    return [tanh_layer(W) for W in Ws]


def chain_forward(layers: Sequence[Layer], x: np.ndarray) -> np.ndarray:
    """h_N, storing nothing."""
    h = np.asarray(x, dtype=np.float64)
    for forward, _ in layers:
        h = forward(h)
    return h


# --------------------------------------------------------------------------------------- schedule
def _validate(layers: Sequence[Layer], x, dout, k=None) -> tuple[int, np.ndarray, np.ndarray]:
    n = len(layers)
    if n < 1:
        raise ValueError("the chain needs at least one layer")
    for i, layer in enumerate(layers):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2 and all(callable(f) for f in layer)):
            raise TypeError(f"layers[{i}] must be a (forward, backward) pair of functions")
    x = np.array(x, dtype=np.float64)
    dout = np.array(dout, dtype=np.float64)
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"segment length k must be an int >= 1, got {k!r}")
    return n, x, dout


def default_segment_length(n_layers: int) -> int:
    """k = isqrt(N) (at least 1): balances the N/k checkpoints against the k activations of a segment."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    return max(1, math.isqrt(n_layers))


def segments(n_layers: int, k: int) -> list[tuple[int, int]]:
    """The segments [s, e) of the schedule: [(0, k), (k, 2k), ..., ((c-1)k, N)]."""
    if n_layers < 1 or k < 1:
        raise ValueError(f"need n_layers >= 1 and k >= 1, got {n_layers}, {k}")
    return [(s, min(s + k, n_layers)) for s in range(0, n_layers, k)]


def expected_peak_stored(n_layers: int, k: int) -> int:
    """Peak stored activations of :func:`backprop_checkpointed` (formula in the module docstring)."""
    c = len(segments(n_layers, k))
    r = n_layers - (c - 1) * k
    if c == 1:
        return n_layers + 1
    return c + k if r == k else c + k - 1


def expected_recomputed(n_layers: int, k: int) -> int:
    """Layer evaluations repeated by :func:`backprop_checkpointed`: N - ceil(N / k)."""
    return n_layers - len(segments(n_layers, k))


class _Store:
    """Activation store that remembers its largest size."""

    def __init__(self) -> None:
        self.items: dict[int, np.ndarray] = {}
        self.peak = 0

    def put(self, i: int, h: np.ndarray) -> None:
        self.items[i] = h
        self.peak = max(self.peak, len(self.items))

    def pop(self, i: int) -> None:
        del self.items[i]


# --------------------------------------------------------------------------------------- backprop
def backprop_full(layers: Sequence[Layer], x: np.ndarray, dout: np.ndarray):
    """Plain backpropagation storing every activation.

    Args:
        layers: N (forward, backward) pairs.
        x: h_0. dout: dL/dh_N (shape of h_N).
    Returns:
        (dx, grads, stats): dL/dh_0, the list of N parameter gradients (grads[i] for layers[i]),
        and :class:`BackpropStats` (peak_stored = N + 1, recomputed = 0).
    """
    n, x, dout = _validate(layers, x, dout)
    store = _Store()
    store.put(0, x)
    h = x
    for i, (forward, _) in enumerate(layers):
        h = forward(h)
        store.put(i + 1, h)
    if np.shape(dout) != np.shape(h):
        raise ValueError(f"dout must have the shape of the output {np.shape(h)}, got {np.shape(dout)}")
    grads: list = [None] * n
    dh = dout
    for i in range(n - 1, -1, -1):
        dh, grads[i] = layers[i][1](store.items[i], store.items[i + 1], dh)
        store.pop(i + 1)
    return dh, grads, BackpropStats(store.peak, n, 0, tuple(range(n + 1)))


def backprop_checkpointed(layers: Sequence[Layer], x: np.ndarray, dout: np.ndarray, k: int | None = None):
    """Backpropagation keeping only h_0, h_k, h_2k, ... (and h_N); segments are recomputed.

    Args:
        layers: N (forward, backward) pairs.
        x: h_0. dout: dL/dh_N.
        k: segment length (default :func:`default_segment_length`).
    Returns:
        (dx, grads, stats) exactly as :func:`backprop_full` returns them (same gradients), with
        ``stats.peak_stored == expected_peak_stored(N, k)`` and
        ``stats.recomputed == expected_recomputed(N, k)``.
    """
    n, x, dout = _validate(layers, x, dout, k)
    k = default_segment_length(n) if k is None else int(k)
    plan = segments(n, k)
    starts = tuple(s for s, _ in plan)
    store = _Store()
    calls = 0
    store.put(0, x)
    h = x
    for i, (forward, _) in enumerate(layers):
        h = forward(h)
        calls += 1
        if i + 1 < n and (i + 1) % k == 0:
            store.put(i + 1, h)
    store.put(n, h)  # the output: the loss needs it, and so does the last layer's backward
    if np.shape(dout) != np.shape(h):
        raise ValueError(f"dout must have the shape of the output {np.shape(h)}, got {np.shape(dout)}")
    del h
    grads: list = [None] * n
    dh = dout
    for s, e in reversed(plan):
        h = store.items[s]
        for i in range(s, e - 1):  # h_{s+1} .. h_{e-1}; h_e is stored already
            h = layers[i][0](h)
            calls += 1
            store.put(i + 1, h)
        del h
        for i in range(e - 1, s - 1, -1):
            dh, grads[i] = layers[i][1](store.items[i], store.items[i + 1], dh)
            store.pop(i + 1)  # h_{i+1} was needed only by layers i and i + 1, both done
    return dh, grads, BackpropStats(store.peak, calls, calls - n, starts)
