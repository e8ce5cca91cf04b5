"""Checks of notebook 13 (backprop at tensor level), part 1: broadcasting, embeddings, weight tying, dropout,
gradient accumulation; and the machinery the other parts share.

The notebook's checks live in four modules:

- this one: :func:`check_unbroadcast`, :func:`check_embedding_backward`, :func:`check_tied_lm`,
  :func:`check_dropout`, :func:`check_combine_micro_batches`;
- :mod:`graders.exercises.tensor_losses`: cross-entropy through logsumexp, the SymPy derivations, sigmoid + BCE
  from logits, label smoothing, Huber;
- :mod:`graders.exercises.tensor_engine`: the learner's Tensor engine (operations and framework semantics), the
  in-place question, the MLP loss and its training run;
- :mod:`graders.exercises.tensor_precision`: float16 casts, a float16 backward, the mixed-precision step.

Every check calls student code only through ``graders.core.call_student`` with plain data (float64/int64 arrays,
numbers, dicts and lists of them, a numpy Generator for dropout), watches the inputs (the course-wide sub-check
"inputs left unchanged"), and computes expected values with reference_impl in private helpers. The visible test
(``thorough=False``) tries one case of every kind the hidden test tries.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from graders import diagnoses
from graders.core import (MUTATION_CHECK, Report, StudentCodeError, StudentTimeout, array_problem, brief,
                          call_student, describe, diagnose, real_number, require_callable, unpack)
from reference_impl import broadcasting as _ref_bc
from reference_impl import embedding as _ref_emb
from reference_impl import losses as _ref_losses
from reference_impl import network as _ref_net

__all__ = ["check_unbroadcast", "check_embedding_backward", "check_tied_lm", "check_dropout",
           "check_combine_micro_batches"]

SCALAR_TOL = 1e-7


# ============================================================================================ machinery


class _Stop(Exception):
    """The student's code timed out: the remaining cases of the check are skipped."""


class _Grading:
    """A Report with declared sub-checks, input watching, and student calls that fail sub-checks instead of raising.

    Shared by the modules of notebook 13 (the class is machinery, not an expected-value helper)."""

    def __init__(self, exercise: str, points, seed: int, names: Sequence[str], *, watch: bool = True):
        self.report = Report(exercise, points, seed)
        for n in names:
            self.report.declare(n)
        self.watch = watch
        if watch:
            self.report.watch_inputs()

    def call(self, fn: Callable, *args, label: str, fail: Sequence[str], where: str = "", **kwargs):
        """(True, result) or (False, None) after failing every sub-check in ``fail`` with the error; a timeout also
        raises _Stop. Inputs are watched when the _Grading watches them."""
        try:
            result = call_student(fn, *args, label=label, notes=self.report.notes,
                                  report=self.report if self.watch else None, **kwargs)
            return True, result
        except StudentCodeError as exc:
            text = f"{where}: {exc}" if where else str(exc)
            for n in fail:
                self.report.fail(n, text)
            if isinstance(exc, StudentTimeout):
                for n, sub in self.report.checks.items():  # what was not reached is not credited
                    if sub.passed and n != MUTATION_CHECK:
                        self.report.fail(n, f"not checked: {label} did not finish in time earlier.")
                raise _Stop from None
            return False, None

    def fail(self, name: str, message: str) -> None:
        self.report.fail(name, message)

    def passed(self, name: str) -> bool:
        return self.report.passed(name)

    def finish(self):
        return self.report.finish()


def _scalar_problem(got: Any, want: float, *, name: str = "loss", tol: float = SCALAR_TOL) -> str | None:
    """Why ``got`` is not the number ``want`` (relative tolerance), or None."""
    v = real_number(got)
    if v is None:
        if isinstance(got, (float, np.floating)) and not math.isfinite(float(got)):
            return f"{name} is {float(got)} (not finite)."
        return f"{name} must be a finite real number (a float), got {type(got).__name__} ({brief(got)})."
    if math.isclose(v, want, rel_tol=tol, abs_tol=1e-12):
        return None
    return f"{name} = {v:.8g}, expected {want:.8g}."


