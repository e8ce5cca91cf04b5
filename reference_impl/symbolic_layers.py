"""SymPy derivations for attention, gated RNN cells and 1-D convolution (companion of reference_impl.symbolic).

As in :mod:`reference_impl.symbolic`, every gradient here comes from ``sympy.diff`` of a scalar expression,
never from a chain rule written by hand; the hand-derived closed forms that the notebooks teach sit next to
it so tests can prove them equal (symbolically) and compare both with the NumPy reference.

Closed forms (dict-returning functions, SymPy expressions):

- :func:`attention_one_query`: one query, n keys, scalar values. ``out = sum_j p_j v_j`` with
  ``p = softmax(s)``; ``d out / d s_j = p_j (v_j - out)``; softmax Jacobian ``diag(p) - p p^T``.
- :func:`lstm_scalar_step`: D = H = 1. ``d c_t / d c_{t-1} = f_t`` (no weight, no squashing derivative on the
  cell path) and ``d h_t / d c_t = o_t (1 - tanh(c_t)^2)``.
- :func:`gru_scalar_step`: D = H = 1, PyTorch convention. ``d h_t / d h_{t-1}`` from diff, and the
  hand-derived form
  ``z + (h_prev - n) z (1 - z) w_hz + (1 - z)(1 - n^2)(r w_hn + (w_hn h_prev + b_hn) r (1 - r) w_hr)``.
- :func:`conv1d_identities`: 1-D cross-correlation with stride and padding on symbolic vectors; ``dw`` and
  ``dx`` from diff next to "dw = correlation of the padded input with the dilated dout" and
  "dx = full convolution of the dilated dout with w (flipped kernel), cropped".

Numeric models (callables, like ``rnn_symbolic``; batch items are independent, so each is derived for one
item and evaluated for all items at once):

- :func:`attention_symbolic` ``(Tq, Tk, d, dv, mask)(Q, K, V, dout) -> (dQ, dK, dV)``
- :func:`lstm_symbolic` ``(T, N, D, H)(x, h0, c0, Wx, Wh, b, dh) -> (dx, dh0, dWx, dWh, db, dc0)``
- :func:`gru_symbolic` ``(T, N, D, H)(x, h0, Wx, Wh, bx, bh, dh) -> (dx, dh0, dWx, dWh, dbx, dbh)``

Sizes are capped (see each function) so that a build takes at most about 3 seconds; builds are cached.
"""

from __future__ import annotations

import numbers

import numpy as np
import sympy as sp

from reference_impl.symbolic import _as_float, _cached_build, _check_sizes, _Compiled, _sym_array, sigmoid


def _dot(a, b):
    return sp.Add(*[u * v for u, v in zip(a, b)])


# ----------------------------------------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------------------------------------

def attention_one_query(n_keys: int) -> dict:
    """Softmax-weighted average for one query over n_keys keys with scalar values (n_keys in 1..4).

    Returns a dict of SymPy objects:
        "s", "v": lists of real Symbols s_j (scores) and v_j (values);
        "p": softmax weights exp(s_j) / sum_k exp(s_k); "out": sum_j p_j v_j;
        "grad": [d out / d s_j] by sympy.diff; "closed_form": [p_j (v_j - out)];
        "jacobian": Matrix d p_j / d s_k by sympy.diff; "jacobian_closed_form": diag(p) - p p^T.
    """
    _check_sizes(n_keys=n_keys)
    s = list(sp.symbols(f"s0:{n_keys}", real=True))
    v = list(sp.symbols(f"v0:{n_keys}", real=True))
    Z = sp.Add(*[sp.exp(sj) for sj in s])
    p = [sp.exp(sj) / Z for sj in s]
    out = _dot(p, v)
    P = sp.Matrix(p)
    return {
        "s": s, "v": v, "p": p, "out": out,
        "grad": [sp.diff(out, sj) for sj in s],
        "closed_form": [pj * (vj - out) for pj, vj in zip(p, v)],
        "jacobian": sp.Matrix(n_keys, n_keys, lambda j, k: sp.diff(p[j], s[k])),
        "jacobian_closed_form": sp.diag(*p) - P * P.T,
    }


