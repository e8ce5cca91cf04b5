"""A bubblewrap sandbox for everything that runs a student's code during cohort grading.

Each submission's kernel runs as ``bwrap`` (root, mounts only) → ``setpriv`` (drops to an unprivileged uid of
its own) → ``bwrap`` (new user, PID, network, IPC, UTS and mount namespaces, no capabilities) → Python:

- it sees a read-only ``/usr``, the interpreter and the virtual environment at their own paths (so a private
  home such as root's pyenv does not matter), ``/opt/backprop`` (the stand-in ``graders`` package, the public
  course material and ``visuals``: no checks, no reference library), a private ``/tmp``, and two writable
  folders: the submission's own copy and its kernel folder (sockets, HOME, MPLCONFIGDIR). Nothing else: not the
  course root, solutions, the gradebook, cohort/ or other students' files (the submission appears at
  ``/submission``, so not even the course's path is visible);
- its environment is built from nothing (``--clearenv``): no instructor variables, no database URL;
- limits: memory and process count for the whole submission (a cgroup when the grader runs as root, per-process
  rlimits otherwise), CPU seconds, file size; the grader enforces wall clock per notebook and output size;
- when grading ends, or the grader dies (even by ``kill -9``), everything the submission started dies: the
  outer bwrap is the parent of a PID namespace that holds all of it, and the launcher that supervises it kills
  it when the grading worker dies (see :func:`launch_kernel`).

Without ``bwrap`` (or where it cannot create namespaces) :func:`unavailable` says why and cohort grading
refuses to run unless the instructor passes ``--unsafe-no-sandbox``. ``python -m graders.cohort.sandbox -f
CONNECTION_FILE`` is the launcher named in the grading kernel spec: it reads the per-kernel spec the grader wrote
(path in ``BACKPROP_SANDBOX_SPEC``), starts the bwrap chain in the cgroups with the rlimits, and supervises it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_MODULE = "graders.remote.sandbox_kernel"
UID_BASE = 61000           # per-submission uids: UID_BASE .. UID_BASE + UID_COUNT - 1 (no account needed)
UID_COUNT = 4000
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "backprop-grading"
STATE_DIR = Path(os.environ.get("BACKPROP_SANDBOX_STATE", "/run/backprop-sandbox"))
WORK_INSIDE = "/submission"  # where the submission's copy appears inside (its real path names the course)


@dataclass
class Limits:
    memory_bytes: int = 3 * 1024 ** 3     # the whole submission (all its processes) when cgroups are available
    pids: int = 64
    cpu_seconds: int = 1800
    file_bytes: int = 256 * 1024 ** 2


# ============================================================================================ availability


_PROBE: tuple[bool, str] | None = None


def unavailable() -> str | None:
    """Why a submission cannot be sandboxed here (None when it can). Runs one real sandbox once per process."""
    global _PROBE
    if _PROBE is None:
        _PROBE = _probe()
    return None if _PROBE[0] else _PROBE[1]


def _probe() -> tuple[bool, str]:
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return False, "setpriv (util-linux) is missing"
    with tempfile.TemporaryDirectory(prefix="backprop-probe-") as tmp:
        box = Box(Path(tmp) / "work", Path(tmp) / "kernel", opt=None, limits=Limits(), name="probe")
        try:
            box.prepare()
            cmd = box.command([sys.executable, "-c", "import os, sys; print(os.getuid(), flush=True)"])
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, preexec_fn=box.enter_limits)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"bubblewrap could not start: {exc}"
        finally:
            box.cleanup()
    if r.returncode != 0:
        return False, f"bubblewrap cannot create a sandbox here: {(r.stderr or r.stdout).strip()[:300]}"
    if r.stdout.strip() == "0":
        return False, "the sandboxed process ran as uid 0"
    return True, ""


# ============================================================================================ uids


def _claim_uid(name: str) -> int | None:
    """A free uid from the per-submission range (root only); None when not root.

    A claim is a folder ``STATE_DIR/uids/<uid>`` holding the claimer's pid, created whole by renaming a prepared
    folder onto that name (atomic: two graders, or two threads, never get the same uid). A claim whose pid is gone
    and whose uid runs nothing is stale (its grader was killed) and is taken over.
    """
    if os.geteuid() != 0:
        return None
    uids = STATE_DIR / "uids"
    uids.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE_DIR, 0o700)
    start = (os.getpid() * 7919 + threading.get_ident() + hash(name)) % UID_COUNT
    for k in range(UID_COUNT):
        uid = UID_BASE + (start + k) % UID_COUNT
        lock = uids / str(uid)
        if lock.exists():
            if not _stale(lock, uid):
                continue
            shutil.rmtree(lock, ignore_errors=True)
        prepared = Path(tempfile.mkdtemp(prefix=".claim-", dir=uids))
        (prepared / "pid").write_text(str(os.getpid()))
        try:
            os.rename(prepared, lock)  # fails when another claim got there first (the folder is not empty)
        except OSError:
            shutil.rmtree(prepared, ignore_errors=True)
            continue
        return uid
    raise RuntimeError(f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_COUNT - 1}")


def _stale(lock: Path, uid: int) -> bool:
    try:
        os.kill(int((lock / "pid").read_text()), 0)
        return False  # a live grader holds it
    except ProcessLookupError:
        return not _uid_has_processes(uid)
    except (OSError, ValueError):
        return False  # unreadable: leave it alone


def _release_uid(uid: int | None) -> None:
    if uid is not None:
        shutil.rmtree(STATE_DIR / "uids" / str(uid), ignore_errors=True)


def _uid_has_processes(uid: int) -> bool:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    return True
            except OSError:
                pass
    return False


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (a per-submission uid: nothing else runs as it)."""
    for _ in range(5):
        found = False
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.stat(f"/proc/{pid}").st_uid == uid:
                        os.kill(int(pid), signal.SIGKILL)
                        found = True
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.02)


