"""Checks for notebook 12 (gated recurrent cells): the LSTM step and sequence and the GRU step, forward and backward.

Student contract (the same as ``reference_impl.gated_rnn``; N sequences, T steps, D inputs, H hidden units,
float64, batch-major, weights multiply from the right)::

    h, c, cache = lstm_step_forward(x (N,D), h_prev (N,H), c_prev (N,H), Wx (D,4H), Wh (H,4H), b (4H,))
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh (N,H), dc (N,H), cache)
    h, cache = lstm_forward(x (N,T,D), h0 (N,H), Wx, Wh, b, c0=None)        # h (N,T,H); c0=None means zeros
    dx, dh0, dWx, dWh, db, dc0 = lstm_backward(dh (N,T,H), cache)
    h, cache = gru_step_forward(x (N,D), h_prev (N,H), Wx (D,3H), Wh (H,3H), bx (3H,), bh (3H,))
    dx, dh_prev, dWx, dWh, dbx, dbh = gru_step_backward(dh (N,H), cache)

LSTM: a = x Wx + h_prev Wh + b, gates [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid] of the four H-blocks,
c = f * c_prev + i * g, h = o * tanh(c). GRU (PyTorch): blocks [r, z, n], r and z = sigmoid(x Wx + bx + h_prev Wh
+ bh) of their blocks, n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n)), h = (1 - z) * n + z * h_prev.

Every check calls student code only through graders.core.call_student with plain arrays, passes the cache of
the student's own forward back to the student's backward unread, and watches the inputs ("inputs left
unchanged", 25%). Order of a backward check: the student's forward on the case, the backward with a random
upstream gradient, each gradient against reference_impl.gated_rnn with the likely mistake named; when
something is wrong, once per check, finite differences of the student's OWN forward tell "fix the forward
first" from "the mistake is in the backward".

Every backward check also runs a large-scale case: an input feature of size 1e10 behind a zero row of Wx (for
the sequence also an initial hidden unit of size 1e10 behind a zero row of Wh), and for the steps one unit's
cell state (LSTM) or hidden state (GRU) of size 1e10 behind a saturated gate. The analytic gradient is exact
there, while finite differences lose their digits: no single step size suits weights whose gradients are
1e10 times larger than the others', and a 1e10 output drowns the change of the loss in rounding. A gradient
right on the ordinary cases and wrong only there is named NUMERIC_NOT_ANALYTIC. ``thorough=True`` (hidden
tests) uses other seeds and shapes of the same kinds of case as the visible test (ordinary, a batch of one, no
gradient from the next step or h_prev near saturation, c0 omitted, T = 1, the large-scale case).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from graders import diagnoses
from graders.batchnorm import _quiet_vjp
from graders.core import (Report, StudentCodeError, StudentTimeout, array_problem, call_student, close, describe,
                          diagnose, own_numeric_vjp, require_callable, unpack)
from reference_impl import gated_rnn as _ref

__all__ = ["check_lstm_step_forward", "check_lstm_step_backward", "check_lstm_step", "check_lstm_forward",
           "check_lstm_backward", "check_gru_step_forward", "check_gru_step_backward"]

LSTM_STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
LSTM_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db", "dc0")
GRU_STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")
BIG = 1e10          # the large cell (LSTM) or hidden (GRU) state of the large-scale case
SATURATE = 60.0     # a gate bias that makes sigmoid exactly 1.0 in float64 for that unit


@dataclass
class _Case:
    label: str
    args: tuple                       # positional forward arguments
    upstream: tuple                   # the backward's upstream arrays (before the cache)
    kwargs: dict = field(default_factory=dict)
    large: bool = False               # the large-scale case (finite differences cannot resolve it)


def _sig(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# =============================================================================================== LSTM variants


_LSTM_ACT = {"i": _sig, "f": _sig, "g": np.tanh, "o": _sig}


def _lstm_step(x, h_prev, c_prev, Wx, Wh, b, *, order="ifgo", cell="ok", out="ok"):
    """One LSTM step with a forward mistake optionally built in: ``order`` the gates' slice order, ``cell``
    "no_f" (c = i g), ``out`` "no_tanh" (h = o c). Returns (h, c, k) with k the pre-activations and gates."""
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    blocks = {name: a[:, j * H:(j + 1) * H] for j, name in enumerate(order)}
    gates = {name: _LSTM_ACT[name](blocks[name]) for name in "ifgo"}
    i, f, g, o = (gates[n] for n in "ifgo")
    c = i * g if cell == "no_f" else f * c_prev + i * g
    h = o * c if out == "no_tanh" else o * np.tanh(c)
    k = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh, "a": a, "i": i, "f": f, "g": g, "o": o,
         "c": c}
    return h, c, k


def _lstm_step_back(k, dh, dc, *, path="ok", forget="ok", slope="ok", do_from="tanh_c", sig="ok", tanh_g="ok",
                    sig_gates="ifo"):
    """The backward of one LSTM step from ``k`` (see _lstm_step), with one classic mistake optionally built in.

    path "drop": the dc from step t+1 is ignored; forget "one": dc_prev = dc_total (no f); slope of h = o tanh(c)
    in c: "ok" 1 - tanh(c)^2, "none" 1, "tanh" tanh(c), "at_c" 1 - c^2, "at_out" 1 - tanh(tanh(c))^2; do_from
    "c": do = dh c; sig/tanh_g "output" (the derivative at the gate's output) or "pre" (its formula applied to
    the pre-activation), for the sigmoid gates in ``sig_gates`` only.
    """
    i, f, g, o, c, a = k["i"], k["f"], k["g"], k["o"], k["c"], k["a"]
    H = i.shape[1]
    tc = np.tanh(c)
    local = {"ok": 1.0 - tc ** 2, "none": 1.0, "tanh": tc, "at_c": 1.0 - c ** 2, "at_out": 1.0 - np.tanh(tc) ** 2}
    do = dh * (c if do_from == "c" else tc)
    dc_total = (0.0 if path == "drop" else dc) + dh * o * local[slope]
    di, dg, df = dc_total * g, dc_total * i, dc_total * k["c_prev"]
    dc_prev = dc_total * (1.0 if forget == "one" else f)

    def dsig(s, pre, gate):
        mode = sig if gate in sig_gates else "ok"
        return {"ok": s * (1 - s), "output": _sig(s) * (1 - _sig(s)), "pre": pre * (1 - pre)}[mode]

    dtanh = {"ok": 1 - g ** 2, "output": 1 - np.tanh(g) ** 2, "pre": 1 - a[:, 2 * H:3 * H] ** 2}[tanh_g]
    da = np.concatenate([di * dsig(i, a[:, :H], "i"), df * dsig(f, a[:, H:2 * H], "f"), dg * dtanh,
                         do * dsig(o, a[:, 3 * H:], "o")], axis=1)
    return (da @ k["Wx"].T, da @ k["Wh"].T, dc_prev, k["x"].T @ da, k["h_prev"].T @ da, da.sum(axis=0))


_STEP_BACK_MISTAKES = (
    [("LSTM_NO_CELL_PATH", {"path": "drop"}), ("LSTM_FORGET_FACTOR", {"forget": "one"}),
     ("LSTM_OUTPUT_TANH", {"slope": "none"}), ("LSTM_OUTPUT_TANH", {"slope": "tanh"}),
     ("LSTM_OUTPUT_TANH", {"do_from": "c"}),
     ("GATE_DERIVATIVE_POINT", {"slope": "at_c"}), ("GATE_DERIVATIVE_POINT", {"slope": "at_out"})]
    + [("GATE_DERIVATIVE_POINT", {"sig": s, "tanh_g": t}) for s in ("ok", "output", "pre")
       for t in ("ok", "output", "pre") if (s, t) != ("ok", "ok")]
    + [("GATE_DERIVATIVE_POINT", {"sig": s, "sig_gates": gate}) for s in ("output", "pre") for gate in "ifo"])


def _forward_variants_lstm(args) -> dict[str, list[tuple]]:
    """code -> [(h, c)] of the classic forward mistakes of one LSTM step."""
    out: dict[str, list[tuple]] = {"GATE_ORDER": [], "LSTM_NO_CELL_PATH": [], "LSTM_OUTPUT_TANH": []}
    for perm in itertools.permutations("ifgo"):
        if "".join(perm) != "ifgo":
            out["GATE_ORDER"].append(_lstm_step(*args, order="".join(perm))[:2])
    out["LSTM_NO_CELL_PATH"].append(_lstm_step(*args, cell="no_f")[:2])
    out["LSTM_OUTPUT_TANH"].append(_lstm_step(*args, out="no_tanh")[:2])
    return out


def _bias_candidates(right_db: np.ndarray) -> dict[str, list[np.ndarray]]:
    return {"BIAS_KEEPDIMS": [right_db[None, :]]}


def _step_back_candidates(args, dh, dc) -> dict[str, dict[str, list[np.ndarray]]]:
    """Per gradient name, code -> arrays the classic backward mistakes of one LSTM step produce."""
    _, _, k = _lstm_step(*args)
    out: dict[str, dict[str, list[np.ndarray]]] = {g: {} for g in LSTM_STEP_GRADS}
    for code, kw in _STEP_BACK_MISTAKES:
        for name, value in zip(LSTM_STEP_GRADS, _lstm_step_back(k, dh, dc, **kw)):
            out[name].setdefault(code, []).append(value)
    out["db"].update(_bias_candidates(_lstm_step_back(k, dh, dc)[5]))
    return out


def _lstm_seq(x, h0, Wx, Wh, b, c0, *, carry_c=True, **step_kw):
    N, T, _ = x.shape
    H = h0.shape[1]
    hs, cs, ks = np.empty((N, T, H)), np.empty((N, T, H)), []
    h, c = h0, c0
    for t in range(T):
        h, c_new, k = _lstm_step(x[:, t], h, c if carry_c else c0, Wx, Wh, b, **step_kw)
        c = c_new
        hs[:, t], cs[:, t] = h, c
        ks.append(k)
    return hs, cs, ks


def _lstm_bptt(ks, dh, *, carry_h=True, carry_c=True, weights_from=None, **step_kw):
    """BPTT over step records ``ks`` with a mistake optionally built in (no dh carry, no dc carry, weight
    gradients of one step only, or a step-level mistake ``step_kw``); returns the 6 sequence gradients."""
    N, T, H = dh.shape
    dx = np.empty((N, T, ks[0]["x"].shape[1]))
    dWx, dWh, db = np.zeros_like(ks[0]["Wx"]), np.zeros_like(ks[0]["Wh"]), np.zeros(4 * H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    steps = {"first": {0}, "last": {T - 1}}.get(weights_from, set(range(T)))
    for t in reversed(range(T)):
        dx[:, t], dhp, dcp, gWx, gWh, gb = _lstm_step_back(ks[t], dh[:, t] + dh_next, dc_next, **step_kw)
        dh_next = dhp if carry_h else np.zeros((N, H))
        dc_next = dcp if carry_c else np.zeros((N, H))
        if t in steps:
            dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dh_next, dWx, dWh, db, dc_next


def _seq_args(case: _Case):
    x, h0, Wx, Wh, b = case.args
    c0 = case.kwargs.get("c0")
    return x, h0, Wx, Wh, b, (np.zeros_like(h0) if c0 is None else c0)


def _seq_forward_candidates(case: _Case) -> dict[str, list[np.ndarray]]:
    args = _seq_args(case)
    out: dict[str, list[np.ndarray]] = {"LSTM_NO_CELL_PATH": [_lstm_seq(*args, carry_c=False)[0],
                                                             _lstm_seq(*args, cell="no_f")[0]],
                                        "LSTM_OUTPUT_TANH": [_lstm_seq(*args, out="no_tanh")[0]],
                                        "GATE_ORDER": [_lstm_seq(*args, order=o)[0] for o in ("ifog", "fiog", "iofg")]}
    return out


def _seq_back_candidates(case: _Case) -> dict[str, dict[str, list[np.ndarray]]]:
    _, _, ks = _lstm_seq(*_seq_args(case))
    dh, = case.upstream
    T = dh.shape[1]
    variants = [("BPTT_NO_CARRY", {"carry_h": False}), ("LSTM_NO_CELL_PATH", {"carry_c": False})]
    if T > 1:
        variants += [("BPTT_NO_TIME_SUM", {"weights_from": "first"}), ("BPTT_NO_TIME_SUM", {"weights_from": "last"})]
    variants += _STEP_BACK_MISTAKES
    out: dict[str, dict[str, list[np.ndarray]]] = {g: {} for g in LSTM_SEQ_GRADS}
    for code, kw in variants:
        for name, value in zip(LSTM_SEQ_GRADS, _lstm_bptt(ks, dh, **kw)):
            out[name].setdefault(code, []).append(value)
    out["db"].update(_bias_candidates(_lstm_bptt(ks, dh)[4]))
    return out


# =============================================================================================== GRU variants


def _gru_step(x, h_prev, Wx, Wh, bx, bh, *, convention="torch", reset="after", order="rzn"):
    """One GRU step, PyTorch's convention unless told otherwise: ``convention`` "other" (h = z n + (1 - z) h_prev),
    ``reset`` "before" (n uses (r h_prev) Wh_n + bh_n) or "bias_outside" (r (h_prev Wh_n) + bh_n), ``order`` the
    slice order of the r and z blocks. Returns (h, record)."""
    H = h_prev.shape[1]
    ax, ah = x @ Wx + bx, h_prev @ Wh + bh
    pos = {name: j for j, name in enumerate(order)}
    r = _sig(ax[:, pos["r"] * H:(pos["r"] + 1) * H] + ah[:, pos["r"] * H:(pos["r"] + 1) * H])
    z = _sig(ax[:, pos["z"] * H:(pos["z"] + 1) * H] + ah[:, pos["z"] * H:(pos["z"] + 1) * H])
    hn = ah[:, 2 * H:]
    if reset == "before":
        inner = (r * h_prev) @ Wh[:, 2 * H:] + bh[2 * H:]
    elif reset == "bias_outside":
        inner = r * (h_prev @ Wh[:, 2 * H:]) + bh[2 * H:]
    else:
        inner = r * hn
    a_n = ax[:, 2 * H:] + inner
    n = np.tanh(a_n)
    h = z * n + (1 - z) * h_prev if convention == "other" else (1 - z) * n + z * h_prev
    a_r = ax[:, pos["r"] * H:(pos["r"] + 1) * H] + ah[:, pos["r"] * H:(pos["r"] + 1) * H]
    a_z = ax[:, pos["z"] * H:(pos["z"] + 1) * H] + ah[:, pos["z"] * H:(pos["z"] + 1) * H]
    return h, {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "r": r, "z": z, "n": n, "hn": hn, "a_r": a_r,
               "a_z": a_z, "a_n": a_n}


def _gru_step_back(k, dh, *, dz_sign=1.0, mixed=False, direct=True, reset_path="ok", sig="ok", tanh_n="ok",
                   sig_gates="rz"):
    """The backward of PyTorch's GRU step from record ``k`` with a mistake optionally built in: dz_sign -1 (dz =
    dh (n - h_prev)); mixed (the other convention's derivatives: dn = dh z, direct dh (1 - z), dz = dh (n - h_prev),
    which are also the exact gradients of the other convention's forward, whose r, z, n are the same);
    direct False (no dh z in dh_prev); reset_path "no_r" (dhn = dan) or "no_dr" (nothing flows into r);
    sig/tanh_n "output" or "pre" (derivatives at the wrong point; sig for the gates in ``sig_gates`` only)."""
    r, z, n, hn, h_prev, x = k["r"], k["z"], k["n"], k["hn"], k["h_prev"], k["x"]
    if mixed:
        dn, dz, dd = dh * z, dh * (n - h_prev), dh * (1 - z)
    else:
        dn, dz, dd = dh * (1 - z), dz_sign * dh * (h_prev - n), dh * z

    def dsig(s, pre, gate):
        mode = sig if gate in sig_gates else "ok"
        return {"ok": s * (1 - s), "output": _sig(s) * (1 - _sig(s)), "pre": pre * (1 - pre)}[mode]

    dtanh = {"ok": 1 - n ** 2, "output": 1 - np.tanh(n) ** 2, "pre": 1 - k["a_n"] ** 2}[tanh_n]
    dan = dn * dtanh
    dar = 0.0 * dan if reset_path == "no_dr" else dan * hn * dsig(r, k["a_r"], "r")
    daz = dz * dsig(z, k["a_z"], "z")
    dax = np.concatenate([dar, daz, dan], axis=1)
    dah = np.concatenate([dar, daz, dan if reset_path == "no_r" else dan * r], axis=1)
    dh_prev = (dd if direct else 0.0) + dah @ k["Wh"].T
    return (dax @ k["Wx"].T, dh_prev, x.T @ dax, h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0))


def _gru_other_grads(args, dh, **variant) -> tuple:
    """Gradients of a variant GRU forward (r before the product) by finite differences of the grader's own
    variant forward (accurate to ~1e-9, enough to recognise a mistake; ordinary cases only)."""
    grads = []
    for pos in range(6):
        def f(v, pos=pos):
            a = list(args)
            a[pos] = v
            return _gru_step(*a, **variant)[0]
        grads.append(_quiet_vjp(f, args[pos], dh))
    return tuple(grads)


_GRU_BACK_MISTAKES = (
    [("GRU_INTERPOLATION_SIGN", {"dz_sign": -1.0}), ("GRU_CONVENTION", {"mixed": True}),
     ("GRU_DIRECT_PATH", {"direct": False}), ("GRU_RESET", {"reset_path": "no_r"}),
     ("GRU_RESET", {"reset_path": "no_dr"})]
    + [("GATE_DERIVATIVE_POINT", {"sig": s, "tanh_n": t}) for s in ("ok", "output", "pre")
       for t in ("ok", "output", "pre") if (s, t) != ("ok", "ok")]
    + [("GATE_DERIVATIVE_POINT", {"sig": s, "sig_gates": gate}) for s in ("output", "pre") for gate in "rz"])


def _gru_forward_candidates(args) -> dict[str, list[np.ndarray]]:
    return {"GRU_CONVENTION": [_gru_step(*args, convention="other")[0]],
            "GRU_RESET": [_gru_step(*args, reset="before")[0], _gru_step(*args, reset="bias_outside")[0]],
            "GATE_ORDER": [_gru_step(*args, order="zrn")[0]]}


def _gru_back_candidates(case: _Case) -> dict[str, dict[str, list[np.ndarray]]]:
    _, k = _gru_step(*case.args)
    dh, = case.upstream
    out: dict[str, dict[str, list[np.ndarray]]] = {g: {} for g in GRU_STEP_GRADS}
    for code, kw in _GRU_BACK_MISTAKES:
        for name, value in zip(GRU_STEP_GRADS, _gru_step_back(k, dh, **kw)):
            out[name].setdefault(code, []).append(value)
    if not case.large:  # a backward consistent with the forward that applies r before the product
        for name, value in zip(GRU_STEP_GRADS, _gru_other_grads(case.args, dh, reset="before")):
            if value is not None:
                out[name].setdefault("GRU_RESET", []).append(value)
    right = _gru_step_back(k, dh)
    out["dbx"].update(_bias_candidates(right[4]))
    out["dbh"].update(_bias_candidates(right[5]))
    return out


# =============================================================================================== cases


def _lstm_weights(rng, D, H):
    """Weights scaled by 1/sqrt(fan_in) (gates out of saturation) and small random biases."""
    return (0.8 * rng.standard_normal((D, 4 * H)) / np.sqrt(D), 0.8 * rng.standard_normal((H, 4 * H)) / np.sqrt(H),
            0.3 * rng.standard_normal(4 * H))


def _gru_weights(rng, D, H):
    return (0.8 * rng.standard_normal((D, 3 * H)) / np.sqrt(D), 0.8 * rng.standard_normal((H, 3 * H)) / np.sqrt(H),
            0.3 * rng.standard_normal(3 * H), 0.3 * rng.standard_normal(3 * H))


def _step_shapes(thorough: bool, large: bool):
    """(kind, N, D, H): one case of every kind, the hidden test with other shapes of the same kinds."""
    if thorough:  # the smallest case first: finite differences of a wrong answer's own forward run on it
        shapes = [("a batch of one", 1, 3, 2), ("ordinary", 4, 2, 3), ("ordinary", 2, 5, 4),
                  ("no gradient from step t+1", 3, 2, 2)]
    else:
        shapes = [("a batch of one", 1, 2, 3), ("ordinary", 3, 4, 5), ("no gradient from step t+1", 2, 3, 3)]
    return shapes + ([("large-scale", 2, 3, 4)] if large else [])


def _lstm_step_cases(rng, thorough: bool, large: bool) -> list[_Case]:
    cases = []
    for kind, N, D, H in _step_shapes(thorough, large):
        x, h_prev, c_prev = rng.standard_normal((N, D)), rng.uniform(-0.9, 0.9, (N, H)), rng.standard_normal((N, H))
        Wx, Wh, b = _lstm_weights(rng, D, H)
        dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
        if kind == "no gradient from step t+1":
            dc = np.zeros((N, H))
        if kind == "large-scale":
            c_prev[:, 0] = BIG * rng.choice([-1.0, 1.0], N)
            b[H] = SATURATE  # the forget gate of unit 0 is exactly 1.0
            x[:, 0], Wx[0, :] = BIG * rng.choice([-1.0, 1.0], N), 0.0
        cases.append(_Case(f"{kind}: x {(N, D)}, H={H}", (x, h_prev, c_prev, Wx, Wh, b), (dh, dc),
                           large=kind == "large-scale"))
    return cases


def _lstm_seq_cases(rng, thorough: bool, large: bool) -> list[_Case]:
    if thorough:  # the smallest case first (see _step_shapes)
        specs = [("a batch of one", 1, 3, 2, 2), ("ordinary", 2, 4, 3, 3), ("c0 omitted", 3, 3, 2, 2),
                 ("T = 1", 2, 1, 3, 3)]
    else:
        specs = [("a batch of one", 1, 3, 2, 2), ("ordinary", 2, 3, 3, 4), ("c0 omitted", 2, 4, 2, 3),
                 ("T = 1", 3, 1, 2, 3)]
    if large:
        specs.append(("large-scale", 2, 3, 2, 3))
    cases = []
    for kind, N, T, D, H in specs:
        x, h0, c0 = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H)), rng.standard_normal((N, H))
        Wx, Wh, b = _lstm_weights(rng, D, H)
        if kind == "large-scale":  # two inputs of size 1e10 behind zero weights: the weights' gradients are huge
            x[:, :, 0], Wx[0, :] = BIG * rng.choice([-1.0, 1.0], (N, T)), 0.0
            h0[:, 0], Wh[0, :] = BIG * rng.choice([-1.0, 1.0], N), 0.0
        kwargs = {} if kind == "c0 omitted" else {"c0": c0}
        cases.append(_Case(f"{kind}: x {(N, T, D)}, H={H}" + (", c0=None" if not kwargs else ""),
                           (x, h0, Wx, Wh, b), (rng.standard_normal((N, T, H)),), kwargs, large=kind == "large-scale"))
    return cases


def _gru_step_cases(rng, thorough: bool, large: bool) -> list[_Case]:
    cases = []
    for kind, N, D, H in _step_shapes(thorough, large):
        if kind == "no gradient from step t+1":
            kind = "h_prev near saturation"
        x, h_prev = rng.standard_normal((N, D)), rng.uniform(-0.9, 0.9, (N, H))
        if kind == "h_prev near saturation":
            h_prev = rng.choice([-1.0, 1.0], (N, H)) * rng.uniform(0.95, 0.999, (N, H))
        Wx, Wh, bx, bh = _gru_weights(rng, D, H)
        if kind == "large-scale":
            h_prev[:, 0] = BIG * rng.choice([-1.0, 1.0], N)
            Wh[0, :] = 0.0          # the huge unit feeds no gate: it only passes through z * h_prev
            bx[H] = SATURATE        # its update gate is exactly 1.0
            x[:, 0], Wx[0, :] = BIG * rng.choice([-1.0, 1.0], N), 0.0
        cases.append(_Case(f"{kind}: x {(N, D)}, H={H}", (x, h_prev, Wx, Wh, bx, bh), (rng.standard_normal((N, H)),),
                           large=kind == "large-scale"))
    return cases


# =============================================================================================== grading


def _outs_problem(report: Report, where: str, outs: Sequence, refs: Sequence, names: Sequence[str],
                  candidates: dict[str, list[tuple]] | None, checks: Sequence[str] | None = None) -> bool:
    """Compare forward outputs (one sub-check per name, or ``checks``); True when all are right."""
    ok = True
    for j, (name, got, want) in enumerate(zip(names, outs, refs)):
        problem = array_problem(got, want)
        if problem:
            ok = False
            cands = {code: [v[j] for v in vs] for code, vs in (candidates or {}).items()}
            diag = diagnose(got, want, cands, generic=False)
            report.fail(checks[j] if checks else name, f"{where}: {name} {problem}{describe(diag)}")
    return ok


def _own_vjps(forward: Callable, case: _Case, n_outputs: int, wanted: set) -> Callable[[], dict[int, np.ndarray]]:
    """A runner: finite-difference VJPs of the student's forward w.r.t. the positional arguments whose gradient
    index (= argument position) is in ``wanted`` and, when the case passes it, c0 (index 5), against the upstream
    of its first n_outputs."""
    dout = np.stack(case.upstream) if n_outputs > 1 else case.upstream[0]
    wrt = [(pos, pos) for pos in range(len(case.args))] + ([("c0", 5)] if "c0" in case.kwargs else [])
    wrt = [(pos, index) for pos, index in wrt if index in wanted]

    def run() -> dict[int, np.ndarray]:  # each VJP is computed where the forward runs (core.own_numeric_vjp)
        result = {}
        for pos, index in wrt:
            vjp = own_numeric_vjp(forward, case.args, ("kw", "c0") if pos == "c0" else (pos,), dout,
                                  kwargs=case.kwargs, outputs=n_outputs, label="finite differences of your forward")
            if vjp is not None:
                result[index] = vjp
        return result
    return run


class _Pair:
    """The state of one backward check across its cases (what passed on ordinary cases, own-FD done once)."""

    def __init__(self, report: Report, grad_names: Sequence[str], fwd_label: str, bwd_label: str, n_outputs: int):
        self.report, self.grad_names = report, tuple(grad_names)
        self.fwd_label, self.bwd_label, self.n_outputs = fwd_label, bwd_label, n_outputs
        self.ordinary_ok = {g: True for g in grad_names}
        self.own_done = False

    def case(self, case: _Case, forward, backward, ref_outs, ref_grads, mistakes: Callable[[], dict], *, out_names,
             fwd_checks=None, fwd_candidates: Callable[[], dict] | None = None) -> bool:
        """Grade one case; False when the student's code timed out. ``mistakes()`` (called only when a gradient
        is wrong) gives, per gradient name, code -> arrays; ``fwd_candidates()`` likewise for the outputs. The
        forward's inputs are watched only when the forward is graded here too (``fwd_checks``)."""
        rep, where = self.report, f"case {case.label}"
        try:
            res = call_student(forward, *case.args, label=self.fwd_label, notes=rep.notes,
                               report=rep if fwd_checks else None, **case.kwargs)
            *outs, cache = unpack(res, (*out_names, "cache"), self.fwd_label)
        except StudentCodeError as exc:
            for name in (fwd_checks or []):
                rep.fail(name, f"{where}: {exc}")
            for g in self.grad_names:
                rep.fail(f"backward {g}", f"{where}: not checked because {self.fwd_label} failed: {exc}")
            return not isinstance(exc, StudentTimeout)
        if fwd_checks:
            forward_ok = all(array_problem(o, r) is None for o, r in zip(outs, ref_outs)) or _outs_problem(
                rep, where, outs, ref_outs, out_names, fwd_candidates() if fwd_candidates else None, fwd_checks)
        else:
            forward_ok = all(array_problem(o, r) is None for o, r in zip(outs, ref_outs))
        try:
            res = call_student(backward, *case.upstream, cache, label=self.bwd_label, notes=rep.notes, report=rep)
            grads = unpack(res, self.grad_names, self.bwd_label)
        except StudentCodeError as exc:
            for g in self.grad_names:
                rep.fail(f"backward {g}", f"{where}: {exc}")
            return not isinstance(exc, StudentTimeout)
        problems = [array_problem(g, r) for g, r in zip(grads, ref_grads)]
        own: dict[int, np.ndarray] = {}
        if (any(problems) or not forward_ok) and not case.large and not self.own_done:
            self.own_done = True
            wanted = {j for j, p in enumerate(problems) if p}
            try:
                own = call_student(_own_vjps(forward, case, self.n_outputs, wanted),
                                   label=f"finite differences of {self.fwd_label}") or {}
            except StudentCodeError:
                own = {}
        if not forward_ok and not fwd_checks:
            rep.notes.append(f"{where}: your {self.fwd_label} does not give the expected outputs, so the backward "
                             f"receives a wrong cache: fix the forward (its own exercise) first.")
        cands = mistakes() if any(problems) else {}
        for j, (name, got, want, problem) in enumerate(zip(self.grad_names, grads, ref_grads, problems)):
            if problem is None:
                continue
            diag = diagnose(got, want, cands.get(name))
            if diag is None and case.large and self.ordinary_ok[name] and _finite_array(got, want):
                diag = diagnoses.get("NUMERIC_NOT_ANALYTIC")
            msg = f"{where}: {name} {problem}{describe(diag)}"
            numeric_own = own.get(j)
            if numeric_own is not None and close(got, numeric_own, 1e-5) and not forward_ok:
                msg += ("\n      Your backward IS consistent with your own forward (finite differences agree), so fix "
                        "the forward first.")
            elif numeric_own is not None and forward_ok:
                msg += "\n      Your forward is right, so the mistake is in the backward."
            if not case.large:
                self.ordinary_ok[name] = False
            rep.fail(f"backward {name}", msg)
        return True


