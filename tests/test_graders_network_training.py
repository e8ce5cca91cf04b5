"""graders.network, continued from tests/test_graders_network.py (the references, losses and the two-layer
network): training, the numeric gradient, rel_error, initialization, robustness of every check against
garbage, and the cases where finite-difference gradients are named NUMERIC_NOT_ANALYTIC."""

from __future__ import annotations

import math
import re
import sys
import warnings

import numpy as np
import pytest

import graders.core as core
from graders import network as gn
from reference_impl import gradcheck as G
from reference_impl import network as RN
from tests.grading_helpers import fails_with as _fails_with
from tests.test_graders_network import _code_on, _partial, make_net, ref_he


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
    assert "✗ analytic gradient (hidden units at the ReLU kink" in text, text  # at every step size
    if h in (1e-4, 1e-5, 1e-6):  # a sensible step: right everywhere else, and the shortcut is named
        assert "[NUMERIC_NOT_ANALYTIC]" in text and "✓ grads['W1']" in text and "✓ loss" in text, text


@pytest.mark.parametrize("thorough", [False, True])
def test_network_relu_slope_at_exactly_zero_is_tested_visible_and_hidden(thorough, capsys):
    text = _fails_with(capsys, gn.check_two_layer_loss_and_grads, make_net(mask="ge"), points=6, thorough=thorough,
                       code="RELU_AT_ZERO")
    assert "✗ analytic gradient (hidden units at the ReLU kink" in text and "✓ grads['W1']" in text
    # a mask taken from the ReLU output is right at the kink as well
    assert gn.check_two_layer_loss_and_grads(make_net(mask="h"), points=6, thorough=thorough) == 6.0


def _complex_step_net(loss_kind: str):
    """A student who writes the forward pass for complex parameters and takes every gradient by the complex-step
    trick, dL/dp_k = Im L(p + i h e_k) / h with h = 1e-20: no subtraction, so no cancellation error; with the
    mask read from the real part (slope 0 at exactly 0) it is exact at the kink and at scores around 1e3."""
    def loss_of(params, X, t):
        X2 = X if X.ndim == 2 else X[None, :]
        z1 = X2 @ params["W1"] + params["b1"]
        s = np.where(z1.real > 0, z1, 0) @ params["W2"] + params["b2"]
        if loss_kind == "mse":
            return np.sum((s - t) ** 2) / (2 * len(X2))
        t2 = np.atleast_1d(t)
        z = s - s.real.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -logp[np.arange(len(X2)), t2].mean()

    def fn(params, X, t):
        grads = {}
        for k, v in params.items():
            g = np.zeros_like(v)
            for i in np.ndindex(v.shape):
                trial = {kk: vv.astype(complex) for kk, vv in params.items()}
                trial[k][i] += 1e-20j
                g[i] = loss_of(trial, X, t).imag / 1e-20
            grads[k] = g
        return float(loss_of(params, X, t).real), grads

    return fn


def _loop_net(loss_kind: str):
    """A right answer written with loops: the forward one example at a time, the backward with explicit loops
    over the examples and the hidden units (vectorized only over the D inputs)."""
    def fn(params, X, t):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        single = X.ndim == 1
        X2 = X[None, :] if single else X
        t2 = np.array([t]) if single else t
        N, H = X2.shape[0], W1.shape[1]
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        total = 0.0
        for n in range(N):
            z1 = X2[n] @ W1 + b1
            h = np.maximum(z1, 0.0)
            s = h @ W2 + b2
            if loss_kind == "mse":
                total += 0.5 * float(np.sum((s - t2[n]) ** 2))
                ds = (s - t2[n]) / N
            else:
                e = np.exp(s - s.max())
                p = e / e.sum()
                total -= float(np.log(p[t2[n]]))
                ds = p.copy()
                ds[t2[n]] -= 1.0
                ds /= N
            grads["b2"] += ds
            for j in range(H):
                grads["W2"][j] += h[j] * ds
                if z1[j] > 0:
                    dz = float(W2[j] @ ds)
                    grads["W1"][:, j] += dz * X2[n]
                    grads["b1"][j] += dz
        return total / N, grads

    return fn


@pytest.mark.parametrize("check,loss_kind,thorough", [(gn.check_two_layer_loss_and_grads, "softmax", False),
                                                      (gn.check_two_layer_loss_and_grads, "softmax", True),
                                                      (gn.check_two_layer_single_example, "softmax", False),
                                                      (gn.check_two_layer_mse_loss_and_grads, "mse", False)],
                         ids=["batched", "batched-hidden", "single", "mse"])
def test_network_gradients_by_the_complex_step_trick_lose_the_analytic_share_on_the_cost_case(check, loss_kind,
                                                                                               thorough, capsys):
    """Exact to rounding at the kink and at large scores, so only the cost case (one loss evaluation per each of
    ~1e5 parameters, NET_BACKSTOP seconds) catches it; it loses exactly the share a wrong slope at 0 loses."""
    text = _fails_with(capsys, check, _complex_step_net(loss_kind), points=6, thorough=thorough,
                       code="NUMERIC_NOT_ANALYTIC")
    assert "✗ analytic gradient (hidden units at the ReLU kink" in text, text
    assert "✓ loss" in text and all(f"✓ grads['{k}']" in text for k in ("W1", "b1", "W2", "b2")), text
    assert f"D={gn.two_layer.NET_COST_SHAPE[1]}" in text and "did not finish" in text, text
    passed, total = (int(n) for n in re.search(r"\((\d+) of (\d+) checks passed\)", text).groups())
    assert passed == total - 1, text  # that share only


@pytest.mark.parametrize("check,loss_kind", [(gn.check_two_layer_loss_and_grads, "softmax"),
                                             (gn.check_two_layer_single_example, "softmax"),
                                             (gn.check_two_layer_mse_loss_and_grads, "mse")],
                         ids=["batched", "single", "mse"])
@pytest.mark.parametrize("thorough", [False, True])
def test_network_written_with_loops_keeps_full_marks_on_the_cost_case(check, loss_kind, thorough):
    assert check(_loop_net(loss_kind), points=6, thorough=thorough) == 6.0
    assert check(_loop_net(loss_kind), points=6, seed=5, thorough=thorough) == 6.0


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
