"""graders.remote.catalogue and the seam's handling of what a check hands to student code.

Each behaviour is checked in one process and across a forked student process (tests/remote_harness.py), and
must be the same in both: catalogue items reach the student's code as the objects they build and bring their
state back, runners run where the student's objects live, callbacks die with their call, ``after`` reports
changed and aliased arguments, and proxies raise the built-in errors of Python's protocols.
"""

from __future__ import annotations

import numpy as np
import pytest

from graders.autodiff.programs import Program, Step, _deep_chain
from graders.core import StudentCodeError, call_student
from graders.remote import catalogue
from tests.remote_harness import remote


def _both(fn, body):
    """body(student_fn) with the student's function itself, then with its proxy in a forked process."""
    local = body(fn)
    with remote({"fn": fn}) as link:
        try:
            across = body(link.lookup("fn"))
        finally:
            link.release()
    return local, across


class Box:
    def __init__(self, data):
        self.data = data
        self.grad = 0.0

    def __add__(self, o):
        return Box(self.data + (o.data if isinstance(o, Box) else o))

    __radd__ = __add__

    def __mul__(self, o):
        return Box(self.data * (o.data if isinstance(o, Box) else o))

    __rmul__ = __mul__


# ============================================================================================ items and state


def test_an_item_reaches_student_code_as_its_object_and_its_state_comes_back():
    def student(f, x):
        return [f(x), f(list(x)), type(f).__name__]

    def body(fn):
        item = catalogue.item("ad_function", form="worked", n=2, Ws=[])
        out = call_student(fn, item, np.array([2.0, 3.0]))
        first = dict(item.state)
        call_student(fn, item, np.array([1.0, 1.0]))  # the state travels with the item: counts go on
        return out, first, dict(item.state)

    local, across = _both(student, body)
    assert local == across
    (values, first, second) = local
    assert values[2] == "function" and values[0] == values[1] == pytest.approx(6.0 + np.sin(2.0))
    assert first == {"float": 2, "dual": 0, "value": 0, "other": 0}
    assert second["float"] == 4


def test_an_items_state_comes_back_when_the_student_code_raises():
    def student(layers, x):
        layers[0][0](x)
        raise ValueError("after one layer")

    def body(fn):
        item = catalogue.item("tanh_chain", Ws=[np.eye(2), np.eye(2)])
        with pytest.raises(StudentCodeError, match="after one layer"):
            call_student(fn, item, np.ones((1, 2)))
        return dict(item.state)

    local, across = _both(student, body)
    assert local == across and local["forward_calls"] == 1 and local["backward_calls"] == [0, 0]


def test_a_runner_runs_where_the_class_lives_even_behind_a_large_program():
    prog = _deep_chain(np.random.default_rng(0), 2500).data()   # 5000 steps to search before the class
    runner = catalogue.item("value_program")
    local, across = _both(Box, lambda cls: call_student(runner, cls, prog, backward=False)["data"])
    assert local == across and len(local) == 5001


def test_a_runners_message_about_the_students_class_is_the_same_in_both_settings():
    small = Program((0.5, 2.0), (Step("*", (0, 1)), Step("tanh", (2,)))).data()

    def body(cls):
        with pytest.raises(StudentCodeError) as info:
            call_student(catalogue.item("value_program"), cls, small)
        return str(info.value)

    local, across = _both(Box, body)
    assert local == across == "Box has no method .tanh(): define `def tanh(self):` returning a new Box."


def test_a_topological_graph_is_built_from_data_and_the_result_described_as_data():
    graph = {"data": np.array([1.0, 2.0, 3.0]), "op": ["+", "", ""], "label": ["", "x0", "x1"],
             "children": np.array([1, 2]), "offsets": np.array([0, 2, 2, 2]), "root": 0}

    def student(root):
        return [root._prev[1], root._prev[0], root, 7.5]

    local, across = _both(student, lambda fn: call_student(catalogue.item("topological_order"), fn, graph))
    assert local == across == {"kind": "list", "entries": [2, 1, 0, None], "stranger": ["float", "7.5"],
                               "n_strangers": 1}


def test_peak_memory_is_measured_where_the_code_runs():
    def student(n):
        return float(np.ones((n, n)).sum())

    def body(fn):
        meter = catalogue.item("peak_memory")
        assert call_student(meter, fn, 300) == 90000.0
        return meter.state["peak"]

    local, across = _both(student, body)
    assert local >= 300 * 300 * 8 and across >= 300 * 300 * 8


# ============================================================================================ callbacks


def test_a_callback_is_valid_only_during_the_call_that_passed_it():
    kept = []

    def keep(g):
        kept.append(g)
        return g(3.0)

    def use_later():
        return kept[-1](4.0)

    with remote({"keep": keep, "use_later": use_later}) as link:
        assert call_student(link.lookup("keep"), lambda t: 2 * t) == 6.0
        with pytest.raises(StudentCodeError, match="only valid during the grader's call that passed it"):
            call_student(link.lookup("use_later"))
        link.release()


def test_a_callback_passes_data_and_the_students_own_objects_only():
    def student(g):
        return g(np.arange(3.0), {"k": [1, 2]})

    def grader_function(a, d):
        return float(a.sum()) + sum(d["k"])

    local, across = _both(student, lambda fn: call_student(fn, grader_function))
    assert local == across == 6.0


# ============================================================================================ after and aliasing


def test_after_reports_changed_and_aliased_arguments_in_both_settings():
    def same(d):
        return d

    def scaled_in_place(d):
        d["w"] *= 2.0
        return {"w": d["w"].copy()}

    def body(fn):
        after: dict = {}
        notes: list = []
        call_student(fn, {"w": np.ones(2)}, after=after, notes=notes)
        return after["aliased"], [float(v) for v in after["args"][0]["w"]], any("in place" in n for n in notes)

    assert _both(same, body) == ((True, [1.0, 1.0], False),) * 2
    assert _both(scaled_in_place, body) == ((False, [2.0, 2.0], True),) * 2


# ============================================================================================ proxies


def test_operators_on_proxies_raise_the_builtin_error_of_the_protocol():
    class Opaque:
        pass

    with remote({"obj": Opaque()}) as link:
        obj = link.lookup("obj")
        with pytest.raises(TypeError, match="float"):
            float(obj)
        with pytest.raises(TypeError):
            obj + 1
        link.release()


# ============================================================================================ hostile replies


def test_a_reply_cannot_change_the_state_of_an_item_it_was_not_sent():
    victim = catalogue.item("ad_function", form="worked", n=2, Ws=[])
    victim.state.update({"float": 0, "dual": 1, "value": 0, "other": 0})
    uid = victim.uid

    def hostile(x):  # rewrites the server of its own process to report a state for the grader's other item
        from graders.remote import protocol, server
        server.Server._states = lambda self: protocol.encode({str(uid): {"dual": 99}})[0]
        return x

    with remote({"hostile": hostile}) as link:
        assert call_student(link.lookup("hostile"), 1.5) == 1.5
        link.release()
    assert victim.state["dual"] == 1
