"""Checks specific to notebook 05 (forward vs reverse mode, expression swell, finite differences, memory).

The generic autodiff checks (dual numbers, JVP/VJP, Jacobians, pass counts, checkpointing, HVP) live in
graders/autodiff/; this module holds what only this notebook asks:

- :func:`check_reverse_trace`: the adjoints of the worked example f = x1 * x2 + sin(x1) at (2, 3), traced
  by hand (a dict of numbers);
- :func:`check_derivative_sizes`: expression swell measured with SymPy (``count_ops`` of the symbolic
  derivative of f nested 1..depth times), compared with ``reference_impl.symbolic.expression_swell``;
- :func:`check_finite_differences`: forward and centred differences, their values and their errors
  against the exact derivative (order h, order h**2, round-off growing like eps / h);
- :func:`check_best_steps`: the step sizes with the smallest error, read off the error-vs-h plot;
- :func:`check_activation_memory`: the interview estimate of activation memory with and without
  gradient checkpointing.

Expected values are computed here (from reference_impl or from the sizes, in private helpers) so that no
answer appears in the notebook or among this module's public names. Every check follows graders/core.py: a pure function of its arguments and seed that returns
``points`` when everything passed, partial credit when some sub-checks passed, and raises an AssertionError
naming what to fix otherwise.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np
import sympy as sp

from graders import typed
from graders.core import (GradingError, brief, real_number, Report, StudentCodeError, StudentTimeout, call_student, close, describe,
                          diagnose, require_callable)
from graders.remote import catalogue as _catalogue
from graders.remote.catalogue.numeric import fd_function as _fd_function_of
from graders.remote.catalogue.symbolic import make_map as _make_map
from reference_impl import symbolic as _ref_sym
from reference_impl.autodiff import checkpoint as _ref_ckpt

__all__ = ["check_reverse_trace", "check_derivative_sizes", "check_finite_differences", "check_best_steps",
           "check_activation_memory", "TRACE_KEYS", "SWELL_CASES", "MEMORY_KEYS"]

EPS = float(np.finfo(np.float64).eps)


def _rel_close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-12)


# ============================================================================================ reverse trace

TRACE_KEYS = ("v5", "v4", "v3", "v2", "v1")


def _trace_reference() -> dict[str, float]:
    x1, x2 = 2.0, 3.0
    bar5 = 1.0
    bar4 = bar5 * 1.0           # v5 = v3 + v4
    bar3 = bar5 * 1.0
    bar2 = bar3 * x1            # v3 = v1 * v2
    bar1 = bar3 * x2 + bar4 * math.cos(x1)   # v1 feeds v3 and v4: the two contributions add
    return {"v5": bar5, "v4": bar4, "v3": bar3, "v2": bar2, "v1": bar1}


def check_reverse_trace(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the reverse-mode trace of f = x1 * x2 + sin(x1) at (x1, x2) = (2, 3).

    The trace is v1 = x1, v2 = x2, v3 = v1 * v2, v4 = sin(v1), v5 = v3 + v4 (= f). ``answers`` maps
    "v5", "v4", "v3", "v2", "v1" to the adjoints d f / d v_i (numbers, or numeric strings such as "2.584";
    four significant digits are enough, the course's precision for typed numbers). One sub-check per entry.
    ``seed``/``thorough`` are accepted for uniformity.
    """
    if answers is None or not isinstance(answers, dict):
        got = "None (assign the dict in the cell above)" if answers is None else type(answers).__name__
        raise GradingError(f"answers: expected a dict like {{'v5': ..., 'v4': ..., ...}}, got {got}.")
    want = _trace_reference()
    rep = Report("reverse-mode trace of x1 * x2 + sin(x1)", points, seed)
    c2 = math.cos(2.0)
    hints = {
        "v4": {c2: "cos(2) is the local derivative d v4 / d v1, used when v4 passes its adjoint on to v1; the "
                   "adjoint of v4 itself is v5_bar * d v5 / d v4."},
        "v3": {2.0: "d v5 / d v3 = 1 for a sum; the factor 2 appears one step later, for v2."},
        "v2": {3.0: "d (v1 * v2) / d v2 is the OTHER factor, v1 (not v2 itself).",
               6.0: "that is v3's value; the adjoint of v2 is v3_bar * d v3 / d v2."},
        "v1": {3.0: "v1 is used twice (by v3 and by v4): its adjoint is the SUM of both contributions; you kept "
                    "only the product path v3_bar * v2.",
               c2: "v1 is used twice (by v3 and by v4): its adjoint is the SUM of both contributions; you kept "
                   "only the sine path v4_bar * cos(v1).",
               3.0 * c2: "the contributions of the two paths ADD; they are not multiplied.",
               2.0 + c2: "in the product path d (v1 * v2) / d v1 is the other factor, v2 (not v1).",
               3.0 - math.sin(2.0): "d sin(v1) / d v1 = cos(v1), not -sin(v1)."},
    }
    for key in TRACE_KEYS:
        name = f"adjoint of {key}"
        rep.declare(name)
        if key not in answers:
            rep.fail(name, f"answers['{key}'] is missing.")
            continue
        got = typed.number(answers[key])
        if got is None:
            rep.fail(name, f"answers['{key}'] = {brief(answers[key])}: give a number (e.g. 0.5 or np.cos(1.0)).")
            continue
        if _rel_close(got, want[key], typed.REL_TOL) or abs(got - want[key]) < typed.ABS_TOL:
            continue
        hint = next((h for wrong, h in hints.get(key, {}).items() if _rel_close(got, wrong, typed.REL_TOL)), "")
        if not hint and _rel_close(got, -want[key], typed.REL_TOL):
            hint = "the sign is flipped."
        rep.fail(name, f"answers['{key}'] = {got:.6g} is not d f / d {key}."
                       + (f"\n      Likely mistake: {hint}" if hint else
                          " Walk the trace backwards: v_bar = sum over the nodes that use v of "
                          "(their v_bar) * (local derivative)."))
    extra = [k for k in answers if k not in TRACE_KEYS]
    if extra:
        rep.notes.append(f"ignored unknown key(s): {', '.join(map(str, extra))}")
    return rep.finish()


