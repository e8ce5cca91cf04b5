"""Things a check hands to student code that must run where the student's objects live.

Some exercises take a function or an object from the grader: ``numeric_gradient(f, x)``, ``jvp(f, x, v)``
(``f`` is called with the student's dual numbers), ``topological_order(root)`` (a graph to walk),
``checkpointed_backward(layers, ...)`` (instrumented layers), an ``rng``. In cohort grading the student's code
runs in another process, so these are sent by name and parameters (:class:`Item`) and built there by
:func:`build`; in self-study an :class:`Item` simply calls its locally built object.

Everything here is answer-free: test functions, counters and plain graph nodes, never a reference gradient.
An item may keep a ``state`` dict (call counts, peaks); after a remote call the grader's copy of that dict is
updated in place, so a check reads ``item.state`` the same way in both settings.

Only the standard library, NumPy and graders.remote.protocol are imported (this module runs in the sandbox).
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
    """The object of catalogue item ``name`` with ``params`` (a dict of data)."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise protocol.ProtocolError(f"unknown catalogue item {name!r}")
    if type(params) is not dict:
        raise protocol.ProtocolError(f"catalogue item {name!r} needs a dict of parameters")
    obj = builder(params, {} if state is None else state)
    return obj


class Item:
    """A catalogue object seen from the grader: callable here, sent by name to a student process."""

    def __init__(self, name: str, **params: Any):
        if name not in _BUILDERS:
            raise ValueError(f"unknown catalogue item {name!r}")
        self.name = name
        self.params = params
        self.uid = next(_UIDS)
        self.state: dict = {}
        self._obj = None
        LIVE[self.uid] = self

    def local(self) -> Any:
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


def item(name: str, **params: Any) -> Item:
    return Item(name, **params)


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
