"""Hints for notebook 10 (attention): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "one_query_trace": (
        "Forward first: three scores, three weights, one output; then walk back from g = dL/dout.",
        "s_j = q . k_j / sqrt(4); p = softmax(s); out = sum_j p_j v_j. Backward: dL/dv_j = g p_j, and dL/dp_j = "
        "g v_j goes through the softmax VJP.",
        "The softmax VJP of one row is p * (u - p . u) for an upstream u; s_j depends on q through k_j / sqrt(d), "
        "so dq adds up ds_j times k_j, divided by sqrt(d).",
    ),
    "score_derivation": (
        "Build p0, p1, p2 and out from the symbols with sp.exp, then let sp.diff do the work (or derive by hand).",
        "Every p_j depends on s0 through the normalizer Z = exp(s0) + exp(s1) + exp(s2); out is linear in v0.",
        "By hand: d p_j / d s_k = p_j (delta_jk - p_k), so d out / d s0 = p0 (v0 - out) and d p0 / d s1 = -p0 p1; "
        "d out / d v0 is just the weight of v0.",
    ),
    "masked_softmax": (
        "Forward: the numerically stable softmax over axis=-1 (subtract the row maximum), with masked entries "
        "excluded before normalizing.",
        "Exclude with np.where(mask, x, -np.inf) (the mask broadcasts); exp(-inf) is exactly 0. Cache P: the "
        "backward needs nothing else.",
        "Backward, one row at a time without the Jacobian: dx = P * (dP - the row sum of dP * P, kept as a column "
        "with keepdims=True). Masked entries come out exactly 0 because P is exactly 0 there.",
    ),
    "attention_forward": (
        "Three steps: scores, weights, weighted average of the values. Reuse your softmax_forward.",
        "S = Q @ K^T over the last two axes (np.swapaxes(K, -1, -2)) times 1 / sqrt(d) with d = Q.shape[-1]; "
        "P = softmax over the keys (last axis) with the mask; out = P @ V.",
        "Cache what the backward reads: Q, K, V, P and the scale. The mask is applied to S before the softmax, "
        "never to P after it.",
    ),
    "attention_backward": (
        "Walk the three steps backwards: out = P V, then the softmax, then S = Q K^T * scale.",
        "dV = P^T dout and dP = dout V^T (transposes of the last two axes); then the softmax VJP gives dS.",
        "S = scale * Q K^T gives dQ = scale * dS K (rows are queries) and dK = scale * dS^T Q (rows are keys).",
    ),
    "masks": (
        "Both masks say True = keep. Build them from comparisons of index ranges, dtype bool.",
        "Causal: query i may see keys j <= i: the lower triangle including the diagonal. Padding: key j of "
        "sequence b is real when j < lengths[b].",
        "np.tril of a boolean ones matrix gives the causal mask; for padding compare np.arange(T) (one row) with "
        "lengths as a column, then add a middle axis of size 1 so the result is (B, 1, T).",
    ),
    "heads": (
        "A reshape alone is not enough: head k must get features k*d_head .. (k+1)*d_head - 1 of EVERY position.",
        "split: (B, T, D) -> (B, T, h, d_head) by reshape, then swap axes 1 and 2. merge: the same in reverse order.",
        "The permutation that swaps axes 1 and 2 is (0, 2, 1, 3), and it is its own inverse: merge applies it "
        "first and reshapes to (B, T, h * d_head) afterwards.",
    ),
    "multihead": (
        "Compose what you have: three projections, split_heads, attention_forward on (B, h, T, d_head) arrays, "
        "merge_heads, the output projection.",
        "A (B, T, T) mask needs an axis for the heads: mask[:, None] broadcasts over h ((T, T) broadcasts as it "
        "is). The backward walks the same steps in reverse, with attention_backward in the middle.",
        "dWo = sum over (b, t) of merged^T dout (reshape to (B*T, D) first); X fans out into Q, K and V, so dX is "
        "the SUM of dQ Wq^T, dK Wk^T and dV Wv^T, and dWq = X^T dQ summed over the batch likewise.",
    ),
    "variance_law": (
        "q . k = sum_i q_i k_i: what are the mean and the variance of one term q_i k_i?",
        "E[q_i k_i] = 0 and E[(q_i k_i)^2] = E[q_i^2] E[k_i^2] (independent). The d terms are independent too.",
        "Variances of independent terms add; Var(c X) = c^2 Var(X), so pick c to make c^2 times your variance 1.",
    ),
    "score_memory": (
        "One value per (sequence, head, query, key); multiply by the bytes of one value.",
        "Use the sizes in MEMORY_QUESTION (bfloat16: 2 bytes); 1 GiB = 2**30 bytes, 1 TFLOP = 1e12 flops.",
        "Training keeps P of every attention layer for the backward; the flops of QK^T and PV are 2 * B * h * T * T "
        "* d_head each (a multiply-add counts 2).",
    ),
    "answer_attn_masked_zero_grad": (
        "What is the weight of a masked key after the softmax, exactly?",
        "Write the softmax VJP for one entry: ds_j = p_j (dp_j - sum_k p_k dp_k). What multiplies everything?",
        "Does the loss depend on a score whose weight is 0 whatever its value? Pick the option that says so.",
    ),
    "answer_attn_backward_keeps": (
        "Write the four backward formulas and list the arrays each one reads.",
        "dV needs P, dP needs V, dQ needs K and dK needs Q (plus dS, which needs P).",
        "Pick the option that lists everything those formulas read.",
    ),
    "answer_attn_flash": (
        "What is the expensive object when T is large: the flops, or the memory of the T x T matrix?",
        "A softmax can be computed block by block if you keep a running maximum and a running sum per row.",
        "Such kernels are exact, not approximations, and recompute what they did not store: pick the option that "
        "says which grows like T and which like T^2.",
    ),
}
