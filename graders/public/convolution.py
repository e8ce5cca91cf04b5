"""Public inputs of notebook 11 (convolution and pooling): the fixed numbers its cells print and use.

Imports only the standard library, NumPy and SymPy, so the notebook's non-test cells run where the checks and
the reference library do not exist (cohort grading's sandbox). Nothing here is an answer: the expected values are
computed by the checks (graders/conv.py, graders/exercises/convolution.py) from these inputs.

- ``HAND_X`` (4, 4), ``HAND_W`` (2, 2), ``HAND_B``, ``HAND_DOUT`` (3, 3): the small-number example worked by hand
  (one image, one channel, one filter);
- ``OUTPUT_SIZE_QUESTIONS``: layer configurations whose output size the learner works out (some do not tile);
- ``CONV1D``, :func:`conv1d_symbols`: the sizes and SymPy symbols of the 1-D derivation;
- :func:`demo_problem`: random inputs for the demonstration cells;
- ``TIE_X``: a pooling input with exact ties, for the max-pool demonstration.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

__all__ = ["HAND_X", "HAND_W", "HAND_B", "HAND_DOUT", "OUTPUT_SIZE_QUESTIONS", "CONV1D", "conv1d_symbols",
           "demo_problem", "TIE_X"]

HAND_X = np.array([[1.0, 2.0, 0.0, 1.0],
                   [3.0, 1.0, 2.0, 2.0],
                   [0.0, 1.0, 3.0, 1.0],
                   [2.0, 0.0, 1.0, 2.0]])
HAND_W = np.array([[2.0, -1.0],
                   [1.0, 3.0]])
HAND_B = 1.0
HAND_DOUT = np.array([[1.0, -2.0, 1.0],
                      [2.0, 1.0, -1.0],
                      [0.0, 1.0, 2.0]])

# one axis of a conv layer: input size H, kernel size K, stride, zero padding on each side
OUTPUT_SIZE_QUESTIONS = {
    "a": {"H": 32, "K": 5, "stride": 1, "pad": 2},
    "b": {"H": 7, "K": 3, "stride": 2, "pad": 0},
    "c": {"H": 28, "K": 5, "stride": 1, "pad": 0},
    "d": {"H": 11, "K": 3, "stride": 2, "pad": 1},
    "e": {"H": 6, "K": 3, "stride": 2, "pad": 0},
    "f": {"H": 224, "K": 7, "stride": 2, "pad": 3},
}

# the 1-D cross-correlation of the SymPy derivation: y_i = sum_k w_k * xp[i*stride + k]
CONV1D = {"L": 5, "K": 3, "stride": 2, "pad": 1}


def conv1d_symbols() -> dict[str, sp.Symbol]:
    """Real symbols x0..x4 (the input), w0..w2 (the kernel), dout0..dout2 (the upstream gradient dL/dy_i)."""
    L, K = CONV1D["L"], CONV1D["K"]
    L_out = (L + 2 * CONV1D["pad"] - K) // CONV1D["stride"] + 1
    names = [f"x{i}" for i in range(L)] + [f"w{k}" for k in range(K)] + [f"dout{i}" for i in range(L_out)]
    return {n: sp.Symbol(n, real=True) for n in names}


def demo_problem(seed: int, x_shape=(2, 3, 8, 8), w_shape=(4, 3, 3, 3)) -> dict[str, np.ndarray]:
    """Random float64 inputs {"x", "w", "b"} of a convolution, for demonstration cells (nothing is graded)."""
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape),
            "b": rng.standard_normal(w_shape[0])}


TIE_X = np.array([[[[1.0, 3.0, 2.0, 2.0],
                    [3.0, 0.0, 1.0, 2.0],
                    [0.0, 1.0, 4.0, 4.0],
                    [1.0, 1.0, 4.0, 4.0]]]])
