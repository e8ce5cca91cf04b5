"""Inverted dropout (layers.dropout_forward/backward): expectation kept, train vs eval, p = 0, p validation."""

import numpy as np
import pytest

from reference_impl import layers
from tests.helpers import assert_vjp, rng_for


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_inverted_dropout_keeps_the_expectation_entrywise(p):
    rng = rng_for(30)
    x = rng.standard_normal((4, 3)) * 2
    T = 20000
    out, mask = layers.dropout_forward(np.broadcast_to(x, (T, 4, 3)), p, rng_for(31))
    # per entry: out = x * m / (1 - p) with m ~ Bernoulli(1 - p): mean x, std |x| sqrt(p / (1 - p))
    se = np.abs(x) * np.sqrt(p / (1 - p)) / np.sqrt(T)
    assert np.all(np.abs(out.mean(axis=0) - x) < 4 * se + 1e-12)
    assert abs(np.mean(mask == 0) - p) < 4 * np.sqrt(p * (1 - p) / mask.size)
    assert set(np.unique(mask)) == {0.0, 1 / (1 - p)}
    # without the 1/(1-p) the mean would be (1 - p) x: far outside the band
    assert np.all(np.abs(out.mean(axis=0) * (1 - p) - x) > 4 * se)


def test_dropout_backward_matches_numeric_vjp_for_the_drawn_mask():
    rng = rng_for(32)
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    out, cache = layers.dropout_forward(x, 0.3, rng_for(33))
    dx = layers.dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx, dout * cache)  # the saved (scaled) mask, never a fresh draw
    assert_vjp(lambda v: layers.dropout_forward(v, 0.3, rng_for(33))[0], x, dx, dout, name="dropout dx")


def test_p_zero_is_the_identity_and_eval_is_the_identity():
    rng = rng_for(34)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x0 = x.copy()
    out, cache = layers.dropout_forward(x, 0.0, rng_for(35))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout)
    out, cache = layers.dropout_forward(x, 0.7, None, train=False)
    np.testing.assert_array_equal(out, x)
    assert cache is None and out is not x
    out[0, 0] = 123.0
    np.testing.assert_array_equal(x, x0)  # eval returns a copy; x is never modified


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan"), True, "0.5", None])
def test_p_drop_validation(bad):
    with pytest.raises(ValueError, match=r"p_drop must be a number in \[0, 1\)"):
        layers.dropout_forward(np.ones(3), bad, rng_for(0))


def test_dropout_backward_checks_the_shape():
    _, cache = layers.dropout_forward(np.ones((2, 3)), 0.5, rng_for(36))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\)"):
        layers.dropout_backward(np.ones(3), cache)
