"""Draw a computational graph with the forward value of every node and, on every edge, the gradient flowing back.

A graph can come from two places:

- a scalar autodiff node (the ``Value`` class of notebook 02, ``reference_impl.autodiff.reverse.Value``, or
  anything with ``.data``, ``.grad`` and ``._prev``, the tuple or set of the nodes it was computed from, plus
  optionally ``._op``, the operation's name, and ``.label``): :func:`graph_from_value` walks the graph below
  the root;
- a plain description: :func:`graph_from_spec` takes ``nodes`` (name -> value, or name -> dict with any of
  ``value``, ``grad``, ``op``, ``label``) and ``edges`` (``(src, dst)`` or ``(src, dst, grad)``, src being the
  input that dst uses).

:func:`draw_graph` accepts either (or a :class:`Graph`) and lays the graph out from left (inputs) to right
(the root). Each node is a box with its name and operation, ``data = ...`` and, when known, ``grad = ...``;
every edge is an arrow in the forward direction labelled in red with the gradient that flows BACK along it,
``d root / d (the input's use by this node)``. An input used twice (``x * x``) gets two arrows, and its
``grad`` is the sum of their red numbers.

For ``Value`` nodes the edge gradients are ``parent.grad * local derivative``, with the local derivative
worked out from the parent's ``_op`` (``+ - * / **p neg exp log tanh relu sigmoid sin cos``) and the nodes'
data; for an operation it does not know, the edge stays unlabelled.

Matplotlib only; :func:`draw_graph` returns the Figure and never calls ``plt.show()``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch

__all__ = ["GraphNode", "GraphEdge", "Graph", "graph_from_value", "graph_from_spec", "draw_graph", "fmt"]

GRAD_COLOR = "#c0392b"
VALUE_COLOR = "#1f2d3d"
LEAF_FACE = "#eaf2fb"
OP_FACE = "#fdf6e3"
ROOT_FACE = "#e8f6ea"
MAX_NODES = 80


@dataclass
class GraphNode:
    """One node: ``key`` identifies it, ``label`` is what the box shows (its name), ``op`` the operation
    that produced it ("" for inputs), ``value`` its forward value and ``grad`` d root / d node (None = unknown)."""
    key: str
    label: str = ""
    op: str = ""
    value: Any = None
    grad: Any = None


@dataclass
class GraphEdge:
    """``src`` is used by ``dst`` (the arrow points forward, src -> dst); ``grad`` is the gradient flowing back
    along this edge: d root / d dst times d dst / d src for this use of src (None = unknown)."""
    src: str
    dst: str
    grad: Any = None


@dataclass
class Graph:
    nodes: list[GraphNode]
    edges: list[GraphEdge] = field(default_factory=list)

    def node(self, key: str) -> GraphNode:
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(key)

    @property
    def roots(self) -> list[str]:
        """Nodes no other node uses (usually one: the loss)."""
        used = {e.src for e in self.edges}
        return [n.key for n in self.nodes if n.key not in used]


# ============================================================================================== formatting


def fmt(x: Any, precision: int = 4) -> str:
    """A number as short text: 6.0 -> '6', -0.0 -> '0', 0.1234567 -> '0.1235' (precision significant
    digits); None -> ''; anything else -> str(x)."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Real):
        v = float(x)
        if not math.isfinite(v):
            return str(v)
        if v == 0:
            return "0"
        return f"{v:.{precision}g}"
    try:
        return fmt(float(x), precision)  # NumPy 0-d arrays and scalars
    except (TypeError, ValueError):
        return str(x)


# ============================================================================================== from Values


def _children(node: Any) -> list:
    prev = getattr(node, "_prev", ())
    if prev is None:
        return []
    if isinstance(prev, (set, frozenset)):
        return sorted(prev, key=id)  # a set has no order: only symmetric operations get edge gradients
    return list(prev)


