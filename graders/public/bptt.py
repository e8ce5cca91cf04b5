"""Fixed inputs of notebook 06 (backpropagation through time), for the notebook's own cells."""

import numpy as np
import sympy as sp

#: The scalar RNN a_t = w * h_{t-1} + u * x_t, h_t = tanh(a_t), t = 1, 2, with loss
#: L = 0.5 * (h_1 - y_1)**2 + 0.5 * (h_2 - y_2)**2.
TRACE_PROBLEM = {"h0": 0.5, "x1": 1.0, "x2": -0.5, "w": 0.8, "u": 0.6, "y1": 0.3, "y2": 0.1}

#: Symbols of the cell-path derivation (RNN: h = tanh(w h_prev + u x); LSTM: c = f c_prev + i g).
CELL_SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("w", "u", "h_prev", "x", "f", "i", "g", "c_prev")}

_DECAY_SEED, _DECAY_RHO, _DECAY_ANGLE = 1, 0.9, 1.1


def decay_matrix() -> np.ndarray:
    """A fixed non-symmetric (6, 6) recurrent matrix (a new array on every call). Its largest eigenvalues are a
    complex pair 0.9 * exp(+-1.1i), so its spectral radius (the largest |eigenvalue|) is neither its largest
    real part nor its largest singular value."""
    def rotation(r: float, angle: float) -> np.ndarray:
        return r * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    block = np.zeros((6, 6))
    block[:2, :2] = rotation(_DECAY_RHO, _DECAY_ANGLE)
    block[2:4, 2:4] = rotation(0.5, 2.0)
    block[4, 4], block[5, 5] = -0.6, 0.45
    P = 0.25 * np.random.default_rng(_DECAY_SEED).standard_normal((6, 6)) + np.eye(6)
    return P @ block @ np.linalg.inv(P)
