"""Live-coding problems: "implement <layer> forward/backward", graded by the notebooks' own checks.

A live-coding family is ONE :class:`LiveSpec` entry: the functions to write (signature and contract), the
grader check that the course's notebook uses for them, a time limit, the notebook that teaches it, hints and a
solution sketch. The stub file is generated from the entry. To add a layer of a later notebook::

    register(LiveSpec(
        "code_conv", "Live coding: convolution forward and backward",
        functions=(("conv_forward(x, w, b, stride, pad)", "x (N, C, H, W), w (F, C, KH, KW) ... Return (out, cache)."),
                   ("conv_backward(dout, cache)", "Return (dx, dw, db).")),
        check=lambda *fns, **kw: graders.conv.check_conv(*fns, **kw),   # called as check(*functions, seed=, points=)
        minutes=30, notebook="10", weight=2, hints=("...", "...", "..."), solution="..."))

Grading a candidate's code (:func:`grade_source`): the text is compiled and executed in a fresh namespace of
its own (never the drill's), under a time limit, with its prints captured; the functions it defines are
passed to the check with ``points=1`` so that its score is the fraction of sub-checks passed (the notebooks'
partial credit) and its report names the mistakes exactly as in the notebook (``[MISSING_TRANSPOSE]``, ...).
The terminal drill goes one step further and grades the candidate's file in a separate Python process
(:func:`grade_file`, through ``python -m graders.drill --grade-file``), so nothing the file does can touch
the drill process.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import textwrap
import threading
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from graders.core import GradingError
from graders.drill.registry import Feedback, Problem, family

EXEC_SECONDS = 20.0       # loading the candidate's code (top-level statements)
FILE_SECONDS = 240.0      # the whole subprocess grading a file (the checks have their own per-call limits)
MAX_OUTPUT = 4000         # characters of the candidate's own prints kept in a result
_CODE = re.compile(r"Likely mistake \[([A-Z0-9_]+)\]")


@dataclass(frozen=True)
class LiveSpec:
    """One live-coding family (see the module docstring)."""
    family: str
    title: str
    functions: tuple[tuple[str, str], ...]
    check: Callable
    minutes: int
    notebook: str
    weight: float
    hints: tuple[str, str, str]
    solution: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sig.split("(", 1)[0].strip() for sig, _ in self.functions)

    def stub(self) -> str:
        """The file a candidate starts from."""
        lines = [f'"""{self.title}.', "",
                 "Write the functions below; keep their names and signatures. They are graded by the check that",
                 f"notebook {self.notebook} uses: random float64 inputs, a random upstream gradient, mistakes named,",
                 'partial credit per sub-check."""', "", "import numpy as np", ""]
        for sig, contract in self.functions:
            name = sig.split("(", 1)[0].strip()
            doc = textwrap.wrap(contract, width=100)
            body = [f'    """{doc[0]}'] + [f"    {ln}" for ln in doc[1:]]
            body[-1] += '"""'
            lines += ["", f"def {sig}:", *body, f'    raise NotImplementedError("write {name}")', ""]
        return "\n".join(lines).rstrip() + "\n"


SPECS: dict[str, LiveSpec] = {}


@dataclass(frozen=True)
class CodeResult:
    """The outcome of grading one version of the candidate's code."""
    score: float                    # fraction of the check's sub-checks passed, 0..1
    report: str                     # the check's report, or why the code could not be graded
    diagnoses: tuple[str, ...] = ()
    output: str = ""                # what the candidate's code printed while it was loaded and graded
    ran: bool = False               # the functions were found and given to the check

    def feedback(self) -> Feedback:
        full = self.score >= 1.0
        if full:
            last = self.report.strip().splitlines()[-1] if self.report.strip() else ""
            message = last.lstrip("✓ ").strip() or "All checks passed."
        else:
            message = f"Score {self.score:.2f} of 1 from the grader.\n{self.report.strip()}"
        return Feedback(full, message, self.diagnoses[0] if self.diagnoses else None, score=float(self.score),
                        diagnoses=self.diagnoses, counts=True)


