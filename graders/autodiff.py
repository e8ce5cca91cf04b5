"""Checks for the "computational graphs" and "forward vs reverse mode AD" notebooks.

Reverse mode (scalar ``Value`` graphs)
    check_value_class, check_topological_order
Forward mode (dual numbers)
    check_dual_class, check_partial_derivative
Jacobian-vector products and Jacobians
    check_jvp, check_vjp, check_jacobian, check_hvp, check_pass_counts
Gradient checkpointing
    check_checkpointed_backward

Conventions shared by these checks
-----------------------------------
*Expression graphs.* The Value and Dual checks build seeded random expressions (trees, and graphs with
fan-out such as ``x * x`` or a diamond ``a -> b, c -> d``) from the operations the exercise asks for,
evaluate them with the student's class and with ``reference_impl.autodiff`` and compare every value and
gradient. Elementary functions are called as methods (``x.tanh()``, ``x.exp()``), numbers appear on
either side of an operator (``2.5 - x`` needs ``__rsub__``).

*Test functions f for jvp / vjp / jacobian / hvp / partial derivatives.* Each f takes a 1-D NumPy array
(n,) and returns a scalar or a 1-D array (m,). It is written with ordinary NumPy code using only
``+ - * /``, ``@`` with float matrices, indexing, ``np.sum`` and the elementwise ``sin``, ``cos``,
``exp`` (applied to each entry by calling its ``.sin()`` / ``.cos()`` / ``.exp()`` method). So the
student can call f on

- a float array: plain evaluation,
- an object array (or a list) of dual numbers: one forward-mode pass; f returns dual numbers,
- an object array (or a list) of Values: it builds the graph for reverse mode; f returns Values,

with the reference classes (``reference_impl.autodiff.forward.Dual``, ``reverse.Value``) or with the
student's own ones, as long as they implement those operations and the reflected operators.
The checks count how often f was evaluated on dual numbers and on Values (and, with the reference
``Value``, how many ``backward()`` calls ran), which is how "forward mode needs n passes, reverse mode m"
is checked honestly.
"""

from __future__ import annotations

import itertools
import math
import numbers
import operator
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (brief, GradingError, Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          close, describe, diagnose, require_callable, unpack)
from reference_impl.autodiff import checkpoint as ref_ckpt
from reference_impl.autodiff import forward as ref_fwd
from reference_impl.autodiff import reverse as ref_rev

__all__ = [
    "check_value_class", "check_topological_order", "check_dual_class", "check_partial_derivative", "check_jvp",
    "check_vjp", "check_jacobian", "check_hvp", "check_pass_counts", "check_checkpointed_backward",
    "VALUE_OPS", "DUAL_OPS", "VALUE_DEFAULT_OPS", "DUAL_DEFAULT_OPS", "PASS_QUESTIONS",
]

BINARY = ("+", "-", "*", "/")
METHODS = ("exp", "log", "tanh", "relu", "sigmoid", "sin", "cos")
VALUE_OPS = BINARY + ("**", "neg") + METHODS
DUAL_OPS = VALUE_OPS
VALUE_DEFAULT_OPS = ("+", "-", "*", "/", "**", "neg", "tanh", "exp")
DUAL_DEFAULT_OPS = ("+", "-", "*", "/", "neg", "sin", "cos", "exp")
DEEP_LINKS = 2500          # the deep chain has 2 * DEEP_LINKS operation nodes
SCALAR_TOL = 1e-7

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


class _Stop(Exception):
    """Raised after a student's call timed out: the remaining cases are skipped."""


class _Grading:
    """A Report plus bookkeeping: which sub-checks are finished, and whether the student's code timed out."""

    def __init__(self, exercise: str, points, seed: int, names: Sequence[str]):
        self.report = Report(exercise, points, seed)
        self.names = list(names)
        for n in self.names:
            self.report.declare(n)
        self.done: set[str] = set()
        self.timed_out = False

    def call(self, name: str, fn: Callable, *args, label: str, timeout_hint: str = "", **kwargs):
        """call_student; a timeout fails ``name`` and stops the check (raises _Stop)."""
        try:
            return call_student(fn, *args, label=label, notes=self.report.notes, **kwargs)
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
    if cls is not None and not isinstance(cls, type):
        raise GradingError(f"{name}: expected a class (`class {name}: ...`), got {type(cls).__name__} "
                           f"({brief(cls)}). Pass the class itself, not an instance or a function.")
    require_callable(cls, name, n_args)


