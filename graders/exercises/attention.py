"""Checks for notebook 10 (attention): softmax over the keys with a mask, scaled dot-product attention forward
and backward, causal and padding masks, heads (split/merge), multi-head self-attention, and the derivation,
hand-trace and cost questions.

Student contracts (float64, batch-major, the cs231n ``(out, cache)`` / ``grads = backward(dout, cache)`` pair;
masks are boolean with True = keep and broadcast against the scores)::

    P, cache = softmax_forward(x, mask=None)          # over the LAST axis; masked entries exactly 0
    dx = softmax_backward(dP, cache)
    out, cache = attention_forward(Q, K, V, mask=None)   # Q (B,Tq,d), K (B,Tk,d), V (B,Tk,dv) -> out (B,Tq,dv)
    dQ, dK, dV = attention_backward(dout, cache)
    mask = causal_mask(T)                             # (T, T) bool, mask[i, j] = j <= i
    mask = padding_mask(lengths, T)                   # (B, 1, T) bool, mask[b, 0, j] = j < lengths[b]
    Xh = split_heads(X, num_heads)                    # (B, T, D) -> (B, h, T, D // h)
    X = merge_heads(Xh)                               # the inverse
    out, cache = multihead_attention_forward(X, Wq, Wk, Wv, Wo, num_heads, mask=None)
    dX, dWq, dWk, dWv, dWo = multihead_attention_backward(dout, cache)

Every code check calls student code only through graders.core.call_student with plain arrays (a returned
cache goes back to the student's backward untouched), watches the inputs (the course-wide "inputs left
unchanged" sub-check), compares with reference_impl.attention, and names the mistake when the answer equals a
known wrong one (graders/diagnoses.py: ATTN_*, NUMERIC_NOT_ANALYTIC, MISSING_RANK_ONE, ...). Each kind of
input is a sub-check of its own (no mask, Tq != Tk, causal, padding, large scores, a large constant part), so
a mistake costs its share; the visible test (``thorough=False``) has one case of every kind, the hidden test
(``thorough=True``) more cases of the same kinds.

Analytic, not numeric: one backward case of each gradient exercise adds a large constant (1e6) that the true
gradient ignores (a per-row constant in the softmax's upstream dP; a common part of every value vector in
attention, which P passes straight to the output because its rows sum to 1). Centred differences of the
forward then lose about 10 digits to rounding at every step size, so a backward that perturbs the forward
misses the tolerance there and is named NUMERIC_NOT_ANALYTIC; the analytic formula is exact to ~1e-10.

Expected values are computed here from reference_impl and SymPy (private helpers), never typed in a notebook.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
import sympy.stats as sps

from graders import answers, concepts, diagnoses, typed
from graders.core import (MUTATION_CHECK, GradingError, Report, StudentCodeError, StudentTimeout, array_problem,
                          brief, call_student, close, describe, diagnose, require_callable, unpack)
from graders.public import attention as pub
from reference_impl import attention as ref
from reference_impl import symbolic_layers as ref_sl

__all__ = ["check_one_query_trace", "check_score_derivation", "check_softmax", "check_masks",
           "check_attention_forward", "check_attention_backward", "check_split_merge_heads",
           "check_multihead_attention", "check_variance_law", "check_memory_answers", "TRACE_KEYS",
           "DERIVATION_KEYS", "VARIANCE_KEYS", "MEMORY_KEYS"]

OFFSET = 1e6            # the large constant of the "analytic, not numeric" cases
NUMERIC_BAND = 1e-2     # wrong at VALUE_TOL but right to this: what finite differences give on those cases
TRACE_KEYS = ("s", "p", "out", "dv", "ds", "dq")
DERIVATION_KEYS = ("dout_ds0", "dp0_ds1", "dout_dv0")
VARIANCE_KEYS = ("var_qk", "scale")
MEMORY_KEYS = ("score_gib", "growth_when_T_doubles", "all_layers_gib", "attention_tflop")


# =============================================================================================== helpers


class _Stop(Exception):
    """The student's code timed out: the remaining cases are skipped."""