# ============================================================================================ expression swell


# the maps u -> f(u) live in graders.remote.catalogue.symbolic: a learner's function calls them where it runs
_MAPS = {"logistic": "logistic", "sin_times": "sin_times", "square_plus": "square_plus", "exp_over": "exp_over",
         "logistic_1": "logistic"}
SWELL_CASES = {  # name -> (f, depth, text)
    "logistic": (_make_map("logistic"), 5, "f(u) = 4*u*(1 - u)"),
    "sin_times": (_make_map("sin_times"), 3, "f(u) = sin(u)*u"),
    "square_plus": (_make_map("square_plus"), 6, "f(u) = u*u + 3*u"),
    "exp_over": (_make_map("exp_over"), 3, "f(u) = exp(u)/(1 + u*u)"),
    "logistic_1": (_make_map("logistic"), 1, "f(u) = 4*u*(1 - u)"),
}
# the kind of each case, one sub-check per kind (the visible test has one case of each)
_SWELL_KINDS = {"logistic": "polynomial maps", "square_plus": "polynomial maps",
                "sin_times": "maps with sin or exp", "exp_over": "maps with sin or exp", "logistic_1": "depth 1"}


def _as_int_list(value: Any) -> list[int] | None:
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            return None
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for v in value:
        r = real_number(v)
        if r is None or not float(r).is_integer():
            return None
        out.append(int(r))
    return out


@functools.lru_cache(maxsize=None)
def _swell_sizes(name: str) -> tuple[int, ...]:
    """The expected sizes for one of SWELL_CASES: expression_size (count_ops) of sp.diff of f nested k = 1..depth
    times, as ``reference_impl.symbolic.expression_swell`` counts ``derivative_ops`` (without its costlier columns,
    which :func:`_swell_rows` computes only for an answer that is wrong). Built once per process."""
    f, depth, _ = SWELL_CASES[name]
    x = sp.Symbol("x")
    expr, sizes = x, []
    for _ in range(depth):
        expr = f(expr)
        sizes.append(_ref_sym.expression_size(sp.diff(expr, x)))
    return tuple(sizes)


@functools.lru_cache(maxsize=None)
def _swell_rows(name: str) -> list[dict]:
    """reference_impl.symbolic.expression_swell for one of SWELL_CASES (only for a wrong answer; built once)."""
    f, depth, _ = SWELL_CASES[name]
    return _ref_sym.expression_swell(depth, f)


