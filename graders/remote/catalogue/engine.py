"""Probes of step 1 of notebook 02's engine: a ``Value`` class whose ``+`` and ``*`` record the graph.

Each runner takes the student's class and plain numbers, builds a leaf or one expression (``a + b``,
``a * c`` with a plain number c, ``c * a``, ``a * a``...), and reports facts as data: the node's ``.data``
and ``.grad``, whether its ``_prev`` holds the operands (by identity, which only this process can see), and
the children's ``.grad`` after a call of the node's ``_backward()`` with preset gradients. The check compares
the facts with the chain rule; a mistake that stops the probe is a :class:`CatalogueError` naming it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from graders.remote.catalogue import CatalogueError, brief, register

OPS = {
    "a + b": lambda a, b, c: a + b,
    "a * b": lambda a, b, c: a * b,
    "a + c": lambda a, b, c: a + c,
    "c + a": lambda a, b, c: c + a,
    "a * c": lambda a, b, c: a * c,
    "c * a": lambda a, b, c: c * a,
    "a + a": lambda a, b, c: a + a,
    "a * a": lambda a, b, c: a * a,
}


def real(x: Any) -> float | None:
    """x as a finite float when it is a real number (Python/NumPy scalar, size-1 numeric array, SymPy number),
    else None (as graders.core.real_number)."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, np.ndarray) and x.size == 1 and x.dtype.kind in "fiu":
        x = x.reshape(())[()]
    if isinstance(x, numbers.Real):
        v = float(x)
        return v if math.isfinite(v) else None
    if type(x).__module__.startswith("sympy"):
        try:
            if x.is_number:
                v = complex(x)
                return v.real if abs(v.imag) < 1e-12 and math.isfinite(v.real) else None
        except Exception:
            return None
    return None


def _number(x: Any, what: str) -> float:
    v = real(x)
    if v is None:
        if x is None:
            raise CatalogueError(f"{what} is None: it must hold a number.")
        raise CatalogueError(f"{what} is {type(x).__name__} ({brief(x)}), expected a plain number.")
    return v


def _get(obj: Any, name: str, what: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise CatalogueError(f"{what} has no attribute `.{name}`: set self.{name} in __init__.") from None


def _same_kind(out: Any, cls: type) -> bool:
    """An operation's result is an object of the student's class (or of a class it derives from)."""
    return isinstance(out, cls) or (out is not None and not isinstance(out, (numbers.Number, np.ndarray))
                                    and type(out) is not object and issubclass(cls, type(out)))


def _build(Value: type, expr: str, va: Any, vb: Any, c: float) -> Any:
    """``expr`` on the student's Values, with readable errors for the usual operator mistakes."""
    name = Value.__name__
    try:
        return OPS[expr](va, vb, c)
    except TypeError as exc:
        hint = ""
        if expr.startswith("c"):
            hint = (f" Python evaluates `2.5 + a` as a.__radd__(2.5) when the float cannot handle a {name}: define "
                    f"__radd__ and __rmul__.")
        elif "c" in expr:
            hint = (f" Wrap a plain number into a {name} first: other = other if isinstance(other, {name}) else "
                    f"{name}(other).")
        raise CatalogueError(f"`{expr}` raised TypeError: {exc}.{hint}") from None
    except AttributeError as exc:
        raise CatalogueError(f"`{expr}` raised AttributeError: {exc}. A plain number reached your operator: wrap "
                             f"it into a {name} first (other = other if isinstance(other, {name}) else "
                             f"{name}(other)).") from None


def forward_facts(Value: type, expr: str, a: float, b: float, c: float) -> dict:
    """Build ``expr`` with the student's class; plain-number facts out."""
    name = Value.__name__
    va, vb = Value(a), Value(b)
    out = _build(Value, expr, va, vb, c)
    if not _same_kind(out, Value):
        raise CatalogueError(f"`{expr}` returned {type(out).__name__} ({brief(out)}), not a new {name}: the "
                             f"result must be a node that remembers its inputs.")
    if out is va or out is vb:
        raise CatalogueError(f"`{expr}` returned one of its operands: return a NEW {name}.")
    prev = _get(out, "_prev", f"the result of `{expr}`")
    try:
        prev_list = list(prev)
    except TypeError:
        raise CatalogueError(f"(`{expr}`)._prev is {type(prev).__name__}: store the inputs as a tuple, "
                             f"_prev = (self, other).") from None
    return {"data": _number(_get(out, "data", f"the result of `{expr}`"), f"(`{expr}`).data"),
            "grad": real(getattr(out, "grad", None)),
            "a_grad": real(getattr(va, "grad", None)),
            "prev_has_a": any(p is va for p in prev_list),
            "prev_has_b": any(p is vb for p in prev_list),
            "prev_consts": [real(getattr(p, "data", None)) for p in prev_list if p is not va and p is not vb],
            "prev_types_ok": all(_same_kind(p, Value) for p in prev_list),
            "n_prev": len(prev_list)}


def local_backward_facts(Value: type, expr: str, a: float, b: float, c: float, g: float, s_a: float,
                         s_b: float) -> dict:
    """out = expr; preset a.grad = s_a, b.grad = s_b, out.grad = g; call out._backward(); read the grads."""
    va, vb = Value(a), Value(b)
    out = _build(Value, expr, va, vb, c)
    if not _same_kind(out, Value):
        raise CatalogueError(f"`{expr}` returned {type(out).__name__} ({brief(out)}), not a new {Value.__name__}.")
    va.grad, vb.grad = s_a, s_b
    out.grad = g
    fn = _get(out, "_backward", f"the result of `{expr}`")
    if not callable(fn):
        raise CatalogueError(f"(`{expr}`)._backward is {type(fn).__name__}, not a function: assign the closure "
                             f"itself, out._backward = _backward (without calling it).")
    try:
        fn()
    except TypeError as exc:
        if "argument" in str(exc):
            raise CatalogueError(f"out._backward() raised TypeError: {exc}. In this notebook _backward takes no "
                                 f"arguments: it reads the upstream gradient from out.grad.") from None
        raise
    return {"a": _number(_get(va, "grad", "a"), "a.grad after out._backward()"),
            "b": _number(_get(vb, "grad", "b"), "b.grad after out._backward()")}


def leaf_facts(Value: type) -> dict:
    """Value(1.5): its .data, whether .grad exists and what it holds, len(_prev), and whether _backward() is a
    function that leaves .grad alone."""
    v = Value(1.5)
    prev = getattr(v, "_prev", None)
    fn = getattr(v, "_backward", None)
    missing = object()
    grad = getattr(v, "grad", missing)
    if callable(fn):
        fn()
    n_prev = None if prev is None else (-1 if isinstance(prev, (str, bytes)) else len(list(prev)))
    return {"data": real(getattr(v, "data", None)), "grad_missing": grad is missing,
            "grad": None if grad is missing else real(grad), "grad_brief": brief(grad), "prev": n_prev,
            "backward_callable": callable(fn), "grad_after": real(getattr(v, "grad", None))}


@register("engine_leaf")
def _engine_leaf(params: dict, state: dict):
    return leaf_facts


@register("engine_forward")
def _engine_forward(params: dict, state: dict):
    return forward_facts


@register("engine_local_backward")
def _engine_local_backward(params: dict, state: dict):
    return local_backward_facts
