"""graders.batchnorm: the reference scores full marks, planted batchnorm/layernorm mistakes are named, the
dout = ones trap is computed (not hard-coded), garbage fails with a clear message, partial credit is exact."""

from __future__ import annotations

import numpy as np
import pytest

import graders.core as core
from graders import batchnorm as gb
from reference_impl import batchnorm as R
from reference_impl.gradcheck import numeric_vjp, rel_error
from tests.grading_helpers import fails_with as _fails_with

SEEDS = [(0, False), (1234, True)]


# ----------------------------------------------------------------------------------- the reference passes

@pytest.mark.parametrize("seed,thorough", SEEDS)
def test_reference_gets_full_marks(seed, thorough, capsys):
    checks = [
        (gb.check_batchnorm_forward, (R.batchnorm_forward,)),
        (gb.check_batchnorm_backward, (R.batchnorm_forward, R.batchnorm_backward)),
        (gb.check_batchnorm_backward_closed_form, (R.batchnorm_forward, R.batchnorm_backward_closed_form)),
        (gb.check_layernorm, (R.layernorm_forward, R.layernorm_backward)),
    ]
    for check, fns in checks:
        assert check(*fns, seed=seed, points=5, thorough=thorough) == 5.0
        assert check(*fns, seed=seed, thorough=thorough) is None
    out = capsys.readouterr()
    assert out.out.count("checks passed") == 8 and out.err == ""


def test_staged_and_closed_form_are_interchangeable_for_the_grader():
    assert gb.check_batchnorm_backward(R.batchnorm_forward, R.batchnorm_backward_closed_form, points=2,
                                       thorough=True) == 2.0
    assert gb.check_batchnorm_backward_closed_form(R.batchnorm_forward, R.batchnorm_backward, points=2,
                                                   thorough=True) == 2.0


