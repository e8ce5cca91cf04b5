"""Multiple-choice questions of notebook 12 (gated recurrent cells). Right letters are stored only as salted
digests (see graders/concepts.py). The numbers quoted in ``gated_forget_bias`` are computed by
reference_impl.gated_rnn.gradient_norms_by_lag (tests/test_exercises_gated_rnn.py recomputes them)."""

from graders.concepts import Question

QUESTIONS = {
    "gated_forget_bias": Question(
        text=("Measured in this notebook (the same random cells, H = 32, T = 50, a loss on the last step only): "
              "||dL/dh|| at lag 30 divided by its value at lag 0 is 2.5e-06 for the vanilla RNN; for the LSTM it "
              "is 1.6e-07 with forget-gate bias 0, 3.7e-04 with bias 1 and 2.3e-02 with bias 2. What does the "
              "forget-gate bias do?"),
        options={
            "a": ("It scales the inputs x, so a larger bias makes every gradient larger, at lag 0 as much as at "
                  "lag 30."),
            "b": ("Nothing that matters for gradients: biases only shift the forward activations, and the "
                  "differences above are noise of the random initialisation."),
            "c": ("It sets where the forget gate starts, f = sigmoid(b_f + ...), about 0.5, 0.73 and 0.88 for "
                  "b_f = 0, 1, 2. One step back along the cell multiplies the gradient by f, so the bias decides "
                  "how slowly the long path fades; at bias 0 the LSTM keeps no more than the vanilla RNN."),
            "d": ("A large forget bias makes the gradients explode; that is why the ratio grows with the bias, "
                  "and why clipping is needed for LSTMs but not for vanilla RNNs."),
        },
        answer_digest="b7d492393cc4ad52ba11c40aebfbaf8f3fd444358907e7f4d61b59c887f91dff",
        feedback={
            "797f2ad2608298f27bd9ee42fb9d80cfc39692ad829e414d9358efa7dc27ca90":
                "the bias is added to the forget gate's pre-activation, not multiplied into the input; and the "
                "numbers are ratios to lag 0, so a common scale would cancel.",
            "cf8237542243b8ba1c0fc51c2cd507209892a616f734c4f5e29c6bf6c088a9b0":
                "the gate's VALUE multiplies the gradient on the cell path (dc_{t-1} = f_t dc_t), and the bias sets "
                "that value: the same random cell with three biases gives three orders of magnitude apart.",
            "46fd3d65c0fc031403b30b73ace606dd6c272a65902c5af8f78f13a6791fd00d":
                "f < 1 always, so the cell path can only shrink the gradient more slowly, never make it explode; "
                "the ratios above all stay below 1.",
        },
    ),
    "gated_gru_convention": Question(
        text=("PyTorch's GRU computes h = (1 - z) * n + z * h_prev. A paper writes h = z * n + (1 - z) * h_prev "
              "with the same r, z and n. Which statement is true?"),
        options={
            "a": ("They are different models: the paper's GRU cannot keep its old state, because z multiplies "
                  "the candidate."),
            "b": ("They are the same family with z meaning the opposite (keep the old state vs take the new one), "
                  "but the gradients differ: in PyTorch's convention dh_prev gets dh * z directly and "
                  "dz = dh * (h_prev - n); a backward written for one convention is wrong for the other."),
            "c": ("The gradients are identical in both conventions, so a backward may assume either."),
            "d": ("In PyTorch's convention a z near 0 keeps the old state."),
        },
        answer_digest="173c9fcc6ac1a29292c3dc9896661a7fc7616aba208676752ca37c954d8982f2",
        feedback={
            "92a584839a9694f5852fb468e775384eab4b599c613c007afb9ff24363955e16":
                "in the paper's form z near 0 keeps h_prev: the gate just means the opposite.",
            "235cc007ad0a2dba5c3036d5e76511a68c0ce3ca576e0b4c8706388c913d1dfd":
                "the direct path is dh * z in one and dh * (1 - z) in the other, and dz changes sign: the "
                "GRU_CONVENTION and GRU_INTERPOLATION_SIGN mistakes.",
            "b4f29978227c42299c90c36e88fb88352dce019f7e01ec9d1c2682ffadef2cd9":
                "with z near 0, h = (1 - z) n + z h_prev is about n, the NEW candidate; z near 1 keeps h_prev.",
        },
    ),
    "gated_gate_point": Question(
        text=("Your LSTM forward cached the forget gate's OUTPUT f = sigmoid(a_f) (not a_f). In the backward, "
              "which expression is df/da_f?"),
        options={
            "a": "sigmoid(f) * (1 - sigmoid(f))",
            "b": "a_f * (1 - a_f), written with the cached value",
            "c": "1 - f**2",
            "d": "f * (1 - f)",
        },
        answer_digest="576092780e018bed9f3c9ddbf2ee2c81534535dd1d788510e422a009926937e2",
        feedback={
            "9bd8577daf7fdfb05d0c94bec1393e992a34ac398d6a186a74532d911546d305":
                "that is the sigmoid's slope at f, i.e. at the gate's output: the derivative is taken at the "
                "pre-activation a_f, where it equals sigmoid(a_f) (1 - sigmoid(a_f)) = f (1 - f).",
            "e30fcb10e5c57676c12bbccc5cfea8196748e4813970b4dd2eb6f34ba480d5c2":
                "s (1 - s) needs the sigmoid's OUTPUT s; putting the pre-activation a_f in its place evaluates "
                "the formula at the wrong point.",
            "081b382006d8f7fb44532c675948e5e899d02104b9fde03ed34d046f0f615ef9":
                "1 - t**2 is tanh's slope written with tanh's output; the forget gate is a sigmoid.",
        },
    ),
}
