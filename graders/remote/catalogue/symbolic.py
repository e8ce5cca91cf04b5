"""SymPy maps u -> f(u) that a learner nests and differentiates (expression swell, notebook 05).

``sympy_map`` with ``name`` one of :data:`MAPS` builds the map; it takes and returns SymPy expressions, so a
learner's ``derivative_sizes(f, depth)`` can call it as often as it likes without a message per call. SymPy is
imported when a map is built.
"""

from __future__ import annotations

from graders.remote import protocol
from graders.remote.catalogue import register

MAPS = {
    "logistic": "4*u*(1 - u)",
    "sin_times": "sin(u)*u",
    "square_plus": "u*u + 3*u",
    "exp_over": "exp(u)/(1 + u*u)",
}


def make_map(name: str):
    import sympy as sp

    if name == "logistic":
        def f(u):
            return 4 * u * (1 - u)
    elif name == "sin_times":
        def f(u):
            return sp.sin(u) * u
    elif name == "square_plus":
        def f(u):
            return u * u + 3 * u
    elif name == "exp_over":
        def f(u):
            return sp.exp(u) / (1 + u * u)
    else:
        raise protocol.ProtocolError(f"unknown SymPy map {name!r}")
    f.__name__ = f.__qualname__ = "f"
    return f


@register("sympy_map")
def _sympy_map(params: dict, state: dict):
    return make_map(params.get("name"))
