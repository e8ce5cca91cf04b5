"""SymPy derivations: exact gradients that graders and tests trust independently of hand-written backprop.

Everything here differentiates a *scalar* SymPy expression with ``sympy.diff`` (no chain rule written by
hand), then turns the result into NumPy code with ``sympy.lambdify``. Builds are cached per size, so only
the first call for a given size pays for the symbolic work.

Public functions
----------------
- :func:`scalar_gradient`, :func:`jacobian`, :func:`cached_lambdify`
- :func:`parse_answer`, :func:`are_equivalent` (student answers given as strings or SymPy expressions; defined in
  :mod:`reference_impl.symbolic_answers`, re-exported here)
- :func:`two_layer_symbolic`, :func:`batchnorm_symbolic`, :func:`rnn_symbolic` (numeric callables)
- :func:`sigmoid`, :func:`activation_derivative_max`, :func:`expression_size`, :func:`expression_swell`

All numeric inputs and outputs are float64 NumPy arrays. Every size of a symbolic build is capped at 4: most
builds take well under a second, the largest (an RNN with T=3, D=H=4) about 4 s.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import sympy as sp

MAX_SIZE = 4  # every dimension of a symbolic build (N, D, H, C, T) is at most this


# ----------------------------------------------------------------------------------------------------------
# Basic derivations
# ----------------------------------------------------------------------------------------------------------

def sigmoid(x):
    """Logistic function as a SymPy expression ``1 / (1 + exp(-x))`` (x: SymPy expression or number)."""
    return 1 / (1 + sp.exp(-sp.sympify(x)))


def _symbol_list(symbols) -> list[sp.Symbol]:
    if isinstance(symbols, Mapping):
        symbols = list(symbols.values())
    elif isinstance(symbols, sp.Symbol):
        symbols = [symbols]
    out = list(symbols)
    for s in out:
        if not isinstance(s, sp.Symbol):
            raise TypeError(f"symbols must be SymPy Symbols, got {type(s).__name__}: {s!r}")
    return out


def scalar_gradient(expr, symbols) -> list[sp.Expr]:
    """Gradient of a scalar expression: ``[d expr / d s for s in symbols]`` (a list, one entry per symbol)."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.MatrixBase):
        raise TypeError("scalar_gradient needs a scalar expression; use jacobian for vector functions")
    return [sp.diff(expr, s) for s in _symbol_list(symbols)]


def jacobian(exprs, symbols) -> sp.Matrix:
    """Jacobian ``J[i, j] = d exprs[i] / d symbols[j]``, shape (len(exprs), len(symbols))."""
    if isinstance(exprs, sp.MatrixBase):
        exprs = list(exprs)
    elif not isinstance(exprs, Iterable) or isinstance(exprs, str):
        exprs = [exprs]
    vec = sp.Matrix([sp.sympify(e) for e in exprs])
    return vec.jacobian(sp.Matrix(_symbol_list(symbols)))


_LAMBDIFY_CACHE: "OrderedDict[tuple[str, str, bool], Callable]" = OrderedDict()
_LAMBDIFY_CACHE_SIZE = 512


def cached_lambdify(exprs, symbols, *, cse: bool = False) -> Callable:
    """``sympy.lambdify(symbols, exprs, modules="numpy")``, memoized on ``(srepr(exprs), srepr(symbols), cse)``.

    Calling it twice with equal arguments returns the *same* function object. ``symbols`` may be nested
    (lambdify unpacks nested sequences). ``cse=True`` shares common subexpressions in the generated code:
    slower to build, much faster to run on large gradients. At most 512 functions are kept (LRU).
    """
    key = (sp.srepr(exprs), sp.srepr(symbols), bool(cse))
    fn = _LAMBDIFY_CACHE.get(key)
    if fn is not None:
        _LAMBDIFY_CACHE.move_to_end(key)
        return fn
    fn = sp.lambdify(symbols, exprs, modules="numpy", cse=cse)
    _LAMBDIFY_CACHE[key] = fn
    if len(_LAMBDIFY_CACHE) > _LAMBDIFY_CACHE_SIZE:
        _LAMBDIFY_CACHE.popitem(last=False)
    return fn


