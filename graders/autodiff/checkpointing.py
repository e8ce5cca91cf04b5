"""check_checkpointed_backward: a learner's gradient checkpointing on an instrumented chain of tanh layers.

The learner's function receives the catalogue item ``tanh_chain``: N (forward, backward) pairs built where the
learner's code runs, whose state records every layer call and the largest number of layer outputs alive at
once (weak references). dx and the parameter gradients are compared with
``reference_impl.autodiff.checkpoint.backprop_full``; once they are right, the peak is compared with
``expected_peak_stored(N, k)`` (+2 slack) and the call counts with "each backward once, at most 2N forwards".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders import diagnoses
from graders.autodiff.grading import _Grading, _Stop
from graders.core import StudentCodeError, array_problem, brief, describe, require_callable, unpack
from graders.remote import catalogue
from reference_impl.autodiff import checkpoint as _ref_ckpt


def check_checkpointed_backward(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade gradient checkpointing ``fn(layers, x, dout, k) -> (dx, grads)``.

    Student contract:
        layers: list of N pairs (forward, backward); ``forward(h) -> h_next`` (a new array) and
        ``backward(h, h_next, dh_next) -> (dh, dW)`` where h is the layer's input, h_next its output and
        dh_next = dL/dh_next. x = h_0 (B, D); dout = dL/dh_N (B, D); k the segment length.
        Keep only the checkpoints h_0, h_k, h_2k, ... (and h_N) from the forward pass; in the backward
        pass recompute one segment at a time from its checkpoint, backpropagate through it and drop
        its activations. Return dx = dL/dh_0 (B, D) and grads, a list of N arrays with grads[i] the
        dW of layers[i].

    Sub-checks (weight 1 each): dx; grads; memory: the layer outputs alive at once (measured with weak
    references at every layer call) stay within ``reference_impl.autodiff.checkpoint.expected_peak_stored(N, k)``
    + 2 (slack for loop variables), far below the N + 1 of plain backprop; compute: each layer's backward
    runs once and the layer forwards total at most 2N (the reference needs exactly 2N - ceil(N/k)). The
    memory and compute sub-checks count only once the gradients are right. Inputs left unchanged (x, dout).
    Visible and hidden cases: k dividing N or not, k = 1, a single layer, k > N (one segment).
    """
    require_callable(fn, "checkpointed_backward", 4)
    DX, GR, ME, CO = "dx", "grads (one dW per layer)", "memory: O(N/k + k) activations alive", \
        "compute: about one extra forward pass"
    g = _Grading("gradient checkpointing", points, seed, [DX, GR, ME, CO], watch_inputs=True)
    rng = np.random.default_rng(seed)
    specs = [(24, 5, 2, 3), (36, 6, 3, 2), (1, 1, 1, 2), (9, 20, 2, 2), (12, 1, 1, 2)]
    if thorough:
        specs += [(50, 7, 2, 3), (30, 1, 1, 2), (2, 3, 2, 2), (17, 4, 1, 3)]
    try:
        for N, k, B, D in specs:
            Ws = [np.round(rng.standard_normal((D, D)) * 0.9, 3) for _ in range(N)]
            x = np.round(rng.standard_normal((B, D)), 3)
            dout = np.round(rng.standard_normal((B, D)), 3)
            dx_ref, grads_ref, _ = _ref_ckpt.backprop_full(_ref_ckpt.tanh_chain(Ws), x, dout)
            where = f"N = {N} layers tanh(h @ W_i), k = {k}, h of shape {x.shape}"
            layers = catalogue.item("tanh_chain", Ws=Ws)
            try:
                result = g.call(DX, fn, layers, x, dout, k, label="checkpointed_backward(layers, x, dout, k)")
                dx, grads = unpack(result, ("dx", "grads"), "checkpointed_backward(layers, x, dout, k)")
            except StudentCodeError as exc:
                for n in (DX, GR):
                    g.fail(n, f"{where}: {exc}")
                for n in (ME, CO):
                    g.fail(n, f"{where}: not checked because the call failed.")
                continue
            ok = True
            problem = array_problem(dx, dx_ref)
            if problem:
                ok = False
                g.fail(DX, f"{where}: dx {problem}")
            problem = _grads_problem(grads, grads_ref)
            if problem:
                ok = False
                g.fail(GR, f"{where}: {problem}")
            if not ok:
                for n in (ME, CO):
                    g.fail(n, f"{where}: not credited until dx and grads are right.")
                continue
            tracker = layers.state
            allowed = _ref_ckpt.expected_peak_stored(N, k) + 2
            if tracker["peak"] > allowed and N + 1 > allowed:
                g.fail(ME, f"{where}: {tracker['peak']} layer outputs were alive at once; checkpointing with k = "
                           f"{k} needs at most {allowed - 2} (+2 slack), plain backprop keeps N + 1 = {N + 1}."
                           + (describe(diagnoses.get("CHECKPOINT_KEEPS_ALL")) if tracker["peak"] >= N - 1 else ""))
            problem = _compute_problem(tracker, N, k)
            if problem:
                g.fail(CO, f"{where}: {problem}")
        g.done.update((DX, GR, ME, CO))
    except _Stop:
        pass
    return g.finish()


def _grads_problem(grads: Any, want: list[np.ndarray]) -> str | None:
    if grads is None:
        return "grads is None: return the list of the N parameter gradients."
    if not isinstance(grads, (list, tuple)):
        return f"grads must be a list of {len(want)} arrays, got {type(grads).__name__} ({brief(grads)})."
    if len(grads) != len(want):
        return f"grads has {len(grads)} entries; it must have one per layer, {len(want)}."
    bad = [(i, p) for i, (got, w) in enumerate(zip(grads, want)) if (p := array_problem(got, w))]
    if not bad:
        return None
    if len(want) > 1 and all(array_problem(got, w) is None for got, w in zip(grads, want[::-1])):
        return (f"{len(bad)} of {len(want)} entries are wrong, but reversed the list would be right."
                f"{describe(diagnoses.get('LAYER_GRADS_REVERSED'))}")
    i, p = bad[0]
    return f"{len(bad)} of {len(want)} entries wrong; grads[{i}] {p}"


def _compute_problem(tracker: dict, N: int, k: int) -> str | None:
    """What is wrong with the layer call counts (tracker: the tanh_chain item's state)."""
    exact = 2 * N - len(_ref_ckpt.segments(N, k))
    calls = list(tracker["backward_calls"])
    twice = [i for i, c in enumerate(calls) if c != 1]
    if twice:
        i = twice[0]
        return f"layers[{i}]'s backward ran {calls[i]} times; every layer's backward runs exactly once."
    if tracker["forward_calls"] > 2 * N:
        return (f"the layer forwards ran {tracker['forward_calls']} times for N = {N} layers; checkpointing costs at "
                f"most one extra forward pass ({exact} calls with k = {k}: each segment recomputed once from its "
                f"checkpoint).{describe(diagnoses.get('CHECKPOINT_RECOMPUTE'))}")
    return None
