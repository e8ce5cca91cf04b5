"""Instrumented layer chains for a learner's gradient checkpointing, ``checkpointed_backward(layers, x, dout, k)``.

``tanh_chain`` builds N layers ``h_{i+1} = tanh(h_i @ W_i)`` as (forward, backward) pairs, the form the exercise
gives (``forward(h) -> h_next``; ``backward(h, h_next, dh_next) -> (dh, dW)`` with dz = dh_next * (1 - h_next**2)).
These are the exercise's building blocks, not its answer: the answer is how a learner schedules them. The state
counts what the schedule did: ``forward_calls``, ``backward_calls`` per layer, and ``peak``, the largest number
of layer outputs alive at once when a layer was called (tracked with weak references, so an activation counts
until the learner's code drops its last reference to it).
"""

from __future__ import annotations

import weakref

import numpy as np

from graders.remote import protocol
from graders.remote.catalogue import register


def _tanh_layer(W: np.ndarray):
    def forward(x):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != W.shape[0]:
            raise ValueError(f"layer input must have shape (B, {W.shape[0]}), got {x.shape}")
        return np.tanh(x @ W)

    def backward(x, y, dy):
        x, y, dy = np.asarray(x), np.asarray(y), np.asarray(dy)
        if x.ndim != 2 or x.shape[1] != W.shape[0]:
            raise ValueError(f"backward: x (the layer input) must have shape (B, {W.shape[0]}), got {x.shape}")
        if y.shape != (x.shape[0], W.shape[1]) or dy.shape != y.shape:
            raise ValueError(f"backward: y (the layer output) and dy must have shape {(x.shape[0], W.shape[1])}, "
                             f"got {y.shape} and {dy.shape}")
        dz = dy * (1.0 - y * y)
        return dz @ W.T, x.T @ dz

    return forward, backward


@register("tanh_chain")
def _tanh_chain(params: dict, state: dict):
    """[(forward, backward), ...] for params["Ws"], counting calls and live outputs in ``state``."""
    Ws = params.get("Ws")
    if type(Ws) not in (list, tuple) or not Ws or any(not isinstance(W, np.ndarray) or W.ndim != 2 for W in Ws):
        raise protocol.ProtocolError("tanh_chain needs a list of 2-D arrays Ws")
    state.setdefault("peak", 0)
    state.setdefault("forward_calls", 0)
    state.setdefault("backward_calls", [0] * len(Ws))
    alive: set[int] = set()

    def sample() -> None:
        state["peak"] = max(state["peak"], len(alive))

    def track(arr):
        key = id(arr)
        alive.add(key)
        weakref.finalize(arr, alive.discard, key)
        return arr

    layers = []
    for i, W in enumerate(Ws):
        fwd, bwd = _tanh_layer(np.array(W, dtype=np.float64))

        def forward(h, fwd=fwd):
            sample()
            state["forward_calls"] += 1
            return track(fwd(h))

        def backward(h, h_next, dh_next, bwd=bwd, i=i):
            sample()
            state["backward_calls"][i] += 1
            return bwd(h, h_next, dh_next)

        layers.append((forward, backward))
    return layers
