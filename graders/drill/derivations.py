"""Derivation problems: free-form symbolic answers, checked with SymPy (5-15 minutes each).

``derive_chain``
    The derivative of a random composition (two or three functions deep, or a one-neuron loss) as an
    expression, e.g. ``2*x*cos(x**2)``. The expected derivative is ``sympy.diff``; the answer is parsed by
    ``reference_impl.symbolic.parse_answer`` (no code is evaluated) and compared with
    ``reference_impl.symbolic.are_equivalent`` (SymPy simplification under a time cap, then random points).
    The classic wrong derivatives (inner derivative dropped, derivative taken at the wrong point, local
    derivatives added) are derived the same way and named.

``derive_matrix``
    Matrix calculus with shapes: for a random layer (linear, tanh, sigmoid, two linear layers, least squares)
    with random sizes N, D, M (all different, so that a transpose shows), give the shape and a NumPy-notation
    expression of one gradient, e.g. ``(2, 4): X.T @ G``. The expression is evaluated on arrays of SymPy
    symbols by a whitelisting evaluator (names of the problem, ``@ * / + - **``, ``.T``, ``.sum(axis=k)``,
    ``tanh sigmoid exp log sqrt``; nothing else). Shape mistakes are named before values. Values are compared
    first at random float64 points with the gradient of the loss ``L = sum(G * Y)`` (``G`` is the upstream
    gradient dL/dY) obtained by complex-step differentiation (exact to rounding): a difference there proves the
    answer wrong and names a known mistake at once. An answer that matches is then confirmed symbolically,
    entry by entry, against the SymPy derivative of L (``sympy.diff``, or exact polynomial differentiation for
    polynomial losses), through one random linear combination of the entries checked with ``are_equivalent``.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

import numpy as np
import sympy as sp

from graders import diagnoses
from graders.drill.parsing import AnswerFormatError
from graders.drill.registry import Feedback, Problem, family, format_problem
from reference_impl import symbolic as ref_sym

SYMPY_SECONDS = 1.0  # simplification cap per comparison (then random points decide)
_X = sp.Symbol("x")


def _named(code: str) -> str:
    d = diagnoses.get(code)
    return f"{d.title} [{code}]: {d.advice}"


# ================================================================================================== compositions

_OUTERS = [
    ("sin(u)", sp.sin), ("cos(u)", sp.cos), ("exp(u)", sp.exp), ("tanh(u)", sp.tanh),
    ("sigmoid(u)", ref_sym.sigmoid), ("log(1 + u^2)", lambda u: sp.log(1 + u ** 2)),
    ("sqrt(1 + u^2)", lambda u: sp.sqrt(1 + u ** 2)), ("u^3", lambda u: u ** 3),
]


def _inner(rng: np.random.Generator) -> sp.Expr:
    a = int(rng.integers(1, 4)) * int(rng.choice([-1, 1]))
    b = int(rng.integers(-2, 3))
    k = int(rng.integers(1, 3))
    return sp.Rational(a, 2) * _X ** k + b


def _composition(rng: np.random.Generator):
    depth = int(rng.integers(2, 4))
    picks = [int(i) for i in rng.choice(len(_OUTERS), size=depth - 1, replace=False)]
    stages = [_inner(rng)] + [_OUTERS[i][1] for i in picks]
    u = sp.Symbol("u")
    values = [stages[0]]
    for g in stages[1:]:
        values.append(g(values[-1]))
    f = values[-1]
    expected = sp.diff(f, _X)
    local_at = [sp.diff(stages[0], _X)] + [sp.diff(g(u), u).subs(u, values[i]) for i, g in enumerate(stages[1:])]
    local_at_x = [sp.diff(stages[0], _X)] + [sp.diff(g(u), u).subs(u, _X) for g in stages[1:]]
    mistakes = {"MISSING_INNER_DERIVATIVE": sp.Mul(*local_at[1:]),
                "CHAIN_WRONG_POINT": sp.Mul(*local_at_x),
                "CHAIN_RULE_ADDED": sp.Add(*local_at)}
    names = [_OUTERS[i][0] for i in picks]
    how = "f(x) = " + sp.sstr(f)
    hints = ("Name the stages from the inside out: g1(x) = " + sp.sstr(stages[0]) + ", then "
             + ", then ".join(names) + ".",
             "f'(x) is the PRODUCT of every stage's derivative, each taken at that stage's own input.",
             "Here: " + " * ".join(f"({sp.sstr(d)})" for d in reversed(local_at)) + ".")
    return how, {"x": _X}, expected, mistakes, hints, "f'(x)", f, _X


def _neuron(rng: np.random.Generator):
    w, x, b, y = sp.symbols("w x b y")
    kind = str(rng.choice(["squared_sigmoid", "logistic", "squared_tanh"]))
    wrt = [w, b][int(rng.integers(2))]
    z = w * x + b
    zs = sp.Symbol("z")
    if kind == "squared_sigmoid":
        outer = (ref_sym.sigmoid(zs) - y) ** 2
        text = "L = (sigmoid(w*x + b) - y)^2"
        no_activation = 2 * (ref_sym.sigmoid(z) - y) * sp.diff(z, wrt)
    elif kind == "logistic":
        outer = sp.log(1 + sp.exp(-y * zs))
        text = "L = log(1 + exp(-y*(w*x + b)))  (the logistic loss, y = +1 or -1)"
        no_activation = None
    else:
        outer = (sp.tanh(zs) - y) ** 2
        text = "L = (tanh(w*x + b) - y)^2"
        no_activation = 2 * (sp.tanh(z) - y) * sp.diff(z, wrt)
    dL_dz = sp.diff(outer, zs).subs(zs, z)
    expected = sp.diff(outer.subs(zs, z), wrt)
    mistakes = {"SIGN_FLIP": -expected}
    if wrt == w:  # dz/dw = x: forgetting it is the dropped inner derivative (dz/db = 1 cannot be forgotten)
        mistakes["MISSING_INNER_DERIVATIVE"] = dL_dz
    if no_activation is not None:
        # the activation's derivative dropped
        mistakes["TANH_DERIVATIVE" if kind == "squared_tanh" else "SIGMOID_DERIVATIVE"] = no_activation
    hints = (f"Write z = w*x + b; then L is a function of z only, and dz/d{wrt} = {sp.diff(z, wrt)}.",
             f"dL/d{wrt} = dL/dz * dz/d{wrt}; for dL/dz differentiate the outer function at z, activation included.",
             f"dL/dz = {sp.sstr(sp.diff(outer, zs))} with z = w*x + b.")
    return text, {"w": w, "x": x, "b": b, "y": y}, expected, mistakes, hints, f"dL/d{wrt}", outer.subs(zs, z), wrt


def check_chain(problem: Problem, text: Any) -> Feedback:
    symbols = problem.data["symbols"]
    if text is None or (isinstance(text, str) and not text.strip()):
        return format_problem("no answer given", problem.answer_format)
    try:
        parsed = ref_sym.parse_answer(text if isinstance(text, str) else str(text), symbols)
    except (ValueError, TypeError, SyntaxError) as exc:
        return format_problem(str(exc), problem.answer_format)
    if parsed.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return format_problem(f"{text!r} contains an infinity or NaN", problem.answer_format)
    try:
        # random points first (a difference there proves the answer wrong, without waiting for SymPy), then
        # SymPy's simplification (capped) confirms a match
        if ref_sym.are_equivalent(text, problem.expected, symbols, time_limit=0, rng=problem.seed):
            if ref_sym.are_equivalent(text, problem.expected, symbols, time_limit=SYMPY_SECONDS, rng=problem.seed):
                return Feedback(True, "Correct. " + problem.solution)
        for code, wrong in problem.mistakes.items():
            if not ref_sym.are_equivalent(wrong, problem.expected, symbols, time_limit=0, rng=problem.seed) and \
                    ref_sym.are_equivalent(text, wrong, symbols, time_limit=0, rng=problem.seed):
                return Feedback(False, f"Not quite: this is what you get from {_named(code)}", code, diagnoses=(code,))
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        return format_problem(f"could not compare your answer: {exc}", problem.answer_format)
    return Feedback(False, "Not correct (compared symbolically and at random points). Check each stage's "
                           "derivative and where it is evaluated.")


@family("derive_chain", "Derivation: the derivative of a composition", kind="derivation", competency="derivation",
        weight=3, check=check_chain, notebook="01")
def _derive_chain(rng: np.random.Generator) -> Problem:
    maker = _neuron if rng.random() < 0.35 else _composition
    text, symbols, expected, mistakes, hints, what, function, wrt = maker(rng)
    names = ", ".join(symbols)
    return Problem(
        "derive_chain", "Derivation: the derivative of a composition",
        f"{text}\nDerive {what} as an expression in {names}.",
        f"an expression in {names}, e.g. 2*x*cos(x^2) (exp log sin cos tanh sqrt sigmoid; ^ or ** for powers; "
        f"e is exp(1))",
        expected, hints, f"{what} = {sp.sstr(expected)}.", 300, mistakes,
        data={"symbols": symbols, "text": text, "function": function, "wrt": wrt.name},
        seed=int(rng.integers(2 ** 31)))


# ================================================================================================== matrix calculus

# Built unevaluated: SymPy's automatic simplification of tanh(sum of symbols) queries the assumption system
# and makes a build ten times slower; differentiation and comparison do not need it.
_FUNCS = {"tanh": lambda u: sp.tanh(u, evaluate=False),
          "sigmoid": lambda u: 1 / (1 + sp.exp(-u, evaluate=False)),
          "exp": lambda u: sp.exp(u, evaluate=False), "log": lambda u: sp.log(u, evaluate=False),
          "sqrt": sp.sqrt}
_EW = {k: np.frompyfunc(f, 1, 1) for k, f in _FUNCS.items()}
_NUMERIC = {"tanh": np.tanh, "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), "exp": np.exp, "log": np.log,
            "sqrt": np.sqrt}

# template -> forward (or loss) in the evaluator's notation, shapes as size letters, {wrt: (solution, mistakes)}
_TEMPLATES: dict[str, dict] = {
    "linear": {
        "text": "Y = X @ W + b", "shapes": {"X": "ND", "W": "DM", "b": "M", "G": "NM"}, "forward": "X @ W + b",
        "polynomial": True,
        "wrt": {"X": ("G @ W.T", {}), "W": ("X.T @ G", {}),
                "b": ("G.sum(axis=0)", {"EXTRA_1_OVER_N": "G.mean(axis=0)"})},
    },
    "tanh": {
        "text": "Y = tanh(X @ W + b)", "shapes": {"X": "ND", "W": "DM", "b": "M", "G": "NM"},
        "forward": "tanh(X @ W + b)",
        "wrt": {"X": ("(G * (1 - Y**2)) @ W.T", {"TANH_DERIVATIVE": "(G * (1 - Y)) @ W.T",
                                                 "MISSING_INNER_DERIVATIVE": "G @ W.T"}),
                "W": ("X.T @ (G * (1 - Y**2))", {"TANH_DERIVATIVE": "X.T @ (G * (1 - Y))",
                                                 "MISSING_INNER_DERIVATIVE": "X.T @ G"}),
                "b": ("(G * (1 - Y**2)).sum(axis=0)", {"TANH_DERIVATIVE": "(G * (1 - Y)).sum(axis=0)",
                                                       "MISSING_INNER_DERIVATIVE": "G.sum(axis=0)"})},
    },
    "sigmoid": {
        "text": "Y = sigmoid(X @ W)", "shapes": {"X": "ND", "W": "DM", "G": "NM"}, "forward": "sigmoid(X @ W)",
        "wrt": {"X": ("(G * Y * (1 - Y)) @ W.T", {"SIGMOID_DERIVATIVE": ["(G * Y) @ W.T", "(G * (1 - Y)) @ W.T"],
                                                  "MISSING_INNER_DERIVATIVE": "G @ W.T"}),
                "W": ("X.T @ (G * Y * (1 - Y))", {"SIGMOID_DERIVATIVE": ["X.T @ (G * Y)", "X.T @ (G * (1 - Y))"],
                                                  "MISSING_INNER_DERIVATIVE": "X.T @ G"})},
    },
    "two_linear": {
        "text": "Y = X @ W1 @ W2", "shapes": {"X": "ND", "W1": "DH", "W2": "HM", "G": "NM"}, "forward": "X @ W1 @ W2",
        "polynomial": True,
        "wrt": {"X": ("G @ W2.T @ W1.T", {}), "W1": ("X.T @ G @ W2.T", {}), "W2": ("(X @ W1).T @ G", {})},
    },
    "least_squares": {
        "text": "L = sum((X @ w - y)**2) / (2*N)   (a loss, so there is no G)",
        "shapes": {"X": "ND", "w": "D1", "y": "N1"}, "polynomial": True,
        "loss": "sum((X @ w - y)**2) / (2*N)",
        "wrt": {"w": ("X.T @ (X @ w - y) / N", {"MISSING_1_OVER_N": "X.T @ (X @ w - y)",
                                                "MSE_FACTOR_TWO": "2 * X.T @ (X @ w - y) / N"})},
    },
}
N_POINTS = 3   # random points of the numeric comparison that comes before SymPy


def _sym_array(name: str, shape: tuple) -> np.ndarray:
    """Real symbols: SymPy answers its assumption queries at once (building the derivatives is ~2x faster)."""
    arr = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        arr[idx] = sp.Symbol(f"{name}_{'_'.join(map(str, idx))}", real=True)
    return arr


def _shape(dims: str, n: dict) -> tuple:
    return tuple(1 if c == "1" else n[c] for c in dims)


@functools.lru_cache(maxsize=64)
def _symbols_of(template: str, sizes: tuple) -> dict:
    """The problem's names as arrays of SymPy symbols, and Y (the forward) built from them."""
    t = _TEMPLATES[template]
    n = dict(sizes)
    v = {name: _sym_array(name, _shape(dims, n)) for name, dims in t["shapes"].items()}
    if "forward" in t:
        v["Y"] = _Evaluator(dict(v) | {k: sp.Integer(x) for k, x in n.items()}).run(t["forward"])
    return v


