"""Fixed inputs and constants of notebook 10 (attention): what its non-test cells need, and nothing they must
work out themselves (no answers, no reference gradients).

NumPy and the standard library only, so that it imports in the cohort grader's sandbox, where the checks and
reference_impl do not exist.

- :func:`one_query_example`: the worked example and the hand trace (one query, three keys, scalar values);
- :data:`MEMORY_QUESTION`: the sizes of the score-matrix cost question;
- :func:`demo_tokens`, :func:`demo_qkv`: a small self-attention input for the heatmap of the weights;
- :data:`VARIANCE_DIMS`: the key widths of the 1/sqrt(d) measurement.
"""

from __future__ import annotations

import numpy as np

__all__ = ["one_query_example", "MEMORY_QUESTION", "demo_tokens", "demo_qkv", "VARIANCE_DIMS"]

# The sizes of the cost question: a long-context training step of a mid-sized model, bfloat16 activations.
MEMORY_QUESTION = {
    "B": 4,                 # sequences per batch
    "h": 32,                # heads
    "T": 8192,              # tokens per sequence
    "d_head": 128,          # width of one head (D = h * d_head = 4096)
    "bytes_per_value": 2,   # bfloat16
    "layers": 32,           # attention layers, each keeping its own P for the backward
}

VARIANCE_DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def one_query_example() -> dict:
    """The worked example: one query q (d = 4), three keys (rows of K), scalar values v, and the upstream
    gradient g = dL/dout of the scalar output. Fresh arrays on every call."""
    return {
        "q": np.array([1.0, 0.0, 1.0, 2.0]),
        "K": np.array([[1.0, 1.0, 1.0, 1.0],
                       [0.0, 1.0, 2.0, 0.0],
                       [1.0, 3.0, -1.0, 0.0]]),
        "v": np.array([1.0, 3.0, -2.0]),
        "g": 2.0,
    }


def demo_tokens() -> list[str]:
    """The six tokens of the heatmap demo (a short sentence, one token per word)."""
    return ["the", "cat", "sat", "on", "the", "mat"]


def demo_qkv(seed: int = 0, d: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V of shape (1, 6, d) for the six demo tokens: random, with the second "the" made to look like the
    first (its key close to the first one's), so that a query attending to "the" has two candidates."""
    rng = np.random.default_rng(seed)
    T = len(demo_tokens())
    Q = rng.standard_normal((1, T, d))
    K = rng.standard_normal((1, T, d))
    K[0, 4] = K[0, 0] + 0.1 * rng.standard_normal(d)
    Q[0, 5] = 1.5 * K[0, 0]
    V = rng.standard_normal((1, T, d))
    return Q, K, V
