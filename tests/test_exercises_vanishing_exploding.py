"""graders.exercises.vanishing_exploding (notebook 08): correct answers get full marks, plausible wrong answers lose
points with a message that names the mistake, garbage never crashes the grader, partial credit is exact."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders.exercises import vanishing_exploding as ex  # noqa: E402
from reference_impl import layers as ref_layers  # noqa: E402
from reference_impl import network as ref_net  # noqa: E402
from reference_impl import rnn as ref_rnn  # noqa: E402
from visuals import vanishing_plots as vis  # noqa: E402
from tests.grading_helpers import fails as _fails
from tests.grading_helpers import fails_with as _fails_with


def _partial(capsys, fn, *args, points, **kwargs) -> tuple[float, str]:
    score = fn(*args, points=points, **kwargs)
    return score, capsys.readouterr().out


# ============================================================================================ errata figures

def test_errata_figures():
    assert round(0.25 ** 4, 4) == 0.0039
    assert f"{1.5 ** 100:.2e}" == "4.07e+17"
    x_star, peak = ref_layers.sigmoid_forward(np.array([0.0]))[0], 0.25
    assert float(x_star[0] * (1 - x_star[0])) == peak


# ============================================================================================ sigmoid slope

X = sp.Symbol("x", real=True)
S = 1 / (1 + sp.exp(-X))


def test_slope_correct_forms_score_full():
    assert ex.check_sigmoid_slope(sp.diff(S, X), 0, sp.Rational(1, 4), points=2) == 2.0
    assert ex.check_sigmoid_slope(S * (1 - S), 0.0, 0.25, points=2, thorough=True) == 2.0
    assert ex.check_sigmoid_slope("exp(-x)/(1+exp(-x))^2", np.float64(0), 0.25) is None
    plain = sp.Symbol("x")  # a symbol without assumptions is matched by name
    assert ex.check_sigmoid_slope(sp.exp(-plain) / (1 + sp.exp(-plain)) ** 2, 0, 0.25, points=2) == 2.0


@pytest.mark.parametrize("wrong, phrase", [
    (S * (1 + S), "not (1 + sigmoid(x))"),
    (-S * (1 - S), "sign is flipped"),
    (sp.exp(-X) / (1 + sp.exp(-X)), "squared"),
    (S, "sigmoid itself"),
])
def test_slope_wrong_expression_named(capsys, wrong, phrase):
    score, out = _partial(capsys, ex.check_sigmoid_slope, wrong, 0, 0.25, points=3)
    assert score == 2.0 and phrase in out


def test_slope_wrong_numbers(capsys):
    score, out = _partial(capsys, ex.check_sigmoid_slope, sp.diff(S, X), 0, 0.5, points=3)
    assert score == 2.0 and "VALUE at 0" in out
    score, out = _partial(capsys, ex.check_sigmoid_slope, sp.diff(S, X), 1, 1.0, points=3)
    assert score == 1.0 and "tanh's maximal slope" in out
    msg = _fails(ex.check_sigmoid_slope, None, None, "a quarter", points=3)
    assert "dsigma is None" in msg and "give a number" in msg


def test_slope_garbage():
    assert "could not read" in _fails(ex.check_sigmoid_slope, "import os", "x", [1], points=2)
    assert "could not read" in _fails(ex.check_sigmoid_slope, "y + 1", 0, 0.25)


# ============================================================================================ depth estimates

GOOD_DEPTH = {"sigmoid_ratio_5_layers": 0.0039, "growth_100_layers": 4.07e17, "sigmoid_layers_for_1e-6": 10}


def test_depth_correct():
    assert ex.check_depth_estimates(GOOD_DEPTH, points=2) == 2.0
    exact = {"sigmoid_ratio_5_layers": 0.25 ** 4, "growth_100_layers": 1.5 ** 100, "sigmoid_layers_for_1e-6": 10.0}
    assert ex.check_depth_estimates(exact) is None


@pytest.mark.parametrize("key, wrong, phrase", [
    ("sigmoid_ratio_5_layers", 0.25 ** 5, "four factors, not 5"),
    ("sigmoid_ratio_5_layers", 0.5 ** 4, "its slope is 0.25"),
    ("growth_100_layers", 1.5 ** 99, "100 factors"),
    ("growth_100_layers", 150.0, "do not add up"),
    ("sigmoid_layers_for_1e-6", 9, "not yet below 1e-6"),
    ("sigmoid_layers_for_1e-6", 11, "not the smallest"),
])
def test_depth_wrong_named(capsys, key, wrong, phrase):
    answers = dict(GOOD_DEPTH, **{key: wrong})
    score, out = _partial(capsys, ex.check_depth_estimates, answers, points=3)
    assert score == 2.0 and phrase in out


def test_depth_garbage():
    assert "expected a dict" in _fails(ex.check_depth_estimates, None, points=2)
    msg = _fails(ex.check_depth_estimates, {"sigmoid_ratio_5_layers": "tiny", "growth_100_layers": float("inf")})
    assert "give a number" in msg and "missing" in msg


# ============================================================================================ deep MLP

def ref_mlp(params, X, y, activation):
    return ref_net.mlp_loss_and_grads(params, X, y, activation=activation)


def test_mlp_reference_full_marks():
    assert ex.check_mlp_loss_and_grads(ref_mlp, points=3) == 3.0
    assert ex.check_mlp_loss_and_grads(ref_mlp, seed=17, points=3, thorough=True) == 3.0
    assert ex.check_mlp_loss_and_grads(ref_mlp) is None


@pytest.mark.parametrize("mode, phrase", [("no_act", "activation's local derivative is missing"),
                                          ("act_on_last", "last layer is affine only")])
def test_mlp_planted_mistakes(capsys, mode, phrase):
    def wrong(params, X, y, activation):
        loss, _ = ref_mlp(params, X, y, activation)
        return loss, ex._mlp_variant(params, X, y, activation, mode)
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, wrong, points=4)
    assert score == 1.6 and phrase in out   # the loss (1 of 5 sub-checks) and the inputs left unchanged


def test_mlp_sigmoid_of_output_only_loses_sigmoid(capsys):
    def wrong(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        if activation == "sigmoid":
            grads = ex._mlp_variant(params, X, y, activation, "pre_act_cache")
        return loss, grads
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, wrong, points=4)
    assert score == 3.4 and "sigma(h) * (1 - sigma(h))" in out


def test_mlp_missing_mean_and_sign(capsys):
    def times_n(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss, {k: g * X.shape[0] for k, g in grads.items()}
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, times_n, points=4)
    assert score == 1.6 and "MISSING_1_OVER_N" in out

    def flipped(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss, {k: -g for k, g in grads.items()}
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, flipped, points=4)
    assert score == 1.6 and "SIGN_FLIP" in out


def test_mlp_garbage(capsys):
    assert "got None" in _fails(ex.check_mlp_loss_and_grads, None, points=3)
    assert "returned None" in _fails(ex.check_mlp_loss_and_grads, lambda p, X, y, a: None, points=3)
    assert "must be a dict" in _fails(ex.check_mlp_loss_and_grads, lambda p, X, y, a: (1.0, [1, 2]))

    def boom(params, X, y, activation):
        raise NotImplementedError()
    assert "raised NotImplementedError" in _fails(ex.check_mlp_loss_and_grads, boom, points=3)

    def float32(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss, {k: g.astype(np.float32) for k, g in grads.items()}
    score = ex.check_mlp_loss_and_grads(float32, points=4)
    assert score == 1.6 and "float64" in capsys.readouterr().out


def test_mlp_wrong_loss_only_loses_loss(capsys):
    def bad_loss(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss * 2, grads
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, bad_loss, points=4)
    assert score == 3.4 and "loss" in out


# ============================================================================================ layer norms

def ref_norms(params, X, y, activation):
    _, g = ref_mlp(params, X, y, activation)
    return np.array([np.linalg.norm(g[f"W{l}"]) for l in range(1, ref_net.num_layers(params) + 1)])


def test_norms_reference():
    assert ex.check_layer_grad_norms(ref_norms, points=2) == 2.0
    assert ex.check_layer_grad_norms(ref_norms, seed=29, points=2, thorough=True) == 2.0
    # the contract is a float64 array: a list of the right numbers loses the points, with a word why
    assert "Return a NumPy array" in _fails(ex.check_layer_grad_norms, lambda *a: list(ref_norms(*a)), points=2)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda *a: ref_norms(*a)[::-1], "reverse order"),
    (lambda *a: ref_norms(*a) ** 2, "squared norms"),
    (lambda p, X, y, a: np.array([np.sqrt(np.sum(g[f"W{l}"] ** 2) + np.sum(g[f"b{l}"] ** 2))
                                  for g in [ref_mlp(p, X, y, a)[1]] for l in range(1, ref_net.num_layers(p) + 1)]),
     "not the biases"),
])
def test_norms_mistakes(wrong, phrase):
    assert phrase in _fails(ex.check_layer_grad_norms, wrong, points=2)


def test_norms_garbage():
    assert "got None" in _fails(ex.check_layer_grad_norms, None)
    assert "shape" in _fails(ex.check_layer_grad_norms, lambda *a: ref_norms(*a)[:-1], points=2)
    assert "expected a NumPy array" in _fails(ex.check_layer_grad_norms, lambda *a: "norms", points=2)


# ============================================================================================ dead units

def ref_dead(hidden):
    return np.array([float(np.mean(np.all(h == 0, axis=0))) for h in hidden])


def test_dead_reference_and_cases_have_dead_units():
    assert ex.check_dead_fraction(ref_dead, points=2) == 2.0
    assert ex.check_dead_fraction(ref_dead, seed=41, points=2, thorough=True) == 2.0
    fractions = [ex._dead_reference(h) for _, h in ex._dead_cases(np.random.default_rng(0), True)]
    assert all(np.all((f > 0) & (f < 1) & (f != 0.5)) for f in fractions)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda H: np.array([float(np.mean(h == 0)) for h in H]), "fraction of zero ENTRIES"),
    (lambda H: np.array([float(np.mean(np.any(h == 0, axis=0))) for h in H]), "zero for SOME example"),
    (lambda H: np.array([float(np.sum(np.all(h == 0, axis=0))) for h in H]), "not the count"),
    (lambda H: 1.0 - ref_dead(H), "ALIVE"),
])
def test_dead_mistakes(wrong, phrase, capsys):
    # (on a batch of one, zero entries and zero-for-some-example units ARE the dead units: that kind keeps its share)
    _fails_with(capsys, ex.check_dead_fraction, wrong, points=2, phrase=phrase)


def test_dead_garbage():
    assert "got None" in _fails(ex.check_dead_fraction, None)
    assert "got None" in _fails(ex.check_dead_fraction, lambda H: None, points=2)
    assert "ZeroDivisionError" in _fails(ex.check_dead_fraction, lambda H: 1 / 0, points=2)


# ============================================================================================ clipping

def test_clip_reference():
    assert ex.check_clip_grad_norm(ref_rnn.clip_grad_norm, points=2) == 2.0
    assert ex.check_clip_grad_norm(ref_rnn.clip_grad_norm, seed=12, points=2, thorough=True) == 2.0


def _naive_clip(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    if total > max_norm:
        return {k: g * (max_norm / (total + 1e-6)) for k, g in grads.items()}, total
    return {k: g.copy() for k, g in grads.items()}, total


def test_clip_overflow_is_tried_by_the_visible_test_too(capsys):
    # the notebook promises gradients whose squares overflow: the visible test has them (1 of 3 sub-checks lost)
    for thorough in (False, True):
        assert ex.check_clip_grad_norm(_naive_clip, points=2, thorough=thorough) == 1.5
        out = capsys.readouterr().out
        assert "divide by the largest entry" in out and "CLIP_PER_TENSOR" not in out


def test_clip_mistakes(capsys):
    def per_tensor(grads, max_norm):
        total = ref_rnn.clip_grad_norm(grads, max_norm)[1]
        return {k: g * (max_norm / (np.linalg.norm(g) + 1e-6)) if np.linalg.norm(g) > max_norm else g.copy()
                for k, g in grads.items()}, total
    score, out = _partial(capsys, ex.check_clip_grad_norm, per_tensor, points=2)
    assert score == 1.0 and "CLIP_PER_TENSOR" in out

    def elementwise(grads, max_norm):
        return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, ref_rnn.clip_grad_norm(grads, max_norm)[1]
    score, out = _partial(capsys, ex.check_clip_grad_norm, elementwise, points=2)
    assert score == 1.0 and "clips each ENTRY" in out

    def norm_after(grads, max_norm):
        new, total = ref_rnn.clip_grad_norm(grads, max_norm)
        return new, min(total, max_norm)
    score, out = _partial(capsys, ex.check_clip_grad_norm, norm_after, points=2)
    assert score == 1.0 and "BEFORE clipping" in out

    def squared(grads, max_norm):
        new, total = ref_rnn.clip_grad_norm(grads, max_norm)
        return new, total ** 2
    score, out = _partial(capsys, ex.check_clip_grad_norm, squared, points=2)
    assert score == 1.0 and "squared norm" in out


def test_clip_garbage():
    assert "got None" in _fails(ex.check_clip_grad_norm, None)
    assert "returned None" in _fails(ex.check_clip_grad_norm, lambda g, m: None, points=2)
    assert "must be a dict" in _fails(ex.check_clip_grad_norm, lambda g, m: ([1], 1.0), points=2)


# ============================================================================================ concepts

def test_concepts_hashes_and_feedback(capsys):
    from graders import concepts
    bank = concepts.questions()
    correct = {}
    for qid in ex.QUESTIONS:
        q = bank[qid]
        hits = [l for l in "abcd" if concepts.digest(qid, l) == q.answer_digest]
        assert len(hits) == 1
        correct[qid] = hits[0]
        for l in "abcd":  # every wrong option says why; no feedback key repeats the answer digest
            assert (concepts.digest(qid, l) in q.feedback) == (l != hits[0])
    assert correct == {"clip_vs_decay": "b", "zero_init": "c"}  # the right answers, stated once, here
    assert ex.check_concepts(correct, points=2) == 2.0
    assert ex.check_concepts({k: f" ({v.upper()}) " for k, v in correct.items()}) is None
    wrong = {qid: next(l for l in "abcd" if l != correct[qid]) for qid in correct}
    assert "not the best answer" in _fails(ex.check_concepts, wrong, points=2)
    score, out = _partial(capsys, ex.check_concepts, dict(correct, zero_init=wrong["zero_init"]), points=2)
    assert score == 1.0 and "not the best answer" in out


def test_concepts_source_has_no_plain_answer():
    import inspect

    from graders.question_bank import vanishing_exploding as bank_module
    for module in (ex, bank_module):
        src = inspect.getsource(module)
        assert '"answer"' not in src and "'answer'" not in src


def test_concepts_garbage():
    assert "expected a dict" in _fails(ex.check_concepts, None, points=2)
    msg = _fails(ex.check_concepts, {"clip_vs_decay": 2, "zero_init": "ab"}, points=2)
    assert msg.count("not one of the options") == 2
    assert "missing" in _fails(ex.check_concepts, {}, points=2)


# ============================================================================================ visuals

def test_visuals_draw():
    fig = vis.plot_layer_curves({"a": [1.0, 1e-3, 0.0], "b": np.array([2.0, 3.0, 4.0])}, floor=1e-10)
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    fig = vis.plot_panels({"relu": {"He": [1, 1]}, "tanh": {"Xavier": [1, 0.5]}}, ylabel="var")
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_layer_curves({})
    with pytest.raises(ValueError):
        vis.plot_layer_curves({"a": []})


# ============================================================================================ issue 12: fair grading in 08

from graders import core  # noqa: E402
from graders import rnn as gr  # noqa: E402
from tests.solution_cells import solution_namespace  # noqa: E402

_NB = solution_namespace("08_vanishing_exploding", ["sigmoid_layer", "mlp_loss_and_grads", "layer_grad_norms",
                                                    "init_schemes", "dead_fraction", "residual_block",
                                                    "clip_grad_norm"])


def test_the_notebook_answers_get_full_marks():
    for seed, thorough in ((0, False), (17, True)):
        assert ex.check_sigmoid_layer(_NB["sigmoid_forward"], _NB["sigmoid_backward"], seed=seed, points=2,
                                      thorough=thorough) == 2.0
        assert ex.check_mlp_loss_and_grads(_NB["mlp_loss_and_grads"], seed=seed, points=3, thorough=thorough) == 3.0
        assert ex.check_layer_grad_norms(_NB["layer_grad_norms"], seed=seed, points=2, thorough=thorough) == 2.0
        assert ex.check_init(_NB["he_init"], "he", seed=seed, points=2, thorough=thorough) == 2.0
        assert ex.check_init(_NB["xavier_init"], "xavier", seed=seed, points=1, thorough=thorough) == 1.0
        assert ex.check_dead_fraction(_NB["dead_fraction"], seed=seed, points=2, thorough=thorough) == 2.0
        assert ex.check_residual_block(_NB["residual_forward"], _NB["residual_backward"], seed=seed, points=2,
                                       thorough=thorough) == 2.0
        assert ex.check_clip_grad_norm(_NB["clip_grad_norm"], seed=seed, points=2, thorough=thorough) == 2.0


# --- the sigmoid on |x| up to 1e3, in the visible test


def sigmoid_forward_exp_ratio(x):   # exp(x) / (1 + exp(x)): inf / inf = nan above x = 709
    e = np.exp(x)
    out = e / (1.0 + e)
    return out, out


def sigmoid_backward_from_input(dout, cache):   # caches x, recomputes exp(-x) / (1 + exp(-x))**2: nan below -709
    x = cache
    e = np.exp(-x)
    return dout * e / (1.0 + e) ** 2


def sigmoid_forward_caching_input(x):
    return _NB["sigmoid_forward"](x)[0], x


@pytest.mark.parametrize("fwd,bwd", [
    (sigmoid_forward_exp_ratio, lambda dout, s: dout * s * (1 - s)),
    (sigmoid_forward_caching_input, sigmoid_backward_from_input),
])
def test_a_sigmoid_that_overflows_loses_the_large_input_share_visibly(fwd, bwd, capsys):
    assert ex.check_sigmoid_layer(fwd, bwd, points=2) == pytest.approx(1.5)
    out = capsys.readouterr().out
    assert "✗ large inputs (|x| up to 1e3)" in out and "[SIGMOID_UNSTABLE]" in out and "✓ forward output" in out


def test_the_large_inputs_reach_beyond_709_on_both_sides():
    x = ex._large_inputs(np.random.default_rng(0), False)[0].args[0]
    assert x.max() >= 1e3 and x.min() <= -1e3 and (np.abs(x) > 709).sum() >= 4


# --- the deep MLP by finite differences: NUMERIC_NOT_ANALYTIC at every step size


def mlp_by_finite_differences(h):
    def mlp(params, X, y, activation):   # the loss from the notebook's own forward, the gradients by centred differences
        loss_of = lambda p: _NB["mlp_loss_and_grads"](p, X, y, activation)[0]  # noqa: E731
        grads = {}
        for k, p in params.items():
            g = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                plus, minus = {q: v.copy() for q, v in params.items()}, {q: v.copy() for q, v in params.items()}
                plus[k][i] += h
                minus[k][i] -= h
                g[i] = (loss_of(plus) - loss_of(minus)) / (2 * h)
            grads[k] = g
        return loss_of(params), grads
    return mlp


@pytest.mark.parametrize("h", [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8])
@pytest.mark.parametrize("seed,thorough", [(0, False), (17, True)])
def test_mlp_by_finite_differences_fails_at_every_step_size(h, seed, thorough, capsys):
    text = _fails_with(capsys, ex.check_mlp_loss_and_grads, mlp_by_finite_differences(h), seed=seed, points=3,
                       thorough=thorough, code="NUMERIC_NOT_ANALYTIC")
    assert "✗ gradients with huge scores (loss about 1e9)" in text and "✓ loss" in text


# --- the deep MLP by the complex-step trick: exact to rounding, caught only by its cost


def mlp_by_complex_step(params, X, y, activation):
    """The loss of a complex forward pass, and each gradient entry as Im L(p + i h e_k) / h with h = 1e-20: no
    difference of two losses, so no cancellation error, and the huge scores cannot catch it."""
    acts = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.where(z.real > 0, z, 0)}

    def loss_of(p):
        K = len([k for k in p if k.startswith("W")])
        h = X
        for l in range(1, K + 1):
            z = h @ p[f"W{l}"] + p[f"b{l}"]
            h = acts[activation](z) if l < K else z
        z = z - z.real.max(axis=1, keepdims=True)
        return np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y])

    cp = {k: v.astype(complex) for k, v in params.items()}
    grads = {}
    for k, v in params.items():
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            cp[k][i] += 1e-20j
            g[i] = loss_of(cp).imag / 1e-20
            cp[k][i] -= 1e-20j
        grads[k] = g
    return float(loss_of(params)), grads


def mlp_by_example_and_layer_loops(params, X, y, activation):
    """A right answer written differently: one example at a time, the layers in a while loop, outer products
    accumulated by hand. Full marks, the cost case included."""
    K = len([k for k in params if k.startswith("W")])
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    loss, N = 0.0, X.shape[0]
    for n in range(N):
        hs, zs, h, l = [X[n]], [], X[n], 1
        while l <= K:
            z = h @ params[f"W{l}"] + params[f"b{l}"]
            zs.append(z)
            if l < K:
                h = {"sigmoid": lambda t: np.exp(-np.logaddexp(0.0, -t)), "tanh": np.tanh,
                     "relu": lambda t: np.maximum(t, 0.0)}[activation](z)
                hs.append(h)
            l += 1
        s = zs[-1] - zs[-1].max()
        p = np.exp(s) / np.exp(s).sum()
        loss += (np.log(np.exp(s).sum()) - s[y[n]]) / N
        dz = p.copy()
        dz[y[n]] -= 1.0
        dz /= N
        for l in range(K, 0, -1):
            if l < K:
                a = hs[l]
                dz = dz * {"sigmoid": a * (1 - a), "tanh": 1 - a ** 2, "relu": (zs[l - 1] > 0) * 1.0}[activation]
            grads[f"W{l}"] += np.outer(hs[l - 1], dz)
            grads[f"b{l}"] += dz
            dz = params[f"W{l}"] @ dz
    return float(loss), grads


def test_mlp_by_the_complex_step_trick_loses_the_huge_share_on_the_cost_case(capsys):
    text = _fails_with(capsys, ex.check_mlp_loss_and_grads, mlp_by_complex_step, points=3,
                       code="NUMERIC_NOT_ANALYTIC")
    assert "✗ gradients with huge scores (loss about 1e9)" in text and "101,386 parameters" in text, text
    assert "✓ loss" in text and "✓ gradients (tanh)" in text and "✓ gradients (relu)" in text, text
    assert "Partial credit: 2.55 of 3 points" in text, text   # 3 * (0.75 * 4/5 + 0.25): one of five shares lost


@pytest.mark.parametrize("seed,thorough", [(0, False), (17, True)])
def test_mlp_written_with_loops_over_examples_and_layers_keeps_full_marks(seed, thorough):
    assert ex.check_mlp_loss_and_grads(mlp_by_example_and_layer_loops, seed=seed, points=3, thorough=thorough) == 3.0


def test_the_mlp_cost_case_is_last_in_visible_and_hidden_cases_with_about_1e5_parameters():
    for s, t in ((0, False), (17, True)):
        cases = ex._mlp_cases(np.random.default_rng(s), t)
        assert [c[-1] for c in cases] == [False] * (len(cases) - 1) + [True]
        assert 90_000 <= sum(p.size for p in cases[-1][2].values()) <= 150_000


# --- W10 sorts before W2: 10 or more layers in the visible tests


def mlp_string_sorted(params, X, y, activation):
    """The notebook's MLP, visiting the layers in sorted(params) order (W1, W10, W2, ...)."""
    order = sorted(k[1:] for k in params if k.startswith("W"))
    renamed = {}
    for pos, l in enumerate(order, start=1):
        renamed[f"W{pos}"], renamed[f"b{pos}"] = params[f"W{l}"], params[f"b{l}"]
    loss, g = _NB["mlp_loss_and_grads"](renamed, X, y, activation)
    return loss, {f"{p}{l}": g[f"{p}{pos}"] for pos, l in enumerate(order, start=1) for p in "Wb"}


