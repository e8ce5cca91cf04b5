"""check_init: He and Xavier initialisation of a network's weights (and zero biases).

The student's initialiser is called with a seeded Generator; shapes, zero biases and the weights' variance
(within INIT_Z standard deviations of the sample variance, for layers with at least INIT_MIN_DRAWS weights) are
checked, and the Generator must be the only source of randomness.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from graders import diagnoses
from graders.core import brief, describe, require_callable, unpack
from graders.network.grading import INIT_MIN_DRAWS, INIT_Z, _Grader, _name, _same_array, _Stop


# =============================================================================================== initialization


def _init_target(scheme: str, fan_in: int, fan_out: int) -> tuple[float, str]:
    if scheme == "he":
        return 2.0 / fan_in, f"2/fan_in = 2/{fan_in}"
    return 2.0 / (fan_in + fan_out), f"2/(fan_in + fan_out) = 2/{fan_in + fan_out}"


def _init_candidates(scheme: str, fi: int, fo: int) -> dict[str, list[float]]:
    if scheme == "he":
        return {"INIT_FAN_OUT": [2.0 / fo, 1.0 / fo], "INIT_STD_AS_VARIANCE": [(2.0 / fi) ** 2],
                "INIT_MISSING_FACTOR_2": [1.0 / fi], "INIT_WRONG_SCHEME": [2.0 / (fi + fo)],
                "INIT_FIXED_SCALE": [1.0, 1e-4]}
    return {"INIT_STD_AS_VARIANCE": [(2.0 / (fi + fo)) ** 2], "INIT_MISSING_FACTOR_2": [1.0 / (fi + fo)],
            "INIT_WRONG_SCHEME": [2.0 / fi, 1.0 / fi], "INIT_FIXED_SCALE": [1.0, 1e-4]}


def _init_cases(thorough: bool) -> list[list[int]]:
    """Layer sizes; the visible test has every kind the hidden one tries (a large layer for the variance, a single
    weight, a deep list)."""
    return [[800, 200, 10], [3, 5, 2], [1, 1], [6, 4, 3, 2, 5]] + ([[100, 1000, 3], [2, 7, 7, 1]] if thorough else [])


SCHEME_NAMES = {"he": "He", "xavier": "Xavier"}


def check_init(fn, scheme: str, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``init_params(layer_sizes, rng) -> params`` for ``scheme`` "he" or "xavier".

    Contract: layer_sizes is a list [d0, d1, ..., dL] of ints, rng a numpy.random.Generator that provides
    ALL the randomness. Returns a dict with "W{l}" float64 (d_{l-1}, d_l) and "b{l}" float64 (d_l,) for
    l = 1..L: biases are zero; weights are independent normal draws with mean 0 and variance 2/fan_in
    (He) or 2/(fan_in + fan_out) (Xavier), where fan_in = d_{l-1} and fan_out = d_l.

    The variance is tested on layers with at least INIT_MIN_DRAWS weights: the sample variance of n
    independent N(0, s^2) draws has relative standard deviation sqrt(2/(n-1)), and the grader allows
    INIT_Z = 6 of them (about 2% for the 800 x 200 layer; a false alarm has probability below 1e-8).
    The mean must lie within 6 s/sqrt(n) of 0 and the excess kurtosis within 6 sqrt(24/n) of the normal's 0
    (a uniform distribution, excess kurtosis -1.2, fails).
    Sub-checks: "keys and shapes", "biases are zero", "weight distribution", "uses the rng argument".
    """
    if scheme not in SCHEME_NAMES:
        raise ValueError(f"check_init: scheme must be one of {list(SCHEME_NAMES)}, got {scheme!r}")
    require_callable(fn, "init_params", 2)
    label = f"{_name(fn, 'init_params')}()"
    names = ["keys and shapes", "biases are zero", "weight distribution", "uses the rng argument"]
    g = _Grader(f"{SCHEME_NAMES[scheme]} initialization", points, seed, names)
    try:
        for k, sizes in enumerate(_init_cases(thorough)):
            where = f"case layer_sizes={sizes}"
            ok, params, _ = g.call(fn, list(sizes), np.random.default_rng([seed, k]), label=label, where=where,
                                   fail=names[:3])
            if ok:
                (params,) = unpack(params, ("params",), label)
                _grade_init_case(g, where, params, sizes, scheme)
        _grade_init_rng(g, fn, label, seed)
    except _Stop:
        pass
    return g.finish()


def _grade_init_case(g: _Grader, where: str, params: Any, sizes: list[int], scheme: str) -> None:
    if not isinstance(params, dict):
        for n in ("keys and shapes", "biases are zero", "weight distribution"):
            g.fail(n, f"{where}: expected a dict {{'W1': ..., 'b1': ..., ...}}, got {type(params).__name__} "
                   f"({brief(params)}).")
        return
    L = len(sizes) - 1
    keys = [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]
    extra = [k for k in params if k not in keys]
    if extra:
        g.report.notes.append(f"params has extra key(s) {brief(list(extra), 100)}; expected exactly {keys}.")
    for l in range(1, L + 1):
        fi, fo = sizes[l - 1], sizes[l]
        for key, shape in ((f"W{l}", (fi, fo)), (f"b{l}", (fo,))):
            if key not in params:
                g.fail("keys and shapes", f"{where}: params has no key {key!r} (its keys: "
                       f"{brief(list(params), 100)}); expected {keys}.")
                continue
            problem = _init_array_problem(params[key], shape)
            if problem:
                g.fail("keys and shapes", f"{where}: params[{key!r}] {problem}")
        b, W = params.get(f"b{l}"), params.get(f"W{l}")
        if _numeric_array(b) is None:
            g.fail("biases are zero", f"{where}: b{l} not checked: it is missing or not a numeric NumPy array.")
        elif np.any(b != 0):
            g.fail("biases are zero", f"{where}: b{l} is not all zeros ({_preview(b)}); start biases at "
                   f"np.zeros(fan_out): random weights already break the symmetry.")
        W = _numeric_array(W)
        if W is None or W.size != fi * fo:
            g.fail("weight distribution", f"{where}: W{l} not checked: it is missing, not a numeric NumPy array "
                   f"or does not have {fi} x {fo} entries.")
        else:
            _grade_weights(g, where, f"W{l}", W, fi, fo, scheme)


