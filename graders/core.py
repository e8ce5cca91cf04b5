"""Machinery shared by every grader: calling student code safely, comparing arrays, diagnosing, scoring.

A check is a pure function of the student's function(s) and a seed. It builds a :class:`Report` of
weighted sub-checks and ends with :meth:`Report.finish`, which

- returns ``float(points)`` when everything passed (nbgrader reads a test cell's float result as its score),
- prints what failed and returns the partial score when some sub-checks passed and ``points`` was given,
- raises :class:`GradingError` (an ``AssertionError``) with every failure message otherwise.

Student code runs with warnings captured and stderr redirected to stdout, because nbgrader gives zero
points to any test cell that writes to stderr, and a correct answer must never lose points to a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import inspect
import io
import math
import numbers
import signal
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from graders import diagnoses
from graders.remote import catalogue
from graders.remote.catalogue import numeric as catalogue_numeric
from graders.remote import client as remote_client
from graders.remote import server as remote_server

DEFAULT_TIMEOUT = 10.0
MUTATION_CHECK = "inputs left unchanged"
MUTATION_SHARE = 0.25   # of an exercise's points, in every exercise whose contract leaves inputs alone
VALUE_TOL = 1e-7
PREVIEW = 4


# The cohort grader sets a list here to learn which sub-checks of a test failed (one per thread: a ContextVar).
FINISHED_REPORTS: contextvars.ContextVar = contextvars.ContextVar("backprop_finished_reports", default=None)


class GradingError(AssertionError):
    """A check failed; the message says what to fix.

    In IPython and Jupyter the error shows as its message alone, under a one-line header
    (``_render_traceback_``): what to fix comes first, with no traceback through the grader's own frames
    (a student's own exception is already part of the message, with their last frames). It is still an
    error, so nbgrader scores the test cell 0. ``exercise``, ``failed`` and ``total`` (set by
    :meth:`Report.finish`) make the header "✗ <exercise>: N of M checks failed".
    """

    def __init__(self, message: str = "", *, exercise: str | None = None, failed: int | None = None,
                 total: int | None = None):
        super().__init__(message)
        self.exercise, self.failed, self.total = exercise, failed, total

    def summary_lines(self) -> list[str]:
        """The header line, then the message's lines (its own "<exercise> (seed S):" title folded into the header)."""
        lines = str(self).splitlines() or ["(no message)"]
        if self.exercise is None or self.failed is None or self.total is None:
            return [f"✗ {lines[0]}", *lines[1:]]
        header = f"✗ {self.exercise}: {self.failed} of {self.total} checks failed"
        if lines[0].startswith(f"{self.exercise} (seed ") and lines[0].endswith("):"):
            header += lines[0][len(self.exercise):-1]
            lines = lines[1:]
        return [header, *lines]

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the summary, its header in bold red."""
        header, *rest = self.summary_lines()
        return [f"\x1b[1;31m{header}\x1b[0m", *rest]


class StudentCodeError(Exception):
    """The student's function raised, timed out or returned something unusable; ``str()`` explains."""


class StudentTimeout(StudentCodeError):
    """The student's function ran past its time limit (checks stop trying further cases)."""


# --------------------------------------------------------------------------------------------- calling


class _Expired(BaseException):
    """Raised by the alarm. A BaseException, so that ``except Exception`` in student code or in a numeric helper
    that wraps student code cannot swallow the time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float | None, label: str):
    """Raise StudentTimeout after ``seconds`` (SIGALRM, main thread only; elsewhere no limit).

    Once expired, the alarm re-fires every 50 ms until the limit is left, so even a bare ``except:`` that
    swallows the first one cannot keep the grader waiting.
    """
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    inside = [True]

    def _expired(signum, frame):
        if inside[0]:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            raise _Expired

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        inside[0] = False
        raise StudentTimeout(remote_server.timeout_message(label, seconds)) from None
    finally:
        inside[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.random.Generator):
        return True  # drawing from a passed-in Generator is its purpose, not a mutation
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return a is b


def call_student(fn: Callable, *args: Any, label: str | None = None, timeout: float | None = None,
                 notes: list[str] | None = None, after: dict | None = None, report: "Report | None" = None,
                 watch: Sequence[int] | None = None, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` on deep copies of the arguments and return its result.

    This is the one way a check calls student code. ``fn`` may be the student's function itself, a proxy of it
    in another process (cohort grading, see graders.remote), or a grader function that calls student code
    (a runner). Warnings and anything written to stderr are turned into notes (printed later on stdout),
    floating point errors are silenced (non-finite results are caught by the array checks instead), and a
    function that modifies its inputs gets a note. Raises StudentCodeError with a readable message if the
    function raises or runs past ``timeout`` seconds (default: DEFAULT_TIMEOUT at call time).

    ``after``: a dict that receives ``"args"`` and ``"kwargs"``, the arguments as the function left them (the
    copies it was given), for checks that grade what a function changed in its inputs, and ``"aliased"``:
    whether the result is, holds or shares memory with one of those arguments (it handed back its input).
    ``report``: a Report that watches inputs (:meth:`Report.watch_inputs`); a modification fails that sub-check.
    ``watch``: with ``report``, the positions of the arguments whose modification counts (default: every
    argument); e.g. ``watch=(0,)`` for ``backward(dout, cache)``, whose cache is the student's own object.

    ``fn`` may also be a catalogue item (graders.remote.catalogue), a runner that drives the student's objects:
    it runs where they live (across the link when an argument is a proxy). A catalogue item among the arguments
    reaches the student's code as the object it builds (a test function, a layer list...).
    """
    if report is not None:
        after = {} if after is None else after
        label = label or f"{getattr(fn, '__name__', 'your function')}()"
        start = len(notes) if notes is not None else 0
        result = call_student(fn, *args, label=label, timeout=timeout, notes=notes, after=after, **kwargs)
        left = after.get("args", args)
        if watch is None:
            same = _same(left, args) and _same(after.get("kwargs", kwargs), kwargs)
        else:
            same = len(left) == len(args) and all(_same(left[i], args[i]) for i in watch)
        if not same:
            report.mutated(label)
            if notes is not None and MUTATION_CHECK in report.checks:  # the sub-check says it; the generic note
                # ("this did not cost points") would contradict it
                notes[start:] = [n for n in notes[start:] if n != remote_server.mutation_note(label)]
        return result
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    label = label or f"{getattr(fn, '__name__', 'your function')}()"
    if isinstance(fn, remote_client._Proxy):  # the student's code runs in another process: ask it
        return fn._remote_call(args, kwargs, label=label, timeout=timeout, notes=notes, after=after)
    if isinstance(fn, catalogue.Item):
        link = remote_client.link_of(args, kwargs)
        if link is not None:  # a runner for the student's objects: run it in their process
            return link.call(fn, args, kwargs, label=label, timeout=timeout, notes=notes, after=after)
    args_copy, kwargs_copy = copy.deepcopy(args), copy.deepcopy(kwargs)
    call_args, call_kwargs = catalogue.built(args_copy), catalogue.built(kwargs_copy)
    err = io.StringIO()
    # With a link open (the cohort grader) a grader function that calls proxies shares one deadline with them;
    # the student's process enforces it. Otherwise an alarm stops the student's code here.
    limit = remote_client.scope(label, timeout, notes) if remote_client.active() else _time_limit(timeout, label)
    try:
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"), \
                contextlib.redirect_stderr(err), limit:
            warnings.simplefilter("always")
            result = fn(*call_args, **call_kwargs)
    except StudentCodeError:
        raise
    except catalogue.CatalogueError as exc:
        raise StudentCodeError(str(exc)) from None
    except remote_client.LinkDead as exc:
        raise StudentCodeError(f"{label}: {exc}") from None
    except BaseException as exc:  # the student's bug: report it, never crash the grader
        if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
            raise
        raise StudentCodeError(remote_server.describe_exception(exc, label)[1]) from None
    if after is not None:
        after["args"], after["kwargs"] = args_copy, kwargs_copy
        after["aliased"] = remote_server.aliases(result, (call_args, call_kwargs))
    if notes is not None:
        for w in caught:
            notes.append(f"{label} emitted {w.category.__name__}: {w.message}")
        if err.getvalue().strip():
            notes.append(f"{label} wrote to stderr: {err.getvalue().strip()[:300]}")
        if not (_same(args_copy, args) and _same(kwargs_copy, kwargs)):
            notes.append(remote_server.mutation_note(label))
    return result


def type_name(x: Any) -> str:
    """The name of x's type as the student's code sees it (for a proxy, the type of the student's object)."""
    return remote_client.type_name(x)


def is_class(x: Any) -> bool:
    """Whether ``x`` is a class (the student's own class also when it is seen through the cohort link)."""
    return remote_client.is_class(x)


def require_callable(fn: Any, name: str, n_args: int | None = None) -> None:
    """Raise GradingError unless ``fn`` is callable and accepts ``n_args`` positional arguments."""
    if fn is None:
        raise GradingError(f"{name}: got None. Define the function `{name}` in the cell above (and run that "
                           f"cell) before running this check.")
    if not callable(fn):
        raise GradingError(f"{name}: expected a function, got {type_name(fn)} ({brief(fn)}).")
    if n_args is None:
        return
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*range(n_args))
    except TypeError:
        raise GradingError(f"{name}: it must accept {n_args} positional argument(s); its signature is "
                           f"{getattr(fn, '__name__', name)}{sig}.") from None