def test_any_cache_format_works_because_the_backward_gets_its_own_cache():
    """A student cache that is a tuple (not the reference dict) is fine for the backward checks."""
    def fwd(x, gamma, beta, **kw):
        out, c = R.batchnorm_forward(x, gamma, beta, **kw)
        return out, (c["xhat"], c["gamma"], c["inv_std"])

    def bwd(dout, cache):
        xhat, gamma, inv_std = cache
        N = dout.shape[0]
        dxhat = dout * gamma
        dx = inv_std / N * (N * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
        return dx, (dout * xhat).sum(0), dout.sum(0)

    assert gb.check_batchnorm_backward_closed_form(fwd, bwd, points=1, thorough=True) == 1.0


# ----------------------------------------------------------------------------------- planted forwards

def _fwd_from(norm):
    """A batchnorm forward whose train-mode normalization is ``norm(x, eps) -> xhat``; stats as the reference."""
    def fwd(x, gamma, beta, *, mode="train", eps=1e-5, momentum=0.9, running_mean=None, running_var=None):
        out, cache = R.batchnorm_forward(x, gamma, beta, mode=mode, eps=eps, momentum=momentum,
                                         running_mean=running_mean, running_var=running_var)
        if mode == "train":
            out = gamma * norm(x, eps) + beta
        return out, cache
    return fwd


bn_bessel = _fwd_from(lambda x, eps: (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps))
bn_eps_outside = _fwd_from(lambda x, eps: (x - x.mean(0)) / (x.std(0) + eps))
bn_rows = _fwd_from(lambda x, eps: (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps))


def bn_eval_batch_stats(x, gamma, beta, *, mode="train", eps=1e-5, momentum=0.9, running_mean=None,
                        running_var=None):
    out, cache = R.batchnorm_forward(x, gamma, beta, mode="train", eps=eps, momentum=momentum,
                                     running_mean=running_mean, running_var=running_var)
    return out, cache


def _with_running(update):
    def fwd(x, gamma, beta, *, mode="train", eps=1e-5, momentum=0.9, running_mean=None, running_var=None):
        out, cache = R.batchnorm_forward(x, gamma, beta, mode=mode, eps=eps, momentum=momentum,
                                         running_mean=running_mean, running_var=running_var)
        if mode == "train":
            D = x.shape[1]
            rm = np.zeros(D) if running_mean is None else running_mean
            rv = np.ones(D) if running_var is None else running_var
            cache = dict(cache)
            cache["running_mean"], cache["running_var"] = update(x, rm, rv, momentum)
        return out, cache
    return fwd


bn_momentum_swapped = _with_running(lambda x, rm, rv, m: ((1 - m) * rm + m * x.mean(0), (1 - m) * rv + m * x.var(0)))
bn_running_var_unbiased = _with_running(lambda x, rm, rv, m: (m * rm + (1 - m) * x.mean(0),
                                                              m * rv + (1 - m) * x.var(0, ddof=1)))


def bn_in_place(x, gamma, beta, *, mode="train", eps=1e-5, momentum=0.9, running_mean=None, running_var=None):
    out, cache = R.batchnorm_forward(x, gamma, beta, mode=mode, eps=eps, momentum=momentum,
                                     running_mean=running_mean, running_var=running_var)
    if mode == "train" and running_mean is not None:
        running_mean *= momentum
        running_mean += (1 - momentum) * x.mean(0)
        running_var *= momentum
        running_var += (1 - momentum) * x.var(0)
    return out, cache


@pytest.mark.parametrize("fwd,code,sub", [
    (bn_bessel, "BN_BESSEL", "train out"),
    (bn_eps_outside, "BN_EPS", "train out"),
    (bn_rows, "NORM_AXIS", "train out"),
    (bn_eval_batch_stats, "BN_EVAL_BATCH_STATS", "eval out"),
    (bn_momentum_swapped, "BN_RUNNING_UPDATE", "running_mean"),
    (bn_running_var_unbiased, "BN_BESSEL", "running_var"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_planted_forward_mistake_is_named(fwd, code, sub, thorough, capsys):
    text = _fails_with(capsys, gb.check_batchnorm_forward, fwd, points=5, thorough=thorough, code=code)
    assert f"✗ {sub}" in text


def test_running_var_bessel_gets_exact_partial_credit_and_the_pytorch_remark(capsys):
    # 3 of 4 sub-checks (0.75 of the points) plus "inputs left unchanged" (0.25)
    assert gb.check_batchnorm_forward(bn_running_var_unbiased, points=5) == 4.0625
    out = capsys.readouterr().out
    assert "Partial credit: 4.0625 of 5 points" in out and "✗ running_var" in out and "✓ running_mean" in out
    assert "PyTorch stores the unbiased variance" in out


def test_in_place_running_stats_update_loses_the_mutation_point_only(capsys):
    assert gb.check_batchnorm_forward(bn_in_place, points=5) == 3.75   # the course-wide 25 %
    out = capsys.readouterr().out
    assert "✗ inputs left unchanged" in out and "[INPUT_MUTATED]" in out
    assert "changed running_mean, running_var in place" in out and "did not cost points" not in out


def test_ignoring_eps_argument_is_named(capsys):
    fwd = _fwd_from(lambda x, eps: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    _fails_with(capsys, gb.check_batchnorm_forward, fwd, points=5, code="BN_EPS")


def test_none_running_stats_must_start_from_zeros_and_ones(capsys):
    bad_start = _with_running(lambda x, rm, rv, m: (m * rm + (1 - m) * x.mean(0),
                                                    m * (rv if rv is not None else 0) + (1 - m) * x.var(0)))

    def fwd(x, gamma, beta, *, running_var=None, **kw):
        return bad_start(x, gamma, beta, running_var=np.zeros(x.shape[1]) if running_var is None else running_var,
                         **kw)

    text = _fails_with(capsys, gb.check_batchnorm_forward, fwd, points=5, code="BN_RUNNING_UPDATE")
    assert "running stats None" in text


def test_cache_without_running_stats_is_explained(capsys):
    def tuple_cache(x, gamma, beta, **kw):
        return R.batchnorm_forward(x, gamma, beta, **kw)[0], (x, gamma)

    def no_keys(x, gamma, beta, **kw):
        return R.batchnorm_forward(x, gamma, beta, **kw)[0], {"xhat": 0}

    assert gb.check_batchnorm_forward(tuple_cache, points=5) == 3.125
    assert "the cache is a tuple; in this course it must be a dict" in capsys.readouterr().out
    assert gb.check_batchnorm_forward(no_keys, points=5) == 3.125
    assert "cache has no key 'running_mean'" in capsys.readouterr().out


# ----------------------------------------------------------------------------------- planted backwards

def _dx_only(make_dx):
    def bwd(dout, cache):
        _, dgamma, dbeta = R.batchnorm_backward(dout, cache)
        return make_dx(dout, cache), dgamma, dbeta
    return bwd


def _parts(dout, cache, use_gamma=True):
    dxhat = dout * cache["gamma"] if use_gamma else dout
    return dxhat, cache["xhat"], cache["inv_std"], dout.shape[0]


def _dx_missing_mean(dout, cache):
    dxhat, xhat, s, N = _parts(dout, cache)
    return s * (dxhat - xhat * (dxhat * xhat).mean(0))


def _dx_treats_stats_as_constants(dout, cache):
    dxhat, xhat, s, N = _parts(dout, cache)
    return dxhat * s


def _dx_missing_var(dout, cache):
    dxhat, xhat, s, N = _parts(dout, cache)
    return s * (dxhat - dxhat.mean(0))


def _dx_no_gamma(dout, cache):
    dxhat, xhat, s, N = _parts(dout, cache, use_gamma=False)
    return s / N * (N * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))


def _dx_no_1_over_n(dout, cache):
    dxhat, xhat, s, N = _parts(dout, cache)
    return s * (N * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))


def _dx_bessel_in_backward(dout, cache):
    """Staged backward with dvar * 2 * xc / (N - 1): the forward is right, the backward uses N - 1."""
    dxhat, xhat, s, N = _parts(dout, cache)
    xc = cache["xc"]
    dvar = -0.5 * (dxhat * xc).sum(0) * s ** 3
    dxc = dxhat * s + dvar * 2 * xc / (N - 1)
    return dxc - dxc.mean(0)


def bessel_forward(x, gamma, beta, **kw):
    N = x.shape[0]
    xc = x - x.mean(0)
    var = (xc ** 2).sum(0) / (N - 1)
    s = 1 / np.sqrt(var + 1e-5)
    return gamma * xc * s + beta, (xc, s, gamma, N)


def bessel_backward(dout, cache):
    """The exact gradient of bessel_forward: consistent with the (wrong) forward."""
    xc, s, gamma, N = cache
    dxhat = dout * gamma
    dxc = dxhat * s - s ** 3 * xc * (dxhat * xc).sum(0) / (N - 1)
    return dxc - dxc.mean(0), (dout * xc * s).sum(0), dout.sum(0)


@pytest.mark.parametrize("check", [gb.check_batchnorm_backward, gb.check_batchnorm_backward_closed_form])
@pytest.mark.parametrize("make_dx,code", [
    (_dx_missing_mean, "BN_MISSING_MEAN_TERM"),
    (_dx_treats_stats_as_constants, "BN_MISSING_MEAN_TERM"),
    (_dx_missing_var, "BN_MISSING_VAR_TERM"),
    (_dx_no_gamma, "BN_GAMMA_FORGOTTEN"),
    (_dx_bessel_in_backward, "BN_BESSEL"),
    (lambda dout, cache: -R.batchnorm_backward(dout, cache)[0], "SIGN_FLIP"),
    (_dx_no_1_over_n, "MISSING_1_OVER_N"),
])
def test_planted_backward_mistake_is_named(check, make_dx, code, capsys):
    for thorough in (False, True):
        text = _fails_with(capsys, check, R.batchnorm_forward, _dx_only(make_dx), points=4, thorough=thorough,
                           code=code)
        assert "Your forward is right, so the mistake is in the backward." in text
        assert "✗ backward dx" in text and "✓ backward dgamma" in text


def test_consistent_bessel_pair_is_told_to_fix_the_forward(capsys):
    text = _fails_with(capsys, gb.check_batchnorm_backward, bessel_forward, bessel_backward, points=4,
                       code="BN_BESSEL")
    assert "✗ forward output" in text and "fix the forward first" in text


@pytest.mark.parametrize("bad,code", [
    (lambda dout, cache: (R.batchnorm_backward(dout, cache)[0], R.batchnorm_backward(dout, cache)[1][None, :],
                          dout.sum(0)), "BIAS_KEEPDIMS"),
    (lambda dout, cache: (R.batchnorm_backward(dout, cache)[0], R.batchnorm_backward(dout, cache)[1],
                          dout.sum(1)), "BIAS_SUM_AXIS"),
])
def test_parameter_gradient_shapes_are_named(bad, code, capsys):
    _fails_with(capsys, gb.check_batchnorm_backward, R.batchnorm_forward, bad, points=4, code=code)


def test_backward_partial_credit_is_exact(capsys):
    def bwd(dout, cache):
        dx, dgamma, dbeta = R.batchnorm_backward(dout, cache)
        return dx, dgamma, dbeta * 2
    assert gb.check_batchnorm_backward(R.batchnorm_forward, bwd, points=4) == 3.25
    out = capsys.readouterr().out
    assert "Partial credit: 3.25 of 4 points" in out and "✗ backward dbeta" in out


@pytest.mark.in_process(reason="the spy backward appends the douts it receives to a list of the test process")
def test_backward_is_tested_with_a_random_dout_never_ones():
    seen = []

    def spy(dout, cache):
        seen.append(np.array(dout))
        return R.batchnorm_backward(dout, cache)

    gb.check_batchnorm_backward(R.batchnorm_forward, spy, thorough=True)
    assert len(seen) == 10 and all(np.unique(d).size == d.size for d in seen)


@pytest.mark.in_process(reason="the spy forward appends its inputs to a list of the test process")
def test_thorough_inputs_are_badly_scaled_and_not_centred():
    seen = []

    def spy(x, gamma, beta):
        seen.append(np.array(x))
        return R.batchnorm_forward(x, gamma, beta)

    gb.check_batchnorm_backward(spy, R.batchnorm_backward, thorough=True)
    col_scales = np.concatenate([x.std(0) for x in seen if x.shape[0] > 2])
    col_means = np.concatenate([np.abs(x.mean(0)) for x in seen])
    assert col_scales.max() / col_scales.min() > 1e4 and col_means.max() > 100
    # and a step of eps matters for the smallest columns: var is comparable to eps = 1e-5
    assert col_scales.min() ** 2 < 1e-3


# ----------------------------------------------------------------------------------- dout = ones trap

def test_dout_ones_truths_agree_with_finite_differences():
    """Recompute every truth independently: numeric VJPs of the reference forward, ones and random dout."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4)) * 2 + 1
    gamma, beta = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    _, cache = R.batchnorm_forward(x, gamma, beta)
    f = lambda v: R.batchnorm_forward(v, gamma, beta)[0]
    num_ones, num_rand = numeric_vjp(f, x, np.ones_like(x)), numeric_vjp(f, x, dout)
    assert np.abs(num_ones).max() < 1e-6  # the true dx with dout = ones is 0
    expected_ones = {"correct": True, "missing_mean_term": False, "missing_var_term": True, "gamma_forgotten": True,
                     "bessel": True, "sign_flip": True}
    for name, passes in expected_ones.items():
        bwd = gb._planted_backward(name)
        dx1 = bwd(np.ones_like(x), cache)[0]
        assert np.allclose(dx1, num_ones, rtol=0, atol=1e-6) == passes, name
        assert (rel_error(bwd(dout, cache)[0], num_rand) < 1e-6) == (name == "correct"), name
    truths = gb._dout_ones_truths()
    assert {k: v["passes_ones_check"] for k, v in truths.items()} == expected_ones
    assert [k for k, v in truths.items() if v["passes_random_check"]] == ["correct"]
    assert truths["missing_mean_term"]["max_abs_dx_ones"] > 0.1


def test_planted_backwards_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown planted backward"):
        gb.planted_batchnorm_backward("typo")
    with pytest.raises(ValueError, match="your own batchnorm_backward"):
        gb.planted_batchnorm_backward("correct")  # the notebook's planted ones are all wrong


def test_the_notebooks_planted_backwards_are_the_graders_and_need_no_reference():
    from graders.public import batchnorm as public
    rng = np.random.default_rng(9)
    x = rng.standard_normal((7, 3)) * 1.5 + 0.5
    gamma, beta, dout = rng.uniform(0.5, 2, 3), rng.standard_normal(3), rng.standard_normal((7, 3))
    _, cache = R.batchnorm_forward(x, gamma, beta)
    for name in public.DOUT_ONES_OPTIONS:
        assert np.allclose(public.planted_batchnorm_backward(name)(dout, x, gamma), gb._planted_backward(name)(dout,
                           cache)[0], rtol=0, atol=1e-12), name


def test_dout_ones_answer(capsys):
    right = {"missing_var_term", "gamma_forgotten", "bessel", "sign_flip"}
    assert gb.check_dout_ones_answer(right, points=5) == 5.0
    assert gb.check_dout_ones_answer(["Missing_Var_Term", "gamma_forgotten", "bessel", " sign_flip"]) is None
    capsys.readouterr()
    assert gb.check_dout_ones_answer(set(gb.DOUT_ONES_OPTIONS), points=5) == 4.0
    out = capsys.readouterr().out
    assert "✗ missing_mean_term" in out and "even the ones check catches it" in out
    assert gb.check_dout_ones_answer(set(), points=5) == 1.0
    assert "zero like the true dx, so a check with dout = ones PASSES it" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="dout = ones trap"):
        gb.check_dout_ones_answer({"missing_mean_term"})


@pytest.mark.parametrize("answer,phrase", [
    (None, "got None"), (3, "expected a set of option names"), ({"bessel": True}, "expected a set"),
    ({"bessel", "nonsense"}, "unknown option 'nonsense'"), ([1], "unknown option 1"),
])
def test_dout_ones_answer_garbage(answer, phrase):
    with pytest.raises(AssertionError, match=phrase):
        gb.check_dout_ones_answer(answer, points=5)


# ----------------------------------------------------------------------------------- layernorm

def ln_over_batch(x, gamma, beta):
    xc = x - x.mean(0)
    return gamma * xc / np.sqrt(xc.var(0) + 1e-5) + beta, None


def _ln_dx_only(make_dx):
    def bwd(dout, cache):
        _, dgamma, dbeta = R.layernorm_backward(dout, cache)
        return make_dx(dout, cache), dgamma, dbeta
    return bwd


def _ln_missing_var(dout, cache):
    dxhat = dout * cache["gamma"]
    return cache["inv_std"] * (dxhat - dxhat.mean(1, keepdims=True))


def _ln_missing_mean(dout, cache):
    dxhat, xhat = dout * cache["gamma"], cache["xhat"]
    return cache["inv_std"] * (dxhat - xhat * (dxhat * xhat).mean(1, keepdims=True))


def _ln_no_gamma(dout, cache):
    return R.layernorm_backward(dout, dict(cache, gamma=np.ones_like(cache["gamma"])))[0]


@pytest.mark.parametrize("fwd,bwd,code", [
    (ln_over_batch, R.layernorm_backward, "NORM_AXIS"),
    (R.layernorm_forward, _ln_dx_only(_ln_missing_var), "BN_MISSING_VAR_TERM"),
    (R.layernorm_forward, _ln_dx_only(_ln_missing_mean), "BN_MISSING_MEAN_TERM"),
    (R.layernorm_forward, _ln_dx_only(_ln_no_gamma), "BN_GAMMA_FORGOTTEN"),
    (R.layernorm_forward, lambda d, c: (R.layernorm_backward(d, c)[0], (d * c["xhat"]).sum(1), d.sum(0)),
     "BIAS_SUM_AXIS"),
])
@pytest.mark.parametrize("thorough", [False, True])
def test_layernorm_planted_mistakes(fwd, bwd, code, thorough, capsys):
    _fails_with(capsys, gb.check_layernorm, fwd, bwd, points=4, thorough=thorough, code=code)


# ----------------------------------------------------------------------------------- garbage

def test_none_non_callables_and_signatures():
    with pytest.raises(AssertionError, match="got None. Define the function"):
        gb.check_batchnorm_forward(None)
    with pytest.raises(AssertionError, match="expected a function, got str"):
        gb.check_batchnorm_backward(R.batchnorm_forward, "batchnorm_backward")
    with pytest.raises(AssertionError, match=r"must accept the keyword argument\(s\) mode.*missing: momentum"):
        gb.check_batchnorm_forward(lambda x, gamma, beta, mode="train", eps=1e-5, running_mean=None,
                                   running_var=None: None)
    with pytest.raises(AssertionError, match="batchnorm_backward_closed_form: it must accept 2 positional"):
        gb.check_batchnorm_backward_closed_form(R.batchnorm_forward, lambda dout: dout)


def _out(x, gamma, beta, **kw):
    return R.batchnorm_forward(x, gamma, beta, **kw)


@pytest.mark.parametrize("fwd,phrase", [
    (lambda x, gamma, beta, **kw: None, "returned None"),
    (lambda x, gamma, beta, **kw: _out(x, gamma, beta, **kw)[0], "returned a single ndarray"),
    (lambda x, gamma, beta, **kw: (_out(x, gamma, beta, **kw)[0].astype(np.float32), _out(x, gamma, beta, **kw)[1]),
     "dtype float32"),
    (lambda x, gamma, beta, **kw: (_out(x, gamma, beta, **kw)[0].tolist(), _out(x, gamma, beta, **kw)[1]), "got list"),
    (lambda x, gamma, beta, **kw: (_out(x, gamma, beta, **kw)[0] * np.nan, _out(x, gamma, beta, **kw)[1]),
     "non-finite"),
    (lambda x, gamma, beta, **kw: (_out(x, gamma, beta, **kw)[0][:, :1], _out(x, gamma, beta, **kw)[1]), "shape"),
    (lambda x, gamma, beta, **kw: [][1], "raised IndexError"),
])
def test_garbage_forward_gives_a_clear_message(fwd, phrase, capsys):
    _fails_with(capsys, gb.check_batchnorm_forward, fwd, points=5, phrase=phrase)


@pytest.mark.parametrize("bwd,phrase", [
    (lambda dout, cache: None, "returned None"),
    (lambda dout, cache: (dout, dout), "returned 2 values; it must return 3"),
    (lambda dout, cache: (dout.astype(np.float32), dout.sum(0), dout.sum(0)), "dtype float32"),
    (lambda dout, cache: (dout * np.inf, dout.sum(0), dout.sum(0)), "non-finite"),
    (lambda dout, cache: {"dx": dout}, "returned a single dict"),
    (lambda dout, cache: cache["nope"], "raised KeyError"),
])
def test_garbage_backward_gives_a_clear_message(bwd, phrase, capsys):
    _fails_with(capsys, gb.check_batchnorm_backward, R.batchnorm_forward, bwd, points=4, phrase=phrase)


def test_forward_that_raises_skips_the_backward_with_a_reason():
    with pytest.raises(AssertionError, match="not checked because batchnorm_forward failed"):
        gb.check_batchnorm_backward(lambda x, g, b: 1 / 0, R.batchnorm_backward)


def test_infinite_loop_times_out(monkeypatch, capsys):
    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.3)

    def spin(*a, **k):
        while True:
            pass

    with pytest.raises(AssertionError, match="did not finish within 0.3 s"):
        gb.check_batchnorm_forward(spin)
    _fails_with(capsys, gb.check_batchnorm_backward, R.batchnorm_forward, spin, points=4,
                phrase="did not finish within 0.3 s")


def test_prints_and_warnings_cost_nothing(capsys):
    import sys
    import warnings

    def noisy(dout, cache):
        print("debug", file=sys.stderr)
        warnings.warn("hmm")
        return R.batchnorm_backward(dout, cache)

    def chatty_forward(x, gamma, beta, **kw):
        print("forward called")
        return R.batchnorm_forward(x, gamma, beta, **kw)

    assert gb.check_batchnorm_backward(R.batchnorm_forward, noisy, points=2) == 2.0
    assert gb.check_batchnorm_forward(chatty_forward, points=2) == 2.0
    out = capsys.readouterr()
    assert out.err == "" and "wrote to stderr" in out.out


@pytest.mark.in_process(reason="the spy forward appends its inputs to a list of the test process")
def test_checks_are_pure_functions_of_the_seed():
    seen = []

    def spy(x, gamma, beta, **kw):
        seen.append(x.copy())
        return R.batchnorm_forward(x, gamma, beta, **kw)

    for seed in (3, 3, 4):
        gb.check_batchnorm_forward(spy, seed=seed)
    n = len(seen) // 3
    assert all(np.array_equal(a, b) for a, b in zip(seen[:n], seen[n:2 * n]))
    assert not np.array_equal(seen[0], seen[2 * n])
