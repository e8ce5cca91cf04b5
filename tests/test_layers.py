"""Reference layers: every backward equals a numeric VJP with a random upstream gradient."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference_impl import layers
from reference_impl.gradcheck import rel_error
from tests.helpers import assert_vjp, away_from_zero, rng_for

dims = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)
FAST = settings(max_examples=20, deadline=None)


@FAST
@given(N=dims, D=dims, M=dims, seed=seeds)
def test_affine_backward_matches_numeric(N, D, M, seed):
    rng = rng_for(seed)
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    out, cache = layers.affine_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-12)
    dx, dW, db = layers.affine_backward(dout, cache)
    assert (dx.shape, dW.shape, db.shape) == ((N, D), (D, M), (M,))
    assert_vjp(lambda v: layers.affine_forward(v, W, b)[0], x, dx, dout, name="dx")
    assert_vjp(lambda v: layers.affine_forward(x, v, b)[0], W, dW, dout, name="dW")
    assert_vjp(lambda v: layers.affine_forward(x, W, v)[0], b, db, dout, name="db")


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
@FAST
@given(shape=st.lists(dims, min_size=1, max_size=3), seed=seeds)
def test_activation_backward_matches_numeric(name, shape, seed):
    rng = rng_for(seed)
    fwd, bwd = getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward")
    # |x| in [0.3, 3]: off the kinks, and short of saturation, where tanh' ~ 1e-5 drowns in round-off
    x = away_from_zero(rng, shape, 0.1, 1.0) * 3
    dout = rng.standard_normal(shape)
    out, cache = fwd(x)
    dx = bwd(dout, cache)
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert_vjp(lambda v: fwd(v)[0], x, dx, dout, name=f"{name} dx")


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_allclose(layers.relu_forward(x)[0], [0, 0, 0.5, 2])
    np.testing.assert_allclose(layers.leaky_relu_forward(x, 0.1)[0], [-0.2, -0.05, 0.5, 2])
    np.testing.assert_allclose(layers.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(layers.tanh_forward(x)[0], np.tanh(x))


def test_sigmoid_does_not_overflow_and_derivative_is_bounded_by_a_quarter():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, cache = layers.sigmoid_forward(x)
        ds = layers.sigmoid_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(s[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert ds.max() == pytest.approx(0.25) and ds.argmax() == 2


def test_relu_gradient_is_zero_at_zero_and_for_negative_inputs():
    x = np.array([-1.0, 0.0, 1.0])
    out, cache = layers.relu_forward(x)
    np.testing.assert_array_equal(layers.relu_backward(np.array([5.0, 5.0, 5.0]), cache), [0, 0, 5])


def _distinct(rng, shape):
    """Entries far apart, so the max of every window is unique and the numeric check is smooth."""
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.5


@FAST
@given(N=st.integers(1, 3), C=st.integers(1, 3), L=st.integers(2, 9), pool=st.integers(1, 3),
       stride=st.integers(1, 3), seed=seeds)
def test_max_pool1d_backward_matches_numeric(N, C, L, pool, stride, seed):
    if pool > L:
        pool = L
    rng = rng_for(seed)
    x = _distinct(rng, (N, C, L))
    out, cache = layers.max_pool1d_forward(x, pool, stride)
    L_out = (L - pool) // stride + 1
    assert out.shape == (N, C, L_out)
    expected = np.stack([x[:, :, i * stride:i * stride + pool].max(axis=-1) for i in range(L_out)], axis=-1)
    np.testing.assert_array_equal(out, expected)
    dout = rng.standard_normal(out.shape)
    dx = layers.max_pool1d_backward(dout, cache)
    assert_vjp(lambda v: layers.max_pool1d_forward(v, pool, stride)[0], x, dx, dout, name="pool1d dx")


@FAST
@given(N=st.integers(1, 2), C=st.integers(1, 2), H=st.integers(2, 6), W=st.integers(2, 6),
       ph=st.integers(1, 3), pw=st.integers(1, 3), stride=st.integers(1, 3), seed=seeds)
def test_max_pool2d_backward_matches_numeric(N, C, H, W, ph, pw, stride, seed):
    ph, pw = min(ph, H), min(pw, W)
    rng = rng_for(seed)
    x = _distinct(rng, (N, C, H, W))
    out, cache = layers.max_pool2d_forward(x, ph, pw, stride)
    Ho, Wo = (H - ph) // stride + 1, (W - pw) // stride + 1
    expected = np.empty((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            expected[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    np.testing.assert_array_equal(out, expected)
    dout = rng.standard_normal(out.shape)
    dx = layers.max_pool2d_backward(dout, cache)
    assert_vjp(lambda v: layers.max_pool2d_forward(v, ph, pw, stride)[0], x, dx, dout, name="pool2d dx")


def test_max_pool_ties_route_gradient_to_first_maximum():
    x = np.array([[[1.0, 3.0, 3.0, 0.0]]])
    out, cache = layers.max_pool1d_forward(x, 4, 1)
    np.testing.assert_array_equal(layers.max_pool1d_backward(np.array([[[2.0]]]), cache), [[[0, 2, 0, 0]]])
    x2 = np.array([[[[1.0, 4.0], [4.0, 0.0]]]])
    out, cache = layers.max_pool2d_forward(x2, 2, 2, 2)
    np.testing.assert_array_equal(layers.max_pool2d_backward(np.array([[[[1.0]]]]), cache), [[[[0, 1], [0, 0]]]])


@FAST
@given(N=dims, D=dims, H=dims, seed=seeds)
def test_residual_backward_matches_numeric(N, D, H, seed):
    rng = rng_for(seed)
    x = rng.standard_normal((N, D))
    W1, b1 = rng.standard_normal((D, H)), away_from_zero(rng, H)
    W2, b2 = rng.standard_normal((H, D)), rng.standard_normal(D)
    pre = x @ W1 + b1
    if np.min(np.abs(pre)) < 1e-3:  # a ReLU kink would make finite differences meaningless
        return
    args = [x, W1, b1, W2, b2]
    out, cache = layers.residual_forward(*args)
    dout = rng.standard_normal(out.shape)
    grads = layers.residual_backward(dout, cache)
    for i, (name, g) in enumerate(zip(["dx", "dW1", "db1", "dW2", "db2"], grads)):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            return layers.residual_forward(*a)[0]
        assert_vjp(f, args[i], g, dout, name=name)


def test_residual_gradient_keeps_identity_path_when_branch_is_dead():
    rng = rng_for(0)
    x = rng.standard_normal((3, 4))
    W1, b1 = np.zeros((4, 2)), -np.ones(2)  # ReLU branch dead: F contributes nothing
    out, cache = layers.residual_forward(x, W1, b1, rng.standard_normal((2, 4)), np.zeros(4))
    dout = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(layers.residual_backward(dout, cache)[0], dout)


def test_dropout_uses_given_rng_scales_and_backprops_through_mask():
    x = np.ones((2000, 10))
    out1, mask1 = layers.dropout_forward(x, 0.3, np.random.default_rng(5))
    out2, _ = layers.dropout_forward(x, 0.3, np.random.default_rng(5))
    np.testing.assert_array_equal(out1, out2)
    assert abs(out1.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    assert set(np.unique(out1)) == {0.0, 1 / 0.7}
    dout = np.random.default_rng(6).standard_normal(x.shape)
    np.testing.assert_array_equal(layers.dropout_backward(dout, mask1), dout * mask1)
    test_out, cache = layers.dropout_forward(x, 0.3, None, train=False)
    np.testing.assert_array_equal(test_out, x)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout)
    with pytest.raises(ValueError, match="p_drop"):
        layers.dropout_forward(x, 1.0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        layers.dropout_forward(x, 0.5, 42)


def test_layers_do_not_mutate_inputs():
    rng = rng_for(1)
    x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    copies = [a.copy() for a in (x, W, b)]
    out, cache = layers.affine_forward(x, W, b)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    layers.affine_backward(dout, cache)
    for a, c in zip((x, W, b, dout), copies + [dout_copy]):
        np.testing.assert_array_equal(a, c)


def test_bad_input_gives_specific_errors():
    x, W, b = np.ones((2, 3)), np.ones((3, 4)), np.ones(4)
    with pytest.raises(ValueError, match=r"W must have shape \(3, M\)"):
        layers.affine_forward(x, np.ones((2, 4)), b)
    with pytest.raises(ValueError, match=r"b must be 1-D, got shape \(1, 4\)"):
        layers.affine_forward(x, W, np.ones((1, 4)))  # keepdims bias would silently broadcast
    with pytest.raises(ValueError, match="x must be 2-D"):
        layers.affine_forward(np.ones(3), W, b)
    with pytest.raises(TypeError, match="numeric"):
        layers.affine_forward(np.array([["a", "b", "c"]]), W, b)
    _, cache = layers.affine_forward(x, W, b)
    with pytest.raises(ValueError, match="dout must have shape"):
        layers.affine_backward(np.ones((2, 3)), cache)
    with pytest.raises(ValueError, match="smaller than the pool"):
        layers.max_pool1d_forward(np.ones((1, 1, 2)), 3, 1)


def test_rel_error_is_scale_aware_and_rejects_shape_mismatch():
    a = np.array([1.0, 1e-9])
    assert rel_error(a, a + np.array([0.0, 1e-12])) < 1e-11
    assert rel_error(np.array([1.0]), np.array([-1.0])) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones(3), np.ones((3, 1)))