def _grads_dict(got: Any, keys: Sequence[str], label: str) -> tuple[dict | None, str | None]:
    """(dict, None) when ``got`` is a dict with exactly ``keys``, else (None, why not)."""
    if not isinstance(got, Mapping):
        return None, f"{label} must be a dict with keys {', '.join(keys)}, got {type(got).__name__} ({brief(got)})."
    missing = [k for k in keys if k not in got]
    extra = [k for k in got if k not in keys]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(str, missing))}")
        if extra:
            parts.append(f"unexpected {', '.join(map(str, extra))}")
        return None, f"{label} must have exactly the keys {', '.join(keys)} ({'; '.join(parts)})."
    return dict(got), None


def _finite(v: Any) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(v, dtype=np.float64))))
    except (TypeError, ValueError):
        return False


def _named(problem: str, got: Any, expected: np.ndarray, candidates: Mapping[str, Any] | None = None, *,
          batch_size: int | None = None, generic: bool = True) -> str:
    """``problem`` followed by the likely mistake, when ``got`` equals one of the candidates (or a generic one).
    Candidates with inf/NaN entries are left out (they name nothing and would only raise warnings)."""
    kept = {}
    for code, variants in (candidates or {}).items():
        finite = [v for v in (variants if isinstance(variants, list) else [variants]) if _finite(v)]
        if finite:
            kept[code] = finite
    with np.errstate(all="ignore"):
        return problem + describe(diagnose(got, expected, kept, batch_size=batch_size, generic=generic))


def _numeric_hint(scaled_case: bool, text: str, ordinary_passed: bool) -> str:
    """NUMERIC_NOT_ANALYTIC for a gradient that is right on ordinary inputs and wrong only on the case with a large
    constant part (where centred differences lose their digits at every step size)."""
    if scaled_case and ordinary_passed and "Likely mistake" not in text and text.startswith("values differ"):
        return describe(diagnoses.get("NUMERIC_NOT_ANALYTIC"))
    return ""


# ============================================================================================ unbroadcast

_UB_KINDS = ("leading axes summed", "size-1 axes summed and kept", "leading and size-1 axes together",
             "no broadcasting (same shape, scalar)")


def _distinct_sizes(rng: np.random.Generator, n: int, low: int = 2, high: int = 7) -> list[int]:
    """n sizes in [low, high], pairwise different when possible (a swapped axis then shows in the shape)."""
    pool = list(range(low, high + 1))
    if n <= len(pool):
        return [int(v) for v in rng.choice(pool, size=n, replace=False)]
    return [int(v) for v in rng.integers(low, high + 1, size=n)]