@functools.lru_cache(maxsize=64)
def _context(template: str, sizes: tuple, wrt: str):
    """(symbolic values by name, expected gradient as an object array (sympy.diff of the loss), symbols)."""
    t = _TEMPLATES[template]
    n = dict(sizes)
    v = dict(_symbols_of(template, sizes))
    if "loss" in t:
        L = _Evaluator(dict(v) | {k: sp.Integer(x) for k, x in n.items()}).run(t["loss"])
    else:
        L = (v["G"] * v["Y"]).sum()
    symbols = {sym.name: sym for name in t["shapes"] for sym in v[name].ravel()}
    expected = np.empty(v[wrt].shape, dtype=object)
    if t.get("polynomial"):
        # a polynomial loss: SymPy's exact polynomial differentiation (much faster than sympy.diff on the tree)
        poly = sp.Poly(L, *symbols.values())
        for idx in np.ndindex(*v[wrt].shape):
            expected[idx] = poly.diff(v[wrt][idx]).as_expr()
    else:
        # sympy.diff term by term, skipping the terms of L without the symbol (they contribute exactly 0)
        holders = [(term, term.free_symbols) for term in sp.Add.make_args(L)]
        for idx in np.ndindex(*v[wrt].shape):
            sym = v[wrt][idx]
            expected[idx] = sp.Add(*[sp.diff(term, sym) for term, free in holders if sym in free])
    return v, expected, symbols


