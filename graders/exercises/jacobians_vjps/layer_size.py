"""The interview question of notebook 04: the shape and the float64 size in bytes of the full Jacobian of a
batched layer (N, D) -> (N, M), on fixed sizes up to a realistic layer (2.2e15 bytes); likely wrong shapes and
byte counts are named.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from graders.core import Report, StudentCodeError, StudentTimeout, call_student, require_callable


# ------------------------------------------------------------------------------ Jacobian of a batched layer


def _size_cases(thorough: bool) -> list[tuple[int, int, int]]:
    """Small sizes, a batch of one, and a realistic layer (whose Jacobian takes 2.2e15 bytes: more than 32-bit
    integers hold) in the visible test; the hidden test adds more of each."""
    cases = [(2, 3, 4), (5, 7, 3), (1, 1, 1), (128, 4096, 4096)]
    if thorough:
        cases += [(64, 1024, 10), (8, 3, 3), (1, 5, 2), (256, 1024, 512)]
    return cases


def _as_int_tuple(value) -> tuple[int, ...] | None:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (tuple, list)):
        return None
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer():
                v = int(v)
            else:
                return None
        out.append(int(v))
    return tuple(out)


def _shape_problem(got, N: int, D: int, M: int) -> str | None:
    expected = (N, M, N, D)
    shape = _as_int_tuple(got)
    if shape is None:
        return f"expected a tuple of 4 integers, got {type(got).__name__} ({got!r:.60})."
    if shape == expected:
        return None
    hints = {
        (M, D): "(M, D) is one example's block W^T; the question asks for the Jacobian of the whole output "
                "(N, M) with respect to the whole input (N, D).",
        (N, M, D): "every output entry out[n, m] has a derivative with respect to EVERY input entry x[n', d], "
                   "including those of other examples (they are 0, but they are entries of J): one axis per "
                   "axis of out, then one per axis of x.",
        (N * M, N * D): "that is the right number of entries flattened to a matrix; give the tensor shape: "
                        "out's axes, then x's axes.",
        (N, D, N, M): "the output's axes come first (J[i, j] = d out_i / d x_j), then the input's axes.",
        (N, D, M): "one axis per axis of out, then one per axis of x: four axes in all.",
    }
    hint = hints.get(shape)
    msg = f"N={N}, D={D}, M={M}: got {shape}, expected a different shape."
    return msg + (f"\n      Likely mistake: {hint}" if hint else "")


def _bytes_problem(got, N: int, D: int, M: int) -> str | None:
    expected = N * M * N * D * 8
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        if isinstance(got, np.ndarray) and got.shape == () and np.issubdtype(got.dtype, np.number):
            got = got.item()
        else:
            return f"expected a number of bytes (an int), got {type(got).__name__} ({got!r:.60})."
    got = float(got)
    if not math.isfinite(got):
        return f"N={N}, D={D}, M={M}: got {got}, which is not a finite number of bytes."
    if abs(got - expected) <= 1e-9 * expected:
        return None
    hints = {
        N * M * D * 8: "that counts one example's block per example; J also has the (zero) entries that link "
                       "example n's outputs to example n' inputs: N*M*N*D entries.",
        N * M * N * D: "that is the number of entries; a float64 entry takes 8 bytes.",
        N * M * N * D * 4: "float64 entries take 8 bytes each (4 is float32).",
        M * D * 8: "that is only one example's block W^T.",
        N * M * N * D * 8 / 2**30: "return bytes, not GiB.",
        N * M * N * D * 8 / 1e9: "return bytes, not GB.",
    }
    hint = next((h for v, h in hints.items() if abs(got - v) <= 1e-9 * max(1.0, abs(v))), None)
    msg = f"N={N}, D={D}, M={M}: got {got:.6g} bytes, expected a different number."
    return msg + (f"\n      Likely mistake: {hint}" if hint else "")


def check_layer_jacobian_size(jacobian_shape, jacobian_bytes, *, seed: int = 0, points: float | None = None,
                              thorough: bool = False):
    """Grade ``jacobian_shape(N, D, M) -> tuple`` and ``jacobian_bytes(N, D, M) -> int``.

    For a layer mapping x (N, D) to out (N, M) (an affine layer on a batch), ``jacobian_shape`` returns the
    shape of the full Jacobian d out / d x as a tuple of ints, out's axes first: (N, M, N, D);
    ``jacobian_bytes`` returns how many bytes that Jacobian occupies in float64 (an int; a float equal to
    it is accepted). Sub-checks "shape" and "bytes" (weight 1 each); ``seed`` is unused (the cases are fixed
    sizes: small ones, a batch of one and a realistic layer), ``thorough`` adds more of each.
    """
    require_callable(jacobian_shape, "jacobian_shape", 3)
    require_callable(jacobian_bytes, "jacobian_bytes", 3)
    report = Report("Jacobian of a batched layer: shape and size", points, seed)
    report.declare("shape")
    report.declare("bytes")
    for sub, fn, problem_of in (("shape", jacobian_shape, _shape_problem), ("bytes", jacobian_bytes, _bytes_problem)):
        label = f"{getattr(fn, '__name__', sub)}()"
        for N, D, M in _size_cases(thorough):
            try:
                got = call_student(fn, N, D, M, label=label, notes=report.notes)
            except StudentCodeError as exc:
                report.fail(sub, f"N={N}, D={D}, M={M}: {exc}")
                if isinstance(exc, StudentTimeout):
                    break
                continue
            problem = problem_of(got, N, D, M)
            if problem:
                report.fail(sub, problem)
    return report.finish()
