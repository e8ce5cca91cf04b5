"""check_dual_class: a learner's forward-mode ``Dual`` class, graded on expression programs.

The cases are :class:`~graders.autodiff.programs.Program` objects run by the catalogue runner ``dual_program``
on ``Dual(x_i, t_i)`` inputs (tangents != 1, so a forgotten inner derivative shows), for the student's class
and for ``reference_impl.autodiff.forward.Dual``; every node's ``.val`` and ``.dot`` come back as floats and are
compared here: each operation alone (wrong tangents named: product rule, inner derivative, sign), the course's
worked example f = x1 * x2 + sin(x1) at (2, 3), then random trees and fan-out graphs of the operations that
passed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from graders.autodiff.grading import SCALAR_TOL, _fmt, _Grading, _require_class, _resolve_ops, _scalar_close, _Stop
from graders.autodiff.programs import (BINARY, DUAL_DEFAULT_OPS, DUAL_OPS, _RULES, Program, Step, _diag_scalar,
                                       _first_wrong_value, _float_value, _local_derivative, _node_name,
                                       _probe_forward_candidates, _probe_text, _program_text, _random_dag,
                                       _random_tree, _signed, _step_expr, _value_probes, _wrong_locals)
from graders.core import StudentCodeError
from graders.remote import catalogue
from graders.remote.catalogue.programs import run_dual
from reference_impl.autodiff import forward as _ref_fwd

_CONSTRUCT = catalogue.item("construct")
_DUAL_RUN = catalogue.item("dual_program")


def _dual_tangent_candidates(step: Step, vals: Sequence[float], dots: Sequence[float]) -> dict[str, list[float]]:
    """Wrong tangents of the output of a one-operation probe."""
    a, da = vals[step.args[0]], dots[step.args[0]]
    op = step.op
    if op in BINARY and len(step.args) == 2:
        b, db = vals[step.args[1]], dots[step.args[1]]
        return {"-": {"SIGN_FLIP": [da + db]},
                "*": {"PRODUCT_RULE": [da * db, da * b, a * db, da * b - a * db]},
                "/": {"PRODUCT_RULE": [(da * b - a * db) / b, da / db, da / b],
                      "SIGN_FLIP": [(da * b + a * db) / b ** 2]},
                "+": {}}[op]
    if op in BINARY:
        c = float(step.const)
        if op == "-" and step.const_left:
            return {"SIGN_FLIP": [da]}
        if op == "*":
            return {"PRODUCT_RULE": [da, 0.0]}
        if op == "/" and step.const_left:
            return {"SIGN_FLIP": [c * da / a ** 2], "PRODUCT_RULE": [-c / a ** 2, c * da / a]}
        return {}
    if op == "neg":
        return {"SIGN_FLIP": [da]}
    out = _float_value(step, vals)
    local = _local_derivative(op, a, out, step.const)
    cands = {"MISSING_INNER_DERIVATIVE": [local], "CHAIN_RULE_ADDED": [local + da], "SIGN_FLIP": [-local * da]}
    for code, wrong in _wrong_locals(op, a, out).items():
        cands[code] = [w * da for w in wrong]
    return cands


def _reference_dual(prog: Program, tangents: Sequence[float]) -> dict:
    return run_dual(_ref_fwd.Dual, prog.data(), list(tangents))


def _tangents(rng: np.random.Generator, n: int) -> tuple[float, ...]:
    return tuple(_signed(rng, 0.4, 1.6) for _ in range(n))


def check_dual_class(Dual, *, seed: int = 0, points: float | None = None, thorough: bool = False,
                     ops: Sequence[str] | None = None):
    """Grade a forward-mode dual number class ``Dual``.

    Student contract:
        ``Dual(val, dot)`` stands for val + dot * eps (eps**2 = 0) and stores ``.val`` and ``.dot``.
        The operations in ``ops`` return new Duals: ``+ - * /`` between Duals and with plain numbers on
        either side (a number c acts as Dual(c, 0); reflected operators needed), unary ``-``,
        ``x ** p`` for a number p, and the methods ``x.sin()``, ``x.cos()``, ``x.exp()``, ``x.log()``,
        ``x.tanh()``, ``x.relu()``, ``x.sigmoid()``, each giving ``Dual(f(val), f'(val) * dot)``.

    ``ops``: from DUAL_OPS ("+" and "*" required); default DUAL_DEFAULT_OPS = + - * / neg sin cos exp.

    Sub-checks (weight 1 each): values (.val); tangents of each operation alone (inputs with tangents
    != 1, so a forgotten inner derivative shows); tangents of random composite expressions (compared
    node by node with reference_impl.autodiff.forward.Dual).
    """
    ops = _resolve_ops(ops, DUAL_OPS, DUAL_DEFAULT_OPS, "check_dual_class")
    _require_class(Dual, "Dual", 2)
    V, P, C = "values (.val)", "tangent of each operation (.dot)", "tangents of composite expressions"
    g = _Grading("Dual (forward-mode autodiff)", points, seed, [V, P, C])
    rng = np.random.default_rng(seed)
    try:
        _dual_body(g, Dual, ops, rng, thorough, (V, P, C))
    except _Stop:
        pass
    return g.finish()


def _dual_body(g: _Grading, Dual: type, ops, rng, thorough, names) -> None:
    V, P, C = names
    name = Dual.__name__

    try:
        got = tuple(g.call(V, _CONSTRUCT, Dual, [2.0, 0.5], ["val", "dot"], f"{name}(2.0, 0.5)",
                           label=f"{name}(2.0, 0.5)"))
        problem = None if got == (2.0, 0.5) else f"{name}(2.0, 0.5) has val, dot = {got}, expected (2.0, 0.5)."
    except StudentCodeError as exc:
        problem = str(exc)
    if problem:
        for n in names:
            g.fail(n, f"{problem} Nothing else can be checked until the constructor works.")
        return

    passing = []
    for op in ops:
        op_ok = True
        for prog in _value_probes(rng, op):
            op_ok &= _check_dual_probe(g, Dual, prog, _tangents(rng, prog.n_in), V, P)
        if op_ok:
            passing.append(op)
    g.done.update((P,))

    if all(o in ops for o in ("*", "+", "sin")):  # the course's worked example f = x1 * x2 + sin(x1) at (2, 3)
        prog = Program((2.0, 3.0), (Step("*", (0, 1)), Step("sin", (0,)), Step("+", (2, 3))), "worked example")
        _check_dual_expression(g, Dual, prog, (1.0, 0.0), V, C, "")

    skipped = [o for o in ops if o not in passing]
    if not any(o in passing for o in BINARY):
        g.fail(C, f"not checked: + or * must work on its own first (failing: {', '.join(skipped)}).")
    else:
        note = (f"\n      (Built only from the operations that passed on their own: {', '.join(passing)}.)"
                if skipped else "")
        # kinds (each in the visible test): trees of one and of several inputs, a graph with fan-out
        specs = [(2, 5, _random_tree), (3, 7, _random_tree), (3, 4, _random_dag), (1, 4, _random_tree)]
        if thorough:
            specs += [(1, 6, _random_tree), (5, 12, _random_tree), (4, 7, _random_dag)]
        for n_in, size, make in specs:
            prog = make(rng, passing, n_in, size)
            _check_dual_expression(g, Dual, prog, _tangents(rng, n_in), V, C, note)
    g.done.update((V, C))


def _check_dual_probe(g: _Grading, Dual: type, prog: Program, tangents, V: str, P: str) -> bool:
    where = f"{_probe_text(prog)} with tangents " + ", ".join(f"x{i}.dot = {t:g}" for i, t in enumerate(tangents))
    ref = _reference_dual(prog, tangents)
    try:
        got = g.call(P, _DUAL_RUN, Dual, prog.data(), list(tangents), label=f"{Dual.__name__} on {where}")
    except StudentCodeError as exc:
        g.fail(P, str(exc))
        g.fail(V, str(exc))
        return False
    ok = True
    step, out = prog.steps[0], prog.n_in
    if not _scalar_close(got["val"][out], ref["val"][out], SCALAR_TOL):
        g.fail(V, f"{where}: .val = {_fmt(got['val'][out])}, expected {_fmt(ref['val'][out])}"
                  f"{_diag_scalar(got['val'][out], ref['val'][out], _probe_forward_candidates(step, ref['val']))}")
        ok = False
    if not _scalar_close(got["dot"][out], ref["dot"][out], SCALAR_TOL):
        cands = _dual_tangent_candidates(step, ref["val"], ref["dot"])
        rule = _RULES[step.op]
        g.fail(P, f"{where}: .dot = {_fmt(got['dot'][out])}, expected {_fmt(ref['dot'][out])} (the tangent is the "
                  f"derivative times the inputs' tangents: {rule})"
                  + ("; the value is wrong too, fix it first" if not ok else "")
                  + _diag_scalar(got["dot"][out], ref["dot"][out],
                                 {**cands, "SIGN_FLIP": cands.get("SIGN_FLIP", []) + [-ref["dot"][out]]},
                                 generic=False))
        ok = False
    return ok


def _check_dual_expression(g: _Grading, Dual: type, prog: Program, tangents, V: str, C: str, note: str) -> None:
    ref = _reference_dual(prog, tangents)
    tan_text = ", ".join(f"x{i}.dot = {t:g}" for i, t in enumerate(tangents))
    where = f"{prog.kind} {_program_text(prog)}, tangents {tan_text}"
    try:
        got = g.call(C, _DUAL_RUN, Dual, prog.data(), list(tangents), label=f"{Dual.__name__} on a {prog.kind}")
    except StudentCodeError as exc:
        g.fail(C, f"{where}: {exc}")
        return
    wrong_val = _first_wrong_value(prog, got["val"], ref["val"])
    if wrong_val:
        g.fail(V, f"{where}: {wrong_val.replace('data', 'val')}.")
    for i in range(prog.n_nodes):
        if not _scalar_close(got["dot"][i], ref["dot"][i], SCALAR_TOL):
            expr = "input" if i < prog.n_in else f"`{_step_expr(prog.steps[i - prog.n_in], prog.n_in)}`"
            g.fail(C, f"{where}: first wrong tangent at {_node_name(i, prog.n_in)} = {expr}: .dot = "
                      f"{_fmt(got['dot'][i])}, expected {_fmt(ref['dot'][i])} (the result should have .val = "
                      f"{_fmt(ref['val'][-1])}, .dot = {_fmt(ref['dot'][-1])}; yours {_fmt(got['val'][-1])}, "
                      f"{_fmt(got['dot'][-1])})"
                      + (" (the values are wrong too; fix those first)" if wrong_val else "") + note)
            return