def brief(x: Any, limit: int = 60) -> str:
    """repr(x) cut to ``limit`` characters; never raises (a student object's __repr__ may)."""
    try:
        text = repr(x)
    except Exception:
        text = f"<{type(x).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def real_number(x: Any) -> float | None:
    """x as a finite float when it is a real number (Python/NumPy scalar, size-1 numeric array, SymPy number),
    else None (bools, NaN, inf, strings, arrays of several entries)."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, np.ndarray) and x.size == 1 and x.dtype.kind in "fiu":
        x = x.reshape(())[()]
    if isinstance(x, numbers.Real):
        v = float(x)
        return v if math.isfinite(v) else None
    try:
        import sympy as sp
        if isinstance(x, sp.Basic) and x.is_number:
            v = complex(x)
            return v.real if abs(v.imag) < 1e-12 and math.isfinite(v.real) else None
    except Exception:
        pass
    return None


# --------------------------------------------------------------------------------------------- comparing


def preview(a: np.ndarray, n: int = PREVIEW) -> str:
    """The first ``n`` entries of ``a`` (flattened), formatted compactly."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    body = ", ".join(f"{v:.6g}" for v in flat[:n])
    return f"[{body}{', ...' if flat.size > n else ''}]"


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max(1e-8, max(|a| + |b|)); whole-array and scale-aware (as reference_impl.gradcheck)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def close(a: Any, b: np.ndarray, tol: float = VALUE_TOL) -> bool:
    """True when ``a`` is an array (or number) of b's shape whose values match b to ``tol``."""
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    if b.size == 0:
        return True
    if not np.all(np.isfinite(a)):
        return False
    return rel_error(a, b) < tol


