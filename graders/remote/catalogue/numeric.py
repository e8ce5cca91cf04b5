"""Test functions for the finite-difference and chain-rule exercises, evaluated where the learner's code runs.

``scalar_function``   f(x0, x1, ...) of a few plain numbers (notebook 02's numeric_gradient), one of
                      :data:`SCALAR_FUNCTIONS`; counts its calls in ``state["calls"]`` and says clearly when it is
                      called with the wrong number of arguments.
``array_function``    f(x) = sum(A * sin(x)) + 0.5 * sum(B * x**3) for x of A's shape (notebook 03's
                      numeric_gradient), a Python float.
``fd_function``       f(x) = a sin(b x) + c exp(d x) + e x**3 of one float, or exp / sin (notebook 05's finite
                      differences).
``stages``            the (f, df) pairs of a composition, elementwise NumPy functions and their derivatives
                      (notebook 01's compose_derivative): the exercise's building blocks, given to the learner.
The exact derivatives the checks compare with stay in the checks.
"""

from __future__ import annotations

import math

import numpy as np

from graders.remote import protocol
from graders.remote.catalogue import register

SCALAR_FUNCTIONS = {  # name -> (number of arguments, f)
    "squared_residual": (4, lambda w, x, b, y: (w * x + b - y) ** 2),
    "cubic_times": (2, lambda x, y: x ** 3 * y + y ** 2),
    "sum_times_exp": (3, lambda x, y, z: (x + y) * z + math.exp(x * z)),
    "quartic": (1, lambda x: x ** 4 - 2 * x),
    "product_ratio": (5, lambda a, b, c, d, e: a * b * c + d ** 3 / e),
}


@register("scalar_function")
def _scalar_function(params: dict, state: dict):
    name = params.get("name")
    if name not in SCALAR_FUNCTIONS:
        raise protocol.ProtocolError(f"unknown scalar function {name!r}")
    n, f = SCALAR_FUNCTIONS[name]
    state.setdefault("calls", 0)

    def counted(*args):
        state["calls"] += 1
        if len(args) != n:
            raise TypeError(f"f takes {n} numbers, f(x0, ..., x{n - 1}); it was called with {len(args)} "
                            f"argument(s). Unpack the point: f(*point).")
        return f(*[float(a) for a in args])

    counted.__name__ = counted.__qualname__ = "f"
    return counted


def array_function(A: np.ndarray, B: np.ndarray):
    A, B = np.array(A, dtype=np.float64), np.array(B, dtype=np.float64)
    shape = A.shape

    def f(x) -> float:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != shape:
            raise ValueError(f"f expects an array of shape {shape}, got shape {x.shape}")
        return float(np.sum(A * np.sin(x)) + 0.5 * np.sum(B * x ** 3))

    return f


@register("array_function")
def _array_function(params: dict, state: dict):
    A, B = params.get("A"), params.get("B")
    if not isinstance(A, np.ndarray) or not isinstance(B, np.ndarray) or A.shape != B.shape:
        raise protocol.ProtocolError("array_function needs arrays A and B of one shape")
    return array_function(A, B)


def fd_function(params: dict):
    kind = params.get("kind", "mixed")
    if kind == "exp":
        return math.exp
    if kind == "sin":
        return math.sin
    try:
        a, b, c, d, e = (float(params[k]) for k in "abcde")
    except (KeyError, TypeError, ValueError):
        raise protocol.ProtocolError("fd_function needs the numbers a, b, c, d, e") from None

    def f(x):
        return a * math.sin(b * x) + c * math.exp(d * x) + e * x ** 3

    return f


@register("fd_function")
def _fd_function(params: dict, state: dict):
    return fd_function(params)


def _const(c: float):
    def d(u):
        return np.full_like(np.asarray(u, dtype=np.float64), c)
    return d


def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def _real(f):
    """f on real float64 input only: a complex argument loses its imaginary part (NumPy warns), so the stages
    cannot be differentiated by the complex-step trick either."""
    def g(u):
        return f(np.asarray(u, dtype=np.float64))
    return g


STAGES = {  # name -> (f, df): elementwise float64 stages and their derivatives
    name: (_real(f), _real(df)) for name, (f, df) in {
        "3u+2": (lambda u: 3.0 * u + 2.0, _const(3.0)),
        "0.5u-1": (lambda u: 0.5 * u - 1.0, _const(0.5)),
        "u^2": (lambda u: u * u, lambda u: 2.0 * u),
        "u^3": (lambda u: u ** 3, lambda u: 3.0 * u * u),
        "sin": (lambda u: np.sin(u), lambda u: np.cos(u)),
        "cos": (lambda u: np.cos(u), lambda u: -np.sin(u)),
        "exp": (lambda u: np.exp(u), lambda u: np.exp(u)),
        "tanh": (lambda u: np.tanh(u), lambda u: 1.0 - np.tanh(u) ** 2),
        "softplus": (lambda u: np.log1p(np.exp(u)), _sigmoid),
        "u+1e12": (lambda u: u + 1e12, _const(1.0)),   # a large constant part: derivative 1, values near 1e12
    }.items()
}


@register("stages")
def _stages(params: dict, state: dict):
    names = params.get("names")
    if type(names) not in (list, tuple) or any(k not in STAGES for k in names):
        raise protocol.ProtocolError("stages needs a list of stage names")
    return [STAGES[k] for k in names]
