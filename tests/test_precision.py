"""Mixed precision in float16: underflow without loss scaling, static and dynamic scaling with overflow
skips, float32 master weights; measurements on the trained spiral MLP, deterministic under a seed."""

import numpy as np
import pytest

from reference_impl import datasets, network, precision, training
from reference_impl.gradcheck import rel_error
from tests.helpers import rng_for


@pytest.fixture(scope="module")
def spiral():
    """(X, y, initial params, params after 300 momentum steps: late training, loss ~0.03)."""
    rng = rng_for(0)
    X, y = datasets.make_spirals(rng, n_per_class=100, n_classes=3)
    init = network.init_params([2, 64, 3], "he", rng)
    trained, history = training.sgd_train(init, X, y, lr=1.0, steps=300, momentum=0.9)
    assert history[-1] < 0.05
    return X, y, init, trained


def test_float16_constants():
    assert precision.FP16_MAX == 65504.0
    assert precision.FP16_SMALLEST_NORMAL == 2.0**-14
    assert precision.FP16_SMALLEST_SUBNORMAL == 2.0**-24
    assert np.float16(2.0**-26) == 0 and np.float16(2.0**-24) > 0  # below half the smallest subnormal: 0


def test_fp16_backward_is_a_correct_backward_early_in_training(spiral):
    X, y, init, _ = spiral
    loss, g16 = precision.fp16_loss_and_grads(precision.to_master(init), X, y, loss_scale=1.0)
    ref_loss, ref = network.mlp_loss_and_grads(init, X, y)
    assert all(g.dtype == np.float16 for g in g16.values())
    assert loss == pytest.approx(ref_loss, rel=1e-3)
    for k in ref:
        assert rel_error(g16[k].astype(np.float64), ref[k]) < 1e-2, k
    report = precision.underflow_report(precision.to_master(init), X, y, 1.0)
    assert report["signal_flushed"] < 0.01 and report["param_subnormal"] == 0.0 and not report["overflow"]


def test_without_scaling_late_gradients_underflow_and_scaling_recovers_them(spiral):
    X, y, _, trained = spiral
    master = precision.to_master(trained)
    plain = precision.underflow_report(master, X, y, loss_scale=1.0)
    scaled = precision.underflow_report(master, X, y, loss_scale=2.0**12)
    assert plain["signal_flushed"] > 0.1 and plain["param_subnormal"] > 0.3
    assert scaled["signal_flushed"] < 0.05 and scaled["param_subnormal"] < 0.01
    assert not scaled["overflow"] and scaled["rel_error"] <= plain["rel_error"]
    assert set(scaled["flushed_per_param"]) == set(trained)
    too_big = precision.underflow_report(master, X, y, loss_scale=2.0**24)
    assert too_big["overflow"] and too_big["rel_error"] is None
    assert precision.underflow_report(master, X, y, loss_scale=1.0) == plain  # deterministic


def test_scaled_gradient_divided_by_the_scale_is_the_gradient(spiral):
    X, y, init, _ = spiral
    master = precision.to_master(init)
    _, g1 = precision.fp16_loss_and_grads(master, X, y, 1.0)
    _, g256 = precision.fp16_loss_and_grads(master, X, y, 256.0)
    unscaled = precision.unscale_grads(g256, 256.0)
    assert all(g.dtype == np.float32 for g in unscaled.values())
    for k in g1:  # multiplying by a power of two is exact in the normal range
        assert rel_error(unscaled[k], g1[k].astype(np.float32)) < 2e-3, k


def test_update_loss_scale_rule():
    S, good = 1024.0, 0
    S, good, take = precision.update_loss_scale(S, good, True, growth_interval=3)
    assert (S, good, take) == (512.0, 0, False)  # overflow: skip and halve
    trace = []
    for _ in range(7):
        S, good, take = precision.update_loss_scale(S, good, False, growth_interval=3)
        trace.append((S, good, take))
    assert trace == [(512.0, 1, True), (512.0, 2, True), (1024.0, 0, True), (1024.0, 1, True), (1024.0, 2, True),
                     (2048.0, 0, True), (2048.0, 1, True)]
    S, good, take = precision.update_loss_scale(S, good, True, growth_interval=3)
    assert (S, good, take) == (1024.0, 0, False)  # an overflow also resets the count of good steps
    with pytest.raises(ValueError, match="loss scale must be a positive finite number"):
        precision.update_loss_scale(0.0, 0, False)
    with pytest.raises(ValueError, match="good_steps must be an int >= 0"):
        precision.update_loss_scale(1.0, -1, False)
    with pytest.raises(ValueError, match="growth_interval must be an int >= 1"):
        precision.update_loss_scale(1.0, 0, False, growth_interval=0)
    with pytest.raises(ValueError, match="growth_factor > 1"):
        precision.update_loss_scale(1.0, 0, False, backoff_factor=1.0)