STEP = 1e-30  # complex step: f'(x) = Im f(x + i h) / h, exact to rounding for analytic f (no cancellation)


def _loss(t: dict, values: dict):
    if "loss" in t:
        return _Evaluator(values, numeric=True).run(t["loss"])
    return np.sum(values["G"] * _Evaluator(values, numeric=True).run(t["forward"]))


@functools.lru_cache(maxsize=256)
def _numeric_points(template: str, sizes: tuple, wrt: str, seed: int):
    """Random float64 values of every name (Y computed from them) and the gradient there, by complex-step
    differentiation of the loss: the fast numeric side of the comparison (SymPy confirms a match)."""
    t = _TEMPLATES[template]
    n = dict(sizes)
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(N_POINTS):
        values = {name: rng.uniform(-1.0, 1.0, _shape(dims, n)) for name, dims in t["shapes"].items()}
        values |= {k: float(x) for k, x in n.items()}
        want = np.zeros(values[wrt].shape)
        for idx in np.ndindex(*want.shape):
            shifted = dict(values)
            shifted[wrt] = values[wrt].astype(complex)
            shifted[wrt][idx] += 1j * STEP
            want[idx] = np.imag(_loss(t, shifted)) / STEP
        if "forward" in t:
            values["Y"] = _Evaluator(values, numeric=True).run(t["forward"])
        points.append((values, want))
    return points


