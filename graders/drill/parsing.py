"""Reading typed answers: numbers (arithmetic allowed), lists and matrices, named values, one letter.

Every reader raises :class:`AnswerFormatError` with a message that says what was wrong and what format is
expected; nothing typed is ever evaluated as Python (numbers go through SymPy's parser on a whitelist of
characters, lists through ``ast.literal_eval``).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np
import sympy as sp

REL_TOL = 2e-3   # answers may be rounded to 3-4 significant digits
ABS_TOL = 2e-4   # ... and to 4 decimals when the answer is of order 1 (scaled down for smaller answers)


class AnswerFormatError(ValueError):
    """The typed answer cannot be read; the message says what format is expected."""


_NUMBER_EXPR = re.compile(r"^[0-9eE.+\-*/() ^]+$")


def number(text: str) -> float:
    """One finite number; arithmetic such as ``0.25**4`` or ``6*(3*2+2)`` is allowed."""
    t = str(text).strip().replace("−", "-").replace("^", "**")
    if not t:
        raise AnswerFormatError("empty answer")
    if not _NUMBER_EXPR.match(t.replace("**", "^")):
        raise AnswerFormatError(f"{text!r} is not a number (arithmetic such as 0.25**4 or 6*(3*2+2) is fine)")
    try:
        value = float(sp.sympify(t, rational=False).evalf())
    except (sp.SympifyError, TypeError, ValueError, SyntaxError, ZeroDivisionError):
        raise AnswerFormatError(f"cannot read {text!r} as a number") from None
    if not math.isfinite(value):
        raise AnswerFormatError(f"{text!r} is not a finite number")
    return value


def numbers(text: str) -> list:
    """Nested lists of numbers from '[1, 2]', '1, 2', '[[1,2],[3,4]]' or '1 2; 3 4'."""
    t = str(text).strip().replace("−", "-")
    if not t:
        raise AnswerFormatError("empty answer")
    if t[0] in "[(":
        try:
            value = ast.literal_eval(t)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise AnswerFormatError(f"cannot read {text!r}: use a list such as [1.5, -2] or [[1, 2], [3, 4]]") \
                from None

        def conv(v):
            if isinstance(v, (list, tuple)):
                return [conv(u) for u in v]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
            raise AnswerFormatError(f"{v!r} in your answer is not a number")
        return conv(value)
    rows = [r for r in t.split(";") if r.strip()]
    parsed = [[number(p) for p in re.split(r"[,\s]+", r.strip()) if p] for r in rows]
    return parsed if len(parsed) > 1 else parsed[0]


def array(text: str, shape: tuple) -> np.ndarray:
    """A float64 array of exactly ``shape`` (a single number is read as a 1-element list)."""
    nested = numbers(text)  # AnswerFormatError passes through with its own message
    if not isinstance(nested, list):
        nested = [nested]
    lengths = {len(r) for r in nested if isinstance(r, list)}
    if any(isinstance(r, list) for r in nested) and (len(lengths) > 1 or not all(isinstance(r, list)
                                                                                  for r in nested)):
        raise AnswerFormatError(f"{text!r} has rows of different lengths")
    try:
        arr = np.asarray(nested, dtype=np.float64)
    except (ValueError, TypeError):
        raise AnswerFormatError(f"{text!r} is not a rectangular list of numbers") from None
    if arr.shape != tuple(shape):
        raise AnswerFormatError(f"expected {int(np.prod(shape))} numbers with shape {tuple(shape)}, got shape "
                                f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AnswerFormatError(f"{text!r} contains a number that is not finite")
    return arr


def named(text: str, names) -> dict[str, float]:
    """``x=1, y=-2.5`` -> {"x": 1.0, "y": -2.5}; every name in ``names`` must be given."""
    parts = {}
    for piece in re.split(r"[,;]\s*", str(text).strip()):
        if "=" in piece:
            k, v = piece.split("=", 1)
            parts[k.strip()] = v
    missing = [k for k in names if k not in parts]
    if missing:
        raise AnswerFormatError(f"give every value as name=number; missing {', '.join(missing)}")
    return {k: number(parts[k]) for k in names}


def letter(text: str, choices) -> str:
    """One letter among ``choices`` ('b', 'B', 'b)' and '(b)' are all read as 'B')."""
    t = str(text).strip().strip("()").strip().upper().rstrip(".)")
    if t not in choices:
        raise AnswerFormatError(f"answer with one letter among {', '.join(choices)}")
    return t


def close(a: Any, b: Any) -> bool:
    """Whether answer ``a`` matches ``b`` up to rounding: |a - b| <= REL_TOL |b| + ABS_TOL min(1, max|b|).

    The absolute part scales down with the size of the answer (unless the answer is exactly 0), so that 0.5**30
    and 0.25**30 are different answers although both are tiny.
    """
    if isinstance(b, str) or isinstance(a, str):
        return a == b
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() >= b.keys() and all(close(a[k], b[k]) for k in b)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    peak = float(np.max(np.abs(b))) if b.size else 0.0
    scale = min(1.0, peak) if peak > 0 else 1.0
    return bool(np.all(np.abs(a - b) <= ABS_TOL * scale + REL_TOL * np.abs(b)))
