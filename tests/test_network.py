"""The L-layer MLP: gradients, training, and initialization experiments."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference_impl import network
from reference_impl.gradcheck import numeric_grad, rel_error
from tests.helpers import rng_for


def _blobs(rng, n_per_class=30):
    centers = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])  # well separated: 3 classes in 2-D
    X = np.concatenate([c + rng.standard_normal((n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(3), n_per_class)
    return X, y


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), N=st.integers(1, 4),
       loss=st.sampled_from(["softmax", "mse"]), act=st.sampled_from(["relu", "tanh", "sigmoid"]),
       seed=st.integers(0, 2**32 - 1))
def test_every_parameter_gradient_matches_numeric(sizes, N, loss, act, seed):
    if loss == "softmax" and sizes[-1] < 2:
        sizes = sizes[:-1] + [2]
    rng = rng_for(seed)
    params = network.init_params(sizes, "normal", rng, scale=0.8)
    params = {k: v + (rng.uniform(0.2, 0.5, v.shape) if k.startswith("b") else 0) for k, v in params.items()}
    X = rng.standard_normal((N, sizes[0]))
    y = rng.integers(0, sizes[-1], N) if loss == "softmax" else rng.standard_normal((N, sizes[-1]))
    if act == "relu":
        # reject draws with a pre-activation near the ReLU kink
        h = X
        for l in range(1, len(sizes) - 1):
            z = h @ params[f"W{l}"] + params[f"b{l}"]
            if np.min(np.abs(z)) < 1e-3:
                return
            h = np.maximum(z, 0)
    value, grads = network.mlp_loss_and_grads(params, X, y, loss=loss, activation=act)
    assert set(grads) == set(params)
    for k in params:
        assert grads[k].shape == params[k].shape, k

        def f(v, k=k):
            p = dict(params)
            p[k] = v
            return network.mlp_loss_and_grads(p, X, y, loss=loss, activation=act)[0]

        assert rel_error(grads[k], numeric_grad(f, params[k])) < 1e-7, k


def test_training_reduces_loss_on_synthetic_blobs():
    rng = rng_for(0)
    X, y = _blobs(rng)
    params = network.init_params([2, 16, 3], "he", rng)
    new, history = network.train_mlp(params, X, y, lr=0.5, steps=100)
    assert history[-1] < 0.3 * history[0]
    assert np.all(np.diff(history[:10]) < 0)
    acc = np.mean(network.mlp_scores(new, X).argmax(1) == y)
    assert acc > 0.9
    assert not np.shares_memory(new["W1"], params["W1"])


def test_training_does_not_modify_the_callers_params():
    rng = rng_for(1)
    X, y = _blobs(rng)
    params = network.init_params([2, 8, 3], "he", rng)
    before = {k: v.copy() for k, v in params.items()}
    network.train_mlp(params, X, y, lr=0.1, steps=5)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_minibatch_training_needs_a_generator_and_is_reproducible():
    rng = rng_for(2)
    X, y = _blobs(rng)
    params = network.init_params([2, 8, 3], "he", rng)
    with pytest.raises(TypeError, match="rng"):
        network.train_mlp(params, X, y, lr=0.1, steps=3, batch_size=8)
    a = network.train_mlp(params, X, y, lr=0.1, steps=20, batch_size=8, rng=rng_for(9))[1]
    b = network.train_mlp(params, X, y, lr=0.1, steps=20, batch_size=8, rng=rng_for(9))[1]
    assert a == b


def test_divergence_raises_a_clear_error():
    rng = rng_for(3)
    X, y = _blobs(rng)
    params = network.init_params([2, 32, 32, 3], "normal", rng, scale=30.0)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        with np.errstate(all="ignore"):
            network.train_mlp(params, X * 1e50, y, lr=1e30, steps=50)


def _variances(scheme, depth=20, width=256, act="relu"):
    rng = rng_for(11)
    params = network.init_params([width] * (depth + 1) + [10], scheme, rng)
    X = rng.standard_normal((512, width))
    return np.array([h.var() for h in network.hidden_activations(params, X, act)])


def test_he_init_keeps_relu_activation_variance_steady_over_20_layers():
    he = _variances("he")
    # Var(h_l) for He init stays within a factor of 3 of layer 1 even after 20 layers...
    assert he.shape == (20,)
    assert 1 / 3 < he[-1] / he[0] < 3
    # ...while Xavier's 2/(fan_in+fan_out) halves the signal each ReLU layer.
    xav = _variances("xavier")
    assert xav[-1] / xav[0] < 1e-4
    small = _variances("normal")
    assert small[-1] < 1e-30


def test_zeros_init_gives_symmetric_gradients():
    rng = rng_for(4)
    X, y = _blobs(rng)
    params = network.init_params([2, 5, 3], "zeros")
    params = {k: v + (0.1 if k == "b1" else 0.0) for k, v in params.items()}  # make hidden units alive
    _, grads = network.mlp_loss_and_grads(params, X, y, activation="tanh")
    # Every hidden unit receives the same gradient: columns of dW1 and rows of dW2 are identical.
    np.testing.assert_allclose(grads["W1"], grads["W1"][:, :1].repeat(5, axis=1), atol=1e-15)
    np.testing.assert_allclose(grads["W2"], grads["W2"][:1].repeat(5, axis=0), atol=1e-15)
    trained, _ = network.train_mlp(params, X, y, lr=0.5, steps=30, activation="tanh")
    W1 = trained["W1"]
    assert np.ptp(W1, axis=1).max() < 1e-12, "units stay identical: symmetry is never broken"


def test_init_and_param_errors():
    with pytest.raises(ValueError, match="unknown init scheme"):
        network.init_params([2, 3], "kaiming-ish", rng_for(0))
    with pytest.raises(TypeError, match="Generator"):
        network.init_params([2, 3], "he", 0)
    params = network.init_params([2, 3, 2], "he", rng_for(0))
    params["b2"] = np.zeros(3)
    with pytest.raises(ValueError, match="layer 2"):
        network.mlp_loss_and_grads(params, np.zeros((1, 2)), np.array([0]))
    with pytest.raises(ValueError, match="unknown activation"):
        network.mlp_loss_and_grads(network.init_params([2, 3, 2], "he", rng_for(0)), np.zeros((1, 2)),
                                   np.array([0]), activation="gelu")
