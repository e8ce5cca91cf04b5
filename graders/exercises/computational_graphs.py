"""Checks specific to notebook 02 (computational graphs and a scalar reverse-mode engine).

The generic engine checks (the whole ``Value`` class, the topological order) live in graders/autodiff/ and the
generic trace-table and multiple-choice checks in graders/concepts.py; this module holds what only this
notebook asks:

- :func:`check_loss_forward`, :func:`check_loss_backward`: the forward values and the gradients of every node
  of L = (w x + b - y)**2 at w = 2, x = 3, b = 1, y = 8, traced by hand;
- :func:`check_loss_and_grads`: the same forward and backward pass written as straight-line code, checked at
  other points;
- :func:`check_sum_times_trace`: f = (x + y) z at (-2, 5, -4), values and gradients;
- :func:`check_fanout_trace`: f = (x y + x) x at (3, -2), where x is used three times;
- :func:`check_value_ops`: step 1 of the engine, ``+`` and ``*`` recording the graph (``_prev``) and a local
  backward function (``_backward``) that ADDS into the children's gradients;
- :func:`check_numeric_gradient`: centred finite differences of a function of several scalars.

Expected values are computed here with ``reference_impl.autodiff.reverse.Value`` so that no answer appears in
the notebook. Every check follows graders/core.py: a pure function of its arguments and seed that returns
``points`` when everything passed, partial credit when some sub-checks passed, and raises an AssertionError
naming what to fix otherwise.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Sequence

import numpy as np

from graders import diagnoses, typed
from graders.core import (GradingError, Report, StudentCodeError, StudentTimeout, array_problem, brief,
                          call_student, describe, is_class, real_number, require_callable, type_name)
from graders.remote import catalogue
from graders.remote.catalogue.numeric import SCALAR_FUNCTIONS as _SCALAR_FUNCTIONS
from reference_impl.autodiff.reverse import Value as _RefValue

__all__ = ["check_loss_forward", "check_loss_backward", "check_sum_times_trace", "check_fanout_trace",
           "check_loss_and_grads", "check_value_ops", "check_numeric_gradient", "LOSS_POINT", "SUM_TIMES_POINT",
           "FANOUT_POINT"]

LOSS_POINT = {"w": 2.0, "x": 3.0, "b": 1.0, "y": 8.0}
SUM_TIMES_POINT = {"x": -2.0, "y": 5.0, "z": -4.0}
FANOUT_POINT = {"x": 3.0, "y": -2.0}


def _close(a: float | None, b: float, tol: float = 1e-9) -> bool:
    return a is not None and math.isfinite(a) and abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:.6g}"


# ============================================================================================ the worked examples


def _loss_trace() -> tuple[dict[str, float], dict[str, float]]:
    """(values, grads) of L = (w x + b - y)**2 at LOSS_POINT, from the reference engine.

    Nodes: mul = w * x, add = mul + b, sub = add - y, L = sub ** 2; grads are d L / d node for every node and
    input ("L", "sub", "add", "mul", "w", "x", "b", "y")."""
    w, x, b, y = (_RefValue(LOSS_POINT[k]) for k in ("w", "x", "b", "y"))
    mul = w * x
    add = mul + b
    sub = add - y
    L = sub ** 2
    L.backward()
    nodes = {"mul": mul, "add": add, "sub": sub, "L": L}
    values = {k: float(v.data) for k, v in nodes.items()}
    grads = {k: float(v.grad) for k, v in {"L": L, "sub": sub, "add": add, "mul": mul, "w": w, "x": x, "b": b,
                                           "y": y}.items()}
    return values, grads


def _sum_times_trace() -> tuple[dict[str, float], dict[str, float]]:
    """(values, grads) of f = (x + y) z at SUM_TIMES_POINT: q = x + y, f = q * z."""
    x, y, z = (_RefValue(SUM_TIMES_POINT[k]) for k in ("x", "y", "z"))
    q = x + y
    f = q * z
    f.backward()
    return ({"q": float(q.data), "f": float(f.data)},
            {k: float(v.grad) for k, v in {"f": f, "q": q, "x": x, "y": y, "z": z}.items()})


def _fanout_trace() -> tuple[dict[str, float], dict[str, float]]:
    """(values, grads) of a = x * y, b = a + x, f = b * b at FANOUT_POINT.

    Two fan-outs: x is used by two nodes (a and b), and b is used twice by one node (b * b)."""
    x, y = _RefValue(FANOUT_POINT["x"]), _RefValue(FANOUT_POINT["y"])
    a = x * y
    b = a + x
    f = b * b
    f.backward()
    return ({"a": float(a.data), "b": float(b.data), "f": float(f.data)},
            {k: float(v.grad) for k, v in {"f": f, "b": b, "a": a, "x": x, "y": y}.items()})


def _check_table(answers: Any, want: dict[str, float], *, exercise: str, what: str, hints: dict, points, seed: int,
                 generic_hint: str):
    """One sub-check per key of ``want``; wrong entries get the matching hint (or generic_hint)."""
    if answers is None or not isinstance(answers, dict):
        got = "None (assign the dict in the cell above)" if answers is None else type(answers).__name__
        example = ", ".join(f"'{k}': ..." for k in list(want)[:3])
        raise GradingError(f"{exercise}: expected a dict like {{{example}}}, got {got}.")
    rep = Report(exercise, points, seed)
    for key in want:
        rep.declare(f"{what} {key}")
    for key, w in want.items():
        name = f"{what} {key}"
        if key not in answers:
            rep.fail(name, f"answers['{key}'] is missing.")
            continue
        got = typed.number(answers[key])
        if got is None:
            rep.fail(name, f"answers['{key}'] = {brief(answers[key])}: give a number.")
            continue
        if _close(got, w, typed.REL_TOL):
            continue
        hint = next((h for wrong, h in hints.get(key, [])
                     if _close(got, wrong, typed.REL_TOL) and not _close(wrong, w)), "")
        if not hint and _close(got, -w, typed.REL_TOL):
            hint = "the sign is flipped: check the sign of each local derivative (d(a - b)/db = -1)."
        rep.fail(name, f"answers['{key}'] = {got:.6g} is not right." +
                 (f"\n      Likely mistake: {hint}" if hint else f" {generic_hint}"))
    extra = [k for k in answers if k not in want]
    if extra:
        rep.notes.append(f"ignored unknown key(s): {', '.join(map(str, extra))}")
    return rep.finish()


def check_loss_forward(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the forward trace of L = (w x + b - y)**2 at w = 2, x = 3, b = 1, y = 8.

    ``answers``: {"mul": w * x, "add": mul + b, "sub": add - y, "L": sub ** 2}, numbers. One sub-check per
    node. ``seed``/``thorough`` are accepted for uniformity (the point is fixed)."""
    values, _ = _loss_trace()
    p = LOSS_POINT
    hints = {
        "sub": [(p["y"] - values["add"], "the order of the subtraction: sub = add - y (prediction minus target).")],
        "L": [(values["sub"], "L is the SQUARE of sub."), (2 * values["sub"], "L = sub ** 2, not 2 * sub.")],
        "add": [(values["mul"] - p["b"], "add = mul + b.")],
    }
    return _check_table(answers, values, exercise="forward trace of L = (w x + b - y)^2", what="value of",
                        hints=hints, points=points, seed=seed,
                        generic_hint="Compute the nodes left to right: mul = w * x, add = mul + b, sub = add - y, "
                                     "L = sub ** 2.")


