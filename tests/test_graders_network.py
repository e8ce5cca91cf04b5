"""graders.network: the references score full marks, planted mistakes are named, garbage fails with a clear
message and never crashes the grader, partial credit is exact."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest

import graders.core as core
from graders import diagnoses
from graders import network as gn
from graders.network import training as gn_training
from graders.network import two_layer as gn_two_layer
from reference_impl import gradcheck as G
from reference_impl import losses as L
from reference_impl import network as RN
from tests.grading_helpers import fails_with as _fails_with


def _partial(capsys, fn, *args, expected, **kwargs):
    capsys.readouterr()
    score = fn(*args, **kwargs)
    out = capsys.readouterr().out
    assert score == expected, out
    return out


# =============================================================================================== references


def ref_two(params, X, y):
    return RN.mlp_loss_and_grads(params, X, y)


def ref_single(params, x, y):
    return RN.mlp_loss_and_grads(params, x[None, :], np.array([y]))


def ref_mse_net(params, X, Y):
    return RN.mlp_loss_and_grads(params, X, Y, loss="mse")


def ref_train(params, X, y, lr, steps):
    return RN.train_mlp(params, X, y, lr=lr, steps=steps)


def ref_he(sizes, rng):
    return RN.init_params(sizes, "he", rng)


def ref_xavier(sizes, rng):
    return RN.init_params(sizes, "xavier", rng)


REFERENCES = [
    ("softmax", gn.check_softmax, (L.softmax,)),
    ("softmax_ce", gn.check_softmax_cross_entropy, (L.softmax_cross_entropy,)),
    ("mse", gn.check_mse_loss, (L.mse_loss,)),
    ("two_layer", gn.check_two_layer_loss_and_grads, (ref_two,)),
    ("single", gn.check_two_layer_single_example, (ref_single,)),
    ("mse_net", gn.check_two_layer_mse_loss_and_grads, (ref_mse_net,)),
    ("train", gn.check_train_two_layer, (ref_train,)),
    ("numeric_grad", gn.check_numeric_gradient, (G.numeric_grad,)),
    ("rel_error", gn.check_rel_error, (G.rel_error,)),
    ("he", gn.check_init, (ref_he, "he")),
    ("xavier", gn.check_init, (ref_xavier, "xavier")),
]


@pytest.mark.parametrize("name,check,args", REFERENCES, ids=[r[0] for r in REFERENCES])
@pytest.mark.parametrize("seed,thorough", [(0, False), (1, False), (1234, True), (98765, True)])
def test_reference_gets_full_marks(name, check, args, seed, thorough, capsys):
    assert check(*args, seed=seed, points=3, thorough=thorough) == 3.0
    assert check(*args, seed=seed, thorough=thorough) is None
    out = capsys.readouterr()
    assert "all" in out.out and "passed" in out.out and out.err == ""
    assert "note:" not in out.out  # the reference triggers no warning, no mutation note


def test_reference_training_losses_decrease_in_every_case():
    # the grader's "losses do not decrease" advice is only sound if GD lowers the loss at every step
    for seed in range(25):
        for _, params, X, y, lr, steps in gn_training._train_cases(np.random.default_rng(seed), True):
            losses = RN.train_mlp(params, X, y, lr=lr, steps=steps)[1]
            assert np.all(np.diff(losses) < 0)


def test_hidden_pre_activations_stay_away_from_the_kink_except_in_the_kink_cases():
    for kind in ("softmax", "mse", "single"):
        for seed in range(10):
            for thorough in (False, True):
                cases = gn_two_layer._net_cases(np.random.default_rng(seed), thorough, kind)
                assert {c.kind for c in cases} == ({"ordinary", "kink"} if kind == "mse" else
                                                   {"ordinary", "large", "kink"})  # every kind visible
                for case in cases:
                    X = case.X if case.X.ndim == 2 else case.X[None, :]
                    z = X @ case.params["W1"] + case.params["b1"]
                    assert np.any(z < 0)  # the mask matters
                    if case.kind != "kink":
                        assert np.min(np.abs(z)) >= gn.KINK_MARGIN
                        continue
                    # exactly one pre-activation at 0 and one at 2**-36, the same in any summation order
                    assert np.sum(z == 0.0) == 1 and np.sum(z == gn_two_layer.KINK_STEP) == 1
                    loops = np.array([[sum(X[i, d] * case.params["W1"][d, j] for d in range(X.shape[1]))
                                       + case.params["b1"][j] for j in range(z.shape[1])] for i in range(len(X))])
                    by_einsum = np.einsum("nd,dh->nh", X, case.params["W1"]) + case.params["b1"]
                    assert np.array_equal(loops, z) and np.array_equal(by_einsum, z)
                    rest = np.abs(z[(z != 0.0) & (z != gn_two_layer.KINK_STEP)])
                    assert rest.min() >= 1 / 32


def test_new_diagnosis_codes_are_in_the_catalogue():
    for code in ("SOFTMAX_AXIS", "MSE_FACTOR_TWO", "MSE_MEAN_ALL", "RELU_ON_OUTPUT", "TRAIN_LOSS_AFTER_STEP",
                 "ONE_SIDED_DIFFERENCE", "FD_DENOMINATOR", "FD_STEP_IGNORED", "REL_ERROR_FORMULA", "REL_ERROR_FLOOR",
                 "INIT_FAN_OUT", "INIT_STD_AS_VARIANCE", "INIT_MISSING_FACTOR_2", "INIT_WRONG_SCHEME",
                 "INIT_FIXED_SCALE"):
        d = diagnoses.get(code)
        assert d.code == code and d.advice.strip()


# =============================================================================================== softmax


def softmax_naive(s):
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def softmax_global_max(s):
    e = np.exp(s - s.max())
    return e / e.sum(axis=1, keepdims=True)


def softmax_axis0(s):
    e = np.exp(s - s.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_whole_sum(s):
    e = np.exp(s - s.max())
    return e / e.sum()


def softmax_math_exp(s):
    e = np.array([[math.exp(v) for v in row] for row in s])
    return e / e.sum(axis=1, keepdims=True)


def softmax_clipped(s):
    e = np.exp(np.clip(s, -500, 500))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("fn,code", [
    (softmax_naive, "SOFTMAX_UNSTABLE"),
    (softmax_global_max, "SOFTMAX_UNSTABLE"),
    (softmax_math_exp, "SOFTMAX_UNSTABLE"),
    (softmax_clipped, "SOFTMAX_UNSTABLE"),
    (softmax_axis0, "SOFTMAX_AXIS"),
    (softmax_whole_sum, "SOFTMAX_AXIS"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_softmax_mistakes_are_named(fn, code, thorough, capsys):
    _fails_with(capsys, gn.check_softmax, fn, points=2, thorough=thorough, code=code)


def test_unstable_softmax_loses_exactly_the_stability_share(capsys):
    # probabilities (1), large logits (1), inputs left unchanged (a quarter of all): 2 * (1 + 2/3) / (8/3)
    out = _partial(capsys, gn.check_softmax, softmax_naive, points=2, expected=1.25)
    assert "✓ probabilities" in out and "✗ large logits (stability)" in out and "non-finite" in out


def test_softmax_row_max_trick_is_accepted_even_when_written_differently(capsys):
    def via_logsumexp(s):
        m = s.max(axis=1, keepdims=True)
        return np.exp(s - m - np.log(np.exp(s - m).sum(axis=1, keepdims=True)))

    assert gn.check_softmax(via_logsumexp, points=1, thorough=True) == 1.0


# =============================================================================================== cross-entropy


def make_ce(*, naive=False, no_onehot=False, no_1_over_n=False, loss_sum=False, sign=False, loss_kind="float"):
    def fn(scores, y):
        N = scores.shape[0]
        if naive:
            e = np.exp(scores)
        else:
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(N), y]).sum()
        if not loss_sum:
            loss = loss / N
        d = p.copy()
        if not no_onehot:
            d[np.arange(N), y] -= 1
        if not no_1_over_n:
            d = d / N
        if sign:
            d = -d
        loss = {"float": float, "0d": np.array, "np": np.float64}[loss_kind](loss)
        return loss, d
    return fn


@pytest.mark.parametrize("kwargs,code", [
    (dict(naive=True), "SOFTMAX_UNSTABLE"),
    (dict(no_onehot=True), "SOFTMAX_GRAD_NO_ONEHOT"),
    (dict(no_1_over_n=True), "MISSING_1_OVER_N"),
    (dict(loss_sum=True), "MISSING_1_OVER_N"),
    (dict(sign=True), "SIGN_FLIP"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_cross_entropy_mistakes_are_named(kwargs, code, thorough, capsys):
    _fails_with(capsys, gn.check_softmax_cross_entropy, make_ce(**kwargs), points=3, thorough=thorough, code=code)


@pytest.mark.parametrize("loss_kind", ["float", "0d", "np"])
def test_cross_entropy_loss_may_be_a_float_or_0d_array(loss_kind):
    assert gn.check_softmax_cross_entropy(make_ce(loss_kind=loss_kind), points=3, thorough=True) == 3.0


def test_cross_entropy_stable_softmax_then_log_is_accepted():
    assert gn.check_softmax_cross_entropy(make_ce(), points=3, thorough=True) == 3.0


def test_cross_entropy_partial_credit_is_exact(capsys):
    # loss, dscores, large logits (1 each) and inputs left unchanged (1, a quarter of the total 4)
    out = _partial(capsys, gn.check_softmax_cross_entropy, make_ce(naive=True), points=3, expected=2.25)
    assert "✗ large logits (stability)" in out and "✓ loss" in out and "✓ dscores" in out
    out = _partial(capsys, gn.check_softmax_cross_entropy, make_ce(no_onehot=True), points=3, expected=1.5)
    assert "✓ loss" in out and "Your loss is right, so the mistake is in dscores" in out


def test_cross_entropy_consistent_wrong_loss_is_told_to_fix_the_loss(capsys):
    text = _fails_with(capsys, gn.check_softmax_cross_entropy, make_ce(loss_sum=True, no_1_over_n=True), points=3)
    assert "consistent with your own loss" in text and "fix the loss first" in text


def test_cross_entropy_loss_shape_and_type_messages(capsys):
    def loss_vector(s, y):
        loss, d = L.softmax_cross_entropy(s, y)
        return np.full(1, loss), d

    def loss_string(s, y):
        loss, d = L.softmax_cross_entropy(s, y)
        return str(loss), d

    _fails_with(capsys, gn.check_softmax_cross_entropy, loss_vector, points=3, phrase="must be one number")
    _fails_with(capsys, gn.check_softmax_cross_entropy, loss_string, points=3,
                phrase="expected a number (a Python float or NumPy float64), got str")


# =============================================================================================== MSE


def make_mse(*, missing_n=False, loss_no_half=False, grad_two=False, mean_all=False, sign=False):
    def fn(pred, target):
        N = pred.shape[0]
        diff = pred - target
        if mean_all:
            return np.mean(diff ** 2) / 2, diff / diff.size
        denom = 1 if missing_n else N
        loss = np.sum(diff ** 2) / (denom if loss_no_half else 2 * denom)
        d = (2 if grad_two else 1) * diff / denom
        return float(loss), (-d if sign else d)
    return fn


@pytest.mark.parametrize("kwargs,code", [
    (dict(missing_n=True), "MISSING_1_OVER_N"),
    (dict(loss_no_half=True, grad_two=True), "MSE_FACTOR_TWO"),
    (dict(grad_two=True), "MSE_FACTOR_TWO"),
    (dict(mean_all=True), "MSE_MEAN_ALL"),
    (dict(sign=True), "SIGN_FLIP"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_mse_mistakes_are_named(kwargs, code, thorough, capsys):
    _fails_with(capsys, gn.check_mse_loss, make_mse(**kwargs), points=2, thorough=thorough, code=code)


def test_mse_loss_factor_two_alone_is_named_on_the_loss(capsys):
    out = _partial(capsys, gn.check_mse_loss, make_mse(loss_no_half=True), points=2, expected=1.25)
    assert "✗ loss" in out and "[MSE_FACTOR_TWO]" in out and "✓ dpred" in out


def test_mse_gradient_factor_two_with_the_right_loss_blames_the_gradient(capsys):
    out = _partial(capsys, gn.check_mse_loss, make_mse(grad_two=True), points=2, expected=1.25)
    assert "Your loss is right, so the mistake is in dpred" in out


# =============================================================================================== two-layer network


def make_net(*, loss="softmax", transpose_W1=False, transpose_W2=False, db2_axis1=False, db1_keepdims=False,
             no_1_over_n=False, extra_1_over_n=False, mask="z", no_onehot=False, sign=False, out_relu=False,
             inplace=False, loss_sum=False, naive_softmax=False, factor_two=False, mean_all=False, key_prefix="",
             grads_as="dict", drop_key=None, extra_key=False, swap=False):
    """A student's two-layer network (softmax or MSE output) with optional planted mistakes."""

    def fn(params, X, t):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        N = X.shape[0]
        z1 = X @ W1 + b1
        if inplace:
            np.maximum(z1, 0, out=z1)
            params["b1"] += 0.0 * b1 + 1.0  # the caller's array changes
            h = z1
            z1 = h
        else:
            h = np.maximum(z1, 0)
        s = h @ W2 + b2
        so = np.maximum(s, 0) if out_relu else s
        if loss == "softmax":
            shifted = so if naive_softmax else so - so.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            p = e / e.sum(axis=1, keepdims=True)
            value = -np.log(p[np.arange(N), t]).sum()
            ds = p.copy()
            if not no_onehot:
                ds[np.arange(N), t] -= 1
        else:
            diff = so - t
            value = np.sum(diff ** 2) / (1 if factor_two else 2)
            ds = (2 if factor_two else 1) * diff
            if mean_all:
                value, ds = value / t.shape[1], ds / t.shape[1]
        if not loss_sum:
            value = value / N
        if not no_1_over_n:
            ds = ds / N
        if extra_1_over_n:
            ds = ds / N
        if sign:
            ds = -ds
        if out_relu:
            ds = ds * (s > 0)
        dW2 = ds.T @ h if transpose_W2 else h.T @ ds
        db2 = ds.sum(axis=1) if db2_axis1 else ds.sum(axis=0)
        dh = ds @ W2.T
        m = {"z": z1 > 0, "h": h > 0, "none": np.ones_like(h, bool), "dout": dh > 0, "ge": z1 >= 0}[mask]
        dz1 = dh * m
        dW1 = dz1.T @ X if transpose_W1 else X.T @ dz1
        db1 = dz1.sum(axis=0, keepdims=db1_keepdims)
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
        if drop_key:
            del grads[drop_key]
        if extra_key:
            grads["dz1"] = dz1
        grads = {key_prefix + k: v for k, v in grads.items()}
        if grads_as == "list":
            grads = list(grads.values())
        return (grads, float(value)) if swap else (float(value), grads)

    return fn


