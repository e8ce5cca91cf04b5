"""Forward-mode automatic differentiation with dual numbers, and Jacobian helpers.

A dual number ``Dual(val, dot)`` stands for ``val + dot * eps`` with ``eps**2 = 0``. Evaluating a
function on ``Dual(x, v)`` gives ``Dual(f(x), f'(x) * v)``: one forward pass yields one
directional derivative (a Jacobian-vector product, JVP). Reverse mode (``reverse.Value``) gives
one vector-Jacobian product (VJP) per backward pass. Hence for f: R^n -> R^m

* ``jacobian_forward`` needs n passes (one JVP per input direction, one column each),
* ``jacobian_reverse`` needs m backward passes (one VJP per output, one row each);

both helpers can report the passes the engines actually performed (``return_passes=True``).

Functions handed to ``jvp``/``vjp``/``jacobian_*``/``hvp`` take a 1-D NumPy array and are written
with ordinary NumPy code (``+ - * / ** @``, ``np.sin``, ``np.exp``, ``np.tanh``, ``np.log``,
``np.sum`` ...). The helpers call them with object arrays of ``Dual`` or ``Value``; NumPy then
applies the Python operators to each element and, for a ufunc such as ``np.exp``, calls the
element's method of the same name. Functions that force floats (``np.asarray(x, float)``,
``float(x[0])``) cut the derivative and raise a TypeError instead.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from reference_impl.autodiff.reverse import (
    PassCount,
    Value,
    _apply,
    _check_exponent,
    _pow_data,
    _pow_local,
    count_backward_passes,
)

__all__ = [
    "Dual",
    "sin",
    "cos",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "relu",
    "derivative",
    "jvp",
    "vjp",
    "jacobian_forward",
    "jacobian_reverse",
    "hvp",
    "count_forward_passes",
    "count_backward_passes",
]


# --------------------------------------------------------------------------- Dual
def _component(c, name: str):
    if isinstance(c, numbers.Real):
        return float(c)
    if isinstance(c, Value):  # allowed: Dual(Value, Value) is reverse-over-forward
        return c
    raise TypeError(f"Dual {name} must be a real number (or a Value), got {type(c).__name__}")


class Dual:
    """Dual number ``val + dot * eps`` (``eps**2 = 0``).

    Attributes:
        val: primal value f(x) (a float; a Value is also accepted for reverse-over-forward).
        dot: tangent, the directional derivative f'(x) * v carried along.
    """

    __slots__ = ("val", "dot")

    def __init__(self, val, dot=0.0) -> None:
        self.val = _component(val, "val")
        self.dot = _component(dot, "dot")

    def __repr__(self) -> str:
        return f"Dual(val={self.val!r}, dot={self.dot!r})"

    @staticmethod
    def _lift(other):
        """Numbers become constants (dot = 0); anything else (arrays, Values) -> NotImplemented."""
        if isinstance(other, Dual):
            return other
        if isinstance(other, numbers.Real):
            return Dual(other, 0.0)
        return NotImplemented

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other) -> "Dual":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return Dual(self.val + other.val, self.dot + other.dot)

    def __sub__(self, other) -> "Dual":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return Dual(self.val - other.val, self.dot - other.dot)

    def __mul__(self, other) -> "Dual":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return Dual(self.val * other.val, self.dot * other.val + self.val * other.dot)

    def __truediv__(self, other) -> "Dual":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        q = self.val / other.val
        # (a/b)' = (a' - q b') / b
        return Dual(q, (self.dot - q * other.dot) / other.val)

    def __pow__(self, p) -> "Dual":
        p = _check_exponent(p)
        return Dual(_pow_data(self.val, p), _pow_local(self.val, p) * self.dot)

    def __rpow__(self, base):
        raise TypeError(
            f"{type(base).__name__} ** Dual is not supported (the exponent must be a number); "
            "write (x * math.log(base)).exp() instead"
        )

    def __neg__(self) -> "Dual":
        return Dual(-self.val, -self.dot)

    def __radd__(self, other) -> "Dual":
        return self.__add__(other)

    def __rmul__(self, other) -> "Dual":
        return self.__mul__(other)

    def __rsub__(self, other) -> "Dual":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return other - self

    def __rtruediv__(self, other) -> "Dual":
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        return other / self

    # Comparisons use the primal value only (used by relu, np.max, the log domain check).
    def __lt__(self, other):
        return self.val < (other.val if isinstance(other, Dual) else other)

    def __le__(self, other):
        return self.val <= (other.val if isinstance(other, Dual) else other)

    def __gt__(self, other):
        return self.val > (other.val if isinstance(other, Dual) else other)

    def __ge__(self, other):
        return self.val >= (other.val if isinstance(other, Dual) else other)

    # ---------------------------------------------------------------- elementary functions
    def exp(self) -> "Dual":
        e = _apply("exp", self.val)
        return Dual(e, e * self.dot)

    def log(self) -> "Dual":
        if self.val <= 0:
            raise ValueError(f"log is only defined for val > 0, got {self.val!r}")
        return Dual(_apply("log", self.val), self.dot / self.val)

    def tanh(self) -> "Dual":
        t = _apply("tanh", self.val)
        return Dual(t, (1.0 - t * t) * self.dot)

    def sigmoid(self) -> "Dual":
        s = _apply("sigmoid", self.val)
        return Dual(s, s * (1.0 - s) * self.dot)

    def relu(self) -> "Dual":
        if self.val > 0:
            return Dual(self.val, self.dot)
        return Dual(0.0, 0.0)

    def sin(self) -> "Dual":
        return Dual(_apply("sin", self.val), _apply("cos", self.val) * self.dot)

    def cos(self) -> "Dual":
        return Dual(_apply("cos", self.val), -_apply("sin", self.val) * self.dot)


# --------------------------------------------------------------------------- dispatching functions
def _stable_sigmoid_array(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _checked_log_array(x: np.ndarray) -> np.ndarray:
    if np.any(x <= 0):
        raise ValueError("log is only defined for entries > 0")
    return np.log(x)


def _elementwise(name: str, array_fn: Callable[[np.ndarray], np.ndarray]):
    """Build ``name(x)`` accepting a float, a Dual, a Value or an array of any of these."""

    def fn(x):
        if isinstance(x, (Dual, Value)):
            return getattr(x, name)()
        if isinstance(x, numbers.Real):
            if name == "log" and x <= 0:
                raise ValueError(f"log is only defined for x > 0, got {x!r}")
            return _apply(name, x)
        arr = np.asarray(x)
        if arr.dtype == object:
            return np.frompyfunc(fn, 1, 1)(arr)
        if arr.dtype.kind in "fiub":
            return array_fn(arr.astype(np.float64))
        raise TypeError(f"{name}: unsupported input of type {type(x).__name__}")

    fn.__name__ = name
    fn.__doc__ = (
        f"{name}(x) for a float, Dual, Value, or an array of those (same shape as x).\n\n"
        "Float arrays use NumPy; object arrays are mapped element by element."
    )
    return fn


sin = _elementwise("sin", np.sin)
cos = _elementwise("cos", np.cos)
exp = _elementwise("exp", np.exp)
log = _elementwise("log", _checked_log_array)
tanh = _elementwise("tanh", np.tanh)
sigmoid = _elementwise("sigmoid", _stable_sigmoid_array)
relu = _elementwise("relu", lambda a: np.maximum(a, 0.0))


# --------------------------------------------------------------------------- pass counting
_ACTIVE_FORWARD_COUNTERS: list[PassCount] = []


class count_forward_passes:
    """Context manager counting forward-mode passes (evaluations of f on Dual inputs)
    performed inside the ``with`` block by ``derivative``/``jvp``/``jacobian_forward``."""

    def __enter__(self) -> PassCount:
        self._counter = PassCount()
        _ACTIVE_FORWARD_COUNTERS.append(self._counter)
        return self._counter

    def __exit__(self, *exc) -> None:
        _ACTIVE_FORWARD_COUNTERS.remove(self._counter)


def _forward_pass(f: Callable, dual_input):
    """Evaluate f on Dual input(s): this is the one place a forward-mode pass happens."""
    out = f(dual_input)
    for counter in _ACTIVE_FORWARD_COUNTERS:
        counter.count += 1
    return out


# --------------------------------------------------------------------------- validation
def _as_vector(x, name: str) -> np.ndarray:
    """A float64 copy of x, required to be 1-D, non-empty and finite."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (n,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must have at least one entry")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _as_output(out) -> np.ndarray:
    """f's result as an object array of shape () or (m,)."""
    arr = np.asarray(out, dtype=object)
    if arr.ndim > 1:
        raise ValueError(
            f"f must return a scalar or a 1-D array (m,), got shape {arr.shape}; flatten it first"
        )
    if arr.size == 0:
        raise ValueError("f returned an empty array")
    return arr


