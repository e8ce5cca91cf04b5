"""Gated recurrent cells, LSTM and GRU: one step, the unrolled sequence and BPTT (cs231n contract), float64.

Batch-major: x (N, T, D) for a sequence, x (N, D) for one step, hidden state h (N, H). Weights multiply from
the right (``x @ Wx``), so PyTorch's ``weight_ih`` (4H, D) is our ``Wx.T``.

LSTM (gate order i, f, g, o as in PyTorch and cs231n)::

    a = x Wx + h_prev Wh + b                   (N, 4H); Wx (D, 4H), Wh (H, 4H), b (4H,)
    i = sigmoid(a[:, 0:H])     input gate       f = sigmoid(a[:, H:2H])   forget gate
    g = tanh(a[:, 2H:3H])      candidate        o = sigmoid(a[:, 3H:4H])  output gate
    c = f * c_prev + i * g                      cell state
    h = o * tanh(c)                             hidden state

PyTorch keeps two biases (b_ih + b_hh); only their sum matters, which is our b. The loss reaches c_t along
two paths, and the backward adds them::

    dc_total = dc + dh * o * (1 - tanh(c)^2)    dc from step t+1 (the cell path), dh through h = o tanh(c)
    dc_prev  = dc_total * f                     the direct cell path c_{t-1} -> c_t: just a product by f

No weight matrix and no squashing derivative sits on the direct path, so with f near 1 the gradient
crosses many steps almost unchanged (the "constant error carousel"); the vanilla RNN multiplies by
``diag(1 - h^2) Wh^T`` at every step instead.

GRU (PyTorch's convention, gate order r, z, n)::

    r = sigmoid(x Wx_r + bx_r + h_prev Wh_r + bh_r)           reset gate
    z = sigmoid(x Wx_z + bx_z + h_prev Wh_z + bh_z)           update gate
    n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n))        candidate; r multiplies AFTER the product
    h = (1 - z) * n + z * h_prev                              z near 1 keeps the old state

Wx (D, 3H) and Wh (H, 3H) hold the r, z, n blocks side by side; the two biases bx, bh (3H,) are both needed
because bh_n sits inside r * (...). Other texts write ``h = z * n + (1 - z) * h_prev`` (z then means "take the
new candidate"), and some apply r before the product, ``n = tanh(x Wx_n + (r * h_prev) Wh_n + b_n)`` (Keras'
``reset_after=False``); the derivatives change accordingly, so always state the convention.

:func:`gradient_norms_by_lag` measures how the gradient of a loss at the last step decays with the time
lag for the vanilla RNN (reference_impl.rnn), the LSTM and the GRU, for notebook 12's comparison.

Public API
----------
- :func:`lstm_step_forward`, :func:`lstm_step_backward`, :func:`lstm_forward`, :func:`lstm_backward`
- :func:`gru_step_forward`, :func:`gru_step_backward`, :func:`gru_forward`, :func:`gru_backward`
- :func:`init_params`, :func:`gradient_norms_for`, :func:`gradient_norms_by_lag`
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_impl import rnn
from reference_impl._checks import as_array, expect_shape
from reference_impl.layers import _sigmoid


# --------------------------------------------------------------------------- validation
def _check_step_inputs(x, h_prev, name_h: str = "h_prev"):
    x = as_array(x, "x", 2)
    h_prev = as_array(h_prev, name_h, 2)
    if h_prev.shape[0] != x.shape[0]:
        raise ValueError(f"{name_h} must have {x.shape[0]} rows like x {x.shape}, got {h_prev.shape}")
    if h_prev.shape[1] < 1:
        raise ValueError(f"{name_h} must have at least one hidden unit, got shape {h_prev.shape}")
    return x, h_prev


def _check_weights(D: int, H: int, k: int, Wx, Wh, biases: dict):
    """Wx (D, kH), Wh (H, kH) and every bias (kH,), as float64 arrays."""
    Wx = as_array(Wx, "Wx", 2)
    Wh = as_array(Wh, "Wh", 2)
    expect_shape(Wx, (D, k * H), "Wx")
    expect_shape(Wh, (H, k * H), "Wh")
    out = []
    for name, b in biases.items():
        b = as_array(b, name, 1)
        expect_shape(b, (k * H,), name)
        out.append(b)
    return Wx, Wh, out


def _check_sequence(x, h0):
    x = as_array(x, "x", 3)
    h0 = as_array(h0, "h0", 2)
    N, T, D = x.shape
    if T < 1:
        raise ValueError(f"x must have at least one time step, got shape {x.shape}")
    if h0.shape[0] != N:
        raise ValueError(f"h0 must have {N} rows like x {x.shape}, got {h0.shape}")
    return x, h0


def _check_cache(cache, kind: str, forward: str) -> dict:
    if not isinstance(cache, dict) or cache.get("kind") != kind:
        raise TypeError(f"cache must be the dict returned by {forward}")
    return cache


# --------------------------------------------------------------------------- LSTM
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step (gate order i, f, g, o).

    Args:
        x: (N, D). h_prev: (N, H). c_prev: (N, H). Wx: (D, 4H). Wh: (H, 4H). b: (4H,).
    Returns:
        h: (N, H) = o * tanh(c); c: (N, H) = f * c_prev + i * g;
        cache: dict with the inputs and "i", "f", "g", "o", "c", "tanh_c" (N, H) for the backward.
    """
    x, h_prev = _check_step_inputs(x, h_prev)
    c_prev = as_array(c_prev, "c_prev", 2)
    expect_shape(c_prev, h_prev.shape, "c_prev")
    H = h_prev.shape[1]
    Wx, Wh, (b,) = _check_weights(x.shape[1], H, 4, Wx, Wh, {"b": b})
    a = x @ Wx + h_prev @ Wh + b
    i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    cache = {"kind": "lstm_step", "x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh,
             "i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c}
    return h, c, cache


def lstm_step_backward(dh, dc, cache):
    """Gradients of one LSTM step.

        do = dh * tanh(c)
        dc_total = dc + dh * o * (1 - tanh(c)^2)        both paths into c
        di = dc_total * g;  dg = dc_total * i;  df = dc_total * c_prev;  dc_prev = dc_total * f
        da = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]   gate derivatives at this step's outputs
        dx = da Wx^T;  dh_prev = da Wh^T;  dWx = x^T da;  dWh = h_prev^T da;  db = sum_n da

    Args:
        dh: (N, H) gradient of the loss w.r.t. h (this step's own loss plus what flows back from t+1).
        dc: (N, H) gradient w.r.t. c coming from step t+1 (zeros at the last step).
        cache: from lstm_step_forward.
    Returns:
        dx: (N, D); dh_prev: (N, H); dc_prev: (N, H); dWx: (D, 4H); dWh: (H, 4H); db: (4H,).
    """
    k = _check_cache(cache, "lstm_step", "lstm_step_forward")
    i, f, g, o, tanh_c = k["i"], k["f"], k["g"], k["o"], k["tanh_c"]
    dh = as_array(dh, "dh", 2)
    dc = as_array(dc, "dc", 2)
    expect_shape(dh, i.shape, "dh")
    expect_shape(dc, i.shape, "dc")
    do = dh * tanh_c
    dc_total = dc + dh * o * (1.0 - tanh_c**2)
    di, dg, df = dc_total * g, dc_total * i, dc_total * k["c_prev"]
    dc_prev = dc_total * f
    da = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1)
    return (da @ k["Wx"].T, da @ k["Wh"].T, dc_prev, k["x"].T @ da, k["h_prev"].T @ da, da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run the LSTM over a sequence.

    Args:
        x: (N, T, D), T >= 1. h0: (N, H). Wx: (D, 4H). Wh: (H, 4H). b: (4H,).
        c0: (N, H) initial cell state, or None for zeros.
    Returns:
        h: (N, T, H) hidden states of steps 0..T-1 (the loss sees h only; the cells stay inside).
        cache: dict with "c" (N, T, H) the cell states and "steps" (the T step caches).
    """
    x, h0 = _check_sequence(x, h0)
    N, T, _ = x.shape
    H = h0.shape[1]
    if c0 is None:
        c0 = np.zeros((N, H))
    c0 = as_array(c0, "c0", 2)
    expect_shape(c0, h0.shape, "c0")
    h_all, c_all, steps = np.empty((N, T, H)), np.empty((N, T, H)), []
    h_prev, c_prev = h0, c0
    for t in range(T):
        h_prev, c_prev, step = lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
        h_all[:, t], c_all[:, t] = h_prev, c_prev
        steps.append(step)
    return h_all, {"kind": "lstm", "h": h_all, "c": c_all, "steps": steps}


def lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM.

    Two carries run backwards: dh_next (into h_{t-1} through the gates' Wh) and dc_next (into c_{t-1}
    through the forget gate). At step t the step backward receives ``dh[:, t] + dh_next`` and ``dc_next``.

    Args:
        dh: (N, T, H) upstream gradients of every hidden state. cache: from lstm_forward.
    Returns:
        dx: (N, T, D); dh0: (N, H); dWx: (D, 4H); dWh: (H, 4H); db: (4H,); dc0: (N, H) (the gradient w.r.t.
        the initial cell state, also when c0 was None, i.e. zeros). The order follows the forward's
        arguments (x, h0, Wx, Wh, b, c0).
    """
    k = _check_cache(cache, "lstm", "lstm_forward")
    dh = as_array(dh, "dh", 3)
    expect_shape(dh, k["h"].shape, "dh")
    steps = k["steps"]
    first = steps[0]
    N, T, H = dh.shape
    dx = np.empty((N, T, first["x"].shape[1]))
    dWx, dWh, db = np.zeros_like(first["Wx"]), np.zeros_like(first["Wh"]), np.zeros(4 * H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dh_next, dc_next, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dWx, dWh, db, dc_next


# --------------------------------------------------------------------------- GRU
def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step, PyTorch convention (see the module docstring).

    Args:
        x: (N, D). h_prev: (N, H). Wx: (D, 3H). Wh: (H, 3H). bx: (3H,). bh: (3H,); blocks in order r, z, n.
    Returns:
        h: (N, H) = (1 - z) * n + z * h_prev;
        cache: dict with the inputs and "r", "z", "n", "hn" (= h_prev Wh_n + bh_n) (N, H).
    """
    x, h_prev = _check_step_inputs(x, h_prev)
    H = h_prev.shape[1]
    Wx, Wh, (bx, bh) = _check_weights(x.shape[1], H, 3, Wx, Wh, {"bx": bx, "bh": bh})
    ax = x @ Wx + bx  # (N, 3H)
    ah = h_prev @ Wh + bh  # (N, 3H)
    r = _sigmoid(ax[:, :H] + ah[:, :H])
    z = _sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    h = (1.0 - z) * n + z * h_prev
    cache = {"kind": "gru_step", "x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "r": r, "z": z, "n": n, "hn": hn}
    return h, cache


def gru_step_backward(dh, cache):
    """Gradients of one GRU step.

        dn = dh * (1 - z);   dz = dh * (h_prev - n);   direct path: dh_prev += dh * z
        dan = dn * (1 - n^2)                                 pre-activation of n
        dr = dan * hn;       dhn = dan * r                   hn = h_prev Wh_n + bh_n
        dar = dr * r(1-r);   daz = dz * z(1-z)
        dax = [dar, daz, dan]  (gradient of x Wx + bx);   dah = [dar, daz, dhn]  (gradient of h_prev Wh + bh)
        dx = dax Wx^T;  dWx = x^T dax;  dbx = sum_n dax;  dWh = h_prev^T dah;  dbh = sum_n dah
        dh_prev = dh * z + dah Wh^T

    Args:
        dh: (N, H). cache: from gru_step_forward.
    Returns:
        dx: (N, D); dh_prev: (N, H); dWx: (D, 3H); dWh: (H, 3H); dbx: (3H,); dbh: (3H,).
    """
    k = _check_cache(cache, "gru_step", "gru_step_forward")
    r, z, n, hn, h_prev = k["r"], k["z"], k["n"], k["hn"], k["h_prev"]
    dh = as_array(dh, "dh", 2)
    expect_shape(dh, z.shape, "dh")
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dan = dn * (1.0 - n**2)
    dar = dan * hn * r * (1.0 - r)
    daz = dz * z * (1.0 - z)
    dax = np.concatenate([dar, daz, dan], axis=1)
    dah = np.concatenate([dar, daz, dan * r], axis=1)
    dh_prev = dh * z + dah @ k["Wh"].T
    return (dax @ k["Wx"].T, dh_prev, k["x"].T @ dax, h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0))


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a sequence.

    Args:
        x: (N, T, D), T >= 1. h0: (N, H). Wx: (D, 3H). Wh: (H, 3H). bx, bh: (3H,).
    Returns:
        h: (N, T, H); cache: dict with "steps" (the T step caches).
    """
    x, h0 = _check_sequence(x, h0)
    N, T, _ = x.shape
    h_all, steps, h_prev = np.empty((N, T, h0.shape[1])), [], h0
    for t in range(T):
        h_prev, step = gru_step_forward(x[:, t], h_prev, Wx, Wh, bx, bh)
        h_all[:, t] = h_prev
        steps.append(step)
    return h_all, {"kind": "gru", "h": h_all, "steps": steps}


def gru_backward(dh, cache):
    """Backpropagation through time for the GRU (one carry, dh_next, into h_{t-1}).

    Args:
        dh: (N, T, H) upstream gradients of every hidden state. cache: from gru_forward.
    Returns:
        dx: (N, T, D); dh0: (N, H); dWx: (D, 3H); dWh: (H, 3H); dbx: (3H,); dbh: (3H,).
    """
    k = _check_cache(cache, "gru", "gru_forward")
    dh = as_array(dh, "dh", 3)
    expect_shape(dh, k["h"].shape, "dh")
    steps = k["steps"]
    N, T, H = dh.shape
    dx = np.empty((N, T, steps[0]["x"].shape[1]))
    dWx, dWh = np.zeros_like(steps[0]["Wx"]), np.zeros_like(steps[0]["Wh"])
    dbx, dbh = np.zeros(3 * H), np.zeros(3 * H)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dh[:, t] + dh_next, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        dbx += dbx_t
        dbh += dbh_t
    return dx, dh_next, dWx, dWh, dbx, dbh


# --------------------------------------------------------------------------- gradient norm against time lag
CELLS = ("rnn", "lstm", "gru")


def _check_cell(cell) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    return cell


def _real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _size(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def init_params(cell, D, H, rng, *, weight_scale=1.0, forget_bias=1.0, update_bias=1.0):
    """Random parameters for one cell type, drawn from rng in a fixed order: Wx, then Wh.

    Wx ~ N(0, 1) * weight_scale / sqrt(D) and Wh ~ N(0, 1) * weight_scale / sqrt(H) with k*H columns
    (k = 1 rnn, 4 lstm, 3 gru): the same fan-in scaling for every cell, so a comparison at equal
    weight_scale is fair. Biases are zero except one gate bias:

    - LSTM: the forget-gate block b[H:2H] = forget_bias. With 0 the forget gate sits near sigmoid(0) = 0.5
      and halves the cell gradient at every step; forget_bias = 1 (the usual recommendation, Jozefowicz et
      al. 2015, and the default of Keras/TensorFlow LSTMs) gives f ~ 0.73 and the long cell path the LSTM
      is built for.
    - GRU: the update-gate block bx[H:2H] = update_bias, the same role (z near 1 keeps h_prev).

    Returns:
        dict: rnn {"Wx" (D,H), "Wh" (H,H), "b" (H,)}; lstm {"Wx" (D,4H), "Wh" (H,4H), "b" (4H,)};
        gru {"Wx" (D,3H), "Wh" (H,3H), "bx" (3H,), "bh" (3H,)}.
    """
    cell = _check_cell(cell)
    D, H = _size(D, "D"), _size(H, "H")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")
    scale = _real(weight_scale, "weight_scale")
    fb, ub = _real(forget_bias, "forget_bias"), _real(update_bias, "update_bias")
    k = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    Wx = rng.standard_normal((D, k * H)) * scale / np.sqrt(D)
    Wh = rng.standard_normal((H, k * H)) * scale / np.sqrt(H)
    if cell == "rnn":
        return {"Wx": Wx, "Wh": Wh, "b": np.zeros(H)}
    if cell == "lstm":
        b = np.zeros(4 * H)
        b[H:2 * H] = fb
        return {"Wx": Wx, "Wh": Wh, "b": b}
    bx = np.zeros(3 * H)
    bx[H:2 * H] = ub
    return {"Wx": Wx, "Wh": Wh, "bx": bx, "bh": np.zeros(3 * H)}


_PARAM_NAMES = {"rnn": ("Wx", "Wh", "b"), "lstm": ("Wx", "Wh", "b"), "gru": ("Wx", "Wh", "bx", "bh")}


def gradient_norms_for(cell, x, h0, params, g):
    """Norms of the gradients of L = sum(g * h[:, T-1]) (a loss on the LAST step only), by time lag.

    The sequence is run with the step functions and backpropagated step by step (the same arithmetic as
    rnn_backward / lstm_backward / gru_backward with dh zero except at the last step).

    Args:
        cell: "rnn" (reference_impl.rnn), "lstm" or "gru". x: (N, T, D). h0: (N, H) (the LSTM starts from
            c0 = 0). params: dict as returned by init_params for that cell. g: (N, H) = dL/dh[:, T-1].
    Returns:
        dict of (T,) float64 arrays indexed by the lag k = 0..T-1, i.e. step t = T-1-k:
        "lag" (k), "dh" ||dL/dh_t|| (total gradient reaching h_t; "dh"[0] = ||g||), "dx" ||dL/dx_t||.
        Norms are Frobenius norms over N and the feature axis.
    """
    cell = _check_cell(cell)
    if not isinstance(params, dict) or set(params) != set(_PARAM_NAMES[cell]):
        raise ValueError(f"params for {cell!r} must be a dict with keys {_PARAM_NAMES[cell]}")
    x, h0 = _check_sequence(x, h0)
    g = as_array(g, "g", 2)
    expect_shape(g, h0.shape, "g")
    N, T, _ = x.shape
    p = [params[name] for name in _PARAM_NAMES[cell]]
    caches, h, c = [], h0, np.zeros(h0.shape)
    for t in range(T):
        if cell == "rnn":
            h, step = rnn.rnn_step_forward(x[:, t], h, *p)
        elif cell == "lstm":
            h, c, step = lstm_step_forward(x[:, t], h, c, *p)
        else:
            h, step = gru_step_forward(x[:, t], h, *p)
        caches.append(step)
    dh_norm, dx_norm = np.empty(T), np.empty(T)
    dh, dc = g.copy(), np.zeros(h0.shape)
    for t in reversed(range(T)):
        dh_norm[T - 1 - t] = np.linalg.norm(dh)
        if cell == "rnn":
            dx, dh, *_ = rnn.rnn_step_backward(dh, caches[t])
        elif cell == "lstm":
            dx, dh, dc, *_ = lstm_step_backward(dh, dc, caches[t])
        else:
            dx, dh, *_ = gru_step_backward(dh, caches[t])
        dx_norm[T - 1 - t] = np.linalg.norm(dx)
    return {"lag": np.arange(T), "dh": dh_norm, "dx": dx_norm}


def gradient_norms_by_lag(cell, rng, *, T=50, N=8, D=8, H=32, weight_scale=1.0, forget_bias=1.0, update_bias=1.0):
    """Gradient norm against time lag for a randomly initialised cell, for plotting vanilla vs gated.

    Draws, in this order from rng: params = init_params(cell, D, H, rng, ...), x ~ N(0, 1) (N, T, D), and
    g ~ N(0, 1) (N, H); h0 = 0. Then returns gradient_norms_for(cell, x, h0, params, g). Call it with a
    fresh Generator of the same seed for each cell to compare them on equal terms.

    Measured with the defaults and ``np.random.default_rng(1)`` for each cell: ||dL/dx|| at lag 30 relative
    to lag 0 is about 2e-6 for the vanilla RNN and about 1e-3 for the LSTM and the GRU (gate biases 1).
    With forget_bias=0 the LSTM falls to about 4e-7, no better than the vanilla RNN: the open forget gate,
    not the gating as such, is what keeps the gradient alive. With forget_bias=2 it stays near 0.08.

    Returns:
        dict of (T,) arrays "lag", "dh", "dx" (see gradient_norms_for).
    """
    cell = _check_cell(cell)
    T, N, D, H = _size(T, "T"), _size(N, "N"), _size(D, "D"), _size(H, "H")
    params = init_params(cell, D, H, rng, weight_scale=weight_scale, forget_bias=forget_bias,
                         update_bias=update_bias)
    x = rng.standard_normal((N, T, D))
    g = rng.standard_normal((N, H))
    return gradient_norms_for(cell, x, np.zeros((N, H)), params, g)
