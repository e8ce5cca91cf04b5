"""Hints for notebook 07 (batchnorm backward): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "bn_forward": (
        "Train mode: per column (axis 0) the batch mean and the biased variance; eval mode: the running statistics.",
        "xhat = (x - mu) / sqrt(var + eps), out = gamma * xhat + beta. The new running statistics are "
        "momentum * old + (1 - momentum) * batch statistic, starting from zeros and ones when None.",
        "Never update running_mean or running_var in place: compute new arrays and put them in cache['running_mean'] "
        "and cache['running_var'], together with what your backward needs (xhat, gamma, x - mu, the std).",
    ),
    "bn_backward": (
        "Walk the staged graph from out back to x, one node per line; a broadcast value sums its gradient over rows.",
        "dbeta and dgamma come first; then dxhat = gamma * dout; xc receives from xhat AND from var; x receives from "
        "xc AND from mu.",
        "Local derivatives: xhat = xc * inv_std, inv_std = 1/std, std = sqrt(var + eps), var = mean(xc**2), "
        "xc = x - mu, mu = mean(x). Add the two contributions into dxc and into dx.",
    ),
    "n3_derivation": (
        "Build the expression from the formula above, with N = 3 and the given symbols.",
        "Define mu = (x0 + x1 + x2)/3, var = mean of the squared deviations, sigma = sp.sqrt(var + eps) and the "
        "three xhat values.",
        "dx0 = gamma / (3 sigma) times (3 g0 - sum of the g's - xhat0 times sum of g_i xhat_i).",
    ),
    "bn_closed_form": (
        "The vectorized three-term formula; every sum is over the batch axis (axis=0), one per column.",
        "Take xhat, gamma and std from your cache; dxhat = gamma * dout.",
        "dx = (N dxhat - sum of dxhat - xhat * sum of (dxhat * xhat)) / (N std). dbeta and dgamma are as in the "
        "staged version.",
    ),
    "bn_trace": (
        "A few lines of NumPy on the printed column: the forward statistics first, then the pieces of the formula.",
        "mu and the BIASED var (divide by N), sigma = sqrt(var + eps), xhat = (x - mu) / sigma, dxhat = gamma * dout.",
        "Sum dxhat and dxhat * xhat; dx_0 follows the three-term formula at index 0; dgamma sums dout * xhat.",
    ),
    "dout_ones": (
        "With dout = ones, dxhat = gamma is constant within a column. What do the sums of the formula become then?",
        "sum_i xhat_i = 0, so a constant dxhat makes the variance term vanish; the mean term cancels the direct "
        "term.",
        "Confirm by running every planted backward on ones: course.planted_batchnorm_backward(name)(ones, xo, go), "
        "and keep the names whose dx is zero (up to rounding) in a set.",
    ),
    "grad_checker": (
        "Follow the four steps: random dout, analytic dx, numeric dx, relative error.",
        "The numeric gradient of f(x) = sum(dout * forward(x, gamma, beta)[0]) by centred differences, one entry "
        "at a time on a copy of x (np.ndindex), h = 1e-5.",
        "Return the largest entry of |dx - dx_num| / max(1e-8, |dx| + |dx_num|), elementwise with np.maximum, as a "
        "float.",
    ),
    "layernorm": (
        "Batchnorm's algebra along the other axis: each ROW is normalized over its D features.",
        "Use axis=1 with keepdims=True for the mean and the variance; gamma and beta are still per feature.",
        "In the backward, the three-term formula sums over axis 1 (D in place of N), while dgamma and dbeta still "
        "sum over the rows (axis 0).",
    ),
    "answer_bn_sum_dx": (
        "What happens to out if you add the same constant c to every x_i of a column?",
        "xhat does not change (the mean absorbs c), so L does not change either.",
        "The sum of dx_i is the derivative of L along the direction (1, ..., 1); pick the option that says what that "
        "derivative must be.",
    ),
    "answer_bn_eval_backward": (
        "In eval mode mu and var are constants (the running statistics), not functions of the batch.",
        "Then out = gamma (x - running_mean) / sqrt(running_var + eps) + beta is an elementwise affine map of x.",
        "Pick the option that differentiates that affine map.",
    ),
    "answer_bn_layernorm": (
        "Along which axis does layernorm compute its statistics?",
        "Per example, over its own features: nothing depends on the other examples of the batch.",
        "Pick the option that draws the consequences for training vs evaluation and for a batch of one.",
    ),
    "answer_bn_batch_of_one": (
        "With N = 1, what is x - mu?",
        "xhat = 0 whatever x is, so out = beta does not depend on x.",
        "If out does not depend on x, what gradient reaches the layers below? (PyTorch refuses a batch of one in "
        "training for this reason.)",
    ),
}
