"""Batchnorm and layernorm: backward vs numeric VJPs with a random dout, the dout = ones trap, running stats."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from reference_impl.batchnorm import (batchnorm_backward, batchnorm_backward_closed_form, batchnorm_forward,
                                      layernorm_backward, layernorm_forward)
from reference_impl.gradcheck import numeric_vjp, rel_error
from tests.helpers import away_from_zero, rng_for

FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)
TOL = 1e-7
BACKWARDS = [batchnorm_backward, batchnorm_backward_closed_form]


def _problem(rng, N, D, scale=1.0, shift=0.0):
    """x (N,D) = scale * normal + shift, gamma (D,) with |gamma| in [0.5, 2] (never 1), beta (D,), dout (N,D)."""
    x = rng.standard_normal((N, D)) * scale + shift
    gamma = away_from_zero(rng, D, 0.5, 2.0)
    return x, gamma, rng.standard_normal(D), rng.standard_normal((N, D))


def _check_all_grads(fwd, grads, x, gamma, beta, dout, tol=TOL):
    """Each of (dx, dgamma, dbeta) against the numeric VJP of fwd(x, gamma, beta) -> out."""
    args = [x, gamma, beta]
    for i, (name, g) in enumerate(zip(["dx", "dgamma", "dbeta"], grads)):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            return fwd(*a)
        num = numeric_vjp(f, args[i], dout)
        assert g.shape == num.shape and g.dtype == np.float64, name
        if i == 0:
            err = rel_error(g, num)
        else:
            # dgamma = sum_n dout * xhat and dbeta = sum_n dout are sums over the batch that can nearly cancel;
            # the finite difference's round-off scales with the terms, so the error is measured on their size.
            xhat = (fwd(x, gamma, beta) - beta) / gamma
            terms = np.abs(dout * (xhat if i == 1 else 1.0)).sum(axis=0)
            err = np.abs(g - num).max() / max(1e-8, (np.abs(g) + np.abs(num) + terms).max())
        assert err < tol, f"{name}: relative error {err:.3e}"


def _dx_not_cancelled(x, gamma, dout):
    """False when batchnorm's dx nearly cancels, so finite-difference noise would dominate it.

    Per column, dx = gamma / std * (the part of dout orthogonal to 1 and xhat) as eps -> 0; with few rows a
    random dout can lie almost in that span. Keep problems where dx keeps 5% of the scale gamma * dout / std.
    """
    xhat = (x - x.mean(axis=0)) / x.std(axis=0)
    size, full = 0.0, 0.0
    for j in range(x.shape[1]):
        A = np.stack([np.ones(len(x)), xhat[:, j]], axis=1)
        r = dout[:, j] - A @ np.linalg.lstsq(A, dout[:, j], rcond=None)[0]
        size = max(size, abs(gamma[j]) / x[:, j].std() * np.abs(r).max())
        full = max(full, abs(gamma[j]) / x[:, j].std() * np.abs(dout[:, j]).max())
    return size > 0.05 * full


# --------------------------------------------------------------------------- forward
def test_forward_train_normalizes_each_column_with_the_biased_variance():
    rng = rng_for(0)
    x, gamma, beta, _ = _problem(rng, 6, 4, scale=3.0, shift=-2.0)
    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    mu, var = x.mean(axis=0), x.var(axis=0)  # np.var is biased (ddof=0)
    np.testing.assert_allclose(out, gamma * (x - mu) / np.sqrt(var + 1e-5) + beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache["xhat"].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    assert out.dtype == np.float64


def test_forward_returns_float64_for_integer_and_float32_input():
    x = np.array([[1, 2], [3, 5], [4, 4]])
    out, _ = batchnorm_forward(x, np.ones(2, dtype=np.float32), np.zeros(2, dtype=np.int64))
    assert out.dtype == np.float64
    out, _ = layernorm_forward(x.astype(np.float32), np.ones(2), np.zeros(2))
    assert out.dtype == np.float64


# --------------------------------------------------------------------------- backward vs numeric
@pytest.mark.parametrize("backward", BACKWARDS)
@FAST
@given(N=st.integers(2, 6), D=st.integers(1, 5), seed=seeds)
def test_batchnorm_backward_matches_numeric(backward, N, D, seed):
    rng = rng_for(seed)
    x, gamma, beta, dout = _problem(rng, N, D)
    # With N = 2, xhat = +-|d| / sqrt(d^2 + 4 eps) (d = x1 - x2): dx is O(eps / d^2) and at eps = 1e-5 sits
    # at the level of finite-difference noise. An eps comparable to the variance keeps the case checkable.
    eps = 1e-5 if N > 2 else float(x.var(axis=0).max())
    assume(x.std(axis=0).min() > 0.1)  # nearly equal rows: centred differences lose accuracy as h^2 / std^2
    assume(N == 2 or _dx_not_cancelled(x, gamma, dout))
    out, cache = batchnorm_forward(x, gamma, beta, eps=eps)
    _check_all_grads(lambda *a: batchnorm_forward(*a, eps=eps)[0], backward(dout, cache), x, gamma, beta, dout)


@pytest.mark.parametrize("backward", BACKWARDS)
@FAST
@given(N=st.integers(3, 6), D=st.integers(1, 5), seed=seeds)
def test_batchnorm_backward_matches_numeric_on_badly_scaled_uncentred_input(backward, N, D, seed):
    rng = rng_for(seed)
    x, gamma, beta, dout = _problem(rng, N, D, scale=50.0, shift=30.0)
    assume(x.std(axis=0).min() > 5.0 and _dx_not_cancelled(x, gamma, dout))
    out, cache = batchnorm_forward(x, gamma, beta)
    _check_all_grads(lambda *a: batchnorm_forward(*a)[0], backward(dout, cache), x, gamma, beta, dout)


@FAST
@given(N=st.integers(2, 6), D=st.integers(1, 5), seed=seeds)
def test_staged_and_closed_form_backward_agree(N, D, seed):
    rng = rng_for(seed)
    x, gamma, beta, dout = _problem(rng, N, D, scale=rng.uniform(0.1, 100), shift=rng.uniform(-50, 50))
    _, cache = batchnorm_forward(x, gamma, beta)
    (dx_s, dg_s, db_s), (dx_c, dg_c, db_c) = batchnorm_backward(dout, cache), batchnorm_backward_closed_form(dout, cache)
    # dx is a difference of terms of size |gamma * dout| / std (and nearly cancels when N = 2): compare on that scale.
    scale = np.abs(gamma * dout * cache["inv_std"]).max()
    assert np.abs(dx_s - dx_c).max() < 1e-12 * scale
    assert rel_error(dg_s, dg_c) < 1e-12 and rel_error(db_s, db_c) < 1e-12


@pytest.mark.parametrize("backward", BACKWARDS)
@FAST
@given(N=st.integers(1, 6), D=st.integers(1, 5), seed=seeds)
def test_eval_mode_backward_goes_through_fixed_running_stats(backward, N, D, seed):
    rng = rng_for(seed)
    x, gamma, beta, dout = _problem(rng, N, D, scale=2.0, shift=1.0)
    rm, rv = rng.standard_normal(D), rng.uniform(0.5, 3.0, D)

    def fwd(x_, g_, b_):
        return batchnorm_forward(x_, g_, b_, mode="eval", running_mean=rm, running_var=rv)[0]

    out, cache = batchnorm_forward(x, gamma, beta, mode="eval", running_mean=rm, running_var=rv)
    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv + 1e-5) + beta, rtol=1e-12, atol=1e-12)
    grads = backward(dout, cache)
    _check_all_grads(fwd, grads, x, gamma, beta, dout)
    np.testing.assert_allclose(grads[0], dout * gamma / np.sqrt(rv + 1e-5), rtol=1e-12)


def test_two_row_batch_has_an_eps_sized_input_gradient():
    """With N = 2 both rows normalize to about +-1 whatever x is, so dx -> 0 as eps -> 0."""
    rng = rng_for(3)
    x, gamma, beta, dout = _problem(rng, 2, 3)
    for eps in (1e-2, 1e-4, 1e-6):
        _, cache = batchnorm_forward(x, gamma, beta, eps=eps)
        np.testing.assert_allclose(np.abs(cache["xhat"]), 1.0, atol=eps * 20)
        dx = batchnorm_backward(dout, cache)[0]
        assert np.abs(dx).max() < 200 * eps


# --------------------------------------------------------------------------- the dout = ones trap
def _planted_missing_mean_term(dout, cache):
    """dx = dxhat / std: treats mu and var as constants (misses both the mean and the variance term)."""
    _, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dout * cache["gamma"] * cache["inv_std"], dgamma, dbeta


def _planted_missing_var_term(dout, cache):
    """dx = (dxhat - mean(dxhat)) / std: keeps the mean term, drops -xhat * mean(dxhat * xhat)."""
    _, dgamma, dbeta = batchnorm_backward(dout, cache)
    dxhat = dout * cache["gamma"]
    return (dxhat - dxhat.mean(axis=0)) * cache["inv_std"], dgamma, dbeta


def _planted_gamma_forgotten(dout, cache):
    """dxhat = dout instead of gamma * dout."""
    without_gamma = dict(cache, gamma=np.ones_like(cache["gamma"]))
    _, dgamma, dbeta = batchnorm_backward(dout, cache)
    return batchnorm_backward_closed_form(dout, without_gamma)[0], dgamma, dbeta


def _bn_setup(seed=11, N=5, D=4):
    rng = rng_for(seed)
    x, gamma, beta, dout = _problem(rng, N, D, scale=2.0, shift=1.0)
    _, cache = batchnorm_forward(x, gamma, beta)
    num_ones = numeric_vjp(lambda v: batchnorm_forward(v, gamma, beta)[0], x, np.ones_like(x))
    num_rand = numeric_vjp(lambda v: batchnorm_forward(v, gamma, beta)[0], x, dout)
    return cache, dout, num_ones, num_rand


def _passes_ones_check(dx, num_ones):
    # Absolute: the true gradient is 0, so a relative error only measures finite-difference noise.
    return np.allclose(dx, num_ones, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backward", BACKWARDS)
def test_dout_ones_gives_zero_input_gradient(backward):
    """sum_i out_i = N * beta does not depend on x (sum of xhat is 0), so with dout = ones dx is 0."""
    cache, _, num_ones, _ = _bn_setup()
    dx = backward(np.ones_like(cache["x"]), cache)[0]
    np.testing.assert_allclose(cache["xhat"].sum(axis=0), 0.0, atol=1e-12)
    assert np.abs(dx).max() < 1e-12
    assert np.abs(num_ones).max() < 1e-6
    assert _passes_ones_check(dx, num_ones)


@pytest.mark.parametrize("planted", [_planted_missing_var_term, _planted_gamma_forgotten])
def test_planted_bug_passes_the_ones_check_but_fails_with_random_dout(planted):
    cache, dout, num_ones, num_rand = _bn_setup()
    dx_ones = planted(np.ones_like(cache["x"]), cache)[0]
    assert _passes_ones_check(dx_ones, num_ones)  # dout = ones proves nothing ...
    assert rel_error(planted(dout, cache)[0], num_rand) > 1e-2  # ... a random dout catches the bug
    assert rel_error(batchnorm_backward(dout, cache)[0], num_rand) < TOL


def test_missing_mean_term_bug_is_caught_even_by_dout_ones():
    """dx = dxhat / std is NOT hidden by dout = ones: it gives gamma / std where the truth is 0."""
    cache, dout, num_ones, num_rand = _bn_setup()
    dx_ones = _planted_missing_mean_term(np.ones_like(cache["x"]), cache)[0]
    np.testing.assert_allclose(dx_ones, np.broadcast_to(cache["gamma"] * cache["inv_std"], dx_ones.shape))
    assert not _passes_ones_check(dx_ones, num_ones)
    assert rel_error(_planted_missing_mean_term(dout, cache)[0], num_rand) > 1e-2


# --------------------------------------------------------------------------- running statistics
def test_running_stats_update_formula():
    rng = rng_for(5)
    x, gamma, beta, _ = _problem(rng, 7, 3, scale=2.0, shift=4.0)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    _, cache = batchnorm_forward(x, gamma, beta, momentum=0.8, running_mean=rm, running_var=rv)
    np.testing.assert_allclose(cache["running_mean"], 0.8 * rm + 0.2 * x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(cache["running_var"], 0.8 * rv + 0.2 * x.var(axis=0), rtol=1e-13)  # biased var
    _, cache = batchnorm_forward(x, gamma, beta)  # default momentum 0.9, starting from zeros / ones
    np.testing.assert_allclose(cache["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(cache["running_var"], 0.9 + 0.1 * x.var(axis=0), rtol=1e-13)


def test_running_stats_converge_to_the_population_stats_and_eval_uses_them():
    rng = rng_for(6)
    gamma, beta = np.ones(2), np.zeros(2)
    rm = rv = None
    for _ in range(300):
        batch = rng.standard_normal((64, 2)) * [2.0, 0.5] + [3.0, -1.0]
        _, cache = batchnorm_forward(batch, gamma, beta, running_mean=rm, running_var=rv)
        rm, rv = cache["running_mean"], cache["running_var"]
    np.testing.assert_allclose(rm, [3.0, -1.0], atol=0.15)
    np.testing.assert_allclose(rv, [4.0, 0.25], rtol=0.15)
    x = np.array([[3.0, -1.0], [5.0, -0.5]])
    out, cache = batchnorm_forward(x, gamma, beta, mode="eval", running_mean=rm, running_var=rv)
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-12)
    np.testing.assert_array_equal(cache["running_mean"], rm)  # eval leaves the running stats unchanged
    np.testing.assert_array_equal(cache["running_var"], rv)
    assert cache["running_mean"] is not rm and cache["running_var"] is not rv


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_nothing_is_mutated(mode):
    rng = rng_for(7)
    x, gamma, beta, dout = _problem(rng, 4, 3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    arrays = [x, gamma, beta, dout, rm, rv]
    copies = [a.copy() for a in arrays]
    out, cache = batchnorm_forward(x, gamma, beta, mode=mode, running_mean=rm, running_var=rv)
    cache_copy = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in cache.items()}
    batchnorm_backward(dout, cache)
    batchnorm_backward_closed_form(dout, cache)
    lout, lcache = layernorm_forward(x, gamma, beta)
    layernorm_backward(dout, lcache)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)
    for k, v in cache_copy.items():
        np.testing.assert_array_equal(cache[k], v)
    cache["running_mean"][:] = 123.0  # the returned stats are fresh arrays, not the caller's
    np.testing.assert_array_equal(rm, copies[4])


# --------------------------------------------------------------------------- layernorm
def test_layernorm_forward_normalizes_each_row():
    rng = rng_for(8)
    x, gamma, beta, _ = _problem(rng, 3, 5, scale=4.0, shift=7.0)
    out, cache = layernorm_forward(x, gamma, beta)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    np.testing.assert_allclose(out, gamma * (x - mu) / np.sqrt(var + 1e-5) + beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache["xhat"].mean(axis=1), 0.0, atol=1e-12)
    one_row, _ = layernorm_forward(x[:1], gamma, beta)  # no batch statistics: a single row is fine
    np.testing.assert_allclose(one_row, out[:1], rtol=1e-13)


@FAST
@given(N=st.integers(1, 5), D=st.integers(1, 6), scaled=st.booleans(), seed=seeds)
def test_layernorm_backward_matches_numeric(N, D, scaled, seed):
    rng = rng_for(seed)
    scale, shift = (50.0, 30.0) if scaled else (1.0, 0.0)
    x, gamma, beta, dout = _problem(rng, N, D, scale, shift)
    eps = 1e-5 if D != 2 else float(x.var(axis=1).max())  # D = 2 is layernorm's N = 2 case: an eps-sized dx
    if D > 1:
        assume(x.std(axis=1).min() > 0.1 * scale)
    if D > 2:
        assume(_dx_not_cancelled(x.T, np.ones(N), (gamma * dout).T))  # layernorm: rows play the columns' role
    out, cache = layernorm_forward(x, gamma, beta, eps=eps)
    _check_all_grads(lambda *a: layernorm_forward(*a, eps=eps)[0], layernorm_backward(dout, cache),
                     x, gamma, beta, dout)


# --------------------------------------------------------------------------- validation
def test_bad_input_gives_specific_errors():
    x, g, b = np.ones((3, 2)), np.ones(2), np.zeros(2)
    with pytest.raises(ValueError, match="x must be 2-D"):
        batchnorm_forward(np.ones(3), g, b)
    with pytest.raises(ValueError, match=r"gamma must have shape \(2,\)"):
        batchnorm_forward(x, np.ones(3), b)
    with pytest.raises(ValueError, match="beta must be 1-D"):
        batchnorm_forward(x, g, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="N >= 2"):
        batchnorm_forward(np.ones((1, 2)), g, b)
    with pytest.raises(ValueError, match="mode"):
        batchnorm_forward(x, g, b, mode="test")
    with pytest.raises(ValueError, match="running_mean and running_var"):
        batchnorm_forward(x, g, b, mode="eval")
    with pytest.raises(ValueError, match=r"running_var must have shape \(2,\)"):
        batchnorm_forward(x, g, b, running_var=np.ones(3))
    with pytest.raises(ValueError, match="eps"):
        batchnorm_forward(x, g, b, eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        batchnorm_forward(x, g, b, momentum=1.5)
    with pytest.raises(ValueError, match="NaN"):
        batchnorm_forward(np.array([[1.0, np.nan], [0.0, 1.0]]), g, b)
    _, cache = batchnorm_forward(x, g, b)
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 2\)"):
        batchnorm_backward(np.ones((2, 3)), cache)
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 2\)"):
        batchnorm_backward_closed_form(np.ones((3, 1)), cache)
    with pytest.raises(ValueError, match="x must be 2-D"):
        layernorm_forward(np.ones(4), np.ones(4), np.zeros(4))
    with pytest.raises(TypeError, match="layernorm_forward"):
        layernorm_backward(np.ones((3, 2)), cache)  # a batchnorm cache
