"""Measurements of a learner's function that only its own process can make.

``peak_memory``: ``run(fn, *args)`` calls ``fn(*args)`` under ``tracemalloc`` and puts the peak number of bytes
allocated above the starting point in ``state["peak"]`` (a VJP that forms an (n, n) Jacobian shows up as n*n*8
bytes). The limit the peak is compared with stays in the check.
"""

from __future__ import annotations

import tracemalloc

from graders.remote.catalogue import register


@register("peak_memory")
def _peak_memory(params: dict, state: dict):
    state.setdefault("peak", 0)

    def run(fn, *args, **kwargs):
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            start, _ = tracemalloc.get_traced_memory()
            try:
                return fn(*args, **kwargs)
            finally:
                _, peak = tracemalloc.get_traced_memory()
                state["peak"] = max(0, peak - start)
        finally:
            if not was_tracing:
                tracemalloc.stop()
    return run


class TooManyCalls(BaseException):
    """Raised inside the learner's code when a watched function is called more often than the runner allows (a
    BaseException, so that ``except Exception`` in the learner's loop cannot keep it going)."""


@register("count_calls")
def _count_calls(params: dict, state: dict):
    """``run(fn, watched, args)`` -> [result or None, calls]: calls ``fn(*args)`` while every global name of fn's
    module bound to the function ``watched`` counts its calls; past ``params["limit"]`` calls, fn is stopped.

    A backward that re-runs its forward once per input entry (finite differences) is told from one that does not by
    this count, not by a clock: the verdict is the same on a loaded machine."""
    limit = int(params.get("limit", 8))

    def run(fn, watched, args):
        namespace = getattr(fn, "__globals__", None)
        names = [k for k, v in namespace.items() if v is watched] if isinstance(namespace, dict) else []
        calls = [0]

        def counting(*a, **k):
            calls[0] += 1
            if calls[0] > limit:
                raise TooManyCalls
            return watched(*a, **k)

        for n in names:
            namespace[n] = counting
        try:
            return [fn(*args), calls[0]]
        except TooManyCalls:
            return [None, calls[0]]
        finally:
            for n in names:
                namespace[n] = watched

    return run
