"""visuals.graph draws computational graphs without error (Agg) and labels what it claims: every node's name,
value and gradient, and on every edge the gradient flowing back along it."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from reference_impl.autodiff.reverse import Value  # noqa: E402
from visuals import graph as vg  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _by_gid(fig, prefix: str) -> dict[str, str]:
    return {t.get_gid(): t.get_text() for ax in fig.axes for t in ax.texts
            if t.get_gid() and t.get_gid().startswith(prefix)}


def _loss_graph():
    w, x, b, y = Value(2.0), Value(3.0), Value(1.0), Value(8.0)
    mul = w * x
    add = mul + b
    sub = add - y
    L = sub ** 2
    L.backward()
    return L, dict(w=w, x=x, b=b, y=y, mul=mul, add=add, sub=sub, L=L)


def test_fmt():
    assert vg.fmt(6.0) == "6"
    assert vg.fmt(-0.0) == "0"
    assert vg.fmt(-2) == "-2"
    assert vg.fmt(0.123456789) == "0.1235"
    assert vg.fmt(0.123456789, 2) == "0.12"
    assert vg.fmt(None) == ""
    assert vg.fmt(float("nan")) == "nan"


def test_loss_graph_from_values_labels_nodes_and_edge_gradients():
    L, names = _loss_graph()
    fig = vg.draw_graph(L, names=names, title="L = (wx + b - y)^2")
    nodes = _by_gid(fig, "node:")
    text = "\n".join(nodes.values())
    for name, want_value, want_grad in [("w", "2", "-6"), ("x", "3", "-4"), ("b", "1", "-2"), ("y", "8", "2"),
                                        ("mul", "6", "-2"), ("add", "7", "-2"), ("L", "1", "1")]:
        box = next(t for t in nodes.values() if t.splitlines()[0].split(" ")[0] == name)
        assert f"data = {want_value}" in box and f"grad = {want_grad}" in box, box
    assert "sub (" in text and "data = -1" in text
    edges = _by_gid(fig, "edge:")
    g = vg.graph_from_value(L, names)
    # every edge with a known gradient is labelled, and with the right number
    assert len(edges) == sum(e.grad is not None for e in g.edges) == len(g.edges)
    w_key = next(n.key for n in g.nodes if n.label == "w")
    w_edge = next(e for e in g.edges if e.src == w_key)
    assert w_edge.grad == pytest.approx(-6.0)
    assert edges[f"edge:{w_edge.src}->{w_edge.dst}:0"] == "-6"
    assert fig.axes[0].get_title() == "L = (wx + b - y)^2"
    assert any("gradient flowing back" in t for t in _texts(fig))
    fig.canvas.draw()  # renders without error


def test_input_grad_is_sum_of_its_edge_gradients():
    x, y = Value(3.0), Value(-2.0)
    a = x * y
    b = a + x
    f = b * b
    f.backward()
    g = vg.graph_from_value(f, dict(x=x, y=y, a=a, b=b, f=f))
    for node in g.nodes:
        out = [e.grad for e in g.edges if e.src == node.key]
        if out:
            assert sum(out) == pytest.approx(node.grad), node
    b_key = next(n.key for n in g.nodes if n.label == "b")
    assert len([e for e in g.edges if e.src == b_key]) == 2  # b * b: two edges into the same node


def test_fan_out_draws_two_labelled_edges():
    x = Value(3.0)
    f = x * x
    f.backward()
    fig = vg.draw_graph(f, names={"x": x, "f": f})
    edges = _by_gid(fig, "edge:")
    assert sorted(edges.values()) == ["3", "3"]
    assert any("grad = 6" in t for t in _by_gid(fig, "node:").values())


def test_local_derivatives_for_every_reference_operation():
    a, b = Value(0.7), Value(-1.3)
    exprs = [a + b, a - b, a * b, a / b, a ** 3, -a, a.exp(), a.log(), a.tanh(), a.relu(), a.sigmoid(), a.sin(),
             a.cos(), 2.5 - a, 2.0 / b]
    for out in exprs:
        out.backward()
        g = vg.graph_from_value(out)
        # reference Values compose some operations (a - b = a + (-b)); the leaves' grads must still be the sums
        for node in g.nodes:
            edges = [e for e in g.edges if e.src == node.key]
            if edges:
                assert all(e.grad is not None for e in edges), (out, node)
                assert sum(e.grad for e in edges) == pytest.approx(node.grad, rel=1e-12, abs=1e-12), (out, node)


class _SetNode:
    """A micrograd-style node: _prev is a set, _backward takes no argument."""

    def __init__(self, data, prev=(), op=""):
        self.data, self.grad, self._prev, self._op = data, 0.0, set(prev), op


def test_set_prev_and_unknown_operations():
    x = _SetNode(3.0)
    sq = _SetNode(9.0, (x,), "*")      # x * x with a set of children: one edge carrying 2 x g
    sq.grad, x.grad = 1.0, 6.0
    g = vg.graph_from_value(sq)
    assert [e.grad for e in g.edges] == [6.0]
    a, b = _SetNode(5.0), _SetNode(2.0)
    d = _SetNode(3.0, (a, b), "-")     # order unknown in a set: no edge gradient is claimed
    d.grad = 1.0
    assert all(e.grad is None for e in vg.graph_from_value(d).edges)
    odd = _SetNode(1.0, (a,), "mystery")
    odd.grad = 1.0
    fig = vg.draw_graph(odd)
    assert _by_gid(fig, "edge:") == {}
    assert not any("gradient flowing back" in t for t in _texts(fig))


def test_spec_description_with_values_grads_and_edge_gradients():
    spec = {
        "nodes": {"x": {"value": -2, "grad": -4}, "y": {"value": 5, "grad": -4}, "z": {"value": -4, "grad": 3},
                  "q": {"value": 3, "grad": -4, "op": "+"}, "f": {"value": -12, "grad": 1, "op": "*"}},
        "edges": [("x", "q", -4), ("y", "q", -4), ("q", "f", -4), ("z", "f", 3)],
    }
    fig = vg.draw_graph(spec, title="f = (x + y) z")
    nodes = _by_gid(fig, "node:")
    assert nodes["node:q"] == "q (+)\ndata = 3\ngrad = -4"
    assert nodes["node:f"] == "f (*)\ndata = -12\ngrad = 1"
    assert nodes["node:z"] == "z\ndata = -4\ngrad = 3"
    assert _by_gid(fig, "edge:") == {"edge:x->q:0": "-4", "edge:y->q:0": "-4", "edge:q->f:0": "-4",
                                     "edge:z->f:0": "3"}


def test_forward_only_and_plain_names():
    g = vg.graph_from_spec({"a": 1.5, "b": 2, "c": {"value": 3.5, "op": "+"}}, [("a", "c"), ("b", "c", 9.0)])
    fig = vg.draw_graph(g, show_grads=False)
    assert _by_gid(fig, "edge:") == {}
    assert not any("grad" in t for t in _texts(fig))
    assert _by_gid(fig, "node:")["node:a"] == "a\ndata = 1.5"
    fig2 = vg.draw_graph(vg.graph_from_spec(["p", "q"], [("p", "q")]))
    assert sorted(_by_gid(fig2, "node:").values()) == ["p", "q"]


def test_layout_puts_inputs_left_of_their_users_and_root_rightmost():
    L, names = _loss_graph()
    g = vg.graph_from_value(L, names)
    pos = vg._positions(g)
    for e in g.edges:
        assert pos[e.src][0] < pos[e.dst][0]
    root = g.roots
    assert len(root) == 1 and pos[root[0]][0] == max(p[0] for p in pos.values())
    spec = vg.graph_from_spec(["w", "x", "b", "y", "mul", "add", "sub", "L"],
                              [("w", "mul"), ("x", "mul"), ("mul", "add"), ("b", "add"), ("add", "sub"), ("y", "sub"),
                               ("sub", "L")])
    pos = vg._positions(spec)
    # a late input sits one column left of its user, not in the first column
    assert [pos[k][0] for k in ("w", "x", "b", "y", "mul", "add", "sub", "L")] == [0, 0, 1, 2, 1, 2, 3, 4]


def test_draw_into_given_axes():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    L, names = _loss_graph()
    out = vg.draw_graph(L, names=names, ax=axes[1])
    assert out is fig
    assert axes[1].texts and not axes[0].texts


@pytest.mark.parametrize("nodes, edges, phrase", [
    ({"a": 1}, [("a", "zz")], "no node named 'zz'"),
    ({"a": 1, "b": 2}, [("a", "b"), ("b", "a")], "cycle"),
    ({"a": {"valu": 1}}, [], "unknown field"),
    ({"a": 1}, [("a",)], "an edge is"),
])
def test_bad_descriptions_raise_clear_errors(nodes, edges, phrase):
    with pytest.raises(ValueError, match=phrase):
        vg.graph_from_spec(nodes, edges)


def test_bad_inputs():
    with pytest.raises(TypeError, match="autodiff node"):
        vg.draw_graph(3.0)
    with pytest.raises(ValueError, match="'nodes' and 'edges'"):
        vg.draw_graph({"edges": []})
    big = Value(0.5)
    for _ in range(60):
        big = big * 1.01 + 0.1
    with pytest.raises(ValueError, match="small graphs"):
        vg.draw_graph(big)


def test_nan_and_non_numeric_values_still_draw():
    g = vg.graph_from_spec({"a": {"value": math.nan, "grad": math.inf}, "b": {"value": "text"}}, [("a", "b", math.nan)])
    fig = vg.draw_graph(g)
    fig.canvas.draw()
    assert "data = nan" in _by_gid(fig, "node:")["node:a"]


# ----------------------------------------------------------------------------------- layout: no overlap, every edge

def _rects(fig, prefix):
    """Display-space rectangles (x0, x1, y0, y1) of the boxes of the texts whose gid starts with prefix."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = {}
    for ax in fig.axes:
        for t in ax.texts:
            gid = t.get_gid() or ""
            if gid.startswith(prefix):
                bb = t.get_bbox_patch().get_window_extent(renderer)
                out[gid[len(prefix):]] = (bb.x0, bb.x1, bb.y0, bb.y1)
    return out


