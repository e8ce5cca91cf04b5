"""Drill families of notebook 13 (backprop at tensor level): unbroadcast, embedding backward, dropout.

Quick problems (answers computed with reference_impl when drawn, every known wrong answer computed the same way):

- ``unbroadcast``: the gradient of an operand that was broadcast (a bias, a size-1 axis, a scalar);
- ``embedding_grad``: dW of an embedding lookup with a repeated id (the scatter-add);
- ``dropout_grad``: the forward output and the backward of inverted dropout for a given mask.

Live coding (graded by the notebook's own checks): ``code_unbroadcast``, ``code_dropout`` and ``code_tied_lm``
(a tied toy language model: cross-entropy, tanh, embedding scatter-add and the two uses of the tied matrix).
"""

from __future__ import annotations

import numpy as np

from graders.drill.live_coding import LiveSpec, register
from graders.drill.quick import _fmt, _quick, _title
from graders.drill.registry import Problem
from graders.exercises import tensor_backprop as g_tb
from reference_impl import broadcasting as ref_bc
from reference_impl import embedding as ref_emb

_UB_CASES = (((3, 3), (3,)), ((3, 3), (3, 1)), ((2, 3), (1, 3)), ((2, 2, 2), (2, 1)), ((2, 3), ()),
             ((3, 2), (2,)))


def _ub_wrong(G: np.ndarray, s: tuple, expected: np.ndarray) -> dict:
    """Flattened wrong answers with as many numbers as the right one, keyed by diagnosis."""
    out: dict = {}
    count = G.size / max(1, int(np.prod(s)))
    out["UNBROADCAST_MEAN"] = (expected / count).ravel()
    if G.shape == (3, 3) and s == (3,):
        out["UNBROADCAST_LEADING_AXES"] = G.sum(axis=1)            # the trailing axis summed instead
    if G.shape == (3, 3) and s == (3, 1):
        out["UNBROADCAST_SIZE1_AXES"] = G.sum(axis=0)              # the leading axis summed instead
    if G.ndim == 3 and s == (2, 1):
        out["UNBROADCAST_LEADING_AXES"] = G.sum(axis=(0, 1))       # shapes aligned on the left
    return {k: v for k, v in out.items() if not np.allclose(v, expected.ravel())}


@_quick("unbroadcast", "Gradient of a broadcast operand (unbroadcast)", weight=2, notebook="13")
def _unbroadcast(rng):
    S, s = _UB_CASES[int(rng.integers(len(_UB_CASES)))]
    G = rng.integers(-3, 4, size=S).astype(np.float64)
    while np.all(G.sum(axis=0) == 0) or np.count_nonzero(G) < G.size // 2:
        G = rng.integers(-3, 4, size=S).astype(np.float64)
    expected = ref_bc.unbroadcast(G, s)
    what = {(3,): "a bias b", (3, 1): "a column c", (1, 3): "a row r", (2, 1): "a tensor t", (): "a scalar a",
            (2,): "a bias b"}[s]
    n = expected.size
    return Problem(
        "unbroadcast", _title("unbroadcast"),
        f"out = x + {what.split()[-1]} where x has shape {S} and {what} has shape {s}, so NumPy broadcasts it to "
        f"{S}. The upstream gradient is dL/dout = {G.tolist()}. Give dL/d{what.split()[-1]} (shape {s}).",
        f"{n} number{'s' if n > 1 else ''}: the gradient's entries row by row (shape {s})", expected.ravel(),
        ("A broadcast value is reused: its gradient is the SUM of the upstream entries that used it.",
         "Align the shapes on the right: sum the leading axes that broadcasting added, and every axis where the "
         "operand has size 1.",
         f"Here: sum over axes {_ub_axes(S, s)} of dL/dout (keeping the size-1 axes)."),
        f"dL/d{what.split()[-1]} = {expected.tolist()} (shape {expected.shape}).", 120,
        _ub_wrong(G, s, expected), data={"G": G, "shape": s})


