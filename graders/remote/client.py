"""The grader side of the link: a :class:`Link` to a student's process and the proxies checks receive.

A check never touches a student object: it holds a :class:`RemoteFunction`, :class:`RemoteClass` or
:class:`RemoteObject` whose every use (call, attribute, operator, ``isinstance``) is a request over the socket
with data in and data out. ``graders.core.call_student`` recognises proxies and asks the link, so the same
check code grades in one process (self-study) and across the sandbox (cohort grading). An operator whose student
code raised a built-in TypeError, ValueError, ... raises that class here too (``float(proxy)`` behaves).

What the grader sends: data, references to the student's own objects, catalogue items
(graders.remote.catalogue: name, parameters and ``state``; the state comes back after the call), a numpy
Generator (as its state), and callbacks: a plain grader function passed to
student code (e.g. the reference forward a student's gradient checker calls) becomes an id the student can call
while that call lasts; its arguments and result are data. Nothing else of the grader's can be reached.

Deadlines: a request waits its time limit plus ``GRACE`` seconds; a student process that does not answer by
then (an alarm ignored, a crash) makes the link dead, and every later request fails at once with the reason.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import inspect
import itertools
import socket
import sys
import time
from typing import Any, Callable

import numpy as np

from graders.remote import catalogue, protocol

GRACE = 5.0
DEFAULT_TIMEOUT = 10.0
MAX_CALLBACKS = 200_000
MISSING = object()
# built-in errors an operator on a proxy re-raises as themselves (see _Proxy._op)
PROTOCOL_ERRORS = {e.__name__: e for e in (TypeError, ValueError, AttributeError, KeyError, IndexError, LookupError,
                                           ZeroDivisionError, ArithmeticError, OverflowError, NotImplementedError)}

_active_links = 0
# (deadline, label, seconds, notes) of the call_student that is running a grader-side function now
_scope: contextvars.ContextVar = contextvars.ContextVar("backprop_remote_scope", default=None)


class LinkDead(Exception):
    """The student's process stopped answering or broke the protocol; the text says how."""


class Unreadable(Exception):
    """A name's value exists but cannot be sent as data (too large, too deep): the learner's answer is unusable."""


def active() -> bool:
    """Whether this process has an open link (the cohort grader): grader-side time limits then use deadlines."""
    return _active_links > 0


def link_of(*values: Any) -> "Link | None":
    """The link of the first live proxy found in ``values`` (lists, tuples, dicts and catalogue items' parameters
    are searched), or None: a catalogue runner called with the student's objects must run where they live."""
    queue, seen = collections.deque(values), 0
    while queue and seen < 10_000:  # breadth first: the arguments themselves before what they contain
        v = queue.popleft()
        seen += 1
        if isinstance(v, _Proxy):
            if not v._released:
                return v._link
        elif isinstance(v, catalogue.Item):
            queue.extend(v.params.values())
        elif type(v) in (list, tuple):
            queue.extend(v)
        elif type(v) is dict:
            queue.extend(v.values())
    return None


def type_name(obj: Any) -> str:
    """``type(obj).__name__``; for a proxy, the name of the student's type it stands for."""
    if isinstance(obj, _Proxy):
        return str(obj._info.get("type") or "object")
    return type(obj).__name__


def is_class(obj: Any) -> bool:
    """Whether ``obj`` is a class: a local one or a student's class seen through the link."""
    return isinstance(obj, (type, RemoteClass))


@contextlib.contextmanager
def scope(label: str, seconds: float, notes: list | None):
    """Run a grader function that calls proxies: their requests share one deadline and one notes list."""
    deadline = time.monotonic() + seconds
    outer = _scope.get()
    if outer is not None:
        deadline = min(deadline, outer[0])
    token = _scope.set((deadline, label, seconds, notes if notes is not None else (outer[3] if outer else None)))
    try:
        yield
    finally:
        _scope.reset(token)


def _errors():
    from graders.core import StudentCodeError, StudentTimeout
    return StudentCodeError, StudentTimeout


