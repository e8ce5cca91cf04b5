"""Student answers written as formulas: safe parsing and a fast equality test.

:func:`parse_answer` turns a string such as ``"y cos(xy)(x+y)"`` or ``"sech(x)^2"`` into a SymPy expression over
the exercise's symbols without running any code the student typed; :func:`are_equivalent` decides whether two
such expressions are mathematically equal. Both are re-exported by :mod:`reference_impl.symbolic`.

What a string may contain
    - the exercise's symbols; a name made of symbol names written together (``xy`` when ``x`` and ``y`` are
      symbols and ``xy`` is not) is their product; a name that is neither gets a message listing the valid ones;
    - numbers, ``+ - * /``, powers written ``^`` or ``**``, implicit products (``2x``, ``x(x+1)``, ``(a)(b)``);
    - the constants ``pi`` and ``e`` (or ``E``) unless the exercise has a symbol of that name;
    - the functions in :data:`FUNCTIONS`: every elementary function under its SymPy name and the names students
      type (``ln``, ``arcsin``, ``abs``, ``max``...), ``log(x, b)`` for a base, ``sigmoid``, ``softplus``, ``relu``.
    Arguments go in parentheses (``sin(x)``, not ``sin x``). No attribute access, no ``__``, ``import`` or
    ``lambda``, at most 2000 characters, and no power whose evaluation would build a huge number
    (``9**9**9**9`` is refused before SymPy tries to compute it).

How equality is decided (fast on a wrong answer)
    1. Both sides are evaluated at random points (vectorised NumPy code from ``lambdify``, cached per
       expression). A point where both are finite and real and differ by more than
       ``1e-8 * max(|a|, |b|) + 1e-11`` is moved into what the symbols' assumptions allow (``positive=True``:
       its absolute value; ``integer=True``: rounded) and confirmed there: by the same compiled code run in
       float64 and in 80-bit long double (the difference must exceed the tolerance plus ten times the float64
       rounding error this estimates), else by both sides evaluated in 40-digit arithmetic (mpmath). A
       confirmed difference means "not equal" (simplify could not prove the difference zero).
    2. If the expressions agree at every compared point (at least ``ceil(n_points / 2)`` valid ones), they are
       equal.
    3. Only when the points decide nothing (too few valid points, or a difference that high precision does not
       confirm) does ``sympy.simplify(a - b) == 0`` run, in a forked process killed after ``time_limit``
       seconds; then "equal" only if it proves the difference zero.
    This gives the same verdicts as simplifying first and sampling when simplify does not prove equality
    (the order used until issue 12), without paying for a simplify that cannot succeed.
"""

from __future__ import annotations

import keyword
import math
import os
import re
import select
import signal
import threading
import warnings
from collections import OrderedDict
from tokenize import NAME, OP
from typing import Mapping

import mpmath
import numpy as np
import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication,
    parse_expr,
    standard_transformations,
)
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

from reference_impl.symbolic import _symbol_list, sigmoid

__all__ = ["FUNCTIONS", "CONSTANTS", "MAX_ANSWER_CHARS", "MAX_EXPONENT", "MAX_DIGITS", "parse_answer",
           "are_equivalent"]

MAX_ANSWER_CHARS = 2000
MAX_EXPONENT = 10_000  # |exponent| of any power in an answer
MAX_DIGITS = 10_000    # decimal digits of any number a power of numbers in an answer would produce


def _softplus(u):
    return sp.log(1 + sp.exp(u))


def _relu(u):
    return sp.Max(u, 0)


def _log(u, base=None, **options):  # options: evaluate=False from the first, unevaluated parse
    return sp.log(u, **options) if base is None else sp.log(u, base, **options)


