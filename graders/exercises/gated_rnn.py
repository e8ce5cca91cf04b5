"""Checks specific to notebook 12 (gated recurrent cells).

The layer checks (LSTM step and sequence, GRU step, forward and backward) live in graders/gated_rnn.py; this
module holds what only this notebook asks:

- :func:`check_lstm_trace`: one scalar LSTM step (graders.public.gated_rnn.TRACE_STEP) traced by hand, forward
  and backward, entry by entry (4 significant digits);
- :func:`check_lstm_derivation`: dc_t/dc_{t-1}, dh_t/dc_t and dh_t/dc_{t-1} of the scalar LSTM step as SymPy
  expressions, against ``sympy.diff`` in reference_impl.symbolic_layers.lstm_scalar_step;
- :func:`check_gru_derivation`: dh_t/dh_{t-1} of the scalar GRU step (PyTorch's convention), against
  reference_impl.symbolic_layers.gru_scalar_step;
- :func:`check_norms_by_lag`: ``gradient_norms_by_lag(cell, x, h0, params, g)`` for the vanilla RNN, the LSTM
  and the GRU, against the reference step functions.

Expected values come from reference_impl (NumPy and SymPy) inside private helpers, never from the notebook.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import numpy as np
import sympy as sp

from graders import answers, diagnoses, typed
from graders.core import (GradingError, Report, StudentCodeError, StudentTimeout, array_problem, call_student,
                          describe, diagnose, require_callable, unpack)
from graders.public import gated_rnn as pub
from reference_impl import gated_rnn as _ref
from reference_impl import rnn as _ref_rnn
from reference_impl import symbolic_layers as _sym

__all__ = ["check_lstm_trace", "check_lstm_derivation", "check_gru_derivation", "check_norms_by_lag",
           "LSTM_DERIVATION_KEYS"]

TRACE_TOL = typed.REL_TOL  # the course's precision for typed numbers: four significant digits
SYMPY_SECONDS = 0.05   # simplify's cap per comparison; the comparison at random points decides otherwise
GRU_SYMPY_SECONDS = 0.0  # the GRU's expressions never simplify that fast: compare at random points directly


def _sig(a):
    return 1.0 / (1.0 + math.exp(-a))


# ============================================================================================ scalar LSTM trace


def _scalar_arrays(p: Mapping[str, float]):
    x, h, c = (np.array([[p[k]]]) for k in ("x", "h_prev", "c_prev"))
    Wx = np.array([[p[f"wx_{k}"] for k in pub.GATES]])
    Wh = np.array([[p[f"wh_{k}"] for k in pub.GATES]])
    b = np.array([p[f"b_{k}"] for k in pub.GATES])
    return x, h, c, Wx, Wh, b


def _trace_values(p: Mapping[str, float] = pub.TRACE_STEP) -> tuple[dict[str, float], dict[str, list]]:
    """The right trace (reference_impl.gated_rnn with D = H = 1) and, per key, (code, value) of classic mistakes."""
    h, c, cache = _ref.lstm_step_forward(*_scalar_arrays(p))
    dh, dc = np.array([[p["dh"]]]), np.array([[p["dc"]]])
    _, dh_prev, dc_prev, _, _, db = _ref.lstm_step_backward(dh, dc, cache)
    i, f, g, o = (float(cache[k][0, 0]) for k in "ifgo")
    cv, tc, d_h, d_c = float(c[0, 0]), math.tanh(float(c[0, 0])), p["dh"], p["dc"]
    a = {k: p[f"wx_{k}"] * p["x"] + p[f"wh_{k}"] * p["h_prev"] + p[f"b_{k}"] for k in pub.GATES}
    dc_total = d_c + d_h * o * (1 - tc ** 2)
    right = {"i": i, "f": f, "g": g, "o": o, "c": cv, "h": float(h[0, 0]), "do": d_h * tc, "dc_total": dc_total,
             "dc_prev": float(dc_prev[0, 0]), "da_i": float(db[0]), "da_f": float(db[1]), "da_g": float(db[2]),
             "da_o": float(db[3]), "dh_prev": float(dh_prev[0, 0])}

    def gate_grads(total, do, sig_at="ok", tanh_at="ok"):
        ds = {"ok": lambda s, pre: s * (1 - s), "output": lambda s, pre: _sig(s) * (1 - _sig(s)),
              "pre": lambda s, pre: pre * (1 - pre)}[sig_at]
        dt = {"ok": 1 - g ** 2, "output": 1 - math.tanh(g) ** 2, "pre": 1 - a["g"] ** 2}[tanh_at]
        da = {"i": total * g * ds(i, a["i"]), "f": total * p["c_prev"] * ds(f, a["f"]), "g": total * i * dt,
              "o": do * ds(o, a["o"])}
        return da, sum(p[f"wh_{k}"] * da[k] for k in pub.GATES)

    no_cell = d_h * o * (1 - tc ** 2)
    mistakes: dict[str, list] = {
        "c": [("LSTM_NO_CELL_PATH", i * g)],
        "h": [("LSTM_OUTPUT_TANH", o * cv)],
        "do": [("LSTM_OUTPUT_TANH", d_h * cv)],
        "dc_total": [("LSTM_NO_CELL_PATH", no_cell), ("LSTM_OUTPUT_TANH", d_c + d_h * o),
                     ("LSTM_OUTPUT_TANH", d_c + d_h * o * tc),
                     ("GATE_DERIVATIVE_POINT", d_c + d_h * o * (1 - cv ** 2))],
        "dc_prev": [("LSTM_FORGET_FACTOR", dc_total), ("LSTM_NO_CELL_PATH", no_cell * f),
                    ("LSTM_OUTPUT_TANH", (d_c + d_h * o) * f)],
        "dh_prev": [],
    }
    for key in ("da_i", "da_f", "da_g", "da_o"):
        mistakes[key] = []
    for code, total, kw in [("LSTM_NO_CELL_PATH", no_cell, {}),
                            ("GATE_DERIVATIVE_POINT", dc_total, {"sig_at": "output"}),
                            ("GATE_DERIVATIVE_POINT", dc_total, {"sig_at": "pre"}),
                            ("GATE_DERIVATIVE_POINT", dc_total, {"tanh_at": "output"}),
                            ("GATE_DERIVATIVE_POINT", dc_total, {"tanh_at": "pre"})]:
        da, dhp = gate_grads(total, d_h * tc, **kw)
        for k in pub.GATES:
            mistakes[f"da_{k}"].append((code, da[k]))
        mistakes["dh_prev"].append((code, dhp))
    return right, mistakes


def _number_problem(value: Any, want: float, mistakes: list, what: str) -> str | None:
    if value is None:
        return f"{what}: no answer yet (still None)."
    got = typed.number(value)
    if got is None:
        return f"{what}: {typed.number_problem(value)}"
    if math.isclose(got, want, rel_tol=TRACE_TOL, abs_tol=typed.ABS_TOL):
        return None
    for code, wrong in mistakes:
        if math.isclose(got, wrong, rel_tol=TRACE_TOL, abs_tol=typed.ABS_TOL) and not math.isclose(
                wrong, want, rel_tol=TRACE_TOL, abs_tol=typed.ABS_TOL):
            return f"{what}: got {got:.6g}, which is what this mistake gives:{describe(diagnoses.get(code))}"
    return f"{what}: got {got:.6g}, which is not right (4 significant digits are enough)."


_TRACE_HINTS = {
    "i": "i = sigmoid(a_i) with a_i = wx_i * x + wh_i * h_prev + b_i.",
    "c": "c = f * c_prev + i * g.",
    "h": "h = o * tanh(c).",
    "do": "h = o * tanh(c), so dL/do = dh * tanh(c).",
    "dc_total": "two paths reach c: dc from step t+1, and dh through h = o * tanh(c).",
    "dc_prev": "one step back along the cell: multiply the total by f.",
    "da_f": "df = dc_total * c_prev, then the sigmoid's slope f * (1 - f).",
    "da_g": "dg = dc_total * i, then tanh's slope 1 - g**2.",
    "dh_prev": "h_prev enters all four pre-activations: sum wh_k * da_k over k in i, f, g, o.",
}


def check_lstm_trace(table: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the hand trace of the scalar LSTM step ``graders.public.gated_rnn.TRACE_STEP``: a dict with the keys
    of ``TRACE_KEYS`` (i, f, g, o, c, h, then do, dc_total, dc_prev, da_i, da_f, da_g, da_o, dh_prev), each a
    number to 4 significant digits (relative tolerance 5e-4, graders.typed). One equally weighted sub-check per key; the
    classic mistakes are named (LSTM_NO_CELL_PATH, LSTM_FORGET_FACTOR, LSTM_OUTPUT_TANH, GATE_DERIVATIVE_POINT).
    Extra keys are reported and cost nothing."""
    keys = pub.TRACE_KEYS
    if table is None:
        raise GradingError(f"scalar LSTM trace: no answer yet: fill in the dict with keys {', '.join(keys)}.")
    if not isinstance(table, Mapping):
        raise GradingError(f"scalar LSTM trace: expected a dict with keys {', '.join(keys)}, got "
                           f"{type(table).__name__}.")
    right, mistakes = _trace_values()
    rep = Report("scalar LSTM trace", points, seed)
    for key in keys:
        rep.declare(key)
    for key in keys:
        if key not in table:
            rep.fail(key, f"'{key}' is missing from the dict.")
            continue
        problem = _number_problem(table[key], right[key], mistakes.get(key, []), f"'{key}'")
        if problem and key in _TRACE_HINTS:
            problem += f" Hint: {_TRACE_HINTS[key]}"
        rep.record(key, problem)
    extra = sorted(str(k) for k in table if k not in keys)
    if extra:
        rep.notes.append(f"ignored keys not asked for: {', '.join(extra)}")
    return rep.finish()


