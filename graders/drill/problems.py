"""Problem families for timed mock-interview drills.

Each family turns a ``numpy.random.Generator`` into a fresh :class:`Problem` whose expected answer is
computed by SymPy or reference_impl (never typed in by hand). :func:`check_answer` parses what a candidate
typed and returns :class:`Feedback`, naming the mistake when the answer equals a known wrong one.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp

from graders import diagnoses
from reference_impl import batchnorm as ref_bn
from reference_impl import network as ref_net
from reference_impl.autodiff.forward import Dual
from reference_impl.autodiff.forward import sin as dual_sin
from reference_impl.autodiff.reverse import Value

REL_TOL = 2e-3   # answers may be rounded to 3-4 significant digits
ABS_TOL = 2e-4


@dataclass(frozen=True)
class Problem:
    """One drill problem.

    ``expected`` is a float, a tuple of floats, a float ndarray, or a letter; ``mistakes`` maps diagnosis
    codes to the answer that mistake produces (same kind as ``expected``).
    """
    family: str
    title: str
    prompt: str
    answer_format: str
    expected: Any
    hints: tuple[str, str, str]
    solution: str
    time_limit: int
    mistakes: dict[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    data: dict = field(default_factory=dict)  # the raw ingredients, so tests can recompute the answer

    def to_dict(self) -> dict:
        exp = self.expected
        if isinstance(exp, np.ndarray):
            exp = exp.tolist()
        return {"family": self.family, "title": self.title, "prompt": self.prompt, "answer_format":
                self.answer_format, "expected": exp, "time_limit": self.time_limit}


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str
    diagnosis: str | None = None


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    make: Callable[[np.random.Generator], Problem]


FAMILIES: dict[str, Family] = {}


def family(name: str, title: str):
    def register(fn):
        FAMILIES[name] = Family(name, title, fn)
        return fn
    return register


def generate(name: str, rng: np.random.Generator) -> Problem:
    """A fresh problem of family ``name`` (KeyError lists the families)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown problem family {name!r}; choose from {', '.join(FAMILIES)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    return FAMILIES[name].make(rng)


# ------------------------------------------------------------------------------------------ parsing answers


class AnswerFormatError(ValueError):
    """The typed answer cannot be read; the message says what format is expected."""


_NUMBER_EXPR = re.compile(r"^[0-9eE.+\-*/() ^]+$")


def _number(text: str) -> float:
    t = text.strip().replace("−", "-").replace("^", "**")
    if not t:
        raise AnswerFormatError("empty answer")
    if not _NUMBER_EXPR.match(t.replace("**", "^")):
        raise AnswerFormatError(f"{text!r} is not a number (arithmetic such as 0.25**4 or 6*(3*2+2) is fine)")
    try:
        value = float(sp.sympify(t, rational=False).evalf())
    except (sp.SympifyError, TypeError, ValueError, SyntaxError, ZeroDivisionError):
        raise AnswerFormatError(f"cannot read {text!r} as a number") from None
    if not math.isfinite(value):
        raise AnswerFormatError(f"{text!r} is not a finite number")
    return value


def _numbers(text: str) -> list:
    """Nested lists of numbers from '[1, 2]', '1, 2', '[[1,2],[3,4]]' or '1 2; 3 4'."""
    t = text.strip().replace("−", "-")
    if not t:
        raise AnswerFormatError("empty answer")
    if t[0] in "[(":
        try:
            value = ast.literal_eval(t)
        except (ValueError, SyntaxError):
            raise AnswerFormatError(f"cannot read {text!r}: use a list such as [1.5, -2] or [[1, 2], [3, 4]]") \
                from None

        def conv(v):
            if isinstance(v, (list, tuple)):
                return [conv(u) for u in v]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
            raise AnswerFormatError(f"{v!r} in your answer is not a number")
        return conv(value)
    rows = [r for r in t.split(";") if r.strip()]
    parsed = [[_number(p) for p in re.split(r"[,\s]+", r.strip()) if p] for r in rows]
    return parsed if len(parsed) > 1 else parsed[0]


def parse(problem: Problem, text: Any) -> Any:
    """The candidate's answer in the same kind as ``problem.expected`` (raises AnswerFormatError)."""
    if text is None:
        raise AnswerFormatError("no answer given")
    if not isinstance(text, str):
        text = str(text)
    exp = problem.expected
    if isinstance(exp, str):
        t = text.strip().upper().rstrip(".)")
        if t not in problem.choices:
            raise AnswerFormatError(f"answer with one letter among {', '.join(problem.choices)}")
        return t
    if isinstance(exp, float):
        return _number(text)
    if isinstance(exp, dict):
        parts = dict(p.split("=", 1) for p in re.split(r"[,;]\s*", text.strip()) if "=" in p)
        missing = [k for k in exp if k not in {k2.strip() for k2 in parts}]
        if missing:
            raise AnswerFormatError(f"give every value as name=number; missing {', '.join(missing)}")
        return {k.strip(): _number(v) for k, v in parts.items() if k.strip() in exp}
    try:
        arr = np.asarray(_numbers(text), dtype=np.float64)
    except ValueError:
        raise AnswerFormatError(f"{text!r} has rows of different lengths") from None
    if arr.shape != np.shape(exp):
        raise AnswerFormatError(f"expected {np.size(exp)} numbers with shape {np.shape(exp)}, got shape {arr.shape}")
    return arr


def _close(a: Any, b: Any) -> bool:
    if isinstance(b, str) or isinstance(a, str):
        return a == b
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() >= b.keys() and all(_close(a[k], b[k]) for k in b)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= ABS_TOL + REL_TOL * np.abs(b)))


