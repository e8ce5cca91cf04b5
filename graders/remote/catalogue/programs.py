"""Expression programs run on a student's ``Value`` (reverse mode) or ``Dual`` (forward mode) class.

A program is data (:func:`encode_program`: the inputs x0, x1, ... and per step an operation, one or two node
indices, a number ``const`` and whether it stands on the left); nodes 0..n_in-1 are the inputs, step k creates
node n_in + k by applying ``op`` with Python operators and methods exactly as a learner writes them (``a * b``,
``2.5 - a``, ``a ** 3``, ``-a``, ``a.tanh()``). The
runners build the nodes with the class they are given, run ``backward()`` (Value) and return plain floats, or
raise :class:`CatalogueError` with a message that names the learner's mistake (a missing reflected operator, a
method that returns a float...). The checks run the same runners on the reference classes for the expected
values, in the grader's process: nothing here knows a right answer.
"""

from __future__ import annotations

import numbers
import operator
from typing import Any, Sequence

import numpy as np

from graders.remote import protocol
from graders.remote.catalogue import CatalogueError, brief, register

BINARY = ("+", "-", "*", "/")
METHODS = ("exp", "log", "tanh", "relu", "sigmoid", "sin", "cos")
OPS = BINARY + ("**", "neg") + METHODS
_PY_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


# ============================================================================================ program text


def node_name(i: int, n_in: int) -> str:
    return f"x{i}" if i < n_in else f"v{i}"


def step_text(op: str, args: Sequence[int], const: Any, const_left: bool, n_in: int) -> str:
    """One step as a learner writes it: ``x0 * x1``, ``2.5 - v3``, ``v4 ** 3``, ``-x0``, ``v5.tanh()``."""
    a = node_name(args[0], n_in)
    c = f"{const:g}" if const is not None else ""
    if op in BINARY:
        if len(args) == 2:
            return f"{a} {op} {node_name(args[1], n_in)}"
        return f"{c} {op} {a}" if const_left else f"{a} {op} {c if const >= 0 else f'({c})'}"
    if op == "**":
        return f"{a} ** {c}"
    if op == "neg":
        return f"-{a}"
    return f"{a}.{op}()"


def apply_step(op: str, args: Sequence[int], const: Any, const_left: bool, nodes: list) -> Any:
    """Apply one step with Python operators / methods, exactly as a student would write it."""
    a = nodes[args[0]]
    if op in _PY_BINOPS:
        f = _PY_BINOPS[op]
        if len(args) == 2:
            return f(a, nodes[args[1]])
        return f(const, a) if const_left else f(a, const)
    if op == "**":
        return a ** const
    if op == "neg":
        return -a
    return getattr(a, op)()


def encode_program(inputs: Sequence[float], steps: Sequence[tuple]) -> dict:
    """A program as compact data: ``steps`` are (op, args, const, const_left) tuples (const None or a number)."""
    n = len(steps)
    args = np.full((n, 2), -1, dtype=np.int64)
    const = np.full(n, np.nan)
    is_int = np.zeros(n, dtype=bool)
    for k, (_, a, c, _left) in enumerate(steps):
        args[k, :len(a)] = a
        if c is not None:
            const[k] = float(c)
            is_int[k] = isinstance(c, int)
    return {"inputs": np.array(inputs, dtype=np.float64), "ops": [s[0] for s in steps], "args": args,
            "const": const, "const_is_int": is_int, "const_left": np.array([bool(s[3]) for s in steps], dtype=bool)}


_STEPS_CACHE: dict = {}


def _steps(prog: Any) -> tuple[list, list[tuple]]:
    """(inputs, steps) of a program sent as data (see encode_program), checked (a malformed one is a grader bug).

    A check runs the same program many times (a 5000-step chain, once per probe): a decoded program is kept by the
    content of its arrays, so it is checked once."""
    try:
        key = (tuple(prog["ops"]), *(prog[k].tobytes() + str(prog[k].dtype).encode() for k in
                                     ("inputs", "args", "const", "const_is_int", "const_left")))
    except (TypeError, KeyError, AttributeError):
        key = None
    if key is not None and key in _STEPS_CACHE:
        inputs, steps = _STEPS_CACHE[key]
        return list(inputs), list(steps)
    inputs, steps = _decode_steps(prog)
    if key is not None:
        if len(_STEPS_CACHE) > 32:
            _STEPS_CACHE.clear()
        _STEPS_CACHE[key] = (tuple(inputs), tuple(steps))
    return inputs, steps


