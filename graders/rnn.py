"""Checks for the BPTT notebook (06): a vanilla tanh RNN step, the unrolled forward, full and truncated
backpropagation through time, gradient clipping, and the gradient norm against time lag.

Student contract (the same as ``reference_impl.rnn``; N sequences, T steps, D inputs, H hidden units)::

    next_h, cache = rnn_step_forward(x (N,D), h_prev (N,H), Wx (D,H), Wh (H,H), b (H,))
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(dnext_h (N,H), cache)
    h, cache = rnn_forward(x (N,T,D), h0 (N,H), Wx, Wh, b)          # h (N,T,H): the T new states, not h0
    dx, dh0, dWx, dWh, db = rnn_backward(dh (N,T,H), cache, truncate=None)
    new_grads, total_norm = clip_grad_norm(grads: dict[str, ndarray], max_norm)
    norms = gradient_norms_by_lag(x, h0, Wx, Wh, b, g)                # (T+1,)

with ``h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b)`` and ``h[:, -1] = h0``. ``truncate=k`` accepts either
scheme of reference_impl.rnn.rnn_backward: TBPTT(1, k), where the upstream gradient dh[:, t] flows back through
at most k steps (t, ..., t-k+1; what would reach h[:, t-k] is dropped, except that it reaches h0 when
t-k+1 <= 0), or TBPTT(k, k), where the state is detached every k steps (k >= T is full BPTT in both).
``clip_grad_norm`` scales every array by max_norm / (total_norm + 1e-6) when the global L2 norm total_norm >
max_norm (without the 1e-6 is accepted too), returns a NEW dict and never modifies its argument; total_norm is
measured before clipping.
``gradient_norms_by_lag``: for the loss L = sum(g * h[:, T-1]), norms[k] = ||dL/dh[:, T-1-k]|| (Frobenius
over N and H) for k = 0..T-1 and norms[T] = ||dL/dh0||.

The backward checks pass the cache returned by the student's own forward, unchanged, to the student's
backward (the grader never reads it), with a random upstream gradient. Order and messages follow
graders/layers.py; the student's gradients are also compared with finite differences of the student's OWN
forward (for truncation: of the student's forward run on each window, with the state before the window held
constant), to tell a wrong forward from a wrong backward. ``thorough=True`` (hidden tests) adds a batch of one,
T = 1, square and larger shapes, T equal to the truncation length, and extreme clipping inputs.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import numpy as np

from graders.batchnorm import own_forward_vjps
from graders.batchnorm import check_pair as _check_pair
from graders.batchnorm import grade_pair_case as _grade_pair_case
from graders.remote import catalogue
from graders.core import (GradingError, Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          close, describe, diagnose, require_callable, unpack)
from graders import diagnoses
from graders.layers import Case, LayerSpec
from reference_impl import rnn as _ref

__all__ = ["check_rnn_step", "check_rnn_forward", "check_rnn_backward", "check_clip_grad_norm",
           "check_gradient_norm_vs_lag"]

STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")
CLIP_TOL = 1e-5  # accepts max_norm / total_norm as well as max_norm / (total_norm + 1e-6)


# =============================================================================================== inputs


def _params(rng: np.random.Generator, D: int, H: int, wh_scale: float = 0.9):
    """Wx (D,H), Wh (H,H), b (H,) scaled by 1/sqrt(fan_in): tanh stays out of saturation."""
    return (0.8 * rng.standard_normal((D, H)) / np.sqrt(D), wh_scale * rng.standard_normal((H, H)) / np.sqrt(H),
            0.1 * rng.standard_normal(H))


def _spectral(rng: np.random.Generator, H: int, rho: float) -> np.ndarray:
    """A non-symmetric, non-orthogonal (H, H) matrix with spectral radius rho (Wh and Wh.T give different norms)."""
    A = rng.standard_normal((H, H)) + 0.5 * np.diag(rng.uniform(0.5, 1.5, H))
    return rho * A / np.max(np.abs(np.linalg.eigvals(A)))


# =============================================================================================== one step


def _step_cases(rng: np.random.Generator, thorough: bool) -> list[Case]:
    """Shapes (N, D, H): ordinary, a batch of one, D = H (x @ Wx.T has the right shape), one input feature."""
    shapes = [(4, 3, 5), (1, 2, 4), (4, 4, 4), (5, 1, 3)] + ([(2, 5, 3), (1, 3, 2), (6, 3, 3), (3, 1, 1)]
                                                            if thorough else [])
    cases = []
    for N, D, H in shapes:
        x, h_prev = rng.standard_normal((N, D)), rng.uniform(-0.9, 0.9, (N, H))
        Wx, Wh, b = _params(rng, D, H)
        cases.append(Case(f"x {(N, D)}, h_prev {(N, H)}", (x, h_prev, Wx, Wh, b), rng.standard_normal((N, H)),
                          (0, 1, 2, 3, 4), N))
    return cases


def _step_forward_mistakes(case: Case) -> dict[str, np.ndarray]:
    x, h_prev, Wx, Wh, b = case.args
    return {"MISSING_TRANSPOSE": np.tanh(x @ Wx + h_prev @ Wh.T + b)}


def _step_grads(case: Case, da: np.ndarray, carry_T: bool = True, dWh_T: bool = False) -> dict[str, np.ndarray]:
    x, h_prev, Wx, Wh, b = case.args
    return {"dx": da @ Wx.T, "dh_prev": da @ (Wh.T if carry_T else Wh),
            "dWx": x.T @ da, "dWh": (da.T @ h_prev) if dWh_T else h_prev.T @ da, "db": da.sum(axis=0)}


def _step_backward_mistakes(case: Case, grads: tuple) -> dict[str, dict[str, list[np.ndarray]]]:
    x, h_prev, Wx, Wh, b = case.args
    d = case.dout
    a = x @ Wx + h_prev @ Wh + b
    t = np.tanh(a)
    wrong_da = [d * (1 - t), d * (1 - a ** 2), d * (1 + t ** 2), d.copy(), d * (1 - h_prev ** 2)]
    out: dict[str, dict[str, list[np.ndarray]]] = {g: {"TANH_DERIVATIVE": []} for g in STEP_GRADS}
    for da in wrong_da:
        for g, v in _step_grads(case, da).items():
            out[g]["TANH_DERIVATIVE"].append(v)
    right = d * (1 - t ** 2)
    out["dh_prev"]["MISSING_TRANSPOSE"] = [_step_grads(case, right, carry_T=False)["dh_prev"]]
    out["dWh"]["MISSING_TRANSPOSE"] = [_step_grads(case, right, dWh_T=True)["dWh"]]
    out["db"].update({"BIAS_SUM_AXIS": [right.sum(axis=1)], "BIAS_KEEPDIMS": [right.sum(axis=0, keepdims=True)]})
    return out


_RNN_STEP = LayerSpec("rnn_step", STEP_GRADS, _ref.rnn_step_forward, _ref.rnn_step_backward, _step_cases,
                     _step_forward_mistakes, _step_backward_mistakes, n_forward_args=5)


def check_rnn_step(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``rnn_step_forward(x (N,D), h_prev (N,H), Wx (D,H), Wh (H,H), b (H,)) -> (next_h (N,H), cache)``
    with next_h = tanh(x @ Wx + h_prev @ Wh + b), and ``rnn_step_backward(dnext_h, cache) -> (dx, dh_prev, dWx,
    dWh, db)``. The backward receives the student's own cache. Sub-checks: forward output, one per gradient, inputs
    left unchanged."""
    return _check_pair(_RNN_STEP, forward, backward, seed=seed, points=points, thorough=thorough)


