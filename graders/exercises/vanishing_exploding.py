"""Checks specific to notebook 08 (vanishing and exploding gradients).

Generic checks (sigmoid, residual, He/Xavier init) live in graders/layers.py and graders/network/; this
module holds what only this notebook asks:

- :func:`check_sigmoid_slope`: sigmoid'(x) as a SymPy expression, where it peaks and its maximum 1/4;
- :func:`check_depth_estimates`: the interview arithmetic 0.25**4, 1.5**100 and how many sigmoid layers
  shrink a gradient below 1e-6;
- :func:`check_mlp_loss_and_grads`: loss and gradients of a deep MLP (any depth, sigmoid/tanh/relu),
  compared with ``reference_impl.network.mlp_loss_and_grads``;
- :func:`check_layer_grad_norms`: the Frobenius norm of dL/dW_l for every layer l;
- :func:`check_dead_fraction`: the fraction of dead ReLU units per hidden layer;
- :func:`check_clip_grad_norm`: clipping by the global norm, compared with ``reference_impl.rnn.clip_grad_norm``;
- :func:`check_concepts`: the multiple-choice questions (graders/question_bank/vanishing_exploding.py, hashed answers).

Expected values are computed here from reference_impl, so no answer appears in the notebook.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import sympy as sp

from graders import concepts, diagnoses, typed
from graders.core import (GradingError, brief, real_number, Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          close, describe, require_callable, unpack)
from reference_impl import network as ref_net
from reference_impl import rnn as ref_rnn
from reference_impl import symbolic as ref_sym
from graders.public.vanishing_exploding import QUESTIONS

__all__ = ["check_sigmoid_slope", "check_depth_estimates", "check_mlp_loss_and_grads", "check_layer_grad_norms",
           "check_dead_fraction", "check_clip_grad_norm", "check_concepts", "QUESTIONS", "DEPTH_KEYS"]


def _rel_close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


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
    ref_x, ref_max = ref_sym.activation_derivative_max("sigmoid")
    want = sp.diff(1 / (1 + sp.exp(-_X)), _X)
    rep.declare("sigmoid'(x)")
    if dsigma is None:
        rep.fail("sigmoid'(x)", "dsigma is None: assign a SymPy expression in x (e.g. built from sp.exp(-x)).")
    else:
        try:
            expr = ref_sym.parse_answer(dsigma, {"x": _X})
        except (TypeError, ValueError) as exc:
            expr = None
            rep.fail("sigmoid'(x)", f"could not read dsigma ({brief(dsigma)}): {exc}")
        if expr is not None:
            ok = ref_sym.are_equivalent(expr, want, {"x": _X}, n_points=60 if thorough else 20,
                                        rng=np.random.default_rng(seed), domain=(-6.0, 6.0))
            if not ok:
                s = 1 / (1 + sp.exp(-_X))
                hints = [(s * (1 + s), "the factor is (1 - sigmoid(x)), not (1 + sigmoid(x))."),
                         (-s * (1 - s), "the sign is flipped: sigmoid is increasing, so its slope is positive."),
                         (s ** 2, "sigma' = sigma * (1 - sigma); you have sigma**2."),
                         (sp.exp(-_X) / (1 + sp.exp(-_X)), "the chain rule gives exp(-x) / (1 + exp(-x))**2: the "
                                                           "denominator is squared."),
                         (s, "that is sigmoid itself, not its derivative.")]
                hint = next((h for w, h in hints if ref_sym.are_equivalent(expr, w, {"x": _X}, time_limit=1.0,
                                                                           rng=0, domain=(-6.0, 6.0))),
                            "differentiate 1 / (1 + exp(-x)) with sp.diff and compare.")
                rep.fail("sigmoid'(x)", f"dsigma = {brief(str(expr), 80)} is not d sigmoid / dx: {hint}")
    for name, got, want_v, what in (("where it peaks", x_star, float(ref_x), "x_star"),
                                    ("maximum slope", max_slope, float(ref_max), "max_slope")):
        rep.declare(name)
        v = typed.number(got)
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
        v = typed.number(answers[key])
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


def _mlp_cases(rng: np.random.Generator, thorough: bool):
    """(label, params, X, y, activation) with varied depths and widths."""
    shapes = [[4, 6, 5, 3], [3, 5, 5, 5, 4]]
    if thorough:
        shapes += [[2, 3, 4, 3, 5, 4, 2], [5, 7, 3]]
    cases = []
    for k, sizes in enumerate(shapes):
        for act in _ACTS:
            params = ref_net.init_params(sizes, "normal", rng, scale=0.9)
            params = {n: (p + rng.normal(0, 0.3, p.shape) if n.startswith("b") else p) for n, p in params.items()}
            N = 1 if (thorough and k == 3) else int(rng.integers(3, 7))
            X = rng.standard_normal((N, sizes[0]))
            y = rng.integers(0, sizes[-1], N)
            cases.append((f"layer sizes {sizes}, {act}, batch {N}", params, X, y, act))
    return cases


def _mlp_variant(params, X, y, act: str, mode: str):
    """Gradients of a common mistake: "no_act" skips the activation backward, "act_on_last" also applies the
    activation derivative to the output scores, "pre_act_cache" evaluates sigma'/tanh' at the output h
    instead of z (i.e. s(1-s) with s = sigma(h))."""
    from reference_impl import layers, losses
    fwd, bwd = ref_net.ACTIVATIONS[act]
    L = ref_net.num_layers(params)
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
    params (float64). One sub-check for the loss and one per activation for the gradients.
    """
    require_callable(fn, "mlp_loss_and_grads", 4)
    rep = Report("deep MLP loss and gradients", points, seed)
    rep.declare("loss")
    for act in _ACTS:
        rep.declare(f"gradients ({act})")
    label = f"{getattr(fn, '__name__', 'mlp_loss_and_grads')}()"
    try:
        for where, params, X, y, act in _mlp_cases(np.random.default_rng(seed), thorough):
            sub = f"gradients ({act})"
            e_loss, e_grads = ref_net.mlp_loss_and_grads(params, X, y, loss="softmax", activation=act)
            try:
                res = call_student(fn, params, X, y, act, label=label, notes=rep.notes)
                loss, grads = unpack(res, ("loss", "grads"), label)
            except StudentTimeout as exc:
                rep.fail("loss", str(exc))
                rep.fail(sub, str(exc))
                raise
            except StudentCodeError as exc:
                rep.fail(sub, f"{where}: {exc}")
                rep.fail("loss", f"{where}: {exc}")
                continue
            v = real_number(loss)
            if v is None:
                rep.fail("loss", f"{where}: the loss must be a finite number, got {brief(loss)}.")
            elif not _rel_close(v, e_loss, 1e-7):
                rep.fail("loss", f"{where}: loss {v:.8g}, expected {e_loss:.8g}. Mean softmax cross-entropy of "
                                 f"the LAST layer's scores (no activation on them).")
            keys = sorted(params, key=lambda k: (int(k[1:]), k[0]))
            problem = _grads_problem(grads, keys)
            if problem:
                rep.fail(sub, f"{where}: {problem}")
                continue
            wrong = {m: _mlp_variant(params, X, y, act, m) for m in _MLP_HINTS}
            for k in keys:
                problem = array_problem(grads[k], e_grads[k])
                if problem:
                    hint = ""
                    for m, g in wrong.items():
                        if all(close(grads.get(q), g[q], 1e-6) for q in keys) and not close(g[k], e_grads[k], 1e-6):
                            hint = f"\n      Likely mistake: {_MLP_HINTS[m]}"
                            break
                    if not hint and isinstance(grads[k], np.ndarray) and grads[k].shape == e_grads[k].shape:
                        if not np.any(grads[k]) and np.any(e_grads[k]):
                            hint = describe(diagnoses.get("ZERO_GRADIENT"))
                        elif close(grads[k], -e_grads[k], 1e-6):
                            hint = describe(diagnoses.get("SIGN_FLIP"))
                        elif close(grads[k], e_grads[k] * X.shape[0], 1e-6) and X.shape[0] > 1:
                            hint = describe(diagnoses.get("MISSING_1_OVER_N"))
                    rep.fail(sub, f"{where}: grads['{k}'] {problem}{hint}")
                    break
    except StudentTimeout:
        pass
    return rep.finish()


