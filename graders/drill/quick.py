"""Quick problems: a number, a list, a matrix or named values, worked out on the spot in 1-4 minutes.

Every expected answer is computed when the problem is generated, by SymPy (``sympy.diff``) or by the course's
reference code (reverse- and forward-mode autodiff, the 2-layer network, batchnorm), never typed in by hand;
every known wrong answer (a dropped inner derivative, a missing one-hot, a BPTT step without the carry, ...)
is computed the same way, so that feedback can name the mistake.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import sympy as sp

from graders import diagnoses
from graders.drill import parsing
from graders.drill.parsing import AnswerFormatError, close
from graders.drill.registry import FAMILIES, Feedback, Problem, family, format_problem
from reference_impl import attention as ref_attn
from reference_impl import batchnorm as ref_bn
from reference_impl import network as ref_net
from reference_impl.autodiff.forward import Dual
from reference_impl.autodiff.forward import sin as dual_sin
from reference_impl.autodiff.reverse import Value

_close = close


def _parse(problem: Problem, text: Any) -> Any:
    """The answer in the same kind as ``problem.expected`` (raises AnswerFormatError)."""
    if text is None:
        raise AnswerFormatError("no answer given")
    text = str(text)
    exp = problem.expected
    if isinstance(exp, float):
        return parsing.number(text)
    if isinstance(exp, dict):
        return parsing.named(text, list(exp))
    return parsing.array(text, np.shape(exp))


def check_quick(problem: Problem, text: Any) -> Feedback:
    """Judge a typed answer: right (or an accepted equivalent), a named mistake, or just wrong."""
    try:
        got = _parse(problem, text)
    except AnswerFormatError as exc:
        return format_problem(str(exc), problem.answer_format)
    if close(got, problem.expected) or any(close(got, a) for a in problem.accept):
        return Feedback(True, "Correct. " + problem.solution)
    for code, wrong in problem.mistakes.items():
        variants = wrong if isinstance(wrong, list) else [wrong]
        for w in variants:
            hit = w(got) if callable(w) else (not close(w, problem.expected) and close(got, w))
            if hit:
                d = diagnoses.get(code)
                return Feedback(False, f"Not quite: {d.title}. {d.advice}", code, diagnoses=(code,))
    return Feedback(False, "Not correct. Use the hints, or compare with the worked solution after the drill.")


def _quick(name: str, title: str, *, weight: float, notebook: str):
    return family(name, title, kind="quick", competency="derivation", weight=weight, check=check_quick,
                  notebook=notebook)


def _title(name: str) -> str:
    return FAMILIES[name].title


def _fmt(v: float) -> str:
    return f"{v:.4g}"


_X = sp.Symbol("x")


@_quick("chain_rule", "Chain rule: derivative of a composition at a point", weight=3, notebook="01")
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
        "chain_rule", _title("chain_rule"),
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


@_quick("graph_fanout", "Partial derivatives on a graph with fan-out", weight=2, notebook="02")
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
        "graph_fanout", _title("graph_fanout"),
        f"f = {text} with x = {vals[0]:g}, y = {vals[1]:g}, z = {vals[2]:g}. Give df/dx, df/dy, df/dz.",
        "x=..., y=..., z=...", expected,
        ("Draw the graph; mark every variable that feeds more than one node.",
         "Backpropagate node by node: a node's gradient is the upstream gradient times the local derivative.",
         "A variable used twice receives the SUM of the gradients along both uses."),
        "Gradients: " + ", ".join(f"d{n} = {_fmt(v)}" for n, v in expected.items()) + ".", 150,
        {"OVERWRITE_NOT_ACCUMULATE": [overwrote]}, data={"f": text, "point": dict(zip("xyz", vals)),
                                                           "per_use": per_use})


@_quick("two_layer_dW1", "One entry of dW1 in a 2-layer network", weight=3, notebook="03")
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
        "two_layer_dW1", _title("two_layer_dW1"),
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


@_quick("jacobian", "Jacobian of a small vector function", weight=2, notebook="04")
def _jacobian(rng):
    text, F = _VEC_FUNS[int(rng.integers(len(_VEC_FUNS)))]
    x, y = sp.symbols("x y")
    J = sp.Matrix(F(x, y)).jacobian([x, y])
    pt = {x: float(rng.choice([-1.0, 0.5, 1.0, 2.0])), y: float(rng.choice([-0.5, 1.0, 1.5]))}
    Jv = np.array(J.subs(pt).evalf(), dtype=np.float64)
    return Problem(
        "jacobian", _title("jacobian"),
        f"F(x, y) = {text}. Give the Jacobian at x = {pt[x]:g}, y = {pt[y]:g}.",
        "a 2x2 matrix [[dF1/dx, dF1/dy], [dF2/dx, dF2/dy]]", Jv,
        ("Rows are outputs, columns are inputs: J[i, j] = dF_i / d(input_j).",
         "Differentiate each component with respect to x, then y.",
         f"Symbolically J = {sp.sstr(J.tolist())}."),
        f"J = {np.round(Jv, 4).tolist()}.", 150, {"JACOBIAN_TRANSPOSED": Jv.T},
        data={"F": text, "point": (pt[x], pt[y])})


@_quick("forward_trace", "Forward-mode (dual number) trace", weight=1, notebook="05")
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
        "forward_trace", _title("forward_trace"),
        f"f(x1, x2) = x1*x2 + sin(x1) at x1 = {a:g}, x2 = {b:g}. Run forward mode with dual numbers to get "
        f"f and df/d{name}. Answer [f, df/d{name}].", "two numbers [value, derivative]",
        np.array([out.val, out.dot]),
        (f"Seed the tangent of {name} with 1 and the other input's tangent with 0.",
         "Propagate (value, tangent) pairs: (u*v)' = u'v + uv', (sin u)' = cos(u) u'.",
         "The output's tangent is the derivative you want."),
        f"f = {_fmt(out.val)}, df/d{name} = {_fmt(out.dot)}.", 150,
        {"FORWARD_SEED_WRONG_INPUT": [np.array([out.val, wrong.dot]), np.array([out.val, dir_ones.dot])]},
        data={"x1": a, "x2": b, "wrt": wrt})


@_quick("vjp", "Vector-Jacobian product", weight=2, notebook="04")
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
        "vjp", _title("vjp"),
        f"f(x) = tanh(W x) with W = {W.tolist()}, x = {x.tolist()}. Give u^T J for u = {u.tolist()}.",
        f"{n} numbers [..]", value,
        ("J = diag(1 - tanh(Wx)^2) W has shape (2, 3).",
         "u^T J = (u * (1 - tanh(Wx)^2)) W: scale u elementwise, then multiply by W from the right.",
         f"Wx = {np.round(z, 4).tolist()}."),
        f"u^T J = {np.round(value, 4).tolist()}.", 180,
        {"TANH_DERIVATIVE": (u * (1 - np.tanh(z))) @ W, "MISSING_INNER_DERIVATIVE": u @ W},
        data={"W": W, "x": x, "u": u})


@_quick("bptt_2step", "Two-step BPTT gradient", weight=2, notebook="06")
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
        "bptt_2step", _title("bptt_2step"),
        f"h_t = tanh(w h_(t-1) + u x_t) with h0 = {h0:g}, w = {w:g}, u = {u:g}, x1 = {x1:g}, x2 = {x2:g}; the loss is "
        f"L = h2. Compute dL/d{wrt} (through both steps).", "a number (4 significant digits)", value,
        ("Unroll: h1 = tanh(w h0 + u x1), h2 = tanh(w h1 + u x2); the same w and u are used at both steps.",
         f"dL/d{wrt} = (1 - h2^2) * ({local2} + w * dh1/d{wrt}): the step-2 term plus the term carried back "
         f"through h1.",
         f"dh1/d{wrt} = (1 - h1^2) * {local1}; h1 = {_fmt(h1)}, h2 = {_fmt(h2)}."),
        f"dL/d{wrt} = {_fmt(value)}.", 180,
        {"BPTT_NO_CARRY": last_only, "TANH_DERIVATIVE": (1 - h2) * (value / d2), "SIGN_FLIP": -value},
        data={"w": w, "u": u, "x1": x1, "x2": x2, "h0": h0, "wrt": wrt})


@_quick("batchnorm3", "Batchnorm gradient for a batch of 3", weight=2, notebook="07")
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
        "batchnorm3", _title("batchnorm3"),
        f"Batchnorm (train mode, biased variance, eps = 1e-5) of one feature over the batch x = {x[:, 0].tolist()}, "
        f"gamma = {gamma[0]:g}, beta = 0. Upstream gradient dout = {dout[:, 0].tolist()}. Give dx.",
        "three numbers [dx1, dx2, dx3]", dx,
        ("Start with dxhat = gamma * dout.",
         "dx = (1/std) * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).",
         f"Here xhat = {np.round(xhat[:, 0], 4).tolist()}, 1/std = {_fmt(float(inv_std[0]))}."),
        f"dx = {np.round(dx, 4).tolist()}; note it sums to 0.", 240,
        {"BN_MISSING_MEAN_TERM": no_mean, "BN_MISSING_VAR_TERM": no_var, "BN_GAMMA_FORGOTTEN": no_gamma},
        data={"x": x[:, 0], "gamma": float(gamma[0]), "dout": dout[:, 0]})


@_quick("vanishing", "Vanishing/exploding gradient estimate", weight=3, notebook="08")
def _vanishing(rng):
    kind = str(rng.choice(["sigmoid", "scale"]))
    n = int(rng.integers(4, 31))
    if kind == "sigmoid":
        # "shrinks by a factor F" and "is multiplied by 1/F" are the same statement: both forms are accepted.
        value = 4.0 ** n
        accept = (0.25 ** n,)
        prompt = (f"A chain of {n} sigmoid layers with unit weights: backprop multiplies the gradient by one sigmoid "
                  f"derivative per layer. Even in the best case, by at least what factor does the gradient shrink "
                  f"from the output to the input? (Either form is accepted: the shrink factor, e.g. 256 for "
                  f"'256 times smaller', or the multiplier, e.g. 1/256.)")
        mistakes = {"SIGMOID_DERIVATIVE": [2.0 ** n, 0.5 ** n]}
        sol = (f"sigmoid' <= 0.25, so the gradient is multiplied by at most 0.25^{n} = {0.25 ** n:.3e}: it shrinks "
               f"by a factor of at least 4^{n} = {value:.3e}.")
        hints = ("Backprop multiplies one local derivative per layer.",
                 "The sigmoid's derivative s(1-s) peaks at x = 0 with value 0.25.",
                 "Raise the per-layer factor to the number of layers.")
        factor = None
    else:
        s = float(rng.choice([0.5, 0.9, 1.1, 1.5]))
        value = s ** n
        accept = ()
        prompt = (f"A linear chain of {n} layers, each multiplying the gradient by {s:g}. The gradient at the input "
                  f"is the gradient at the output times what factor?")
        mistakes = {"CHAIN_RULE_ADDED": n * s}
        sol = f"The factors multiply: {s:g}^{n} = {value:.3e}."
        hints = ("Backprop multiplies one local derivative per layer.",
                 "Along one path the chain rule multiplies; it never adds the per-layer factors.",
                 "Raise the per-layer factor to the number of layers.")
        factor = s
    return Problem(
        "vanishing", _title("vanishing"), prompt, "a number (e.g. 3.9e-3, or arithmetic such as 0.25**4)", value,
        hints, sol, 90, mistakes, accept=accept, data={"kind": kind, "n": n, "factor": factor})


@_quick("attention_memory", "Memory of the attention score matrix", weight=2, notebook="10")
def _attention_memory(rng):
    B = int(rng.choice([1, 2, 4, 8, 16]))
    h = int(rng.choice([8, 12, 16, 32]))
    T = int(rng.choice([2048, 4096, 8192, 16384, 32768]))
    bpv, dtype = [(2, "bfloat16"), (2, "float16"), (4, "float32")][int(rng.integers(3))]
    value = ref_attn.attention_score_memory(B, h, T, bpv) / 2 ** 30
    return Problem(
        "attention_memory", _title("attention_memory"),
        f"Self-attention with batch B = {B}, h = {h} heads and sequence length T = {T}, scores stored in {dtype} "
        f"({bpv} bytes per value). How many GiB (2^30 bytes) does ONE score array S (all heads, all sequences) take?",
        "a number in GiB (arithmetic such as 4*32*8192**2*2/2**30 is fine)", value,
        ("S has one value per (sequence, head, query, key).",
         "That is B * h * T * T values; multiply by the bytes per value.",
         f"Divide the bytes by 2^30 = {2 ** 30}."),
        f"B * h * T^2 * {bpv} bytes = {B * h * T * T * bpv} bytes = {_fmt(value)} GiB; doubling T would multiply it "
        f"by 4.", 120,
        {"ATTN_QUADRATIC_COST": B * h * T * bpv / 2 ** 30},
        data={"B": B, "h": h, "T": T, "bytes_per_value": bpv})