# ============================================================================================ derivations


LSTM_DERIVATION_KEYS = ("dc_dcprev", "dh_dc", "dh_dcprev")


@functools.cache
def _lstm_expected() -> tuple[dict, dict]:
    s = _sym.lstm_scalar_step()
    f, o, c = s["f"], s["o"], s["c"]
    right = {"dc_dcprev": s["dc_dcprev"], "dh_dc": s["dh_dc"], "dh_dcprev": s["dh_dcprev"]}
    slope = 1 - sp.tanh(c) ** 2
    mistakes = {
        "dc_dcprev": {"LSTM_FORGET_FACTOR": sp.Integer(1), "that is c_t itself, not its derivative": c},
        "dh_dc": {"LSTM_OUTPUT_TANH": o, "GATE_DERIVATIVE_POINT": o * (1 - c ** 2),
                  "the output gate o multiplies tanh(c): keep it": slope},
        "dh_dcprev": {"LSTM_FORGET_FACTOR": o * slope, "LSTM_OUTPUT_TANH": o * f,
                      "GATE_DERIVATIVE_POINT": o * (1 - c ** 2) * f},
    }
    return right, mistakes


@functools.cache
def _symbols_match() -> None:
    """The public symbols are the reference's (same names, real): a learner's expression is compared as written."""
    ref_names = {s.name for s in _sym.lstm_scalar_step()["symbols"].values()}
    if ref_names != set(pub.LSTM_SYMBOLS):  # pragma: no cover - guarded by a test
        raise RuntimeError("graders.public.gated_rnn.LSTM_SYMBOLS differ from reference_impl's symbols")