def array_problem(got: Any, expected: np.ndarray, *, tol: float = VALUE_TOL, scalar_ok: bool = False) -> str | None:
    """Why ``got`` is not an acceptable answer equal to ``expected``, or None when it is.

    Order: type, exact shape (no broadcasting), dtype float64, finite values, values.
    """
    expected = np.asarray(expected, dtype=np.float64)
    if got is None:
        return "got None: the function has no `return` (or returns None) for this output."
    if scalar_ok and expected.shape == () and isinstance(got, (int, float, np.number)) and not isinstance(got, bool):
        got = np.float64(got)
    if not isinstance(got, (np.ndarray, np.floating)):
        return f"expected a NumPy array of shape {expected.shape}, got {type_name(got)} ({brief(got)})."
    got_arr = np.asarray(got)
    if got_arr.shape != expected.shape:
        hint = ""
        if got_arr.size == expected.size:
            hint = " (same number of entries: a reshape, transpose or keepdims problem?)"
        return f"shape {got_arr.shape}, expected {expected.shape}{hint}."
    if got_arr.dtype != np.float64:
        return (f"dtype {got_arr.dtype}, expected float64: compute in float64 (integer or float32 arrays lose "
                f"the precision gradient checks need).")
    bad = ~np.isfinite(got_arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"{int(bad.sum())} non-finite value(s) (first at index {idx}: {got_arr[idx]}); look for "
                f"overflow in exp, division by zero or log(0).")
    if expected.size == 0:
        return None
    err = rel_error(got_arr, expected)
    if err < tol:
        return None
    worst = np.unravel_index(int(np.argmax(np.abs(got_arr - expected))), expected.shape)
    worst_idx = tuple(int(i) for i in worst)
    return (f"values differ: relative error {err:.2e} (tolerance {tol:.0e}); worst entry {worst_idx}: got "
            f"{got_arr[worst]:.6g}, expected {expected[worst]:.6g}.\n      got      {preview(got_arr)}\n"
            f"      expected {preview(expected)}")


