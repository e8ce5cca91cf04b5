"""Expression programs for the Value and Dual checks: random trees, graphs with fan-out, a deep chain, probes.

A :class:`Program` is an expression graph as data (inputs x0, x1, ... and steps ``v_k = op(...)``). The
checks send ``prog.data()`` to a runner of graders.remote.catalogue.programs, which builds it with the
student's class (in the student's process in cohort grading) and returns plain floats; the same runner on the
reference classes gives the expected values. This module generates programs (seeded, kept well inside every
operation's domain), formats them for messages, and computes what the graph diagnoses need: every step's float
value, local derivatives, and the wrong values that named mistakes produce.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from graders.autodiff.grading import SCALAR_TOL, _fmt, _scalar_close
from graders.core import describe, diagnose
from graders.remote.catalogue import programs as cat_programs

BINARY = cat_programs.BINARY
METHODS = cat_programs.METHODS
VALUE_OPS = BINARY + ("**", "neg") + METHODS
DUAL_OPS = VALUE_OPS
VALUE_DEFAULT_OPS = ("+", "-", "*", "/", "**", "neg", "tanh", "exp")
DUAL_DEFAULT_OPS = ("+", "-", "*", "/", "neg", "sin", "cos", "exp")
DEEP_LINKS = 2500          # the deep chain has 2 * DEEP_LINKS operation nodes

_PY_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

_RULES = {
    "+": "d(a + b)/da = d(a + b)/db = 1",
    "-": "d(a - b)/da = 1 and d(a - b)/db = -1",
    "*": "d(a * b)/da = b and d(a * b)/db = a",
    "/": "d(a / b)/da = 1/b and d(a / b)/db = -a/b**2",
    "**": "d(a ** p)/da = p * a**(p-1)",
    "neg": "d(-a)/da = -1",
    "exp": "d exp(a)/da = exp(a)",
    "log": "d log(a)/da = 1/a",
    "tanh": "d tanh(a)/da = 1 - tanh(a)**2",
    "relu": "d relu(a)/da = 1 if a > 0 else 0",
    "sigmoid": "d sigmoid(a)/da = s * (1 - s) with s = sigmoid(a)",
    "sin": "d sin(a)/da = cos(a)",
    "cos": "d cos(a)/da = -sin(a)",
}


@dataclass(frozen=True)
class Step:
    """One operation: ``op`` on the nodes ``args`` (and a number ``const``, on the left if ``const_left``)."""
    op: str
    args: tuple[int, ...]
    const: float | int | None = None
    const_left: bool = False


@dataclass(frozen=True)
class Program:
    """An expression graph: nodes 0..n_in-1 are the inputs x0, x1, ...; step k creates node n_in + k."""
    inputs: tuple[float, ...]
    steps: tuple[Step, ...]
    kind: str = "expression"

    @property
    def n_in(self) -> int:
        return len(self.inputs)

    @property
    def n_nodes(self) -> int:
        return len(self.inputs) + len(self.steps)

    def data(self) -> dict:
        """The program as the catalogue runners take it (compact arrays, see encode_program)."""
        return cat_programs.encode_program(self.inputs, [(s.op, s.args, s.const, s.const_left) for s in self.steps])


def _node_name(i: int, n_in: int) -> str:
    return cat_programs.node_name(i, n_in)


def _step_expr(step: Step, n_in: int) -> str:
    return cat_programs.step_text(step.op, step.args, step.const, step.const_left, n_in)


def _inputs_text(prog: Program) -> str:
    return ", ".join(f"x{i} = {x:g}" for i, x in enumerate(prog.inputs))


def _program_text(prog: Program, limit: int = 12) -> str:
    """The program as assignments ``v3 = x0 * x1; v4 = v3.tanh()`` (shortened when long)."""
    lines = [f"v{prog.n_in + k} = {_step_expr(s, prog.n_in)}" for k, s in enumerate(prog.steps)]
    if len(lines) > limit:
        lines = lines[:limit - 3] + [f"... ({len(lines) - limit + 1} more steps)"] + lines[-2:]
    return f"{'; '.join(lines)}  with {_inputs_text(prog)}"


def _probe_text(prog: Program) -> str:
    """A one-operation program as `x0 - x1` (x0 = 0.8, x1 = 1.3)."""
    return f"`{_step_expr(prog.steps[0], prog.n_in)}` ({_inputs_text(prog)})"


def _apply(step: Step, nodes: list):
    """Apply one step with Python operators / methods, exactly as a student would write it."""
    return cat_programs.apply_step(step.op, step.args, step.const, step.const_left, nodes)


def _operands(step: Step, vals: Sequence[float]) -> tuple[float, float]:
    a = vals[step.args[0]]
    if len(step.args) == 2:
        return a, vals[step.args[1]]
    return (float(step.const), a) if step.const_left else (a, float(step.const))


def _sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * x))


_FLOAT_FUNCS = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "relu": lambda x: max(x, 0.0),
                "sigmoid": _sigmoid, "sin": math.sin, "cos": math.cos}


def _float_value(step: Step, vals: Sequence[float]) -> float:
    if step.op in _PY_BINOPS:
        left, right = _operands(step, vals)
        return _PY_BINOPS[step.op](left, right)
    a = vals[step.args[0]]
    if step.op == "**":
        return a ** step.const
    if step.op == "neg":
        return -a
    return _FLOAT_FUNCS[step.op](a)


def _local_derivative(op: str, a: float, out: float, p: float | None = None) -> float:
    """d out / d a for a unary operation (or ** with exponent p)."""
    return {
        "**": lambda: p * a ** (p - 1) if p not in (0, 1) else float(p),
        "neg": lambda: -1.0,
        "exp": lambda: out,
        "log": lambda: 1.0 / a,
        "tanh": lambda: 1.0 - out * out,
        "relu": lambda: 1.0 if a > 0 else 0.0,
        "sigmoid": lambda: out * (1.0 - out),
        "sin": lambda: math.cos(a),
        "cos": lambda: -math.sin(a),
    }[op]()


def _locals(step: Step, vals: Sequence[float]) -> list[tuple[int, float]]:
    """[(child node, d out / d child)] for every operand slot of ``step`` (a node used twice appears twice)."""
    i = step.args[0]
    if step.op in _PY_BINOPS:
        if len(step.args) == 2:
            j = step.args[1]
            a, b = vals[i], vals[j]
            if step.op == "+":
                return [(i, 1.0), (j, 1.0)]
            if step.op == "-":
                return [(i, 1.0), (j, -1.0)]
            if step.op == "*":
                return [(i, b), (j, a)]
            return [(i, 1.0 / b), (j, -a / (b * b))]
        c, a = float(step.const), vals[i]
        if step.op == "+":
            return [(i, 1.0)]
        if step.op == "-":
            return [(i, -1.0 if step.const_left else 1.0)]
        if step.op == "*":
            return [(i, c)]
        return [(i, -c / (a * a) if step.const_left else 1.0 / c)]
    out = _float_value(step, vals)
    return [(i, _local_derivative(step.op, vals[i], out, step.const))]


def _wrong_locals(op: str, a: float, out: float) -> dict[str, list[float]]:
    """Wrong local derivatives learners write for ``op`` (before multiplying by the upstream/tangent)."""
    if op == "tanh":
        return {"TANH_DERIVATIVE": [1 - out, 1 - a * a, 1 + out * out, 1 - math.tanh(out) ** 2]}
    if op == "sigmoid":
        return {"SIGMOID_DERIVATIVE": [out, 1 - out, a * (1 - a), out * (1 + out)]}
    return {}


def _domain_ok(step: Step, vals: Sequence[float]) -> float | None:
    """The step's value when it is well inside the domain (no kinks, poles or saturation), else None."""
    a = vals[step.args[0]]
    if step.op == "/":
        _, right = _operands(step, vals)
        if abs(right) < 0.5:
            return None
    elif step.op == "log" and a < 0.3:
        return None
    elif step.op == "exp" and a > 2.0:
        return None
    elif step.op == "**":
        p = step.const
        if (not float(p).is_integer() and a < 0.3) or (p < 0 and abs(a) < 0.5):
            return None
    elif step.op == "relu" and abs(a) < 0.1:
        return None
    elif step.op in ("tanh", "sigmoid") and abs(a) > 4.0:
        return None
    try:
        out = _float_value(step, vals)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if not isinstance(out, float) or not math.isfinite(out) or abs(out) > 8.0:
        return None
    return out