# ----------------------------------------------------------------------------------------------------------
# Student answers: parsing and equivalence live in reference_impl.symbolic_answers (re-exported here)
# ----------------------------------------------------------------------------------------------------------

_ANSWER_NAMES = ("parse_answer", "are_equivalent", "FUNCTIONS", "CONSTANTS", "MAX_ANSWER_CHARS", "AnswerError")


def __getattr__(name: str):
    """``parse_answer``, ``are_equivalent`` and their constants, from reference_impl.symbolic_answers (imported on
    first use: that module builds on this one)."""
    if name in _ANSWER_NAMES:
        from reference_impl import symbolic_answers
        return getattr(symbolic_answers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------------------------------------
# Symbolic models (numeric callables built from sympy.diff of a scalar loss)
#
# A loss that is a sum over independent items (samples of a batch, or batchnorm's feature columns) is
# derived once for ONE item with symbolic inputs; the lambdified gradient is then evaluated for all items at
# once (NumPy broadcasting) and gradients of shared parameters are summed numerically. This is exact and
# keeps the build cost independent of the batch size.
# ----------------------------------------------------------------------------------------------------------

def _check_sizes(**sizes) -> None:
    for name, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_SIZE:
            raise ValueError(f"{name} must be an integer in 1..{MAX_SIZE} (symbolic builds stay small), got {v!r}")


def _sym_array(name: str, shape: tuple) -> np.ndarray:
    """Object array of real symbols ``name_{i}{j}...`` with the given shape (``name`` alone for shape ())."""
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sp.Symbol(name + ("_" + "".join(map(str, idx)) if idx else ""), real=True)
    return out


def _as_float(x, name: str, shape: tuple) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    return arr.astype(np.float64)


def _relu(z):
    return sp.Piecewise((z, z > 0), (0, True))  # derivative: Piecewise((1, z > 0), (0, True)), lambdify-able


_SYM_ACTIVATIONS = {"relu": _relu, "tanh": sp.tanh, "sigmoid": sigmoid}


class _Compiled:
    """Per-item scalar loss ``l`` over groups of symbols, its gradients, and one lambdified function.

    ``symbols``: name -> object array of Symbols for one item. Groups named in ``batched`` take one value per
    item (numeric shape ``(n_items, *group_shape)``); the others are shared by all items (``group_shape``).
    The total loss is ``weight * sum_items l``.
    """

    def __init__(self, item_loss: sp.Expr, symbols: dict[str, np.ndarray], wrt: Sequence[str],
                 batched: Sequence[str]):
        self.item_loss = item_loss
        self.symbols = symbols
        self.wrt = tuple(wrt)
        self.batched = frozenset(batched)
        self.grad_exprs = {}
        for k in self.wrt:
            grad = np.empty(symbols[k].shape, dtype=object)
            for idx in np.ndindex(*grad.shape):
                grad[idx] = sp.diff(item_loss, symbols[k][idx])
            self.grad_exprs[k] = grad
        args = [s for k in symbols for s in symbols[k].ravel()]
        outs = [item_loss] + [g for k in self.wrt for g in self.grad_exprs[k].ravel()]
        # Built once per size by the callers' caches, so no srepr key (cached_lambdify) is needed here.
        self._fn = sp.lambdify(args, outs, modules="numpy", cse=True)

    def evaluate(self, values: dict[str, np.ndarray], n_items: int, weight: float):
        """values: name -> float64 array (batched groups (n_items, *shape), shared groups shape).

        Returns (weight * sum of item losses, grads): batched grads (n_items, *shape) times weight, shared
        grads summed over items times weight.
        """
        args = []
        for k, syms in self.symbols.items():
            v = values[k]
            if k in self.batched:
                args.extend(v.reshape(n_items, -1).T)  # one (n_items,) column per symbol
            else:
                args.extend(v.ravel())
        with np.errstate(all="ignore"):  # Piecewise -> numpy.select evaluates both branches
            outs = self._fn(*args)
        cols = [np.broadcast_to(np.asarray(o, dtype=np.float64), (n_items,)) for o in outs]
        loss = weight * float(np.sum(cols[0]))
        grads, i = {}, 1
        for k in self.wrt:
            shape = self.symbols[k].shape
            size = int(np.prod(shape, dtype=int))
            per_item = np.stack(cols[i:i + size], axis=1).reshape((n_items,) + shape) * weight
            grads[k] = per_item if k in self.batched else per_item.sum(axis=0)
            i += size
        return loss, grads


_BUILDS: dict[tuple, object] = {}


def _cached_build(key: tuple, make: Callable[[], object]):
    obj = _BUILDS.get(key)
    if obj is None:
        obj = _BUILDS[key] = make()
    return obj


class SymbolicTwoLayer:
    """Loss and gradients of a 2-layer network, derived by SymPy for fixed sizes (N, D, H, C).

    Network: ``h = act(X @ W1 + b1)``, ``scores = h @ W2 + b2``;
    softmax: ``L = mean_n -log softmax(scores)[n, y_n]`` (y: (N,) integer labels);
    mse: ``L = sum((scores - y)**2) / (2N)`` (y: (N, C) targets).

    Attributes (all for ONE sample; L is the mean of the per-sample losses):
    ``sample_loss`` (SymPy expression), ``symbols`` (name -> object array of Symbols: "x" (D,), "y" (C,) the
    one-hot label or target row, "W1" (D,H), "b1" (H,), "W2" (H,C), "b2" (C,)), ``grad_exprs`` (name ->
    object array of the SymPy derivatives of ``sample_loss``, shaped like the parameter).
    """

    def __init__(self, N: int, D: int, H: int, C: int, loss: str, activation: str):
        self.N, self.D, self.H, self.C, self.loss, self.activation = N, D, H, C, loss, activation
        self._compiled = _cached_build(("mlp2", D, H, C, loss, activation),
                                       lambda: self._build(D, H, C, loss, activation))
        self.sample_loss = self._compiled.item_loss
        self.symbols = self._compiled.symbols
        self.grad_exprs = self._compiled.grad_exprs

    @staticmethod
    def _build(D: int, H: int, C: int, loss: str, activation: str) -> _Compiled:
        S = {"x": _sym_array("x", (D,)), "y": _sym_array("y", (C,)), "W1": _sym_array("W1", (D, H)),
             "b1": _sym_array("b1", (H,)), "W2": _sym_array("W2", (H, C)), "b2": _sym_array("b2", (C,))}
        act = _SYM_ACTIVATIONS[activation]
        h = np.array([act(z) for z in S["x"].dot(S["W1"]) + S["b1"]], dtype=object)  # (H,)
        scores = h.dot(S["W2"]) + S["b2"]                                                # (C,)
        if loss == "softmax":
            # -log softmax(s)[label] = log sum_k exp(s_k) - sum_c y_c s_c for a one-hot row y
            item = sp.log(sp.Add(*[sp.exp(s) for s in scores])) - sp.Add(*(S["y"] * scores))
        else:
            item = sp.Add(*[(s - t) ** 2 for s, t in zip(scores, S["y"])]) / 2
        return _Compiled(item, S, ("W1", "b1", "W2", "b2"), batched=("x", "y"))

    def __call__(self, X, y, W1, b1, W2, b2) -> tuple[float, dict[str, np.ndarray]]:
        """X (N,D); y (N,) ints in [0,C) for softmax or (N,C) floats for mse; W1 (D,H), b1 (H,), W2 (H,C),
        b2 (C,). Returns (loss, {"W1": (D,H), "b1": (H,), "W2": (H,C), "b2": (C,)})."""
        N, D, H, C = self.N, self.D, self.H, self.C
        if self.loss == "softmax":
            y = np.asarray(y)
            if y.shape != (N,) or y.dtype.kind not in "iu":
                raise ValueError(f"softmax labels y must be integers of shape ({N},), got {y.dtype} {y.shape}")
            if y.min() < 0 or y.max() >= C:
                raise ValueError(f"labels must lie in [0, {C}), got {y.tolist()}")
            Y = np.eye(C)[y]
        else:
            Y = _as_float(y, "y", (N, C))
        values = {"x": _as_float(X, "X", (N, D)), "y": Y, "W1": _as_float(W1, "W1", (D, H)),
                  "b1": _as_float(b1, "b1", (H,)), "W2": _as_float(W2, "W2", (H, C)), "b2": _as_float(b2, "b2", (C,))}
        return self._compiled.evaluate(values, N, 1.0 / N)


def two_layer_symbolic(N: int, D: int, H: int, C: int, loss: str = "softmax",
                       activation: str = "relu") -> SymbolicTwoLayer:
    """Cached :class:`SymbolicTwoLayer` for sizes N, D, H, C (each 1..4).

    ``two_layer_symbolic(N, D, H, C)(X, y, W1, b1, W2, b2) -> (loss, {"W1", "b1", "W2", "b2"})``.
    Softmax scores are not max-shifted: keep |scores| below a few hundred.
    """
    _check_sizes(N=N, D=D, H=H, C=C)
    if loss not in ("softmax", "mse"):
        raise ValueError(f"unknown loss {loss!r}; choose 'softmax' or 'mse'")
    if activation not in _SYM_ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(_SYM_ACTIVATIONS)}")
    return _cached_build(("mlp2-N", N, D, H, C, loss, activation),
                         lambda: SymbolicTwoLayer(int(N), int(D), int(H), int(C), loss, activation))


