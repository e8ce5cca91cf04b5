"""graders.network: the references score full marks, planted mistakes are named, garbage fails with a clear
message and never crashes the grader, partial credit is exact. This file: the references, the losses (softmax,
cross-entropy, MSE) and the two-layer network; tests/test_graders_network_training.py has training, the
numeric gradient, rel_error, initialization, robustness and the analytic-not-numeric cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