# =============================================================================================== sequence forward


def _seq_case(rng: np.random.Generator, N: int, T: int, D: int, H: int, wh_scale: float = 0.9) -> Case:
    x, h0 = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H))
    Wx, Wh, b = _params(rng, D, H, wh_scale)
    return Case(f"x {(N, T, D)}, h0 {(N, H)}", (x, h0, Wx, Wh, b), rng.standard_normal((N, T, H)),
                (0, 1, 2, 3, 4), N, {"T": T})


_SEVERAL, _ONE, _SATURATED = ("h (several steps)", "h (a batch of one, a single step)",
                              "h (large recurrent weights: tanh saturates)")


def _forward_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[str, Case]]:
    """(kind, case): several steps (D = H among them), N = 1 with T = 1, and a recurrent matrix large enough to
    saturate tanh; the hidden test has more of each."""
    specs = [(_SEVERAL, (2, 5, 3, 4)), (_SEVERAL, (4, 5, 5, 5)), (_ONE, (1, 1, 3, 2)), (_SATURATED, (2, 6, 3, 4, 2.0))]
    if thorough:
        specs += [(_SEVERAL, (3, 4, 2, 5)), (_SEVERAL, (4, 7, 5, 5)), (_ONE, (1, 1, 4, 3)),
                  (_SATURATED, (3, 8, 2, 3, 3.0))]
    return [(kind, _seq_case(rng, *spec)) for kind, spec in specs]