def _check_static_mask(mask, Tq: int, Tk: int):
    """A hashable (Tq, Tk) tuple of tuples of bools with no empty row (None: all True)."""
    if mask is None:
        return tuple((True,) * Tk for _ in range(Tq))
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = keep), got dtype {arr.dtype}")
    if arr.shape != (Tq, Tk):
        raise ValueError(f"mask must have shape ({Tq}, {Tk}) (the same for every batch item), got {arr.shape}")
    if not np.all(arr.any(axis=1)):
        raise ValueError("mask leaves a query row with no key to attend to")
    return tuple(tuple(bool(b) for b in row) for row in arr)


class SymbolicAttention:
    """Scaled dot-product attention for one batch item, gradients of ``L = sum(dout * out)`` by SymPy.

    ``out[i] = sum_{j kept} p_ij V[j]``, ``p_ij = exp(s_ij) / sum_{k kept} exp(s_ik)``, ``s_ij = Q[i].K[j] / sqrt(d)``.
    Masked pairs (i, j) are left out of the expression entirely, so their gradient is structurally zero.
    Attributes: ``loss``, ``symbols`` ("Q" (Tq,d), "K" (Tk,d), "V" (Tk,dv), "dout" (Tq,dv)), ``grad_exprs``.
    """

    def __init__(self, Tq: int, Tk: int, d: int, dv: int, mask: tuple):
        self.shape = (Tq, Tk, d, dv)
        self._compiled = _cached_build(("sdpa", Tq, Tk, d, dv, mask), lambda: self._build(Tq, Tk, d, dv, mask))
        self.loss = self._compiled.item_loss
        self.symbols = self._compiled.symbols
        self.grad_exprs = self._compiled.grad_exprs

    @staticmethod
    def _build(Tq: int, Tk: int, d: int, dv: int, mask: tuple) -> _Compiled:
        S = {"Q": _sym_array("Q", (Tq, d)), "K": _sym_array("K", (Tk, d)), "V": _sym_array("V", (Tk, dv)),
             "dout": _sym_array("dout", (Tq, dv))}
        terms = []
        for i in range(Tq):
            keep = [j for j in range(Tk) if mask[i][j]]
            e = {j: sp.exp(_dot(S["Q"][i], S["K"][j]) / sp.sqrt(d)) for j in keep}
            Z = sp.Add(*e.values())
            for c in range(dv):
                terms.append(S["dout"][i, c] * sp.Add(*[e[j] * S["V"][j, c] for j in keep]) / Z)
        return _Compiled(sp.Add(*terms), S, ("Q", "K", "V"), batched=("Q", "K", "V", "dout"))

    def __call__(self, Q, K, V, dout):
        """Q (B,Tq,d), K (B,Tk,d), V (B,Tk,dv), dout (B,Tq,dv) -> (dQ, dK, dV) shaped like Q, K, V."""
        Tq, Tk, d, dv = self.shape
        Q = np.asarray(Q)
        if Q.ndim != 3 or Q.shape[0] < 1:
            raise ValueError(f"Q must have shape (B, {Tq}, {d}) with B >= 1, got {Q.shape}")
        B = Q.shape[0]
        values = {"Q": _as_float(Q, "Q", (B, Tq, d)), "K": _as_float(K, "K", (B, Tk, d)),
                  "V": _as_float(V, "V", (B, Tk, dv)), "dout": _as_float(dout, "dout", (B, Tq, dv))}
        _, g = self._compiled.evaluate(values, B, 1.0)
        return g["Q"], g["K"], g["V"]


