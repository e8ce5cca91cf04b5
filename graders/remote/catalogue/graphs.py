"""Graphs for a learner's ``topological_order(root)``: plain nodes with ``data``, ``grad``, ``_prev``, ``_op``.

The grader sends a graph as data, its nodes in an order of its choosing (never a topological one: the nodes are
created first and linked afterwards, so neither creation order nor memory layout gives the answer away):
``{"data": (n,) floats, "op": [n str], "label": [n str], "children": int array, "offsets": (n + 1,) ints,
"root": r}``, node k's inputs being ``children[offsets[k]:offsets[k + 1]]``. The runner builds
the nodes, calls ``fn(root)`` and describes the result as data: for a list or tuple, the node index of every
entry (None for an entry that is not a node of the graph) and the first stranger's type and repr; otherwise
only what it is. Which entries are in the right order is the check's business.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.remote import protocol
from graders.remote.catalogue import brief, register


class Value:
    """A node of an expression graph with the attributes of the course's engine (``_backward`` is None: these
    nodes only describe a graph)."""

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_backward", "__weakref__")

    def __init__(self, data: float, label: str = "", _op: str = ""):
        self.data = data
        self.grad = 0.0
        self.label = label
        self._prev: tuple = ()
        self._op = _op
        self._backward = None

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"


def _nodes(graph: Any) -> tuple[list[Value], Value]:
    if type(graph) is not dict:
        raise protocol.ProtocolError("a graph is a dict")
    data, ops, labels, children, offsets, root = (graph.get(k) for k in ("data", "op", "label", "children",
                                                                           "offsets", "root"))
    n = len(data) if isinstance(data, np.ndarray) and data.ndim == 1 else -1
    if n < 1 or any(type(v) is not list or len(v) != n for v in (ops, labels)) \
            or not (isinstance(offsets, np.ndarray) and offsets.shape == (n + 1,) and offsets.dtype.kind == "i") \
            or not (isinstance(children, np.ndarray) and children.ndim == 1 and children.dtype.kind == "i") \
            or offsets[0] != 0 or offsets[-1] != children.size or np.any(np.diff(offsets) < 0) \
            or (children.size and (children.min() < 0 or children.max() >= n)) \
            or type(root) is not int or not 0 <= root < n:
        raise protocol.ProtocolError("malformed graph")
    nodes = [Value(d, str(lab), str(o)) for d, o, lab in zip(data.tolist(), ops, labels)]
    kids, cuts = children.tolist(), offsets.tolist()
    for k, node in enumerate(nodes):
        node._prev = tuple(nodes[i] for i in kids[cuts[k]:cuts[k + 1]])
    return nodes, nodes[root]


def run_topological_order(fn, graph: dict) -> dict:
    """Call ``fn(root)`` on the graph; describe what it returned (see the module docstring)."""
    nodes, root = _nodes(graph)
    result = fn(root)
    if isinstance(result, (set, frozenset)):
        return {"kind": "set"}
    if not isinstance(result, (list, tuple)):
        return {"kind": "other", "type": type(result).__name__, "brief": brief(result)}
    index = {id(v): k for k, v in enumerate(nodes)}
    entries, stranger, n_strangers = [], None, 0
    for x in result:
        k = index.get(id(x))
        if k is None or nodes[k] is not x:
            n_strangers += 1
            if stranger is None:
                stranger = [type(x).__name__, brief(x, 40)]
            entries.append(None)
        else:
            entries.append(k)
    return {"kind": "list", "entries": entries, "stranger": stranger, "n_strangers": n_strangers}


@register("topological_order")
def _topological_order(params: dict, state: dict):
    """run(fn, graph) -> a description of fn(root) (see run_topological_order)."""
    return run_topological_order
