"""Embedding lookup as a differentiable layer, and weight tying (one matrix used twice).

An embedding table W (V, D) maps integer ids to rows: ``out[..., :] = W[idx[...], :]``. The lookup
is a matrix product with one-hot rows, ``out = onehot(idx) @ W``, so its backward is
``dW = onehot(idx).T @ dout``: row v of dW is the SUM of the upstream gradients of every position
that looked up v. That is a scatter-add, ``np.add.at(dW, idx, dout)``.

The tempting ``dW[idx] += dout`` is wrong when an id repeats: NumPy evaluates it as
``dW[idx] = dW[idx] + dout`` with a buffered read and write, so of several writes to one row only the
last survives (:func:`embedding_backward_lost_updates` shows both results side by side).

Weight tying uses one matrix twice, e.g. as the input embedding and as the output projection of a
language model (``logits = h @ E.T``). Every use contributes a gradient and they add: the gradient of
the tied model equals the sum of the gradients of an untied copy evaluated at equal matrices
(:func:`tied_lm_loss_and_grads`, :func:`untied_lm_loss_and_grads`).
"""

from __future__ import annotations

import numpy as np

from reference_impl import losses
from reference_impl._checks import as_array, expect_shape

__all__ = ["embedding_forward", "embedding_backward", "embedding_backward_lost_updates",
           "init_tied_lm", "tied_lm_loss_and_grads", "untied_lm_loss_and_grads"]


def _check_ids(idx, V: int, name: str = "idx") -> np.ndarray:
    """idx as an int64 array with every entry in [0, V) (no negative ids: NumPy would wrap them)."""
    arr = np.asarray(idx)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of ids, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= V):
        raise ValueError(f"{name} entries must be in [0, {V}) (rows of W), got range [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=True)


# --------------------------------------------------------------------------- lookup
def embedding_forward(W, idx):
    """Row lookup: out[..., d] = W[idx[...], d].

    Args:
        W: (V, D) embedding table. idx: integer ids in [0, V), any shape I (a scalar id too).
    Returns:
        out: I + (D,), a new array; cache: (idx, V).
    """
    W = as_array(W, "W", 2)
    idx = _check_ids(idx, W.shape[0])
    return W[idx], (idx, W.shape[0])


def embedding_backward(dout, cache):
    """Scatter-add: dW[v] = sum of dout[p] over every position p with idx[p] == v.

    Args:
        dout: I + (D,) upstream gradient. cache: from embedding_forward.
    Returns:
        dW: (V, D). Rows never looked up are 0. (idx is integer-valued: it has no gradient.)
    """
    idx, V = cache
    dout = as_array(dout, "dout")
    if dout.shape[:-1] != idx.shape or dout.ndim != idx.ndim + 1:
        raise ValueError(f"dout must have shape {idx.shape + ('D',)} (idx.shape + (D,)), got {dout.shape}")
    dW = np.zeros((V, dout.shape[-1]))
    np.add.at(dW, idx, dout)  # unbuffered: a repeated id adds once per occurrence
    return dW


def embedding_backward_lost_updates(dout, cache):
    """The correct scatter-add next to the buggy ``dW[idx] += dout``, for comparison.

    ``dW[idx] += dout`` reads dW[idx] once, adds, and writes back; for an id that occurs k times the
    k writes go to the same row and only one of them stays (in practice the last), so that row gets ONE
    position's gradient instead of the sum of k. Without repeated ids the two agree.

    Args:
        dout: I + (D,). cache: from embedding_forward.
    Returns:
        (dW_scatter_add, dW_fancy_index): both (V, D); the first is correct.
    """
    dW_correct = embedding_backward(dout, cache)
    idx, V = cache
    dW_lost = np.zeros_like(dW_correct)
    dW_lost[idx] += as_array(dout, "dout")
    return dW_correct, dW_lost


# --------------------------------------------------------------------------- weight tying
def init_tied_lm(V: int, D: int, rng: np.random.Generator):
    """Parameters of the tied toy language model: {"E": (V, D), "W": (D, D), "b": (D,)}, N(0, 1/D) weights."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")
    if int(V) < 1 or int(D) < 1:
        raise ValueError(f"V and D must be >= 1, got V={V}, D={D}")
    V, D = int(V), int(D)
    return {"E": rng.standard_normal((V, D)) / np.sqrt(D), "W": rng.standard_normal((D, D)) / np.sqrt(D),
            "b": np.zeros(D)}


def _lm(E_in, E_out, W, b, idx, y):
    """Shared forward/backward of the toy model with separate input and output tables.

    e = E_in[idx] (N, D);  h = tanh(e @ W + b) (N, D);  logits = h @ E_out.T (N, V);  loss = CE(logits, y).
    """
    E_in = as_array(E_in, "E_in", 2)
    E_out = as_array(E_out, "E_out", 2)
    V, D = E_in.shape
    expect_shape(E_out, (V, D), "E_out")
    W = as_array(W, "W", 2)
    expect_shape(W, (D, D), "W")
    b = as_array(b, "b", 1)
    expect_shape(b, (D,), "b")
    idx = np.asarray(idx)
    if idx.ndim != 1:
        raise ValueError(f"idx must be 1-D (one input id per example), got shape {idx.shape}")
    e, emb_cache = embedding_forward(E_in, idx)
    h = np.tanh(e @ W + b)
    logits = h @ E_out.T
    loss, dlogits = losses.softmax_cross_entropy(logits, y)
    dE_out = dlogits.T @ h  # use 2: logits = h @ E_out.T
    dz = (dlogits @ E_out) * (1.0 - h * h)
    dW = e.T @ dz
    db = dz.sum(axis=0)
    dE_in = embedding_backward(dz @ W.T, emb_cache)  # use 1: the lookup
    return loss, dE_in, dE_out, dW, db


def tied_lm_loss_and_grads(params, idx, y):
    """A toy next-token model whose embedding table E is also its output projection.

        e = E[idx];  h = tanh(e @ W + b);  logits = h @ E.T;  loss = mean softmax cross-entropy(logits, y)
        dE = scatter_add(dL/de, idx)  +  dlogits.T @ h      (lookup use + projection use)

    Args:
        params: {"E": (V, D), "W": (D, D), "b": (D,)}. idx: (N,) input ids in [0, V). y: (N,) target ids.
    Returns:
        loss: float; grads: dict with the keys and shapes of params.
    """
    loss, dE_in, dE_out, dW, db = _lm(params["E"], params["E"], params["W"], params["b"], idx, y)
    return loss, {"E": dE_in + dE_out, "W": dW, "b": db}


def untied_lm_loss_and_grads(params, idx, y):
    """The same model with two tables: e = E_in[idx], logits = h @ E_out.T.

    At E_in = E_out = E the loss equals the tied model's and dE(tied) = dE_in + dE_out.

    Args:
        params: {"E_in": (V, D), "E_out": (V, D), "W": (D, D), "b": (D,)}. idx, y: (N,) ids.
    Returns:
        loss: float; grads: dict with the keys and shapes of params.
    """
    loss, dE_in, dE_out, dW, db = _lm(params["E_in"], params["E_out"], params["W"], params["b"], idx, y)
    return loss, {"E_in": dE_in, "E_out": dE_out, "W": dW, "b": db}