def check_answer(problem: Problem, text: Any) -> Feedback:
    """Judge a typed answer; never raises for bad input (a format problem is reported as feedback)."""
    try:
        got = parse(problem, text)
    except AnswerFormatError as exc:
        return Feedback(False, f"Could not read your answer: {exc}. Expected {problem.answer_format}.", "FORMAT")
    if _close(got, problem.expected):
        return Feedback(True, "Correct. " + problem.solution)
    for code, wrong in problem.mistakes.items():
        variants = wrong if isinstance(wrong, list) else [wrong]
        for w in variants:
            hit = w(got) if callable(w) else (not _close(w, problem.expected) and _close(got, w))
            if hit:
                d = diagnoses.CATALOGUE.get(code)
                title, advice = (d.title, d.advice) if d else (code.replace("_", " ").lower(), "")
                return Feedback(False, f"Not quite: {title}. {advice}".strip(), code)
    return Feedback(False, "Not correct. Use the hints, or compare with the worked solution after the drill.")


def _fmt(v: float) -> str:
    return f"{v:.4g}"


# ------------------------------------------------------------------------------------------ families

_X = sp.Symbol("x")


@family("chain_rule", "Chain rule: derivative of a composition at a point")
def _chain_rule(rng):
    a = int(rng.integers(2, 6)) * int(rng.choice([-1, 1]))
    b = int(rng.integers(1, 6))
    n = int(rng.integers(2, 5))
    outers = [("sin", sp.sin), ("exp", sp.exp), ("power", lambda u: u ** n), ("log1p_sq", lambda u: sp.log(1 + u ** 2))]
    name, outer = outers[int(rng.integers(len(outers)))]
    inner = a * _X + b if name != "exp" else sp.Rational(a, 10) * _X ** 2 + sp.Rational(b, 10)
    f = outer(inner)
    x0 = float(rng.choice([-1.0, -0.5, 0.5, 1.0, 1.5]))
    df = sp.diff(f, _X)
    u = sp.Symbol("u")
    outer_d = sp.diff(outer(u), u).subs(u, inner)
    value = float(df.subs(_X, x0))
    no_inner = float(outer_d.subs(_X, x0))
    added = float((outer_d + sp.diff(inner, _X)).subs(_X, x0))
    return Problem(
        "chain_rule", FAMILIES["chain_rule"].title,
        f"Let f(x) = {sp.sstr(f)}. Compute f'(x) at x = {x0:g}.", "a number (4 significant digits)", value,
        ("Name the inner function g(x) and the outer function.",
         "f'(x) = outer'(g(x)) * g'(x).",
         f"Here g(x) = {sp.sstr(inner)}, g'(x) = {sp.sstr(sp.diff(inner, _X))}."),
        f"f'(x) = {sp.sstr(df)} = {_fmt(value)} at x = {x0:g}.", 90,
        {"MISSING_INNER_DERIVATIVE": no_inner, "CHAIN_RULE_ADDED": added, "SIGN_FLIP": -value},
        data={"f": sp.sstr(f), "x0": x0})


