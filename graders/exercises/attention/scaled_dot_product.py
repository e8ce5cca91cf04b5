"""Scaled dot-product attention of notebook 10, forward and backward, compared with reference_impl.attention.
Cases by kind: self-attention without a mask, cross-attention (Tq != Tk, d != dv), a (T, T) causal mask, a
(B, 1, T) padding mask, large scores, values with a large common part (backward only: analytic, not numeric).
Padded keys must get exactly zero dK and dV rows. Known wrong answers (scale, transposes, the dV path, masks)
are built here from the inputs and named.
"""

from __future__ import annotations

import math

import numpy as np

from graders import diagnoses
from graders.core import Report, StudentCodeError, array_problem, describe, require_callable, unpack
from graders.exercises.attention.grading import (OFFSET, _call, _grade, _grade_analytic, _run_cases, _softmax,
                                                 _softmax_vjp, _sw)
from reference_impl import attention as _ref


# =============================================================================================== attention


def _attn_inputs(rng, B, Tq, Tk, d, dv, *, scale=1.0, k_scale=1.0):
    return (scale * rng.standard_normal((B, Tq, d)), k_scale * scale * rng.standard_normal((B, Tk, d)),
            rng.standard_normal((B, Tk, dv)))


def _attention_cases(rng: np.random.Generator, thorough: bool) -> list[dict]:
    """Kinds: self-attention without a mask, cross-attention (Tq != Tk, d != dv), a (T, T) causal mask, a
    (B, 1, T) padding mask, large scores (around 1e3), values with a large common part (backward only)."""
    cases = []
    rounds = [(2, 4, 3, 5, (2, 3, 5, 4, 2), 5, (3, [4, 2, 3]))]
    if thorough:
        rounds.append((1, 6, 2, 3, (3, 4, 2, 3, 3), 6, (2, [2, 5])))
    for B, T, d, dv, (Bc, Tq, Tk, dc, dvc), Tcausal, (Bp, lengths) in rounds:
        Q, K, V = _attn_inputs(rng, B, T, T, d, dv)
        cases.append({"kind": "plain", "Q": Q, "K": K, "V": V, "mask": None})
        Q, K, V = _attn_inputs(rng, Bc, Tq, Tk, dc, dvc)
        cases.append({"kind": "cross", "Q": Q, "K": K, "V": V, "mask": None})
        Q, K, V = _attn_inputs(rng, 2, Tcausal, Tcausal, 4, 3)
        cases.append({"kind": "causal", "Q": Q, "K": K, "V": V, "mask": _ref.causal_mask(Tcausal)})
        Tp = max(lengths) + 1
        Q, K, V = _attn_inputs(rng, Bp, Tp, Tp, 3, 2)
        cases.append({"kind": "padding", "Q": Q, "K": K, "V": V, "mask": _ref.padding_mask(np.array(lengths), Tp)})
        Q, K, V = _attn_inputs(rng, 1, 4, 4, 2, 3, scale=np.sqrt(1000.0 * np.sqrt(2)))
        cases.append({"kind": "large", "Q": Q, "K": K, "V": V, "mask": None})
        Q, K, V = _attn_inputs(rng, 2, 3, 4, 3, 2, k_scale=2.0)
        cases.append({"kind": "offset", "Q": Q, "K": K, "V": V + OFFSET, "mask": None})
    for c in cases:
        c["dout"] = rng.standard_normal(c["Q"].shape[:-1] + c["V"].shape[-1:])
    return cases


def _where(c: dict) -> str:
    Q, K, V, mask = c["Q"], c["K"], c["V"], c["mask"]
    extra = {"plain": "", "cross": "", "causal": f", causal mask {mask.shape if mask is not None else ''}",
             "padding": f", padding mask {mask.shape if mask is not None else ''}", "large": ", scores around 1e3",
             "offset": f", V with a common part {OFFSET:.0e}"}[c["kind"]]
    return f"Q {Q.shape}, K {K.shape}, V {V.shape}{extra}"


def _attention_forward_mistakes(Q, K, V, mask) -> dict:
    d = Q.shape[-1]
    raw = Q @ _sw(K)
    full = None if mask is None else np.broadcast_to(mask, raw.shape)
    out = {"ATTN_SCALE_MISSING": [_softmax(raw, full) @ V],
           "ATTN_SCALE_WRONG": [_softmax(raw / d, full) @ V, _softmax(raw * math.sqrt(d), full) @ V,
                                _softmax(raw, full) @ V / math.sqrt(d)]}
    S = raw / math.sqrt(d)
    if Q.shape[-2] > 1 and (full is None or np.all(full.any(axis=-2))):
        out["ATTN_SOFTMAX_AXIS"] = [_softmax(S, full, axis=-2) @ V]
    if full is not None:
        out["ATTN_MASK_AFTER_SOFTMAX"] = [(_softmax(S) * full) @ V]
        out["ATTN_MASK_ZERO_SCORE"] = [_softmax(np.where(full, S, 0.0)) @ V]
        out["ATTN_MASK_IGNORED"] = [_softmax(S) @ V]
    return out