def check_loss_backward(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the backward trace of L = (w x + b - y)**2 at w = 2, x = 3, b = 1, y = 8.

    ``answers``: d L / d node for "L", "sub", "add", "mul", "w", "x", "b", "y" (numbers). One sub-check per
    key, so a single slip costs a fraction of the points."""
    values, grads = _loss_trace()
    p = LOSS_POINT
    g_sub = grads["sub"]
    hints = {
        "L": [(0.0, "the backward pass starts with dL/dL = 1.")],
        "sub": [(values["sub"], "d(sub**2)/d sub = 2 * sub, not sub."),
                (2.0, "d(sub**2)/d sub = 2 * sub: evaluate it at sub's forward value.")],
        "add": [(1.0, "the local derivative d sub/d add = 1 is multiplied by the upstream gradient dL/d sub.")],
        "mul": [(1.0, "the local derivative d add/d mul = 1 is multiplied by the upstream gradient dL/d add.")],
        "w": [(g_sub * p["w"], "d(w * x)/dw is the OTHER factor, x (not w)."),
              (p["x"], "the local derivative x must be multiplied by the upstream gradient dL/d mul."),
              (g_sub + p["x"], "along a path the chain rule MULTIPLIES local derivatives: dL/dw = dL/d mul * x.")],
        "x": [(g_sub * p["x"], "d(w * x)/dx is the OTHER factor, w (not x)."),
              (p["w"], "the local derivative w must be multiplied by the upstream gradient dL/d mul.")],
        "b": [(1.0, "d add/d b = 1 is multiplied by the upstream gradient dL/d add.")],
        "y": [(g_sub, "d(add - y)/dy = -1: the target enters with a minus sign.")],
    }
    return _check_table(answers, grads, exercise="backward trace of L = (w x + b - y)^2", what="dL/d",
                        hints=hints, points=points, seed=seed,
                        generic_hint="Work right to left: each node's gradient = (gradient of the node using it) * "
                                     "(local derivative).")


def check_sum_times_trace(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade f = (x + y) z at x = -2, y = 5, z = -4, traced with q = x + y, f = q * z.

    ``answers``: {"q", "f"} forward values and {"df/dq", "df/dx", "df/dy", "df/dz"} gradients (numbers)."""
    values, grads = _sum_times_trace()
    want = {"q": values["q"], "f": values["f"], "df/dq": grads["q"], "df/dx": grads["x"], "df/dy": grads["y"],
            "df/dz": grads["z"]}
    P = SUM_TIMES_POINT
    hints = {
        "df/dq": [(values["q"], "d(q * z)/dq is the OTHER factor, z."), (values["f"], "that is f itself.")],
        "df/dz": [(P["z"], "d(q * z)/dz is the OTHER factor, q.")],
        "df/dx": [(1.0, "d q/dx = 1 is the local derivative; multiply it by the upstream gradient df/dq."),
                  (P["z"] + 1.0, "the chain rule multiplies: df/dx = df/dq * dq/dx.")],
        "df/dy": [(1.0, "d q/dy = 1 is the local derivative; multiply it by the upstream gradient df/dq."),
                  (grads["x"] / 2, "an add node passes its upstream gradient UNCHANGED to each input: it "
                                   "distributes, it does not split.")],
    }
    return _check_table(answers, want, exercise="trace of f = (x + y) z", what="",
                        hints=hints, points=points, seed=seed,
                        generic_hint="Forward: q = x + y, f = q * z. Backward from df/df = 1: a multiply node sends "
                                     "each input the upstream gradient times the other input; an add node sends it "
                                     "unchanged.")


def check_fanout_trace(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the gradients of a = x * y, b = a + x, f = b * b at x = 3, y = -2.

    ``answers``: {"df/db", "df/da", "df/dx", "df/dy"} (numbers). b is used twice by one node and x by two
    nodes, so both gradients are SUMS of contributions; the hints name which contribution a wrong answer
    kept."""
    values, grads = _fanout_trace()
    want = {"df/db": grads["b"], "df/da": grads["a"], "df/dx": grads["x"], "df/dy": grads["y"]}
    x, y = FANOUT_POINT["x"], FANOUT_POINT["y"]
    via_b = grads["b"] * 1.0            # b = a + x
    via_a = grads["a"] * y              # a = x * y
    half = ("half of the right value: df/db already misses one of its two contributions (b * b uses b twice, "
            "so df/db = b + b); the error then travels down the graph.")
    hints = {
        "df/db": [(values["b"], "b * b uses b twice (one node, two input slots): df/db is the SUM of both "
                                "contributions, b + b. With `self.grad = ...; other.grad = ...` the second "
                                "assignment overwrites the first; use +=."),
                  (values["b"] ** 2, "that is f itself; the gradient of b * b with respect to b is 2 b.")],
        "df/da": [(grads["a"] / 2, half), (1.0, "d b/d a = 1 is multiplied by the upstream gradient df/db.")],
        "df/dx": [(via_b, "x is used by two nodes (a = x * y and b = a + x); you kept only the contribution through b. "
                          "Its gradient is the SUM of one contribution per use (+=, never =)."),
                  (via_a, "x is used by two nodes (a = x * y and b = a + x); you kept only the contribution through a. "
                          "Its gradient is the SUM of one contribution per use (+=, never =)."),
                  (via_a * via_b, "contributions from different uses ADD; they are not multiplied."),
                  (grads["x"] / 2, half)],
        "df/dy": [(grads["a"], "d(x * y)/dy = x: multiply the upstream gradient df/da by x."),
                  (grads["a"] * y, "d(x * y)/dy is the OTHER factor, x (not y)."),
                  (grads["y"] / 2, half)],
    }
    return _check_table(answers, want, exercise="fan-out trace of f = (x y + x)^2", what="",
                        hints=hints, points=points, seed=seed,
                        generic_hint="Go backwards from df/df = 1; when a value is used more than once, add up "
                                     "one contribution per use.")


# ============================================================================================ Value, step 1


def _signed(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high) * rng.choice([-1.0, 1.0])), 3)


def _distinct(rng: np.random.Generator, n: int, low: float, high: float) -> list[float]:
    """n random numbers whose absolute values differ (so swapped factors are visible)."""
    while True:
        vals = [_signed(rng, low, high) for _ in range(n)]
        mags = sorted(abs(v) for v in vals)
        if all(b - a > 0.2 for a, b in zip(mags, mags[1:])):
            return vals


_OPS = {  # the expected .data of each probe (the probes themselves run in graders.remote.catalogue.engine)
    "a + b": lambda a, b, c: a + b,
    "a * b": lambda a, b, c: a * b,
    "a + c": lambda a, b, c: a + c,
    "c + a": lambda a, b, c: c + a,
    "a * c": lambda a, b, c: a * c,
    "c * a": lambda a, b, c: c * a,
}
_LEAF = catalogue.item("engine_leaf")
_FORWARD = catalogue.item("engine_forward")
_LOCAL_BACKWARD = catalogue.item("engine_local_backward")


def check_value_ops(Value, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade step 1 of the scalar engine: ``+`` and ``*`` that record the graph and a local backward.

    Student contract (``Value`` is a class):
        ``Value(data)``: ``.data`` the number, ``.grad = 0.0``, ``._prev = ()`` (the Values it was computed
        from), ``._backward``: a function with NO arguments, for a leaf one that does nothing.
        ``a + b`` and ``a * b`` return a NEW Value with ``_prev = (a, b)``; a plain number on either side
        (``a + 2.5``, ``2.5 * a``) is first wrapped into a Value (so ``__radd__`` and ``__rmul__`` exist).
        ``out._backward()`` ADDS ``out.grad * (d out / d child)`` into each child's ``.grad`` (``+=``): it
        never resets a child's gradient, and in ``x * x`` x receives both contributions.

    Sub-checks (weight 1 each): a new leaf (.data, .grad = 0, empty _prev, callable _backward); forward values
    and the recorded inputs (_prev) of the six expressions a + b, a * b, a + c, c + a, a * c, c * a; the local
    backward of + ; the local backward of * (including x * x). The backward checks preset the children's
    gradients to non-zero numbers (as if another use had already contributed) and the output's gradient to an
    upstream gradient g != 1, so overwriting (=) and a missing upstream factor are both visible.
    """
    if Value is not None and not is_class(Value):
        raise GradingError(f"Value: expected the class itself (`class Value: ...`), got {type_name(Value)} "
                           f"({brief(Value)}).")
    require_callable(Value, "Value", 1)
    LEAF, FWD, ADD, MUL = ("a new leaf Value(1.5)", "forward values and recorded inputs (_prev)",
                           "local backward of +", "local backward of * (also x * x)")
    rep = Report("Value step 1: + and * with local backward functions", points, seed)
    for n in (LEAF, FWD, ADD, MUL):
        rep.declare(n)
    rng = np.random.default_rng(seed)
    name = Value.__name__
    n_cases = 4 if thorough else 2
    stopped = False
    some_op_works = False  # an expression computed the right .data

    def run(sub, fn, *args, label):
        nonlocal stopped
        try:
            return call_student(fn, *args, label=label, notes=rep.notes)
        except StudentTimeout as exc:
            rep.fail(sub, str(exc))
            stopped = True
            return None
        except StudentCodeError as exc:
            rep.fail(sub, str(exc))
            return None

    # a leaf
    facts = run(LEAF, _LEAF, Value, label=f"{name}(1.5)")
    if facts is not None:
        if facts["data"] != 1.5:
            rep.fail(LEAF, f"{name}(1.5).data is {brief(facts['data'])}, expected 1.5.")
        if facts["grad_missing"]:
            rep.fail(LEAF, f"{name}(1.5) has no .grad: set self.grad = 0.0 in __init__.")
        elif facts["grad"] != 0.0:
            rep.fail(LEAF, f"{name}(1.5).grad is {facts['grad_brief']}, expected 0.0 (no gradient before backward).")
        if facts["prev"] is None:
            rep.fail(LEAF, f"{name}(1.5) has no ._prev: a leaf has no inputs, self._prev = ().")
        elif facts["prev"] != 0:
            rep.fail(LEAF, f"{name}(1.5)._prev should be empty (a leaf has no inputs).")
        if not facts["backward_callable"]:
            rep.fail(LEAF, f"{name}(1.5)._backward must be a function that does nothing (self._backward = lambda: "
                           f"None): backward() will call it on every node, leaves included.")
        elif facts["grad"] == 0.0 and facts["grad_after"] != 0.0:
            rep.fail(LEAF, f"calling a leaf's _backward() changed its .grad; for a leaf it must do nothing.")

    # forward values and _prev
    for _ in range(n_cases):
        if stopped:
            break
        a, b, c = _distinct(rng, 3, 0.4, 2.5)
        for expr in _OPS:
            got = run(FWD, _FORWARD, Value, expr, a, b, c, label=f"{name}: `{expr}`")
            if got is None:
                continue
            where = f"`{expr}` with a = {a:g}, b = {b:g}, c = {c:g} (a plain number)"
            want = _OPS[expr](a, b, c)
            some_op_works = some_op_works or _close(got["data"], want, 1e-12)
            if not _close(got["data"], want, 1e-12):
                other = a * b if "+" in expr and "b" in expr else (a + b if "b" in expr else (a * c if "+" in expr
                                                                                              else a + c))
                hint = "  (that is the other operation: check which operator you wrote)" if _close(got["data"], other) \
                    else ""
                rep.fail(FWD, f"{where}: .data = {_fmt(got['data'])}, expected {_fmt(want)}{hint}.")
                continue
            if got["grad"] != 0.0:
                rep.fail(FWD, f"{where}: the new node's .grad is {_fmt(got['grad'])}, expected 0.0.")
            if not got["prev_has_a"]:
                rep.fail(FWD, f"{where}: a is not in the result's _prev. Record the inputs, "
                              f"out = {name}(..., (self, other)), so backward() can reach them.")
            elif "b" in expr and not got["prev_has_b"]:
                rep.fail(FWD, f"{where}: b is not in the result's _prev. Record both inputs, _prev = (self, other).")
            elif "c" in expr and not (got["prev_types_ok"] and any(_close(v, c, 1e-12) for v in got["prev_consts"])):
                rep.fail(FWD, f"{where}: _prev should hold a and a {name} wrapping the number {c:g} (wrap plain numbers "
                              f"into {name}s before building the node).")

    # local backward of + and *
    cases = [(ADD, e) for e in ("a + b", "a + c", "c + a", "a + a")] + \
            [(MUL, e) for e in ("a * b", "a * c", "c * a", "a * a")]
    for _ in range(n_cases):
        if stopped:
            break
        a, b, c = _distinct(rng, 3, 0.4, 2.5)
        g = _signed(rng, 1.5, 3.0)
        s_a, s_b = _distinct(rng, 2, 0.5, 1.5)
        for sub, expr in cases:
            if stopped:
                break
            got = run(sub, _LOCAL_BACKWARD, Value, expr, a, b, c, g, s_a, s_b,
                      label=f"{name}: `out = {expr}; out._backward()`")
            if got is None:
                continue
            _judge_local(rep, sub, expr, got, a, b, c, g, s_a, s_b)
    if rep.passed(LEAF) and not some_op_works:
        # the leaf part of the class is given in the notebook: it earns credit only next to a working operation
        rep.fail(LEAF, f"{name}(1.5) is a correct leaf, but no operation computes the right value yet: this part is "
                       f"credited once + or * does.")
    return rep.finish()


def _local_want(expr: str, a: float, b: float, c: float) -> tuple[list[float], float]:
    """([d out/d a per use of a], d out/d b) for expr."""
    return {
        "a + b": ([1.0], 1.0), "a + c": ([1.0], 0.0), "c + a": ([1.0], 0.0), "a + a": ([1.0, 1.0], 0.0),
        "a * b": ([b], a), "a * c": ([c], 0.0), "c * a": ([c], 0.0), "a * a": ([a, a], 0.0),
    }[expr]


def _judge_local(rep: Report, sub: str, expr: str, got: dict, a: float, b: float, c: float, g: float, s_a: float,
                 s_b: float) -> None:
    locals_a, local_b = _local_want(expr, a, b, c)
    want_a = s_a + g * sum(locals_a)
    want_b = s_b + g * local_b
    where = (f"out = {expr} with a = {a:g}" + (f", b = {b:g}" if "b" in expr else "") +
             (f", c = {c:g} (a number)" if "c" in expr else "") +
             f"; before out._backward(): out.grad = {g:g}, a.grad = {s_a:g}" + (f", b.grad = {s_b:g}" if "b" in expr
                                                                                else ""))
    for who, gotv, want, start, local, other_data in (("a", got["a"], want_a, s_a, sum(locals_a),
                                                       b if "b" in expr else (c if "c" in expr else a)),
                                                      ("b", got["b"], want_b, s_b, local_b, a)):
        if who == "b" and "b" not in expr:
            continue
        if _close(gotv, want, 1e-9):
            continue
        cands = [
            (g * local, f"{who}.grad was overwritten: it lost the {start:g} it held before. "
                        f"{diagnoses.get('OVERWRITE_NOT_ACCUMULATE').describe()}"),
            (start + local, f"the local derivative was not multiplied by out.grad = {g:g}. "
                            f"{diagnoses.get('UPSTREAM_GRAD_MISSING').describe()}"),
            (start, f"out._backward() did not change {who}.grad: does the operator assign out._backward = _backward?"),
            (start + local + g, f"{diagnoses.get('CHAIN_RULE_ADDED').describe()}"),
        ]
        if expr == "a * a":
            cands.insert(0, (g * a, "x is used twice by this one node and only one contribution survived: with "
                                    "`self.grad = ...; other.grad = ...` the second assignment overwrites the first "
                                    "(self and other are the same object). "
                                    f"{diagnoses.get('OVERWRITE_NOT_ACCUMULATE').describe()}"))
            cands.insert(1, (start + g * a, "x is used twice by this one node: it must receive BOTH contributions, "
                                            "g * x from each slot (2 g x in total). Add each one with +=."))
        if "*" in expr and expr != "a * a":
            own = a if who == "a" else b
            cands.append((start + g * own, "d(a * b)/da is the OTHER factor, b (and d(a * b)/db = a): each input "
                                           "receives out.grad times the other input's data."))
        hint = next((h for w, h in cands if _close(gotv, w, 1e-9) and not _close(w, want, 1e-9)), "")
        rep.fail(sub, f"{where}: after out._backward() {who}.grad = {_fmt(gotv)}, expected {_fmt(want)} "
                      f"({start:g} + {g:g} * {_fmt(local)})." + (f"\n      Likely mistake {hint}" if hint and
                                                                   hint.startswith("[") else
                                                                   (f"\n      Likely mistake: {hint}" if hint else "")))


# ============================================================================================ numeric gradient


def _fd_funcs():
    """(text, name, exact gradient) test functions of several scalars, written with + - * / ** and math; the
    functions themselves are graders.remote.catalogue.numeric.SCALAR_FUNCTIONS[name]."""
    return [
        ("f(w, x, b, y) = (w*x + b - y)**2", "squared_residual",
         lambda w, x, b, y: [2 * (w * x + b - y) * x, 2 * (w * x + b - y) * w, 2 * (w * x + b - y),
                             -2 * (w * x + b - y)]),
        ("f(x, y) = x**3 * y + y**2", "cubic_times",
         lambda x, y: [3 * x ** 2 * y, x ** 3 + 2 * y]),
        ("f(x, y, z) = (x + y) * z + exp(x * z)", "sum_times_exp",
         lambda x, y, z: [z + z * math.exp(x * z), z, x + y + x * math.exp(x * z)]),
        ("f(x) = x**4 - 2*x", "quartic", lambda x: [4 * x ** 3 - 2]),
        ("f(a, b, c, d, e) = a*b*c + d**3/e", "product_ratio",
         lambda a, b, c, d, e: [b * c, a * c, a * b, 3 * d ** 2 / e, -d ** 3 / e ** 2]),
    ]


def _fd(f: Callable, xs: Sequence[float], h: float, kind: str = "centred") -> np.ndarray:
    out = np.zeros(len(xs))
    for i in range(len(xs)):
        plus, minus = list(xs), list(xs)
        plus[i] += h
        minus[i] -= h
        if kind == "centred":
            out[i] = (f(*plus) - f(*minus)) / (2 * h)
        elif kind == "forward":
            out[i] = (f(*plus) - f(*xs)) / h
        elif kind == "no2":
            out[i] = (f(*plus) - f(*minus)) / h
        elif kind == "times_h":
            out[i] = (f(*plus) - f(*minus)) / 2 * h
    return out


def check_numeric_gradient(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, xs, h=1e-5) -> np.ndarray``: the centred-difference gradient of a scalar function.

    Student contract: ``f`` takes n plain numbers as separate arguments, ``f(x0, x1, ...)``, and returns a
    float; ``xs`` is a list of n floats (do not modify it); ``h`` the step. Return a float64 array (n,) with
    entry i = (f(.., x_i + h, ..) - f(.., x_i - h, ..)) / (2 h).

    Sub-checks (weight 1 each): with a small step (h = 1e-5) the result matches the exact gradient to 1e-6;
    with a large step (h = 0.1 and 0.05) it matches the centred-difference formula itself to 1e-9, so a
    one-sided difference, a wrong denominator or an ignored ``h`` are named; and the course-wide "inputs left
    unchanged" (xs). The visible functions have 4, 2, 3 and 1 inputs; ``thorough`` adds 5 and another point.
    """
    require_callable(fn, "numeric_gradient", 2)
    SMALL, LARGE = "small step: close to the exact gradient", "large step: exactly the centred-difference formula"
    rep = Report("numeric gradient (centred differences)", points, seed)
    rep.declare(SMALL)
    rep.declare(LARGE)
    rep.watch_inputs()
    rng = np.random.default_rng(seed)
    funcs = _fd_funcs()
    picks = [0, 1, 2, 3] + ([4, 1] if thorough else [])  # one input (3) is visible too
    for k in picks:
        text, name, exact = funcs[k]
        n, f = _SCALAR_FUNCTIONS[name]
        xs = [round(float(v), 3) for v in rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)]
        if k == 4:
            xs[4] = abs(xs[4]) + 0.5
        for sub, h, tol in ((SMALL, 1e-5, 1e-6), (LARGE, 0.1 if k % 2 == 0 else 0.05, 1e-9)):
            where = f"{text} at ({', '.join(f'{v:g}' for v in xs)}), h = {h:g}"
            counted = catalogue.item("scalar_function", name=name)  # counts its calls; checks the arity
            try:
                got = call_student(fn, counted, list(xs), h, label=f"numeric_gradient(f, xs, h={h:g})",
                                   notes=rep.notes, report=rep, watch=(1,))
            except StudentTimeout as exc:
                rep.fail(sub, f"{where}: {exc}")
                return rep.finish()
            except StudentCodeError as exc:
                rep.fail(sub, f"{where}: {exc}")
                continue
            want = np.array(exact(*xs), dtype=np.float64) if sub == SMALL else _fd(f, xs, h)
            if isinstance(got, (list, tuple)):
                problem = (f"returned a {type(got).__name__}; return a NumPy float64 array, "
                           f"np.array(grads, dtype=np.float64).")
            else:
                problem = array_problem(got, want, tol=tol)
            if problem is None:
                continue
            hint = ""
            try:
                g = np.asarray(got, dtype=np.float64)
            except (TypeError, ValueError):
                g = None
            if g is not None and g.shape == want.shape and not isinstance(got, (list, tuple)):
                wrong = [(_fd(f, xs, h, "forward"), "ONE_SIDED_DIFFERENCE"), (_fd(f, xs, h, "no2"), "FD_DENOMINATOR"),
                         (_fd(f, xs, h, "times_h"), "FD_DENOMINATOR")]
                if sub == LARGE:
                    wrong += [(_fd(f, xs, hh), "FD_STEP_IGNORED") for hh in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)]
                for arr, code in wrong:
                    if np.allclose(g, arr, rtol=1e-8, atol=1e-13):
                        hint = describe(diagnoses.get(code))
                        break
                if not hint and n > 1 and abs(g[0] - want[0]) <= 1e-6 * max(1.0, abs(want[0])):
                    hint = ("\n      The first entry is right and a later one is not: after shifting x_i, put it back "
                            "(work on a copy of the point for each evaluation, e.g. plus = list(xs)).")
            calls = counted.state.get("calls", 0)
            if calls and calls < 2 * n and not hint:
                hint = (f"\n      f was called {calls} times for n = {n} inputs; the centred difference needs "
                        f"2 calls per input (x_i + h and x_i - h).")
            rep.fail(sub, f"{where}: {problem}{hint}")
    return rep.finish()


# ============================================================================================ the trace as code


def _loss_reference(w: float, x: float, b: float, y: float) -> dict[str, float]:
    W, X, B, Y = _RefValue(w), _RefValue(x), _RefValue(b), _RefValue(y)
    L = (W * X + B - Y) ** 2
    L.backward()
    return {"L": float(L.data), "dL_dw": float(W.grad), "dL_dx": float(X.grad), "dL_db": float(B.grad),
            "dL_dy": float(Y.grad)}


_LOSS_OUTPUTS = ("L", "dL_dw", "dL_dx", "dL_db", "dL_dy")
_ZERO = "zero residual (every gradient 0)"
_LARGE = "a large residual (analytic gradients)"


def _loss_points(rng: np.random.Generator, thorough: bool) -> list[tuple[tuple[float, float, float, float], str]]:
    """(point, kind): the worked example and random points ("ordinary", graded into one sub-check per output), a
    zero residual, and a large residual: r = w x + b - y around 1e6 with x = 1e-6, so L is 1e12 while dL/dw is
    about 2, and L(w + h) - L(w - h) keeps too few digits for a centred difference to reach the 1e-9 relative
    tolerance at any step up to about 1e4. Every kind is in the visible test; the hidden test adds more of each."""
    rand = [tuple(round(float(v), 3) for v in rng.uniform(-3, 3, 4)) for _ in range(2 + (3 if thorough else 0))]
    points = [((2.0, 3.0, 1.0, 8.0), "ordinary")] + [(p, "ordinary") for p in rand]
    points += [((1.5, 2.0, 0.5, 3.5), "zero"), ((2.0, 1e-6, 0.5, -1e6), "large")]
    if thorough:
        points += [((-0.5, 4.0, 2.0, 0.0), "zero"), ((40.0, -25.0, 7.0, 12.0), "large"),
                   ((-3.0, -2e-6, 1.5, 2e6), "large")]
    return points


def _order_of(values: Sequence[float], want: dict[str, float]) -> list[int] | None:
    """perm with values[i] == want[outputs[perm[i]]] for all i, when the five numbers are the right ones in another
    order (None when they are in order, or are not the right numbers)."""
    names = list(_LOSS_OUTPUTS)
    if all(_close(v, want[k], 1e-9) for v, k in zip(values, names)):
        return None
    for perm in itertools.permutations(range(5)):
        if all(_close(values[i], want[names[perm[i]]], 1e-9) for i in range(5)):
            return list(perm)
    return None


def _both(got: float, want: float) -> tuple[str, str]:
    """got and want formatted with enough digits to tell them apart."""
    for digits in (6, 10, 16):
        a, b = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def check_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(w, x, b, y) -> (L, dL_dw, dL_dx, dL_db, dL_dy)`` for L = (w x + b - y)**2, all plain numbers.

    The forward pass and the staged backward pass written out as straight-line code, compared with
    ``reference_impl.autodiff.reverse.Value`` to 1e-9. Sub-checks: one per output (weight 1 each) on the worked
    example (2, 3, 1, 8) and random points; "zero residual" (1); "a large residual" (1: r around 1e6, where a
    gradient by finite differences of L misses the tolerance at every step size: NUMERIC_NOT_ANALYTIC). Every
    kind is in the visible test; ``thorough`` adds more of each. Outputs returned in another order are named as
    such (not as the mistakes their values happen to look like).
    """
    require_callable(fn, "loss_and_grads", 4)
    rep = Report("L = (w x + b - y)^2 and its gradients, in code", points, seed)
    for k in _LOSS_OUTPUTS:
        rep.declare(k)
    rep.declare(_ZERO)
    rep.declare(_LARGE)
    rng = np.random.default_rng(seed)
    ordinary_ok = True
    examined: set[str] = set()
    for (w, x, b, y), kind in sorted(_loss_points(rng, thorough), key=lambda c: c[1] == "large"):
        where = f"loss_and_grads(w={w:g}, x={x:g}, b={b:g}, y={y:g})"
        subs = {k: (k if kind == "ordinary" else (_ZERO if kind == "zero" else _LARGE)) for k in _LOSS_OUTPUTS}
        examined.update(subs.values())
        try:
            result = call_student(fn, w, x, b, y, label=where, notes=rep.notes)
        except StudentTimeout as exc:
            for k in _LOSS_OUTPUTS:
                rep.fail(subs[k], str(exc))
            rep.timed_out(examined)
            break
        except StudentCodeError as exc:
            for k in _LOSS_OUTPUTS:
                rep.fail(subs[k], str(exc))
            ordinary_ok = ordinary_ok and kind != "ordinary"
            continue
        if not isinstance(result, (tuple, list)) or len(result) != 5:
            msg = (f"{where} returned {brief(result)}; return the tuple (L, dL_dw, dL_dx, dL_db, dL_dy)."
                   if result is not None else f"{where} returned None: did you forget `return`?")
            for k in _LOSS_OUTPUTS:
                rep.fail(subs[k], msg)
            ordinary_ok = ordinary_ok and kind != "ordinary"
            continue
        want = _loss_reference(w, x, b, y)
        values = [real_number(v) for v in result]
        order = _order_of(values, want) if all(v is not None for v in values) else None
        if order == [0, 2, 1, 3, 4]:  # dL_dw and dL_dx exchanged: more likely the product rule's "other factor"
            order = None
        r = w * x + b - y
        wrong = {
            "L": [(r, "L is the SQUARE of the residual w x + b - y."), (2 * r, "L = sub ** 2, not 2 * sub.")],
            "dL_dw": [(r * x, "d(sub**2)/d sub = 2 * sub: the factor 2 is missing."),
                      (2 * r * w, "d(w x)/dw is the OTHER factor, x (or dL_dw and dL_dx are returned in each other's "
                                  "place)."), (2 * r, "multiply by d mul/dw = x.")],
            "dL_dx": [(r * w, "d(sub**2)/d sub = 2 * sub: the factor 2 is missing."),
                      (2 * r * x, "d(w x)/dx is the OTHER factor, w (or dL_dw and dL_dx are returned in each other's "
                                  "place)."), (2 * r, "multiply by d mul/dx = w.")],
            "dL_db": [(r, "d(sub**2)/d sub = 2 * sub: the factor 2 is missing."), (1.0, "multiply by dL/d add.")],
            "dL_dy": [(2 * r, "d sub/dy = -1: the target enters with a minus sign."),
                      (-r, "d(sub**2)/d sub = 2 * sub: the factor 2 is missing."),
                      (r, "two slips: d sub/dy = -1 (minus sign) and d(sub**2)/d sub = 2 * sub (factor 2).")],
        }
        for k, got, g in zip(_LOSS_OUTPUTS, result, values):
            if g is None:
                rep.fail(subs[k], f"{where}: {k} = {brief(got)}, expected a number.")
                ordinary_ok = ordinary_ok and kind != "ordinary"
                continue
            if _close(g, want[k], 1e-9):
                continue
            ordinary_ok = ordinary_ok and kind != "ordinary"
            if order:
                holds = _LOSS_OUTPUTS[order[_LOSS_OUTPUTS.index(k)]]
                rep.fail(subs[k], f"{where}: {k} = {_fmt(g)} is the value of {holds}: the five numbers are right but "
                                  f"in another order; return the tuple (L, dL_dw, dL_dx, dL_db, dL_dy) in exactly this "
                                  f"order.")
                continue
            hint = next((h for v, h in wrong[k] if _close(g, v, 1e-9) and not _close(v, want[k], 1e-9)), "")
            if not hint and _close(g, -want[k], 1e-9):
                hint = "the sign is flipped."
            if not hint and kind == "large" and ordinary_ok and k != "L" and _close(values[0], want["L"], 1e-9) \
                    and _close(g, want[k], 1e-3):
                hint = ("here L is about 1e12, so L(w + h) - L(w - h) keeps too few digits: a gradient computed by "
                        "finite differences misses, the chain rule does not. " +
                        diagnoses.get("NUMERIC_NOT_ANALYTIC").describe())
            shown, expected = _both(g, want[k])
            rep.fail(subs[k], f"{where}: {k} = {shown}, expected {expected}."
                              + (f"\n      Likely mistake: {hint}" if hint else ""))
    return rep.finish()
