"""check_value_class: a learner's scalar reverse-mode ``Value`` class, graded on expression programs.

Every case is a :class:`~graders.autodiff.programs.Program` run by the catalogue runner ``value_program``
(in the student's process in cohort grading: a 5000-node chain costs one message) on the student's class and,
for the expected values, on ``reference_impl.autodiff.reverse.Value``. The order of the sub-checks isolates
mistakes: each operation alone (then with an upstream gradient s != 1), graphs built only from the operations
that passed, fan-out graphs whose backward order is fixed (so a wrong sum there is accumulation, not order),
backward() twice, and the deep chain last (a slow or recursive topological sort costs only that sub-check).
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from graders import diagnoses
from graders.autodiff.grading import (SCALAR_TOL, _fmt, _Grading, _require_class, _resolve_ops, _scalar_close,
                                      _Stop)
from graders.autodiff.programs import (BINARY, DEEP_LINKS, VALUE_DEFAULT_OPS, VALUE_OPS, _RULES, Program, Step,
                                       _deep_chain, _diag_scalar, _first_wrong_value, _node_name,
                                       _probe_forward_candidates, _probe_grad_candidates, _probe_text, _program_text,
                                       _random_dag, _random_tree, _scaled, _signed, _step_expr, _uses, _value_probes)
from graders.core import StudentCodeError, close, describe
from graders.remote import catalogue
from graders.remote.catalogue.programs import run_value
from reference_impl.autodiff import reverse as _ref_rev

_CONSTRUCT = catalogue.item("construct")
_VALUE_RUN = catalogue.item("value_program")


def _reference_value(prog: Program, twice: bool = False) -> dict:
    return run_value(_ref_rev.Value, prog.data(), twice=twice)


def _leaf_grad_problem(got: Sequence[float], want: Sequence[float]) -> tuple[int, str] | None:
    """(index of the worst input, message) when the input gradients differ, else None."""
    g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if np.all(np.isfinite(g)) and close(g, w, SCALAR_TOL):
        return None
    bad = ~np.isfinite(g)
    worst = int(np.argmax(bad)) if bad.any() else int(np.argmax(np.abs(g - w)))
    shown = ", ".join(f"x{i}.grad = {_fmt(a)} (expected {_fmt(b)})" for i, (a, b) in enumerate(zip(g, w))
                      if not _scalar_close(a, b, SCALAR_TOL))
    return worst, shown


def _subset_sum_match(x: float, parts: Sequence[float]) -> bool:
    """x equals the sum of a proper, non-empty subset of ``parts`` (and not the sum of all of them)."""
    total = sum(parts)
    if _scalar_close(x, total) or len(parts) < 2 or len(parts) > 10:
        return False
    for size in range(1, len(parts)):
        for combo in itertools.combinations(parts, size):
            if _scalar_close(x, sum(combo), 1e-6):
                return True
    return False


def _graph_diagnosis(prog: Program, ref: dict, student: dict, accumulation: str) -> str:
    """Explain wrong input gradients on a graph whose single operations are known to be right ("" if unsure).

    ``accumulation`` is what the order-free probes (:func:`_accumulation_probes`) found. "Part of the sum"
    is blamed on overwriting only when they showed it, and on the node order when they all passed: a node
    processed too early leaves the same trace (its consumer passed on 0)."""
    try:
        return _graph_diagnosis_unsafe(prog, ref, student, accumulation)
    except (ArithmeticError, ValueError):  # a diagnosis is a bonus; it must never break the grading
        return ""


def _graph_diagnosis_unsafe(prog: Program, ref: dict, student: dict, accumulation: str) -> str:
    vals, want, got = ref["data"], ref["all_grads"], student.get("all_grads") or []
    if len(got) != len(want) or any(v is None for v in got):
        return ""  # intermediate gradients unreadable: no evidence to reason with
    root = prog.n_nodes - 1
    if not _scalar_close(got[root], 1.0):
        return (f"\n      The root's .grad after backward() is {_fmt(got[root])}: backward() must seed "
                f"root.grad = 1.0 (d root / d root).")
    uses = _uses(prog, vals)

    def ok(i: int) -> bool:
        return _scalar_close(got[i], want[i])

    first = [c for c in range(root) if not ok(c) and uses[c] and all(ok(k) for k, _ in uses[c])]
    if not first or any(got[c] is None for c in first):
        return ""
    partial = accumulation != "ok" and all(
        len(uses[c]) >= 2 and _subset_sum_match(got[c], [loc * want[k] for k, loc in uses[c]]) for c in first)
    c = first[0]
    consumers = ", ".join(dict.fromkeys(f"{_node_name(k, prog.n_in)}.grad = {_fmt(want[k])}" for k, _ in uses[c]))
    name = _node_name(c, prog.n_in)
    overwrite = describe(diagnoses.get("OVERWRITE_NOT_ACCUMULATE"))
    topo = describe(diagnoses.get("TOPO_ORDER"))
    if partial:
        text = (f"\n      {name} is used {len(uses[c])} times; every node using it ends with the right gradient "
                f"({consumers}), but {name}.grad = {_fmt(got[c])} holds only part of the sum of its "
                f"{len(uses[c])} contributions ({_fmt(want[c])}).")
        if accumulation == "overwrite":
            return text + overwrite
        return (text + " Either one contribution was overwritten (= instead of +=) or a consumer passed its "
                       "gradient on while it was still 0." + overwrite + topo)
    return (f"\n      Every node using {name} ends with the right gradient ({consumers}), yet {name}.grad = "
            f"{_fmt(got[c])} instead of {_fmt(want[c])}: some node passed its gradient on before all of its "
            f"consumers had added theirs (or was processed twice, or never).{topo}")


def check_value_class(Value, *, seed: int = 0, points: float | None = None, thorough: bool = False,
                      ops: Sequence[str] | None = None):
    """Grade a scalar reverse-mode class ``Value``.

    Student contract:
        ``Value(data)`` stores the number in ``.data`` and a gradient in ``.grad``. The operations in
        ``ops`` return NEW Values that remember their inputs; numbers may appear on either side
        (``x + 2.5``, ``2.5 - x``, so the reflected operators ``__radd__``, ``__rsub__``, ``__rmul__``,
        ``__rtruediv__`` are needed), ``x ** p`` takes a number p, elementary functions are methods
        (``x.tanh()``, ``x.exp()``, ``x.log()``, ``x.relu()``, ``x.sigmoid()``, ``x.sin()``, ``x.cos()``).
        ``root.backward()`` sets ``node.grad = d root / d node`` for every node of the graph:
        it works for graphs where a node is used several times (gradients ADD up), for graphs
        thousands of nodes deep (no recursion limit: build the topological order with an explicit
        stack), and calling it twice gives the same gradients (it resets every grad in the graph
        before seeding ``root.grad = 1``, like ``reference_impl.autodiff.reverse.Value``; PyTorch
        instead accumulates into leaves across calls and needs ``zero_grad()``).

    ``ops``: the operations the exercise requires, from VALUE_OPS (``"+", "-", "*", "/", "**", "neg",
    "exp", "log", "tanh", "relu", "sigmoid", "sin", "cos"``; "+" and "*" are required). Default
    VALUE_DEFAULT_OPS: the arithmetic (+ - * / ** and unary -) plus tanh and exp.

    Sub-checks (weight 1 each), in this order:

    1. forward values (.data of every node);
    2. local gradient of each operation: alone (upstream gradient 1), then multiplied by a new input s so
       that it receives the upstream gradient s (names SIGN_FLIP, CHAIN_RULE_ADDED, UPSTREAM_GRAD_MISSING,
       TANH_DERIVATIVE, ...);
    3. gradients on random trees (no fan-out: only the node order can go wrong: TOPO_ORDER);
    4. gradients with fan-out: first ``x op x`` and ``u(x) * x``, whose backward order is fixed, so a
       wrong sum there is OVERWRITE_NOT_ACCUMULATE; then random graphs with squares, diamonds and
       unbalanced diamonds (an inner node feeding a short and a long path), where a node passing its
       gradient on too early is TOPO_ORDER;
    5. backward() twice gives the same gradients (GRAD_NOT_RESET);
    6. backward() on a chain of 2 * DEEP_LINKS operations (a RecursionError is explained).

    The graph sub-checks use only the operations whose own checks passed, so one wrong derivative costs
    one sub-check, not all of them.
    """
    ops = _resolve_ops(ops, VALUE_OPS, VALUE_DEFAULT_OPS, "check_value_class")
    _require_class(Value, "Value", 1)
    F, L, T, O, D, B = ("forward values", "local gradient of each operation", "gradients on trees",
                        "gradients with fan-out (shared nodes)", f"backward() on a deep chain ({2 * DEEP_LINKS} nodes)",
                        "backward() twice gives the same gradients")
    g = _Grading("Value (scalar reverse-mode autodiff)", points, seed, [F, L, T, O, D, B])
    rng = np.random.default_rng(seed)
    try:
        _value_class_body(g, Value, ops, rng, thorough, (F, L, T, O, D, B))
    except _Stop:
        pass
    return g.finish()


def _value_class_body(g: _Grading, Value: type, ops: tuple[str, ...], rng: np.random.Generator, thorough: bool,
                      names: tuple[str, ...]) -> None:
    F, L, T, O, D, B = names
    name = Value.__name__

    # 0. the constructor
    try:
        data, = g.call(F, _CONSTRUCT, Value, [1.5], ["data"], f"{name}(1.5)", label=f"{name}(1.5)")
        problem = None if data == 1.5 else f"{name}(1.5).data is {data:g}, expected 1.5."
    except StudentCodeError as exc:
        problem = str(exc)
    if problem:
        for n in names:
            g.fail(n, f"{problem} Nothing else can be checked until the constructor works.")
        return

    # 1. every operation alone, then with an upstream gradient s != 1
    # Stage 1 seeds the operation's output with 1; stage 2 multiplies it by a new input s, so the operation
    # receives the upstream gradient s (needs a working *: its own stage 1 is enough, the outer * only
    # passes s down).
    # The primitives go first, so that the first messages name the root cause (composite operations such
    # as a / b = a * b**-1 inherit the mistakes of * and **).
    # An input gradient that stays exactly 0 (the rest right) is kept pending: for an operation built from
    # others (a - b = a + (-b)) it is also what a wrong node order gives, which the graph checks tell apart.
    probes = {op: _value_probes(rng, op) for op in ops}
    passing, pending = [], []
    for op in sorted(ops, key=_PRIMITIVES_FIRST):
        if not all([_check_value_probe(g, Value, prog, prog, 1.0, names, pending) for prog in probes[op]]):
            continue
        if (op == "*" or "*" in passing) and all([_check_value_probe(g, Value, prog, _scaled(prog, s), s, names,
                                                                     pending)
                                                  for prog in probes[op] for s in [_signed(rng, 1.5, 3.0)]]):
            passing.append(op)
    passing = [op for op in ops if op in passing]
    try:
        _value_graph_checks(g, Value, ops, passing, pending, rng, thorough, names)
    finally:
        if pending and not any("[TOPO_ORDER]" in m for n in (T, O) for m in g.report.checks[n].messages):
            for msg in pending:
                g.fail(L, msg)
        elif pending:
            g.report.notes.append("the zero gradients of operations built from other operations come from the same "
                                  "node-order problem as the graphs (not counted twice).")
        g.done.add(L)


def _value_graph_checks(g: _Grading, Value: type, ops, passing: list, pending: list, rng, thorough: bool,
                        names) -> None:
    F, L, T, O, D, B = names
    name = Value.__name__
    skipped = [o for o in ops if o not in passing]
    binaries = [o for o in passing if o in BINARY]
    usable = bool(binaries)
    note = (f"\n      (These graphs used only the operations that passed their own checks: {', '.join(passing)}.)"
            if skipped else "")

    # 2. trees and graphs with fan-out
    tree_specs = [(3, 5), (4, 7)] + ([(1, 3), (5, 10), (2, 6)] if thorough else [])
    dag_specs = [(2, 3), (3, 5)] + ([(1, 2), (4, 7), (3, 6)] if thorough else [])
    for sub, specs, make in ((T, tree_specs, _random_tree), (O, dag_specs, _random_dag)):
        if not binaries or not usable:
            g.fail(sub, f"not checked: + or * must work on its own first (failing: {', '.join(skipped)}).")
            g.done.add(sub)
            continue
        accumulation = _accumulation_probes(g, Value, passing, rng, O) if sub == O else "unclear"
        for n_in, size in specs:
            prog = make(rng, passing, n_in, size)
            _check_value_graph(g, Value, prog, sub, F, note, accumulation)
        g.done.add(sub)
    g.done.add(F)

    # 3. backward twice
    if binaries and usable:
        prog = _random_dag(rng, passing, 2, 3)
        try:
            got = g.call(B, _VALUE_RUN, Value, prog.data(), twice=True, label=f"{name}: backward() called twice")
        except StudentCodeError as exc:
            g.fail(B, f"not checked: {exc}")
        else:
            first, second = np.array(got["grads"]), np.array(got["grads2"])
            if not close(second, first, 1e-9):
                doubled = close(second, 2 * first, 1e-9)
                why = ("every input gradient doubled: backward() adds onto the gradients of the first call. "
                       "(PyTorch does accumulate like this on purpose and you call zero_grad(); this course's "
                       "backward() computes d root/d node from scratch.)" if doubled else
                       "the gradients of the first call (also those of intermediate nodes) were added in again, "
                       "so the second result is neither the same nor simply doubled.")
                g.fail(B, f"{_program_text(prog)}: after the first backward() "
                          f"{', '.join(f'x{i}.grad = {_fmt(v)}' for i, v in enumerate(first))}; after the second "
                          f"{', '.join(f'x{i}.grad = {_fmt(v)}' for i, v in enumerate(second))}: {why}"
                          f"{describe(diagnoses.get('GRAD_NOT_RESET'))}")
    else:
        g.fail(B, "not checked: + and * must work first.")
    g.done.add(B)

    # 4. a deep chain, last: a slow (e.g. quadratic) topological sort then costs only this sub-check
    if "+" in passing and "*" in passing:
        prog = _deep_chain(rng, DEEP_LINKS)
        ref = _reference_value(prog)
        try:
            got = g.call(D, _VALUE_RUN, Value, prog.data(), label=f"{name} on a chain of {2 * DEEP_LINKS} operations",
                         timeout_hint=f" With {4 * DEEP_LINKS + 1} nodes the topological sort must take linear "
                                      f"time: keep visited nodes in a set (a list makes every lookup slow) and "
                                      f"build the order once per backward().")
        except StudentCodeError as exc:
            msg = str(exc)
            if "RecursionError" in msg:
                msg += (f"\n      A recursive build_topo(node) nests one call per level: {2 * DEEP_LINKS} levels here, "
                        f"but Python stops near 1000 (sys.getrecursionlimit()). Real networks are deeper than "
                        f"that. Use an explicit stack: push (node, False); when popped, push (node, True) and "
                        f"its unvisited children; append a node when it comes back with True.")
            g.fail(D, msg)
        else:
            if not _scalar_close(got["data"][-1], ref["data"][-1], SCALAR_TOL):
                g.fail(D, f"the chain's result is {_fmt(got['data'][-1])}, expected {_fmt(ref['data'][-1])}.")
            elif not _scalar_close(got["grads"][0], ref["grads"][0], SCALAR_TOL):
                g.fail(D, f"x0.grad = {_fmt(got['grads'][0])}, expected {_fmt(ref['grads'][0])} at the bottom of "
                          f"the chain x0 * a1 + b1 ... (2 * {DEEP_LINKS} operations).")
    else:
        g.fail(D, "not checked: + and * (with a number) must work first.")
    g.done.add(D)


def _PRIMITIVES_FIRST(op: str) -> int:
    order = ("*", "+", "neg", "-", "**", "/")
    return order.index(op) if op in order else len(order)


def _check_value_probe(g: _Grading, Value: type, prog: Program, run: Program, s: float, names,
                       pending: list) -> bool:
    """Check one probe (``run`` is ``prog`` or its scaled version with upstream gradient s); True if right.

    In the scaled version the operation is an inner node. If all its inputs' gradients come out exactly
    0 there (while the operation alone was right), its backward ran before the * on top had passed the
    gradient down: an ordering problem of backward(), which the graph checks diagnose, so the operation
    itself counts as right.
    """
    F, L = names[0], names[1]
    step = prog.steps[0]
    op = step.op
    where = _probe_text(prog) + ("" if s == 1.0 else f" multiplied by x{prog.n_in} = {s:g} (so the "
                                                      f"operation receives upstream gradient {s:g})")
    ref = _reference_value(run)
    label = f"{Value.__name__} on {where}"
    try:
        g.call(F, _VALUE_RUN, Value, run.data(), backward=False, label=label)
    except StudentCodeError as exc:
        g.fail(F, str(exc))
        g.fail(L, str(exc))
        return False
    try:
        got = g.call(L, _VALUE_RUN, Value, run.data(), label=label)
    except StudentCodeError as exc:
        g.fail(L, str(exc))
        return False
    forward_ok = True
    out_i = prog.n_in
    if not _scalar_close(got["data"][out_i], ref["data"][out_i], SCALAR_TOL):
        cands = _probe_forward_candidates(step, ref["data"])
        g.fail(F, f"{where}: .data = {_fmt(got['data'][out_i])}, expected {_fmt(ref['data'][out_i])}"
                  f"{_diag_scalar(got['data'][out_i], ref['data'][out_i], cands)}")
        forward_ok = False
    leaves = range(prog.n_in)
    wrong = [i for i in leaves if not _scalar_close(got["grads"][i], ref["grads"][i], SCALAR_TOL)]
    if forward_ok and s != 1.0 and wrong and all(got["grads"][i] == 0.0 for i in leaves):
        return True  # ordering, not this operation: left to the graph checks
    only_zeros = forward_ok and all(got["grads"][i] == 0.0 for i in wrong)
    for leaf in wrong:
        gv, rv = got["grads"][leaf], ref["grads"][leaf]
        upstream = "" if s == 1.0 else f" times the upstream gradient {s:g}"
        if gv == 0.0:
            diag = ("\n      It is still 0 after backward(): does the operation assign out._backward, and does "
                    "backward() call it for every node, each after the nodes that use it?")
        else:
            diag = _diag_scalar(gv, rv, _probe_grad_candidates(step, ref["data"], leaf, s))
        msg = (f"{where}: x{leaf}.grad = {_fmt(gv)}, expected {_fmt(rv)} ({_RULES[op]}{upstream})"
               + ("; the forward value is wrong too, fix it first" if not forward_ok else "") + diag)
        if only_zeros:
            pending.append(msg)
        else:
            g.fail(L, msg)
    return forward_ok and not wrong


def _accumulation_probes(g: _Grading, Value: type, passing: Sequence[str], rng: np.random.Generator,
                         sub: str) -> str:
    """Graphs whose backward order is fixed, so only accumulation can go wrong. Returns "overwrite" when a
    gradient was overwritten (only one use counted), "ok" when every probe passed, else "unclear".

    ``x op x`` for every working binary op (one operation uses x twice), and ``u(x) * x`` for every working
    one-input op u: the * is the root, so every order processes it first, then u. Overwriting in u leaves
    only u's path; an order that runs u before the * leaves only the direct path (then it is TOPO_ORDER).
    """
    seen, failed = False, False
    progs = [Program((_signed(rng, 0.6, 1.8),), (Step(op, (0, 0)),)) for op in passing if op in BINARY]
    for op in passing:
        if op not in BINARY:
            base = _value_probes(rng, op)[0]
            for outer in [o for o in ("*", "+") if o in passing]:  # the two contributions must differ
                prog = Program(base.inputs, (base.steps[0], Step(outer, (1, 0))))
                direct, through = _two_paths(prog, _reference_value(prog))
                if not _scalar_close(direct, through, 1e-3):
                    progs.append(prog)
                    break
    for prog in progs:
        ref = _reference_value(prog)
        expr = " ".join(_step_expr(prog.steps[-1], 1).replace("v1", f"({_step_expr(prog.steps[0], 1)})").split())
        where = f"`{expr}` (x0 = {prog.inputs[0]:g})"
        try:
            got = g.call(sub, _VALUE_RUN, Value, prog.data(), label=f"{Value.__name__} on `{expr}`")
        except StudentCodeError as exc:
            g.fail(sub, f"{where}: {exc}")
            failed = True
            continue
        gv, rv = got["grads"][0], ref["grads"][0]
        if _scalar_close(gv, rv, SCALAR_TOL):
            continue
        failed = True
        uses = _uses(prog, ref["data"])
        if len(prog.steps) == 1:
            slots = [loc for _, loc in uses[0]]
            cands = {"OVERWRITE_NOT_ACCUMULATE": slots}
            how = "x0 is used twice by this one operation"
        else:
            slots = list(_two_paths(prog, ref))
            cands = {"OVERWRITE_NOT_ACCUMULATE": slots[1:], "TOPO_ORDER": slots[:1]}
            how = f"x0 is used twice: directly by the {prog.steps[1].op} and through {prog.steps[0].op}"
        diag = _diag_scalar(gv, rv, cands, generic=False)
        seen |= "[OVERWRITE_NOT_ACCUMULATE]" in diag
        g.fail(sub, f"{where}: x0.grad = {_fmt(gv)}, expected {_fmt(rv)}: {how} "
                    f"({' and '.join(_fmt(v) for v in slots)}), and both contributions add up.{diag}")
    return "overwrite" if seen else ("unclear" if failed else "ok")


def _two_paths(prog: Program, ref: dict) -> tuple[float, float]:
    """For ``u(x0) op x0``: x0's contribution through the direct use and through u (the root's grad is 1)."""
    uses = _uses(prog, ref["data"])
    direct = sum(loc for k, loc in uses[0] if k == 2)
    through = sum(loc * ref["all_grads"][1] for k, loc in uses[0] if k == 1)
    return direct, through


def _check_value_graph(g: _Grading, Value: type, prog: Program, sub: str, F: str, note: str,
                       accumulation: str) -> None:
    ref = _reference_value(prog)
    try:
        got = g.call(sub, _VALUE_RUN, Value, prog.data(), label=f"{Value.__name__} on a {prog.kind}")
    except StudentCodeError as exc:
        g.fail(sub, f"{prog.kind} {_program_text(prog)}: {exc}")
        return
    wrong_forward = _first_wrong_value(prog, got["data"], ref["data"])
    if wrong_forward:
        g.fail(F, f"{prog.kind} {_program_text(prog)}: {wrong_forward}.")
    problem = _leaf_grad_problem(got["grads"], ref["grads"])
    if problem is None:
        return
    _, shown = problem
    msg = f"{prog.kind} {_program_text(prog)}: {shown}."
    if wrong_forward:
        msg += " The forward values are wrong too; fix those first."
    else:
        msg += _graph_diagnosis(prog, ref, got, accumulation)
    g.fail(sub, msg + note)
