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


# =========================================================================== logsumexp, label smoothing, BCE, Huber
HUGE = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]])


def test_logsumexp_is_stable_and_its_gradient_is_the_softmax():
    rng = rng_for(21)
    s = rng.standard_normal((4, 5)) * 3
    np.testing.assert_allclose(losses.logsumexp(s), np.log(np.exp(s).sum(axis=1)), rtol=1e-14)
    num = numeric_grad(lambda v: losses.logsumexp(v) @ np.arange(1.0, 5.0), s)  # random-ish row weights
    np.testing.assert_allclose(num, np.arange(1.0, 5.0)[:, None] * losses.softmax(s), rtol=1e-6, atol=1e-9)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = losses.logsumexp(HUGE)
    np.testing.assert_allclose(out, [1000.0, 1000.0 + np.log1p(np.exp(-1.0))], rtol=1e-15)
    # softmax cross-entropy is logsumexp minus the true logit
    y = np.array([1, 0, 4, 2])
    assert losses.softmax_cross_entropy(s, y)[0] == pytest.approx(
        np.mean(losses.logsumexp(s) - s[np.arange(4), y]), rel=1e-13)


@FAST
@given(N=st.integers(1, 5), C=st.integers(2, 5), eps=st.sampled_from([0.0, 0.05, 0.1, 0.5, 0.9]),
       seed=st.integers(0, 2**32 - 1))
def test_label_smoothing_value_and_gradient(N, C, eps, seed):
    rng = rng_for(seed)
    s, y = rng.standard_normal((N, C)), rng.integers(0, C, N)
    loss, ds = losses.label_smoothing_cross_entropy(s, y, eps)
    q = (1 - eps) * np.eye(C)[y] + eps / C
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    p = losses.softmax(s)
    assert loss == pytest.approx(-np.sum(q * np.log(p)) / N, rel=1e-12)
    np.testing.assert_allclose(ds, (p - q) / N, atol=1e-15)
    num = numeric_grad(lambda v: losses.label_smoothing_cross_entropy(v, y, eps)[0], s)
    np.testing.assert_allclose(ds, num, rtol=1e-6, atol=1e-9)
    if eps == 0.0:
        base = losses.softmax_cross_entropy(s, y)
        assert loss == pytest.approx(base[0], rel=1e-14)
        np.testing.assert_allclose(ds, base[1], atol=1e-16)


def test_label_smoothing_keeps_a_gradient_when_the_prediction_is_already_right():
    # plain cross-entropy keeps pushing the true logit up forever; smoothing stops at p = q
    s = np.array([[20.0, 0.0, 0.0]])
    _, d_plain = losses.softmax_cross_entropy(s, [0])
    _, d_smooth = losses.label_smoothing_cross_entropy(s, [0], 0.1)
    assert d_plain[0, 0] < 0 and abs(d_plain[0, 0]) < 1e-8
    assert d_smooth[0, 0] == pytest.approx(1.0 - (0.9 + 0.1 / 3), abs=1e-8)  # pushes the logit DOWN
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, ds = losses.label_smoothing_cross_entropy(HUGE, [0, 1], 0.1)
    assert np.isfinite(loss) and np.all(np.isfinite(ds))


def _naive_bce(z, y):
    s = 1 / (1 + np.exp(-z))
    return np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s))


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=2), soft=st.booleans(),
       scale=st.sampled_from([0.5, 3.0]), seed=st.integers(0, 2**32 - 1))
def test_sigmoid_bce_value_and_gradient(shape, soft, scale, seed):
    rng = rng_for(seed)
    z = rng.standard_normal(shape) * scale
    y = rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape).astype(float)
    z0 = z.copy()
    loss, dz = losses.sigmoid_binary_cross_entropy(z, y)
    assert loss == pytest.approx(_naive_bce(z, y), rel=1e-10)
    np.testing.assert_allclose(dz, (1 / (1 + np.exp(-z)) - y) / z.size, rtol=1e-12, atol=1e-16)
    num = numeric_grad(lambda v: losses.sigmoid_binary_cross_entropy(v, y)[0], z)
    assert rel_error(dz, num) < 1e-7
    np.testing.assert_array_equal(z, z0)