@functools.lru_cache(maxsize=None)
def _expanded_size(name: str, k: int) -> int:
    """Size of the derivative of f applied k times after sp.expand (expand is the slow part: built on demand)."""
    f = SWELL_CASES[name][0]
    x = sp.Symbol("x")
    expr = x
    for _ in range(k):
        expr = f(expr)
    return _ref_sym.expression_size(sp.expand(sp.diff(expr, x)))


def _sizes_are_expanded(name: str, sizes: list[int]) -> bool:
    """Whether ``sizes`` are the sizes of the expanded derivatives, depth by depth, stopping at the first that is
    not (so a wrong answer of another kind costs one small expand, not the deepest one)."""
    return all(s == _expanded_size(name, k + 1) for k, s in enumerate(sizes))


def check_derivative_sizes(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, depth) -> list of depth ints``: the size of the symbolic derivative of f nested k times.

    Student contract: ``f`` maps a SymPy expression to a SymPy expression (one level, e.g. the logistic map
    u -> 4u(1 - u)); with x = sp.Symbol("x"), entry k - 1 of the returned list (k = 1..depth) is
    ``sp.count_ops(sp.diff(f(f(...f(x))), x))`` with f applied k times, the derivative exactly as
    ``sp.diff`` returns it (no simplify, expand or cse). Compared with
    ``reference_impl.symbolic.expression_swell(depth, f)["derivative_ops"]``.

    One sub-check per kind of case: polynomial maps (visible: the logistic map to depth 5; thorough adds
    u*u + 3u to depth 6), maps with sin or exp (sin(u)*u to depth 3; thorough adds exp(u)/(1 + u*u) to depth 3),
    depth 1 (the logistic map once).
    """
    require_callable(fn, "derivative_sizes", 2)
    names = ["logistic", "sin_times", "logistic_1"] + (["square_plus", "exp_over"] if thorough else [])
    rep = Report("expression swell (size of the symbolic derivative)", points, seed)
    for case in names:
        rep.declare(_SWELL_KINDS[case])
    for i, name in enumerate(names):
        case = _SWELL_KINDS[name]
        _, depth, text = SWELL_CASES[name]
        where = f"{text}, depth = {depth}"
        want = list(_swell_sizes(name))
        try:
            got = call_student(fn, _catalogue.item("sympy_map", name=_MAPS[name]), depth,
                               label=f"derivative_sizes(f, {depth})", notes=rep.notes)
        except StudentCodeError as exc:
            rep.fail(case, f"{where}: {exc}")
            if isinstance(exc, StudentTimeout):
                for other in names[i + 1:]:
                    if rep.passed(_SWELL_KINDS[other]):
                        rep.fail(_SWELL_KINDS[other], "not checked: your function ran out of time in an earlier case.")
                break
            continue
        sizes = _as_int_list(got)
        if sizes is None:
            hint = ""
            if isinstance(got, (list, tuple)) and got and isinstance(got[0], sp.Basic) and not got[0].is_number:
                hint = " It holds expressions: measure each with sp.count_ops(...) and return the counts."
            rep.fail(case, f"{where}: expected a list of {depth} integers, got {brief(got)}.{hint}")
            continue
        if sizes == want:
            continue
        if len(sizes) != depth:
            hint = ""
            if len(sizes) == depth + 1:
                hint = " (one too many: start with f applied once, k = 1, not with x itself)"
            rep.fail(case, f"{where}: {len(sizes)} sizes, expected {depth} (one per k = 1..{depth}){hint}.")
            continue
        rows = _swell_rows(name)
        known = [
            ([r["primal_tree_ops"] for r in rows], "those are the sizes of the nested expression itself; "
                                                   "differentiate it first (sp.diff(expr, x)) and measure that."),
            ([r["derivative_cse_ops"] for r in rows], "those are the sizes AFTER common-subexpression "
                                                      "elimination; measure the raw tree that sp.diff returns."),
            ([0] + want[:-1], "shifted by one: entry 0 is for f applied ONCE (k = 1); apply f before you "
                              "differentiate in each step."),
        ]
        hint = next((h for wrong, h in known if sizes == wrong and wrong != want), "")
        if not hint and _sizes_are_expanded(name, sizes):
            hint = "the derivative was expanded or simplified; measure it exactly as sp.diff returns it."
        rep.fail(case, f"{where}: sizes {sizes}, expected {want}."
                       + (f"\n      Likely mistake: {hint}" if hint else ""))
    return rep.finish()


# ============================================================================================ finite differences

TRUNCATION_STEPS = (1e-1, 1e-2, 1e-3, 1e-4)   # truncation error dominates here: values compared with the formula
ROUNDOFF_STEPS = (1e-11, 1e-12, 1e-13)       # round-off dominates here


def _fd_function(rng: np.random.Generator):
    """(params, f, df, text): f(x) = a sin(b x) + c exp(d x) + e x**3 (the catalogue's ``fd_function`` with
    params, which the learner's code receives) and its exact derivative df."""
    a, c, e = (round(float(rng.uniform(0.5, 1.5)) * float(rng.choice([-1, 1])), 3) for _ in range(3))
    b, d = round(float(rng.uniform(0.7, 2.0)), 3), round(float(rng.uniform(-0.8, 0.8)), 3)
    params = {"a": a, "b": b, "c": c, "d": d, "e": e}
    f = _fd_function_of(params)

    def df(x):
        return a * b * math.cos(b * x) + c * d * math.exp(d * x) + 3 * e * x ** 2

    text = (f"f(x) = {a:g} sin({b:g} x) {'-' if c < 0 else '+'} {abs(c):g} exp({d:g} x) "
            f"{'-' if e < 0 else '+'} {abs(e):g} x^3")
    return params, f, df, text


def _fd(f, x: float, h: float, kind: str) -> float:
    if kind == "forward":
        return (f(x + h) - f(x)) / h
    if kind == "backward":
        return (f(x) - f(x - h)) / h
    return (f(x + h) - f(x - h)) / (2 * h)


def _slope(errs: list[float], hs: tuple[float, ...]) -> float:
    """Least-squares slope of log10(err) against log10(h)."""
    le = np.log10(np.maximum(np.asarray(errs, dtype=np.float64), 1e-300))
    lh = np.log10(np.asarray(hs, dtype=np.float64))
    return float(np.polyfit(lh, le, 1)[0])


FWD_SLOPE_STEPS = (1e-1, 1e-2, 1e-3)
CTR_SLOPE_STEPS = (1e-1, 1e-2 / 3, 1e-2)
FWD_BAND, CTR_BAND = (0.75, 1.25), (1.7, 2.3)


def _slopes(values: dict[str, dict[float, float]], exact: float) -> tuple[float, float]:
    """(forward slope, centred slope) of the errors of the approximations ``values[kind][h]``."""
    return (_slope([abs(values["forward"][h] - exact) for h in FWD_SLOPE_STEPS], FWD_SLOPE_STEPS),
            _slope([abs(values["centred"][h] - exact) for h in CTR_SLOPE_STEPS], CTR_SLOPE_STEPS))


def _textbook(f: Callable, df: Callable, x: float) -> bool:
    """The reference formulas show the textbook slopes at x (second and third derivative not near 0)."""
    values = {k: {h: _fd(f, x, h, k) for h in FWD_SLOPE_STEPS + CTR_SLOPE_STEPS} for k in ("forward", "centred")}
    s_fwd, s_ctr = _slopes(values, df(x))
    return (FWD_BAND[0] + 0.05 <= s_fwd <= FWD_BAND[1] - 0.05
            and CTR_BAND[0] + 0.05 <= s_ctr <= CTR_BAND[1] - 0.05)


def _fd_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[dict, Callable, Callable, float, str]]:
    """Seeded test functions (catalogue params, f, df) and points where both error laws are clearly visible."""
    cases: list[tuple[dict, Callable, Callable, float, str]] = []
    for _ in range(200):
        if len(cases) == (4 if thorough else 2):
            break
        params, f, df, text = _fd_function(rng)
        x = round(float(rng.uniform(-1.5, 1.5)), 3)
        if _textbook(f, df, x):
            cases.append((params, f, df, x, text))
    # the two special kinds (x = 0, and a point far from 0 where x + h rounds) in the visible test too
    cases.append(({"kind": "exp"}, math.exp, math.exp, 0.0, "f(x) = exp(x)"))
    cases.append(({"kind": "sin"}, math.sin, math.cos, 20.0, "f(x) = sin(x)"))
    return cases