def attention_symbolic(Tq: int, Tk: int, d: int, dv: int, mask=None) -> SymbolicAttention:
    """Cached :class:`SymbolicAttention` for Tq, Tk, d, dv in 1..3 and an optional (Tq, Tk) boolean mask.

    ``attention_symbolic(Tq, Tk, d, dv, mask)(Q, K, V, dout) -> (dQ, dK, dV)`` for any batch size B >= 1.
    """
    _check_sizes(Tq=Tq, Tk=Tk, d=d, dv=dv)
    if max(Tq, Tk, d, dv) > 3:
        raise ValueError(f"attention_symbolic supports sizes up to 3, got Tq={Tq}, Tk={Tk}, d={d}, dv={dv}")
    key = _check_static_mask(mask, Tq, Tk)
    return _cached_build(("sdpa-obj", Tq, Tk, d, dv, key),
                         lambda: SymbolicAttention(int(Tq), int(Tk), int(d), int(dv), key))


# ----------------------------------------------------------------------------------------------------------
# Gated cells: scalar closed forms
# ----------------------------------------------------------------------------------------------------------

def lstm_scalar_step() -> dict:
    """One LSTM step with D = H = 1 (gate order i, f, g, o), everything a real Symbol.

    Returns a dict: "symbols" (name -> Symbol: x, h_prev, c_prev, w_x{i,f,g,o}, w_h{i,f,g,o}, b_{i,f,g,o}),
    "i", "f", "g", "o", "c", "h" (expressions), and
        "dc_dcprev": diff(c, c_prev)               (equals f: the direct cell path)
        "dh_dc":     d(o * tanh(C)) / dC at C = c  (equals o * (1 - tanh(c)^2))
        "dh_dcprev": diff(h, c_prev)               (equals o * (1 - tanh(c)^2) * f)
    """
    names = ["x", "h_prev", "c_prev"] + [f"{k}_{gate}" for k in ("wx", "wh", "b") for gate in "ifgo"]
    S = {name: sp.Symbol(name, real=True) for name in names}
    a = {gate: S[f"wx_{gate}"] * S["x"] + S[f"wh_{gate}"] * S["h_prev"] + S[f"b_{gate}"] for gate in "ifgo"}
    i, f, g, o = sigmoid(a["i"]), sigmoid(a["f"]), sp.tanh(a["g"]), sigmoid(a["o"])
    c = f * S["c_prev"] + i * g
    h = o * sp.tanh(c)
    C = sp.Symbol("C", real=True)
    return {"symbols": S, "i": i, "f": f, "g": g, "o": o, "c": c, "h": h,
            "dc_dcprev": sp.diff(c, S["c_prev"]),
            "dh_dc": sp.diff(o * sp.tanh(C), C).subs(C, c),
            "dh_dcprev": sp.diff(h, S["c_prev"])}


def gru_scalar_step() -> dict:
    """One GRU step with D = H = 1, PyTorch convention (r, z, n; h = (1 - z) n + z h_prev).

    Returns a dict: "symbols" (x, h_prev, w_x{r,z,n}, w_h{r,z,n}, b_x{r,z,n}, b_h{r,z,n}), "r", "z", "n", "h", and
        "dh_dhprev": diff(h, h_prev);
        "closed_form": z + (h_prev - n) z (1 - z) w_hz + (1 - z)(1 - n^2)(r w_hn + (w_hn h_prev + b_hn) r (1 - r) w_hr)
    (the direct path z, the update gate's path, and the candidate's path, which reaches h_prev both
    directly and through the reset gate).
    """
    names = ["x", "h_prev"] + [f"{k}_{gate}" for k in ("wx", "wh", "bx", "bh") for gate in "rzn"]
    S = {name: sp.Symbol(name, real=True) for name in names}
    x, hp = S["x"], S["h_prev"]
    r = sigmoid(S["wx_r"] * x + S["bx_r"] + S["wh_r"] * hp + S["bh_r"])
    z = sigmoid(S["wx_z"] * x + S["bx_z"] + S["wh_z"] * hp + S["bh_z"])
    hn = S["wh_n"] * hp + S["bh_n"]
    n = sp.tanh(S["wx_n"] * x + S["bx_n"] + r * hn)
    h = (1 - z) * n + z * hp
    closed = (z + (hp - n) * z * (1 - z) * S["wh_z"]
              + (1 - z) * (1 - n**2) * (r * S["wh_n"] + hn * r * (1 - r) * S["wh_r"]))
    return {"symbols": S, "r": r, "z": z, "n": n, "h": h, "dh_dhprev": sp.diff(h, hp), "closed_form": closed}


