"""Hints for notebook 02 (computational graphs): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "loss_forward": (
        "Go from the leaves to the root, one node at a time, using the table of operations.",
        "mul = w * x first; add, sub and L each use the node just computed.",
        "Substitute w = 2, x = 3, b = 1, y = 8; L is sub squared. Put the four numbers in the dict under the keys "
        "mul, add, sub, L.",
    ),
    "loss_backward": (
        "Start at the root with dL/dL = 1 and walk back: every node gets upstream gradient times local derivative.",
        "The square sends back 2 * sub; add and sub pass their gradient on (sub with a minus sign for y); mul sends "
        "each input the upstream times the OTHER input.",
        "Compute in this order: L, sub, add, then mul and b, then w and x, and y from the subtraction. Every leaf "
        "needs its key too.",
    ),
    "loss_and_grads": (
        "Mirror the graph: four forward lines (mul, add, sub, L), then the backward lines in reverse order.",
        "Each backward line is one upstream gradient times one local derivative, e.g. dL_dsub = dL_dL * 2 * sub.",
        "Continue through add and mul: dL_dy gets the -1 of the subtraction, dL_dw uses x and dL_dx uses w. Return "
        "the tuple in the order (L, dL_dw, dL_dx, dL_db, dL_dy).",
    ),
    "sum_times_trace": (
        "Forward: q = x + y, then f = q * z. Backward from df/df = 1.",
        "The multiply node swaps its inputs: df/dq is the value of z, df/dz is the value of q.",
        "The add node passes df/dq unchanged to both x and y (it is not split in half).",
    ),
    "fanout_trace": (
        "Forward first: a = x*y, b = a + x, f = b*b. Then go back from df/df = 1.",
        "b * b uses b in both slots: df/db is the sum of the two slot contributions. x is used by a AND by b, so "
        "df/dx is also a sum of two contributions.",
        "df/da = df/db (add node); df/dy = df/da * x; df/dx = df/da * y + df/db * 1. Evaluate at x = 3, y = -2.",
    ),
    "mcq_shared": (
        "A shared weight is a variable used twice, exactly like x in f = x * x.",
        "The multivariate chain rule: one contribution per use, and the contributions combine.",
        "Remember the += at a fan-out, and pick the option that matches it.",
    ),
    "value_ops": (
        "Each operation returns a NEW Value holding the result, with _prev = (self, other), and attaches a "
        "_backward closure to it.",
        "Wrap a plain number with Value.wrap first. In _backward use +=: for +, both inputs get out.grad; for *, "
        "each input gets out.grad times the other input's data.",
        "__radd__ and __rmul__ can reuse __add__ and __mul__ with the plain number wrapped (both operations are "
        "symmetric). For a * a, self and other are the same object, so two += lines add twice: that is right.",
    ),
    "topological_order": (
        "A depth-first search that appends a node only after all of its inputs (its _prev) have been appended.",
        "Avoid recursion with an explicit stack of (node, children_done) pairs; keep a set of id(node) already "
        "visited.",
        "Pop (node, False): if not visited, mark it, push (node, True), then push (child, False) for each child. "
        "Pop (node, True): append the node to the order list.",
    ),
    "value_backward": (
        "Three steps: get the topological order, reset the gradients, then call _backward in reverse order.",
        "Use your topological_order(self). Set every node's grad to 0.0 before seeding self.grad = 1.0.",
        "Walk the order backwards (the root comes first that way) and let every node run its own _backward, which "
        "adds its share into its inputs.",
    ),
    "numeric_gradient": (
        "One centred difference per input: shift input i up and down by h, keep the others fixed.",
        "grad[i] = (f(point with x_i + h) - f(point with x_i - h)) / (2h). Make a copy of xs for each shifted "
        "point (list(xs)), never shift xs itself.",
        "f takes separate numbers: call it as f(*plus) and f(*minus). Collect the n values in a float64 array.",
    ),
    "value_more_ops": (
        "Every operation follows the pattern of __mul__: compute the data, record the inputs, write a _backward "
        "that adds out.grad times the local derivative into each input.",
        "Local derivatives: neg -1; sub 1 and -1; truediv 1/c and -a/c**2; pow p * a**(p-1); tanh 1 - t**2 with "
        "t the output; exp the output itself.",
        "The reflected versions (__rsub__, __rtruediv__) wrap the plain number and put it FIRST: other - self, "
        "other / self. __pow__ takes a plain number p, so only self receives a gradient.",
    ),
    "mcq_twice": (
        "Read the paragraph above the question: what does .backward() do to a leaf's .grad in PyTorch?",
        "It accumulates, on purpose, so that gradients of several batches can be summed before one step.",
        "Two backward calls without zero_grad() in between: count what has been accumulated.",
    ),
}