class SymbolicBatchNorm:
    """Train-mode batch normalization (biased variance), gradients of ``L = sum(dout * bn(x))`` by SymPy.

    ``bn(x)[n, d] = gamma_d * (x[n, d] - mu_d) / sqrt(var_d + eps) + beta_d``, mu and var over the batch axis.
    Feature columns are independent, so the expression is derived for one column of N entries (attributes
    ``column_loss``, ``symbols`` "x" (N,), "gamma", "beta", "dout" (N,), "eps", and ``grad_exprs``).
    """

    def __init__(self, N: int, D: int):
        self.N, self.D = N, D
        self._compiled = _cached_build(("bn", N), lambda: self._build(N))
        self.column_loss = self._compiled.item_loss
        self.symbols = self._compiled.symbols
        self.grad_exprs = self._compiled.grad_exprs

    @staticmethod
    def _build(N: int) -> _Compiled:
        S = {"x": _sym_array("x", (N,)), "gamma": _sym_array("gamma", ()), "beta": _sym_array("beta", ()),
             "dout": _sym_array("dout", (N,)), "eps": np.array(sp.Symbol("eps", positive=True), dtype=object)}
        x, gamma, beta, eps = S["x"], S["gamma"][()], S["beta"][()], S["eps"][()]
        mu = sp.Add(*x) / N
        var = sp.Add(*[(v - mu) ** 2 for v in x]) / N
        out = [gamma * (v - mu) / sp.sqrt(var + eps) + beta for v in x]
        item = sp.Add(*[d * o for d, o in zip(S["dout"], out)])
        return _Compiled(item, S, ("x", "gamma", "beta"), batched=("x", "gamma", "beta", "dout"))

    def __call__(self, x, gamma, beta, dout, eps: float = 1e-5):
        """x (N,D), gamma (D,), beta (D,), dout (N,D), eps > 0 -> (dx (N,D), dgamma (D,), dbeta (D,))."""
        N, D = self.N, self.D
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)) or not eps > 0:
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        values = {"x": _as_float(x, "x", (N, D)).T, "gamma": _as_float(gamma, "gamma", (D,)),
                  "beta": _as_float(beta, "beta", (D,)), "dout": _as_float(dout, "dout", (N, D)).T,
                  "eps": np.array(float(eps))}
        _, g = self._compiled.evaluate(values, D, 1.0)  # items = the D columns
        return g["x"].T.copy(), g["gamma"], g["beta"]


