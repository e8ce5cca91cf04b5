"""Public material of notebook 13 (backprop at tensor level): data generators, fixed small inputs, the in-place
scenarios and float16 constants. NumPy and the standard library only; no answers, no reference gradients.

The notebook's non-test cells import this module; so do its demo cells in cohort grading, where the checks and
reference_impl are absent. The data generators are the ones of ``reference_impl.datasets`` (same formulas, same
draws from the same Generator: a test pins that they agree), so the notebook trains on exactly the data the
grader uses.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["make_spirals", "make_moons", "init_mlp", "FP16_MAX", "FP16_SMALLEST_NORMAL", "FP16_SMALLEST_SUBNORMAL",
           "FP16_SPACING_AT_1", "INPLACE_SCENARIOS", "BROADCAST_EXAMPLE", "EMBEDDING_EXAMPLE", "DROPOUT_EXAMPLE",
           "TRAIN_SETTINGS", "TRAIN_ACCURACY", "micro_batches"]

# --------------------------------------------------------------------------------------------- float16 facts
FP16_MAX = float(np.finfo(np.float16).max)                              # 65504
FP16_SMALLEST_NORMAL = float(np.finfo(np.float16).smallest_normal)      # 2**-14 ~ 6.1e-5
FP16_SMALLEST_SUBNORMAL = float(np.finfo(np.float16).smallest_subnormal)  # 2**-24 ~ 6.0e-8
FP16_SPACING_AT_1 = float(np.spacing(np.float16(1.0)))                  # 2**-10 ~ 9.8e-4


# --------------------------------------------------------------------------------------------- data
def _count(n, name: str, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {n!r}")
    return int(n)


def _noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")


def make_spirals(rng: np.random.Generator, n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2):
    """K interleaved spiral arms: arm k has points r_i (sin t_i, cos t_i) with r_i = i / (n - 1) and
    t_i = 4k + 4 r_i + noise * N(0, 1). Returns X (K n, 2) float64 and y (K n,) int64, grouped by class."""
    _rng(rng)
    n = _count(n_per_class, "n_per_class", 2)
    K = _count(n_classes, "n_classes", 2)
    noise = _noise(noise)
    r = np.linspace(0.0, 1.0, n)
    X = np.empty((n * K, 2))
    y = np.repeat(np.arange(K, dtype=np.int64), n)
    for k in range(K):
        t = 4.0 * k + 4.0 * r + noise * rng.standard_normal(n)
        X[k * n:(k + 1) * n] = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return X, y


def make_moons(rng: np.random.Generator, n_samples: int = 200, noise: float = 0.1):
    """Two interleaving half circles (class 0 upper, class 1 lower and shifted) plus noise * N(0, I).
    Returns X (n_samples, 2) float64 and y (n_samples,) int64 in {0, 1}."""
    _rng(rng)
    N = _count(n_samples, "n_samples", 2)
    noise = _noise(noise)
    n0 = N - N // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, N // 2)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(N // 2, dtype=np.int64)])
    return X, y


def init_mlp(layer_sizes, rng: np.random.Generator) -> dict:
    """He-initialized MLP parameters {"W1": (d0, d1), "b1": (d1,), ...}: W ~ N(0, 2 / fan_in), biases 0.
    The same draws as ``reference_impl.network.init_params(layer_sizes, "he", rng)``."""
    _rng(rng)
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs at least two positive sizes, got {layer_sizes}")
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{l}"] = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        params[f"b{l}"] = np.zeros(fan_out)
    return params


def micro_batches(N: int, sizes) -> list:
    """Index arrays of consecutive micro-batches of the given sizes (they must add up to N)."""
    sizes = [int(s) for s in sizes]
    if sum(sizes) != N or min(sizes) < 1:
        raise ValueError(f"micro-batch sizes {sizes} must be >= 1 and add up to N = {N}")
    edges = np.cumsum([0] + sizes)
    return [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]


# The graded training run and the accuracy it must reach (moons; see the notebook's training section).
TRAIN_SETTINGS = {"layer_sizes": (2, 16, 2), "lr": 0.5, "steps": 300, "n_samples": 200, "noise": 0.15}
TRAIN_ACCURACY = 0.95

# --------------------------------------------------------------------------------------------- small numbers
# x (2, 3) + b (3,): b is reused by both rows
BROADCAST_EXAMPLE = {
    "x": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    "b": np.array([10.0, 20.0, 30.0]),
    "dout": np.array([[1.0, -1.0, 2.0], [3.0, 0.5, -2.0]]),
}

# W (4, 2), ids with a repeat (row 2 is looked up twice)
EMBEDDING_EXAMPLE = {
    "W": np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]]),
    "idx": np.array([2, 0, 2], dtype=np.int64),
    "dout": np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
}

DROPOUT_EXAMPLE = {"x": np.array([[1.0, 2.0, 3.0, 4.0]]), "p_drop": 0.5, "seed": 3}

# --------------------------------------------------------------------------------------------- in-place scenarios
# PyTorch code after which `loss.backward()` runs. Exercise: which of them make the backward refuse (PyTorch's
# "one of the variables needed for gradient computation has been modified by an inplace operation") because
# it would otherwise read overwritten values? x is data (requires_grad=False); W, W1, W2 are parameters.
INPLACE_SCENARIOS = {
    "relu_inplace_after_matmul": "h = torch.relu_(x @ W)        # nn.ReLU(inplace=True)\nloss = (h @ W2).sum()",
    "relu_input_modified": "h = x @ W\nr = torch.relu(h)\nh.add_(1.0)                    # the INPUT of relu changes\n"
                           "loss = (r @ W2).sum()",
    "sigmoid_input_modified": "h = x @ W\ns = torch.sigmoid(h)\nh.mul_(2.0)                    # the INPUT of sigmoid "
                              "changes\nloss = (s @ W2).sum()",
    "exp_input_modified": "h = x @ W\ne = torch.exp(h)\nh.zero_()                      # the INPUT of exp changes\n"
                          "loss = e.sum()",
    "sigmoid_output_modified": "s = torch.sigmoid(x @ W)\ns.mul_(2.0)                    # the OUTPUT of sigmoid "
                               "changes\nloss = (s @ W2).sum()",
    "tanh_output_modified": "t = torch.tanh(x @ W)\nt.add_(1.0)                    # the OUTPUT of tanh changes\n"
                            "loss = (t @ W2).sum()",
    "matmul_operand_modified": "h = torch.tanh(x @ W1)\nx.sub_(x.mean(0))              # x, an OPERAND of the "
                               "matmul, changes\nloss = (h @ W2).sum()",
    "mul_operand_modified": "a = x @ W1\nb = x @ W2\nc = a * b\nwith torch.no_grad():\n    a.mul_(2.0)                "
                            "# an OPERAND of the multiply changes\nloss = c.sum()",
    "log_input_modified": "h = torch.sigmoid(x @ W) + 1.0\nl = torch.log(h)\nwith torch.no_grad():\n    "
                          "h.add_(1.0)                # the INPUT of log changes\nloss = l.sum()",
}
