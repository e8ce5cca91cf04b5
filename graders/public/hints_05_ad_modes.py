"""Hints for notebook 05 (forward and reverse mode): grade_id -> (hint 1, hint 2, hint 3). Standard library
only."""

HINTS = {
    "dual_class": (
        "Each operation returns a new Dual(value, tangent); the table of rules above gives both parts.",
        "Lift plain numbers with Dual.lift (tangent 0). Product: (u w, u' w + u w'); quotient: (u / w, "
        "(u' w - u w') / w**2); sin, cos, exp: g(u) and g'(u) times u'.",
        "The reflected operators lift the plain number and put it first (other - self, other / self); __neg__ "
        "flips both parts. Use math.sin/cos/exp on .val.",
    ),
    "partial_derivative": (
        "One forward pass of f on dual numbers, seeded so that only x_i moves.",
        "Build an object array of Duals with object_array: tangent 1 for entry i, 0 for the others.",
        "Call f once on that array and return the tangent (.dot) of the result as a float.",
    ),
    "reverse_trace": (
        "Start at the output: the adjoint of v5 is 1. Go down, each node adding what its users send.",
        "v5 = v3 + v4 passes its adjoint to both; v3 = v1 * v2 sends each input the adjoint times the OTHER input.",
        "v1 is used twice (by v3 and by v4 = sin v1): its adjoint is the sum of v2 * (adjoint of v3) and "
        "cos(v1) * (adjoint of v4).",
    ),
    "jvp": (
        "One forward pass with every input seeded by its entry of v.",
        "object_array([Dual(x_j, v_j) for each j]), call f once, and turn the result into a list with outputs_of.",
        "Collect the .val parts and the .dot parts of the outputs into two float64 arrays.",
    ),
    "vjp": (
        "One reverse pass: leaves, one evaluation of f, one scalar L, one backward().",
        "Make a Value leaf per x_j, evaluate f once, and combine its outputs into L = sum_i u_i f_i.",
        "After the one backward sweep from L the leaves' .grad hold u^T J; return the outputs' .data and the leaves' "
        ".grad as float64 arrays.",
    ),
    "jacobian_forward": (
        "n forward passes: pass j seeds the unit vector e_j and yields column j.",
        "In pass j the tangents are 1 for input j and 0 for the others; the outputs' tangents are column j.",
        "Collect the columns in a list and assemble the (m, n) float64 array (a list of columns needs a transpose).",
    ),
    "jacobian_reverse": (
        "Record the graph once, then one backward sweep per output f_i gives row i.",
        "Make the leaves and evaluate f once; for each output y_i call y_i.backward() and read the leaves' .grad.",
        "Before each sweep reset every leaf's .grad to 0.0: a leaf that y_i does not depend on keeps the previous "
        "row's gradient otherwise.",
    ),
    "pass_counts": (
        "Forward mode: one pass per INPUT direction. Reverse mode: one backward sweep per OUTPUT.",
        "f has n = 10**6 inputs and 1 output; g has 1 input and 1000 outputs; h has 10**6 inputs and 1000 outputs.",
        "Fill each key with the number of inputs (forward) or outputs (reverse) of that function.",
    ),
    "derivative_sizes": (
        "Build the nest one level at a time: expr = f(expr), starting from expr = x.",
        "After each level differentiate with sp.diff(expr, x) and measure with sp.count_ops.",
        "Use x = sp.Symbol('x'); do not simplify; append int(sp.count_ops(...)) to a list of length depth.",
    ),
    "finite_differences": (
        "The two formulas from the Taylor expansion above: one-sided and centred.",
        "Forward: (f(x + h) - f(x)) / h. Centred: the difference of f at x + h and x - h over 2h.",
        "Return plain floats; do not clamp or round h.",
    ),
    "best_steps": (
        "The best step is where the error curve has its minimum.",
        "np.argmin(err_forward) is the index of the smallest forward error; hs at that index is the step.",
        "Do the same for the centred errors and convert both to Python floats.",
    ),
    "checkpointed_backward": (
        "Forward: run every layer but keep only h_0, h_k, h_2k, ... and the output h_N (a dict index -> array).",
        "Backward: handle the segments [s, min(s + k, N)) from last to first: recompute the activations inside the "
        "segment from the checkpoint h_s, then run the layers' backward from the segment's end down to s.",
        "Drop every activation as soon as no remaining backward needs it (del, or dict.pop); the backward of layer "
        "i takes (h_i, h_{i+1}, dh) and returns (dh for h_i, dW_i).",
    ),
    "activation_memory": (
        "One layer output is B * T * H numbers of bytes_per_value bytes; 1 GB = 1e9 bytes.",
        "Plain backprop keeps N layer outputs plus the input: N + 1 tensors.",
        "Checkpointing with segment length k keeps ceil(N / k) checkpoints plus the k activations of one segment.",
    ),
    "hvp": (
        "Forward over reverse: run the reverse-mode gradient computation on dual numbers.",
        "Make every leaf Value(Dual(x_i, v_i)), evaluate f once and call backward() on the result.",
        "Each leaf's .grad is then a Dual whose .dot is (Hv)_i; a .grad that stayed a plain number contributes 0.",
    ),
}
