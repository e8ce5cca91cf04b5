"""graders.layers and graders.core: the reference scores full marks, planted mistakes are named,
garbage fails with a clear message and never crashes the grader, partial credit is exact."""

from __future__ import annotations

import numpy as np
import pytest

import graders.core as core
from graders import layers as gl
from reference_impl import layers as R
from tests.grading_helpers import fails_with as _fails_with

LAYERS = ["affine", "relu", "leaky_relu", "sigmoid", "tanh", "max_pool1d", "max_pool2d", "residual", "dropout"]


def _pair(name):
    return getattr(R, f"{name}_forward"), getattr(R, f"{name}_backward")


def _check(name):
    return getattr(gl, f"check_{name}")


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("seed,thorough", [(0, False), (1234, True)])
def test_reference_gets_full_marks(name, seed, thorough, capsys):
    fwd, bwd = _pair(name)
    assert _check(name)(fwd, bwd, seed=seed, points=3, thorough=thorough) == 3.0
    assert _check(name)(fwd, bwd, seed=seed, thorough=thorough) is None
    out = capsys.readouterr()
    assert "all" in out.out and out.err == ""


# ----------------------------------------------------------------------------------- planted mistakes

def affine_no_transpose_dW(dout, cache):
    x, W = cache
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


def affine_db_axis1(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=1)


def affine_db_keepdims(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0, keepdims=True)


def affine_db_mean(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)


def affine_dx_sign(dout, cache):
    x, W = cache
    return -(dout @ W.T), x.T @ dout, dout.sum(axis=0)


def relu_mask_on_dout(dout, cache):
    return dout * (dout > 0)


def relu_no_mask(dout, cache):
    return dout.copy()


def leaky_forgets_alpha(dout, cache):
    x, alpha = cache
    return dout * (x > 0)


def sigmoid_resquash(dout, s):
    t = 1 / (1 + np.exp(-s))
    return dout * t * (1 - t)


def sigmoid_missing_one_minus(dout, s):
    return dout * s


def tanh_unsquared(dout, t):
    return dout * (1 - t)


def tanh_added(dout, t):
    return dout + (1 - t ** 2)


def maxpool2d_avg(dout, cache):
    x_shape, rows, cols, pool_w, arg = cache
    N, C, h_out, w_out = dout.shape
    pool_h = rows.shape[1]
    dx = np.zeros(x_shape)
    for i in range(h_out):
        for j in range(w_out):
            dx[:, :, rows[i, 0]:rows[i, -1] + 1, cols[j, 0]:cols[j, -1] + 1] += \
                dout[:, :, i, j][:, :, None, None] / (pool_h * pool_w)
    return dx


def maxpool1d_everyone(dout, cache):
    x_shape, idx, arg = cache
    dx = np.zeros(x_shape)
    for k in range(idx.shape[0]):
        dx[:, :, idx[k]] += dout[:, :, k][:, :, None]
    return dx


def residual_no_identity(dout, cache):
    grads = R.residual_backward(dout, cache)
    return (grads[0] - dout,) + tuple(grads[1:])


def dropout_no_scale_forward(x, p, rng):
    mask = rng.random(x.shape) >= p
    return x * mask, mask.astype(float)


def dropout_unscaled_backward(dout, mask):
    return dout * (mask != 0)


@pytest.mark.parametrize("name,fwd,bwd,code", [
    ("affine", None, affine_no_transpose_dW, "MISSING_TRANSPOSE"),
    ("affine", None, affine_db_axis1, "BIAS_SUM_AXIS"),
    ("affine", None, affine_db_keepdims, "BIAS_KEEPDIMS"),
    ("affine", None, affine_db_mean, "EXTRA_1_OVER_N"),
    ("affine", None, affine_dx_sign, "SIGN_FLIP"),
    ("relu", None, relu_mask_on_dout, "RELU_MASK"),
    ("relu", None, relu_no_mask, "RELU_MASK"),
    ("leaky_relu", None, leaky_forgets_alpha, "LEAKY_SLOPE"),
    ("sigmoid", None, sigmoid_resquash, "SIGMOID_ON_OUTPUT"),
    ("sigmoid", None, sigmoid_missing_one_minus, "SIGMOID_DERIVATIVE"),
    ("tanh", None, tanh_unsquared, "TANH_DERIVATIVE"),
    ("tanh", None, tanh_added, "CHAIN_RULE_ADDED"),
    ("max_pool2d", None, maxpool2d_avg, "MAXPOOL_ROUTING"),
    ("max_pool1d", None, maxpool1d_everyone, "MAXPOOL_ROUTING"),
    ("residual", None, residual_no_identity, "RESIDUAL_NO_IDENTITY"),
    ("dropout", dropout_no_scale_forward, dropout_unscaled_backward, "DROPOUT_SCALE"),
])
def test_planted_mistake_is_named(name, fwd, bwd, code, capsys):
    ref_fwd, _ = _pair(name)
    for thorough in (False, True):
        _fails_with(capsys, _check(name), fwd or ref_fwd, bwd, points=4, thorough=thorough, code=code)


