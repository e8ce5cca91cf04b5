"""Hints for notebook 12 (gated recurrent cells): grade_id -> (hint 1, hint 2, hint 3). Standard library only."""

HINTS = {
    "lstm_trace": (
        "Forward first: the four pre-activations, the gates, then c and h. Backward: the two paths that meet at c.",
        "dc_total adds the gradient from step t+1 (dc) to the one coming down from h through o and tanh'(c). "
        "One step back along the cell is a product by f.",
        "Each da_k is the gradient of the gate's output times that gate's slope written with its output: s (1 - s) "
        "for the sigmoids, 1 - g**2 for the candidate; the gradient of f is dc_total times c_prev, of o it is do. "
        "h_prev feeds all four pre-activations through its wh_k.",
    ),
    "lstm_step_forward": (
        "One affine map of x and h_prev gives all four gates at once, an (N, 4H) array.",
        "Slice it into four H-wide blocks in the order i, f, g, o: sigmoid for i, f, o and tanh for g. Then the cell "
        "update and the output.",
        "Cache what the backward needs: the inputs, the four gates and tanh of the new cell (its slope is computed "
        "from it). Return h, c and the cache, in that order.",
    ),
    "lstm_step_backward": (
        "Start at the outputs: dh reaches o and, through tanh, the cell; dc reaches the cell directly.",
        "dc_total = dc plus dh times o times tanh's slope at c. From it: the gradients of i, g, f and of c_prev "
        "(the forget gate times dc_total); o's gradient is dh times tanh(c).",
        "Turn the four gate gradients into pre-activation gradients with each gate's own slope (written with its "
        "output), stack them in the order i, f, g, o into one (N, 4H) array, and finish as an affine backward: "
        "shapes say where each transpose goes and which axis the bias sums over.",
    ),
    "gate_point_choice": (
        "The sigmoid's derivative is a function of the point where it is taken: the pre-activation a_f.",
        "The slope of sigmoid at a_f is sigmoid of a_f times one minus it; what does the cache hold that equals "
        "sigmoid of a_f?",
        "Eliminate the options that apply a function to the gate's output again, or put the pre-activation where "
        "the output belongs, or use another activation's slope.",
    ),
    "lstm_derivation": (
        "c_t = f c_prev + i g is linear in c_prev with the gates fixed (the gates do not depend on c_prev).",
        "h_t = o tanh(c_t): its derivative in c_t is o times tanh's slope at c_t, written with tanh(c_s).",
        "The third derivative chains the first two: the route from c_prev to h_t goes through c_t. Use the "
        "expressions f_s, o_s and c_s of the cell above.",
    ),
    "lstm_forward": (
        "Loop over t = 0..T-1 calling your step; its h and c are the h_prev and c_prev of the next step.",
        "Start from h0 and from c0, or from zeros of shape (N, H) when c0 is None.",
        "Fill an (N, T, H) array with the new hidden states (not h0) and keep every step's cache in a list for "
        "the backward.",
    ),
    "lstm_backward": (
        "Walk t from T-1 down to 0 with two carries, one for h and one for c, both zero at the start.",
        "Step t's backward receives the loss gradient dh[:, t] plus the h carry, and the c carry; what it returns "
        "for h_prev and c_prev are the new carries.",
        "Add every step's dWx, dWh and db into running sums (shared weights); after step 0 the two carries are dh0 "
        "and dc0. Return six arrays in the order x, h0, Wx, Wh, b, c0.",
    ),
    "gru_step_forward": (
        "Two affine maps: one of x (with bx) and one of h_prev (with bh), each (N, 3H), blocks r, z, n.",
        "r and z are sigmoids of the sums of their blocks; the candidate adds the x-side n block to r times the "
        "h-side n block (r multiplies AFTER the product with Wh).",
        "The new state interpolates with z weighting the OLD state (PyTorch). Cache x, h_prev, the weights, r, z, "
        "n and the h-side n block.",
    ),
    "gru_step_backward": (
        "Differentiate the interpolation first: it gives the gradients of n, of z and a direct one of h_prev.",
        "dn = dh (1 - z), dz = dh (h_prev - n), and h_prev gets dh z directly. Then tanh's slope for n, and the "
        "reset gate's gradient is the n pre-activation's gradient times the h-side n block.",
        "Build two (N, 3H) arrays of pre-activation gradients: the x side [r, z, n] and the h side, whose n block "
        "is multiplied by r. The x side gives dx, dWx, dbx; the h side gives dWh, dbh and the rest of dh_prev.",
    ),
    "gru_derivation": (
        "h_t = (1 - z) n + z h_prev: h_prev appears directly, inside z and inside n. Sum the three routes.",
        "The direct route gives z. Through z: (h_prev - n) times dz/dh_prev = z (1 - z) wh_z. Through n: (1 - z) "
        "times dn/dh_prev.",
        "n = tanh(... + r hn) with hn = wh_n h_prev + bh_n and r depending on h_prev too: dn/dh_prev is tanh's slope "
        "times (r wh_n plus hn times r's slope times wh_r). Use r_s, z_s, n_s and hn_s.",
    ),
    "gru_convention_choice": (
        "Swap z and 1 - z in one formula: do you get the other one?",
        "The models are the same family, but a derivative with respect to z or h_prev depends on which convention "
        "the forward used.",
        "Pick the option that says what stays the same, what changes in the gradients, and which way round the "
        "course's z works.",
    ),
    "gated_norms_by_lag": (
        "Run the forward once with your step functions, keeping each step's cache; then walk back from the last "
        "state with the single loss L = sum(g * h[:, T-1]).",
        "Start with the gradient g (lag 0). The LSTM step backward also needs the cell's carry, zero at the start, "
        "and returns the next one; the GRU's needs only dh; the vanilla RNN is 06's one-line step.",
        "Record the norm before the first step back and after each step: T + 1 numbers, the last for h0. Keep the "
        "cell carry for the LSTM, but record the norm of the hidden-state gradient only.",
    ),
    "forget_bias_choice": (
        "Which local factor does the cell path multiply by at each step?",
        "The bias is added to the forget gate's pre-activation: what is sigmoid(0), sigmoid(1), sigmoid(2)?",
        "Pick the option that explains the ratios by the forget gate's starting value on the cell path.",
    ),
}