class _Expired(BaseException):
    pass


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise _Expired after ``seconds`` (SIGALRM in the main thread; elsewhere no limit)."""
    if not (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()):
        yield
        return

    def expired(signum, frame):
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _student_lines(exc: BaseException, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return "".join(f"\n    line {f.lineno}: {f.line}" for f in frames[-3:] if f.line)


def grade_source(family_name: str, source: str, seed: int, *, filename: str = "<your code>") -> CodeResult:
    """Run ``source`` in a namespace of its own and grade the functions it defines with the family's check."""
    spec = SPECS[family_name]
    out = io.StringIO()
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        return CodeResult(0.0, f"Your code does not compile: {exc.msg} (line {exc.lineno}).")
    namespace = {"__name__": "__drill_candidate__", "__builtins__": builtins}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), _deadline(EXEC_SECONDS):
            exec(code, namespace)
    except _Expired:
        return CodeResult(0.0, f"Loading your code took longer than {EXEC_SECONDS:g} s (an endless loop at the top "
                               f"level?).", output=out.getvalue()[:MAX_OUTPUT])
    except BaseException as exc:  # noqa: BLE001 - anything the candidate's top level raises is reported
        return CodeResult(0.0, f"Your code raised {type(exc).__name__} while loading: {exc}"
                               f"{_student_lines(exc, filename)}", output=out.getvalue()[:MAX_OUTPUT])
    missing = [n for n in spec.names if not callable(namespace.get(n))]
    if missing:
        return CodeResult(0.0, f"Define {', '.join(f'`{n}`' for n in missing)} (keep the names of the stub).",
                          output=out.getvalue()[:MAX_OUTPUT])
    functions = [namespace[n] for n in spec.names]
    report = io.StringIO()
    try:
        with contextlib.redirect_stdout(report):
            score = spec.check(*functions, seed=seed, points=1.0)
    except GradingError as exc:
        score, text = 0.0, report.getvalue() + str(exc)
    else:
        text = report.getvalue()
    codes = tuple(dict.fromkeys(_CODE.findall(text)))
    return CodeResult(float(score or 0.0), text.strip(), codes, out.getvalue()[:MAX_OUTPUT], True)


def grade_file(family_name: str, path: str | Path, seed: int, *, timeout: float = FILE_SECONDS) -> CodeResult:
    """Grade the candidate's file in a separate Python process (``python -m graders.drill --grade-file``)."""
    cmd = [sys.executable, "-m", "graders.drill", "--grade-file", str(path), "--family", family_name,
           "--seed", str(int(seed))]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return CodeResult(0.0, f"Grading took longer than {timeout:g} s: look for an endless loop.")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip()[-1500:]
        return CodeResult(0.0, f"The grading process failed (exit code {done.returncode}):\n{tail}")
    data = json.loads(lines[-1])
    data["diagnoses"] = tuple(data.get("diagnoses", ()))
    return CodeResult(**data)


def grade_file_here(family_name: str, path: str | Path, seed: int) -> str:
    """The JSON line printed by ``--grade-file`` (runs in the child process)."""
    p = Path(path)
    try:
        source = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        result = CodeResult(0.0, f"Cannot read {p}: {exc}")
    else:
        result = grade_source(family_name, source, seed, filename=str(p))
    return json.dumps(asdict(result))


def check_code(problem: Problem, source) -> Feedback:
    """Grade a code text in this process (the notebook's live-coding cell)."""
    if not isinstance(source, str) or not source.strip():
        return Feedback(False, "No code yet: write the functions of the stub.", "FORMAT", counts=False)
    if source.strip() == problem.stub.strip():
        return Feedback(False, "This is still the untouched stub: write the functions first.", "FORMAT",
                        counts=False)
    return grade_source(problem.family, source, problem.seed).feedback()


