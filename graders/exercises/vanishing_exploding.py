"""Checks of notebook 08 (vanishing and exploding gradients): the notebook imports this module alone.

- :func:`check_sigmoid_layer`: the sigmoid forward/backward pair (graders.layers' SIGMOID cases) plus a sub-check
  on large inputs, |x| up to 1e3, where np.exp overflows (a sigmoid that returns NaN there is SIGMOID_UNSTABLE);
- :func:`check_residual_block`: the residual block pair (graders.layers' RESIDUAL), a batch of one included;
- :func:`check_init`: He and Xavier initialization (graders.network.initialization.check_init);
- :func:`check_sigmoid_slope`: sigmoid'(x) as a SymPy expression, where it peaks and its maximum 1/4;
- :func:`check_depth_estimates`: the interview arithmetic 0.25**4, 1.5**100 and how many sigmoid layers
  shrink a gradient below 1e-6;
- :func:`check_mlp_loss_and_grads`: loss and gradients of a deep MLP (any depth, sigmoid/tanh/relu),
  compared with ``reference_impl.network.mlp_loss_and_grads``;
- :func:`check_layer_grad_norms`: the Frobenius norm of dL/dW_l for every layer l;
- :func:`check_dead_fraction`: the fraction of dead ReLU units per hidden layer;
- :func:`check_clip_grad_norm`: clipping by the global norm, compared with ``reference_impl.rnn.clip_grad_norm``;
- :func:`check_concepts`: the multiple-choice questions (graders/question_bank/vanishing_exploding.py, hashed answers).

Expected values are computed here from reference_impl in private helpers, so no answer appears in the notebook
or among this module's public names. Every code check watches its inputs (the course-wide sub-check "inputs left
unchanged", 25 %, INPUT_MUTATED), the same rule as notebook 06. The visible test (``thorough=False``) has a case
of every kind the hidden test tries (large inputs, a batch of one, 10 or more layers, huge scores, huge
gradients, a single tensor, ...), and a cell whose output is one array has a sub-check per kind of case.

Analytic, not numeric: one case of the deep MLP adds 1e9 to one class's bias of the last layer, so the loss is
about 1e9 while the gradients are of order 1: centred differences of the loss lose them to rounding at every
step size from 1e-2 to 1e-8 (NUMERIC_NOT_ANALYTIC), the backward pass is exact. Complex-step differences
(Im L(p + i h e_k) / h) have no cancellation and survive that case, so a last case, run only when everything
else passed, has about 100,000 parameters and MLP_BACKSTOP seconds: one backward pass takes about a
millisecond, one loss evaluation per parameter minutes (NUMERIC_NOT_ANALYTIC).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from dataclasses import replace as _replace

from graders import concepts as _concepts
from graders import diagnoses as _diagnoses
from graders import typed as _typed
from graders.batchnorm import check_pair as _check_pair
from graders.batchnorm import grade_pair_case as _grade_pair_case
from graders.batchnorm import own_forward_vjps
from graders.core import (GradingError, brief, real_number, Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          close, describe, require_callable, unpack)
from graders.core import MUTATION_CHECK as _MUTATION_CHECK
from graders.layers import _RESIDUAL
from graders.layers import _SIGMOID
from graders.layers import Case as _Case
from graders.network.initialization import check_init as _network_check_init
from reference_impl import network as _ref_net
from reference_impl import rnn as _ref_rnn
from reference_impl import symbolic as _ref_sym
from graders.public.vanishing_exploding import QUESTIONS

__all__ = ["check_sigmoid_layer", "check_residual_block", "check_init", "check_sigmoid_slope", "check_depth_estimates",
           "check_mlp_loss_and_grads", "check_layer_grad_norms", "check_dead_fraction", "check_clip_grad_norm",
           "check_concepts", "QUESTIONS", "DEPTH_KEYS"]


def _rel_close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


# ============================================================================================ the layer pairs


def _elementwise_cases(rng: np.random.Generator, thorough: bool) -> list[_Case]:
    """Sigmoid inputs of a few units (2 * N(0, 1)); shapes (4, 5), (3, 2, 4), a single entry (1, 1), a vector (6,)."""
    shapes = [(4, 5), (3, 2, 4), (1, 1), (6,)] + ([(2, 7), (2, 2, 3), (1,), (5, 1)] if thorough else [])
    return [_Case(f"x {s}", (2.0 * rng.standard_normal(s),), rng.standard_normal(s), (0,), None) for s in shapes]


def _large_inputs(rng: np.random.Generator, thorough: bool) -> list[_Case]:
    """Entries up to |x| = 1e3 on both sides of +-709 (where np.exp overflows), with ordinary ones among them."""
    values = [-1000.0, -750.0, -710.0, -40.0, -1.5, 0.0, 0.7, 35.0, 710.0, 800.0, 1000.0, 3.0]
    cases = [np.array(values).reshape(3, 4)]
    if thorough:
        cases.append(np.concatenate([rng.uniform(700.0, 1000.0, 4) * np.array([1, -1, 1, -1]),
                                     rng.standard_normal(4)]).reshape(2, 4))
    return [_Case(f"x {x.shape} with entries from {x.min():g} to {x.max():g}", (x,), rng.standard_normal(x.shape),
                  (0,), None) for x in cases]


_SIGMOID_08 = _replace(_SIGMOID, make_cases=_elementwise_cases)
_LARGE = "large inputs (|x| up to 1e3)"


def check_sigmoid_layer(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``sigmoid_forward(x) -> (out, cache)`` and ``sigmoid_backward(dout, cache) -> dx`` (any shape).

    Sub-checks (weight 1 each): forward output and backward dx on inputs of a few units (shapes (4, 5), (3, 2, 4),
    (1, 1), (6,)); "large inputs (|x| up to 1e3)": forward and backward on entries of +-710 ... +-1000, where
    np.exp overflows, must be finite and right (0 and 1 and a zero slope there: SIGMOID_UNSTABLE otherwise; an
    overflow warning of a formula that still returns the right values is only noted); inputs left unchanged
    (x, and dout and the cache in the backward). The backward receives the student's own cache.
    """
    require_callable(forward, "sigmoid_forward", 1)
    require_callable(backward, "sigmoid_backward", 2)
    report = Report("sigmoid forward/backward", points, seed)
    for name in ("forward output", "backward dx", _LARGE):
        report.declare(name)
    report.watch_inputs()
    rng = np.random.default_rng(seed)
    cases = [(c, False) for c in _elementwise_cases(rng, thorough)] + [(c, True) for c in _large_inputs(rng, thorough)]
    for case, large in cases:
        ref_out, ref_cache = _SIGMOID.ref_forward(*case.args)
        ref_dx = _SIGMOID.ref_backward(case.dout, ref_cache)
        ok = _grade_pair_case(
            report, where=f"case {case.label}", forward=forward, backward=backward, fwd_args=case.args,
            dout=case.dout, ref_out=ref_out, ref_grads=(ref_dx,), grad_names=("dx",), fwd_label="sigmoid_forward",
            bwd_label="sigmoid_backward", fwd_check=_LARGE if large else "forward output",
            grad_subs={"dx": _LARGE} if large else None, fwd_mistakes=_SIGMOID.forward_mistakes(case),
            bwd_mistakes=_SIGMOID.backward_mistakes(case, (ref_dx,)),
            own_vjps=None if large else (lambda case=case: own_forward_vjps(forward, case.args, case.wrt, case.dout)))
        if not ok:
            break
    large = report.checks[_LARGE]
    if not large.passed and any("non-finite" in m for m in large.messages):
        large.messages[-1] += describe(_diagnoses.get("SIGMOID_UNSTABLE"))
    return report.finish()


