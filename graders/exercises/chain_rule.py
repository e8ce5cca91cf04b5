"""Checks specific to notebook 01 (the chain rule).

The generic SymPy-answer, trace-table and multiple-choice checks live in graders/answers.py and
graders/concepts.py; this module holds what only this notebook asks:

- :func:`check_compose_derivative`: a function returning the value and the derivative of a chain of elementwise
  stages f_k(...f_1(x)), checked against the product of the local derivatives (and named when it adds them,
  drops the inner derivatives or evaluates a local derivative at the wrong point);
- :func:`check_lsq_grad`: L = sum((X @ w - y)**2) and its gradient 2 X^T (X w - y) with exact shapes;
- :func:`check_outer_inner` / :func:`check_two_path_gradient`: derivatives written as SymPy expressions or
  strings (scalar compositions; a function of two variables that reaches the output along two paths);
- :func:`check_neuron_chain`: the forward values and local derivatives of one sigmoid neuron with a squared
  error at a point, and their product (a table of numbers);
- :func:`check_paths_table`: the sum-over-paths table of L = g**2 + x*g with g = 3x + 2 (three paths);
- :func:`check_deep_chain`: one number, the derivative through four stacked sigmoids at pre-activation 0.

The interview questions (multiple choice) are in graders/question_bank/chain_rule.py and are checked by
``graders.concepts.check_choice``.

Expected values are computed here (by the chain rule in NumPy, with SymPy, or
by hand-written path products), so that no answer appears in the notebook. Every check follows
graders/core.py: a pure function of its arguments and seed that returns ``points`` when everything passed,
partial credit when some sub-checks passed, and raises an AssertionError naming what to fix otherwise.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

import sympy as sp

from graders import answers, concepts, diagnoses
from graders.core import (Report, StudentCodeError, StudentTimeout, array_problem, brief,
                          call_student, close, describe, diagnose, own_numeric_vjp, real_number, require_callable)
from graders.public.chain_rule import NEURON_POINT, PATHS_X
from graders.remote import catalogue
from graders.remote.catalogue import numeric as catalogue_numeric

__all__ = ["check_compose_derivative", "check_lsq_grad", "check_outer_inner", "check_two_path_gradient",
           "check_paths_table", "check_neuron_chain", "check_deep_chain", "PATHS_X", "NEURON_POINT", "PATH_KEYS",
           "NEURON_KEYS"]


# ============================================================================================ compositions


# name -> (f, df): elementwise float64 stages and their derivatives (graders.remote.catalogue.numeric: the
# learner's compose_derivative receives them as the catalogue item ``stages``, built where its code runs)
_STAGES: dict[str, tuple[Callable, Callable]] = dict(catalogue_numeric.STAGES)

# sub-checks of check_compose_derivative: (name, weight)
_CHAIN_VALUE, _CHAIN_DERIV = "value", "derivative"
_EDGE = "one stage and no stage"
_LARGE = "derivative with a large constant part (analytic, not numeric)"

# (description, stage names innermost first, n, kind): kind "chain" (value and derivative sub-checks), "edge" or
# "large" (one sub-check each). Every kind is in the visible cases; the hidden ones add more of each.
_COMPOSE_VISIBLE = [
    ("(3x + 2)^2", ["3u+2", "u^2"], 5, "chain"),
    ("exp(sin(x^2))", ["u^2", "sin", "exp"], 6, "chain"),
    ("tanh(x), one stage, n = 1", ["tanh"], 1, "edge"),
    ("no stage at all (the identity)", [], 3, "edge"),
    ("sin(3x + 2) + 1e12", ["3u+2", "sin", "u+1e12"], 5, "large"),
]
_COMPOSE_THOROUGH = [
    ("3 cos(tanh(0.5x - 1)^3) + 2, five stages", ["0.5u-1", "tanh", "u^3", "cos", "3u+2"], 8, "chain"),
    ("softplus(sin(3x + 2)), n = 40", ["3u+2", "sin", "softplus"], 40, "chain"),
    ("x^3, one stage", ["u^3"], 4, "edge"),
    ("tanh(x^2)^3 + 1e12", ["u^2", "tanh", "u^3", "u+1e12"], 7, "large"),
]


def _compose_reference(stages: Sequence[tuple[Callable, Callable]], x: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                              list, list]:
    """(value, derivative, inputs, locals) of f_k(...f_1(x)): inputs[k] is stage k's input, locals[k] its
    local derivative df_k(inputs[k]); the derivative is the product of the locals."""
    v = np.array(x, dtype=np.float64)
    d = np.ones_like(v)
    inputs, locals_ = [], []
    for f, df in stages:
        inputs.append(v)
        loc = np.asarray(df(v), dtype=np.float64) * np.ones_like(v)
        locals_.append(loc)
        d = d * loc
        v = np.asarray(f(v), dtype=np.float64)
    return v, d, inputs, locals_


def _compose_mistakes(stages, x, value, inputs, locals_) -> dict[str, list[np.ndarray]]:
    if len(stages) < 2:
        return {}
    ones = np.ones_like(value)
    at_x = np.prod([np.asarray(df(x), dtype=np.float64) * ones for _, df in stages], axis=0)
    outputs = inputs[1:] + [value]
    at_out = np.prod([np.asarray(df(o), dtype=np.float64) * ones for (_, df), o in zip(stages, outputs)], axis=0)
    return {
        "CHAIN_RULE_ADDED": [np.sum(locals_, axis=0), 1.0 + np.sum(locals_, axis=0)],
        "MISSING_INNER_DERIVATIVE": [locals_[-1]],
        "CHAIN_WRONG_POINT": [at_x, at_out],
    }


def check_compose_derivative(compose_derivative, *, seed: int = 0, points: float | None = None,
                             thorough: bool = False):
    """Grade ``compose_derivative(stages, x) -> (value, derivative)``.

    Contract: ``stages`` is a list of ``(f, df)`` pairs of elementwise NumPy functions of real float64 arrays,
    ``stages[0]`` applied first (the innermost); ``x`` is a float64 array of shape (n,), left unchanged. Returns
    two float64 arrays of shape (n,): ``value`` = f_k(...f_2(f_1(x))) and ``derivative`` = d value / d x, the
    product of the local derivatives df_j evaluated at each stage's own input. An empty list is the identity
    (value x, derivative 1).

    Sub-checks: "value" (weight 1) and "derivative" (2) on chains of 2 to 5 stages; "one stage and no stage" (1);
    "derivative with a large constant part" (2): a last stage adds 1e12, whose derivative is 1 but whose values
    hold only ~1e-4 of absolute precision, so a derivative by finite differences of the composition (or of the
    stages) misses at every step size while the product of the df_j is exact (NUMERIC_NOT_ANALYTIC); and the
    course-wide "inputs left unchanged". Visible cases: one of every kind; ``thorough`` adds five stages, n = 40,
    another single stage and another large constant. Named mistakes: CHAIN_RULE_ADDED, MISSING_INNER_DERIVATIVE,
    CHAIN_WRONG_POINT (and the generic sign flip / zeros), NUMERIC_NOT_ANALYTIC.
    """
    require_callable(compose_derivative, "compose_derivative", 2)
    label = f"{getattr(compose_derivative, '__name__', 'compose_derivative')}(stages, x)"
    rep = Report("derivative of a composition", points, seed)
    weights = {_CHAIN_VALUE: 1.0, _CHAIN_DERIV: 2.0, _EDGE: 1.0, _LARGE: 2.0}
    for name, w in weights.items():
        rep.declare(name, w)
    rep.watch_inputs()
    rng = np.random.default_rng(seed)
    cases = _COMPOSE_VISIBLE + (_COMPOSE_THOROUGH if thorough else [])
    ordinary_ok = True
    examined: set[str] = set()
    for text, names, n, kind in sorted(cases, key=lambda c: c[3] == "large"):
        stages = [_STAGES[k] for k in names]
        x = rng.uniform(-1.2, 1.2, size=n)
        value, deriv, inputs, locals_ = _compose_reference(stages, x)
        where = f"{text} at x = {_preview(x)}"
        v_sub, d_sub = (_CHAIN_VALUE, _CHAIN_DERIV) if kind == "chain" else ((_EDGE,) * 2 if kind == "edge"
                                                                            else (_LARGE,) * 2)
        examined.update((v_sub, d_sub))
        try:
            result = call_student(compose_derivative, catalogue.item("stages", names=list(names)), x, label=label,
                                  notes=rep.notes, report=rep, watch=(1,))
        except StudentCodeError as exc:
            rep.fail(v_sub, f"{where}: {exc}", weights[v_sub])
            rep.fail(d_sub, f"{where}: not checked (the function raised)." if d_sub != v_sub else f"{where}: {exc}",
                     weights[d_sub])
            ordinary_ok = ordinary_ok and kind == "large"
            if isinstance(exc, StudentTimeout):
                rep.timed_out(examined)
                break
            continue
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            what = "None (missing `return`?)" if result is None else brief(result)
            msg = f"{where}: expected a tuple (value, derivative), got {what}."
            rep.fail(v_sub, msg, weights[v_sub])
            rep.fail(d_sub, msg, weights[d_sub])
            ordinary_ok = ordinary_ok and kind == "large"
            continue
        got_v, got_d = result
        if array_problem(got_v, value) and not array_problem(got_d, value) and not array_problem(got_v, deriv):
            msg = f"{where}: the two outputs are swapped; return (value, derivative) in that order."
            rep.fail(v_sub, msg, weights[v_sub])
            rep.fail(d_sub, msg, weights[d_sub])
            ordinary_ok = ordinary_ok and kind == "large"
            continue
        problem = array_problem(got_v, value)
        if problem:
            hint = ""
            if len(stages) >= 2:
                rev, _, _, _ = _compose_reference(stages[::-1], x)
                if close(got_v, rev, 1e-9):
                    hint = ("\n      Likely mistake: the stages were applied in reverse order; stages[0] is the "
                            "innermost function and is applied to x first.")
            rep.fail(v_sub, f"{where}: value {problem}{hint}", weights[v_sub])
        d_problem = array_problem(got_d, deriv)
        if d_problem:
            diag = diagnose(got_d, deriv, _compose_mistakes(stages, x, value, inputs, locals_), generic=False)
            if (diag is None and kind == "large" and ordinary_ok and not problem
                    and d_problem.startswith("values differ")):
                diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")
            if diag is None and any("ComplexWarning" in n for n in rep.notes):  # the complex-step trick
                diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")
            diag = diag or diagnose(got_d, deriv)
            rep.fail(d_sub, f"{where}: derivative {d_problem}{describe(diag)}", weights[d_sub])
        ordinary_ok = ordinary_ok and (kind == "large" or not (problem or d_problem))
    return rep.finish()


def _preview(x: np.ndarray, n: int = 3) -> str:
    flat = np.asarray(x, dtype=np.float64).ravel()
    return "[" + ", ".join(f"{v:.3g}" for v in flat[:n]) + (", ...]" if flat.size > n else "]")


# ============================================================================================ matrix form


def _lsq_reference(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """L = sum((X w - y)**2) and dL/dw = 2 X^T (X w - y) (shape (D,))."""
    r = X @ w - y
    return float(r @ r), 2.0 * (X.T @ r)


_LSQ_SHAPES = "one example and a square X"
_LSQ_LARGE = "large targets (analytic gradient)"
_LSQ_WEIGHTS = {"loss": 1.0, "gradient": 2.0, _LSQ_SHAPES: 1.0, _LSQ_LARGE: 2.0}
LSQ_COST_SHAPE = (40, 25_000)   # the cost case: one gradient pass is ~1 ms, one pass per weight needs ~a minute
LSQ_BACKSTOP = 2.0              # seconds allowed on the cost case


def _lsq_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, str]]:
    """(where, X, w, y, kind): kind "ordinary" (graded into "loss" and "gradient"), "shapes" (N = 1 and N = D,
    where a missing transpose still runs) or "large": targets around 1000, and an example whose features are
    all 0 with a target of 1e12. That example adds 1e24 to L and nothing to dw, so L holds no digit of the
    other examples' contributions at the 1e-5 scale: finite differences of L miss dw at every step size, while
    2 X^T (X w - y) is exact. Last, a "cost" case (graded into the large kind) with D = 25,000 weights: one
    gradient pass takes about a millisecond, while any per-coordinate method (centred, forward or complex-step
    differences, which the large targets cannot catch: the complex step has no cancellation) needs D loss
    evaluations, about a minute. Every kind is in the visible cases; the hidden ones add more of each."""
    specs = [((6, 3), "ordinary"), ((4, 2), "ordinary"), ((1, 4), "shapes"), ((3, 3), "shapes")]
    if thorough:
        specs += [((40, 7), "ordinary"), ((7, 2), "ordinary"), ((1, 1), "shapes"), ((4, 4), "shapes")]
    cases = []
    for (N, D), kind in specs:
        X, w, y = rng.standard_normal((N, D)), rng.standard_normal(D), rng.standard_normal(N)
        cases.append((f"N={N}, D={D}", X, w, y, kind))
    larges = [((5, 2), 1000.0, False), ((5, 3), 1e12, True)] + ([((6, 3), -1000.0, False), ((7, 2), -1e12, True)]
                                                               if thorough else [])
    for (N, D), target, zero_row in larges:
        X, w = rng.standard_normal((N, D)), rng.standard_normal(D)
        y = rng.standard_normal(N)
        if zero_row:
            k = int(rng.integers(N))
            X[k] = 0.0
            y[k] = target
            where = f"N={N}, D={D}, example {k} has all-zero features and target {target:g}"
        else:
            y = y + target
            where = f"N={N}, D={D}, targets around {target:g}"
        cases.append((where, X, w, y, "large"))
    N, D = LSQ_COST_SHAPE
    X, w, y = rng.standard_normal((N, D)), rng.standard_normal(D), rng.standard_normal(N)
    cases.append((f"N={N}, D={D} (one gradient pass, not one pass per weight)", X, w, y, "cost"))
    return cases


def check_lsq_grad(lsq_loss_and_grad, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``lsq_loss_and_grad(X, w, y) -> (L, dw)`` for L = sum((X @ w - y)**2).

    Contract: X (N, D), w (D,), y (N,) float64 (not modified). Returns L, a float (Python float, NumPy float64
    or 0-d array), and dw = dL/dw, a float64 array of shape (D,) (exactly: not (D, 1)), equal to
    2 X^T (X w - y). Sub-checks: "loss" (weight 1) and "gradient" (2) on ordinary shapes; "one example and a
    square X" (1: N = 1, and N = D where a missing transpose still runs); "large targets (analytic gradient)"
    (2: targets around 1000, and an all-zero example with target 1e12, where finite differences of L miss dw
    at every step size: NUMERIC_NOT_ANALYTIC; and D = 25,000 weights where a pass per weight, e.g. complex-step
    differences, runs past LSQ_BACKSTOP seconds: NUMERIC_NOT_ANALYTIC); the course-wide "inputs left unchanged".
    Every kind is in the visible test, ``thorough`` adds more of each. Named mistakes: MISSING_TRANSPOSE, SQUARE_FACTOR_TWO,
    MISSING_INNER_DERIVATIVE (the -1 of y - X w dropped, or no X at all), a mean instead of the sum,
    NUMERIC_NOT_ANALYTIC; when the gradient is wrong on an ordinary case, it is compared with finite
    differences of the learner's own loss to say which of the two to fix.
    """
    require_callable(lsq_loss_and_grad, "lsq_loss_and_grad", 3)
    label = f"{getattr(lsq_loss_and_grad, '__name__', 'lsq_loss_and_grad')}(X, w, y)"
    rep = Report("least-squares loss and gradient", points, seed)
    for name, weight in _LSQ_WEIGHTS.items():
        rep.declare(name, weight)
    rep.watch_inputs()
    rng = np.random.default_rng(seed)
    ordinary_ok = True
    examined: set[str] = set()
    for where, X, w, y, kind in _lsq_cases(rng, thorough):
        if kind == "cost" and not (ordinary_ok and rep.passed(_LSQ_LARGE)):
            continue   # the share is lost already (or the gradient is wrong anyway): do not spend the backstop
        N, D = X.shape
        L, dw = _lsq_reference(X, w, y)
        r = X @ w - y
        l_sub, g_sub = ("loss", "gradient") if kind == "ordinary" else ((_LSQ_SHAPES,) * 2 if kind == "shapes"
                                                                         else (_LSQ_LARGE,) * 2)
        examined.update((l_sub, g_sub))

        def fail(sub: str, message: str) -> None:
            rep.fail(sub, message, _LSQ_WEIGHTS[sub])

        try:
            result = call_student(lsq_loss_and_grad, X, w, y, label=label, notes=rep.notes, report=rep,
                                  timeout=LSQ_BACKSTOP if kind == "cost" else None)
        except StudentCodeError as exc:
            if kind == "cost":
                slow = isinstance(exc, StudentTimeout) or isinstance(exc.__cause__, MemoryError) \
                    or "MemoryError" in str(exc)
                fail(g_sub, f"{where}: " + (
                    f"did not finish in {LSQ_BACKSTOP:g} s; 2 X^T (X w - y) takes about a millisecond here."
                    + describe(diagnoses.get("NUMERIC_NOT_ANALYTIC"))
                    + "\n      Here: one loss evaluation per weight (finite or complex-step differences) needs "
                      f"{D:,} passes over X." if slow else str(exc)))
                continue
            hint = ""
            if "matmul" in str(exc) or "shapes" in str(exc) or "aligned" in str(exc):
                hint = describe(diagnoses.get("MISSING_TRANSPOSE")) + (
                    f"\n      Here X is ({N}, {D}) and the residual (N,) = ({N},): X.T @ r has shape ({D},).")
            fail(g_sub, f"{where}: {exc}{hint}")
            if l_sub != g_sub:
                fail(l_sub, f"{where}: not checked (the function raised; see the gradient message).")
            ordinary_ok = ordinary_ok and kind != "ordinary"
            if isinstance(exc, StudentTimeout):
                rep.timed_out(examined)
                break
            continue
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            what = "None (missing `return`?)" if result is None else brief(result)
            msg = f"{where}: expected a tuple (L, dw), got {what}."
            fail(l_sub, msg)
            fail(g_sub, msg)
            ordinary_ok = ordinary_ok and kind != "ordinary"
            continue
        got_L, got_dw = result
        loss_ok = True
        loss_val = real_number(got_L)
        if loss_val is None:
            loss_ok = False
            fail(l_sub, f"{where}: L must be one number (a float), got {brief(got_L)}."
                 + (" Sum the squared residuals over all N examples: np.sum(r ** 2)."
                    if isinstance(got_L, np.ndarray) and got_L.size > 1 else ""))
        elif abs(loss_val - L) > 1e-9 * max(1.0, abs(L)):
            loss_ok = False
            hint = ""
            if abs(loss_val - L / N) <= 1e-9 * max(1.0, abs(L)) and N > 1:
                hint = " Likely mistake: that is the MEAN of the squared residuals; this loss is their SUM."
            elif abs(loss_val - math.sqrt(L)) <= 1e-9 * max(1.0, L):
                hint = " Likely mistake: that is the norm ||X w - y||; square it (sum of SQUARED residuals)."
            elif abs(loss_val - L / 2) <= 1e-9 * max(1.0, abs(L)):
                hint = " Likely mistake: there is no 1/2 in front of this loss."
            fail(l_sub, f"{where}: L = {loss_val:.8g}, expected {L:.8g}.{hint}")
        problem = array_problem(got_dw, dw)
        if problem:
            candidates = {
                "SQUARE_FACTOR_TWO": [dw / 2.0],
                "MISSING_INNER_DERIVATIVE": [-dw, 2.0 * r, r],
            }
            if N == D:
                candidates["MISSING_TRANSPOSE"] = [2.0 * (X @ r), X @ r]
            diag = diagnose(got_dw, dw, candidates, generic=False)
            extra = ""
            if diag is not None and diag.code == "MISSING_INNER_DERIVATIVE":
                if close(got_dw, -dw, 1e-6):
                    extra = ("\n      Here: with r = y - X w the inner derivative dr/dw = -X carries a minus sign "
                             "(or write r = X w - y).")
                else:
                    extra = ("\n      Here: r = X w - y depends on w through X, so dL/dw = X^T (dL/dr) = "
                             "X^T (2 r), a vector of shape (D,).")
            elif diag is None and N > 1 and close(got_dw, dw / N, 1e-6):
                extra = "\n      Likely mistake: divided by N; this loss is a SUM over the examples, not a mean."
            elif diag is None and isinstance(got_dw, np.ndarray) and got_dw.shape == (D, 1):
                extra = ("\n      Likely mistake: a column vector; return shape (D,) like w (do not reshape y or "
                         "the residual to (N, 1)).")
            elif diag is None and kind == "large" and ordinary_ok and loss_ok and problem.startswith("values differ"):
                diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")
                if "all-zero" in where:
                    extra = ("\n      Here one example has all-zero features and a target of 1e12: it adds 1e24 to L "
                             "and nothing to dw, so L(w + h) - L(w - h) keeps no digit of the other examples.")
            elif diag is None and loss_val is not None and kind == "ordinary":
                numeric = own_numeric_vjp(lsq_loss_and_grad, (X, w, y), (1,), np.float64(1.0))
                if numeric is not None and close(got_dw, numeric, 1e-5):
                    extra = ("\n      Your gradient matches finite differences of your own L: fix the loss first."
                             if not loss_ok else "")
                elif numeric is not None and loss_ok:
                    extra = ("\n      Your loss is right but your gradient does not match finite differences of it: "
                             "the mistake is in the gradient.")
            fail(g_sub, f"{where}: dw {problem}{describe(diag)}{extra}")
        ordinary_ok = ordinary_ok and (kind != "ordinary" or not (problem or not loss_ok))
    return rep.finish()