_GRAPHS = [
    ("(x*y + x)*z", lambda x, y, z: (x * y + x) * z),
    ("(x + y)*(x - z)", lambda x, y, z: (x + y) * (x - z)),
    ("x*y*x + z*y", lambda x, y, z: x * y * x + z * y),
    ("(x*z + y)*(y + z)", lambda x, y, z: (x * z + y) * (y + z)),
]


def _per_use_gradients(text: str, point: dict[str, float]) -> dict[str, list[float]]:
    """For each variable, the gradient through each single use of it (the others held fixed)."""
    out = {}
    for name in "xyz":
        uses = [m.start() for m in re.finditer(name, text)]
        grads = []
        for k in range(len(uses)):
            pieces, last = [], 0
            for j, pos in enumerate(uses):
                pieces.append(text[last:pos] + (f"{name}_use" if j == k else name))
                last = pos + 1
            expr = sp.sympify("".join(pieces) + text[last:])
            sym = sp.Symbol(f"{name}_use")
            subs = {sp.Symbol(n): v for n, v in point.items()} | {sym: point[name]}
            grads.append(float(sp.diff(expr, sym).subs(subs)))
        out[name] = grads
    return out


@family("graph_fanout", "Partial derivatives on a graph with fan-out")
def _graph_fanout(rng):
    text, f = _GRAPHS[int(rng.integers(len(_GRAPHS)))]
    vals = [float(v) for v in rng.integers(-4, 5, size=3)]
    vals = [v if v != 0 else 2.0 for v in vals]
    xs = [Value(v) for v in vals]
    f(*xs).backward()
    expected = {n: float(v.grad) for n, v in zip("xyz", xs)}
    per_use = _per_use_gradients(text, dict(zip("xyz", vals)))

    def overwrote(got: dict) -> bool:
        """Every variable matches the true sum or a single use's gradient, and some fan-out one is a single use."""
        single = [n for n in "xyz" if len(per_use[n]) > 1 and not _close(got[n], expected[n])
                  and any(_close(got[n], g) for g in per_use[n])]
        rest_ok = all(_close(got[n], expected[n]) or any(_close(got[n], g) for g in per_use[n]) for n in "xyz")
        return bool(single) and rest_ok

    return Problem(
        "graph_fanout", FAMILIES["graph_fanout"].title,
        f"f = {text} with x = {vals[0]:g}, y = {vals[1]:g}, z = {vals[2]:g}. Give df/dx, df/dy, df/dz.",
        "x=..., y=..., z=...", expected,
        ("Draw the graph; mark every variable that feeds more than one node.",
         "Backpropagate node by node: a node's gradient is the upstream gradient times the local derivative.",
         "A variable used twice receives the SUM of the gradients along both uses."),
        "Gradients: " + ", ".join(f"d{n} = {_fmt(v)}" for n, v in expected.items()) + ".", 150,
        {"OVERWRITE_NOT_ACCUMULATE": [overwrote]}, data={"f": text, "point": dict(zip("xyz", vals)),
                                                           "per_use": per_use})