# ----------------------------------------------------------------------------------------------------------
# Gated cells: numeric models for BPTT
# ----------------------------------------------------------------------------------------------------------

class SymbolicLSTM:
    """LSTM unrolled for T steps, gradients of ``L = sum(dh * h)`` by SymPy (one sequence per item).

    Symbols: "x" (T,D), "h0" (H,), "c0" (H,), "Wx" (D,4H), "Wh" (H,4H), "b" (4H,), "dh" (T,H).
    """

    def __init__(self, T: int, N: int, D: int, H: int):
        self.T, self.N, self.D, self.H = T, N, D, H
        self._compiled = _cached_build(("lstm", T, D, H), lambda: self._build(T, D, H))
        self.loss = self._compiled.item_loss
        self.symbols = self._compiled.symbols
        self.grad_exprs = self._compiled.grad_exprs

    @staticmethod
    def _build(T: int, D: int, H: int) -> _Compiled:
        S = {"x": _sym_array("x", (T, D)), "h0": _sym_array("h0", (H,)), "c0": _sym_array("c0", (H,)),
             "Wx": _sym_array("Wx", (D, 4 * H)), "Wh": _sym_array("Wh", (H, 4 * H)), "b": _sym_array("b", (4 * H,)),
             "dh": _sym_array("dh", (T, H))}
        h, c, terms = S["h0"], S["c0"], []
        for t in range(T):
            a = S["x"][t].dot(S["Wx"]) + h.dot(S["Wh"]) + S["b"]
            i = [sigmoid(v) for v in a[:H]]
            f = [sigmoid(v) for v in a[H:2 * H]]
            g = [sp.tanh(v) for v in a[2 * H:3 * H]]
            o = [sigmoid(v) for v in a[3 * H:]]
            c = np.array([f[k] * c[k] + i[k] * g[k] for k in range(H)], dtype=object)
            h = np.array([o[k] * sp.tanh(c[k]) for k in range(H)], dtype=object)
            terms.extend(S["dh"][t] * h)
        return _Compiled(sp.Add(*terms), S, ("x", "h0", "Wx", "Wh", "b", "c0"), batched=("x", "h0", "c0", "dh"))

    def __call__(self, x, h0, c0, Wx, Wh, b, dh):
        """x (N,T,D), h0 (N,H), c0 (N,H), Wx (D,4H), Wh (H,4H), b (4H,), dh (N,T,H)
        -> (dx, dh0, dWx, dWh, db, dc0), the order of reference_impl.gated_rnn.lstm_backward."""
        T, N, D, H = self.T, self.N, self.D, self.H
        values = {"x": _as_float(x, "x", (N, T, D)), "h0": _as_float(h0, "h0", (N, H)),
                  "c0": _as_float(c0, "c0", (N, H)), "Wx": _as_float(Wx, "Wx", (D, 4 * H)),
                  "Wh": _as_float(Wh, "Wh", (H, 4 * H)), "b": _as_float(b, "b", (4 * H,)),
                  "dh": _as_float(dh, "dh", (N, T, H))}
        _, g = self._compiled.evaluate(values, N, 1.0)
        return g["x"], g["h0"], g["Wx"], g["Wh"], g["b"], g["c0"]


