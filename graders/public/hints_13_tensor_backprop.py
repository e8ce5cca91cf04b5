"""Hints for notebook 13 (backprop at tensor level): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "unbroadcast": (
        "A value reused along an axis collects one gradient per use: sum over every axis along which the operand was "
        "copied. There are two kinds of such axes.",
        "Broadcasting aligns shapes on the right: the first grad.ndim - len(shape) axes were added (sum them away), "
        "and every remaining axis where shape has size 1 but grad does not was stretched (sum it, keepdims=True).",
        "First sum over the leading axes 0, 1, ..., (number of added axes) - 1 in one call; then collect the indices i "
        "where shape has a 1 and the summed array does not, and sum over them in one more call with keepdims=True.",
    ),
    "cross_entropy": (
        "Never take the log of a probability: work with log p = z - logsumexp(z) row by row.",
        "logsumexp(z) = m + log(sum(exp(z - m))) with m the row maximum (keepdims=True): every exponent is <= 0. "
        "The gradient of logsumexp is the softmax.",
        "loss = minus the mean over rows of log p at the true labels (index with np.arange(N), y); dscores is "
        "exp(log p) with 1 subtracted at the true labels, divided by N.",
    ),
    "loss_derivatives": (
        "Differentiate each loss on paper first: the chain rule through log, then through the sum of exponentials "
        "or through sigmoid.",
        "d/dz1 log(S) = (dS/dz1) / S with S the sum of the three exponentials. For BCE use d log(sigmoid(z))/dz = "
        "1 - sigmoid(z) and d log(1 - sigmoid(z))/dz = -sigmoid(z).",
        "The first is softmax's first entry (a fraction of exponentials); the second collapses to a difference of two "
        "terms once you expand -y (1 - s) + (1 - y) s.",
    ),
    "sigmoid_bce": (
        "Write the loss in terms of z, never through sigmoid(z): log(1 - sigmoid(z)) is log(0) for large z.",
        "With s = sigmoid(z): -y log s - (1 - y) log(1 - s) = log(1 + exp(-z)) + (1 - y) z. For z < 0 rewrite "
        "log(1 + exp(-z)) = -z + log(1 + exp(z)), so that exp only ever sees -|z|.",
        "Combine both signs into max(z, 0) minus z times y plus log1p of exp(-|z|); take the mean over all entries. "
        "The gradient is (sigmoid(z) - y) / z.size, with sigmoid computed without overflow (np.logaddexp helps).",
    ),
    "label_smoothing": (
        "Build the target distribution q first; the loss is -sum q log p, and the gradient follows the "
        "softmax cross-entropy pattern with q in place of the one-hot.",
        "q starts as eps / C everywhere; the true class gets 1 - eps on top. log p comes from logsumexp, as in "
        "Exercise 2.",
        "loss = -(q * log p) summed over everything and divided by N; dscores = (softmax - q) / N. With eps = 0, q is "
        "the one-hot.",
    ),
    "huber": (
        "Work with the residual r = pred - target; two regions: |r| <= delta and outside.",
        "Inside: r**2 / 2 with slope r. Outside: delta * (|r| - delta / 2) with slope delta * sign(r). np.where "
        "picks per entry.",
        "The gradient is the residual clipped to [-delta, delta] (np.clip), divided by the number of entries because "
        "the loss is a mean over all of them.",
    ),
    "embedding_backward": (
        "The lookup is onehot(idx) @ W, so dW = onehot(idx).T @ dout: row v sums dout over the positions with id v.",
        "Fancy-index += is buffered: with a repeated id only one write survives. You need an unbuffered scatter-add.",
        "Start from zeros of shape (V, D) and use np.add.at with the ids and dout (it works for idx of any shape, as "
        "long as dout has shape idx.shape + (D,)).",
    ),
    "tied_lm": (
        "Do the forward step by step (e, h, logits, loss) and walk back; E appears twice, so dE has two parts that "
        "add.",
        "Your cross_entropy gives dlogits. logits = h @ E.T gives dE (projection) = dlogits.T @ h and "
        "dh = dlogits @ E. Through tanh: dz = dh * (1 - h**2).",
        "From z = e @ W + b: dW = e.T @ dz, db = dz summed over rows, de = dz @ W.T; the lookup part of dE is your "
        "embedding_backward of de; return the loss, the sum of both parts of dE, dW and db.",
    ),
    "dropout": (
        "In training keep each unit with probability 1 - p_drop and scale the kept ones by 1 / (1 - p_drop); at test "
        "time do nothing.",
        "The keep mask is rng.random(x.shape) >= p_drop (one call). Store the scaled mask in the cache: the "
        "backward multiplies dout by exactly the same thing.",
        "Eval mode returns a copy of x and a cache the backward recognizes (None works) so that it returns a copy "
        "of dout.",
    ),
    "tensor_engine": (
        "Each _backward adds g times the local derivative into the parents' .grad; broadcast operands go through "
        "unbroadcast. backward() prepares the gradients, seeds the root, runs the rules in reverse order, cleans up.",
        "Rules: add passes g to both, multiply swaps the operands' data, matmul needs the two transposes, relu masks "
        "with out.data > 0, sum broadcasts g to the input's shape, cross_entropy multiplies g by your dscores.",
        "In backward: take the order from _topo(); raise RuntimeError if a node is _freed; give every node zeros "
        "unless it is a leaf that requires grad and already has a grad; add 1 to the root; call _backward of nodes "
        "with parents in reverse; constants back to None; free unless retain_graph. detach is a new Tensor of the "
        "data; zero_grad sets None.",
    ),
    "inplace": (
        "For each scenario ask: which tensor is overwritten, and did some backward rule save exactly that tensor?",
        "ReLU, sigmoid, tanh and exp save their OUTPUT; multiply and matmul save their operands; log saves its input. "
        "An overwritten tensor that nothing saved is harmless.",
        "Changing the input of an operation that saved its output is harmless; changing a saved output, a saved "
        "operand or the input of log breaks. Put the breaking scenario names in a set.",
    ),
    "combine_micro_batches": (
        "The full-batch mean loss is a weighted average of the micro-batch mean losses; the gradient too.",
        "Micro-batch j's weight is its share of the examples, n_j / N (1 / k only when all sizes are equal).",
        "N is the total of the sizes; form the weighted sum of the losses and, for every parameter name, the weighted "
        "sum of the gradients; return a float and a dict.",
    ),
    "mlp_with_engine": (
        "Wrap every parameter in a Tensor that requires grad, build the forward with your operations, call backward "
        "once.",
        "Loop over the layers: h @ W + b, then relu except after the last layer; finish with .cross_entropy(y). X is "
        "a constant Tensor.",
        "Keep the leaves in a dict keyed like params so that you can read each .grad after the backward pass; return "
        "the loss as a Python float and that dict of gradients.",
    ),
    "train_mlp": (
        "Plain gradient descent: compute, record, update, steps times.",
        "Record the loss BEFORE the update of that step, so the first entry is the initial loss; update with "
        "p - lr * grad (new arrays, not in place).",
        "Copy params first so the caller's dict is untouched; in the loop call your mlp_loss_and_grads, append the "
        "loss, rebuild the dict of parameters; return it with the list.",
    ),
    "fp16_cast_report": (
        "Multiply by the scale in float64 FIRST, then cast once to float16; compare with g over its nonzero "
        "entries.",
        "flushed: h == 0 where g != 0; subnormal: h nonzero with |h| < 2**-14; overflow: any np.isinf(h).",
        "rel_error: None with an overflow; otherwise the course's formula between h converted to float64 and divided "
        "by the scale, and g. Fractions divide by the number of nonzero entries of g.",
    ),
    "mlp_grads_fp16": (
        "Write the MLP's forward and backward by hand, as in notebook 03, but with float16 arrays everywhere "
        "except the loss.",
        "Cast the weights and X with .astype(np.float16); keep the list of layer inputs and pre-activations; the "
        "scores go to your cross_entropy as float64.",
        "The backward starts from (dscores * loss_scale) cast to float16; per layer from the last: dW from the layer "
        "input and dz, db summed over rows, then dz for the layer below through W.T and the ReLU mask of its "
        "pre-activation.",
    ),
    "mixed_precision_step": (
        "Three stages: unscale, check, update (and the scale bookkeeping).",
        "Unscale in float32 by dividing by the scale; if any entry is not finite the step is skipped: unchanged "
        "weights (copies), half the scale, zero good steps.",
        "Otherwise subtract lr times the float32 gradient from each float32 master weight; increase the count of good "
        "steps and double the scale (resetting the count) when it reaches growth_interval.",
    ),
    "answer_embedding_fancy_index": (
        "Write out what NumPy does with dW[idx] += dout: it is dW[idx] = dW[idx] + dout.",
        "The right-hand side is computed once, from the rows as they were before; then each position writes back.",
        "Two positions write to row 2: which of their values remains in the row at the end?",
    ),
    "answer_dropout_test_time": (
        "Inverted dropout already makes the expected training output equal to the input.",
        "E[out] = x (1 - p) / (1 - p) = x. What is left to correct at test time?",
        "The non-inverted variant is the one that rescales at test time; this one does not.",
    ),
    "answer_accumulation_scale": (
        "Write the full-batch mean loss in terms of the four micro-batch mean losses.",
        "L = (L_1 + L_2 + L_3 + L_4) / 4 for equal micro-batches: what must each backward() see?",
        "Gradients accumulate across backward() calls, so each micro-batch loss needs its share of the average "
        "before its backward.",
    ),
    "answer_loss_scale_overflow": (
        "An inf after unscaling means the scale was too large for this step's gradients.",
        "Can any part of this step's gradients be trusted? What should the optimizer do with the weights?",
        "GradScaler's rule: on overflow, no update and a smaller scale; the scale grows again only after many "
        "overflow-free steps.",
    ),
}
