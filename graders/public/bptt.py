"""Fixed inputs of notebook 06 (backpropagation through time), for the notebook's own cells."""

import numpy as np
import sympy as sp

#: The scalar RNN a_t = w * h_{t-1} + u * x_t, h_t = tanh(a_t), t = 1, 2, with loss
#: L = 0.5 * (h_1 - y_1)**2 + 0.5 * (h_2 - y_2)**2.
TRACE_PROBLEM = {"h0": 0.5, "x1": 1.0, "x2": -0.5, "w": 0.8, "u": 0.6, "y1": 0.3, "y2": 0.1}

#: Symbols of the cell-path derivation (RNN: h = tanh(w h_prev + u x); LSTM: c = f c_prev + i g).
CELL_SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("w", "u", "h_prev", "x", "f", "i", "g", "c_prev")}

_DECAY_SEED, _DECAY_H, _DECAY_RHO = 6, 6, 0.9


def decay_matrix() -> np.ndarray:
    """A fixed non-symmetric (6, 6) recurrent matrix (a new array on every call). Its spectral radius (the
    largest |eigenvalue|) is NOT its largest singular value."""
    rng = np.random.default_rng(_DECAY_SEED)
    A = rng.standard_normal((_DECAY_H, _DECAY_H)) + 0.5 * np.diag(rng.uniform(0.5, 1.5, _DECAY_H))
    return _DECAY_RHO * A / np.max(np.abs(np.linalg.eigvals(A)))