def batchnorm_symbolic(N: int, D: int) -> SymbolicBatchNorm:
    """Cached :class:`SymbolicBatchNorm` for N in 2..4 rows and D in 1..4 features.

    ``batchnorm_symbolic(N, D)(x, gamma, beta, dout, eps) -> (dx (N,D), dgamma (D,), dbeta (D,))``.
    """
    _check_sizes(N=N, D=D)
    if N < 2:
        raise ValueError(f"batchnorm needs N in 2..{MAX_SIZE} (the batch variance of one row is 0), got {N}")
    return _cached_build(("bn-N", N, D), lambda: SymbolicBatchNorm(int(N), int(D)))


class SymbolicRNN:
    """Vanilla tanh RNN unrolled for T steps, gradients of ``L = sum(dh * h)`` by SymPy.

    ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)`` for t = 0..T-1 with ``h_{-1} = h0``; ``h`` is (N, T, H).
    Samples are independent, so the expression is derived for one sequence (attributes ``sample_loss``,
    ``symbols`` "x" (T,D), "h0" (H,), "Wx" (D,H), "Wh" (H,H), "b" (H,), "dh" (T,H), and ``grad_exprs``).
    """

    def __init__(self, T: int, N: int, D: int, H: int):
        self.T, self.N, self.D, self.H = T, N, D, H
        self._compiled = _cached_build(("rnn", T, D, H), lambda: self._build(T, D, H))
        self.sample_loss = self._compiled.item_loss
        self.symbols = self._compiled.symbols
        self.grad_exprs = self._compiled.grad_exprs

    @staticmethod
    def _build(T: int, D: int, H: int) -> _Compiled:
        S = {"x": _sym_array("x", (T, D)), "h0": _sym_array("h0", (H,)), "Wx": _sym_array("Wx", (D, H)),
             "Wh": _sym_array("Wh", (H, H)), "b": _sym_array("b", (H,)), "dh": _sym_array("dh", (T, H))}
        h, terms = S["h0"], []
        for t in range(T):
            h = np.array([sp.tanh(a) for a in S["x"][t].dot(S["Wx"]) + h.dot(S["Wh"]) + S["b"]], dtype=object)
            terms.extend(S["dh"][t] * h)
        return _Compiled(sp.Add(*terms), S, ("x", "h0", "Wx", "Wh", "b"), batched=("x", "h0", "dh"))

    def __call__(self, x, h0, Wx, Wh, b, dh):
        """x (N,T,D), h0 (N,H), Wx (D,H), Wh (H,H), b (H,), dh (N,T,H)
        -> (dx (N,T,D), dh0 (N,H), dWx (D,H), dWh (H,H), db (H,))."""
        T, N, D, H = self.T, self.N, self.D, self.H
        values = {"x": _as_float(x, "x", (N, T, D)), "h0": _as_float(h0, "h0", (N, H)),
                  "Wx": _as_float(Wx, "Wx", (D, H)), "Wh": _as_float(Wh, "Wh", (H, H)),
                  "b": _as_float(b, "b", (H,)), "dh": _as_float(dh, "dh", (N, T, H))}
        _, g = self._compiled.evaluate(values, N, 1.0)
        return g["x"], g["h0"], g["Wx"], g["Wh"], g["b"]


