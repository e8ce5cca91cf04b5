"""What every check of notebook 10 shares: the constants of the "analytic, not numeric" cases, a plain softmax
and its VJP for building known wrong answers, calling student code with a timeout that skips the remaining
cases (``_call``, ``_run_cases``), comparing one output with the likely mistake named (``_grade``,
``_grade_analytic``) and random boolean masks. Everything here is private to the package except the two
constants.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (MUTATION_CHECK, Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          close, describe, diagnose)

OFFSET = 1e6            # the large constant of the "analytic, not numeric" cases
NUMERIC_BAND = 1e-2     # wrong at VALUE_TOL but right to this: what finite differences give on those cases


# =============================================================================================== helpers


class _Stop(Exception):
    """The student's code timed out: the remaining cases are skipped."""


def _softmax(x: np.ndarray, mask: np.ndarray | None = None, axis: int = -1) -> np.ndarray:
    """Stable softmax along ``axis``; masked entries (mask False) excluded and exactly 0."""
    x = np.asarray(x, dtype=np.float64)
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(dP: np.ndarray, P: np.ndarray, axis: int = -1) -> np.ndarray:
    return P * (dP - np.sum(dP * P, axis=axis, keepdims=True))


def _sw(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _call(rep: Report, fn: Callable, *args, label: str, fail: Sequence[str], where: str, watch: bool = True):
    """(ok, result). A StudentCodeError fails the sub-checks in ``fail``; a timeout also raises _Stop."""
    try:
        return True, call_student(fn, *args, label=label, notes=rep.notes, report=rep if watch else None)
    except StudentCodeError as exc:
        for name in fail:
            rep.fail(name, f"{where}: {exc}")
        if isinstance(exc, StudentTimeout):
            raise _Stop from None
        return False, None


def _run_cases(rep: Report, cases: Sequence, subs_of: Callable[[Any], Sequence[str]], run: Callable[[Any], None]):
    """Run ``run(case)`` for every case; after a timeout, the sub-checks no case has examined yet are failed
    ("not checked"), so that a function that loops forever earns nothing for the cases it never reached."""
    examined: set[str] = set()
    try:
        for case in cases:
            examined.update(subs_of(case))
            run(case)
    except _Stop:
        for name in list(rep.checks):
            if name not in examined and name != MUTATION_CHECK and rep.passed(name):
                rep.fail(name, "not checked: your code timed out on an earlier case (see above).")


def _grade(rep: Report, sub: str, where: str, name: str, got: Any, want: np.ndarray,
           mistakes: Mapping[str, Any] | None = None, *, generic: bool = True, extra: str = "") -> bool:
    """Compare one output; fail ``sub`` with the problem and the named mistake. True when it is right."""
    problem = array_problem(got, want)
    if problem is None:
        return True
    diag = diagnose(got, want, mistakes or {}, generic=generic)
    rep.fail(sub, f"{where}: {name} {problem}{describe(diag)}{extra}")
    return False


def _grade_analytic(rep: Report, sub: str, where: str, name: str, got: Any, want: np.ndarray,
                    mistakes: Mapping[str, Any] | None = None) -> bool:
    """_grade for a case with a large constant part: an answer that is no known mistake but right only to
    NUMERIC_BAND (the signature of finite differences) is named NUMERIC_NOT_ANALYTIC."""
    problem = array_problem(got, want)
    if problem is None:
        return True
    diag = diagnose(got, want, mistakes or {})
    if diag is None and problem.startswith("values differ") and close(got, want, NUMERIC_BAND):
        diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")
    rep.fail(sub, f"{where}: {name} {problem}{describe(diag)}")
    return False


def _random_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean mask with about 40% False and at least one True and (where possible) one False per row."""
    mask = rng.random(shape) < 0.6
    rows = mask.reshape(-1, shape[-1])
    n = rows.shape[0]
    rows[np.arange(n), rng.integers(0, shape[-1], n)] = True
    if shape[-1] > 1:
        first = rows[0]
        if first.all():
            first[rng.integers(0, shape[-1])] = False
            if not first.any():
                first[0] = True
    return rows.reshape(shape)