def norms_string_sorted(params, X, y, activation):
    _, grads = _NB["mlp_loss_and_grads"](params, X, y, activation)
    return np.array([np.linalg.norm(grads[k]) for k in sorted(grads) if k.startswith("W")])


def test_layers_taken_in_string_order_are_caught_by_the_visible_tests(capsys):
    text = _fails_with(capsys, ex.check_mlp_loss_and_grads, mlp_string_sorted, points=3, phrase="'W10' before 'W2'")
    assert "✗ gradients (tanh)" in text and "✓ gradients (sigmoid)" in text
    text = _fails_with(capsys, ex.check_layer_grad_norms, norms_string_sorted, points=2, phrase="'W10' before 'W2'")
    assert "✗ norms (10 or more layers)" in text and "✓ norms (relu)" in text


# --- dead_fraction must return an array


def test_dead_fraction_as_a_list_loses_points(capsys):
    as_list = lambda hidden: list(_NB["dead_fraction"](hidden))  # noqa: E731
    assert "float64 NumPy array" in _fails(ex.check_dead_fraction, as_list, points=2)


# --- one input-mutation rule: 06 and 08 clip_grad_norm cost the same, and every 08 exercise watches its inputs


def clip_in_place(grads, max_norm):   # scales the caller's arrays, then returns copies of them
    peak = max((float(np.abs(g).max()) for g in grads.values() if np.size(g)), default=0.0)
    total = peak * float(np.sqrt(sum(np.sum((g / peak) ** 2) for g in grads.values()))) if peak else 0.0
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / (total + 1e-6)
    return {k: g.copy() for k, g in grads.items()}, total


