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


# Sizes in inches (the drawing's data coordinates are inches, so boxes measured in points fit exactly).
FONT_SIZE = 8.5
MIN_FONT_SIZE = 3.0
BOX_PAD = 0.35      # box padding in units of the font size (matplotlib's "round,pad=...")
LABEL_PAD = 0.4     # padding of an edge label's white background, same unit
ROW_GAP = 0.3       # between two boxes of one column
LANE = 0.16         # the vertical room an edge passing through a column reserves there
COL_GAP = 0.4       # least horizontal room between two columns
LABEL_ROOM = 0.08   # free space kept around an edge label
END_GAP = 0.02      # between a box and the start or the tip of an arrow
TITLE_BAND = 0.4


def _text_sizes(texts: Sequence[str], fontsize: float, bold: bool = False) -> list[tuple[float, float]]:
    """(width, height) in inches of each text as matplotlib renders it (measured on a private Agg canvas, so
    the caller's backend does not matter)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 200.0  # fine pixels: little hinting error
    fig = Figure(dpi=dpi)
    renderer = FigureCanvasAgg(fig).get_renderer()
    out = []
    for s in texts:
        t = fig.text(0, 0, s or " ", fontsize=fontsize, fontweight="bold" if bold else "normal")
        bb = t.get_window_extent(renderer)
        out.append((bb.width / dpi, bb.height / dpi))
        t.remove()
    return out


def _layered(graph: Graph, col: dict[str, int]):
    """Layers of items (node keys, and ("~", edge index, column) for an edge passing through a column), each
    edge's chain of items from its source to its target, and the neighbours of every item one layer up/down."""
    n_cols = max(col.values(), default=0) + 1
    layers: list[list[Any]] = [[] for _ in range(n_cols)]
    for n in graph.nodes:
        layers[col[n.key]].append(n.key)
    chains: list[list[Any]] = []
    left: dict[Any, list[Any]] = {n.key: [] for n in graph.nodes}
    right: dict[Any, list[Any]] = {n.key: [] for n in graph.nodes}
    for i, e in enumerate(graph.edges):
        chain = [e.src] + [("~", i, c) for c in range(col[e.src] + 1, col[e.dst])] + [e.dst]
        for c, item in zip(range(col[e.src] + 1, col[e.dst]), chain[1:-1]):
            layers[c].append(item)
            left[item], right[item] = [], []
        for a, b in zip(chain, chain[1:]):
            right[a].append(b)
            left[b].append(a)
        chains.append(chain)
    return layers, chains, left, right


def _crossings(layers: list[list[Any]], right: dict[Any, list[Any]]) -> int:
    total = 0
    for c in range(len(layers) - 1):
        pos = {v: i for i, v in enumerate(layers[c + 1])}
        segs = [(i, pos[v]) for i, u in enumerate(layers[c]) for v in right[u]]
        total += sum(1 for k, (a1, b1) in enumerate(segs) for a2, b2 in segs[k + 1:] if (a1 - a2) * (b1 - b2) < 0)
    return total


def _order(layers: list[list[Any]], left, right) -> list[list[Any]]:
    """Barycentre sweeps (left to right, then right to left, ...); keeps the order with fewest crossings."""
    layers = [list(layer) for layer in layers]
    pos = {v: i for layer in layers for i, v in enumerate(layer)}
    best, best_count = [list(layer) for layer in layers], _crossings(layers, right)
    for sweep in range(12):
        forward = sweep % 2 == 0
        nbrs = left if forward else right
        for c in (range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)):
            layer = layers[c]
            bary = {v: (sum(pos[u] for u in nbrs[v]) / len(nbrs[v]) if nbrs[v] else pos[v]) for v in layer}
            layer.sort(key=lambda v: (bary[v], pos[v]))
            for i, v in enumerate(layer):
                pos[v] = i
        count = _crossings(layers, right)
        if count < best_count:
            best, best_count = [list(layer) for layer in layers], count
    return best