class _Evaluator(ast.NodeVisitor):
    """Evaluate a NumPy-notation expression on arrays (object arrays of SymPy expressions, or float64 arrays with
    ``numeric=True``), whitelist only."""

    def __init__(self, names: dict[str, Any], numeric: bool = False):
        self.names = names
        self.numeric = numeric

    def run(self, text: str):
        text = text.strip()
        if not text:
            raise AnswerFormatError("the expression is empty")
        if len(text) > 400 or "__" in text or "lambda" in text:
            raise AnswerFormatError("the expression is not allowed")
        try:
            tree = ast.parse(text.replace("^", "**"), mode="eval")
        except SyntaxError:
            raise AnswerFormatError(f"cannot read {text!r} as an expression") from None
        try:
            with np.errstate(all="ignore"):
                return self.visit(tree.body)
        except AnswerFormatError:
            raise
        except ValueError as exc:  # shapes that do not fit
            raise ShapeMismatch(str(exc)) from None

    def generic_visit(self, node):
        raise AnswerFormatError(f"{type(node).__name__} is not allowed here (use names, numbers, @ * / + - **, .T, "
                                f".sum(axis=k), tanh/sigmoid/exp/log/sqrt)")

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            if self.numeric:
                return float(node.value)
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        raise AnswerFormatError(f"{node.value!r} is not a number")

    def visit_Name(self, node):
        if node.id in self.names:
            return self.names[node.id]
        raise AnswerFormatError(f"unknown name {node.id!r}; use {', '.join(sorted(self.names))}")

    def visit_UnaryOp(self, node):
        v = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        a, b = self.visit(node.left), self.visit(node.right)
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b, ast.Div: lambda: a / b,
               ast.Pow: lambda: a ** b, ast.MatMult: lambda: _matmul(a, b)}
        for kind, fn in ops.items():
            if isinstance(node.op, kind):
                return fn()
        return self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr == "T":
            v = self.visit(node.value)
            return v.T if isinstance(v, np.ndarray) else v
        return self.generic_visit(node)

    def visit_Call(self, node):
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
            f = ast.Name(f.attr, ast.Load())
        if isinstance(f, ast.Name) and f.id in _FUNCS and len(node.args) == 1 and not node.keywords:
            v = self.visit(node.args[0])
            if self.numeric:
                return _NUMERIC[f.id](v)
            return _EW[f.id](v) if isinstance(v, np.ndarray) else _FUNCS[f.id](v)
        if isinstance(f, ast.Name) and f.id in ("sum", "mean") and len(node.args) == 1:
            return self._reduce(self.visit(node.args[0]), f.id, node.keywords)
        if isinstance(f, ast.Attribute) and f.attr in ("sum", "mean") and not node.args:
            return self._reduce(self.visit(f.value), f.attr, node.keywords)
        return self.generic_visit(node)

    def _reduce(self, v, how: str, keywords):
        kw = {}
        for k in keywords:
            if k.arg not in ("axis", "keepdims") or not isinstance(k.value, ast.Constant):
                raise AnswerFormatError(f"{how}() takes axis= and keepdims= with constant values only")
            kw[k.arg] = k.value.value
        if not isinstance(v, np.ndarray):
            return v
        total = v.sum(**kw)
        if how == "sum":
            return total
        return total / (v.size if kw.get("axis") is None else v.shape[kw["axis"]])


