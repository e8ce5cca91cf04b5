"""Losses: values, gradients against finite differences, numerical stability, input checks."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference_impl import losses
from reference_impl.gradcheck import numeric_grad, rel_error
from tests.helpers import rng_for

FAST = settings(max_examples=25, deadline=None)


@FAST
@given(N=st.integers(1, 6), C=st.integers(2, 6), seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_softmax_cross_entropy_gradient(N, C, seed, scale):
    rng = rng_for(seed)
    scores = rng.standard_normal((N, C)) * scale
    y = rng.integers(0, C, size=N)
    loss, dscores = losses.softmax_cross_entropy(scores, y)
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(N), y])), rel=1e-12)
    onehot = np.eye(C)[y]
    np.testing.assert_allclose(dscores, (p - onehot) / N, atol=1e-15)  # erratum 4: (p - y)/m
    num = numeric_grad(lambda s: losses.softmax_cross_entropy(s, y)[0], scores)
    # When the right class dominates, every gradient entry is ~1e-5 and the centred difference's
    # round-off (~1e-11 absolute) is a large fraction of it, so the bound has an absolute floor.
    np.testing.assert_allclose(dscores, num, rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    scores = np.array([[1000.0, 0.0, -1000.0], [1e3, 1e3 + 1.0, 1e3 - 1.0]])
    y = np.array([0, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dscores = losses.softmax_cross_entropy(scores, y)
    p2 = np.exp([0.0, 1.0, -1.0]) / np.exp([0.0, 1.0, -1.0]).sum()
    assert loss == pytest.approx(-np.log(p2[1]) / 2, rel=1e-12)
    assert np.all(np.isfinite(dscores))
    np.testing.assert_allclose(losses.softmax(scores).sum(axis=1), 1.0)


def test_softmax_rows_sum_to_one_and_shift_invariance():
    rng = rng_for(3)
    s = rng.standard_normal((4, 5))
    np.testing.assert_allclose(losses.softmax(s), losses.softmax(s + 123.0), rtol=1e-12)
    np.testing.assert_allclose(np.exp(losses.log_softmax(s)), losses.softmax(s))


@FAST
@given(N=st.integers(1, 6), K=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_mse_loss_value_and_gradient(N, K, seed):
    rng = rng_for(seed)
    pred, target = rng.standard_normal((N, K)), rng.standard_normal((N, K))
    loss, dpred = losses.mse_loss(pred, target)
    assert loss == pytest.approx(np.sum((pred - target) ** 2) / (2 * N), rel=1e-12)
    assert rel_error(dpred, numeric_grad(lambda p: losses.mse_loss(p, target)[0], pred)) < 1e-7


def test_loss_input_errors():
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class labels"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"target must have shape \(2, 1\)"):
        losses.mse_loss(np.zeros((2, 1)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="scores must be 2-D"):
        losses.softmax_cross_entropy(np.zeros(3), np.array([0]))