def _signed(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high) * rng.choice([-1.0, 1.0])), 3)


def _constant(rng: np.random.Generator) -> float:
    return round(float(rng.uniform(0.6, 2.5) * rng.choice([-1.0, 1.0])), 2)


_EXPONENTS = (2, 3, -1, 0.5, 1.5)


def _unary_step(rng: np.random.Generator, ops: Sequence[str], i: int, vals: list[float]) -> Step | None:
    """A random one-operand step on node i: a method (half of the time, when there are any), -a, a ** p,
    or a binary op with a number."""
    methods = [o for o in ops if o in METHODS]
    others = [o for o in ops if o in ("neg", "**")] + [("c", o) for o in ops if o in BINARY]
    for _ in range(30):
        pool = methods if methods and rng.random() < 0.5 else others
        pick = pool[int(rng.integers(len(pool)))]
        if isinstance(pick, tuple):
            step = Step(pick[1], (i,), _constant(rng), bool(rng.random() < 0.5))
        elif pick == "**":
            step = Step("**", (i,), _EXPONENTS[int(rng.integers(len(_EXPONENTS)))])
        else:
            step = Step(pick, (i,))
        if _domain_ok(step, vals) is not None:
            return step
    return None


def _binary_step(rng: np.random.Generator, ops: Sequence[str], i: int, j: int, vals: list[float]) -> Step | None:
    binaries = [o for o in ops if o in BINARY]
    for _ in range(20):
        step = Step(binaries[int(rng.integers(len(binaries)))], (i, j))
        if _domain_ok(step, vals) is not None:
            return step
    for op in ("+", "-", "*"):  # always well defined for bounded operands
        if op in binaries:
            return Step(op, (i, j))
    return None


