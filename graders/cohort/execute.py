"""nbgrader's Execute step, split in two: the student's cells run in a sandbox, the test cells run here.

:class:`GradedExecute` replaces nbgrader's Execute preprocessor in ``autograde``. For one notebook it

1. prepares the submission's sandbox (graders.cohort.sandbox) and starts the kernel in it
   (graders.remote.sandbox_kernel, over ZeroMQ Unix sockets: the sandbox has no network);
2. sends every ordinary cell to that kernel, as nbgrader would, with a wall-clock budget for the whole notebook
   and a cap on output size;
3. never sends a test cell: it runs the instructor's test cell in THIS process (which holds the reference
   library, the hidden seeds and answer keys), with the notebook's setup imports and, for every other name the
   test uses, a proxy fetched from the kernel over the grading socket (graders.remote). The outputs written into
   the notebook, hence nbgrader's score, are the grader's own; output of the hidden part of a test is marked in
   its metadata (``backprop.hidden``) so feedback can drop it by structure, not by text;
4. records what happened (kernel death, budget used up, protocol violations) in :func:`runs` for the worker.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader import utils as nbu
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.util import ensure_async, run_hook, run_sync
from queue import Empty

from graders.cohort import sandbox
from graders.remote import client as remote_client

KERNEL_NAME = "backprop-sandboxed"
SERVE_CODE = "__import__('graders.remote.server', fromlist=['serve']).serve()"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
OUTPUT_LIMIT = 2_000_000          # characters of student output kept per notebook


@dataclass
class Job:
    """What the worker tells GradedExecute about the submission being graded."""
    student: str
    opt: Path                       # mounted at /opt/backprop in the sandbox
    kernels: Path                   # folder holding the kernel spec
    state: Path                     # private folder for this submission's kernel folders
    notebook_timeout: float = 600.0
    cell_timeout: float = 60.0
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    masked: list[Path] = field(default_factory=list)
    unsafe: bool = False            # --unsafe-no-sandbox: the kernel runs as this user without bwrap


@dataclass
class Run:
    """What happened while one notebook was executed."""
    notebook: str
    dead: str | None = None         # why the kernel stopped early (None: it did not)
    budget_used: bool = False
    cell_timeouts: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    output_cut: bool = False
    grader_errors: list[str] = field(default_factory=list)
    hidden: dict[str, list[str]] = field(default_factory=dict)   # grade_id -> failed hidden sub-checks


_local = threading.local()   # one job per thread: Dask runs several tasks in threads of one process


def set_job(job: Job | None) -> None:
    """Tell GradedExecute (in this thread) which submission it grades next; clears the runs recorded so far."""
    _local.job = job
    _local.runs = []


def current_job() -> Job | None:
    return getattr(_local, "job", None)


def runs() -> list[Run]:
    """What happened in each notebook executed in this thread since set_job()."""
    return getattr(_local, "runs", [])


class _ThreadStdout(io.TextIOBase):
    """sys.stdout that a thread can point at its own buffer (test cells capture their output per thread)."""

    def __init__(self, original):
        self.original = original

    def writable(self) -> bool:
        return True

    def write(self, s) -> int:
        target = getattr(_local, "stdout", None)
        return (target or self.original).write(s)

    def flush(self) -> None:
        target = getattr(_local, "stdout", None)
        (target or self.original).flush()


@contextlib.contextmanager
def _capture_stdout(buf: io.StringIO):
    if not isinstance(sys.stdout, _ThreadStdout):
        sys.stdout = _ThreadStdout(sys.stdout)
    old = getattr(_local, "stdout", None)
    _local.stdout = buf
    try:
        yield
    finally:
        _local.stdout = old


def install_kernelspec(folder: Path) -> Path:
    """Write the sandboxed kernel's spec (argv: the launcher in graders.cohort.sandbox) under ``folder``."""
    d = Path(folder) / "kernels" / KERNEL_NAME
    d.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "graders.cohort.sandbox", "-f", "{connection_file}"],
            "display_name": "Python 3 (graded, sandboxed)", "language": "python", "interrupt_mode": "message",
            "env": {}}
    (d / "kernel.json").write_text(json.dumps(spec, indent=1))
    return d


