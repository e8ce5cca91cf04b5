"""Multiple-choice questions of notebook 04 (Jacobians and vector-Jacobian products). Right letters are stored
only as salted digests (see graders/concepts.py); feedback is keyed by the digest of a wrong option."""

from __future__ import annotations

from graders.concepts import Question

QUESTIONS = {
    "why_vjp": Question(
        text=('An interviewer asks: "Backprop is a product of Jacobians. Why does no deep-learning framework ever '
              'build them?" Which answer is best?'),
        options={
            "a": "Jacobians do not exist at ReLU kinks or max-pool ties, so frameworks must use another object.",
            "b": "Multiplying full Jacobians from the input towards the loss would be numerically unstable.",
            "c": ("J has (outputs x inputs) entries, but the backward pass only needs u^T J, which costs about as "
                  "much as the operation itself."),
            "d": "Finite differences give u^T J more accurately than an explicitly formed Jacobian would.",
        },
        answer_digest="4e6afe8c2eeec4631cabad1f3a951cb827aeecf82f70b06d5738f345088a1a62",
        feedback={
            "b362ee41d6c8b2c848a99d4a81aaea8b41d127ef21539a2c60d03481af616b25":
                "kinks and ties are measure-zero details (frameworks pick one subgradient); the Jacobian exists "
                "almost everywhere, and it is not formed even for smooth layers such as softmax.",
            "70aceb9ffa86926565f8ac9f29e5703cc0f63ddd727f65c5bf40d994d5436af5":
                "the order of the products is about cost (reverse mode: vector times matrix), not stability; and "
                "the question is why J is never formed at all.",
            "98a31353a0fae139218c34af11e5c1d5a4ab05c62a470cd49e548ef2d4c40f96":
                "frameworks compute exact derivatives by automatic differentiation, never finite differences.",
        },
    ),
}
