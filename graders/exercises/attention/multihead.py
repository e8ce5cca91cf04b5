"""Heads (split_heads / merge_heads) and multi-head self-attention forward and backward of notebook 10,
compared with reference_impl.attention. Multi-head cases by kind: no mask, a causal mask, a padding mask, one
head, and values with a large common part (a constant input feature whose value projection is 1e6: analytic,
not numeric). Known wrong answers (heads by a reshape alone, the scale, a missing or overwritten path of X's
fan-out, transposed weight gradients) are built here and named.
"""

from __future__ import annotations

import math

import numpy as np

from graders.core import Report, StudentCodeError, array_problem, require_callable, unpack
from graders.exercises.attention.grading import (OFFSET, _call, _grade, _grade_analytic, _run_cases, _softmax, _Stop,
                                                 _sw)
from graders.exercises.attention.scaled_dot_product import _ANALYTIC
from reference_impl import attention as _ref


# =============================================================================================== heads


def _heads_cases(rng, thorough):
    specs = [((2, 3, 6), 2), ((1, 4, 8), 4)] + ([((3, 5, 6), 3), ((2, 2, 4), 1)] if thorough else [])
    return [(rng.standard_normal(shape), h) for shape, h in specs]


def check_split_merge_heads(split_heads, merge_heads, *, seed: int = 0, points: float | None = None,
                            thorough: bool = False):
    """Grade ``split_heads(X, num_heads)`` ((B, T, D) -> (B, h, T, D // h): reshape to (B, T, h, d_head), then
    swap the T and h axes) and ``merge_heads(Xh)`` (its inverse). One sub-check each plus inputs left
    unchanged; a reshape without the transpose is named ATTN_HEADS_RESHAPE."""
    require_callable(split_heads, "split_heads", 2)
    require_callable(merge_heads, "merge_heads", 1)
    rep = Report("split and merge heads", points, seed)
    rep.declare("split_heads")
    rep.declare("merge_heads")
    rep.watch_inputs()
    rng = np.random.default_rng(seed)
    examined: set[str] = set()
    try:
        for X, h in _heads_cases(rng, thorough):
            B, T, D = X.shape
            where = f"X {X.shape}, num_heads={h}"
            want = _ref.split_heads(X, h)
            examined.add("split_heads")
            ok, got = _call(rep, split_heads, X, h, label="split_heads", fail=("split_heads",), where=where)
            if ok:
                _grade(rep, "split_heads", where, "split_heads(X)", got, want,
                       {"ATTN_HEADS_RESHAPE": [X.reshape(B, h, T, D // h)]}, generic=False)
            Xh = rng.standard_normal((B, h, T, D // h))
            want = _ref.merge_heads(Xh)
            examined.add("merge_heads")
            ok, got = _call(rep, merge_heads, Xh, label="merge_heads", fail=("merge_heads",),
                            where=f"Xh {Xh.shape}")
            if ok:
                _grade(rep, "merge_heads", f"Xh {Xh.shape}", "merge_heads(Xh)", got, want,
                       {"ATTN_HEADS_RESHAPE": [Xh.reshape(B, T, D)]}, generic=False)
    except _Stop:
        for name in ("split_heads", "merge_heads"):
            if name not in examined and rep.passed(name):
                rep.fail(name, "not checked: your code timed out on an earlier case (see above).")
    return rep.finish()


# =============================================================================================== multi-head attention


def _mha_variant(X, Ws, h, mask, *, split="right", scale="right"):
    """Multi-head attention forward with one of the classic mistakes built in (for naming them)."""
    Wq, Wk, Wv, Wo = Ws
    B, T, D = X.shape
    dh = D // h

    def sp_(A):
        return A.reshape(B, h, T, dh) if split == "reshape" else A.reshape(B, T, h, dh).transpose(0, 2, 1, 3)

    def mg(A):
        return A.reshape(B, T, D) if split == "reshape" else A.transpose(0, 2, 1, 3).reshape(B, T, D)

    Qh, Kh, Vh = sp_(X @ Wq), sp_(X @ Wk), sp_(X @ Wv)
    c = {"right": 1 / math.sqrt(dh), "D": 1 / math.sqrt(D), "none": 1.0}[scale]
    S = (Qh @ _sw(Kh)) * c
    full = None if mask is None else np.broadcast_to(mask, (B, T, T))[:, None]
    return mg(_softmax(S, full) @ Vh) @ Wo


def _mha_paths(X, Ws, h, mask, dout):
    """dX's three paths and the projections' gradients, from the reference cache."""
    Wq, Wk, Wv, Wo = Ws
    _, cache = _ref.multihead_attention_forward(X, *Ws, h, mask)
    dA = _ref.split_heads(dout @ Wo.T, h)
    dQh, dKh, dVh = _ref.scaled_dot_product_attention_backward(dA, cache["attention"])
    dQ, dK, dV = _ref.merge_heads(dQh), _ref.merge_heads(dKh), _ref.merge_heads(dVh)
    return dQ @ Wq.T, dK @ Wk.T, dV @ Wv.T


def _mha_cases(rng, thorough):
    """Kinds: no mask, a causal mask, a padding mask, one head, values with a large common part."""
    specs = [("plain", 2, 4, 6, 2), ("causal", 1, 5, 8, 4), ("padding", 3, 3, 6, 3), ("offset", 2, 4, 6, 2)]
    if thorough:
        specs += [("plain", 2, 6, 4, 1), ("causal", 2, 4, 6, 3), ("padding", 2, 5, 4, 2), ("offset", 1, 5, 8, 4)]
    cases = []
    for kind, B, T, D, h in specs:
        X = rng.standard_normal((B, T, D))
        Ws = [rng.standard_normal((D, D)) / math.sqrt(D) * 1.5 for _ in range(4)]
        mask = None
        if kind == "causal":
            mask = _ref.causal_mask(T)
        elif kind == "padding":
            lengths = rng.integers(1, T + 1, size=B)
            lengths[0] = T - 1 if T > 1 else 1
            mask = _ref.padding_mask(lengths, T)
        elif kind == "offset":
            # feature 0 of every position is a constant 1 (a bias input); its value projection is large and its
            # query/key projections 0: every value vector gets the same large part, which P passes unchanged
            X[:, :, 0] = 1.0
            Ws[0][0] = Ws[1][0] = 0.0
            Ws[2][0] = OFFSET
        cases.append({"kind": kind, "X": X, "Ws": Ws, "h": h, "mask": mask,
                      "dout": rng.standard_normal((B, T, D))})
    return cases


_MHA_FWD = {"plain": "forward", "causal": "forward with a mask", "padding": "forward with a mask"}
_MHA_GRADS = ("dX", "dWq", "dWk", "dWv", "dWo")
_MHA_SUB = {"dX": "dX", "dWq": "dWq, dWk, dWv", "dWk": "dWq, dWk, dWv", "dWv": "dWq, dWk, dWv", "dWo": "dWo"}


def check_multihead_attention(forward, backward, *, seed: int = 0, points: float | None = None,
                              thorough: bool = False):
    """Grade ``multihead_attention_forward(X, Wq, Wk, Wv, Wo, num_heads, mask=None) -> (out, cache)`` and
    ``multihead_attention_backward(dout, cache) -> (dX, dWq, dWk, dWv, dWo)``.

    Q = X Wq, K = X Wk, V = X Wv (W* are (D, D), no biases); split into h heads of d_head = D / h; attention per
    head with scale 1 / sqrt(d_head) and the same mask for every head (None or boolean broadcastable to
    (B, T, T), the 7th positional argument); merge; out = merged @ Wo. Sub-checks: forward, forward with a mask
    (causal and padding), dX, dWq/dWk/dWv, dWo, analytic gradients (a constant input feature whose value
    projection is 1e6: finite differences fail it), inputs left unchanged. Mistakes named: heads split or merged
    by a reshape alone, scale 1/sqrt(D) or missing, a path of X's fan-out into Q, K, V missing or overwritten,
    transposed weight gradients.
    """
    require_callable(forward, "multihead_attention_forward", 6)
    require_callable(backward, "multihead_attention_backward", 2)
    rep = Report("multi-head self-attention", points, seed)
    for name in ("forward", "forward with a mask", "dX", "dWq, dWk, dWv", "dWo", _ANALYTIC):
        rep.declare(name)
    rep.watch_inputs()
    _run_cases(rep, _mha_cases(np.random.default_rng(seed), thorough),
               lambda c: [_ANALYTIC] if c["kind"] == "offset" else [_MHA_FWD[c["kind"]],
                                                                    *sorted(set(_MHA_SUB.values()))],
               lambda c: _mha_case(rep, forward, backward, c))
    return rep.finish()


def _mha_case(rep: Report, forward, backward, c: dict) -> None:
    X, Ws, h, mask, dout, kind = c["X"], c["Ws"], c["h"], c["mask"], c["dout"], c["kind"]
    B, T, D = X.shape
    where = f"X {X.shape}, num_heads={h}" + {
        "plain": "", "causal": ", causal mask", "padding": ", padding mask",
        "offset": f", a constant feature with value projection {OFFSET:.0e}"}[kind]
    args = (X, *Ws, h) + (() if mask is None else (mask,))
    want_out, ref_cache = _ref.multihead_attention_forward(*args)
    want = _ref.multihead_attention_backward(dout, ref_cache)
    fsub = _MHA_FWD.get(kind)
    bsubs = [_ANALYTIC] if kind == "offset" else sorted(set(_MHA_SUB.values()))
    ok, res = _call(rep, forward, *args, label="multihead_attention_forward",
                    fail=([fsub] if fsub else []) + bsubs, where=where)
    if not ok:
        return
    try:
        out, cache = unpack(res, ("out", "cache"), "multihead_attention_forward")
    except StudentCodeError as exc:
        for s in ([fsub] if fsub else []) + bsubs:
            rep.fail(s, f"{where}: {exc}")
        return
    forward_ok = array_problem(out, want_out) is None
    if fsub:
        _grade(rep, fsub, where, "out", out, want_out,
               {"ATTN_HEADS_RESHAPE": [_mha_variant(X, Ws, h, mask, split="reshape")],
                "ATTN_SCALE_WRONG": [_mha_variant(X, Ws, h, mask, scale="D")] if h > 1 else [],
                "ATTN_SCALE_MISSING": [_mha_variant(X, Ws, h, mask, scale="none")]}, generic=False)
    ok, res = _call(rep, backward, dout, cache, label="multihead_attention_backward", fail=bsubs, where=where)
    if not ok:
        return
    try:
        grads = unpack(res, _MHA_GRADS, "multihead_attention_backward")
    except StudentCodeError as exc:
        for s in bsubs:
            rep.fail(s, f"{where}: {exc}")
        return
    pq, pk, pv = _mha_paths(X, Ws, h, mask, dout)
    mistakes = {"dX": {"OVERWRITE_NOT_ACCUMULATE": [pq, pk, pv], "PATH_MISSING": [pq + pk, pq + pv, pk + pv]}}
    for name, w in zip(_MHA_GRADS[1:], want[1:]):
        mistakes[name] = {"MISSING_TRANSPOSE": [w.T]}
    note = "" if forward_ok or kind == "offset" else (
        "\n      Your multihead_attention_forward is wrong on this input: fix it first.")
    for name, got, w in zip(_MHA_GRADS, grads, want):
        if kind == "offset":
            _grade_analytic(rep, _ANALYTIC, where, name, got, w, mistakes[name])
        else:
            _grade(rep, _MHA_SUB[name], where, name, got, w, mistakes[name], extra=note)