# ============================================================================================ cgroups


def _cgroup_v1_dirs(name: str) -> dict[str, Path] | None:
    if os.geteuid() != 0:
        return None
    dirs = {}
    for ctl in ("memory", "pids"):
        base = CGROUP_ROOT / ctl
        if not (base / "cgroup.procs").exists():
            return None
        dirs[ctl] = base / CGROUP_NAME / name
    return dirs


# ============================================================================================ the box


@dataclass
class Box:
    """One submission's sandbox: its folders, uid, cgroup and the command that runs inside.

    ``work``: the writable copy the student's notebook runs in; ``kernel_dir``: writable folder for the kernel's
    sockets and HOME; ``opt``: the folder mounted read-only at /opt/backprop (None: nothing).
    """

    work: Path
    kernel_dir: Path
    opt: Path | None
    limits: Limits
    name: str
    uid: int | None = None
    cgroups: dict[str, Path] | None = field(default=None)
    extra_ro: list[Path] = field(default_factory=list)
    masked: list[Path] = field(default_factory=list)
    unsafe: bool = False   # --unsafe-no-sandbox: no bwrap, no uid change (the environment is still scrubbed)

    def prepare(self) -> None:
        """Create the folders, claim a uid and a cgroup (as root), and hand the folders to that uid."""
        self.uid = None if self.unsafe else _claim_uid(self.name)
        for d in (self.work, self.kernel_dir, self.kernel_dir / "home"):
            d.mkdir(parents=True, exist_ok=True)
        if self.uid is not None:
            for d in (self.work, self.kernel_dir):
                for path in [d, *d.rglob("*")]:
                    os.lchown(path, self.uid, self.uid)
            os.chmod(self.work, 0o700)
            os.chmod(self.kernel_dir, 0o700)
        self.cgroups = None if self.unsafe else _cgroup_v1_dirs(f"{self.name}-{os.getpid()}-{self.uid or 0}")
        if self.cgroups:
            try:
                for ctl, d in self.cgroups.items():
                    d.mkdir(parents=True, exist_ok=True)
                (self.cgroups["memory"] / "memory.limit_in_bytes").write_text(str(self.limits.memory_bytes))
                swap = self.cgroups["memory"] / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    try:
                        swap.write_text(str(self.limits.memory_bytes))
                    except OSError:
                        pass
                (self.cgroups["pids"] / "pids.max").write_text(str(self.limits.pids))
            except OSError:
                self._remove_cgroups()
                self.cgroups = None

    def enter_limits(self) -> None:
        """In the launcher, before exec: join the cgroups and set rlimits (inherited by everything inside)."""
        if self.cgroups:
            for d in self.cgroups.values():
                (d / "cgroup.procs").write_text(str(os.getpid()))
        limits = [(resource.RLIMIT_CPU, self.limits.cpu_seconds), (resource.RLIMIT_FSIZE, self.limits.file_bytes),
                  (resource.RLIMIT_CORE, 0)]
        if not self.cgroups:  # no cgroup: cap each process's address space instead
            limits.append((resource.RLIMIT_AS, self.limits.memory_bytes))
        if self.uid is not None:  # the uid is this submission's alone, so the per-user count is per submission
            limits.append((resource.RLIMIT_NPROC, self.limits.pids))
        for res, value in limits:
            soft, hard = resource.getrlimit(res)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            try:
                resource.setrlimit(res, (value, value if os.geteuid() == 0 else hard))
            except (ValueError, OSError):
                pass

    # ------------------------------------------------------------------ the command
    def _visible_paths(self) -> list[tuple[str, str]]:
        """(kind, path) binds of the outer, privileged bwrap."""
        binds = [("ro", "/usr")]
        for extra in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/alternatives"):
            if os.path.exists(extra):
                binds.append(("ro", extra))
        prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
        for p in sorted(prefixes):
            if not p.startswith("/usr/") and os.path.isdir(p):
                binds.append(("ro", p))
        for p in self.extra_ro:
            binds.append(("ro", str(p)))
        if self.opt is not None:
            binds.append(("opt", str(self.opt)))
        binds += [("work", str(self.work)), ("rw", str(self.kernel_dir))]
        return binds

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """The full command line that runs ``argv`` inside the sandbox (cwd: the work folder)."""
        home = str(self.kernel_dir / "home")
        environment = {"HOME": home, "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
                       "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "MPLBACKEND": "Agg",
                       "MPLCONFIGDIR": f"{home}/.mpl", "IPYTHONDIR": f"{home}/.ipython",
                       "PYTHONPATH": "/opt/backprop", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
                       "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TMPDIR": "/tmp"}
        environment.update(env or {})
        if self.unsafe:
            environment["PYTHONPATH"] = str(self.opt) if self.opt else ""
            return ["env", "-i", *[f"{k}={v}" for k, v in environment.items()], *argv]
        inner_env = []
        for k, v in environment.items():
            inner_env += ["--setenv", k, v]
        inner = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                 "--hostname", "sandbox", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                 "--tmpfs", "/tmp", "--bind", WORK_INSIDE, WORK_INSIDE,
                 "--bind", str(self.kernel_dir), str(self.kernel_dir)]
        for m in self.masked:
            inner += ["--tmpfs", str(m)]
        inner += ["--chdir", WORK_INSIDE, "--clearenv", *inner_env, "--", *argv]
        if os.geteuid() != 0:
            # Unprivileged: one bwrap with a user namespace; only paths this user can read can be bound.
            outer = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                     "--hostname", "sandbox", "--clearenv"]
            outer += self._bind_args(inner=True) + ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
            for m in self.masked:
                outer += ["--tmpfs", str(m)]
            return outer + ["--chdir", WORK_INSIDE, *inner_env, "--", *argv]
        outer = ["bwrap", "--unshare-pid", "--die-with-parent", "--new-session", "--clearenv",
                 "--setenv", "PATH", "/usr/bin:/bin"]
        outer += self._bind_args(inner=False) + ["--dev", "/dev", "--bind", "/proc", "/proc"]
        drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
        return outer + ["--", *drop, *inner]

    def _bind_args(self, inner: bool) -> list[str]:
        args: list[str] = []
        made: set[str] = set()
        for link, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")):
            if os.path.islink(link):
                args += ["--symlink", target, link]
                made.add(link)
        for kind, path in self._visible_paths():
            dest = {"opt": "/opt/backprop", "work": WORK_INSIDE}.get(kind, path)
            parts = dest.strip("/").split("/")
            for i in range(1, len(parts)):
                parent = "/" + "/".join(parts[:i])
                if parent not in made and parent not in ("/usr",):
                    args += ["--perms", "0755", "--dir", parent]
                    made.add(parent)
            flag = "--bind" if kind in ("rw", "work") else "--ro-bind"
            args += [flag, path, dest]
            made.add(dest)
        return args

    # ------------------------------------------------------------------ cleanup
    def kill_all(self) -> None:
        """SIGKILL whatever this submission still runs (its cgroup, its uid)."""
        if self.cgroups:
            procs = self.cgroups.get("pids", Path("/nonexistent")) / "cgroup.procs"
            for _ in range(5):
                try:
                    pids = [int(p) for p in procs.read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.02)
        if self.uid is not None:
            _kill_uid(self.uid)

    def _remove_cgroups(self) -> None:
        for d in (self.cgroups or {}).values():
            for _ in range(20):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)

    def cleanup(self) -> None:
        self.kill_all()
        self._remove_cgroups()
        _release_uid(self.uid)

    def spec(self) -> dict:
        return {"work": str(self.work), "kernel_dir": str(self.kernel_dir),
                "opt": str(self.opt) if self.opt else None, "name": self.name, "uid": self.uid,
                "cgroups": {k: str(v) for k, v in (self.cgroups or {}).items()} or None,
                "limits": vars(self.limits), "extra_ro": [str(p) for p in self.extra_ro],
                "masked": [str(p) for p in self.masked], "unsafe": self.unsafe}

    @classmethod
    def from_spec(cls, spec: dict) -> "Box":
        return cls(work=Path(spec["work"]), kernel_dir=Path(spec["kernel_dir"]),
                   opt=Path(spec["opt"]) if spec.get("opt") else None, limits=Limits(**spec["limits"]),
                   name=spec["name"], uid=spec.get("uid"),
                   cgroups={k: Path(v) for k, v in spec["cgroups"].items()} if spec.get("cgroups") else None,
                   extra_ro=[Path(p) for p in spec.get("extra_ro", [])],
                   masked=[Path(p) for p in spec.get("masked", [])], unsafe=bool(spec.get("unsafe")))


