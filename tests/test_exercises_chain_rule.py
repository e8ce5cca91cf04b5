"""graders.exercises.chain_rule, its question bank and visuals (notebook 01): correct answers get full marks,
plausible wrong answers lose points with a message that names the mistake, garbage never crashes the grader,
partial credit is exact, and the worked figures are pinned."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

from graders import concepts  # noqa: E402
from graders.exercises import chain_rule as ex  # noqa: E402
from graders.question_bank import chain_rule as bank  # noqa: E402
from visuals import chain_rule_plots as plots  # noqa: E402
from tests.grading_helpers import fails as _fails
from tests.grading_helpers import fails_with as _fails_with

x, y = sp.symbols("x y")


# ============================================================================================ worked figures


def test_worked_figures():
    t = ex._paths_reference(ex.PATHS_X)
    assert t == {"g": 8.0, "L": 80.0, "path_g_square": 48.0, "path_g_product": 6.0, "path_direct": 8.0,
                 "dL/dx": 62.0}
    L = (3 * x + 2) ** 2 + x * (3 * x + 2)
    for x0 in (-1.0, 0.5, 2.0, 3.25):
        assert ex._paths_reference(x0)["dL/dx"] == pytest.approx(float(sp.diff(L, x).subs(x, x0)))
        assert ex._paths_reference(x0)["dL/dx"] == pytest.approx(24 * x0 + 14)
    # (3x + 2)^2: the derivative is 6(3x + 2)
    assert sp.simplify(ex._outer_inner_problems()["affine_square"][1] - 6 * (3 * x + 2)) == 0
    # the neuron table against a finite difference of L(w)
    p = ex.NEURON_POINT
    ref = ex._neuron_reference(**p)

    def loss(w):
        return (1.0 / (1.0 + math.exp(-(w * p["x"] + p["b"]))) - p["y"]) ** 2
    h = 1e-6
    assert ref["dL/dw"] == pytest.approx((loss(p["w"] + h) - loss(p["w"] - h)) / (2 * h), rel=1e-6)
    assert 0.25 ** 4 == pytest.approx(0.0039, rel=1e-2)          # pinned: 0.25^4 = 0.0039
    # L = (wx + b - y)^2 at w=2, x=3, b=1, y=8: dL/dw = -6 (pinned figure), via lsq_reference with N = D = 1
    _, dw = ex._lsq_reference(np.array([[3.0]]), np.array([2.0]), np.array([8.0 - 1.0]))
    assert dw.tolist() == [-6.0]


# ============================================================================================ compose_derivative


def compose_good(stages, xx):
    v = np.array(xx, dtype=np.float64)
    d = np.ones_like(v)
    for f, df in stages:
        d = d * df(v)
        v = np.asarray(f(v), dtype=np.float64)
    return v, d * np.ones_like(v)


def compose_added(stages, xx):
    v = np.array(xx, dtype=np.float64)
    d = np.zeros_like(v)
    for f, df in stages:
        d = d + df(v)
        v = f(v)
    return v, d


def compose_outer_only(stages, xx):
    v = np.array(xx, dtype=np.float64)
    d = np.ones_like(v)
    for f, df in stages:
        d = df(v) * np.ones_like(v)
        v = f(v)
    return v, d


def compose_at_x(stages, xx):
    v = np.array(xx, dtype=np.float64)
    d = np.ones_like(v)
    for f, df in stages:
        d = d * df(xx)
        v = f(v)
    return v, d


def compose_at_output(stages, xx):
    v = np.array(xx, dtype=np.float64)
    d = np.ones_like(v)
    for f, df in stages:
        v = f(v)
        d = d * df(v)
    return v, d


def compose_reversed(stages, xx):
    return compose_good(list(stages)[::-1], xx)


def compose_swapped(stages, xx):
    v, d = compose_good(stages, xx)
    return d, v


def test_compose_reference_gets_full_marks():
    assert ex.check_compose_derivative(compose_good, points=3) == 3.0
    assert ex.check_compose_derivative(compose_good, seed=17, points=3, thorough=True) == 3.0


# weights: value 1, derivative 2, one stage and no stage 1, large constant part 2, inputs left unchanged 2
@pytest.mark.parametrize("fn, code, kept", [(compose_added, "CHAIN_RULE_ADDED", 1 + 2),   # no stage: 0, not 1
                                            (compose_outer_only, "MISSING_INNER_DERIVATIVE", 1 + 1 + 2),
                                            (compose_at_x, "CHAIN_WRONG_POINT", 1 + 1 + 2),
                                            (compose_at_output, "CHAIN_WRONG_POINT", 1 + 2)])
def test_compose_named_mistakes(fn, code, kept, capsys):
    score = ex.check_compose_derivative(fn, points=3)
    assert score == pytest.approx(3 * kept / 8)   # the values are right, the derivatives of chains are not
    assert code in capsys.readouterr().out


def test_compose_reversed_and_swapped(capsys):
    assert "reverse order" in _fails_with(capsys, ex.check_compose_derivative, compose_reversed, points=3)
    assert "swapped" in _fails_with(capsys, ex.check_compose_derivative, compose_swapped, points=3)


@pytest.mark.parametrize("fn", [lambda s, xx: None, lambda s, xx: 1.0, lambda s, xx: (xx, None),
                                lambda s, xx: (xx * np.nan, xx * np.nan), lambda s, xx: 1 / 0,
                                lambda s, xx: (np.zeros((len(xx), 1)), np.zeros((len(xx), 1))),
                                lambda s, xx: tuple(a.astype(np.float32) for a in compose_good(s, xx))])
def test_compose_garbage(fn):
    _fails(ex.check_compose_derivative, fn, points=3)


@pytest.mark.parametrize("obj", [None, 3, "compose_derivative", lambda: None])
def test_compose_not_a_function(obj):
    msg = _fails(ex.check_compose_derivative, obj, points=3)
    assert "compose_derivative" in msg


# ============================================================================================ least squares


def lsq_good(X, w, yy):
    r = X @ w - yy
    return float(r @ r), 2.0 * X.T @ r


def lsq_no_transpose(X, w, yy):
    r = X @ w - yy
    return float(r @ r), 2.0 * X @ r


def lsq_no_two(X, w, yy):
    r = X @ w - yy
    return float(r @ r), X.T @ r


def lsq_sign(X, w, yy):
    r = yy - X @ w
    return float(r @ r), 2.0 * X.T @ r


def lsq_mean(X, w, yy):
    r = X @ w - yy
    return float(np.mean(r ** 2)), 2.0 * X.T @ r / len(yy)


def lsq_column(X, w, yy):
    r = (X @ w - yy)[:, None]
    return float(np.sum(r ** 2)), 2.0 * X.T @ r


def test_lsq_reference_full_marks():
    assert ex.check_lsq_grad(lsq_good, points=3) == 3.0
    assert ex.check_lsq_grad(lsq_good, seed=23, points=3, thorough=True) == 3.0


def test_lsq_named_mistakes(capsys):
    # weights: loss 1, gradient 2, one example and a square X 1, large targets 2, inputs left unchanged 2;
    # a gradient mistake shows in every kind of case, so only the loss (and the inputs) are credited
    assert "MISSING_TRANSPOSE" in _fails(ex.check_lsq_grad, lsq_no_transpose, points=3)
    assert ex.check_lsq_grad(lsq_no_two, points=3) == pytest.approx(3 * 3 / 8)
    assert "SQUARE_FACTOR_TWO" in capsys.readouterr().out
    assert ex.check_lsq_grad(lsq_sign, points=3) == pytest.approx(3 * 3 / 8)
    assert "MISSING_INNER_DERIVATIVE" in capsys.readouterr().out
    assert "MEAN" in _fails(ex.check_lsq_grad, lsq_mean, points=3)
    assert ex.check_lsq_grad(lsq_column, points=3) == pytest.approx(3 * 3 / 8)
    assert "column vector" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [lambda X, w, yy: None, lambda X, w, yy: (np.nan, np.full(X.shape[1], np.nan)),
                                lambda X, w, yy: ("L", "dw"), lambda X, w, yy: X["bad"], lambda X, w, yy: 7])
def test_lsq_garbage(fn):
    _fails(ex.check_lsq_grad, fn, points=3)


# ============================================================================================ analytic, not numeric


def compose_by_finite_differences(h):
    """A student who composes the stages and differentiates the composition numerically."""
    def compose_derivative(stages, xx):
        def F(u):
            for f, _ in stages:
                u = f(u)
            return np.asarray(u, dtype=np.float64)
        return F(xx), (F(xx + h) - F(xx - h)) / (2 * h)
    return compose_derivative


def compose_stagewise_finite_differences(h):
    """...or who multiplies centred differences of each stage at its own input (the chain rule, numerically)."""
    def compose_derivative(stages, xx):
        v = np.array(xx, dtype=np.float64)
        d = np.ones_like(v)
        for f, _ in stages:
            d = d * (f(v + h) - f(v - h)) / (2 * h)
            v = f(v)
        return v, d
    return compose_derivative


def compose_complex_step(stages, xx):
    """...or the complex-step trick, exact for analytic functions of complex numbers (the stages are real-only)."""
    u = np.asarray(xx, dtype=np.complex128) + 1e-20j
    for f, _ in stages:
        u = f(u)
    v = np.array(xx, dtype=np.float64)
    for f, _ in stages:
        v = f(v)
    return v, np.imag(u) / 1e-20


@pytest.mark.parametrize("make", [compose_by_finite_differences, compose_stagewise_finite_differences])
@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8, 1.0])
@pytest.mark.parametrize("thorough", [False, True])
def test_compose_by_finite_differences_loses_the_large_constant_share_at_every_step(make, h, thorough, capsys):
    text = _fails_with(capsys, ex.check_compose_derivative, make(h), points=3, seed=17 if thorough else 0,
                       thorough=thorough)
    assert "✗ derivative with a large constant part" in text, text
    if h in (1e-4, 1e-5, 1e-6):  # right everywhere else: exactly that share is lost, and the shortcut is named
        assert "[NUMERIC_NOT_ANALYTIC]" in text and "✓ derivative" in text and "✓ value" in text, text
        assert ex.check_compose_derivative(make(h), points=3, thorough=thorough) == pytest.approx(3 * 6 / 8)


def test_compose_by_the_complex_step_trick_is_named(capsys):
    text = _fails_with(capsys, ex.check_compose_derivative, compose_complex_step, points=3,
                       code="NUMERIC_NOT_ANALYTIC")
    assert "ComplexWarning" in text


def test_compose_that_modifies_x_loses_the_input_share(capsys):
    def compose_in_place(stages, xx):
        d = np.ones_like(xx)
        for f, df in stages:
            d = d * df(xx)
            xx[...] = f(xx)
        return xx.copy(), d
    assert ex.check_compose_derivative(compose_in_place, points=3) == pytest.approx(3 * 6 / 8)
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


def test_compose_visible_cases_show_every_kind_the_hidden_ones_try():
    kinds = {c[3] for c in ex._COMPOSE_VISIBLE}
    assert {c[3] for c in ex._COMPOSE_THOROUGH} <= kinds == {"chain", "edge", "large"}


def lsq_by_finite_differences(h):
    def lsq_loss_and_grad(X, w, yy):
        def L(ww):
            return float(np.sum((X @ ww - yy) ** 2))
        g = np.zeros_like(w)
        for i in range(len(w)):
            e = np.zeros_like(w)
            e[i] = h
            g[i] = (L(w + e) - L(w - e)) / (2 * h)
        return L(w), g
    return lsq_loss_and_grad


@pytest.mark.parametrize("h", [1e-2, 1e-4, 1e-5, 1e-6, 1e-8, 1.0, 1e3])
@pytest.mark.parametrize("thorough", [False, True])
def test_lsq_by_finite_differences_loses_the_large_targets_share_at_every_step(h, thorough, capsys):
    text = _fails_with(capsys, ex.check_lsq_grad, lsq_by_finite_differences(h), points=3, seed=23 if thorough else 0,
                       thorough=thorough, code="NUMERIC_NOT_ANALYTIC")
    assert "✗ large targets (analytic gradient)" in text and "all-zero features" in text
    assert "✓ gradient" in text and "✓ loss" in text  # a quadratic: its centred differences are right elsewhere
    assert ex.check_lsq_grad(lsq_by_finite_differences(h), points=3, thorough=thorough) == pytest.approx(3 * 6 / 8)


def lsq_by_complex_step(X, w, yy):
    """The complex-step trick per weight: exact to rounding (no cancellation), so the large targets cannot
    catch it; only its cost can (one loss evaluation per weight)."""
    def L(ww):
        return np.sum((X @ ww - yy) ** 2)
    g = np.zeros(len(w))
    for i in range(len(w)):
        e = np.zeros(len(w), dtype=complex)
        e[i] = 1e-20j
        g[i] = np.imag(L(w + e)) / 1e-20
    return float(L(w)), g


def lsq_by_example_loop(X, w, yy):
    """A right answer written as a loop over the examples: full marks, also on the cost case."""
    L, g = 0.0, np.zeros(len(w))
    for n in range(X.shape[0]):
        rn = float(X[n] @ w - yy[n])
        L += rn * rn
        g += 2.0 * rn * X[n]
    return L, g


def test_lsq_by_the_complex_step_trick_loses_the_large_share_on_the_cost_case(capsys):
    text = _fails_with(capsys, ex.check_lsq_grad, lsq_by_complex_step, points=3, code="NUMERIC_NOT_ANALYTIC")
    assert f"D={ex.LSQ_COST_SHAPE[1]}" in text and "✓ gradient" in text and "✓ loss" in text, text
    assert ex.check_lsq_grad(lsq_by_example_loop, points=3) == 3.0
    assert ex.check_lsq_grad(lsq_by_example_loop, points=3, seed=23, thorough=True) == 3.0


def test_lsq_that_modifies_its_inputs_loses_the_input_share(capsys):
    def lsq_in_place(X, w, yy):
        yy -= X @ w          # yy now holds -r
        return float(yy @ yy), -2.0 * X.T @ yy
    assert ex.check_lsq_grad(lsq_in_place, points=3) == pytest.approx(3 * 6 / 8)
    assert "[INPUT_MUTATED]" in capsys.readouterr().out


# ============================================================================================ symbolic


@pytest.mark.parametrize("ans", ["6(3x+2)", "18x + 12", "2*(3*x + 2)*3", 6 * (3 * x + 2), 18 * x + 12])
def test_affine_square_right(ans):
    assert ex.check_outer_inner(ans, problem="affine_square", points=1) == 1.0
    assert ex.check_outer_inner(ans, problem="affine_square", seed=5, points=1, thorough=True) == 1.0


@pytest.mark.parametrize("ans, code", [("2(3x+2)", "MISSING_INNER_DERIVATIVE"), ("2(3x+2) + 3", "CHAIN_RULE_ADDED"),
                                       ("6x", "CHAIN_WRONG_POINT")])
def test_affine_square_mistakes(ans, code):
    assert code in _fails(ex.check_outer_inner, ans, problem="affine_square", points=1)


def test_sin_cube():
    assert ex.check_outer_inner("6x sin(x^2)^2 cos(x^2)", problem="sin_cube", points=1) == 1.0
    assert "MISSING_INNER_DERIVATIVE" in _fails(ex.check_outer_inner, "3 sin(x^2)^2 cos(x^2)", problem="sin_cube")
    assert "CHAIN_WRONG_POINT" in _fails(ex.check_outer_inner, "6x sin(x)^2 cos(x)", problem="sin_cube")
    assert "CHAIN_RULE_ADDED" in _fails(ex.check_outer_inner, "3 sin(x^2)^2 + cos(x^2) + 2x", problem="sin_cube")
    assert "cos(x^2) was dropped" in _fails(ex.check_outer_inner, "6x sin(x^2)^2", problem="sin_cube")


@pytest.mark.parametrize("ans", [None, [1, 2], "import os", "x +* 2", "", "y", float("nan"), np.zeros(3), True,
                                 "__class__", sp.oo, object()])
def test_outer_inner_garbage(ans):
    _fails(ex.check_outer_inner, ans, problem="affine_square", points=1)


def test_outer_inner_unknown_problem():
    with pytest.raises(ValueError):
        ex.check_outer_inner("x", problem="nope")


TWO_PATH_RIGHT = {"dL/dx": "y cos(x y)(x + y) + sin(x y)", "dL/dy": "x cos(x y)(x + y) + sin(x y)"}


def test_two_path_right():
    assert ex.check_two_path_gradient(TWO_PATH_RIGHT, points=2) == 2.0
    sym = {"dL/dx": sp.diff(sp.sin(x * y) * (x + y), x), "dL/dy": sp.diff(sp.sin(x * y) * (x + y), y)}
    assert ex.check_two_path_gradient(sym, seed=8, points=2, thorough=True) == 2.0


def test_two_path_mistakes(capsys):
    both = {"dL/dx": "y cos(x y)(x + y) * sin(x y)", "dL/dy": "x cos(x y)(x + y)"}
    msg = _fails(ex.check_two_path_gradient, both, points=2)
    assert "PATHS_MULTIPLIED" in msg and "PATH_MISSING" in msg
    msg = _fails(ex.check_two_path_gradient, {"dL/dx": "sin(x y)", "dL/dy": "cos(x y)(x + y) + sin(x y)"})
    assert "path through u = x*y is missing" in msg and "MISSING_INNER_DERIVATIVE" in msg
    half = {"dL/dx": TWO_PATH_RIGHT["dL/dx"], "dL/dy": "0"}
    assert ex.check_two_path_gradient(half, points=2) == 1.0
    assert "dL/dy" in capsys.readouterr().out


@pytest.mark.parametrize("ans", [None, "cos(x y)", [1], {}, {"dL/dx": None, "dL/dy": None},
                                 {"dL/dx": "z", "dL/dy": "open('f')"}])
def test_two_path_garbage(ans):
    _fails(ex.check_two_path_gradient, ans, points=2)


# ============================================================================================ tables


def test_paths_table_right_and_partial(capsys):
    right = ex._paths_reference()
    assert ex.check_paths_table(right, points=2) == 2.0
    assert ex.check_paths_table({k: np.float64(v) for k, v in right.items()}, seed=4, points=2, thorough=True) == 2.0
    wrong = dict(right, **{"dL/dx": right["path_g_square"] * right["path_g_product"] * right["path_direct"]})
    assert ex.check_paths_table(wrong, points=2) == pytest.approx(round(2 * 5 / 6, 4))
    assert "PATHS_MULTIPLIED" in capsys.readouterr().out


@pytest.mark.parametrize("key, value, code", [
    ("dL/dx", 56.0, "PATH_MISSING"), ("dL/dx", 54.0, "direct path"), ("path_g_square", 16.0,
                                                                       "MISSING_INNER_DERIVATIVE"),
    ("path_g_square", 24.0, "SQUARE_FACTOR_TWO"), ("path_g_product", 2.0, "MISSING_INNER_DERIVATIVE"),
    ("L", 64.0, "x * g term is missing")])
def test_paths_table_named(key, value, code, capsys):
    ans = dict(ex._paths_reference(), **{key: value})
    ex.check_paths_table(ans, points=2)
    assert code in capsys.readouterr().out


@pytest.mark.parametrize("ans", [None, [1, 2], "table", {}, {k: None for k in ex.PATH_KEYS},
                                 {k: float("nan") for k in ex.PATH_KEYS}, {k: "1" for k in ex.PATH_KEYS}])
def test_paths_table_garbage(ans):
    _fails(ex.check_paths_table, ans, points=2)


def test_neuron_right_and_named(capsys):
    ref = ex._neuron_reference(**ex.NEURON_POINT)
    assert ex.check_neuron_chain(ref, points=2) == 2.0
    assert ex.check_neuron_chain(ref, seed=3, points=2, thorough=True) == 2.0
    a = ref["a"]
    sa = 1 / (1 + math.exp(-a))
    cases = [("da/dz", sa * (1 - sa), "SIGMOID_ON_OUTPUT"), ("dL/da", a - 1.0, "SQUARE_FACTOR_TWO"),
             ("dL/da", 2 * (1.0 - a), "SIGN_FLIP"), ("dz/dw", ex.NEURON_POINT["w"], "not the weight"),
             ("dL/dw", ref["dL/da"] * ref["da/dz"], "MISSING_INNER_DERIVATIVE"),
             ("dL/dw", ref["dL/da"] + ref["da/dz"] + ref["dz/dw"], "CHAIN_RULE_ADDED")]
    for key, value, code in cases:
        assert ex.check_neuron_chain(dict(ref, **{key: value}), points=2) == pytest.approx(round(2 * 5 / 6, 4))
        assert code in capsys.readouterr().out


@pytest.mark.parametrize("ans", [None, 0.5, {}, {k: None for k in ex.NEURON_KEYS},
                                 {k: np.array([1.0, 2.0]) for k in ex.NEURON_KEYS}])
def test_neuron_garbage(ans):
    _fails(ex.check_neuron_chain, ans, points=2)


def test_deep_chain():
    assert ex.check_deep_chain(0.25 ** 4, points=1) == 1.0
    assert ex.check_deep_chain(0.003906, seed=2, points=1, thorough=True) == 1.0
    assert ex.check_deep_chain(np.float64(0.00390625), points=1) == 1.0
    assert "CHAIN_RULE_ADDED" in _fails(ex.check_deep_chain, 1.0, points=1)
    assert "sigmoid(0) = 0.5" in _fails(ex.check_deep_chain, 0.0625, points=1)
    assert "one layer" in _fails(ex.check_deep_chain, 0.25, points=1)
    for garbage in (None, float("nan"), "0.0039", [0.0039], True, np.array([1.0, 2.0])):
        _fails(ex.check_deep_chain, garbage, points=1)


# ============================================================================================ question bank

RIGHT = {"chain_fanout_sum": "b", "chain_lsq_shape": "c", "chain_matrix_backward": "b"}


def test_questions_right_wrong_and_garbage():
    assert set(bank.QUESTIONS) == set(RIGHT)
    for qid, letter in RIGHT.items():
        assert qid in concepts.questions()
        assert concepts.check_choice(qid, letter, points=1) == 1.0
        assert concepts.check_choice(qid, f"({letter.upper()})", points=1) == 1.0
        for other in bank.QUESTIONS[qid].options:
            if other != letter:
                msg = _fails(concepts.check_choice, qid, other, points=1)
                assert "not the best answer" in msg and len(msg) > 60
        for garbage in (None, "z", 2, ["b"]):
            _fails(concepts.check_choice, qid, garbage, points=1)


# ============================================================================================ visuals


def test_plot_function_and_derivative():
    fig = plots.plot_function_and_derivative(lambda t: (3 * t + 2) ** 2, lambda t: 6 * (3 * t + 2), (-2.0, 1.0),
                                             points=(-1.5, 0.5), title="demo")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert any("21" in s for s in labels)            # slope at 0.5 is 6 * 3.5 = 21
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.plot_function_and_derivative(np.sin, np.cos, (1.0, 0.0))


def test_draw_paths():
    positions = {"x": (0.0, 0.0), "g": (1.5, 0.8), "s": (3.0, 1.2), "p": (3.0, -0.6), "L": (4.5, 0.3)}
    edges = [("x", "g", 3), ("g", "s", 16), ("g", "p", 2), ("x", "p", 8), ("s", "L", 1), ("p", "L", 1)]
    paths = [["x", "g", "s", "L"], ["x", "g", "p", "L"], ["x", "p", "L"]]
    fig = plots.draw_paths(positions, edges, paths=paths, values={"x": 2.0}, title="t")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "= 48" in texts and "= 6" in texts and "sum over the paths = 62" in texts
    plt.close(fig)
    fig = plots.draw_paths(positions, [(a, b, "k") for a, b, _ in edges], paths=paths)
    assert "sum over the paths" not in " ".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.draw_paths(positions, edges, paths=[["x", "L"]])
    with pytest.raises(ValueError):
        plots.draw_paths(positions, [("x", "q", 1)])
