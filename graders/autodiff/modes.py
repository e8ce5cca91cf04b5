"""Forward vs reverse mode: partial derivatives, JVPs, VJPs, Jacobians, Hessian-vector products, pass counts.

The learner's function receives a test function f (graders.autodiff.functions): a catalogue item built where
the learner's code runs, whose state counts f's evaluations on floats, dual numbers and Values, so "one forward
pass", "n passes for a Jacobian by forward mode" and "never on dual numbers in reverse mode" are checked by
counting; the runner ``count_backward`` around the call counts the backward() calls of the Value class f was
evaluated on (the learner's own class, e.g. the notebook's, or the reference one). Expected values come from
``reference_impl.autodiff.forward`` applied to the same f here (private helpers).

Every check watches its inputs (x, v, u: the course-wide sub-check "inputs left unchanged"). The visible test
(``thorough=False``) has a case of every kind the hidden test (``thorough=True``) tries: one input, one output, a
square Jacobian, outputs that depend on subsets of the inputs (where a reverse Jacobian that keeps the leaves'
gradients from the previous row goes wrong), and for the Hessian-vector product a gradient with a huge constant
part (where differences of gradients lose every digit at any step size: NUMERIC_NOT_ANALYTIC).
"""

from __future__ import annotations

import numbers
from typing import Callable, Sequence

import numpy as np

from graders import diagnoses, typed
from graders.autodiff.functions import (_TestFunction, _distinct_point, _gradient_of, _offset_function,
                                        _one_input_function, _pass_text, _scalar_function, _subset_function,
                                        _vector_function, _worked_example)
from graders.autodiff.grading import (_array_problem, _as_float, _fmt, _Grading, _scalar_close, _Stop, _vec_text)
from graders.core import (GradingError, StudentCodeError, array_problem, brief, close, describe, diagnose,
                          require_callable, unpack)
from graders.remote import catalogue
from reference_impl.autodiff import forward as _ref_fwd


def _call_counting(g: _Grading, sub: str, fn: Callable, tf: _TestFunction, *args, label: str) -> tuple:
    """(result, f's evaluation counts, reference backward() calls) of ``fn(f, *args)``; raises like g.call."""
    f_item, runner = tf.item(), catalogue.item("count_backward")
    result = g.call(sub, runner, fn, f_item, *args, label=label)
    return result, _counts(f_item), int(runner.state.get("backward", 0))


def _counts(f_item: catalogue.Item) -> dict[str, int]:
    """How often the test function was evaluated on floats, dual numbers, Values and other things."""
    return {k: int(f_item.state.get(k, 0)) for k in ("float", "dual", "value", "other")}


