"""Scalar reverse-mode automatic differentiation (a careful micrograd).

Every arithmetic operation on :class:`Value` objects records its inputs and a small *local
backward* function. ``root.backward()`` walks the recorded graph in reverse topological order and
applies the chain rule: each local backward receives the upstream gradient ``g = d root / d out``
and ADDS ``g * d out / d child`` into every child's ``.grad`` (``+=``, so a node used several
times, e.g. ``x * x``, collects one contribution per use).

Design choices worth knowing:

* ``backward()`` is iterative (no recursion), so graphs thousands of nodes deep work.
* ``backward()`` is idempotent: it zeroes every gradient in the graph before seeding
  ``root.grad = 1``, so calling it twice gives the same gradients, not doubled ones.
* ``Value`` works inside NumPy object arrays: ``np.array(values, dtype=object) @ W`` uses the
  operators below, and ``np.exp(obj_array)`` calls ``Value.exp`` on every element.
* ``data`` is normally a float. It may also be a forward-mode ``Dual`` number; running the
  reverse pass on Dual data is forward-over-reverse differentiation (Hessian-vector products,
  see ``forward.hvp``).
* There is deliberately no ``__float__``: silently turning a Value into a float would cut it
  out of the graph and lose its gradient. Read ``.data`` instead.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Callable, Iterator

__all__ = ["Value", "topological_order", "grad", "count_backward_passes", "PassCount"]


# --------------------------------------------------------------------------- scalar math
def _real_sigmoid(x: float) -> float:
    # Two branches so that exp never overflows for large |x|.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _real_relu(x: float) -> float:
    return x if x > 0 else 0.0


_REAL_FUNCS: dict[str, Callable[[float], float]] = {
    "exp": math.exp,
    "log": math.log,
    "tanh": math.tanh,
    "sin": math.sin,
    "cos": math.cos,
    "sigmoid": _real_sigmoid,
    "relu": _real_relu,
}


def _apply(name: str, x):
    """``name(x)`` for a real number x, else ``x.name()`` (e.g. for a Dual carried as data)."""
    if isinstance(x, numbers.Real):
        return _REAL_FUNCS[name](float(x))
    return getattr(x, name)()


def _check_exponent(p) -> float:
    """Exponent of ``**``: a real number, never a Value/Dual (that needs exp/log, see message)."""
    if isinstance(p, numbers.Real) and not isinstance(p, bool):
        return float(p)
    raise TypeError(
        f"exponent must be an int or float, got {type(p).__name__}; "
        "for a differentiable exponent write (b * a.log()).exp() instead of a ** b"
    )


def _pow_local(base, p: float):
    """d(base**p)/d base = p * base**(p-1), with clear errors where it is undefined."""
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    try:
        return p * base ** (p - 1.0)
    except ZeroDivisionError:
        raise ValueError(f"d/dx x**{p:g} is infinite at x = 0") from None


def _pow_data(base, p: float):
    if base < 0 and not p.is_integer():
        raise ValueError(f"x**{p:g} with x = {base} < 0 is not a real number")
    return base**p


# --------------------------------------------------------------------------- pass counting
class PassCount:
    """Mutable counter yielded by the ``count_*_passes`` context managers (``.count``)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __repr__(self) -> str:
        return f"PassCount({self.count})"


_ACTIVE_BACKWARD_COUNTERS: list[PassCount] = []


@contextlib.contextmanager
def count_backward_passes() -> Iterator[PassCount]:
    """Count the ``Value.backward()`` calls made inside the ``with`` block.

    Example::

        with count_backward_passes() as passes:
            J = jacobian_reverse(f, x)
        passes.count   # == number of reverse sweeps actually run
    """
    counter = PassCount()
    _ACTIVE_BACKWARD_COUNTERS.append(counter)
    try:
        yield counter
    finally:
        _ACTIVE_BACKWARD_COUNTERS.remove(counter)