def test_partial_credit_is_exact(capsys):
    # forward, dx, dW, db, the large-bias case (1 each) and inputs left unchanged (5/3, a quarter of all):
    # db is wrong in the ordinary cases and in the large-bias case, so 2 of 20/3 are lost
    assert gl.check_affine(R.affine_forward, affine_db_keepdims, points=4) == 2.8
    out = capsys.readouterr().out
    assert "Partial credit: 2.8 of 4 points" in out and "✗ backward db" in out


def test_wrong_forward_with_a_consistent_backward_is_told_to_fix_the_forward(capsys):
    def fwd(x, W, b):
        return x @ W - b, (x, W)

    def bwd(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, -dout.sum(axis=0)

    text = _fails_with(capsys, gl.check_affine, fwd, bwd, points=4)
    assert "consistent with your own forward" in text and "fix the forward first" in text


def test_right_forward_wrong_backward_blames_the_backward(capsys):
    text = _fails_with(capsys, gl.check_affine, R.affine_forward, affine_dx_sign, points=4)
    assert "the mistake is in the backward" in text


def test_without_points_any_failure_raises():
    with pytest.raises(AssertionError, match="BIAS_KEEPDIMS"):
        gl.check_affine(R.affine_forward, affine_db_keepdims)


# ----------------------------------------------------------------------------------- garbage

def test_none_and_non_callables():
    with pytest.raises(AssertionError, match="got None. Define the function"):
        gl.check_affine(None, R.affine_backward)
    with pytest.raises(AssertionError, match="expected a function, got int"):
        gl.check_affine(R.affine_forward, 3)
    with pytest.raises(AssertionError, match="must accept 3 positional"):
        gl.check_affine(lambda x: x, R.affine_backward)


@pytest.mark.parametrize("bwd,phrase", [
    (lambda dout, cache: None, "returned None"),
    (lambda dout, cache: dout, "returned a single ndarray"),
    (lambda dout, cache: (dout, dout), "returned 2 values; it must return 3"),
    (lambda dout, cache: (cache[0] * np.nan, cache[1] * 0 + np.inf, dout.sum(0)), "non-finite"),
    (lambda dout, cache: (dout @ cache[1].T, (cache[0].T @ dout).astype(np.float32), dout.sum(0)), "dtype float32"),
    (lambda dout, cache: (dout @ cache[1].T, (cache[0].T @ dout).tolist(), dout.sum(0)), "got list"),
    (lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout, dout.sum()), "shape ()"),
    (lambda dout, cache: 1 / 0, "raised ZeroDivisionError: division by zero"),
])
def test_garbage_backward_gives_a_clear_message(bwd, phrase, capsys):
    text = _fails_with(capsys, gl.check_affine, R.affine_forward, bwd, points=4)
    assert phrase in text


def test_forward_returning_only_out_is_explained():
    with pytest.raises(AssertionError, match="returned a single ndarray; it must return a tuple of 2 values"):
        gl.check_affine(lambda x, W, b: x @ W + b, R.affine_backward)


def test_infinite_loop_times_out_quickly(monkeypatch, capsys):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.5)

    def spin(dout, cache):
        while True:
            pass

    text = _fails_with(capsys, gl.check_relu, R.relu_forward, spin, points=2)
    assert "did not finish within 0.5 s" in text


def test_warnings_and_stderr_never_reach_stderr_and_cost_nothing(capsys):
    import sys
    import warnings

    def noisy_backward(dout, cache):
        warnings.warn("something odd", RuntimeWarning)
        print("debug", file=sys.stderr)
        np.log(np.zeros(1))
        return R.relu_backward(dout, cache)

    assert gl.check_relu(R.relu_forward, noisy_backward, points=2) == 2.0
    out = capsys.readouterr()
    assert out.err == "" and "RuntimeWarning" in out.out and "wrote to stderr" in out.out


def test_input_mutation_costs_the_course_wide_share(capsys):
    def mutating_forward(x):
        out = np.maximum(x, 0)
        x *= 2
        return out, x / 2

    def mutating_backward(dout, cache):
        dout[cache <= 0] = 0.0        # the classic in-place backward: writes into the caller's dout
        return dout

    for fwd, bwd in ((mutating_forward, R.relu_backward), (R.relu_forward, mutating_backward)):
        # forward, dx, x exactly 0 (1 each) and inputs left unchanged (1, a quarter of the total 4)
        assert gl.check_relu(fwd, bwd, points=2) == 1.5
        out = capsys.readouterr().out
        assert "✗ inputs left unchanged" in out and "[INPUT_MUTATED]" in out and "did not cost points" not in out


