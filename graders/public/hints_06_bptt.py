"""Hints for notebook 06 (backpropagation through time): grade_id -> (hint 1, hint 2, hint 3). Standard library
only."""

HINTS = {
    "rnn_step": (
        "Forward: one affine map of x and h_prev, then tanh. Backward: the tanh slope, then an affine backward.",
        "tanh'(a) = 1 - next_h**2, so caching next_h (with x, h_prev, Wx, Wh) is enough for the backward.",
        "First the gradient at the pre-activation, da = dnext_h * (1 - next_h**2). Each of the five gradients then "
        "combines da with one array from the cache, as in an affine backward: shapes tell where the transpose goes "
        "and which axis the bias sums over.",
    ),
    "rnn_forward": (
        "Loop over t = 0..T-1 calling your step; the state of one step is the h_prev of the next.",
        "Start the loop from the initial state h0; h[:, t] holds the new state of step t (h does not include h0).",
        "Allocate h of shape (N, T, H) and fill it inside the loop; cache x, h0, the weights and h for the "
        "backward.",
    ),
    "rnn_backward": (
        "Walk t from T-1 down to 0 with a carry: the gradient reaching h[:, t] is dh[:, t] plus what step t+1 sent "
        "back.",
        "Per step: da = (dh[:, t] + carry) * (1 - h[:, t]**2); dx[:, t] from Wx; ADD to dWx, dWh, db (shared "
        "weights); the new carry is da @ Wh.T. The state before step t is h[:, t-1], or h0 at t = 0.",
        "Truncation: choose a scheme. TBPTT(1, k): keep one carry per loss term still alive and drop each after k "
        "steps. TBPTT(k, k): one carry that you zero where a chunk starts (t = k, 2k, ...). Either is accepted.",
    ),
    "two_step_trace": (
        "Forward: h1 = tanh(w h0 + u x1), h2 = tanh(w h1 + u x2). Then go back from the loss.",
        "dL/dh2 = h2 - y2; dL/da2 = dL/dh2 (1 - h2**2). h1 feeds the loss at step 1 AND a2: dL/dh1 = (h1 - y1) + "
        "dL/da2 * w.",
        "dL/da1 = dL/dh1 (1 - h1**2). w and u are used at both steps: sum the two contributions (dL/da_t times h_{t-1} "
        "for w, times x_t for u); dL/dh0 = dL/da1 * w.",
    ),
    "norms_by_lag": (
        "Run your rnn_forward once; then walk back from the last state with the single loss L = sum(g * h[:, T-1]).",
        "Start with grad = g (lag 0) and one step back: grad = (grad * (1 - h[:, t]**2)) @ Wh.T, for t = T-1 down "
        "to 0.",
        "Record np.linalg.norm(grad) before the first step and after each step: T + 1 numbers, the last one for h0.",
    ),
    "decay_prediction": (
        "The spectral radius is the largest absolute eigenvalue: np.linalg.eigvals, np.abs, np.max.",
        "rho**k < 1e-6 means k log(rho) < log(1e-6); both logs are negative when rho < 1, so the inequality flips.",
        "Take the smallest whole k with rho**k < 1e-6 (floor of the ratio plus one, or a loop), as an int.",
    ),
    "clip_grad_norm": (
        "One norm for all arrays together: the square root of the sum of the squares of every entry of every "
        "array.",
        "If that norm exceeds max_norm, every array is multiplied by the SAME factor max_norm / (norm + 1e-6).",
        "Build a new dict of float64 arrays (never modify the argument) and return it with the norm measured "
        "before clipping, as a float.",
    ),
    "clip_choice": (
        "Clipping by the global norm multiplies everything by one number.",
        "Multiplying a vector by a positive number keeps its direction and scales its norm.",
        "Eliminate the options that change the direction (per-entry or per-array clipping) or skip the step.",
    ),
    "cell_path": (
        "Two one-step derivatives: the vanilla RNN's state through tanh, the LSTM's cell through its update.",
        "d/dh_prev tanh(w h_prev + u x) is tanh' at the pre-activation times its inner derivative w.",
        "For the cell, c = f * c_prev + i * g is linear in c_prev with the gates held fixed: its slope is the "
        "factor in front of c_prev. Write both with the symbols of course.CELL_SYMBOLS.",
    ),
    "lstm_choice": (
        "Compare the one-step factor along the LSTM cell with the vanilla RNN's one-step factor (exercise 8).",
        "Along the cell path no weight matrix and no tanh slope enter: only the forget gate.",
        "Pick the option that explains the effect by the additive cell update and the forget gate.",
    ),
    "truncation_choice": (
        "Truncation changes only the backward pass: which gradient terms does it drop?",
        "Terms that would travel more than k steps are dropped, while the forward state still crosses them.",
        "Pick the option that says what the result is (exact or not) and why.",
    ),
}