# Every name a student may call, mapped to what builds the SymPy expression. SymPy's own names first, then the
# spellings students type (NumPy's arc-names, ln, abs, max).
FUNCTIONS = {
    "exp": sp.exp, "log": _log, "ln": sp.log, "log2": lambda u: sp.log(u, 2), "log10": lambda u: sp.log(u, 10),
    "sqrt": sp.sqrt, "cbrt": sp.cbrt, "Abs": sp.Abs, "abs": sp.Abs, "sign": sp.sign, "Heaviside": sp.Heaviside,
    "Max": sp.Max, "Min": sp.Min, "max": sp.Max, "min": sp.Min,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sec": sp.sec, "csc": sp.csc, "cot": sp.cot,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "asec": sp.asec, "acsc": sp.acsc, "acot": sp.acot,
    "atan2": sp.atan2,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "sech": sp.sech, "csch": sp.csch, "coth": sp.coth,
    "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh, "asech": sp.asech, "acsch": sp.acsch,
    "acoth": sp.acoth,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "arctan2": sp.atan2, "arcsec": sp.asec,
    "arccsc": sp.acsc, "arccot": sp.acot, "arcsinh": sp.asinh, "arccosh": sp.acosh, "arctanh": sp.atanh,
    "arcsech": sp.asech, "arccsch": sp.acsch, "arccoth": sp.acoth,
    "erf": sp.erf, "sigmoid": sigmoid, "softplus": _softplus, "relu": _relu,
}
CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}
_FORBIDDEN = ("__", "import", "lambda")
_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z_]")  # "x.subs": attribute access (a float like 1.5 is fine)


class AnswerError(ValueError):
    """An answer that cannot be read; the text says why and what to write instead."""


# ---------------------------------------------------------------------------------------------------- parsing


def _symbol_dict(symbols) -> dict[str, sp.Symbol]:
    if isinstance(symbols, Mapping):
        out = dict(symbols)
        for name, s in out.items():
            if not isinstance(s, sp.Symbol):
                raise TypeError(f"symbols[{name!r}] must be a SymPy Symbol, got {type(s).__name__}")
        return out
    return {s.name: s for s in _symbol_list(symbols)}


def _valid_names(table: Mapping[str, sp.Symbol]) -> str:
    names = ", ".join(sorted(table)) or "(none)"
    consts = [c for c in ("pi", "e") if c not in table]
    return (f"the exercise's symbols {names}" + (f", the constants {' and '.join(consts)}" if consts else "")
            + f" and the functions {', '.join(sorted(f for f in FUNCTIONS if f not in table))}")


def _rebind_symbols(expr: sp.Expr, table: dict[str, sp.Symbol], where: str) -> sp.Expr:
    """Replace free symbols by the allowed ones of the same name; unknown names raise AnswerError."""
    by_name = {s.name: s for s in table.values()}
    by_name.update(table)
    subs = {}
    for s in sorted(expr.free_symbols, key=lambda s: s.name):
        target = by_name.get(s.name)
        if target is None:
            raise AnswerError(f"{where}: unknown symbol {s.name!r}; write products with * or spaces (x*y, x y) and "
                              f"use only {_valid_names(table)}")
        if target is not s:
            subs[s] = target
    undefined = expr.atoms(sp.core.function.AppliedUndef)
    if undefined:
        names = ", ".join(sorted({repr(type(f).__name__) for f in undefined}))
        raise AnswerError(f"{where}: unknown function {names}; use only {_valid_names(table)}")
    return expr.xreplace(subs) if subs else expr


def _segmentations(name: str, words: set[str], last_words: set[str], limit: int = 2) -> list[tuple[str, ...]]:
    """Ways to write ``name`` as a concatenation of ``words`` (the last piece may also be one of ``last_words``),
    distinct as multisets, at most ``limit`` of them."""
    n = len(name)
    ends: list[list[tuple[str, ...]]] = [[] for _ in range(n + 1)]
    ends[0] = [()]
    for i in range(n):
        if not ends[i]:
            continue
        for w in words | last_words:
            if name.startswith(w, i) and (w in words or i + len(w) == n):
                for prefix in ends[i]:
                    if len(ends[i + len(w)]) < 4 * limit:
                        ends[i + len(w)].append(prefix + (w,))
    out, seen = [], set()
    for seg in ends[n]:
        if len(seg) < 2:
            continue
        key = tuple(sorted(seg))
        if key not in seen:
            seen.add(key)
            out.append(seg)
        if len(out) >= limit:
            break
    return out


