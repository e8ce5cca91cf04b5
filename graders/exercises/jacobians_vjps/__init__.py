"""Checks for notebook 04 (Jacobians and vector-Jacobian products), with this notebook's contracts.

When this notebook was written, the generic modules graders/jacobians.py, answers.py and concepts.py did not
exist yet, so every check the notebook uses lives in this package (built on graders/core.py):

- Jacobians of one vector: :func:`check_affine_jacobian`, :func:`check_elementwise_jacobians` (sigmoid and
  ReLU), :func:`check_softmax_jacobian`, :func:`check_maxpool_jacobian`, :func:`check_vjp_from_jacobian`,
  :func:`check_ce_grad_via_jacobian` (softmax + cross-entropy gradient via the Jacobian);
- :func:`check_softmax_vjp`: u^T J for softmax computed WITHOUT forming the n x n Jacobian (values, and a
  memory check with ``tracemalloc`` on a long vector);
- SymPy answers checked with reference_impl.symbolic.are_equivalent: :func:`check_softmax_jacobian_sympy`
  (the 3 x 3 softmax Jacobian) and :func:`check_ce_dz_sympy` (dL/dz1 for softmax + cross-entropy);
- interview question: :func:`check_layer_jacobian_size` (shape and float64 bytes of the Jacobian of a batched
  layer (N, D) -> (N, M)). The multiple-choice question ``why_vjp`` lives in graders/question_bank/jacobians_vjps.py
  and is checked by ``graders.concepts.check_choice``.

Each code check grades every kind of case into a sub-check of its own (ordinary sizes; edge sizes such as one
input or a square W; large logits; ties in a max-pool window; logits shifted by 1e15 or a bias around 1e15,
built so that finite differences miss at every step size and an answer right elsewhere but wrong there is named
NUMERIC_NOT_ANALYTIC). The visible test (``thorough=False``) has a case of every kind, the hidden test more of
each, so a hidden-only failure is never a surprise and costs its share, not the cell. Every function must leave
its inputs unchanged: the course-wide sub-check "inputs left unchanged" (graders.core).

Expected values are computed in this package (from reference_impl, SymPy or the sizes) so that no answer appears in the
notebook. Every check is a pure function of its arguments and seed that returns ``points`` when everything
passed, partial credit when some sub-checks passed, and raises an AssertionError naming what to fix otherwise.
Mistake hints carry a bracketed code: catalogue codes from graders/diagnoses.py where one fits, otherwise a
local code (e.g. [MISSING_RANK_ONE]) that the tests in tests/test_exercises_jacobians_vjps.py pin.

Where the checks live:

Shared machinery (grading)                  SHIFT; softmax, _matrix_check, diagnosis texts, shifted logits
Softmax VJP (softmax_vjp)                   check_softmax_vjp; MEMORY_N, MEMORY_FRACTION
Jacobian of a batched layer (layer_size)    check_layer_jacobian_size
Jacobians of one vector (jacobians)         check_affine_jacobian, check_elementwise_jacobians,
                                            check_softmax_jacobian, check_maxpool_jacobian,
                                            check_vjp_from_jacobian, check_ce_grad_via_jacobian
SymPy answers (sympy_answers)               check_softmax_jacobian_sympy, check_ce_dz_sympy
"""

from graders.exercises.jacobians_vjps.grading import SHIFT
from graders.exercises.jacobians_vjps.jacobians import (check_affine_jacobian, check_ce_grad_via_jacobian,
                                                        check_elementwise_jacobians, check_maxpool_jacobian,
                                                        check_softmax_jacobian, check_vjp_from_jacobian)
from graders.exercises.jacobians_vjps.layer_size import check_layer_jacobian_size
from graders.exercises.jacobians_vjps.softmax_vjp import MEMORY_FRACTION, MEMORY_N, check_softmax_vjp
from graders.exercises.jacobians_vjps.sympy_answers import check_ce_dz_sympy, check_softmax_jacobian_sympy

__all__ = [
    "check_softmax_vjp", "check_layer_jacobian_size", "check_affine_jacobian", "check_elementwise_jacobians",
    "check_softmax_jacobian", "check_maxpool_jacobian", "check_vjp_from_jacobian", "check_ce_grad_via_jacobian",
    "check_softmax_jacobian_sympy", "check_ce_dz_sympy", "MEMORY_N", "MEMORY_FRACTION", "SHIFT",
]
