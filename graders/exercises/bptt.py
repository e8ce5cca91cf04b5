"""Checks specific to notebook 06 (backpropagation through time).

The generic RNN checks (step, sequence forward, full and truncated BPTT, clipping, gradient norm against lag)
live in graders/rnn.py; this module holds what only this notebook asks:

- :func:`check_two_step_trace`: a scalar RNN unrolled over two steps, every forward value and every gradient
  of the BPTT table traced by hand (``TRACE_PROBLEM`` holds the numbers of the problem);
- :func:`check_decay_prediction`: the spectral radius of ``decay_matrix()`` and the lag after which a gradient
  in the linear regime has shrunk by 1e-6;
- :func:`check_cell_path`: the one-step local derivatives dh_t/dh_{t-1} of a scalar tanh RNN and dc_t/dc_{t-1}
  of an LSTM cell, as SymPy expressions or strings.

Expected values are computed here (NumPy and SymPy), never typed in the notebook.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from graders import answers as _answers
from graders import concepts as _concepts
from graders.public.bptt import CELL_SYMBOLS, TRACE_PROBLEM, decay_matrix

__all__ = ["TRACE_PROBLEM", "TRACE_KEYS", "check_two_step_trace", "decay_matrix", "DECAY_KEYS",
           "check_decay_prediction", "CELL_SYMBOLS", "CELL_KEYS", "check_cell_path"]


# ============================================================================================ two-step trace

#: The scalar RNN a_t = w * h_{t-1} + u * x_t, h_t = tanh(a_t), t = 1, 2, with loss
#: L = 0.5 * (h_1 - y_1)**2 + 0.5 * (h_2 - y_2)**2.

TRACE_KEYS = ("h1", "h2", "dL_dh2", "dL_da2", "dL_dh1", "dL_da1", "dL_dw", "dL_du", "dL_dh0")

TRACE_HINTS = {
    "h1": "h1 = tanh(w * h0 + u * x1).",
    "h2": "h2 = tanh(w * h1 + u * x2): step 2 starts from h1, not from h0.",
    "dL_dh2": "only the loss term at step 2 depends on h2.",
    "dL_da2": "multiply by the local slope tanh'(a2) = 1 - h2**2.",
    "dL_dh1": "h1 feeds the loss at step 1 AND the state h2: add both paths.",
    "dL_da1": "multiply the TOTAL dL/dh1 by 1 - h1**2.",
    "dL_dw": "w is used at both steps: dL/dw = dL/da2 * h1 + dL/da1 * h0.",
    "dL_du": "u is used at both steps: dL/du = dL/da2 * x2 + dL/da1 * x1.",
    "dL_dh0": "a1 = w * h0 + u * x1, so dL/dh0 = dL/da1 * w.",
}


def _trace_values(p: dict = TRACE_PROBLEM) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The right table and, per key, the values that the classic mistakes produce."""
    h0, x1, x2, w, u, y1, y2 = (p[k] for k in ("h0", "x1", "x2", "w", "u", "y1", "y2"))
    h1 = math.tanh(w * h0 + u * x1)
    h2 = math.tanh(w * h1 + u * x2)
    dh2 = h2 - y2
    da2 = dh2 * (1 - h2 ** 2)
    dh1 = (h1 - y1) + da2 * w
    da1 = dh1 * (1 - h1 ** 2)
    right = {"h1": h1, "h2": h2, "dL_dh2": dh2, "dL_da2": da2, "dL_dh1": dh1, "dL_da1": da1,
             "dL_dw": da2 * h1 + da1 * h0, "dL_du": da2 * x2 + da1 * x1, "dL_dh0": da1 * w}
    da1_nc = (h1 - y1) * (1 - h1 ** 2)  # no carry from step 2
    mistakes = {
        "h2": {"started step 2 from h0 instead of h1": math.tanh(w * h0 + u * x2)},
        "dL_da2": {"TANH_DERIVATIVE": dh2 * (1 - h2)},
        "dL_dh1": {"BPTT_NO_CARRY": h1 - y1, "dropped the loss term at step 1 (only the path through h2)": da2 * w},
        "dL_da1": {"BPTT_NO_CARRY": da1_nc},
        "dL_dw": {"BPTT_NO_TIME_SUM": da2 * h1, "BPTT_NO_CARRY": da2 * h1 + da1_nc * h0},
        "dL_du": {"BPTT_NO_TIME_SUM": da2 * x2, "BPTT_NO_CARRY": da2 * x2 + da1_nc * x1},
        "dL_dh0": {"BPTT_NO_CARRY": da1_nc * w},
    }
    return right, mistakes