ALL_STEPS = tuple(sorted(set(TRUNCATION_STEPS + FWD_SLOPE_STEPS + CTR_SLOPE_STEPS + ROUNDOFF_STEPS),
                         reverse=True))


def check_finite_differences(forward_difference, centred_difference, *, seed: int = 0,
                             points: float | None = None, thorough: bool = False):
    """Grade ``forward_difference(f, x, h)`` and ``centred_difference(f, x, h)`` and their errors.

    Student contract: f is a Python function float -> float, x and h are floats; return a float:
    forward ``(f(x + h) - f(x)) / h``, centred ``(f(x + h) - f(x - h)) / (2 h)``.

    Sub-checks (weight 1 each):
    - forward values and centred values: equal to the formulas for h = 0.1 ... 1e-4 (tolerance 1e-7 plus
      the round-off of the subtraction);
    - errors against h: the check measures |approximation - f'(x)| of YOUR functions: the forward error
      falls like h (log-log slope 1 +- 0.25 over h = 0.1 ... 1e-3), the centred error like h**2 (slope 2 +-
      0.3 over h = 0.1 ... 1e-2), and at h = 1e-11 ... 1e-13, where round-off dominates, both errors are of
      the round-off size: at most 1000 eps (|f(x)| + |x f'(x)|) / h, and at least 1 % of the plain formula's
      error there (a function that limits the step fails). Counts only once both formulas give the right
      values.
    """
    require_callable(forward_difference, "forward_difference", 3)
    require_callable(centred_difference, "centred_difference", 3)
    FW, CE, ER = "forward_difference values", "centred_difference values", "errors against h"
    rep = Report("finite differences", points, seed)
    for n in (FW, CE, ER):
        rep.declare(n)
    rng = np.random.default_rng(seed)
    fns = {"forward": forward_difference, "centred": centred_difference}
    subs = {"forward": FW, "centred": CE}
    stopped = False
    for params, f, df, x, text in _fd_cases(rng, thorough):
        where = f"{text} at x = {x:g}"
        f_item = _catalogue.item("fd_function", **params)  # f, built where the learner's code runs
        got: dict[str, dict[float, float]] = {"forward": {}, "centred": {}}
        ok = {"forward": True, "centred": True}
        for kind in ("forward", "centred"):
            sub = subs[kind]
            label = f"{kind}_difference(f, {x:g}, h)"
            for h in ALL_STEPS:
                try:
                    value = call_student(fns[kind], f_item, x, h, label=label, notes=rep.notes)
                except StudentCodeError as exc:
                    rep.fail(sub, f"{where}, h = {h:g}: {exc}")
                    ok[kind] = False
                    if isinstance(exc, StudentTimeout):
                        stopped = True
                    break
                v = real_number(value)
                if v is None:
                    rep.fail(sub, f"{where}, h = {h:g}: {label} returned {brief(value)}; return a float.")
                    ok[kind] = False
                    break
                got[kind][h] = v
            if stopped:
                break
            if not ok[kind]:
                continue
            hs = TRUNCATION_STEPS
            vec = np.array([got[kind][h] for h in hs])
            want = np.array([_fd(f, x, h, kind) for h in hs])
            slack = np.array([100 * EPS * (abs(f(x)) + 1) / h for h in hs])
            if np.all(np.abs(vec - want) <= 1e-7 * np.maximum(1.0, np.abs(want)) + slack):
                continue
            ok[kind] = False
            cands = {"FD_STEP_IGNORED": [np.full(len(hs), _fd(f, x, h0, kind)) for h0 in (1e-4, 1e-5, 1e-6, 1e-8)],
                     "SIGN_FLIP": [-want]}
            if kind == "centred":
                cands["ONE_SIDED_DIFFERENCE"] = [np.array([_fd(f, x, h, "forward") for h in hs]),
                                                 np.array([_fd(f, x, h, "backward") for h in hs])]
                cands["FD_DENOMINATOR"] = [2 * want, want * np.array(hs) ** 2, want / 2]
            diag = describe(diagnose(vec, want, cands, generic=False, tol=1e-6))
            if not diag:
                if kind == "forward" and close(vec, np.array([_fd(f, x, h, "centred") for h in hs]), 1e-6):
                    diag = ("\n      That is the centred difference; this function is the one-sided forward "
                            "difference (f(x + h) - f(x)) / h, whose O(h) error the plot compares.")
                elif kind == "forward" and close(vec, np.array([_fd(f, x, h, "backward") for h in hs]), 1e-6):
                    diag = "\n      That is the backward difference (f(x) - f(x - h)) / h; step forward: f(x + h)."
                elif kind == "forward" and close(vec, want / 2, 1e-6):
                    diag = "\n      The two points are h apart: divide by h, not 2h."
                elif close(vec, np.full(len(hs), df(x)), 1e-9):
                    diag = ("\n      That is the exact derivative: the exercise is to APPROXIMATE it from "
                            "values of f.")
            shown = ", ".join(f"h = {h:g}: {a:.8g} (expected {b:.8g})" for h, a, b in zip(hs, vec, want))
            rep.fail(subs[kind], f"{where}: {shown}{diag}")
        if stopped:
            break
        if not (ok["forward"] and ok["centred"]):
            rep.fail(ER, f"{where}: not checked until both formulas give the right values.")
            continue
        exact = df(x)
        s_fwd, s_ctr = _slopes(got, exact)
        problems = []
        if not FWD_BAND[0] <= s_fwd <= FWD_BAND[1]:
            problems.append(f"the forward error falls with slope {s_fwd:.2f} on a log-log plot for h = 0.1 ... "
                            f"1e-3; truncation makes it about 1 (error ~ h |f''| / 2)")
        if not CTR_BAND[0] <= s_ctr <= CTR_BAND[1]:
            problems.append(f"the centred error falls with slope {s_ctr:.2f}; truncation makes it about 2 "
                            f"(error ~ h^2 |f'''| / 6)")
        # round-off: f's values carry relative errors ~eps, and x + h is rounded (the step is off by ~eps |x|),
        # so at tiny h the error is of order eps (|f| + |x f'|) / h: neither much larger (something else is
        # wrong) nor much smaller than the plain formula's (the function does not really use such a step)
        for kind in ("forward", "centred"):
            mine = max(abs(got[kind][h] - exact) for h in ROUNDOFF_STEPS)
            plain = max(abs(_fd(f, x, h, kind) - exact) for h in ROUNDOFF_STEPS)
            bound = max(1000 * EPS * (abs(f(x)) + abs(x * exact) + 1e-3) / h for h in ROUNDOFF_STEPS)
            if mine > bound:
                problems.append(f"at h = 1e-11 ... 1e-13 the {kind} error reaches {mine:.3g}, more than round-off "
                                f"can explain ({bound:.2g})")
            elif mine < 0.01 * plain:
                problems.append(f"at h = 1e-11 ... 1e-13 the {kind} error stays below {mine:.3g}, while round-off "
                                f"alone gives the plain formula an error of {plain:.3g} there: does your function "
                                f"change or limit the step it is given?")
        if problems:
            rep.fail(ER, f"{where}: " + "; ".join(problems) + ("" if problems[-1].endswith("?") else "."))
    if stopped:
        for n in (FW, CE, ER):
            if rep.passed(n):
                rep.fail(n, "not checked: your code ran out of time in an earlier case (see above).")
    return rep.finish()