# ============================================================================================ symbolic answers

_x, _y = sp.symbols("x y")
X_SYMBOLS = {"x": _x}
XY_SYMBOLS = {"x": _x, "y": _y}


def _outer_inner_problems() -> dict[str, tuple[str, sp.Expr, dict[str, sp.Expr]]]:
    x = _x
    g = 3 * x + 2
    s2 = sp.sin(x ** 2)
    return {
        "affine_square": ("d/dx (3x + 2)^2", sp.diff(g ** 2, x), {
            "MISSING_INNER_DERIVATIVE": 2 * g,
            "CHAIN_RULE_ADDED": 2 * g + 3,
            "CHAIN_WRONG_POINT": 2 * x * 3,
            "the square was differentiated as if it were g, not g**2": sp.Integer(3),
        }),
        "sin_cube": ("d/dx sin(x^2)^3", sp.diff(s2 ** 3, x), {
            "MISSING_INNER_DERIVATIVE": 3 * s2 ** 2 * sp.cos(x ** 2),
            "CHAIN_RULE_ADDED": 3 * s2 ** 2 + sp.cos(x ** 2) + 2 * x,
            "CHAIN_WRONG_POINT": 3 * sp.sin(x) ** 2 * sp.cos(x) * 2 * x,
            "the middle derivative cos(x^2) was dropped": 3 * s2 ** 2 * 2 * x,
        }),
    }