def _forward_mistakes(case: Case) -> dict[str, list[np.ndarray]]:
    x, h0, Wx, Wh, b = case.args
    N, T, _ = x.shape
    h_ref = _ref.rnn_forward(x, h0, Wx, Wh, b)[0]
    no_carry = np.tanh(x @ Wx + (h0 @ Wh)[:, None, :] + b)
    shifted = np.concatenate([h0[:, None, :], h_ref[:, :-1]], axis=1)
    with_h0 = np.concatenate([h0[:, None, :], h_ref], axis=1)
    transposed = _ref.rnn_forward(x, h0, Wx, Wh.T, b)[0]
    return {"RNN_RECURRENCE": [no_carry, shifted], "RNN_H0_INCLUDED": [with_h0], "MISSING_TRANSPOSE": [transposed]}


def _h_problem_hint(h: Any, case: Case) -> str:
    """Extra words for a wrong layout of h."""
    x, h0 = case.args[:2]
    N, T, _ = x.shape
    H = h0.shape[1]
    shape = getattr(h, "shape", None)
    if shape == (T, N, H) and T != N:
        return ("\n      h looks time-major (T, N, H): this course is batch-major, h[:, t] is step t, shape (N, T, H) "
                "(np.stack(states, axis=1), or fill h[:, t] = ...).")
    return ""


def _h0_included(h: Any, case: Case) -> str:
    """RNN_H0_INCLUDED for T + 1 states (h0 first, or an extra state), when no candidate named it already."""
    x, h0 = case.args[:2]
    N, T, _ = x.shape
    if getattr(h, "shape", None) == (N, T + 1, h0.shape[1]):
        return describe(diagnoses.get("RNN_H0_INCLUDED"))
    return ""


def check_rnn_forward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``rnn_forward(x (N,T,D), h0 (N,H), Wx (D,H), Wh (H,H), b (H,)) -> (h (N,T,H), cache)`` where
    h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b), h[:, -1] = h0; h holds the T new states (not h0: T + 1
    states are named RNN_H0_INCLUDED). Sub-checks: h on several steps, on a batch of one with a single step, with
    saturating recurrent weights; inputs left unchanged."""
    require_callable(fn, "rnn_forward", 5)
    report = Report("rnn forward", points, seed)
    for kind in (_SEVERAL, _ONE, _SATURATED):
        report.declare(kind)
    report.watch_inputs()
    for kind, case in _forward_cases(np.random.default_rng(seed), thorough):
        where = f"case {case.label}"
        want = _ref.rnn_forward(*case.args)[0]
        try:
            h, _ = unpack(call_student(fn, *case.args, label="rnn_forward", notes=report.notes, report=report),
                          ("h", "cache"), "rnn_forward")
        except StudentCodeError as exc:
            report.fail(kind, f"{where}: {exc}")
            if isinstance(exc, StudentTimeout):
                break
            continue
        problem = array_problem(h, want)
        if problem:
            diag = describe(diagnose(h, want, _forward_mistakes(case), generic=False)) or _h0_included(h, case)
            report.fail(kind, f"{where}: h {problem}{diag}{_h_problem_hint(h, case)}")
    return report.finish()


# =============================================================================================== BPTT


def _bptt(x, h0, Wx, Wh, h, dh, *, k=None, segment=None, deriv="ok", carry_T=True, weights_from=None,
          dWh_T=False) -> tuple[np.ndarray, ...]:
    """BPTT (as reference_impl.rnn.rnn_backward) with one of the classic mistakes optionally built in.

    k: truncation window per loss term (None = full); segment: cut the gradient every ``segment`` steps counted
    from the start instead; deriv: "ok" (1 - h**2), "one_minus_h", "plus", "none", "prev" (uses h[:, t-1]);
    carry_T False: carry through Wh instead of Wh.T; weights_from "first"/"last": weight gradients of one step
    only; dWh_T: dWh transposed.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    kk = T if k is None else k
    Wc = Wh.T if carry_T else Wh
    dx = np.zeros_like(x)
    da_all = np.zeros((N, T, H))
    carries = np.zeros((0, N, H))
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        carries = np.concatenate([dh[None, :, t], carries[: kk - 1]])
        local = {"ok": 1 - h[:, t] ** 2, "one_minus_h": 1 - h[:, t], "plus": 1 + h[:, t] ** 2,
                 "none": np.ones_like(h[:, t]), "prev": 1 - h_prev ** 2}[deriv]
        da = carries.sum(axis=0) * local
        da_all[:, t] = da
        dx[:, t] = da @ Wx.T
        carries = (carries * local) @ Wc
        if segment is not None and t > 0 and t % segment == 0:
            carries = np.zeros((0, N, H))
    steps = {"first": [0], "last": [T - 1]}.get(weights_from, range(T))
    prevs = [h[:, t - 1] if t > 0 else h0 for t in range(T)]
    dWx = sum(x[:, t].T @ da_all[:, t] for t in steps)
    dWh = sum((da_all[:, t].T @ prevs[t]) if dWh_T else prevs[t].T @ da_all[:, t] for t in steps)
    db = sum(da_all[:, t].sum(axis=0) for t in steps)
    dh0 = carries.sum(axis=0) if len(carries) else np.zeros_like(h0)
    return dx, dh0, dWx, dWh, db


