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


# ============================================================================================ the learner's own forward

# When a backward is wrong, a check asks whether it at least matches the learner's OWN forward (then the forward is
# the mistake) by finite differences of that forward: hundreds of calls, so they run where the forward lives.


def centred_vjp(f, x: np.ndarray, dout: np.ndarray, h: float = 1e-5):
    """sum(dout * df/dx) by centred differences; None when f raises, changes shape or gives non-finite values."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    try:
        with np.errstate(all="ignore"):
            for i in np.ndindex(x.shape):
                old = x[i]
                x[i] = old + h
                plus = np.asarray(f(x.copy()), dtype=np.float64)
                x[i] = old - h
                minus = np.asarray(f(x.copy()), dtype=np.float64)
                x[i] = old
                if plus.shape != np.shape(dout):
                    return None
                grad[i] = np.sum((plus - minus) * dout) / (2 * h)
    except Exception:
        return None
    return grad if np.all(np.isfinite(grad)) else None


def _first(res):
    return res[0] if isinstance(res, (tuple, list)) else res


@register("forward_vjps")
def _forward_vjps(params: dict, state: dict):
    """A runner: ``run(forward, args, wrt, dout, kwargs)`` -> {k: VJP of forward's first output w.r.t. args[wrt[k]]}
    (entries whose finite differences fail are left out)."""
    import contextlib
    import copy
    import io

    def run(forward, args, wrt, dout, kwargs):
        result = {}
        with contextlib.redirect_stdout(io.StringIO()):  # hundreds of calls must not flood the output
            for k, pos in enumerate(wrt):
                def f(v, pos=pos):
                    a = list(copy.deepcopy(args))
                    a[pos] = v
                    return _first(forward(*a, **copy.deepcopy(dict(kwargs or {}))))
                vjp = centred_vjp(f, np.asarray(args[pos], dtype=np.float64), np.asarray(dout, dtype=np.float64))
                if vjp is not None:
                    result[k] = vjp
        return result

    return run


@register("windowed_vjps")
def _windowed_vjps(params: dict, state: dict):
    """A runner for truncated BPTT: ``run(forward, args, dout, k, scheme)`` -> {i: VJP w.r.t. args[i]} where the loss
    term at t comes from the learner's forward run from a start s to t, beginning at the unperturbed state
    h[:, s-1] (a constant) or at h0 when s = 0; sliding: s = max(t-k+1, 0), chunked: s = (t // k) * k."""
    import contextlib
    import copy
    import io

    def run(forward, args, dout, k, scheme):
        x, h0 = np.asarray(args[0]), np.asarray(args[1])
        N, T, _ = x.shape
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                frozen = np.asarray(_first(forward(*copy.deepcopy(args))), dtype=np.float64)
            except Exception:
                return {}
            if frozen.shape != (N, T, h0.shape[1]):
                return {}

            def make(pos):
                def f(v):
                    a = list(copy.deepcopy(args))
                    a[pos] = v
                    xs, h0s, Wxs, Whs, bs = a
                    out = np.empty((N, T, h0.shape[1]))
                    for t in range(T):
                        start = (t // k) * k if scheme == "chunked" else max(t - k + 1, 0)
                        s0 = frozen[:, start - 1] if start > 0 else h0s
                        out[:, t] = np.asarray(_first(forward(xs[:, start:t + 1], s0.copy(), Wxs, Whs, bs)))[:, -1]
                    return out
                return f

            result = {}
            for i in range(5):
                vjp = centred_vjp(make(i), np.asarray(args[i], dtype=np.float64), np.asarray(dout, dtype=np.float64))
                if vjp is not None:
                    result[i] = vjp
        return result

    return run


@register("fd_vjp")
def _fd_vjp(params: dict, state: dict):
    """A runner: ``run(fn, args, kwargs, target, dout, outputs)`` -> sum(dout * d out / d target) by centred
    differences of the learner's ``fn`` (None when that fails). ``target``: [i] for args[i], [i, key] for the entry
    ``key`` of the dict args[i], ["kw", name] for kwargs[name]. ``outputs``: 0 for the whole result, n >= 1 for the
    first n outputs of a tuple (stacked when n > 1)."""
    import contextlib
    import copy
    import io

    def run(fn, args, kwargs, target, dout, outputs):
        def put(a, kw, v):
            if target[0] == "kw":
                kw[target[1]] = v
            elif len(target) == 2:
                a[target[0]][target[1]] = v
            else:
                a[target[0]] = v

        def get():
            if target[0] == "kw":
                return kwargs[target[1]]
            return args[target[0]][target[1]] if len(target) == 2 else args[target[0]]

        def f(v):
            a, kw = list(copy.deepcopy(args)), copy.deepcopy(dict(kwargs or {}))
            put(a, kw, v)
            res = fn(*a, **kw)
            if outputs == 0:
                return res
            if outputs == 1:
                return _first(res)
            return np.stack([np.asarray(r, dtype=np.float64) for r in res[:outputs]])

        with contextlib.redirect_stdout(io.StringIO()):
            try:
                x = np.asarray(get(), dtype=np.float64)
            except Exception:
                return None
            return centred_vjp(f, x, np.asarray(dout, dtype=np.float64))

    return run