def _ub_axes(S: tuple, s: tuple) -> tuple:
    lead = len(S) - len(s)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(s) if d == 1 and S[lead + i] != 1)


@_quick("embedding_grad", "Embedding backward with a repeated id", weight=2, notebook="13")
def _embedding(rng):
    V, D = 4, 2
    ids = [int(v) for v in rng.permutation(V)[:3]]
    rep = ids[int(rng.integers(3))]
    ids.insert(int(rng.integers(0, 4)), rep)
    idx = np.array(ids, dtype=np.int64)
    dout = rng.integers(-3, 4, size=(4, D)).astype(np.float64)
    for p in np.flatnonzero(idx == rep):  # every use of the repeated id carries a nonzero gradient
        while not np.any(dout[p]):
            dout[p] = rng.integers(-3, 4, size=D)
    _, cache = ref_emb.embedding_forward(np.zeros((V, D)), idx)
    dW, lost = ref_emb.embedding_backward_lost_updates(dout, cache)
    return Problem(
        "embedding_grad", _title("embedding_grad"),
        f"An embedding table W of shape ({V}, {D}) is looked up with idx = {ids}: out = W[idx] (shape (4, {D})). "
        f"The upstream gradient is dL/dout = {dout.tolist()}. Give dL/dW.",
        f"a {V}x{D} matrix [[..], [..], [..], [..]] (row v is dL/dW[v])", dW,
        ("The lookup copies rows: each position p sends its gradient dout[p] back to row idx[p].",
         "A row looked up several times collects the SUM of those positions' gradients; an unused row gets 0.",
         f"Row {rep} is used at positions {np.flatnonzero(idx == rep).tolist()}."),
        f"dL/dW = {dW.tolist()}: row {rep} is the sum of two upstream rows (np.add.at, not dW[idx] += dout).", 150,
        {"EMBEDDING_LOST_UPDATES": lost}, data={"idx": idx, "dout": dout, "V": V})


@_quick("dropout_grad", "Inverted dropout: forward and backward for a given mask", weight=2, notebook="13")
def _dropout(rng):
    p = float(rng.choice([0.5, 0.25, 0.2]))
    x = np.round(rng.uniform(-2, 2, 5) * 2) / 2
    x[x == 0] = 1.5
    keep = rng.integers(0, 2, 5).astype(np.float64)
    keep[int(rng.integers(5))], keep[int(rng.integers(5))] = 1.0, 0.0
    if keep.sum() == 0:
        keep[0] = 1.0
    dout = rng.integers(-3, 4, 5).astype(np.float64)
    dout[dout == 0] = 2.0
    scale = 1.0 / (1.0 - p)
    expected = np.array([x * keep * scale, dout * keep * scale])
    mistakes = {"DROPOUT_SCALE": [np.array([x * keep, dout * keep]), np.array([x * keep * scale, dout * keep])],
                "DROPOUT_KEEP_PROB_SWAPPED": np.array([x * (1 - keep) * scale, dout * (1 - keep) * scale]),
                "DROPOUT_NOT_INVERTED": np.array([x * keep * (1 - p), dout * keep * (1 - p)])}
    return Problem(
        "dropout_grad", _title("dropout_grad"),
        f"Inverted dropout in training with p_drop = {p:g}. For x = {x.tolist()} the drawn keep mask is "
        f"{keep.astype(int).tolist()} (1 = kept). Give the layer's output and, for the upstream gradient "
        f"dout = {dout.tolist()}, dL/dx.",
        "a 2x5 matrix [[out...], [dx...]]", expected,
        ("Inverted dropout keeps E[out] = x: kept units are scaled up during training.",
         f"out = x * mask / (1 - p) and dx = dout * mask / (1 - p); here 1 / (1 - p) = {_fmt(scale)}.",
         "The backward uses the SAME mask as the forward; dropped units get 0 gradient."),
        f"out = {expected[0].tolist()}, dx = {expected[1].tolist()}.", 120, mistakes,
        data={"x": x, "keep": keep, "dout": dout, "p": p})