def _bptt_mistakes(case: Case, k: int | None, scheme: str = "sliding") -> dict[str, dict[str, list[np.ndarray]]]:
    x, h0, Wx, Wh, b = case.args
    h = _ref.rnn_forward(x, h0, Wx, Wh, b)[0]
    T = x.shape[1]
    base = (x, h0, Wx, Wh, h, case.dout)
    # the truncation as the student's scheme does it: a window per loss term, or a cut every k steps
    cut = (lambda j: {"segment": j}) if scheme == "chunked" and k is not None else (lambda j: {"k": j})
    variants: list[tuple[str, dict, Sequence[str]]] = []
    if k is not None:
        variants += [("TRUNCATION_OFF_BY_ONE", cut(k + 1), SEQ_GRADS)]
        if k >= 2:
            variants += [("TRUNCATION_OFF_BY_ONE", cut(k - 1), SEQ_GRADS)]
    variants += [("BPTT_NO_CARRY", {"k": 1}, SEQ_GRADS)]
    for which in ("first", "last"):
        variants += [("BPTT_NO_TIME_SUM", {**cut(k), "weights_from": which}, ("dWx", "dWh", "db"))]
    for deriv in ("one_minus_h", "plus", "none", "prev"):
        variants += [("TANH_DERIVATIVE", {**cut(k), "deriv": deriv}, SEQ_GRADS)]
    variants += [("MISSING_TRANSPOSE", {**cut(k), "carry_T": False}, SEQ_GRADS),
                 ("MISSING_TRANSPOSE", {**cut(k), "dWh_T": True}, ("dWh",))]
    out: dict[str, dict[str, list[np.ndarray]]] = {g: {} for g in SEQ_GRADS}
    for code, kw, names in variants:
        if T == 1 and kw.get("weights_from"):
            continue
        grads = dict(zip(SEQ_GRADS, _bptt(*base, **kw)))
        for g in names:
            out[g].setdefault(code, []).append(grads[g])
    right_db = _bptt(*base, **cut(k))[4]
    out["db"]["BIAS_KEEPDIMS"] = [right_db[None, :]]
    return out


def _backward_cases(rng: np.random.Generator, thorough: bool, k: int | None) -> list[Case]:
    """Full BPTT: several steps, T = 1, a batch of one, D = H. Truncated: T longer than k (by a little and by more
    than k), T = k (truncation changes nothing), a batch of one."""
    if k is None:
        specs = [(2, 5, 3, 4), (1, 1, 3, 2), (1, 6, 4, 3), (3, 4, 4, 4)]
        if thorough:
            specs += [(3, 4, 2, 5), (2, 1, 2, 3), (1, 7, 3, 2), (4, 8, 5, 5)]
    else:
        specs = [(2, k + 3, 3, 4), (1, k, 3, 2), (2, 2 * k + 3, 3, 3)]
        if thorough:
            specs += [(3, k + 4, 2, 5), (1, k + 1, 4, 3), (2, k, 2, 2), (1, 2 * k + 1, 2, 3)]
    return [_seq_case(rng, *s) for s in specs]


def _windowed_vjps(forward: Callable, case: Case, k: int, scheme: str = "sliding") -> dict[int, np.ndarray]:
    """Finite-difference truncated gradients of the student's OWN forward, computed where the forward runs
    (graders.remote.catalogue "windowed_vjps"): the loss term at t is computed by the student's forward run from a
    start s to t, beginning at the state h[:, s-1] of the unperturbed forward (a constant), or at h0 (a variable)
    when s = 0. Sliding (TBPTT(1, k)): s = max(t-k+1, 0); chunked (TBPTT(k, k)): s = (t // k) * k."""
    result = call_student(catalogue.item("windowed_vjps"), forward, tuple(case.args), case.dout, int(k), scheme,
                          label="finite differences of your forward")
    return result if isinstance(result, dict) else {}


