"""Public material of notebook 12 (gated recurrent cells): fixed inputs, symbols and demo data.

Imports only numpy and sympy, so the notebook's own cells can use it wherever they run (in cohort grading the
checks and reference_impl do not exist in the student's process). Nothing here is an answer: no gate value,
no gradient, no expected output; the checks compute those from reference_impl.

- :data:`WORKED_STEP`, :data:`TRACE_STEP`: one scalar LSTM step (D = H = 1, gate order i, f, g, o): the input,
  the previous states, the twelve weights and biases named as in :data:`LSTM_SYMBOLS`, and the upstream
  gradients ``dh`` (of h_t) and ``dc`` (of c_t, arriving from step t+1). The first is worked through in the
  notebook, the second is the learner's exercise.
- :data:`LSTM_SYMBOLS`, :data:`GRU_SYMBOLS` and :func:`sigmoid`: real SymPy symbols for the derivations (the
  names of reference_impl.symbolic_layers.lstm_scalar_step and gru_scalar_step) and the logistic function.
- :func:`lag_problem`: the random cell, inputs and scored gradient of the gradient-norm experiment, drawn from
  ``numpy.random.default_rng(seed)`` in the order reference_impl.gated_rnn.gradient_norms_by_lag documents.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

__all__ = ["GATES", "WORKED_STEP", "TRACE_STEP", "TRACE_KEYS", "LSTM_SYMBOLS", "GRU_SYMBOLS", "sigmoid",
           "LAG_SEED", "LAG_SIZES", "lag_problem"]

GATES = ("i", "f", "g", "o")

#: The scalar LSTM step worked through in section 1 (a_k = wx_k * x + wh_k * h_prev + b_k for k in i, f, g, o).
WORKED_STEP = {
    "x": 1.0, "h_prev": 0.5, "c_prev": 0.8,
    "wx_i": 0.5, "wx_f": -0.3, "wx_g": 0.9, "wx_o": 0.2,
    "wh_i": 0.4, "wh_f": 0.6, "wh_g": -0.5, "wh_o": 0.7,
    "b_i": 0.0, "b_f": 1.0, "b_g": 0.1, "b_o": -0.2,
    "dh": 1.0, "dc": 0.5,
}

#: The scalar LSTM step of Exercise 1 (same layout as WORKED_STEP).
TRACE_STEP = {
    "x": -0.6, "h_prev": 0.3, "c_prev": -1.2,
    "wx_i": 0.8, "wx_f": 0.4, "wx_g": -1.1, "wx_o": 0.6,
    "wh_i": -0.3, "wh_f": 0.5, "wh_g": 0.7, "wh_o": -0.9,
    "b_i": 0.2, "b_f": 1.5, "b_g": -0.1, "b_o": 0.3,
    "dh": 0.7, "dc": -0.4,
}

#: The entries of the hand trace, forward first, then backward.
TRACE_KEYS = ("i", "f", "g", "o", "c", "h", "do", "dc_total", "dc_prev", "da_i", "da_f", "da_g", "da_o",
              "dh_prev")


def _symbols(names) -> dict:
    return {name: sp.Symbol(name, real=True) for name in names}


#: x, h_prev, c_prev and, for each gate k in i, f, g, o, wx_k, wh_k, b_k (real symbols).
LSTM_SYMBOLS = _symbols(["x", "h_prev", "c_prev"] + [f"{w}_{k}" for w in ("wx", "wh", "b") for k in GATES])

#: x, h_prev and, for each block k in r, z, n, wx_k, wh_k, bx_k, bh_k (real symbols; PyTorch's GRU).
GRU_SYMBOLS = _symbols(["x", "h_prev"] + [f"{w}_{k}" for w in ("wx", "wh", "bx", "bh") for k in "rzn"])


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)) as a SymPy expression."""
    return 1 / (1 + sp.exp(-sp.sympify(a)))


LAG_SEED = 1
LAG_SIZES = {"T": 50, "N": 8, "D": 8, "H": 32}
_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


def lag_problem(cell: str, seed: int = LAG_SEED, *, T: int = 50, N: int = 8, D: int = 8, H: int = 32,
                forget_bias: float = 1.0, update_bias: float = 1.0):
    """(x (N, T, D), h0 (N, H) zeros, params, g (N, H)) for the gradient-norm experiment.

    Draws from ``np.random.default_rng(seed)``: Wx ~ N(0, 1) / sqrt(D) (D, kH), Wh ~ N(0, 1) / sqrt(H) (H, kH)
    with k = 1 (rnn), 4 (lstm), 3 (gru), then x ~ N(0, 1) and g ~ N(0, 1). Biases are zero except the
    LSTM's forget-gate block b[H:2H] = forget_bias and the GRU's update-gate block bx[H:2H] = update_bias.
    params: rnn {"Wx", "Wh", "b"}, lstm {"Wx", "Wh", "b"}, gru {"Wx", "Wh", "bx", "bh"}.
    """
    if cell not in _BLOCKS:
        raise ValueError(f"cell must be one of {tuple(_BLOCKS)}, got {cell!r}")
    rng = np.random.default_rng(seed)
    k = _BLOCKS[cell]
    Wx = rng.standard_normal((D, k * H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, k * H)) / np.sqrt(H)
    if cell == "rnn":
        params = {"Wx": Wx, "Wh": Wh, "b": np.zeros(H)}
    elif cell == "lstm":
        b = np.zeros(4 * H)
        b[H:2 * H] = forget_bias
        params = {"Wx": Wx, "Wh": Wh, "b": b}
    else:
        bx = np.zeros(3 * H)
        bx[H:2 * H] = update_bias
        params = {"Wx": Wx, "Wh": Wh, "bx": bx, "bh": np.zeros(3 * H)}
    x = rng.standard_normal((N, T, D))
    g = rng.standard_normal((N, H))
    return x, np.zeros((N, H)), params, g