def _ub_case(rng: np.random.Generator, kind: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(S, s): the broadcast shape and the operand's shape, for one kind of broadcasting."""
    if kind == "leading":
        rank = int(rng.integers(2, 5))
        S = tuple(_distinct_sizes(rng, rank))
        keep = int(rng.integers(1, rank))
        return S, S[rank - keep:]
    if kind == "size1":
        rank = int(rng.integers(2, 5))
        S = tuple(_distinct_sizes(rng, rank))
        ones = rng.random(rank) < 0.5
        ones[int(rng.integers(rank))] = True
        if ones.all():
            ones[int(rng.integers(rank))] = False
        return S, tuple(1 if o else d for o, d in zip(ones, S))
    if kind == "both":
        rank = int(rng.integers(3, 6))
        S = tuple(_distinct_sizes(rng, rank))
        lead = int(rng.integers(1, rank - 1))
        tail = list(S[lead:])
        tail[int(rng.integers(len(tail)))] = 1
        return S, tuple(tail)
    if kind == "same":
        S = tuple(_distinct_sizes(rng, int(rng.integers(1, 4))))
        return S, S
    if kind == "scalar":
        S = tuple(_distinct_sizes(rng, int(rng.integers(1, 4))))
        return S, ()
    if kind == "all_ones":
        S = tuple(_distinct_sizes(rng, 2))
        return S, (1, 1)
    raise ValueError(kind)


def _ub_cases(rng: np.random.Generator, thorough: bool):
    plan = [("leading", 0), ("size1", 1), ("both", 2), ("same", 3), ("scalar", 3), ("all_ones", 3)]
    if thorough:
        plan += [("leading", 0), ("size1", 1), ("both", 2), ("both", 2), ("size1", 1), ("scalar", 3)]
    out = []
    for kind, sub in plan:
        S, s = _ub_case(rng, kind)
        out.append((_UB_KINDS[sub], S, s, rng.standard_normal(S)))
    # the bias of a dense layer, always: dout (N, M) -> db (M,)
    N, M = _distinct_sizes(rng, 2)
    out.insert(0, (_UB_KINDS[0], (N, M), (M,), rng.standard_normal((N, M))))
    return out


def _ub_candidates(grad: np.ndarray, shape: tuple[int, ...], expected: np.ndarray) -> dict:
    """Wrong answers of unbroadcast(grad, shape), keyed by diagnosis code."""
    S = grad.shape
    lead = len(S) - len(shape)
    stretched = tuple(i for i, d in enumerate(shape) if d == 1 and S[lead + i] != 1)
    cands: dict[str, list] = {}
    if stretched:
        dropped = tuple(d for i, d in enumerate(shape) if i not in stretched)
        cands["UNBROADCAST_KEEPDIMS"] = [expected.reshape(dropped)]
        cands["UNBROADCAST_SIZE1_AXES"] = [grad.sum(axis=tuple(range(lead)))]
    if lead:
        cands["UNBROADCAST_LEADING_AXES"] = [grad.sum(axis=tuple(lead + i for i in stretched), keepdims=True)]
        if len(S) > 1 and lead != 1:
            cands["UNBROADCAST_LEADING_AXES"].append(grad.sum(axis=0))
    count = grad.size / max(1, int(np.prod(shape)))
    if count > 1:
        cands["UNBROADCAST_MEAN"] = [expected / count]
    return cands


def check_unbroadcast(unbroadcast, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``unbroadcast(grad, shape) -> array``: the gradient of an operand of ``shape`` that was broadcast to
    ``grad.shape``.

    Contract: grad is a float64 array of shape S (any rank); shape is a tuple of ints that broadcasts to S (align
    on the right; every size equal to S's or 1; fewer axes allowed, ``()`` for a scalar). The result is a float64
    array of exactly ``shape``: grad summed over the ``len(S) - len(shape)`` leading axes, then over every axis
    where shape has size 1 and S does not, keeping that axis. grad is not modified.

    Sub-checks (weight 1 each): "leading axes summed" (the dense-layer bias (N, M) -> (M,) and random ranks),
    "size-1 axes summed and kept", "leading and size-1 axes together", "no broadcasting (same shape, scalar)",
    plus "inputs left unchanged". Named mistakes: UNBROADCAST_KEEPDIMS, UNBROADCAST_SIZE1_AXES,
    UNBROADCAST_LEADING_AXES, UNBROADCAST_MEAN. Not allowed: looping over entries in Python is allowed but
    unnecessary; the result must not keep extra axes or drop size-1 ones.
    """
    require_callable(unbroadcast, "unbroadcast", 2)
    g = _Grading("unbroadcast", points, seed, _UB_KINDS)
    try:
        for sub, S, s, grad in _ub_cases(np.random.default_rng(seed), thorough):
            if not g.passed(sub):
                continue
            where = f"grad {S} -> shape {s}"
            ok, got = g.call(unbroadcast, grad, s, label="unbroadcast()", fail=[sub], where=where)
            if not ok:
                continue
            expected = _ref_bc.unbroadcast(grad, s)
            problem = array_problem(got, expected)
            if problem:
                g.fail(sub, f"{where}: " + _named(problem, got, expected, _ub_candidates(grad, s, expected),
                                                 generic=False))
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ embedding backward

_EMB_SUBS = ("ids used once", "repeated ids (scatter-add)", "a 2-D batch of sequences")


def _emb_cases(rng: np.random.Generator, thorough: bool):
    cases = []
    V, D = _distinct_sizes(rng, 2, 4, 9)
    idx = rng.permutation(V)[: max(2, V - 2)].astype(np.int64)  # distinct ids, some rows unused
    cases.append((_EMB_SUBS[0], idx, V, D))
    V, D = _distinct_sizes(rng, 2, 4, 9)
    idx = rng.integers(0, V, size=V + 3).astype(np.int64)
    idx[:3] = idx[3]  # one id at least four times
    cases.append((_EMB_SUBS[1], idx, V, D))
    V, D = _distinct_sizes(rng, 2, 5, 9)
    B, T = _distinct_sizes(rng, 2, 2, 4)
    idx = rng.integers(0, V, size=(B, T)).astype(np.int64)
    idx[0, 0] = idx[-1, -1] = idx[0, -1]
    cases.append((_EMB_SUBS[2], idx, V, D))
    if thorough:
        V, D = 50, 8
        idx = rng.integers(0, 6, size=(8, 12)).astype(np.int64)  # a few frequent ids, many repeats
        cases.append((_EMB_SUBS[2], idx, V, D))
        cases.append((_EMB_SUBS[1], np.array([1, 1, 1, 1], dtype=np.int64), 3, 2))
    return [(sub, idx, V, rng.standard_normal(idx.shape + (D,))) for sub, idx, V, D in cases]


def check_embedding_backward(embedding_backward, *, seed: int = 0, points: float | None = None,
                             thorough: bool = False):
    """Grade ``embedding_backward(dout, idx, V) -> dW``.

    Contract: the forward was ``out = W[idx]`` for an embedding table W (V, D) and integer ids idx of any shape I
    (int64, entries in [0, V)); dout has shape I + (D,). dW (V, D) float64: row v is the SUM of dout over every
    position whose id is v (0 for rows never looked up), i.e. ``np.add.at(dW, idx, dout)``. Inputs unchanged.

    Sub-checks: "ids used once", "repeated ids (scatter-add)", "a 2-D batch of sequences", "inputs left
    unchanged". Named mistake: EMBEDDING_LOST_UPDATES (``dW[idx] += dout``, which keeps one contribution per
    repeated id), MISSING_TRANSPOSE.
    """
    require_callable(embedding_backward, "embedding_backward", 3)
    g = _Grading("embedding backward (scatter-add)", points, seed, _EMB_SUBS)
    try:
        for sub, idx, V, dout in _emb_cases(np.random.default_rng(seed), thorough):
            if not g.passed(sub):
                continue
            where = f"idx of shape {idx.shape} (V={V}, D={dout.shape[-1]})"
            ok, got = g.call(embedding_backward, dout, idx, V, label="embedding_backward()", fail=[sub],
                             where=where)
            if not ok:
                continue
            _, cache = _ref_emb.embedding_forward(np.zeros((V, dout.shape[-1])), idx)
            expected, lost = _ref_emb.embedding_backward_lost_updates(dout, cache)
            problem = array_problem(got, expected)
            if problem:
                g.fail(sub, f"{where}: " + _named(problem, got, expected, {"EMBEDDING_LOST_UPDATES": lost}))
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ weight tying

_TIED_SUBS = ("loss", "dE (both uses of E)", "dW and db")


TIED_OFFSET = 3e8


def _tied_cases(rng: np.random.Generator, thorough: bool):
    specs = [(7, 4, 9, False), (6, 4, 8, True)] + ([(11, 5, 16, False), (5, 3, 6, False), (8, 5, 7, True)]
                                                  if thorough else [])
    out = []
    for V, D, N, offset in specs:
        params = _ref_emb.init_tied_lm(V, D, rng)
        params["b"] = 0.1 * rng.standard_normal(D)
        where = f"V={V}, D={D}, N={N}"
        if offset:  # every row of E gets the same huge last column, which W ignores (its last row is 0): the
            # logits all move by the same amount, which softmax ignores; finite differences lose their digits
            params["E"][:, -1] = TIED_OFFSET
            params["W"][-1, :] = 0.0
            where += f", E[:, -1] = {TIED_OFFSET:g} for every row (an offset of all logits)"
        idx = rng.integers(0, V, size=N).astype(np.int64)
        idx[:2] = idx[2]  # a repeated input id: the lookup's scatter-add matters
        y = rng.integers(0, V, size=N).astype(np.int64)
        out.append((where, params, idx, y, offset))
    return out


def check_tied_lm(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``tied_lm_loss_and_grads(E, W, b, idx, y) -> (loss, dE, dW, db)``.

    Contract: a toy next-token model whose embedding table E (V, D) is also its output projection:
    ``e = E[idx]`` (N, D), ``h = tanh(e @ W + b)`` with W (D, D), b (D,), ``logits = h @ E.T`` (N, V),
    loss = mean softmax cross-entropy against y (N,) int ids. dE must collect BOTH uses: the lookup's scatter-add
    plus the projection's ``dlogits.T @ h``. float64 results with the parameters' shapes; inputs unchanged.

    Sub-checks: "loss", "dE (both uses of E)", "dW and db", "inputs left unchanged". Named mistakes: TIED_ONE_USE
    (only one use's gradient), EMBEDDING_LOST_UPDATES (the lookup's part with ``dE[idx] += ...``),
    NUMERIC_NOT_ANALYTIC (a case whose E has the same huge last column in every row and whose W ignores it: all
    logits move by the same 3e8, which softmax ignores and finite differences do not).
    """
    require_callable(fn, "tied_lm_loss_and_grads", 5)
    g = _Grading("weight tying: a tied toy language model", points, seed, _TIED_SUBS)
    label = "tied_lm_loss_and_grads()"
    try:
        for where, params, idx, y, offset in _tied_cases(np.random.default_rng(seed), thorough):
            ok, res = g.call(fn, params["E"], params["W"], params["b"], idx, y, label=label, fail=_TIED_SUBS,
                             where=where)
            if not ok:
                continue
            try:
                loss, dE, dW, db = unpack(res, ("loss", "dE", "dW", "db"), label)
            except StudentCodeError as exc:
                for n in _TIED_SUBS:
                    g.fail(n, f"{where}: {exc}")
                continue
            want_loss, want = _ref_emb.tied_lm_loss_and_grads(params, idx, y)
            problem = _scalar_problem(loss, want_loss)
            if problem:
                g.fail("loss", f"{where}: {problem}")
            untied = {"E_in": params["E"], "E_out": params["E"], "W": params["W"], "b": params["b"]}
            _, parts = _ref_emb.untied_lm_loss_and_grads(untied, idx, y)
            problem = array_problem(dE, want["E"])
            if problem:
                lost_lookup = _tied_lost_lookup(params, idx, y)
                cands = {"TIED_ONE_USE": [parts["E_in"], parts["E_out"]],
                         "EMBEDDING_LOST_UPDATES": [lost_lookup + parts["E_out"], lost_lookup]}
                text = _named(problem, dE, want["E"], cands, batch_size=len(idx))
                text += _numeric_hint(offset, text, g.passed("dE (both uses of E)"))
                g.fail("dE (both uses of E)", f"{where}: dE {text}")
            for name, got in (("dW", dW), ("db", db)):
                problem = array_problem(got, want[name[1:]])
                if problem:
                    text = _named(problem, got, want[name[1:]], batch_size=len(idx))
                    text += _numeric_hint(offset, text, g.passed("dW and db"))
                    g.fail("dW and db", f"{where}: {name} {text}")
    except _Stop:
        pass
    return g.finish()


def _tied_lost_lookup(params: dict, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The lookup's part of dE computed with ``dE[idx] += de`` (lost updates for repeated ids)."""
    E, W, b = params["E"], params["W"], params["b"]
    h = np.tanh(E[idx] @ W + b)
    _, dlogits = _ref_losses.softmax_cross_entropy(h @ E.T, y)
    dz = (dlogits @ E) * (1.0 - h * h)
    out = np.zeros_like(E)
    out[idx] += dz @ W.T
    return out


# ============================================================================================ dropout

_DROP_SUBS = ("train forward (mask and scale)", "backward", "eval mode is the identity")


def _drop_cases(rng: np.random.Generator, thorough: bool):
    specs = [((6, 5), 0.5), ((4, 7), 0.2), ((3, 4), 0.0)]
    if thorough:
        specs += [((2, 3, 4), 0.8), ((50,), 0.35), ((8, 8), 0.5)]
    return [(shape, p, rng.standard_normal(shape), int(rng.integers(0, 2**31 - 1))) for shape, p in specs]


def check_dropout(dropout_forward, dropout_backward, *, seed: int = 0, points: float | None = None,
                  thorough: bool = False):
    """Grade inverted dropout: ``dropout_forward(x, p_drop, rng, train=True) -> (out, cache)`` and
    ``dropout_backward(dout, cache) -> dx``.

    Contract: x float64 of any shape, p_drop in [0, 1), rng a numpy Generator. Train mode draws the keep mask with
    ONE call ``rng.random(x.shape) >= p_drop`` and returns ``out = x * mask / (1 - p_drop)`` (so E[out] = x);
    the backward multiplies dout by the same mask and scale (graded against the learner's own forward output, so
    that a wrong draw costs the forward's sub-check only). Eval mode (``train=False``) is the identity: out is x
    (a new array), nothing is drawn, and the backward passes dout through. Inputs unchanged.

    Sub-checks: "train forward (mask and scale)", "backward", "eval mode is the identity", "inputs left
    unchanged". Named mistakes: DROPOUT_SCALE (no 1/(1-p)), DROPOUT_KEEP_PROB_SWAPPED (p_drop used as the keep
    probability), DROPOUT_NOT_INVERTED (scaling by (1-p) at test time), DROPOUT_IN_EVAL (dropping at test time).
    """
    require_callable(dropout_forward, "dropout_forward", 3)
    require_callable(dropout_backward, "dropout_backward", 2)
    g = _Grading("inverted dropout", points, seed, _DROP_SUBS)
    T, B, E = _DROP_SUBS
    try:
        for shape, p, x, s in _drop_cases(np.random.default_rng(seed), thorough):
            where = f"x of shape {shape}, p_drop={p}"
            r = np.random.default_rng(s).random(shape)
            keep = (r >= p).astype(np.float64)
            mask = keep / (1.0 - p)
            swapped = (r < p).astype(np.float64)
            # train forward
            ok, res = g.call(dropout_forward, x, p, np.random.default_rng(s), True, label="dropout_forward()",
                             fail=[T, B], where=where)
            if ok:
                try:
                    out, cache = unpack(res, ("out", "cache"), "dropout_forward()")
                except StudentCodeError as exc:
                    g.fail(T, f"{where}: {exc}")
                    g.fail(B, f"{where}: the forward's result is unusable.")
                    ok = False
            if ok:
                expected = x * mask
                problem = array_problem(out, expected)
                own = mask  # the mask and scale the backward must apply: the learner's own forward's, when usable
                if problem:
                    cands = {"DROPOUT_SCALE": x * keep, "DROPOUT_KEEP_PROB_SWAPPED": [x * swapped / (1 - p)]}
                    if p > 0:
                        cands["DROPOUT_KEEP_PROB_SWAPPED"].append(x * swapped / p)
                    g.fail(T, f"{where}: out " + _named(problem, out, expected, cands, generic=False)
                           + ("" if p == 0 else " (the mask must be rng.random(x.shape) >= p_drop, drawn once)"))
                    if problem.startswith("values differ"):
                        own = np.asarray(out, dtype=np.float64) / x  # x has no zero entry
                dout = np.random.default_rng(s + 1).standard_normal(shape)
                okb, dx = g.call(dropout_backward, dout, cache, label="dropout_backward()", fail=[B], where=where)
                if okb:
                    expected = dout * own
                    problem = array_problem(dx, expected)
                    if problem:
                        text = _named(problem, dx, expected, {"DROPOUT_SCALE": dout * (own != 0)}, generic=False)
                        if own is not mask:
                            text += " (dx must use the mask and scale of your forward's output)"
                        g.fail(B, f"{where}: dx " + text)
            # eval mode
            ok, res = g.call(dropout_forward, x, p, np.random.default_rng(s), False, label="dropout_forward(train="
                             "False)", fail=[E], where=where)
            if not ok:
                continue
            try:
                out, cache = unpack(res, ("out", "cache"), "dropout_forward(train=False)")
            except StudentCodeError as exc:
                g.fail(E, f"{where}: {exc}")
                continue
            problem = array_problem(out, x)
            if problem:
                cands = {"DROPOUT_NOT_INVERTED": x * (1 - p), "DROPOUT_IN_EVAL": [x * mask, x * keep]}
                g.fail(E, f"{where}, eval: out " + _named(problem, out, x, cands, generic=False))
                continue
            dout = np.random.default_rng(s + 2).standard_normal(shape)
            okb, dx = g.call(dropout_backward, dout, cache, label="dropout_backward() in eval mode", fail=[E],
                             where=where)
            if okb:
                problem = array_problem(dx, dout)
                if problem:
                    cands = {"DROPOUT_NOT_INVERTED": dout * (1 - p), "DROPOUT_IN_EVAL": [dout * mask, dout * keep]}
                    g.fail(E, f"{where}, eval: dx " + _named(problem, dx, dout, cands, generic=False))
    except _Stop:
        pass
    return g.finish()


# ============================================================================================ accumulation

_ACC_SUBS = ("equal micro-batches", "unequal micro-batches (a smaller last one)", "loss")


def _acc_cases(rng: np.random.Generator, thorough: bool):
    specs = [((6, 6, 6, 6), 0), ((8, 8, 4), 1), ((5,), 0)]
    if thorough:
        specs += [((3, 3, 3, 3, 3, 1), 1), ((10, 10), 0), ((7, 2), 1)]
    out = []
    for sizes, sub in specs:
        N = sum(sizes)
        params = _ref_net.init_params([3, 5, 4], "he", rng)
        X, y = rng.standard_normal((N, 3)), rng.integers(0, 4, N)
        edges = np.cumsum((0,) + sizes)
        losses, grads = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            loss_j, g_j = _ref_net.mlp_loss_and_grads(params, X[a:b], y[a:b])
            losses.append(float(loss_j))
            grads.append(g_j)
        full_loss, full = _ref_net.mlp_loss_and_grads(params, X, y)
        out.append((_ACC_SUBS[sub], list(sizes), losses, grads, float(full_loss), full))
    return out


def check_combine_micro_batches(fn, *, seed: int = 0, points: float | None = None, thorough: bool = False):
    """Grade ``combine_micro_batches(losses, grads, sizes) -> (loss, grads)``.

    Contract: a MEAN loss over N examples was computed in k micro-batches; ``losses[j]`` is the mean loss of
    micro-batch j (a float), ``grads[j]`` its gradient dict (name -> float64 array), ``sizes[j]`` its number of
    examples n_j (N = sum of sizes). Return the full-batch mean loss and gradient dict:
    ``sum_j n_j * losses[j] / N`` and ``sum_j n_j * grads[j][name] / N`` (1/k each when the sizes are equal).
    Inputs unchanged.

    Sub-checks: "equal micro-batches", "unequal micro-batches (a smaller last one)", "loss", "inputs left
    unchanged". Named mistakes: ACCUMULATION_NO_1_OVER_K (summed, not averaged), ACCUMULATION_UNEQUAL (1/k
    weights with unequal sizes).
    """
    require_callable(fn, "combine_micro_batches", 3)
    g = _Grading("gradient accumulation over micro-batches", points, seed, _ACC_SUBS)
    label = "combine_micro_batches()"
    try:
        for sub, sizes, losses, grads, full_loss, full in _acc_cases(np.random.default_rng(seed), thorough):
            where = f"sizes {sizes}"
            ok, res = g.call(fn, losses, grads, sizes, label=label, fail=[sub, "loss"], where=where)
            if not ok:
                continue
            try:
                loss, got = unpack(res, ("loss", "grads"), label)
            except StudentCodeError as exc:
                g.fail(sub, f"{where}: {exc}")
                g.fail("loss", f"{where}: {exc}")
                continue
            k = len(sizes)
            problem = _scalar_problem(loss, full_loss)
            if problem:
                if real_number(loss) is not None and math.isclose(real_number(loss), sum(losses), rel_tol=1e-9) \
                        and k > 1:
                    problem += describe(diagnoses.get("ACCUMULATION_NO_1_OVER_K"))
                elif real_number(loss) is not None and math.isclose(real_number(loss), sum(losses) / k,
                                                                    rel_tol=1e-9) and len(set(sizes)) > 1:
                    problem += describe(diagnoses.get("ACCUMULATION_UNEQUAL"))
                g.fail("loss", f"{where}: {problem}")
            got, problem = _grads_dict(got, list(full), "grads")
            if problem:
                g.fail(sub, f"{where}: {problem}")
                continue
            for name in full:
                expected = full[name]
                problem = array_problem(got[name], expected)
                if problem:
                    summed = sum(gj[name] for gj in grads)
                    cands = {"ACCUMULATION_NO_1_OVER_K": summed if k > 1 else None,
                             "ACCUMULATION_UNEQUAL": summed / k if len(set(sizes)) > 1 else None}
                    cands = {c: v for c, v in cands.items() if v is not None}
                    g.fail(sub, f"{where}: grads[{name!r}] " + _named(problem, got[name], expected, cands,
                                                                     generic=False))
                    break
    except _Stop:
        pass
    return g.finish()