NET_MISTAKES = [
    (dict(transpose_W1=True), "MISSING_TRANSPOSE", "grads['W1']"),
    (dict(transpose_W2=True), "MISSING_TRANSPOSE", "grads['W2']"),
    (dict(db2_axis1=True), "BIAS_SUM_AXIS", "grads['b2']"),
    (dict(db1_keepdims=True), "BIAS_KEEPDIMS", "grads['b1']"),
    (dict(no_1_over_n=True), "MISSING_1_OVER_N", "grads['W1']"),
    (dict(extra_1_over_n=True), "EXTRA_1_OVER_N", "grads['b2']"),
    (dict(loss_sum=True), "MISSING_1_OVER_N", "loss"),
    (dict(mask="none"), "RELU_MASK", "grads['W1']"),
    (dict(mask="dout"), "RELU_MASK", "grads['b1']"),
    (dict(no_onehot=True), "SOFTMAX_GRAD_NO_ONEHOT", "grads['W2']"),
    (dict(sign=True), "SIGN_FLIP", "grads['b1']"),
    (dict(out_relu=True), "RELU_ON_OUTPUT", "loss"),
    (dict(out_relu=True), "RELU_ON_OUTPUT", "grads['W2']"),
]


def _code_on(text, sub, code):
    """The code appears in a failure line of sub-check ``sub``."""
    lines = [ln for ln in text.splitlines()]
    for i, ln in enumerate(lines):
        if ln.strip().startswith(f"✗ {sub}:"):
            block = [ln] + [x for x in lines[i + 1:i + 5] if not x.strip().startswith(("✗", "✓", "note"))]
            if any(f"[{code}]" in b for b in block):
                return True
    return False