def _push(steps: list[Step], vals: list[float], step: Step) -> int:
    steps.append(step)
    vals.append(_float_value(step, vals))
    return len(vals) - 1


def _random_inputs(rng: np.random.Generator, n: int) -> tuple[float, ...]:
    return tuple(_signed(rng, 0.3, 1.5) for _ in range(n))


def _random_tree(rng: np.random.Generator, ops: Sequence[str], n_inputs: int, min_steps: int) -> Program:
    """Every node (inputs included) is used exactly once: a tree whose root is the last node."""
    inputs = _random_inputs(rng, n_inputs)
    vals, steps = list(inputs), []
    pool = list(range(n_inputs))
    binaries = [o for o in ops if o in BINARY]
    for _ in range(200):
        if len(pool) == 1 and len(steps) >= min_steps:
            break
        if len(pool) > 1 and binaries and rng.random() < 0.55:
            p, q = (int(t) for t in rng.choice(len(pool), size=2, replace=False))
            step = _binary_step(rng, ops, pool[p], pool[q], vals)
            if step is not None:
                new = _push(steps, vals, step)
                pool = [n for k, n in enumerate(pool) if k not in (p, q)] + [new]
        else:
            p = int(rng.integers(len(pool)))
            step = _unary_step(rng, ops, pool[p], vals)
            if step is not None:
                pool[p] = _push(steps, vals, step)
    while len(pool) > 1:  # never reached in practice; keeps the tree connected
        pool = pool[2:] + [_push(steps, vals, Step("+", (pool[0], pool[1])))]
    return Program(inputs, tuple(steps), "tree")


def _random_dag(rng: np.random.Generator, ops: Sequence[str], n_inputs: int, n_patterns: int) -> Program:
    """A graph with fan-out: a squared input (x * x or x + x), diamonds a -> (b, c) -> d, an unbalanced
    diamond (an inner node feeding a short and a 3-step path: a breadth-first "order" processes it too
    early), reused nodes; finally every node nobody uses is added into the root, so every input reaches it."""
    inputs = _random_inputs(rng, n_inputs)
    vals, steps = list(inputs), []
    square_op = "*" if "*" in ops else "+"
    _push(steps, vals, Step(square_op, (0, 0)))  # an input used twice by one operation
    for k in range(n_patterns):
        pattern = ("diamond", "unbalanced", "reuse", "square")[k % 4]
        n = len(vals)
        if pattern == "unbalanced":
            a = _unary_step(rng, ops, int(rng.integers(n_inputs)), vals)
            if a is None:
                continue
            node = ia = _push(steps, vals, a)
            short = _unary_step(rng, ops, ia, vals)
            chain = []
            for _ in range(3):
                step = _unary_step(rng, ops, node, vals)
                if step is None:
                    break
                node = _push(steps, vals, step)
                chain.append(node)
            if short is None or len(chain) < 3:
                continue
            d = _binary_step(rng, ops, _push(steps, vals, short), node, vals)
            if d is not None:
                _push(steps, vals, d)
        elif pattern == "diamond":
            a = int(rng.integers(n)) if k else min(1, n_inputs - 1)
            b = _unary_step(rng, ops, a, vals)
            c = next((t for t in (_unary_step(rng, ops, a, vals) for _ in range(10)) if t != b), None)
            if b is None or c is None:
                continue
            ib, ic = _push(steps, vals, b), _push(steps, vals, c)
            d = _binary_step(rng, ops, ib, ic, vals)
            if d is not None:
                _push(steps, vals, d)
        elif pattern == "reuse":
            i, j = int(rng.integers(n)), int(rng.integers(max(1, n - 3), n))
            step = _binary_step(rng, ops, i, j, vals) if i != j else _unary_step(rng, ops, i, vals)
            if step is not None:
                _push(steps, vals, step)
        else:
            i = int(rng.integers(n))
            step = Step(square_op, (i, i))
            if _domain_ok(step, vals) is not None:
                _push(steps, vals, step)
    used = {a for s in steps for a in s.args}
    sinks = [i for i in range(len(vals)) if i not in used]
    acc = sinks[0]
    for s in sinks[1:]:
        acc = _push(steps, vals, Step("+", (acc, s)))
    if acc != len(vals) - 1:  # the last node must be the root
        acc = _push(steps, vals, Step("*", (acc,), 1.0))
    return Program(inputs, tuple(steps), "fan-out graph")