def _norm_cases(rng: np.random.Generator, thorough: bool):
    out = []
    depths = [(6, "sigmoid"), (5, "relu")] + ([(9, "tanh"), (3, "sigmoid")] if thorough else [])
    for L, act in depths:
        width = int(rng.integers(4, 8))
        sizes = [int(rng.integers(3, 6))] + [width] * (L - 1) + [3]
        params = ref_net.init_params(sizes, "xavier" if act != "relu" else "he", rng)
        N = int(rng.integers(4, 9))
        X = rng.standard_normal((N, sizes[0]))
        y = rng.integers(0, 3, N)
        out.append((f"{L} layers of {act}, layer sizes {sizes}", params, X, y, act))
    return out


def check_layer_grad_norms(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``layer_grad_norms(params, X, y, activation) -> norms`` with norms a float64 array (L,) whose
    entry l-1 is the Frobenius norm of dL/dW_l (weights only, layer 1 first) for the network and loss of
    :func:`check_mlp_loss_and_grads`. One sub-check per case."""
    require_callable(fn, "layer_grad_norms", 4)
    rep = Report("per-layer gradient norms", points, seed)
    label = f"{getattr(fn, '__name__', 'layer_grad_norms')}()"
    try:
        for where, params, X, y, act in _norm_cases(np.random.default_rng(seed), thorough):
            rep.declare(where)
            _, grads = ref_net.mlp_loss_and_grads(params, X, y, activation=act)
            L = ref_net.num_layers(params)
            want = np.array([np.linalg.norm(grads[f"W{l}"]) for l in range(1, L + 1)])
            try:
                got = call_student(fn, params, X, y, act, label=label, notes=rep.notes)
            except StudentTimeout as exc:
                rep.fail(where, str(exc))
                raise
            except StudentCodeError as exc:
                rep.fail(where, str(exc))
                continue
            if isinstance(got, list):
                got = np.array(got, dtype=np.float64) if all(real_number(v) is not None for v in got) else got
            problem = array_problem(got, want)
            if problem:
                wrong = {
                    "the norms are in reverse order: entry 0 is layer 1 (closest to the input).": want[::-1],
                    "those are squared norms: take np.linalg.norm (the square root of the sum of squares).": want ** 2,
                    "include only the weights W_l, not the biases.":
                        np.array([np.sqrt(np.sum(grads[f"W{l}"] ** 2) + np.sum(grads[f"b{l}"] ** 2))
                                  for l in range(1, L + 1)]),
                    "that is the largest absolute entry, not the Frobenius norm.":
                        np.array([np.abs(grads[f"W{l}"]).max() for l in range(1, L + 1)]),
                }
                hint = next((h for h, w in wrong.items() if close(got, w, 1e-6)), "")
                rep.fail(where, problem + (f"\n      Likely mistake: {hint}" if hint else ""))
    except StudentTimeout:
        pass
    return rep.finish()


# ============================================================================================ dead units


def _dead_cases(rng: np.random.Generator, thorough: bool):
    out = []
    specs = [([5, 8, 8, 6], 12), ([3, 10, 4], 7)] + ([([4, 6, 6, 6, 6], 1), ([2, 5, 3], 30)] if thorough else [])
    for sizes, N in specs:
        for _ in range(200):  # redraw until every layer has some dead and some live units, but not exactly half
            params = ref_net.init_params(sizes, "he", rng)
            for l in range(1, len(sizes) - 1):
                b = rng.normal(0.0, 0.5, sizes[l])
                b[rng.random(sizes[l]) < 0.35] = -50.0  # these units can never fire
                params[f"b{l}"] = b
            X = rng.standard_normal((N, sizes[0]))
            hidden = ref_net.hidden_activations(params, X, activation="relu")
            f = _dead_reference(hidden)
            if np.all((f > 0) & (f < 1) & (f != 0.5)):
                break
        out.append((f"{len(hidden)} hidden layers {[h.shape for h in hidden]}", hidden))
    return out


def _dead_reference(hidden) -> np.ndarray:
    return np.array([float(np.mean(np.all(h <= 0, axis=0))) for h in hidden])


def check_dead_fraction(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``dead_fraction(hidden) -> fractions``: hidden is a list of ReLU outputs, the l-th of shape
    (N, d_l); fractions is a float64 array (len(hidden),) whose entry l is the fraction of the d_l units of
    layer l that output 0 for EVERY one of the N examples. One sub-check per case."""
    require_callable(fn, "dead_fraction", 1)
    rep = Report("fraction of dead ReLU units", points, seed)
    label = f"{getattr(fn, '__name__', 'dead_fraction')}()"
    try:
        for where, hidden in _dead_cases(np.random.default_rng(seed), thorough):
            rep.declare(where)
            want = _dead_reference(hidden)
            try:
                got = call_student(fn, hidden, label=label, notes=rep.notes)
            except StudentTimeout as exc:
                rep.fail(where, str(exc))
                raise
            except StudentCodeError as exc:
                rep.fail(where, str(exc))
                continue
            if isinstance(got, list) and all(real_number(v) is not None for v in got):
                got = np.array(got, dtype=np.float64)
            problem = array_problem(got, want)
            if problem:
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
                hint = next((h for h, w in wrong.items() if close(got, w, 1e-9) and not close(w, want, 1e-9)), "")
                rep.fail(where, problem + (f"\n      Likely mistake: {hint}" if hint else ""))
    except StudentTimeout:
        pass
    return rep.finish()


# ============================================================================================ clipping


def _clip_cases(rng: np.random.Generator, thorough: bool):
    cases = [("exploding gradients (norm far above max_norm)",
              {"W1": rng.standard_normal((4, 3)) * 50, "b1": rng.standard_normal(3) * 50,
               "W2": rng.standard_normal((3, 2)) * 50}, 1.0),
             ("small gradients (norm below max_norm)", {"W1": rng.standard_normal((3, 3)) * 0.1,
                                                         "b1": rng.standard_normal(3) * 0.1}, 5.0),
             ("one large and one small tensor", {"W1": rng.standard_normal((5, 2)) * 10.0,
                                                 "W2": rng.standard_normal((2, 2)) * 0.01}, 2.0)]
    if thorough:
        cases += [("a single tensor", {"W": rng.standard_normal((6,)) * 3}, 0.5),
                  ("gradients of 1e160 (squaring overflows)", {"W1": rng.standard_normal((3, 2)) * 1e160,
                                                               "b1": rng.standard_normal(2) * 1e160}, 1.0)]
    return cases


def check_clip_grad_norm(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``clip_grad_norm(grads, max_norm) -> (new_grads, total_norm)`` against
    ``reference_impl.rnn.clip_grad_norm``: total_norm = sqrt(sum over all arrays of sum(g**2)) measured
    before clipping; if total_norm > max_norm every array is scaled by max_norm / (total_norm + 1e-6), else
    returned unchanged (a new dict, same keys and shapes). Sub-checks "total norm" and "clipped gradients";
    ``thorough`` adds a single-tensor case and a sub-check "huge gradients (no overflow)" with entries of 1e160."""
    require_callable(fn, "clip_grad_norm", 2)
    rep = Report("gradient clipping by the global norm", points, seed)
    rep.declare("total norm")
    rep.declare("clipped gradients")
    label = f"{getattr(fn, '__name__', 'clip_grad_norm')}()"
    try:
        for where, grads, max_norm in _clip_cases(np.random.default_rng(seed), thorough):
            huge = "1e160" in where
            norm_sub = "huge gradients (no overflow)" if huge else "total norm"
            grad_sub = norm_sub if huge else "clipped gradients"
            rep.declare(norm_sub)
            e_new, e_norm = ref_rnn.clip_grad_norm(grads, max_norm)
            try:
                res = call_student(fn, grads, max_norm, label=label, notes=rep.notes)
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
                if _rel_close(v, e_norm ** 2, 1e-7):
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
                            hint = describe(diagnoses.get("CLIP_PER_TENSOR"))
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
    return concepts.check_choices(answers, QUESTIONS, points=points, seed=seed, thorough=thorough)