def _require_truncate_keyword(fn: Callable, name: str) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(0, 0, truncate=1)
    except TypeError:
        raise GradingError(f"{name}: it must accept a keyword argument truncate (None or an int k >= 1); its "
                           f"signature is {getattr(fn, '__name__', name)}{sig}. Expected: "
                           f"{name}(dh, cache, truncate=None).") from None


SCHEME_NAMES = {
    "sliding": "TBPTT(1, {k}), a sliding window: every loss term sends its gradient back through {k} steps",
    "chunked": "TBPTT({k}, {k}), detaching the state every {k} steps: a loss term's gradient stops at the start "
               "of its chunk",
}


def check_rnn_backward(forward, backward, *, truncate: int | None = None, seed: int = 0,
                       points: float | None = None, thorough: bool = False):
    """Grade ``rnn_forward(x (N,T,D), h0 (N,H), Wx, Wh, b) -> (h (N,T,H), cache)`` and
    ``rnn_backward(dh (N,T,H), cache[, truncate=k]) -> (dx (N,T,D), dh0 (N,H), dWx (D,H), dWh (H,H), db (H,))``.

    truncate=None: full BPTT, the backward is called as backward(dh, cache). truncate=k: called as
    backward(dh, cache, truncate=k), and either truncation scheme of ``reference_impl.rnn.rnn_backward`` is
    accepted and named in the output: TBPTT(1, k) (sliding: dh[:, t] flows back through t, ..., t-k+1,
    reaching h0 when t-k+1 <= 0) or TBPTT(k, k) (chunked: the state is detached at t = k, 2k, ..., so dh[:, t]
    flows back to the start of its chunk). The answer is graded against the scheme it matches better (more
    sub-checks passed, then more mistakes recognised; the sliding window on a tie). The backward receives the
    student's own cache; dh is random. Sub-checks (weight 1 each): forward h, backward dx, dh0, dWx, dWh, db;
    inputs left unchanged (the forward's arguments, the backward's dh and cache).
    """
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, (int, np.integer))
                                 or truncate < 1):
        raise ValueError(f"truncate must be None or an int >= 1, got {truncate!r}")
    k = None if truncate is None else int(truncate)
    require_callable(forward, "rnn_forward", 5)
    require_callable(backward, "rnn_backward", 2)
    if k is not None:
        _require_truncate_keyword(backward, "rnn_backward")
    title = "rnn backward (full BPTT)" if k is None else f"rnn backward (truncate={k})"
    reports = []
    for scheme in (("sliding",) if k is None else ("sliding", "chunked")):
        report = Report(title, points, seed)
        report.declare("forward h")
        for g in SEQ_GRADS:
            report.declare(f"backward {g}")
        report.watch_inputs()
        for case in _backward_cases(np.random.default_rng(seed), thorough, k):
            ref_h, ref_cache = _ref.rnn_forward(*case.args)
            ref_grads = _ref.rnn_backward(case.dout, ref_cache, truncate=k, scheme=scheme)
            T = case.info["T"]
            if k is None or k >= T:
                own = lambda case=case: own_forward_vjps(forward, case.args, case.wrt, case.dout)
            else:
                own = lambda case=case, scheme=scheme: _windowed_vjps(forward, case, k, scheme)
            where = f"case {case.label}" + ("" if k is None else f", truncate={k}")
            ok = _grade_pair_case(
                report, where=where, forward=forward, backward=backward, fwd_args=case.args, dout=case.dout,
                ref_out=ref_h, ref_grads=ref_grads, grad_names=SEQ_GRADS, fwd_label="rnn_forward",
                bwd_label="rnn_backward", fwd_check="forward h", out_name="h",
                bwd_kwargs=None if k is None else {"truncate": k}, fwd_mistakes=_forward_mistakes(case),
                bwd_mistakes=_bptt_mistakes(case, k, scheme), batch_size=case.batch_size, own_vjps=own)
            if not ok:
                break
        reports.append((scheme, report))
        if report.fraction == 1.0:
            break
    # the scheme the answer matches better: more sub-checks passed, then more mistakes recognised (max keeps the
    # first, the sliding window, on a full tie)
    scheme, report = max(reports, key=lambda r: (r[1].fraction, r[1].failure_text().count("Likely mistake")))
    if k is not None:
        other = "chunked" if scheme == "sliding" else "sliding"
        report.notes.append(f"checked as {SCHEME_NAMES[scheme].format(k=k)}; {SCHEME_NAMES[other].format(k=k)}, "
                            f"is accepted too.")
    return report.finish()


