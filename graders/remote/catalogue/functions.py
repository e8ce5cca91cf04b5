"""Test functions f for forward and reverse mode (``jvp(f, x, v)``, ``vjp``, Jacobians, HVPs, partials).

Each f takes a 1-D array (n,) and returns a scalar or a 1-D array (m,), written with ordinary NumPy code: ``+ -
* /``, ``@`` with float matrices, indexing, ``np.sum`` and the elementwise sin, cos, exp, which call an entry's
``.sin()`` / ``.cos()`` / ``.exp()`` method when it is not a number. So the same f evaluates plain floats, dual
numbers (one forward pass) or Values (one graph for reverse mode), the reference classes or a learner's own.
The item ``ad_function`` counts in its state how often f was evaluated on floats, dual numbers (entries with
``.val``/``.dot``), Values (entries with ``.backward``) or anything else; the runner ``count_backward`` counts
the reference engine's ``backward()`` calls during a student's call, when that engine is loaded in the process
(self-study): a learner's own Value class cannot be counted.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Callable, Sequence

import numpy as np

from graders.remote import protocol
from graders.remote.catalogue import brief, register

FORMS = ("vector", "scalar", "worked", "one_input")
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


def make_function(form: str, n: int, Ws: Sequence[np.ndarray]) -> Callable:
    """The plain test function (see the module docstring):

    vector     f: R^n -> R^m, (W2 @ (sin(z) + 0.1 z*z) + exp(0.2 W3 @ x)) / (1.5 + cos(W4 @ x)), z = W1 @ x
    scalar     f: R^n -> R, sum(sin(z) * z) + exp(0.3 x0) * x_{n-1} / (2 + cos(x1)), z = W @ x (n >= 2)
    worked     f(x) = x0 * x1 + sin(x0) (n = 2)
    one_input  f(x) = exp(sin(x0)) * x0 (n = 1)
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
            or len(Ws) != {"vector": 4, "scalar": 1}.get(form, 0):
        raise protocol.ProtocolError("ad_function needs form, n and its matrices Ws")
    f = make_function(form, n, [np.array(W, dtype=np.float64) for W in Ws])
    for k in KINDS:
        state.setdefault(k, 0)

    def counted(x):
        state[input_kind(x)] += 1
        return f(x)

    counted.__name__ = "f"
    counted.__qualname__ = "f"
    return counted


@register("count_backward")
def _count_backward(params: dict, state: dict):
    """run(fn, *args) -> fn(*args), counting the reference engine's backward() calls in state["backward"]."""
    state.setdefault("backward", 0)

    def run(fn, *args, **kwargs):
        engine = sys.modules.get("reference_impl.autodiff.reverse")  # loaded only where the reference may be used
        counting = getattr(engine, "count_backward_passes", None)
        if counting is None:
            return fn(*args, **kwargs)
        with counting() as passes:
            try:
                return fn(*args, **kwargs)
            finally:
                state["backward"] += passes.count
    return run