def _arrow_points(fig):
    """gid -> dense list of display points along each drawn arrow (shaft and head), curves flattened."""
    import numpy as np

    fig.canvas.draw()
    out = {}
    for ax in fig.axes:
        for p in ax.patches:
            gid = p.get_gid() or ""
            if not gid.startswith("arrow:"):
                continue
            pts = []
            for poly in p.get_path().to_polygons(ax.transData, closed_only=False):
                for a, b in zip(poly, poly[1:]):
                    n = max(2, int(np.hypot(*(b - a)) / 1.5))
                    pts += [a + (b - a) * s for s in np.linspace(0, 1, n)]
            out[gid] = np.array(pts)
    return out


def _inside(p, r, shrink=1.0):
    return r[0] + shrink < p[0] < r[1] - shrink and r[2] + shrink < p[1] < r[3] - shrink


def _near(p, r, tol):
    return r[0] - tol <= p[0] <= r[1] + tol and r[2] - tol <= p[1] <= r[3] + tol


def assert_clean_layout(fig, graph):
    """No two node boxes overlap; every edge of ``graph`` is drawn as an arrow that starts at its source box,
    ends at its target box, is visible for at least 12 px, and crosses no other box; edge labels overlap
    neither each other nor a box."""
    import numpy as np

    boxes = _rects(fig, "node:")
    assert sorted(boxes) == sorted(n.key for n in graph.nodes)
    frame = [ax.get_window_extent() for ax in fig.axes if any((t.get_gid() or "").startswith("node:")
                                                              for t in ax.texts)][0]
    frame = (frame.x0 - 1, frame.x1 + 1, frame.y0 - 1, frame.y1 + 1)
    for k, r in boxes.items():  # everything is drawn inside its axes: nothing hidden or spilled
        assert frame[0] <= r[0] and r[1] <= frame[1] and frame[2] <= r[2] and r[3] <= frame[3], f"box {k} sticks out"
    keys = sorted(boxes)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not vg._overlap(boxes[a], boxes[b], 2.0), f"boxes {a} and {b} overlap: {boxes[a]} {boxes[b]}"
    arrows = _arrow_points(fig)
    want: dict[str, int] = {}
    for e in graph.edges:
        gid = f"arrow:{e.src}->{e.dst}:{want.get((e.src, e.dst), 0)}"
        want[(e.src, e.dst)] = want.get((e.src, e.dst), 0) + 1
        assert gid in arrows, f"edge {e.src} -> {e.dst} is not drawn"
        pts = arrows[gid]
        assert all(_near(p, frame, 0) for p in pts), f"{gid} leaves the axes"
        src, dst = boxes[e.src], boxes[e.dst]
        assert _near(pts[0], src, 6), f"{gid} does not start at its source box"
        assert any(_near(p, dst, 6) for p in pts), f"{gid} does not reach {e.dst}"
        outside = [p for p in pts if not _near(p, src, 0) and not _near(p, dst, 0)]
        length = sum(np.hypot(*(b - a)) for a, b in zip(outside, outside[1:]))
        assert length >= 12, f"{gid} is visible for only {length:.1f} px"
        for k, r in boxes.items():
            if k in (e.src, e.dst):
                continue
            hit = [p for p in pts if _inside(p, r)]
            assert not hit, f"{gid} passes under the box of {k}"
        for k in (e.src, e.dst):  # the arrow touches its own boxes at the border only
            deep = [p for p in pts if _inside(p, boxes[k], 4.0)]
            assert not deep, f"{gid} runs inside the box of {k}"
    assert len(arrows) == len(graph.edges)
    labels = _rects(fig, "edge:")
    names = sorted(labels)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not vg._overlap(labels[a], labels[b], 0.5), f"labels {a} and {b} overlap"
        for k, r in boxes.items():
            assert not vg._overlap(labels[a], r, 0.5), f"label {a} overlaps the box of {k}"