class ShapeMismatch(AnswerFormatError):
    """An operation in the expression does not fit the shapes (a real mistake, not a typing problem)."""


def _matmul(a, b):
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        raise ValueError("@ needs two arrays")
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[0]:
        raise ValueError(f"{a.shape} @ {b.shape}: the inner dimensions do not match")
    return np.matmul(a, b)


_SHAPE = re.compile(r"^\s*\(?\s*(\d+)\s*(?:[,x×]\s*(\d+)\s*)?,?\s*\)?\s*:(.*)$", re.S)


def _read_shape(text: str) -> tuple[tuple, str]:
    m = _SHAPE.match(text)
    if not m:
        raise AnswerFormatError("start with the shape of the gradient, then a colon and the expression, e.g. "
                                "'(2, 4): X.T @ G'")
    shape = (int(m.group(1)),) if m.group(2) is None else (int(m.group(1)), int(m.group(2)))
    return shape, m.group(3)


def _numeric(expr: str, points) -> list[np.ndarray] | None:
    """The expression evaluated at the numeric points (None when it produces non-finite values)."""
    out = []
    for values, _ in points:
        v = np.asarray(_Evaluator(values, numeric=True).run(expr), dtype=np.float64)
        if not np.all(np.isfinite(v)):
            return None
        out.append(v)
    return out


