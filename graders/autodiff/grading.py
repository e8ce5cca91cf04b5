"""Bookkeeping shared by the autodiff checks: a Report that stops after a timeout, and small readers/formatters.

:class:`_Grading` wraps a :class:`graders.core.Report`: ``g.call(sub, fn, ...)`` is ``call_student`` whose
timeout fails ``sub`` and stops the check (:class:`_Stop`), after which every sub-check not finished yet is
marked "not checked". The rest are formatting helpers and tolerant number readers used by every module here.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

from graders.core import (GradingError, Report, StudentTimeout, array_problem, brief, call_student, is_class,
                          require_callable, type_name)

SCALAR_TOL = 1e-7


class _Stop(Exception):
    """Raised after a student's call timed out: the remaining cases are skipped."""


class _Grading:
    """A Report plus bookkeeping: which sub-checks are finished, and whether the student's code timed out."""

    def __init__(self, exercise: str, points, seed: int, names: Sequence[str], *, watch_inputs: bool = False):
        self.report = Report(exercise, points, seed)
        self.names = list(names)
        for n in self.names:
            self.report.declare(n)
        self.watching = watch_inputs
        if watch_inputs:   # the course-wide sub-check "inputs left unchanged" (graders.core.Report.watch_inputs)
            self.report.watch_inputs()
        self.done: set[str] = set()
        self.timed_out = False
        self.unseeded: str | None = None   # set when backward() left the root's gradient at 0: the message

    def call(self, name: str, fn: Callable, *args, label: str, timeout_hint: str = "", **kwargs):
        """call_student (watching the inputs when the check does); a timeout fails ``name`` and stops the check
        (raises _Stop)."""
        try:
            return call_student(fn, *args, label=label, notes=self.report.notes,
                                report=self.report if self.watching else None, **kwargs)
        except StudentTimeout as exc:
            self.report.fail(name, str(exc) + timeout_hint)
            self.timed_out = True
            raise _Stop from None

    def fail(self, name: str, message: str) -> None:
        self.report.fail(name, message)

    def finish(self):
        if self.timed_out:
            for n in self.names:
                if n not in self.done and self.report.passed(n):
                    self.report.fail(n, "not checked: your code ran out of time in an earlier case (see above).")
        return self.report.finish()


def _resolve_ops(ops, allowed: Sequence[str], default: Sequence[str], what: str) -> tuple[str, ...]:
    """The grader author's ``ops=`` list, validated (a ValueError here is a notebook bug, not the student's)."""
    if ops is None:
        return tuple(default)
    if isinstance(ops, str):
        ops = (ops,)
    ops = tuple(dict.fromkeys(ops))
    unknown = [o for o in ops if o not in allowed]
    if unknown:
        raise ValueError(f"{what}: unknown operation(s) {unknown}; choose from {list(allowed)}")
    if "+" not in ops or "*" not in ops:
        raise ValueError(f"{what}: ops must include '+' and '*' (every expression graph is built with them)")
    return ops


def _require_class(cls: Any, name: str, n_args: int) -> None:
    if cls is not None and not is_class(cls):
        raise GradingError(f"{name}: expected a class (`class {name}: ...`), got {type_name(cls)} "
                           f"({brief(cls)}). Pass the class itself, not an instance or a function.")
    require_callable(cls, name, n_args)


def _scalar_close(a: float | None, b: float, tol: float = 1e-6) -> bool:
    if a is None or not math.isfinite(a):
        return False
    return abs(a - b) <= tol * max(1e-8, abs(a) + abs(b)) or abs(a - b) < 1e-12


def _as_float(x: Any) -> float | None:
    """x as a finite float when it is a real number or a 0-d numeric array, else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, numbers.Real) or (isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "fiu"):
        v = float(x)
        return v if math.isfinite(v) else None
    return None


def _array_problem(got: Any, expected: np.ndarray, **kwargs) -> str | None:
    """core.array_problem, with a clearer word for arrays that still hold dual numbers or Values (also when such
    an array stayed in the student's process and ``got`` is its proxy)."""
    if type_name(got) == "ndarray" and not (isinstance(got, np.ndarray) and got.dtype != object):
        try:
            first = got.flat[0] if got.size else None
        except Exception:
            first = None
        if first is not None and not isinstance(first, numbers.Real):
            return (f"an object array of {type_name(first)} ({brief(first, 40)}): return plain floats, e.g. "
                    f"np.array([y.val for y in out]) (or .dot, .data, .grad).")
    return array_problem(got, expected, **kwargs)


def _vec_text(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{t:g}" for t in np.ravel(v)) + "]"


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:.6g}"
