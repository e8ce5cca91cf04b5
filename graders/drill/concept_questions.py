"""Concept questions: a bank of multiple-choice questions about backprop, written for the drills.

Each question has one right option, several wrong ones (four are shown, in a random order, with three wrong
ones drawn at random) and the reason, shown after the answer. The keys are hand-written and checked against
what the notebooks teach (and, where a fact is a number, computed here or pinned by a test); a few questions
draw their numbers at random and compute the options. One answer only: a wrong pick costs a third of a point,
so guessing among four options is worth nothing on average (see :mod:`graders.drill.scoring`).

These questions are separate from the graded notebook questions of :mod:`graders.question_bank`, whose
answers the drill must not give away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from graders.drill.registry import Problem, check_choice, family

N_SHOWN = 4


@dataclass(frozen=True)
class Concept:
    """A question: fixed text and options, or ``make(rng) -> (text, right, wrong options, why)``."""
    id: str
    notebook: str
    text: str = ""
    right: str = ""
    wrong: tuple[str, ...] = ()
    why: str = ""
    make: Callable | None = None

    def draw(self, rng: np.random.Generator) -> tuple[str, str, tuple[str, ...], str]:
        if self.make is not None:
            return self.make(rng)
        return self.text, self.right, self.wrong, self.why


def _sigmoid_depth(rng):
    threshold = float(rng.choice([1e-3, 1e-4, 1e-6, 1e-9]))
    n = math.ceil(math.log(threshold) / math.log(0.25))  # smallest n with 0.25**n < threshold
    if 0.25 ** n >= threshold:
        n += 1
    wrong = sorted({math.ceil(math.log(threshold) / math.log(0.5)), n + 3, max(1, n - 2), 2 * n + 1} - {n})
    return (f"A chain of sigmoid layers with unit weights, every local derivative at its best value. From how many "
            f"layers on is the gradient multiplied by less than {threshold:g}?", str(n), tuple(map(str, wrong)),
            f"sigmoid' <= 0.25, so n layers multiply the gradient by at most 0.25^n; 0.25^{n} = {0.25 ** n:.2e} < "
            f"{threshold:g} <= 0.25^{n - 1} = {0.25 ** (n - 1):.2e}.")


def _explode(rng):
    s = float(rng.choice([1.2, 1.5, 2.0]))
    n = int(rng.choice([20, 50, 100]))
    value = s ** n
    wrong = (f"{s * n:.2e}", f"{s ** (n / 2):.2e}", f"{(s + 1) ** n:.2e}", f"{s ** (2 * n):.2e}")
    return (f"Every layer multiplies the gradient by {s:g}. About how large is the factor over {n} layers?",
            f"{value:.2e}", wrong, f"Factors along one path multiply: {s:g}^{n} = {value:.2e}.")


def _jacobian_shape(rng):
    n, m = (int(v) for v in rng.choice([2, 3, 4, 5, 6, 7], size=2, replace=False))
    return (f"f maps R^{n} to R^{m}. What is the shape of its Jacobian J[i, j] = d f_i / d x_j?", f"({m}, {n})",
            (f"({n}, {m})", f"({n}, {n})", f"({m}, {m})"),
            f"Rows index the {m} outputs and columns the {n} inputs.")


def _passes(rng):
    n, m = (int(v) for v in rng.choice([3, 10, 100, 1000], size=2, replace=False))
    right = f"forward {n}, reverse {m}"
    wrong = sorted({f"forward {m}, reverse {n}", "forward 1, reverse 1", f"forward {n * m}, reverse 1",
                    f"forward {max(n, m)}, reverse {max(n, m)}"} - {right})
    return (f"To get the full Jacobian of f: R^{n} -> R^{m}, how many passes do forward mode and reverse mode need?",
            right, tuple(wrong),
            "Forward mode gives one column (one input direction) per pass, reverse mode one row (one output) per "
            "pass; a scalar loss (m = 1) makes reverse mode the clear choice.")


BANK: tuple[Concept, ...] = (
    Concept("reverse_mode", "05", "Why does deep learning train with reverse-mode AD rather than forward mode?",
            "A scalar loss of n parameters needs one reverse pass for the whole gradient, but n forward-mode passes",
            ("Reverse mode is more accurate than forward mode", "Forward mode cannot differentiate ReLU",
             "Reverse mode needs no extra memory", "Forward mode only works for scalar inputs"),
            "One backward pass costs a small multiple of the forward pass and yields every partial derivative; the "
            "price is memory for the stored activations."),
    Concept("residual", "08", "For a residual block y = F(x) + x, dL/dx equals:",
            "(dF/dx)^T dL/dy + dL/dy", ("(dF/dx)^T dL/dy", "dL/dy", "dL/dy - (dF/dx)^T dL/dy", "2 dL/dy"),
            "The skip path adds the identity, so dL/dy reaches x unchanged, plus the path through F."),
    Concept("he_variance", "08", "He initialization for a layer followed by ReLU draws W with variance:",
            "2 / n_in", ("1 / n_in", "2 / (n_in + n_out)", "1 / n_out", "0.01"),
            "Var(z) = n_in Var(w) E[x^2] and ReLU zeroes half of its inputs, so E[x^2] = Var(z_prev) / 2; 2 / n_in "
            "keeps the variance from layer to layer."),
    Concept("xavier_variance", "08", "Xavier (Glorot) initialization, meant for tanh layers, uses Var(W) =",
            "2 / (n_in + n_out)", ("2 / n_in", "1 / (n_in * n_out)", "1 / n_out", "n_in / n_out"),
            "The forward pass keeps the variance when n_in Var(w) = 1, the backward pass when n_out Var(w) = 1; "
            "Xavier takes the compromise 2 / (n_in + n_out)."),
    Concept("he_factor_two", "08", "Why does He initialization have a factor 2 that LeCun's 1 / n_in lacks?",
            "ReLU outputs zero for half of its inputs, halving E[x^2]; the weights make up the lost half",
            ("ReLU's slope is 2 where it is active", "Because the backward pass counts twice",
             "To compensate for the bias", "Because weights are drawn from a uniform distribution"),
            "With symmetric pre-activations, E[relu(z)^2] = Var(z) / 2."),
    Concept("dout_ones", "07", "Checking a batchnorm backward with dout = ones proves little because:",
            "The true dx is then exactly zero, so a backward that forgets the variance term or gamma also returns "
            "zeros and passes", ("exp overflows for a vector of ones", "ones are not float64",
                                  "dgamma becomes negative", "the check becomes too slow"),
            "The normalized xhat of every column sums to 0; use a random upstream gradient."),
    Concept("bn_three_terms", "07", "Batchnorm's dx has three terms because x reaches the output:",
            "through xhat directly, through the batch mean, and through the batch variance",
            ("through gamma, beta and eps", "once per example of the batch, for three examples",
             "through the forward pass, the backward pass and the update",
             "through the mean, the running mean and the running variance"),
            "mu and var are functions of every x_i of the column, so each adds a path: dx = (dxhat - mean(dxhat) - "
            "xhat * mean(dxhat * xhat)) / std."),
    Concept("bn_eval", "07", "At test time, batchnorm normalizes with:",
            "the running mean and variance accumulated during training",
            ("the mean and variance of the test batch", "no normalization at all, only gamma and beta",
             "the statistics of the last training batch", "the mean and variance of each test example"),
            "Then one example's output does not depend on the rest of its batch."),
    Concept("layernorm", "07", "Layernorm differs from batchnorm in that it:",
            "normalizes each example over its features, the same way at training and test time",
            ("normalizes each feature over the batch", "keeps running statistics for test time",
             "has no learnable gamma and beta", "divides by N - 1"),
            "Its statistics are per row (axis 1), so there is nothing to accumulate; gamma and beta are still "
            "shared by the batch, so their gradients sum over axis 0."),
    Concept("clip_global", "06", "Gradient clipping by global norm:",
            "scales all gradients by one common factor when their joint norm exceeds the threshold",
            ("scales each tensor to the threshold separately", "sets entries above the threshold to the threshold",
             "prevents vanishing gradients", "adds lambda * W to the gradient"),
            "The direction of the update is kept and its size capped; it helps exploding, not vanishing, "
            "gradients."),
    Concept("lstm", "06", "Why does an LSTM suffer less from vanishing gradients than a vanilla RNN?",
            "Its cell state is updated additively: dc_t/dc_(t-1) = f_t, with no tanh' and no repeated "
            "multiplication by Wh", ("It uses ReLU instead of tanh", "It has fewer parameters",
                                      "It normalizes its hidden state with batchnorm",
                                      "Its gradients are clipped automatically"),
            "With the forget gate near 1 the gradient passes through the cell path almost unchanged."),
    Concept("checkpoint", "05", "Memory for the activations of N layers, without and with sqrt(N) checkpointing:",
            "O(N) and O(sqrt(N)), for about one extra forward pass", ("O(1) and O(1)", "O(N^2) and O(N)",
                                                                      "O(log N) and O(1)",
                                                                      "O(N) and O(N), but half the compute"),
            "Keep every sqrt(N)-th activation and recompute each segment once during the backward."),
    Concept("symmetry", "08", "Why are the weights of a hidden layer initialized randomly rather than all equal?",
            "Equal weights make every unit compute the same output and get the same gradient, so the units stay "
            "identical forever", ("Equal weights make the loss undefined", "Random weights make training faster",
                                  "Equal weights always give a zero gradient everywhere",
                                  "Only the biases would learn, whatever the equal value"),
            "By induction the units never separate: the layer acts like one unit. (All ZERO weights are worse "
            "still: with ReLU or tanh the hidden outputs are 0 and nothing but the output bias moves.)"),
    Concept("zero_init_relu", "03",
            "Every weight and bias of a 2-layer ReLU network with a softmax output is 0. What can the first "
            "gradient step change?", "At most the output bias b2: the hidden outputs are relu(0) = 0, so dW2 = "
                                     "H1^T delta2 = 0, and dH1 = delta2 W2^T = 0 reaches nothing in layer 1",
            ("Every weight, each by the same amount", "Only the first layer's weights",
             "Everything, because the labels differ between examples", "The weights of layer 2 only"),
            "db2 = mean(p - onehot(y)) is the only gradient that can be nonzero (it is 0 too when the labels are "
            "exactly balanced)."),
    Concept("sigmoid_max", "08", "The derivative of the sigmoid is at most:", "0.25, at x = 0",
            ("0.5, at x = 0", "1, at x = 0", "1/e, at x = 1", "it is unbounded"),
            "sigmoid'(x) = s(1 - s) is largest at s = 1/2: 1/4."),
    Concept("tanh_max", "06", "The derivative of tanh is at most:", "1, at x = 0",
            ("0.25, at x = 0", "0.5, at x = 0", "2, at x = 0", "it is unbounded"),
            "tanh'(x) = 1 - tanh(x)^2 = 1 at x = 0; tanh(x) = 2 sigmoid(2x) - 1."),
    Concept("sigmoid_depth", "08", make=_sigmoid_depth),
    Concept("explode", "08", make=_explode),
    Concept("relu_cache", "03", "To backpropagate through ReLU, which cached array gives the right mask?",
            "Either the input x (x > 0) or the output (out > 0): they are positive at exactly the same entries",
            ("Only the input x: masking with the output is a bug", "Only the output",
             "The upstream gradient: dout > 0", "Neither: ReLU's backward needs no cache"),
            "For ReLU either works; sigmoid and tanh can use their output; an activation like GELU needs its input."),
    Concept("gelu_cache", "03", "For which activation is caching only the OUTPUT not enough for the backward?",
            "GELU: its derivative is not a function of its output", ("sigmoid", "tanh", "ReLU", "the identity"),
            "sigmoid' = s(1 - s), tanh' = 1 - t^2 and ReLU's mask (out > 0) come from the output; GELU is not "
            "monotonic, so its output does not even determine its input."),
    Concept("inplace", "03", "When is an in-place operation a problem for backprop?",
            "When the backward needs the value it overwrote (e.g. the input of a sigmoid, or a tensor saved for a "
            "later op)", ("Always: any in-place operation breaks autograd",
                          "Never: autograd copies every tensor first", "Only on a GPU",
                          "Only for ReLU, whose backward needs its input"),
            "In-place ReLU is fine in PyTorch because its backward uses the output."),
    Concept("softmax_ce_grad", "03", "For the MEAN softmax cross-entropy over N examples, dL/dz (the logits) is:",
            "(p - onehot(y)) / N", ("p - onehot(y)", "-onehot(y) / p", "p * (1 - p) / N", "(p - onehot(y)) * N"),
            "Per example, -y/p through the softmax Jacobian diag(p) - p p^T collapses to p - y; the mean adds 1/N."),
    Concept("softmax_shift", "03", "Why subtract each row's maximum before exponentiating in a softmax?",
            "exp overflows for large logits, and subtracting a constant from a row does not change its softmax",
            ("It makes the gradient larger", "Without it the probabilities do not sum to 1",
             "It removes the need for the one-hot term", "It turns the logits into probabilities"),
            "softmax(z - c) = softmax(z); after the shift the largest exponent is exp(0) = 1."),
    Concept("mse_grad", "03", "With the course's MSE loss L = sum((pred - target)^2) / (2N), dL/dpred is:",
            "(pred - target) / N", ("2 (pred - target) / N", "pred - target", "(pred - target) / (N K)",
                                    "(target - pred) / N"),
            "The 1/2 cancels the 2 of the square; the mean over N examples leaves 1/N."),
    Concept("jacobian_shape", "04", make=_jacobian_shape),
    Concept("passes", "05", make=_passes),
    Concept("vjp", "04", "Why do frameworks compute vector-Jacobian products instead of Jacobians?",
            "u^T J can be computed without forming J, which for a layer on a batch has (N M) x (N D) entries",
            ("Jacobians cannot be defined for matrix inputs", "VJPs are exact and Jacobians approximate",
             "VJPs give second derivatives for free", "Jacobians are only defined for square layers"),
            "Each layer implements its VJP directly (dx = dout @ W.T for an affine layer), at the cost of about "
            "one forward pass."),
    Concept("centred_difference", "03", "Which finite difference should a gradient check use, and why?",
            "The centred (f(x + h) - f(x - h)) / (2h): its error is O(h^2), the one-sided one's is O(h)",
            ("The one-sided (f(x + h) - f(x)) / h: it needs fewer evaluations and is as accurate",
             "Either: both have error O(h^2)", "The centred one, because it has no round-off error",
             "The one-sided one, because the centred one is biased"),
            "With h = 1e-5 in float64 the centred difference is accurate to about 1e-10 for smooth functions."),
    Concept("float64_check", "03", "Why run gradient checks in float64?",
            "With h around 1e-5, float32 round-off (about 1e-7 relative) divided by 2h swamps the difference",
            ("float32 cannot store negative gradients", "NumPy cannot subtract float32 arrays exactly",
             "float64 makes the check faster", "It does not matter: both give the same relative error"),
            "The round-off error of a difference grows like eps / h; float64's eps is about 1e-16."),
    Concept("fanout", "02", "A value used by two later nodes of a graph receives which gradient?",
            "The sum of the gradients along both uses", ("The larger of the two", "The one computed last",
                                                         "The product of the two", "Their average"),
            "The multivariate chain rule sums over paths: accumulate with +=, never overwrite with =."),
    Concept("paths", "01", "Along one path from x to L the chain rule ___ the local derivatives; over different "
                           "paths it ___ the contributions.", "multiplies; adds",
            ("adds; multiplies", "multiplies; multiplies", "adds; adds", "multiplies; keeps the largest of"),
            "dL/dx = sum over paths of the product of the local derivatives along that path."),
    Concept("topological", "02", "Why does reverse mode process the nodes in reverse topological order?",
            "A node may pass its gradient on only after every node that uses it has added its share",
            ("To use less memory", "Because the forward pass stores nodes in that order by chance",
             "So that each node is visited twice", "Any order gives the same gradients"),
            "Otherwise a node propagates a partial gradient and the later shares never reach its inputs."),
    Concept("bptt_weights", "06", "In BPTT, the gradient of the recurrent weights Wh is:",
            "the sum over time steps of each step's gradient", ("the gradient of the last step only",
                                                                 "the average over steps of each step's gradient",
                                                                 "the gradient of the first step only",
                                                                 "the product of each step's gradient"),
            "Wh is shared by every step, like a value used T times: its gradients add up."),
    Concept("truncated_bptt", "06", "Truncated BPTT with a window of k steps:",
            "lets the gradient of the loss at step t flow back at most k steps: cheaper, but blind to longer "
            "dependencies", ("computes the exact gradient at a lower cost", "drops the loss of the last k steps",
                             "clips every gradient at norm k", "runs k backward passes"),
            "The truncated gradient is biased: dependencies longer than k steps get no learning signal."),
    Concept("rnn_vanish", "06", "In a vanilla tanh RNN, Wh's largest singular value is 0.9. Over many steps back, "
                                "the gradient reaching an early hidden state:",
            "shrinks geometrically: each step multiplies its norm by at most 0.9",
            ("explodes", "keeps its norm, because tanh' <= 1", "grows like 0.9 * k",
             "is unaffected by Wh"),
            "One step back multiplies by diag(1 - h^2) Wh^T; tanh' <= 1 can only shrink it further."),
    Concept("dead_relu", "08", "A ReLU unit is 'dead' when:",
            "its pre-activation is negative for every input, so its gradient is always 0 and it never recovers",
            ("its output is always positive", "its weights are exactly zero",
             "its gradient explodes", "it is dropped out"),
            "A large negative bias or one too-large learning-rate step can cause it; leaky variants keep a slope."),
    Concept("dropout_backward", "08", "Inverted dropout keeps a unit with probability 1 - p and scales it by "
                                      "1/(1 - p). Its backward multiplies dout by:",
            "the same mask, including the 1/(1 - p) scale", ("the mask without the scale", "(1 - p) everywhere",
                                                             "a fresh random mask", "nothing: dropout has no "
                                                                                    "gradient"),
            "The forward is x * mask with the scaled mask; the backward is dout * mask."),
    Concept("maxpool", "04", "In max pooling's backward, each window's gradient goes to:",
            "only the element that was the maximum; the others get 0", ("every element, divided evenly",
                                                                        "every element, undivided",
                                                                        "the first element of the window",
                                                                        "the minimum, to balance the max"),
            "Max is a switch: its local derivative is 1 for the winner and 0 for the rest; overlapping windows add."),
    Concept("bias_shape", "03", "out = x @ W + b with x (N, D), W (D, M), b (M,). Then db is:",
            "dout.sum(axis=0), shape (M,)", ("dout.sum(axis=1), shape (N,)", "dout itself, shape (N, M)",
                                             "dout.sum(axis=0, keepdims=True), shape (1, M)",
                                             "dout.mean(axis=0), shape (M,)"),
            "b is broadcast over the batch, so its gradient sums dout over the batch axis and has b's shape."),
    Concept("dW_shape", "03", "out = x @ W with x (N, D), W (D, M). Then dW is:",
            "x.T @ dout, shape (D, M)", ("dout.T @ x, shape (M, D)", "dout @ W.T, shape (N, D)",
                                         "x @ dout.T, shape (N, N)", "(x * dout).sum(axis=0)"),
            "A gradient has the shape of what it is the gradient of; x.T (D, N) @ dout (N, M) is the only product "
            "of the two that gives (D, M)."),
    Concept("hvp", "05", "Can automatic differentiation give Hessian-vector products without forming the Hessian?",
            "Yes: differentiate the gradient in direction v (forward-over-reverse), for a few gradient costs",
            ("No: AD is first-order only", "Only by finite differences", "Only by forming the full Hessian",
             "Only for quadratic functions"),
            "H v = d/dt grad f(x + t v) at t = 0: one JVP of the gradient function."),
    Concept("swell", "05", "What is 'expression swell' in symbolic differentiation?",
            "The derivative's expression grows much faster than the function's as functions are composed",
            ("Round-off error that grows with depth", "Gradients that explode in deep networks",
             "Memory for the activations of a long sequence", "The growth of a Jacobian with the batch size"),
            "AD avoids it by propagating numbers (values and derivatives), not expressions."),
)


@family("concept", "Concept question", kind="choice", competency="explanation", weight=2, check=check_choice,
        notebook="01-08")
def _concept(rng: np.random.Generator) -> Problem:
    c = BANK[int(rng.integers(len(BANK)))]
    text, right, wrong, why = c.draw(rng)
    picked = [wrong[int(i)] for i in rng.choice(len(wrong), size=min(N_SHOWN - 1, len(wrong)), replace=False)]
    options = picked + [right]
    order = rng.permutation(len(options))
    shown = [options[int(i)] for i in order]
    letters = "ABCDEFG"[:len(shown)]
    key = letters[shown.index(right)]
    body = text + "\n" + "\n".join(f"  {letters[i]}) {o}" for i, o in enumerate(shown))
    return Problem(
        "concept", "Concept question", body, "one letter (one answer only: a wrong pick costs)", key,
        ("Eliminate the options that are false in one line of reasoning.",
         "Think about what the gradient has to do: its shape, its paths, what the backward needs from the forward.",
         f"Notebook {c.notebook} covers it; the answer is one of the options that mentions the mechanism."),
        f"{right}. {why}", 90, choices=tuple(letters),
        data={"question": c.id, "shown": shown, "correct_option": right, "notebook": c.notebook})