def _group_end(tokens, j: int) -> int:
    """Index just past the balanced parenthesised group that starts at tokens[j] (an "(")."""
    depth = 0
    for k in range(j, len(tokens)):
        if tokens[k][0] == OP and tokens[k][1] == "(":
            depth += 1
        elif tokens[k][0] == OP and tokens[k][1] == ")":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(tokens)


def _power_end(tokens, i: int) -> int:
    """When tokens[i] starts a power ("^" or "**" then its exponent), the index just past the exponent; else i."""
    if i >= len(tokens) or tokens[i][0] != OP or tokens[i][1] not in ("^", "**"):
        return i
    j = i + 1
    if j < len(tokens) and tokens[j][0] == OP and tokens[j][1] in ("-", "+"):
        j += 1
    if j >= len(tokens):
        return j
    if tokens[j][0] == OP and tokens[j][1] == "(":
        return _group_end(tokens, j)
    j += 1
    if j < len(tokens) and tokens[j - 1][0] == NAME and tokens[j][0] == OP and tokens[j][1] == "(":
        return _group_end(tokens, j)
    return j


def _names_transformation(table: Mapping[str, sp.Symbol]):
    """A parse_expr token transformation: glued symbol names become products, bare function names get a message.

    Runs before SymPy's own transformations, on the raw NAME tokens of the text. A glued product is one factor
    with the power written after it applying to its last symbol, as in handwriting: ``yx^2`` is ``(y*x^2)``,
    ``1/xy`` is ``1/(x*y)``, ``cos(xy)`` is ``cos(x*y)``; ``xcos(y)`` is ``x*cos(y)``.
    """
    functions = {f for f in FUNCTIONS if f not in table}

    def transform(tokens, local_dict, global_dict):
        out = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            kind, text = tok[0], tok[1]
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            call = after is not None and after[0] == OP and after[1] == "("
            i += 1
            if kind != NAME or keyword.iskeyword(text) or text in table or text in global_dict:
                out.append(tok)
                continue
            if text in functions:
                if not call:
                    raise AnswerError(f"put the argument of {text} in parentheses: {text}(...), and a power after "
                                      f"them: {text}(x)^2, not {text}^2(x) or {text} x")
                out.append(tok)
                continue
            if text in local_dict:
                out.append(tok)
                continue
            ways = _segmentations(text, set(table), functions if call else set())
            if len(ways) > 1:
                readings = " or ".join("*".join(w) for w in ways)
                raise AnswerError(f"{text!r} could be read as {readings}: write the product with * or spaces")
            if not ways:
                out.append(tok)  # an unknown name: _rebind_symbols explains which names are valid
                continue
            (pieces,) = ways
            if pieces[-1] in functions:  # "xcos(y)" -> x*cos(y): the call that follows belongs to cos
                for p in pieces[:-1]:
                    out.extend([(NAME, p), (OP, "*")])
                out.append((NAME, pieces[-1]))
                continue
            out.append((OP, "("))
            for j, p in enumerate(pieces):
                if j:
                    out.append((OP, "*"))
                out.append((NAME, p))
            end = _power_end(tokens, i)  # "yx^2": the power stays inside the group, on x
            out.extend(transform(tokens[i:end], local_dict, global_dict))
            out.append((OP, ")"))
            i = end
        return out

    return transform


def _number_value(e) -> float | None:
    """A float approximation of a numeric subtree, or None when it has symbols or functions."""
    if isinstance(e, sp.Integer):
        try:
            return float(int(e))
        except OverflowError:
            return math.copysign(math.inf, int(e))
    if isinstance(e, (sp.Rational, sp.Float)) or e in (sp.pi, sp.E):
        try:
            return float(e)
        except (OverflowError, TypeError):
            return math.inf
    return None


