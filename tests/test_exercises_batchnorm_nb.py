"""graders.exercises.batchnorm_nb and graders.question_bank.batchnorm (notebook 07): reference answers get full
marks, planted mistakes fail with their named diagnosis, garbage fails with a clear AssertionError, and the
pictures of visuals.batchnorm_plots draw."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import batchnorm as gbn  # noqa: E402
from graders import concepts  # noqa: E402
from graders.exercises import batchnorm_nb as ex  # noqa: E402
from graders.question_bank import batchnorm as bank  # noqa: E402
from reference_impl import batchnorm as ref  # noqa: E402
from reference_impl import symbolic as ref_sym  # noqa: E402
from visuals import batchnorm_plots as vis  # noqa: E402
from tests.grading_helpers import fails as _fails


# ============================================================================================ erratum 8 pinned

def test_erratum_8_dout_ones_gives_zero_and_gamma_in_upstream():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3)) * 2 + 1
    gamma, beta = np.array([1.5, -0.7, 2.0]), rng.standard_normal(3)
    _, cache = ref.batchnorm_forward(x, gamma, beta)
    dx = ref.batchnorm_backward(np.ones_like(x), cache)[0]
    assert np.max(np.abs(dx)) < 1e-12
    truths = gbn._dout_ones_truths(seed=0)
    assert {n for n in gbn.DOUT_ONES_OPTIONS if truths[n]["passes_ones_check"]} == {
        "missing_var_term", "gamma_forgotten", "bessel", "sign_flip"}
    assert all(not truths[n]["passes_random_check"] for n in gbn.DOUT_ONES_OPTIONS)
    # the seed formula without gamma is wrong by exactly the factor gamma
    dout = rng.standard_normal(x.shape)
    with_gamma = ref.batchnorm_backward_closed_form(dout, cache)[0]
    _, cache1 = ref.batchnorm_forward(x, np.ones(3), beta)
    without = ref.batchnorm_backward_closed_form(dout, cache1)[0]
    assert np.allclose(with_gamma, without * gamma)


# ============================================================================================ N = 3 derivation

S = ex.n3_symbols()


def _three_term(S, gamma_factor=True):
    xs, gs = [S["x0"], S["x1"], S["x2"]], [S["g0"], S["g1"], S["g2"]]
    mu = sum(xs) / 3
    sigma = sp.sqrt(sum((v - mu) ** 2 for v in xs) / 3 + S["eps"])
    xh = [(v - mu) / sigma for v in xs]
    return S["gamma"] / (3 * sigma) * (3 * gs[0] - sum(gs) - xh[0] * sum(g * h for g, h in zip(gs, xh)))


def test_n3_expected_matches_reference_symbolic_and_numpy():
    rng = np.random.default_rng(1)
    x, gamma, beta, dout = rng.standard_normal((3, 1)), np.array([1.3]), np.array([0.2]), rng.standard_normal((3, 1))
    vals = dict(zip([S[n] for n in ("x0", "x1", "x2", "g0", "g1", "g2", "gamma", "eps")],
                    [*x[:, 0], *dout[:, 0], 1.3, 1e-5]))
    want = float(ex._n3_expected().subs(vals))
    dx_sym = ref_sym.batchnorm_symbolic(3, 1)(x, gamma, beta, dout)[0]
    _, cache = ref.batchnorm_forward(x, gamma, beta)
    assert math.isclose(want, dx_sym[0, 0], rel_tol=1e-9)
    assert math.isclose(want, ref.batchnorm_backward(dout, cache)[0][0, 0], rel_tol=1e-8)


def test_n3_correct_forms_score_full():
    assert ex.check_three_term_n3(_three_term(S), points=2) == 2.0
    own = {n: sp.Symbol(n) for n in S}  # learner's symbols without assumptions
    assert ex.check_three_term_n3(_three_term(own), points=2, seed=4, thorough=True) == 2.0
    assert ex.check_three_term_n3(ex._n3_expected(), points=2) == 2.0
    assert ex.check_three_term_n3(str(_three_term(S)), points=1) == 1.0


@pytest.mark.parametrize("code", ["BN_GAMMA_FORGOTTEN", "BN_MISSING_MEAN_TERM", "BN_MISSING_VAR_TERM", "BN_BESSEL",
                                  "sign flipped"])
def test_n3_mistakes_named(code):
    msg = _fails(ex.check_three_term_n3, ex._n3_mistakes()[code], points=2)
    assert code in msg


def test_n3_garbage():
    assert "still None" in _fails(ex.check_three_term_n3, None, points=2)
    assert "could not read" in _fails(ex.check_three_term_n3, "import os", points=2)
    assert "could not read" in _fails(ex.check_three_term_n3, "y + 1", points=2)
    assert "expected one scalar" in _fails(ex.check_three_term_n3, [1, 2], points=2)
    assert "not equal" in _fails(ex.check_three_term_n3, "gamma*g0", points=2)


# ============================================================================================ trace

def test_trace_reference_full_and_mistakes_named(capsys):
    want, mistakes = ex._trace_expected()
    assert set(want) == set(ex.TRACE_KEYS)
    assert want["mu"] == 4.0 and want["var"] == 9.5 and want["dxhat_0"] == 1.0
    assert ex.check_bn_trace(dict(want), points=2) == 2.0
    assert ex.check_bn_trace({k: np.float64(v) for k, v in want.items()}, points=2, seed=3, thorough=True) == 2.0
    for key, table in mistakes.items():
        for code, wrong in table.items():
            bad = dict(want, **{key: wrong})
            score = ex.check_bn_trace(bad, points=9)
            out = capsys.readouterr().out
            assert score == 8.0, (key, code)
            assert code in out or code.lower() in out.lower(), (key, code, out)


def test_trace_gamma_forgotten_everywhere(capsys):
    want, mistakes = ex._trace_expected()
    bad = dict(want)
    for key in ("dxhat_0", "sum_dxhat", "sum_dxhat_xhat", "dx_0"):
        bad[key] = mistakes[key]["BN_GAMMA_FORGOTTEN"]
    score = ex.check_bn_trace(bad, points=9)
    assert score == 5.0 and "BN_GAMMA_FORGOTTEN" in capsys.readouterr().out


def test_trace_garbage():
    assert "no answer yet" in _fails(ex.check_bn_trace, None, points=2)
    assert "expected a dict" in _fails(ex.check_bn_trace, [1, 2, 3], points=2)
    msg = _fails(ex.check_bn_trace, {k: float("nan") for k in ex.TRACE_KEYS}, points=2)
    assert "not finite" in msg or "expected a real number" in msg
    assert "missing" in _fails(ex.check_bn_trace, {}, points=2)
    assert "could not read 'four' as a number" in _fails(ex.check_bn_trace, {k: "four" for k in ex.TRACE_KEYS},
                                                         points=2)


# ============================================================================================ gradient checker

def good_checker(forward, backward, x, gamma, beta, seed, ones=False):
    dout = np.ones(x.shape) if ones else np.random.default_rng(seed).standard_normal(x.shape)
    _, cache = forward(x, gamma, beta)
    dx = backward(dout, cache)[0]
    h = 1e-5
    num = np.zeros_like(x)
    xp = x.copy()
    for idx in np.ndindex(x.shape):
        old = xp[idx]
        xp[idx] = old + h
        fp = np.sum(dout * forward(xp, gamma, beta)[0])
        xp[idx] = old - h
        fm = np.sum(dout * forward(xp, gamma, beta)[0])
        xp[idx] = old
        num[idx] = (fp - fm) / (2 * h)
    return float(np.max(np.abs(dx - num) / np.maximum(1e-8, np.abs(dx) + np.abs(num))))


def ones_checker(*args):
    return good_checker(*args, ones=True)


def test_checker_reference_full():
    assert ex.check_gradient_checker(good_checker, points=2) == 2.0
    assert ex.check_gradient_checker(good_checker, points=2, seed=13, thorough=True) == 2.0


def test_checker_with_ones_is_caught():
    msg = _fails(ex.check_gradient_checker, ones_checker, points=6)
    assert "constant in every column" in msg and "dout = ones" in msg
    assert "not credited" in msg


def test_checker_constant_results(capsys):
    def alarmist(forward, backward, x, gamma, beta, seed):  # calls the backward but always says "wrong"
        backward(np.random.default_rng(seed).standard_normal(x.shape), forward(x, gamma, beta)[1])
        return 1.0
    assert "not credited" in _fails(ex.check_gradient_checker, alarmist, points=7)
    assert "without ever calling" in _fails(ex.check_gradient_checker, lambda *a: 1.0, points=7)
    msg = _fails(ex.check_gradient_checker, lambda *a: 0.0, points=7)  # never calls the backward either
    assert "never called" in msg and "without ever calling" in msg

    def lazy(forward, backward, x, gamma, beta, seed):  # calls the backward but always says "fine"
        backward(np.random.default_rng(seed).standard_normal(x.shape), forward(x, gamma, beta)[1])
        return 0.0
    score = ex.check_gradient_checker(lazy, points=7)
    out = capsys.readouterr().out
    assert score == pytest.approx(3.0625) and "let this wrong backward pass" in out  # 2 of 8, and the inputs


def test_checker_garbage():
    assert "return one float" in _fails(ex.check_gradient_checker, lambda *a: None, points=2)
    assert "return one float" in _fails(ex.check_gradient_checker, lambda *a: "small", points=2)
    assert "finite" in _fails(ex.check_gradient_checker, lambda *a: float("nan"), points=2)
    assert "ONE float" in _fails(ex.check_gradient_checker, lambda *a: np.zeros(3), points=2)

    def boom(*a):
        raise RuntimeError("kaput")
    assert "kaput" in _fails(ex.check_gradient_checker, boom, points=2)
    assert _fails(ex.check_gradient_checker, None, points=2)
    assert _fails(ex.check_gradient_checker, lambda a: 0.0, points=2)


def test_the_notebook_module_exposes_no_reference_forward():
    assert not hasattr(ex, "reference_cache")  # it was the reference forward, one tab-completion away


# ============================================================================================ question bank

RIGHT = {"bn_sum_dx": "c", "bn_eval_backward": "b", "bn_layernorm": "d", "bn_batch_of_one": "a"}


def test_question_bank_answers_and_feedback():
    assert set(bank.QUESTIONS) == set(RIGHT)
    for qid, letter in RIGHT.items():
        q = bank.QUESTIONS[qid]
        assert q.answer_digest == concepts.digest(qid, letter)
        assert concepts.check_choice(qid, letter, points=1) == 1.0
        assert concepts.check_choice(qid, f"({letter.upper()})", points=1) == 1.0
        for other in q.options:
            if other != letter:
                assert concepts.digest(qid, other) in q.feedback, (qid, other)
                msg = _fails(concepts.check_choice, qid, other, points=1)
                assert q.feedback[concepts.digest(qid, other)] in msg
        assert "no answer yet" in _fails(concepts.check_choice, qid, None, points=1)
        assert "not one of the options" in _fails(concepts.check_choice, qid, "z", points=1)
        assert "not one of the options" in _fails(concepts.check_choice, qid, 3, points=1)


def test_question_facts_hold():
    rng = np.random.default_rng(5)
    x, gamma, beta = rng.standard_normal((6, 3)), rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    dout = rng.standard_normal((6, 3))
    _, cache = ref.batchnorm_forward(x, gamma, beta)
    assert np.allclose(ref.batchnorm_backward(dout, cache)[0].sum(axis=0), 0, atol=1e-12)  # bn_sum_dx
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    _, ce = ref.batchnorm_forward(x, gamma, beta, mode="eval", running_mean=rm, running_var=rv)
    assert np.allclose(ref.batchnorm_backward(dout, ce)[0], gamma * dout / np.sqrt(rv + 1e-5))  # eval
    out1, c1 = ref.batchnorm_forward(x[:1], gamma, beta, mode="eval", running_mean=rm, running_var=rv)
    ln_out, _ = ref.layernorm_forward(x[:1], gamma, beta)  # layernorm with a batch of one is fine
    assert np.all(np.isfinite(ln_out))
    # N = 1 in train mode: xhat = 0 (the reference refuses N = 1; compute it directly)
    xc = x[:1] - x[:1].mean(axis=0)
    assert np.all(gamma * xc / np.sqrt((xc ** 2).mean(axis=0) + 1e-5) + beta == beta)


# ============================================================================================ visuals

def test_three_terms_sum_to_dx_and_plot():
    t = ex.trace_inputs()
    terms = vis.three_terms(t["x"], t["gamma"], t["dout"], t["eps"])
    _, cache = ref.batchnorm_forward(t["x"].reshape(-1, 1), np.array([t["gamma"]]), np.array([t["beta"]]))
    dx = ref.batchnorm_backward(t["dout"].reshape(-1, 1), cache)[0][:, 0]
    assert np.allclose(terms["dx"], dx) and abs(terms["dx"].sum()) < 1e-12
    assert np.allclose(terms["mean"], terms["mean"][0])
    fig = vis.plot_three_terms(t["x"], t["gamma"], t["dout"], t["eps"])
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 3 * t["x"].size
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.three_terms([1.0], 1.0, [1.0])
    with pytest.raises(ValueError):
        vis.three_terms([1.0, 2.0], 1.0, [1.0, 2.0, 3.0])


def test_graph_spec_gradients_match_reference():
    x, dout = np.array([1.0, 2.0, 6.0]), np.array([0.3, -1.0, 0.8])
    spec = vis.batchnorm_graph_spec(x, 2.0, 0.5, dout)
    assert set(spec["nodes"]) == {"x", "mu", "xc", "var", "std", "inv_std", "xhat", "gamma", "beta", "out"}
    _, cache = ref.batchnorm_forward(x.reshape(-1, 1), np.array([2.0]), np.array([0.5]))
    dx, dg, db = ref.batchnorm_backward(dout.reshape(-1, 1), cache)
    shown = spec["nodes"]["x"]["grad"]
    assert shown == "[" + ", ".join(f"{u:.3g}" for u in dx[:, 0]) + "]"
    assert spec["nodes"]["gamma"]["grad"] == f"{dg[0]:.4g}" and spec["nodes"]["beta"]["grad"] == f"{db[0]:.4g}"
    fig = vis.draw_batchnorm_graph(x, 2.0, 0.5, dout)
    assert fig.axes
    plt.close(fig)


# ============================================================================================ issue 12: fair grading in 07

from graders import core  # noqa: E402
from tests.grading_helpers import fails_with as _fails_with  # noqa: E402
from tests.solution_cells import solution_namespace  # noqa: E402

_NB = solution_namespace("07_batchnorm", ["bn_forward", "bn_backward", "bn_closed_form", "grad_checker", "layernorm"])


def test_the_notebook_answers_get_full_marks():
    for seed, thorough in ((0, False), (29, True)):
        assert gbn.check_batchnorm_forward(_NB["batchnorm_forward"], seed=seed, points=2, thorough=thorough) == 2.0
        assert gbn.check_batchnorm_backward(_NB["batchnorm_forward"], _NB["batchnorm_backward"], seed=seed, points=2,
                                            thorough=thorough) == 2.0
        assert gbn.check_batchnorm_backward_closed_form(_NB["batchnorm_forward"],
                                                        _NB["batchnorm_backward_closed_form"], seed=seed, points=2,
                                                        thorough=thorough) == 2.0
        assert gbn.check_layernorm(_NB["layernorm_forward"], _NB["layernorm_backward"], seed=seed, points=2,
                                   thorough=thorough) == 2.0
        assert ex.check_gradient_checker(_NB["grad_check_batchnorm"], seed=seed, points=2, thorough=thorough) == 2.0


def _checker(reduce, restore="exact"):
    """A learner's gradient checker; ``reduce(per_entry_errors)``; ``restore``: "exact" works on a copy of x,
    "arithmetic" perturbs the caller's x in place and undoes it with +h, -2h, +h (rounding leaves it changed)."""
    def grad_check(forward, backward, x, gamma, beta, seed):
        dout = np.random.default_rng(seed).standard_normal(x.shape)
        dx = backward(dout, forward(x, gamma, beta)[1])[0]
        xp = np.array(x, dtype=np.float64) if restore == "exact" else x
        h, num = 1e-5, np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            xp[i] += h
            fp = np.sum(dout * forward(xp, gamma, beta)[0])
            xp[i] -= 2 * h
            fm = np.sum(dout * forward(xp, gamma, beta)[0])
            xp[i] += h
            num[i] = (fp - fm) / (2 * h)
        return float(reduce(np.abs(dx - num) / np.maximum(1e-8, np.abs(dx) + np.abs(num))))
    return grad_check