def _softmax(x: np.ndarray, mask: np.ndarray | None = None, axis: int = -1) -> np.ndarray:
    """Stable softmax along ``axis``; masked entries (mask False) excluded and exactly 0."""
    x = np.asarray(x, dtype=np.float64)
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(dP: np.ndarray, P: np.ndarray, axis: int = -1) -> np.ndarray:
    return P * (dP - np.sum(dP * P, axis=axis, keepdims=True))


def _sw(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _call(rep: Report, fn: Callable, *args, label: str, fail: Sequence[str], where: str, watch: bool = True):
    """(ok, result). A StudentCodeError fails the sub-checks in ``fail``; a timeout also raises _Stop."""
    try:
        return True, call_student(fn, *args, label=label, notes=rep.notes, report=rep if watch else None)
    except StudentCodeError as exc:
        for name in fail:
            rep.fail(name, f"{where}: {exc}")
        if isinstance(exc, StudentTimeout):
            raise _Stop from None
        return False, None


def _run_cases(rep: Report, cases: Sequence, subs_of: Callable[[Any], Sequence[str]], run: Callable[[Any], None]):
    """Run ``run(case)`` for every case; after a timeout, the sub-checks no case has examined yet are failed
    ("not checked"), so that a function that loops forever earns nothing for the cases it never reached."""
    examined: set[str] = set()
    try:
        for case in cases:
            examined.update(subs_of(case))
            run(case)
    except _Stop:
        for name in list(rep.checks):
            if name not in examined and name != MUTATION_CHECK and rep.passed(name):
                rep.fail(name, "not checked: your code timed out on an earlier case (see above).")


def _grade(rep: Report, sub: str, where: str, name: str, got: Any, want: np.ndarray,
           mistakes: Mapping[str, Any] | None = None, *, generic: bool = True, extra: str = "") -> bool:
    """Compare one output; fail ``sub`` with the problem and the named mistake. True when it is right."""
    problem = array_problem(got, want)
    if problem is None:
        return True
    diag = diagnose(got, want, mistakes or {}, generic=generic)
    rep.fail(sub, f"{where}: {name} {problem}{describe(diag)}{extra}")
    return False


def _grade_analytic(rep: Report, sub: str, where: str, name: str, got: Any, want: np.ndarray,
                    mistakes: Mapping[str, Any] | None = None) -> bool:
    """_grade for a case with a large constant part: an answer that is no known mistake but right only to
    NUMERIC_BAND (the signature of finite differences) is named NUMERIC_NOT_ANALYTIC."""
    problem = array_problem(got, want)
    if problem is None:
        return True
    diag = diagnose(got, want, mistakes or {})
    if diag is None and problem.startswith("values differ") and close(got, want, NUMERIC_BAND):
        diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")
    rep.fail(sub, f"{where}: {name} {problem}{describe(diag)}")
    return False


def _random_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean mask with about 40% False and at least one True and (where possible) one False per row."""
    mask = rng.random(shape) < 0.6
    rows = mask.reshape(-1, shape[-1])
    n = rows.shape[0]
    rows[np.arange(n), rng.integers(0, shape[-1], n)] = True
    if shape[-1] > 1:
        first = rows[0]
        if first.all():
            first[rng.integers(0, shape[-1])] = False
            if not first.any():
                first[0] = True
    return rows.reshape(shape)


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
    out, cache = ref.scaled_dot_product_attention_forward(Q, Kb, V)
    dQ, dK, dV = ref.scaled_dot_product_attention_backward(np.full((1, 1, 1), g), cache)
    P = cache["P"][0, 0]
    s = (Q @ _sw(Kb))[0, 0] * cache["scale"]
    ds = ref.softmax_backward(np.full((1, 1, 3), g) * v[None, None, :], {"kind": "softmax", "P": cache["P"]})[0, 0]
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
    return ref_sl.attention_one_query(3)


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
    one = ref.attention_score_memory(B, h, T, bpv)
    flops = ref.attention_flops(B, h, T, dh)
    want = {"score_gib": one / gib,
            "growth_when_T_doubles": ref.attention_score_memory(B, h, 2 * T, bpv) / one,
            "all_layers_gib": layers * one / gib,
            "attention_tflop": flops["total"] / 1e12}
    mistakes = {
        "score_gib": {"you used 4 bytes per value (bfloat16 takes 2)": ref.attention_score_memory(B, h, T, 4) / gib,
                      "you left out the heads (every head has its own T x T scores)": ref.attention_score_memory(
                          B, 1, T, bpv) / gib,
                      "you left out the batch (every sequence has its own scores)": ref.attention_score_memory(
                          1, h, T, bpv) / gib,
                      "you divided by 1e9 (GB) instead of 2**30 (GiB)": one / 1e9,
                      "ATTN_QUADRATIC_COST": B * h * T * bpv / gib},
        "growth_when_T_doubles": {"ATTN_QUADRATIC_COST": 2.0},
        "all_layers_gib": {"you used 4 bytes per value (bfloat16 takes 2)": layers * ref.attention_score_memory(
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


# =============================================================================================== softmax over the keys


def _softmax_cases(rng: np.random.Generator, thorough: bool) -> list[dict]:
    """Kinds: plain rows, a full-shape mask, a broadcast (T, T) causal mask on 4-D scores, large scores, an
    upstream with a large per-row constant (analytic, not numeric)."""
    def case(kind, x, mask=None, offset=0.0):
        dP = rng.standard_normal(x.shape) + offset
        return {"kind": kind, "x": x, "mask": mask, "dP": dP}

    n = 2 if thorough else 1
    cases = []
    for k in range(n):
        r, c = (3, 5) if k == 0 else (4, 2)
        cases.append(case("plain", 2 * rng.standard_normal((r, c))))
        shape = (2, 4, 6) if k == 0 else (3, 2, 5)
        cases.append(case("mask", 2 * rng.standard_normal(shape), _random_mask(rng, shape)))
        T = 4 if k == 0 else 5
        cases.append(case("mask", 2 * rng.standard_normal((2, 2, T, T)), np.tril(np.ones((T, T), dtype=bool))))
        big = 1000.0 + 5 * rng.standard_normal((2, 5) if k == 0 else (3, 4))
        cases.append(case("large", big))
        cases.append(case("offset", 2 * rng.standard_normal((3, 6) if k == 0 else (2, 3, 4)), offset=OFFSET))
    return cases


def _softmax_forward_mistakes(x, mask) -> dict:
    out: dict[str, list] = {}
    if x.ndim >= 2 and x.shape[-2] > 1:
        full = None if mask is None else np.broadcast_to(mask, x.shape)
        if full is None or np.all(full.any(axis=-2)):
            out["ATTN_SOFTMAX_AXIS"] = [_softmax(x, full, axis=-2)]
    if mask is not None:
        out["ATTN_MASK_AFTER_SOFTMAX"] = [_softmax(x) * mask]
        out["ATTN_MASK_ZERO_SCORE"] = [_softmax(np.where(mask, x, 0.0))]
        out["ATTN_MASK_IGNORED"] = [_softmax(x)]
    return out


def _softmax_backward_mistakes(x, mask, dP, P) -> dict:
    out: dict[str, list] = {"MISSING_RANK_ONE": [P * dP], "DIAGONAL_ONLY": [P * (1 - P) * dP]}
    if x.ndim >= 2 and x.shape[-2] > 1:
        out["ATTN_SOFTMAX_AXIS"] = [P * (dP - np.sum(dP * P, axis=-2, keepdims=True))]
    if mask is not None:
        Pu = _softmax(x)
        out["ATTN_MASK_GRAD_LEAK"] = [_softmax_vjp(dP, Pu), np.where(mask, _softmax_vjp(dP, P), dP)]
    return out


_SOFTMAX_SUBS = {"plain": ("forward", "backward"), "mask": ("forward with a mask", "backward with a mask"),
                 "large": ("large scores (stable)", "large scores (stable)"),
                 "offset": ("forward", "analytic backward (upstream with a large constant part)")}
_MASKED_ZERO = "masked entries: weight and gradient exactly 0"


def check_softmax(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``softmax_forward(x, mask=None) -> (P, cache)`` and ``softmax_backward(dP, cache) -> dx``.

    The softmax runs over the LAST axis of x (any number of leading axes); ``mask`` is None or a boolean array
    broadcastable to x (True = keep): masked entries of P must be exactly 0 and the rest of each row sums to 1;
    their dx must be exactly 0 too. dx = P * (dP - sum(dP * P, axis=-1, keepdims=True)), without forming the
    Jacobian. Sub-checks: forward, forward with a mask, large scores (around 1e3: subtract the row maximum),
    backward, backward with a mask, masked entries exactly 0, analytic backward (dP with a large per-row constant,
    which the true dx ignores: finite differences fail it), inputs left unchanged. The student's backward always
    receives the cache of the student's forward for the same x.
    """
    require_callable(forward, "softmax_forward", 1)
    require_callable(backward, "softmax_backward", 2)
    rep = Report("softmax over the last axis with a mask", points, seed)
    for name in ("forward", "forward with a mask", "large scores (stable)", "backward", "backward with a mask",
                 _MASKED_ZERO, "analytic backward (upstream with a large constant part)"):
        rep.declare(name)
    rep.watch_inputs()
    seen: set[str] = set()  # which exact-zero checks ran ("P", "dx"): the sub-check is never credited unexamined
    _run_cases(rep, _softmax_cases(np.random.default_rng(seed), thorough),
               lambda c: _SOFTMAX_SUBS[c["kind"]] + ((_MASKED_ZERO,) if c["mask"] is not None else ()),
               lambda c: _softmax_case(rep, forward, backward, c, seen))
    if seen != {"P", "dx"} and rep.passed(_MASKED_ZERO):
        rep.fail(_MASKED_ZERO, "not checked: your functions never returned a usable P and dx for a masked input "
                               "(see the other messages).")
    return rep.finish()


def _softmax_case(rep: Report, forward, backward, case: dict, seen: set) -> None:
    x, mask, dP, kind = case["x"], case["mask"], case["dP"], case["kind"]
    fsub, bsub = _SOFTMAX_SUBS[kind]
    where = f"x {x.shape}" + ("" if mask is None else f", mask {mask.shape}") + {
        "large": ", scores around 1e3", "offset": f", dP with a constant {OFFSET:.0e} per row"}.get(kind, "")
    P_ref, _ = ref.softmax_forward(x, mask)
    dx_ref = ref.softmax_backward(dP, {"kind": "softmax", "P": P_ref})
    args = (x,) if mask is None else (x, mask)
    ok, res = _call(rep, forward, *args, label="softmax_forward", fail=(fsub, bsub), where=where)
    if not ok:
        return
    try:
        P, cache = unpack(res, ("P", "cache"), "softmax_forward")
    except StudentCodeError as exc:
        rep.fail(fsub, f"{where}: {exc}")
        rep.fail(bsub, f"{where}: not checked because softmax_forward did not return (P, cache).")
        return
    unstable = describe(diagnoses.get("SOFTMAX_UNSTABLE")) if kind == "large" else ""
    problem = array_problem(P, P_ref)
    forward_ok = problem is None
    if problem:
        if unstable and "non-finite" in problem:
            rep.fail(fsub, f"{where}: P {problem}{unstable}")
        else:
            _grade(rep, fsub, where, "P", P, P_ref, _softmax_forward_mistakes(x, mask), generic=False)
    elif mask is not None:
        seen.add("P")
        full = np.broadcast_to(mask, x.shape)
        leaked = np.abs(np.asarray(P)[~full])
        if leaked.size and np.max(leaked) != 0.0:
            rep.fail(_MASKED_ZERO, f"{where}: masked weights must be exactly 0, the largest is {np.max(leaked):.3g}: "
                                   f"fill masked scores with -np.inf (np.where) or a number so negative that exp "
                                   f"underflows to 0 (-1e9), not a moderate one.")
    ok, dx = _call(rep, backward, dP, cache, label="softmax_backward", fail=(bsub,), where=where)
    if not ok:
        return
    note = "" if forward_ok else "\n      (your forward is wrong on this input: fix softmax_forward first)"
    problem = array_problem(dx, dx_ref)
    if kind == "offset":
        _grade_analytic(rep, bsub, where, "dx", dx, dx_ref, _softmax_backward_mistakes(x, mask, dP, P_ref))
        return
    if problem and unstable and "non-finite" in problem:
        rep.fail(bsub, f"{where}: dx {problem}{unstable}")
        return
    _grade(rep, bsub, where, "dx", dx, dx_ref, _softmax_backward_mistakes(x, mask, dP, P_ref), extra=note)
    if mask is not None and (problem is None or problem.startswith("values differ")):
        seen.add("dx")
        full = np.broadcast_to(mask, x.shape)
        vals = np.abs(np.asarray(dx, dtype=np.float64)[~full])
        if vals.size and np.max(vals) != 0.0:
            rep.fail(_MASKED_ZERO, f"{where}: dx at masked entries must be exactly 0, the largest is "
                                   f"{np.max(vals):.3g}.{describe(diagnoses.get('ATTN_MASK_GRAD_LEAK'))}")


# =============================================================================================== masks


def check_masks(causal_mask, padding_mask, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``causal_mask(T) -> (T, T) bool`` (mask[i, j] = j <= i: query i sees itself and the past) and
    ``padding_mask(lengths, T) -> (B, 1, T) bool`` (mask[b, 0, j] = j < lengths[b], broadcasting over the
    queries). One sub-check each, plus inputs left unchanged (lengths)."""
    require_callable(causal_mask, "causal_mask", 1)
    require_callable(padding_mask, "padding_mask", 2)
    rep = Report("causal and padding masks", points, seed)
    rep.declare("causal_mask")
    rep.declare("padding_mask")
    rep.watch_inputs()
    rng = np.random.default_rng(seed)
    Ts = [1, 4, 6] + ([3, 9] if thorough else [])
    pads = [(np.array([3, 1, 4]), 4), (np.array([2, 5]), 5)] + (
        [(rng.integers(1, 8, size=4), 7), (np.array([1]), 1)] if thorough else [])
    def stopped(examined):
        for name in ("causal_mask", "padding_mask"):
            if name not in examined and rep.passed(name):
                rep.fail(name, "not checked: your code timed out on an earlier case (see above).")

    examined = {"causal_mask"}
    try:
        for T in Ts:
            want = ref.causal_mask(T)
            ok, got = _call(rep, causal_mask, T, label=f"causal_mask({T})", fail=("causal_mask",), where=f"T={T}",
                            watch=False)
            if ok:
                msg = _mask_problem(got, want)
                if msg is None:
                    continue
                if msg == "values" and isinstance(got, np.ndarray) and T > 1:
                    g = np.asarray(got)
                    if np.array_equal(g, want.T):
                        msg = "this is the transpose: query i sees keys j >= i (the future). Keep j <= i (np.tril)."
                    elif np.array_equal(g, ~want):
                        msg = "True must mean KEEP (j <= i), False the masked (future) keys: the mask is inverted."
                    elif np.array_equal(g, np.tril(np.ones((T, T), bool), -1)):
                        msg = "the diagonal is missing: query i may attend to itself (row 0 would be empty)."
                    else:
                        msg = f"wrong entries; expected mask[i, j] = (j <= i), e.g. row 1 = {want[1].tolist()}."
                elif msg == "values":
                    msg = f"wrong entries; expected {want.tolist()}."
                rep.fail("causal_mask", f"T={T}: {msg}")
        examined.add("padding_mask")
        for lengths, T in pads:
            want = ref.padding_mask(lengths, T)
            where = f"lengths={lengths.tolist()}, T={T}"
            ok, got = _call(rep, padding_mask, lengths, T, label="padding_mask", fail=("padding_mask",), where=where)
            if ok:
                msg = _mask_problem(got, want)
                if msg is None:
                    continue
                g = np.asarray(got) if isinstance(got, np.ndarray) else None
                if g is not None and g.shape == want.shape[::2] and np.array_equal(g, want[:, 0]):
                    msg = (f"shape {g.shape}, expected {want.shape}: add the middle axis of size 1 (mask[:, None, :]) "
                           f"so the mask broadcasts over the queries of (B, Tq, T) scores.")
                elif msg == "values" and g is not None and np.array_equal(g, ~want):
                    msg = "True must mean KEEP (a real token), False padding: the mask is inverted."
                elif msg == "values":
                    msg = (f"wrong entries; expected mask[b, 0, j] = (j < lengths[b]), here "
                           f"{want[:, 0].astype(int).tolist()}.")
                elif msg == "shape":
                    msg = f"shape {g.shape}, expected {want.shape}."
                rep.fail("padding_mask", f"{where}: {msg}")
    except _Stop:
        stopped(examined)
    return rep.finish()


def _mask_problem(got, want: np.ndarray) -> str | None:
    if got is None:
        return "got None: the function has no `return`."
    if not isinstance(got, np.ndarray):
        return f"expected a NumPy boolean array of shape {want.shape}, got {type(got).__name__} ({brief(got)})."
    if got.dtype != np.bool_:
        return (f"dtype {got.dtype}, expected bool (True = keep): a float 0/1 mask is easy to misuse as a "
                f"multiplier; build it with comparisons (e.g. np.tril(np.ones((T, T), dtype=bool))).")
    if got.shape != want.shape:
        if got.ndim == 2 and want.ndim == 3:
            return "shape"
        return f"shape {got.shape}, expected {want.shape}."
    if not np.array_equal(got, want):
        return "values"
    return None


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
        cases.append({"kind": "causal", "Q": Q, "K": K, "V": V, "mask": ref.causal_mask(Tcausal)})
        Tp = max(lengths) + 1
        Q, K, V = _attn_inputs(rng, Bp, Tp, Tp, 3, 2)
        cases.append({"kind": "padding", "Q": Q, "K": K, "V": V, "mask": ref.padding_mask(np.array(lengths), Tp)})
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
    want, _ = ref.scaled_dot_product_attention_forward(*args)
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
    _, cache = ref.scaled_dot_product_attention_forward(Q, K, V, mask)
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
    want_out, ref_cache = ref.scaled_dot_product_attention_forward(*args)
    want = ref.scaled_dot_product_attention_backward(c["dout"], ref_cache)
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
            want = ref.split_heads(X, h)
            examined.add("split_heads")
            ok, got = _call(rep, split_heads, X, h, label="split_heads", fail=("split_heads",), where=where)
            if ok:
                _grade(rep, "split_heads", where, "split_heads(X)", got, want,
                       {"ATTN_HEADS_RESHAPE": [X.reshape(B, h, T, D // h)]}, generic=False)
            Xh = rng.standard_normal((B, h, T, D // h))
            want = ref.merge_heads(Xh)
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
    _, cache = ref.multihead_attention_forward(X, *Ws, h, mask)
    dA = ref.split_heads(dout @ Wo.T, h)
    dQh, dKh, dVh = ref.scaled_dot_product_attention_backward(dA, cache["attention"])
    dQ, dK, dV = ref.merge_heads(dQh), ref.merge_heads(dKh), ref.merge_heads(dVh)
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
            mask = ref.causal_mask(T)
        elif kind == "padding":
            lengths = rng.integers(1, T + 1, size=B)
            lengths[0] = T - 1 if T > 1 else 1
            mask = ref.padding_mask(lengths, T)
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
    want_out, ref_cache = ref.multihead_attention_forward(*args)
    want = ref.multihead_attention_backward(dout, ref_cache)
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
