"""Checks for the "two-layer network" and "initialization" notebooks.

Losses (losses)                    check_softmax, check_softmax_cross_entropy, check_mse_loss
Two-layer network (two_layer)      check_two_layer_loss_and_grads, check_two_layer_single_example,
                                   check_two_layer_mse_loss_and_grads
Training (training)                check_train_two_layer
Gradient checking (gradcheck)      check_numeric_gradient, check_rel_error
Initialization (initialization)    check_init

Every check follows graders/layers.py: callable and signature, then structure (tuple length, dict keys), exact
shape and float64, finite values, values against reference_impl with the likely mistake named, and where the
student's function returns both a loss and its gradient, the gradient is compared with finite differences of
the student's OWN loss ("fix the loss first" / "the mistake is in the gradient"). The shared machinery is in
``grading``: a grader whose calls fail named sub-checks instead of raising, and calls that apply the input rule
and say what the student's function changed in its (copied) arguments, read from ``call_student``'s ``after`` so
that it works in one process and across the cohort link alike.

Network parameters are a dict {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}; in the ordinary cases hidden
pre-activations are kept at least 0.02 away from the ReLU kink, and N, D, H, C differ from each other so that a
transpose or a sum over the wrong axis shows as a wrong shape. Each kind of case is graded into sub-checks of its
own and is in the visible test (a batch of one, scores around 1e3, logits shifted by 1e15, hidden units exactly at
the ReLU kink); ``thorough=True`` (hidden tests) adds more cases of the same kinds. The cases built so that finite
differences miss at every step size name a gradient computed that way NUMERIC_NOT_ANALYTIC; the two-layer checks add
a network with about 1e5 parameters and a time limit that one loss evaluation per parameter (the complex-step trick,
exact at every kink and scale) cannot meet. Functions whose
contract leaves their inputs alone are graded by the course-wide rule (graders.core: "inputs left unchanged").
"""

from graders.network.gradcheck import check_numeric_gradient, check_rel_error
from graders.network.grading import INIT_MIN_DRAWS, INIT_Z, KINK_MARGIN, LARGE_LOGIT, PARAM_KEYS
from graders.network.initialization import SCHEME_NAMES, check_init
from graders.network.losses import check_mse_loss, check_softmax, check_softmax_cross_entropy
from graders.network.training import check_train_two_layer
from graders.network.two_layer import (check_two_layer_loss_and_grads, check_two_layer_mse_loss_and_grads,
                                       check_two_layer_single_example)

__all__ = [
    "check_softmax", "check_softmax_cross_entropy", "check_mse_loss", "check_two_layer_loss_and_grads",
    "check_two_layer_single_example", "check_two_layer_mse_loss_and_grads", "check_train_two_layer",
    "check_numeric_gradient", "check_rel_error", "check_init",
]