def test_a_checker_returning_the_mean_loses_the_one_wrong_entry_case(capsys):
    text = _fails_with(capsys, ex.check_gradient_checker, _checker(np.mean), points=2, phrase="return the MAX")
    assert "✗ one wrong entry" in text and "✓ correct" in text and "✓ sign_flip" in text
    assert ex.check_gradient_checker(_checker(np.max), points=2) == 2.0


def test_a_checker_that_leaves_x_perturbed_loses_the_inputs_share(capsys):
    assert ex.check_gradient_checker(_checker(np.max, restore="arithmetic"), points=2) == pytest.approx(1.5)
    text = capsys.readouterr().out
    assert "✗ inputs left unchanged" in text and "[INPUT_MUTATED]" in text


def staged_backward_scaling_dout(dout, cache):   # dxhat = dout; dxhat *= gamma: the caller's dout changes
    dxhat = dout
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache["xhat"]).sum(axis=0)
    dxhat *= cache["gamma"]
    N = dout.shape[0]
    xhat, std = cache["xhat"], cache["std"]
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)
    return dx, dgamma, dbeta


def layernorm_backward_scaling_dout(dout, cache):
    out = _NB["layernorm_backward"](dout.copy(), cache)
    dout *= 0.0
    return out


@pytest.mark.parametrize("check,fns", [
    (gbn.check_batchnorm_backward, (_NB["batchnorm_forward"], staged_backward_scaling_dout)),
    (gbn.check_layernorm, (_NB["layernorm_forward"], layernorm_backward_scaling_dout)),
])
def test_backwards_that_change_dout_lose_the_inputs_share(check, fns, capsys):
    assert check(*fns, points=2) == pytest.approx(1.5)
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


