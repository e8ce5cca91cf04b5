"""Test functions f for the forward/reverse-mode checks (partial derivatives, JVP, VJP, Jacobians, HVP).

A :class:`_TestFunction` names a function of graders.remote.catalogue.functions (its form and random matrices)
and describes it for messages. ``tf.f`` evaluates it here, for the expected values (with the reference dual
numbers); ``tf.item()`` is a fresh catalogue item for one student call: the learner's code receives the same
function, built where that code runs, and the item's state counts how often it was evaluated on floats, dual
numbers and Values. ``_CALL`` is the runner that also counts the backward() calls of the Value classes f is evaluated on.

Kinds of test functions: dense vector functions (every output depends on every input), *subset* functions
(output i depends on some inputs only, so a reverse sweep from f_i leaves the other leaves untouched: a reverse
Jacobian that does not reset the leaves' gradients between rows keeps stale values there), scalar functions, the
worked example, a one-input function, and *offset* functions (a scalar function plus C * sum(x) with C = 1e12:
the gradient has a huge constant part that the Hessian ignores, so differences of gradients lose every digit of
H v to rounding at any step size, while forward-over-reverse is exact).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from graders.remote import catalogue
from graders.remote.catalogue.functions import make_function
from reference_impl.autodiff import forward as _ref_fwd

_CALL = catalogue.item("count_backward")


@dataclass(frozen=True)
class _TestFunction:
    form: str            # a form of graders.remote.catalogue.functions.make_function
    n: int
    m: int | None        # None: scalar output
    text: str
    params: tuple = ()   # the matrices inside f (for tests that rebuild f symbolically)

    @property
    def f(self) -> Callable:
        """The function itself, evaluated in the grader's process (not counted)."""
        return make_function(self.form, self.n, self.params)

    def item(self) -> catalogue.Item:
        """A new catalogue item for one student call; its state counts the evaluations by input kind."""
        return catalogue.item("ad_function", form=self.form, n=self.n, Ws=list(self.params))


def _matrix(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    return np.round(rng.standard_normal((rows, cols)) / math.sqrt(cols), 3)


def _vector_function(rng: np.random.Generator, n: int, m: int) -> _TestFunction:
    """f: R^n -> R^m, y = (W2 @ (sin(z) + 0.1 z*z) + exp(0.2 W3 @ x)) / (1.5 + cos(W4 @ x)), z = W1 @ x."""
    W1, W2, W3, W4 = _matrix(rng, 3, n), _matrix(rng, m, 3), _matrix(rng, m, n), _matrix(rng, m, n)
    return _TestFunction("vector", n, m, f"f: R^{n} -> R^{m}, f(x) = (W2 @ (sin(W1 @ x) + 0.1 (W1 @ x)**2) + "
                                         f"exp(0.2 W3 @ x)) / (1.5 + cos(W4 @ x))", (W1, W2, W3, W4))


def _scalar_function(rng: np.random.Generator, n: int) -> _TestFunction:
    """f: R^n -> R (n >= 2), sum(sin(z) * z) + exp(0.3 x0) * x_{n-1} / (2 + cos(x1)), z = W @ x."""
    W = _matrix(rng, 3, n)
    return _TestFunction("scalar", n, None, f"f: R^{n} -> R, f(x) = sum(sin(W @ x) * (W @ x)) + exp(0.3 x0) * "
                                            f"x{n - 1} / (2 + cos(x1))", (W,))


def _subset_function(rng: np.random.Generator, n: int, m: int, unused: bool = False) -> _TestFunction:
    """f: R^n -> R^m (m >= 2), f_i = sin(z_i) * z_i + exp(0.3 z_i), z_i = sum of W[i, j] x_j over a subset S_i of
    the inputs: every S_i is non-empty, and some input of S_{i-1} is missing from S_i (the stale-gradient trap of a
    reverse Jacobian). ``unused``: one input appears in no S_i (its column of J is 0)."""
    for _ in range(200):
        mask = rng.random((m, n)) < 0.5
        if unused:
            mask[:, int(rng.integers(n))] = False
        if not mask.any(axis=1).all() or mask.all(axis=1).any():
            continue
        if any(np.any(mask[i - 1] & ~mask[i]) for i in range(1, m)) and (unused or mask.any(axis=0).all()):
            break
    W = np.where(mask, _matrix(rng, m, n) + np.where(rng.random((m, n)) < 0.5, 0.5, -0.5), 0.0)
    sets = "; ".join(f"f{i} uses x{', x'.join(str(j) for j in np.flatnonzero(W[i]))}" for i in range(m))
    return _TestFunction("subset", n, m, f"f: R^{n} -> R^{m}, f_i(x) = sin(z_i) * z_i + exp(0.3 z_i) with z_i a "
                                         f"weighted sum of some inputs only ({sets})", (W,))


OFFSET_C = 1e12


def _offset_function(rng: np.random.Generator, n: int) -> _TestFunction:
    """:func:`_scalar_function` plus C * sum(x), C = OFFSET_C: the gradient is about 1e12 in every entry, its
    derivative (H v) of order 1."""
    W = _matrix(rng, 3, n)
    return _TestFunction("offset", n, None, f"f: R^{n} -> R, f(x) = {OFFSET_C:.0e} * sum(x) + sum(sin(W @ x) * "
                                            f"(W @ x)) + exp(0.3 x0) * x{n - 1} / (2 + cos(x1))",
                         (W, np.array([[OFFSET_C]])))


def _worked_example() -> _TestFunction:
    return _TestFunction("worked", 2, None, "f(x) = x0 * x1 + sin(x0)")


def _one_input_function() -> _TestFunction:
    return _TestFunction("one_input", 1, None, "f(x) = exp(sin(x0)) * x0")


def _gradient_of(tf: _TestFunction, x: np.ndarray) -> np.ndarray:
    return _ref_fwd.jacobian_forward(tf.f, x)[0]


def _pass_text(counts: dict) -> str:
    return (f"f was evaluated {counts['dual']} time(s) on dual numbers, {counts['value']} time(s) on Values and "
            f"{counts['float']} time(s) on plain floats")


def _distinct_point(rng: np.random.Generator, tf: _TestFunction, extra: Callable[[np.ndarray], list] | None = None,
                    tries: int = 30) -> np.ndarray:
    """A random x where the candidate wrong answers differ clearly from each other."""
    for _ in range(tries):
        x = np.round(rng.uniform(-1.2, 1.2, tf.n), 3)
        g = _gradient_of(tf, x) if tf.m is None else _ref_fwd.jacobian_forward(tf.f, x).ravel()
        vals = list(g) + ([float(np.sum(g))] if tf.m is None else []) + (extra(x) if extra else [])
        diffs = [abs(a - b) for a, b in itertools.combinations(vals, 2)]
        if not diffs or min(diffs) > 1e-3 * max(1.0, max(abs(v) for v in vals)):
            return x
    return x