def _batchnorm_case():
    from visuals import batchnorm_plots as bp

    args = ([1.0, 2.0, 6.0], 2.0, 0.5, [0.3, -1.0, 0.8])
    return bp.draw_batchnorm_graph(*args), vg.graph_from_spec(**bp.batchnorm_graph_spec(*args))


def test_batchnorm_graph_has_no_overlap_and_draws_every_edge():
    fig, graph = _batchnorm_case()
    assert_clean_layout(fig, graph)
    drawn = {p.get_gid() for p in fig.axes[0].patches}
    for src, dst in [("x", "mu"), ("x", "xc"), ("mu", "xc"), ("gamma", "out"), ("xc", "xhat"), ("beta", "out")]:
        assert f"arrow:{src}->{dst}:0" in drawn


def _notebook_02_graphs():
    """The graphs notebook 02 draws (structure, a trace, x * x, the engine's loss graph, the tanh neuron)."""
    nodes = ["w", "x", "b", "y", "mul", "add", "sub", "L"]
    edges = [("w", "mul"), ("x", "mul"), ("mul", "add"), ("b", "add"), ("add", "sub"), ("y", "sub"), ("sub", "L")]
    ops = {"mul": "*", "add": "+", "sub": "-", "L": "**2"}
    values = {"w": 2, "x": 3, "b": 1, "y": 8, "mul": 6, "add": 7, "sub": -1, "L": 1}
    grads = {"L": 1, "sub": -2, "add": -2, "mul": -2, "w": -6, "x": -4, "b": -2, "y": 2}
    out = [
        (vg.graph_from_spec({k: {"op": ops.get(k, "")} for k in nodes}, edges), {"size": (8, 3.2)}),
        (vg.graph_from_spec({k: {"op": ops.get(k, ""), "value": values[k], "grad": grads[k]} for k in nodes},
                            [(s, d, grads[s]) for s, d in edges]), {"size": (8, 3.4)}),
        (vg.graph_from_spec({"x": {"value": 3.0, "grad": 6.0}, "f": {"op": "*", "value": 9.0, "grad": 1.0}},
                            [("x", "f", 3.0), ("x", "f", 3.0)]), {"size": (5.5, 2.6)}),
    ]
    L, names = _loss_graph()
    out.append((vg.graph_from_value(L, names), {}))
    leaves = [Value(v) for v in (2.0, -1.0, -0.6, 0.9, 0.8)]
    x1, x2, w1, w2, b = leaves
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    out.append((vg.graph_from_value(o, dict(zip(["x1", "x2", "w1", "w2", "b"], leaves), o=o)), {"size": (9, 3.8)}))
    return out