def _finite_array(got: Any, want: np.ndarray) -> bool:
    return isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype == np.float64 and \
        bool(np.all(np.isfinite(got)))


def _backward_report(title: str, points, seed: int, grad_names: Sequence[str], fwd_checks: Sequence[str] = ()):
    report = Report(title, points, seed)
    for name in fwd_checks:
        report.declare(name)
    for g in grad_names:
        report.declare(f"backward {g}")
    report.watch_inputs()
    return report


# =============================================================================================== LSTM step


def _lstm_step_check(forward, backward, *, seed, points, thorough, with_forward: bool, with_backward: bool,
                     title: str):
    require_callable(forward, "lstm_step_forward", 6)
    if with_backward:
        require_callable(backward, "lstm_step_backward", 3)
    fwd_checks = ("forward h", "forward c") if with_forward else ()
    report = _backward_report(title, points, seed, LSTM_STEP_GRADS if with_backward else (), fwd_checks)
    pair = _Pair(report, LSTM_STEP_GRADS if with_backward else (), "lstm_step_forward", "lstm_step_backward", 2)
    for case in _lstm_step_cases(np.random.default_rng(seed), thorough, large=with_backward):
        h, c, cache = _ref.lstm_step_forward(*case.args)
        if not with_backward:
            try:
                res = call_student(forward, *case.args, label="lstm_step_forward", notes=report.notes, report=report)
                outs = unpack(res, ("h", "c", "cache"), "lstm_step_forward")[:2]
            except StudentCodeError as exc:
                for name in fwd_checks:
                    report.fail(name, f"case {case.label}: {exc}")
                if isinstance(exc, StudentTimeout):
                    break
                continue
            if any(array_problem(o, r) for o, r in zip(outs, (h, c))):
                _outs_problem(report, f"case {case.label}", outs, (h, c), ("h", "c"), _forward_variants_lstm(case.args),
                              fwd_checks)
            continue
        ref_grads = _ref.lstm_step_backward(*case.upstream, cache)
        if not pair.case(case, forward, backward, (h, c), ref_grads,
                         lambda case=case: _step_back_candidates(case.args, *case.upstream), out_names=("h", "c"),
                         fwd_checks=fwd_checks, fwd_candidates=lambda case=case: _forward_variants_lstm(case.args)):
            break
    return report.finish()