def check_outer_inner(answer: Any, *, problem: str = "affine_square", seed: int = 0, points: float | None = None,
                      thorough: bool = False):
    """Grade a derivative of a scalar composition written as a SymPy expression or a string in ``x``.

    problem: "affine_square" (d/dx (3x + 2)^2) or "sin_cube" (d/dx sin(x^2)^3). The expected derivative is
    SymPy's; named mistakes: MISSING_INNER_DERIVATIVE, CHAIN_RULE_ADDED, CHAIN_WRONG_POINT and one more per
    problem. Any equal form passes (factored, expanded, ``^`` for powers, implicit multiplication).
    """
    problems = _outer_inner_problems()
    if problem not in problems:
        raise ValueError(f"unknown problem {problem!r}; one of {', '.join(problems)}")
    title, expected, mistakes = problems[problem]
    return answers.check_expression(answer, expected, X_SYMBOLS, exercise=title, mistakes=mistakes, points=points,
                                    seed=seed, thorough=thorough,
                                    hint="write outer'(inner) * inner' and evaluate the outer derivative at the "
                                         "inner value.")


def _two_path_reference() -> dict[str, sp.Expr]:
    """dL/dx and dL/dy of L = sin(u) * v with u = x*y and v = x + y (each input reaches L along two paths)."""
    x, y = _x, _y
    L = sp.sin(x * y) * (x + y)
    return {"dL/dx": sp.diff(L, x), "dL/dy": sp.diff(L, y)}