def check_partial_derivative(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, i) -> df/dx_i`` computed by ONE forward-mode pass.

    Student contract: f takes a 1-D array (n,) and returns a scalar (see the module docstring: called
    on dual numbers it returns a dual number); x is a float array (n,), i an int index. Seed
    Dual(x_j, 1.0 if j == i else 0.0), evaluate f once, return the output's tangent ``.dot`` as a float.

    Sub-checks (weight 1 each): the value of df/dx_i (includes the course's worked example
    f = x0 * x1 + sin(x0) at (2, 3), df/dx0 = 2.58385); exactly one evaluation of f on dual numbers per
    call (finite differences, or n passes for one partial, do not count as forward mode; finite differences are
    named NUMERIC_NOT_ANALYTIC); inputs left unchanged. Visible and hidden cases: the worked example, a
    one-input function, scalar functions of several inputs with i the last index.
    """
    require_callable(fn, "partial_derivative", 3)
    Vn, Pn = "df/dx_i", "one forward pass on dual numbers"
    g = _Grading("partial derivative by forward mode", points, seed, [Vn, Pn], watch_inputs=True)
    rng = np.random.default_rng(seed)
    cases = [(_worked_example(), np.array([2.0, 3.0]), 0), (_one_input_function(), np.array([0.8]), 0)]
    for n in (3, 4):
        tf = _scalar_function(rng, n)
        cases.append((tf, _distinct_point(rng, tf), n - 1 if n == 4 else int(rng.integers(n))))
    if thorough:
        cases += [(_worked_example(), np.array([2.0, 3.0]), 1), (_one_input_function(), np.array([-1.3]), 0)]
        tf = _scalar_function(rng, 6)
        cases.append((tf, _distinct_point(rng, tf), 5))
    try:
        for tf, x, i in cases:
            grad = _gradient_of(tf, x)
            want = np.float64(grad[i])
            where = f"{tf.text} at x = {_vec_text(x)}, i = {i}"
            f_item = tf.item()
            try:
                got = g.call(Vn, fn, f_item, x, i, label="partial_derivative(f, x, i)")
            except StudentCodeError as exc:
                g.fail(Vn, f"{where}: {exc}")
                g.fail(Pn, f"{where}: not checked because the call failed.")
                continue
            counts = _counts(f_item)
            if hasattr(got, "dot") and not isinstance(got, (numbers.Real, np.ndarray)):
                problem = (f"returned the dual number itself ({brief(got)}); return its tangent .dot, a float.")
            else:
                problem = array_problem(got, want, scalar_ok=True)
                if problem and _as_float(got) is not None and np.ndim(got) == 0:
                    problem = f"df/dx_{i} = {_fmt(_as_float(got))}, expected {_fmt(float(want))}."
            if problem:
                cands = {"FORWARD_SEED_WRONG_INPUT": [np.float64(grad[j]) for j in range(tf.n) if j != i]
                         + [np.float64(grad.sum()), np.float64(grad.sum() - grad[i])]}
                number = _as_float(got)
                diag = describe(diagnose(np.float64(number), want, cands)) if number is not None else ""
                if not diag and number is not None and _scalar_close(number, float(tf.f(x))):
                    diag = "\n      That is f(x) itself (.val): return the tangent .dot."
                g.fail(Vn, f"{where}: {problem}{diag}")
            if counts["dual"] != 1:
                if counts["dual"] == 0:
                    how = (" Reverse mode is not this exercise." if counts["value"] else
                           " Finite differences are approximations; forward mode is exact."
                           + (describe(diagnoses.get("NUMERIC_NOT_ANALYTIC")) if counts["float"] >= 2 else ""))
                    g.fail(Pn, f"{where}: f was never evaluated on dual numbers ({_pass_text(counts)}).{how}")
                else:
                    g.fail(Pn, f"{where}: {_pass_text(counts)}; one pass with the seed e_{i} gives df/dx_{i} "
                               f"(computing the whole gradient costs n = {tf.n} passes).")
        g.done.update((Vn, Pn))
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== JVP / VJP / Jacobian


def _vector_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[_TestFunction, np.ndarray]]:
    """Dense functions with n > m, n < m, one input, one output, a square Jacobian, and a subset function whose
    outputs depend on some inputs only (one input unused); the hidden test has more of each kind."""
    shapes = [(3, 2), (2, 4), (1, 3), (4, 1), (3, 3)] + ([(5, 2), (1, 2), (3, 1), (4, 4)] if thorough else [])
    cases = []
    for n, m in [(4, 3)] + ([(5, 4)] if thorough else []):   # first: a report shows the first messages of a sub-check
        tf = _subset_function(rng, n, m, unused=True)
        cases.append((tf, np.round(rng.uniform(-1.2, 1.2, n), 3)))
    for n, m in shapes:
        tf = _vector_function(rng, n, m)
        cases.append((tf, np.round(rng.uniform(-1.2, 1.2, n), 3)))
    return cases


def check_jvp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, v) -> (f(x), J(x) @ v)`` by ONE forward-mode pass.

    Student contract: f maps a 1-D array (n,) to a 1-D array (m,) (module docstring: evaluated on dual
    numbers it returns dual numbers); x, v float arrays (n,). Seed Dual(x_j, v_j), evaluate f once,
    return two float64 arrays (m,): the values (.val) and the tangents (.dot).

    Sub-checks (weight 1 each): f(x); J v; a single evaluation of f on dual numbers; inputs left unchanged.
    """
    return _check_jvp_vjp(fn, "jvp", seed, points, thorough)