def sweep_stale_uids() -> None:
    """Forget uid claims left by graders that were killed (their pid is gone and nothing runs as that uid)."""
    uids = STATE_DIR / "uids"
    if os.geteuid() != 0 or not uids.is_dir():
        return
    for lock in uids.iterdir():
        if lock.name.startswith(".claim-"):
            if time.time() - lock.stat().st_mtime > 60:  # a claim prepared by a grader killed before its rename
                shutil.rmtree(lock, ignore_errors=True)
            continue
        try:
            owner = int((lock / "pid").read_text())
            os.kill(owner, 0)
            continue
        except (OSError, ValueError):
            pass
        if lock.name.isdigit() and not _uid_has_processes(int(lock.name)):
            shutil.rmtree(lock, ignore_errors=True)


def live_claims() -> list[int]:
    """Per-submission uids claimed by a grader that is still running."""
    uids = STATE_DIR / "uids"
    found = []
    for lock in uids.iterdir() if uids.is_dir() else []:
        try:
            os.kill(int((lock / "pid").read_text()), 0)
            found.append(int(lock.name))
        except (OSError, ValueError):
            pass
    return found


def sweep_stale_cgroups() -> None:
    """Remove empty cgroups left by graders that were killed (run at the start of a cohort run)."""
    for ctl in ("memory", "pids"):
        base = CGROUP_ROOT / ctl / CGROUP_NAME
        if base.is_dir():
            for d in base.iterdir():
                try:
                    if d.is_dir() and not (d / "cgroup.procs").read_text().strip():
                        d.rmdir()
                except OSError:
                    pass


