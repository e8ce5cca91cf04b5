"""unbroadcast and broadcast binary ops: random shapes, numeric VJPs with a random upstream gradient,
bias and batchnorm/layernorm as special cases, clear errors, inputs never modified."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference_impl import batchnorm, layers
from reference_impl.broadcasting import (BINARY_OPS, bias_add_backward, bias_add_forward, binary_backward,
                                         binary_forward, broadcast_shape, broadcasts_to, scale_shift_backward,
                                         scale_shift_forward, unbroadcast)
from reference_impl.gradcheck import rel_error
from tests.helpers import assert_vjp, away_from_zero, rng_for

FAST = settings(max_examples=40, deadline=None)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def broadcast_pair(draw, max_rank=4):
    """(operand shape s, output shape S): S random, s = S minus some leading axes with some axes set to 1."""
    S = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=max_rank)))
    drop = draw(st.integers(0, len(S)))
    s = tuple(1 if draw(st.booleans()) else d for d in S[drop:])
    return s, S


def _brute_unbroadcast(g, s):
    """d/da of sum(broadcast_to(a, S) * g), entry by entry: add g over every output index that reads a[j]."""
    out = np.zeros(s)
    lead = g.ndim - len(s)
    for idx in itertools.product(*[range(d) for d in g.shape]):
        src = tuple(0 if s[i] == 1 else idx[lead + i] for i in range(len(s)))
        out[src] += g[idx]
    return out


@FAST
@given(pair=broadcast_pair(), seed=seeds)
def test_unbroadcast_matches_brute_force_and_numeric_vjp(pair, seed):
    s, S = pair
    rng = rng_for(seed)
    g = rng.standard_normal(S)
    g_before = g.copy()
    got = unbroadcast(g, s)
    assert got.shape == s and got.dtype == np.float64
    np.testing.assert_allclose(got, _brute_unbroadcast(g, s), rtol=1e-12, atol=1e-12)
    a = rng.standard_normal(s)
    assert_vjp(lambda v: np.broadcast_to(v, S), a, got, g, name="unbroadcast")
    np.testing.assert_array_equal(g, g_before)  # not mutated


def test_unbroadcast_keeps_size_one_axes_and_drops_leading_ones():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (1, 3, 1)), g.sum(axis=(0, 2), keepdims=True))
    assert unbroadcast(g, (1, 1)).shape == (1, 1) and unbroadcast(g, ()).shape == ()
    assert unbroadcast(g, ()) == pytest.approx(g.sum())


def test_unbroadcast_returns_a_new_array_even_without_summing():
    g = np.ones((2, 3))
    out = unbroadcast(g, (2, 3))
    out[0, 0] = 99.0
    assert g[0, 0] == 1.0


@pytest.mark.parametrize("grad_shape, shape, message", [
    ((2, 3), (3, 2), r"axis 0 of shape has size 3 but the aligned grad axis 0 has size 2"),
    ((2, 3), (2,), r"axis 0 of shape has size 2 but the aligned grad axis 1 has size 3"),
    ((3,), (1, 3), r"more axes than grad"),
    ((4, 3), (4, 3, 1), r"more axes than grad"),
])
def test_unbroadcast_rejects_shapes_that_do_not_broadcast(grad_shape, shape, message):
    with pytest.raises(ValueError, match=message):
        unbroadcast(np.zeros(grad_shape), shape)


def test_unbroadcast_rejects_malformed_shapes_and_grads():
    with pytest.raises(TypeError, match="tuple of non-negative ints"):
        unbroadcast(np.zeros(3), (1.5,))
    with pytest.raises(TypeError, match="tuple of non-negative ints"):
        unbroadcast(np.zeros(3), "3")
    with pytest.raises(TypeError, match="tuple of non-negative ints"):
        unbroadcast(np.zeros(3), (-1,))
    with pytest.raises(TypeError, match="numeric"):
        unbroadcast(np.array(["a"]), (1,))
    assert unbroadcast(np.ones(3), 3).shape == (3,)  # a plain int is a 1-D shape


def test_broadcast_shape_names_the_clashing_axis():
    assert broadcast_shape((2, 1, 4), (3, 1)) == (2, 3, 4)
    assert broadcast_shape((), (2,)) == (2,)
    with pytest.raises(ValueError, match=r"axis -1 has sizes 3 and 4"):
        broadcast_shape((2, 3), (4,))
    assert broadcasts_to((3, 1), (2, 3, 4)) and broadcasts_to((), (2,))
    assert not broadcasts_to((2, 3, 4), (3, 1)) and not broadcasts_to((4,), (2, 3))


@st.composite
def two_operands(draw):
    """Shapes of a and b that broadcast together (each one derived from a common output shape)."""
    sa, S = draw(broadcast_pair(max_rank=3))
    drop = draw(st.integers(0, len(S)))
    sb = tuple(1 if draw(st.booleans()) else d for d in S[drop:])
    return sa, sb


@pytest.mark.parametrize("op", BINARY_OPS)
@FAST
@given(shapes=two_operands(), seed=seeds)
def test_binary_backward_matches_numeric_vjp(op, shapes, seed):
    sa, sb = shapes
    rng = rng_for(seed)
    a = rng.standard_normal(sa)
    b = away_from_zero(rng, sb, 0.5, 2.0) if op == "div" else rng.standard_normal(sb)
    a0, b0 = a.copy(), b.copy()
    out, cache = binary_forward(op, a, b)
    expected = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    dout = rng.standard_normal(out.shape)
    da, db = binary_backward(dout, cache)
    assert da.shape == sa and db.shape == sb
    assert_vjp(lambda v: binary_forward(op, v, b)[0], a, da, dout, name=f"{op} da")
    assert_vjp(lambda v: binary_forward(op, a, v)[0], b, db, dout, name=f"{op} db")
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_binary_errors():
    with pytest.raises(ValueError, match="op must be one of"):
        binary_forward("pow", np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"do not broadcast: axis -1 has sizes 3 and 2"):
        binary_forward("add", np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="zero entry"):
        binary_forward("div", np.ones(2), np.array([1.0, 0.0]))
    _, cache = binary_forward("mul", np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\)"):
        binary_backward(np.ones(3), cache)


def test_bias_add_is_unbroadcast_and_matches_affine_db():
    rng = rng_for(11)
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    _, aff_cache = layers.affine_forward(x, W, b)
    _, _, db_affine = layers.affine_backward(dout, aff_cache)
    out, cache = bias_add_forward(x @ W, b)
    np.testing.assert_allclose(out, x @ W + b)
    dxw, db = bias_add_backward(dout, cache)
    np.testing.assert_allclose(db, db_affine, rtol=1e-14)
    np.testing.assert_array_equal(dxw, dout)
    # any number of leading axes: (T, N, M) activations of a sequence model share one bias
    h, dh = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3))
    _, cache = bias_add_forward(h, b)
    np.testing.assert_allclose(bias_add_backward(dh, cache)[1], dh.sum(axis=(0, 1)), rtol=1e-14)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        bias_add_forward(h, np.ones(4))


@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
def test_scale_shift_gradients_equal_the_normalization_layers(norm):
    rng = rng_for(12 if norm == "batchnorm" else 13)
    x, gamma, beta = rng.standard_normal((6, 4)), away_from_zero(rng, 4, 0.5, 2.0), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    fwd, bwd = ((batchnorm.batchnorm_forward, batchnorm.batchnorm_backward) if norm == "batchnorm"
                else (batchnorm.layernorm_forward, batchnorm.layernorm_backward))
    out, cache = fwd(x, gamma, beta)
    _, dgamma, dbeta = bwd(dout, cache)
    out2, cache2 = scale_shift_forward(cache["xhat"], gamma, beta)
    np.testing.assert_allclose(out2, out, rtol=1e-14)
    dxhat, dgamma2, dbeta2 = scale_shift_backward(dout, cache2)
    np.testing.assert_allclose(dgamma2, dgamma, rtol=1e-13)
    np.testing.assert_allclose(dbeta2, dbeta, rtol=1e-13)
    np.testing.assert_allclose(dxhat, dout * gamma, rtol=1e-15)


def test_scale_shift_spatial_case_keeps_the_channel_axes():
    rng = rng_for(14)
    xhat = rng.standard_normal((2, 3, 4, 5))
    gamma, beta = away_from_zero(rng, (1, 3, 1, 1), 0.5, 2.0), rng.standard_normal((1, 3, 1, 1))
    dout = rng.standard_normal(xhat.shape)
    _, cache = scale_shift_forward(xhat, gamma, beta)
    dxhat, dgamma, dbeta = scale_shift_backward(dout, cache)
    assert dgamma.shape == (1, 3, 1, 1) and dbeta.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(dgamma, (dout * xhat).sum(axis=(0, 2, 3), keepdims=True), rtol=1e-13)
    for arg, grad in ((0, dxhat), (1, dgamma), (2, dbeta)):
        args = [xhat, gamma, beta]

        def f(v, arg=arg):
            a = list(args)
            a[arg] = v
            return scale_shift_forward(*a)[0]

        assert_vjp(f, args[arg], grad, dout, name=f"arg {arg}")
    with pytest.raises(ValueError, match=r"gamma of shape \(3,\) must broadcast"):
        scale_shift_forward(xhat, np.ones(3), beta)
    assert rel_error(dbeta, dout.sum(axis=(0, 2, 3), keepdims=True)) < 1e-14
