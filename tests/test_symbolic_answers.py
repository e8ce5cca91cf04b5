"""Answers typed as formulas (reference_impl.symbolic_answers, re-exported by reference_impl.symbolic): every
elementary function name a student types, glued products of the exercise's symbols, safe parsing (no power
towers), and equality decided by random points first, SymPy's simplify only when the points decide nothing.

The planted cases are written as students write them (issue 12, "Answers" and "Speed")."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from graders import answers as ga
from reference_impl import symbolic as S

x, y = sp.symbols("x y", real=True)
XY = {"x": x, "y": y}


def _sig(u):
    return 1 / (1 + sp.exp(-u))


# ------------------------------------------------------------------------------------------------ function names

@pytest.mark.parametrize("text, expected", [
    ("sech(x)^2", sp.sech(x) ** 2), ("cosh(x)", sp.cosh(x)), ("sinh(x)", sp.sinh(x)), ("csch(x)", sp.csch(x)),
    ("coth(x)", sp.coth(x)), ("tanh(x)", sp.tanh(x)), ("sec(x)", sp.sec(x)), ("csc(x)", sp.csc(x)),
    ("cot(x)", sp.cot(x)), ("tan(x)", sp.tan(x)),
    ("asin(x)", sp.asin(x)), ("arcsin(x)", sp.asin(x)), ("acos(x)", sp.acos(x)), ("arccos(x)", sp.acos(x)),
    ("atan(x)", sp.atan(x)), ("arctan(x)", sp.atan(x)), ("asinh(x)", sp.asinh(x)), ("arcsinh(x)", sp.asinh(x)),
    ("acosh(x)", sp.acosh(x)), ("arccosh(x)", sp.acosh(x)), ("atanh(x)", sp.atanh(x)), ("arctanh(x)", sp.atanh(x)),
    ("acoth(x)", sp.acoth(x)), ("asech(x)", sp.asech(x)), ("acsch(x)", sp.acsch(x)),
    ("ln(x)", sp.log(x)), ("log(x)", sp.log(x)), ("log(x, 2)", sp.log(x, 2)), ("log2(x)", sp.log(x, 2)),
    ("log10(x)", sp.log(x, 10)), ("exp(x)", sp.exp(x)), ("sqrt(x)", sp.sqrt(x)), ("abs(x)", sp.Abs(x)),
    ("Abs(x)", sp.Abs(x)), ("sigmoid(x)", _sig(x)), ("softplus(x)", sp.log(1 + sp.exp(x))),
    ("relu(x)", sp.Max(x, 0)), ("max(x, 0)", sp.Max(x, 0)), ("Max(x, 0)", sp.Max(x, 0)),
    ("e^x", sp.exp(x)), ("e**x", sp.exp(x)), ("E^(2x)", sp.exp(2 * x)), ("pi x", sp.pi * x),
    ("x^2 y", x ** 2 * y), ("x**2 y", x ** 2 * y), ("2 x^3", 2 * x ** 3), ("2*x**3", 2 * x ** 3),
])
def test_every_elementary_function_name_a_student_types_is_read(text, expected):
    assert S.parse_answer(text, XY) == expected


@pytest.mark.parametrize("answer", ["sech(x)^2", "1/cosh(x)^2", "1 - tanh(x)^2", "4/(e^x + e^(-x))^2",
                                    "sech(x)**2", "1/cosh(x)**2"])
def test_derivative_of_tanh_written_with_sech_or_cosh_gets_full_marks(answer):
    assert ga.check_expression(answer, sp.diff(sp.tanh(x), x), XY, exercise="d tanh", points=1) == 1.0


def test_inverse_and_log_forms_get_full_marks():
    assert ga.check_expression("1/(1 + x^2)", sp.diff(sp.atan(x), x), XY, exercise="d atan", points=1) == 1.0
    assert ga.check_expression("arctan(x) + x/(1+x^2)", sp.diff(x * sp.atan(x), x), XY, exercise="d", points=1) == 1.0
    assert ga.check_expression("ln(x) + 1", sp.diff(x * sp.log(x), x), XY, exercise="d", points=1,
                               positive=True) == 1.0
    assert ga.check_expression("sigmoid(x)", sp.diff(sp.log(1 + sp.exp(x)), x), XY, exercise="d softplus",
                               points=1) == 1.0


def test_a_symbol_named_like_a_function_or_constant_stays_the_symbol():
    e, gamma = sp.symbols("e gamma", real=True)
    table = {"e": e, "gamma": gamma, "x": x}
    assert S.parse_answer("gamma e x", table) == gamma * e * x
    assert S.parse_answer("exp(x)", table) == sp.exp(x)


# ------------------------------------------------------------------------------------------------ glued products

@pytest.mark.parametrize("text, expected", [
    ("y cos(xy)(x+y)", y * sp.cos(x * y) * (x + y)),
    ("2xy", 2 * x * y),
    ("xy(x+y)", x * y * (x + y)),
    ("xcos(y)", x * sp.cos(y)),
    ("yx^2", y * x ** 2),
    ("1/xy", 1 / (x * y)),
    ("2^xy", 2 ** (x * y)),
    ("exp(-xy)", sp.exp(-x * y)),
])
def test_glued_symbols_read_as_their_product(text, expected):
    assert S.parse_answer(text, XY) == expected


def test_the_two_path_answer_with_glued_symbols_gets_full_marks():
    f = sp.sin(x * y) * (x + y)
    score = ga.check_expressions({"d/dx": "y cos(xy)(x+y) + sin(xy)", "d/dy": "x cos(xy)(x+y) + sin(xy)"},
                                 {"d/dx": sp.diff(f, x), "d/dy": sp.diff(f, y)}, XY, exercise="two paths", points=2)
    assert score == 2.0


def test_a_multi_letter_symbol_is_not_split():
    W1, W2, h = sp.symbols("W1 W2 h", real=True)
    table = {"W1": W1, "W2": W2, "h": h}
    assert S.parse_answer("W1 W2 h", table) == W1 * W2 * h
    assert S.parse_answer("W1W2h", table) == W1 * W2 * h


def test_an_unknown_name_gets_the_list_of_valid_names():
    with pytest.raises(ValueError) as info:
        S.parse_answer("z x", XY)
    text = str(info.value)
    assert "'z'" in text and "x, y" in text and "sech" in text and "pi" in text


def test_an_unknown_function_gets_the_list_of_valid_names():
    with pytest.raises(ValueError) as info:
        S.parse_answer(sp.Function("foo")(x), XY)
    assert "foo" in str(info.value) and "sech" in str(info.value)


def test_a_glued_name_with_two_readings_is_explained():
    a, b, c, bc = sp.symbols("a b c bc", real=True)
    with pytest.raises(ValueError, match="could be read as"):
        S.parse_answer("abc", {"a": a, "b": b, "c": c, "bc": bc})


def test_a_function_without_parentheses_is_explained():
    for text in ("sin x", "sin^2(x)", "tanh x"):
        with pytest.raises(ValueError, match="parentheses"):
            S.parse_answer(text, XY)


def test_check_expression_shows_the_explanation():
    with pytest.raises(AssertionError) as info:
        ga.check_expression("2 z x", 2 * x, XY, exercise="e")
    assert "could not read" in str(info.value) and "x, y" in str(info.value)


# ------------------------------------------------------------------------------------------------ power towers

TOWERS = ["9**9**9**9", "9^9^9", "x^(9^9^9)", "2**2**2**2**2**2", "(10^10)^(10^10)",
          "sp.Mul(x, sp.Pow(9, sp.Pow(9, sp.Pow(9, 9, evaluate=False), evaluate=False), evaluate=False), "
          "evaluate=False)"]
_TOWER_SCRIPT = """
import sympy as sp
from reference_impl import symbolic as S
x = sp.Symbol("x", real=True)
for text in {towers!r}:
    answer = eval(text, {{"sp": sp, "x": x}}) if text.startswith("sp.") else text
    try:
        S.parse_answer(answer, {{"x": x}})
        print("ACCEPTED", text, flush=True)
    except ValueError as exc:
        print("REFUSED", text, exc, flush=True)
