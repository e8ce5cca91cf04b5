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
    assert score == 1.0 and phrase in out


def test_mlp_sigmoid_of_output_only_loses_sigmoid(capsys):
    def wrong(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        if activation == "sigmoid":
            grads = ex._mlp_variant(params, X, y, activation, "pre_act_cache")
        return loss, grads
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, wrong, points=4)
    assert score == 3.0 and "sigma(h) * (1 - sigma(h))" in out


def test_mlp_missing_mean_and_sign(capsys):
    def times_n(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss, {k: g * X.shape[0] for k, g in grads.items()}
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, times_n, points=4)
    assert score == 1.0 and "MISSING_1_OVER_N" in out

    def flipped(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss, {k: -g for k, g in grads.items()}
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, flipped, points=4)
    assert score == 1.0 and "SIGN_FLIP" in out


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
    assert score == 1.0 and "float64" in capsys.readouterr().out


def test_mlp_wrong_loss_only_loses_loss(capsys):
    def bad_loss(params, X, y, activation):
        loss, grads = ref_mlp(params, X, y, activation)
        return loss * 2, grads
    score, out = _partial(capsys, ex.check_mlp_loss_and_grads, bad_loss, points=4)
    assert score == 3.0 and "loss" in out


# ============================================================================================ layer norms

def ref_norms(params, X, y, activation):
    _, g = ref_mlp(params, X, y, activation)
    return np.array([np.linalg.norm(g[f"W{l}"]) for l in range(1, ref_net.num_layers(params) + 1)])


def test_norms_reference():
    assert ex.check_layer_grad_norms(ref_norms, points=2) == 2.0
    assert ex.check_layer_grad_norms(ref_norms, seed=29, points=2, thorough=True) == 2.0
    assert ex.check_layer_grad_norms(lambda *a: list(ref_norms(*a)), points=2) == 2.0


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
def test_dead_mistakes(wrong, phrase):
    assert phrase in _fails(ex.check_dead_fraction, wrong, points=2)


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


def test_clip_overflow_only_in_hidden_tests(capsys):
    assert ex.check_clip_grad_norm(_naive_clip, points=2) == 2.0
    score = ex.check_clip_grad_norm(_naive_clip, points=3, thorough=True)
    out = capsys.readouterr().out
    assert score == 2.0 and "divide by the largest entry" in out and "CLIP_PER_TENSOR" not in out


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
