"""Vanilla RNN: step and BPTT gradients vs numeric VJPs, the truncation definition, clipping, vanishing/exploding."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference_impl.gradcheck import numeric_vjp, rel_error
from reference_impl.rnn import (clip_grad_norm, gradient_norms_by_lag, rnn_backward, rnn_forward, rnn_step_backward,
                                rnn_step_forward)
from tests.helpers import away_from_zero, rng_for

FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)
small = st.integers(1, 3)
# H >= 2: with H = D = 1 every weight gradient is one scalar sum that can cancel down to finite-difference
# noise now and then (rel_error is a whole-array measure); the scalar RNN has its own fixed-seed test.
hidden = st.integers(2, 4)
TOL = 1e-7
NAMES = ["dx", "dh0", "dWx", "dWh", "db"]


def _problem(rng, N, T, D, H):
    """A generic problem: x (N,T,D), h0 (N,H), Wx (D,H), Wh (H,H), b (H,), dh (N,T,H).

    Weights scaled by 1/sqrt(fan_in) keep tanh out of saturation (where tanh' ~ 0 leaves a gradient below
    finite-difference noise); dh is random with |dh| in [0.1, 2], so no loss term is accidentally ~ 0.
    """
    return (rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H)),
            0.8 * rng.standard_normal((D, H)) / np.sqrt(D), 0.8 * rng.standard_normal((H, H)) / np.sqrt(H),
            0.1 * rng.standard_normal(H), away_from_zero(rng, (N, T, H), 0.1, 2.0))


def _truncated_states(x, h0, Wx, Wh, b, k, frozen):
    """The definition of truncation k: the state used by the loss term at t, (N, T, H).

    out[:, t] is computed from frozen[:, t-k] (a constant) by the steps t-k+1..t, or from h0 (a variable)
    by the steps 0..t when t < k. ``frozen`` is h from the unperturbed forward pass.
    """
    N, T, _ = x.shape
    out = np.empty((N, T, h0.shape[1]))
    for t in range(T):
        state = frozen[:, t - k] if t - k >= 0 else h0
        for s in range(max(t - k + 1, 0), t + 1):
            state = np.tanh(x[:, s] @ Wx + state @ Wh + b)
        out[:, t] = state
    return out


def _assert_grads_match(fwd, args, grads, dout, names=NAMES, tol=TOL):
    """Each grads[i] against the numeric VJP of fwd(*args) with args[i] perturbed."""
    for i, (name, g) in enumerate(zip(names, grads)):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            return fwd(*a)
        num = numeric_vjp(f, args[i], dout)
        assert g.shape == num.shape and g.dtype == np.float64, name
        err = rel_error(g, num)
        assert err < tol, f"{name}: rel_error {err:.3e}"


# --------------------------------------------------------------------------- one step
@FAST
@given(N=st.integers(1, 4), D=st.integers(1, 4), H=hidden, seed=seeds)
def test_step_backward_matches_numeric(N, D, H, seed):
    rng = rng_for(seed)
    x3, h_prev, Wx, Wh, b, dh = _problem(rng, N, 1, D, H)
    x, dnext = x3[:, 0], dh[:, 0]
    next_h, cache = rnn_step_forward(x, h_prev, Wx, Wh, b)
    np.testing.assert_allclose(next_h, np.tanh(x @ Wx + h_prev @ Wh + b), rtol=1e-14)
    grads = rnn_step_backward(dnext, cache)
    _assert_grads_match(lambda *a: rnn_step_forward(*a)[0], [x, h_prev, Wx, Wh, b], grads, dnext,
                        ["dx", "dh_prev", "dWx", "dWh", "db"])


# --------------------------------------------------------------------------- full BPTT
def test_forward_is_the_step_repeated():
    rng = rng_for(0)
    x, h0, Wx, Wh, b, _ = _problem(rng, 2, 4, 3, 5)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    assert h.shape == (2, 4, 5) and h.dtype == np.float64
    prev = h0
    for t in range(4):
        prev, _ = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], prev, rtol=1e-14)


@FAST
@given(N=small, T=st.integers(1, 5), D=small, H=hidden, seed=seeds)
def test_full_bptt_matches_numeric(N, T, D, H, seed):
    rng = rng_for(seed)
    *args, dh = _problem(rng, N, T, D, H)
    h, cache = rnn_forward(*args)
    _assert_grads_match(lambda *a: rnn_forward(*a)[0], args, rnn_backward(dh, cache), dh)


@pytest.mark.parametrize("truncate", [None, 1, 2, 3])
def test_scalar_rnn_gradients_match_numeric(truncate):
    """N = D = H = 1: every array is a scalar per step, so shape mix-ups cannot hide behind broadcasting."""
    rng = rng_for(10)
    *args, dh = _problem(rng, 1, 4, 1, 1)
    h, cache = rnn_forward(*args)
    fwd = (lambda *a: rnn_forward(*a)[0]) if truncate is None else (lambda *a: _truncated_states(*a, truncate, h))
    _assert_grads_match(fwd, args, rnn_backward(dh, cache, truncate=truncate), dh)


# --------------------------------------------------------------------------- truncated BPTT
@pytest.mark.parametrize("which_k", ["1", "2", "T-1"])
@FAST
@given(N=small, T=st.integers(2, 6), D=small, H=hidden, seed=seeds)
def test_truncated_bptt_matches_the_definition(which_k, N, T, D, H, seed):
    k = {"1": 1, "2": 2, "T-1": T - 1}[which_k]
    if k < 1:
        return
    rng = rng_for(seed)
    *args, dh = _problem(rng, N, T, D, H)
    h, cache = rnn_forward(*args)
    grads = rnn_backward(dh, cache, truncate=k)
    _assert_grads_match(lambda *a: _truncated_states(*a, k, h), args, grads, dh)


@FAST
@given(N=small, T=st.integers(1, 5), D=small, H=st.integers(1, 4), extra=st.sampled_from([0, 1, 7]), seed=seeds)
def test_truncation_at_least_T_equals_full_bptt(N, T, D, H, extra, seed):
    rng = rng_for(seed)
    *args, dh = _problem(rng, N, T, D, H)
    _, cache = rnn_forward(*args)
    for name, full, trunc in zip(NAMES, rnn_backward(dh, cache), rnn_backward(dh, cache, truncate=T + extra)):
        assert rel_error(full, trunc) < 1e-10, name  # same math, different summation order


def test_each_truncation_length_differs_from_its_neighbours():
    """An off-by-one in the window (k - 1 or k + 1 steps instead of k) changes the gradients."""
    rng = rng_for(1)
    T = 6
    *args, dh = _problem(rng, 2, T, 3, 4)
    _, cache = rnn_forward(*args)
    grads = {k: rnn_backward(dh, cache, truncate=k) for k in range(1, T + 1)}  # k = T is full BPTT
    for k in range(1, T):
        for name, a, b in zip(NAMES, grads[k], grads[k + 1]):
            assert rel_error(a, b) > 1e-3, (name, k, k + 1)


def test_truncate_one_keeps_each_loss_term_at_its_own_step():
    rng = rng_for(2)
    x, h0, Wx, Wh, b, dh = _problem(rng, 2, 4, 3, 3)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, *_ = rnn_backward(dh, cache, truncate=1)
    da = dh * (1 - h**2)
    np.testing.assert_allclose(dx, da @ Wx.T, rtol=1e-13)
    np.testing.assert_allclose(dh0, da[:, 0] @ Wh.T, rtol=1e-13)  # t - k + 1 == 0 only for t = 0


# --------------------------------------------------------------------------- chunked truncation, TBPTT(k, k)
def _chunked_states(x, h0, Wx, Wh, b, k, frozen):
    """The definition of chunked truncation k (detach the state every k steps): the state used by the loss
    term at t, (N, T, H). With s = (t // k) * k the start of t's chunk, out[:, t] is computed by the steps
    s..t from frozen[:, s-1] (a constant), or from h0 (a variable) for the first chunk."""
    N, T, _ = x.shape
    out = np.empty((N, T, h0.shape[1]))
    for t in range(T):
        s = (t // k) * k
        state = frozen[:, s - 1] if s > 0 else h0
        for step in range(s, t + 1):
            state = np.tanh(x[:, step] @ Wx + state @ Wh + b)
        out[:, t] = state
    return out


@pytest.mark.parametrize("which_k", ["1", "2", "T-1"])
@FAST
@given(N=small, T=st.integers(2, 7), D=small, H=hidden, seed=seeds)
def test_chunked_bptt_matches_the_definition(which_k, N, T, D, H, seed):
    k = {"1": 1, "2": 2, "T-1": T - 1}[which_k]
    rng = rng_for(seed)
    *args, dh = _problem(rng, N, T, D, H)
    h, cache = rnn_forward(*args)
    grads = rnn_backward(dh, cache, truncate=k, scheme="chunked")
    _assert_grads_match(lambda *a: _chunked_states(*a, k, h), args, grads, dh)


@pytest.mark.parametrize("T,k", [(7, 3), (6, 2), (5, 4), (8, 8)])
def test_chunked_bptt_is_full_bptt_on_each_chunk(T, k):
    """TBPTT(k, k) as a training loop runs it: full BPTT on each chunk from the detached state before it; the
    weight gradients add up over the chunks and only the first chunk reaches h0."""
    rng = rng_for(3)
    x, h0, Wx, Wh, b, dh = _problem(rng, 2, T, 3, 4)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache, truncate=k, scheme="chunked")
    want_dx, want_w = np.zeros_like(x), [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for s in range(0, T, k):
        start = h0 if s == 0 else h[:, s - 1]
        _, c = rnn_forward(x[:, s:s + k], start, Wx, Wh, b)
        cdx, cdh0, *cw = rnn_backward(dh[:, s:s + k], c)
        want_dx[:, s:s + k] = cdx
        want_w = [a + g for a, g in zip(want_w, cw)]
        if s == 0:
            want_dh0 = cdh0
    for got, want in zip((dx, dh0, dWx, dWh, db), (want_dx, want_dh0, *want_w)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_two_truncation_schemes_agree_only_where_they_must():
    """k = 1 and k >= T: identical; 1 < k < T: different (a loss term crosses k steps in a sliding window,
    between 1 and k in a chunk)."""
    rng = rng_for(4)
    T = 7
    *args, dh = _problem(rng, 2, T, 3, 4)
    _, cache = rnn_forward(*args)
    for k in (1, T, T + 2):
        for a, b in zip(rnn_backward(dh, cache, truncate=k), rnn_backward(dh, cache, truncate=k, scheme="chunked")):
            assert rel_error(a, b) < 1e-12, k
    for k in (2, 3, 5):
        sliding, chunked = rnn_backward(dh, cache, truncate=k), rnn_backward(dh, cache, truncate=k, scheme="chunked")
        for name, a, b in zip(NAMES, sliding, chunked):
            if name == "dh0":  # the loss terms at t < k reach h0 whole in both schemes, the others in neither
                assert rel_error(a, b) < 1e-12
            else:
                assert rel_error(a, b) > 1e-3, (name, k)
    with pytest.raises(ValueError, match="scheme must be one of"):
        rnn_backward(dh, cache, truncate=2, scheme="window")


# --------------------------------------------------------------------------- vanishing / exploding
def _orthogonal(rng, H):
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("rho", [0.8, 0.95, 1.05, 1.2])
def test_gradient_norm_vs_time_lag_follows_rho_to_the_T(rho):
    """Tiny inputs keep tanh linear (tanh' ~ 1), so ||dL/dh0|| = rho^T ||dL/dh_T|| for Wh = rho * Q."""
    rng = rng_for(3)
    H, D = 6, 2
    Wh, Wx, b = rho * _orthogonal(rng, H), rng.standard_normal((D, H)), np.zeros(H)
    norms = []
    for T in range(1, 21):
        x, h0 = 1e-7 * rng.standard_normal((1, T, D)), 1e-7 * rng.standard_normal((1, H))
        _, cache = rnn_forward(x, h0, Wx, Wh, b)
        dh = np.zeros((1, T, H))
        dh[0, T - 1] = rng.standard_normal(H)
        dh[0, T - 1] /= np.linalg.norm(dh[0, T - 1])  # loss only at the last step, unit upstream gradient
        norms.append(np.linalg.norm(rnn_backward(dh, cache)[1]))
    norms = np.array(norms)
    steps = np.diff(norms)
    assert np.all(steps < 0) if rho < 1 else np.all(steps > 0)
    np.testing.assert_allclose(norms, rho ** np.arange(1, 21), rtol=1e-6)


@FAST
@given(N=small, T=st.integers(1, 5), D=small, H=hidden, seed=seeds)
def test_gradient_norms_by_lag_are_the_norms_of_bptt_gradients(N, T, D, H, seed):
    """norms[k] = ||dL/dh[:, T-1-k]|| for L = sum(g * h[:, T-1]): dh0 of rnn_backward on the tail x[:, T-k:]
    started from h[:, T-1-k] (h0 itself at lag T), with the loss only at the last step."""
    rng = rng_for(seed)
    x, h0, Wx, Wh, b, _ = _problem(rng, N, T, D, H)
    g = rng.standard_normal((N, H))
    norms = gradient_norms_by_lag(x, h0, Wx, Wh, b, g)
    assert norms.shape == (T + 1,) and norms.dtype == np.float64
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    assert norms[0] == pytest.approx(np.linalg.norm(g), rel=1e-14)
    for k in range(1, T + 1):
        start = h[:, T - 1 - k] if k < T else h0
        tail = x[:, T - k:]
        dh = np.zeros((N, k, H))
        dh[:, -1] = g
        _, cache = rnn_forward(tail, start, Wx, Wh, b)
        assert norms[k] == pytest.approx(np.linalg.norm(rnn_backward(dh, cache)[1]), rel=1e-12)


def test_gradient_norms_by_lag_follow_rho_to_the_k_in_the_linear_regime():
    rng = rng_for(8)
    H, D, T = 5, 2, 12
    for rho in (0.7, 1.4):
        Wh = rho * _orthogonal(rng, H)
        x, h0 = 1e-8 * rng.standard_normal((1, T, D)), 1e-8 * rng.standard_normal((1, H))
        g = rng.standard_normal((1, H))
        norms = gradient_norms_by_lag(x, h0, rng.standard_normal((D, H)), Wh, np.zeros(H), g)
        np.testing.assert_allclose(norms, np.linalg.norm(g) * rho ** np.arange(T + 1), rtol=1e-6)


def test_gradient_norms_by_lag_validate_and_do_not_mutate():
    rng = rng_for(9)
    x, h0, Wx, Wh, b, _ = _problem(rng, 2, 3, 2, 4)
    g = rng.standard_normal((2, 4))
    copies = [a.copy() for a in (x, h0, Wx, Wh, b, g)]
    gradient_norms_by_lag(x, h0, Wx, Wh, b, g)
    for a, c in zip((x, h0, Wx, Wh, b, g), copies):
        np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match=r"g must have shape \(2, 4\)"):
        gradient_norms_by_lag(x, h0, Wx, Wh, b, g[:1])


# --------------------------------------------------------------------------- clipping
def _grads(rng, scale):
    return {"W1": scale * rng.standard_normal((3, 4)), "b1": scale * rng.standard_normal(4),
            "W2": scale * rng.standard_normal((4, 2))}


def _global_norm(grads):
    return np.sqrt(sum(np.sum(g**2) for g in grads.values()))


def test_clip_above_max_norm_scales_everything_to_max_norm():
    rng = rng_for(4)
    grads = _grads(rng, 10.0)
    copies = {k: v.copy() for k, v in grads.items()}
    new, total = clip_grad_norm(grads, 5.0)
    assert total == pytest.approx(_global_norm(copies), rel=1e-13) and total > 5.0
    assert abs(_global_norm(new) - 5.0) <= 1e-6 * 5.0
    ratios = {k: new[k] / copies[k] for k in grads}  # one global factor, not one per tensor
    for r in ratios.values():
        np.testing.assert_allclose(r, 5.0 / (total + 1e-6), rtol=1e-13)
    assert new is not grads and set(new) == set(grads)
    for k in grads:  # the input dict and its arrays are untouched
        np.testing.assert_array_equal(grads[k], copies[k])
        assert new[k] is not grads[k]


def test_clip_below_max_norm_changes_nothing():
    rng = rng_for(5)
    grads = _grads(rng, 0.01)
    new, total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(_global_norm(grads), rel=1e-13) and total < 1.0
    for k in grads:
        np.testing.assert_array_equal(new[k], grads[k])
        assert new[k] is not grads[k]


def test_clip_handles_huge_gradients_and_zero_gradients():
    new, total = clip_grad_norm({"a": np.array([3e200, 4e200])}, 1.0)
    assert total == pytest.approx(5e200)
    np.testing.assert_allclose(new["a"], [0.6, 0.8], rtol=1e-12)
    new, total = clip_grad_norm({"a": np.zeros(3)}, 1.0)
    assert total == 0.0
    np.testing.assert_array_equal(new["a"], 0.0)


def test_clip_rejects_bad_input():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, 0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        clip_grad_norm({"a": np.array([1.0, np.nan])}, 1.0)
    with pytest.raises(TypeError, match="dict"):
        clip_grad_norm([np.ones(2)], 1.0)


# --------------------------------------------------------------------------- contract
def test_nothing_is_mutated():
    rng = rng_for(6)
    *args, dh = _problem(rng, 2, 3, 2, 3)
    copies = [a.copy() for a in (*args, dh)]
    h, cache = rnn_forward(*args)
    for k in (None, 1, 2):
        rnn_backward(dh, cache, truncate=k)
    step_h, step_cache = rnn_step_forward(args[0][:, 0], *args[1:])
    rnn_step_backward(dh[:, 0], step_cache)
    for a, c in zip((*args, dh), copies):
        np.testing.assert_array_equal(a, c)


def test_bad_input_gives_specific_errors():
    rng = rng_for(7)
    x, h0, Wx, Wh, b, dh = _problem(rng, 2, 3, 2, 4)
    with pytest.raises(ValueError, match="x must be 3-D"):
        rnn_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match="h0 must have 2 rows"):
        rnn_forward(x, h0[:1], Wx, Wh, b)
    with pytest.raises(ValueError, match=r"Wx must have shape \(2, 4\)"):
        rnn_forward(x, h0, Wx.T, Wh, b)
    with pytest.raises(ValueError, match=r"Wh must have shape \(4, 4\)"):
        rnn_forward(x, h0, Wx, Wh[:3], b)
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        rnn_step_forward(x[:, 0], h0, Wx, Wh, b[:3])
    with pytest.raises(ValueError, match="h_prev must have 2 rows"):
        rnn_step_forward(x[:, 0], h0[:1], Wx, Wh, b)
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dh must have shape \(2, 3, 4\)"):
        rnn_backward(dh[:, :2], cache)
    for bad in (0, -1, 1.5, 2.0, True, "2"):
        with pytest.raises(ValueError, match="truncate must be an int >= 1 or None"):
            rnn_backward(dh, cache, truncate=bad)
    rnn_backward(dh, cache, truncate=np.int64(2))  # NumPy integers are integers
