"""Checks for the "computational graphs" and "forward vs reverse mode AD" notebooks.

Reverse mode (scalar ``Value`` graphs)       check_value_class (value_class), check_topological_order (topological)
Forward mode (dual numbers)                  check_dual_class (dual_class), check_partial_derivative (modes)
Jacobian-vector products and Jacobians       check_jvp, check_vjp, check_jacobian, check_hvp, check_pass_counts (modes)
Gradient checkpointing                       check_checkpointed_backward (checkpointing)

How they work. A learner's class or function is driven through work that must run where the learner's
objects live, by catalogue items of graders.remote.catalogue: expression programs (``programs``: seeded random
trees, graphs with fan-out such as ``x * x`` or a diamond, a 5000-node chain) are run on the learner's Value or
Dual class and on ``reference_impl.autodiff``'s, and every value and gradient is compared; test functions f
(``functions``) count how often the learner evaluates them on dual numbers and on Values, which is how "forward
mode needs n passes, reverse mode m" is checked honestly; graphs for a topological sort and instrumented
layer chains report what the learner's code did as data. Everything that knows an answer stays in this package.

*Test functions f for jvp / vjp / jacobian / hvp / partial derivatives.* Each f takes a 1-D NumPy array (n,)
and returns a scalar or a 1-D array (m,). It is written with ordinary NumPy code using only ``+ - * /``, ``@``
with float matrices, indexing, ``np.sum`` and the elementwise ``sin``, ``cos``, ``exp`` (applied to each entry
by calling its ``.sin()`` / ``.cos()`` / ``.exp()`` method). So the student can call f on

- a float array: plain evaluation,
- an object array (or a list) of dual numbers: one forward-mode pass; f returns dual numbers,
- an object array (or a list) of Values: it builds the graph for reverse mode; f returns Values,

with the reference classes (``reference_impl.autodiff.forward.Dual``, ``reverse.Value``) or with the student's
own ones, as long as they implement those operations and the reflected operators. Elementary functions of the
expression programs are methods too (``x.tanh()``), and numbers appear on either side of an operator
(``2.5 - x`` needs ``__rsub__``).
"""

from graders.autodiff.checkpointing import check_checkpointed_backward
from graders.autodiff.dual_class import check_dual_class
from graders.autodiff.modes import (PASS_KEYS, check_hvp, check_jacobian, check_jvp, check_partial_derivative,
                                    check_pass_counts, check_vjp)
from graders.autodiff.programs import DEEP_LINKS, DUAL_DEFAULT_OPS, DUAL_OPS, VALUE_DEFAULT_OPS, VALUE_OPS
from graders.autodiff.topological import check_topological_order
from graders.autodiff.value_class import check_value_class

__all__ = [
    "check_value_class", "check_topological_order", "check_dual_class", "check_partial_derivative", "check_jvp",
    "check_vjp", "check_jacobian", "check_hvp", "check_pass_counts", "check_checkpointed_backward",
    "VALUE_OPS", "DUAL_OPS", "VALUE_DEFAULT_OPS", "DUAL_DEFAULT_OPS", "PASS_KEYS", "DEEP_LINKS",
]