# --------------------------------------------------------------------------- Value
class Value:
    """A scalar node of a computational graph.

    Attributes:
        data: the forward value (float; or a ``Dual`` for forward-over-reverse).
        grad: d(root)/d(this node) after ``root.backward()``; 0.0 before.
        label: optional name, only for printing.
        _prev: tuple of the child nodes this one was computed from.
        _op: the operation that produced this node ("" for leaves).
        _backward: ``g -> None`` adding this node's contribution into its children's grads,
            or None for leaves. It never references the output node itself (no reference cycles).
    """

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_backward", "__weakref__")

    def __init__(self, data, label: str = "", _children: tuple = (), _op: str = "") -> None:
        if isinstance(data, Value):
            raise TypeError("Value(data): data is already a Value; use it directly")
        if isinstance(data, numbers.Real):
            data = float(data)
        elif not hasattr(data, "exp"):
            raise TypeError(
                f"Value data must be a real number (or a Dual), got {type(data).__name__}"
            )
        self.data = data
        self.grad = 0.0
        self.label = label
        self._prev = tuple(_children)
        self._op = _op
        self._backward: Callable | None = None

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _lift(other):
        """Numbers become constant leaves; anything else (arrays, Duals) -> NotImplemented."""
        if isinstance(other, Value):
            return other
        if isinstance(other, numbers.Real):
            return Value(other)
        return NotImplemented

    def _unary(self, name: str, data, local) -> "Value":
        """New node ``out = name(self)`` with local derivative ``local`` = d out / d self."""
        out = Value(data, _children=(self,), _op=name)

        def _backward(g):
            self.grad += local * g

        out._backward = _backward
        return out

    # ---------------------------------------------------------------- binary operators
    def __add__(self, other) -> "Value":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        out = Value(self.data + other.data, _children=(self, other), _op="+")

        def _backward(g):
            self.grad += g
            other.grad += g

        out._backward = _backward
        return out

    def __mul__(self, other) -> "Value":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        out = Value(self.data * other.data, _children=(self, other), _op="*")

        def _backward(g):
            self.grad += other.data * g
            other.grad += self.data * g

        out._backward = _backward
        return out

    def __truediv__(self, other) -> "Value":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        q = self.data / other.data
        out = Value(q, _children=(self, other), _op="/")

        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b**2 = -q/b
        def _backward(g):
            self.grad += g / other.data
            other.grad += -q * g / other.data

        out._backward = _backward
        return out

    def __pow__(self, p) -> "Value":
        p = _check_exponent(p)
        base = self.data
        out = Value(_pow_data(base, p), _children=(self,), _op=f"**{p:g}")

        def _backward(g):
            self.grad += _pow_local(base, p) * g

        out._backward = _backward
        return out

    def __rpow__(self, base):
        raise TypeError(
            f"{type(base).__name__} ** Value is not supported (the exponent must be a number); "
            "write (x * math.log(base)).exp() instead"
        )

    def __neg__(self) -> "Value":
        return self * -1.0

    def __sub__(self, other) -> "Value":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return self + (-other)

    def __radd__(self, other) -> "Value":
        return self.__add__(other)

    def __rmul__(self, other) -> "Value":
        return self.__mul__(other)

    def __rsub__(self, other) -> "Value":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return other - self

    def __rtruediv__(self, other) -> "Value":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return other / self

    # Comparisons look at data only (no gradient flows through them); they make np.max,
    # np.maximum and sorting work on object arrays. __eq__ stays identity so Values hash.
    def __lt__(self, other):
        return self.data < (other.data if isinstance(other, Value) else other)

    def __le__(self, other):
        return self.data <= (other.data if isinstance(other, Value) else other)

    def __gt__(self, other):
        return self.data > (other.data if isinstance(other, Value) else other)

    def __ge__(self, other):
        return self.data >= (other.data if isinstance(other, Value) else other)

    # ---------------------------------------------------------------- elementary functions
    # Method names match NumPy ufuncs: np.exp(object_array) calls Value.exp on each element.
    def exp(self) -> "Value":
        e = _apply("exp", self.data)
        return self._unary("exp", e, e)

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log is only defined for data > 0, got {self.data!r}")
        return self._unary("log", _apply("log", self.data), 1.0 / self.data)

    def tanh(self) -> "Value":
        t = _apply("tanh", self.data)
        return self._unary("tanh", t, 1.0 - t * t)

    def sigmoid(self) -> "Value":
        s = _apply("sigmoid", self.data)
        return self._unary("sigmoid", s, s * (1.0 - s))

    def relu(self) -> "Value":
        # Subgradient at 0 is taken as 0 (same convention as layers.relu_backward).
        positive = self.data > 0
        return self._unary("relu", self.data if positive else 0.0, 1.0 if positive else 0.0)

    def sin(self) -> "Value":
        return self._unary("sin", _apply("sin", self.data), _apply("cos", self.data))

    def cos(self) -> "Value":
        return self._unary("cos", _apply("cos", self.data), -_apply("sin", self.data))

    # ---------------------------------------------------------------- stop-gradient
    def detach(self) -> "Value":
        """A new leaf Value with the same data: stop-gradient.

        ``y = f(x.detach())`` computes the same number as ``f(x)``, but ``y.backward()`` treats the
        detached use as a constant, so no gradient reaches ``x`` through it (other uses of ``x`` still
        contribute). PyTorch's ``detach()`` and JAX's ``stop_gradient`` do the same.
        """
        return Value(self.data, label=self.label)

    # ---------------------------------------------------------------- backpropagation
    def backward(self) -> None:
        """Fill ``.grad`` of every node below this one with d(self)/d(node).

        Zeroes the whole graph's gradients first, then seeds ``self.grad = 1`` and runs each
        node's local backward in reverse topological order (every consumer of a node is
        processed before the node passes its gradient on).
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            if node._backward is not None:
                node._backward(node.grad)
        for counter in _ACTIVE_BACKWARD_COUNTERS:
            counter.count += 1

    def zero_grad(self) -> None:
        """Set ``.grad = 0.0`` on this node and every node below it."""
        for node in topological_order(self):
            node.grad = 0.0


def topological_order(root: Value) -> list[Value]:
    """All nodes reachable from ``root``, each once, children before parents (root last).

    Iterative depth-first search with an explicit stack, so depth is not limited by Python's
    recursion limit. A ``(node, True)`` entry means "all of node's children are done".
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order expects a Value, got {type(root).__name__}")
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for child in node._prev:
            if id(child) not in visited:
                stack.append((child, False))
    return order


def grad(f: Callable[..., Value], *xs: float) -> tuple[float, ...]:
    """Partial derivatives of a scalar function of scalars by one reverse pass.

    Args:
        f: takes ``len(xs)`` Values, returns a Value (or a plain number, meaning a constant).
        xs: the point, real numbers.
    Returns:
        ``(df/dx_1, ..., df/dx_n)`` as floats.
    """
    for i, x in enumerate(xs):
        if not isinstance(x, numbers.Real):
            raise TypeError(f"grad: argument {i} must be a real number, got {type(x).__name__}")
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    if isinstance(out, numbers.Real):
        return tuple(0.0 for _ in leaves)
    if not isinstance(out, Value):
        raise TypeError(f"grad: f must return a Value (a scalar), got {type(out).__name__}")
    out.backward()
    return tuple(float(leaf.grad) for leaf in leaves)