def lstm_symbolic(T: int, N: int, D: int, H: int) -> SymbolicLSTM:
    """Cached :class:`SymbolicLSTM` for N in 1..4, D in 1..2 and T, H in 1..2 with T * H <= 2.

    The unrolled expression grows fast: on this course's machines these sizes build in 1-3 s, while T=2, H=2
    takes about 8 s and T=3, H=2 over a minute (sympy.diff of the unrolled loss dominates).
    """
    _check_sizes(T=T, N=N, D=D, H=H)
    if D > 2 or T * H > 2:
        raise ValueError(f"lstm_symbolic supports D <= 2 and T * H <= 2 (the unrolled expression grows fast), "
                         f"got T={T}, D={D}, H={H}")
    return _cached_build(("lstm-N", T, N, D, H), lambda: SymbolicLSTM(int(T), int(N), int(D), int(H)))


class SymbolicGRU:
    """GRU (PyTorch convention) unrolled for T steps, gradients of ``L = sum(dh * h)`` by SymPy.

    Symbols: "x" (T,D), "h0" (H,), "Wx" (D,3H), "Wh" (H,3H), "bx" (3H,), "bh" (3H,), "dh" (T,H).
    """

    def __init__(self, T: int, N: int, D: int, H: int):
        self.T, self.N, self.D, self.H = T, N, D, H
        self._compiled = _cached_build(("gru", T, D, H), lambda: self._build(T, D, H))
        self.loss = self._compiled.item_loss
        self.symbols = self._compiled.symbols
        self.grad_exprs = self._compiled.grad_exprs

    @staticmethod
    def _build(T: int, D: int, H: int) -> _Compiled:
        S = {"x": _sym_array("x", (T, D)), "h0": _sym_array("h0", (H,)), "Wx": _sym_array("Wx", (D, 3 * H)),
             "Wh": _sym_array("Wh", (H, 3 * H)), "bx": _sym_array("bx", (3 * H,)), "bh": _sym_array("bh", (3 * H,)),
             "dh": _sym_array("dh", (T, H))}
        h, terms = S["h0"], []
        for t in range(T):
            ax = S["x"][t].dot(S["Wx"]) + S["bx"]
            ah = h.dot(S["Wh"]) + S["bh"]
            r = [sigmoid(ax[k] + ah[k]) for k in range(H)]
            z = [sigmoid(ax[H + k] + ah[H + k]) for k in range(H)]
            n = [sp.tanh(ax[2 * H + k] + r[k] * ah[2 * H + k]) for k in range(H)]
            h = np.array([(1 - z[k]) * n[k] + z[k] * h[k] for k in range(H)], dtype=object)
            terms.extend(S["dh"][t] * h)
        return _Compiled(sp.Add(*terms), S, ("x", "h0", "Wx", "Wh", "bx", "bh"), batched=("x", "h0", "dh"))

    def __call__(self, x, h0, Wx, Wh, bx, bh, dh):
        """x (N,T,D), h0 (N,H), Wx (D,3H), Wh (H,3H), bx (3H,), bh (3H,), dh (N,T,H)
        -> (dx, dh0, dWx, dWh, dbx, dbh), the order of reference_impl.gated_rnn.gru_backward."""
        T, N, D, H = self.T, self.N, self.D, self.H
        values = {"x": _as_float(x, "x", (N, T, D)), "h0": _as_float(h0, "h0", (N, H)),
                  "Wx": _as_float(Wx, "Wx", (D, 3 * H)), "Wh": _as_float(Wh, "Wh", (H, 3 * H)),
                  "bx": _as_float(bx, "bx", (3 * H,)), "bh": _as_float(bh, "bh", (3 * H,)),
                  "dh": _as_float(dh, "dh", (N, T, H))}
        _, g = self._compiled.evaluate(values, N, 1.0)
        return g["x"], g["h0"], g["Wx"], g["Wh"], g["bx"], g["bh"]


