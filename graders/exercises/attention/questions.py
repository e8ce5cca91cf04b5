"""The written answers of notebook 10, graded from the fixed inputs of graders.public.attention: the one-query
hand trace (numbers; expected values from reference_impl.attention), three derivatives of one query's output
and the 1/sqrt(d) variance law (SymPy expressions, checked by graders.answers), and the cost of the score
matrix (numbers, checked by graders.concepts). Known wrong answers are named; the expected values stay in
private helpers.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import numpy as np
import sympy as sp
import sympy.stats as sps

from graders import answers, concepts, diagnoses, typed
from graders.core import GradingError, Report, brief, describe
from graders.exercises.attention.grading import _softmax, _sw
from graders.public import attention as pub
from reference_impl import attention as _ref
from reference_impl import symbolic_layers as _ref_sl

TRACE_KEYS = ("s", "p", "out", "dv", "ds", "dq")
DERIVATION_KEYS = ("dout_ds0", "dp0_ds1", "dout_dv0")
VARIANCE_KEYS = ("var_qk", "scale")
MEMORY_KEYS = ("score_gib", "growth_when_T_doubles", "all_layers_gib", "attention_tflop")


# =============================================================================================== hand trace


def _trace_inputs():
    ex = pub.one_query_example()
    q, K, v, g = ex["q"], ex["K"], ex["v"], float(ex["g"])
    return q, K, v, g


@functools.cache
def _trace_expected() -> tuple[dict, dict]:
    """(expected values, {key: {mistake: wrong value}}) of the one-query trace, from reference_impl."""
    q, K, v, g = _trace_inputs()
    d = q.size
    Q, Kb, V = q[None, None, :], K[None], v[None, :, None]
    out, cache = _ref.scaled_dot_product_attention_forward(Q, Kb, V)
    dQ, dK, dV = _ref.scaled_dot_product_attention_backward(np.full((1, 1, 1), g), cache)
    P = cache["P"][0, 0]
    s = (Q @ _sw(Kb))[0, 0] * cache["scale"]
    ds = _ref.softmax_backward(np.full((1, 1, 3), g) * v[None, None, :], {"kind": "softmax", "P": cache["P"]})[0, 0]
    want = {"s": s, "p": P, "out": float(out[0, 0, 0]), "dv": dV[0, :, 0], "ds": ds, "dq": dQ[0, 0]}
    raw = K @ q
    p_raw = _softmax(raw)
    p_d = _softmax(raw / d)
    mistakes = {
        "s": {"ATTN_SCALE_MISSING": raw, "ATTN_SCALE_WRONG": [raw / d, raw * math.sqrt(d)]},
        "p": {"ATTN_SCALE_MISSING": p_raw, "ATTN_SCALE_WRONG": p_d},
        "out": {"ATTN_SCALE_MISSING": float(p_raw @ v), "ATTN_SCALE_WRONG": float(p_d @ v)},
        "dv": {"UPSTREAM_GRAD_MISSING": P, "ATTN_DV_PATH": np.full(3, g)},
        "ds": {"MISSING_RANK_ONE": g * P * v, "DIAGONAL_ONLY": g * P * (1 - P) * v,
               "UPSTREAM_GRAD_MISSING": ds / g, "SIGN_FLIP": -ds},
        "dq": {"ATTN_SCALE_MISSING": ds @ K, "ATTN_SCALE_WRONG": ds @ K / d, "UPSTREAM_GRAD_MISSING": dQ[0, 0] / g},
    }
    return want, mistakes


def _typed_strings(got: Any) -> list[str]:
    """The strings in ``got`` (a number, or a list of numbers) that are not numbers typed as text."""
    items = [got] if isinstance(got, str) else list(got) if isinstance(got, (list, tuple)) else []
    return [g for g in items if isinstance(g, str) and typed.number(g) is None]


def _read_typed(got: Any) -> Any:
    """``got`` with numbers typed as strings read (graders.typed.number)."""
    if isinstance(got, str):
        return typed.number(got)
    if isinstance(got, (list, tuple)):
        return [typed.number(g) if isinstance(g, str) else g for g in got]
    return got


def check_one_query_trace(values, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the hand trace of ``graders.public.attention.one_query_example()``: one query q (d = 4), three keys,
    scalar values v, upstream g = dL/dout.

    ``values``: a dict with "s" (the 3 scaled scores), "p" (the 3 weights), "out" (a number), "dv" (dL/dv_j),
    "ds" (dL/ds_j) and "dq" (dL/dq, 4 numbers); lists, tuples or arrays (numbers typed as strings are read).
    One sub-check per key; four significant digits are enough (graders.typed); known wrong values are named. The
    inputs are fixed (seed and thorough are accepted for uniformity).
    """
    want, mistakes = _trace_expected()
    if values is None:
        raise GradingError(f"one-query trace: no answer yet: fill in the dict with keys {', '.join(TRACE_KEYS)}.")
    if not isinstance(values, Mapping):
        raise GradingError(f"one-query trace: expected a dict with keys {', '.join(TRACE_KEYS)}, got "
                           f"{type(values).__name__}.")
    rep = Report("one-query trace", points, seed)
    hints = {"s": "s_j = q . k_j / sqrt(d) with d = 4.",
             "ds": "ds_j = p_j (dout_j - sum_k p_k dout_k) with dout_j = dL/dp_j = g v_j, i.e. g p_j (v_j - out).",
             "dq": "s_j depends on q through k_j / sqrt(d): dq = sum_j ds_j k_j / sqrt(d)."}
    for key in TRACE_KEYS:
        rep.declare(key)
    for key in TRACE_KEYS:
        if key not in values:
            rep.fail(key, f"'{key}' is missing from the dict.")
            continue
        target = np.asarray(want[key], dtype=np.float64)
        got = values[key]
        unread = _typed_strings(got)
        if unread:
            rep.fail(key, f"'{key}': {typed.number_problem(unread[0])}")
            continue
        got = _read_typed(got)
        try:
            arr = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            rep.fail(key, f"'{key}': expected {'a number' if target.ndim == 0 else f'{target.size} numbers'}, got "
                          f"{brief(got)}.")
            continue
        if arr.shape != target.shape and arr.size == target.size:
            arr = arr.reshape(target.shape)
        if arr.shape != target.shape:
            rep.fail(key, f"'{key}': expected {'one number' if target.ndim == 0 else f'{target.size} numbers'}, "
                          f"got shape {arr.shape}.")
            continue
        if not np.all(np.isfinite(arr)):
            rep.fail(key, f"'{key}': the values are not finite ({brief(got)}).")
            continue
        if np.allclose(arr, target, rtol=typed.REL_TOL, atol=typed.ABS_TOL):
            continue
        named = ""
        for code, variants in mistakes.get(key, {}).items():
            for wrong in variants if isinstance(variants, list) else [variants]:
                w = np.asarray(wrong, dtype=np.float64)
                if np.allclose(arr, w, rtol=typed.REL_TOL, atol=typed.ABS_TOL) and not np.allclose(
                        w, target, rtol=typed.REL_TOL, atol=typed.ABS_TOL):
                    named = describe(diagnoses.get(code))
                    break
            if named:
                break
        rep.fail(key, f"'{key}': got {np.round(arr, 6).tolist()}, which is not right ({typed.PRECISION.lower()})."
                      f"{named}{' Hint: ' + hints[key] if key in hints and not named else ''}")
    return rep.finish()