def _object_vector(items) -> np.ndarray:
    """1-D object array holding ``items`` (filled in place so NumPy never inspects them)."""
    arr = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        arr[i] = item
    return arr


def _split_dual(y) -> tuple[float, float]:
    """(value, tangent) of one output element of a forward pass."""
    if isinstance(y, Dual):
        return float(y.val), float(y.dot)
    if isinstance(y, numbers.Real):  # output that does not depend on x
        return float(y), 0.0
    raise TypeError(
        f"f returned an element of type {type(y).__name__}; jvp needs f to be built from "
        "operations that Dual supports"
    )


def _value_data(y) -> float:
    if isinstance(y, Value):
        return float(y.data)
    if isinstance(y, numbers.Real):
        return float(y)
    raise TypeError(
        f"f returned an element of type {type(y).__name__}; vjp needs f to be built from "
        "operations that Value supports"
    )


# --------------------------------------------------------------------------- forward mode
def derivative(f: Callable, x: float) -> float:
    """f'(x) for a scalar function f: R -> R by one forward pass with the seed Dual(x, 1)."""
    if np.ndim(x) != 0:
        raise ValueError(f"derivative needs a scalar x, got shape {np.shape(x)}; use jvp")
    x = float(x)
    out = _as_output(_forward_pass(f, Dual(x, 1.0)))
    if out.ndim != 0:
        raise ValueError(f"derivative needs f to return a scalar, got shape {out.shape}; use jvp")
    return _split_dual(out.item())[1]