@pytest.mark.parametrize("kwargs,code,sub", NET_MISTAKES)
@pytest.mark.parametrize("thorough", [False, True])
def test_two_layer_mistakes_are_named_on_the_right_output(kwargs, code, sub, thorough, capsys):
    text = _fails_with(capsys, gn.check_two_layer_loss_and_grads, make_net(**kwargs), points=6, thorough=thorough,
                       code=code)
    assert _code_on(text, sub, code), text


def test_two_layer_relu_mask_from_the_output_h_is_correct(capsys):
    # errata 3: h > 0 exactly when z > 0, so a mask built from the ReLU output is NOT a mistake
    assert gn.check_two_layer_loss_and_grads(make_net(mask="h"), points=6, thorough=True) == 6.0
    assert gn.check_two_layer_single_example(make_single(mask="h"), points=6, thorough=True) == 6.0


def test_two_layer_unstable_softmax_is_named_in_the_visible_and_the_hidden_tests(capsys):
    fn = make_net(naive_softmax=True)
    for thorough in (False, True):  # the visible test has a case of every kind the hidden test tries
        text = _fails_with(capsys, gn.check_two_layer_loss_and_grads, fn, points=6, thorough=thorough,
                           code="SOFTMAX_UNSTABLE")
        assert "scores around 1e3" in text
    # loss and four gradients (1 each), large scores (1), kink (2), inputs (8/3): only the stability share is lost
    _partial(capsys, gn.check_two_layer_loss_and_grads, fn, points=6, expected=round(6 * (1 - 1 / (32 / 3)), 4))


def test_two_layer_partial_credit_is_exact(capsys):
    # weights: loss and four gradients 1 each, large scores 1, kink 2, inputs left unchanged 8/3 (a quarter)
    # a keepdims db1 is wrong in every kind of case: grads['b1'], large scores and kink fail (4 of 32/3)
    out = _partial(capsys, gn.check_two_layer_loss_and_grads, make_net(db1_keepdims=True), points=6, expected=3.75)
    assert "✗ grads['b1']" in out and "✓ grads['W1']" in out and "✓ loss" in out
    out = _partial(capsys, gn.check_two_layer_loss_and_grads, make_net(mask="none"), points=6, expected=3.1875)
    assert "✗ grads['W1']" in out and "✗ grads['b1']" in out and "✓ grads['W2']" in out
    assert "Your loss is right, so the mistake is in grads['W1']" in out