def _numeric_array(a: Any) -> np.ndarray | None:
    """a as float64 when it is a finite numeric NumPy array, else None."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
        return None
    return a.astype(np.float64, copy=False)


def _preview(a: np.ndarray) -> str:
    flat = np.asarray(a, dtype=np.float64).ravel()
    return "[" + ", ".join(f"{v:.3g}" for v in flat[:4]) + (", ...]" if flat.size > 4 else "]")


def _init_array_problem(arr: Any, shape: tuple) -> str | None:
    if arr is None:
        return "is None."
    if not isinstance(arr, np.ndarray):
        return f"must be a NumPy array of shape {shape}, got {type(arr).__name__} ({brief(arr)})."
    if arr.shape != shape:
        hint = ""
        if arr.shape == shape[::-1] and len(shape) == 2:
            hint = (" (transposed: here W has shape (fan_in, fan_out) = (layer_sizes[l-1], layer_sizes[l]) so "
                    "that out = x @ W)")
        elif len(shape) == 1 and arr.shape == (1,) + shape:
            hint = " (use np.zeros(fan_out), without the extra dimension)"
        return f"has shape {arr.shape}, expected {shape}{hint}."
    if arr.dtype != np.float64:
        return f"has dtype {arr.dtype}, expected float64."
    if not np.all(np.isfinite(arr)):
        return "has non-finite values."
    return None


def _grade_weights(g: _Grader, where: str, key: str, W: np.ndarray, fi: int, fo: int, scheme: str) -> None:
    n = W.size
    if not np.any(W):
        g.fail("weight distribution", f"{where}: {key} is all zeros: every hidden unit would compute the same "
               f"thing forever (symmetry is never broken). Draw random weights.")
        return
    if n > 1 and np.unique(W).size < 0.99 * n:
        g.fail("weight distribution", f"{where}: {key} has only {np.unique(W).size} distinct values among {n}: "
               f"draw every weight independently (one rng.standard_normal((fan_in, fan_out)) call), do not repeat "
               f"rows or columns.")
        return
    if n < INIT_MIN_DRAWS:
        return
    target, formula = _init_target(scheme, fi, fo)
    var = float(np.var(W))
    tol = INIT_Z * math.sqrt(2.0 / (n - 1))
    std = math.sqrt(target)
    mean = float(np.mean(W))
    if abs(mean) > INIT_Z * std / math.sqrt(n):
        g.fail("weight distribution", f"{where}: {key} has mean {mean:.3g}; the weights must be centred at 0 "
               f"(allowed |mean| <= {INIT_Z * std / math.sqrt(n):.2g} for {n} draws).")
    if abs(var / target - 1.0) > tol:
        diag = None
        for code, values in _init_candidates(scheme, fi, fo).items():
            if any(abs(v / target - 1.0) > tol and abs(var / v - 1.0) <= tol for v in values):
                diag = diagnoses.get(code)
                break
        g.fail("weight distribution", f"{where}: {key} ({fi} x {fo}) has variance {var:.4g}, but "
               f"{SCHEME_NAMES[scheme]} initialization needs {formula} = {target:.4g} (allowed within "
               f"{100 * tol:.1f}% for {n} draws).{describe(diag)}")
        return
    z = (W - mean) / math.sqrt(var)
    kurt = float(np.mean(z ** 4) - 3.0)
    kurt_tol = INIT_Z * math.sqrt(24.0 / n)
    if abs(kurt) > kurt_tol:
        g.fail("weight distribution", f"{where}: {key} does not look normally distributed (excess kurtosis "
               f"{kurt:.2f}, allowed within {kurt_tol:.2f} of a normal's 0; a uniform has -1.2): draw "
               f"rng.standard_normal(...) and scale it.")


def _grade_init_rng(g: _Grader, fn: Callable, label: str, seed: int) -> None:
    sizes = [6, 5, 4]
    where = f"reproducibility, layer_sizes={sizes}"
    sub = "uses the rng argument"
    results = []
    for s in (seed, seed, seed + 1):
        ok, res, _ = g.call(fn, list(sizes), np.random.default_rng([seed, 99, s]), label=label, where=where,
                            fail=[sub])
        if not ok:
            return
        if not isinstance(res, dict) or any(not isinstance(res.get(f"W{l}"), np.ndarray) for l in (1, 2)):
            g.fail(sub, f"{where}: not checked because {label} does not return a dict of arrays here.")
            return
        results.append(res)
    same = all(_same_array(results[0][f"W{l}"], results[1][f"W{l}"]) for l in (1, 2))
    differ = any(not _same_array(results[0][f"W{l}"], results[2][f"W{l}"]) for l in (1, 2))
    if not same:
        g.fail(sub, f"{where}: two calls with identically seeded generators gave different weights: draw from the "
               f"rng argument (rng.standard_normal(...)), not from np.random.randn / np.random.normal.")
    elif not differ:
        g.fail(sub, f"{where}: generators with different seeds gave the same weights: draw from the rng argument "
               f"(do not call np.random.seed or create your own generator inside the function).")