def check_lstm_derivation(answers_: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``{"dc_dcprev": dc_t/dc_{t-1}, "dh_dc": dh_t/dc_t, "dh_dcprev": dh_t/dc_{t-1}}`` for the scalar LSTM
    step (D = H = 1, the symbols of ``graders.public.gated_rnn.LSTM_SYMBOLS``), as SymPy expressions or strings
    (``sigmoid`` and ``tanh`` allowed). Compared with ``sympy.diff`` (reference_impl.symbolic_layers): any equal
    form counts (symbolically, else at random points). dh_dc holds the gates fixed (the derivative through
    h = o * tanh(c) only). One sub-check per key; LSTM_FORGET_FACTOR, LSTM_OUTPUT_TANH and GATE_DERIVATIVE_POINT
    are named."""
    _symbols_match()
    right, mistakes = _lstm_expected()
    return answers.check_expressions(answers_, right, pub.LSTM_SYMBOLS, exercise="LSTM cell derivatives",
                                     mistakes=mistakes, points=points, seed=seed, thorough=thorough,
                                     time_limit=SYMPY_SECONDS)


@functools.cache
def _gru_expected() -> tuple[sp.Expr, dict]:
    s = _sym.gru_scalar_step()
    S, r, z, n = s["symbols"], s["r"], s["z"], s["n"]
    hp = S["h_prev"]
    hn = S["wh_n"] * hp + S["bh_n"]
    dz = z * (1 - z) * S["wh_z"]
    dn = (1 - n ** 2) * (r * S["wh_n"] + hn * r * (1 - r) * S["wh_r"])
    mistakes = {
        "GRU_DIRECT_PATH": s["closed_form"] - z,
        "GRU_INTERPOLATION_SIGN": z + (n - hp) * dz + (1 - z) * dn,
        "GRU_CONVENTION": sp.diff(z * n + (1 - z) * hp, hp),
        "GRU_RESET": z + (hp - n) * dz + (1 - z) * (1 - n ** 2) * r * S["wh_n"],
    }
    return s["dh_dhprev"], mistakes


def check_gru_derivation(answer: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade dh_t/dh_{t-1} of the scalar GRU step in PyTorch's convention (h = (1 - z) n + z h_prev, the reset gate
    after the product), a SymPy expression or string in ``graders.public.gated_rnn.GRU_SYMBOLS``, against
    ``sympy.diff`` (reference_impl.symbolic_layers.gru_scalar_step), compared at random points (float64, relative
    1e-8; 20 points, other ones with ``thorough``): simplify cannot settle these expressions within the time
    budget. GRU_DIRECT_PATH, GRU_INTERPOLATION_SIGN, GRU_CONVENTION and GRU_RESET (the path through r) are named."""
    right, mistakes = _gru_expected()
    return answers.check_expression(answer, right, pub.GRU_SYMBOLS, exercise="GRU dh_t/dh_(t-1)", mistakes=mistakes,
                                    points=points, seed=seed, thorough=thorough, time_limit=GRU_SYMPY_SECONDS)


# ============================================================================================ norms by lag


_STEPS = {"rnn": (_ref_rnn.rnn_step_forward, _ref_rnn.rnn_step_backward),
          "lstm": (_ref.lstm_step_forward, _ref.lstm_step_backward),
          "gru": (_ref.gru_step_forward, _ref.gru_step_backward)}
_PARAMS = {"rnn": ("Wx", "Wh", "b"), "lstm": ("Wx", "Wh", "b"), "gru": ("Wx", "Wh", "bx", "bh")}


def _norms(cell: str, x, h0, params, g, *, carry_c: bool = True, direct: bool = True, wh_t: bool = True):
    """||dL/dh_{T-1-k}|| for k = 0..T-1 and ||dL/dh0|| for L = sum(g * h[:, T-1]), by the reference steps; with a
    mistake optionally built in (LSTM: the cell's gradient not carried; GRU: no direct path; RNN: Wh not
    transposed)."""
    fwd, bwd = _STEPS[cell]
    p = [params[k] for k in _PARAMS[cell]]
    T = x.shape[1]
    caches, h, c = [], h0, np.zeros_like(h0)
    for t in range(T):
        if cell == "lstm":
            h, c, cache = fwd(x[:, t], h, c, *p)
        else:
            h, cache = fwd(x[:, t], h, *p)
        caches.append(cache)
    dh, dc, out = np.array(g, dtype=np.float64), np.zeros_like(h0), [np.linalg.norm(g)]
    for t in reversed(range(T)):
        if cell == "lstm":
            _, dh, dc_new, *_ = bwd(dh, dc, caches[t])
            dc = dc_new if carry_c else np.zeros_like(dc_new)
        elif cell == "gru":
            dh_in = dh
            _, dh, *_ = bwd(dh_in, caches[t])
            if not direct:
                dh = dh - dh_in * caches[t]["z"]
        else:
            if wh_t:
                _, dh, *_ = bwd(dh, caches[t])
            else:
                dh = (dh * (1 - caches[t][4] ** 2)) @ p[1]
        out.append(np.linalg.norm(dh))
    return np.array(out)


def _lag_cases(rng: np.random.Generator, thorough: bool) -> list[dict]:
    """One case per cell and kind; the hidden test draws other shapes of the same kinds."""
    specs = [("rnn", 2, 6, 3, 4, 1.0), ("lstm", 2, 6, 3, 4, 1.0), ("gru", 2, 6, 3, 4, 1.0),
             ("lstm", 1, 1, 2, 3, 0.0), ("rnn", 1, 1, 2, 3, 1.0), ("gru", 1, 1, 2, 3, 1.0)]
    if thorough:
        specs = [("rnn", 3, 8, 2, 5, 1.0), ("lstm", 2, 9, 4, 3, 2.0), ("gru", 3, 7, 2, 4, 0.0),
                 ("lstm", 1, 1, 3, 2, 0.0), ("rnn", 1, 1, 3, 2, 1.0), ("gru", 1, 1, 3, 2, 1.0)]
    cases = []
    for cell, N, T, D, H, bias in specs:
        params = _ref.init_params(cell, D, H, rng, forget_bias=bias, update_bias=bias)
        x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
        h0 = 0.3 * rng.standard_normal((N, H))
        label = f"{cell}, x {(N, T, D)}, H={H}" + ("" if cell == "rnn" else f", gate bias {bias:g}")
        cases.append({"cell": cell, "args": (cell, x, h0, params, g), "label": label})
    return cases


def _lag_candidates(cell: str, x, h0, params, g, right: np.ndarray) -> dict[str, list[np.ndarray]]:
    out = {"LAG_INDEXING": [right[::-1], np.concatenate([right[1:], [0.0]])]}
    if cell == "lstm":
        out["LSTM_NO_CELL_PATH"] = [_norms(cell, x, h0, params, g, carry_c=False)]
    elif cell == "gru":
        out["GRU_DIRECT_PATH"] = [_norms(cell, x, h0, params, g, direct=False)]
    elif params["Wh"].shape[0] == params["Wh"].shape[1]:
        out["MISSING_TRANSPOSE"] = [_norms(cell, x, h0, params, g, wh_t=False)]
    return out


def _lag_problem(got: Any, want: np.ndarray) -> str | None:
    problem = array_problem(got, want)
    if problem:
        T = want.size - 1
        if getattr(got, "shape", None) in ((T,), (T + 2,)):
            problem += f" Expected T + 1 = {T + 1} norms: lag 0 (||g||) through lag T (||dL/dh0||)."
        return problem
    rel = np.abs(got - want) / np.maximum(want, 1e-300)
    k = int(np.argmax(rel))
    if rel[k] > 1e-6:
        return (f"values differ at lag {k}: got {got[k]:.6g}, expected {want[k]:.6g} (relative error {rel[k]:.1e}). "
                f"The small norms ARE the vanishing gradient, so they must be as accurate as the large ones.")
    return None


def check_norms_by_lag(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``gradient_norms_by_lag(cell, x (N,T,D), h0 (N,H), params, g (N,H)) -> norms (T+1,)`` for cell "rnn"
    (params Wx, Wh, b; h = tanh(x Wx + h_prev Wh + b)), "lstm" (Wx, Wh, b; c0 = 0) and "gru" (Wx, Wh, bx, bh).

    For L = sum(g * h[:, T-1]): norms[k] = ||dL/dh_{T-1-k}|| (Frobenius over N and H) for k = 0..T-1, norms[T] =
    ||dL/dh0||; for the LSTM dL/dh_t is the gradient of the hidden state alone (the cell's gradient is carried
    next to it). Every entry must match to 1e-6 relative, the smallest included. Sub-checks: "rnn", "lstm", "gru",
    inputs left unchanged. Named: LAG_INDEXING, LSTM_NO_CELL_PATH, GRU_DIRECT_PATH, MISSING_TRANSPOSE."""
    require_callable(fn, "gradient_norms_by_lag", 5)
    report = Report("gradient norm against time lag (RNN, LSTM, GRU)", points, seed)
    for cell in ("rnn", "lstm", "gru"):
        report.declare(cell)
    report.watch_inputs()
    for case in _lag_cases(np.random.default_rng(seed), thorough):
        cell, where = case["cell"], f"case {case['label']}"
        want = _norms(*case["args"])
        try:
            got, = unpack(call_student(fn, *case["args"], label=f"gradient_norms_by_lag({cell!r}, ...)",
                                       notes=report.notes, report=report), ("norms",), "gradient_norms_by_lag")
        except StudentCodeError as exc:
            report.fail(cell, f"{where}: {exc}")
            if isinstance(exc, StudentTimeout):
                break
            continue
        problem = _lag_problem(got, want)
        if problem:
            diag = diagnose(got, want, _lag_candidates(*case["args"], want), generic=False)
            report.fail(cell, f"{where}: norms {problem}{describe(diag)}")
    return report.finish()