def check_best_steps(h_forward, h_centred, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the step sizes with the smallest error, read off the error-vs-h plot (float64).

    The total error of the forward difference is about h |f''| / 2 + 2 eps |f| / h, smallest near
    h ~ sqrt(eps) ~ 1.5e-8; the centred one about h^2 |f'''| / 6 + eps |f| / h, smallest near
    h ~ eps^(1/3) ~ 6e-6. Accepted: within a factor 10 of sqrt(eps) and of eps^(1/3) respectively
    (for functions whose f, f'', f''' are of order 1, as in the notebook). One sub-check each.
    """
    targets = {"forward": math.sqrt(EPS), "centred": EPS ** (1 / 3)}
    given = {"forward": h_forward, "centred": h_centred}
    rep = Report("best finite-difference steps", points, seed)
    for kind in ("forward", "centred"):
        rep.declare(f"best h for the {kind} difference")
    values = {k: typed.number(v) for k, v in given.items()}
    if all(v is None for v in values.values()):
        raise GradingError(f"h_best_forward = {brief(h_forward)}, h_best_centred = {brief(h_centred)}: give two "
                           f"positive numbers (read them off the plot above, e.g. 1e-3).")
    for kind in ("forward", "centred"):
        name = f"best h for the {kind} difference"
        v, t = values[kind], targets[kind]
        if v is None:
            rep.fail(name, f"h_best_{kind} = {brief(given[kind])}: give a positive number.")
            continue
        if v <= 0:
            hint = " That looks like an exponent: give the step itself, 10.0**" + f"{v:g}." if v < 0 else ""
            rep.fail(name, f"h_best_{kind} = {v:g}: a step size is positive.{hint}")
            continue
        if t / 10 <= v <= t * 10:
            continue
        other = targets["centred" if kind == "forward" else "forward"]
        if other / 10 <= v <= other * 10:
            hint = ("that is where the OTHER formula is best: the centred difference's truncation error falls like "
                    "h^2, so it can afford a larger step before round-off wins; the forward difference needs a "
                    "smaller one.")
        elif v < t:
            hint = (f"at h = {v:.1g} round-off dominates: f(x + h) - f(x) cancels almost all digits, the error grows "
                    f"like eps / h to the left of the minimum.")
        else:
            hint = (f"at h = {v:.1g} truncation dominates: the error still falls as h shrinks (slope "
                    f"{1 if kind == 'forward' else 2} on the right branch of the V).")
        rep.fail(name, f"h_best_{kind} = {v:.3g} is not where the {kind} error is smallest.\n      Likely mistake: "
                       f"{hint}")
    return rep.finish()


# ============================================================================================ activation memory

MEMORY_KEYS = ("per_layer_gb", "full_gb", "checkpointed_gb")


def _memory_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[int, int, int, int, int, int]]:
    """(B, T, H, N, k, bytes): k dividing N or not (where a missing ceil shows), 2, 4 and 8 bytes, tiny sizes."""
    cases = [(32, 2048, 12288, 96, 9, 4), (8, 4096, 8192, 64, 8, 2), (1, 1, 1, 10, 3, 8)]
    B, T, H = int(rng.integers(2, 64)), int(rng.choice([128, 512, 1024])), int(rng.choice([768, 1024, 4096]))
    N = int(rng.integers(20, 80))
    k = max(2, math.isqrt(N))
    if N % k == 0:
        N += 1
    cases.append((B, T, H, N, k, 4))
    if thorough:
        cases += [(16, 1024, 2048, 50, 5, 8), (4, 256, 1024, 30, 6, 2)]
        N = int(rng.integers(100, 400))
        k = math.isqrt(N)
        cases.append((int(rng.integers(1, 16)), 2048, 5120, N + (1 if N % k == 0 else 0), k, 2))
    return cases


def _accepted_checkpoint_counts(N: int, k: int) -> dict[int, str]:
    """Tensor counts accepted for the checkpointing peak: ceil(N / k) checkpoints + k activations of a segment
    (the count the notebook describes), or the exact peak of reference_impl's schedule (one less when the last
    segment is shorter)."""
    return {math.ceil(N / k) + k: "ceil(N / k) + k", _ref_ckpt.expected_peak_stored(N, k): "the exact peak"}


def check_activation_memory(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(B, T, H, N, k, bytes_per_value) -> dict`` (activation memory in GB, 1 GB = 1e9 bytes).

    Student contract: a network of N layers whose every layer output is a (B, T, H) tensor of
    ``bytes_per_value``-byte numbers. Return {"per_layer_gb": one layer output, "full_gb": what plain
    backprop keeps (all N outputs and the input: N + 1 tensors), "checkpointed_gb": the peak of gradient
    checkpointing with segment length k (ceil(N / k) checkpoints plus the k activations of the segment being
    recomputed)}.

    Sub-checks (weight 1 each), relative tolerance 1e-4 (the numbers as computed; rounding to a few digits is
    fine): per_layer_gb = B T H bytes / 1e9; full_gb = N + 1 tensors (N alone forgets the input h_0);
    checkpointed_gb = ceil(N / k) + k tensors (or the exact peak of reference_impl's schedule, one less when
    the last segment is shorter); N / k without the ceil is a fraction of a tensor and is not accepted. Cases
    have k dividing N and k not dividing N. A unit mistake (GiB, bits, bytes per number missing) costs
    per_layer_gb only when the other two are the right number of the learner's own per-layer tensors.
    """
    require_callable(fn, "activation_memory", 6)
    P, F, C = "per_layer_gb", "full_gb", "checkpointed_gb"
    rep = Report("activation memory estimate", points, seed)
    for n in (P, F, C):
        rep.declare(n)
    rng = np.random.default_rng(seed)
    for B, T, H, N, k, nbytes in _memory_cases(rng, thorough):
        where = f"B = {B}, T = {T}, H = {H}, N = {N}, k = {k}, {nbytes} bytes per number"
        try:
            got = call_student(fn, B, T, H, N, k, nbytes, label="activation_memory(B, T, H, N, k, bytes_per_value)",
                               notes=rep.notes)
        except StudentCodeError as exc:
            for n in (P, F, C):
                rep.fail(n, f"{where}: {exc}")
            if isinstance(exc, StudentTimeout):
                break
            continue
        if not isinstance(got, dict):
            for n in (P, F, C):
                rep.fail(n, f"{where}: expected a dict with keys {list(MEMORY_KEYS)}, got {brief(got)}.")
            continue
        per = B * T * H * nbytes / 1e9
        values = {}
        for key in MEMORY_KEYS:
            v = real_number(got.get(key)) if key in got else None
            if key not in got:
                rep.fail(key, f"{where}: the key '{key}' is missing.")
            elif v is None:
                rep.fail(key, f"{where}: {key} = {brief(got[key])}; give a number of GB.")
            values[key] = v
        v = values[P]
        per_ok = v is not None and _rel_close(v, per, _MEMORY_TOL)
        if v is not None and not per_ok:
            known = {per * 1e9 / 2 ** 30: "GiB (2**30 bytes) instead of GB (1e9 bytes)",
                     per / nbytes: f"the {nbytes} bytes per number are missing",
                     per * 8: "bits instead of bytes",
                     per / T: "the sequence length T is missing",
                     per * 1e3: "MB instead of GB (divide the bytes by 1e9)"}
            hint = next((h for w, h in known.items() if _rel_close(v, w, 0.02) and not _rel_close(w, per, 0.02)), "")
            rep.fail(P, f"{where}: per_layer_gb = {v:.4g}, expected {per:.4g} (B * T * H * bytes / 1e9)."
                        + (f"\n      Likely mistake: {hint}" if hint else ""))
        for key in (F, C):
            v = values[key]
            if v is None:
                continue
            tensors = v / per
            accepted = {N + 1: "N + 1"} if key == F else _accepted_checkpoint_counts(N, k)
            if any(_rel_close(tensors, a, _MEMORY_TOL) for a in accepted):
                continue
            if not per_ok and values[P] is not None and values[P] > 0 and \
                    any(_rel_close(v / values[P], a, _MEMORY_TOL) for a in accepted):
                rep.notes.append(f"{key} is the right number of tensors of your per_layer_gb: only per_layer_gb "
                                 f"loses points for the units.")
                continue
            hint = ""
            if key == F and _rel_close(tensors, N, _MEMORY_TOL):
                hint = (" Likely mistake: the input h_0 is missing: the backward of layer 1 needs it too, so plain "
                        "backprop keeps N + 1 tensors.")
            elif key == C and _rel_close(tensors, N / k + k, _MEMORY_TOL):
                hint = (f" Likely mistake: N / k = {N / k:.4g} checkpoints is not a whole number: there are "
                        f"ceil(N / k) = {math.ceil(N / k)} of them (math.ceil).")
            elif key == C and _rel_close(tensors, math.ceil(N / k), _MEMORY_TOL):
                hint = (" Likely mistake: only the checkpoints are counted; the segment being recomputed holds "
                        "up to k activations at the same time.")
            elif key == C and _rel_close(tensors, math.sqrt(N), 0.05):
                hint = (" Likely mistake: sqrt(N) checkpoints AND up to sqrt(N) recomputed activations: about "
                        "2 sqrt(N) tensors with k = sqrt(N).")
            elif key == C and _rel_close(tensors, k, _MEMORY_TOL):
                hint = " Likely mistake: only the segment is counted; the ceil(N / k) checkpoints stay alive too."
            want = " or ".join(f"{a} ({why})" for a, why in accepted.items())
            rep.fail(key, f"{where}: {key} = {v:.6g} GB = {tensors:.4g} layer outputs; expected {want} tensors of "
                          f"{per:.4g} GB.{hint}")
    return rep.finish()


_MEMORY_TOL = 1e-4
