"""check_topological_order: a learner's ``topological_order(root)`` on graphs of plain nodes.

The graphs are built here with ``reference_impl.autodiff.reverse.Value`` (random trees, fan-out graphs, a ladder
of diamonds, a chain of 2 * DEEP_LINKS operations), described as data and rebuilt by the catalogue runner
``topological_order`` as plain nodes with ``data``, ``grad``, ``_prev``, ``_op`` and ``label``, created in a
shuffled order. The runner calls the learner's function on the root and sends back the node index of every
entry it returned; this module decides whether that list is a topological order (every node once, each
after its inputs) and names what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graders import diagnoses
from graders.autodiff.grading import _Grading, _Stop
from graders.autodiff.programs import (DEEP_LINKS, Program, Step, _apply, _constant, _deep_chain, _program_text,
                                       _random_dag, _random_tree, _signed)
from graders.core import StudentCodeError, describe, require_callable
from graders.remote import catalogue
from reference_impl.autodiff import reverse as _ref_rev

_TOPO_RUN = catalogue.item("topological_order")


def _reference_graph(prog: Program) -> tuple[_ref_rev.Value, list]:
    nodes = [_ref_rev.Value(x, label=f"x{i}") for i, x in enumerate(prog.inputs)]
    for k, step in enumerate(prog.steps):
        v = _apply(step, nodes)
        v.label = f"v{prog.n_in + k}"
        nodes.append(v)
    return nodes[-1], nodes


def _ladder(rng: np.random.Generator, rungs: int) -> Program:
    """x0 -> (tanh, * c) -> + -> (tanh, * c) -> + ...: every level is a diamond (2**rungs root-to-leaf paths)."""
    steps, node = [], 0
    for _ in range(rungs):
        steps += [Step("tanh", (node,)), Step("*", (node,), _constant(rng))]
        steps.append(Step("+", (node + 1, node + 2)))
        node += 3
    return Program((_signed(rng, 0.3, 1.5),), tuple(steps), "ladder of diamonds")


def _node_desc(v: Any) -> str:
    label = getattr(v, "label", "")
    if label:
        return label
    return f"a constant Value({v.data:g})" if not v._prev else f"a '{v._op}' node"


@dataclass
class _Snapshot:
    """root's graph as the reference sees it: nodes in a topological order, each node's children (indices)."""
    nodes: list
    children: list[list[int]]
    desc: list[str]
    named: list[bool]


def _snapshot(root: _ref_rev.Value) -> _Snapshot:
    nodes = _ref_rev.topological_order(root)
    index = {id(v): k for k, v in enumerate(nodes)}
    return _Snapshot(nodes, [[index[id(c)] for c in v._prev] for v in nodes], [_node_desc(v) for v in nodes],
                     [bool(v.label) for v in nodes])


def _graph_data(snap: _Snapshot, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """(the graph as the catalogue runner takes it, perm): entry j of the data is snapshot node perm[j]."""
    n = len(snap.nodes)
    perm = rng.permutation(n)
    where = np.empty(n, dtype=np.int64)
    where[perm] = np.arange(n)
    nodes = [snap.nodes[k] for k in perm]
    kids = [[int(where[c]) for c in snap.children[k]] for k in perm]
    graph = {"data": np.array([v.data for v in nodes], dtype=np.float64), "op": [v._op for v in nodes],
             "label": [v.label for v in nodes], "children": np.array([c for ks in kids for c in ks], dtype=np.int64),
             "offsets": np.cumsum([0] + [len(ks) for ks in kids], dtype=np.int64), "root": int(where[n - 1])}
    return graph, perm


def _order_problem(result: dict, snap: _Snapshot) -> str | None:
    """Why the returned list (as the runner describes it: snapshot indices, None for strangers) is not a
    topological order of the snapshot's graph (inputs before the node using them)."""
    if result["kind"] == "set":
        return "returned a set: a set has no order; return a list with every node after its inputs."
    if result["kind"] != "list":
        return f"returned {result['type']} ({result['brief']}); it must return a list of the graph's nodes."
    n = len(snap.nodes)
    problems = []
    if result["n_strangers"]:
        k = result["n_strangers"]
        kind, text = result["stranger"]
        problems.append(f"{k} entr{'y is' if k == 1 else 'ies are'} not nodes of the graph (e.g. {kind} {text}): "
                        f"list the Value objects themselves.")
    pos: dict[int, int] = {}
    dups = []
    for p, k in enumerate(result["entries"]):
        if k is None:
            continue
        if k in pos:
            dups.append(k)
        else:
            pos[k] = p
    if dups:
        problems.append(f"{len(dups)} duplicate entr{'y' if len(dups) == 1 else 'ies'} (e.g. {snap.desc[dups[0]]} "
                        f"appears more than once){describe(diagnoses.get('TOPO_DUPLICATE'))}")
    missing = [k for k in range(n) if k not in pos]
    if missing:
        if missing == [n - 1]:
            what = "the root itself is missing (it comes last)"
        elif all(not snap.children[k] for k in missing):
            what = f"{len(missing)} leaves are missing (e.g. {snap.desc[missing[0]]})"
        else:
            what = f"{len(missing)} of {n} nodes are missing (e.g. {snap.desc[missing[0]]})"
        problems.append(f"{what}{describe(diagnoses.get('TOPO_MISSING_NODE'))}")
    edges = [(k, c) for k in pos for c in snap.children[k] if c in pos]
    bad = [(k, c) for k, c in edges if pos[c] > pos[k]]
    if bad:
        k, c = min(bad, key=lambda e: (not snap.named[e[0]]) + (not snap.named[e[1]]))  # named nodes read best
        reversed_list = len(bad) == len(edges) and len(pos) > 1
        hint = (" The whole list is reversed (root first): return children before parents; backward() then walks "
                "reversed(order)." if reversed_list else "")
        problems.append(f"{snap.desc[k]} comes before its input {snap.desc[c]} ({len(bad)} such pair"
                        f"{'s' if len(bad) > 1 else ''}).{hint}{describe(diagnoses.get('TOPO_ORDER'))}")
    return "\n      ".join(problems) if problems else None