def _guard_powers(expr) -> None:
    """Refuse an (unevaluated) expression whose powers would make SymPy build a huge number.

    Every power's exponent, when it is a number, must have |exponent| <= MAX_EXPONENT, and a power of numbers
    must have at most MAX_DIGITS decimal digits. Visits the tree bottom-up without evaluating anything.
    """
    def value(e):  # float value of a numeric subtree (inf when too large), None when not a plain number
        v = _number_value(e)
        if v is not None or not isinstance(e, sp.Basic) or not e.args:
            return v
        vals = [value(a) for a in e.args]
        if isinstance(e, sp.Pow):
            b, x = vals
            if x is not None and (not math.isfinite(x) or abs(x) > MAX_EXPONENT):
                raise AnswerError(f"the answer has a power with an exponent too large to evaluate "
                                  f"(more than {MAX_EXPONENT} in size): {str(e.args[1])[:40]}")
            if b is None or x is None:
                return None
            if b == 0:
                return 0.0
            if not math.isfinite(b) or abs(x) * math.log10(abs(b)) > MAX_DIGITS:
                raise AnswerError(f"the answer has a power of numbers too large to evaluate (more than "
                                  f"{MAX_DIGITS} digits)")
            try:
                r = abs(b) ** x
            except OverflowError:
                return math.inf
            return r if b > 0 else -r
        if any(v is None for v in vals):
            return None
        try:
            if isinstance(e, sp.Add):
                return float(sum(vals))
            if isinstance(e, sp.Mul):
                return float(math.prod(vals))
        except (OverflowError, ValueError):
            return math.inf
        return None

    try:
        value(expr)
    except RecursionError:
        raise AnswerError("the answer is nested too deeply") from None


def parse_answer(answer, symbols) -> sp.Expr:
    """Turn a student answer into a SymPy expression over ``symbols`` only.

    Args:
        answer: a SymPy expression, a number, or a string such as ``"2x exp(x^2)"`` or ``"y cos(xy)(x+y)"``
            (see the module docstring for what a string may contain).
        symbols: dict name -> Symbol (or a list of Symbols, keyed by their names).

    Returns:
        a SymPy Expr whose free symbols are among ``symbols`` (symbols of an Expr answer are matched by name).

    Raises:
        ValueError (an :class:`AnswerError` saying what to write instead): unparsable text, unknown names,
            ambiguous glued names, a function without parentheses, strings longer than 2000 characters,
            ``__``, ``import``, ``lambda`` or attribute access (no code is ever evaluated), powers too large to
            evaluate.
        TypeError: ``answer`` is neither a string nor something SymPy can take as an expression.
    """
    table = _symbol_dict(symbols)
    if isinstance(answer, str):
        expr = _parse_string(answer, table)
    else:
        if isinstance(answer, (bool, np.bool_)) or answer is None:
            raise TypeError(f"answer must be a SymPy expression or a string, got {type(answer).__name__}")
        try:
            expr = sp.sympify(answer, strict=True)
        except (sp.SympifyError, TypeError) as exc:
            raise TypeError(f"answer must be a SymPy expression or a string, got {type(answer).__name__}") from exc
        if isinstance(expr, sp.Basic):
            _guard_powers(expr)
    if not isinstance(expr, sp.Expr):
        raise AnswerError(f"answer must be a scalar expression, got {type(expr).__name__}: {expr}")
    return _rebind_symbols(expr, table, "answer")