def test_two_layer_mutating_params_loses_exactly_that_check(capsys):
    def mutating(params, X, y):
        out = RN.mlp_loss_and_grads(params, X, y)
        params["W1"] *= 2.0
        X[0, 0] = 99.0
        return out

    out = _partial(capsys, gn.check_two_layer_loss_and_grads, mutating, points=6, expected=4.5)
    assert "✗ inputs left unchanged" in out and "params['W1']" in out and "X" in out and "[INPUT_MUTATED]" in out
    assert "did not cost points" not in out  # core's generic note is replaced by the graded sub-check


def test_two_layer_inplace_relu_on_a_fresh_array_is_fine_but_on_params_is_not(capsys):
    text = _fails_with(capsys, gn.check_two_layer_loss_and_grads, make_net(inplace=True), points=6)
    assert "params['b1']" in text and "modified" in text


def test_two_layer_consistent_wrong_loss_is_told_to_fix_the_loss(capsys):
    text = _fails_with(capsys, gn.check_two_layer_loss_and_grads, make_net(loss_sum=True, no_1_over_n=True),
                       points=6, code="MISSING_1_OVER_N")
    assert "IS consistent with your own loss" in text and "fix the loss first" in text


@pytest.mark.parametrize("kwargs,phrase", [
    (dict(grads_as="list"), "grads must be a dict with keys ['W1', 'b1', 'W2', 'b2'], got list"),
    (dict(key_prefix="d"), "Name each gradient after its parameter: grads['W1'], not grads['dW1']"),
    (dict(drop_key="b2"), "grads has no key 'b2'"),
    (dict(swap=True), "return (loss, grads) in that order"),
])
def test_two_layer_structure_messages(kwargs, phrase, capsys):
    _fails_with(capsys, gn.check_two_layer_loss_and_grads, make_net(**kwargs), points=6, phrase=phrase)


def test_two_layer_extra_key_is_reported_but_free(capsys):
    assert gn.check_two_layer_loss_and_grads(make_net(extra_key=True), points=6) == 6.0
    assert "grads has extra key(s) ['dz1']" in capsys.readouterr().out


def test_two_layer_missing_key_costs_exactly_that_gradient(capsys):
    # grads['W2'] (1), large scores (1) and kink (2) of 32/3
    _partial(capsys, gn.check_two_layer_loss_and_grads, make_net(drop_key="W2"), points=6, expected=3.75)


@pytest.mark.parametrize("fn,phrase", [
    (lambda p, X, y: None, "returned None"),
    (lambda p, X, y: 1.0, "returned a single float"),
    (lambda p, X, y: (1.0, {}, 2), "returned 3 values; it must return 2"),
    (lambda p, X, y: (RN.mlp_loss_and_grads(p, X, y)[0],
                      {k: v.astype(np.float32) for k, v in RN.mlp_loss_and_grads(p, X, y)[1].items()}),
     "dtype float32"),
    (lambda p, X, y: (RN.mlp_loss_and_grads(p, X, y)[0],
                      {k: v.tolist() for k, v in RN.mlp_loss_and_grads(p, X, y)[1].items()}), "got list"),
    (lambda p, X, y: (np.nan, {k: v * np.nan for k, v in RN.mlp_loss_and_grads(p, X, y)[1].items()}),
     "non-finite"),
    (lambda p, X, y: (RN.mlp_loss_and_grads(p, X, y)[0], None), "grads must be a dict"),
    (lambda p, X, y: p["W3"], "raised KeyError: 'W3'"),
    (lambda p, X, y: (RN.mlp_loss_and_grads(p, X, y)[0], {k: v.T for k, v in RN.mlp_loss_and_grads(p, X, y)[1]
                                                          .items()}), "MISSING_TRANSPOSE"),
])
def test_two_layer_garbage_gives_a_clear_message(fn, phrase, capsys):
    _fails_with(capsys, gn.check_two_layer_loss_and_grads, fn, points=6, phrase=phrase)


# ----------------------------------------------------------------------------------------------- one example


def make_single(*, outer_wrong=False, db1_2d=False, db1_is_dx=False, mask="z", no_onehot=False, sign=False):
    """A hand-written one-example network (1-D arrays, np.outer) with optional mistakes."""

    def fn(params, x, y):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        z1 = x @ W1 + b1
        h = np.maximum(z1, 0)
        s = h @ W2 + b2
        e = np.exp(s - s.max())
        p = e / e.sum()
        loss = -np.log(p[y])
        ds = p.copy()
        if not no_onehot:
            ds[y] -= 1
        if sign:
            ds = -ds
        dh = W2 @ ds
        m = {"z": z1 > 0, "h": h > 0, "none": np.ones_like(h, bool)}[mask]
        dz1 = dh * m
        dW1 = np.outer(dz1, x) if outer_wrong else np.outer(x, dz1)
        db1 = dz1[None, :] if db1_2d else dz1
        if db1_is_dx:
            db1 = W1 @ dz1
        return float(loss), {"W1": dW1, "b1": db1, "W2": np.outer(h, ds), "b2": ds}

    return fn