def check_topological_order(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``fn(root) -> list`` of every node of root's graph, each after its inputs (so root is last).

    Student contract: ``root`` is a node with the attributes of ``reference_impl.autodiff.reverse.Value``
    (``.data``, ``.grad``, ``._op``, ``.label``); a node's inputs (children) are ``node._prev`` (a tuple). The
    list holds every node reachable from root exactly once, including leaves and the constant Values that
    operations created for plain numbers, with each node after all of its children. Must not recurse per
    level: a deep chain of 2 * DEEP_LINKS nodes is included.

    Sub-checks (weight 1 each): trees; graphs with fan-out (a node used several times, a ladder of
    diamonds with 2**rungs paths, which also catches missing visited sets); the deep chain.
    """
    require_callable(fn, "topological_order", 1)
    T, O, D = "trees", "graphs with fan-out (shared nodes)", f"a deep chain ({2 * DEEP_LINKS} operations)"
    g = _Grading("topological order", points, seed, [T, O, D])
    rng = np.random.default_rng(seed)
    ops = ("+", "-", "*", "/", "tanh", "exp")
    cases = [(T, _random_tree(rng, ops, 3, 5)), (T, _random_tree(rng, ops, 4, 8)),
             (O, _random_dag(rng, ops, 3, 4)), (O, _ladder(rng, 6))]
    if thorough:
        cases += [(T, Program((0.7,), (), "single leaf")), (T, _random_tree(rng, ops, 5, 12)),
                  (O, _random_dag(rng, ops, 1, 5)), (O, _random_dag(rng, ops, 4, 8))]
    cases.append((D, _deep_chain(rng, DEEP_LINKS)))
    try:
        for number, (sub, prog) in enumerate(cases):
            root, _ = _reference_graph(prog)
            snap = _snapshot(root)
            graph, perm = _graph_data(snap, np.random.default_rng([seed, number]))
            desc = prog.kind if prog.kind == "deep chain" else f"{prog.kind} {_program_text(prog, 8)}"
            try:
                result = g.call(sub, _TOPO_RUN, fn, graph, label="topological_order(root)")
            except StudentCodeError as exc:
                g.fail(sub, f"{desc}: {exc}")
                continue
            if result.get("kind") == "list":
                result["entries"] = [None if j is None else int(perm[j]) for j in result["entries"]]
            problem = _order_problem(result, snap)
            if problem:
                g.fail(sub, f"{desc}: {problem}")
        g.done.update((T, O, D))
    except _Stop:
        pass
    return g.finish()