def diagnose(got: Any, expected: np.ndarray, candidates: Mapping[str, Any] | None = None, *,
             batch_size: int | None = None, tol: float = 1e-6, generic: bool = True) -> diagnoses.Diagnosis | None:
    """Name the mistake when ``got`` equals a known wrong answer.

    ``candidates`` maps diagnosis codes to the array (or list of arrays) that mistake produces on this
    input; after those,
    generic gradient patterns are tried (unless ``generic=False``): all zeros, sign flip, a factor N or
    1/N, a transpose.
    """
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    e = np.asarray(expected, dtype=np.float64)
    for code, variants in (candidates or {}).items():
        for wrong in variants if isinstance(variants, list) else [variants]:
            wrong = np.asarray(wrong, dtype=np.float64)
            if (g.shape == wrong.shape and np.all(np.isfinite(g)) and not close(wrong, e, tol)
                    and close(g, wrong, tol)):
                return diagnoses.get(code)
    if not generic:
        return None
    if g.shape == e.shape and np.all(np.isfinite(g)) and np.any(e != 0):
        if not np.any(g):
            return diagnoses.get("ZERO_GRADIENT")
        if close(g, -e, tol):
            return diagnoses.get("SIGN_FLIP")
        if batch_size and batch_size > 1:
            if close(g, e * batch_size, tol):
                return diagnoses.get("MISSING_1_OVER_N")
            if close(g, e / batch_size, tol):
                return diagnoses.get("EXTRA_1_OVER_N")
    if e.ndim == 2 and g.shape == e.T.shape and e.shape[0] != e.shape[1]:
        return diagnoses.get("MISSING_TRANSPOSE")
    return None


# --------------------------------------------------------------------------------------------- scoring


@dataclass
class SubCheck:
    name: str
    weight: float
    passed: bool
    messages: list[str] = field(default_factory=list)