@pytest.mark.in_process(reason="the spy forward appends its inputs to a list of the test process")
def test_checks_are_pure_functions_of_the_seed(capsys):
    seen = []

    def spy(x, W, b):
        seen.append(x.copy())
        return R.affine_forward(x, W, b)

    gl.check_affine(spy, R.affine_backward, seed=3)
    gl.check_affine(spy, R.affine_backward, seed=3)
    gl.check_affine(spy, R.affine_backward, seed=4)
    n = len(seen) // 3
    assert all(np.array_equal(a, b) for a, b in zip(seen[:n], seen[n:2 * n]))
    assert not np.array_equal(seen[0], seen[2 * n])


def test_points_must_be_positive():
    with pytest.raises(ValueError, match="points must be a positive number"):
        gl.check_relu(R.relu_forward, R.relu_backward, points=0)


def test_diagnose_is_never_fooled_by_a_correct_answer():
    e = np.arange(6.0).reshape(2, 3) + 1
    assert core.diagnose(e, e, {"SIGN_FLIP": -e}) is None
    assert core.diagnose(-e, e).code == "SIGN_FLIP"
    assert core.diagnose(e * 4, e, batch_size=4).code == "MISSING_1_OVER_N"
    assert core.diagnose(e.T, e).code == "MISSING_TRANSPOSE"
    assert core.diagnose(np.zeros_like(e), e).code == "ZERO_GRADIENT"
    assert core.diagnose(e + 1, e) is None


def test_array_problem_order_and_wording():
    e = np.ones((2, 3))
    assert core.array_problem(e.copy(), e) is None
    assert "got None" in core.array_problem(None, e)
    assert "shape (3, 2), expected (2, 3)" in core.array_problem(np.ones((3, 2)), e)
    assert "dtype int64" in core.array_problem(np.ones((2, 3), dtype=np.int64), e)
    assert "non-finite" in core.array_problem(e * np.nan, e)
    assert "values differ" in core.array_problem(e * 1.01, e)
    assert core.array_problem(2.0, np.float64(2.0), scalar_ok=True) is None


# ------------------------------------------------------------------------------------------- analytic, not numeric


def _affine_backward_by_finite_differences(h):
    """A student whose backward perturbs the cached inputs and re-runs the forward (x @ W + b)."""
    def backward(dout, cache):
        x, W, b = cache
        grads = []
        for pos in range(3):
            args = [x, W, b]
            g = np.zeros_like(args[pos])
            for i in np.ndindex(g.shape):
                plus, minus = [a.copy() for a in args], [a.copy() for a in args]
                plus[pos][i] += h
                minus[pos][i] -= h
                g[i] = np.sum(((plus[0] @ plus[1] + plus[2]) - (minus[0] @ minus[1] + minus[2])) * dout) / (2 * h)
            grads.append(g)
        return tuple(grads)
    return backward


def _affine_forward_caching_b(x, W, b):
    return x @ W + b, (x, W, b)


@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8, 1.0])
@pytest.mark.parametrize("thorough", [False, True])
def test_affine_backward_by_finite_differences_loses_the_large_bias_share_at_every_step(h, thorough, capsys):
    text = _fails_with(capsys, gl.check_affine, _affine_forward_caching_b, _affine_backward_by_finite_differences(h),
                       points=2, thorough=thorough)
    assert "✗ large bias b ~ 1e15" in text and "[NUMERIC_NOT_ANALYTIC]" in text, text
    assert "✓ backward dx" in text and "✓ backward dW" in text  # right on the ordinary cases: only that share
    assert gl.check_affine(_affine_forward_caching_b, _affine_backward_by_finite_differences(h), points=2,
                           thorough=thorough) == pytest.approx(2 * (1 - 1 / (20 / 3)))


def _relu_backward_ge(dout, cache):
    return dout * (cache >= 0)


def _relu_backward_half_at_zero(dout, cache):
    return dout * np.heaviside(cache, 0.5)


def _relu_forward_caching_x(x):
    return np.maximum(x, 0.0), x


@pytest.mark.parametrize("bwd", [_relu_backward_ge, _relu_backward_half_at_zero])
@pytest.mark.parametrize("thorough", [False, True])
def test_relu_slope_at_exactly_zero_is_tested_with_exact_zeros_visible_and_hidden(bwd, thorough, capsys):
    cases = gl._relu_cases(np.random.default_rng(0), thorough)
    assert any(np.any(c.args[0] == 0.0) for c in cases if c.kind)  # exact zeros, in both settings
    text = _fails_with(capsys, gl.check_relu, _relu_forward_caching_x, bwd, points=1, thorough=thorough,
                       code="RELU_AT_ZERO")
    assert "✗ x exactly 0 (slope 0 there)" in text and "✓ backward dx" in text
    # the output mask is right at 0 as well (max(0, 0) = 0 is not > 0)
    assert gl.check_relu(lambda x: (np.maximum(x, 0.0), np.maximum(x, 0.0)), lambda d, out: d * (out > 0),
                         points=1, thorough=thorough) == 1.0