# =============================================================================================== clipping


def _scaled(rng: np.random.Generator, shape: tuple, norm: float) -> np.ndarray:
    g = rng.standard_normal(shape)
    return g * (norm / np.linalg.norm(g)) if norm else np.zeros(shape)


def _clip_cases(rng: np.random.Generator, thorough: bool) -> list[tuple[str, dict, float]]:
    """(label, grads, max_norm). Per-tensor norms straddle max_norm so that per-tensor clipping shows; also a
    single tensor far above, huge entries (1e100), all zeros, and a 0-d array."""
    cases = [
        ("above", {"W1": _scaled(rng, (3, 4), 3.0), "b1": _scaled(rng, (4,), 0.5), "W2": _scaled(rng, (4, 2), 4.0)},
         2.0),
        ("below", {"W": _scaled(rng, (2, 3), 0.6), "b": _scaled(rng, (3,), 0.3)}, 5.0),
        ("above", {"a": 1e100 * rng.standard_normal((3, 2)), "b": 1e99 * rng.standard_normal(3)}, 1.0),
        ("below", {"W": np.zeros((2, 2)), "b": np.zeros(2)}, 1.0),
        ("below", {"s": np.array(0.3), "v": _scaled(rng, (6,), 2.0)}, 2.5),
    ]
    if thorough:
        cases += [
            ("above", {"Wx": _scaled(rng, (3, 5), 10.0), "Wh": _scaled(rng, (5, 5), 1.0), "b": _scaled(rng, (5,), 0.1)},
             1.5),
            ("above", {"W": _scaled(rng, (4, 4), 50.0)}, 1.0),
            ("above", {"a": 1e90 * rng.standard_normal(4), "s": np.array(-2e90)}, 3.0),
            ("below", {"W": np.zeros((3,)), "b": _scaled(rng, (2,), 0.5)}, 1.0),
        ]
    return cases


def _clip_variant(grads: dict, max_norm: float, how: str) -> dict[str, np.ndarray]:
    if how == "per_tensor":
        out = {}
        for k, g in grads.items():
            n = np.linalg.norm(g)
            out[k] = g * (max_norm / (n + 1e-6)) if n > max_norm else g.copy()
        return out
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    return {k: g * (max_norm / (total + 1e-6)) for k, g in grads.items()}  # "always"


def _dict_matches(got: Any, want: dict, tol: float) -> bool:
    return isinstance(got, dict) and got.keys() == want.keys() and all(
        array_problem(got[k], want[k], tol=tol) is None for k in want)


def _dict_problem(got: Any, want: dict, label: str) -> str | None:
    if not isinstance(got, dict):
        return (f"{label}: new_grads must be a dict (name -> array) like the input, got {type(got).__name__}.")
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing or extra:
        return (f"{label}: new_grads must have exactly the input's keys {list(want)}"
                + (f"; missing {missing}" if missing else "") + (f"; unexpected {extra}" if extra else "") + ".")
    for k in want:
        p = array_problem(got[k], want[k], tol=CLIP_TOL)
        if p:
            return f"{label}[{k!r}] {p}"
    return None


