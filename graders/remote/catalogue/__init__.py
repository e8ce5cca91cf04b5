"""Things a check hands to student code that must run where the student's objects live.

Some exercises take a function or an object from the grader: ``jvp(f, x, v)`` (``f`` is called with the
student's dual numbers), ``topological_order(root)`` (a graph to walk), ``checkpointed_backward(layers, ...)``
(instrumented layers), an ``rng``; and some checks drive a student's class through many operations (a chain
of 5000 Values), which must not cost one message per operation. In cohort grading the student's code runs in
another process, so these are sent by name, parameters and state (:class:`Item`) and built there by
:func:`build`; in self-study an :class:`Item` is built here, once, and ``graders.core.call_student`` hands the
student the object it builds.

Two kinds of items: *objects* given to student code (a test function, a graph, a layer list), and *runners*
that a check calls instead of the student's function, ``call_student(item("value_program"), Value, program)``;
a runner runs in the student's process when one of its arguments is a student object there, and returns data.

Everything here is answer-free: test functions, counters, plain graph nodes and runners that report what the
student's code did, never an expected value or a reference gradient. An item keeps a ``state`` dict (call
counts, peaks): it travels with the item and the grader's copy is updated in place after a remote call, so a
check reads ``item.state`` the same way in both settings. A builder keeps everything that must outlive one call
in ``state`` (a remote item is rebuilt for every call).

Modules: ``programs`` (expression programs on a student's Value / Dual class), ``engine`` (the step-1 engine
probes of notebook 02), ``functions`` (test functions f for forward and reverse mode, pass counting),
``graphs`` (graphs for a topological sort), ``layers`` (instrumented layer chains), ``measure`` (peak memory),
``numeric`` (test functions of numbers and arrays, composition stages), ``symbolic`` (SymPy maps). Only the standard library, NumPy, SymPy (lazily) and graders.remote.protocol are
imported (this package runs in the sandbox).
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, Callable

import numpy as np

from graders.remote import protocol


class CatalogueError(Exception):
    """Raised by a runner about the student's code; the text is shown to the learner as it is."""


_BUILDERS: dict[str, Callable[..., Any]] = {}
_UIDS = itertools.count(1)
LIVE: "weakref.WeakValueDictionary[int, Item]" = weakref.WeakValueDictionary()  # for state updates after remote calls


def register(name: str):
    """Register ``builder(params: dict, state: dict) -> object`` under ``name``."""
    def deco(builder):
        if name in _BUILDERS:
            raise ValueError(f"catalogue item {name!r} registered twice")
        _BUILDERS[name] = builder
        return builder
    return deco


def build(name: str, params: Any, state: dict | None = None) -> Any:
    """The object of catalogue item ``name`` with ``params`` (a dict of data); ``state`` is the dict it updates."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise protocol.ProtocolError(f"unknown catalogue item {name!r}")
    if type(params) is not dict:
        raise protocol.ProtocolError(f"catalogue item {name!r} needs a dict of parameters")
    obj = builder(params, {} if state is None else state)
    return obj


class Item:
    """A catalogue object seen from the grader: callable here, sent by name to a student process."""

    def __init__(self, name: str, /, **params: Any):
        if name not in _BUILDERS:
            raise ValueError(f"unknown catalogue item {name!r}")
        self.name = name
        self.params = params
        self.uid = next(_UIDS)
        self.state: dict = {}
        self._obj = None
        LIVE[self.uid] = self

    def local(self) -> Any:
        """The object, built in this process (once; it updates ``self.state``)."""
        if self._obj is None:
            self._obj = build(self.name, self.params, self.state)
        return self._obj

    def __call__(self, *args, **kwargs):
        return self.local()(*args, **kwargs)

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __repr__(self) -> str:
        return f"<catalogue {self.name}>"


def item(name: str, /, **params: Any) -> Item:
    return Item(name, **params)


def built(value: Any, depth: int = 2) -> Any:
    """``value`` with its Items replaced by their local objects: what the student's code receives in self-study.
    Items are looked for ``depth`` container levels deep (for call_student's argument tuple: the arguments and
    the entries of a list, tuple or dict argument); containers without items are returned unchanged."""
    if isinstance(value, Item):
        return value.local()
    if depth <= 0:
        return value
    if type(value) in (list, tuple):
        new = [built(v, depth - 1) for v in value]
        if all(a is b for a, b in zip(new, value)):
            return value
        return type(value)(new)
    if type(value) is dict:
        new = {k: built(v, depth - 1) for k, v in value.items()}
        if all(new[k] is value[k] for k in value):
            return value
        return new
    return value


def brief(x: Any, limit: int = 60) -> str:
    """repr(x) cut to ``limit`` characters; never raises (a student object's __repr__ may)."""
    try:
        text = repr(x)
    except Exception:
        text = f"<{type(x).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ============================================================================================ random generators


@register("rng")
def _rng(params: dict, state: dict):
    """A numpy Generator in the exact state the grader's one had (PCG64 state dict)."""
    bg_state = params.get("state")
    if type(bg_state) is not dict or bg_state.get("bit_generator") != "PCG64":
        raise protocol.ProtocolError("rng needs a PCG64 state")
    bg = np.random.PCG64()
    try:
        bg.state = bg_state
    except (TypeError, ValueError, KeyError) as exc:
        raise protocol.ProtocolError(f"bad PCG64 state: {exc}") from None
    return np.random.Generator(bg)


# the modules below register their items on import
from graders.remote.catalogue import (engine, functions, graphs, layers, measure, numeric, programs,  # noqa: E402,F401
                                      symbolic)