def test_in_place_clipping_costs_the_same_in_06_and_08(capsys):
    assert gr.check_clip_grad_norm(clip_in_place, points=2) == ex.check_clip_grad_norm(clip_in_place, points=2) == 1.5
    out = capsys.readouterr().out
    assert out.count("✗ inputs left unchanged") == 2 and out.count("[INPUT_MUTATED]") >= 2


def sigmoid_clamping_x(x):
    x[x < -500] = -500.0   # "for safety", on the caller's array
    return _NB["sigmoid_forward"](x)


def residual_backward_adding_into_dout(dout, cache):
    dx, dW1, db1, dW2, db2 = _NB["residual_backward"](dout.copy(), cache)
    skip = dout
    skip += dx - dout   # dx = dout; dx += ...: the caller's dout becomes dx
    return skip, dW1, db1, dW2, db2


def mlp_taking_a_step(params, X, y, activation):
    loss, grads = _NB["mlp_loss_and_grads"](params, X, y, activation)
    for k in params:
        params[k] -= 1e-3 * grads[k]   # "and one SGD step while we are here"
    return loss, grads


def _then(result, _side_effect):
    return result


def dead_fraction_normalising(hidden):
    for h in hidden:
        if h.max() > 0:
            h /= h.max()   # "to compare the layers", on the caller's arrays
    return _NB["dead_fraction"](hidden)


