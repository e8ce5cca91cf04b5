"""Hints for notebook 04 (Jacobians and VJPs): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "affine_jacobian": (
        "y[m] = sum_d x[d] W[d, m] + b[m]: differentiate that with respect to x[d].",
        "d y[m] / d x[d] = W[d, m], whatever x is.",
        "J[m, d] must equal W[d, m]: the Jacobian is W with its axes swapped, shape (M, D), as float64.",
    ),
    "elementwise_jacobian": (
        "Output i depends on input i only, so every off-diagonal entry is 0.",
        "The diagonal holds the local slopes: s (1 - s) for the sigmoid, 1 where z > 0 (else 0) for ReLU.",
        "np.diag(v) builds an (n, n) matrix with v on its diagonal; give it float64 values (cast the ReLU mask).",
    ),
    "softmax_jacobian_sympy": (
        "Differentiate p_i = exp(z_i) / S with S = sum_k exp(z_k) by the quotient rule.",
        "For i = j you get p_i - p_i**2; for i != j only S depends on z_j and you get -p_i p_j.",
        "Both cases in one formula: p_i (delta_ij - p_j). Build the matrix with sp.Matrix(3, 3, lambda i, j: ...).",
    ),
    "softmax_jacobian": (
        "Your SymPy entries in matrix form: a diagonal part minus a rank-one part.",
        "Compute p = softmax(z) once; the diagonal part is diag(p) and the rank-one part is p p^T.",
        "np.diag(p) and np.outer(p, p) build the two (n, n) pieces.",
    ),
    "maxpool_jacobian": (
        "Each output o is the maximum of one window; locally it equals ONE input, so row o has a single 1.",
        "Window o covers x[o*stride : o*stride + pool]; np.argmax gives the position of the first maximum inside it.",
        "Start from zeros of shape (L_out, L) and set J[o, start + argmax of the window] = 1 for every window o.",
    ),
    "vjp_from_jacobian": (
        "A vector-Jacobian product is u^T J: one number per input.",
        "J is (m, n) and u is (m,); the result must be (n,).",
        "With 1-D arrays, u @ J computes u^T J.",
    ),
    "softmax_vjp": (
        "Multiply u^T (diag(p) - p p^T) out by hand: two terms, neither needs an (n, n) array.",
        "u^T diag(p) is the elementwise product u * p; u^T p p^T is the number (u . p) times p.",
        "Compute the probabilities and the single number u . p once; both terms then become elementwise operations on "
        "vectors of length n (no matrix at all).",
    ),
    "ce_grad_via_jacobian": (
        "The long way: dL/dp first, then push it through the softmax Jacobian with a VJP.",
        "L = -log p[y], so dL/dp is zero except at y, where it is -1 / p[y].",
        "Build that vector, then call your vjp_from_jacobian with your softmax_jacobian(z).",
    ),
    "ce_grad_sympy": (
        "L = -log p_0 with three classes; you want dL/dz1, an entry of p - onehot(y) with y = 0.",
        "Since 1 is not the true class, the onehot part is 0 at index 1.",
        "Write that entry with the provided list p (or with exp(z1) / (exp(z0) + exp(z1) + exp(z2))).",
    ),
    "layer_jacobian_size": (
        "Every output entry out[n, m] has a partial derivative with respect to every input entry x[n', d].",
        "The shape lists the output's axes first, then the input's: four axes in all.",
        "The number of bytes is the product of the four sizes times 8 (float64); return plain ints.",
    ),
    "why_vjp_answer": (
        "Think about the size of J for a layer with a million inputs and outputs, and what backprop really needs.",
        "The backward pass only ever multiplies a row vector by J; frameworks compute that product directly.",
        "Pick the option that is about cost (size of J against the cost of the product), not about existence, "
        "stability or finite differences.",
    ),
}