def test_master_weights_must_be_float32(spiral):
    X, y, _, trained = spiral
    _, grads = network.mlp_loss_and_grads(trained, X, y)
    lost = precision.lost_update_fraction(trained, grads, lr=1.0)
    assert lost["float16"] > 0.5 and lost["float32"] < 0.01
    # the rule itself: w = 1 has float16 spacing 2^-10, so an update of 2^-12 is lost, 2^-9 is not
    w = {"w": np.array([1.0, 1.0])}
    assert precision.lost_update_fraction(w, {"w": np.array([2.0**-12, 2.0**-9])}, 1.0) == \
        {"float16": 0.5, "float32": 0.0}


def test_dynamic_scaling_skips_overflowing_steps_then_settles_and_trains(spiral):
    X, y, init, _ = spiral
    before = {k: v.copy() for k, v in init.items()}
    run = precision.train_mixed_precision(init, X, y, lr=1.0, steps=100, scaling="dynamic",
                                          loss_scale=2.0**24, growth_interval=20)
    skipped = run["skipped"]
    k = next(i for i in range(100) if i not in skipped)  # first step taken
    assert k >= 1 and skipped[:k] == list(range(k))  # the start is skipped while S is too large
    np.testing.assert_array_equal(run["scales"][:k + 1], 2.0**24 * 0.5 ** np.arange(k + 1))  # halving
    assert run["n_skipped"] == len(skipped) < 20
    assert run["losses"][-1] < 0.5 * run["losses"][0]
    assert all(v.dtype == np.float32 for v in run["params"].values())
    _, ref_history = training.sgd_train(init, X, y, lr=1.0, steps=100 - run["n_skipped"])
    assert run["losses"][-1] == pytest.approx(ref_history[-1], abs=0.05)  # same training as float64
    again = precision.train_mixed_precision(init, X, y, lr=1.0, steps=100, scaling="dynamic",
                                            loss_scale=2.0**24, growth_interval=20)
    assert again["losses"] == run["losses"] and again["skipped"] == skipped  # deterministic
    for key in init:
        np.testing.assert_array_equal(init[key], before[key])


def test_static_scale_that_overflows_never_trains_and_no_scaling_flushes_more(spiral):
    X, y, _, trained = spiral
    stuck = precision.train_mixed_precision(trained, X, y, lr=1.0, steps=5, scaling="static", loss_scale=2.0**24)
    assert stuck["skipped"] == list(range(5)) and stuck["scales"] == [2.0**24] * 5
    for k in trained:
        np.testing.assert_array_equal(stuck["params"][k], trained[k].astype(np.float32))
    plain = precision.train_mixed_precision(trained, X, y, lr=1.0, steps=5, scaling="none")
    scaled = precision.train_mixed_precision(trained, X, y, lr=1.0, steps=5, scaling="static", loss_scale=2.0**10)
    assert plain["scales"] == [1.0] * 5 and plain["n_skipped"] == scaled["n_skipped"] == 0
    assert min(plain["signal_flushed"]) > 0.1 > max(scaled["signal_flushed"])


def test_precision_input_errors(spiral):
    X, y, init, _ = spiral
    with pytest.raises(ValueError, match="scaling must be one of"):
        precision.train_mixed_precision(init, X, y, lr=1.0, steps=1, scaling="auto")
    with pytest.raises(ValueError, match="loss scale must be a positive finite number"):
        precision.fp16_loss_and_grads(init, X, y, loss_scale=float("inf"))
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        precision.train_mixed_precision(init, X, y, lr=1.0, steps=-1)
    with pytest.raises(FloatingPointError, match="float16 forward overflowed"):
        precision.fp16_loss_and_grads({k: v * 300.0 for k, v in init.items()}, X * 300.0, y)