class Report:
    """Weighted sub-checks of one exercise, turned into a score or an AssertionError by :meth:`finish`."""

    def __init__(self, exercise: str, points: float | None = None, seed: int = 0):
        if points is not None:
            if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points) \
                    or points <= 0:
                raise ValueError(f"points must be a positive number, got {points!r}")
        self.exercise = exercise
        self.points = points
        self.seed = seed
        self.checks: dict[str, SubCheck] = {}
        self.notes: list[str] = []

    def watch_inputs(self) -> None:
        """Declare the course-wide sub-check "inputs left unchanged" (worth MUTATION_SHARE of the exercise's points,
        whatever its other sub-checks): pass ``report=`` to call_student and a function that modifies its input
        arrays fails it, named INPUT_MUTATED. Use it in every exercise whose contract leaves inputs alone."""
        self.declare(MUTATION_CHECK, weight=0.0)

    def mutated(self, label: str) -> None:
        """Record that ``label`` modified its inputs (fails "inputs left unchanged" when it is watched)."""
        if MUTATION_CHECK in self.checks:
            self.fail(MUTATION_CHECK, f"{label} modified its input arrays in place." + describe(
                diagnoses.get("INPUT_MUTATED")))

    def _weights(self) -> dict[str, float]:
        """Sub-check weights, with "inputs left unchanged" worth MUTATION_SHARE of the total."""
        weights = {n: c.weight for n, c in self.checks.items()}
        if MUTATION_CHECK in weights and len(weights) > 1:
            others = sum(w for n, w in weights.items() if n != MUTATION_CHECK)
            weights[MUTATION_CHECK] = others * MUTATION_SHARE / (1 - MUTATION_SHARE)
        return weights

    def declare(self, name: str, weight: float = 1.0) -> None:
        """Register a sub-check that passes unless :meth:`fail` is called for it."""
        if name not in self.checks:
            self.checks[name] = SubCheck(name, float(weight), True)

    def fail(self, name: str, message: str, weight: float = 1.0) -> None:
        """Mark sub-check ``name`` failed; the first few messages per sub-check are kept."""
        self.declare(name, weight)
        sub = self.checks[name]
        sub.passed = False
        if len(sub.messages) < 2 and message not in sub.messages:
            sub.messages.append(message)

    def record(self, name: str, problem: str | None, weight: float = 1.0) -> bool:
        """Declare ``name`` and fail it when ``problem`` is a message; returns True when it passed."""
        self.declare(name, weight)
        if problem:
            self.fail(name, problem, weight)
            return False
        return True

    def passed(self, name: str) -> bool:
        return name in self.checks and self.checks[name].passed

    def timed_out(self, examined: "set[str] | Sequence[str]") -> None:
        """After a time-out, fail every sub-check no case has examined yet (but the input rule): a function that
        loops forever earns nothing for the cases it never reached."""
        for name, sub in self.checks.items():
            if name not in examined and name != MUTATION_CHECK and sub.passed:
                self.fail(name, "not checked: your code ran out of time on an earlier case (see above).", sub.weight)

    @property
    def fraction(self) -> float:
        weights = self._weights()
        total = sum(weights.values())
        if total == 0:
            return 0.0
        # "inputs left unchanged" is only credited when something else passed: a function that raises or returns
        # garbage leaves its inputs alone too, and earns nothing for it
        earned = any(c.passed for n, c in self.checks.items() if n != MUTATION_CHECK)
        return sum(weights[n] for n, c in self.checks.items()
                   if c.passed and (n != MUTATION_CHECK or earned)) / total

    def failure_text(self) -> str:
        lines = [f"{self.exercise} (seed {self.seed}):"]
        for c in self.checks.values():
            if not c.passed:
                for m in c.messages:
                    lines.append(f"  ✗ {c.name}: {m}")
        for c in self.checks.values():
            if c.passed:
                lines.append(f"  ✓ {c.name}")
        for n in dict.fromkeys(self.notes):
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def finish(self) -> float | None:
        if not self.checks:
            raise RuntimeError(f"{self.exercise}: the grader declared no checks (grader bug)")
        frac = self.fraction
        collector = FINISHED_REPORTS.get()
        if collector is not None:
            collector.append({"exercise": self.exercise, "fraction": frac,
                                     "failed": [c.name for c in self.checks.values() if not c.passed]})
        if frac == 1.0:
            for n in dict.fromkeys(self.notes):
                print(f"note: {n}")
            print(f"✓ {self.exercise}: all {len(self.checks)} checks passed.")
            return None if self.points is None else float(self.points)
        if frac == 0.0 or self.points is None:
            raise GradingError(self.failure_text(), exercise=self.exercise, total=len(self.checks),
                               failed=sum(not c.passed for c in self.checks.values()))
        score = round(self.points * frac, 4)
        print(self.failure_text())
        print(f"Partial credit: {score:g} of {self.points:g} points "
              f"({sum(c.passed for c in self.checks.values())} of {len(self.checks)} checks passed).")
        return score


