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
