"""Input validation shared by the reference layers: clear errors instead of silent broadcasting."""

from __future__ import annotations

import numpy as np


def as_array(x, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array (a new array only when conversion is needed).

    Raises TypeError for non-numeric input and ValueError for the wrong number of dimensions.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def expect_shape(arr: np.ndarray, shape: tuple, name: str) -> None:
    """Raise ValueError unless ``arr.shape == shape``."""
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
