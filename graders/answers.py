"""Symbolic answers: a derivation answered as a SymPy expression or a string, checked against SymPy.

A learner may write ``"2*(3*x + 2)*3"``, ``"6(3x+2)"`` (implicit multiplication, ``^`` or ``**`` for powers),
``"y cos(xy)(x+y)"`` (symbols written together multiply), ``"sech(x)^2"`` or a SymPy expression built from the
notebook's symbols. :func:`check_expression` accepts any mathematically equal form, decided by
``reference_impl.symbolic.are_equivalent``: both sides are compared at random points first (a difference is
confirmed in extended precision, so float64 rounding is never taken for a mistake), and
``simplify(answer - expected) == 0``, under a time cap (3 s by default), runs only when the points decide nothing. Known wrong forms (a dropped inner derivative, a sum where the chain
rule multiplies, ...) are named in the message when the answer equals one of them; they are compared the same
way, so a wrong answer costs milliseconds, not a simplify per known mistake.

Strings are parsed without evaluating code (see ``reference_impl.symbolic_answers.parse_answer``): only the
exercise's symbols, the constants pi and e, and elementary functions under their SymPy names or the names
students type (ln, arcsin, abs, max, sigmoid, softplus, relu, log(x, base), ...) are allowed.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from graders import diagnoses
from graders.core import GradingError, Report, brief
from reference_impl import symbolic as _ref_sym

__all__ = ["check_expression", "check_expressions", "TIME_LIMIT"]

TIME_LIMIT = 3.0


def _symbol_names(symbols) -> str:
    names = list(symbols) if isinstance(symbols, Mapping) else [s.name for s in symbols]
    return ", ".join(names)


def _label(code: str) -> str:
    diag = diagnoses.CATALOGUE.get(code)
    return code if diag is None else diag.describe()


def _expression_problem(answer: Any, expected, symbols, *, what: str, mistakes: Mapping[str, Any] | None,
                        time_limit: float, seed: int, positive: bool, domain: tuple[float, float]) -> str | None:
    if answer is None:
        return f"{what}: no answer yet (the variable is still None); write an expression in {_symbol_names(symbols)}."
    if isinstance(answer, (list, tuple, dict, set, np.ndarray, sp.MatrixBase)):
        return f"{what}: expected one scalar expression, got {type(answer).__name__} {brief(answer)}."
    try:
        parsed = _ref_sym.parse_answer(answer, symbols)
    except (ValueError, TypeError, SyntaxError) as exc:
        return f"{what}: could not read {brief(answer)}: {exc}"
    if parsed.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return f"{what}: {brief(answer)} contains an infinity or NaN."
    kwargs = dict(time_limit=time_limit, rng=seed, positive=positive, domain=domain)
    try:
        if _ref_sym.are_equivalent(parsed, expected, symbols, **kwargs):
            return None
        for code, wrong in (mistakes or {}).items():
            if _ref_sym.are_equivalent(parsed, wrong, symbols, **kwargs):
                return f"{what}: {parsed} is not right; it is what you get from this mistake: {_label(code)}"
    except (ValueError, TypeError) as exc:
        return f"{what}: could not compare {brief(answer)}: {exc}"
    return f"{what}: {parsed} is not equal to the derivative asked for (compared symbolically and at random points)."


def check_expression(answer: Any, expected, symbols, *, exercise: str, mistakes: Mapping[str, Any] | None = None,
                     hint: str | None = None, points: float | None = None, seed: int = 0, thorough: bool = False,
                     time_limit: float = TIME_LIMIT, positive: bool = False,
                     domain: tuple[float, float] = (-2.0, 2.0)) -> float | None:
    """Grade one symbolic answer.

    Args:
        answer: the learner's SymPy expression or string.
        expected: the right expression (SymPy or string), derived by the grader, never typed in a notebook.
        symbols: dict name -> Symbol (or a list of Symbols): the only names the answer may use.
        mistakes: diagnosis code or short description -> the expression that mistake produces.
        positive: sample only positive values in the numeric fallback (for answers with log or sqrt).
        thorough: compare at more random points (hidden tests).
    """
    rep = Report(exercise, points, seed)
    rep.declare("expression")
    problem = _expression_problem(answer, expected, symbols, what="answer", mistakes=mistakes,
                                  time_limit=time_limit, seed=seed + (1000 if thorough else 0), positive=positive,
                                  domain=domain)
    if problem and hint:
        problem += f" Hint: {hint}"
    rep.record("expression", problem)
    return rep.finish()


def check_expressions(answers: Any, expected: Mapping[str, Any], symbols, *, exercise: str,
                      mistakes: Mapping[str, Mapping[str, Any]] | None = None, hints: Mapping[str, str] | None = None,
                      points: float | None = None, seed: int = 0, thorough: bool = False,
                      time_limit: float = TIME_LIMIT, positive: bool = False,
                      domain: tuple[float, float] = (-2.0, 2.0)) -> float | None:
    """Grade a dict of symbolic answers (key -> expression), one equally weighted sub-check per key of
    ``expected``; ``mistakes`` and ``hints`` are keyed the same way."""
    keys: Sequence[str] = list(expected)
    if answers is None:
        raise GradingError(f"{exercise}: no answer yet: fill in the dict with keys {', '.join(keys)}.")
    if not isinstance(answers, Mapping):
        raise GradingError(f"{exercise}: expected a dict with keys {', '.join(keys)}, got {type(answers).__name__}.")
    rep = Report(exercise, points, seed)
    for key in keys:
        rep.declare(key)
    for i, key in enumerate(keys):
        if key not in answers:
            rep.fail(key, f"'{key}' is missing from the dict.")
            continue
        problem = _expression_problem(answers[key], expected[key], symbols, what=f"'{key}'",
                                      mistakes=(mistakes or {}).get(key), time_limit=time_limit,
                                      seed=seed + i + (1000 if thorough else 0), positive=positive, domain=domain)
        if problem and hints and key in hints:
            problem += f" Hint: {hints[key]}"
        rep.record(key, problem)
    return rep.finish()
