"""The seeds' worked examples, recomputed by the reference library (corrected where ../shared/errata.md says so)."""

import numpy as np
import pytest

from reference_impl import layers, losses, network


def part7_params():
    # The seed writes z1 = W1 @ x + b1 (column vectors); batch-major form uses X = x[None] and W.T.
    W1 = np.array([[0.1, 0.2], [0.3, 0.4]])
    W2 = np.array([[0.5, 0.6], [0.7, 0.8]])
    return {"W1": W1.T, "b1": np.array([0.1, 0.1]), "W2": W2.T, "b2": np.array([0.1, 0.1])}


def test_part7_walkthrough_figures():
    params = part7_params()
    X, y = np.array([[1.0, 2.0]]), np.array([0])
    z1 = X @ params["W1"] + params["b1"]
    z2 = np.maximum(z1, 0) @ params["W2"] + params["b2"]
    np.testing.assert_allclose(z1, [[0.6, 1.2]], atol=1e-12)
    np.testing.assert_allclose(z2, [[1.12, 1.48]], atol=1e-12)
    np.testing.assert_allclose(losses.softmax(z2), [[0.41096, 0.58904]], atol=5e-6)
    loss, grads = network.mlp_loss_and_grads(params, X, y)
    assert loss == pytest.approx(0.88926, abs=5e-6)
    dW1_seed_convention = grads["W1"].T
    np.testing.assert_allclose(dW1_seed_convention, [[0.11781, 0.23562], [0.11781, 0.23562]], atol=5e-6)
    np.testing.assert_allclose(grads["W2"].T, [[-0.35342, -0.70685], [0.35342, 0.70685]], atol=5e-6)


def test_seed_mse_loop_prints_the_corrected_losses():
    """Erratum 1: the seed's printed losses are wrong; these are what its code really prints."""
    legacy = np.random.RandomState(42)  # the seed's np.random.seed(42) stream, without global state
    W1 = legacy.randn(4, 3) * 0.1
    W2 = legacy.randn(1, 4) * 0.1
    params = {"W1": W1.T, "b1": np.zeros(4), "W2": W2.T, "b2": np.zeros(1)}
    X, y = np.array([[1.0, 2.0, 3.0]]), np.array([[1.0]])
    _, history = network.train_mlp(params, X, y, lr=0.01, steps=5, loss="mse")
    np.testing.assert_allclose(history, [0.531406, 0.509566, 0.493181, 0.478455, 0.464231], atol=5e-7)
    assert not np.allclose(history[0], 0.480275, atol=1e-3)


def test_bias_gradient_has_the_hidden_shape():
    """Erratum 2: dL/db1 has shape (h,), not (d,)."""
    rng = np.random.default_rng(0)
    params = network.init_params([5, 3, 2], "he", rng)
    _, grads = network.mlp_loss_and_grads(params, rng.standard_normal((4, 5)), np.array([0, 1, 1, 0]))
    assert grads["b1"].shape == (3,)


def test_relu_mask_from_output_equals_mask_from_input():
    """Erratum 3: for ReLU, h > 0 exactly when z > 0; the lesson is caching what backward needs."""
    z = np.random.default_rng(1).standard_normal(1000)
    h, _ = layers.relu_forward(z)
    np.testing.assert_array_equal(h > 0, z > 0)


def test_bias_gradient_is_the_batch_sum_of_deltas():
    """Erratum 5: db[l] = sum of delta[l] over the batch."""
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((6, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    delta = rng.standard_normal((6, 2))
    _, cache = layers.affine_forward(x, W, b)
    np.testing.assert_allclose(layers.affine_backward(delta, cache)[2], delta.sum(axis=0))


def test_vanishing_and_exploding_products():
    _, cache = layers.sigmoid_forward(np.linspace(-10, 10, 20001))
    bound = layers.sigmoid_backward(np.ones(20001), cache).max()
    assert bound == pytest.approx(0.25)
    assert round(bound ** 4, 4) == 0.0039
    assert f"{1.5 ** 100:.2e}" == "4.07e+17"


def test_softmax_classifier_head_gradient_is_p_minus_y_over_m():
    """Erratum 4: a classifier ends in softmax; with cross-entropy dL/dz = (p - y)/m."""
    z = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 3.0]])
    y = np.array([2, 0])
    _, dz = losses.softmax_cross_entropy(z, y)
    np.testing.assert_allclose(dz, (losses.softmax(z) - np.eye(3)[y]) / 2)
