"""Test functions f for forward and reverse mode (``jvp(f, x, v)``, ``vjp``, Jacobians, HVPs, partials).

Each f takes a 1-D array (n,) and returns a scalar or a 1-D array (m,), written with ordinary NumPy code: ``+ -
* /``, ``@`` with float matrices, indexing, ``np.sum`` and the elementwise sin, cos, exp, which call an entry's
``.sin()`` / ``.cos()`` / ``.exp()`` method when it is not a number. So the same f evaluates plain floats, dual
numbers (one forward pass) or Values (one graph for reverse mode), the reference classes or a learner's own.
The item ``ad_function`` counts in its state how often f was evaluated on floats, dual numbers (entries with
``.val``/``.dot``), Values (entries with ``.backward``) or anything else. The runner ``count_backward`` counts the
top-level ``backward()`` calls of every Value class that f was evaluated on during a student's call: the learner's
own class (the notebook's, or one the learner wrote) as well as the reference one. f instruments such a class
the first time it sees it inside the runner (its ``backward`` is wrapped by a counter) and the runner restores
the class when the call ends; a backward that calls backward() again inside counts once.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

from graders.remote import protocol
from graders.remote.catalogue import brief, register

FORMS = ("vector", "scalar", "worked", "one_input", "subset", "offset")
KINDS = ("float", "dual", "value", "other")


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


sin = _elementwise("sin", np.sin, math.sin)
cos = _elementwise("cos", np.cos, math.cos)
exp = _elementwise("exp", np.exp, math.exp)


def _object_vector(items: Sequence) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    for i, t in enumerate(items):
        arr[i] = t
    return arr


def as_input(x: Any, n: int) -> np.ndarray:
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


def _stack(items: list) -> np.ndarray:
    """A float array of plain numbers, else an object array (dual numbers, Values)."""
    if all(isinstance(t, numbers.Real) for t in items):
        return np.array(items, dtype=np.float64)
    return _object_vector(items)


def make_function(form: str, n: int, Ws: Sequence[np.ndarray]) -> Callable:
    """The plain test function (see the module docstring):

    vector     f: R^n -> R^m, (W2 @ (sin(z) + 0.1 z*z) + exp(0.2 W3 @ x)) / (1.5 + cos(W4 @ x)), z = W1 @ x
    scalar     f: R^n -> R, sum(sin(z) * z) + exp(0.3 x0) * x_{n-1} / (2 + cos(x1)), z = W @ x (n >= 2)
    worked     f(x) = x0 * x1 + sin(x0) (n = 2)
    one_input  f(x) = exp(sin(x0)) * x0 (n = 1)
    subset     f: R^n -> R^m, f_i = sin(z_i) * z_i + exp(0.3 z_i), z_i = sum of W[i, j] * x_j over the j with
               W[i, j] != 0 only: output i never touches the other inputs (a reverse sweep from f_i does not
               reach their leaves), W of shape (m, n)
    offset     f: R^n -> R, C * sum(x) + sum(sin(z) * z) + exp(0.3 x0) * x_{n-1} / (2 + cos(x1)), z = W @ x,
               with C = Ws[1][0, 0] large: the gradient has a large constant part that the Hessian ignores
    """
    if form == "vector":
        W1, W2, W3, W4 = Ws

        def f(x):
            x = as_input(x, n)
            z = W1 @ x
            a = sin(z) + 0.1 * z * z
            return (W2 @ a + exp(0.2 * (W3 @ x))) / (1.5 + cos(W4 @ x))
    elif form == "scalar":
        (W,) = Ws

        def f(x):
            x = as_input(x, n)
            z = W @ x
            return np.sum(sin(z) * z) + exp(0.3 * x[0]) * x[n - 1] / (2.0 + cos(x[1]))
    elif form == "subset":
        (W,) = Ws
        rows = [[j for j in range(W.shape[1]) if W[i, j] != 0.0] for i in range(W.shape[0])]

        def f(x):
            x = as_input(x, n)
            out = []
            for i, cols in enumerate(rows):
                z = W[i, cols[0]] * x[cols[0]]
                for j in cols[1:]:
                    z = z + W[i, j] * x[j]
                out.append(sin(z) * z + exp(0.3 * z))
            return _stack(out)
    elif form == "offset":
        W, C = Ws
        c = float(C[0, 0])

        def f(x):
            x = as_input(x, n)
            z = W @ x
            return c * np.sum(x) + np.sum(sin(z) * z) + exp(0.3 * x[0]) * x[n - 1] / (2.0 + cos(x[1]))
    elif form == "worked":
        def f(x):
            x = as_input(x, 2)
            return x[0] * x[1] + sin(x[0])
    else:
        def f(x):
            x = as_input(x, 1)
            return exp(sin(x[0])) * x[0]
    return f


def input_kind(x: Any) -> str:
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


@register("ad_function")
def _ad_function(params: dict, state: dict):
    """f (see make_function) counting its evaluations by input kind in ``state``; params form, n, Ws."""
    form, n, Ws = params.get("form"), params.get("n"), params.get("Ws", [])
    if form not in FORMS or type(n) is not int or n < 1 or type(Ws) not in (list, tuple) \
            or any(not isinstance(W, np.ndarray) or W.ndim != 2 for W in Ws) \
            or len(Ws) != {"vector": 4, "scalar": 1, "subset": 1, "offset": 2}.get(form, 0) \
            or (form == "subset" and (Ws[0].shape[1] != n or not np.all(np.any(Ws[0] != 0, axis=1)))):
        raise protocol.ProtocolError("ad_function needs form, n and its matrices Ws")
    f = make_function(form, n, [np.array(W, dtype=np.float64) for W in Ws])
    for k in KINDS:
        state.setdefault(k, 0)

    def counted(x):
        kind = input_kind(x)
        state[kind] += 1
        if kind == "value" and _RUNS:
            _RUNS[-1].watch(x)
        return f(x)

    counted.__name__ = "f"
    counted.__qualname__ = "f"
    return counted


class _BackwardCounter:
    """Counts the top-level backward() calls of the Value classes f sees during one runner call (see the module
    docstring); ``restore()`` puts every instrumented class back as it was."""

    def __init__(self):
        self.count = 0
        self.depth = 0
        self.patched: list[tuple[type, Any]] = []   # (the class that defines backward, its original)
        self.seen: set[int] = set()

    def watch(self, x: Any) -> None:
        items = list(x.ravel()) if isinstance(x, np.ndarray) else list(x) if isinstance(x, (list, tuple)) else [x]
        for t in items:
            if not isinstance(t, numbers.Real):
                self._instrument(type(t))

    def _instrument(self, cls: type) -> None:
        """Wrap backward where the class (or the base class it inherits backward from) defines it, so that the
        nodes operations create (often of the base class) are counted too."""
        owner = next((c for c in cls.__mro__ if "backward" in vars(c)), None)
        if owner is None or owner is object or id(owner) in self.seen:
            return
        self.seen.add(id(owner))
        original = vars(owner)["backward"]
        if not callable(original) or isinstance(original, (staticmethod, classmethod, type)):
            return
        counter = self

        def backward(node, *args, **kwargs):
            counter.depth += 1
            if counter.depth == 1:
                counter.count += 1
            try:
                return original(node, *args, **kwargs)
            finally:
                counter.depth -= 1

        try:
            owner.backward = backward
        except (TypeError, AttributeError):   # a class that cannot be changed is not counted
            return
        self.patched.append((owner, original))

    def restore(self) -> None:
        for owner, original in reversed(self.patched):
            try:
                owner.backward = original
            except (TypeError, AttributeError):
                pass
        self.patched.clear()


_RUNS: list[_BackwardCounter] = []


@register("count_backward")
def _count_backward(params: dict, state: dict):
    """run(fn, *args) -> fn(*args), counting in state["backward"] the top-level backward() calls of the Value
    classes that a test function (item ``ad_function``) among the arguments was evaluated on."""
    state.setdefault("backward", 0)

    def run(fn, *args, **kwargs):
        counter = _BackwardCounter()
        _RUNS.append(counter)
        try:
            return fn(*args, **kwargs)
        finally:
            _RUNS.remove(counter)
            counter.restore()
            state["backward"] += counter.count
    return run