def _decode_steps(prog: Any) -> tuple[list, list[tuple]]:
    try:
        inputs, ops, args, const, is_int, left = (prog[k] for k in ("inputs", "ops", "args", "const",
                                                                   "const_is_int", "const_left"))
    except (TypeError, KeyError):
        raise protocol.ProtocolError("a program needs inputs, ops, args, const, const_is_int, const_left") from None
    n_in, n = (inputs.size, len(ops)) if isinstance(inputs, np.ndarray) and type(ops) is list else (-1, -1)
    if n_in < 0 or inputs.ndim != 1 or any(not isinstance(a, np.ndarray) or a.shape[:1] != (n,)
                                          for a in (args, const, is_int, left)) \
            or args.shape != (n, 2) or args.dtype.kind != "i" or any(op not in OPS for op in ops):
        raise protocol.ProtocolError("malformed program")
    steps = []
    for k, (op, a, c, c_int, c_left) in enumerate(zip(ops, args.tolist(), const.tolist(), is_int.tolist(),
                                                      left.tolist())):
        a = tuple(i for i in a if i >= 0)
        if not 1 <= len(a) <= 2 or any(i >= n_in + k for i in a):
            raise protocol.ProtocolError(f"malformed program step {k}")
        c = None if c != c else (int(c) if c_int else c)
        steps.append((op, a, c, bool(c_left)))
    return inputs.tolist(), steps


# ============================================================================================ reading results


def same_kind(out: Any, cls: type) -> bool:
    """An operation's result is an object of the student's class (or of a class it derives from)."""
    return isinstance(out, cls) or (not isinstance(out, (numbers.Number, np.ndarray)) and out is not None
                                    and issubclass(cls, type(out)) and type(out) is not object)


