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


def test_a_function_that_loops_forever_earns_nothing_for_the_cases_it_never_reached(monkeypatch):
    """Every check of notebooks 01-04 whose cases are split by kind: a time-out on the first case fails the
    sub-checks of the kinds that come later instead of leaving them passed (and the input share uncredited)."""
    from graders import layers as gl
    from graders import network as gn
    from graders.exercises import chain_rule as cr
    from graders.exercises import jacobians_vjps as jv

    monkeypatch.setattr(core, "DEFAULT_TIMEOUT", 0.2)

    def forever(*args):
        while True:
            pass

    for check, fns in [(cr.check_compose_derivative, (forever,)), (cr.check_lsq_grad, (forever,)),
                       (gl.check_relu, (forever, forever)), (gl.check_affine, (forever, forever)),
                       (gn.check_two_layer_loss_and_grads, (forever,)), (gn.check_softmax_cross_entropy, (forever,)),
                       (jv.check_affine_jacobian, (forever,)), (jv.check_softmax_jacobian, (forever,)),
                       (jv.check_softmax_vjp, (forever,)), (jv.check_maxpool_jacobian, (forever,))]:
        with pytest.raises(AssertionError) as info:
            check(*fns, points=2)
        assert "did not finish" in str(info.value), check.__name__


def test_a_graded_modification_is_not_also_called_free(capsys):
    """Found in 01-04: with the input rule watched, the generic note "(the grader passed copies, so this did not cost
    points)" was printed under the failed "inputs left unchanged" sub-check it contradicts. It stays for calls whose
    exercise does not watch inputs, and for arguments a check leaves out (a backward's own cache)."""
    rep = _report(2)
    core.call_student(mutating, np.ones(3), report=rep, notes=rep.notes)
    assert not any("did not cost points" in n for n in rep.notes)
    unwatched = core.Report("demo", points=4)
    unwatched.declare("part")
    core.call_student(mutating, np.ones(3), report=unwatched, notes=unwatched.notes)
    assert any("did not cost points" in n for n in unwatched.notes)

    def backward(dout, cache):
        cache *= 0          # the student's own cache: not an input the contract protects
        return dout

    rep = _report(2)
    core.call_student(backward, np.ones(2), np.ones(2), report=rep, notes=rep.notes, watch=(0,))
    assert rep.fraction == 1.0
