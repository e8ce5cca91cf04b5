"""Notebooks 01-04: the visible test shows a case of every kind the hidden test tries, and points are split by kind.

Issue 12: a cell with a single check lost everything on a hidden-only case (04 max-pool ties and softmax logits near
800 scored 2/2 visible and 0/2 graded). Here, for every code check of notebooks 01-04,

- the kinds of case in the hidden test (``thorough=True``) are a subset of the visible test's kinds, read from the
  checks' own case lists where they have one;
- the visible and the hidden test grade the same sub-checks (read from the reports the checks finish), so a
  hidden-only failure can only cost the share of a sub-check the learner has already seen pass or fail;
- a mistake planted in one kind of case only costs the same share in the visible and in the hidden test (the
  kind-specific planted answers live next to each check's tests; here one per notebook is repeated as a canary).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from graders import autodiff as gad
from graders import core
from graders import layers as gl
from graders import network as gn
from graders.exercises import chain_rule as cr
from graders.exercises import computational_graphs as cg
from graders.exercises import jacobians_vjps as jv
from graders.exercises.jacobians_vjps import softmax_vjp as jv_vjp
from graders.network import losses as gn_losses
from graders.network import two_layer as gn_two_layer
from reference_impl import gradcheck as G
from reference_impl import layers as R
from reference_impl import losses as L
from reference_impl import network as RN
import tests.test_exercises_chain_rule as T1
import tests.test_exercises_computational_graphs as T2
import tests.test_exercises_jacobians_vjps as T4


def test_case_lists_show_every_hidden_kind_in_the_visible_test():
    rng = np.random.default_rng
    assert {c[3] for c in cr._COMPOSE_THOROUGH} <= {c[3] for c in cr._COMPOSE_VISIBLE}
    assert {c[4] for c in cr._lsq_cases(rng(0), True)} == {c[4] for c in cr._lsq_cases(rng(0), False)}
    assert {k for _, k in cg._loss_points(rng(0), True)} == {k for _, k in cg._loss_points(rng(0), False)}
    for kind in ("softmax", "single", "mse"):
        hidden = {c.kind for c in gn_two_layer._net_cases(rng(0), True, kind)}
        assert hidden == {c.kind for c in gn_two_layer._net_cases(rng(0), False, kind)}
    assert {c[3] for c in gn_losses._ce_cases(rng(0), True)} == {c[3] for c in gn_losses._ce_cases(rng(0), False)}
    assert {c[2] for c in gn_losses._softmax_cases(rng(0), True)} == {c[2] for c in gn_losses._softmax_cases(rng(0),
                                                                                                           False)}
    for make in (gl._affine_cases, gl._relu_cases):
        assert {c.kind for c in make(rng(0), True)} == {c.kind for c in make(rng(0), False)}
    assert {c[3] for c in jv_vjp._vjp_cases(rng(0), True)} == {c[3] for c in jv_vjp._vjp_cases(rng(0), False)}


def _subchecks(check, *args, **kwargs) -> list[str]:
    collected: list = []
    token = core.FINISHED_REPORTS.set(collected)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                check(*args, points=2, **kwargs)
            except AssertionError:
                pass
    finally:
        core.FINISHED_REPORTS.reset(token)
    (report,) = collected
    return report


def _value_class():
    return T2._engine()


CHECKS = {  # 01-04 code checks with a correct answer
    "01 compose": (cr.check_compose_derivative, (T1.compose_good,)),
    "01 lsq": (cr.check_lsq_grad, (T1.lsq_good,)),
    "02 loss_and_grads": (cg.check_loss_and_grads, (T2.good_loss_and_grads,)),
    "02 numeric_gradient": (cg.check_numeric_gradient, (T2.good_fd,)),
    "02 topological order": (gad.check_topological_order, (T2._topo,)),
    "03 softmax": (gn.check_softmax, (L.softmax,)),
    "03 softmax_ce": (gn.check_softmax_cross_entropy, (L.softmax_cross_entropy,)),
    "03 affine": (gl.check_affine, (R.affine_forward, R.affine_backward)),
    "03 relu": (gl.check_relu, (R.relu_forward, R.relu_backward)),
    "03 single": (gn.check_two_layer_single_example,
                  (lambda p, x, y: RN.mlp_loss_and_grads(p, x[None], np.array([y])),)),
    "03 batched": (gn.check_two_layer_loss_and_grads, (RN.mlp_loss_and_grads,)),
    "03 mse": (gn.check_two_layer_mse_loss_and_grads, (lambda p, X, Y: RN.mlp_loss_and_grads(p, X, Y, loss="mse"),)),
    "03 rel_error": (gn.check_rel_error, (G.rel_error,)),
    "03 numeric_gradient": (gn.check_numeric_gradient, (G.numeric_grad,)),
    "03 train": (gn.check_train_two_layer, (lambda p, X, y, lr, steps: RN.train_mlp(p, X, y, lr=lr, steps=steps),)),
    "04 affine": (jv.check_affine_jacobian, (T4.affine_good,)),
    "04 elementwise": (jv.check_elementwise_jacobians, (T4.sig_good, T4.relu_good)),
    "04 softmax": (jv.check_softmax_jacobian, (T4.softmax_jac_good,)),
    "04 maxpool": (jv.check_maxpool_jacobian, (T4.maxpool_good,)),
    "04 vjp": (jv.check_vjp_from_jacobian, (lambda J, u: u @ J,)),
    "04 softmax_vjp": (jv.check_softmax_vjp, (T4.vjp_good,)),
    "04 ce": (jv.check_ce_grad_via_jacobian, (T4.ce_good,)),
    "04 layer size": (jv.check_layer_jacobian_size, (T4.shape_good, T4.bytes_good)),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_visible_and_hidden_tests_grade_the_same_sub_checks_and_split_the_points(name):
    """A function that raises fails every sub-check: the visible and the hidden test list the same ones, and no
    01-04 code check is a single all-or-nothing sub-check any more."""
    check, fns = CHECKS[name]
    assert _subchecks(check, *fns, seed=0)["fraction"] == _subchecks(check, *fns, seed=41, thorough=True)["fraction"] \
        == 1.0

    def broken(*args):
        raise ValueError("planted")

    visible = _subchecks(check, *([broken] * len(fns)), seed=0)
    hidden = _subchecks(check, *([broken] * len(fns)), seed=41, thorough=True)
    assert visible["fraction"] == 0.0 and len(visible["failed"]) >= 2, visible
    assert sorted(visible["failed"]) == sorted(hidden["failed"]), (visible, hidden)


def _softmax_jacobian_unstable(z):
    e = np.exp(z)
    p = e / e.sum()
    return np.diag(p) - np.outer(p, p)


@pytest.mark.parametrize("check,fns", [
    (jv.check_softmax_jacobian, (_softmax_jacobian_unstable,)),          # logits near 800: 2/2 visible, 0/2 graded
    (jv.check_maxpool_jacobian, (T4.maxpool_last,)),                     # ties: 2/2 visible, 0/2 graded
    (gl.check_relu, (lambda x: (np.maximum(x, 0), x), lambda d, x: d * (x >= 0))),
    (cr.check_lsq_grad, (T1.lsq_by_finite_differences(1e-5),)),
    (gn.check_two_layer_loss_and_grads, (lambda p, X, y: RN.mlp_loss_and_grads(p, X, y, activation="relu")
                                         if np.all(np.abs(X @ p["W1"] + p["b1"]) > 1e-9) else
                                         (RN.mlp_loss_and_grads(p, X, y)[0],
                                          {k: v * 0.5 for k, v in RN.mlp_loss_and_grads(p, X, y)[1].items()}),)),
])
def test_a_kind_specific_mistake_costs_the_same_visible_and_hidden(check, fns):
    visible = _subchecks(check, *fns, seed=0)
    hidden = _subchecks(check, *fns, seed=7, thorough=True)
    assert 0.0 < visible["fraction"] < 1.0 and visible["fraction"] == hidden["fraction"], (visible, hidden)
    assert visible["failed"] == hidden["failed"]