def _deep_chain(rng: np.random.Generator, links: int) -> Program:
    """x0 -> (* a_k) -> (+ b_k) repeated: 2 * links nodes deep, gradient prod(a_k) of order 1."""
    steps = []
    node = 0
    for _ in range(links):
        steps.append(Step("*", (node,), round(float(rng.uniform(0.998, 1.002)), 4)))
        steps.append(Step("+", (node + 1,), round(float(rng.uniform(-0.01, 0.01)), 4)))
        node += 2
    return Program((_signed(rng, 0.3, 1.5),), tuple(steps), "deep chain")


def _uses(prog: Program, vals: Sequence[float]) -> list[list[tuple[int, float]]]:
    """uses[c] = [(consumer node, d consumer / d c), ...], one entry per operand slot."""
    uses: list[list[tuple[int, float]]] = [[] for _ in range(prog.n_nodes)]
    for k, step in enumerate(prog.steps):
        for child, local in _locals(step, vals):
            uses[child].append((prog.n_in + k, local))
    return uses


def _value_probes(rng: np.random.Generator, op: str) -> list[Program]:
    """One-operation programs exercising ``op`` (with numbers on either side for binary operators)."""
    a, b, c = _signed(rng, 0.5, 2.0), _signed(rng, 0.5, 2.0), _constant(rng)
    if op in BINARY:
        return [Program((a, b), (Step(op, (0, 1)),)), Program((a,), (Step(op, (0,), c),)),
                Program((a,), (Step(op, (0,), c, True),))]
    if op == "**":
        pos = round(abs(a), 3)
        return [Program((a,), (Step("**", (0,), 2),)), Program((a,), (Step("**", (0,), 3),)),
                Program((pos,), (Step("**", (0,), 0.5),)), Program((a,), (Step("**", (0,), -1),))]
    if op == "log":
        return [Program((round(abs(a) + 0.2, 3),), (Step("log", (0,)),))]
    if op == "relu":
        return [Program((round(abs(a), 3),), (Step("relu", (0,)),)),
                Program((-round(abs(b), 3),), (Step("relu", (0,)),))]
    return [Program((a,), (Step(op, (0,)),))]


def _scaled(prog: Program, s: float) -> Program:
    """``prog`` whose result is multiplied by a new input s: the operation then receives upstream gradient s."""
    n = prog.n_in + 1
    steps = tuple(prog.steps) + (Step("*", (n, prog.n_in)),)
    return Program(prog.inputs + (s,), steps, "scaled probe")


def _probe_forward_candidates(step: Step, vals: Sequence[float]) -> dict[str, list[float]]:
    if len(step.args) == 1 and step.const_left and step.op in ("-", "/"):
        a, c = vals[step.args[0]], float(step.const)
        return {"R_OP_ORDER": [a - c if step.op == "-" else a / c]}
    return {}


def _probe_grad_candidates(step: Step, vals: Sequence[float], leaf: int, g: float) -> dict[str, list[float]]:
    """Wrong values of input ``leaf``'s gradient for a one-operation probe with upstream gradient g."""
    local = sum(loc for i, loc in _locals(step, vals) if i == leaf)
    cands: dict[str, list[float]] = {"CHAIN_RULE_ADDED": [local + g]}
    if g != 1.0:
        cands["UPSTREAM_GRAD_MISSING"] = [local]
    if step.op in ("-", "neg", "/") or (step.op == "cos"):
        cands["SIGN_FLIP"] = [-local * g]
    if step.op in METHODS:
        a = vals[step.args[0]]
        for code, wrong in _wrong_locals(step.op, a, _float_value(step, vals)).items():
            cands[code] = [w * g for w in wrong]
    return cands


def _diag_scalar(got: float, want: float, cands: dict[str, list[float]], generic: bool = True) -> str:
    diag = diagnose(np.float64(got), np.float64(want), {k: [np.float64(v) for v in vs] for k, vs in cands.items()},
                    generic=generic)
    return describe(diag)


def _first_wrong_value(prog: Program, got: Sequence[float], want: Sequence[float]) -> str | None:
    for i, (g, w) in enumerate(zip(got, want)):
        if not _scalar_close(g, w, SCALAR_TOL):
            where = "input" if i < prog.n_in else f"`{_step_expr(prog.steps[i - prog.n_in], prog.n_in)}`"
            return f"{_node_name(i, prog.n_in)} = {where}: data {_fmt(g)}, expected {_fmt(w)}"
    return None
