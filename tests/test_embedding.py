"""Embedding lookup (scatter-add backward, the lost-update bug) and weight tying."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference_impl.embedding import (embedding_backward, embedding_backward_lost_updates, embedding_forward,
                                      init_tied_lm, tied_lm_loss_and_grads, untied_lm_loss_and_grads)
from reference_impl.gradcheck import numeric_grad, rel_error
from tests.helpers import assert_vjp, rng_for

FAST = settings(max_examples=25, deadline=None)


@FAST
@given(V=st.integers(1, 6), D=st.integers(1, 4), idx_shape=st.lists(st.integers(1, 4), max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_embedding_backward_is_a_scatter_add(V, D, idx_shape, seed):
    rng = rng_for(seed)
    W = rng.standard_normal((V, D))
    idx = rng.integers(0, V, size=tuple(idx_shape))
    W0, idx0 = W.copy(), idx.copy()
    out, cache = embedding_forward(W, idx)
    assert out.shape == tuple(idx_shape) + (D,)
    np.testing.assert_array_equal(out, W[idx])
    dout = rng.standard_normal(out.shape)
    dW = embedding_backward(dout, cache)
    assert dW.shape == (V, D) and dW.dtype == np.float64
    assert_vjp(lambda w: embedding_forward(w, idx)[0], W, dW, dout, name="dW")
    onehot = np.eye(V)[idx.reshape(-1)]  # (P, V): the lookup is onehot @ W
    np.testing.assert_allclose(dW, onehot.T @ dout.reshape(-1, D), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(idx, idx0)


def test_fancy_index_plus_equals_loses_repeated_ids():
    W = np.zeros((4, 2))
    idx = np.array([1, 3, 1, 1])
    dout = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    _, cache = embedding_forward(W, idx)
    correct, lost = embedding_backward_lost_updates(dout, cache)
    np.testing.assert_array_equal(correct, [[0, 0], [8, 80], [0, 0], [2, 20]])  # row 1 = 1 + 3 + 4
    np.testing.assert_array_equal(lost[3], correct[3])  # an id used once is right either way
    np.testing.assert_array_equal(lost[1], dout[3])  # three writes to row 1: one survives (the last)
    np.testing.assert_array_equal(correct, embedding_backward(dout, cache))
    # without repeats the two agree
    _, cache = embedding_forward(W, np.array([0, 2, 3]))
    a, b = embedding_backward_lost_updates(dout[:3], cache)
    np.testing.assert_array_equal(a, b)


def test_embedding_input_errors():
    W = np.zeros((3, 2))
    with pytest.raises(TypeError, match="integer array of ids"):
        embedding_forward(W, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        embedding_forward(W, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        embedding_forward(W, np.array([-1]))  # NumPy would silently read the last row
    with pytest.raises(ValueError, match="W must be 2-D"):
        embedding_forward(np.zeros(3), np.array([0]))
    _, cache = embedding_forward(W, np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2, 'D'\)"):
        embedding_backward(np.zeros((2, 2)), cache)
    out, _ = embedding_forward(W, 2)  # a single id
    assert out.shape == (2,)


def _tied_problem(seed, V=5, D=3, N=7):
    rng = rng_for(seed)
    params = init_tied_lm(V, D, rng)
    params["b"] = rng.standard_normal(D) * 0.3
    idx, y = rng.integers(0, V, N), rng.integers(0, V, N)
    return params, idx, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tied_model_gradients_match_numeric(seed):
    params, idx, y = _tied_problem(seed)
    before = {k: v.copy() for k, v in params.items()}
    loss, grads = tied_lm_loss_and_grads(params, idx, y)
    assert set(grads) == set(params)
    for k in params:
        def f(v, k=k):
            p = dict(params)
            p[k] = v
            return tied_lm_loss_and_grads(p, idx, y)[0]

        assert grads[k].shape == params[k].shape
        assert rel_error(grads[k], numeric_grad(f, params[k])) < 1e-7, k
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


@pytest.mark.parametrize("seed", [3, 4])
def test_tied_gradient_is_the_sum_of_both_uses(seed):
    params, idx, y = _tied_problem(seed)
    untied = {"E_in": params["E"], "E_out": params["E"].copy(), "W": params["W"], "b": params["b"]}
    loss_t, g_t = tied_lm_loss_and_grads(params, idx, y)
    loss_u, g_u = untied_lm_loss_and_grads(untied, idx, y)
    assert loss_t == pytest.approx(loss_u, rel=1e-14)
    np.testing.assert_allclose(g_t["E"], g_u["E_in"] + g_u["E_out"], rtol=1e-12, atol=1e-15)
    # neither use alone is the gradient
    assert rel_error(g_t["E"], g_u["E_in"]) > 1e-3 and rel_error(g_t["E"], g_u["E_out"]) > 1e-3
    for k in untied:
        def f(v, k=k):
            p = dict(untied)
            p[k] = v
            return untied_lm_loss_and_grads(p, idx, y)[0]

        assert rel_error(g_u[k], numeric_grad(f, untied[k])) < 1e-7, k


def test_tied_model_input_errors():
    params, idx, y = _tied_problem(5)
    with pytest.raises(ValueError, match="idx must be 1-D"):
        tied_lm_loss_and_grads(params, idx.reshape(7, 1), y)
    with pytest.raises(ValueError, match=r"W must have shape \(3, 3\)"):
        tied_lm_loss_and_grads({**params, "W": np.zeros((3, 2))}, idx, y)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\)"):
        tied_lm_loss_and_grads(params, idx, y + 5)
    with pytest.raises(TypeError, match="Generator"):
        init_tied_lm(5, 3, 0)