def rnn_symbolic(T: int, N: int, D: int, H: int) -> SymbolicRNN:
    """Cached :class:`SymbolicRNN` for T in 1..3 steps and N, D, H in 1..4.

    ``rnn_symbolic(T, N, D, H)(x, h0, Wx, Wh, b, dh) -> (dx, dh0, dWx, dWh, db)`` (full BPTT).
    """
    _check_sizes(T=T, N=N, D=D, H=H)
    if T > 3:
        raise ValueError(f"rnn_symbolic supports T in 1..3 (the unrolled expression grows fast), got {T}")
    return _cached_build(("rnn-N", T, N, D, H), lambda: SymbolicRNN(int(T), int(N), int(D), int(H)))


# ----------------------------------------------------------------------------------------------------------
# Teaching helpers: derivative bounds and expression swell
# ----------------------------------------------------------------------------------------------------------

def activation_derivative_max(name: str) -> tuple[sp.Expr, sp.Expr]:
    """``(x*, max f'(x))`` for f = "sigmoid" or "tanh", found by solving f''(x) = 0 in SymPy.

    sigmoid gives (0, 1/4): each sigmoid layer shrinks a backpropagated gradient by at least 4x
    (0.25**4 ~= 0.0039 after four layers); tanh gives (0, 1).
    """
    x = sp.Symbol("x", real=True)
    f = {"sigmoid": sigmoid(x), "tanh": sp.tanh(x)}.get(name)
    if f is None:
        raise ValueError(f"unknown activation {name!r}; choose 'sigmoid' or 'tanh'")
    d1 = sp.diff(f, x)
    critical = [c for c in sp.solve(sp.diff(d1, x), x) if c.is_real]
    best = max(critical, key=lambda c: float(d1.subs(x, c)))
    return best, sp.simplify(d1.subs(x, best))