def check_two_path_gradient(answers_dict: Any, *, seed: int = 0, points: float | None = None,
                            thorough: bool = False):
    """Grade ``{"dL/dx": expr, "dL/dy": expr}`` for L = sin(u) * v, u = x*y, v = x + y, in the symbols x, y.

    Each input reaches L along two paths (through u and through v); the derivative is the SUM of the two path
    products. Named mistakes per key: PATHS_MULTIPLIED, PATH_MISSING (either path alone), and
    MISSING_INNER_DERIVATIVE (du/dx = y dropped).
    """
    x, y = _x, _y
    u, v = x * y, x + y
    expected = _two_path_reference()
    mistakes = {}
    for key, other in (("dL/dx", y), ("dL/dy", x)):
        through_u = sp.cos(u) * other * v
        through_v = sp.sin(u)
        mistakes[key] = {
            "PATHS_MULTIPLIED": through_u * through_v,
            "PATH_MISSING": through_u,
            "only the path through v was kept (the path through u = x*y is missing)": through_v,
            "MISSING_INNER_DERIVATIVE": sp.cos(u) * v + sp.sin(u),
        }
    hints = {k: "list both routes from the input to L (through u and through v), multiply along each, add them."
             for k in expected}
    return answers.check_expressions(answers_dict, expected, XY_SYMBOLS, exercise="two-path gradient of "
                                     "L = sin(x y) (x + y)", mistakes=mistakes, hints=hints, points=points,
                                     seed=seed, thorough=thorough)