# =============================================================================================== derivation


@functools.cache
def _one_query():
    return _ref_sl.attention_one_query(3)


def _derivation_symbols() -> dict[str, sp.Symbol]:
    d = _one_query()
    return {s.name: s for s in d["s"] + d["v"]}


def _derivation_expected() -> tuple[dict, dict]:
    d = _one_query()
    s, v, p, out = d["s"], d["v"], d["p"], d["out"]
    expected = {"dout_ds0": d["grad"][0], "dp0_ds1": d["jacobian"][0, 1], "dout_dv0": sp.diff(out, v[0])}
    mistakes = {
        "dout_ds0": {"MISSING_RANK_ONE": p[0] * v[0], "DIAGONAL_ONLY": p[0] * (1 - p[0]) * v[0],
                     "SIGN_FLIP": -d["closed_form"][0]},
        "dp0_ds1": {"SIGN_FLIP": p[0] * p[1], "DIAGONAL_ONLY": sp.Integer(0)},
        "dout_dv0": {"ATTN_DV_PATH": sp.Integer(1), "MISSING_RANK_ONE": v[0]},
    }
    return expected, mistakes


def check_score_derivation(derivs, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade three derivatives of one query's attention output out = sum_j p_j v_j, p = softmax(s0, s1, s2).

    ``derivs``: a dict with SymPy expressions (or strings) in s0 s1 s2 v0 v1 v2: "dout_ds0" (d out / d s0),
    "dp0_ds1" (d p0 / d s1) and "dout_dv0" (d out / d v0). Each is compared with ``sympy.diff`` of the
    definition (reference_impl.symbolic_layers.attention_one_query), symbolically then at random points; any
    equal form counts. One sub-check per key.
    """
    expected, mistakes = _derivation_expected()
    hints = {"dout_ds0": "differentiate out = sum_j p_j v_j; every p_j depends on s0 (through the normalizer).",
             "dp0_ds1": "p0 = exp(s0) / Z and only Z depends on s1.",
             "dout_dv0": "out is linear in the values."}
    return answers.check_expressions(derivs, expected, _derivation_symbols(), exercise="one-query derivatives",
                                     mistakes=mistakes, hints=hints, points=points, seed=seed, thorough=thorough,
                                     time_limit=0.2, domain=(-2.0, 2.0))


# =============================================================================================== variance law


@functools.cache
def _variance_expected() -> tuple[dict, dict, dict]:
    d = sp.Symbol("d", positive=True, integer=True)
    qi, ki = sps.Normal("q_i", 0, 1), sps.Normal("k_i", 0, 1)
    # q . k = sum of d independent terms q_i k_i: Var = d * Var(q_i k_i) = d * (E[q^2] E[k^2] - E[q]^2 E[k]^2)
    term = sps.E(qi ** 2) * sps.E(ki ** 2) - sps.E(qi) ** 2 * sps.E(ki) ** 2
    var = sp.simplify(d * term)
    c = sp.Symbol("c", positive=True)
    (scale,) = sp.solve(sp.Eq(c ** 2 * var, 1), c)
    expected = {"var_qk": var, "scale": scale}
    mistakes = {"var_qk": {"that is the standard deviation sqrt(d); the variance is its square": sp.sqrt(d),
                           "the variances of independent terms add: d of them give d, not d**2": d ** 2,
                           "the variance of ONE term q_i k_i; the dot product adds d of them": sp.Integer(1)},
                "scale": {"ATTN_SCALE_WRONG": 1 / d, "ATTN_SCALE_MISSING": sp.Integer(1),
                          "multiplying by sqrt(d) makes the variance d**2; divide instead": sp.sqrt(d)}}
    return expected, mistakes, {"d": d}


def check_variance_law(law, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the 1/sqrt(d) argument: ``law`` is a dict with "var_qk", Var(q . k) for q, k in R^d with i.i.d.
    N(0, 1) entries, and "scale", the positive factor c that gives c * (q . k) variance 1; expressions (or
    strings) in the symbol d. Expected values by SymPy (sympy.stats moments and sympy.solve)."""
    expected, mistakes, symbols = _variance_expected()
    hints = {"var_qk": "q . k is a sum of d independent terms q_i k_i, each with mean 0; variances of "
                       "independent terms add.",
             "scale": "Var(c X) = c**2 Var(X)."}
    return answers.check_expressions(law, expected, symbols, exercise="why 1/sqrt(d)", mistakes=mistakes,
                                     hints=hints, points=points, seed=seed, thorough=thorough, time_limit=0.5,
                                     positive=True, domain=(1.0, 64.0))


# =============================================================================================== score-matrix cost


def _memory_expected() -> tuple[dict, dict]:
    m = pub.MEMORY_QUESTION
    B, h, T, dh, bpv, layers = m["B"], m["h"], m["T"], m["d_head"], m["bytes_per_value"], m["layers"]
    gib = 2 ** 30
    one = _ref.attention_score_memory(B, h, T, bpv)
    flops = _ref.attention_flops(B, h, T, dh)
    want = {"score_gib": one / gib,
            "growth_when_T_doubles": _ref.attention_score_memory(B, h, 2 * T, bpv) / one,
            "all_layers_gib": layers * one / gib,
            "attention_tflop": flops["total"] / 1e12}
    mistakes = {
        "score_gib": {"you used 4 bytes per value (bfloat16 takes 2)": _ref.attention_score_memory(B, h, T, 4) / gib,
                      "you left out the heads (every head has its own T x T scores)": _ref.attention_score_memory(
                          B, 1, T, bpv) / gib,
                      "you left out the batch (every sequence has its own scores)": _ref.attention_score_memory(
                          1, h, T, bpv) / gib,
                      "you divided by 1e9 (GB) instead of 2**30 (GiB)": one / 1e9,
                      "ATTN_QUADRATIC_COST": B * h * T * bpv / gib},
        "growth_when_T_doubles": {"ATTN_QUADRATIC_COST": 2.0},
        "all_layers_gib": {"you used 4 bytes per value (bfloat16 takes 2)": layers * _ref.attention_score_memory(
            B, h, T, 4) / gib, "you divided by 1e9 (GB) instead of 2**30 (GiB)": layers * one / 1e9},
        "attention_tflop": {"you counted half: a multiply-add is 2 flops, and both products QK^T and PV count":
                            flops["qk"] / 1e12,
                            "ATTN_QUADRATIC_COST": 4 * B * h * T * dh / 1e12},
    }
    return want, mistakes


def check_memory_answers(values, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the cost question on ``graders.public.attention.MEMORY_QUESTION``: a dict with "score_gib" (GiB of ONE
    (B, h, T, T) score array), "growth_when_T_doubles" (its factor when T doubles), "all_layers_gib" (one P per
    attention layer kept for the backward) and "attention_tflop" (forward flops of QK^T and PV, in 1e12).
    Four significant digits are enough (graders.typed); known wrong values named."""
    want, mistakes = _memory_expected()
    hints = {"score_gib": "one value per (batch, head, query, key): B * h * T * T values of 2 bytes; 1 GiB = 2**30.",
             "attention_tflop": "an (m, k) @ (k, n) product costs 2 m n k flops; per head QK^T is (T, d) @ (d, T)."}
    return concepts.check_trace_table(values, want, exercise="cost of the score matrix", hints=hints,
                                      mistakes=mistakes, points=points, seed=seed)