@family("two_layer_dW1", "One entry of dW1 in a 2-layer network")
def _two_layer(rng):
    D, H, C = 2, 2, 2
    for _ in range(50):
        W1 = np.round(rng.uniform(-1, 1, (D, H)), 1)
        W2 = np.round(rng.uniform(-1, 1, (H, C)), 1)
        x = np.round(rng.uniform(-1, 1, (1, D)), 1)
        if np.min(np.abs(x @ W1)) > 0.05 and np.any(x @ W1 > 0):
            break
    params = {"W1": W1, "b1": np.zeros(H), "W2": W2, "b2": np.zeros(C)}
    y = int(rng.integers(C))
    loss, grads = ref_net.mlp_loss_and_grads(params, x, np.array([y]))
    i, j = int(rng.integers(D)), int(rng.integers(H))
    value = float(grads["W1"][i, j])
    z1 = x @ W1
    h = np.maximum(z1, 0)
    s = h @ W2
    p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    dz2_wrong = p.copy()  # forgot the one-hot
    no_onehot = float((x.T @ ((dz2_wrong @ W2.T) * (z1 > 0)))[i, j])
    no_mask = float((x.T @ ((p - np.eye(C)[[y]]) @ W2.T))[i, j])
    return Problem(
        "two_layer_dW1", FAMILIES["two_layer_dW1"].title,
        f"z1 = x W1, h = relu(z1), scores = h W2, L = cross-entropy(softmax(scores), y) (no biases).\n"
        f"x = {x.tolist()[0]}, W1 = {W1.tolist()}, W2 = {W2.tolist()}, y = {y}.\nCompute dL/dW1[{i}, {j}].",
        "a number (4 significant digits)", value,
        ("Forward first: z1, h, scores, p = softmax(scores).",
         "dscores = p - onehot(y); dh = dscores W2^T; dz1 = dh * (z1 > 0).",
         f"dW1 = x^T dz1, so dW1[{i}, {j}] = x[{i}] * dz1[{j}]."),
        f"dW1[{i}, {j}] = {_fmt(value)} (loss {_fmt(float(loss))}).", 240,
        {"SOFTMAX_GRAD_NO_ONEHOT": no_onehot, "RELU_MASK": no_mask, "SIGN_FLIP": -value},
        data={"x": x[0], "W1": W1, "W2": W2, "y": y, "i": i, "j": j})


_VEC_FUNS = [
    ("[x*y, x + sin(y)]", lambda x, y: [x * y, x + sp.sin(y)]),
    ("[x**2*y, exp(x) - y]", lambda x, y: [x ** 2 * y, sp.exp(x) - y]),
    ("[x*sin(y), x*y**2]", lambda x, y: [x * sp.sin(y), x * y ** 2]),
    ("[tanh(x*y), x - 3*y]", lambda x, y: [sp.tanh(x * y), x - 3 * y]),
]


@family("jacobian", "Jacobian of a small vector function")
def _jacobian(rng):
    text, F = _VEC_FUNS[int(rng.integers(len(_VEC_FUNS)))]
    x, y = sp.symbols("x y")
    J = sp.Matrix(F(x, y)).jacobian([x, y])
    pt = {x: float(rng.choice([-1.0, 0.5, 1.0, 2.0])), y: float(rng.choice([-0.5, 1.0, 1.5]))}
    Jv = np.array(J.subs(pt).evalf(), dtype=np.float64)
    return Problem(
        "jacobian", FAMILIES["jacobian"].title,
        f"F(x, y) = {text}. Give the Jacobian at x = {pt[x]:g}, y = {pt[y]:g}.",
        "a 2x2 matrix [[dF1/dx, dF1/dy], [dF2/dx, dF2/dy]]", Jv,
        ("Rows are outputs, columns are inputs: J[i, j] = dF_i / d(input_j).",
         "Differentiate each component with respect to x, then y.",
         f"Symbolically J = {sp.sstr(J.tolist())}."),
        f"J = {np.round(Jv, 4).tolist()}.", 150, {"JACOBIAN_TRANSPOSED": Jv.T},
        data={"F": text, "point": (pt[x], pt[y])})