def _parse_string(text: str, table: dict[str, sp.Symbol]) -> sp.Expr:
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerError(f"answer is {len(text)} characters long; the limit is {MAX_ANSWER_CHARS}")
    if not text.strip():
        raise AnswerError("answer is empty")
    lowered = text.lower()
    for bad in _FORBIDDEN:
        if bad in lowered:
            raise AnswerError(f"answer may not contain {bad!r}: {text[:80]!r}")
    if _ATTRIBUTE.search(text):
        raise AnswerError(f"answer may not use attribute access ('.name'): {text[:80]!r}")
    local_dict = {name: f for name, f in {**FUNCTIONS, **CONSTANTS}.items() if name not in table}
    local_dict.update(table)
    # Only what the parser's own generated code needs; empty builtins so eval cannot reach open/exec/...
    global_dict = {
        "__builtins__": {}, "Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational,
        "Symbol": sp.Symbol, "Function": sp.Function,
    }
    transformations = ((_names_transformation(table),) + standard_transformations
                       + (implicit_multiplication, convert_xor))
    try:
        # First without evaluation, to refuse huge powers before SymPy computes them; then for real.
        unevaluated = dict(global_dict, Add=sp.Add, Mul=sp.Mul, Pow=sp.Pow)  # what evaluate=False code calls
        _guard_powers(parse_expr(text, local_dict=local_dict, global_dict=unevaluated,
                                 transformations=transformations, evaluate=False))
        expr = parse_expr(text, local_dict=local_dict, global_dict=global_dict, transformations=transformations)
    except AnswerError:
        raise
    except Exception as exc:  # SyntaxError, TokenError, TypeError, NameError, ... all mean "bad answer"
        raise AnswerError(f"could not parse answer {text[:80]!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(expr, sp.Expr):
        raise AnswerError(f"answer {text[:80]!r} is not a scalar expression (got {type(expr).__name__})")
    return expr


# ---------------------------------------------------------------------------------------------------- equality


def _fork_available() -> bool:
    return hasattr(os, "fork")


def _simplify_is_zero(diff: sp.Expr, time_limit: float) -> bool | None:
    """``simplify(diff) == 0`` with a hard time cap. None when the cap was hit or the worker failed.

    Uses a plain forked child (killed on timeout) where the OS can fork, else a daemon thread whose result
    is abandoned on timeout. ``os.fork`` rather than ``multiprocessing``: a daemonic process (a pool or
    fork-server worker, such as the cohort recheck) may not start multiprocessing children.
    """
    if time_limit <= 0:
        return None
    if _fork_available():
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():  # Python >= 3.12 warns about fork in threaded processes (kernels)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: answer through the pipe and leave without running any parent cleanup
            try:
                os.close(read_end)
                os.write(write_end, b"1" if sp.simplify(diff) == 0 else b"0")
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            ready, _, _ = select.select([read_end], [], [], time_limit)
            answer = os.read(read_end, 1) if ready else b""
        finally:
            os.close(read_end)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        return {b"1": True, b"0": False}.get(answer)
    box: list = []

    def work_thread():
        try:
            box.append(bool(sp.simplify(diff) == 0))
        except Exception:
            box.append(None)

    worker = threading.Thread(target=work_thread, daemon=True)
    worker.start()
    worker.join(time_limit)
    return box[0] if box else None


def _values(expr: sp.Expr, syms: list[sp.Symbol], points: np.ndarray) -> np.ndarray:
    """expr at every row of ``points`` (k, len(syms)) as a complex array (k,); NaN where it cannot be evaluated.

    One vectorised call of the compiled function (:func:`_compiled`); expressions whose NumPy code does not broadcast
    (a function NumPy lacks, such as erf) are evaluated point by point.
    """
    fn = _compiled(expr, syms, "numpy")
    k = len(points)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = np.asarray(fn(*points.T), dtype=complex)
            if out.shape != (k,):
                out = np.broadcast_to(out, (k,)).copy()
            return out
        except Exception:
            pass
        out = np.full(k, np.nan, dtype=complex)
        for i, point in enumerate(points):
            try:
                out[i] = complex(fn(*point))
            except Exception:
                continue
        return out


def _differ(va, vb, rtol: float, atol: float):
    return np.abs(va - vb) > rtol * np.maximum(np.abs(va), np.abs(vb)) + atol


def _allowed_value(s: sp.Symbol, v: float) -> bool:
    number = sp.Integer(int(v)) if float(v).is_integer() else sp.Float(v)
    return all(getattr(number, f"is_{key}", None) is want for key, want in s.assumptions0.items())


def _allowed_point(syms: list[sp.Symbol], point: np.ndarray) -> np.ndarray | None:
    """``point`` moved, where needed, into what the symbols' assumptions allow (positive, integer, ...): per
    symbol the first of v, |v|, -|v|, round(v), round(|v|), -round(|v|), 1, -1 that satisfies every assumption.
    None when some symbol takes none of them (its assumptions are not about sign or integrality)."""
    out = []
    for s, v in zip(syms, point):
        v = float(v)
        for c in (v, abs(v), -abs(v), float(round(v)), float(round(abs(v))), -float(round(abs(v))), 1.0, -1.0):
            if _allowed_value(s, c):
                out.append(c)
                break
        else:
            return None
    return np.array(out)


_COMPILED: "OrderedDict[tuple, object]" = OrderedDict()
_COMPILED_SIZE = 512
_COMPILED_LOCK = threading.Lock()  # the cohort grader runs checks in threads


def _compiled(expr: sp.Expr, syms: list[sp.Symbol], module: str):
    """``lambdify(syms, expr, module)`` ("numpy" or "mpmath") for the last 512 (expression, symbols, module).

    Keyed on the expression itself (SymPy hashes it structurally, far cheaper than ``srepr``). Printed without
    sorting the terms of sums and without a docstring: the printing is most of lambdify's time, and the order
    of the terms does not change the value.
    """
    key = (module, expr, tuple(syms))
    with _COMPILED_LOCK:
        fn = _COMPILED.get(key)
        if fn is not None:
            _COMPILED.move_to_end(key)
            return fn
    printer = (NumPyPrinter if module == "numpy" else MpmathPrinter)(
        {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True, "user_functions": {},
         "order": "none"})
    fn = sp.lambdify(syms, expr, modules=module, printer=printer, docstring_limit=0)
    with _COMPILED_LOCK:
        _COMPILED[key] = fn
        if len(_COMPILED) > _COMPILED_SIZE:
            _COMPILED.popitem(last=False)
    return fn


_EXTENDED = np.finfo(np.longdouble).nmant >= 63  # x86 80-bit long double: 11 more bits than float64


def _extended_difference(ea: sp.Expr, eb: sp.Expr, syms: list[sp.Symbol], point: np.ndarray, rtol: float,
                         atol: float) -> bool:
    """The two expressions differ at ``point`` by more than the tolerance plus ten times their float64 rounding
    error, estimated by running the same compiled code in float64 and in 80-bit long double.

    Cheap (no new compilation); False, i.e. not confirmed, when long double is not wider than float64 here, when
    a function does not keep the long double, or when the values are not finite and real. An expression whose
    float64 value is unstable at the point has a large estimated error, so it is never confirmed here.
    """
    if not _EXTENDED:
        return False
    fa, fb = _compiled(ea, syms, "numpy"), _compiled(eb, syms, "numpy")
    p64, p80 = [np.array([v]) for v in point], [np.array([v], dtype=np.longdouble) for v in point]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = [np.asarray(f(*args)) for f in (fa, fb) for args in (p64, p80)]
    except Exception:
        return False
    if out[1].dtype != np.longdouble or out[3].dtype != np.longdouble:
        return False
    a64, a80, b64, b80 = (complex(np.ravel(v)[0]) for v in out)
    if not all(math.isfinite(z.real) and z.imag == 0 for z in (a64, a80, b64, b80)):
        return False
    a, b = np.longdouble(out[1].ravel()[0]), np.longdouble(out[3].ravel()[0])
    err = abs(a64.real - a80.real) + abs(b64.real - b80.real)
    return float(abs(a - b)) > rtol * max(abs(a80.real), abs(b80.real)) + atol + 10 * err


def _confirmed_difference(ea: sp.Expr, eb: sp.Expr, syms: list[sp.Symbol], point: np.ndarray, rtol: float,
                          atol: float) -> bool:
    """The two expressions differ at ``point`` in 40-digit arithmetic (so not by a float64 rounding effect)."""
    try:
        with mpmath.workdps(40), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            args = [mpmath.mpf(float(v)) for v in point]
            a = complex(_compiled(ea, syms, "mpmath")(*args))
            b = complex(_compiled(eb, syms, "mpmath")(*args))
    except Exception:  # a function mpmath cannot evaluate there: the point confirms nothing
        return False
    if not all(math.isfinite(z.real) and math.isfinite(z.imag) for z in (a, b)):
        return False
    if abs(a.imag) > 1e-12 * max(1.0, abs(a)) or abs(b.imag) > 1e-12 * max(1.0, abs(b)):
        return False
    # each side is now correct to the last bit of a float64, so a float64 difference above the tolerance is real
    return abs(a.real - b.real) > rtol * max(abs(a.real), abs(b.real)) + atol


def _numeric_verdict(ea: sp.Expr, eb: sp.Expr, syms: list[sp.Symbol], *, n_points: int,
                     rng: np.random.Generator, domain: tuple[float, float], rtol: float = 1e-8,
                     atol: float = 1e-11) -> bool | None:
    """True (equal at every compared point), False (a confirmed difference) or None (the points decide nothing).

    Draws ``5 * n_points`` points at once (the same stream as drawing them one by one) and compares the first
    ``n_points`` at which both sides are finite and real.
    """
    lo, hi = domain
    points = rng.uniform(lo, hi, size=(5 * n_points, len(syms)))
    va = _values(ea, syms, points)
    vb = _values(eb, syms, points)
    ok = np.isfinite(va) & np.isfinite(vb) & (va.imag == 0) & (vb.imag == 0)
    idx = np.flatnonzero(ok)[:n_points]
    bad = idx[_differ(va[idx].real, vb[idx].real, rtol, atol)]
    unconfirmed = False
    for i in bad[:3]:
        point = _allowed_point(syms, points[i])
        if point is not None and (_extended_difference(ea, eb, syms, point, rtol, atol)
                                  or _confirmed_difference(ea, eb, syms, point, rtol, atol)):
            return False
        unconfirmed = True
    if unconfirmed or len(bad) or len(idx) < max(1, math.ceil(n_points / 2)):
        return None
    return True


def are_equivalent(a, b, symbols, *, time_limit: float = 3.0, n_points: int = 20, rng=None,
                   domain: tuple[float, float] = (-2.0, 2.0), positive: bool = False) -> bool:
    """Whether two scalar expressions are mathematically equal (see the module docstring for the method).

    Args:
        a, b: SymPy expressions or answer strings (see :func:`parse_answer`).
        symbols: dict name -> Symbol, or a list of Symbols: the only symbols the expressions may use.
        time_limit: seconds for ``simplify``, which runs only when the random points decide nothing.
        n_points: points compared; up to ``5 * n_points`` are drawn, uniformly from ``domain``
            (``positive=True`` keeps only its positive part), float64.
        rng: ``numpy.random.Generator``, an int seed, or None (a fixed seed: grading is reproducible).

    Returns within milliseconds when the points decide, else within about ``time_limit + 0.5`` seconds.
    """
    table = _symbol_dict(symbols)
    ea = parse_answer(a, table)
    eb = parse_answer(b, table)
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    lo, hi = float(domain[0]), float(domain[1])
    if positive:
        lo = max(lo, 1e-3)
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"empty sampling domain ({lo}, {hi}) (positive={positive})")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(12345 if rng is None else rng)
    if ea == eb:
        return True
    syms = sorted(set(table.values()), key=lambda s: s.name)
    verdict = _numeric_verdict(ea, eb, syms, n_points=n_points, rng=rng, domain=(lo, hi))
    if verdict is not None:
        return verdict
    return bool(_simplify_is_zero(ea - eb, time_limit))