def check_vjp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, u) -> (f(x), u @ J(x))`` by ONE reverse-mode pass.

    Student contract: f maps a 1-D array (n,) to a 1-D array (m,) (module docstring: evaluated on Values
    it builds the graph and returns Values); x float (n,), u float (m,). Build Value leaves for x,
    evaluate f once, run ONE backward pass from L = sum_i u_i * f_i (e.g. with the reference
    ``Value``: ``L = sum(u_i * y_i); L.backward()``), return two float64 arrays: f(x) (m,) and the
    leaves' gradients (n,).

    Sub-checks (weight 1 each): f(x); u^T J; a single pass (f evaluated once on Values, and ONE backward()
    call, counted on the Value class f was evaluated on: the learner's own class or the reference one); inputs
    left unchanged.
    """
    return _check_jvp_vjp(fn, "vjp", seed, points, thorough)


def _check_jvp_vjp(fn, which: str, seed, points, thorough):
    forward = which == "jvp"
    require_callable(fn, which, 3)
    Fx, Pr, Pa = "f(x)", ("J v" if forward else "u^T J"), "a single pass"
    g = _Grading(f"{which} by {'forward' if forward else 'reverse'} mode", points, seed, [Fx, Pr, Pa],
                 watch_inputs=True)
    rng = np.random.default_rng(seed)
    try:
        for tf, x in _vector_cases(rng, thorough):
            J = _ref_fwd.jacobian_forward(tf.f, x)
            fx = np.asarray(tf.f(x), dtype=np.float64)
            if forward:
                w = np.round(rng.uniform(-1.5, 1.5, tf.n), 3)
                want = J @ w
                cands = {"FORWARD_SEED_WRONG_INPUT": [J @ np.ones(tf.n)] + [J[:, j] for j in range(tf.n)],
                         "JACOBIAN_TRANSPOSED": [J.T @ w] if tf.n == tf.m else []}
                where = f"{tf.text} at x = {_vec_text(x)}, v = {_vec_text(w)}"
            else:
                w = np.round(rng.uniform(-1.5, 1.5, tf.m), 3)
                want = w @ J
                cands = {"REVERSE_SEED_WRONG": [np.ones(tf.m) @ J] + [J[i] for i in range(tf.m)],
                         "JACOBIAN_TRANSPOSED": [J @ w] if tf.n == tf.m else []}
                where = f"{tf.text} at x = {_vec_text(x)}, u = {_vec_text(w)}"
            try:
                result, counts, backward = _call_counting(g, Pr, fn, tf, x, w,
                                                          label=f"{which}(f, x, {'v' if forward else 'u'})")
                got_fx, got = unpack(result, ("f(x)", Pr), f"{which}(f, x, {'v' if forward else 'u'})")
            except StudentCodeError as exc:
                for n in (Fx, Pr, Pa):
                    g.fail(n, f"{where}: {exc}" if n != Pa else f"{where}: not checked because the call failed.")
                continue
            problem = _array_problem(got_fx, fx)
            if problem:
                g.fail(Fx, f"{where}: f(x) {problem}")
            problem = _array_problem(got, want)
            if problem:
                diag = diagnose(got, want, cands, generic=True)
                extra = ""
                if diag is not None and diag.code == "FORWARD_SEED_WRONG_INPUT":
                    extra = "\n      For a JVP the seeds are the direction itself: Dual(x_j, v_j) for every j."
                g.fail(Pr, f"{where}: {Pr} {problem}{describe(diag)}{extra}")
            _check_single_pass(g, Pa, where, counts, backward, forward, tf)
        g.done.update((Fx, Pr, Pa))
    except _Stop:
        pass
    return g.finish()


def _check_single_pass(g: _Grading, name: str, where: str, counts: dict, backward: int, forward: bool,
                       tf: _TestFunction) -> None:
    if forward:
        if counts["dual"] == 1:
            return
        if counts["dual"] == 0:
            g.fail(name, f"{where}: f was never evaluated on dual numbers ({_pass_text(counts)}): a JVP is one "
                         f"forward pass with the seeds Dual(x_j, v_j)."
                         + (describe(diagnoses.get("AD_MODES_SWAPPED")) if counts["value"] else ""))
        else:
            g.fail(name, f"{where}: {_pass_text(counts)}; a JVP needs ONE pass (seed the tangents with v itself, "
                         f"not with each e_j).")
        return
    if counts["value"] == 0:
        g.fail(name, f"{where}: f was never evaluated on Values ({_pass_text(counts)}): a VJP builds the graph "
                     f"once and runs one backward pass."
                     + (describe(diagnoses.get("AD_MODES_SWAPPED")) if counts["dual"] else ""))
    elif counts["value"] > 1 or backward > 1:
        g.fail(name, f"{where}: {_pass_text(counts)} and backward() ran {backward} time(s) (counted on your Value "
                     f"class); a VJP needs ONE backward pass from L = sum_i u_i * f_i(x).")


def check_jacobian(fn, mode: str = "forward", *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x) -> J`` of shape (m, n), ``J[i, j] = d f_i / d x_j``, by forward or reverse mode.

    Student contract: f maps a 1-D array (n,) to a 1-D array (m,) (see the module docstring); x float
    (n,). Return a float64 array (m, n).

    ``mode="forward"``: one forward pass per input direction e_j (one column each): f evaluated on dual
    numbers exactly n times. ``mode="reverse"``: one backward pass per output (one row each): f evaluated
    on Values (once, or once per row) and never on dual numbers, and exactly m ``backward()`` calls, counted on
    the Value class f was evaluated on (the learner's own class or the reference one).

    Sub-checks (weight 1 each): J; the number of passes; inputs left unchanged. Cases include n > m and n < m so
    the counts differ, and a function whose outputs depend on subsets of the inputs: a leaf that f_i does not
    reach keeps its .grad from the previous row unless it is reset (JACOBIAN_STALE_GRADS).
    """
    if mode not in ("forward", "reverse"):
        raise ValueError(f"check_jacobian: mode must be 'forward' or 'reverse', got {mode!r}")
    require_callable(fn, f"jacobian_{mode}", 2)
    Jn, Pn = "J", f"{mode} mode: {'n' if mode == 'forward' else 'm'} passes"
    g = _Grading(f"Jacobian by {mode} mode", points, seed, [Jn, Pn], watch_inputs=True)
    rng = np.random.default_rng(seed)
    try:
        for tf, x in _vector_cases(rng, thorough):
            J = _ref_fwd.jacobian_forward(tf.f, x)
            where = f"{tf.text} at x = {_vec_text(x)}"
            try:
                got, counts, backward = _call_counting(g, Jn, fn, tf, x, label="jacobian(f, x)")
            except StudentCodeError as exc:
                g.fail(Jn, f"{where}: {exc}")
                g.fail(Pn, f"{where}: not checked because the call failed.")
                continue
            problem = _array_problem(got, J)
            if problem:
                cands = {"JACOBIAN_TRANSPOSED": [J.T], "JACOBIAN_STALE_GRADS": _stale_jacobians(tf, J)}
                g.fail(Jn, f"{where}: J {problem}{describe(diagnose(got, J, cands))}")
            problem = _jacobian_pass_problem(mode, counts, backward, tf)
            if problem:
                g.fail(Pn, f"{where}: {problem}")
        g.done.update((Jn, Pn))
    except _Stop:
        pass
    return g.finish()


def _stale_jacobians(tf: _TestFunction, J: np.ndarray) -> list[np.ndarray]:
    """What a reverse Jacobian reads when the leaves' .grad are not reset between rows: for a subset function, a
    leaf that f_i does not reach keeps the value of the last row that reached it (a backward() that resets only the
    nodes it reaches, like the notebook's), or every row adds onto the previous ones (a backward that resets
    nothing)."""
    if tf.form != "subset":
        return []
    reached = tf.params[0] != 0.0
    kept = J.copy()
    for i in range(1, J.shape[0]):
        kept[i, ~reached[i]] = kept[i - 1, ~reached[i]]
    return [kept, np.cumsum(J, axis=0)]


def _jacobian_pass_problem(mode: str, counts: dict, backward: int, tf: _TestFunction) -> str | None:
    n, m = tf.n, tf.m
    if mode == "forward":
        if counts["dual"] == n:
            return None
        if counts["dual"] == 0:
            swapped = describe(diagnoses.get("AD_MODES_SWAPPED")) if counts["value"] else (
                describe(diagnoses.get("NUMERIC_NOT_ANALYTIC")) if counts["float"] >= 2 else "")
            return (f"{_pass_text(counts)}: forward mode evaluates f on Dual(x, e_j) once per input, n = {n} "
                    f"passes.{swapped}")
        return f"{_pass_text(counts)}; forward mode needs exactly n = {n} passes (one column J e_j per pass)."
    if counts["dual"]:
        return (f"{_pass_text(counts)}: that is forward mode (one pass per input); reverse mode runs one backward "
                f"pass per output, m = {m}.{describe(diagnoses.get('AD_MODES_SWAPPED'))}")
    if counts["value"] == 0:
        return (f"{_pass_text(counts)}: reverse mode evaluates f on Values and runs backward() once per output."
                + (describe(diagnoses.get("NUMERIC_NOT_ANALYTIC")) if counts["float"] >= 2 else ""))
    if backward and backward != m:
        return (f"backward() ran {backward} time(s) (counted on your Value class); reverse mode needs exactly m = "
                f"{m} backward passes (one row e_i^T J per pass).")
    if counts["value"] not in (1, m):
        return (f"{_pass_text(counts)}: build the graph once (or once per output row, m = {m}), then one "
                f"backward pass per output.")
    return None


# =============================================================================================== HVP


def check_hvp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, v) -> H(x) @ v`` for a scalar f: R^n -> R (Hessian-vector product).

    Student contract: f as in the module docstring (scalar output); x, v float arrays (n,). Return a
    float64 array (n,), computed analytically by ONE pass of forward-over-reverse: a reverse-mode graph on
    Dual(x_i, v_i) data (``Value(Dual(x_i, v_i))`` leaves, then the tangents of the leaves' grads); reverse-over-
    forward is accepted too. The Hessian itself is never formed, and H v is not approximated by differences of
    gradients or of f (finite differences are named NUMERIC_NOT_ANALYTIC).

    Sub-checks (weight 1 each; tolerance 1e-6 against ``reference_impl.autodiff.forward.hvp``, which the tests
    compare with SymPy and finite differences):
    - "H v": ordinary functions (several inputs, the worked example, one input);
    - "H v with a huge constant gradient": f plus 1e12 * sum(x), whose gradient is about 1e12 in every entry
      while H v is of order 1: differences of gradients lose every digit of H v to rounding at any step size
      from 1e-2 to 1e-8 (and differences of f even more), forward-over-reverse is exact;
    - "one pass": f evaluated once (on Values or dual numbers) and at most one backward() call, counted on the
      Value class f was evaluated on;
    - inputs left unchanged.
    """
    require_callable(fn, "hvp", 3)
    Hn, Cn, Pn = "H v", "H v with a huge constant gradient", "one pass"
    g = _Grading("Hessian-vector product", points, seed, [Hn, Cn, Pn], watch_inputs=True)
    rng = np.random.default_rng(seed)
    cases = [(Hn, _scalar_function(rng, 3)), (Hn, _worked_example()), (Hn, _one_input_function()),
             (Cn, _offset_function(rng, 3))]
    if thorough:
        cases += [(Hn, _scalar_function(rng, 5)), (Hn, _scalar_function(rng, 2)), (Cn, _offset_function(rng, 4))]
    cases.sort(key=lambda c: c[0] == Cn)   # the ordinary functions first: the huge-gradient case is named after them
    try:
        for sub, tf in cases:
            x = np.round(rng.uniform(-1.2, 1.2, tf.n), 3)
            v = np.round(rng.uniform(-1.5, 1.5, tf.n), 3)
            want = _ref_fwd.hvp(tf.f, x, v)
            where = f"{tf.text} at x = {_vec_text(x)}, v = {_vec_text(v)}"
            try:
                got, counts, backward = _call_counting(g, sub, fn, tf, x, v, label="hvp(f, x, v)")
            except StudentCodeError as exc:
                g.fail(sub, f"{where}: {exc}")
                g.fail(Pn, f"{where}: not checked because the call failed.")
                continue
            problem = _array_problem(got, want, tol=1e-6)
            if problem:
                g.fail(sub, f"{where}: H v {problem}{_hvp_diagnosis(g, sub, tf, x, v, got, want)}")
            problem = _hvp_pass_problem(counts, backward)
            if problem:
                g.fail(Pn, f"{where}: {problem}")
        g.done.update((Hn, Cn, Pn))
    except _Stop:
        pass
    return g.finish()


def _hvp_diagnosis(g: _Grading, sub: str, tf: _TestFunction, x: np.ndarray, v: np.ndarray, got, want) -> str:
    """The likely mistake behind a wrong H v (on the huge-gradient case, once the ordinary ones were right, it can
    only be a numerical approximation)."""
    if sub != "H v" and g.report.passed("H v") and isinstance(got, np.ndarray) and got.shape == want.shape:
        return (f"{describe(diagnoses.get('NUMERIC_NOT_ANALYTIC'))}\n      Here the gradient is about 1e12 in every "
                f"entry and H v about 1: a difference of two gradients keeps their rounding error (about 1e-4) "
                f"divided by the step, at every step size. Forward-over-reverse never subtracts them.")
    ones = _ref_fwd.hvp(tf.f, x, np.ones(tf.n))
    diag = describe(diagnose(got, want, {"FORWARD_SEED_WRONG_INPUT": [ones]}))
    if diag:
        return diag + "\n      For H v the tangent seeds are v itself: Value(Dual(x_i, v_i)) for every i."
    if close(got, _gradient_of(tf, x), 1e-6):
        return ("\n      That is the gradient of f: read the TANGENTS of the leaves' gradients (grad.dot), not "
                "their values.")
    return ""


def _hvp_pass_problem(counts: dict, backward: int) -> str | None:
    passes = counts["value"] + counts["dual"] + counts["other"]
    if passes == 1 and backward <= 1:
        return None
    if passes == 0:
        return (f"{_pass_text(counts)}: forward-over-reverse evaluates f once on Value(Dual(x_i, v_i)) leaves and "
                f"runs one backward pass.{describe(diagnoses.get('NUMERIC_NOT_ANALYTIC'))}")
    extra = ""
    if counts["value"] >= 2 and counts["dual"] == 0:
        extra = (" Two gradients subtracted (finite differences of the gradient) are an approximation."
                 + describe(diagnoses.get("NUMERIC_NOT_ANALYTIC")))
    return (f"{_pass_text(counts)} and backward() ran {backward} time(s); one forward pass with Value(Dual(x_i, "
            f"v_i)) leaves and ONE backward pass give H v.{extra}")


# =============================================================================================== pass counts

# question text and the expected count of each key (private: the lambdas are the answers)
_PASS_QUESTIONS: dict[str, tuple[str, Callable[[int, int], int]]] = {
    "grad_forward": ("the full gradient of f: R^n -> R by forward mode", lambda n, m: n),
    "grad_reverse": ("the full gradient of f: R^n -> R by reverse mode", lambda n, m: 1),
    "deriv_forward": ("all m derivatives of g: R -> R^m by forward mode", lambda n, m: 1),
    "deriv_reverse": ("all m derivatives of g: R -> R^m by reverse mode", lambda n, m: m),
    "jacobian_forward": ("the full Jacobian of h: R^n -> R^m by forward mode", lambda n, m: n),
    "jacobian_reverse": ("the full Jacobian of h: R^n -> R^m by reverse mode", lambda n, m: m),
}
PASS_KEYS = tuple(_PASS_QUESTIONS)   # the keys a notebook may ask for, in order

_SWAP = {"grad_forward": "grad_reverse", "grad_reverse": "grad_forward", "deriv_forward": "deriv_reverse",
         "deriv_reverse": "deriv_forward", "jacobian_forward": "jacobian_reverse",
         "jacobian_reverse": "jacobian_forward"}


def check_pass_counts(answers, *, n: int, m: int, keys: Sequence[str] = ("grad_forward", "grad_reverse",
                                                                         "deriv_forward", "deriv_reverse"),
                      seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade numeric answers "how many passes does it take" (a dict of ints).

    ``answers``: {key: int} for each key in ``keys`` (PASS_KEYS): grad_forward (n), grad_reverse
    (1), deriv_forward (1), deriv_reverse (m), jacobian_forward (n), jacobian_reverse (m), for the n and
    m the notebook states. One sub-check per key. ``seed``/``thorough`` are accepted for uniformity.
    """
    for k in keys:
        if k not in _PASS_QUESTIONS:
            raise ValueError(f"check_pass_counts: unknown key {k!r}; choose from {list(_PASS_QUESTIONS)}")
    g = _Grading("number of passes", points, seed, [_PASS_QUESTIONS[k][0] for k in keys])
    if answers is None or not isinstance(answers, dict):
        got = "None (assign the dict in the cell above)" if answers is None else type(answers).__name__
        raise GradingError(f"answers: expected a dict like {{'{keys[0]}': ...}}, got {got}.")
    expected = {k: _PASS_QUESTIONS[k][1](n, m) for k in keys}
    for k in keys:
        label = _PASS_QUESTIONS[k][0]
        if k not in answers:
            g.fail(label, f"answers['{k}'] is missing.")
            continue
        given = answers[k]
        a = typed.number(given) if isinstance(given, str) else given  # "1000000", "1e6", "10**6" are read
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not float(a).is_integer():
            hint = f" (with n = {n}, m = {m})" if isinstance(given, str) else ""
            g.fail(label, f"answers['{k}'] = {brief(given)}: give a whole number{hint}.")
            continue
        a = int(a)
        if a == expected[k]:
            continue
        other = _SWAP[k]
        swapped = (a == _PASS_QUESTIONS[other][1](n, m) and typed.number(answers.get(other)) == expected[k])
        g.fail(label, f"answers['{k}'] = {a} is not right for {label} (n = {n}, m = {m})."
                      + (describe(diagnoses.get("AD_MODES_SWAPPED")) if swapped else ""))
    extra = [k for k in answers if k not in keys]
    if extra:
        g.report.notes.append(f"ignored unknown key(s): {', '.join(map(str, extra))}")
    return g.finish()