@family("forward_trace", "Forward-mode (dual number) trace")
def _forward_trace(rng):
    a, b = float(rng.choice([1.0, 1.5, 2.0, 2.5, -1.0])), float(rng.choice([-2.0, 0.5, 1.0, 3.0]))
    wrt = int(rng.integers(2))
    seeds = [Dual(a, 1.0 if wrt == 0 else 0.0), Dual(b, 1.0 if wrt == 1 else 0.0)]
    out = seeds[0] * seeds[1] + dual_sin(seeds[0])
    other = [Dual(a, 1.0 if wrt == 1 else 0.0), Dual(b, 1.0 if wrt == 0 else 0.0)]
    wrong = other[0] * other[1] + dual_sin(other[0])
    both = [Dual(a, 1.0), Dual(b, 1.0)]
    dir_ones = both[0] * both[1] + dual_sin(both[0])
    name = f"x{wrt + 1}"
    return Problem(
        "forward_trace", FAMILIES["forward_trace"].title,
        f"f(x1, x2) = x1*x2 + sin(x1) at x1 = {a:g}, x2 = {b:g}. Run forward mode with dual numbers to get "
        f"f and df/d{name}. Answer [f, df/d{name}].", "two numbers [value, derivative]",
        np.array([out.val, out.dot]),
        (f"Seed the tangent of {name} with 1 and the other input's tangent with 0.",
         "Propagate (value, tangent) pairs: (u*v)' = u'v + uv', (sin u)' = cos(u) u'.",
         "The output's tangent is the derivative you want."),
        f"f = {_fmt(out.val)}, df/d{name} = {_fmt(out.dot)}.", 150,
        {"FORWARD_SEED_WRONG_INPUT": [np.array([out.val, wrong.dot]), np.array([out.val, dir_ones.dot])]},
        data={"x1": a, "x2": b, "wrt": wrt})


@family("vjp", "Vector-Jacobian product")
def _vjp(rng):
    m, n = 2, 3
    W = rng.integers(-3, 4, size=(m, n)).astype(float)
    x = np.round(rng.uniform(-1, 1, n), 1)
    u = rng.integers(-2, 3, size=m).astype(float)
    u[u == 0] = 1.0
    z = W @ x
    J = (1 - np.tanh(z) ** 2)[:, None] * W
    value = u @ J
    return Problem(
        "vjp", FAMILIES["vjp"].title,
        f"f(x) = tanh(W x) with W = {W.tolist()}, x = {x.tolist()}. Give u^T J for u = {u.tolist()}.",
        f"{n} numbers [..]", value,
        ("J = diag(1 - tanh(Wx)^2) W has shape (2, 3).",
         "u^T J = (u * (1 - tanh(Wx)^2)) W: scale u elementwise, then multiply by W from the right.",
         f"Wx = {np.round(z, 4).tolist()}."),
        f"u^T J = {np.round(value, 4).tolist()}.", 180,
        {"TANH_DERIVATIVE": (u * (1 - np.tanh(z))) @ W, "MISSING_INNER_DERIVATIVE": u @ W},
        data={"W": W, "x": x, "u": u})


