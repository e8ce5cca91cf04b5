"""Gradient checkpointing (reference_impl.autodiff.checkpoint): the same gradients as storing everything and
as finite differences, the exact peak-memory and recomputation counts of the schedule, O(sqrt N) memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference_impl.autodiff import checkpoint as C
from reference_impl.gradcheck import numeric_grad, rel_error


def _chain(seed: int, N: int, widths=None, B: int = 2):
    rng = np.random.default_rng(seed)
    widths = widths or [3] * (N + 1)
    Ws = [rng.standard_normal((widths[i], widths[i + 1])) * 0.8 for i in range(N)]
    x = rng.standard_normal((B, widths[0]))
    dout = rng.standard_normal((B, widths[-1]))
    return Ws, x, dout


def _loss(Ws, x, dout):
    return float(np.sum(C.chain_forward(C.tanh_chain(Ws), x) * dout))


@pytest.mark.parametrize("N,k", [(1, 1), (5, 2), (10, 3), (16, 4), (9, 20), (12, 1), (25, 5)])
def test_checkpointed_gradients_equal_full_storage(N, k):
    Ws, x, dout = _chain(N * 100 + k, N)
    dx_f, g_f, _ = C.backprop_full(C.tanh_chain(Ws), x, dout)
    dx_c, g_c, _ = C.backprop_checkpointed(C.tanh_chain(Ws), x, dout, k)
    assert np.array_equal(dx_f, dx_c)  # same arithmetic in the same order: bit-identical
    assert len(g_c) == N and all(np.array_equal(a, b) for a, b in zip(g_f, g_c))


def test_gradients_match_finite_differences_with_changing_widths():
    widths = [3, 4, 2, 5, 3, 3, 2]
    Ws, x, dout = _chain(7, len(widths) - 1, widths)
    dx, grads, _ = C.backprop_checkpointed(C.tanh_chain(Ws), x, dout, 2)
    assert dx.shape == x.shape and rel_error(dx, numeric_grad(lambda v: _loss(Ws, v, dout), x)) < 1e-7
    for i in range(len(Ws)):
        def f(W, i=i):
            return _loss(Ws[:i] + [W] + Ws[i + 1:], x, dout)
        assert grads[i].shape == Ws[i].shape
        assert rel_error(grads[i], numeric_grad(f, Ws[i])) < 1e-7


def test_tanh_layer_backward_against_hand_computation():
    W = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = np.array([[1.0, -0.5]])
    fwd, bwd = C.tanh_layer(W)
    y = fwd(x)
    z = x @ W  # [-0.5, -1.125]
    assert np.allclose(y, np.tanh(z))
    dy = np.array([[1.0, 2.0]])
    dx, dW = bwd(x, y, dy)
    dz = dy * (1 - np.tanh(z) ** 2)
    assert np.allclose(dW, x.T @ dz) and np.allclose(dx, dz @ W.T)


# ----------------------------------------------------------------------------------------------- counts


def _brute_force_peak(N: int, k: int) -> int:
    """Replay the schedule on index sets only (independent of the implementation)."""
    stored = {0}
    peak = 1
    for i in range(N):
        if i + 1 < N and (i + 1) % k == 0:
            stored.add(i + 1)
            peak = max(peak, len(stored))
    stored.add(N)
    peak = max(peak, len(stored))
    for s in reversed(range(0, N, k)):
        e = min(s + k, N)
        stored |= set(range(s + 1, e))
        peak = max(peak, len(stored))
        for i in range(e - 1, s - 1, -1):
            stored.discard(i + 1)
    return peak


@pytest.mark.parametrize("N", [1, 2, 3, 7, 10, 16, 17, 30, 64, 100])
def test_peak_and_recompute_counts_are_exact(N):
    Ws, x, dout = _chain(N, N, B=1)
    for k in sorted({1, 2, 3, max(1, math.isqrt(N)), N - 1 if N > 1 else 1, N, N + 5}):
        calls = [0]
        layers = [(lambda h, f=f: (calls.__setitem__(0, calls[0] + 1), f(h))[1], b) for f, b in C.tanh_chain(Ws)]
        _, _, stats = C.backprop_checkpointed(layers, x, dout, k)
        c = math.ceil(N / k)
        assert stats.peak_stored == C.expected_peak_stored(N, k) == _brute_force_peak(N, k), (N, k)
        assert stats.recomputed == C.expected_recomputed(N, k) == N - c
        assert stats.forward_calls == calls[0] == 2 * N - c
        assert stats.checkpoints == tuple(range(0, N, k))


def test_hand_computed_counts():
    # N = 16, k = 4: 4 checkpoints h0, h4, h8, h12 + the output h16 + 3 recomputed (h13..h15) = 8 = 2 sqrt(N)
    assert C.expected_peak_stored(16, 4) == 8 and C.expected_recomputed(16, 4) == 12
    assert C.expected_peak_stored(100, 10) == 20 and C.expected_recomputed(100, 10) == 90
    # N = 10, k = 3: segments [0,3) [3,6) [6,9) [9,10); the fullest is [6,9): h0 h3 h6 + h7 h8 + h9 = 6
    assert C.segments(10, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert C.expected_peak_stored(10, 3) == 6 and C.expected_recomputed(10, 3) == 6
    # degenerate schedules cost as much memory as storing everything
    assert C.expected_peak_stored(12, 1) == 13 == C.expected_peak_stored(12, 12) == C.expected_peak_stored(12, 50)


def test_full_storage_counts():
    for N in (1, 5, 20):
        Ws, x, dout = _chain(N, N)
        _, _, stats = C.backprop_full(C.tanh_chain(Ws), x, dout)
        assert stats.peak_stored == N + 1 and stats.recomputed == 0 and stats.forward_calls == N


def test_memory_grows_like_sqrt_n():
    for N in (4, 9, 25, 49, 100, 400, 1000):
        k = C.default_segment_length(N)
        peak = C.expected_peak_stored(N, k)
        assert peak <= 2 * math.sqrt(N) + 1, (N, peak)
        assert C.expected_recomputed(N, k) < N
    # measured, not just the formula
    Ws, x, dout = _chain(3, 100, B=1)
    _, _, stats = C.backprop_checkpointed(C.tanh_chain(Ws), x, dout)
    assert stats.peak_stored == 20 and C.backprop_full(C.tanh_chain(Ws), x, dout)[2].peak_stored == 101


# ----------------------------------------------------------------------------------------------- contract


def test_inputs_are_not_modified():
    Ws, x, dout = _chain(1, 6)
    copies = [W.copy() for W in Ws], x.copy(), dout.copy()
    C.backprop_checkpointed(C.tanh_chain(Ws), x, dout, 2)
    C.backprop_full(C.tanh_chain(Ws), x, dout)
    assert all(np.array_equal(a, b) for a, b in zip(Ws, copies[0]))
    assert np.array_equal(x, copies[1]) and np.array_equal(dout, copies[2])


def test_generic_layers_work():
    # a scale layer y = a * x with da = sum(dy * x): not tanh, to show the schedule is layer-agnostic
    def scale(a):
        return (lambda x: a * x, lambda x, y, dy: (a * dy, np.array(np.sum(dy * x))))
    layers = [scale(a) for a in (2.0, -0.5, 3.0, 1.5, 0.25)]
    x, dout = np.array([[1.0, 2.0]]), np.array([[0.5, -1.0]])
    dx, grads, _ = C.backprop_checkpointed(layers, x, dout, 2)
    assert np.allclose(dx, dout * 2.0 * -0.5 * 3.0 * 1.5 * 0.25)
    assert np.isclose(grads[0], np.sum(dout * x) * (-0.5 * 3.0 * 1.5 * 0.25))


def test_validation_errors():
    Ws, x, dout = _chain(2, 3)
    layers = C.tanh_chain(Ws)
    with pytest.raises(ValueError, match="at least one layer"):
        C.backprop_checkpointed([], x, dout)
    with pytest.raises(ValueError, match="segment length k"):
        C.backprop_checkpointed(layers, x, dout, 0)
    with pytest.raises(ValueError, match="segment length k"):
        C.backprop_checkpointed(layers, x, dout, 1.5)
    with pytest.raises(TypeError, match="forward, backward"):
        C.backprop_full([Ws[0]], x, dout)
    with pytest.raises(ValueError, match="dout must have the shape"):
        C.backprop_checkpointed(layers, x, dout[:, :2], 2)
    with pytest.raises(ValueError, match="layer input must have shape"):
        C.backprop_full(layers, x[:, :2], dout)
    with pytest.raises(ValueError, match="must be 2-D"):
        C.tanh_layer(np.ones(3))
    with pytest.raises(ValueError):
        C.segments(0, 2)