def check_clip_grad_norm(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``clip_grad_norm(grads: dict[str, ndarray], max_norm: float) -> (new_grads: dict, total_norm: float)``.

    total_norm = sqrt(sum over all arrays of sum(g**2)), measured before clipping; when total_norm > max_norm
    every array is multiplied by the SAME factor max_norm / (total_norm + 1e-6) (max_norm / total_norm is
    accepted too), otherwise new_grads holds unchanged copies. new_grads is a new dict with the same keys and
    shapes (float64); the argument is not modified. Sub-checks (weight 1 each): clipped gradients, total_norm,
    unchanged below max_norm; and the course-wide "inputs left unchanged" (25 %, INPUT_MUTATED: an entry scaled
    in place, replaced, added or deleted), the same rule as notebook 08's clip_grad_norm. Returning the input's
    own arrays is only noted.
    """
    require_callable(fn, "clip_grad_norm", 2)
    report = Report("clip_grad_norm", points, seed)
    for s in ("clipped gradients", "total_norm", "unchanged below max_norm"):
        report.declare(s)
    report.watch_inputs()
    for kind, grads, max_norm in _clip_cases(np.random.default_rng(seed), thorough):
        want, want_norm = _ref.clip_grad_norm(grads, max_norm)
        where = f"case {', '.join(f'{k} {np.shape(g)}' for k, g in grads.items())}, max_norm={max_norm:g} " \
                f"(total norm {want_norm:.4g}, {kind} max_norm)"
        sub = "clipped gradients" if kind == "above" else "unchanged below max_norm"
        left: dict[str, Any] = {}   # whether the result aliases the argument
        try:
            res = call_student(fn, grads, max_norm, label="clip_grad_norm", notes=report.notes, after=left,
                               report=report)
            new, total = unpack(res, ("new_grads", "total_norm"), "clip_grad_norm")
        except StudentCodeError as exc:
            report.fail(sub, f"{where}: {exc}")
            report.fail("total_norm", f"{where}: not checked because clip_grad_norm failed.")
            if isinstance(exc, StudentTimeout):
                break
            continue
        if isinstance(new, dict) and left.get("aliased") and report.passed("inputs left unchanged"):
            report.notes.append("clip_grad_norm returned the input dict or its arrays themselves; return new "
                                "arrays (e.g. g.copy()) so that later in-place updates cannot change the caller's "
                                "gradients.")
        problem = _dict_problem(new, want, "new_grads")
        if problem:
            diag = None
            if kind == "above":
                per = _clip_variant(grads, max_norm, "per_tensor")
                if not _dict_matches(per, want, CLIP_TOL) and _dict_matches(new, per, CLIP_TOL):
                    diag = diagnoses.get("CLIP_PER_TENSOR")
            else:
                always = _clip_variant(grads, max_norm, "always")
                if not _dict_matches(always, want, CLIP_TOL) and _dict_matches(new, always, CLIP_TOL):
                    diag = diagnoses.get("CLIP_ALWAYS")
            report.fail(sub, f"{where}: {problem}{describe(diag)}")
        nproblem = _number_problem(total, want_norm)
        if nproblem:
            after = min(want_norm, max_norm)
            cands = {"CLIP_NORM_AFTER": [after, max_norm * want_norm / (want_norm + 1e-6)]}
            diag = diagnose(np.float64(total) if isinstance(total, (int, float, np.number)) else total,
                            np.float64(want_norm), cands, generic=False, tol=1e-6)
            hint = ""
            if isinstance(total, (int, float, np.number)) and not isinstance(total, bool) and \
                    close(total, np.float64(want_norm) ** 2, 1e-7) and want_norm not in (0.0, 1.0):
                hint = "\n      That is the SQUARED norm: take np.sqrt of the sum of squares."
            report.fail("total_norm", f"{where}: total_norm {nproblem}{describe(diag)}{hint}")
    return report.finish()


def _number_problem(got: Any, expected: float) -> str | None:
    """array_problem for one number: a Python float or int, a NumPy float64 or a 0-d float64 array."""
    if isinstance(got, bool) or (got is not None and not isinstance(got, (int, float, np.number, np.ndarray))):
        return f"expected a number (a Python float or NumPy float64), got {type(got).__name__}."
    if isinstance(got, (int, np.integer)):
        got = float(got)
    problem = array_problem(got, np.float64(expected), scalar_ok=True)
    if problem and isinstance(got, np.ndarray) and got.shape != ():
        problem += " total_norm must be one number (e.g. float(np.sqrt(...))), not an array."
    return problem


# =============================================================================================== norm vs lag


_LAG_BELOW, _LAG_ABOVE, _LAG_LINEAR, _LAG_EDGE = (
    "norms (spectral radius below 1)", "norms (spectral radius above 1)",
    "norms (tiny inputs: the linear regime, rho**k)", "norms (T = 1 or H = 1)")


def _lag_cases(rng: np.random.Generator, thorough: bool) -> list[dict]:
    """(N, T, D, H, rho, input scale) by kind: moderate inputs (tanh' matters) with rho below and above 1, tiny
    inputs (the linear regime), and the edge shapes T = 1 and H = 1."""
    specs = [(_LAG_BELOW, (1, 8, 3, 5, 0.8, 0.5)), (_LAG_ABOVE, (1, 8, 3, 5, 1.5, 0.5)),
             (_LAG_LINEAR, (3, 10, 2, 4, 1.2, 1e-6)), (_LAG_EDGE, (2, 1, 3, 3, 0.9, 0.5)),
             (_LAG_EDGE, (1, 12, 2, 1, 0.95, 0.5))]
    if thorough:
        specs += [(_LAG_BELOW, (2, 10, 2, 4, 0.6, 0.8)), (_LAG_ABOVE, (2, 9, 3, 4, 2.0, 0.3)),
                  (_LAG_LINEAR, (2, 12, 3, 6, 3.0, 1e-9)), (_LAG_EDGE, (1, 1, 2, 1, 1.3, 0.5))]
    cases = []
    for kind, (N, T, D, H, rho, s) in specs:
        x, h0 = s * rng.standard_normal((N, T, D)), s * rng.standard_normal((N, H))
        Wx = rng.standard_normal((D, H)) / np.sqrt(D)
        Wh = _spectral(rng, H, rho)
        b = (0.1 if s > 1e-3 else 0.0) * rng.standard_normal(H)
        g = rng.standard_normal((N, H))
        cases.append({"args": (x, h0, Wx, Wh, b, g), "kind": kind,
                      "label": f"x {(N, T, D)}, H={H}, spectral radius of Wh {rho:g}"
                      + (", inputs ~0 (tanh linear)" if s < 1e-3 else "")})
    return cases


def _lag_variants(args: tuple) -> dict[str, list[np.ndarray]]:
    x, h0, Wx, Wh, b, g = args
    h = _ref.rnn_forward(x, h0, Wx, Wh, b)[0]
    T = x.shape[1]

    def norms(deriv: str = "ok", W: np.ndarray = Wh.T) -> np.ndarray:
        carry, out = g.copy(), [np.linalg.norm(g)]
        for t in reversed(range(T)):
            prev = h[:, t - 1] if t > 0 else h0
            local = {"ok": 1 - h[:, t] ** 2, "none": 1.0, "one_minus_h": 1 - h[:, t], "prev": 1 - prev ** 2}[deriv]
            carry = (carry * local) @ W
            out.append(np.linalg.norm(carry))
        return np.array(out)

    right = norms()
    return {"TANH_DERIVATIVE": [norms("none"), norms("one_minus_h"), norms("prev")],
            "MISSING_TRANSPOSE": [norms(W=Wh)], "LAG_INDEXING": [right[::-1], right[1:], right[:-1]]}


def _lag_problem(got: Any, want: np.ndarray) -> str | None:
    problem = array_problem(got, want)
    if problem:
        T = want.size - 1
        if getattr(got, "shape", None) in ((T,), (T + 2,)):
            problem += (f" Expected T + 1 = {T + 1} norms: lag 0 (||g||) through lag T (||dL/dh0||).")
        return problem
    rel = np.abs(got - want) / np.maximum(want, 1e-300)
    k = int(np.argmax(rel))
    if rel[k] > 1e-6:
        return (f"values differ at lag {k}: got {got[k]:.6g}, expected {want[k]:.6g} (relative error {rel[k]:.1e}). "
                f"The small norms ARE the vanishing gradient, so they must be as accurate as the large ones.")
    return None


def check_gradient_norm_vs_lag(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``gradient_norms_by_lag(x (N,T,D), h0 (N,H), Wx (D,H), Wh (H,H), b (H,), g (N,H)) -> norms (T+1,)``.

    For the loss L = sum(g * h[:, T-1]) of the tanh RNN, norms[k] = ||dL/dh[:, T-1-k]|| (Frobenius norm over N
    and H) for lag k = 0..T-1 and norms[T] = ||dL/dh0||; norms[0] = ||g||. One step back:
    dL/dh[:, t-1] = (dL/dh[:, t] * (1 - h[:, t]**2)) @ Wh.T. Every entry must match to 1e-6 relative (small norms
    included). Sub-checks, one per kind of case: spectral radius of Wh below 1, above 1, tiny inputs (the linear
    regime), T = 1 or H = 1; inputs left unchanged.
    """
    require_callable(fn, "gradient_norms_by_lag", 6)
    report = Report("gradient norm against time lag", points, seed)
    for kind in (_LAG_BELOW, _LAG_ABOVE, _LAG_LINEAR, _LAG_EDGE):
        report.declare(kind)
    report.watch_inputs()
    for c in _lag_cases(np.random.default_rng(seed), thorough):
        where, kind = f"case {c['label']}", c["kind"]
        want = _ref.gradient_norms_by_lag(*c["args"])
        try:
            got, = unpack(call_student(fn, *c["args"], label="gradient_norms_by_lag", notes=report.notes,
                                       report=report), ("norms",), "gradient_norms_by_lag")
        except StudentCodeError as exc:
            report.fail(kind, f"{where}: {exc}")
            if isinstance(exc, StudentTimeout):
                break
            continue
        problem = _lag_problem(got, want)
        if problem:
            diag = diagnose(got, want, _lag_variants(c["args"]), generic=False)
            report.fail(kind, f"{where}: norms {problem}{describe(diag)}")
    return report.finish()