@pytest.mark.parametrize("check,fns,points", [
    (ex.check_sigmoid_layer, (sigmoid_clamping_x, "sigmoid_backward"), 2),
    (ex.check_residual_block, ("residual_forward", residual_backward_adding_into_dout), 2),
    (ex.check_mlp_loss_and_grads, (mlp_taking_a_step,), 4),
    (ex.check_dead_fraction, (dead_fraction_normalising,), 2),
    (ex.check_layer_grad_norms, (lambda p, X, y, a: _then(_NB["layer_grad_norms"](p, X, y, a),
                                                          mlp_taking_a_step(p, X, y, a)),), 2),
])
def test_08_exercises_lose_the_inputs_share_for_in_place_changes(check, fns, points, capsys):
    fns = [_NB[f] if isinstance(f, str) else f for f in fns]
    assert check(*fns, points=points) == pytest.approx(0.75 * points)
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


# --- the visible test shows every kind the hidden one tries, and points are split


def _labels(**named):
    return {name for name, on in named.items() if on}


def test_visible_cases_cover_the_hidden_kinds_in_08():
    def kinds(cases, labels):
        return set().union(*(labels(c) for c in cases))
    sig = [ex._elementwise_cases(np.random.default_rng(s), t) + ex._large_inputs(np.random.default_rng(s), t)
           for s, t in ((0, False), (81, True))]
    lab = lambda c: _labels(large=np.abs(c.args[0]).max() > 709, one_entry=c.args[0].size == 1,
                            vector=c.args[0].ndim == 1, three_d=c.args[0].ndim == 3)
    assert kinds(sig[1], lab) <= kinds(sig[0], lab)
    res = [ex._residual_cases(np.random.default_rng(s), t) for s, t in ((0, False), (63, True))]
    lab = lambda c: _labels(batch_of_one=c.args[0].shape[0] == 1, square=c.args[1].shape[0] == c.args[1].shape[1])
    assert kinds(res[1], lab) <= kinds(res[0], lab)
    mlp = [ex._mlp_cases(np.random.default_rng(s), t) for s, t in ((0, False), (17, True))]
    lab = lambda c: _labels(**{c[0]: True}, batch_of_one=c[3].shape[0] == 1, deep=len(c[2]) >= 20)
    assert kinds(mlp[1], lab) <= kinds(mlp[0], lab)
    clip = [ex._clip_cases(np.random.default_rng(s), t) for s, t in ((0, False), (12, True))]
    assert {c[0] for c in clip[1]} <= {c[0] for c in clip[0]}
    from graders.network import initialization as init
    lab = lambda sizes: _labels(one_weight=sizes == [1, 1], deep=len(sizes) > 3, large=max(sizes) >= 800)
    assert kinds(init._init_cases(True), lab) <= kinds(init._init_cases(False), lab)


