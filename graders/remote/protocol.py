"""The wire format between the grader and a student's process: plain data only, decoded strictly.

A message is ``[4-byte big-endian header length][header: UTF-8 JSON][buffer 0][buffer 1]...``; the header lists
the byte length of every buffer in ``"b"``. Values inside the header are trees of JSON scalars and one-key tags:

    null true 1 2.5 "text"          None, bool, int, float, str (exact Python types; NaN and inf allowed)
    {"L": [...]} {"T": [...]}       list, tuple
    {"D": [[k, v], ...]}            dict (keys: data that hashes), {"S": [...]} set, {"F": [...]} frozenset
    {"c": [re, im]}                 complex
    {"A": [dtype, shape, i]}        NumPy array, raw bytes in buffer i; {"N": [dtype, i]} NumPy scalar
    {"Y": tree} / {"Ys": text}      SymPy expression as a tree of whitelisted heads / as text when exotic
    {"R": ...} {"C": ...} {"K": ...}  references (handles, callbacks, catalogue items): the side that reads them
                                    decides what they mean; this module only checks their shape

Decoding never runs code (no pickle, no eval, no attribute lookups by name except the SymPy whitelist) and
refuses anything over the limits below with a :class:`ProtocolError`, before allocating for it.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from typing import Any, Callable

import numpy as np

MAX_MESSAGE_BYTES = 96 * 2 ** 20      # header plus buffers
MAX_HEADER_BYTES = 16 * 2 ** 20
MAX_BUFFERS = 20_000
MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_STR_CHARS = 4_000_000
MAX_NDIM = 16
MAX_SYMPY_NODES = 5_000
DTYPES = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"}
REF_TAGS = ("R", "C", "K")

# SymPy heads a tree may use (class names), besides Symbol/Integer/Rational/Float/constants/Undef/Matrix/Tuple.
SYMPY_HEADS = (
    "Add", "Mul", "Pow", "exp", "log", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot",
    "asec", "acsc", "atan2", "sinh", "cosh", "tanh", "coth", "sech", "csch", "asinh", "acosh", "atanh", "acoth",
    "asech", "acsch", "Abs", "sign", "Max", "Min", "Heaviside", "floor", "ceiling", "erf", "erfc", "re", "im",
    "conjugate", "LambertW", "gamma", "factorial", "binomial", "Derivative", "Piecewise", "ExprCondPair",
    "StrictGreaterThan", "GreaterThan", "StrictLessThan", "LessThan", "Equality", "Unequality", "And", "Or", "Not",
    "BooleanTrue", "BooleanFalse", "KroneckerDelta",
)
SYMPY_CONSTANTS = ("pi", "E", "I", "oo", "-oo", "zoo", "nan", "EulerGamma", "GoldenRatio", "Catalan", "true",
                   "false")
_ASSUMPTIONS = ("real", "positive", "negative", "nonnegative", "nonpositive", "integer", "nonzero", "finite")


class ProtocolError(Exception):
    """A message broke the format or a limit; the text says which."""


class Unencodable(ProtocolError):
    """A value has no data form and the sender has no reference policy for it."""


# ============================================================================================== encoding


def encode(value: Any, ref: Callable[[Any], dict] | None = None,
           buffers: list[bytes] | None = None) -> tuple[Any, list[bytes]]:
    """(tree, buffers) for ``value``. ``ref(obj)`` gives the tree of a non-data object (or raises Unencodable);
    pass ``buffers`` to append to the buffer list of a message being built."""
    buffers = [] if buffers is None else buffers
    counter = [0]
    tree = _enc(value, ref, buffers, 0, counter, {})
    return tree, buffers


def _enc(v: Any, ref, buffers: list, depth: int, counter: list, active: dict) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ProtocolError(f"value has more than {MAX_NODES} parts")
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value is nested more than {MAX_DEPTH} levels deep")
    t = type(v)
    if v is None or t is bool or t is int or t is str:
        if t is int and v.bit_length() > 4000:
            raise ProtocolError("integer too large to send (more than 4000 bits)")
        if t is str and len(v) > MAX_STR_CHARS:
            raise ProtocolError(f"string of {len(v)} characters is longer than the limit {MAX_STR_CHARS}")
        return v
    if t is float:
        return v if math.isfinite(v) else {"f": repr(v)}
    if t is complex:
        return {"c": [_enc(v.real, ref, buffers, depth + 1, counter, active),
                      _enc(v.imag, ref, buffers, depth + 1, counter, active)]}
    if t in (list, tuple, set, frozenset, dict):
        key = id(v)
        if key in active:
            raise ProtocolError("value contains itself (a reference cycle)")
        active[key] = True
        try:
            if t is dict:
                return {"D": [[_enc(k, ref, buffers, depth + 1, counter, active),
                               _enc(x, ref, buffers, depth + 1, counter, active)] for k, x in v.items()]}
            items = [_enc(x, ref, buffers, depth + 1, counter, active) for x in v]
            return {{list: "L", tuple: "T", set: "S", frozenset: "F"}[t]: items}
        finally:
            del active[key]
    if t is np.ndarray:
        code = _dtype_code(v.dtype)
        if code is None:
            if ref is not None:
                return ref(v)
            raise Unencodable(f"NumPy arrays of dtype {v.dtype} cannot be sent")
        if v.ndim > MAX_NDIM:
            raise ProtocolError(f"array has {v.ndim} dimensions (limit {MAX_NDIM})")
        if v.nbytes > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"array of {v.nbytes} bytes is larger than the message limit {MAX_MESSAGE_BYTES}")
        buffers.append(np.ascontiguousarray(v).tobytes())
        _check_buffers(buffers)
        return {"A": [code, list(v.shape), len(buffers) - 1]}
    if isinstance(v, np.generic) and t.__module__ == "numpy":
        code = _dtype_code(v.dtype)
        if code is not None:
            buffers.append(np.asarray(v).tobytes())
            _check_buffers(buffers)
            return {"N": [code, len(buffers) - 1]}
    if t.__module__.startswith("sympy"):
        tree = _sympy_tree(v)
        if tree is not None:
            return tree
    if ref is None:
        raise Unencodable(f"a {t.__name__} cannot be sent as data")
    return ref(v)


def _check_buffers(buffers: list) -> None:
    if len(buffers) > MAX_BUFFERS:
        raise ProtocolError(f"value holds more than {MAX_BUFFERS} arrays")
    if sum(len(b) for b in buffers) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"arrays add up to more than {MAX_MESSAGE_BYTES} bytes")


def _dtype_code(dtype: np.dtype) -> str | None:
    if dtype.byteorder == ">" or dtype.fields is not None or dtype.subdtype is not None:
        return None
    code = f"{dtype.kind}{dtype.itemsize}"
    return code if code in DTYPES else None


def _sympy_tree(v: Any) -> dict | None:
    import sympy as sp

    if not isinstance(v, (sp.Basic, sp.MatrixBase)):
        return None
    try:
        return {"Y": _sym(v, [0])}
    except Unencodable:
        text = str(v)
        return {"Ys": text[:20_000]}


def _sym(e: Any, count: list) -> Any:
    import sympy as sp

    count[0] += 1
    if count[0] > MAX_SYMPY_NODES:
        raise ProtocolError(f"SymPy expression has more than {MAX_SYMPY_NODES} nodes")
    if isinstance(e, sp.MatrixBase):
        return ["Matrix", int(e.rows), int(e.cols), [_sym(x, count) for x in e]]
    if isinstance(e, sp.Symbol):
        assumptions = {a: True for a in _ASSUMPTIONS if e.assumptions0.get(a) is True}
        return ["Symbol", e.name, assumptions]
    if e is sp.S.NegativeInfinity:
        return ["Const", "-oo"]
    if isinstance(e, sp.Integer):
        return ["Integer", str(int(e))]
    if isinstance(e, sp.Rational):
        return ["Rational", str(e.p), str(e.q)]
    if isinstance(e, sp.Float):
        sign, man, exp, bc = e._mpf_
        return ["Float", int(sign), str(int(man)), int(exp), int(bc), int(e._prec)]
    for name in SYMPY_CONSTANTS:
        if name != "-oo" and e is getattr(sp.S, _CONST_ATTR.get(name, name), None):
            return ["Const", name]
    if isinstance(e, sp.core.function.AppliedUndef):
        return ["Undef", type(e).__name__, [_sym(a, count) for a in e.args]]
    if isinstance(e, sp.Tuple):
        return ["Tuple", [_sym(a, count) for a in e.args]]
    head = type(e).__name__
    if head in SYMPY_HEADS:
        return [head, [_sym(a, count) for a in e.args]]
    raise Unencodable(f"SymPy {head}")


_CONST_ATTR = {"pi": "Pi", "E": "Exp1", "I": "ImaginaryUnit", "oo": "Infinity", "zoo": "ComplexInfinity",
               "nan": "NaN", "true": "true", "false": "false"}


# ============================================================================================== decoding


def decode(tree: Any, buffers: list[bytes], resolve: Callable[[str, Any], Any] | None = None) -> Any:
    """The value of ``tree``; ``resolve(tag, payload)`` turns a reference tag into an object (or raises)."""
    used: set[int] = set()
    return _dec(tree, buffers, resolve, 0, [0], used)


def _dec(t: Any, buffers: list, resolve, depth: int, counter: list, used: set) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ProtocolError(f"value has more than {MAX_NODES} parts")
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value is nested more than {MAX_DEPTH} levels deep")
    tt = type(t)
    if t is None or tt in (bool, int, float, str):
        return t
    if tt is not dict or len(t) != 1:
        raise ProtocolError(f"malformed value node of type {tt.__name__}")
    (tag, body), = t.items()
    if tag in ("L", "T", "S", "F"):
        if type(body) is not list:
            raise ProtocolError(f"malformed {tag} node")
        items = [_dec(x, buffers, resolve, depth + 1, counter, used) for x in body]
        if tag == "L":
            return items
        if tag == "T":
            return tuple(items)
        try:
            return set(items) if tag == "S" else frozenset(items)
        except TypeError as exc:
            raise ProtocolError(f"set member cannot be hashed: {exc}") from None
    if tag == "D":
        if type(body) is not list:
            raise ProtocolError("malformed dict node")
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("malformed dict entry")
            k = _dec(pair[0], buffers, resolve, depth + 1, counter, used)
            try:
                hash(k)
            except TypeError:
                raise ProtocolError(f"dict key of type {type(k).__name__} cannot be hashed") from None
            out[k] = _dec(pair[1], buffers, resolve, depth + 1, counter, used)
        return out
    if tag == "f":
        if body not in ("nan", "inf", "-inf"):
            raise ProtocolError("malformed float node")
        return float(body)
    if tag == "c":
        if type(body) is not list or len(body) != 2:
            raise ProtocolError("malformed complex node")
        re_, im_ = (_dec(x, buffers, resolve, depth + 1, counter, used) for x in body)
        if type(re_) is not float or type(im_) is not float:
            raise ProtocolError("malformed complex node")
        return complex(re_, im_)
    if tag == "A":
        return _array(body, buffers, used)
    if tag == "N":
        if type(body) is not list or len(body) != 2:
            raise ProtocolError("malformed NumPy scalar node")
        arr = _array([body[0], [], body[1]], buffers, used)
        return arr[()]
    if tag == "Y":
        return _from_sym(body, [0], 0)
    if tag == "Ys":
        if type(body) is not str or len(body) > 20_000:
            raise ProtocolError("malformed SymPy text node")
        return body
    if tag in REF_TAGS:
        if resolve is None:
            raise ProtocolError(f"unexpected reference ({tag})")
        return resolve(tag, body)
    raise ProtocolError(f"unknown value tag {tag!r}")


def _array(body: Any, buffers: list, used: set) -> np.ndarray:
    if type(body) is not list or len(body) != 3:
        raise ProtocolError("malformed array node")
    code, shape, index = body
    if type(code) is not str or code not in DTYPES:
        raise ProtocolError(f"array dtype {code!r} is not allowed")
    if type(shape) is not list or len(shape) > MAX_NDIM or any(type(s) is not int or s < 0 for s in shape):
        raise ProtocolError("malformed array shape")
    if type(index) is not int or not 0 <= index < len(buffers) or index in used:
        raise ProtocolError("array buffer index out of range or used twice")
    used.add(index)
    dtype = np.dtype(f"<{code[0]}{code[1:]}") if code[0] != "b" else np.dtype(bool)
    buf = buffers[index]
    count = math.prod(shape)
    if count * dtype.itemsize != len(buf):
        raise ProtocolError(f"array buffer holds {len(buf)} bytes, shape {tuple(shape)} of {dtype} needs "
                            f"{count * dtype.itemsize}")
    return np.frombuffer(buf, dtype=dtype).reshape(shape).copy()


def _from_sym(node: Any, count: list, depth: int) -> Any:
    import sympy as sp

    count[0] += 1
    if count[0] > MAX_SYMPY_NODES or depth > 200:
        raise ProtocolError("SymPy expression too large or too deep")
    if type(node) is not list or not node or type(node[0]) is not str:
        raise ProtocolError("malformed SymPy node")
    head, rest = node[0], node[1:]
    try:
        if head == "Symbol":
            name, assumptions = rest
            if type(name) is not str or not 0 < len(name) <= 64 or type(assumptions) is not dict:
                raise ProtocolError("malformed SymPy symbol")
            flags = {k: True for k, v in assumptions.items() if k in _ASSUMPTIONS and v is True}
            return sp.Symbol(name, **flags)
        if head == "Integer":
            (digits,) = rest
            if type(digits) is not str or len(digits) > 1000:
                raise ProtocolError("SymPy integer too long")
            return sp.Integer(int(digits))
        if head == "Rational":
            p, q = rest
            if type(p) is not str or type(q) is not str or len(p) > 1000 or len(q) > 1000:
                raise ProtocolError("SymPy rational too long")
            return sp.Rational(int(p), int(q))
        if head == "Float":
            sign, man, exp, bc, prec = rest
            if not (type(sign) is int and type(man) is str and len(man) < 400 and type(exp) is int
                    and abs(exp) < 100_000 and type(bc) is int and type(prec) is int and 1 <= prec <= 1000):
                raise ProtocolError("malformed SymPy float")
            return sp.Float._new((sign, int(man), exp, bc), prec)
        if head == "Const":
            (name,) = rest
            if name == "-oo":
                return sp.S.NegativeInfinity
            if name not in SYMPY_CONSTANTS:
                raise ProtocolError(f"unknown SymPy constant {name!r}")
            return getattr(sp.S, _CONST_ATTR.get(name, name))
        if head == "Matrix":
            rows, cols, entries = rest
            if not (type(rows) is int and type(cols) is int and 0 <= rows <= 1000 and 0 <= cols <= 1000
                    and type(entries) is list and len(entries) == rows * cols):
                raise ProtocolError("malformed SymPy matrix")
            return sp.Matrix(rows, cols, [_from_sym(e, count, depth + 1) for e in entries])
        args_node = rest[-1] if rest else None
        if type(args_node) is not list:
            raise ProtocolError("malformed SymPy arguments")
        args = [_from_sym(a, count, depth + 1) for a in args_node]
        if head == "Tuple":
            return sp.Tuple(*args)
        if head == "Undef":
            name = rest[0]
            if type(name) is not str or not name.isidentifier() or len(name) > 64:
                raise ProtocolError("malformed SymPy function name")
            return sp.Function(name)(*args)
        if head not in SYMPY_HEADS:
            raise ProtocolError(f"SymPy head {head!r} is not allowed")
        cls = _sympy_class(head)
        if head in ("Add", "Mul", "Pow"):
            return cls(*args, evaluate=False)
        if head in ("BooleanTrue", "BooleanFalse"):
            return cls()
        try:
            return cls(*args, evaluate=False)
        except TypeError:
            return cls(*args)
    except ProtocolError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ProtocolError(f"malformed SymPy {head}: {exc}") from None


def _sympy_class(head: str):
    import sympy as sp
    from sympy.core import relational
    from sympy.logic import boolalg

    for place in (sp, relational, boolalg, sp.functions):
        cls = getattr(place, head, None)
        if isinstance(cls, type):
            return cls
    raise ProtocolError(f"SymPy head {head!r} is not available")


# ============================================================================================== framing


def write_message(sock: socket.socket, header: dict, buffers: list[bytes] = ()) -> None:
    """Send one message; ``header`` must be JSON data (see the module docstring)."""
    header = dict(header, b=[len(b) for b in buffers])
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError(f"message header of {len(raw)} bytes is over the limit {MAX_HEADER_BYTES}")
    if len(raw) + sum(header["b"]) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(raw) + sum(header['b'])} bytes is over the limit {MAX_MESSAGE_BYTES}")
    sock.sendall(struct.pack(">I", len(raw)) + raw)
    for b in buffers:
        sock.sendall(b)


def read_message(sock: socket.socket, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    """Receive one message (``deadline`` from time.monotonic(); TimeoutError when it passes)."""
    (n,) = struct.unpack(">I", _read_exact(sock, 4, deadline))
    if n > MAX_HEADER_BYTES:
        raise ProtocolError(f"message header of {n} bytes is over the limit {MAX_HEADER_BYTES}")
    try:
        header = json.loads(_read_exact(sock, n, deadline).decode(), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ProtocolError(f"message header is not valid JSON: {exc}") from None
    if type(header) is not dict:
        raise ProtocolError("message header is not an object")
    sizes = header.get("b", [])
    if type(sizes) is not list or len(sizes) > MAX_BUFFERS or any(type(s) is not int or s < 0 for s in sizes):
        raise ProtocolError("malformed buffer list")
    if n + sum(sizes) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {n + sum(sizes)} bytes is over the limit {MAX_MESSAGE_BYTES}")
    buffers = [_read_exact(sock, s, deadline) for s in sizes]
    return header, buffers


def _no_constants(name: str):
    raise ValueError(f"JSON constant {name} is not allowed (floats travel as tagged strings)")


def _read_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message before the deadline")
            sock.settimeout(left)
        else:
            sock.settimeout(None)
        try:
            chunk = sock.recv(min(n - got, 1 << 20))
        except socket.timeout:
            raise TimeoutError("no message before the deadline") from None
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
