"""Multiple-choice questions of notebook 02 (computational graphs and a scalar reverse-mode engine).

The right letters are stored only as ``concepts.digest(qid, letter)``; see graders/concepts.py.
"""

from __future__ import annotations

from graders.concepts import Question, digest

QUESTIONS = {
    "shared_weight_gradient": Question(
        text=("A weight matrix W is used in two places of a network (for example tied input and output "
              "embeddings), so the loss depends on W through two paths. What gradient does W receive in one "
              "backward pass?"),
        options={
            "a": "Only the gradient from the use that backpropagation reaches last; it replaces the earlier one.",
            "b": "The average of the two gradients, so that sharing does not change the scale of the update.",
            "c": "The sum of the gradients from the two uses.",
            "d": "The gradient from one use only: the other path is detached because a leaf cannot have two users.",
        },
        answer_digest="4fb12e27507b4d2a1454762ce4758c328d3ba550f9ebbd7868c22c0f70f9c389",
        feedback={
            "617b1e0138bbfc9f08f0453be17042596ac9e26609f7f99218f99b8f9a8ee255":
                "replacing one contribution by the other is exactly the `=` instead of `+=` bug; the multivariate "
                "chain rule keeps every path.",
            "9eec8ee5cf48db9f5465d4f872119dee9773ee1f0a87424b4d002bb6dc5b8886":
                "the chain rule does not divide by the number of uses: dL/dW is a sum over the paths from W to L, "
                "one term per use.",
            "c5d2c27d13cd16515820728789cae070a02078b4a6cbe5c3c3c8c4f5132428bf":
                "a value may feed any number of operations (x * x is the smallest example); nothing is detached.",
        },
    ),
    "backward_twice_pytorch": Question(
        text=("In PyTorch, w is a leaf tensor with requires_grad=True and w.grad is None. You compute loss = f(w), "
              "call loss.backward(retain_graph=True), then call loss.backward() a second time, with no "
              "zero_grad() in between. What does w.grad hold afterwards? (g is d loss / d w.)"),
        options={
            "a": "g: the second call recomputes the same gradient and overwrites w.grad.",
            "b": "2 g: each call adds its gradient into w.grad.",
            "c": "0: the second call notices the gradient is already there and resets it.",
            "d": "None: gradients of leaf tensors are only kept when you call retain_grad().",
        },
        answer_digest="2d1a728c18bcc5c7d06c3037ac402b28590490314d65453b6a5859fa446f437f",
        feedback={
            "bc28697e902ff1da4c6b5860da75d8c72dd21dc1152d367126f12a0dabef3371":
                "that is what the notebook's engine does (it resets every grad first); PyTorch accumulates into "
                ".grad, which is why training loops call optimizer.zero_grad().",
            "f7853cbf118d0101bd239193a0e6e4fa41d82c4f9f0cf0a70f08e392bac0b7d3":
                "nothing in backward() resets a leaf's .grad; only zero_grad() (or assigning .grad yourself) does.",
            "150670ec1f6231fc3954e1d248839c2694c6c0342e75df5347cbf60cc781e872":
                "retain_grad() is needed for NON-leaf tensors; a leaf with requires_grad=True always gets .grad.",
        },
    ),
}

# The stored digests must be those of real options (a typo here would make a question unanswerable).
assert all(q.answer_digest in {digest(qid, letter) for letter in q.options} for qid, q in QUESTIONS.items())
