"""Hints for notebook 03 (a two-layer network by hand): grade_id -> (hint 1, hint 2, hint 3). Standard library
only."""

HINTS = {
    "softmax": (
        "exp of a large score overflows; softmax does not change when you subtract the same number from a row.",
        "Subtract each row's maximum (keepdims=True keeps the shape (N, 1) for broadcasting), then exponentiate.",
        "Divide each row of the exponentials by that row's sum, again with axis=1 and keepdims=True.",
    ),
    "softmax_ce": (
        "Loss: the mean over rows of -log p[i, y[i]]. Gradient: (P - Y) / N with Y the one-hot labels.",
        "Log-probabilities are stable: shifted scores minus log of the row sum of exp. Pick row i's entry y[i] with "
        "fancy indexing, [np.arange(N), y].",
        "For the gradient take the probabilities, subtract 1 at [np.arange(N), y], and divide everything by N. "
        "Return the loss as a Python float.",
    ),
    "affine": (
        "Forward: out = x @ W + b; cache what the backward needs (x and W).",
        "Backward: each gradient has the shape of its variable; dW must be (D, M), dx (N, D), db (M,).",
        "dx = dout times W transposed; dW = x transposed times dout; db sums dout over the batch axis.",
    ),
    "relu": (
        "Forward: the elementwise maximum of x and 0. The backward only lets the gradient through where x > 0.",
        "Cache either the input or the output: for ReLU, out > 0 exactly where x > 0.",
        "dx = dout times the mask (cache > 0), elementwise.",
    ),
    "relu_cache_choice": (
        "Compare the two masks entry by entry: where z1 > 0, what is h1? Where z1 <= 0, what is h1?",
        "relu(z) > 0 holds exactly when z > 0, so the two masks are the same array.",
        "Pick the option that says the masks agree and states the general rule: cache what the backward needs.",
    ),
    "single_example": (
        "Forward: z1 = x W1 + b1, h1 = relu(z1), z2 = h1 W2 + b2, p = softmax(z2), loss = -log p[y]. Keep them all.",
        "Backward from the top: delta2 = p - onehot(y); dh1 = W2 delta2; delta1 = dh1 where z1 > 0, else 0.",
        "Weight gradients are outer products of a layer's input with its delta: np.outer(x, delta1) and "
        "np.outer(h1, delta2); the bias gradients are the deltas themselves.",
    ),
    "walkthrough": (
        "Compute, do not type: use walk_params, walk_x and walk_y with a few lines of forward pass.",
        "z1 = walk_x @ W1 + b1, then z2 from relu(z1), then p by a softmax; your two_layer_single_example gives the "
        "loss and all gradients.",
        "dz2 is the gradient of b2 (delta2), and dW1_in{i}_hid{j} is entry [i, j] of the W1 gradient; fill the "
        "dict with those numbers.",
    ),
    "shapes": (
        "Every intermediate of the forward pass has N rows; every gradient has the shape of what it differentiates.",
        "z1, h1, dh1, dz1 are (N, H); scores and dscores (N, C).",
        "Weight gradients look like their weights, (D, H) and (H, C); bias gradients like their biases, (H,) "
        "and (C,). Build the tuples from the arguments.",
    ),
    "batched": (
        "Chain your pieces: affine, relu, affine, softmax cross-entropy; then their backwards in reverse order.",
        "softmax_cross_entropy returns dscores; affine_backward gives (dx, dW, db); relu_backward gives dz1.",
        "Keep each forward's cache to hand it to the matching backward; the dx of the first affine is not needed. "
        "Return the loss and a dict with keys W1, b1, W2, b2.",
    ),
    "rel_error": (
        "max|a - b| divided by max(1e-8, max(|a| + |b|)), both maxima over the whole arrays.",
        "np.abs and np.max work on whole arrays; the denominator is a plain Python max of 1e-8 and a float.",
        "Return a Python float (wrap the result in float()).",
    ),
    "numeric_gradient": (
        "A centred difference for every entry of x: nudge it up and down by h, keep the others fixed.",
        "Loop with np.ndindex(x.shape); save the old value, set x[idx] = old + h, evaluate f, then old - h.",
        "Put the old value back after the two evaluations (x must end as it started), and store "
        "(f_plus - f_minus) / (2h) in a float64 array shaped like x.",
    ),
    "mse": (
        "Same network as before; only the output changes: no softmax, loss = sum((S - Y)**2) / (2N).",
        "The gradient of that loss with respect to the scores is (S - Y) / N; everything below is unchanged.",
        "Run your affine/relu forwards, compute the residual, then call the same backwards as in the classifier "
        "with (S - Y) / N as the upstream gradient.",
    ),
    "seed_mse_loop": (
        "Reproduce the tutorial's random draws exactly: np.random.seed(42), then W1, then W2, in that order.",
        "The tutorial uses the column layout: W1 is (4, 3) and W2 is (1, 4); transpose both for our (D, H) layout.",
        "Five times: compute loss and gradients with your MSE function, append the loss, then update each "
        "parameter by -0.01 times its gradient.",
    ),
    "train": (
        "A loop of `steps` iterations: loss and gradients at the current parameters, record, update.",
        "Start from copies of the caller's arrays; never modify params or its arrays in place.",
        "Build a new dict each step, {k: current[k] - lr * grads[k]}; append the loss BEFORE the update; return "
        "(final parameters, list of losses).",
    ),
    "symmetry": (
        "Three experiments with your own functions: gradients at all-zero parameters, training from a constant, "
        "training from random weights.",
        "For the norms call two_layer_loss_and_grads on zero arrays and take np.linalg.norm of each gradient. For "
        "the counts train with train_two_layer and the constants course.SYMMETRY_STEPS and course.SYMMETRY_LR.",
        "Count distinct hidden units as the number of rows of np.unique(np.round(W1.T, 8), axis=0). The keys are "
        "dW1_norm, db1_norm, dW2_norm, db2_norm, distinct_units_constant_init, distinct_units_random_init.",
    ),
    "softmax_grad_choice": (
        "Start from one example: dl/dscores = p - onehot(y).",
        "The batch loss is the MEAN of N such losses; what does the 1/N do to the gradient?",
        "Check the sign too: raising the true class's score lowers the loss.",
    ),
    "sixty_second_choice": (
        "A strong answer names the mechanism AND the reason it is used.",
        "Rule out options that describe gradient descent, finite differences or forward mode.",
        "Pick the option with the graph, the stored forward values, the local derivatives multiplied backwards "
        "and the cost of the backward pass.",
    ),
}