@pytest.mark.parametrize("index", range(5))
def test_notebook_02_graphs_have_no_overlap_and_draw_every_edge(index):
    graph, kw = _notebook_02_graphs()[index]
    assert_clean_layout(vg.draw_graph(graph, title="t", **kw), graph)


def _random_graph(rng):
    n_in, n_op = int(rng.integers(1, 5)), int(rng.integers(1, 8))
    nodes = {f"i{k}": {"value": float(rng.normal()), "grad": float(rng.normal())} for k in range(n_in)}
    edges = []
    names = list(nodes)
    for k in range(n_op):
        key = f"op{k}"
        nodes[key] = {"op": str(rng.choice(["+", "*", "tanh", "-"])), "value": float(rng.normal()),
                      "grad": float(rng.normal())}
        for _ in range(int(rng.integers(1, 4))):   # repeats give parallel edges (x * x)
            edges.append((str(rng.choice(names)), key, float(rng.normal())))
        names.append(key)
    return vg.graph_from_spec(nodes, edges)


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_have_no_overlap_and_draw_every_edge(seed):
    import numpy as np

    graph = _random_graph(np.random.default_rng(seed))
    assert_clean_layout(vg.draw_graph(graph), graph)


def test_a_graph_drawn_into_small_axes_shrinks_its_text_and_stays_clean():
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    L, names = _loss_graph()
    vg.draw_graph(L, names=names, ax=axes[1])
    sizes = {t.get_fontsize() for t in axes[1].texts if (t.get_gid() or "").startswith("node:")}
    assert max(sizes) < vg.FONT_SIZE
    assert_clean_layout(fig, vg.graph_from_value(L, names))


def test_figure_grows_beyond_a_too_small_size():
    fig, graph = _batchnorm_case()
    wide = vg.draw_graph(graph, size=(4, 2))
    assert wide.get_figwidth() > 4 and wide.get_figheight() >= 2
    assert_clean_layout(wide, graph)


def test_a_wide_requested_size_spreads_the_columns():
    graph, kw = _notebook_02_graphs()[0]
    narrow, wide = vg.draw_graph(graph), vg.draw_graph(graph, size=(8, 3.2))
    span = {}
    for name, fig in (("narrow", narrow), ("wide", wide)):
        boxes = _rects(fig, "node:")
        span[name] = (max(r[1] for r in boxes.values()) - min(r[0] for r in boxes.values())) / fig.dpi
    assert wide.get_figwidth() == 8 and span["wide"] > span["narrow"] + 1.0 and span["wide"] < 8
    assert_clean_layout(wide, graph)
