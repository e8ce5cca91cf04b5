"""One warm fork server per grading worker: kernels and rechecks start in milliseconds.

Starting a Python kernel costs ~0.7 s of imports (ipykernel, numpy, sympy, the graders) for every notebook;
with multiprocessing's fork server those modules are imported once and each kernel or recheck is a fork of
a clean, single-threaded server process (never of the worker itself, which holds threads and sockets).

:class:`ForkserverProvisioner` is a jupyter_client kernel provisioner (entry point ``backprop-forkserver``,
named in the ``backprop-graded`` kernel spec) that launches ipykernel this way, in its own session/process
group, with the grading kernel's resource limits and sandbox user (see graders.cohort.kernel).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

PRELOAD = ["numpy", "sympy", "matplotlib", "ipykernel.kernelapp", "graders.core", "graders.layers",
           "reference_impl.symbolic", "graders.cohort._recheck_child", "graders.cohort.worker",
           "graders.cohort.report", "graders.cohort.ledger", "graders.cohort.kernel", "graders.cohort.course",
           "graders.cohort._warm"]
_CTX = None


def context():
    """The process's fork-server context (started on first use, with PRELOAD imported)."""
    global _CTX
    # Dask (and ProcessPoolExecutor) workers are daemonic, and multiprocessing refuses to start children from a
    # daemonic process. Our children are managed explicitly (killed on timeout, reaped by the fork server), so
    # the worker is allowed to start them.
    current = multiprocessing.current_process()
    if current._config.get("daemon"):
        current._config["daemon"] = False
    if _CTX is None:
        _CTX = multiprocessing.get_context("forkserver")
        _CTX.set_forkserver_preload(list(PRELOAD))
    return _CTX


def _kernel_child(connection_file: str, cwd: str | None, env: dict) -> None:
    from graders.cohort import kernel

    os.setsid()  # own process group: killpg reaches anything the student started
    if cwd:
        os.chdir(cwd)
    os.environ.clear()
    os.environ.update({k: v for k, v in env.items() if not k.startswith("NBGRADER")})
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    kernel.limit_resources()
    private = None
    if os.environ.get("BACKPROP_SANDBOX") == "1":
        sandboxed_file = kernel.drop_privileges(connection_file)
        if sandboxed_file != connection_file:
            private, connection_file = os.path.dirname(sandboxed_file), sandboxed_file
    from ipykernel.kernelapp import IPKernelApp

    code = 0
    try:
        app = IPKernelApp.instance()
        app.initialize(["-f", connection_file, "--HistoryManager.hist_file=:memory:"])
        app.start()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        if private:  # the sandbox user's private folder (connection file copy, IPython profile)
            import shutil

            shutil.rmtree(private, ignore_errors=True)
        os._exit(code)


def _state(pid: int) -> str | None:
    """The process state letter from /proc (None when the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class _ForkedKernel:
    """The Popen-like handle LocalProvisioner expects, for a fork-server child."""

    def __init__(self, proc):
        self._proc = proc
        self.pid = proc.pid
        self.stdin = self.stdout = self.stderr = None
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            state = _state(self.pid)
            if state is None or state in ("Z", "X"):  # exited (possibly not yet reaped by the server)
                code = self._proc.exitcode
                self.returncode = code if code is not None else 0
        return self.returncode

    def wait(self, timeout=None):
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum):
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class ForkserverProvisioner(LocalProvisioner):
    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        conn = cmd[cmd.index("-f") + 1] if "-f" in cmd else self.connection_info.get("connection_file")
        env = dict(kwargs.get("env") or os.environ)
        cwd = kwargs.get("cwd")
        proc = context().Process(target=_kernel_child, args=(conn, str(cwd) if cwd else None, env), daemon=False)
        proc.start()
        self.process = _ForkedKernel(proc)
        self.pid = proc.pid
        self.pgid = proc.pid  # the child called setsid()
        self.cwd = cwd
        return self.connection_info
