"""The catalogue of mistakes a grader can name, each with the advice a learner can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    code: str
    title: str
    advice: str

    def describe(self) -> str:
        return f"[{self.code}] {self.title}: {self.advice}"


_CATALOGUE = [
    Diagnosis("INPUT_MUTATED", "input modified in place",
              "a layer, loss or gradient function must leave its arguments as it found them (the caller, an "
              "optimizer or a cache may still need them): compute into new arrays (x = x - y, not x -= y; "
              "copy before writing into an input)."),
    Diagnosis("MISSING_TRANSPOSE", "missing or misplaced transpose",
              "match shapes: with out = x @ W, dW = x.T @ dout has W's shape and dx = dout @ W.T has x's shape."),
    Diagnosis("BIAS_SUM_AXIS", "bias gradient summed over the wrong axis",
              "the bias is broadcast over the batch, so its gradient sums dout over axis 0 (the batch)."),
    Diagnosis("BIAS_KEEPDIMS", "bias gradient kept an extra dimension",
              "db must have b's shape (M,), not (1, M): use dout.sum(axis=0) without keepdims."),
    Diagnosis("MISSING_1_OVER_N", "missing 1/N",
              "the loss is a mean over the N examples, so every gradient carries a factor 1/N."),
    Diagnosis("EXTRA_1_OVER_N", "extra 1/N",
              "the 1/N of the mean loss is already inside dout; do not divide by N again in this layer."),
    Diagnosis("SIGN_FLIP", "sign flipped",
              "the gradient points uphill: check the sign of each local derivative (e.g. d(a - b)/db = -1)."),
    Diagnosis("SIGMOID_ON_OUTPUT", "sigmoid applied again to its own output",
              "the cache holds s = sigmoid(x); the local derivative is s * (1 - s), not sigmoid(s) * (1 - sigmoid(s))."),
    Diagnosis("SIGMOID_DERIVATIVE", "wrong sigmoid derivative",
              "d sigmoid(x)/dx = s * (1 - s) with s = sigmoid(x); it never exceeds 0.25."),
    Diagnosis("TANH_DERIVATIVE", "wrong tanh derivative",
              "d tanh(x)/dx = 1 - tanh(x)**2 (square the output; it is at most 1, at x = 0)."),
    Diagnosis("RELU_MASK", "wrong ReLU mask",
              "pass dout where the forward input was > 0 and block it elsewhere; the mask depends on x, not on dout."),
    Diagnosis("RELU_AT_ZERO", "ReLU's derivative at exactly 0 taken as 1",
              "this course (like PyTorch) takes ReLU's slope at x == 0 to be 0: build the mask with x > 0 (or from the "
              "output, out > 0), not x >= 0. An input of exactly 0 then passes no gradient."),
    Diagnosis("SIGMOID_UNSTABLE", "sigmoid not stable for large |x|",
              "np.exp(x) overflows to inf above x = 709 (and np.exp(-x) below -709), and inf / inf is NaN: use "
              "1 / (1 + exp(-x)) where x >= 0 and exp(x) / (1 + exp(x)) where x < 0, so exp only sees -|x|; in the "
              "backward use the cached output, s * (1 - s)."),
    Diagnosis("SOFTMAX_UNSTABLE", "softmax not stabilized",
              "exp overflows for large logits: subtract each row's maximum before exponentiating."),
    Diagnosis("SOFTMAX_GRAD_NO_ONEHOT", "softmax cross-entropy gradient misses the one-hot term",
              "with softmax + cross-entropy, dL/dz = (p - onehot(y)) / N."),
    Diagnosis("OVERWRITE_NOT_ACCUMULATE", "gradient overwritten at a fan-out",
              "a value used several times receives the SUM of its gradients: use += in backward, never =."),
    Diagnosis("BN_MISSING_MEAN_TERM", "batchnorm backward misses the mean term",
              "mu depends on every x_i: subtract mean(dxhat) (the term -1/N * sum_j dxhat_j)."),
    Diagnosis("BN_MISSING_VAR_TERM", "batchnorm backward misses the variance term",
              "var depends on every x_i: subtract xhat * mean(dxhat * xhat)."),
    Diagnosis("BN_BESSEL", "Bessel correction used",
              "batchnorm normalizes with the biased variance (divide by N, not N - 1)."),
    Diagnosis("BN_GAMMA_FORGOTTEN", "gamma forgotten",
              "y = gamma * xhat + beta, so the upstream of xhat is dxhat = gamma * dout."),
    Diagnosis("BPTT_NO_CARRY", "BPTT does not carry dh to the previous step",
              "the gradient reaching h_t is dh[t] from the loss PLUS dh_prev flowing back from step t+1."),
    Diagnosis("BPTT_NO_TIME_SUM", "BPTT does not sum weight gradients over time",
              "Wx, Wh and b are shared by every step: accumulate their gradients over all T steps."),
    Diagnosis("TRUNCATION_OFF_BY_ONE", "truncation length off by one",
              "with truncation k, TBPTT(1, k) lets the gradient of the loss at t cross exactly k steps (t, t-1, "
              "..., t-k+1); TBPTT(k, k) cuts the graph before t = k, 2k, ... (chunks of exactly k steps)."),
    Diagnosis("FORWARD_SEED_WRONG_INPUT", "forward-mode seed on the wrong input",
              "to get df/dx_i, seed the tangent of x_i with 1 and every other input's tangent with 0."),
    Diagnosis("JACOBIAN_TRANSPOSED", "Jacobian transposed",
              "J[i, j] = d f_i / d x_j: rows index outputs (m), columns index inputs (n), shape (m, n)."),
    Diagnosis("MAXPOOL_ROUTING", "max-pool gradient routed to the wrong elements",
              "only the maximal element of each window receives that window's gradient; the rest get 0."),
    Diagnosis("LEAKY_SLOPE", "leaky ReLU slope missing on the negative side",
              "where x <= 0 the local derivative is alpha, so dx = alpha * dout there (not 0, not 1)."),
    Diagnosis("DROPOUT_SCALE", "inverted-dropout scale missing",
              "kept units are multiplied by 1 / (1 - p_drop) in the forward pass, so their gradient is too."),
    Diagnosis("RESIDUAL_NO_IDENTITY", "residual gradient misses the identity path",
              "for y = x + F(x): dx = dout + (dF/dx)^T dout; the skip connection adds dout itself."),
    Diagnosis("CLIP_PER_TENSOR", "clipping per tensor instead of by the global norm",
              "compute one norm over ALL gradients and scale every tensor by the same factor."),
    Diagnosis("ZERO_GRADIENT", "gradient is all zeros",
              "nothing flows back: check that you return the computed array and did not multiply by a zero mask."),
    Diagnosis("MISSING_INNER_DERIVATIVE", "inner derivative missing",
              "for f(g(x)) the derivative is f'(g(x)) * g'(x): after differentiating the outer function, multiply by "
              "the derivative of what is inside it."),
    Diagnosis("CHAIN_RULE_ADDED", "local derivatives added instead of multiplied",
              "along one path the chain rule MULTIPLIES local derivatives; it sums only over different paths."),
    # autodiff engines (graders/autodiff/)
    Diagnosis("UPSTREAM_GRAD_MISSING", "local derivative not multiplied by the upstream gradient",
              "each node's backward must use the gradient that reached it: child.grad += (d out/d child) * out.grad."),
    Diagnosis("TOPO_ORDER", "nodes processed out of topological order",
              "a node may pass its gradient on only after every node that uses it has added its share: list "
              "children before parents (append a node after all its children, post-order DFS), each node once, "
              "and run the local backwards in the REVERSE of that list."),
    Diagnosis("TOPO_DUPLICATE", "a node appears more than once",
              "keep a visited set (of id(node)) and skip nodes already seen, so a shared node is listed once."),
    Diagnosis("TOPO_MISSING_NODE", "nodes missing from the order",
              "list every node reachable from the root through ._prev: the leaves, the constants that operations "
              "wrapped into Values, and the root itself (last)."),
    Diagnosis("BACKWARD_NOT_SEEDED", "backward() does not seed the root's gradient with 1",
              "after resetting every node's .grad to 0, set root.grad = 1.0 (d root / d root = 1), then call each "
              "node's _backward in reverse topological order; a root left at 0 (never seeded, or reset after the "
              "seed) passes 0 to every node, however right the operations are."),
    Diagnosis("GRAD_NOT_RESET", "backward() does not reset the gradients",
              "set .grad = 0 on every node of the topological order before seeding root.grad = 1, so a second "
              "call gives the same gradients instead of adding onto the stale ones."),
    Diagnosis("R_OP_ORDER", "reflected operator computes the operands in the wrong order",
              "2 - x calls x.__rsub__(2) and 2 / x calls x.__rtruediv__(2): compute other - self and other / self, "
              "not self - other."),
    Diagnosis("PRODUCT_RULE", "product or quotient rule wrong",
              "(u v)' = u' v + u v' and (u / v)' = (u' v - u v') / v**2: both terms, with the square in the quotient."),
    Diagnosis("REVERSE_SEED_WRONG", "reverse-mode seed ignores the cotangent u",
              "a VJP is ONE backward pass from L = sum_i u_i * f_i(x) (seed each output's grad with u_i); seeding "
              "every output with 1 gives the gradient of sum(f) instead."),
    Diagnosis("AD_MODES_SWAPPED", "forward and reverse mode swapped",
              "forward mode gives one Jacobian COLUMN (one input direction) per pass, so it needs n passes for "
              "f: R^n -> R^m; reverse mode gives one ROW (one output) per pass, so it needs m."),
    Diagnosis("JACOBIAN_STALE_GRADS", "leaf gradients kept from the previous backward pass",
              "before each row's backward() set every leaf's .grad back to 0: a leaf that output f_i does not "
              "depend on is not reached by f_i's sweep and would keep (or add onto) the previous row's gradient."),
    Diagnosis("CHECKPOINT_KEEPS_ALL", "checkpointing keeps every activation alive",
              "keep only h_0, h_k, h_2k, ... from the forward pass; recompute one segment at a time during the "
              "backward and drop its activations when the segment is done (no list of all activations)."),
    Diagnosis("CHECKPOINT_RECOMPUTE", "too much recomputation",
              "recompute each segment once, starting from its own checkpoint (not from h_0 for every layer): about "
              "one extra forward pass in total."),
    Diagnosis("LAYER_GRADS_REVERSED", "parameter gradients in backward order",
              "the backward pass visits layers N-1, ..., 0: store grads[i] for layers[i] (or reverse your list)."),
    # two-layer network, losses, gradient checking and initialization (graders/network/)
    Diagnosis("SOFTMAX_AXIS", "softmax normalized over the wrong axis",
              "each ROW is one example: divide exp(scores) by its row sum, np.sum(e, axis=1, keepdims=True), "
              "so that every row of probabilities sums to 1."),
    Diagnosis("MSE_FACTOR_TWO", "factor 2 in the MSE",
              "this course's loss is sum((pred - target)**2) / (2N): the 1/2 cancels the 2 of the square, so "
              "dpred = (pred - target) / N (no factor 2)."),
    Diagnosis("MSE_MEAN_ALL", "MSE averaged over every entry instead of over the batch",
              "divide by the number of examples N = pred.shape[0], not by N*K (np.mean over all entries also "
              "divides by the K outputs)."),
    Diagnosis("RELU_ON_OUTPUT", "ReLU applied to the output scores",
              "only the hidden layer has a ReLU; the last layer is affine and its raw scores go straight into "
              "softmax (or the MSE). ReLU outputs are not probabilities."),
    Diagnosis("TRAIN_LOSS_AFTER_STEP", "losses recorded after the update",
              "append the loss computed BEFORE each update (the one that comes with the gradients you step with), "
              "so losses[0] is the loss of the initial parameters."),
    Diagnosis("ONE_SIDED_DIFFERENCE", "one-sided finite difference",
              "(f(x + h) - f(x)) / h has an error of order h; the centred difference (f(x + h) - f(x - h)) / (2h) "
              "is accurate to order h**2."),
    Diagnosis("FD_DENOMINATOR", "wrong finite-difference denominator",
              "the two evaluations are 2h apart: divide by (2 * h), with parentheses ((a - b) / 2 * h "
              "multiplies by h)."),
    Diagnosis("FD_STEP_IGNORED", "step size argument ignored",
              "use the h your function receives (h=1e-5 is only its default), not a hard-coded step."),
    Diagnosis("REL_ERROR_FORMULA", "a different relative-error formula",
              "this course's rel_error is whole-array: max|a - b| divided by max(1e-8, max(|a| + |b|)) (one "
              "maximum in the numerator, one in the denominator; not an elementwise ratio, not norms)."),
    Diagnosis("REL_ERROR_FLOOR", "denominator floor missing or misplaced",
              "write max(1e-8, np.max(np.abs(a) + np.abs(b))): the floor keeps two (nearly) zero arrays from "
              "giving 0/0 and it replaces the denominator (it is not added to it)."),
    Diagnosis("INIT_FAN_OUT", "fan_out used instead of fan_in",
              "He scales by fan_in = the number of inputs of the layer = W.shape[0] (layer_sizes[l - 1]), "
              "so Var(W) = 2 / fan_in."),
    Diagnosis("INIT_STD_AS_VARIANCE", "variance used as the standard deviation",
              "the formula gives the VARIANCE; multiply standard normal draws by its square root, e.g. "
              "rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)."),
    Diagnosis("INIT_MISSING_FACTOR_2", "factor 2 missing in the variance",
              "He uses Var(W) = 2 / fan_in and Xavier (Glorot) Var(W) = 2 / (fan_in + fan_out): the numerator is 2."),
    Diagnosis("INIT_WRONG_SCHEME", "another initialization scheme's variance",
              "He: Var(W) = 2 / fan_in (ReLU). Xavier: Var(W) = 2 / (fan_in + fan_out) (tanh, sigmoid). "
              "LeCun's 1 / fan_in is neither."),
    Diagnosis("INIT_FIXED_SCALE", "a fixed weight scale",
              "the scale must depend on the layer's size: a fixed std (1 or 0.01) makes activations explode or "
              "vanish as layers get wider or deeper."),
    # batchnorm / layernorm (graders/batchnorm.py)
    Diagnosis("BN_EPS", "eps in the wrong place (or ignored)",
              "xhat = (x - mean) / sqrt(var + eps) with the eps argument you were given: eps goes INSIDE the "
              "square root, added to the variance (not to the standard deviation)."),
    Diagnosis("NORM_AXIS", "normalized over the wrong axis",
              "batchnorm averages over the batch (axis=0: one mean and variance per feature column); layernorm "
              "averages over the features of each example (axis=1, keepdims=True: one per row)."),
    Diagnosis("BN_RUNNING_UPDATE", "running statistics updated wrongly",
              "new = momentum * old + (1 - momentum) * batch_statistic: momentum weights the OLD running value, "
              "running_var tracks the (biased) batch variance, not the standard deviation, and a None running "
              "statistic starts from zeros (mean) or ones (variance)."),
    Diagnosis("BN_EVAL_BATCH_STATS", "eval mode uses the batch statistics",
              "at test time normalize with running_mean and running_var: (x - running_mean) / sqrt(running_var "
              "+ eps), so one example's output does not depend on the rest of the batch."),
    # RNN / BPTT (graders/rnn.py)
    Diagnosis("RNN_RECURRENCE", "hidden state not carried from step to step",
              "each step uses the state just computed: prev = tanh(x[:, t] @ Wx + prev @ Wh + b), then "
              "h[:, t] = prev (start with prev = h0; h holds the T new states, not h0)."),
    Diagnosis("RNN_H0_INCLUDED", "the initial state h0 included in h",
              "h holds the T states the steps compute, h[:, t] for t = 0..T-1, shape (N, T, H): the initial state h0 "
              "is an input, not one of them (do not prepend it, and do not stack T + 1 states)."),
    Diagnosis("CLIP_NORM_AFTER", "norm reported after clipping",
              "return the total norm measured BEFORE clipping (that is what you log to spot exploding gradients)."),
    Diagnosis("CLIP_ALWAYS", "gradients rescaled although their norm is below max_norm",
              "clip only when total_norm > max_norm; below the threshold return the gradients unchanged (scaling "
              "them up to max_norm changes the optimizer's steps)."),
    Diagnosis("LAG_INDEXING", "norms not indexed by time lag",
              "index by lag: norms[k] = ||dL/dh_{T-1-k}||, so norms[0] = ||g|| (no step crossed) and norms[T] = "
              "||dL/dh0||."),
    # chain rule (graders/exercises/chain_rule.py)
    Diagnosis("PATHS_MULTIPLIED", "paths multiplied instead of added",
              "multiply the local derivatives ALONG one path, then ADD the products of the different paths: "
              "dL/dx = sum over paths of (product of the local derivatives on that path)."),
    Diagnosis("PATH_MISSING", "a path from the input to the output is missing",
              "list every route from x to L (x may also feed a later node directly); each route contributes "
              "its own product, and the derivative is the sum of all of them."),
    Diagnosis("CHAIN_WRONG_POINT", "local derivative evaluated at the wrong point",
              "in f(g(x)) the outer derivative is taken at the inner value: f'(g(x)) * g'(x), not f'(x) * g'(x) "
              "(keep each stage's input from the forward pass and evaluate its derivative there)."),
    Diagnosis("SQUARE_FACTOR_TWO", "factor 2 of the square missing",
              "d(r**2)/dr = 2 r: a loss written as a plain sum of squares (no 1/2 in front) keeps the factor 2 "
              "in its gradient."),
    # Jacobians and VJPs (graders/exercises/jacobians_vjps/)
    Diagnosis("MISSING_RANK_ONE", "rank-one term of the softmax Jacobian missing",
              "d p_i / d z_j = p_i (delta_ij - p_j): the Jacobian is diag(p) - p p^T; keeping only diag(p) drops "
              "the coupling between every pair of outputs."),
    Diagnosis("DIAGONAL_ONLY", "only the diagonal of a Jacobian kept",
              "an output that depends on several inputs (softmax, affine) has off-diagonal entries; only "
              "elementwise functions have diagonal Jacobians."),
    Diagnosis("JVP_NOT_VJP", "JVP computed where a VJP was asked",
              "a vector-Jacobian product is u^T J (shape of the input), not J u (shape of the output)."),
    Diagnosis("DL_DP_NOT_DL_DZ", "gradient with respect to the probabilities, not the logits",
              "-y/p is dL/dp; push it through the softmax Jacobian to get dL/dz = p - y."),
    # attention (graders/exercises/attention/)
    Diagnosis("ATTN_SOFTMAX_AXIS", "attention softmax over the wrong axis",
              "each QUERY (row of the scores S, shape (..., Tq, Tk)) distributes its attention over the keys: "
              "normalize over the last axis (axis=-1, keepdims=True), so that every row of P sums to 1; the "
              "backward's row sum sum(dP * P) runs over the same axis."),
    Diagnosis("ATTN_SCALE_MISSING", "1/sqrt(d) scale missing",
              "S = Q K^T / sqrt(d) with d = Q.shape[-1] (d_head per head). The factor stays in the backward: "
              "dQ = dS K / sqrt(d) and dK = dS^T Q / sqrt(d)."),
    Diagnosis("ATTN_SCALE_WRONG", "scale wrong or in the wrong place",
              "divide the SCORES by sqrt(d) (not by d, not times sqrt(d), not the output or V), with d the key "
              "width of this attention (d_head = D / h in multi-head attention, not D); apply it once in the "
              "forward and once in each of dQ and dK."),
    Diagnosis("ATTN_MASK_AFTER_SOFTMAX", "mask applied after the softmax",
              "zeroing masked weights after the softmax leaves rows that no longer sum to 1: exclude masked "
              "scores BEFORE normalizing (np.where(mask, S, -np.inf) or a large negative number), so the kept "
              "weights share the whole probability."),
    Diagnosis("ATTN_MASK_ZERO_SCORE", "masked scores set to 0 instead of -inf",
              "a score of 0 still gets weight exp(0) / Z > 0: a masked position must get weight exactly 0, so "
              "replace its score by -inf (np.where(mask, S, -np.inf)) or a very negative number such as -1e9."),
    Diagnosis("ATTN_MASK_IGNORED", "mask not applied",
              "positions with mask == False (the future under a causal mask, padding under a padding mask) must "
              "get weight exactly 0: apply the mask to the scores before the softmax."),
    Diagnosis("ATTN_MASK_GRAD_LEAK", "gradient leaks through masked positions",
              "a masked score has p = 0, so its gradient p * (dP - sum(dP * P)) is exactly 0, and so is every "
              "gradient that flows only through it (a padded key's dK and dV rows). Use the MASKED P of the "
              "forward in the backward (cache it), never a softmax recomputed without the mask."),
    Diagnosis("ATTN_DV_PATH", "the dV = P^T dO path is missing",
              "V reaches the output only through O = P V, so dV = P^T dO (shape (..., Tk, dv)): the weights, "
              "transposed, times the upstream gradient. It is a path of its own, next to dP = dO V^T."),
    Diagnosis("ATTN_TRANSPOSE", "transpose wrong in dQ, dK or dV",
              "S is (Tq, Tk): rows are queries, columns keys. dQ = dS K (sum over keys), dK = dS^T Q (sum over "
              "queries), dV = P^T dO; swapping the transposes (or Q and K) gives the right shapes only when "
              "Tq = Tk."),
    Diagnosis("ATTN_HEADS_RESHAPE", "heads split by a reshape alone",
              "(B, T, D) -> (B, h, T, d_head) needs reshape(B, T, h, d_head) THEN a transpose of the T and h "
              "axes; reshape(B, h, T, d_head) directly mixes positions across heads. merge_heads undoes it in "
              "the reverse order (transpose back, then reshape)."),
    Diagnosis("ATTN_QUADRATIC_COST", "the cost of the score matrix is quadratic in T",
              "S and P have one entry per (query, key) pair: B * h * T * T values, and QK^T and PV cost "
              "2 * B * h * T^2 * d_head flops each. Doubling T multiplies them by 4, not 2."),
    # convolution and pooling (graders/conv.py, graders/exercises/convolution.py)
    Diagnosis("KERNEL_FLIP", "kernel flipped where it must not be, or not flipped where it must",
              "the forward is a cross-correlation with the kernel as given: out[i, j] = sum_{u,v} "
              "xp[i*s + u, j*s + v] * w[u, v] (no flip), and so is dw (a correlation of xp with dout). Only dx "
              "written as a full convolution flips: correlate the zero-padded dout with w[::-1, ::-1] (the scatter "
              "form dxp[window] += dout[i, j] * w needs no flip)."),
    Diagnosis("COL2IM_OVERWRITE", "overlapping windows overwrite each other instead of adding up",
              "an input entry read by several windows (stride < kernel size, or several filters) receives the SUM "
              "of their gradients: scatter with +=, never = (col2im, the naive backward loops and pooling alike)."),
    Diagnosis("CONV_PAD_NOT_CROPPED", "padding not cropped from dx",
              "the forward read a zero-padded copy xp of x; the scatter gives dxp with the padded shape, and dx is "
              "its interior dxp[:, :, pad:pad + H, pad:pad + W] (drop pad rows and columns on ALL four sides)."),
    Diagnosis("STRIDE_OFF_BY_ONE", "window count or spacing off by one",
              "there are (H + 2*pad - HH) / stride + 1 windows: the +1 counts the window at row 0, and the last "
              "one starts at H + 2*pad - HH. For the gradient identities, dilate dout with stride - 1 zeros between "
              "neighbouring entries (not stride)."),
    Diagnosis("STRIDE_IGNORED", "stride ignored when placing the windows",
              "window (i, j) starts at row i*stride and column j*stride of the padded input: multiply the output "
              "index by the stride when you read a window and when you scatter its gradient back (or dilate dout "
              "by the stride in the identities)."),
    Diagnosis("PAD_COUNTED_ONCE", "padding counted on one side only",
              "pad zeros are added on EACH side, so the padded size is H + 2*pad: H_out = (H + 2*pad - HH) / "
              "stride + 1."),
    Diagnosis("OUTPUT_SIZE_NOT_INTEGER", "a non-integer output size accepted",
              "when (H + 2*pad - HH) is not a multiple of the stride the windows do not tile the padded input; "
              "frameworks silently floor and ignore the last rows, this course rejects the configuration "
              "(raise ValueError, or answer None) so the mismatch is never hidden."),
    Diagnosis("CONV_BIAS_AXES", "bias gradient summed over the wrong axes",
              "b[f] is added at every sample AND every output position of filter f: db = dout.sum(axis=(0, 2, 3)), "
              "shape (F,)."),
    Diagnosis("IM2COL_LAYOUT", "im2col rows, columns or the product reshaped in another order",
              "rows are windows in (n, i, j) order, columns are (c, u, v), both row-major, so that w.reshape(F, -1) "
              "lines up with them; the product (N*H_out*W_out, F) is reshaped to (N, H_out, W_out, F) and transposed "
              "to (N, F, H_out, W_out) (and dout goes back the same way: transpose(0, 2, 3, 1).reshape(-1, F))."),
    Diagnosis("MAXPOOL_TIES_ALL", "max-pool gradient sent to every tied maximum",
              "a window's output is ONE of its entries: with exact ties route the gradient to the first maximum in "
              "row-major order (np.argmax of the flattened window, as frameworks do). A mask x == max copies it to "
              "every tied entry, so sum(dx) exceeds sum(dout)."),
    Diagnosis("MAXPOOL_TIE_ORDER", "a tie broken against the contract",
              "route a tied window's gradient, whole, to its FIRST maximum in row-major order (np.argmax of the "
              "flattened window): not the last one, and not split among the tied entries."),
    Diagnosis("AVGPOOL_SHARE", "average-pool share wrong",
              "out is the MEAN of pool_h * pool_w entries, so each of them receives dout / (pool_h * pool_w) from "
              "that window."),
    Diagnosis("NUMERIC_NOT_ANALYTIC", "gradient computed by finite differences instead of derived",
              "perturbing the inputs one at a time is a way to CHECK a gradient, not to compute it: it costs 2n "
              "forward passes where a backward pass costs about one, and it loses digits wherever the function "
              "has a large constant part or strong curvature (this case has one). Write the backward from the "
              "chain rule: each output's upstream gradient times the local derivatives of what produced it."),
    # gated recurrent cells (graders/gated_rnn.py, graders/exercises/gated_rnn.py)
    Diagnosis("LSTM_NO_CELL_PATH", "the direct cell path c_{t-1} -> c_t is missing",
              "c_t = f_t * c_{t-1} + i_t * g_t, so the gradient reaching c_t is dc (from step t+1, along the cell) "
              "PLUS dh * o * (1 - tanh(c_t)**2) (through h_t); forward, c_t keeps f_t * c_{t-1}; in BPTT carry "
              "dc_prev back to step t-1 next to dh_prev."),
    Diagnosis("LSTM_FORGET_FACTOR", "forget gate missing on the cell path",
              "one step back along the cell multiplies by the forget gate: dc_prev = dc_total * f (and "
              "dc_t/dc_{t-1} = f_t, not 1)."),
    Diagnosis("LSTM_OUTPUT_TANH", "tanh(c_t) or its slope missing in the output path",
              "h = o * tanh(c): the forward squashes the cell, do = dh * tanh(c), and the path into the cell "
              "multiplies by tanh'(c) = 1 - tanh(c)**2: dc_total = dc + dh * o * (1 - tanh(c)**2)."),
    Diagnosis("GATE_DERIVATIVE_POINT", "gate derivative taken at the wrong point",
              "with s = sigmoid(a) cached, sigmoid'(a) = s * (1 - s) (not sigmoid(s) * (1 - sigmoid(s)), not "
              "a * (1 - a)); with t = tanh(a), tanh'(a) = 1 - t**2 (not 1 - a**2, not 1 - tanh(t)**2): the "
              "derivative is taken at the pre-activation and written with the gate's output."),
    Diagnosis("GATE_ORDER", "gates sliced in the wrong order",
              "the course (like PyTorch) packs the pre-activations as [i, f, g, o] for the LSTM and [r, z, n] for "
              "the GRU: a[:, 0:H] is the input gate, a[:, H:2H] the forget gate, a[:, 2H:3H] the candidate (tanh), "
              "a[:, 3H:4H] the output gate (cs231n's assignment uses [i, f, o, g]: check the order of your source)."),
    Diagnosis("GRU_CONVENTION", "the other GRU convention",
              "this course uses PyTorch's h = (1 - z) * n + z * h_prev (z near 1 keeps the old state); "
              "h = z * n + (1 - z) * h_prev is the convention of some papers, with z meaning the opposite (its "
              "derivatives: dn = dh * z, dz = dh * (n - h_prev), dh_prev += dh * (1 - z)). Both train equally "
              "well, but the gradients differ: use the course's."),
    Diagnosis("GRU_INTERPOLATION_SIGN", "update-gate derivative with the wrong sign",
              "for h = (1 - z) * n + z * h_prev, dh/dz = h_prev - n (z pulls h towards h_prev): dz = dh * "
              "(h_prev - n), not dh * (n - h_prev)."),
    Diagnosis("GRU_DIRECT_PATH", "the direct path h_{t-1} -> h_t is missing",
              "h = (1 - z) * n + z * h_prev uses h_prev directly: dh_prev gets dh * z on top of what flows back "
              "through the gates' and the candidate's Wh."),
    Diagnosis("GRU_RESET", "reset gate handled wrongly",
              "PyTorch's GRU multiplies r AFTER the product: n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n)). "
              "n then depends on h_prev directly (through r * Wh_n) and through r (dr = dan * (h_prev Wh_n + "
              "bh_n)); the gradient of h_prev Wh_n + bh_n is dan * r."),
    # backprop at tensor level (graders/exercises/tensor_*.py, notebook 13)
    Diagnosis("UNBROADCAST_KEEPDIMS", "a stretched size-1 axis was dropped",
              "an axis where the operand has size 1 is summed WITH keepdims=True: the gradient has the operand's "
              "exact shape, e.g. (4, 1) stays (4, 1), never (4,)."),
    Diagnosis("UNBROADCAST_SIZE1_AXES", "size-1 axes not summed",
              "after summing the leading axes, also sum every axis where the operand has size 1 and the gradient "
              "does not (keepdims=True): each such entry was reused along that axis."),
    Diagnosis("UNBROADCAST_LEADING_AXES", "leading axes not summed (or the wrong ones)",
              "broadcasting aligns shapes on the RIGHT and adds axes on the LEFT: sum over the first "
              "len(grad.shape) - len(shape) axes, not over axis 0 only and not over trailing axes."),
    Diagnosis("UNBROADCAST_MEAN", "averaged instead of summed",
              "a value reused k times receives k gradient contributions that ADD: sum over the broadcast axes "
              "(np.sum), do not take the mean."),
    Diagnosis("EMBEDDING_LOST_UPDATES", "repeated ids lost their updates (dW[idx] += g)",
              "with fancy indexing, dW[idx] += g reads dW[idx] once and writes back once per position, so a row "
              "looked up k times keeps ONE contribution; scatter-add with np.add.at(dW, idx, g) (unbuffered), "
              "or loop over positions."),
    Diagnosis("TIED_ONE_USE", "only one use of the tied matrix contributes",
              "a matrix used twice (input embedding AND output projection) gets the SUM of both gradients: "
              "dE = scatter-add of dL/de over idx + dlogits.T @ h."),
    Diagnosis("LOG_SOFTMAX_UNDERFLOW", "log of a probability that underflowed",
              "softmax(z)[y] can be 0 in float64 (exp(-1000)), so log(softmax) gives -inf (or a clipped value): "
              "compute log p = z - logsumexp(z) with logsumexp(z) = m + log(sum(exp(z - m))), m = max(z)."),
    Diagnosis("BCE_NOT_FROM_LOGITS", "binary cross-entropy computed from probabilities",
              "log(sigmoid(z)) is -inf once sigmoid(z) rounds to 0 (z < -745), and log(1 + exp(-z)) overflows: use "
              "the logit form max(z, 0) - z * y + log1p(exp(-|z|)), finite for every z."),
    Diagnosis("BCE_PROB_CLIPPED", "probabilities clipped before the log",
              "clip(p, eps, 1 - eps) caps the loss of a confidently wrong prediction at -log(eps) (about 16 for "
              "eps = 1e-7) instead of ~|z|; the logit form needs no clipping."),
    Diagnosis("LABEL_SMOOTHING_HARD_GRAD", "gradient against the hard label",
              "with smoothed targets q = (1 - eps) * onehot + eps / C the gradient is (softmax - q) / N, not "
              "(softmax - onehot) / N."),
    Diagnosis("LABEL_SMOOTHING_TARGET", "smoothed target distribution wrong",
              "every class gets eps / C and the true class gets 1 - eps + eps / C in addition (q sums to 1); not "
              "1 - eps on the true class, not eps / (C - 1) on the others (this course follows PyTorch)."),
    Diagnosis("HUBER_NOT_CLIPPED", "Huber gradient not clipped at +-delta",
              "dl/dr = r for |r| <= delta and delta * sign(r) outside: np.clip(r, -delta, delta), then / n for "
              "the mean."),
    Diagnosis("HUBER_LINEAR_OFFSET", "linear branch of the Huber loss without its offset",
              "outside |r| <= delta the loss is delta * (|r| - delta / 2), so that it meets r**2 / 2 at "
              "|r| = delta (value and slope continuous)."),
    Diagnosis("DROPOUT_NOT_INVERTED", "dropout scaled at test time",
              "inverted dropout scales the kept units by 1 / (1 - p) during TRAINING, so at test time the layer is "
              "the identity: no multiplication by (1 - p)."),
    Diagnosis("DROPOUT_KEEP_PROB_SWAPPED", "drop and keep probabilities swapped",
              "p_drop is the probability of ZEROING a unit: keep where rng.random(x.shape) >= p_drop and scale "
              "the kept units by 1 / (1 - p_drop)."),
    Diagnosis("DROPOUT_IN_EVAL", "units dropped at test time",
              "with train=False dropout does nothing: return x (and pass dout straight back)."),
    Diagnosis("ACCUMULATION_NO_1_OVER_K", "micro-batch gradients summed, not averaged",
              "each micro-batch loss is a mean over its n_j examples; the full-batch mean is sum_j (n_j / N) L_j, "
              "i.e. divide each loss (and gradient) by k for equal micro-batches (loss / k before backward)."),
    Diagnosis("ACCUMULATION_UNEQUAL", "unequal micro-batches weighted equally",
              "with micro-batches of different sizes weight each by n_j / N, not by 1 / k: a smaller last batch "
              "would otherwise count as much as a full one."),
    Diagnosis("GRAD_NOT_ACCUMULATED", "backward() overwrites the leaves' gradients",
              "like PyTorch, backward() ADDS into the .grad of every leaf that requires grad, across calls; only "
              "zero_grad() clears it (that is what makes gradient accumulation work)."),
    Diagnosis("STALE_INTERMEDIATE_GRAD", "intermediate gradients kept from the previous backward",
              "at the start of every backward() set the .grad of each NON-leaf node to zeros: only leaves "
              "accumulate; a stale intermediate gradient is propagated twice."),
    Diagnosis("GRAPH_NOT_FREED", "a second backward() through a freed graph does not raise",
              "without retain_graph=True, backward() frees the graph (drop each node's backward rule); a second "
              "backward() through it must raise RuntimeError, as in PyTorch."),
    Diagnosis("RETAIN_GRAPH_IGNORED", "retain_graph=True does not keep the graph",
              "with retain_graph=True keep every node's backward rule, so that a second backward() through the same "
              "graph works (and adds the same gradients again)."),
    Diagnosis("DETACH_NOT_STOPPING", "gradient flows through detach()",
              "detach() returns a NEW leaf with the same data and requires_grad=False and no parents: the graph "
              "stops there, so that use contributes nothing to the gradient."),
    Diagnosis("ZERO_GRAD_INEFFECTIVE", "zero_grad() does not clear the gradient",
              "zero_grad() sets .grad to None (or zeros), so the next backward() starts from nothing."),
    Diagnosis("INPLACE_RELU_MYTH", "in-place ReLU (or changing ReLU's input) believed to break the backward",
              "ReLU's backward reads its OUTPUT (the mask out > 0), and the matmul before it saved its own inputs, "
              "not its output: overwriting ReLU's input, or ReLU in place, leaves every saved tensor intact."),
    Diagnosis("INPLACE_SAVED_OUTPUT", "ops that save their OUTPUT misjudged",
              "sigmoid, tanh, exp (and ReLU) save their output for the backward: changing their INPUT afterwards is "
              "harmless, changing their OUTPUT in place breaks the backward."),
    Diagnosis("INPLACE_SAVED_INPUT", "ops that save their INPUTS misjudged",
              "a multiply or matmul saves its operands (dA = g @ B.T, dB = A.T @ g) and log saves its input "
              "(dx = g / x): overwriting any of them before backward() makes the gradient wrong."),
    Diagnosis("FP16_SCALED_AFTER_CAST", "loss scale applied after the float16 cast",
              "scaling must happen BEFORE values are stored in float16 (multiply the loss, hence every gradient "
              "signal, by S): float16(g) * S keeps every value that already rounded to 0."),
    Diagnosis("LOSS_SCALE_NOT_UNSCALED", "gradients not divided by the loss scale",
              "scaled gradients are S times the true ones: divide by S (in float32) before the update or any "
              "comparison."),
    Diagnosis("FP16_BACKWARD_NOT_FP16", "the backward did not run in float16",
              "cast the weights, the activations and S * dscores to float16 and keep every product of the "
              "backward in float16; computing in float64 and casting at the end hides the underflow being measured."),
    Diagnosis("MASTER_WEIGHTS_FP16", "master weights not kept in float32",
              "update float32 master weights (w32 - lr * g32, result float32): in float16 an update smaller than "
              "half the spacing of w (2**-11 near 1) is lost."),
    Diagnosis("OVERFLOW_STEP_TAKEN", "a step with inf/NaN gradients was taken",
              "if any unscaled gradient is inf or NaN, skip the update (weights unchanged), halve the scale and "
              "reset the count of good steps."),
    Diagnosis("LOSS_SCALE_UPDATE", "dynamic loss scale updated wrongly",
              "overflow: scale * 0.5 and good steps back to 0; otherwise good steps + 1, and when it reaches "
              "growth_interval: scale * 2 and good steps back to 0."),
]

CATALOGUE = {d.code: d for d in _CATALOGUE}


def get(code: str) -> Diagnosis:
    """The diagnosis with this code (KeyError names the unknown code)."""
    try:
        return CATALOGUE[code]
    except KeyError:
        raise KeyError(f"unknown diagnosis code {code!r}") from None