def _same(a: list[np.ndarray] | None, b: list[np.ndarray]) -> bool:
    return a is not None and all(x.shape == y.shape and np.allclose(x, y, rtol=1e-7, atol=1e-10)
                                 for x, y in zip(a, b))


def _symbolic_equal(a: np.ndarray, b: np.ndarray, symbols: dict, seed: int) -> bool:
    """SymPy: one random integer combination of the entries of a - b is identically zero."""
    weights = np.random.default_rng(seed).integers(1, 10, size=a.size)
    combo = sp.Add(*[int(w) * (sp.sympify(x) - y) for w, x, y in zip(weights, a.ravel(), b.ravel())])
    if combo == 0:
        return True
    return ref_sym.are_equivalent(combo, sp.Integer(0), symbols, time_limit=SYMPY_SECONDS, rng=seed)


def _shape_diagnosis(got: tuple, want: tuple, sizes: dict) -> str | None:
    if len(got) == 2 and got[::-1] == want and got != want:
        return "MISSING_TRANSPOSE"
    if len(want) == 1 and got == (1, want[0]):
        return "BIAS_KEEPDIMS"
    if len(want) == 1 and got == (sizes.get("N"),):
        return "BIAS_SUM_AXIS"
    return None


def check_matrix(problem: Problem, text: Any) -> Feedback:
    """Shape first (named when it is a transpose or a bias sum), then values: the expression is compared at
    random float64 points (a difference there proves it wrong, fast), and a match is confirmed with SymPy on
    the symbolic arrays."""
    d = problem.data
    values = _symbols_of(d["template"], d["sizes"])
    names = dict(values) | {k: sp.Integer(v) for k, v in d["sizes"]}
    try:
        claimed, expr = _read_shape("" if text is None else str(text))
        got = _Evaluator(names).run(expr)
    except ShapeMismatch as exc:
        return Feedback(False, f"Your expression does not fit the shapes: {exc}. Write the shape of every factor "
                               f"next to it.")
    except AnswerFormatError as exc:
        return format_problem(str(exc), problem.answer_format)
    got = np.asarray(got, dtype=object)
    want = tuple(d["shape"])
    if got.shape != claimed:
        return Feedback(False, f"You state the shape {claimed} but your expression has shape {got.shape}.")
    if got.shape != want:
        code = _shape_diagnosis(got.shape, want, dict(d["sizes"]))
        msg = f"Shape {got.shape}, but d{d['wrt']} must have the shape of {d['wrt']}: {want}."
        if code:
            return Feedback(False, f"{msg} Likely {_named(code)}", code, diagnoses=(code,))
        return Feedback(False, msg)
    points = _numeric_points(d["template"], d["sizes"], d["wrt"], problem.seed)
    try:
        mine = _numeric(expr, points)
        if _same(mine, [w for _, w in points]):
            _, expected, symbols = _context(d["template"], d["sizes"], d["wrt"])
            if _symbolic_equal(got, expected, symbols, problem.seed):
                return Feedback(True, "Correct. " + problem.solution)
        else:
            for code, variants in problem.mistakes.items():
                for wrong in variants if isinstance(variants, list) else [variants]:
                    if _same(mine, _numeric(wrong, points)):
                        return Feedback(False, f"Not quite: this is what you get from {_named(code)}", code,
                                        diagnoses=(code,))
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        return format_problem(f"could not compare your answer: {exc}", problem.answer_format)
    return Feedback(False, "Right shape, wrong values (compared entry by entry). Write the local derivative of each "
                           "step and multiply them in the order the shapes allow.")