def expression_size(expr) -> int:
    """``sympy.count_ops`` of an expression, summed over entries of a list/tuple/Matrix/array.

    Counts the expression *tree*: a subexpression used twice is counted twice.
    """
    if isinstance(expr, (list, tuple, np.ndarray, sp.MatrixBase)):
        return int(sum(expression_size(e) for e in np.asarray(expr, dtype=object).ravel()))
    return int(sp.count_ops(sp.sympify(expr), visual=False))


def _logistic_map(u):
    return 4 * u * (1 - u)


def expression_swell(depth: int, f: Callable | None = None) -> list[dict[str, int]]:
    """Expression swell of symbolic differentiation for ``f(f(...f(x)))`` nested 1..depth times.

    ``f`` maps a SymPy expression to one (default: the logistic map ``4u(1-u)``, the classic example).
    For each k returns a dict with
      - ``depth``: k
      - ``primal_ops``: operations a program spends computing the value (each level once: k * ops(f(u)))
      - ``primal_tree_ops``: ``count_ops`` of the nested expression written out as a tree
      - ``derivative_ops``: ``count_ops`` of ``sympy.diff`` of it (the symbolic derivative as a tree)
      - ``derivative_cse_ops``: operations after common-subexpression elimination of that derivative
    ``derivative_ops`` grows much faster than ``primal_ops``; reverse mode AD stays within a constant
    factor of ``primal_ops``.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 12:
        raise ValueError(f"depth must be an integer in 1..12, got {depth!r}")
    f = f or _logistic_map
    x, u = sp.Symbol("x"), sp.Symbol("u")
    ops_per_level = expression_size(f(u))
    rows, expr = [], x
    for k in range(1, depth + 1):
        expr = f(expr)
        d = sp.diff(expr, x)
        replacements, reduced = sp.cse(d)
        rows.append({
            "depth": k,
            "primal_ops": k * ops_per_level,
            "primal_tree_ops": expression_size(expr),
            "derivative_ops": expression_size(d),
            "derivative_cse_ops": expression_size([r for _, r in replacements]) + expression_size(reduced),
        })
    return rows