def prepare_opt(dest: Path) -> Path:
    """The read-only /opt/backprop of every sandbox: stand-in graders, public course material, visuals."""
    import graders
    import visuals

    src = Path(graders.__file__).resolve().parent
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    (dest / "graders").mkdir(parents=True)
    (dest / "graders" / "__init__.py").write_text('"""Stand-in: the checks run outside this sandbox."""\n')
    for sub in ("public", "remote"):
        shutil.copytree(src / sub, dest / "graders" / sub, ignore=ignore)
    shutil.copytree(Path(visuals.__file__).resolve().parent, dest / "visuals", ignore=ignore)
    from graders import concepts  # the question texts, without their answer digests

    texts = {qid: {"text": q.text, "options": dict(q.options)} for qid, q in concepts.questions().items()}
    (dest / "graders" / "public" / "question_texts.json").write_text(json.dumps(texts), encoding="utf-8")
    import compileall

    compileall.compile_dir(str(dest), quiet=1, workers=1)  # the sandbox cannot write bytecode caches
    for path in [dest, *dest.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return dest


# ============================================================================================ test cells


def _hidden_lines(source: str) -> set[int]:
    hidden, inside = set(), False
    for i, line in enumerate(source.splitlines(), 1):
        if HIDDEN_BEGIN in line:
            inside = True
        elif HIDDEN_END in line:
            inside = False
        elif inside:
            hidden.add(i)
    return hidden


def setup_namespace(nb: nbformat.NotebookNode) -> dict:
    """The imports of the notebook's locked, non-graded cells (the instructor's setup), run here."""
    ns: dict = {"__name__": "__grader__", "__builtins__": builtins}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("grade") or meta.get("solution"):
            continue
        try:
            tree = ast.parse(_strip_magics(cell.source))
        except SyntaxError:
            continue
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        if imports:
            exec(compile(ast.Module(body=imports, type_ignores=[]), "<setup>", "exec"), ns)
    return ns


def _strip_magics(src: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def _free_names(tree: ast.AST, known: dict) -> list[str]:
    stores = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    loads = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    out = []
    for name in dict.fromkeys(loads):
        if name not in known and name not in stores and not hasattr(builtins, name):
            out.append(name)
    return out


def _error_output(ename: str, message: str, hidden: bool, lines: list[str] | None = None) -> nbformat.NotebookNode:
    """An error output as the student sees it in the notebook: the grader's message, never a traceback."""
    out = new_output("error", ename=ename, evalue=message, traceback=lines or [f"{ename}: {message}"])
    if hidden:
        out.metadata = {"backprop": {"hidden": True}}
    return out


def run_test_cell(source: str, lookup, setup_ns: dict, *, grade_id: str = "") -> tuple[list, list[str]]:
    """Execute a test cell here; names not in ``setup_ns`` come from ``lookup(name)`` (MISSING: undefined).

    Returns (nbformat outputs, failed hidden sub-checks). Statements run in order like a notebook cell; the
    value of a final expression becomes the execute_result (nbgrader's partial credit).
    """
    from graders import core

    hidden_lines = _hidden_lines(source)
    tree = ast.parse(_strip_magics(source))
    ns = dict(setup_ns)
    for name in _free_names(tree, ns):
        try:
            value = lookup(name)
        except remote_client.Unreadable as exc:
            return [_error_output("GradingError", f"{exc}; this cell scores 0.", False)], []
        if value is not remote_client.MISSING:
            ns[name] = value
    outputs: list = []
    hidden_failed: list[str] = []
    body = list(tree.body)
    for k, node in enumerate(body):
        hidden = any(line in hidden_lines for line in range(node.lineno, (node.end_lineno or node.lineno) + 1))
        last = k == len(body) - 1 and isinstance(node, ast.Expr)
        buf = io.StringIO()
        finished: list = []
        token = core.FINISHED_REPORTS.set(finished)
        error = None
        value = None
        try:
            with _capture_stdout(buf):
                if last:
                    value = eval(compile(ast.Expression(node.value), f"<test {grade_id}>", "eval"), ns)
                else:
                    exec(compile(ast.Module(body=[node], type_ignores=[]), f"<test {grade_id}>", "exec"), ns)
        except core.GradingError as exc:
            error = ("GradingError", str(exc), exc.summary_lines())
        except Exception as exc:  # a check that could not run (e.g. the student's name is undefined)
            error = (type(exc).__name__, str(exc)[:4000])
        finally:
            core.FINISHED_REPORTS.reset(token)
        failed_here: list[str] = []
        if hidden:
            for rep in finished:
                failed_here += [f"{rep['exercise']}: {name}" for name in rep["failed"]]
            if error and error[0] != "GradingError" and not finished:
                failed_here.append(f"a hidden test could not run ({error[0]})")
            hidden_failed += failed_here
        tag = {"backprop": {"hidden": True, "summary": "hidden tests: " + (
            "✗ " + "; ".join(failed_here) if failed_here else "✓ passed")}} if hidden else None
        text = buf.getvalue()
        if text:
            out = new_output("stream", name="stdout", text=text)
            if tag:
                out.metadata = tag
            outputs.append(out)
        if error:
            err = _error_output(error[0], error[1], False, error[2] if len(error) > 2 else None)
            if tag:
                err.metadata = tag
            outputs.append(err)
            return outputs, hidden_failed
        if last and value is not None:
            outputs.append(new_output("execute_result", data={"text/plain": repr(value)}, execution_count=None))
    return outputs, hidden_failed


# ============================================================================================ the preprocessor


class GraderOvertime(BaseException):
    """The grader's own work on one test cell (on data the student's process sent) took too long."""


@contextlib.contextmanager
def _grader_deadline(seconds: float):
    """Stop the grader's work on a cell after ``seconds`` (main thread only; elsewhere the link's deadlines hold)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise GraderOvertime

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)



class GradedExecute(Execute):
    """See the module docstring. Configured per thread by :func:`set_job` (the cohort worker)."""

    def preprocess(self, nb, resources=None, km=None):
        job = current_job()
        if job is None:
            raise RuntimeError("GradedExecute needs a job: graders.cohort.execute.set_job() (the cohort worker)")
        self._job = job
        name = Path((resources or {}).get("metadata", {}).get("name", "notebook")).name
        self._run = Run(notebook=name)
        runs().append(self._run)
        n = len(runs())
        work = Path((resources or {}).get("metadata", {}).get("path") or ".").resolve()
        kernel_dir = Path(job.state) / f"kernel-{n}"
        self._box = sandbox.Box(work=work, kernel_dir=kernel_dir, opt=job.opt, limits=job.limits,
                                name=f"{job.student}"[:40], masked=list(job.masked), unsafe=job.unsafe)
        self._box.prepare()
        spec_path = Path(job.state) / f"sandbox-{n}.json"
        spec = self._box.spec()
        spec["env"] = {}
        spec["log"] = str(Path(job.state) / f"kernel-{n}.log")
        self._log_path = Path(spec["log"])
        spec_path.write_text(json.dumps(spec))
        os.chmod(spec_path, 0o600)
        self._spec_path = spec_path
        self._link: remote_client.Link | None = None
        self._deadline = time.monotonic() + job.notebook_timeout
        self._output_chars = 0
        self.timeout = int(job.cell_timeout)
        self.kernel_name = KERNEL_NAME
        self.shutdown_kernel = "immediate"  # the sandbox dies with it; a graceful shutdown only costs time
        self._setup_ns = setup_namespace(nb)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._link is not None:
                self._run.evidence += self._link.evidence
                self._link.close()
            self._box.cleanup()
            for path in self._box.work.rglob("*") if self._box.work.exists() else []:
                try:
                    os.lchown(path, 0, 0) if os.geteuid() == 0 else None
                except OSError:
                    pass
            if os.geteuid() == 0 and self._box.work.exists():
                os.lchown(self._box.work, 0, 0)
            shutil.rmtree(kernel_dir, ignore_errors=True)
            spec_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ kernel
    def create_kernel_manager(self):
        self.kernel_name = KERNEL_NAME
        km = self.kernel_manager_class(kernel_name=KERNEL_NAME, config=self.config,
                                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(self._job.kernels / "kernels")]))
        km.transport = "ipc"
        km.ip = str(self._box.kernel_dir / "zmq")
        self.km = km
        return km

    async def async_start_new_kernel(self, **kwargs):
        kwargs["env"] = {"BACKPROP_SANDBOX_SPEC": str(self._spec_path), "PATH": os.environ.get("PATH", "/usr/bin"),
                         "BACKPROP_SANDBOX_PARENT": str(os.getpid())}  # the launcher dies with this process
        kwargs["cwd"] = str(self._box.work)
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        """As nbclient's, without jupyter_client's final 0.2 s of waiting for silence on IOPub: the kernel is
        ready once it answered kernel_info and its status message arrived on IOPub (so IOPub is connected)."""
        assert self.km is not None
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        deadline = time.monotonic() + self.startup_timeout
        while True:
            self.kc.kernel_info()
            try:
                reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply.get("msg_type") == "kernel_info_reply":
                try:
                    await ensure_async(self.kc.iopub_channel.get_msg(timeout=0.5))
                    self.kc._handle_kernel_info_reply(reply)
                    break
                except Empty:
                    pass  # IOPub not connected yet: ask again
            if not await ensure_async(self.km.is_alive()):
                await self._async_cleanup_kernel()
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                await self._async_cleanup_kernel()
                raise RuntimeError(f"Kernel didn't respond in {self.startup_timeout} seconds")
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _get_timeout(self, cell):
        left = self._deadline - time.monotonic()
        return max(1, int(min(self.timeout, left)))

    # ------------------------------------------------------------------ output cap
    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(json.dumps(content, default=str)) if msg.get("msg_type") != "stream" else len(content.get("text", ""))
        self._output_chars += size
        if self._output_chars > OUTPUT_LIMIT:
            if not self._run.output_cut:
                self._run.output_cut = True
                outs.append(new_output("stream", name="stdout",
                                       text=f"\n[output limit of {OUTPUT_LIMIT} characters per notebook reached: "
                                            f"further output was dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    # ------------------------------------------------------------------ cells
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        is_test = nbu.is_grade(cell) and not nbu.is_solution(cell)
        if self._run.dead or time.monotonic() >= self._deadline:
            if not self._run.dead and not self._run.budget_used:
                self._run.budget_used = True
            why = self._run.dead or (f"the notebook's time budget ({self._job.notebook_timeout:g} s) was used up "
                                     f"before this cell")
            cell.outputs = [_error_output("NotGraded", f"not run: {why}; this cell scores 0.", False)] if is_test \
                else [new_output("stream", name="stdout", text=f"[not run: {why}]\n")]
            return cell, resources
        if is_test:
            return self._grade_cell(cell, index), resources
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        try:
            cell = self.execute_cell(cell, index, store_history=True)
        except DeadKernelError:
            self._run.dead = "the kernel died (a crash, os._exit, a kill or the memory limit)"
        except (CellTimeoutError, TimeoutError):
            self._run.dead = f"a cell did not stop after the time limit and an interrupt"
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            self._run.cell_timeouts.append(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or str(index))
        return cell, resources

    def _ensure_link(self) -> remote_client.Link:
        if self._link is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(str(self._box.kernel_dir / "grading.sock"))
            self._link = remote_client.Link(sock)
        return self._link

    def _grade_cell(self, cell, index):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", str(index))
        try:
            link = self._ensure_link()
        except OSError as exc:
            self._run.dead = f"the kernel's grading socket is gone ({exc})"
            cell.outputs = [_error_output("NotGraded", f"not graded: {self._run.dead}; this cell scores 0.", False)]
            return cell
        link.deadline = self._deadline
        msg_id = self.kc.execute(SERVE_CODE, silent=True, store_history=False, stop_on_error=False)
        try:
            with _grader_deadline(max(5.0, self._deadline - time.monotonic()) + 60.0):
                outputs, hidden_failed = run_test_cell(cell.source, link.lookup, self._setup_ns, grade_id=gid)
        except GraderOvertime:
            link.dead = link.dead or "the grader's own work on this cell ran past the notebook's budget"
            self._run.grader_errors.append(f"{gid}: the grader ran past the time budget on this cell")
            outputs, hidden_failed = [_error_output("NotGraded", "not graded: the grader ran out of time on this "
                                                    "cell; this cell scores 0 until reviewed.", False)], []
        except remote_client.LinkDead as exc:
            outputs, hidden_failed = [_error_output("NotGraded", f"not graded: {exc}; this cell scores 0.", False)], []
        except Exception as exc:  # a grader bug: never a silent score
            self._run.grader_errors.append(f"{gid}: {type(exc).__name__}: {exc}")
            outputs, hidden_failed = [_error_output("GraderError", f"the grader failed on this cell ({exc})", False)], []
        finally:
            link.release()
        if hidden_failed:
            self._run.hidden[gid] = hidden_failed
        if link.dead:
            self._run.dead = f"the notebook's code stopped answering the grader ({link.dead})"
        elif not self._serve_finished(msg_id):
            self._run.dead = "the kernel did not return from a grading request"
        cell.outputs = outputs
        cell.execution_count = None
        return cell

    def _serve_finished(self, msg_id: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = run_sync(self.kc.shell_channel.get_msg)(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False
