"""Hints for notebook 11 (convolution and pooling): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "conv_by_hand": (
        "Every output entry is one window of the (padded) input times the kernel, entry by entry, summed, plus b. "
        "Every gradient entry is a sum over the windows that used it.",
        "Stride 2: windows start at rows and columns 0 and 2. Pad 1: the first window covers a row and a column of "
        "zeros, so only one product survives. dx[r, t] collects dout[i, j] * w[r - i, t - j] for every window "
        "(i, j) that covers (r, t).",
        "dx_1_1 sums four windows (i, j in {0, 1}), dx_2_3 only two; dw[1, 0] pairs each dout[i, j] with x[i + 1, j]; "
        "db adds up all nine entries of dout.",
    ),
    "output_sizes": (
        "Count the positions where a K-wide window fits into the padded input, moving by the stride.",
        "The padded size is H + 2*pad; the first window starts at 0 and the last one at H + 2*pad - K, so there are "
        "(H + 2*pad - K) / stride + 1 windows.",
        "Where (H + 2*pad - K) is not a multiple of the stride, the windows do not tile: answer None there, even "
        "though a framework would floor.",
    ),
    "conv_output_size": (
        "Compute the span H + 2*pad - K first; everything follows from it.",
        "A negative span means the kernel does not fit; a span that the stride does not divide means the windows do "
        "not tile. Both are errors.",
        "Raise ValueError in those two cases (say which numbers are wrong); otherwise the size is the span divided "
        "by the stride (exactly, with //), plus one, as an int.",
    ),
    "conv_forward": (
        "Pad x once with np.pad (only the last two axes), then loop over images, filters and output positions.",
        "Window (i, j) of image n is xp[n, :, i*stride : i*stride + HH, j*stride : j*stride + WW]: all channels at "
        "once, shape (C, HH, WW), like w[f].",
        "out[n, f, i, j] is the sum of that window times w[f] (no flip), plus b[f]; keep x, w, b, stride and pad in "
        "the cache.",
    ),
    "conv_backward": (
        "Run the forward's loops again: each output position (n, f, i, j) sends its dout back to the window it read.",
        "The window's gradient is dout[n, f, i, j] * w[f] (ADDED into a zero array shaped like xp); dw[f] collects "
        "dout[n, f, i, j] times the window of xp; db sums dout over images and positions.",
        "Scatter with += (windows overlap when stride < kernel size), then crop the padding: the interior rows and "
        "columns pad .. pad + H - 1 of the padded gradient are dx.",
    ),
    "conv1d_derivation": (
        "Write the three outputs y_0, y_1, y_2 out in full with the padded input [0, x0, ..., x4, 0], then "
        "differentiate L = sum_i dout_i * y_i.",
        "dL/dx_l collects dout_i * w_k for every (i, k) with 2i + k = l + 1 (the + 1 is the padding); dL/dw_k "
        "collects dout_i * xp[2i + k].",
        "You may let SymPy do it: build xp as a Python list, y as a list comprehension, L, then sp.diff(L, each "
        "symbol).",
    ),
    "correlate_convolve": (
        "The valid correlation has (Ha - Hk + 1) x (Wa - Wk + 1) entries; the full convolution (Ha + Hk - 1) x "
        "(Wa + Wk - 1).",
        "Loop over the kernel offsets (u, v): each adds k[u, v] times a shifted block of a to the whole output.",
        "The full convolution is the valid correlation of a zero-padded by Hk - 1 rows and Wk - 1 columns on each "
        "side, with the kernel flipped in both axes (k[::-1, ::-1]).",
    ),
    "conv_identities": (
        "A stride spreads dout out: write a small helper that puts stride - 1 zeros between neighbouring entries of "
        "a 2-D array.",
        "dw[f, c] sums, over images n, the valid correlation of xp[n, c] with the dilated dout[n, f]. dx[n, c] sums, "
        "over filters f, the FULL convolution of the dilated dout[n, f] with w[f, c].",
        "The full convolution covers the padded input: keep its rows and columns pad .. pad + H - 1 (and W) for dx.",
    ),
    "im2col_col2im": (
        "im2col writes each window, flattened in (c, u, v) order, as one row; the rows go in (n, i, j) order.",
        "col2im is the same loop run backwards: reshape each row to (C, HH, WW) and put it back where the window "
        "came from, in a zero array of the padded shape.",
        "Overlapping windows must ADD their rows (+=, never =), and the padding is cropped at the end.",
    ),
    "conv_im2col": (
        "The forward is one matrix product: (N*H_out*W_out, C*HH*WW) times the filters as a (C*HH*WW, F) matrix, "
        "plus b.",
        "The product's rows are in (n, i, j) order: reshape them to (N, H_out, W_out, F) and move F to axis 1. In the "
        "backward, bring dout to the same (rows, F) layout first.",
        "Then it is the affine layer's backward (dW = rows^T dout_rows, db = column sums) and col2im of "
        "dout_rows times the filter matrix for dx.",
    ),
    "maxpool": (
        "The forward keeps, for each window, which entry won; the backward sends the window's gradient to that "
        "entry only.",
        "Flatten each window in row-major order and take np.argmax: with ties it returns the first maximum, which "
        "is the contract. Store those indices in the cache.",
        "In the backward, turn the index into (u, v) with divmod(index, pool_w) and ADD dout to dx at (i*stride + u, "
        "j*stride + v): windows may overlap.",
    ),
    "avgpool": (
        "Each output is the mean of pool_h * pool_w entries, so each of them gets an equal share of its gradient.",
        "The forward is a mean over axes (2, 3) of each window; the cache only needs the shapes and the stride.",
        "The backward adds dout / (pool_h * pool_w) to every entry of each window, with += because windows may "
        "overlap.",
    ),
    "answer_conv_im2col_memory": (
        "How many rows does the im2col matrix have, and how many columns?",
        "With stride 1 and same padding there is one window per input position, N*H*W rows, each holding C*3*3 "
        "entries.",
        "Divide the number of entries of the matrix by N*C*H*W.",
    ),
    "answer_conv_dx_stride": (
        "Which input row does the window of output row i start at, with stride 2?",
        "For dx as a full convolution, each dout entry must sit at the input position where its window started.",
        "Output i belongs at position 2i: what does that do to the gaps between neighbouring entries of dout?",
    ),
    "answer_pool_sum_dx": (
        "Follow one window's gradient: how many input entries receive it, and is any of it lost?",
        "An entry that wins several overlapping windows receives several gradients, but each window gives its "
        "gradient away once.",
        "Add up what every window sends back and compare with the sum of dout.",
    ),
}
