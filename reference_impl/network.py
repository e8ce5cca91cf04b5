"""An L-layer fully connected network built from the reference layers.

Parameters live in a dict ``{"W1": (d0, d1), "b1": (d1,), ..., "WL": (d_{L-1}, d_L), "bL": (d_L,)}``.
Hidden layers use one activation; the last layer is affine and feeds softmax cross-entropy or MSE.
"""

from __future__ import annotations

import numpy as np

from reference_impl import layers, losses
from reference_impl._checks import as_array

ACTIVATIONS = {
    "relu": (layers.relu_forward, layers.relu_backward),
    "tanh": (layers.tanh_forward, layers.tanh_backward),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward),
    "leaky_relu": (layers.leaky_relu_forward, layers.leaky_relu_backward),
    "identity": (lambda x: (as_array(x, "x"), None), lambda dout, cache: dout),
}
LOSSES = {"softmax": losses.softmax_cross_entropy, "mse": losses.mse_loss}
INIT_SCHEMES = ("he", "xavier", "zeros", "normal")


def init_params(layer_sizes, scheme: str = "he", rng: np.random.Generator | None = None, scale: float = 0.01):
    """Initial weights for layer sizes [d0, d1, ..., dL].

    Schemes: "he" W ~ N(0, 2/fan_in) (keeps ReLU activation variance steady), "xavier"
    W ~ N(0, 2/(fan_in + fan_out)) (tanh/sigmoid), "normal" W ~ N(0, scale^2), "zeros" (all units
    stay identical: symmetry is never broken). Biases start at zero.

    Returns:
        dict with "W{l}": (d_{l-1}, d_l) and "b{l}": (d_l,) for l = 1..L.
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs at least two positive sizes, got {layer_sizes}")
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose from {INIT_SCHEMES}")
    if scheme != "zeros" and not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        if scheme == "zeros":
            W = np.zeros((fan_in, fan_out))
        else:
            std = {"he": np.sqrt(2.0 / fan_in), "xavier": np.sqrt(2.0 / (fan_in + fan_out)), "normal": scale}[scheme]
            W = rng.standard_normal((fan_in, fan_out)) * std
        params[f"W{l}"] = W
        params[f"b{l}"] = np.zeros(fan_out)
    return params


def num_layers(params) -> int:
    """Number of affine layers L in a parameter dict; checks that the shapes chain."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise ValueError("params has no 'W1'")
    for l in range(1, L + 1):
        W, b = np.shape(params[f"W{l}"]), np.shape(params.get(f"b{l}"))
        if len(W) != 2 or b != (W[1],):
            raise ValueError(f"layer {l}: W{l} {W} and b{l} {b} do not fit")
        if l > 1 and W[0] != np.shape(params[f"W{l - 1}"])[1]:
            raise ValueError(f"W{l} has {W[0]} rows but layer {l - 1} has {np.shape(params[f'W{l - 1}'])[1]} units")
    return L


def _forward(params, X, activation: str):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    act_fwd, _ = ACTIVATIONS[activation]
    L = num_layers(params)
    h = as_array(X, "X", 2)
    caches, hidden = [], []
    for l in range(1, L + 1):
        z, aff_cache = layers.affine_forward(h, params[f"W{l}"], params[f"b{l}"])
        if l == L:
            caches.append((aff_cache, None))
            return z, caches, hidden
        h, act_cache = act_fwd(z)
        caches.append((aff_cache, act_cache))
        hidden.append(h)


def hidden_activations(params, X, activation: str = "relu"):
    """Hidden-layer outputs for inputs X (N, d0): a list of L-1 arrays, the l-th of shape (N, d_l)."""
    return _forward(params, X, activation)[2]


def mlp_scores(params, X, activation: str = "relu"):
    """Output scores (N, d_L) of the network for inputs X (N, d0)."""
    return _forward(params, X, activation)[0]


def mlp_loss_and_grads(params, X, y, loss: str = "softmax", activation: str = "relu"):
    """Loss and gradients of every parameter.

    Args:
        params: dict as returned by init_params. X: (N, d0).
        y: (N,) integer labels for "softmax", or (N, d_L) targets for "mse".
    Returns:
        loss: float. grads: dict with the same keys and shapes as params.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {sorted(LOSSES)}")
    scores, caches, _ = _forward(params, X, activation)
    value, dz = LOSSES[loss](scores, y)
    _, act_bwd = ACTIVATIONS[activation]
    grads = {}
    for l in range(len(caches), 0, -1):
        aff_cache, act_cache = caches[l - 1]
        if l < len(caches):
            dz = act_bwd(dz, act_cache)
        dz, grads[f"W{l}"], grads[f"b{l}"] = layers.affine_backward(dz, aff_cache)
    return value, grads


def train_mlp(params, X, y, *, lr: float, steps: int, loss: str = "softmax", activation: str = "relu",
              batch_size: int | None = None, rng: np.random.Generator | None = None):
    """Plain SGD. Returns (new params dict, list of the loss before each step). ``params`` is not modified.

    With ``batch_size`` set, each step uses a minibatch drawn with ``rng``; otherwise the full batch.
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    X = as_array(X, "X", 2)
    y = np.asarray(y)
    if batch_size is not None and not isinstance(rng, np.random.Generator):
        raise TypeError("minibatch training needs rng, a numpy.random.Generator")
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
    history = []
    for _ in range(steps):
        if batch_size is None:
            xb, yb = X, y
        else:
            idx = rng.choice(X.shape[0], size=min(batch_size, X.shape[0]), replace=False)
            xb, yb = X[idx], y[idx]
        value, grads = mlp_loss_and_grads(params, xb, yb, loss=loss, activation=activation)
        if not np.isfinite(value):
            raise FloatingPointError(f"loss became {value} after {len(history)} steps; lower the learning rate")
        history.append(value)
        params = {k: params[k] - lr * grads[k] for k in params}
    return params, history