@pytest.mark.parametrize("kwargs,code,sub", [
    (dict(outer_wrong=True), "MISSING_TRANSPOSE", "grads['W1']"),
    (dict(db1_2d=True), "BIAS_KEEPDIMS", "grads['b1']"),
    (dict(mask="none"), "RELU_MASK", "grads['W1']"),
    (dict(no_onehot=True), "SOFTMAX_GRAD_NO_ONEHOT", "grads['b2']"),
    (dict(sign=True), "SIGN_FLIP", "grads['W2']"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_single_example_mistakes_are_named(kwargs, code, sub, thorough, capsys):
    text = _fails_with(capsys, gn.check_two_layer_single_example, make_single(**kwargs), points=6,
                       thorough=thorough, code=code)
    assert _code_on(text, sub, code), text


def test_single_example_hand_written_version_gets_full_marks():
    assert gn.check_two_layer_single_example(make_single(), points=6, thorough=True) == 6.0


def test_single_example_db1_with_the_shape_of_x_points_at_the_errata(capsys):
    out = _partial(capsys, gn.check_two_layer_single_example, make_single(db1_is_dx=True), points=6, expected=3.75)
    assert "dL/db1 has b1's shape (H,)" in out and "(D,) is the shape of x" in out


# ----------------------------------------------------------------------------------------------- MSE network


@pytest.mark.parametrize("kwargs,code,sub", [
    (dict(factor_two=True), "MSE_FACTOR_TWO", "loss"),
    (dict(factor_two=True), "MSE_FACTOR_TWO", "grads['W1']"),
    (dict(mean_all=True), "MSE_MEAN_ALL", "grads['b2']"),
    (dict(mean_all=True), "MSE_MEAN_ALL", "loss"),
    (dict(out_relu=True), "RELU_ON_OUTPUT", "grads['W2']"),
    (dict(no_1_over_n=True), "MISSING_1_OVER_N", "grads['W2']"),
    (dict(transpose_W1=True), "MISSING_TRANSPOSE", "grads['W1']"),
    (dict(db2_axis1=True), "BIAS_SUM_AXIS", "grads['b2']"),
    (dict(mask="dout"), "RELU_MASK", "grads['W1']"),
    (dict(sign=True), "SIGN_FLIP", "grads['W1']"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_mse_network_mistakes_are_named(kwargs, code, sub, thorough, capsys):
    text = _fails_with(capsys, gn.check_two_layer_mse_loss_and_grads, make_net(loss="mse", **kwargs), points=6,
                       thorough=thorough, code=code)
    assert _code_on(text, sub, code), text


def test_mse_network_student_version_full_marks_and_partial_credit(capsys):
    assert gn.check_two_layer_mse_loss_and_grads(make_net(loss="mse"), points=6, thorough=True) == 6.0
    # loss and four gradients 1 each, kink 2, inputs 7/3: grads['b2'] and kink fail (3 of 28/3)
    _partial(capsys, gn.check_two_layer_mse_loss_and_grads, make_net(loss="mse", db2_axis1=True), points=6,
             expected=round(6 * 19 / 28, 4))


# =============================================================================================== training


def make_train(*, ascent=False, loss_after=False, inplace=False, shallow=False, rebind=False, swap=False,
               one_short=False, as_array=False):
    def train(params, X, y, lr, steps):
        if inplace:
            p = params
        elif shallow:
            p = dict(params)
        else:
            p = {k: v.copy() for k, v in params.items()}
        losses = []
        for i in range(steps - (1 if one_short and steps else 0)):
            loss, grads = RN.mlp_loss_and_grads(p, X, y)
            if not loss_after:
                losses.append(loss)
            for k in p:
                if inplace or shallow:
                    p[k] -= lr * grads[k]
                elif rebind:
                    v = p[k]
                    v = v - lr * grads[k]  # noqa: F841 (the planted mistake)
                else:
                    p[k] = p[k] + (lr if ascent else -lr) * grads[k]
            if loss_after:
                losses.append(RN.mlp_loss_and_grads(p, X, y)[0])
        out = np.array(losses) if as_array else losses
        return (out, p) if swap else (p, out)
    return train


@pytest.mark.parametrize("kwargs,code,phrase", [
    (dict(ascent=True), "SIGN_FLIP", "Your losses do not decrease"),
    (dict(loss_after=True), "TRAIN_LOSS_AFTER_STEP", None),
    (dict(rebind=True), None, "equal the initial ones"),
    (dict(swap=True), None, "return (new_params, losses)"),
    (dict(one_short=True), None, "11 losses for 12 steps"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_training_mistakes_are_named(kwargs, code, phrase, thorough, capsys):
    _fails_with(capsys, gn.check_train_two_layer, make_train(**kwargs), points=3, thorough=thorough, code=code,
                phrase=phrase)


@pytest.mark.parametrize("kwargs", [dict(inplace=True), dict(shallow=True)])
def test_training_that_modifies_the_callers_params_loses_exactly_that_check(kwargs, capsys):
    out = _partial(capsys, gn.check_train_two_layer, make_train(**kwargs), points=3, expected=2.25)
    assert "✗ inputs left unchanged" in out and "params['W1']" in out and "v.copy()" in out
    assert "✓ losses" in out and "✓ new params" in out


def test_training_losses_as_an_array_are_accepted():
    assert gn.check_train_two_layer(make_train(as_array=True), points=3, thorough=True) == 3.0


def test_training_partial_credit_for_losses_recorded_after_the_step(capsys):
    out = _partial(capsys, gn.check_train_two_layer, make_train(loss_after=True), points=3, expected=2.25)
    assert "✗ losses" in out and "✓ new params" in out


@pytest.mark.parametrize("train,phrase", [
    (lambda p, X, y, lr, steps: (p, None), "losses is None"),
    (lambda p, X, y, lr, steps: (p, 3.0), "losses must be a list of numbers"),
    (lambda p, X, y, lr, steps: (p, [None] * steps), "losses[0] is NoneType"),
    (lambda p, X, y, lr, steps: (list(p.values()), [0.0] * steps), "new_params must be a dict"),
    (lambda p, X, y, lr, steps: ({"W1": p["W1"]}, [0.0] * steps), "new_params has no key 'b1'"),
    (lambda p, X, y, lr, steps: None, "returned None"),
])
def test_training_garbage_gives_a_clear_message(train, phrase, capsys):
    _fails_with(capsys, gn.check_train_two_layer, train, points=3, phrase=phrase)


# =============================================================================================== numeric gradient


def make_fd(*, mode="centred", denom="2h", ignore_h=False, no_restore=False, arithmetic_restore=False):
    def numeric_gradient(f, x, h=1e-5):
        step = 1e-5 if ignore_h else h
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + step
            fp = f(x)
            x[i] = old - step
            fm = f(x)
            if arithmetic_restore:
                x[i] += step
            elif not no_restore:
                x[i] = old
            if mode == "forward":
                grad[i] = (fp - f(x)) / step
            elif denom == "h":
                grad[i] = (fp - fm) / step
            elif denom == "precedence":
                grad[i] = (fp - fm) / 2 * step
            elif mode == "sign":
                grad[i] = (fm - fp) / (2 * step)
            else:
                grad[i] = (fp - fm) / (2 * step)
        return grad
    return numeric_gradient


@pytest.mark.parametrize("kwargs,code", [
    (dict(mode="forward"), "ONE_SIDED_DIFFERENCE"),
    (dict(denom="h"), "FD_DENOMINATOR"),
    (dict(denom="precedence"), "FD_DENOMINATOR"),
    (dict(ignore_h=True), "FD_STEP_IGNORED"),
    (dict(mode="sign"), "SIGN_FLIP"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_numeric_gradient_mistakes_are_named(kwargs, code, thorough, capsys):
    _fails_with(capsys, gn.check_numeric_gradient, make_fd(**kwargs), points=2, thorough=thorough, code=code)


def test_numeric_gradient_that_leaves_x_modified_fails_that_check(capsys):
    text = _fails_with(capsys, gn.check_numeric_gradient, make_fd(no_restore=True), points=2,
                       phrase="returned with x modified")
    assert "x[i] = old" in text


def test_numeric_gradient_arithmetic_restore_that_is_exact_is_not_penalised(capsys):
    # (x - h) + h == x exactly for these x and h: the caller's x is unchanged, bit for bit
    assert gn.check_numeric_gradient(make_fd(arithmetic_restore=True), points=2, thorough=True) == 2.0


def test_numeric_gradient_that_leaves_x_changed_in_its_last_digits_loses_the_input_share(capsys):
    def drifting(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            fp = f(x)
            x[i] -= 2 * h
            fm = f(x)
            x[i] += h          # x[i] + h - 2h + h is not exactly x[i]
            grad[i] = (fp - fm) / (2 * h)
        return grad

    out = _partial(capsys, gn.check_numeric_gradient, drifting, points=2, expected=1.5)
    assert "[INPUT_MUTATED]" in out and "last digits" in out and "x[i] = old" in out and "✓ gradient" in out


def test_numeric_gradient_one_sided_gets_nothing_for_leaving_x_alone(capsys):
    # the input share is credited only next to some other success
    text = _fails_with(capsys, gn.check_numeric_gradient, make_fd(mode="forward"), points=2)
    assert "✓ inputs left unchanged" in text


def test_numeric_gradient_vectorised_copy_version_is_accepted():
    def numeric_gradient(f, x, h=1e-5):
        grad = np.zeros(x.size)
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = h
            grad[i] = (f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * h)
        return grad.reshape(x.shape)

    assert gn.check_numeric_gradient(numeric_gradient, points=2, thorough=True) == 2.0


@pytest.mark.parametrize("fn,phrase", [
    (lambda f, x, h=1e-5: None, "got None"),
    (lambda f, x, h=1e-5: G.numeric_grad(f, x, h).ravel(), "shape"),
    (lambda f, x, h=1e-5: f(x.ravel()), "f expects an array of shape"),
    (lambda f, x, h=1e-5: G.numeric_grad(f, x, h).astype(np.float32), "dtype float32"),
])
def test_numeric_gradient_garbage(fn, phrase, capsys):
    _fails_with(capsys, gn.check_numeric_gradient, fn, points=2, phrase=phrase)


def test_numeric_gradient_needs_two_arguments():
    with pytest.raises(AssertionError, match="must accept 2 positional"):
        gn.check_numeric_gradient(lambda f: 0)


# =============================================================================================== rel_error


def rel_elementwise(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def rel_norm(a, b):
    return np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b))


def rel_no_floor(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(a) + np.abs(b))


def rel_added_floor(a, b):
    return np.max(np.abs(a - b)) / (np.max(np.abs(a) + np.abs(b)) + 1e-8)


@pytest.mark.parametrize("fn,code,sub,expected", [
    (rel_elementwise, "REL_ERROR_FORMULA", "general arrays", 1.25),
    (rel_norm, "REL_ERROR_FORMULA", "general arrays", None),
    (rel_no_floor, "REL_ERROR_FLOOR", "near-zero arrays (the 1e-8 floor)", 1.25),
    (rel_added_floor, "REL_ERROR_FLOOR", "near-zero arrays (the 1e-8 floor)", 1.25),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_rel_error_mistakes_are_named(fn, code, sub, expected, thorough, capsys):
    text = _fails_with(capsys, gn.check_rel_error, fn, points=2, thorough=thorough, code=code)
    assert _code_on(text, sub, code), text
    if expected is not None:
        assert gn.check_rel_error(fn, points=2, thorough=thorough) == expected  # one sub-check of two, plus inputs


def test_rel_error_returning_one_value_per_entry_is_explained(capsys):
    _fails_with(capsys, gn.check_rel_error, lambda a, b: np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)),
                points=2, phrase="one value per entry")


def test_rel_error_python_float_and_0d_array_are_accepted():
    assert gn.check_rel_error(lambda a, b: float(G.rel_error(a, b)), points=2, thorough=True) == 2.0
    assert gn.check_rel_error(lambda a, b: np.array(G.rel_error(a, b)), points=2, thorough=True) == 2.0


# =============================================================================================== init


def make_init(scheme, *, fan_out=False, std_as_var=False, missing_two=False, other=False, fixed=None,
              global_rng=False, own_seed=False, uniform=False, transposed=False, bias=False, zeros=False,
              repeat_rows=False):
    def init(sizes, rng):
        if own_seed:
            rng = np.random.default_rng(0)
        params = {}
        for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            use = "xavier" if (scheme == "he") == other else "he"
            num = 1.0 if missing_two else 2.0
            if use == "he":
                var = num / (fo if fan_out else fi)
            else:
                var = num / (fi + fo)
            std = var if std_as_var else math.sqrt(var)
            if fixed is not None:
                std = fixed
            shape = (fo, fi) if transposed else (fi, fo)
            if global_rng:
                W = np.random.randn(*shape) * std
            elif uniform:
                a = std * math.sqrt(3.0)
                W = rng.uniform(-a, a, shape)
            elif repeat_rows:
                W = np.tile(rng.standard_normal(shape[1]) * std, (shape[0], 1))
            else:
                W = rng.standard_normal(shape) * std
            params[f"W{l}"] = np.zeros(shape) if zeros else W
            params[f"b{l}"] = np.full(fo, 0.1) if bias else np.zeros(fo)
        return params
    return init


@pytest.mark.parametrize("scheme,kwargs,code", [
    ("he", dict(fan_out=True), "INIT_FAN_OUT"),
    ("he", dict(std_as_var=True), "INIT_STD_AS_VARIANCE"),
    ("xavier", dict(std_as_var=True), "INIT_STD_AS_VARIANCE"),
    ("he", dict(missing_two=True), "INIT_MISSING_FACTOR_2"),
    ("xavier", dict(missing_two=True), "INIT_MISSING_FACTOR_2"),
    ("he", dict(other=True), "INIT_WRONG_SCHEME"),
    ("xavier", dict(other=True), "INIT_WRONG_SCHEME"),
    ("he", dict(fixed=0.01), "INIT_FIXED_SCALE"),
    ("xavier", dict(fixed=1.0), "INIT_FIXED_SCALE"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_init_mistakes_are_named(scheme, kwargs, code, thorough, capsys):
    text = _fails_with(capsys, gn.check_init, make_init(scheme, **kwargs), scheme, points=4, thorough=thorough,
                       code=code)
    assert _code_on(text, "weight distribution", code)


@pytest.mark.parametrize("scheme", ["he", "xavier"])
def test_init_student_versions_get_full_marks(scheme):
    assert gn.check_init(make_init(scheme), scheme, points=4, thorough=True) == 4.0


@pytest.mark.parametrize("kwargs,phrase,expected", [
    (dict(global_rng=True), "not from np.random.randn", 3.0),
    (dict(own_seed=True), "different seeds gave the same weights", 3.0),
    (dict(uniform=True), "does not look normally distributed", 3.0),
    (dict(bias=True), "b1 is not all zeros", 3.0),
    (dict(zeros=True), "symmetry is never broken", 2.0),  # and no draw from rng at all
    (dict(repeat_rows=True), "distinct values", 3.0),
    (dict(transposed=True), "transposed: here W has shape (fan_in, fan_out)", 3.0),
])
def test_init_other_mistakes_lose_exact_credit(kwargs, phrase, expected, capsys):
    out = _partial(capsys, gn.check_init, make_init("he", **kwargs), "he", points=4, expected=expected)
    assert phrase in out


def test_init_statistical_tolerance_is_tight_enough_to_tell_he_from_xavier():
    # 800 x 200: He 2/800 = 0.0025 vs Xavier 2/1000 = 0.002 differ by 25%; the tolerance is about 2%
    n = 800 * 200
    assert gn.INIT_Z * math.sqrt(2 / (n - 1)) < 0.03


@pytest.mark.parametrize("fn,phrase", [
    (lambda sizes, rng: None, "expected a dict"),
    (lambda sizes, rng: [np.zeros((2, 2))], "expected a dict"),
    (lambda sizes, rng: {"w1": 1}, "params has no key 'W1'"),
    (lambda sizes, rng: {k: v.astype(np.float32) for k, v in RN.init_params(sizes, "he", rng).items()},
     "dtype float32"),
    (lambda sizes, rng: {k: v.tolist() for k, v in RN.init_params(sizes, "he", rng).items()},
     "must be a NumPy array"),
    (lambda sizes, rng: 1 / 0, "raised ZeroDivisionError"),
])
def test_init_garbage(fn, phrase, capsys):
    _fails_with(capsys, gn.check_init, fn, "he", points=4, phrase=phrase)


def test_init_unknown_scheme_is_a_grader_author_error():
    with pytest.raises(ValueError, match="scheme must be one of"):
        gn.check_init(ref_he, "zeros")


# =============================================================================================== robustness


ALL_CHECKS = [
    (gn.check_softmax, 1), (gn.check_softmax_cross_entropy, 2), (gn.check_mse_loss, 2),
    (gn.check_two_layer_loss_and_grads, 3), (gn.check_two_layer_single_example, 3),
    (gn.check_two_layer_mse_loss_and_grads, 3), (gn.check_train_two_layer, 5), (gn.check_numeric_gradient, 2),
    (gn.check_rel_error, 2), (lambda fn, **kw: gn.check_init(fn, "he", **kw), 2),
]


@pytest.mark.parametrize("check,n_args", ALL_CHECKS)
def test_none_non_callables_and_wrong_arity(check, n_args):
    with pytest.raises(AssertionError, match="got None. Define the function"):
        check(None)
    with pytest.raises(AssertionError, match="expected a function, got int"):
        check(3)
    with pytest.raises(AssertionError, match=f"must accept {n_args} positional"):
        check(_arity(n_args - 1))


def _arity(n):
    return {0: lambda: 0, 1: lambda a: 0, 2: lambda a, b: 0, 3: lambda a, b, c: 0, 4: lambda a, b, c, d: 0}[n]


@pytest.mark.parametrize("check,n_args", ALL_CHECKS)
def test_every_check_survives_garbage_returns(check, n_args, capsys):
    for result in (None, "text", 3, [1, 2], (None, None), np.float32(1.0), {"a": 1}, (np.nan, {"W1": np.nan})):
        def fn(*a, _r=result):
            return _r
        with pytest.raises(AssertionError):
            check(fn, points=5)


@pytest.mark.parametrize("check,n_args", ALL_CHECKS)
def test_every_check_survives_an_exception(check, n_args):
    def boom(*a):
        raise RuntimeError("student bug")

    with pytest.raises(AssertionError, match="raised RuntimeError: student bug"):
        check(boom, points=5)


def test_infinite_loop_times_out_quickly(monkeypatch, capsys):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def spin(*a):
        while True:
            pass

    for check in (gn.check_two_layer_loss_and_grads, gn.check_train_two_layer, gn.check_numeric_gradient,
                  lambda fn, **kw: gn.check_init(fn, "xavier", **kw)):
        text = _fails_with(capsys, check, spin, points=2)
        assert "did not finish within 0.3 s" in text


def test_slow_gradient_check_of_own_loss_is_cut_off(monkeypatch, capsys):
    # the finite-difference comparison with the student's own loss runs under the same time limit
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.5)
    import time
    calls = []

    def slow_wrong(params, X, y):
        calls.append(1)
        if len(calls) > 1:
            time.sleep(0.2)  # 48 finite-difference calls for W1 would take about 10 s without the limit
        loss, grads = RN.mlp_loss_and_grads(params, X, y)
        return loss, {**grads, "W1": -grads["W1"]}

    _fails_with(capsys, gn.check_two_layer_loss_and_grads, slow_wrong, points=6, code="SIGN_FLIP")
    assert len(calls) < 48, f"{len(calls)} calls: the numeric check did not stop early"


def test_warnings_and_stderr_never_reach_stderr_and_cost_nothing(capsys):
    def noisy(params, X, y):
        warnings.warn("something odd", RuntimeWarning)
        print("debug", file=sys.stderr)
        np.log(np.zeros(1))
        return RN.mlp_loss_and_grads(params, X, y)

    assert gn.check_two_layer_loss_and_grads(noisy, points=2) == 2.0
    out = capsys.readouterr()
    assert out.err == "" and "RuntimeWarning" in out.out and "wrote to stderr" in out.out


@pytest.mark.in_process(reason="the spy appends its inputs to a list of the test process")
def test_checks_are_pure_functions_of_the_seed():
    seen = []

    def spy(params, X, y):
        seen.append(X.copy())
        return RN.mlp_loss_and_grads(params, X, y)

    state = np.random.get_state()[1].copy()
    gn.check_two_layer_loss_and_grads(spy, seed=3)
    gn.check_two_layer_loss_and_grads(spy, seed=3)
    gn.check_two_layer_loss_and_grads(spy, seed=4)
    assert np.array_equal(np.random.get_state()[1], state)  # the global RNG is never touched
    n = len(seen) // 3
    assert all(np.array_equal(a, b) for a, b in zip(seen[:n], seen[n:2 * n]))
    assert not np.array_equal(seen[0], seen[2 * n])


def test_checks_never_modify_the_students_view_of_the_reference_inputs():
    # a student function that modifies its copy must not change what the next case sees
    seen = []

    def mutating(params, X, y):
        seen.append(params["W1"].copy())
        out = RN.mlp_loss_and_grads(params, X, y)
        params["W1"][:] = 0
        return out

    try:
        gn.check_two_layer_loss_and_grads(mutating, seed=5, points=6)
    except AssertionError:
        pass
    fresh = []
    gn.check_two_layer_loss_and_grads(lambda p, X, y: fresh.append(p["W1"].copy()) or RN.mlp_loss_and_grads(p, X, y),
                                      seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(seen, fresh[:len(seen)]))


def test_without_points_any_failure_raises():
    with pytest.raises(AssertionError, match="BIAS_KEEPDIMS"):
        gn.check_two_layer_loss_and_grads(make_net(db1_keepdims=True))


# =============================================================================================== analytic, not numeric


def _fd_net(loss_kind: str, h: float):
    """A student who writes the forward pass and takes every gradient by centred differences of the loss."""
    def loss_of(params, X, t):
        X2 = X if X.ndim == 2 else X[None, :]
        s = np.maximum(X2 @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
        if loss_kind == "mse":
            return float(np.sum((s - t) ** 2) / (2 * len(X2)))
        t2 = np.atleast_1d(t)
        z = s - s.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(X2)), t2].mean())

    def fn(params, X, t):
        grads = {}
        for k, v in params.items():
            g = np.zeros_like(v)
            for i in np.ndindex(v.shape):
                plus = {kk: vv.copy() for kk, vv in params.items()}
                minus = {kk: vv.copy() for kk, vv in params.items()}
                plus[k][i] += h
                minus[k][i] -= h
                g[i] = (loss_of(plus, X, t) - loss_of(minus, X, t)) / (2 * h)
            grads[k] = g
        return loss_of(params, X, t), grads

    return fn


@pytest.mark.parametrize("check,loss_kind", [(gn.check_two_layer_loss_and_grads, "softmax"),
                                             (gn.check_two_layer_single_example, "softmax"),
                                             (gn.check_two_layer_mse_loss_and_grads, "mse")],
                         ids=["batched", "single", "mse"])
@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8])
@pytest.mark.parametrize("thorough", [False, True])
def test_network_gradients_by_finite_differences_lose_the_kink_share_at_every_step(check, loss_kind, h, thorough,
                                                                                    capsys):
    text = _fails_with(capsys, check, _fd_net(loss_kind, h), points=6, thorough=thorough)
    assert "✗ hidden units at the ReLU kink" in text, text  # at every step size
    if h in (1e-4, 1e-5, 1e-6):  # a sensible step: right everywhere else, and the shortcut is named
        assert "[NUMERIC_NOT_ANALYTIC]" in text and "✓ grads['W1']" in text and "✓ loss" in text, text


@pytest.mark.parametrize("thorough", [False, True])
def test_network_relu_slope_at_exactly_zero_is_tested_visible_and_hidden(thorough, capsys):
    text = _fails_with(capsys, gn.check_two_layer_loss_and_grads, make_net(mask="ge"), points=6, thorough=thorough,
                       code="RELU_AT_ZERO")
    assert "✗ hidden units at the ReLU kink" in text and "✓ grads['W1']" in text
    # a mask taken from the ReLU output is right at the kink as well
    assert gn.check_two_layer_loss_and_grads(make_net(mask="h"), points=6, thorough=thorough) == 6.0


@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8, 0.25])
@pytest.mark.parametrize("thorough", [False, True])
def test_cross_entropy_dscores_by_finite_differences_is_named(h, thorough, capsys):
    def ce_fd(scores, y):
        def loss(s):
            z = s - s.max(axis=1, keepdims=True)
            return float(-(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(y)), y].mean())
        g = np.zeros_like(scores)
        for i in np.ndindex(scores.shape):
            e = np.zeros_like(scores)
            e[i] = h
            g[i] = (loss(scores + e) - loss(scores - e)) / (2 * h)
        return loss(scores), g

    text = _fails_with(capsys, gn.check_softmax_cross_entropy, ce_fd, points=3, thorough=thorough)
    assert "✗ large logits (stability)" in text and "1e15" in text, text  # at every step size
    if h in (1e-4, 1e-5, 1e-6):  # right on the ordinary cases: the shortcut is named
        assert "[NUMERIC_NOT_ANALYTIC]" in text and "✓ dscores" in text, text