def register(spec: LiveSpec) -> LiveSpec:
    """Add a live-coding family (see the module docstring for an example)."""
    if not 15 <= spec.minutes <= 45:
        raise ValueError(f"{spec.family}: live-coding limits are 15-45 minutes, got {spec.minutes}")
    SPECS[spec.family] = spec

    def make(rng: np.random.Generator, spec=spec) -> Problem:
        seed = int(rng.integers(1, 2 ** 31 - 1))
        sigs = "\n".join(f"  {sig}: {contract}" for sig, contract in spec.functions)
        prompt = (f"Implement, from scratch and without notes:\n{sigs}\n\nStart from the stub; check as often as "
                  f"you like (each check that does not pass everything costs a little), then submit. Graded by the "
                  f"same check as notebook {spec.notebook}.")
        return Problem(spec.family, spec.title, prompt, "Python functions in the stub's file or cell", spec.names,
                       spec.hints, spec.solution, spec.minutes * 60, stub=spec.stub(), seed=seed,
                       data={"functions": spec.names, "notebook": spec.notebook})

    family(spec.family, spec.title, kind="coding", competency="coding", weight=spec.weight, check=check_code,
           notebook=spec.notebook)(make)
    return spec


def _checks():
    from graders import batchnorm as g_bn
    from graders import layers as g_layers
    from graders import network as g_net
    from graders import rnn as g_rnn
    from graders.exercises import attention as g_attn
    return g_layers, g_net, g_bn, g_rnn, g_attn


_LAYERS, _NET, _BN, _RNN, _ATTN = _checks()

register(LiveSpec(
    "code_affine", "Live coding: affine layer forward and backward",
    (("affine_forward(x, W, b)", "out = x @ W + b with x (N, D), W (D, M), b (M,). Return (out (N, M), cache)."),
     ("affine_backward(dout, cache)", "dout (N, M). Return (dx (N, D), dW (D, M), db (M,)).")),
    _LAYERS.check_affine, 15, "03", 3,
    ("Cache exactly what the backward needs: x and W.",
     "Match shapes: dW must be (D, M) and dx (N, D); each is one matrix product with dout.",
     "dx = dout @ W.T, dW = x.T @ dout, db = dout.sum(axis=0) (the bias is broadcast over the batch)."),
    "forward: return x @ W + b, (x, W). backward: dx = dout @ W.T; dW = x.T @ dout; db = dout.sum(axis=0)."))

register(LiveSpec(
    "code_softmax_ce", "Live coding: softmax cross-entropy loss and gradient",
    (("softmax_cross_entropy(scores, y)",
      "scores (N, C) float64 logits, y (N,) int labels. Return (loss: the MEAN over the N rows of -log softmax("
      "scores)[i, y[i]], dscores (N, C)). Must be stable for logits around 1e3."),),
    _NET.check_softmax_cross_entropy, 15, "03", 3,
    ("Subtract each row's maximum before exponentiating: softmax does not change, exp cannot overflow.",
     "loss = -mean(log p[i, y[i]]) with log p = shifted - log(sum(exp(shifted))) per row.",
     "dscores = (p - onehot(y)) / N: copy p, subtract 1 at [range(N), y], divide by N."),
    "shifted = scores - scores.max(axis=1, keepdims=True); logp = shifted - np.log(np.exp(shifted).sum(axis=1, "
    "keepdims=True)); loss = -logp[np.arange(N), y].mean(); dscores = np.exp(logp); dscores[np.arange(N), y] -= 1; "
    "dscores /= N."))

register(LiveSpec(
    "code_batchnorm", "Live coding: batchnorm forward and backward (train mode)",
    (("batchnorm_forward(x, gamma, beta, eps=1e-5)",
      "Train mode: normalize every column of x (N, D) with the batch mean and the BIASED batch variance, "
      "out = gamma * xhat + beta with gamma, beta (D,). Return (out (N, D), cache)."),
     ("batchnorm_backward(dout, cache)", "dout (N, D). Return (dx (N, D), dgamma (D,), dbeta (D,)).")),
    _BN.check_batchnorm_backward, 30, "07", 2,
    ("Cache xhat, 1/sqrt(var + eps) and gamma; dbeta and dgamma sum over the batch (axis 0).",
     "Start from dxhat = gamma * dout: the mean and the variance both depend on every x_i of the column.",
     "dx = inv_std * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))."),
    "forward: mu = x.mean(0); var = x.var(0); inv_std = 1 / np.sqrt(var + eps); xhat = (x - mu) * inv_std; "
    "out = gamma * xhat + beta. backward: dbeta = dout.sum(0); dgamma = (dout * xhat).sum(0); dxhat = dout * gamma; "
    "dx = inv_std * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))."))

