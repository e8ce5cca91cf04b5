"""What a learner types where a number or an option letter is asked: read it the way they meant it.

Numbers
    :func:`number` takes what :func:`graders.core.real_number` takes (Python, NumPy or SymPy real numbers) and
    also a string of plain arithmetic on numbers: ``"1/256"``, ``"1000000"``, ``"1_000_000"``, ``"1e6"``,
    ``"2**-8"``, ``"0.25^4"``, ``"-(3 + 4) / 2"``. The string is read with :mod:`ast`, never evaluated as code:
    only numeric literals, ``+ - * / ** ^`` and parentheses, at most 200 characters, all arithmetic in float64
    (a power that overflows is refused, it cannot hang). :func:`number_problem` says why something is not a
    number.

The course's precision for typed numbers
    :data:`REL_TOL` and :data:`ABS_TOL`: four significant digits are enough. A value rounded to 4 significant
    digits is within 5e-4 of the exact one, relatively; the absolute floor 1e-8 accepts 0 for an entry that is
    zero up to rounding. :data:`PRECISION` is the sentence every notebook uses to say so.

Option letters
    :func:`letter` accepts ``"b"``, ``"B"``, ``" b "``, ``"b."``, ``"b)"``, ``"(b)"``, ``"[b]"``, ``"Option b"``,
    ``"option (b)"``, ``"answer: b"``, ``"The answer is B."``; exactly one letter: ``"a or b"`` is refused with
    a message saying so.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Iterable

import numpy as np

from graders.core import brief, real_number

__all__ = ["REL_TOL", "ABS_TOL", "PRECISION", "NUMBER_FORMS", "number", "number_problem", "letter", "letter_problem"]

REL_TOL = 5e-4
ABS_TOL = 1e-8
PRECISION = "Four significant digits are enough (relative tolerance 5e-4)"
NUMBER_FORMS = "a number such as 0.125, 1.25e-3, 3/8, 2**-10 or 0.5^3"
MAX_NUMBER_CHARS = 200

_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


class _NotANumber(ValueError):
    pass


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _NotANumber(f"{node.value!r} is not a number")
        try:
            return float(node.value)
        except OverflowError:
            raise _NotANumber("a number in it is too large for a float") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        v = _arith(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _arith(node.left), _arith(node.right)
        try:
            v = _OPS[type(node.op)](a, b)
        except ZeroDivisionError:
            raise _NotANumber("it divides by zero") from None
        except OverflowError:
            raise _NotANumber("its value is too large for a float") from None
        if isinstance(v, complex):
            raise _NotANumber("a negative number to a fractional power is not a real number")
        return v
    if isinstance(node, ast.Tuple):
        raise _NotANumber("write a number without commas (1000000 or 1_000_000, not 1,000,000)")
    if isinstance(node, ast.Name):
        raise _NotANumber(f"{node.id!r} is a name; only numbers and + - * / ^ ** ( ) may appear")
    if isinstance(node, ast.Call):
        raise _NotANumber("function calls are not read here; compute the number in Python and give it")
    raise _NotANumber("only numbers and + - * / ^ ** ( ) may appear")


def _parse(text: str) -> float:
    s = text.strip()
    if not s:
        raise _NotANumber("it is empty")
    if len(s) > MAX_NUMBER_CHARS:
        raise _NotANumber(f"it is longer than {MAX_NUMBER_CHARS} characters")
    s = s.replace("^", "**").replace("\u2212", "-").replace("\u00d7", "*")
    try:
        tree = ast.parse(s, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _NotANumber("it is not arithmetic on numbers") from None
    try:
        value = _arith(tree.body)
    except RecursionError:
        raise _NotANumber("it is nested too deeply") from None
    if not math.isfinite(value):
        raise _NotANumber("its value is not finite")
    return value


def number(x: Any) -> float | None:
    """``x`` as a finite float when it is a real number or a string of arithmetic on numbers, else None."""
    if isinstance(x, str):
        try:
            return _parse(x)
        except _NotANumber:
            return None
    return real_number(x)


def number_problem(x: Any) -> str:
    """Why ``x`` is not read as a number, and what to write (for a value :func:`number` returned None on)."""
    if isinstance(x, str):
        try:
            _parse(x)
        except _NotANumber as exc:
            return f"could not read {brief(x)} as a number ({exc}); give {NUMBER_FORMS}."
    if isinstance(x, (float, np.floating)) and not math.isfinite(x):
        return f"got {x}, a number that is not finite; give a number with a finite value."
    return f"expected a number, got {brief(x)} ({type(x).__name__}); give {NUMBER_FORMS}."


_PREFIX = re.compile(r"^(?:the\s+)?(?:right\s+|correct\s+|best\s+)?(?:option|answer|choice|letter)"
                     r"(?:\s+is)?\s*[:=\-]?\s*", re.IGNORECASE)
_ONE = re.compile(r"[(\[]?\s*([A-Za-z])\s*[)\]]?\s*[.:;!]?")
_LONE_LETTER = re.compile(r"(?<![A-Za-z])([A-Za-z])(?![A-Za-z])")


def letter(x: Any, letters: Iterable[str]) -> str | None:
    """The one option letter (lower case) ``x`` names, or None (see the module docstring for the forms)."""
    if not isinstance(x, str):
        return None
    s = _PREFIX.sub("", x.strip(), count=1).strip()
    m = _ONE.fullmatch(s)
    if m is None:
        return None
    got = m.group(1).lower()
    return got if got in {str(k).lower() for k in letters} else None


def letter_problem(x: Any, letters: Iterable[str]) -> str:
    """Why ``x`` is not read as one option letter (for a value :func:`letter` returned None on)."""
    options = sorted({str(k).lower() for k in letters})
    listed = ", ".join(repr(k) for k in options)
    if isinstance(x, str):
        body = _PREFIX.sub("", x.strip(), count=1)
        named = sorted({c.lower() for c in _LONE_LETTER.findall(body) if c.lower() in options})
        if len(named) > 1:
            return (f"{brief(x)} names {len(named)} options ({', '.join(named)}); answer with one letter only, "
                    f"the best option.")
    return f"{brief(x)} is not one of the options; answer with one letter of {listed}."
