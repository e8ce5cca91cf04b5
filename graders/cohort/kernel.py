"""The grading kernel: ipykernel started with resource limits and, when possible, as an unprivileged user.

``python -m graders.cohort.kernel -f CONNECTION_FILE`` is the argv of the ``backprop-graded`` kernel spec
that :func:`install_kernelspec` writes. It

- caps the address space (``BACKPROP_KERNEL_MEMORY``, default 3 GiB) and CPU time, so a submission that
  allocates without bound gets a MemoryError instead of taking the machine down;
- when ``BACKPROP_SANDBOX=1`` (set by the cohort grader after checking it can work), started as root and a
  sandbox user exists (``BACKPROP_SANDBOX_USER``, default ``nbsandbox``), copies
  the connection file to a private directory owned by that user and drops to its uid/gid, so student code
  cannot read the solutions or the gradebook (which the grader keeps 0700/0600);
- then replaces itself with ``python -m ipykernel_launcher``.
"""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "backprop-graded"
DEFAULT_MEMORY = 3 * 1024 ** 3
SANDBOX_USER = os.environ.get("BACKPROP_SANDBOX_USER", "nbsandbox")


def install_kernelspec(prefix: Path) -> Path:
    """Write ``<prefix>/kernels/backprop-graded/kernel.json``; put ``prefix`` on JUPYTER_PATH to use it."""
    d = Path(prefix) / "kernels" / KERNEL_NAME
    d.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "graders.cohort.kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (graded, sandboxed)", "language": "python",
            "env": {"MPLBACKEND": "Agg"},
            "metadata": {"kernel_provisioner": {"provisioner_name": "backprop-forkserver"}}}
    (d / "kernel.json").write_text(json.dumps(spec, indent=1))
    os.chmod(d, 0o755)
    os.chmod(d / "kernel.json", 0o644)
    return d


def sandbox_user() -> pwd.struct_passwd | None:
    """The sandbox account when this process can switch to it (root and the user exists)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        return None


def sandbox_usable() -> tuple[bool, str]:
    """Whether a kernel started as the sandbox user could run this Python and import the course packages."""
    user = sandbox_user()
    if user is None:
        return False, "not running as root, or no sandbox user"
    import graders
    import ipykernel

    need = [(os.path.realpath(sys.executable), os.X_OK), (os.path.dirname(graders.__file__), os.R_OK | os.X_OK),
            (os.path.dirname(ipykernel.__file__), os.R_OK | os.X_OK)]
    pid = os.fork()
    if pid == 0:  # child: become the sandbox user and look
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            code = 0 if all(os.access(p, mode) for p, mode in need) else 1
        except Exception:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return True, ""
    return False, (f"user {user.pw_name} cannot run {need[0][0]} or read the installed packages (a parent folder "
                   f"such as the home directory is private)")


def limit_resources() -> None:
    memory = int(os.environ.get("BACKPROP_KERNEL_MEMORY", DEFAULT_MEMORY))
    for res, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, 3600)):
        soft, hard = resource.getrlimit(res)
        resource.setrlimit(res, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))


def drop_privileges(connection_file: str) -> str:
    """Become the sandbox user (when root and it exists); returns the connection file it can read."""
    user = sandbox_user()
    if user is None:
        return connection_file
    private = Path(tempfile.mkdtemp(prefix="kernel-"))
    copy = private / Path(connection_file).name
    shutil.copyfile(connection_file, copy)
    for p in (private, copy):
        os.chown(p, user.pw_uid, user.pw_gid)
    os.chmod(private, 0o700)
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.environ.update(HOME=str(private), USER=user.pw_name, LOGNAME=user.pw_name,
                      IPYTHONDIR=str(private / ".ipython"), MPLCONFIGDIR=str(private / ".mpl"))
    return str(copy)


def main(argv: list[str]) -> None:
    """Kernel started as a new process (without the fork-server provisioner)."""
    if len(argv) != 2 or argv[0] != "-f":
        raise SystemExit("usage: python -m graders.cohort.kernel -f CONNECTION_FILE")
    conn = argv[1]
    limit_resources()
    if os.environ.get("BACKPROP_SANDBOX") == "1":
        conn = drop_privileges(conn)
    for key in [k for k in os.environ if k.startswith("NBGRADER")]:
        os.environ.pop(key)  # the kernel must not know it is being graded
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", conn])


if __name__ == "__main__":
    main(sys.argv[1:])