def jvp(f: Callable, x, v):
    """Jacobian-vector product by one forward-mode pass.

    Args:
        f: NumPy function, (n,) array -> (m,) array or scalar.
        x: (n,) point. v: (n,) tangent direction. Neither is modified.
    Returns:
        (f(x), J(x) @ v): two (m,) float64 arrays, or two floats if f returns a scalar.
    """
    x = _as_vector(x, "x")
    v = _as_vector(v, "v")
    if v.shape != x.shape:
        raise ValueError(f"v must have the same shape as x {x.shape}, got {v.shape}")
    seeds = _object_vector([Dual(xi, vi) for xi, vi in zip(x, v)])
    out = _as_output(_forward_pass(f, seeds))
    pairs = [_split_dual(y) for y in out.reshape(-1)]
    fx = np.array([p[0] for p in pairs], dtype=np.float64)
    jv = np.array([p[1] for p in pairs], dtype=np.float64)
    if out.ndim == 0:
        return float(fx[0]), float(jv[0])
    return fx, jv


def jacobian_forward(f: Callable, x, return_passes: bool = False):
    """Jacobian J (m, n) column by column: column j = J @ e_j, one forward pass each.

    Args:
        f: NumPy function, (n,) -> (m,) (a scalar output counts as m = 1).
        x: (n,) point.
        return_passes: also return the number of forward passes performed (n).
    Returns:
        J: (m, n) float64, or (J, passes) if return_passes.
    """
    x = _as_vector(x, "x")
    n = x.size
    columns = []
    with count_forward_passes() as passes:
        for j in range(n):
            e_j = np.zeros(n)
            e_j[j] = 1.0
            _, col = jvp(f, x, e_j)
            columns.append(np.atleast_1d(col))
    J = np.stack(columns, axis=1)
    return (J, passes.count) if return_passes else J


