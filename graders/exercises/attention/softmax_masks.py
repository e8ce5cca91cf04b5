"""The softmax over the keys with a mask (forward, and backward without the Jacobian) and the causal and
padding masks of notebook 10, compared with reference_impl.attention. Softmax cases by kind: plain rows, a
full-shape mask, a broadcast causal mask on 4-D scores, large scores, an upstream with a large per-row
constant (analytic, not numeric); masked entries must get a weight and a gradient of exactly 0.
"""

from __future__ import annotations

import numpy as np

from graders import diagnoses
from graders.core import (Report, StudentCodeError, array_problem, brief, describe, require_callable, unpack)
from graders.exercises.attention.grading import (OFFSET, _call, _grade, _grade_analytic, _random_mask, _run_cases,
                                                 _softmax, _softmax_vjp, _Stop)
from reference_impl import attention as _ref


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
    P_ref, _ = _ref.softmax_forward(x, mask)
    dx_ref = _ref.softmax_backward(dP, {"kind": "softmax", "P": P_ref})
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
            want = _ref.causal_mask(T)
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
            want = _ref.padding_mask(lengths, T)
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