def check_two_step_trace(table: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade the hand-traced BPTT table of the two-step scalar RNN in ``TRACE_PROBLEM``.

    ``table`` maps each key of ``TRACE_KEYS`` to a number (four significant digits are enough: the course's
    precision for typed numbers, graders.typed). One sub-check per key; BPTT_NO_CARRY, BPTT_NO_TIME_SUM and
    TANH_DERIVATIVE are named.
    """
    right, mistakes = _trace_values()
    return _concepts.check_trace_table(table, right, exercise="two-step BPTT by hand", hints=TRACE_HINTS,
                                       mistakes=mistakes, points=points, seed=seed,
                                      thorough=thorough)


# ============================================================================================ decay prediction

DECAY_KEYS = ("spectral_radius", "lags_to_1e-6")


def _decay_values() -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    W = decay_matrix()
    eig = np.linalg.eigvals(W)
    rho = float(np.max(np.abs(eig)))
    sigma = float(np.linalg.norm(W, 2))
    q = math.log(1e-6) / math.log(rho)
    lags = math.floor(q) + 1  # the smallest k with rho**k < 1e-6
    right = {"spectral_radius": rho, "lags_to_1e-6": float(lags)}
    mistakes = {
        "spectral_radius": {"the largest singular value (spectral NORM) was used: the long-run factor per step is "
                            "the largest |eigenvalue|": sigma,
                            "the largest REAL PART of the eigenvalues was taken: the largest ones are a complex pair, "
                            "and a complex eigenvalue's size is its modulus, np.abs(lam)": float(np.max(eig.real)),
                            "the largest |real part| was taken: take the modulus of the complex eigenvalues, "
                            "np.abs(lam), not of their real parts": float(np.max(np.abs(eig.real)))},
        "lags_to_1e-6": {"off by one: rho**k is still above 1e-6 at that k": float(lags - 1),
                         "rounded log(1e-6) / log(rho) to the nearest integer instead of rounding up": float(round(q))},
    }
    return right, mistakes


def check_decay_prediction(answers_: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``{"spectral_radius": max |eigenvalue| of decay_matrix(), "lags_to_1e-6": the smallest integer k
    with spectral_radius**k < 1e-6}`` (four significant digits are enough; the lag is a whole number). The
    matrix's largest eigenvalues are a complex pair: the largest real part (or |real part|) and the largest
    singular value are named mistakes."""
    right, mistakes = _decay_values()
    if isinstance(answers_, dict) and isinstance(answers_.get("spectral_radius"), (complex, np.complexfloating)) \
            and abs(answers_["spectral_radius"].imag) < 1e-12:
        # np.max of the complex eigenvalues is complex with imaginary part 0: grade its real part (and name it)
        answers_ = dict(answers_, spectral_radius=float(answers_["spectral_radius"].real))
    return _concepts.check_trace_table(answers_, right, exercise="predicted decay of the BPTT gradient",
                                       mistakes=mistakes, points=points, seed=seed,
                                      thorough=thorough,
                                      hints={"spectral_radius": "np.max(np.abs(np.linalg.eigvals(W)))",
                                             "lags_to_1e-6": "solve rho**k < 1e-6 for the smallest integer k."})


# ============================================================================================ cell path

CELL_KEYS = ("rnn_dh_dhprev", "lstm_dc_dcprev")


def _cell_expected() -> tuple[dict[str, sp.Expr], dict[str, dict[str, sp.Expr]]]:
    s = CELL_SYMBOLS
    h_t = sp.tanh(s["w"] * s["h_prev"] + s["u"] * s["x"])
    c_t = s["f"] * s["c_prev"] + s["i"] * s["g"]
    right = {"rnn_dh_dhprev": sp.diff(h_t, s["h_prev"]), "lstm_dc_dcprev": sp.diff(c_t, s["c_prev"])}
    mistakes = {
        "rnn_dh_dhprev": {"the tanh slope was dropped (only w is left)": s["w"],
                          "the inner derivative w was dropped (chain rule)": 1 - h_t ** 2,
                          "TANH_DERIVATIVE": s["w"] * (1 - h_t)},
        "lstm_dc_dcprev": {"the input term i*g does not depend on c_prev (in this local derivative the gates are "
                           "held fixed)": s["f"] + s["i"] * s["g"],
                           "that is the value c_t, not its derivative": c_t,
                           "1 is the LSTM without a forget gate; with one, the factor is the gate": sp.Integer(1)},
    }
    return right, mistakes


def check_cell_path(answers_: Any, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``{"rnn_dh_dhprev": d tanh(w*h_prev + u*x) / d h_prev, "lstm_dc_dcprev": d(f*c_prev + i*g) / d c_prev}``
    (SymPy expressions over ``CELL_SYMBOLS`` or strings such as "w*(1 - tanh(w*h_prev + u*x)^2)")."""
    right, mistakes = _cell_expected()
    return _answers.check_expressions(answers_, right, CELL_SYMBOLS, exercise="one step of the recurrent path",
                                     mistakes=mistakes, points=points, seed=seed, thorough=thorough)