@family("bptt_2step", "Two-step BPTT gradient")
def _bptt(rng):
    w = float(rng.choice([0.5, 0.8, -0.6, 1.2]))
    u = float(rng.choice([1.0, 0.5, -1.0]))
    x1, x2 = float(rng.choice([1.0, -0.5, 0.8])), float(rng.choice([0.5, -1.0, 0.3]))
    h0 = float(rng.choice([0.5, -0.5, 1.0]))
    h1 = math.tanh(w * h0 + u * x1)
    h2 = math.tanh(w * h1 + u * x2)
    d1, d2 = 1 - h1 ** 2, 1 - h2 ** 2
    wrt = str(rng.choice(["w", "u"]))
    if wrt == "w":  # L = h2 depends on w directly at step 2 and through h1 at step 1
        value, last_only, local2, local1 = d2 * (h1 + w * d1 * h0), d2 * h1, "h1", "h0"
    else:
        value, last_only, local2, local1 = d2 * (x2 + w * d1 * x1), d2 * x2, "x2", "x1"
    return Problem(
        "bptt_2step", FAMILIES["bptt_2step"].title,
        f"h_t = tanh(w h_(t-1) + u x_t) with h0 = {h0:g}, w = {w:g}, u = {u:g}, x1 = {x1:g}, x2 = {x2:g}; the loss is "
        f"L = h2. Compute dL/d{wrt} (through both steps).", "a number (4 significant digits)", value,
        ("Unroll: h1 = tanh(w h0 + u x1), h2 = tanh(w h1 + u x2); the same w and u are used at both steps.",
         f"dL/d{wrt} = (1 - h2^2) * ({local2} + w * dh1/d{wrt}): the step-2 term plus the term carried back "
         f"through h1.",
         f"dh1/d{wrt} = (1 - h1^2) * {local1}; h1 = {_fmt(h1)}, h2 = {_fmt(h2)}."),
        f"dL/d{wrt} = {_fmt(value)}.", 180,
        {"BPTT_NO_CARRY": last_only, "TANH_DERIVATIVE": (1 - h2) * (value / d2), "SIGN_FLIP": -value},
        data={"w": w, "u": u, "x1": x1, "x2": x2, "h0": h0, "wrt": wrt})


@family("batchnorm3", "Batchnorm gradient for a batch of 3")
def _batchnorm(rng):
    x = np.round(rng.uniform(-2, 2, (3, 1)), 1)
    while np.ptp(x) < 0.5:
        x = np.round(rng.uniform(-2, 2, (3, 1)), 1)
    gamma = np.array([float(rng.choice([0.5, 2.0, 1.5]))])
    beta = np.zeros(1)
    dout = rng.integers(-3, 4, size=(3, 1)).astype(float)
    if np.all(dout == dout[0]):
        dout[0] += 1
    out, cache = ref_bn.batchnorm_forward(x, gamma, beta)
    dx = ref_bn.batchnorm_backward(dout, cache)[0][:, 0]
    xhat, inv_std = cache["xhat"], cache["inv_std"]
    dxhat = gamma * dout
    no_mean = (inv_std * (dxhat - xhat * np.mean(dxhat * xhat, axis=0)))[:, 0]
    no_var = (inv_std * (dxhat - np.mean(dxhat, axis=0)))[:, 0]
    no_gamma = (inv_std * (dout - dout.mean(0) - xhat * np.mean(dout * xhat, axis=0)))[:, 0]
    return Problem(
        "batchnorm3", FAMILIES["batchnorm3"].title,
        f"Batchnorm (train mode, biased variance, eps = 1e-5) of one feature over the batch x = {x[:, 0].tolist()}, "
        f"gamma = {gamma[0]:g}, beta = 0. Upstream gradient dout = {dout[:, 0].tolist()}. Give dx.",
        "three numbers [dx1, dx2, dx3]", dx,
        ("Start with dxhat = gamma * dout.",
         "dx = (1/std) * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).",
         f"Here xhat = {np.round(xhat[:, 0], 4).tolist()}, 1/std = {_fmt(float(inv_std[0]))}."),
        f"dx = {np.round(dx, 4).tolist()}; note it sums to 0.", 240,
        {"BN_MISSING_MEAN_TERM": no_mean, "BN_MISSING_VAR_TERM": no_var, "BN_GAMMA_FORGOTTEN": no_gamma},
        data={"x": x[:, 0], "gamma": float(gamma[0]), "dout": dout[:, 0]})