def check_lstm_step_forward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``lstm_step_forward(x (N,D), h_prev (N,H), c_prev (N,H), Wx (D,4H), Wh (H,4H), b (4H,)) -> (h, c,
    cache)``: a = x Wx + h_prev Wh + b, gates i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of a's four H-blocks in
    that order, c = f * c_prev + i * g, h = o * tanh(c). The cache is not read. Sub-checks: "forward h", "forward
    c", inputs left unchanged. Named: GATE_ORDER, LSTM_NO_CELL_PATH (c = i * g), LSTM_OUTPUT_TANH (h = o * c)."""
    return _lstm_step_check(fn, None, seed=seed, points=points, thorough=thorough, with_forward=True,
                            with_backward=False, title="lstm_step_forward")


def check_lstm_step_backward(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``lstm_step_backward(dh (N,H), dc (N,H), cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)`` with the
    cache of the student's own ``lstm_step_forward`` and random dh, dc (dc = 0 in one case: the last step).

    dc_total = dc + dh * o * (1 - tanh(c)^2); dc_prev = dc_total * f; the gate pre-activations get
    [dc_total g i(1-i), dc_total c_prev f(1-f), dc_total i (1-g^2), dh tanh(c) o(1-o)], and dx, dh_prev, dWx, dWh,
    db follow as for an affine layer. Sub-checks: one per gradient, inputs left unchanged. Named:
    LSTM_NO_CELL_PATH, LSTM_FORGET_FACTOR, LSTM_OUTPUT_TANH, GATE_DERIVATIVE_POINT, NUMERIC_NOT_ANALYTIC,
    BIAS_KEEPDIMS and the generic patterns. A wrong forward is reported as such (fix it first)."""
    return _lstm_step_check(forward, backward, seed=seed, points=points, thorough=thorough, with_forward=False,
                            with_backward=True, title="lstm_step_backward")


def check_lstm_step(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Both halves of one LSTM step in one check (the live-coding drill): the sub-checks of
    :func:`check_lstm_step_forward` and :func:`check_lstm_step_backward` together."""
    return _lstm_step_check(forward, backward, seed=seed, points=points, thorough=thorough, with_forward=True,
                            with_backward=True, title="lstm step forward/backward")


# =============================================================================================== LSTM sequence


def check_lstm_forward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``lstm_forward(x (N,T,D), h0 (N,H), Wx, Wh, b, c0=None) -> (h (N,T,H), cache)``: the step repeated for
    t = 0..T-1 from (h0, c0) (c0 None: zeros), carrying BOTH h and c; h holds the T new hidden states. Called with
    c0 as a keyword, and without it in one case. Sub-checks: "h", inputs left unchanged. Named:
    LSTM_NO_CELL_PATH (c not carried, or c = i * g), LSTM_OUTPUT_TANH, GATE_ORDER."""
    require_callable(fn, "lstm_forward", 5)
    report = Report("lstm_forward", points, seed)
    report.declare("h")
    report.watch_inputs()
    for case in _lstm_seq_cases(np.random.default_rng(seed), thorough, large=False):
        want = _ref.lstm_forward(*case.args, **case.kwargs)[0]
        try:
            res = call_student(fn, *case.args, label="lstm_forward", notes=report.notes, report=report, **case.kwargs)
            h, _ = unpack(res, ("h", "cache"), "lstm_forward")
        except StudentCodeError as exc:
            report.fail("h", f"case {case.label}: {exc}")
            if isinstance(exc, StudentTimeout):
                break
            continue
        problem = array_problem(h, want)
        if problem:
            diag = diagnose(h, want, _seq_forward_candidates(case), generic=False)
            hint = ""
            if getattr(h, "shape", None) == (want.shape[1], want.shape[0], want.shape[2]) and want.shape[0] != \
                    want.shape[1]:
                hint = "\n      h looks time-major (T, N, H): this course is batch-major, h[:, t] is step t."
            report.fail("h", f"case {case.label}: h {problem}{describe(diag)}{hint}")
    return report.finish()


def check_lstm_backward(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``lstm_backward(dh (N,T,H), cache) -> (dx, dh0, dWx, dWh, db, dc0)`` with the cache of the student's
    own ``lstm_forward`` and a random dh (a loss at every step). Two carries run backwards: dh_next into h_{t-1}
    and dc_next into c_{t-1}; the weights' gradients sum over time; dc0 is returned also when c0 was None.
    Sub-checks: one per gradient, inputs left unchanged. Named: BPTT_NO_CARRY, LSTM_NO_CELL_PATH (dc not
    carried), BPTT_NO_TIME_SUM, the step mistakes of :func:`check_lstm_step_backward`, NUMERIC_NOT_ANALYTIC."""
    require_callable(forward, "lstm_forward", 5)
    require_callable(backward, "lstm_backward", 2)
    report = _backward_report("lstm_backward (BPTT)", points, seed, LSTM_SEQ_GRADS)
    pair = _Pair(report, LSTM_SEQ_GRADS, "lstm_forward", "lstm_backward", 1)
    for case in _lstm_seq_cases(np.random.default_rng(seed), thorough, large=True):
        h, cache = _ref.lstm_forward(*case.args, **case.kwargs)
        ref_grads = _ref.lstm_backward(case.upstream[0], cache)
        if not pair.case(case, forward, backward, (h,), ref_grads, lambda case=case: _seq_back_candidates(case),
                         out_names=("h",)):
            break
    return report.finish()


# =============================================================================================== GRU step


def check_gru_step_forward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``gru_step_forward(x (N,D), h_prev (N,H), Wx (D,3H), Wh (H,3H), bx (3H,), bh (3H,)) -> (h, cache)`` in
    PyTorch's convention: r, z = sigmoid of the blocks 0 and 1 of x Wx + bx + h_prev Wh + bh, n = tanh(x Wx_n + bx_n
    + r * (h_prev Wh_n + bh_n)), h = (1 - z) * n + z * h_prev. Sub-checks: "h", inputs left unchanged. Named:
    GRU_CONVENTION (h = z n + (1 - z) h_prev), GRU_RESET (r before the product, or bh_n outside it), GATE_ORDER."""
    require_callable(fn, "gru_step_forward", 6)
    report = Report("gru_step_forward", points, seed)
    report.declare("h")
    report.watch_inputs()
    for case in _gru_step_cases(np.random.default_rng(seed), thorough, large=False):
        want = _ref.gru_step_forward(*case.args)[0]
        try:
            res = call_student(fn, *case.args, label="gru_step_forward", notes=report.notes, report=report)
            h, _ = unpack(res, ("h", "cache"), "gru_step_forward")
        except StudentCodeError as exc:
            report.fail("h", f"case {case.label}: {exc}")
            if isinstance(exc, StudentTimeout):
                break
            continue
        if array_problem(h, want):
            cands = {code: [(v,) for v in vs] for code, vs in _gru_forward_candidates(case.args).items()}
            _outs_problem(report, f"case {case.label}", (h,), (want,), ("h",), cands)
    return report.finish()


def check_gru_step_backward(forward, backward, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``gru_step_backward(dh (N,H), cache) -> (dx, dh_prev, dWx, dWh, dbx, dbh)`` with the cache of the
    student's own ``gru_step_forward`` and a random dh.

    dn = dh (1 - z), dz = dh (h_prev - n), direct path dh_prev += dh z; dan = dn (1 - n^2); dr = dan * hn with
    hn = h_prev Wh_n + bh_n; the r and z blocks get dr r(1-r) and dz z(1-z); the n block of x's side gets dan and
    of h_prev's side dan * r. Sub-checks: one per gradient, inputs left unchanged. Named: GRU_INTERPOLATION_SIGN,
    GRU_DIRECT_PATH, GRU_RESET, GRU_CONVENTION (the other convention's derivatives: dn = dh z, dz = dh (n - h_prev),
    dh_prev += dh (1 - z)),
    GATE_DERIVATIVE_POINT, NUMERIC_NOT_ANALYTIC, BIAS_KEEPDIMS."""
    require_callable(forward, "gru_step_forward", 6)
    require_callable(backward, "gru_step_backward", 2)
    report = _backward_report("gru_step_backward", points, seed, GRU_STEP_GRADS)
    pair = _Pair(report, GRU_STEP_GRADS, "gru_step_forward", "gru_step_backward", 1)
    for case in _gru_step_cases(np.random.default_rng(seed), thorough, large=True):
        h, cache = _ref.gru_step_forward(*case.args)
        ref_grads = _ref.gru_step_backward(case.upstream[0], cache)
        if not pair.case(case, forward, backward, (h,), ref_grads, lambda case=case: _gru_back_candidates(case),
                         out_names=("h",)):
            break
    return report.finish()
