"""Machinery shared by the network checks: the grader object, watched calls, numeric helpers, constants.

:class:`_Grader` wraps a Report whose ``call`` turns a student error into failed sub-checks (a timeout stops the
check with :class:`_Stop`) and, with ``watch``, applies the course-wide input rule (graders.core: "inputs left
unchanged") and lists the arguments the call changed in place (read from ``call_student``'s ``after``, so it works
across the cohort link). The numeric helpers compare a returned
gradient with finite differences of the student's OWN loss ("fix the loss first" / "the mistake is in the
gradient"); the constants fix the margins every case keeps (ReLU kink, large logits, init statistics).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (MUTATION_CHECK, Report, StudentCodeError, StudentTimeout, VALUE_TOL, array_problem,
                          brief, call_student, close, describe, numeric_vjp_safe)

PARAM_KEYS = ("W1", "b1", "W2", "b2")
KINK_MARGIN = 0.02          # |hidden pre-activation| is at least this far from 0 in every ordinary case
KINK_STEP = 2.0 ** -36      # the kink cases: one pre-activation exactly 0, one exactly this (about 1.5e-11) above it
LARGE_LOGIT = 1000.0        # offset of the "large logits" cases (exp overflows above ~709)
INIT_Z = 6.0                # init variance tolerance in standard deviations of the sample variance
INIT_MIN_DRAWS = 1000       # layers with fewer weights are not tested for their variance


# =============================================================================================== machinery


class _Stop(Exception):
    """The student's code timed out: the remaining cases are skipped."""


def _name(fn: Any, default: str) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name.isidentifier() else default


def _same_array(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                    and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
        return bool(a == b)
    except Exception:
        return a is b


def _changes(before: Sequence, after: Sequence, names: Sequence[str]) -> list[tuple[str, Any, Any]]:
    """(description, old, new) for every argument (or dict entry) the student's call changed in place."""
    out = []
    for name, b, a in zip(names, before, after):
        if isinstance(b, dict):
            if not isinstance(a, dict):
                out.append((f"{name} (replaced by a {type(a).__name__})", b, a))
                continue
            for k in b:
                if k not in a:
                    out.append((f"{name} (key {k!r} deleted)", b[k], None))
                elif not _same_array(b[k], a[k]):
                    out.append((f"{name}[{k!r}]", b[k], a[k]))
            for k in a:
                if k not in b:
                    out.append((f"{name} (key {k!r} added)", None, a[k]))
        elif isinstance(b, np.ndarray) and not _same_array(b, a):
            out.append((name, b, a))
    return out


class _Grader:
    """A Report, the sub-check names, and student calls that fail named sub-checks instead of raising.

    ``watch_inputs``: the exercise's contract leaves its inputs alone; the course-wide sub-check "inputs left
    unchanged" (graders.core: MUTATION_SHARE of the points, INPUT_MUTATED, credited only next to some other
    success) is declared, and calls made with ``watch`` fail it when they modify an argument."""

    def __init__(self, exercise: str, points, seed: int, names: Sequence[str], watch_inputs: bool = False):
        self.report = Report(exercise, points, seed)
        self.names = list(names)
        for n in self.names:
            self.report.declare(n)
        if watch_inputs:
            self.report.watch_inputs()
        self.examined: set[str] = set()
        self.stopped = False

    def fail(self, name: str, message: str) -> None:
        self.report.fail(name, message)

    def passed(self, name: str) -> bool:
        return self.report.passed(name)

    def call(self, fn: Callable, *args, label: str, where: str, fail: Sequence[str],
             watch: Sequence[str] | None = None, only: Sequence[int] | None = None,
             hint: Callable[[str], str] | None = None):
        """(ok, result, changed). A StudentCodeError fails every sub-check in ``fail`` (ok False); a timeout
        also raises _Stop. ``watch``: the arguments' names; a call that modifies one (``only``: the positions
        that count, default all) fails "inputs left unchanged", and ``changed`` lists what it changed, as
        (description, old, new), for a message saying which array and how to avoid it."""
        after: dict[str, Any] = {}
        self.examined.update(fail)
        try:
            result = call_student(fn, *args, label=label, notes=self.report.notes, after=after,
                                  report=self.report if watch is not None else None, watch=only)
        except StudentCodeError as exc:
            text = f"{where}: {exc}" + (hint(str(exc)) if hint else "")
            for n in fail:
                self.fail(n, text)
            if isinstance(exc, StudentTimeout):
                self.stopped = True
                raise _Stop from None
            return False, None, []
        changed = []
        if watch is not None and "args" in after:
            keep = range(len(args)) if only is None else only
            changed = _changes([args[i] for i in keep], [after["args"][i] for i in keep], [watch[i] for i in keep])
        return True, result, changed

    def changed_inputs(self, where: str, text: str) -> None:
        """Add what a call changed, and how to avoid it, to the failed "inputs left unchanged" sub-check."""
        if MUTATION_CHECK in self.report.checks:
            self.report.fail(MUTATION_CHECK, f"{where}: {text}")

    def finish(self):
        if self.stopped:  # the sub-checks no case reached before the time-out earn nothing
            self.report.timed_out(self.examined)
        return self.report.finish()


def _number_problem(got: Any, expected: float, tol: float = VALUE_TOL, what: str = "the loss") -> str | None:
    """array_problem for a scalar result: a Python float, a NumPy float64 or a 0-d float64 array."""
    if isinstance(got, bool) or (got is not None and not isinstance(got, (int, float, np.number, np.ndarray))):
        return f"expected a number (a Python float or NumPy float64), got {type(got).__name__} ({brief(got)})."
    problem = array_problem(got, np.float64(expected), tol=tol, scalar_ok=True)
    if problem and isinstance(got, np.ndarray) and got.shape != ():
        problem += f" {what[0].upper() + what[1:]} must be one number (e.g. a .mean() or float(...)), not an array."
    return problem


def _unstable_hint(text: str) -> str:
    return describe(diagnoses.get("SOFTMAX_UNSTABLE")) if "Overflow" in text else ""


def _finite(*arrays: Any) -> bool:
    try:
        return all(bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64)))) for a in arrays)
    except (TypeError, ValueError):
        return False


def _consistency(got: Any, numeric: np.ndarray | None, loss_ok: bool, what: str) -> str:
    """The layers.py sentence telling a wrong loss from a wrong gradient."""
    if numeric is None:
        return ""
    try:
        agrees = close(got, numeric, 1e-5)
    except Exception:
        agrees = False
    if agrees and not loss_ok:
        return (f"\n      Your {what} IS consistent with your own loss (finite differences agree), so fix the loss "
                f"first.")
    if not agrees and loss_ok:
        return f"\n      Your loss is right, so the mistake is in {what}."
    return ""


def _away(rng: np.random.Generator, shape: Sequence[int], low: float = 0.3, high: float = 1.5) -> np.ndarray:
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)