@family("vanishing", "Vanishing/exploding gradient estimate")
def _vanishing(rng):
    kind = str(rng.choice(["sigmoid", "scale"]))
    n = int(rng.integers(4, 31))
    if kind == "sigmoid":
        value = 0.25 ** n
        prompt = (f"A chain of {n} sigmoid layers with unit weights. What is the largest possible factor by which the "
                  f"gradient shrinks (the product of the {n} local derivatives at best)?")
        mistakes = {"SIGMOID_DERIVATIVE": 0.5 ** n}
        sol = f"sigmoid' <= 0.25, so the factor is at most 0.25^{n} = {value:.3e}."
        factor = None
    else:
        s = float(rng.choice([0.5, 0.9, 1.1, 1.5]))
        value = s ** n
        prompt = (f"A linear chain of {n} layers, each multiplying the gradient by {s:g}. By what factor does the "
                  f"gradient at the input differ from the gradient at the output?")
        mistakes = {}
        sol = f"The factors multiply: {s:g}^{n} = {value:.3e}."
        factor = s
    return Problem(
        "vanishing", FAMILIES["vanishing"].title, prompt, "a number (e.g. 3.9e-3)", value,
        ("Backprop multiplies one local derivative per layer.",
         "The sigmoid's derivative s(1-s) peaks at x = 0 with value 0.25.",
         "Raise the per-layer factor to the number of layers."), sol, 60, mistakes,
        data={"kind": kind, "n": n, "factor": factor})


_CONCEPTS = [
    ("Why does deep learning use reverse-mode AD rather than forward mode?",
     ["Reverse mode is more accurate", "One backward pass gives the gradient for all parameters of a scalar loss",
      "Forward mode cannot handle ReLU", "Reverse mode needs no memory"], "B",
     "A scalar loss with n parameters needs n forward-mode passes but one reverse pass; the price is memory for "
     "stored activations."),
    ("With y = F(x) + x (a residual block), dL/dx equals:",
     ["(dF/dx)^T dL/dy", "dL/dy", "(dF/dx)^T dL/dy + dL/dy", "dL/dy - (dF/dx)^T dL/dy"], "C",
     "The skip path adds the identity, so dL/dy reaches x unchanged plus the path through F."),
    ("He initialization for ReLU layers draws W with variance:",
     ["1/n_in", "2/n_in", "2/(n_in + n_out)", "1/n_out"], "B",
     "ReLU zeroes half of its inputs on average, halving the variance; 2/n_in compensates."),
    ("Checking a batchnorm backward with dout = ones is a bad test because:",
     ["it overflows", "the true dx is zero, so several wrong backwards also return zeros",
      "ones are not float64", "dgamma becomes negative"], "B",
     "Random upstream gradients are needed: with ones, xhat sums to zero and dx = 0."),
    ("Gradient clipping by global norm:",
     ["scales each tensor to unit norm separately", "scales all gradients by one common factor when their "
      "joint norm exceeds a threshold", "sets large entries to the threshold", "prevents vanishing gradients"], "B",
     "Clipping keeps the direction and caps the size; it helps exploding, not vanishing, gradients."),
    ("Why does an LSTM suffer less from vanishing gradients than a vanilla RNN?",
     ["It uses ReLU", "Its cell state is updated additively, so the gradient path through c_t is gated but not "
      "repeatedly squashed", "It has fewer parameters", "It uses batchnorm"], "B",
     "dc_t/dc_(t-1) = f_t (the forget gate): no tanh derivative and no repeated multiplication by Wh."),
    ("Memory cost of storing activations for backprop through N layers, and with sqrt(N) checkpointing:",
     ["O(1) and O(1)", "O(N) and O(sqrt(N))", "O(N^2) and O(N)", "O(log N) and O(1)"], "B",
     "Keep every sqrt(N)-th activation and recompute the segments: about one extra forward pass."),
    ("If every weight in a layer starts at the same value (e.g. zero), then:",
     ["training is faster", "all hidden units of the layer receive identical gradients and stay identical",
      "the loss is undefined", "only the biases learn"], "B",
     "Symmetry: identical units compute identical outputs and gradients, so random initialization is needed."),
]


