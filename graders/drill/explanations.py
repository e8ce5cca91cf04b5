"""Explanation problems: answer out loud or in writing, then tick the key points of a checklist.

The candidate first answers (typing the answer, or saying it and typing nothing), and only then sees the
checklist of what a strong interview answer contains; they tick the points they covered and the problem
scores the ticked weight over the total weight (:mod:`graders.drill.scoring` adds the time and hint rules).
When the answer was written, a ticked point whose key words do not appear in it is pointed out in the
debrief ("ticked, but not in your written answer"); the score still follows the ticks, as an interviewer's
would follow what was said.

The checklists are hand-written from what the notebooks teach; the numbers they quote are the course's own
(0.25^4 = 0.0039, 1.5^100 = 4.07e17, ...), pinned by tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from graders.drill.registry import Feedback, KeyPoint, Problem, family

K = KeyPoint


@dataclass(frozen=True)
class Explanation:
    id: str
    prompt: str
    points: tuple[KeyPoint, ...]
    notebook: str
    minutes: int = 4


BANK: tuple[Explanation, ...] = (
    Explanation("reverse_mode", "Why does deep learning train with reverse-mode automatic differentiation "
                                "(backpropagation) and not forward mode? Answer as in an interview, in about a minute.",
                (K("A scalar loss and many parameters: one reverse pass gives every partial derivative, at a small "
                   "multiple of the forward pass's cost", 2, r"one (backward|reverse) pass|all (the )?(parameters|"
                                                             r"partial|derivatives)|every (parameter|partial)"),
                 K("Forward mode needs one pass per input direction: n passes for n parameters", 2,
                   r"(one|a) pass per|n passes|per (input|parameter)|each (input|parameter)"),
                 K("The price of reverse mode is memory: the forward activations are stored (or recomputed: "
                   "checkpointing)", 1, r"memory|stor|activation|checkpoint"),
                 K("Reverse mode computes vector-Jacobian products (rows), forward mode Jacobian-vector products "
                   "(columns)", 1, r"vjp|jvp|vector.jacobian|jacobian.vector|row|column")), "05"),
    Explanation("batchnorm_backward", "Walk me through the backward pass of batchnorm. Where do the terms of dx come "
                                      "from, and how would you test your implementation?",
                (K("Start from dxhat = gamma * dout (gamma must not be forgotten)", 1, r"gamma"),
                 K("A direct path through xhat: dxhat / std", 1, r"direct|/\s*std|inv_std|1/sigma|xhat"),
                 K("The batch mean depends on every x_i: a term -mean(dxhat) / std", 2, r"mean|\bmu\b"),
                 K("The batch variance depends on every x_i: a term -xhat * mean(dxhat * xhat) / std", 2,
                   r"varian|\bvar\b"),
                 K("dgamma = sum over the batch of dout * xhat, dbeta = sum of dout (axis 0)", 1,
                   r"dgamma|dbeta|sum over the batch|axis\s*=?\s*0"),
                 K("Test with finite differences and a RANDOM upstream gradient: with dout = ones the true dx is 0 "
                   "and wrong backwards pass", 2, r"random|ones|finite diff|gradient check")), "07", 5),
    Explanation("vanishing", "Explain vanishing and exploding gradients, with numbers, and what is done about them.",
                (K("Backprop multiplies one factor per layer (roughly |W| times the activation's slope)", 2,
                   r"multipl|product|per layer|each layer"),
                 K("sigmoid' <= 0.25, so n sigmoid layers shrink the gradient by at least 4^n (0.25^4 = 0.0039)", 2,
                   r"0?\.25|1/4|4\^|0\.0039"),
                 K("Factors above 1 explode: 1.5 per layer over 100 layers is about 4e17", 1,
                   r"explod|1\.5|e17|10\^17"),
                 K("Remedies for vanishing: ReLU-like activations, He/Xavier initialization, residual connections, "
                   "normalization (and gating in RNNs)", 2, r"relu|he |xavier|glorot|residual|skip|norm|lstm|gat"),
                 K("For exploding: gradient clipping by global norm", 1, r"clip")), "08"),
    Explanation("zero_init", "Why can't you initialize every weight to zero? And to the same nonzero constant?",
                (K("All zeros with ReLU or tanh: hidden outputs are 0, so dW2 = 0 and nothing reaches layer 1; at "
                   "most the output bias moves", 2, r"output bias|b2|only the (last|output)|nothing (reaches|flows)|"
                                                    r"hidden (outputs|activations) (are )?(all )?(0|zero)"),
                 K("A constant: every unit computes the same output and gets the same gradient, so the units stay "
                   "identical forever (symmetry)", 2, r"symmetr|same gradient|identical|same (output|update)"),
                 K("The layer then behaves like a single unit, however wide", 1, r"one unit|single unit|one neuron"),
                 K("Random initialization breaks the symmetry; its scale matters too (He / Xavier)", 1,
                   r"random|break|he |xavier|glorot")), "03, 08"),
    Explanation("softmax_ce", "Derive the gradient of softmax followed by cross-entropy with respect to the logits, "
                              "and say why the result is so simple.",
                (K("L = -log p_y with p = softmax(z)", 1, r"-\s*log|log p"),
                 K("dL/dz = p - onehot(y) for one example", 2, r"p\s*-\s*(y|onehot|one-hot)"),
                 K("The softmax Jacobian diag(p) - p p^T applied to -y/p collapses to p - y", 1,
                   r"jacobian|diag|p\s*p\^?t|collapse|cancel"),
                 K("For the mean over a batch of N examples, divide by N", 1, r"/\s*n\b|mean|average|1/n"),
                 K("Compute it stably: log-softmax with the row maximum subtracted", 1, r"stab|max|overflow|logsumexp"
                                                                                     r"|log.softmax")), "03, 04"),
    Explanation("gradient_check", "You wrote a backward pass. How do you check it?",
                (K("Centred differences (f(x + h) - f(x - h)) / (2h) with h about 1e-5", 2, r"centr|center|2h|2 ?\* ?h|"
                                                                                          r"finite"),
                 K("In float64", 1, r"float64|double"),
                 K("Compare with a relative error such as max|a - b| / max(|a| + |b|), against a band (about 1e-7 "
                   "is good)", 2, r"relative|rel_error|1e-?7|tolerance"),
                 K("Use a random upstream gradient (never ones) and inputs away from kinks (ReLU at 0)", 1,
                   r"random|ones|kink"),
                 K("Small sizes with N, D, M all different, so a missing transpose fails loudly", 1,
                   r"shape|transpose|different|distinct|small"),
                 K("Switch it off for training: it costs two forward passes per parameter", 1,
                   r"slow|expensive|cost|off|disable")), "03"),
    Explanation("bptt", "Explain backpropagation through time and truncated BPTT.",
                (K("Unroll the RNN over T steps: a deep network whose layers share Wx, Wh, b", 2,
                   r"unroll|share|same weights"),
                 K("Weight gradients are summed over the time steps", 2, r"sum|accumulat|add"),
                 K("The gradient reaching h_t is dh_t from the loss plus the carry from step t+1 (through tanh' and "
                   "Wh^T)", 2, r"carry|plus|\+|from (step )?t ?\+ ?1|next step"),
                 K("Repeated multiplication by Wh^T and tanh' makes long-range gradients vanish or explode", 1,
                   r"vanish|explod|repeated"),
                 K("Truncation: the gradient flows back at most k steps; cheaper, but dependencies longer than k get "
                   "no signal", 2, r"truncat|k steps|window")), "06", 5),
    Explanation("lstm", "Why does an LSTM suffer less from vanishing gradients than a vanilla RNN?",
                (K("The cell state is updated additively: c_t = f_t * c_(t-1) + i_t * g_t", 2, r"additiv|c_?t|cell"),
                 K("So dc_t / dc_(t-1) = f_t, the forget gate: no tanh' and no repeated multiplication by Wh", 2,
                   r"forget|f_?t|no (tanh|wh)"),
                 K("With the forget gate near 1, the gradient passes almost unchanged over many steps", 1,
                   r"near 1|close to 1|unchanged|highway|constant error"),
                 K("The gates are learned, and the gradient can still vanish when the forget gate is small", 1,
                   r"learn|still|small"))
                , "06"),
    Explanation("residual", "What do residual connections do to the gradient?",
                (K("y = x + F(x) gives dL/dx = dL/dy + (dF/dx)^T dL/dy", 2, r"\+|identity|plus"),
                 K("The identity path carries the gradient to early layers unchanged", 2,
                   r"identity|unchanged|direct|highway|skip"),
                 K("Across layers the Jacobians are (I + J_F) instead of J_F, so their product keeps an identity "
                   "term and does not shrink towards zero the way a product of small J_F does", 1,
                   r"i ?\+ ?j|product|vanish"),
                 K("This is what makes very deep networks (ResNets, transformers) trainable", 1,
                   r"deep|resnet|transformer|100")), "08"),
    Explanation("clipping", "Gradient clipping versus weight decay: what does each do about an exploding gradient?",
                (K("Clipping by global norm: when ||g|| > max_norm, scale every gradient by max_norm / ||g||", 2,
                   r"global|norm|scale"),
                 K("The direction of the update is kept; clipping each tensor separately changes it", 1,
                   r"direction|per.tensor|separately"),
                 K("Weight decay adds lambda * W to the gradient: it cannot cap a single spike, it keeps weights "
                   "small over time", 2, r"lambda|decay|weights small|over time"),
                 K("Clipping does nothing for vanishing gradients", 1, r"vanish"),
                 K("Log the norm before clipping to spot explosions", 1, r"log|monitor|before")), "06, 08"),
    Explanation("modes_cost", "Compare forward and reverse mode for a function from R^n to R^m: cost, memory, and "
                              "when you would use each.",
                (K("Forward mode: one Jacobian-vector product (a column) per pass, so n passes for the full Jacobian",
                   2, r"column|jvp|n passes|per input"),
                 K("Reverse mode: one vector-Jacobian product (a row) per pass, so m passes", 2,
                   r"row|vjp|m passes|per output"),
                 K("A neural network's loss has m = 1, so reverse mode", 1, r"m ?= ?1|scalar|loss"),
                 K("Forward mode (dual numbers) needs no stored graph; reverse mode stores the forward values", 1,
                   r"dual|memory|store|tape"),
                 K("Forward mode wins for few inputs and many outputs (e.g. a Jacobian column, a JVP inside "
                   "Hessian-vector products)", 1, r"few inputs|many outputs|hessian|hvp")), "05"),
    Explanation("checkpointing", "What is gradient checkpointing and what does it trade?",
                (K("Keep only some activations (e.g. every k-th layer) from the forward pass", 2,
                   r"keep|store|every|checkpoint"),
                 K("Recompute each segment's activations during the backward, from its checkpoint", 2,
                   r"recomput"),
                 K("With sqrt(N) checkpoints: O(sqrt(N)) memory instead of O(N)", 1, r"sqrt|√"),
                 K("For about one extra forward pass of compute", 1, r"one extra|extra forward|compute|time")), "05"),
    Explanation("vjp", "What is a vector-Jacobian product and why do frameworks never build Jacobians?",
                (K("u^T J: the gradient with respect to a layer's input, given the gradient with respect to its "
                   "output", 2, r"u\^?t|upstream|vector.jacobian|vjp"),
                 K("The Jacobian of a layer on a batch is huge: (N M) x (N D) for an affine layer", 2,
                   r"huge|size|n ?m|\(n|memory|entries"),
                 K("Each layer implements its VJP directly, e.g. dx = dout @ W.T", 1, r"dout|w\.?t|directly"),
                 K("At about the cost of the forward pass", 1, r"cost|cheap|forward")), "04"),
    Explanation("bn_train_test", "Why does batchnorm behave differently at training and test time, and what can go "
                                 "wrong?",
                (K("Training: normalize with the batch's mean and variance, and update running averages "
                   "(momentum)", 2, r"batch|running|momentum"),
                 K("Test: normalize with the running statistics, so each example's output is deterministic and "
                   "independent of its batch", 2, r"running|test|eval|inference|independent"),
                 K("Small batches give noisy statistics", 1, r"small|noisy|batch size"),
                 K("Forgetting to switch to eval mode makes outputs depend on the test batch", 1,
                   r"forget|eval mode|model\.eval|switch"),
                 K("Layernorm has no such difference (per-example statistics)", 1, r"layer ?norm")), "07"),
    Explanation("dead_relu", "What is a dead ReLU, how do you detect it, and how do you prevent it?",
                (K("Its pre-activation is negative for every input, so its gradient is always 0 and it never "
                   "recovers", 2, r"negative|zero gradient|never|always 0"),
                 K("Caused by a large negative bias or a too-large learning-rate step", 1,
                   r"bias|learning rate|step|lr"),
                 K("Detect it: the fraction of units that are never active on a batch", 1,
                   r"fraction|never active|count|monitor"),
                 K("Prevent it: leaky ReLU/GELU, He initialization, a smaller learning rate", 2,
                   r"leaky|gelu|elu|he |smaller|lower")), "08"),
    Explanation("fanout", "How do gradients flow through a computational graph where a value is used twice?",
                (K("Visit the nodes in reverse topological order", 1, r"topolog|reverse order"),
                 K("Each node multiplies the upstream gradient by its local derivative", 1,
                   r"local|upstream|chain"),
                 K("A value used twice receives the SUM of the gradients from both uses (+=, never =)", 2,
                   r"sum|\+=|add|accumulat"),
                 K("Because the multivariate chain rule sums over paths", 1, r"path|multivariate"),
                 K("Reset the gradients before another backward pass", 1, r"reset|zero")), "02"),
    Explanation("pool_dropout", "How do you backpropagate through max pooling and through dropout?",
                (K("Max pooling: each window's gradient goes to its maximal element only, the rest get 0", 2,
                   r"max|argmax|winner"),
                 K("Overlapping windows add their contributions", 1, r"overlap|add|accumulat"),
                 K("Dropout: multiply dout by the same mask as the forward, including the 1/(1 - p) scale", 2,
                   r"same mask|mask|1 ?/ ?\(1|scale"),
                 K("At test time dropout is the identity", 1, r"test|identity|eval|inference")), "04, 08"),
    Explanation("affine_shapes", "Derive the gradients of out = x @ W + b, with shapes, and say how you catch shape "
                                 "bugs.",
                (K("dx = dout @ W.T with shape (N, D)", 2, r"dout ?@ ?w\.?t|\(n, ?d\)"),
                 K("dW = x.T @ dout with shape (D, M)", 2, r"x\.?t ?@ ?dout|\(d, ?m\)"),
                 K("db = dout summed over the batch (axis 0), shape (M,)", 1, r"sum|axis ?= ?0|\(m,?\)"),
                 K("A gradient has the shape of what it is the gradient of; the shapes determine the formula", 1,
                   r"shape"),
                 K("Test with N, D, M all different so a transpose cannot hide", 1,
                   r"different|distinct|transpose")), "03"),
)


def check_explanation(problem: Problem, answer: Any) -> Feedback:
    """Explanations are not judged from text; the session reveals the checklist and scores the ticks."""
    return Feedback(False, "Explanations are scored from the checklist you tick after answering.", "FORMAT",
                    counts=False)


def score_ticks(problem: Problem, ticked: Sequence[int]) -> float:
    """Ticked weight over total weight (indices into ``problem.checklist``; invalid indices raise ValueError)."""
    points = problem.checklist
    chosen = set()
    for i in ticked:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < len(points):
            raise ValueError(f"checklist item {i!r} does not exist (0..{len(points) - 1})")
        chosen.add(int(i))
    total = sum(p.weight for p in points)
    return round(sum(points[i].weight for i in chosen) / total, 4)


def unsupported_ticks(problem: Problem, ticked: Sequence[int], text: str) -> list[str]:
    """Ticked points whose key words do not appear in a written answer (empty when nothing was written)."""
    if not text or not text.strip():
        return []
    out = []
    for i in sorted(set(int(t) for t in ticked)):
        p = problem.checklist[i]
        if p.pattern and not re.search(p.pattern, text, re.I):
            out.append(p.text)
    return out


@family("explain", "Explanation: answer, then tick the key points", kind="explanation", competency="explanation",
        weight=3, check=check_explanation, notebook="01-08")
def _explain(rng: np.random.Generator) -> Problem:
    e = BANK[int(rng.integers(len(BANK)))]
    order = rng.permutation(len(e.points))
    checklist = tuple(e.points[int(i)] for i in order)
    words = ", ".join(p.text.split(":")[0].split(",")[0][:40] for p in checklist[:2])
    return Problem(
        "explain", "Explanation: answer, then tick the key points",
        e.prompt + "\n\nAnswer out loud or in writing first; the checklist appears after you submit.",
        "free text, or nothing if you answered out loud", None,
        ("Open with the one-sentence answer, then the mechanism, then a number or a formula.",
         "Say what goes wrong without it, and how you would check it.",
         f"A strong answer mentions, among others: {words}."),
        "A strong answer covers: " + "; ".join(p.text for p in checklist) + ".", e.minutes * 60,
        checklist=checklist, data={"question": e.id, "notebook": e.notebook})
