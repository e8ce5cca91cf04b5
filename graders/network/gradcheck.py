"""Gradient checking: check_numeric_gradient (centred differences of a function of an array) and check_rel_error.

The learner's numeric_gradient receives the test function f(x) = sum(A * sin(x)) + 0.5 * sum(B * x**3) as the
catalogue item ``array_function`` (evaluated where the learner's code runs); one-sided differences, an ignored
h and an x left modified are named. rel_error is compared with the whole-array formula, its 1e-8 floor
included.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from graders import diagnoses
from graders.core import array_problem, describe, diagnose, require_callable, unpack
from graders.network.grading import _away, _finite, _Grader, _name, _number_problem, _Stop
from graders.remote import catalogue
from graders.remote.catalogue.numeric import array_function
from reference_impl import gradcheck as _ref_gc


# =============================================================================================== gradient checking


def _fd(f: Callable, x: np.ndarray, h: float, mode: str) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        f0 = f(x)
        grad[i] = {"forward": (fp - f0) / h, "backward": (f0 - fm) / h, "centred": (fp - fm) / (2 * h)}[mode]
    return grad


def _fd_cases(rng: np.random.Generator, thorough: bool):
    specs = [((3, 4), None), ((5,), 1e-2), ((2, 3, 2), None)] + ([((1,), 1e-4), ((6,), 1e-3), ((2, 2, 2), 1e-3)]
                                                                 if thorough else [])
    cases = []
    for shape, h in specs:
        x = _away(rng, shape, 0.5, 1.5)
        A, B = _away(rng, shape), _away(rng, shape)  # f(x) = sum(A * sin(x)) + 0.5 * sum(B * x**3), a float
        cases.append((f"x {shape}, " + ("default h" if h is None else f"h={h:g}"), (A, B), x, h))
    return cases


def check_numeric_gradient(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``numeric_gradient(f, x, h=1e-5) -> grad``.

    Contract: f maps a float64 array shaped like x to a Python float; x is a float64 array of any shape; h is
    the step (default 1e-5, and the given h must be used). Returns a float64 array shaped like x with
    grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h) (centred differences, as
    reference_impl.gradcheck.numeric_grad). When the function returns, x holds exactly its original values
    (restore each entry with x[i] = old; x[i] + h - h may differ from x[i] in its last digits). Sub-checks:
    "gradient with the default step", "gradient with a given step h" (an ignored h costs only this one) and the
    course-wide "inputs left unchanged" (x only; f is the grader's). Both kinds, a 3-D x among them, are in the
    visible test; ``thorough`` adds more of each. The grader calls
    fn(f, x) for the default step and fn(f, x, h) otherwise.
    """
    require_callable(fn, "numeric_gradient", 2)
    label = f"{_name(fn, 'numeric_gradient')}()"
    subs = {True: "gradient with the default step", False: "gradient with a given step h"}
    g = _Grader("numeric gradient", points, seed, list(subs.values()), watch_inputs=True)
    try:
        for where, (A, B), x, h in _fd_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            sub = subs[h is None]
            f = array_function(A, B)  # for the expected values; the student's code gets the catalogue item
            f_item = catalogue.item("array_function", A=A, B=B)
            args = (f_item, x) if h is None else (f_item, x, h)
            step = 1e-5 if h is None else h
            ok, grad, changed = g.call(fn, *args, label=label, where=where, fail=[sub],
                                       watch=("f", "x", "h")[:len(args)], only=(1,))
            left_moved = False
            if changed:
                _, old, new = changed[0]
                try:
                    diff = float(np.max(np.abs(np.asarray(new, dtype=np.float64) - old)))
                except Exception:
                    diff = float("inf")
                if diff <= 1e-12 * max(1.0, float(np.max(np.abs(old)))):
                    g.changed_inputs(where, f"{label} left x changed in its last digits (by up to {diff:.1e}): "
                                            f"x[i] + h - h is not exactly x[i] in floating point. Save old = x[i] "
                                            f"and restore it exactly with x[i] = old.")
                else:
                    left_moved = True
                    g.changed_inputs(where, f"{label} returned with x modified (largest change {diff:.3g}). Save "
                                            f"old = x[i], evaluate f at old + h and old - h, then restore x[i] = old "
                                            f"before moving on; the caller's x must be unchanged.")
            if not ok:
                continue
            (grad,) = unpack(grad, ("grad",), label)
            expected = _ref_gc.numeric_grad(f, x, step)
            problem = array_problem(grad, expected)
            if problem is None:
                continue
            cands = {"ONE_SIDED_DIFFERENCE": [_fd(f, x, step, "forward"), _fd(f, x, step, "backward")],
                     "FD_DENOMINATOR": [2 * expected, expected * step * step, expected / 2]}
            if h is not None:
                cands["FD_STEP_IGNORED"] = _ref_gc.numeric_grad(f, x, 1e-5)
            diag = diagnose(grad, expected, cands)
            text = f"{where}: grad {problem}{describe(diag)}"
            if left_moved:
                text += ("\n      x was also left modified, which moves the point where the later entries are "
                         "evaluated.")
            g.fail(sub, text)
    except _Stop:
        pass
    return g.finish()