@family("concept", "Concept question from the interview Q&A")
def _concept(rng):
    q, options, key, why = _CONCEPTS[int(rng.integers(len(_CONCEPTS)))]
    letters = "ABCD"
    order = rng.permutation(len(options))
    shown = [options[k] for k in order]
    new_key = letters[list(order).index(letters.index(key))]
    text = q + "\n" + "\n".join(f"  {letters[i]}) {o}" for i, o in enumerate(shown))
    return Problem("concept", FAMILIES["concept"].title, text, "one letter", new_key,
                   ("Eliminate the options that are false in one line of reasoning.",
                    "Think about what the gradient has to do, not about frameworks' names.",
                    why.split(";")[0] + "."), why, 60, {}, tuple(letters[:len(options)]),
                   data={"question": q, "shown": shown, "correct_option": options[letters.index(key)]})


_BUGS = [
    ("affine backward", "dx = dout @ W\ndW = x.T @ dout\ndb = dout.sum(axis=0)", "MISSING_TRANSPOSE"),
    ("affine backward", "dx = dout @ W.T\ndW = x.T @ dout\ndb = dout.sum(axis=1)", "BIAS_SUM_AXIS"),
    ("sigmoid backward (cache s = sigmoid(x))", "ds = sigmoid(s) * (1 - sigmoid(s))\ndx = dout * ds",
     "SIGMOID_ON_OUTPUT"),
    ("tanh backward (cache t = tanh(x))", "dx = dout * (1 - t)", "TANH_DERIVATIVE"),
    ("softmax cross-entropy", "p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)\n"
     "loss = -np.log(p[range(N), y]).mean()", "SOFTMAX_UNSTABLE"),
    ("Value.__mul__ backward", "self.grad = other.data * out.grad\nother.grad = self.data * out.grad",
     "OVERWRITE_NOT_ACCUMULATE"),
    ("batchnorm backward", "dxhat = dout\ndx = inv_std * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))",
     "BN_GAMMA_FORGOTTEN"),
    ("RNN backward loop", "for t in reversed(range(T)):\n    dnext = dh[:, t]\n    dx[:, t], dprev, dWx_t, dWh_t, db_t = "
     "step_backward(dnext, caches[t])\n    dWx, dWh, db = dWx_t, dWh_t, db_t", "BPTT_NO_CARRY"),
    ("gradient clipping", "for k in grads:\n    n = np.linalg.norm(grads[k])\n    if n > max_norm:\n"
     "        grads[k] = grads[k] * max_norm / n", "CLIP_PER_TENSOR"),
]


@family("find_the_bug", "Find the bug in a backward pass")
def _find_the_bug(rng):
    title, code, answer = _BUGS[int(rng.integers(len(_BUGS)))]
    pool = [b[2] for b in _BUGS if b[2] != answer]
    distractors = list(rng.choice(pool, size=3, replace=False))
    options = distractors + [answer]
    order = rng.permutation(4)
    shown = [options[k] for k in order]
    letters = "ABCD"
    key = letters[shown.index(answer)]
    lines = "\n".join(f"  {letters[i]}) {diagnoses.get(c).title}" for i, c in enumerate(shown))
    why = diagnoses.get(answer).advice
    if answer == "BPTT_NO_CARRY":
        why = ("two bugs hide here: dh[:, t] must be added to the dprev carried from step t+1, and the weight "
               "gradients must be summed over t. " + why)
    return Problem("find_the_bug", FAMILIES["find_the_bug"].title,
                   f"This {title} has one main bug:\n\n{code}\n\nWhich mistake is it?\n{lines}", "one letter", key,
                   ("Check every shape against the array it is the gradient of.",
                    "Compare each local derivative with the math of the forward.",
                    "Ask what happens when a value is used twice or over many steps."), why, 90, {},
                   tuple(letters), data={"bug": answer, "shown": shown})