# ============================================================================================ tables of numbers

PATH_KEYS = ("g", "L", "path_g_square", "path_g_product", "path_direct", "dL/dx")


def _paths_reference(x: float = PATHS_X) -> dict[str, float]:
    """The sum-over-paths table of L = s + p with g = 3x + 2, s = g**2, p = x * g, at ``x``.

    path_g_square: x -> g -> s -> L (3 * 2g * 1); path_g_product: x -> g -> p -> L (3 * x * 1);
    path_direct: x -> p -> L (g * 1); dL/dx: their sum (= 24x + 14).
    """
    g = 3.0 * x + 2.0
    out = {"g": g, "L": g * g + x * g, "path_g_square": 3.0 * 2.0 * g, "path_g_product": 3.0 * x,
           "path_direct": g}
    out["dL/dx"] = out["path_g_square"] + out["path_g_product"] + out["path_direct"]
    return out


def check_paths_table(answers_dict: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the hand-traced sum-over-paths table of L = g**2 + x*g, g = 3x + 2 at x = PATHS_X.

    answers_dict: keys PATH_KEYS -> numbers (one equally weighted sub-check each, partial credit). Named
    mistakes: the inner derivative 3 dropped on a path, the factor 2 of the square dropped, the paths
    multiplied instead of added, a missing path.
    """
    ref = _paths_reference(PATHS_X)
    g, x = ref["g"], PATHS_X
    paths = (ref["path_g_square"], ref["path_g_product"], ref["path_direct"])
    mistakes = {
        "path_g_square": {"MISSING_INNER_DERIVATIVE": 2.0 * g, "SQUARE_FACTOR_TWO": 3.0 * g},
        "path_g_product": {"MISSING_INNER_DERIVATIVE": x},
        "dL/dx": {"PATHS_MULTIPLIED": float(np.prod(paths)),
                  "PATH_MISSING": paths[0] + paths[2],
                  "the direct path x -> p (p = x * g uses x itself) was dropped": paths[0] + paths[1],
                  "only the path through the square was kept": paths[0]},
        "L": {"only g**2 was computed (the x * g term is missing)": g * g},
    }
    hints = {
        "path_g_square": "multiply the local derivatives along x -> g -> s -> L: dg/dx, ds/dg, dL/ds.",
        "path_g_product": "along x -> g -> p -> L the edge g -> p has local derivative dp/dg = x.",
        "path_direct": "along x -> p -> L the edge x -> p has local derivative dp/dx = g (g held fixed).",
        "dL/dx": "add the three path products.",
    }
    return concepts.check_trace_table(answers_dict, ref, exercise=f"sum over paths at x = {PATHS_X:g}", hints=hints,
                                      mistakes=mistakes, points=points, seed=seed,
                                      thorough=thorough)


NEURON_KEYS = ("z", "a", "dL/da", "da/dz", "dz/dw", "dL/dw")


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _neuron_reference(w: float, x: float, b: float, y: float) -> dict[str, float]:
    """z = w x + b, a = sigmoid(z), L = (a - y)**2: forward values, local derivatives and dL/dw."""
    z = w * x + b
    a = _sig(z)
    out = {"z": z, "a": a, "dL/da": 2.0 * (a - y), "da/dz": a * (1.0 - a), "dz/dw": x}
    out["dL/dw"] = out["dL/da"] * out["da/dz"] * out["dz/dw"]
    return out


def check_neuron_chain(answers_dict: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the chain-rule table of one sigmoid neuron with squared error at NEURON_POINT.

    answers_dict: keys NEURON_KEYS -> numbers. Named mistakes: the factor 2 or the sign of dL/da, sigmoid'
    evaluated at a instead of z (SIGMOID_ON_OUTPUT), dz/dw = w, dL/dw without dz/dw or with the factors added.
    """
    p = NEURON_POINT
    ref = _neuron_reference(p["w"], p["x"], p["b"], p["y"])
    a, z = ref["a"], ref["z"]
    sa = _sig(a)
    mistakes = {
        "a": {"SIGMOID_ON_OUTPUT": _sig(a), "the sigmoid was skipped (a = z)": z},
        "dL/da": {"SQUARE_FACTOR_TWO": a - p["y"], "SIGN_FLIP": 2.0 * (p["y"] - a)},
        "da/dz": {"SIGMOID_ON_OUTPUT": sa * (1.0 - sa), "SIGMOID_DERIVATIVE": a},
        "dz/dw": {"dz/dw is the input x, not the weight w": p["w"]},
        "dL/dw": {"MISSING_INNER_DERIVATIVE": ref["dL/da"] * ref["da/dz"],
                  "CHAIN_RULE_ADDED": ref["dL/da"] + ref["da/dz"] + ref["dz/dw"]},
    }
    hints = {"da/dz": "sigmoid'(z) = a (1 - a), written with the forward output a.",
             "dL/dw": "multiply the three local derivatives: dL/da * da/dz * dz/dw."}
    return concepts.check_trace_table(answers_dict, ref, exercise="one sigmoid neuron, step by step", hints=hints,
                                      mistakes=mistakes, points=points, seed=seed,
                                      thorough=thorough)


DEEP_CHAIN_LAYERS = 4


def check_deep_chain(answer: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade d a_4 / d z_1 for four sigmoid layers with weight 1 whose pre-activations are all 0.

    Expected sigmoid'(0)**4 = 0.25**4 = 0.00390625 (four significant digits are enough, "1/256" or "0.25**4"
    too). Named mistakes: the local derivatives added (4 * 0.25 = 1), sigmoid(0) = 0.5 used instead of
    sigmoid'(0).
    """
    k = DEEP_CHAIN_LAYERS
    d = _sig(0.0) * (1.0 - _sig(0.0))
    return concepts.check_number(answer, d ** k, exercise=f"derivative through {k} sigmoid layers",
                                 mistakes={"CHAIN_RULE_ADDED": k * d,
                                           "sigmoid(0) = 0.5 was used instead of sigmoid'(0)": _sig(0.0) ** k,
                                           "only one layer's local derivative was counted": d},
                                 hint="the chain rule multiplies one local derivative per layer.",
                                 points=points, seed=seed, thorough=thorough)