def describe(diag: diagnoses.Diagnosis | None) -> str:
    return "" if diag is None else f"\n      Likely mistake {diag.describe()}"


def unpack(result: Any, names: Sequence[str], label: str) -> tuple:
    """Split a function's result into ``len(names)`` outputs or raise StudentCodeError saying why not.

    A single output may be returned bare or as a 1-tuple.
    """
    n = len(names)
    if n == 1:
        if isinstance(result, (tuple, list)) and len(result) == 1:
            return (result[0],)
        return (result,)
    if result is None:
        raise StudentCodeError(f"{label} returned None; it must return {n} values ({', '.join(names)}). "
                               f"Did you forget `return`?")
    if not isinstance(result, (tuple, list)):
        raise StudentCodeError(f"{label} returned a single {type_name(result)}; it must return a tuple of "
                               f"{n} values ({', '.join(names)}).")
    if len(result) != n:
        raise StudentCodeError(f"{label} returned {len(result)} values; it must return {n} "
                               f"({', '.join(names)}) in that order.")
    return tuple(result)


def own_forward_vjps(forward: Callable, args: Sequence, wrt: Sequence[int], dout: np.ndarray,
                     kwargs: Mapping[str, Any] | None = None, label: str = "finite differences of your forward"
                     ) -> dict[int, np.ndarray]:
    """Finite-difference VJPs of the student's forward (first output) w.r.t. args[wrt[k]], keyed by k, computed where
    the forward runs (one request across the cohort link, not hundreds). Entries that cannot be computed are left
    out; a forward that raises or times out gives {}."""
    try:
        result = call_student(catalogue.item("forward_vjps"), forward, tuple(args), list(wrt), dout,
                              dict(kwargs or {}), label=label)
    except StudentCodeError:
        return {}
    return result if isinstance(result, dict) else {}


def own_numeric_vjp(fn: Callable, args: Sequence, target: Sequence, dout: Any, *,
                    kwargs: Mapping[str, Any] | None = None, outputs: int = 1,
                    label: str = "finite differences of your function") -> np.ndarray | None:
    """sum(dout * d fn(...) / d target) by centred differences of the STUDENT's ``fn``, computed where it runs.

    ``target``: (i,) for args[i], (i, key) for args[i][key], ("kw", name) for kwargs[name]; ``outputs``: 0 for the
    whole result, n >= 1 for the first n outputs (stacked). None when the function fails or gives non-finite values.
    """
    try:
        result = call_student(catalogue.item("fd_vjp"), fn, tuple(args), dict(kwargs or {}), list(target), dout,
                              int(outputs), label=label)
    except StudentCodeError:
        return None
    return result if isinstance(result, np.ndarray) else None


def numeric_vjp_safe(f: Callable[[np.ndarray], Any], x: np.ndarray, dout: np.ndarray, h: float = 1e-5) -> np.ndarray | None:
    """Centred-difference VJP of a student's function, or None when the function misbehaves (the catalogue's
    centred_vjp, the same differences the student's side computes, with warnings and stderr kept quiet)."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return catalogue_numeric.centred_vjp(f, x, dout, h)