class Link:
    """One connection to a student process (see the module docstring)."""

    def __init__(self, sock: socket.socket, *, timeout: float = DEFAULT_TIMEOUT):
        global _active_links
        self.sock = sock
        self.timeout = timeout
        self.dead: str | None = None
        self.evidence: list[str] = []        # protocol violations: a submission that attacks the grader
        self.proxies: dict[int, Any] = {}
        self.callbacks: dict[int, Callable] = {}
        self._cb_ids = itertools.count(1)
        self._callback_count = 0
        self.requests = 0
        self.deadline: float | None = None    # time.monotonic() by which everything must be done (the notebook's budget)
        self._closed = False
        _active_links += 1

    # -------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        global _active_links
        if not self._closed:
            self._closed = True
            _active_links -= 1
            try:
                self.sock.close()
            except OSError:
                pass

    def release(self, timeout: float = 10.0) -> None:
        """End the student's serve() for this cell; proxies handed out so far become invalid."""
        if self.dead:
            return
        try:
            self._exchange({"op": "release"}, [], timeout)
        except LinkDead:
            pass
        for p in self.proxies.values():
            object.__setattr__(p, "_released", True)
        self.proxies.clear()

    # -------------------------------------------------------------------------------- encoding
    def _ref(self, obj: Any, buffers: list, opened: list) -> dict:
        if isinstance(obj, _Proxy):
            if obj._link is not self or obj._released:
                raise protocol.Unencodable("a student object from an earlier cell cannot be sent back")
            return {"R": ["ref", obj._hid]}
        if isinstance(obj, catalogue.Item):
            params, _ = protocol.encode(obj.params, lambda o: self._ref(o, buffers, opened), buffers)
            state, _ = protocol.encode(obj.state, None, buffers)
            opened.append(("item", obj.uid))  # only the items sent may have their state updated by the reply
            return {"K": [obj.uid, obj.name, params, state]}
        if isinstance(obj, np.random.Generator):
            state = obj.bit_generator.state
            if state.get("bit_generator") != "PCG64":
                raise protocol.Unencodable("only PCG64 generators can be sent")
            params, _ = protocol.encode({"state": state}, None, buffers)
            return {"K": [-1, "rng", params]}
        if callable(obj) and not isinstance(obj, type):
            cb = next(self._cb_ids)
            self.callbacks[cb] = obj
            opened.append(cb)
            return {"C": cb}
        raise protocol.Unencodable(f"a {type(obj).__name__} cannot be sent to student code (grader bug: send data, a "
                                   f"catalogue item or a function)")

    def _encode(self, value: Any, buffers: list, opened: list) -> Any:
        tree, _ = protocol.encode(value, lambda o: self._ref(o, buffers, opened), buffers)
        return tree

    def _resolve(self, tag: str, body: Any) -> Any:
        if tag != "R" or type(body) is not list or len(body) != 3 or body[0] not in ("function", "class", "object") \
                or type(body[1]) is not int or type(body[2]) is not dict:
            raise protocol.ProtocolError(f"the student process sent an unexpected reference ({tag})")
        kind, hid, info = body
        proxy = self.proxies.get(hid)
        if proxy is None:
            cls = {"function": RemoteFunction, "class": RemoteClass, "object": RemoteObject}[kind]
            proxy = cls(self, hid, info)
            self.proxies[hid] = proxy
        return proxy

    def decode(self, tree: Any, buffers: list) -> Any:
        return protocol.decode(tree, buffers, self._resolve)

    # -------------------------------------------------------------------------------- exchange
    def _fail(self, why: str, evidence: bool = False) -> LinkDead:
        self.dead = why
        if evidence:
            self.evidence.append(why)
        return LinkDead(why)

    def _exchange(self, header: dict, buffers: list, timeout: float) -> tuple[dict, list]:
        if self.dead:
            raise LinkDead(self.dead)
        self.requests += 1
        deadline = time.monotonic() + timeout + GRACE
        try:
            protocol.write_message(self.sock, header, buffers)
            while True:
                reply, rbufs = protocol.read_message(self.sock, deadline)
                op = reply.get("op")
                if op == "reply":
                    return reply, rbufs
                if op == "callback":
                    self._serve_callback(reply, rbufs, deadline)
                    continue
                raise self._fail(f"the student process sent an unexpected message {op!r}", evidence=True)
        except TimeoutError:
            raise self._fail(f"the notebook's code did not answer within {timeout + GRACE:g} s (it ignored the time "
                             f"limit or hung)") from None
        except (ConnectionError, OSError) as exc:
            raise self._fail(f"the notebook's kernel stopped ({type(exc).__name__}: {exc})") from None
        except protocol.ProtocolError as exc:
            raise self._fail(f"the student process broke the protocol: {exc}", evidence=True) from None

    def _serve_callback(self, msg: dict, bufs: list, deadline: float) -> None:
        self._callback_count += 1
        if self._callback_count > MAX_CALLBACKS:
            raise protocol.ProtocolError(f"more than {MAX_CALLBACKS} calls of grader functions")
        fn = self.callbacks.get(msg.get("id"))
        if fn is None:
            raise protocol.ProtocolError("a callback that is not open was called")
        args_kwargs = self.decode(msg.get("args"), bufs)
        if type(args_kwargs) is not list or len(args_kwargs) != 2 or type(args_kwargs[0]) is not list \
                or type(args_kwargs[1]) is not dict:
            raise protocol.ProtocolError("malformed callback arguments")
        out_bufs: list = []
        try:
            value = fn(*args_kwargs[0], **args_kwargs[1])
            tree = self._encode(value, out_bufs, [])
            reply = {"op": "reply", "ok": True, "value": tree}
        except LinkDead:
            raise
        except Exception as exc:  # the grader's function rejected the student's arguments
            out_bufs = []
            reply = {"op": "reply", "ok": False, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        protocol.write_message(self.sock, reply, out_bufs)

    # -------------------------------------------------------------------------------- requests
    def lookup(self, name: str, timeout: float = 5.0) -> Any:
        """The value of ``name`` in the notebook (data or a proxy), or MISSING."""
        reply, bufs = self._exchange({"op": "lookup", "name": name}, [], timeout)
        if not reply.get("ok"):
            if reply.get("missing"):
                return MISSING
            err = reply.get("error")
            if isinstance(err, dict) and err.get("kind") == "protocol":  # the student side could not encode it
                raise Unreadable(f"`{name}` could not be sent to the grader: {str(err.get('message'))[:300]}")
            raise self._fail(f"lookup of {name!r} failed: {str(err)[:300]}", evidence=True)
        try:
            return self.decode(reply.get("value"), bufs)
        except protocol.ProtocolError as exc:  # a well-formed message with a value the rules do not allow
            raise Unreadable(f"`{name}` could not be read by the grader: {exc}") from None

    def _timing(self, label: str, timeout: float | None) -> tuple[float, str, float, list | None]:
        """(seconds for this request, label, seconds shown in a timeout message, notes) under the current scope."""
        sc = _scope.get()
        seconds = DEFAULT_TIMEOUT if timeout is None else timeout
        if self.deadline is not None:
            budget = self.deadline - time.monotonic()
            if budget <= 0:
                _, StudentTimeout = _errors()
                raise StudentTimeout(f"{label} was not run: the notebook's time budget was used up.")
            seconds = min(seconds, budget)
        if sc is None:
            return seconds, label, seconds, None
        deadline, outer_label, outer_seconds, notes = sc
        left = deadline - time.monotonic()
        if left <= 0:
            _, StudentTimeout = _errors()
            from graders.remote.server import timeout_message
            raise StudentTimeout(timeout_message(outer_label, outer_seconds))
        if left < seconds:
            return left, outer_label, outer_seconds, notes
        return seconds, label, seconds, notes

    def request(self, header: dict, values: dict, *, label: str, timeout: float | None,
                notes: list | None = None, after: dict | None = None) -> Any:
        """Send ``header`` with ``values`` encoded into it; return the decoded result (StudentCodeError etc. on
        failure), printing the student's captured output and adding notes as call_student does."""
        StudentCodeError, StudentTimeout = _errors()
        seconds, shown_label, shown_seconds, scope_notes = self._timing(label, timeout)
        notes = notes if notes is not None else scope_notes
        buffers: list = []
        opened: list = []
        try:
            for key, v in values.items():
                header[key] = self._encode(v, buffers, opened)
        except protocol.ProtocolError as exc:
            raise RuntimeError(f"grader bug: {exc}") from None
        header["timeout"] = seconds
        header["label"] = label
        header["callbacks"] = [c for c in opened if type(c) is int]
        items_sent = {c[1] for c in opened if type(c) is tuple}
        if after is not None:
            header["after"] = True
        try:
            try:
                reply, rbufs = self._exchange(header, buffers, seconds)
            except LinkDead as exc:
                raise StudentCodeError(f"{label}: {exc}") from None
        finally:
            for cb in header["callbacks"]:
                self.callbacks.pop(cb, None)
        out = reply.get("stdout")
        if isinstance(out, str) and out:
            sys.stdout.write(out)
        self._apply_state(reply.get("state"), rbufs, items_sent)
        if not reply.get("ok"):
            err = reply.get("error") or {}
            message = str(err.get("message", "failed"))[:6000] if isinstance(err, dict) else str(err)[:6000]
            kind = err.get("kind") if isinstance(err, dict) else None
            if kind == "timeout":
                if shown_label != label:
                    from graders.remote.server import timeout_message
                    message = timeout_message(shown_label, shown_seconds)
                raise StudentTimeout(message)
            if kind == "protocol":
                raise StudentCodeError(f"{label} returned something that cannot be graded: {message}")
            error = StudentCodeError(message)
            error.student_type = err.get("type") if isinstance(err, dict) else None
            raise error
        try:
            value = self.decode(reply.get("value"), rbufs)
        except protocol.ProtocolError as exc:
            raise StudentCodeError(f"{label} returned something that cannot be graded: {exc}") from None
        if after is not None:
            moved = reply.get("after")
            try:
                state = self.decode(moved, rbufs) if moved is not None else None
            except protocol.ProtocolError:
                state = None
            if type(state) is list and len(state) == 2 and type(state[0]) is list and type(state[1]) is dict:
                after["args"], after["kwargs"] = tuple(state[0]), state[1]
            else:  # unchanged (or unreadable): the arguments as sent
                after["args"], after["kwargs"] = tuple(values.get("args", [])), dict(values.get("kwargs", {}))
            after["aliased"] = reply.get("aliased") is True
        if notes is not None:
            for n in reply.get("notes") or []:
                if isinstance(n, str):
                    notes.append(n[:500])
            if reply.get("mutated") is True:
                from graders.remote.server import mutation_note
                notes.append(mutation_note(label))
        return value

    def _apply_state(self, tree: Any, bufs: list, items_sent: set) -> None:
        """Copy the states the reply brought back into the grader's items (only those this request sent)."""
        if not tree:
            return
        try:
            states = protocol.decode(tree, bufs)
        except protocol.ProtocolError:
            return
        if type(states) is not dict:
            return
        for key, new in states.items():
            uid = int(key) if isinstance(key, str) and key.isdigit() else None
            item = catalogue.LIVE.get(uid) if uid in items_sent else None
            if item is not None and isinstance(new, dict):
                item.state.clear()
                item.state.update(new)

    def call(self, target: Any, args: tuple, kwargs: dict, *, label: str, timeout: float | None = None,
             notes: list | None = None, after: dict | None = None) -> Any:
        return self.request({"op": "call"}, {"target": target, "args": list(args), "kwargs": dict(kwargs)},
                            label=label, timeout=timeout, notes=notes, after=after)


# ============================================================================================ proxies


class _Proxy:
    """Common part of the proxies: identity by handle, never copied, never pickled."""

    _link: Link
    _hid: int

    def __init__(self, link: Link, hid: int, info: dict):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_released", False)

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __reduce__(self):
        raise TypeError("a student object cannot be pickled")

    def __hash__(self):
        return hash((id(self._link), self._hid))

    def _check(self) -> None:
        if self._released:
            raise RuntimeError("a student object from an earlier test cell was used (grader bug)")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        self._check()
        type_name = self._info.get("type", "object")
        StudentCodeError, _ = _errors()
        try:
            return self._link.request({"op": "getattr", "name": name}, {"target": self}, label=f"reading .{name}",
                                      timeout=None)
        except StudentCodeError as exc:
            if "AttributeError" in str(exc):
                raise AttributeError(f"'{type_name}' object has no attribute '{name}'") from None
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") and name in ("_link", "_hid", "_info", "_released"):
            object.__setattr__(self, name, value)
            return
        self._check()
        self._link.request({"op": "setattr", "name": name}, {"target": self, "value": value},
                           label=f"setting .{name}", timeout=None)

    def _op(self, name: str, *args: Any) -> Any:
        """An operator on student objects. When the student's code raised one of the built-in errors by which
        Python's protocols say "not supported" (TypeError from float(), ValueError, ZeroDivisionError...), the
        same class is raised here, so that grader and library code that catches it treats a proxy like the
        object; anything else is a StudentCodeError."""
        self._check()
        StudentCodeError, _ = _errors()
        try:
            return self._link.request({"op": "op", "name": name}, {"args": list(args)},
                                      label=f"{self._info.get('type', 'object')} operation {name}", timeout=None)
        except StudentCodeError as exc:
            builtin = PROTOCOL_ERRORS.get(getattr(exc, "student_type", None))
            if builtin is not None:
                raise builtin(str(exc)) from None
            raise


class RemoteFunction(_Proxy):
    """A student's function (or any callable that is not a class)."""

    def __init__(self, link: Link, hid: int, info: dict):
        super().__init__(link, hid, info)
        name = str(info.get("name") or "function")
        object.__setattr__(self, "__name__", name)
        object.__setattr__(self, "__qualname__", name)
        object.__setattr__(self, "__module__", "__main__")
        object.__setattr__(self, "__doc__", None)
        object.__setattr__(self, "__signature__", _make_signature(info.get("sig")))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._link.call(self, args, kwargs, label=f"{self.__name__}()")

    def _remote_call(self, args: tuple, kwargs: dict, *, label: str, timeout: float | None,
                     notes: list | None, after: dict | None = None) -> Any:
        self._check()
        return self._link.call(self, args, kwargs, label=label, timeout=timeout, notes=notes, after=after)

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"


class RemoteClass(RemoteFunction):
    """A student's class: calling it constructs an object in the student's process."""

    def __instancecheck__(self, obj: Any) -> bool:
        if not isinstance(obj, _Proxy) or obj._link is not self._link:
            return False
        self._check()
        return self._link.request({"op": "isinstance"}, {"obj": obj, "cls": self}, label="isinstance",
                                  timeout=None) is True

    def __subclasscheck__(self, cls: Any) -> bool:
        return cls is self

    def __repr__(self) -> str:
        return f"<student class {self.__name__}>"


class RemoteObject(_Proxy):
    """An object living in the student's process (a node, a cache, a bound method...)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._link.call(self, args, kwargs, label=f"{self._info.get('type', 'object')}()")

    def _remote_call(self, args: tuple, kwargs: dict, *, label: str, timeout: float | None,
                     notes: list | None, after: dict | None = None) -> Any:
        self._check()
        return self._link.call(self, args, kwargs, label=label, timeout=timeout, notes=notes, after=after)

    def __repr__(self) -> str:
        try:
            text = self._op("repr", self)
            return text if isinstance(text, str) else f"<{self._info.get('type')}>"
        except Exception:
            return f"<{self._info.get('type', 'object')} object>"

    def __str__(self) -> str:
        try:
            text = self._op("str", self)
            return text if isinstance(text, str) else repr(self)
        except Exception:
            return repr(self)

    def __eq__(self, other):
        return self._op("eq", self, other)

    def __ne__(self, other):
        return self._op("ne", self, other)

    def __lt__(self, other):
        return self._op("lt", self, other)

    def __le__(self, other):
        return self._op("le", self, other)

    def __gt__(self, other):
        return self._op("gt", self, other)

    def __ge__(self, other):
        return self._op("ge", self, other)

    __hash__ = _Proxy.__hash__

    def __bool__(self):
        return bool(self._op("truth", self) is True)

    def __len__(self):
        n = self._op("len", self)
        if type(n) is not int:
            raise TypeError("len() of a student object did not return an int")
        return n

    def __getitem__(self, key):
        return self._op("getitem", self, key)

    def __iter__(self):
        return iter(self._op("iter", self))

    def __contains__(self, item):
        return self._op("contains", self, item) is True

    def __float__(self):
        v = self._op("float", self)
        if type(v) is not float:
            raise TypeError("float() of a student object did not return a float")
        return v

    def __int__(self):
        v = self._op("int", self)
        if type(v) is not int:
            raise TypeError("int() of a student object did not return an int")
        return v

    def __neg__(self):
        return self._op("neg", self)

    def __pos__(self):
        return self._op("pos", self)

    def __abs__(self):
        return self._op("abs", self)


def _binary(name: str, reflected: bool):
    if reflected:
        def method(self, other):
            return self._op(name, other, self)
    else:
        def method(self, other):
            return self._op(name, self, other)
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    setattr(RemoteObject, f"__{_name}__", _binary(_name, False))
    setattr(RemoteObject, f"__r{_name}__", _binary(_name, True))


def _make_signature(sig: Any) -> inspect.Signature | None:
    if type(sig) is not list:
        return None
    params = []
    try:
        for entry in sig[:50]:
            name, kind, has_default = entry
            if type(name) is not str or not name.isidentifier() or type(kind) is not int or not 0 <= kind <= 4:
                return None
            params.append(inspect.Parameter(name, inspect._ParameterKind(kind),
                                            default=None if has_default else inspect.Parameter.empty))
        return inspect.Signature(params)
    except (ValueError, TypeError):
        return None