def gru_symbolic(T: int, N: int, D: int, H: int) -> SymbolicGRU:
    """Cached :class:`SymbolicGRU` for N in 1..4, D in 1..2 and T, H in 1..2 with T * H <= 2.

    The unrolled expression grows fast: on this course's machines these sizes build in 1-3 s, while T=2, H=2
    takes about 8 s and T=3, H=2 over a minute (sympy.diff of the unrolled loss dominates).
    """
    _check_sizes(T=T, N=N, D=D, H=H)
    if D > 2 or T * H > 2:
        raise ValueError(f"gru_symbolic supports D <= 2 and T * H <= 2 (the unrolled expression grows fast), "
                         f"got T={T}, D={D}, H={H}")
    return _cached_build(("gru-N", T, N, D, H), lambda: SymbolicGRU(int(T), int(N), int(D), int(H)))


# ----------------------------------------------------------------------------------------------------------
# 1-D convolution identities
# ----------------------------------------------------------------------------------------------------------

def _small_int(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return int(value)


def conv1d_identities(L: int, K: int, stride: int = 1, pad: int = 0) -> dict:
    """1-D cross-correlation on symbolic vectors, its gradients by diff, and the two closed forms.

        xp = [0]*pad + x + [0]*pad;   y_i = sum_k w_k xp[i*stride + k],  i = 0..L_out-1,
        L_out = (L + 2*pad - K) / stride + 1 (must be an integer);   loss = sum_i dout_i y_i
        dd = dout dilated by the stride (stride - 1 zeros between entries), length stride*(L_out-1) + 1
        dw_k = sum_m xp[m + k] dd_m                         correlation of xp with dd
        dxp_r = sum_m dd_m w[r - m]  (0 <= r - m < K)       full convolution of dd with w (= correlation of the
                                                            zero-padded dd with w flipped); dx = dxp[pad:pad+L]

    Args:
        L: input length 1..6. K: kernel length 1..4. stride: 1..3. pad: 0..2.
    Returns:
        dict of SymPy objects: "x" (L symbols), "w" (K), "dout" (L_out), "y" (L_out expressions), "loss",
        "dw" and "dx" (lists, by sympy.diff), "dw_correlation" and "dx_full_convolution" (the closed forms).
    """
    L, K = _small_int(L, "L", 1, 6), _small_int(K, "K", 1, 4)
    stride, pad = _small_int(stride, "stride", 1, 3), _small_int(pad, "pad", 0, 2)
    span = L + 2 * pad - K
    if span < 0 or span % stride:
        raise ValueError(f"(L + 2*pad - K) / stride + 1 = ({L} + 2*{pad} - {K}) / {stride} + 1 is not a "
                         f"positive integer")
    L_out = span // stride + 1
    x = list(sp.symbols(f"x0:{L}", real=True))
    w = list(sp.symbols(f"w0:{K}", real=True))
    dout = list(sp.symbols(f"dout0:{L_out}", real=True))
    xp = [sp.Integer(0)] * pad + x + [sp.Integer(0)] * pad
    y = [sp.Add(*[w[k] * xp[i * stride + k] for k in range(K)]) for i in range(L_out)]
    loss = _dot(dout, y)
    dd = [sp.Integer(0)] * (stride * (L_out - 1) + 1)
    for i in range(L_out):
        dd[i * stride] = dout[i]
    dw_closed = [sp.Add(*[xp[m + k] * dd[m] for m in range(len(dd))]) for k in range(K)]
    dxp = [sp.Add(*[dd[m] * w[r - m] for m in range(len(dd)) if 0 <= r - m < K]) for r in range(L + 2 * pad)]
    return {"x": x, "w": w, "dout": dout, "y": y, "loss": loss,
            "dw": [sp.diff(loss, wk) for wk in w], "dx": [sp.diff(loss, xl) for xl in x],
            "dw_correlation": dw_closed, "dx_full_convolution": dxp[pad:pad + L]}