@family("derive_matrix", "Derivation: a matrix-calculus gradient with its shape", kind="derivation",
        competency="derivation", weight=3, check=check_matrix, notebook="03-04")
def _derive_matrix(rng: np.random.Generator) -> Problem:
    names = list(_TEMPLATES)
    template = names[int(rng.integers(len(names)))]
    t = _TEMPLATES[template]
    wrts = list(t["wrt"])
    wrt = wrts[int(rng.integers(len(wrts)))]
    # sizes all different (a transpose then shows as a wrong shape); small, so the SymPy derivation stays fast
    dims = [int(v) for v in rng.permutation([2, 3, 4, 5] if template == "two_linear" else [2, 3, 4])] + [0]
    if template == "least_squares" and dims[0] == 2:  # with N = 2, 2/N = 1 would hide the factor-2 mistake
        dims[0], dims[1] = dims[1], dims[0]
    sizes = tuple(zip("NDMH", dims))
    n = dict(sizes)
    shapes = ", ".join(f"{name} {_shape(s, n)}" for name, s in t["shapes"].items())
    solution, mistakes = t["wrt"][wrt]
    used = "".join(t["shapes"].values())
    size_text = ", ".join(f"{k} = {v}" for k, v in sizes if k in used)
    out_shape = _shape(t["shapes"][wrt], n)
    extra = "" if "loss" in t else " The loss is L = sum(G * Y): G = dL/dY is the upstream gradient, same shape as Y."
    prompt = (f"{t['text']}, with {shapes} ({size_text}).{extra}\nGive dL/d{wrt}: its shape and an expression in "
              f"NumPy notation using {', '.join(sorted(set(t['shapes']) | ({'Y'} if 'loss' not in t else set())))}.")
    seed = int(rng.integers(2 ** 31))
    _numeric_points(template, sizes, wrt, seed)  # the values compared with an answer, ready before the first one
    return Problem(
        "derive_matrix", "Derivation: a matrix-calculus gradient with its shape", prompt,
        "shape: expression, e.g. (2, 4): X.T @ G  (@ matrix product, * elementwise, .T, .sum(axis=0), tanh, sigmoid)",
        None, (f"dL/d{wrt} has the shape of {wrt}: {out_shape}. Write the shape of every array you use.",
               "Go backwards one operation at a time: elementwise functions multiply elementwise by their "
               "derivative, a matrix product passes the gradient through the OTHER factor, transposed.",
               "The answer uses " + ", ".join(sorted(set(re.findall(r"\b[A-Za-z][A-Za-z0-9]*\b", solution))
                                                  - set(_FUNCS) - {"T", "sum", "axis", "N"})) + "."),
        f"dL/d{wrt} = {solution}, shape {out_shape}.", 600, dict(mistakes),
        data={"template": template, "sizes": sizes, "wrt": wrt, "solution": solution, "shape": out_shape},
        seed=seed)