_FORWARD_SUBS = {"plain": "no mask", "cross": "Tq != Tk and d != dv", "causal": "causal mask",
                 "padding": "padding mask", "large": "large scores (stable)"}


def check_attention_forward(forward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``attention_forward(Q, K, V, mask=None) -> (out, cache)``: out = softmax(Q K^T / sqrt(d), masked) V
    with Q (B, Tq, d), K (B, Tk, d), V (B, Tk, dv), the softmax over the keys (last axis), mask None or boolean
    broadcastable to (B, Tq, Tk) (True = keep; passed as the 4th positional argument). One sub-check per kind of
    input: no mask, Tq != Tk and d != dv, a (T, T) causal mask, a (B, 1, T) padding mask, large scores (the
    softmax must subtract the row maximum); plus inputs left unchanged. Mistakes named: scale missing or wrong,
    softmax over the queries, mask after the softmax / as a zero score / ignored."""
    require_callable(forward, "attention_forward", 3)
    rep = Report("scaled dot-product attention forward", points, seed)
    for name in _FORWARD_SUBS.values():
        rep.declare(name)
    rep.watch_inputs()
    cases = [c for c in _attention_cases(np.random.default_rng(seed), thorough) if c["kind"] != "offset"]
    _run_cases(rep, cases, lambda c: (_FORWARD_SUBS[c["kind"]],), lambda c: _attention_forward_case(rep, forward, c))
    return rep.finish()


def _attention_forward_case(rep: Report, forward, c: dict) -> None:
    sub, where = _FORWARD_SUBS[c["kind"]], _where(c)
    args = (c["Q"], c["K"], c["V"]) + (() if c["mask"] is None else (c["mask"],))
    want, _ = _ref.scaled_dot_product_attention_forward(*args)
    ok, res = _call(rep, forward, *args, label="attention_forward", fail=(sub,), where=where)
    if not ok:
        return
    try:
        out, _cache = unpack(res, ("out", "cache"), "attention_forward")
    except StudentCodeError as exc:
        rep.fail(sub, f"{where}: {exc}")
        return
    problem = array_problem(out, want)
    if problem and c["kind"] == "large" and "non-finite" in problem:
        rep.fail(sub, f"{where}: out {problem}{describe(diagnoses.get('SOFTMAX_UNSTABLE'))}")
    else:
        _grade(rep, sub, where, "out", out, want, _attention_forward_mistakes(*args[:3], c["mask"]),
               generic=False)


def _attention_backward_mistakes(c: dict) -> dict:
    Q, K, V, mask, dout = c["Q"], c["K"], c["V"], c["mask"], c["dout"]
    _, cache = _ref.scaled_dot_product_attention_forward(Q, K, V, mask)
    P, s = cache["P"], cache["scale"]
    d = Q.shape[-1]
    dP = dout @ _sw(V)
    dS = _softmax_vjp(dP, P)
    Tq, Tk = Q.shape[-2], K.shape[-2]
    dQ = {"ATTN_SCALE_MISSING": [dS @ K], "ATTN_SCALE_WRONG": [dS @ K * s * s, dS @ K * math.sqrt(d)],
          "MISSING_RANK_ONE": [(P * dP) @ K * s], "DIAGONAL_ONLY": [(P * (1 - P) * dP) @ K * s]}
    dK = {"ATTN_SCALE_MISSING": [_sw(dS) @ Q], "ATTN_SCALE_WRONG": [_sw(dS) @ Q * s * s, _sw(dS) @ Q * math.sqrt(d)],
          "MISSING_RANK_ONE": [_sw(P * dP) @ Q * s], "DIAGONAL_ONLY": [_sw(P * (1 - P) * dP) @ Q * s]}
    dV = {"ATTN_DV_PATH": [np.zeros_like(V)]}
    if Tq == Tk:
        dQ["ATTN_TRANSPOSE"] = [_sw(dS) @ K * s, _sw(dS) @ Q * s]
        dK["ATTN_TRANSPOSE"] = [dS @ Q * s, dS @ K * s]
        dV["ATTN_TRANSPOSE"] = [P @ dout]
        if V.shape[-1] == dout.shape[-1]:
            dV["ATTN_DV_PATH"].append(dout.copy())
    if mask is not None:
        S = (Q @ _sw(K)) * s
        Pu = _softmax(S)
        dSu = _softmax_vjp(dP, Pu)
        dQ["ATTN_MASK_GRAD_LEAK"] = [dSu @ K * s]
        dK["ATTN_MASK_GRAD_LEAK"] = [_sw(dSu) @ Q * s]
        dV["ATTN_MASK_GRAD_LEAK"] = [_sw(Pu) @ dout]
    return {"dQ": dQ, "dK": dK, "dV": dV}


_PADDED_ZERO = "padded keys: dK and dV exactly 0"
_ANALYTIC = "analytic gradients (values with a large common part)"


def check_attention_backward(forward, backward, *, seed: int = 0, points: float | None = None,
                             thorough: bool = False):
    """Grade ``attention_backward(dout, cache) -> (dQ, dK, dV)`` (the cache from the student's own
    ``attention_forward(Q, K, V[, mask])``).

        dV = P^T dout,  dP = dout V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = dS K / sqrt(d),  dK = dS^T Q / sqrt(d)

    Sub-checks: dQ, dK and dV (over no mask, Tq != Tk, causal and padding masks, large scores); padded keys
    (masked for every query) get exactly zero dK and dV rows; analytic gradients on values with a large common
    part (finite differences of the forward fail it: NUMERIC_NOT_ANALYTIC); inputs left unchanged. A wrong
    forward on a case is reported with it (the backward is still compared with the true gradient). Mistakes named:
    scale missing or wrong, transposes, dV path missing, diagonal-only softmax Jacobian, gradient leaking
    through masked positions.
    """
    require_callable(forward, "attention_forward", 3)
    require_callable(backward, "attention_backward", 2)
    rep = Report("scaled dot-product attention backward", points, seed)
    for name in ("dQ", "dK", "dV", _PADDED_ZERO, _ANALYTIC):
        rep.declare(name)
    rep.watch_inputs()
    seen: set[str] = set()
    _run_cases(rep, _attention_cases(np.random.default_rng(seed), thorough),
               lambda c: (_ANALYTIC,) if c["kind"] == "offset" else ("dQ", "dK", "dV") + (
                   (_PADDED_ZERO,) if c["kind"] == "padding" else ()),
               lambda c: _attention_backward_case(rep, forward, backward, c, seen))
    if seen != {"dK", "dV"} and rep.passed(_PADDED_ZERO):
        rep.fail(_PADDED_ZERO, "not checked: your functions never returned usable dK and dV for a padding mask "
                               "(see the other messages).")
    return rep.finish()


def _attention_backward_case(rep: Report, forward, backward, c: dict, seen: set) -> None:
    where = _where(c)
    args = (c["Q"], c["K"], c["V"]) + (() if c["mask"] is None else (c["mask"],))
    want_out, ref_cache = _ref.scaled_dot_product_attention_forward(*args)
    want = _ref.scaled_dot_product_attention_backward(c["dout"], ref_cache)
    subs = (_ANALYTIC,) * 3 if c["kind"] == "offset" else ("dQ", "dK", "dV")
    ok, res = _call(rep, forward, *args, label="attention_forward", fail=subs, where=where)
    if not ok:
        return
    try:
        out, cache = unpack(res, ("out", "cache"), "attention_forward")
    except StudentCodeError as exc:
        for s in set(subs):
            rep.fail(s, f"{where}: not checked: {exc}")
        return
    note = ""
    if c["kind"] != "offset" and array_problem(out, want_out) is not None:
        note = "\n      Your attention_forward is wrong on this input: fix it first (its own check names the mistake)."
    ok, res = _call(rep, backward, c["dout"], cache, label="attention_backward", fail=subs, where=where)
    if not ok:
        return
    try:
        grads = unpack(res, ("dQ", "dK", "dV"), "attention_backward")
    except StudentCodeError as exc:
        for s in set(subs):
            rep.fail(s, f"{where}: {exc}")
        return
    mistakes = _attention_backward_mistakes(c)
    names = ("dQ", "dK", "dV")
    if c["kind"] == "offset":
        for name, got, w in zip(names, grads, want):
            _grade_analytic(rep, _ANALYTIC, where, name, got, w, mistakes[name])
        return
    for name, got, w in zip(names, grads, want):
        _grade(rep, name, where, name, got, w, mistakes[name], extra=note)
    if c["kind"] == "padding":
        full = np.broadcast_to(c["mask"], c["Q"].shape[:-1] + c["K"].shape[-2:-1])
        padded = ~full.any(axis=-2)  # (B, Tk): keys no query may see
        for name, got in (("dK", grads[1]), ("dV", grads[2])):
            w = want[names.index(name)]
            if not isinstance(got, np.ndarray) or got.shape != w.shape:
                continue
            seen.add(name)
            vals = np.abs(np.asarray(got, dtype=np.float64)[padded])
            if vals.size and not np.all(vals == 0.0):
                rep.fail(_PADDED_ZERO, f"{where}: {name} of the padded keys must be exactly 0 (no query attends to "
                                       f"them), the largest is {np.nanmax(vals):.3g}."
                                       f"{describe(diagnoses.get('ATTN_MASK_GRAD_LEAK'))}")
