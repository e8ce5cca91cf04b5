"""Derivation problems: the expected derivative agrees with finite differences, any equal form of the right
answer is accepted (SymPy), the classic wrong derivatives are named, matrix answers are checked for their
shape first (a transpose is named) and then entry by entry, and the expression evaluator only accepts the
notation it documents."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from graders.drill import derivations as D
from graders.drill import problems as P

SEEDS = range(15)


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("seed", SEEDS)
def test_chain_expected_derivative_matches_finite_differences(seed):
    p = P.generate("derive_chain", np.random.default_rng(seed))
    syms = list(p.data["symbols"].values())
    wrt = p.data["symbols"][p.data["wrt"]]
    f = sp.lambdify(syms, p.data["function"], "math")
    df = sp.lambdify(syms, p.expected, "math")
    rng = np.random.default_rng(seed)
    for _ in range(5):
        point = {s: float(rng.uniform(-1.5, 1.5)) for s in syms}
        if "y" in p.data["symbols"]:
            point[p.data["symbols"]["y"]] = float(rng.choice([-1.0, 1.0]))
        k = syms.index(wrt)
        args = [point[s] for s in syms]

        def g(t):
            a = list(args)
            a[k] = t
            return f(*a)
        assert df(*args) == pytest.approx(_fd(g, args[k]), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("seed", range(12))
def test_chain_accepts_equal_forms_and_names_mistakes(seed):
    p = P.generate("derive_chain", np.random.default_rng(seed))
    for form in (p.expected, sp.expand(p.expected), sp.factor(p.expected)):
        text = str(form).replace("E", "exp(1)")  # Euler's number is written exp(1)
        assert P.check_answer(p, text).correct, form
    assert P.check_answer(p, str(p.expected).replace("**", "^")).correct
    wrong = P.check_answer(p, str(2 * p.expected + sp.Rational(3, 7)))
    assert not wrong.correct and wrong.counts and wrong.diagnosis is None
    syms = p.data["symbols"]
    from reference_impl import symbolic as ref_sym
    for code, m in p.mistakes.items():
        if ref_sym.are_equivalent(m, p.expected, syms, time_limit=0):
            continue
        fb = P.check_answer(p, str(m))
        assert not fb.correct and fb.diagnosis in p.mistakes and f"[{fb.diagnosis}]" in fb.message


def test_chain_names_the_dropped_inner_derivative():
    for seed in range(40):
        p = P.generate("derive_chain", np.random.default_rng(seed))
        if p.data["wrt"] == "x" and "MISSING_INNER_DERIVATIVE" in p.mistakes:
            fb = P.check_answer(p, str(p.mistakes["MISSING_INNER_DERIVATIVE"]))
            if fb.diagnosis == "MISSING_INNER_DERIVATIVE":
                return
    raise AssertionError("no composition whose dropped inner derivative was named")


@pytest.mark.parametrize("text", ["", None, "1/0", "x.__class__", "import os", "y + x", "[x, 1]"])
def test_chain_unreadable_answers_are_format_problems(text):
    p = next(q for q in (P.generate("derive_chain", np.random.default_rng(s)) for s in range(50))
             if q.data["wrt"] == "x")  # a composition in x only
    fb = P.check_answer(p, text)
    assert fb.diagnosis == "FORMAT" and not fb.counts


def _numeric_gradient(p, rng):
    """dL/d(wrt) by centred differences of L computed with plain NumPy, and the arrays used."""
    d = p.data
    t = D._TEMPLATES[d["template"]]
    n = dict(d["sizes"])
    arrays = {name: rng.uniform(-1, 1, tuple(1 if c == "1" else n[c] for c in dims))
              for name, dims in t["shapes"].items()}
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    forward = {"linear": lambda a: a["X"] @ a["W"] + a["b"], "tanh": lambda a: np.tanh(a["X"] @ a["W"] + a["b"]),
               "sigmoid": lambda a: sig(a["X"] @ a["W"]), "two_linear": lambda a: a["X"] @ a["W1"] @ a["W2"]}

    def loss(a):
        if d["template"] == "least_squares":
            return np.sum((a["X"] @ a["w"] - a["y"]) ** 2) / (2 * n["N"])
        return np.sum(a["G"] * forward[d["template"]](a))
    v = arrays[d["wrt"]]
    grad = np.zeros_like(v)
    for idx in np.ndindex(*v.shape):
        plus, minus = dict(arrays), dict(arrays)
        plus[d["wrt"]] = v.copy()
        plus[d["wrt"]][idx] += 1e-6
        minus[d["wrt"]] = v.copy()
        minus[d["wrt"]][idx] -= 1e-6
        grad[idx] = (loss(plus) - loss(minus)) / 2e-6
    if "loss" not in t:
        arrays["Y"] = forward[d["template"]](arrays)
    return grad, arrays, n


@pytest.mark.parametrize("seed", SEEDS)
def test_matrix_solution_matches_finite_differences_and_is_accepted(seed):
    p = P.generate("derive_matrix", np.random.default_rng(seed))
    grad, arrays, n = _numeric_gradient(p, np.random.default_rng(100 + seed))
    env = dict(arrays) | {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "N": n["N"]}
    solution = eval(p.data["solution"], {"__builtins__": {}}, env)  # the documented solution, in plain NumPy
    np.testing.assert_allclose(solution, grad, rtol=1e-5, atol=1e-8)
    assert tuple(p.data["shape"]) == grad.shape
    assert P.check_answer(p, f"{grad.shape}: {p.data['solution']}").correct
    assert P.check_answer(p, f"{grad.shape}: np.{p.data['solution']}" if p.data["solution"][0].isalpha() and
                          p.data["solution"].startswith(("tanh", "sigmoid")) else
                          f"{grad.shape}: ({p.data['solution']})").correct


@pytest.mark.parametrize("seed", SEEDS)
def test_matrix_mistakes_are_named(seed):
    p = P.generate("derive_matrix", np.random.default_rng(seed))
    shape = tuple(p.data["shape"])
    for code, variants in p.mistakes.items():
        for wrong in variants if isinstance(variants, list) else [variants]:
            fb = P.check_answer(p, f"{shape}: {wrong}")
            assert not fb.correct and fb.diagnosis == code, (wrong, fb)
    wrong = P.check_answer(p, f"{shape}: 2 * ({p.data['solution']})")
    assert not wrong.correct and wrong.counts


def test_a_transposed_gradient_is_named_by_its_shape():
    for seed in range(60):
        p = P.generate("derive_matrix", np.random.default_rng(seed))
        if p.data["template"] == "linear" and p.data["wrt"] == "W":
            D_, M = p.data["shape"]
            fb = P.check_answer(p, f"({M}, {D_}): G.T @ X")
            assert fb.diagnosis == "MISSING_TRANSPOSE" and "must have the shape of W" in fb.message
            fb = P.check_answer(p, f"({D_}, {M}): G @ X")
            assert fb.counts and not fb.correct and "does not fit the shapes" in fb.message
            fb = P.check_answer(p, f"({M}, {D_}): X.T @ G")
            assert "You state the shape" in fb.message
            return
    raise AssertionError("no linear/W problem drawn")


def test_a_bias_gradient_summed_over_the_wrong_axis_is_named():
    for seed in range(80):
        p = P.generate("derive_matrix", np.random.default_rng(seed))
        if p.data["template"] == "linear" and p.data["wrt"] == "b":
            N = dict(p.data["sizes"])["N"]
            assert P.check_answer(p, f"({N},): G.sum(axis=1)").diagnosis == "BIAS_SUM_AXIS"
            M = p.data["shape"][0]
            assert P.check_answer(p, f"(1, {M}): G.sum(axis=0, keepdims=True)").diagnosis == "BIAS_KEEPDIMS"
            return
    raise AssertionError("no linear/b problem drawn")


@pytest.mark.parametrize("text", ["X.T @ G", "(2, 3): X.__class__", "(2, 3): __import__('os')", "(2, 3): open('f')",
                                  "(2, 3): X[0]", "(2, 3): lambda: 1", "(2, 3): ", "(2, 3): Q @ X"])
def test_matrix_evaluator_accepts_only_its_notation(text):
    p = P.generate("derive_matrix", np.random.default_rng(0))
    fb = P.check_answer(p, text)
    assert fb.diagnosis == "FORMAT" and not fb.counts


@pytest.mark.parametrize("template,wrt", [(t, w) for t, spec in D._TEMPLATES.items() for w in spec["wrt"]])
def test_complex_step_values_agree_with_the_sympy_derivative(template, wrt):
    """The fast numeric side of the comparison and the SymPy side compute the same gradient."""
    import itertools

    for dims in itertools.islice(itertools.permutations([2, 3, 4, 5] if template == "two_linear" else [2, 3, 4]), 2):
        sizes = tuple(zip("NDMH", list(dims) + [0]))
        _, expected, symbols = D._context(template, sizes, wrt)
        syms = sorted(symbols.values(), key=lambda s: s.name)
        f = sp.lambdify(syms, list(expected.ravel()), "numpy")
        for values, want in D._numeric_points(template, sizes, wrt, 7):
            args = [values[s.name.split("_")[0]][tuple(int(i) for i in s.name.split("_")[1:])] for s in syms]
            np.testing.assert_allclose(np.array(f(*args), dtype=float).reshape(want.shape), want, rtol=1e-12,
                                       atol=1e-14)


def test_derivations_vary():
    for fam in ("derive_chain", "derive_matrix"):
        assert len({P.generate(fam, np.random.default_rng(s)).prompt for s in range(30)}) >= 15