def _pack(desired: list[float], seps: list[float]) -> list[float]:
    """The positions closest (least squares) to ``desired`` that keep their order with gaps of at least
    ``seps[i]`` between item i and item i+1 (pool-adjacent-violators on the shifted problem)."""
    off = [0.0]
    for s in seps:
        off.append(off[-1] + s)
    blocks: list[list[float]] = []
    for d, o in zip(desired, off):
        blocks.append([d - o, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
    z = [s / n for s, n in blocks for _ in range(int(n))]
    return [zi + o for zi, o in zip(z, off)]


def _positions(graph: Graph) -> dict[str, tuple[float, float]]:
    """(column, -row) of every node in the layer order draw_graph uses (inputs left, the root right)."""
    col = _columns(graph)
    layers, _, left, right = _layered(graph, col)
    layers = _order(layers, left, right)
    out = {}
    for c, layer in enumerate(layers):
        nodes = [v for v in layer if isinstance(v, str)]
        for i, k in enumerate(nodes):
            out[k] = (float(c), -float(i))
    return out


@dataclass
class _Layout:
    centers: dict[str, tuple[float, float]]      # node key -> box centre (inches, y upwards)
    boxes: dict[str, tuple[float, float]]        # node key -> box (width, height)
    paths: list[tuple[list, list]]               # per edge: (vertices, Path codes)
    labels: list[tuple[float, float] | None]     # per edge: centre of its gradient label
    extent: tuple[float, float, float, float]    # xmin, xmax, ymin, ymax of everything drawn


def _bezier(p0, p3, t: float) -> tuple[float, float]:
    xm = (p0[0] + p3[0]) / 2
    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3
    return (a * p0[0] + (b + c) * xm + d * p3[0], (a + b) * p0[1] + (c + d) * p3[1])


def _layout(graph: Graph, texts: dict[str, str], edge_texts: list[str | None], fontsize: float,
            min_col_gap: float = 0.0) -> _Layout:
    """Boxes in columns (no two overlap), every edge routed through reserved lanes (never across a box),
    every gradient label on its edge in the gap after the edge's source (no two overlap)."""
    from matplotlib.path import Path

    col = _columns(graph)
    layers, chains, left, right = _layered(graph, col)
    layers = _order(layers, left, right)
    scale = fontsize / FONT_SIZE  # every distance scales with the text
    row_gap, lane, col_gap = ROW_GAP * scale, LANE * scale, max(COL_GAP * scale, min_col_gap)
    room, end_gap = LABEL_ROOM * scale, END_GAP * scale
    pad = 2 * BOX_PAD * fontsize / 72 + 0.01
    keys = [n.key for n in graph.nodes]
    box = {k: (w + pad, h + pad) for k, (w, h) in zip(keys, _text_sizes([texts[k] for k in keys], fontsize))}
    lpad = 2 * LABEL_PAD * fontsize / 72 + 0.02
    label_size = [None if t is None else (w + lpad, h + lpad)
                  for t, (w, h) in zip(edge_texts, _text_sizes([t or "" for t in edge_texts], fontsize, bold=True))]

    # vertical positions v (downwards): each layer keeps its order; items move towards their neighbours
    def height(v):
        return box[v][1] if isinstance(v, str) else lane

    def sep(a, b):
        gap = row_gap if isinstance(a, str) and isinstance(b, str) else 0.06 * scale
        return (height(a) + height(b)) / 2 + gap

    vpos: dict[Any, float] = {}
    for layer in layers:
        for v, p in zip(layer, _pack([0.0] * len(layer), [sep(a, b) for a, b in zip(layer, layer[1:])])):
            vpos[v] = p
    for sweep in range(24):
        for layer in (layers if sweep % 2 == 0 else layers[::-1]):
            desired = []
            for v in layer:
                first, second = (left, right) if sweep % 2 == 0 else (right, left)
                nb = first[v] or second[v]
                if sweep >= 20:
                    nb = left[v] + right[v]
                desired.append(sum(vpos[u] for u in nb) / len(nb) if nb else vpos[v])
            for v, p in zip(layer, _pack(desired, [sep(a, b) for a, b in zip(layer, layer[1:])])):
                vpos[v] = p

    # columns: width of the widest box; the gap after a column fits the labels of the edges starting there
    n_cols = len(layers)
    width = [max((box[v][0] for v in layer if isinstance(v, str)), default=0.0) for layer in layers]
    gap = [col_gap] * max(0, n_cols - 1)
    for e, size in zip(graph.edges, label_size):
        if size is not None:
            c = col[e.src]
            gap[c] = max(gap[c], size[0] + 2 * room + 0.3 * scale)

    for _attempt in range(6):
        xc = [width[0] / 2] if n_cols else []
        for c in range(1, n_cols):
            xc.append(xc[-1] + width[c - 1] / 2 + gap[c - 1] + width[c] / 2)
        L = [x - w / 2 for x, w in zip(xc, width)]
        R = [x + w / 2 for x, w in zip(xc, width)]
        centers = {k: (xc[col[k]], -vpos[k]) for k in keys}

        # ports: the edges leaving (entering) a box are spread over its right (left) side in the order of
        # where they go (come from), so parallel edges (x * x) stay apart
        out_y: dict[int, float] = {}
        in_y: dict[int, float] = {}
        for k in keys:
            for side, pick, store in (("out", 1, out_y), ("in", -2, in_y)):
                mine = [i for i, ch in enumerate(chains) if ch[0 if side == "out" else -1] == k]
                mine.sort(key=lambda i: (vpos[chains[i][pick]], i))
                h = box[k][1]
                step = min(0.3 * scale, 0.6 * h / max(1, len(mine) - 1))
                for j, i in enumerate(mine):
                    store[i] = -(vpos[k] + (j - (len(mine) - 1) / 2) * step)

        paths, first_gap = [], []
        for i, (e, chain) in enumerate(zip(graph.edges, chains)):
            cs, cd = col[e.src], col[e.dst]
            start = (centers[e.src][0] + box[e.src][0] / 2 + end_gap, out_y[i])
            end_x = centers[e.dst][0] - box[e.dst][0] / 2 - end_gap
            verts, codes = [start], [Path.MOVETO]
            cur = start
            if R[cs] > cur[0] + 1e-9:
                cur = (R[cs], cur[1])
                verts.append(cur)
                codes.append(Path.LINETO)
            seg = None
            for c in range(cs + 1, cd + 1):
                item = chain[c - cs]
                if isinstance(item, str):
                    target = (max(min(L[c], end_x), cur[0]), in_y[i])
                else:
                    target = (L[c], -vpos[item])
                xm = (cur[0] + target[0]) / 2
                verts += [(xm, cur[1]), (xm, target[1]), target]
                codes += [Path.CURVE4] * 3
                if seg is None:
                    seg = (cur, target)
                cur = target
                nxt = (end_x, in_y[i]) if isinstance(item, str) else (R[c], -vpos[item])
                if nxt[0] > cur[0] + 1e-9:
                    verts.append(nxt)
                    codes.append(Path.LINETO)
                    cur = nxt
            paths.append((verts, codes))
            first_gap.append(seg)

        # labels: on the edge, inside the gap after its source, clear of every label placed before
        labels: list[tuple[float, float] | None] = [None] * len(graph.edges)
        placed: list[tuple[float, float, float, float]] = []
        crowded: set[int] = set()
        order = sorted((i for i, s in enumerate(label_size) if s is not None), key=lambda i: (col[graph.edges[i].src],
                                                                                           -first_gap[i][0][1], i))
        for i in order:
            (p0, p3), (lw, lh) = first_gap[i], label_size[i]
            lo, hi = p0[0] + lw / 2 + room / 2, p3[0] - lw / 2 - room / 2
            choice = None
            for frac in (0.5, 0.3, 0.7, 0.15, 0.85, 0.0, 1.0):
                x = (p0[0] + p3[0]) / 2 if hi < lo else lo + frac * (hi - lo)
                a, b = 0.0, 1.0
                for _ in range(40):  # x along the curve is monotone in t
                    m = (a + b) / 2
                    a, b = (m, b) if _bezier(p0, p3, m)[0] < x else (a, m)
                pt = _bezier(p0, p3, (a + b) / 2)
                rect = (pt[0] - lw / 2, pt[0] + lw / 2, pt[1] - lh / 2, pt[1] + lh / 2)
                if all(_overlap(rect, other, room / 2) is False for other in placed):
                    choice = (pt, rect)
                    break
                if hi < lo:
                    break
            if choice is None:
                crowded.add(col[graph.edges[i].src])
                pt = _bezier(p0, p3, 0.5)
                choice = (pt, (pt[0] - lw / 2, pt[0] + lw / 2, pt[1] - lh / 2, pt[1] + lh / 2))
            labels[i] = choice[0]
            placed.append(choice[1])
        if not crowded:
            break
        for c in crowded:  # widen the gap and lay the columns out again
            gap[c] += max(s[0] for e, s in zip(graph.edges, label_size) if s is not None and col[e.src] == c)

    xs = [centers[k][0] + s * box[k][0] / 2 for k in keys for s in (-1, 1)]
    ys = [centers[k][1] + s * box[k][1] / 2 for k in keys for s in (-1, 1)]
    for verts, _ in paths:
        xs += [p[0] for p in verts]
        ys += [p[1] for p in verts]
    for r in placed:
        xs += [r[0], r[1]]
        ys += [r[2], r[3]]
    return _Layout(centers, box, paths, labels, (min(xs), max(xs), min(ys), max(ys)))


def _overlap(a, b, margin: float = 0.0) -> bool:
    """Whether rectangles (x0, x1, y0, y1) overlap (closer than ``margin``)."""
    return not (a[1] + margin <= b[0] or b[1] + margin <= a[0] or a[3] + margin <= b[2] or b[3] + margin <= a[2])


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


LEGEND = ("arrows: forward pass;  red: gradient flowing back along the edge\n"
          "a node's grad = sum of the red numbers on its outgoing arrows")


def draw_graph(graph: Any, *, names: Mapping[str, Any] | None = None, ax=None, title: str | None = None,
               precision: int = 4, show_grads: bool = True, size: tuple[float, float] | None = None):
    """Draw a computational graph; returns the matplotlib Figure.

    graph: a :class:`Graph`; an autodiff root node (``.data``, ``.grad``, ``._prev``; see
        :func:`graph_from_value`, ``names`` names its nodes); or a dict ``{"nodes": ..., "edges": ...}`` as
        :func:`graph_from_spec` takes.
    Node boxes show name (operation), ``data = value`` and ``grad = d root / d node``; each edge is an arrow
    src -> dst labelled in red with the gradient flowing back along it. ``show_grads=False`` draws the
    forward pass only (no grads on nodes or edges). Numbers keep ``precision`` significant digits.

    Layout: inputs on the left, the root on the right, one column per distance from the inputs; boxes are
    measured and never overlap; an edge that skips columns runs through a lane reserved for it, so no edge
    passes under a box; parallel edges (``x * x``) leave and enter at separate points. ``size`` is the
    least figure size in inches: the figure grows when the graph needs more room. Drawn into a given ``ax``,
    the text and the spacing shrink (down to 3 pt text) until the graph fits the axes.
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
    texts = {n.key: _node_text(n, precision, show_grads) for n in g.nodes}
    edge_texts = [fmt(e.grad, precision) if show_grads and e.grad is not None else None for e in g.edges]
    has_legend = show_grads and any(t is not None for t in edge_texts)
    legend_band = _text_sizes([LEGEND], 7.5)[0][1] + 0.12 if has_legend else 0.0
    margin = 0.2

    fontsize = FONT_SIZE
    lay = _layout(g, texts, edge_texts, fontsize)
    need_w = lay.extent[1] - lay.extent[0] + 2 * margin
    need_h = lay.extent[3] - lay.extent[2] + 2 * margin + legend_band
    n_cols = max(_columns(g).values()) + 1
    if ax is None and size and size[0] > need_w and n_cols > 1:
        # a requested width beyond what the graph needs spreads the columns (up to 1.2 inches apart)
        spread = min(1.2, COL_GAP + 0.9 * (size[0] - need_w) / (n_cols - 1))
        lay = _layout(g, texts, edge_texts, fontsize, min_col_gap=spread)
        need_w = lay.extent[1] - lay.extent[0] + 2 * margin
    if ax is None:
        band = TITLE_BAND if title else 0.0
        fig_w = max(need_w, size[0] if size else 0.0)
        fig_h = max(need_h + band, size[1] if size else 0.0)
        fig = plt.figure(figsize=(fig_w, fig_h))
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - band / fig_h))
        aw, ah = fig_w, fig_h - band
    else:
        fig = ax.figure
        pos = ax.get_position()
        aw, ah = pos.width * fig.get_figwidth(), pos.height * fig.get_figheight()
        for _ in range(8):
            if need_w <= aw and need_h <= ah or fontsize <= MIN_FONT_SIZE:
                break
            fontsize = max(MIN_FONT_SIZE, fontsize * 0.97 * min(aw / need_w, ah / need_h))
            lay = _layout(g, texts, edge_texts, fontsize)
            need_w = lay.extent[1] - lay.extent[0] + 2 * margin
            need_h = lay.extent[3] - lay.extent[2] + 2 * margin + legend_band

    from matplotlib.path import Path

    roots = set(g.roots)
    for n in g.nodes:
        face = ROOT_FACE if n.key in roots and g.edges else (LEAF_FACE if not n.op else OP_FACE)
        ax.text(*lay.centers[n.key], texts[n.key], ha="center", va="center", fontsize=fontsize,
                color=VALUE_COLOR, zorder=3, gid=f"node:{n.key}",
                bbox=dict(boxstyle=f"round,pad={BOX_PAD}", facecolor=face, edgecolor="#7f8c8d"))
    seen: dict[tuple[str, str], int] = {}
    for e, (verts, codes), at, text in zip(g.edges, lay.paths, lay.labels, edge_texts):
        i = seen.get((e.src, e.dst), 0)
        seen[(e.src, e.dst)] = i + 1
        arrow = FancyArrowPatch(path=Path(verts, codes), arrowstyle="-|>", mutation_scale=1.3 * fontsize,
                                color="#7f8c8d", linewidth=1.1, zorder=1, gid=f"arrow:{e.src}->{e.dst}:{i}",
                                clip_on=False)
        ax.add_patch(arrow)
        if text is not None and at is not None:
            ax.text(*at, text, ha="center", va="center", fontsize=fontsize, color=GRAD_COLOR, fontweight="bold",
                    zorder=4, gid=f"edge:{e.src}->{e.dst}:{i}",
                    bbox=dict(boxstyle=f"round,pad={LABEL_PAD}", facecolor="white", edgecolor="none", alpha=0.85))
    xmin, xmax, ymin, ymax = lay.extent
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    bottom = cy - (ah + legend_band) / 2
    ax.set_xlim(cx - aw / 2, cx + aw / 2)
    ax.set_ylim(bottom, bottom + ah)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, pad=6)
    if has_legend:
        ax.text(0.5, 0.01, LEGEND, transform=ax.transAxes, ha="center", va="bottom", fontsize=7.5, color="#555555",
                gid="legend")
    return fig