# ============================================================================================ kernel launcher


def _watch_parent(parent: int | None) -> None:
    """Deliver SIGTERM to this launcher when ``parent``, the grading worker that started it, dies (a signal it can
    act on: it kills the sandbox), and exit now if that has already happened."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def launch_kernel(spec_path: str, connection_file: str, parent: int | None = None) -> None:
    """The kernel spec's argv: run the sandboxed kernel of the submission described in ``spec_path`` and stay as
    its supervisor until it ends.

    Why a supervisor and not an exec: bwrap's --die-with-parent ties each sandbox to its parent, but a worker
    killed while bwrap is still setting up (the parent-death signal is set, and cleared by credential changes,
    during bwrap's start-up) left a kernel running that nobody would ever shut down. The launcher never changes
    credentials: it learns of the worker's death (a parent-death SIGTERM, and a poll of its parent as a
    backstop), kills bwrap and everything in the submission's cgroup and uid (Box.kill_all: it does not depend
    on how far bwrap had got), and exits."""
    _watch_parent(parent)
    spec = json.loads(Path(spec_path).read_text())
    box = Box.from_spec(spec)
    private_conn = box.kernel_dir / "connection.json"
    shutil.copyfile(connection_file, private_conn)
    if box.uid is not None:
        os.chown(private_conn, box.uid, box.uid)
    os.chmod(private_conn, 0o600)
    log = spec.get("log")
    fd = os.open(log if log else os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    argv = [sys.executable, "-m", KERNEL_MODULE, "-f", str(private_conn), "--grading-socket",
            str(box.kernel_dir / "grading.sock"), "--HistoryManager.hist_file=:memory:"]
    cmd = box.command(argv, env=spec.get("env"))
    state: dict = {"child": None, "stopping": False}

    def stop(signum, frame):
        state["stopping"] = True
        if state["child"] is not None:   # (a signal during Popen: handled once the child is known, below)
            state["child"].kill()
            box.kill_all()   # the whole sandbox by its cgroup and uid, whatever bwrap had set up so far
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, lambda signum, frame: state["child"] and state["child"].send_signal(signum))
    state["child"] = child = subprocess.Popen(cmd, preexec_fn=box.enter_limits)  # cgroups and rlimits: the box's
    while True:
        if state["stopping"] or (parent is not None and os.getppid() != parent):
            stop(signal.SIGTERM, None)
        try:
            code = child.wait(timeout=0.5)
            os._exit(code if code >= 0 else 128 - code)
        except subprocess.TimeoutExpired:
            pass


def main(argv: list[str]) -> None:
    spec = os.environ.get("BACKPROP_SANDBOX_SPEC")
    if len(argv) != 2 or argv[0] != "-f" or not spec:
        raise SystemExit("usage: BACKPROP_SANDBOX_SPEC=SPEC python -m graders.cohort.sandbox -f CONNECTION_FILE")
    parent = os.environ.get("BACKPROP_SANDBOX_PARENT", "")
    launch_kernel(spec, argv[1], int(parent) if parent.isdigit() else None)


if __name__ == "__main__":
    main(sys.argv[1:])