def _number(x: Any, what: str) -> float:
    """``x`` as a float, or StudentCodeError explaining what it is instead (runs inside call_student)."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "fiu":
        return float(x)
    if x is None:
        raise StudentCodeError(f"{what} is None: it must hold a number (initialise it in __init__; backward() sets "
                               f"it for every node).")
    raise StudentCodeError(f"{what} is {type(x).__name__} ({brief(x)}), expected a plain number (float).")


def _attr(obj: Any, attr: str, what: str) -> Any:
    try:
        return getattr(obj, attr)
    except AttributeError:
        raise StudentCodeError(f"{what} has no attribute `.{attr}`: store it in __init__ "
                               f"(self.{attr} = ...).") from None


def _lenient_number(obj: Any, attr: str) -> float | None:
    try:
        x = getattr(obj, attr)
        return _number(x, attr)
    except Exception:
        return None


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
    """core.array_problem, with a clearer word for arrays that still hold dual numbers or Values."""
    if isinstance(got, np.ndarray) and got.dtype == object and got.size:
        first = got.flat[0]
        if not isinstance(first, numbers.Real):
            return (f"an object array of {type(first).__name__} ({brief(first, 40)}): return plain floats, e.g. "
                    f"np.array([y.val for y in out]) (or .dot, .data, .grad).")
    return array_problem(got, expected, **kwargs)


def _vec_text(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{t:g}" for t in np.ravel(v)) + "]"


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:.6g}"


# =============================================================================================== expressions


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


def _node_name(i: int, n_in: int) -> str:
    return f"x{i}" if i < n_in else f"v{i}"


def _step_expr(step: Step, n_in: int) -> str:
    a = _node_name(step.args[0], n_in)
    c = f"{step.const:g}" if step.const is not None else ""
    if step.op in BINARY:
        if len(step.args) == 2:
            return f"{a} {step.op} {_node_name(step.args[1], n_in)}"
        return f"{c} {step.op} {a}" if step.const_left else f"{a} {step.op} {c if step.const >= 0 else f'({c})'}"
    if step.op == "**":
        return f"{a} ** {c}"
    if step.op == "neg":
        return f"-{a}"
    return f"{a}.{step.op}()"


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


def _apply(step: Step, nodes: list) -> Any:
    """Apply one step with Python operators / methods, exactly as a student would write it."""
    a = nodes[step.args[0]]
    if step.op in _PY_BINOPS:
        f = _PY_BINOPS[step.op]
        if len(step.args) == 2:
            return f(a, nodes[step.args[1]])
        return f(step.const, a) if step.const_left else f(a, step.const)
    if step.op == "**":
        return a ** step.const
    if step.op == "neg":
        return -a
    return getattr(a, step.op)()


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


# =============================================================================================== Value class


def _same_kind(out: Any, cls: type) -> bool:
    """An operation's result is an object of the student's class (or of a class it derives from)."""
    return isinstance(out, cls) or (not isinstance(out, (numbers.Number, np.ndarray)) and out is not None
                                    and issubclass(cls, type(out)) and type(out) is not object)


def _run_value(cls: type, prog: Program, backward: bool = True, twice: bool = False) -> dict:
    """Build ``prog`` with ``cls`` (the student's class or the reference) and run backward; plain floats out.

    Runs inside call_student for student classes: any mistake becomes a readable StudentCodeError.
    """
    name = getattr(cls, "__name__", "Value")
    nodes = []
    for i, x in enumerate(prog.inputs):
        nodes.append(cls(x))
    for k, step in enumerate(prog.steps):
        try:
            out = _apply(step, nodes)
        except AttributeError as exc:
            if step.op in METHODS and f"'{step.op}'" in str(exc):
                raise StudentCodeError(f"{name} has no method .{step.op}(): define `def {step.op}(self):` returning "
                                       f"a new {name}.") from None
            if step.const is not None and ("'float' object" in str(exc) or "'int' object" in str(exc)):
                raise StudentCodeError(
                    f"`{_step_expr(step, prog.n_in)}` raised AttributeError: {exc}. A plain number reached your "
                    f"operator: wrap plain numbers first (other = other if isinstance(other, {name}) else "
                    f"{name}(other)), and define __radd__, __rsub__, __rmul__, __rtruediv__ for `2.5 - x`.") from None
            raise
        except TypeError as exc:
            text = str(exc)
            if "unsupported operand" in text or "not supported between" in text:
                hint = (f" Python evaluates `2.5 {step.op} x` as x.__r...__(2.5) when the number cannot handle it: "
                        f"define __radd__, __rsub__, __rmul__, __rtruediv__, and wrap plain numbers into {name}s "
                        f"inside each operator.")
                raise StudentCodeError(f"`{_step_expr(step, prog.n_in)}` raised TypeError: {text}.{hint}") from None
            raise
        if not _same_kind(out, cls):
            raise StudentCodeError(
                f"`{_step_expr(step, prog.n_in)}` returned {type(out).__name__} ({brief(out)}), not a {name}: every "
                f"operation must return a new {name} that remembers its inputs, or backward() cannot reach them.")
        nodes.append(out)
    data = [_number(_attr(n, "data", f"{_node_name(i, prog.n_in)}"), f"{_node_name(i, prog.n_in)}.data")
            for i, n in enumerate(nodes)]
    result = {"data": data}
    if not backward:
        return result
    root = nodes[-1]
    if not callable(getattr(root, "backward", None)):
        raise StudentCodeError(f"{name} has no method .backward().")
    root.backward()
    result["grads"] = [_number(_attr(nodes[i], "grad", f"x{i}"), f"x{i}.grad after backward()")
                       for i in range(prog.n_in)]
    result["all_grads"] = [_lenient_number(n, "grad") for n in nodes]
    if twice:
        root.backward()
        result["grads2"] = [_number(_attr(nodes[i], "grad", f"x{i}"), f"x{i}.grad after a second backward()")
                            for i in range(prog.n_in)]
    return result


def _reference_value(prog: Program, twice: bool = False) -> dict:
    return _run_value(ref_rev.Value, prog, twice=twice)


def _first_wrong_value(prog: Program, got: Sequence[float], want: Sequence[float]) -> str | None:
    for i, (g, w) in enumerate(zip(got, want)):
        if not _scalar_close(g, w, SCALAR_TOL):
            where = "input" if i < prog.n_in else f"`{_step_expr(prog.steps[i - prog.n_in], prog.n_in)}`"
            return f"{_node_name(i, prog.n_in)} = {where}: data {_fmt(g)}, expected {_fmt(w)}"
    return None


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
    def construct(cls):
        v = cls(1.5)
        return _number(_attr(v, "data", f"{name}(1.5)"), f"{name}(1.5).data")

    try:
        data = g.call(F, construct, Value, label=f"{name}(1.5)")
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
            got = g.call(B, _run_value, Value, prog, twice=True, label=f"{name}: backward() called twice")
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
            got = g.call(D, _run_value, Value, prog, label=f"{name} on a chain of {2 * DEEP_LINKS} operations",
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
        g.call(F, _run_value, Value, run, backward=False, label=label)
    except StudentCodeError as exc:
        g.fail(F, str(exc))
        g.fail(L, str(exc))
        return False
    try:
        got = g.call(L, _run_value, Value, run, label=label)
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
            got = g.call(sub, _run_value, Value, prog, label=f"{Value.__name__} on `{expr}`")
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
        got = g.call(sub, _run_value, Value, prog, label=f"{Value.__name__} on a {prog.kind}")
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


# =============================================================================================== topological order


def _reference_graph(prog: Program) -> tuple[ref_rev.Value, list]:
    nodes = [ref_rev.Value(x, label=f"x{i}") for i, x in enumerate(prog.inputs)]
    for k, step in enumerate(prog.steps):
        v = _apply(step, nodes)
        v.label = f"v{prog.n_in + k}"
        nodes.append(v)
    return nodes[-1], nodes


def _ladder(rng: np.random.Generator, rungs: int) -> Program:
    """x0 -> (tanh, * c) -> + -> (tanh, * c) -> + ...: every level is a diamond (2**rungs root-to-leaf paths)."""
    steps, node = [], 0
    for _ in range(rungs):
        steps += [Step("tanh", (node,)), Step("*", (node,), _constant(rng))]
        steps.append(Step("+", (node + 1, node + 2)))
        node += 3
    return Program((_signed(rng, 0.3, 1.5),), tuple(steps), "ladder of diamonds")


def _node_desc(v: Any) -> str:
    label = getattr(v, "label", "")
    if label:
        return label
    return f"a constant Value({v.data:g})" if not v._prev else f"a '{v._op}' node"


@dataclass
class _Snapshot:
    """root's graph as the reference sees it, taken BEFORE the student's function could touch it."""
    nodes: list
    index: dict[int, int]
    children: list[list[int]]
    desc: list[str]
    named: list[bool]


def _snapshot(root: ref_rev.Value) -> _Snapshot:
    nodes = ref_rev.topological_order(root)
    index = {id(v): k for k, v in enumerate(nodes)}
    return _Snapshot(nodes, index, [[index[id(c)] for c in v._prev] for v in nodes], [_node_desc(v) for v in nodes],
                     [bool(v.label) for v in nodes])


def _order_problem(result: Any, snap: _Snapshot) -> str | None:
    """Why ``result`` is not a topological order of the snapshot's graph (inputs before the node using them)."""
    if isinstance(result, (set, frozenset)):
        return "returned a set: a set has no order; return a list with every node after its inputs."
    if not isinstance(result, (list, tuple)):
        return f"returned {type(result).__name__} ({brief(result)}); it must return a list of the graph's nodes."
    n = len(snap.nodes)
    problems = []
    strangers = [x for x in result if id(x) not in snap.index]
    if strangers:
        kind = type(strangers[0]).__name__
        problems.append(f"{len(strangers)} entr{'y is' if len(strangers) == 1 else 'ies are'} not nodes of the "
                        f"graph (e.g. {kind} {brief(strangers[0], 40)}): list the Value objects themselves.")
    pos: dict[int, int] = {}
    dups = []
    for p, x in enumerate(result):
        k = snap.index.get(id(x))
        if k is None:
            continue
        if k in pos:
            dups.append(k)
        else:
            pos[k] = p
    if dups:
        problems.append(f"{len(dups)} duplicate entr{'y' if len(dups) == 1 else 'ies'} (e.g. {snap.desc[dups[0]]} "
                        f"appears more than once){describe(diagnoses.get('TOPO_DUPLICATE'))}")
    missing = [k for k in range(n) if k not in pos]
    if missing:
        if missing == [n - 1]:
            what = "the root itself is missing (it comes last)"
        elif all(not snap.children[k] for k in missing):
            what = f"{len(missing)} leaves are missing (e.g. {snap.desc[missing[0]]})"
        else:
            what = f"{len(missing)} of {n} nodes are missing (e.g. {snap.desc[missing[0]]})"
        problems.append(f"{what}{describe(diagnoses.get('TOPO_MISSING_NODE'))}")
    edges = [(k, c) for k in pos for c in snap.children[k] if c in pos]
    bad = [(k, c) for k, c in edges if pos[c] > pos[k]]
    if bad:
        k, c = min(bad, key=lambda e: (not snap.named[e[0]]) + (not snap.named[e[1]]))  # named nodes read best
        reversed_list = len(bad) == len(edges) and len(pos) > 1
        hint = (" The whole list is reversed (root first): return children before parents; backward() then walks "
                "reversed(order)." if reversed_list else "")
        problems.append(f"{snap.desc[k]} comes before its input {snap.desc[c]} ({len(bad)} such pair"
                        f"{'s' if len(bad) > 1 else ''}).{hint}{describe(diagnoses.get('TOPO_ORDER'))}")
    return "\n      ".join(problems) if problems else None


def check_topological_order(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(root) -> list`` of every node of root's graph, each after its inputs (so root is last).

    Student contract: ``root`` is a ``reference_impl.autodiff.reverse.Value``; a node's inputs (children)
    are ``node._prev`` (a tuple). The list holds every node reachable from root exactly once, including
    leaves and the constant Values that operations created for plain numbers, with each node after all
    of its children. Must not recurse per level: a deep chain of 2 * DEEP_LINKS nodes is included.

    Sub-checks (weight 1 each): trees; graphs with fan-out (a node used several times, a ladder of
    diamonds with 2**rungs paths, which also catches missing visited sets); the deep chain.
    """
    require_callable(fn, "topological_order", 1)
    T, O, D = "trees", "graphs with fan-out (shared nodes)", f"a deep chain ({2 * DEEP_LINKS} operations)"
    g = _Grading("topological order", points, seed, [T, O, D])
    rng = np.random.default_rng(seed)
    ops = ("+", "-", "*", "/", "tanh", "exp")
    cases = [(T, _random_tree(rng, ops, 3, 5)), (T, _random_tree(rng, ops, 4, 8)),
             (O, _random_dag(rng, ops, 3, 4)), (O, _ladder(rng, 6))]
    if thorough:
        cases += [(T, Program((0.7,), (), "single leaf")), (T, _random_tree(rng, ops, 5, 12)),
                  (O, _random_dag(rng, ops, 1, 5)), (O, _random_dag(rng, ops, 4, 8))]
    cases.append((D, _deep_chain(rng, DEEP_LINKS)))
    try:
        for sub, prog in cases:
            root, _ = _reference_graph(prog)
            snap = _snapshot(root)
            desc = prog.kind if prog.kind == "deep chain" else f"{prog.kind} {_program_text(prog, 8)}"
            try:
                result = g.call(sub, lambda: fn(root), label="topological_order(root)")
            except StudentCodeError as exc:
                g.fail(sub, f"{desc}: {exc}")
                continue
            problem = _order_problem(result, snap)
            if problem:
                g.fail(sub, f"{desc}: {problem}")
        g.done.update((T, O, D))
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== Dual class


def _run_dual(cls: type, prog: Program, tangents: Sequence[float]) -> dict:
    """Evaluate ``prog`` on cls(x_i, t_i); return every node's val and dot as floats."""
    name = getattr(cls, "__name__", "Dual")
    nodes = [cls(x, t) for x, t in zip(prog.inputs, tangents)]
    for step in prog.steps:
        try:
            out = _apply(step, nodes)
        except AttributeError as exc:
            if step.op in METHODS and f"'{step.op}'" in str(exc):
                raise StudentCodeError(f"{name} has no method .{step.op}(): define `def {step.op}(self):` returning "
                                       f"a new {name}.") from None
            raise
        except TypeError as exc:
            if "unsupported operand" in str(exc):
                raise StudentCodeError(f"`{_step_expr(step, prog.n_in)}` raised TypeError: {exc}. Define the reflected "
                                       f"operators (__radd__, __rsub__, __rmul__, __rtruediv__) and treat a plain "
                                       f"number c as {name}(c, 0).") from None
            raise
        if not _same_kind(out, cls):
            raise StudentCodeError(f"`{_step_expr(step, prog.n_in)}` returned {type(out).__name__} ({brief(out)}), "
                                   f"not a {name}: every operation must return a new {name}(value, tangent).")
        nodes.append(out)
    vals = [_number(_attr(n, "val", _node_name(i, prog.n_in)), f"{_node_name(i, prog.n_in)}.val")
            for i, n in enumerate(nodes)]
    dots = [_number(_attr(n, "dot", _node_name(i, prog.n_in)), f"{_node_name(i, prog.n_in)}.dot")
            for i, n in enumerate(nodes)]
    return {"val": vals, "dot": dots}


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
    return _run_dual(ref_fwd.Dual, prog, tangents)


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

    def construct(cls):
        d = cls(2.0, 0.5)
        return (_number(_attr(d, "val", f"{name}(2.0, 0.5)"), f"{name}(2.0, 0.5).val"),
                _number(_attr(d, "dot", f"{name}(2.0, 0.5)"), f"{name}(2.0, 0.5).dot"))

    try:
        got = g.call(V, construct, Dual, label=f"{name}(2.0, 0.5)")
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
        specs = [(2, 5, _random_tree), (3, 7, _random_tree), (3, 4, _random_dag)]
        if thorough:
            specs += [(1, 4, _random_tree), (5, 12, _random_tree), (4, 7, _random_dag)]
        for n_in, size, make in specs:
            prog = make(rng, passing, n_in, size)
            _check_dual_expression(g, Dual, prog, _tangents(rng, n_in), V, C, note)
    g.done.update((V, C))


def _check_dual_probe(g: _Grading, Dual: type, prog: Program, tangents, V: str, P: str) -> bool:
    where = f"{_probe_text(prog)} with tangents " + ", ".join(f"x{i}.dot = {t:g}" for i, t in enumerate(tangents))
    ref = _reference_dual(prog, tangents)
    try:
        got = g.call(P, _run_dual, Dual, prog, tangents, label=f"{Dual.__name__} on {where}")
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
        got = g.call(C, _run_dual, Dual, prog, tangents, label=f"{Dual.__name__} on a {prog.kind}")
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


# =============================================================================================== test functions f


def _elementwise(name: str, np_fn: Callable, math_fn: Callable) -> Callable:
    """name(x) for a float, a float array, a dual number/Value (calls x.name()), or an object array of those."""

    def fn(x):
        if isinstance(x, np.ndarray):
            if x.dtype == object:
                out = np.empty(x.shape, dtype=object)
                for idx in np.ndindex(x.shape):
                    out[idx] = fn(x[idx])
                return out
            return np_fn(x.astype(np.float64))
        if isinstance(x, numbers.Real):
            return math_fn(float(x))
        method = getattr(x, name, None)
        if method is None:
            raise TypeError(f"{name}() needs a number or an object with a .{name}() method, got {type(x).__name__}")
        return method()

    fn.__name__ = name
    return fn


_sin = _elementwise("sin", np.sin, math.sin)
_cos = _elementwise("cos", np.cos, math.cos)
_exp = _elementwise("exp", np.exp, math.exp)


def _object_vector(items: Sequence) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    for i, t in enumerate(items):
        arr[i] = t
    return arr


def _as_input(x: Any, n: int) -> np.ndarray:
    """f's argument as a float or object array of shape (n,) (lists of numbers or of dual numbers/Values work)."""
    if isinstance(x, np.ndarray):
        arr = x.astype(np.float64) if x.dtype.kind in "iub" else x
    elif isinstance(x, (list, tuple)):
        if all(isinstance(t, numbers.Real) for t in x):
            arr = np.array(x, dtype=np.float64)
        else:
            arr = _object_vector(list(x))
    else:
        raise TypeError(f"f expects a 1-D array (or list) of length {n}, got {type(x).__name__} ({brief(x)})")
    if arr.shape != (n,):
        raise ValueError(f"f expects an input of shape ({n},), got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class _TestFunction:
    f: Callable          # a plain function (deepcopy keeps functions as they are)
    n: int
    m: int | None        # None: scalar output
    text: str
    params: tuple = ()   # the matrices inside f (for tests that rebuild f symbolically)


def _matrix(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    return np.round(rng.standard_normal((rows, cols)) / math.sqrt(cols), 3)


def _vector_function(rng: np.random.Generator, n: int, m: int) -> _TestFunction:
    """f: R^n -> R^m, y = (W2 @ (sin(z) + 0.1 z*z) + exp(0.2 W3 @ x)) / (1.5 + cos(W4 @ x)), z = W1 @ x."""
    W1, W2, W3, W4 = _matrix(rng, 3, n), _matrix(rng, m, 3), _matrix(rng, m, n), _matrix(rng, m, n)

    def f(x):
        x = _as_input(x, n)
        z = W1 @ x
        a = _sin(z) + 0.1 * z * z
        return (W2 @ a + _exp(0.2 * (W3 @ x))) / (1.5 + _cos(W4 @ x))

    return _TestFunction(f, n, m, f"f: R^{n} -> R^{m}, f(x) = (W2 @ (sin(W1 @ x) + 0.1 (W1 @ x)**2) + "
                                  f"exp(0.2 W3 @ x)) / (1.5 + cos(W4 @ x))", (W1, W2, W3, W4))


def _scalar_function(rng: np.random.Generator, n: int) -> _TestFunction:
    """f: R^n -> R (n >= 2), sum(sin(z) * z) + exp(0.3 x0) * x_{n-1} / (2 + cos(x1)), z = W @ x."""
    W = _matrix(rng, 3, n)

    def f(x):
        x = _as_input(x, n)
        z = W @ x
        return np.sum(_sin(z) * z) + _exp(0.3 * x[0]) * x[n - 1] / (2.0 + _cos(x[1]))

    return _TestFunction(f, n, None, f"f: R^{n} -> R, f(x) = sum(sin(W @ x) * (W @ x)) + exp(0.3 x0) * x{n - 1} / "
                                     f"(2 + cos(x1))", (W,))


def _worked_example() -> _TestFunction:
    def f(x):
        x = _as_input(x, 2)
        return x[0] * x[1] + _sin(x[0])

    return _TestFunction(f, 2, None, "f(x) = x0 * x1 + sin(x0)")


def _one_input_function() -> _TestFunction:
    def f(x):
        x = _as_input(x, 1)
        return _exp(_sin(x[0])) * x[0]

    return _TestFunction(f, 1, None, "f(x) = exp(sin(x0)) * x0")


def _input_kind(x: Any) -> str:
    """'float', 'dual' (entries with .dot/.val), 'value' (entries with .backward) or 'other'."""
    if isinstance(x, np.ndarray):
        items = list(x.ravel()) if x.dtype == object else []
    elif isinstance(x, (list, tuple)):
        items = list(x)
    elif isinstance(x, numbers.Real):
        items = []
    else:
        items = [x]
    for t in items:
        if isinstance(t, numbers.Real):
            continue
        if hasattr(t, "backward"):
            return "value"
        if hasattr(t, "dot") or hasattr(t, "val"):
            return "dual"
        return "other"
    return "float"


def _counting(f: Callable) -> tuple[Callable, dict]:
    counts = {"float": 0, "dual": 0, "value": 0, "other": 0}

    def counted(x):
        counts[_input_kind(x)] += 1
        return f(x)

    return counted, counts


def _gradient_of(tf: _TestFunction, x: np.ndarray) -> np.ndarray:
    return ref_fwd.jacobian_forward(tf.f, x)[0]


def _pass_text(counts: dict) -> str:
    return (f"f was evaluated {counts['dual']} time(s) on dual numbers, {counts['value']} time(s) on Values and "
            f"{counts['float']} time(s) on plain floats")


def _distinct_point(rng: np.random.Generator, tf: _TestFunction, extra: Callable[[np.ndarray], list] | None = None,
                    tries: int = 30) -> np.ndarray:
    """A random x where the candidate wrong answers differ clearly from each other."""
    for _ in range(tries):
        x = np.round(rng.uniform(-1.2, 1.2, tf.n), 3)
        g = _gradient_of(tf, x) if tf.m is None else ref_fwd.jacobian_forward(tf.f, x).ravel()
        vals = list(g) + ([float(np.sum(g))] if tf.m is None else []) + (extra(x) if extra else [])
        diffs = [abs(a - b) for a, b in itertools.combinations(vals, 2)]
        if not diffs or min(diffs) > 1e-3 * max(1.0, max(abs(v) for v in vals)):
            return x
    return x


# =============================================================================================== partial derivative


def check_partial_derivative(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, i) -> df/dx_i`` computed by ONE forward-mode pass.

    Student contract: f takes a 1-D array (n,) and returns a scalar (see the module docstring: called
    on dual numbers it returns a dual number); x is a float array (n,), i an int index. Seed
    Dual(x_j, 1.0 if j == i else 0.0), evaluate f once, return the output's tangent ``.dot`` as a float.

    Sub-checks (weight 1 each): the value of df/dx_i (includes the course's worked example
    f = x0 * x1 + sin(x0) at (2, 3), df/dx0 = 2.58385); exactly one evaluation of f on dual numbers per
    call (finite differences, or n passes for one partial, do not count as forward mode).
    """
    require_callable(fn, "partial_derivative", 3)
    Vn, Pn = "df/dx_i", "one forward pass on dual numbers"
    g = _Grading("partial derivative by forward mode", points, seed, [Vn, Pn])
    rng = np.random.default_rng(seed)
    cases = [(_worked_example(), np.array([2.0, 3.0]), 0)]
    for n in (3, 4):
        tf = _scalar_function(rng, n)
        cases.append((tf, _distinct_point(rng, tf), int(rng.integers(n))))
    if thorough:
        cases += [(_worked_example(), np.array([2.0, 3.0]), 1), (_one_input_function(), np.array([0.8]), 0)]
        tf = _scalar_function(rng, 6)
        cases.append((tf, _distinct_point(rng, tf), 5))
    try:
        for tf, x, i in cases:
            grad = _gradient_of(tf, x)
            want = np.float64(grad[i])
            where = f"{tf.text} at x = {_vec_text(x)}, i = {i}"
            counted, counts = _counting(tf.f)
            try:
                got = g.call(Vn, fn, counted, x, i, label="partial_derivative(f, x, i)")
            except StudentCodeError as exc:
                g.fail(Vn, f"{where}: {exc}")
                g.fail(Pn, f"{where}: not checked because the call failed.")
                continue
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
                           " Finite differences are approximations; forward mode is exact.")
                    g.fail(Pn, f"{where}: f was never evaluated on dual numbers ({_pass_text(counts)}).{how}")
                else:
                    g.fail(Pn, f"{where}: {_pass_text(counts)}; one pass with the seed e_{i} gives df/dx_{i} "
                               f"(computing the whole gradient costs n = {tf.n} passes).")
        g.done.update((Vn, Pn))
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== JVP / VJP / Jacobian


def _vector_cases(rng: np.random.Generator, thorough: bool, shapes=None) -> list[tuple[_TestFunction, np.ndarray]]:
    shapes = shapes or ([(3, 2), (2, 4)] + ([(1, 3), (4, 1), (3, 3), (5, 2)] if thorough else []))
    cases = []
    for n, m in shapes:
        tf = _vector_function(rng, n, m)
        cases.append((tf, np.round(rng.uniform(-1.2, 1.2, n), 3)))
    return cases


def check_jvp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, v) -> (f(x), J(x) @ v)`` by ONE forward-mode pass.

    Student contract: f maps a 1-D array (n,) to a 1-D array (m,) (module docstring: evaluated on dual
    numbers it returns dual numbers); x, v float arrays (n,). Seed Dual(x_j, v_j), evaluate f once,
    return two float64 arrays (m,): the values (.val) and the tangents (.dot).

    Sub-checks (weight 1 each): f(x); J v; a single evaluation of f on dual numbers.
    """
    return _check_jvp_vjp(fn, "jvp", seed, points, thorough)


def check_vjp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, u) -> (f(x), u @ J(x))`` by ONE reverse-mode pass.

    Student contract: f maps a 1-D array (n,) to a 1-D array (m,) (module docstring: evaluated on Values
    it builds the graph and returns Values); x float (n,), u float (m,). Build Value leaves for x,
    evaluate f once, run ONE backward pass from L = sum_i u_i * f_i (e.g. with the reference
    ``Value``: ``L = sum(u_i * y_i); L.backward()``), return two float64 arrays: f(x) (m,) and the
    leaves' gradients (n,).

    Sub-checks (weight 1 each): f(x); u^T J; a single pass (f evaluated once on Values, and with the
    reference Value exactly one backward() call; backward calls of a student's own class cannot be
    counted).
    """
    return _check_jvp_vjp(fn, "vjp", seed, points, thorough)


def _check_jvp_vjp(fn, which: str, seed, points, thorough):
    forward = which == "jvp"
    require_callable(fn, which, 3)
    Fx, Pr, Pa = "f(x)", ("J v" if forward else "u^T J"), "a single pass"
    g = _Grading(f"{which} by {'forward' if forward else 'reverse'} mode", points, seed, [Fx, Pr, Pa])
    rng = np.random.default_rng(seed)
    try:
        for tf, x in _vector_cases(rng, thorough):
            J = ref_fwd.jacobian_forward(tf.f, x)
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
            counted, counts = _counting(tf.f)
            try:
                with ref_rev.count_backward_passes() as backward_passes:
                    result = g.call(Pr, fn, counted, x, w, label=f"{which}(f, x, {'v' if forward else 'u'})")
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
            _check_single_pass(g, Pa, where, counts, backward_passes.count, forward, tf)
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
        g.fail(name, f"{where}: {_pass_text(counts)} and backward() ran {backward} time(s) (counted for the "
                     f"reference Value); a VJP needs ONE backward pass from L = sum_i u_i * f_i(x).")


def check_jacobian(fn, mode: str = "forward", *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x) -> J`` of shape (m, n), ``J[i, j] = d f_i / d x_j``, by forward or reverse mode.

    Student contract: f maps a 1-D array (n,) to a 1-D array (m,) (see the module docstring); x float
    (n,). Return a float64 array (m, n).

    ``mode="forward"``: one forward pass per input direction e_j (one column each): f evaluated on dual
    numbers exactly n times. ``mode="reverse"``: one backward pass per output (one row each): f evaluated
    on Values (once, or once per row) and never on dual numbers; with the reference Value exactly m
    ``backward()`` calls (a student's own Value class cannot be counted, then only the f evaluations are).

    Sub-checks (weight 1 each): J; the number of passes. Cases include n > m and n < m so the counts differ.
    """
    if mode not in ("forward", "reverse"):
        raise ValueError(f"check_jacobian: mode must be 'forward' or 'reverse', got {mode!r}")
    require_callable(fn, f"jacobian_{mode}", 2)
    Jn, Pn = "J", f"{mode} mode: {'n' if mode == 'forward' else 'm'} passes"
    g = _Grading(f"Jacobian by {mode} mode", points, seed, [Jn, Pn])
    rng = np.random.default_rng(seed)
    try:
        for tf, x in _vector_cases(rng, thorough):
            J = ref_fwd.jacobian_forward(tf.f, x)
            where = f"{tf.text} at x = {_vec_text(x)}"
            counted, counts = _counting(tf.f)
            try:
                with ref_rev.count_backward_passes() as backward_passes:
                    got = g.call(Jn, fn, counted, x, label=f"jacobian(f, x)")
            except StudentCodeError as exc:
                g.fail(Jn, f"{where}: {exc}")
                g.fail(Pn, f"{where}: not checked because the call failed.")
                continue
            problem = _array_problem(got, J)
            if problem:
                cands = {"JACOBIAN_TRANSPOSED": [J.T]}
                g.fail(Jn, f"{where}: J {problem}{describe(diagnose(got, J, cands))}")
            problem = _jacobian_pass_problem(mode, counts, backward_passes.count, tf)
            if problem:
                g.fail(Pn, f"{where}: {problem}")
        g.done.update((Jn, Pn))
    except _Stop:
        pass
    return g.finish()


def _jacobian_pass_problem(mode: str, counts: dict, backward: int, tf: _TestFunction) -> str | None:
    n, m = tf.n, tf.m
    if mode == "forward":
        if counts["dual"] == n:
            return None
        if counts["dual"] == 0:
            swapped = describe(diagnoses.get("AD_MODES_SWAPPED")) if counts["value"] else ""
            return (f"{_pass_text(counts)}: forward mode evaluates f on Dual(x, e_j) once per input, n = {n} "
                    f"passes.{swapped}")
        return f"{_pass_text(counts)}; forward mode needs exactly n = {n} passes (one column J e_j per pass)."
    if counts["dual"]:
        return (f"{_pass_text(counts)}: that is forward mode (one pass per input); reverse mode runs one backward "
                f"pass per output, m = {m}.{describe(diagnoses.get('AD_MODES_SWAPPED'))}")
    if counts["value"] == 0:
        return f"{_pass_text(counts)}: reverse mode evaluates f on Values and runs backward() once per output."
    if backward and backward != m:
        return (f"backward() ran {backward} time(s); reverse mode needs exactly m = {m} backward passes (one row "
                f"e_i^T J per pass).")
    if counts["value"] not in (1, m):
        return (f"{_pass_text(counts)}: build the graph once (or once per output row, m = {m}), then one "
                f"backward pass per output.")
    return None


# =============================================================================================== HVP


def check_hvp(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(f, x, v) -> H(x) @ v`` for a scalar f: R^n -> R (Hessian-vector product).

    Student contract: f as in the module docstring (scalar output); x, v float arrays (n,). Return a
    float64 array (n,). Any exact-enough method is accepted (tolerance 1e-6): forward-over-reverse
    (reverse-mode graph on Dual(x_i, v_i) data, e.g. ``Value(Dual(x_i, v_i))`` with the reference
    classes, then the tangents of the leaves' grads), reverse-over-forward, or central differences of
    an exact gradient. The Hessian itself must never be needed.

    One sub-check: H v on every case (compared with ``reference_impl.autodiff.forward.hvp``, which the
    tests compare with SymPy and finite differences).
    """
    require_callable(fn, "hvp", 3)
    Hn = "H v"
    g = _Grading("Hessian-vector product", points, seed, [Hn])
    rng = np.random.default_rng(seed)
    cases = [_scalar_function(rng, 3), _scalar_function(rng, 2)]
    if thorough:
        cases += [_scalar_function(rng, 5), _one_input_function(), _worked_example()]
    try:
        for tf in cases:
            x = np.round(rng.uniform(-1.2, 1.2, tf.n), 3)
            v = np.round(rng.uniform(-1.5, 1.5, tf.n), 3)
            want = ref_fwd.hvp(tf.f, x, v)
            grad = _gradient_of(tf, x)
            where = (f"{tf.text} at x = {_vec_text(x)}, v = "
                     f"{_vec_text(v)}")
            try:
                got = g.call(Hn, fn, tf.f, x, v, label="hvp(f, x, v)")
            except StudentCodeError as exc:
                g.fail(Hn, f"{where}: {exc}")
                continue
            problem = _array_problem(got, want, tol=1e-6)
            if problem:
                ones = ref_fwd.hvp(tf.f, x, np.ones(tf.n))
                diag = describe(diagnose(got, want, {"FORWARD_SEED_WRONG_INPUT": [ones]}))
                if diag:
                    diag += "\n      For H v the tangent seeds are v itself: Value(Dual(x_i, v_i)) for every i."
                if not diag and close(got, grad, 1e-6):
                    diag = ("\n      That is the gradient of f: read the TANGENTS of the leaves' gradients "
                            "(grad.dot), not their values.")
                g.fail(Hn, f"{where}: H v {problem}{diag}")
        g.done.add(Hn)
    except _Stop:
        pass
    return g.finish()


# =============================================================================================== pass counts

PASS_QUESTIONS: dict[str, tuple[str, Callable[[int, int], int]]] = {
    "grad_forward": ("the full gradient of f: R^n -> R by forward mode", lambda n, m: n),
    "grad_reverse": ("the full gradient of f: R^n -> R by reverse mode", lambda n, m: 1),
    "deriv_forward": ("all m derivatives of g: R -> R^m by forward mode", lambda n, m: 1),
    "deriv_reverse": ("all m derivatives of g: R -> R^m by reverse mode", lambda n, m: m),
    "jacobian_forward": ("the full Jacobian of h: R^n -> R^m by forward mode", lambda n, m: n),
    "jacobian_reverse": ("the full Jacobian of h: R^n -> R^m by reverse mode", lambda n, m: m),
}
_SWAP = {"grad_forward": "grad_reverse", "grad_reverse": "grad_forward", "deriv_forward": "deriv_reverse",
         "deriv_reverse": "deriv_forward", "jacobian_forward": "jacobian_reverse",
         "jacobian_reverse": "jacobian_forward"}


def check_pass_counts(answers, *, n: int, m: int, keys: Sequence[str] = ("grad_forward", "grad_reverse",
                                                                         "deriv_forward", "deriv_reverse"),
                      seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade numeric answers "how many passes does it take" (a dict of ints).

    ``answers``: {key: int} for each key in ``keys`` (see PASS_QUESTIONS): grad_forward (n), grad_reverse
    (1), deriv_forward (1), deriv_reverse (m), jacobian_forward (n), jacobian_reverse (m), for the n and
    m the notebook states. One sub-check per key. ``seed``/``thorough`` are accepted for uniformity.
    """
    for k in keys:
        if k not in PASS_QUESTIONS:
            raise ValueError(f"check_pass_counts: unknown key {k!r}; choose from {list(PASS_QUESTIONS)}")
    g = _Grading("number of passes", points, seed, [PASS_QUESTIONS[k][0] for k in keys])
    if answers is None or not isinstance(answers, dict):
        got = "None (assign the dict in the cell above)" if answers is None else type(answers).__name__
        raise GradingError(f"answers: expected a dict like {{'{keys[0]}': ...}}, got {got}.")
    expected = {k: PASS_QUESTIONS[k][1](n, m) for k in keys}
    for k in keys:
        label = PASS_QUESTIONS[k][0]
        if k not in answers:
            g.fail(label, f"answers['{k}'] is missing.")
            continue
        a = answers[k]
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not float(a).is_integer():
            hint = f" (with n = {n}, m = {m})" if isinstance(a, str) else ""
            g.fail(label, f"answers['{k}'] = {brief(a)}: give a whole number{hint}.")
            continue
        a = int(a)
        if a == expected[k]:
            continue
        other = _SWAP[k]
        swapped = (a == PASS_QUESTIONS[other][1](n, m) and answers.get(other) == expected[k])
        g.fail(label, f"answers['{k}'] = {a} is not right for {label} (n = {n}, m = {m})."
                      + (describe(diagnoses.get("AD_MODES_SWAPPED")) if swapped else ""))
    extra = [k for k in answers if k not in keys]
    if extra:
        g.report.notes.append(f"ignored unknown key(s): {', '.join(map(str, extra))}")
    return g.finish()


# =============================================================================================== checkpointing


class _Tracker:
    """Counts layer calls and how many layer outputs are alive at each call (weak references)."""

    def __init__(self, n_layers: int):
        self.alive: set[int] = set()
        self.peak = 0
        self.forward_calls = 0
        self.backward_calls = [0] * n_layers

    def sample(self) -> None:
        self.peak = max(self.peak, len(self.alive))

    def track(self, arr: np.ndarray) -> np.ndarray:
        key = id(arr)
        self.alive.add(key)
        weakref.finalize(arr, self.alive.discard, key)
        return arr


def _tracked_layers(Ws: Sequence[np.ndarray], tracker: _Tracker) -> list:
    layers = []
    for i, (fwd, bwd) in enumerate(ref_ckpt.tanh_chain(Ws)):
        def forward(h, fwd=fwd):
            tracker.sample()
            tracker.forward_calls += 1
            return tracker.track(fwd(h))

        def backward(h, h_next, dh_next, bwd=bwd, i=i):
            tracker.sample()
            tracker.backward_calls[i] += 1
            return bwd(h, h_next, dh_next)

        layers.append((forward, backward))
    return layers


def check_checkpointed_backward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade gradient checkpointing ``fn(layers, x, dout, k) -> (dx, grads)``.

    Student contract:
        layers: list of N pairs (forward, backward); ``forward(h) -> h_next`` (a new array) and
        ``backward(h, h_next, dh_next) -> (dh, dW)`` where h is the layer's input, h_next its output and
        dh_next = dL/dh_next. x = h_0 (B, D); dout = dL/dh_N (B, D); k the segment length.
        Keep only the checkpoints h_0, h_k, h_2k, ... (and h_N) from the forward pass; in the backward
        pass recompute one segment at a time from its checkpoint, backpropagate through it and drop
        its activations. Return dx = dL/dh_0 (B, D) and grads, a list of N arrays with grads[i] the
        dW of layers[i].

    Sub-checks (weight 1 each): dx; grads; memory: the layer outputs alive at once (measured with weak
    references at every layer call) stay within ``reference_impl.autodiff.checkpoint.expected_peak_stored(N, k)``
    + 2 (slack for loop variables), far below the N + 1 of plain backprop; compute: each layer's backward
    runs once and the layer forwards total at most 2N (the reference needs exactly 2N - ceil(N/k)). The
    memory and compute sub-checks count only once the gradients are right.
    """
    require_callable(fn, "checkpointed_backward", 4)
    DX, GR, ME, CO = "dx", "grads (one dW per layer)", "memory: O(N/k + k) activations alive", \
        "compute: about one extra forward pass"
    g = _Grading("gradient checkpointing", points, seed, [DX, GR, ME, CO])
    rng = np.random.default_rng(seed)
    specs = [(24, 5, 2, 3), (36, 6, 3, 2)] + ([(1, 1, 1, 2), (50, 7, 2, 3), (9, 20, 2, 2), (30, 1, 1, 2)]
                                              if thorough else [])
    try:
        for N, k, B, D in specs:
            Ws = [np.round(rng.standard_normal((D, D)) * 0.9, 3) for _ in range(N)]
            x = np.round(rng.standard_normal((B, D)), 3)
            dout = np.round(rng.standard_normal((B, D)), 3)
            dx_ref, grads_ref, _ = ref_ckpt.backprop_full(ref_ckpt.tanh_chain(Ws), x, dout)
            where = f"N = {N} layers tanh(h @ W_i), k = {k}, h of shape {x.shape}"
            tracker = _Tracker(N)
            layers = _tracked_layers(Ws, tracker)
            try:
                result = g.call(DX, fn, layers, x, dout, k, label="checkpointed_backward(layers, x, dout, k)")
                dx, grads = unpack(result, ("dx", "grads"), "checkpointed_backward(layers, x, dout, k)")
            except StudentCodeError as exc:
                for n in (DX, GR):
                    g.fail(n, f"{where}: {exc}")
                for n in (ME, CO):
                    g.fail(n, f"{where}: not checked because the call failed.")
                continue
            ok = True
            problem = array_problem(dx, dx_ref)
            if problem:
                ok = False
                g.fail(DX, f"{where}: dx {problem}")
            problem = _grads_problem(grads, grads_ref)
            if problem:
                ok = False
                g.fail(GR, f"{where}: {problem}")
            if not ok:
                for n in (ME, CO):
                    g.fail(n, f"{where}: not credited until dx and grads are right.")
                continue
            allowed = ref_ckpt.expected_peak_stored(N, k) + 2
            if tracker.peak > allowed and N + 1 > allowed:
                g.fail(ME, f"{where}: {tracker.peak} layer outputs were alive at once; checkpointing with k = {k} "
                           f"needs at most {allowed - 2} (+2 slack), plain backprop keeps N + 1 = {N + 1}."
                           + (describe(diagnoses.get("CHECKPOINT_KEEPS_ALL")) if tracker.peak >= N - 1 else ""))
            problem = _compute_problem(tracker, N, k)
            if problem:
                g.fail(CO, f"{where}: {problem}")
        g.done.update((DX, GR, ME, CO))
    except _Stop:
        pass
    return g.finish()


def _grads_problem(grads: Any, want: list[np.ndarray]) -> str | None:
    if grads is None:
        return "grads is None: return the list of the N parameter gradients."
    if not isinstance(grads, (list, tuple)):
        return f"grads must be a list of {len(want)} arrays, got {type(grads).__name__} ({brief(grads)})."
    if len(grads) != len(want):
        return f"grads has {len(grads)} entries; it must have one per layer, {len(want)}."
    bad = [(i, p) for i, (got, w) in enumerate(zip(grads, want)) if (p := array_problem(got, w))]
    if not bad:
        return None
    if len(want) > 1 and all(array_problem(got, w) is None for got, w in zip(grads, want[::-1])):
        return (f"{len(bad)} of {len(want)} entries are wrong, but reversed the list would be right."
                f"{describe(diagnoses.get('LAYER_GRADS_REVERSED'))}")
    i, p = bad[0]
    return f"{len(bad)} of {len(want)} entries wrong; grads[{i}] {p}"


def _compute_problem(tracker: _Tracker, N: int, k: int) -> str | None:
    exact = 2 * N - len(ref_ckpt.segments(N, k))
    twice = [i for i, c in enumerate(tracker.backward_calls) if c != 1]
    if twice:
        i = twice[0]
        return (f"layers[{i}]'s backward ran {tracker.backward_calls[i]} times; every layer's backward runs exactly "
                f"once.")
    if tracker.forward_calls > 2 * N:
        return (f"the layer forwards ran {tracker.forward_calls} times for N = {N} layers; checkpointing costs at most "
                f"one extra forward pass ({exact} calls with k = {k}: each segment recomputed once from its "
                f"checkpoint).{describe(diagnoses.get('CHECKPOINT_RECOMPUTE'))}")
    return None