@pytest.mark.parametrize("check,fns,args", [
    (ex.check_sigmoid_layer, ("sigmoid_forward", "sigmoid_backward"), ()),
    (ex.check_residual_block, ("residual_forward", "residual_backward"), ()),
    (ex.check_mlp_loss_and_grads, ("mlp_loss_and_grads",), ()),
    (ex.check_layer_grad_norms, ("layer_grad_norms",), ()),
    (ex.check_dead_fraction, ("dead_fraction",), ()),
    (ex.check_clip_grad_norm, ("clip_grad_norm",), ()),
    (ex.check_init, ("he_init",), ("he",)),
])
def test_hidden_sub_checks_are_visible_sub_checks_and_points_are_split(check, fns, args, monkeypatch):
    seen = []
    original = core.Report.finish
    monkeypatch.setattr(core.Report, "finish", lambda self: (seen.append(list(self.checks)), original(self))[1])
    check(*(_NB[f] for f in fns), *args, seed=0, points=2)
    check(*(_NB[f] for f in fns), *args, seed=9, points=2, thorough=True)
    visible, hidden = seen
    assert len(visible) >= 3 and set(hidden) <= set(visible), (visible, hidden)


def mlp_own_unstable_softmax(params, X, y, activation):
    """The notebook's MLP with a hand-written softmax that does not subtract the row maximum."""
    def unstable(scores, labels):
        e = np.exp(scores)
        p = e / e.sum(axis=1, keepdims=True)
        N = scores.shape[0]
        loss = float(-np.log(p[np.arange(N), labels]).mean())
        d = p.copy()
        d[np.arange(N), labels] -= 1.0
        return loss, d / N
    ns = dict(_NB)
    ns["softmax_cross_entropy"] = unstable
    fn = type(_NB["mlp_loss_and_grads"])(_NB["mlp_loss_and_grads"].__code__, ns)
    return fn(params, X, y, activation)


def test_a_hand_written_unstable_softmax_is_told_why_the_huge_scores_fail(capsys):
    text = _fails_with(capsys, ex.check_mlp_loss_and_grads, mlp_own_unstable_softmax, points=3,
                       code="SOFTMAX_UNSTABLE")
    assert "✗ gradients with huge scores" in text and "✓ gradients (sigmoid)" in text
