"""Hints for notebook 08 (vanishing and exploding gradients): grade_id -> (hint 1, hint 2, hint 3). Standard
library only."""

HINTS = {
    "sigmoid_layer": (
        "1 / (1 + exp(-x)) overflows in exp(-x) for very negative x; an equivalent form avoids it there.",
        "For x < 0 use exp(x) / (1 + exp(x)), for x >= 0 the usual form: a boolean mask picks which.",
        "Fill an output array of x's shape through the two masks, cache the output, and in the backward multiply "
        "dout by s (1 - s).",
    ),
    "sigmoid_slope": (
        "Three SymPy steps: differentiate sigma, find where the derivative's own derivative is 0, evaluate there.",
        "dsigma = sp.diff(sigma, x); solve sp.diff(dsigma, x) = 0 with sp.solve (it has one real solution).",
        "Substitute that point into dsigma with .subs and simplify: the maximal slope.",
    ),
    "depth_estimates": (
        "With unit-gain weights only the sigmoid slopes shrink delta on its way from layer 5 to layer 1.",
        "From delta_5 to delta_1 the gradient crosses the sigmoids of layers 4, 3, 2 and 1, each slope at most 1/4; "
        "100 layers with Jacobian norm 1.5 multiply by 1.5 a hundred times.",
        "Compute the two powers in Python; for the layer count increase n until 0.25**n < 1e-6 (an int).",
    ),
    "mlp_loss_and_grads": (
        "A forward loop over the layers keeping each layer's input and activation cache, then a backward loop in "
        "reverse.",
        "Layer l: z = h @ W_l + b_l; all but the last apply the activation. The last layer's scores go into "
        "softmax_cross_entropy, which returns the loss and dscores.",
        "Backward per layer: through the activation (not for the last layer), then dW_l = (layer input)^T dz, db_l "
        "= batch sum of dz, and dz @ W_l^T for the layer below.",
    ),
    "layer_grad_norms": (
        "Your mlp_loss_and_grads already computes every dL/dW_l.",
        "np.linalg.norm of a matrix is its Frobenius norm.",
        "Collect the norms of W1, ..., W_K (weights only, layer 1 first) into a float64 array.",
    ),
    "init_schemes": (
        "For each layer l draw W_l of shape (d_{l-1}, d_l) from rng and set b_l to zeros.",
        "He: variance 2 / fan_in. Xavier: variance 2 / (fan_in + fan_out). fan_in = d_{l-1}, fan_out = d_l.",
        "rng.standard_normal(shape) has variance 1: multiply it by the STANDARD DEVIATION, the square root of the "
        "variance.",
    ),
    "dead_fraction": (
        "A dead unit outputs 0 for every example: a column of the layer's output that is all zeros.",
        "np.all(h <= 0, axis=0) marks the dead units (columns) of one layer.",
        "The mean of that boolean array is the fraction; do it for every layer and return a float64 array.",
    ),
    "residual_block": (
        "out = x + F(x) with F = relu(x W1 + b1) W2 + b2: a two-layer backward plus the identity path.",
        "Cache x, the weights, the pre-activation z and its relu a. Backward through F: dW2, db2, then the relu "
        "mask, then dW1, db1 and F's dx.",
        "The skip connection adds dout itself to dx: dx = dout + (the gradient through F).",
    ),
    "clip_grad_norm": (
        "The global norm of all arrays together, then one common factor if it exceeds max_norm.",
        "Squares of 1e160 (1e320) overflow to inf: divide every array by the largest absolute entry, compute the norm, "
        "multiply back.",
        "Scale by max_norm / (total_norm + 1e-6) only when total_norm > max_norm; return new float64 copies and the "
        "norm measured before clipping (all-zero gradients have norm 0).",
    ),
    "concept_answers": (
        "Clipping looks at this step's gradient; weight decay looks at the weights. Equal weights see equal inputs.",
        "clip_vs_decay: which of the two can cap a single 1e6 spike? zero_init: if all units start equal, do they "
        "ever receive different gradients?",
        "Pick, for each question, the option that separates the reactive fix from the preventive one, and the one "
        "that says the units stay identical.",
    ),
}