def _walk(root: Any) -> list:
    """Every node below root once, inputs before the nodes using them (iterative: deep graphs are fine)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in reversed(_children(node)):
            if id(child) not in seen:
                stack.append((child, False))
    return order


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _local_derivatives(node: Any, children: list) -> list[float | None]:
    """d node / d child for every slot of ``children`` (None where the operation is unknown)."""
    op = str(getattr(node, "_op", "") or "")
    out = _num(getattr(node, "data", None))
    vals = [_num(getattr(c, "data", None)) for c in children]
    n = len(children)
    unknown = [None] * n
    if any(v is None for v in vals):
        return unknown
    ordered = not isinstance(getattr(node, "_prev", ()), (set, frozenset))
    try:
        if op == "+":
            return [2.0] if n == 1 else [1.0] * n          # a set holds x once for x + x
        if op == "*":
            if n == 1:
                return [2.0 * vals[0]]                       # x * x with a set of children
            return [math.prod(vals[:i] + vals[i + 1:]) for i in range(n)]
        if op == "-" and n == 2 and ordered:
            return [1.0, -1.0]
        if op == "/" and n == 2 and ordered:
            a, b = vals
            return [1.0 / b, -a / (b * b)]
        if n != 1:
            return unknown
        a = vals[0]
        if op.startswith("**"):
            p = float(op[2:])
            return [p * a ** (p - 1.0) if p not in (0.0, 1.0) else p]
        if op in ("neg", "-"):
            return [-1.0]
        table = {
            "exp": lambda: out,
            "log": lambda: 1.0 / a,
            "tanh": lambda: 1.0 - out * out,
            "relu": lambda: 1.0 if a > 0 else 0.0,
            "ReLU": lambda: 1.0 if a > 0 else 0.0,
            "sigmoid": lambda: out * (1.0 - out),
            "sin": lambda: math.cos(a),
            "cos": lambda: -math.sin(a),
        }
        if op in table and out is not None:
            return [float(table[op]())]
    except (ArithmeticError, ValueError, TypeError):
        pass
    return unknown


def graph_from_value(root: Any, names: Mapping[str, Any] | None = None) -> Graph:
    """The graph below ``root``, an autodiff node with ``.data``, ``.grad`` and ``._prev``.

    ``names`` maps a display name to a node (``{"w": w, "x": x, "L": L}``), matched by identity; nodes not
    named there use their ``.label`` when they have one, and otherwise show only their operation (inputs
    created from plain numbers show ``const``). Gradients are read from ``.grad`` as they are now, so call
    ``root.backward()`` first to see them.
    """
    if not hasattr(root, "data"):
        raise TypeError(f"graph_from_value expects an autodiff node with .data, got {type(root).__name__}")
    by_id = {id(v): k for k, v in (names or {}).items()}
    order = _walk(root)
    if len(order) > MAX_NODES:
        raise ValueError(f"the graph has {len(order)} nodes; draw_graph is meant for small graphs (<= {MAX_NODES})")
    keys = {id(v): f"n{i}" for i, v in enumerate(order)}
    nodes, edges = [], []
    for v in order:
        children = _children(v)
        op = str(getattr(v, "_op", "") or "")
        label = by_id.get(id(v)) or str(getattr(v, "label", "") or "")
        if not label and not children:
            label = "const"
        nodes.append(GraphNode(keys[id(v)], label, op, getattr(v, "data", None), getattr(v, "grad", None)))
        g = _num(getattr(v, "grad", None))
        for child, local in zip(children, _local_derivatives(v, children)):
            edges.append(GraphEdge(keys[id(child)], keys[id(v)], None if g is None or local is None else g * local))
    return Graph(nodes, edges)


# ============================================================================================== from a description


def graph_from_spec(nodes: Mapping[str, Any] | Sequence[str], edges: Iterable[Sequence[Any]]) -> Graph:
    """A graph from a plain description.

    nodes: {name: value} or {name: {"value": ..., "grad": ..., "op": ..., "label": ...}} (every key
        optional; the label defaults to the name), or just a list of names.
    edges: (src, dst) or (src, dst, grad) for "dst uses src"; ``grad`` is the gradient flowing back along
        the edge. Use the same pair twice for an input used twice (x * x).
    """
    if isinstance(nodes, Mapping):
        items = list(nodes.items())
    else:
        items = [(n, None) for n in nodes]
    out_nodes = []
    for name, spec in items:
        key = str(name)
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"value", "grad", "op", "label"}
            if unknown:
                raise ValueError(f"node {key!r}: unknown field(s) {sorted(unknown)}; use value, grad, op, label")
            out_nodes.append(GraphNode(key, str(spec.get("label", key)), str(spec.get("op", "") or ""),
                                       spec.get("value"), spec.get("grad")))
        else:
            out_nodes.append(GraphNode(key, key, "", spec, None))
    known = {n.key for n in out_nodes}
    if len(known) != len(out_nodes):
        raise ValueError("node names must be unique")
    out_edges = []
    for e in edges:
        if len(e) not in (2, 3):
            raise ValueError(f"an edge is (src, dst) or (src, dst, grad), got {e!r}")
        src, dst = str(e[0]), str(e[1])
        for end in (src, dst):
            if end not in known:
                raise ValueError(f"edge {src!r} -> {dst!r}: no node named {end!r}")
        out_edges.append(GraphEdge(src, dst, e[2] if len(e) == 3 else None))
    graph = Graph(out_nodes, out_edges)
    _columns(graph)  # raises on cycles
    return graph


# ============================================================================================== layout


def _columns(graph: Graph) -> dict[str, int]:
    """x position of each node: operations at their longest distance from the inputs, inputs one column left
    of their first user (so a late input such as y sits next to the node that uses it)."""
    kids: dict[str, list[str]] = {n.key: [] for n in graph.nodes}
    users: dict[str, list[str]] = {n.key: [] for n in graph.nodes}
    for e in graph.edges:
        kids[e.dst].append(e.src)
        users[e.src].append(e.dst)
    depth: dict[str, int] = {}
    state: dict[str, int] = {}
    for start in kids:
        stack = [(start, False)]
        while stack:
            k, done = stack.pop()
            if done:
                depth[k] = 1 + max((depth[c] for c in kids[k]), default=-1)
                state[k] = 2
                continue
            if state.get(k) == 2:
                continue
            if state.get(k) == 1:
                raise ValueError(f"the graph has a cycle through {k!r}; a computational graph is acyclic")
            state[k] = 1
            stack.append((k, True))
            for c in kids[k]:
                if state.get(c) == 1:
                    raise ValueError(f"the graph has a cycle through {c!r}; a computational graph is acyclic")
                if state.get(c) != 2:
                    stack.append((c, False))
    col = dict(depth)
    for k in kids:
        if not kids[k] and users[k]:
            col[k] = max(0, min(depth[u] for u in users[k]) - 1)
    return col


def _positions(graph: Graph) -> dict[str, tuple[float, float]]:
    col = _columns(graph)
    n_cols = max(col.values(), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(n_cols)]
    for n in graph.nodes:
        layers[col[n.key]].append(n.key)
    nbrs: dict[str, list[str]] = {n.key: [] for n in graph.nodes}
    for e in graph.edges:
        nbrs[e.src].append(e.dst)
        nbrs[e.dst].append(e.src)
    y = {}
    for layer in layers:
        for i, k in enumerate(layer):
            y[k] = i - (len(layer) - 1) / 2
    for _ in range(6):  # barycentre sweeps: fewer crossings
        for layer in layers:
            bary = {k: (sum(y[m] for m in nbrs[k]) / len(nbrs[k]) if nbrs[k] else y[k]) for k in layer}
            layer.sort(key=lambda k: (bary[k], y[k]))
            for i, k in enumerate(layer):
                y[k] = i - (len(layer) - 1) / 2
    return {k: (float(col[k]), -y[k]) for k in y}


# ============================================================================================== drawing


def _node_text(n: GraphNode, precision: int, show_grads: bool) -> str:
    title = n.label or ""
    if n.op and n.op != n.label:
        title = f"{title} ({n.op})" if title else n.op
    lines = [title] if title else []
    if n.value is not None:
        lines.append(f"data = {fmt(n.value, precision)}")
    if show_grads and n.grad is not None:
        lines.append(f"grad = {fmt(n.grad, precision)}")
    return "\n".join(lines) if lines else n.key


def draw_graph(graph: Any, *, names: Mapping[str, Any] | None = None, ax=None, title: str | None = None,
               precision: int = 4, show_grads: bool = True, size: tuple[float, float] | None = None):
    """Draw a computational graph; returns the matplotlib Figure.

    graph: a :class:`Graph`; an autodiff root node (``.data``, ``.grad``, ``._prev``; see
        :func:`graph_from_value`, ``names`` names its nodes); or a dict ``{"nodes": ..., "edges": ...}`` as
        :func:`graph_from_spec` takes.
    Node boxes show name (operation), ``data = value`` and ``grad = d root / d node``; each edge is an arrow
    src -> dst labelled in red with the gradient flowing back along it. ``show_grads=False`` draws the
    forward pass only (no grads on nodes or edges). Numbers keep ``precision`` significant digits.
    """
    if isinstance(graph, Graph):
        g = graph
    elif isinstance(graph, Mapping):
        extra = set(graph) - {"nodes", "edges"}
        if "nodes" not in graph or extra:
            raise ValueError("a graph description is a dict with keys 'nodes' and 'edges'")
        g = graph_from_spec(graph["nodes"], graph.get("edges", ()))
    else:
        g = graph_from_value(graph, names)
    if not g.nodes:
        raise ValueError("the graph has no nodes")
    pos = _positions(g)
    n_cols = int(max(p[0] for p in pos.values())) + 1
    n_rows = max(sum(1 for p in pos.values() if p[0] == c) for c in range(n_cols))
    if ax is None:
        w, h = size or (min(max(2.3 * n_cols + 0.6, 5.0), 13.0), min(1.35 * n_rows + 1.1, 9.0))
        fig, ax = plt.subplots(figsize=(w, h))
    else:
        fig = ax.figure
    sx, sy = 2.4, 1.5
    xy = {k: (px * sx, py * sy) for k, (px, py) in pos.items()}
    roots = set(g.roots)
    boxes = {}
    for n in g.nodes:
        face = ROOT_FACE if n.key in roots and g.edges else (LEAF_FACE if not n.op else OP_FACE)
        boxes[n.key] = ax.text(*xy[n.key], _node_text(n, precision, show_grads), ha="center", va="center",
                               fontsize=8.5, color=VALUE_COLOR, zorder=3, gid=f"node:{n.key}",
                               bbox=dict(boxstyle="round,pad=0.35", facecolor=face, edgecolor="#7f8c8d"))
    # parallel edges (x * x) bend apart so both arrows and both labels stay visible
    count: dict[tuple[str, str], int] = {}
    for e in g.edges:
        count[(e.src, e.dst)] = count.get((e.src, e.dst), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    for e in g.edges:
        pair = (e.src, e.dst)
        i = seen.get(pair, 0)
        seen[pair] = i + 1
        m = count[pair]
        rad = 0.0 if m == 1 else 0.35 * (i - (m - 1) / 2) / max(1, (m - 1) / 2)
        (x0, y0), (x1, y1) = xy[e.src], xy[e.dst]
        # clipped at the two boxes (patchA/patchB), so arrowheads stay visible whatever the boxes' width
        arrow = FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11, color="#7f8c8d",
                                linewidth=1.1, connectionstyle=f"arc3,rad={rad}", shrinkA=3, shrinkB=3, zorder=1,
                                patchA=boxes[e.src].get_bbox_patch(), patchB=boxes[e.dst].get_bbox_patch())
        ax.add_patch(arrow)
        if show_grads and e.grad is not None:
            # midpoint of the arc: the straight midpoint moved sideways by rad * length / 2
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            dx, dy = x1 - x0, y1 - y0
            mx, my = mx + rad * dy / 2, my - rad * dx / 2
            ax.text(mx, my, fmt(e.grad, precision), ha="center", va="center", fontsize=8.5, color=GRAD_COLOR,
                    fontweight="bold", zorder=4, gid=f"edge:{e.src}->{e.dst}:{i}",
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))
    xs = [p[0] for p in xy.values()]
    ys = [p[1] for p in xy.values()]
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    if show_grads and any(e.grad is not None for e in g.edges):
        ax.text(0.5, 0.0, "arrows: forward pass;  red: gradient flowing back along the edge\n"
                          "a node's grad = sum of the red numbers on its outgoing arrows",
                transform=ax.transAxes, ha="center", va="top", fontsize=7.5, color="#555555", gid="legend")
    fig.tight_layout()
    return fig
