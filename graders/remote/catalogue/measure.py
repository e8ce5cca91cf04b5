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