def test_sigmoid_bce_is_finite_for_huge_logits():
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dz = losses.sigmoid_binary_cross_entropy(z, y)
    # per entry: 0, 0, 1000, 1000, log 2 (a confidently wrong logit costs |z|, not inf)
    assert loss == pytest.approx((2000.0 + np.log(2.0)) / 5, rel=1e-14)
    np.testing.assert_allclose(dz, np.array([0.0, 0.0, 1.0, -1.0, -0.5]) / 5, atol=1e-300)
    with np.errstate(all="ignore"):
        assert not np.isfinite(_naive_bce(z, y))  # log(sigmoid) from probabilities overflows to inf/NaN


def test_huber_value_gradient_and_both_regimes():
    pred = np.array([[0.2, -0.5, 3.0], [-4.0, 1.0, 0.0]])
    target = np.zeros_like(pred)
    loss, d = losses.huber_loss(pred, target, delta=1.0)
    per = np.array([[0.02, 0.125, 2.5], [3.5, 0.5, 0.0]])  # r^2/2 inside, |r| - 1/2 outside
    assert loss == pytest.approx(per.mean(), rel=1e-14)
    np.testing.assert_allclose(d, np.array([[0.2, -0.5, 1.0], [-1.0, 1.0, 0.0]]) / 6, rtol=1e-14)
    rng = rng_for(22)
    checked = 0
    for delta in (0.3, 1.0, 2.5):
        p, t = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3))
        if np.min(np.abs(np.abs(p - t) - delta)) < 1e-3:  # stay off the switch between the two pieces
            continue
        loss, d = losses.huber_loss(p, t, delta)
        assert rel_error(d, numeric_grad(lambda v: losses.huber_loss(v, t, delta)[0], p)) < 1e-7
        assert np.any(np.abs(p - t) > delta) and np.any(np.abs(p - t) < delta)  # both pieces exercised
        checked += 1
    assert checked == 3
    for delta in (0.5, 2.0):  # value continuous at |r| = delta
        inside = losses.huber_loss(np.array([delta - 1e-9]), np.zeros(1), delta)[0]
        outside = losses.huber_loss(np.array([delta + 1e-9]), np.zeros(1), delta)[0]
        assert inside == pytest.approx(outside, abs=1e-8)
    with np.errstate(over="raise", invalid="raise"):
        loss, d = losses.huber_loss(np.array([1000.0, -1000.0]), np.zeros(2), 1.0)
    assert loss == pytest.approx(999.5) and np.allclose(d, [0.5, -0.5])


def test_new_loss_input_errors():
    with pytest.raises(ValueError, match=r"eps must be a number in \[0, 1\)"):
        losses.label_smoothing_cross_entropy(np.zeros((2, 3)), [0, 1], 1.0)
    with pytest.raises(ValueError, match="eps must be"):
        losses.label_smoothing_cross_entropy(np.zeros((2, 3)), [0, 1], True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        losses.label_smoothing_cross_entropy(np.zeros((2, 3)), [0, 3], 0.1)
    with pytest.raises(ValueError, match=r"targets y must lie in \[0, 1\]"):
        losses.sigmoid_binary_cross_entropy(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        losses.sigmoid_binary_cross_entropy(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        losses.sigmoid_binary_cross_entropy(np.array([np.inf]), np.array([1.0]))
    with pytest.raises(ValueError, match="at least one entry"):
        losses.sigmoid_binary_cross_entropy(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="delta must be a positive finite number"):
        losses.huber_loss(np.zeros(2), np.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match=r"target must have shape \(2,\)"):
        losses.huber_loss(np.zeros(2), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="at least one column"):
        losses.logsumexp(np.zeros((2, 0)))


def test_new_losses_do_not_modify_their_inputs():
    rng = rng_for(23)
    s, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    z, t = rng.standard_normal(5), rng.uniform(0, 1, 5)
    args = [s, y, z, t]
    before = [a.copy() for a in args]
    losses.logsumexp(s)
    losses.label_smoothing_cross_entropy(s, y, 0.1)
    losses.sigmoid_binary_cross_entropy(z, t)
    losses.huber_loss(z, t, 0.5)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