def _rel_error_cases(rng: np.random.Generator, thorough: bool):
    """(label, a, b, floor case?)."""
    a = rng.standard_normal((3, 4))
    c = rng.standard_normal(5)
    tiny = 1e-10 * rng.standard_normal(4)
    cases = [("a, b (3, 4) nearly equal", a, a + 1e-6 * rng.standard_normal((3, 4)), False),
             ("a, b (5,) different", c, rng.standard_normal(5), False),
             ("a, b (2, 3) different scales", 100.0 * rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), False),
             ("a == b (4,)", c[:4], c[:4].copy(), False),
             ("a, b (2, 3) all zeros", np.zeros((2, 3)), np.zeros((2, 3)), True),
             ("a, b (4,) around 1e-10", tiny, tiny + 3e-11 * rng.standard_normal(4), True)]
    if thorough:
        cases += [("a, b (2, 3, 2)", rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2)), False),
                  ("a, b (1,)", np.array([2.0]), np.array([-1.0]), False),
                  ("a, b (3,) around 1e12", 1e12 * rng.standard_normal(3), 1e12 * rng.standard_normal(3), False),
                  ("a zero, b (3,) around 1e-9", np.zeros(3), 1e-9 * rng.standard_normal(3), True)]
    return cases


def _rel_error_variants(a: np.ndarray, b: np.ndarray) -> dict[str, list[float]]:
    d = np.abs(a - b)
    s = np.abs(a) + np.abs(b)
    return {
        "REL_ERROR_FORMULA": [np.max(d / np.maximum(1e-8, s)), np.max(d / s) if np.all(s > 0) else np.nan,
                              np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b)),
                              np.max(d) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(b)))],
        "REL_ERROR_FLOOR": [np.max(d) / np.max(s) if np.max(s) > 0 else np.nan, np.max(d) / (np.max(s) + 1e-8)],
    }


def check_rel_error(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``rel_error(a, b) -> float``.

    Contract: a and b are float64 arrays of the same shape; the result is one number (Python float, NumPy
    float64 or 0-d float64 array) equal to max|a - b| / max(1e-8, max(|a| + |b|)) (whole-array, as
    reference_impl.gradcheck.rel_error); two zero arrays give 0.0. Inputs are not modified.
    Sub-checks: "general arrays", "near-zero arrays (the 1e-8 floor)" and the course-wide "inputs left unchanged".
    """
    require_callable(fn, "rel_error", 2)
    label = f"{_name(fn, 'rel_error')}()"
    subs = {False: "general arrays", True: "near-zero arrays (the 1e-8 floor)"}
    g = _Grader("rel_error", points, seed, list(subs.values()), watch_inputs=True)
    try:
        for where, a, b, floor in _rel_error_cases(np.random.default_rng(seed), thorough):
            where = f"case {where}"
            sub = subs[floor]
            ok, res, _ = g.call(fn, a, b, label=label, where=where, fail=[sub], watch=("a", "b"))
            if not ok:
                continue
            (res,) = unpack(res, ("rel_error",), label)
            expected = _ref_gc.rel_error(a, b)
            problem = _number_problem(res, expected, what="rel_error")
            if problem is None:
                continue
            variants = _rel_error_variants(a, b)
            order = ["REL_ERROR_FLOOR", "REL_ERROR_FORMULA"] if floor else ["REL_ERROR_FORMULA", "REL_ERROR_FLOOR"]
            cands = {k: [np.float64(v) for v in variants[k] if np.isfinite(v)] for k in order}
            diag = diagnose(res, expected, cands, generic=False)
            if diag is None and floor and not _finite(res):
                diag = diagnoses.get("REL_ERROR_FLOOR")
            hint = ""
            if isinstance(res, np.ndarray) and res.shape == a.shape and a.size > 1:
                hint = ("\n      You returned one value per entry; rel_error is a single number for the whole "
                        "array (take the max of |a - b| and of |a| + |b|).")
            g.fail(sub, f"{where}: rel_error {problem}{describe(diag)}{hint}")
    except _Stop:
        pass
    return g.finish()