def _labels(**named):
    return {name for name, on in named.items() if on}


def test_visible_cases_cover_the_hidden_kinds_in_07():
    def kinds(cases, labels):
        return set().union(*(labels(c) for c in cases))

    fw = [gbn._bn_forward_cases(np.random.default_rng(s), t) for s, t in ((0, False), (71, True))]
    lab = lambda c: _labels(train=c["kw"]["mode"] == "train", eval=c["kw"]["mode"] == "eval",
                            given=c["kw"]["running_mean"] is not None, none=c["kw"]["running_mean"] is None,
                            badly_scaled=np.ptp(np.log10(np.abs(c["x"]).mean(axis=0) + 1e-300)) > 2,
                            batch_of_one=c["x"].shape[0] == 1, batch_of_two=c["x"].shape[0] == 2,
                            one_feature=c["x"].shape[1] == 1, other_eps=c["kw"]["eps"] != 1e-5)
    assert kinds(fw[1], lab) <= kinds(fw[0], lab)
    bw = [gbn._bn_backward_cases(np.random.default_rng(s), t) for s, t in ((0, False), (29, True))]
    lab = lambda c: _labels(large=np.abs(c.args[0]).max() > 100, batch_of_two=c.args[0].shape[0] == 2,
                            one_feature=c.args[0].shape[1] == 1,
                            column_scales=c.args[0].shape[1] > 1 and np.ptp(np.log10(c.args[0].std(axis=0))) > 2)
    assert kinds(bw[1], lab) <= kinds(bw[0], lab)
    ln = [gbn._layernorm_cases(np.random.default_rng(s), t) for s, t in ((0, False), (37, True))]
    lab = lambda c: _labels(batch_of_one=c.args[0].shape[0] == 1, large=np.abs(c.args[0]).max() > 100,
                            tiny_spread=c.args[0].std(axis=1).min() < 0.1)
    assert kinds(ln[1], lab) <= kinds(ln[0], lab)


@pytest.mark.parametrize("check,fns", [
    (gbn.check_batchnorm_forward, ("batchnorm_forward",)),
    (gbn.check_batchnorm_backward, ("batchnorm_forward", "batchnorm_backward")),
    (gbn.check_layernorm, ("layernorm_forward", "layernorm_backward")),
    (ex.check_gradient_checker, ("grad_check_batchnorm",)),
])
def test_hidden_sub_checks_are_visible_sub_checks_and_points_are_split(check, fns, monkeypatch):
    seen = []
    original = core.Report.finish
    monkeypatch.setattr(core.Report, "finish", lambda self: (seen.append(list(self.checks)), original(self))[1])
    check(*(_NB[f] for f in fns), seed=0, points=2)
    check(*(_NB[f] for f in fns), seed=9, points=2, thorough=True)
    visible, hidden = seen
    assert len(visible) >= 3 and set(hidden) <= set(visible), (visible, hidden)
