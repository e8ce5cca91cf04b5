"""graders.exercises.two_layer_network (notebook 03): reference answers get full marks, planted mistakes lose points
with a message naming the mistake, garbage never crashes the grader; the errata figures are pinned; the question
bank and the plots work."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from graders import concepts  # noqa: E402
from graders.exercises import two_layer_network as ex  # noqa: E402
from graders.question_bank import two_layer_network as qb  # noqa: E402
from reference_impl import network as ref_net  # noqa: E402
from visuals import two_layer_plots as vis  # noqa: E402
from tests.grading_helpers import fails as _fails


def _partial(capsys, fn, *args, points, **kwargs) -> tuple[float, str]:
    score = fn(*args, points=points, **kwargs)
    return score, capsys.readouterr().out


# ============================================================================================ errata figures

def test_part7_figures_pinned():
    w = ex._walkthrough_expected()
    assert [round(w["z1_0"], 5), round(w["z1_1"], 5)] == [0.6, 1.2]
    assert [round(w["z2_0"], 5), round(w["z2_1"], 5)] == [1.12, 1.48]
    assert [round(w["p_0"], 5), round(w["p_1"], 5)] == [0.41096, 0.58904]
    assert round(w["loss"], 5) == 0.88926
    # the seed's dW1 [[0.11781, 0.23562], [0.11781, 0.23562]] is (hidden, input): ours is its transpose
    assert [round(w[f"dW1_in{i}_hid{j}"], 5) for j in range(2) for i in range(2)] == [0.11781, 0.23562] * 2


def test_erratum1_seed_mse_losses():
    got = [round(v, 6) for v in ex._seed_mse_losses()]
    assert got == [0.531406, 0.509566, 0.493181, 0.478455, 0.464231]
    assert all(not math.isclose(got[i], v, rel_tol=1e-4) for i, v in ex._SEED_PRINTED_LOSSES.items())


def test_erratum2_db1_has_hidden_shape():
    shapes = ex._expected_shapes(5, 3, 7, 2)
    assert shapes["db1"] == (7,) and shapes["dW1"] == (3, 7)


def test_erratum4_softmax_ce_gradient_is_p_minus_y_over_n():
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4), "W2": rng.standard_normal((4, 2)),
              "b2": rng.standard_normal(2)}
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, size=6)
    _, g = ref_net.mlp_loss_and_grads(params, X, y)
    s = np.maximum(X @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert np.allclose(g["b2"], ((p - np.eye(2)[y]) / 6).sum(0))


# ============================================================================================ shape table

def _shapes_ok(N, D, H, C):
    return {"z1": (N, H), "h1": (N, H), "scores": (N, C), "dscores": (N, C), "dW2": (H, C), "db2": (C,),
            "dh1": (N, H), "dz1": (N, H), "dW1": (D, H), "db1": (H,)}


def test_shapes_reference_full_marks():
    assert ex.check_gradient_shapes(_shapes_ok, points=2) == 2.0
    assert ex.check_gradient_shapes(_shapes_ok, seed=9, points=2, thorough=True) == 2.0
    assert ex.check_gradient_shapes(lambda N, D, H, C: {k: list(v) for k, v in _shapes_ok(N, D, H, C).items()}) \
        is None
    assert ex.check_gradient_shapes(lambda N, D, H, C: {k: tuple(np.int64(s) for s in v)
                                                        for k, v in _shapes_ok(N, D, H, C).items()}, points=1) == 1.0


def _planted(key, fn):
    def shapes(N, D, H, C):
        t = _shapes_ok(N, D, H, C)
        t[key] = fn(N, D, H, C)
        return t
    return shapes


@pytest.mark.parametrize("key, wrong, phrase", [
    ("db1", lambda N, D, H, C: (D,), "erratum 2"),
    ("dW1", lambda N, D, H, C: (H, D), "transposed"),
    ("dW2", lambda N, D, H, C: (N, H, C), "summed over the batch"),
    ("db2", lambda N, D, H, C: (1, C), "keepdims"),
    ("dz1", lambda N, D, H, C: (H,), "single-example shape"),
    ("scores", lambda N, D, H, C: (C, N), "transposed"),
    ("dh1", lambda N, D, H, C: (N, D), "expected"),
])
def test_shapes_planted_mistakes_named(capsys, key, wrong, phrase):
    score, out = _partial(capsys, ex.check_gradient_shapes, _planted(key, wrong), points=10)
    assert score == 9.0 and phrase in out and f"✗ {key}" in out


def test_shapes_missing_key_and_bad_value(capsys):
    def missing(N, D, H, C):
        t = _shapes_ok(N, D, H, C)
        del t["db1"]
        t["dz1"] = "N x H"
        return t
    score, out = _partial(capsys, ex.check_gradient_shapes, missing, points=10)
    assert score == 8.0 and "'db1' is missing" in out and "is not a shape" in out


@pytest.mark.parametrize("garbage, phrase", [
    (None, "got None"),
    (42, "expected a function"),
    (lambda N, D, H, C: None, "expected a dict"),
    (lambda N, D, H, C: [(N, H)], "expected a dict"),
    (lambda N, D, H, C: 1 / 0, "ZeroDivisionError"),
    (lambda N, D: {}, "4 positional"),
    (lambda N, D, H, C: {k: (float("nan"),) for k in ex.SHAPE_KEYS}, "is not a shape"),
])
def test_shapes_garbage(garbage, phrase):
    assert phrase in _fails(ex.check_gradient_shapes, garbage, points=2)


# ============================================================================================ walkthrough

def test_walkthrough_reference_full_marks():
    exp = ex._walkthrough_expected()
    assert ex.check_walkthrough(dict(exp), points=2) == 2.0
    assert ex.check_walkthrough({k: np.float64(v) for k, v in exp.items()}, seed=1, points=2, thorough=True) == 2.0


def test_walkthrough_planted_mistakes(capsys):
    exp = ex._walkthrough_expected()
    n = len(ex.WALKTHROUGH_KEYS)
    wrong = dict(exp, loss=-math.log10(exp["p_0"]))
    score, out = _partial(capsys, ex.check_walkthrough, wrong, points=n)
    assert score == n - 1 and "log10" in out
    wrong = dict(exp, dz2_0=-exp["dz2_0"], dz2_1=-exp["dz2_1"])
    score, out = _partial(capsys, ex.check_walkthrough, wrong, points=n)
    assert score == n - 2 and "SIGN_FLIP" in out
    wrong = dict(exp, dW1_in1_hid0=exp["dW1_in0_hid1"], dW1_in0_hid1=exp["dW1_in1_hid0"])
    score, out = _partial(capsys, ex.check_walkthrough, wrong, points=n)
    assert score == n - 2 and "transposed" in out
    rounded = dict(exp, p_0=0.411, loss=0.889)  # the seed's rounded table values
    score, out = _partial(capsys, ex.check_walkthrough, rounded, points=n)
    assert score == n - 2 and "rounds to 3 digits" in out


@pytest.mark.parametrize("garbage, phrase", [
    (None, "no answer yet"),
    ([0.6, 1.2], "expected a dict"),
    ({}, "missing"),
    ({k: "about 0.6" for k in ex.WALKTHROUGH_KEYS}, "could not read"),
    ({k: float("nan") for k in ex.WALKTHROUGH_KEYS}, "not finite"),
])
def test_walkthrough_garbage(garbage, phrase):
    assert phrase in _fails(ex.check_walkthrough, garbage, points=2)


# ============================================================================================ the seed's MSE loop

def test_seed_mse_reference_full_marks():
    want = ex._seed_mse_losses()
    assert ex.check_seed_mse_losses(want, points=2) == 2.0
    assert ex.check_seed_mse_losses(np.array(want), seed=2, points=2, thorough=True) == 2.0
    assert ex.check_seed_mse_losses(tuple(np.float64(v) for v in want)) is None


def test_seed_mse_global_rng_untouched():
    np.random.seed(5)
    a = np.random.rand()
    np.random.seed(5)
    ex._seed_mse_losses()
    assert np.random.rand() == a


def test_seed_mse_planted_mistakes(capsys):
    want = ex._seed_mse_losses(6)
    copied = list(want[:5])
    for i, v in ex._SEED_PRINTED_LOSSES.items():
        copied[i] = v
    score, out = _partial(capsys, ex.check_seed_mse_losses, copied, points=6)
    assert score == 3.0 and "erratum 1" in out
    score, out = _partial(capsys, ex.check_seed_mse_losses, want[1:6], points=6)
    assert score == 1.0 and "AFTER the update" in out
    score, out = _partial(capsys, ex.check_seed_mse_losses, [2 * v for v in want[:5]], points=6)
    assert score == 1.0 and "0.5 * (z2 - y)**2" in out
    score, out = _partial(capsys, ex.check_seed_mse_losses, want[:4], points=6)
    assert score == 4.0 and "got 4 losses" in out
    score, out = _partial(capsys, ex.check_seed_mse_losses, [v + 0.01 for v in want[:5]], points=6)
    assert score == 1.0 and "np.random.seed(42)" in out


@pytest.mark.parametrize("garbage, phrase", [
    (None, "is None"),
    ("0.53", "list of 5 numbers"),
    (np.zeros((5, 2)), "list of 5 numbers"),
    ([float("nan")] * 5, "not a finite real number"),
    ([None] * 5, "not a finite real number"),
])
def test_seed_mse_garbage(garbage, phrase):
    assert phrase in _fails(ex.check_seed_mse_losses, garbage, points=2)


# ============================================================================================ zero-init symmetry

def _symmetry_answers():
    X, y, H, C = ex.symmetry_problem()
    D = X.shape[1]
    zero = {"W1": np.zeros((D, H)), "b1": np.zeros(H), "W2": np.zeros((H, C)), "b2": np.zeros(C)}
    _, g = ref_net.mlp_loss_and_grads(zero, X, y)
    out = {f"d{k}_norm": float(np.linalg.norm(v)) for k, v in g.items()}
    const = {"W1": np.full((D, H), ex.CONSTANT_VALUE), "b1": np.zeros(H), "W2": np.full((H, C), ex.CONSTANT_VALUE),
             "b2": np.zeros(C)}
    rng = np.random.default_rng(99)
    rnd = {"W1": 0.5 * rng.standard_normal((D, H)), "b1": np.zeros(H), "W2": 0.5 * rng.standard_normal((H, C)),
           "b2": np.zeros(C)}
    for label, start in (("constant", const), ("random", rnd)):
        p, _ = ref_net.train_mlp(start, X, y, lr=ex.SYMMETRY_LR, steps=ex.SYMMETRY_STEPS)
        out[f"distinct_units_{label}_init"] = ex._count_distinct_units(p["W1"])
    return out


def test_symmetry_reference_full_marks():
    ans = _symmetry_answers()
    assert ans["distinct_units_constant_init"] == 1 and ans["distinct_units_random_init"] == 5
    assert ans["dW1_norm"] == ans["dW2_norm"] == ans["db1_norm"] == 0.0 and ans["db2_norm"] > 0.05
    assert ex.check_zero_init(ans, points=2) == 2.0
    assert ex.check_zero_init(ans, seed=1, points=2, thorough=True) == 2.0


def test_symmetry_planted_mistakes(capsys):
    ans = _symmetry_answers()
    score, out = _partial(capsys, ex.check_zero_init, dict(ans, distinct_units_constant_init=5), points=6)
    assert score == 5.0 and "identical hidden units receive identical gradients" in out
    score, out = _partial(capsys, ex.check_zero_init, dict(ans, db2_norm=0.0), points=6)
    assert score == 5.0 and "db2 does not" in out
    score, out = _partial(capsys, ex.check_zero_init, dict(ans, dW2_norm=0.3), points=6)
    assert score == 5.0 and "h1 is all zeros" in out


@pytest.mark.parametrize("garbage, phrase", [
    (None, "no answer yet"),
    ((0, 0, 0, 0, 1, 5), "expected a dict"),
    ({"dW1_norm": None}, "missing"),
])
def test_symmetry_garbage(garbage, phrase):
    assert phrase in _fails(ex.check_zero_init, garbage, points=2)


# ============================================================================================ question bank

RIGHT = {"two_layer_60_second": "d", "two_layer_relu_cache": "c", "two_layer_softmax_grad": "b"}


@pytest.mark.parametrize("qid", sorted(RIGHT))
def test_questions(qid):
    q = qb.QUESTIONS[qid]
    assert sorted(q.options) == ["a", "b", "c", "d"] and list(q.options) == sorted(q.options)
    assert concepts.check_choice(qid, RIGHT[qid], points=1) == 1.0
    assert concepts.check_choice(qid, f"({RIGHT[qid].upper()})", points=1) == 1.0
    for letter in q.options:
        if letter != RIGHT[qid]:
            assert concepts.digest(qid, letter) in q.feedback
            msg = _fails(concepts.check_choice, qid, letter, points=1)
            assert q.feedback[concepts.digest(qid, letter)] in msg
    assert "no answer yet" in _fails(concepts.check_choice, qid, None, points=1)
    assert "not one of the options" in _fails(concepts.check_choice, qid, 3, points=1)


# ============================================================================================ visuals

def test_plots():
    fig = vis.plot_loss_curves({"lr 0.1": [1.0, 0.8, 0.5], "lr 1": np.array([1.0, 0.3, 0.1])})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    fig = vis.plot_loss_curves({"a": [1.0, 0.0]}, logy=True)
    plt.close(fig)
    fig = vis.plot_grad_norms({"W1": [1.0, 0.5, 0.0], "b1": [0.1, np.nan, 0.01]})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.plot_loss_curves({})
    with pytest.raises(ValueError):
        vis.plot_grad_norms({"W1": []})


def test_draw_network():
    W1 = np.array([[0.1, 0.3], [0.2, 0.4]])
    W2 = np.array([[0.5, 0.7], [0.6, 0.8]])
    fig = vis.draw_network(W1, W2, dW1=np.ones((2, 2)), dW2=np.zeros((2, 2)), values={"x": [1, 2], "z1": [0.6, 1.2],
                                                                                       "z2": [1.1, 1.5]},
                           grads={"dz1": [0.1, 0.1], "dz2": [-0.6, 0.6]}, title="t")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "0.1 | 1" in texts and "z1=0.6" in texts and "dz2=-0.6" in texts
    plt.close(fig)
    fig = vis.draw_network(np.ones((3, 4)), np.ones((4, 1)))
    plt.close(fig)
    with pytest.raises(ValueError):
        vis.draw_network(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError):
        vis.draw_network(W1, W2, dW1=np.ones((3, 2)))
    with pytest.raises(ValueError):
        vis.draw_network(W1, W2, values={"x": [1, 2, 3]})