"""


def test_exponent_towers_are_refused_before_sympy_evaluates_them():
    # in a child process with a timeout: before the guard, SymPy computes 9**(9**(9**9)) and never returns
    # (holding the GIL, so a thread-based timeout in this process would not fire either)
    try:
        run = subprocess.run([sys.executable, "-c", _TOWER_SCRIPT.format(towers=TOWERS)], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ))
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"parsing an exponent tower did not return within 60 s; got so far: {exc.stdout}")
    lines = run.stdout.splitlines()
    assert len(lines) == len(TOWERS), run.stdout + run.stderr
    for line, tower in zip(lines, TOWERS):
        assert line.startswith("REFUSED") and "too large" in line, (tower, line)


def test_ordinary_powers_are_fine():
    assert S.parse_answer("2^-8", XY) == sp.Rational(1, 256)
    assert S.parse_answer("x^12 (1/2)^10", XY) == x ** 12 / 1024
    assert S.parse_answer("2**1000", XY) == sp.Integer(2) ** 1000


# ------------------------------------------------------------------------------------------------ speed: numbers first

@pytest.fixture
def sympy_calls(monkeypatch):
    """Records every call of the time-capped simplify (a forked process each) and of SymPy's simplify in this
    process. (Forks are not counted directly: with -p tests.remote_plugin the student's side forks too.)"""
    calls = []
    real_simplify = sp.simplify

    def simplify(*args, **kwargs):
        calls.append("simplify")
        return real_simplify(*args, **kwargs)

    monkeypatch.setattr(sp, "simplify", simplify)
    for module_name in ("reference_impl.symbolic", "reference_impl.symbolic_answers"):
        module = importlib.import_module(module_name) if importlib.util.find_spec(module_name) else None
        capped = None if module is None else vars(module).get("_simplify_is_zero")
        if capped is not None:
            def counted(diff, time_limit, _capped=capped):
                calls.append("capped simplify")
                return _capped(diff, time_limit)
            monkeypatch.setattr(module, "_simplify_is_zero", counted)
    return calls


CHAIN = sp.diff((3 * x + 2) ** 2, x)
CHAIN_MISTAKES = {"MISSING_INNER_DERIVATIVE": 2 * (3 * x + 2), "SIGN_FLIP": -CHAIN, "dropped the 2": 3 * (3 * x + 2)}


def test_a_wrong_answer_is_decided_by_numbers_without_calling_sympy(sympy_calls):
    with pytest.raises(AssertionError, match="not equal"):
        ga.check_expression("18x + 13", CHAIN, XY, exercise="chain", mistakes=CHAIN_MISTAKES)
    with pytest.raises(AssertionError, match="MISSING_INNER_DERIVATIVE"):
        ga.check_expression("2(3x+2)", CHAIN, XY, exercise="chain", mistakes=CHAIN_MISTAKES)
    assert sympy_calls == []


def test_a_right_answer_is_decided_by_numbers_without_calling_sympy(sympy_calls):
    assert ga.check_expression("6(3x+2)", CHAIN, XY, exercise="chain", mistakes=CHAIN_MISTAKES, points=1) == 1.0
    assert S.are_equivalent("sech(x)^2", "1 - tanh(x)^2", XY)
    assert sympy_calls == []


def test_points_that_decide_nothing_still_ask_simplify(sympy_calls):
    # sqrt of a negative number: no valid point, so only simplify can tell (it proves this one)
    assert S.are_equivalent("sqrt(-1 - x^2) (1 + x)", "sqrt(-1 - x^2) + x sqrt(-1 - x^2)", XY)
    assert sympy_calls
    assert not S.are_equivalent("sqrt(-1 - x^2)", "2 sqrt(-1 - x^2)", XY)


def test_a_float64_rounding_difference_is_not_taken_for_a_wrong_answer():
    # at x near 2 the float64 value of the left side is off by ~1e18 (cancellation of 5e34-sized terms); the
    # 40-digit check does not confirm the difference, and simplify proves the two equal
    assert S.are_equivalent("(exp(20x)+1)^2 - exp(40x) - 2exp(20x)", "1", XY)


def test_a_difference_at_points_the_assumptions_allow_decides_without_sympy(sympy_calls):
    d = sp.Symbol("d", positive=True, integer=True)
    assert not S.are_equivalent("d^2", "d", {"d": d}, domain=(1.0, 64.0))
    p = sp.Symbol("p", positive=True)
    assert not S.are_equivalent("2p", "p", {"p": p})  # sampled at negative p too: moved to |p| to confirm
    assert sympy_calls == []


def test_a_difference_only_where_the_assumptions_forbid_is_left_to_simplify():
    p = sp.Symbol("p", positive=True)
    # equal for p > 0 (the symbol's assumption), different for p < -1 which the default domain samples
    assert S.are_equivalent("sqrt(p^2) + log(p^2)", "p + 2 log(p)", {"p": p})


def test_compiled_expressions_are_reused(monkeypatch):
    builds = []
    real = sp.lambdify
    monkeypatch.setattr(sp, "lambdify", lambda *a, **k: builds.append(1) or real(*a, **k))
    expected = sp.diff(sp.tanh(3 * x * y) * sp.exp(-y), x)
    for _ in range(3):
        with pytest.raises(AssertionError):
            ga.check_expression("3 sech(3xy)^2", expected, XY, exercise="e", mistakes={"dropped exp": 3 * y})
    first = len(builds)
    for _ in range(3):
        with pytest.raises(AssertionError):
            ga.check_expression("3 sech(3xy)^2", expected, XY, exercise="e", mistakes={"dropped exp": 3 * y})
    assert len(builds) == first


def test_a_plain_wrong_answer_is_confirmed_without_40_digit_arithmetic(monkeypatch):
    # float64 against 80-bit long double with the code already compiled settles it; mpmath stays for the
    # cases where float64 is unstable (test_a_float64_rounding_difference_is_not_taken_for_a_wrong_answer)
    if np.finfo(np.longdouble).nmant < 63:
        pytest.skip("long double is not wider than float64 on this platform")
    modules = []
    real = sp.lambdify
    monkeypatch.setattr(sp, "lambdify", lambda *a, **k: modules.append(k.get("modules")) or real(*a, **k))
    expected = sp.diff(sp.tanh(5 * x * y) * sp.exp(-y) * sp.sin(x), x)
    with pytest.raises(AssertionError, match="not equal"):
        ga.check_expression("5 y sech(5xy)^2 exp(-y) sin(x)", expected, XY, exercise="e",
                            mistakes={"dropped the product rule": 5 * y * sp.sech(5 * x * y) ** 2})
    assert modules and "mpmath" not in modules
