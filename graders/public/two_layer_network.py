"""Fixed inputs of notebook 03 (the two-layer network), for the notebook's own cells."""

import numpy as np

SYMMETRY_STEPS = 30       # training steps of the symmetry experiment
SYMMETRY_LR = 0.5         # its learning rate
CONSTANT_VALUE = 0.3      # every weight of the "constant" initialization


def symmetry_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(X (8, 3), y (8,) labels in 0..2, H = 5 hidden units, C = 3 classes) for the symmetry experiment."""
    rng = np.random.default_rng(1000 + seed)
    X = rng.standard_normal((8, 3))
    y = rng.integers(0, 3, size=8)
    y[:3] = [0, 1, 2]
    return X, y, 5, 3