register(LiveSpec(
    "code_layernorm", "Live coding: layernorm forward and backward",
    (("layernorm_forward(x, gamma, beta, eps=1e-5)",
      "Normalize every ROW of x (N, D) over its D features (biased variance), out = gamma * xhat + beta with "
      "gamma, beta (D,). Return (out (N, D), cache)."),
     ("layernorm_backward(dout, cache)", "dout (N, D). Return (dx (N, D), dgamma (D,), dbeta (D,)).")),
    _BN.check_layernorm, 20, "07", 2,
    ("Batchnorm with the axes swapped for the statistics: mean and var over axis=1 with keepdims=True.",
     "gamma and beta are still shared by the batch: dgamma and dbeta sum over axis 0.",
     "dx = inv_std * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True))."),
    "forward: mu = x.mean(1, keepdims=True); var = x.var(1, keepdims=True); inv_std = 1 / np.sqrt(var + eps); "
    "xhat = (x - mu) * inv_std. backward: dxhat = dout * gamma; dx = inv_std * (dxhat - dxhat.mean(1, keepdims=True) "
    "- xhat * (dxhat * xhat).mean(1, keepdims=True)); dgamma = (dout * xhat).sum(0); dbeta = dout.sum(0)."))

register(LiveSpec(
    "code_rnn_step", "Live coding: vanilla RNN step forward and backward",
    (("rnn_step_forward(x, h_prev, Wx, Wh, b)",
      "next_h = tanh(x @ Wx + h_prev @ Wh + b) with x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,). "
      "Return (next_h (N, H), cache)."),
     ("rnn_step_backward(dnext_h, cache)", "dnext_h (N, H). Return (dx, dh_prev, dWx, dWh, db) with the shapes "
                                           "of x, h_prev, Wx, Wh, b.")),
    _RNN.check_rnn_step, 20, "06", 2,
    ("Cache x, h_prev, Wx, Wh and next_h: tanh's derivative is computed from its output.",
     "da = dnext_h * (1 - next_h**2) is the gradient at the pre-activation; everything else is affine.",
     "dx = da @ Wx.T, dh_prev = da @ Wh.T, dWx = x.T @ da, dWh = h_prev.T @ da, db = da.sum(axis=0)."),
    "forward: next_h = np.tanh(x @ Wx + h_prev @ Wh + b); cache = (x, h_prev, Wx, Wh, next_h). backward: da = "
    "dnext_h * (1 - next_h**2); return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)."))

register(LiveSpec(
    "code_attention", "Live coding: scaled dot-product attention forward and backward, with a mask",
    (("attention_forward(Q, K, V, mask=None)",
      "out = softmax(Q K^T / sqrt(d)) V with Q (B, Tq, d), K (B, Tk, d), V (B, Tk, dv); the softmax over the keys "
      "(last axis), stable for large scores; mask None or boolean broadcastable to (B, Tq, Tk), True = keep, masked "
      "weights exactly 0. Return (out (B, Tq, dv), cache)."),
     ("attention_backward(dout, cache)", "dout (B, Tq, dv). Return (dQ, dK, dV) with the shapes of Q, K, V, "
                                         "analytically (not by finite differences).")),
    _ATTN.check_attention_backward, 30, "10", 3,
    ("Cache Q, K, V, the MASKED weights P and the scale; apply the mask to the scores with np.where before the "
     "softmax.",
     "dV = P^T dout and dP = dout V^T (swap the last two axes); the softmax VJP is P * (dP - rowsum(dP * P)).",
     "dQ = dS K * scale and dK = dS^T Q * scale: rows of dS are queries, columns keys."),
    "forward: scale = 1 / np.sqrt(Q.shape[-1]); S = Q @ np.swapaxes(K, -1, -2) * scale; S = np.where(mask, S, "
    "-np.inf) if a mask is given; P = exp(S - S.max(-1, keepdims=True)), normalized over axis -1; out = P @ V. "
    "backward: dV = swapaxes(P) @ dout; dP = dout @ swapaxes(V); dS = P * (dP - (dP * P).sum(-1, keepdims=True)); "
    "dQ = dS @ K * scale; dK = swapaxes(dS) @ Q * scale."))