def _residual_cases(rng: np.random.Generator, thorough: bool) -> list[_Case]:
    """Shapes (N, D, H): ordinary, a batch of one, D = H, a wider hidden layer; no hidden pre-activation within 0.05
    of the ReLU kink (finite differences stay away from it)."""
    shapes = [(4, 3, 5), (1, 2, 3), (3, 4, 4)] + ([(6, 5, 4), (1, 3, 3), (2, 2, 6)] if thorough else [])
    cases = []
    for N, D, H in shapes:
        for _ in range(100):
            x, W1, b1 = rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal(H)
            if np.min(np.abs(x @ W1 + b1)) > 0.05:
                break
        W2, b2 = rng.standard_normal((H, D)), rng.standard_normal(D)
        cases.append(_Case(f"x {x.shape}, hidden {H}", (x, W1, b1, W2, b2), rng.standard_normal((N, D)),
                           (0, 1, 2, 3, 4), N))
    return cases


_RESIDUAL_08 = _replace(_RESIDUAL, make_cases=_residual_cases)


def check_residual_block(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``residual_forward(x, W1, b1, W2, b2) -> (x + relu(x @ W1 + b1) @ W2 + b2, cache)`` and
    ``residual_backward(dout, cache) -> (dx, dW1, db1, dW2, db2)``. Sub-checks: forward output, one per gradient
    (a dx without the identity term is RESIDUAL_NO_IDENTITY), inputs left unchanged."""
    return _check_pair(_RESIDUAL_08, forward, backward, seed=seed, points=points, thorough=thorough)


def check_init(fn, scheme: str, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``init_params(layer_sizes, rng) -> params`` for ``scheme`` "he" or "xavier": keys and shapes, zero
    biases, the weights' distribution, and that ``rng`` is the only source of randomness
    (graders.network.initialization.check_init)."""
    return _network_check_init(fn, scheme, seed=seed, points=points, thorough=thorough)


# ============================================================================================ sigmoid slope

_X = sp.Symbol("x", real=True)


def check_sigmoid_slope(dsigma, x_star, max_slope, *, seed: int = 0, points: float | None = None,
                        thorough: bool = False):
    """Grade sigmoid'(x) and its maximum.

    ``dsigma``: a SymPy expression in the symbol ``x`` (or a string such as "exp(-x)/(1+exp(-x))**2") equal to
    d/dx 1/(1+exp(-x)); ``x_star``: the x where it is largest (a number); ``max_slope``: the largest value
    (a number, exact 1/4 or a float). Three sub-checks. ``thorough`` compares dsigma at more points.
    """
    rep = Report("sigmoid slope and its maximum", points, seed)
    ref_x, ref_max = _ref_sym.activation_derivative_max("sigmoid")
    want = sp.diff(1 / (1 + sp.exp(-_X)), _X)
    rep.declare("sigmoid'(x)")
    if dsigma is None:
        rep.fail("sigmoid'(x)", "dsigma is None: assign a SymPy expression in x (e.g. built from sp.exp(-x)).")
    else:
        try:
            expr = _ref_sym.parse_answer(dsigma, {"x": _X})
        except (TypeError, ValueError) as exc:
            expr = None
            rep.fail("sigmoid'(x)", f"could not read dsigma ({brief(dsigma)}): {exc}")
        if expr is not None:
            ok = _ref_sym.are_equivalent(expr, want, {"x": _X}, n_points=60 if thorough else 20,
                                        rng=np.random.default_rng(seed), domain=(-6.0, 6.0))
            if not ok:
                s = 1 / (1 + sp.exp(-_X))
                hints = [(s * (1 + s), "the factor is (1 - sigmoid(x)), not (1 + sigmoid(x))."),
                         (-s * (1 - s), "the sign is flipped: sigmoid is increasing, so its slope is positive."),
                         (s ** 2, "sigma' = sigma * (1 - sigma); you have sigma**2."),
                         (sp.exp(-_X) / (1 + sp.exp(-_X)), "the chain rule gives exp(-x) / (1 + exp(-x))**2: the "
                                                           "denominator is squared."),
                         (s, "that is sigmoid itself, not its derivative.")]
                hint = next((h for w, h in hints if _ref_sym.are_equivalent(expr, w, {"x": _X}, time_limit=1.0,
                                                                           rng=0, domain=(-6.0, 6.0))),
                            "differentiate 1 / (1 + exp(-x)) with sp.diff and compare.")
                rep.fail("sigmoid'(x)", f"dsigma = {brief(str(expr), 80)} is not d sigmoid / dx: {hint}")
    for name, got, want_v, what in (("where it peaks", x_star, float(ref_x), "x_star"),
                                    ("maximum slope", max_slope, float(ref_max), "max_slope")):
        rep.declare(name)
        v = _typed.number(got)
        if v is None:
            rep.fail(name, f"{what} = {brief(got)}: give a number (a Python/NumPy float or a SymPy number).")
        elif abs(v - want_v) > 1e-6:
            hint = ""
            if what == "max_slope" and abs(v - 0.5) < 1e-6:
                hint = " 0.5 is sigmoid's VALUE at 0; the slope there is sigma(0) * (1 - sigma(0))."
            elif what == "max_slope" and abs(v - 1.0) < 1e-6:
                hint = " 1 is tanh's maximal slope, not sigmoid's."
            elif what == "x_star":
                hint = " Solve d/dx sigma'(x) = 0 (sp.solve(sp.diff(dsigma, x), x))."
            rep.fail(name, f"{what} = {v:.6g} is not right.{hint}")
    return rep.finish()


# ============================================================================================ depth estimates

DEPTH_KEYS = ("sigmoid_ratio_5_layers", "growth_100_layers", "sigmoid_layers_for_1e-6")


def _depth_reference() -> dict[str, float]:
    n = 1
    while 0.25 ** n >= 1e-6:
        n += 1
    return {"sigmoid_ratio_5_layers": 0.25 ** 4, "growth_100_layers": 1.5 ** 100, "sigmoid_layers_for_1e-6": n}


def check_depth_estimates(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the three back-of-the-envelope numbers (relative tolerance 2%, the layer count exactly).

    ``answers`` maps
      "sigmoid_ratio_5_layers": upper bound of |delta_1| / |delta_5| (delta_l = dL/dz_l, the gradient at layer
          l's pre-activation) in a 5-layer sigmoid net whose weight matrices have unit gain (|W v| = |v|): four
          factors sigma' <= 1/4 (layers 4, 3, 2, 1) between them. (Not a bound on |dL/dW1| / |dL/dW5|: that
          ratio also carries |x| / |h_4|.)
      "growth_100_layers": the factor by which a gradient grows through 100 layers whose Jacobians each have
          norm 1.5;
      "sigmoid_layers_for_1e-6": the smallest number of sigmoid factors n with 0.25**n < 1e-6 (an int).
    """
    if not isinstance(answers, dict):
        got = "None (assign the dict in the cell above)" if answers is None else type(answers).__name__
        raise GradingError(f"answers: expected a dict with keys {list(DEPTH_KEYS)}, got {got}.")
    want = _depth_reference()
    rep = Report("depth estimates", points, seed)
    hints = {
        "sigmoid_ratio_5_layers": {0.25 ** 5: "from delta_5 to delta_1 the gradient passes the sigmoids of layers "
                                               "4, 3, 2, 1: four factors, not 5.",
                                   0.25 ** 3: "from delta_5 to delta_1 the gradient passes the sigmoids of layers "
                                              "4, 3, 2, 1: four factors, not 3.",
                                   0.25: "the bound multiplies: one factor 0.25 for EACH sigmoid layer.",
                                   0.5 ** 4: "0.5 is sigmoid(0); its slope is 0.25."},
        "growth_100_layers": {1.5 ** 99: "100 layers give 100 factors of 1.5.",
                              150.0: "the factors multiply (1.5**100), they do not add up.",
                              0.5 ** 100: "a factor above 1 grows, it does not shrink."},
        "sigmoid_layers_for_1e-6": {want["sigmoid_layers_for_1e-6"] - 1: "check 0.25**n at your n: it is not yet "
                                                                          "below 1e-6.",
                                    want["sigmoid_layers_for_1e-6"] + 1: "that works but is not the smallest n."},
    }
    for key in DEPTH_KEYS:
        rep.declare(key)
        if key not in answers:
            rep.fail(key, f"answers['{key}'] is missing.")
            continue
        v = _typed.number(answers[key])
        if v is None:
            rep.fail(key, f"answers['{key}'] = {brief(answers[key])}: give a number.")
            continue
        if key == "sigmoid_layers_for_1e-6":
            ok = abs(v - want[key]) < 1e-9
        else:
            ok = _rel_close(v, want[key], 0.02)
        if ok:
            continue
        hint = next((h for w, h in hints[key].items() if _rel_close(v, w, 0.02)), "")
        rep.fail(key, f"answers['{key}'] = {v:.4g} is not right." + (f" Likely mistake: {hint}" if hint else
                                                                      " Compute it with Python (e.g. 0.25 ** k)."))
    return rep.finish()


# ============================================================================================ deep MLP

_ACTS = ("sigmoid", "tanh", "relu")


_HUGE = "gradients with huge scores (loss about 1e9)"
HUGE_SCORE = 1e9
MLP_COST_SIZES = [128, 256, 256, 10]   # the cost case: 101,386 parameters, batch MLP_COST_BATCH, tanh
MLP_COST_BATCH = 32
MLP_BACKSTOP = 2.0   # seconds on the cost case: backprop takes ~1 ms there, one loss per parameter minutes


def _mlp_params(rng: np.random.Generator, sizes: list[int]) -> dict[str, np.ndarray]:
    params = _ref_net.init_params(sizes, "normal", rng, scale=0.9)
    return {n: (p + rng.normal(0, 0.3, p.shape) if n.startswith("b") else p) for n, p in params.items()}


def _mlp_cases(rng: np.random.Generator, thorough: bool):
    """(sub-check, label, params, X, y, activation). Kinds (each in the visible test): every activation on a
    small net and on a batch of one; 10 or more layers of equal width (W10 sorts before W2 as a string: a
    string-sorted loop stays shape-consistent and gets the order wrong); huge scores (HUGE_SCORE added to class
    0's bias of the last layer: the loss is about 1e9, the gradients of order 1, and centred differences of the
    loss lose them to rounding at any step size); last, a "cost" case (graded into the huge-scores sub-check):
    MLP_COST_SIZES, about 100,000 parameters, where backpropagation takes about 1 ms and any method with one
    loss evaluation per parameter (centred, forward or complex-step differences; the complex step has no
    cancellation, so the huge scores cannot catch it) needs minutes. Its flag ``cost`` is True (False elsewhere)."""
    specs = [(act, [4, 6, 5, 3], None) for act in _ACTS] + [(act, [3, 5, 5, 5, 4], 1) for act in _ACTS]
    specs += [("tanh", [4] * 11, None)]
    if thorough:
        specs += [(act, [2, 3, 4, 3, 5, 4, 2], None) for act in _ACTS] + [(act, [5, 7, 3], 1) for act in _ACTS]
        specs += [("sigmoid", [3] * 13, None), ("relu", [5] * 11, 8)]
    cases = []
    for act, sizes, N in specs:
        params = _mlp_params(rng, sizes)
        N = int(rng.integers(3, 7)) if N is None else N
        X = rng.standard_normal((N, sizes[0]))
        y = rng.integers(0, sizes[-1], N)
        cases.append((f"gradients ({act})", f"layer sizes {sizes}, {act}, batch {N}", params, X, y, act, False))
    for act, sizes in [("tanh", [3, 5, 4])] + ([("relu", [4, 6, 3])] if thorough else []):
        params = _mlp_params(rng, sizes)
        L = len(sizes) - 1
        params[f"b{L}"][0] += HUGE_SCORE
        X = rng.standard_normal((6, sizes[0]))
        y = np.array([1, 2, 0, 1, 2, 1])[:6] % sizes[-1]
        cases.append((_HUGE, f"layer sizes {sizes}, {act}, batch 6, {HUGE_SCORE:g} added to b{L}[0] (loss about "
                             f"{HUGE_SCORE:.0e})", params, X, y, act, False))
    sizes, N = MLP_COST_SIZES, MLP_COST_BATCH
    params = _ref_net.init_params(sizes, "xavier", rng)
    params = {n: (p + rng.normal(0, 0.3, p.shape) if n.startswith("b") else p) for n, p in params.items()}
    X, y = rng.standard_normal((N, sizes[0])), rng.integers(0, sizes[-1], N)
    count = sum(p.size for p in params.values())
    cases.append((_HUGE, f"layer sizes {sizes}, tanh, batch {N}: {count:,} parameters (one backward pass, not one "
                         f"pass per parameter)", params, X, y, "tanh", True))
    return cases


def _mlp_variant(params, X, y, act: str, mode: str):
    """Gradients of a common mistake: "no_act" skips the activation backward, "act_on_last" also applies the
    activation derivative to the output scores, "pre_act_cache" evaluates sigma'/tanh' at the output h
    instead of z (i.e. s(1-s) with s = sigma(h))."""
    from reference_impl import layers, losses
    fwd, bwd = _ref_net.ACTIVATIONS[act]
    L = _ref_net.num_layers(params)
    h, caches = X, []
    for l in range(1, L + 1):
        z, ac = layers.affine_forward(h, params[f"W{l}"], params[f"b{l}"])
        if l == L:
            caches.append((ac, None, z))
            break
        h, cc = fwd(z)
        caches.append((ac, cc, z))
    _, dz = losses.softmax_cross_entropy(z, y)
    grads = {}
    for l in range(L, 0, -1):
        ac, cc, zl = caches[l - 1]
        if l < L:
            if mode == "no_act":
                pass
            elif mode == "pre_act_cache" and act == "sigmoid":
                s = 1 / (1 + np.exp(-cc))
                dz = dz * s * (1 - s)
            elif mode == "pre_act_cache" and act == "tanh":
                dz = dz * (1 - np.tanh(cc) ** 2)
            else:
                dz = bwd(dz, cc)
        elif mode == "act_on_last":
            dz = bwd(dz, fwd(zl)[1])
        dz, grads[f"W{l}"], grads[f"b{l}"] = layers.affine_backward(dz, ac)
    return grads


_MLP_HINTS = {
    "no_act": "the activation's local derivative is missing: multiply the upstream gradient by sigma'(z), "
              "1 - tanh(z)**2 or (z > 0) before the affine backward of each hidden layer.",
    "act_on_last": "the last layer is affine only (its scores go straight into softmax cross-entropy); do not "
                   "apply an activation derivative there.",
    "pre_act_cache": "the derivative was evaluated at the activation's OUTPUT as if it were the input: with "
                     "h = sigma(z), sigma'(z) = h * (1 - h), not sigma(h) * (1 - sigma(h)).",
}


_STRING_SORT = ("the layers were taken in the order of their names as strings: sorted(params) puts 'W10' before "
                "'W2'. Loop over l = 1..K and use f'W{l}' (or sort by the number, int(key[1:])).")


def _string_order(L: int) -> list[int]:
    """The layer numbers 1..L in the order of their names sorted as strings (1, 10, 11, 2, ...)."""
    return sorted(range(1, L + 1), key=str)


def _string_sorted_grads(params, X, y, act: str) -> dict[str, np.ndarray]:
    """The gradients of an implementation that visits the layers in string order (W1, W10, W2, ...): the network
    it computes, with each gradient filed under its own name (all layers of one width, so the shapes fit)."""
    L = _ref_net.num_layers(params)
    order = _string_order(L)
    perm = {}
    for pos, l in enumerate(order, start=1):
        perm[f"W{pos}"], perm[f"b{pos}"] = params[f"W{l}"], params[f"b{l}"]
    try:
        _, g = _ref_net.mlp_loss_and_grads(perm, X, y, activation=act)
    except Exception:
        return {}
    out = {}
    for pos, l in enumerate(order, start=1):
        out[f"W{l}"], out[f"b{l}"] = g[f"W{pos}"], g[f"b{pos}"]
    return out


def _grads_problem(grads: Any, keys: list[str]) -> str | None:
    if not isinstance(grads, dict):
        return f"grads must be a dict {{'W1': ..., 'b1': ..., ...}}, got {type(grads).__name__} ({brief(grads)})."
    missing = [k for k in keys if k not in grads]
    if missing:
        return f"grads has no key(s) {missing} (its keys: {brief(list(grads), 80)})."
    return None


def check_mlp_loss_and_grads(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``mlp_loss_and_grads(params, X, y, activation) -> (loss, grads)``.

    params: {"W1": (d0, d1), "b1": (d1,), ..., "WL": (d_{L-1}, d_L), "bL": (d_L,)} for any L >= 2; X (N, d0);
    y (N,) int labels; activation "sigmoid" | "tanh" | "relu" applied after every layer except the last; the
    last layer's scores go into mean softmax cross-entropy. loss: float; grads: dict with the keys and shapes of
    params (float64), computed by backpropagation. Sub-checks (weight 1 each): the loss; the gradients per
    activation (cases: small nets, a batch of one, 10 or more layers); the gradients with huge scores (loss about
    1e9: finite differences of the loss are named NUMERIC_NOT_ANALYTIC there; and, run only when every other
    case passed, a cost case of MLP_COST_SIZES, about 100,000 parameters, with MLP_BACKSTOP seconds: a backward
    pass takes about 1 ms there (5 ms looping over the examples), one loss evaluation per parameter, e.g.
    complex-step differences, which are exact to rounding, needs 100,000 forward passes of a millisecond or
    more, minutes, and is named NUMERIC_NOT_ANALYTIC); inputs left unchanged. The limit is a backstop hundreds
    of times a right answer's time, so a loaded machine does not fail it, and far below any per-parameter
    method; a clock, not a count, since the loss is computed inside the learner's own function.
    """
    require_callable(fn, "mlp_loss_and_grads", 4)
    rep = Report("deep MLP loss and gradients", points, seed)
    rep.declare("loss")
    for act in _ACTS:
        rep.declare(f"gradients ({act})")
    rep.declare(_HUGE)
    rep.watch_inputs()
    label = f"{getattr(fn, '__name__', 'mlp_loss_and_grads')}()"
    near = False
    try:
        for sub, where, params, X, y, act, cost in _mlp_cases(np.random.default_rng(seed), thorough):
            if cost and not all(c.passed for n, c in rep.checks.items() if n != _MUTATION_CHECK):
                continue   # a share is lost already (or the gradients are wrong anyway): do not spend the backstop
            e_loss, e_grads = _ref_net.mlp_loss_and_grads(params, X, y, loss="softmax", activation=act)
            try:
                res = call_student(fn, params, X, y, act, label=label, notes=rep.notes, report=rep,
                                   timeout=MLP_BACKSTOP if cost else None)
                loss, grads = unpack(res, ("loss", "grads"), label)
            except StudentCodeError as exc:
                if not cost:
                    rep.fail("loss", str(exc) if isinstance(exc, StudentTimeout) else f"{where}: {exc}")
                    rep.fail(sub, str(exc) if isinstance(exc, StudentTimeout) else f"{where}: {exc}")
                    if isinstance(exc, StudentTimeout):
                        raise
                    continue
                slow = isinstance(exc, StudentTimeout) or isinstance(exc.__cause__, MemoryError) \
                    or "MemoryError" in str(exc)
                rep.fail(sub, f"{where}: " + (
                    f"did not finish in {MLP_BACKSTOP:g} s; backpropagation takes about a millisecond here."
                    + describe(_diagnoses.get("NUMERIC_NOT_ANALYTIC"))
                    + "\n      Here: one loss evaluation per parameter (finite or complex-step differences) needs "
                      f"{sum(p.size for p in params.values()):,} forward passes." if slow else str(exc)))
                continue
            v = real_number(loss)
            if v is None:
                rep.fail("loss", f"{where}: the loss must be a finite number, got {brief(loss)}."
                         + (describe(_diagnoses.get("SOFTMAX_UNSTABLE")) if sub == _HUGE else ""))
            elif not _rel_close(v, e_loss, 1e-7):
                rep.fail("loss", f"{where}: loss {v:.8g}, expected {e_loss:.8g}. Mean softmax cross-entropy of "
                                 f"the LAST layer's scores (no activation on them).")
            keys = sorted(params, key=lambda k: (int(k[1:]), k[0]))
            problem = _grads_problem(grads, keys)
            if problem:
                rep.fail(sub, f"{where}: {problem}")
                continue
            if sub != _HUGE and all(close(grads.get(k), e_grads[k], 1e-3) for k in keys):
                near = True   # right to 3 digits on an ordinary net: an approximation if only the huge case fails
            wrong = {m: _mlp_variant(params, X, y, act, m) for m in _MLP_HINTS}
            for k in keys:
                problem = array_problem(grads[k], e_grads[k])
                if problem:
                    hint = ""
                    if sub == _HUGE and not cost and "non-finite" in problem:
                        hint = (describe(_diagnoses.get("SOFTMAX_UNSTABLE"))
                                + f"\n      One class's scores are about {HUGE_SCORE:.0e} here: the setup cell's "
                                  f"softmax_cross_entropy subtracts each row's maximum; use it.")
                    if sub == _HUGE and not cost and near and problem.startswith("values differ"):
                        hint = (describe(_diagnoses.get("NUMERIC_NOT_ANALYTIC"))
                                + f"\n      Here the loss is about {HUGE_SCORE:.0e} and the gradients about 1: a "
                                  f"difference of two losses keeps their rounding error (about 1e-7) divided by the "
                                  f"step, at any step size. Backpropagation never subtracts them.")
                    for m, g in ([] if hint else wrong.items()):
                        if all(close(grads.get(q), g[q], 1e-6) for q in keys) and not close(g[k], e_grads[k], 1e-6):
                            hint = f"\n      Likely mistake: {_MLP_HINTS[m]}"
                            break
                    if not hint and isinstance(grads[k], np.ndarray) and grads[k].shape == e_grads[k].shape:
                        if not np.any(grads[k]) and np.any(e_grads[k]):
                            hint = describe(_diagnoses.get("ZERO_GRADIENT"))
                        elif close(grads[k], -e_grads[k], 1e-6):
                            hint = describe(_diagnoses.get("SIGN_FLIP"))
                        elif close(grads[k], e_grads[k] * X.shape[0], 1e-6) and X.shape[0] > 1:
                            hint = describe(_diagnoses.get("MISSING_1_OVER_N"))
                    if not hint and len(keys) >= 20:
                        sorted_as_strings = _string_sorted_grads(params, X, y, act)
                        if sorted_as_strings and all(close(grads.get(q), sorted_as_strings[q], 1e-6) for q in keys):
                            hint = f"\n      Likely mistake: {_STRING_SORT}"
                    rep.fail(sub, f"{where}: grads['{k}'] {problem}{hint}")
                    break
    except StudentTimeout:
        pass
    return rep.finish()


def _norm_cases(rng: np.random.Generator, thorough: bool):
    """(sub-check, label, params, X, y, activation). Kinds (each in the visible test): one per activation, and 10 or
    more layers (where norms listed in the order of the keys sorted as strings come out W1, W10, W2, ...)."""
    out = []
    depths = [(6, "sigmoid", 0), (5, "relu", 0), (3, "tanh", 0), (11, "tanh", 10)]
    if thorough:
        depths += [(9, "tanh", 0), (3, "sigmoid", 0), (4, "relu", 0), (12, "sigmoid", 10), (10, "relu", 10)]
    for L, act, deep in depths:
        width = int(rng.integers(4, 8))
        sizes = [int(rng.integers(3, 6))] + [width] * (L - 1) + [3]
        params = _ref_net.init_params(sizes, "xavier" if act != "relu" else "he", rng)
        N = int(rng.integers(4, 9))
        X = rng.standard_normal((N, sizes[0]))
        y = rng.integers(0, 3, N)
        sub = "norms (10 or more layers)" if deep else f"norms ({act})"
        out.append((sub, f"{L} layers of {act}, layer sizes {sizes}", params, X, y, act))
    return out


def check_layer_grad_norms(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``layer_grad_norms(params, X, y, activation) -> norms`` with norms a float64 array (L,) whose
    entry l-1 is the Frobenius norm of dL/dW_l (weights only, layer 1 first) for the network and loss of
    :func:`check_mlp_loss_and_grads`. Sub-checks: one per activation, one for 10 or more layers; inputs left
    unchanged."""
    require_callable(fn, "layer_grad_norms", 4)
    rep = Report("per-layer gradient norms", points, seed)
    for name in ("norms (sigmoid)", "norms (tanh)", "norms (relu)", "norms (10 or more layers)"):
        rep.declare(name)
    rep.watch_inputs()
    label = f"{getattr(fn, '__name__', 'layer_grad_norms')}()"
    try:
        for sub, where, params, X, y, act in _norm_cases(np.random.default_rng(seed), thorough):
            _, grads = _ref_net.mlp_loss_and_grads(params, X, y, activation=act)
            L = _ref_net.num_layers(params)
            want = np.array([np.linalg.norm(grads[f"W{l}"]) for l in range(1, L + 1)])
            try:
                got = call_student(fn, params, X, y, act, label=label, notes=rep.notes, report=rep)
            except StudentTimeout as exc:
                rep.fail(sub, str(exc))
                raise
            except StudentCodeError as exc:
                rep.fail(sub, f"{where}: {exc}")
                continue
            problem = array_problem(got, want)
            if problem:
                wrong = {
                    "the norms are in reverse order: entry 0 is layer 1 (closest to the input).": want[::-1],
                    _STRING_SORT: want[[l - 1 for l in _string_order(L)]],
                    "those are squared norms: take np.linalg.norm (the square root of the sum of squares).": want ** 2,
                    "include only the weights W_l, not the biases.":
                        np.array([np.sqrt(np.sum(grads[f"W{l}"] ** 2) + np.sum(grads[f"b{l}"] ** 2))
                                  for l in range(1, L + 1)]),
                    "that is the largest absolute entry, not the Frobenius norm.":
                        np.array([np.abs(grads[f"W{l}"]).max() for l in range(1, L + 1)]),
                }
                hint = next((h for h, w in wrong.items() if close(got, w, 1e-6) and not close(w, want, 1e-6)), "")
                if isinstance(got, list):
                    hint = " Return a NumPy array (np.array(norms)), not a list." + hint
                rep.fail(sub, f"{where}: {problem}" + (f"\n      Likely mistake: {hint}" if hint and not
                                                        hint.startswith(" Return") else hint))
    except StudentTimeout:
        pass
    return rep.finish()


# ============================================================================================ dead units


def _dead_cases(rng: np.random.Generator, thorough: bool):
    """(label, hidden). Kinds (each in the visible test): several hidden layers, a batch of one (every unit that is
    0 on the one example is dead), a batch much larger than the widths."""
    out = []
    specs = [([5, 8, 8, 6], 12), ([4, 6, 6, 6, 6], 1), ([2, 5, 3], 30)]
    if thorough:
        specs += [([3, 10, 4], 7), ([3, 7, 5, 2], 1), ([4, 6, 3], 40)]
    for sizes, N in specs:
        for _ in range(200):  # redraw until every layer has some dead and some live units, but not exactly half
            params = _ref_net.init_params(sizes, "he", rng)
            for l in range(1, len(sizes) - 1):
                b = rng.normal(0.0, 0.5, sizes[l])
                b[rng.random(sizes[l]) < 0.35] = -50.0  # these units can never fire
                params[f"b{l}"] = b
            X = rng.standard_normal((N, sizes[0]))
            hidden = _ref_net.hidden_activations(params, X, activation="relu")
            f = _dead_reference(hidden)
            if np.all((f > 0) & (f < 1) & (f != 0.5)):
                break
        out.append((f"{len(hidden)} hidden layers {[h.shape for h in hidden]}", hidden))
    return out


def _dead_reference(hidden) -> np.ndarray:  # private: the expected fractions
    return np.array([float(np.mean(np.all(h <= 0, axis=0))) for h in hidden])


def check_dead_fraction(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``dead_fraction(hidden) -> fractions``: hidden is a list of ReLU outputs, the l-th of shape
    (N, d_l); fractions is a float64 NumPy array (len(hidden),) (a list is not accepted) whose entry l is the
    fraction of the d_l units of layer l that output 0 for EVERY one of the N examples. Sub-checks: several
    examples, a batch of one; inputs left unchanged."""
    require_callable(fn, "dead_fraction", 1)
    rep = Report("fraction of dead ReLU units", points, seed)
    subs = {True: "a batch of one", False: "several examples"}
    for name in subs.values():
        rep.declare(name)
    rep.watch_inputs()
    label = f"{getattr(fn, '__name__', 'dead_fraction')}()"
    try:
        for where, hidden in _dead_cases(np.random.default_rng(seed), thorough):
            sub = subs[hidden[0].shape[0] == 1]
            want = _dead_reference(hidden)
            try:
                got = call_student(fn, hidden, label=label, notes=rep.notes, report=rep)
            except StudentTimeout as exc:
                rep.fail(sub, str(exc))
                raise
            except StudentCodeError as exc:
                rep.fail(sub, f"{where}: {exc}")
                continue
            problem = array_problem(got, want)
            if problem:
                values = got
                if isinstance(got, (list, tuple)) and all(real_number(v) is not None for v in got):
                    values = np.array(got, dtype=np.float64)
                wrong = {
                    "that is the fraction of zero ENTRIES; a unit is dead only when it is zero for every example "
                    "(np.all(h == 0, axis=0)).": np.array([float(np.mean(h <= 0)) for h in hidden]),
                    "that counts units that are zero for SOME example; a dead unit is zero for ALL examples.":
                        np.array([float(np.mean(np.any(h <= 0, axis=0))) for h in hidden]),
                    "return the fraction (divide by the layer width), not the count.":
                        np.array([float(np.sum(np.all(h <= 0, axis=0))) for h in hidden]),
                    "that is the fraction of ALIVE units.": 1.0 - want,
                    "the unit axis is axis 1 (columns); reduce over the examples, axis 0.":
                        np.array([float(np.mean(np.all(h <= 0, axis=1))) for h in hidden]),
                }
                hint = next((h for h, w in wrong.items() if close(values, w, 1e-9) and not close(w, want, 1e-9)), "")
                if not hint and values is not got and close(values, want, 1e-9):
                    hint = "the values are right, but the contract asks for a float64 NumPy array: np.array(fractions)."
                rep.fail(sub, problem + (f"\n      Likely mistake: {hint}" if hint else ""))
    except StudentTimeout:
        pass
    return rep.finish()


# ============================================================================================ clipping


def _clip_cases(rng: np.random.Generator, thorough: bool):
    """(label, grads, max_norm). Kinds (each in the visible test): exploding, small, one large and one small
    tensor, a single tensor, all zeros, and gradients of 1e160 whose squares overflow."""
    cases = [("exploding gradients (norm far above max_norm)",
              {"W1": rng.standard_normal((4, 3)) * 50, "b1": rng.standard_normal(3) * 50,
               "W2": rng.standard_normal((3, 2)) * 50}, 1.0),
             ("small gradients (norm below max_norm)", {"W1": rng.standard_normal((3, 3)) * 0.1,
                                                         "b1": rng.standard_normal(3) * 0.1}, 5.0),
             ("one large and one small tensor", {"W1": rng.standard_normal((5, 2)) * 10.0,
                                                 "W2": rng.standard_normal((2, 2)) * 0.01}, 2.0),
             ("a single tensor", {"W": rng.standard_normal((6,)) * 3}, 0.5),
             ("all-zero gradients", {"W": np.zeros((2, 3)), "b": np.zeros(3)}, 1.0),
             ("gradients of 1e160 (squaring overflows)", {"W1": rng.standard_normal((3, 2)) * 1e160,
                                                          "b1": rng.standard_normal(2) * 1e160}, 1.0)]
    if thorough:
        cases += [("exploding gradients (norm far above max_norm)",
                   {"W": rng.standard_normal((3, 3)) * 20, "b": rng.standard_normal(3) * 20}, 2.0),
                  ("a single tensor", {"W": rng.standard_normal((2, 2)) * 0.1}, 1.0),
                  ("gradients of 1e160 (squaring overflows)", {"W": rng.standard_normal(4) * 3e160,
                                                               "b": rng.standard_normal(2) * 1e-3}, 2.0)]
    return cases


def check_clip_grad_norm(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``clip_grad_norm(grads, max_norm) -> (new_grads, total_norm)`` against
    ``reference_impl.rnn.clip_grad_norm``: total_norm = sqrt(sum over all arrays of sum(g**2)) measured
    before clipping; if total_norm > max_norm every array is scaled by max_norm / (total_norm + 1e-6), else
    returned unchanged (a new dict, same keys and shapes). Sub-checks "total norm", "clipped gradients", "huge
    gradients (no overflow)" (entries of 1e160, whose squares overflow), and the course-wide "inputs left
    unchanged" (25 %, INPUT_MUTATED: the same rule as notebook 06's clip_grad_norm)."""
    require_callable(fn, "clip_grad_norm", 2)
    rep = Report("gradient clipping by the global norm", points, seed)
    rep.declare("total norm")
    rep.declare("clipped gradients")
    rep.declare("huge gradients (no overflow)")
    rep.watch_inputs()
    label = f"{getattr(fn, '__name__', 'clip_grad_norm')}()"
    try:
        for where, grads, max_norm in _clip_cases(np.random.default_rng(seed), thorough):
            huge = "1e160" in where
            norm_sub = "huge gradients (no overflow)" if huge else "total norm"
            grad_sub = norm_sub if huge else "clipped gradients"
            e_new, e_norm = _ref_rnn.clip_grad_norm(grads, max_norm)
            try:
                res = call_student(fn, grads, max_norm, label=label, notes=rep.notes, report=rep)
                new, norm = unpack(res, ("new_grads", "total_norm"), label)
            except StudentTimeout as exc:
                rep.fail(norm_sub, str(exc))
                rep.fail(grad_sub, str(exc))
                raise
            except StudentCodeError as exc:
                rep.fail(norm_sub, f"{where}: {exc}")
                rep.fail(grad_sub, f"{where}: {exc}")
                continue
            v = real_number(norm)
            if v is None:
                rep.fail(norm_sub, f"{where}: total_norm must be a finite number, got {brief(norm)}"
                         + (" (for huge gradients divide by the largest entry before squaring, then multiply "
                            "back)." if huge else "."))
            elif not _rel_close(v, e_norm, 1e-7):
                hint = ""
                if _rel_close(v, e_norm * e_norm, 1e-7):
                    hint = " That is the squared norm: take the square root."
                elif _rel_close(v, min(e_norm, max_norm), 1e-5):
                    hint = " Return the norm measured BEFORE clipping (it is what you would log)."
                rep.fail(norm_sub, f"{where}: total_norm {v:.8g}, expected {e_norm:.8g}.{hint}")
            if not isinstance(new, dict) or set(new) != set(e_new):
                rep.fail(grad_sub, f"{where}: new_grads must be a dict with keys {sorted(e_new)}, got "
                         f"{brief(new if not isinstance(new, dict) else sorted(new))}.")
                continue
            for k in e_new:
                problem = array_problem(new[k], e_new[k])
                if problem:
                    hint = ""
                    if not huge:
                        per_tensor = {q: g * (max_norm / (np.linalg.norm(g) + 1e-6))
                                      if np.linalg.norm(g) > max_norm else g for q, g in grads.items()}
                        if all(close(new.get(q), per_tensor[q], 1e-6) for q in grads):
                            hint = describe(_diagnoses.get("CLIP_PER_TENSOR"))
                        elif all(close(new.get(q), np.clip(grads[q], -max_norm, max_norm), 1e-6) for q in grads):
                            hint = ("\n      Likely mistake: that clips each ENTRY to [-max_norm, max_norm], which "
                                    "changes the gradient's direction; scale the whole gradient instead.")
                        elif all(close(new.get(q), grads[q], 1e-9) for q in grads):
                            hint = "\n      Likely mistake: the gradients were returned unscaled."
                    rep.fail(grad_sub, f"{where}: new_grads['{k}'] {problem}{hint}")
                    break
    except StudentTimeout:
        pass
    return rep.finish()


# ============================================================================================ multiple choice

# The questions live in graders/question_bank/vanishing_exploding.py (right letters stored as salted digests).


def check_concepts(answers, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the multiple-choice answers: ``answers`` maps each id in QUESTIONS to a letter "a".."d"; one
    sub-check per question (graders.concepts.check_choices)."""
    return _concepts.check_choices(answers, QUESTIONS, points=points, seed=seed, thorough=thorough)