def number(x: Any, what: str) -> float:
    """``x`` as a float, or CatalogueError explaining what it is instead."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "fiu":
        return float(x)
    if x is None:
        raise CatalogueError(f"{what} is None: it must hold a number (initialise it in __init__; backward() sets it "
                             f"for every node).")
    raise CatalogueError(f"{what} is {type(x).__name__} ({brief(x)}), expected a plain number (float).")


def attr(obj: Any, name: str, what: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise CatalogueError(f"{what} has no attribute `.{name}`: store it in __init__ (self.{name} = ...).") from None


def lenient_number(obj: Any, name: str) -> float | None:
    try:
        return number(getattr(obj, name), name)
    except Exception:
        return None


# ============================================================================================ runners


@register("construct")
def _construct(params: dict, state: dict):
    """run(cls, args, attrs, text): the numbers in ``attrs`` of ``cls(*args)`` (text: how the message names it)."""
    def run(cls, args, attrs, text):
        obj = cls(*args)
        return [number(attr(obj, a, text), f"{text}.{a}") for a in attrs]
    return run


@register("value_program")
def _value_program(params: dict, state: dict):
    """run(cls, program, backward=True, twice=False) -> {"data", "grads", "all_grads", "grads2"} (floats)."""
    return run_value


def run_value(cls: type, prog: dict, backward: bool = True, twice: bool = False) -> dict:
    """Build ``prog`` with ``cls`` and run backward() on its last node; every node's .data and the inputs' .grad."""
    inputs, steps = _steps(prog)
    n_in = len(inputs)
    name = getattr(cls, "__name__", "Value")
    nodes = [cls(x) for x in inputs]
    for op, args, const, const_left in steps:
        text = step_text(op, args, const, const_left, n_in)
        try:
            out = apply_step(op, args, const, const_left, nodes)
        except AttributeError as exc:
            if op in METHODS and f"'{op}'" in str(exc):
                raise CatalogueError(f"{name} has no method .{op}(): define `def {op}(self):` returning a new "
                                     f"{name}.") from None
            if const is not None and ("'float' object" in str(exc) or "'int' object" in str(exc)):
                raise CatalogueError(
                    f"`{text}` raised AttributeError: {exc}. A plain number reached your operator: wrap plain "
                    f"numbers first (other = other if isinstance(other, {name}) else {name}(other)), and define "
                    f"__radd__, __rsub__, __rmul__, __rtruediv__ for `2.5 - x`.") from None
            raise
        except TypeError as exc:
            msg = str(exc)
            if "unsupported operand" in msg or "not supported between" in msg:
                hint = (f" Python evaluates `2.5 {op} x` as x.__r...__(2.5) when the number cannot handle it: "
                        f"define __radd__, __rsub__, __rmul__, __rtruediv__, and wrap plain numbers into {name}s "
                        f"inside each operator.")
                raise CatalogueError(f"`{text}` raised TypeError: {msg}.{hint}") from None
            raise
        if not same_kind(out, cls):
            raise CatalogueError(
                f"`{text}` returned {type(out).__name__} ({brief(out)}), not a {name}: every operation must return "
                f"a new {name} that remembers its inputs, or backward() cannot reach them.")
        nodes.append(out)
    data = [number(attr(n, "data", node_name(i, n_in)), f"{node_name(i, n_in)}.data") for i, n in enumerate(nodes)]
    result: dict = {"data": data}
    if not backward:
        return result
    root = nodes[-1]
    if not callable(getattr(root, "backward", None)):
        raise CatalogueError(f"{name} has no method .backward().")
    root.backward()
    result["grads"] = [number(attr(nodes[i], "grad", f"x{i}"), f"x{i}.grad after backward()") for i in range(n_in)]
    result["all_grads"] = [lenient_number(n, "grad") for n in nodes]
    if twice:
        root.backward()
        result["grads2"] = [number(attr(nodes[i], "grad", f"x{i}"), f"x{i}.grad after a second backward()")
                            for i in range(n_in)]
    return result


@register("dual_program")
def _dual_program(params: dict, state: dict):
    """run(cls, program, tangents) -> {"val": [...], "dot": [...]} for every node (floats)."""
    return run_dual


def run_dual(cls: type, prog: dict, tangents: Sequence[float]) -> dict:
    """Evaluate ``prog`` on cls(x_i, t_i); every node's val and dot as floats."""
    inputs, steps = _steps(prog)
    n_in = len(inputs)
    if type(tangents) not in (list, tuple) or len(tangents) != n_in:
        raise protocol.ProtocolError("dual_program needs one tangent per input")
    name = getattr(cls, "__name__", "Dual")
    nodes = [cls(x, t) for x, t in zip(inputs, tangents)]
    for op, args, const, const_left in steps:
        text = step_text(op, args, const, const_left, n_in)
        try:
            out = apply_step(op, args, const, const_left, nodes)
        except AttributeError as exc:
            if op in METHODS and f"'{op}'" in str(exc):
                raise CatalogueError(f"{name} has no method .{op}(): define `def {op}(self):` returning a new "
                                     f"{name}.") from None
            raise
        except TypeError as exc:
            if "unsupported operand" in str(exc):
                raise CatalogueError(f"`{text}` raised TypeError: {exc}. Define the reflected operators (__radd__, "
                                     f"__rsub__, __rmul__, __rtruediv__) and treat a plain number c as {name}(c, 0)."
                                     ) from None
            raise
        if not same_kind(out, cls):
            raise CatalogueError(f"`{text}` returned {type(out).__name__} ({brief(out)}), not a {name}: every "
                                 f"operation must return a new {name}(value, tangent).")
        nodes.append(out)
    vals = [number(attr(n, "val", node_name(i, n_in)), f"{node_name(i, n_in)}.val") for i, n in enumerate(nodes)]
    dots = [number(attr(n, "dot", node_name(i, n_in)), f"{node_name(i, n_in)}.dot") for i, n in enumerate(nodes)]
    return {"val": vals, "dot": dots}