# ============================================================================================ live coding

register(LiveSpec(
    "code_unbroadcast", "Live coding: unbroadcast (the gradient of a broadcast operand)",
    (("unbroadcast(grad, shape)",
      "grad: float64 array of the broadcast result's shape S (any rank). shape: the operand's shape, a tuple that "
      "broadcasts to S (fewer axes allowed, () for a scalar). Return grad summed back to exactly that shape "
      "(float64): sum the leading axes broadcasting added, and every axis where shape has a 1 and S does not "
      "(keeping it)."),),
    g_tb.check_unbroadcast, 15, "13", 2,
    ("A value reused along an axis receives the sum of the gradients along it.",
     "Shapes align on the right: the first grad.ndim - len(shape) axes are new; sum them away first.",
     "Then sum, with keepdims=True, every axis i where shape[i] == 1 but the summed array's size is larger."),
    "lead = grad.ndim - len(shape); g = grad.sum(axis=tuple(range(lead))); axes = tuple(i for i, d in "
    "enumerate(shape) if d == 1 and g.shape[i] != 1); return g.sum(axis=axes, keepdims=True)."))

register(LiveSpec(
    "code_dropout", "Live coding: inverted dropout forward and backward",
    (("dropout_forward(x, p_drop, rng, train=True)",
      "x float64 of any shape, p_drop in [0, 1), rng a numpy Generator. Train: draw the keep mask with ONE call "
      "rng.random(x.shape) >= p_drop, return (x * mask / (1 - p_drop), cache). Eval (train=False): return "
      "(a copy of x, a cache) and draw nothing."),
     ("dropout_backward(dout, cache)", "Return dx: dout times the forward's mask and scale (dout itself in eval "
                                       "mode).")),
    g_tb.check_dropout, 15, "13", 2,
    ("Inverted dropout scales the kept units by 1 / (1 - p_drop) in training, so test time is the identity.",
     "Cache the scaled mask; None (or a flag) for eval mode.",
     "Backward: dout * cached mask; in eval mode return a copy of dout."),
    "forward: if not train: return x.copy(), None; mask = (rng.random(x.shape) >= p_drop) / (1 - p_drop); "
    "return x * mask, mask. backward: return dout.copy() if cache is None else dout * cache."))

register(LiveSpec(
    "code_tied_lm", "Live coding: a tied toy language model, loss and gradients",
    (("tied_lm_loss_and_grads(E, W, b, idx, y)",
      "E (V, D) is both the input embedding and the output projection: e = E[idx] (N, D), h = tanh(e @ W + b) "
      "with W (D, D), b (D,), logits = h @ E.T (N, V), loss = mean softmax cross-entropy against y (N,) int ids "
      "(stable for any logits). Return (loss, dE, dW, db); dE collects BOTH uses of E; idx may repeat ids."),),
    g_tb.check_tied_lm, 25, "13", 1,
    ("Forward step by step, then walk back: dlogits = (softmax - onehot) / N.",
     "logits = h @ E.T gives dE (projection) = dlogits.T @ h and dh = dlogits @ E; through tanh dz = dh * (1 - h**2).",
     "dW = e.T @ dz, db = dz.sum(0), de = dz @ W.T; add np.add.at(zeros like E, idx, de) to dE (a repeated id "
     "adds twice)."),
    "e = E[idx]; h = tanh(e @ W + b); logits = h @ E.T; p = softmax(logits); dlogits = (p - onehot(y)) / N; "
    "dE = dlogits.T @ h; dz = (dlogits @ E) * (1 - h**2); dW = e.T @ dz; db = dz.sum(0); "
    "np.add.at(dE, idx, dz @ W.T)."))
