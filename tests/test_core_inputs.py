"""The course-wide rule for functions that modify their inputs: one sub-check, "inputs left unchanged", worth
the same share of every exercise that watches it, named INPUT_MUTATED, in one process and across the link."""

import numpy as np
import pytest

from graders import core
from tests.remote_harness import remote


def _report(n_other: int) -> core.Report:
    rep = core.Report("demo", points=4)
    for i in range(n_other):
        rep.declare(f"part {i}")
    rep.watch_inputs()
    return rep


def mutating(x):
    x *= 2
    return x.sum()


def clean(x):
    return (x * 2).sum()


@pytest.mark.parametrize("n_other", [1, 2, 5])
def test_a_modified_input_costs_the_same_share_whatever_the_exercise(n_other):
    rep = _report(n_other)
    core.call_student(mutating, np.ones(3), report=rep)
    assert rep.fraction == pytest.approx(1 - core.MUTATION_SHARE)
    assert "[INPUT_MUTATED]" in rep.failure_text()


def test_a_clean_function_keeps_every_point_and_the_caller_keeps_its_array():
    rep = _report(2)
    x = np.ones(3)
    core.call_student(mutating, x, report=rep)
    assert np.array_equal(x, np.ones(3))  # the student's function got a copy
    rep2 = _report(2)
    core.call_student(clean, x, report=rep2)
    assert rep2.fraction == 1.0


def test_leaving_inputs_alone_earns_nothing_by_itself():
    rep = _report(2)
    for i in range(2):
        rep.fail(f"part {i}", "wrong")
    assert rep.fraction == 0.0


def test_the_rule_holds_across_the_cohort_link():
    with remote({"mutating": mutating, "clean": clean}) as link:
        rep = _report(3)
        core.call_student(link.lookup("mutating"), np.ones(4), report=rep)
        assert rep.fraction == pytest.approx(1 - core.MUTATION_SHARE)
        rep2 = _report(3)
        core.call_student(link.lookup("clean"), np.ones(4), report=rep2)
        assert rep2.fraction == 1.0
        link.release()