# --------------------------------------------------------------------------- reverse mode
def _reverse_graph(f: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leaves (n,) of Values for x and f's outputs as an object array (() or (m,))."""
    leaves = _object_vector([Value(xi) for xi in x])
    return leaves, _as_output(f(leaves))


def vjp(f: Callable, x, u):
    """Vector-Jacobian product by one backward pass of ``sum(u * f(x))``.

    Args:
        f: NumPy function, (n,) array -> (m,) array or scalar.
        x: (n,) point. u: (m,) cotangent (a scalar, or shape (1,), if f returns a scalar).
    Returns:
        (f(x), u @ J(x)): f(x) as an (m,) float64 array (a float for scalar f), and an (n,) array.
    """
    x = _as_vector(x, "x")
    leaves, out = _reverse_graph(f, x)
    u_arr = np.asarray(u)
    if u_arr.dtype.kind not in "fiub":
        raise TypeError(f"u must be numeric, got dtype {u_arr.dtype}")
    u_arr = u_arr.astype(np.float64)
    if out.ndim == 0 and u_arr.shape in ((), (1,)):
        u_arr = u_arr.reshape(())
    elif u_arr.shape != out.shape:
        raise ValueError(f"u must have the shape of f(x) {out.shape}, got {u_arr.shape}")
    flat_out, flat_u = out.reshape(-1), u_arr.reshape(-1)
    fx = np.array([_value_data(y) for y in flat_out], dtype=np.float64)

    total = 0.0
    for ui, yi in zip(flat_u, flat_out):
        if isinstance(yi, Value):  # constant outputs contribute nothing
            total = total + float(ui) * yi
    if isinstance(total, Value):
        total.backward()
    grads = np.array([leaf.grad for leaf in leaves], dtype=np.float64)
    return (float(fx[0]) if out.ndim == 0 else fx), grads


def jacobian_reverse(f: Callable, x, return_passes: bool = False):
    """Jacobian J (m, n) row by row: row i = e_i @ J, one backward pass each.

    The graph of f is built once; each row is one reverse sweep from output i (a VJP with
    u = e_i). Outputs that do not depend on x give a zero row without a pass.

    Args:
        f: NumPy function, (n,) -> (m,) (a scalar output counts as m = 1).
        x: (n,) point.
        return_passes: also return the number of backward passes performed (m).
    Returns:
        J: (m, n) float64, or (J, passes) if return_passes.
    """
    x = _as_vector(x, "x")
    leaves, out = _reverse_graph(f, x)
    flat_out = out.reshape(-1)
    J = np.zeros((flat_out.size, x.size))
    with count_backward_passes() as passes:
        for i, yi in enumerate(flat_out):
            _value_data(yi)  # type check
            if not isinstance(yi, Value):
                continue
            # backward() zeroes only the graph below yi: leaves outside it would keep the
            # previous row's gradient, so reset all leaves first.
            for leaf in leaves:
                leaf.grad = 0.0
            yi.backward()
            J[i] = [leaf.grad for leaf in leaves]
    return (J, passes.count) if return_passes else J


# --------------------------------------------------------------------------- second order
def hvp(f: Callable, x, v) -> np.ndarray:
    """Hessian-vector product H(x) @ v of a scalar function, forward-over-reverse.

    The reverse-mode graph is evaluated on Dual data ``Dual(x_i, v_i)``; the backward pass then
    computes grad f(x + eps v) = grad f(x) + eps H(x) v, so each leaf's grad carries
    (H v)_i in its tangent. One forward and one backward pass, no Hessian is ever formed.

    Args:
        f: NumPy function, (n,) -> scalar (shape () or (1,)).
        x: (n,) point. v: (n,) direction.
    Returns:
        (n,) float64 array H(x) @ v.
    """
    x = _as_vector(x, "x")
    v = _as_vector(v, "v")
    if v.shape != x.shape:
        raise ValueError(f"v must have the same shape as x {x.shape}, got {v.shape}")
    leaves = _object_vector([Value(Dual(xi, vi)) for xi, vi in zip(x, v)])
    out = _as_output(f(leaves))
    if out.size != 1:
        raise ValueError(f"hvp needs a scalar function, f returned shape {out.shape}")
    y = out.reshape(-1)[0]
    if isinstance(y, numbers.Real):
        return np.zeros_like(x)
    if not isinstance(y, Value):
        raise TypeError(f"f returned {type(y).__name__}; hvp needs Value operations")
    y.backward()
    return np.array(
        [leaf.grad.dot if isinstance(leaf.grad, Dual) else 0.0 for leaf in leaves],
        dtype=np.float64,
    )
