"""Hints for notebook 01 (the chain rule): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "answer_affine_square": (
        "Name the inner value g = 3x + 2, so y = g**2. The chain rule multiplies two local derivatives.",
        "dy/dg = 2g, evaluated at the inner value, and dg/dx = 3.",
        "Write 2*g with g replaced by (3*x + 2), times the inner derivative; any equivalent string or SymPy "
        "expression in x is accepted.",
    ),
    "answer_sin_cube": (
        "Three stages, three factors: u = x**2, v = sin(u), y = v**3.",
        "dy/dv = 3 v**2, dv/du = cos(u), du/dx = 2x; each is evaluated at its own stage's input.",
        "Multiply the three factors, then replace v by sin(x**2) and u by x**2 so that only x is left.",
    ),
    "answer_neuron_chain": (
        "Do the forward pass first (z, then a); every local derivative is evaluated at those forward values.",
        "dL/da comes from L = (a - y)**2, da/dz = a (1 - a) for the sigmoid, dz/dw = x (the input w multiplies).",
        "Compute each entry from course.NEURON_POINT with NumPy, one line per key, and set 'dL/dw' to the product of "
        "the three local derivatives.",
    ),
    "answer_deep_chain": (
        "da4/dz1 is a product of local derivatives: four sigmoid slopes and three weights.",
        "With every weight equal to 1 only the sigmoid slopes remain, each sigma'(0).",
        "sigma'(0) = sigma(0) (1 - sigma(0)); raise it to the number of sigmoids on the path.",
    ),
    "answer_compose_derivative": (
        "Walk through the stages in order, carrying two things: the running value and the running derivative.",
        "Start from value = x (as float64) and derivative = ones; for each (f, df): multiply the derivative by df "
        "at the CURRENT value, then apply f.",
        "Order matters inside the loop: update the derivative before you overwrite the value (df needs the stage's "
        "input). Return both as float64 arrays of shape (n,); an empty list leaves them as x and ones.",
    ),
    "answer_paths_table": (
        "Forward first: g = 3x + 2, then L = g**2 + x*g. Then one product of local derivatives per path.",
        "Local derivatives on the edges: dg/dx = 3, ds/dg = 2g, dp/dg = x, dp/dx = g, and 1 into L from s and p.",
        "Each path entry multiplies the edge labels along that path; 'dL/dx' is the sum of the three path entries.",
    ),
    "answer_two_path": (
        "x reaches L through u = x*y and through v = x + y: two paths, whose contributions add.",
        "dL/du = cos(u) * v and dL/dv = sin(u); du/dx = y, dv/dx = 1 (and for y: du/dy = x, dv/dy = 1).",
        "dL/dx = dL/du * du/dx + dL/dv * dv/dx, written in x and y (replace u and v); the same pattern gives dL/dy.",
    ),
    "answer_q_fanout": (
        "Think of a small change dx: it moves u AND v, and each move changes L.",
        "To first order the two effects on L simply add; within one path the local derivatives multiply.",
        "Pick the option that is a sum over the two paths of the product along each path.",
    ),
    "answer_lsq": (
        "Name the residual r = X @ w - y (shape (N,)); L is the sum of its squares.",
        "dL/dr = 2r, and the Jacobian of r with respect to w is X, so dL/dw = X^T (2r).",
        "Compute r once, return float(r @ r) for the loss and the transpose product with 2r for the gradient; "
        "check it has shape (D,), like w.",
    ),
    "answer_q_lsq_shape": (
        "A gradient of a scalar with respect to a variable has one entry per entry of that variable.",
        "What is the shape of w?",
        "Choose the option whose shape equals w's shape and whose reason says so.",
    ),
    "answer_q_matrix_backward": (
        "dL/dx_j sums over every output y_i that x_j influences.",
        "dy_i/dx_j = W[i, j], so dL/dx_j = sum_i g_i W[i, j]: a sum over the FIRST index of W.",
        "Check the shapes: the result must be (D,), and only one of the matrix-vector products gives that.",
    ),
}
