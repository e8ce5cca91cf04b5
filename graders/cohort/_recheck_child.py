"""The recheck child process (see graders.cohort.recheck). Usage: python -m graders.cohort._recheck_child SPEC.

Writes {"scores": {grade_id: points}, "flags": [...], "error": str} to the result path named in SPEC.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import json
import os
import pkgutil
import resource
import signal
import sqlite3
import sys
import types
import warnings

from graders.cohort.static_scan import strip_magics as _strip_magics

CELL_SECONDS = 180
WATCHED_PACKAGES = ("graders", "reference_impl", "numpy", "sympy")
STUDENT_PREFIX = "<student-cell"
FORBIDDEN_PATH_PARTS = ("solutions", "gradebook", ".ipynb", "autograded", "submitted", "cohort")

flags: list[str] = []


def _limit_resources() -> None:
    from graders.cohort.recheck import MEMORY_LIMIT

    for res, value in ((resource.RLIMIT_AS, MEMORY_LIMIT), (resource.RLIMIT_CPU, 1800)):
        try:
            soft, hard = resource.getrlimit(res)
            resource.setrlimit(res, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))
        except (ValueError, OSError):
            pass


def _called_from_student(depth: int = 2) -> bool:
    frame = sys._getframe(depth)
    return frame is not None and frame.f_code.co_filename.startswith(STUDENT_PREFIX)


def _import_watched() -> list[types.ModuleType]:
    mods = []
    for name in WATCHED_PACKAGES:
        pkg = importlib.import_module(name)
        mods.append(pkg)
        if name in ("graders", "reference_impl") and hasattr(pkg, "__path__"):
            for info in pkgutil.walk_packages(pkg.__path__, prefix=name + "."):
                if info.name.endswith("__main__") or info.name.startswith(("graders.cohort", "graders.drill",
                                                                           "graders.feedback_filter")):
                    continue  # tooling, not used by any check
                try:
                    mods.append(importlib.import_module(info.name))
                except Exception:
                    pass
    if "numpy" in WATCHED_PACKAGES:
        import numpy.linalg
        import numpy.random
        import numpy.testing
        mods += [numpy.linalg, numpy.random, numpy.testing]
    return mods + [builtins, os, sys, sqlite3]


def _tripwire(fn, label):
    def wrapper(*args, **kwargs):
        if _called_from_student():
            flags.append(f"student code called {label}")
        return fn(*args, **kwargs)
    wrapper.__wrapped__ = fn
    wrapper.__name__ = getattr(fn, "__name__", "wrapped")
    wrapper.__doc__ = getattr(fn, "__doc__", None)
    return wrapper


def _guard_reference_library(mods) -> None:
    for mod in mods:
        if not mod.__name__.startswith("reference_impl"):
            continue
        for name, obj in list(vars(mod).items()):
            if isinstance(obj, types.FunctionType) and obj.__module__ == mod.__name__ and not name.startswith("_"):
                setattr(mod, name, _tripwire(obj, f"the reference implementation {mod.__name__}.{name}"))


def _guard_files() -> None:
    real_open = builtins.open
    real_connect = sqlite3.connect
    real_exit = os._exit

    def _suspicious(path) -> bool:
        text = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
        text = text.decode() if isinstance(text, bytes) else text
        return any(part in text for part in FORBIDDEN_PATH_PARTS)

    def guarded_open(file, *args, **kwargs):
        if _called_from_student() and _suspicious(file):
            flags.append(f"student code opened {file!r}")
            raise PermissionError(f"{file!r} is not readable during grading")
        return real_open(file, *args, **kwargs)

    def guarded_connect(database, *args, **kwargs):
        if _called_from_student():
            flags.append(f"student code opened an SQLite database {database!r}")
            raise PermissionError("databases are not accessible during grading")
        return real_connect(database, *args, **kwargs)

    def guarded_exit(code=0):
        # Only student code is stopped: library code forks workers (SymPy's time-capped simplify) whose
        # children must really exit, or they would run the rest of the recheck and write its results.
        if not _called_from_student():
            real_exit(code)
        flags.append("student code called os._exit")
        raise SystemExit(code)

    builtins.open = guarded_open
    io.open = guarded_open
    sqlite3.connect = guarded_connect
    os._exit = guarded_exit


def _snapshot(mods) -> dict:
    snap = {}
    for mod in mods:
        entries = dict(vars(mod))
        snap[("mod", mod.__name__)] = (mod, entries)
        for name, obj in entries.items():
            if isinstance(obj, type) and getattr(obj, "__module__", "") == mod.__name__:
                snap[("cls", f"{mod.__name__}.{name}")] = (obj, dict(vars(obj)))
    snap[("sys.modules", "")] = (None, {m.__name__: m for m in mods if m.__name__ in sys.modules})
    return snap


def _restore(snap) -> list[str]:
    """Undo changes to watched modules/classes; return what had changed."""
    changed = []
    for (kind, name), (obj, entries) in snap.items():
        if kind == "sys.modules":
            for mname, mod in entries.items():
                if sys.modules.get(mname) is not mod:
                    changed.append(f"sys.modules[{mname!r}]")
                    sys.modules[mname] = mod
            continue
        current = vars(obj)
        for attr, value in entries.items():
            if attr in ("__dict__", "__weakref__"):
                continue
            if current.get(attr, _MISSING) is not value:
                changed.append(f"{name}.{attr}")
                try:
                    setattr(obj, attr, value)
                except (AttributeError, TypeError):
                    pass
    return changed


_MISSING = object()


class _Timeout(BaseException):
    pass


def _run(src: str, filename: str, ns: dict):
    """Execute like IPython: return the value of a final expression statement (or None)."""
    tree = ast.parse(_strip_magics(src), filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), ns)
    if last is not None:
        return eval(compile(last, filename, "eval"), ns)
    return None


def _points(value, points: float) -> float:
    if value is None or isinstance(value, bool):
        return points
    try:
        v = float(value)
    except (TypeError, ValueError):
        return points  # nbgrader: a non-numeric result means full credit
    if v != v or v < 0:
        return points
    if v > points:
        flags.append(f"a test cell reported {v} > {points} points")
        return 0.0
    return v


def main(spec_path: str) -> int:
    spec = json.loads(open(spec_path).read())
    result_path = spec["result"]
    _limit_resources()
    warnings.simplefilter("ignore")
    import matplotlib
    matplotlib.use("Agg")
    mods = _import_watched()
    _guard_reference_library(mods)
    _guard_files()
    snap = _snapshot(mods)

    def on_alarm(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, on_alarm)
    ns: dict = {"__name__": "__main__"}
    provided_bindings: dict = {}
    scores: dict[str, float] = {}
    error = ""
    for i, cell in enumerate(spec["cells"]):
        kind, gid = cell["kind"], cell["grade_id"]
        student = kind in ("answer", "student")
        filename = f"{STUDENT_PREFIX}-{i}-{gid}>" if student else f"<course-cell-{gid}>"
        if kind == "test":
            changed = _restore(snap)
            if changed:
                flags.append("student code modified " + ", ".join(sorted(set(changed))[:8]))
            ns.update(provided_bindings)
        before = set(ns)
        err = io.StringIO()
        signal.alarm(int(spec.get("cell_seconds", CELL_SECONDS)))
        try:
            with contextlib.redirect_stderr(err):
                value = _run(cell["source"], filename, ns)
            failed = False
        except _Timeout:
            value, failed = None, True
            error += f"cell {gid or i}: timed out\n"
        except SystemExit:
            value, failed = None, True
            if student:
                flags.append("student code raised SystemExit")
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything
            value, failed = None, True
            if kind == "test":
                error += f"{gid}: {type(exc).__name__}: {str(exc)[:300]}\n"
        finally:
            signal.alarm(0)
        if student:
            for name, obj in list(ns.items()):
                target = getattr(obj, "__wrapped__", obj)
                if callable(target) and str(getattr(target, "__module__", "") or "").startswith("reference_impl"):
                    flags.append(f"student's {name} is the reference implementation's {target.__name__}")
        if kind == "provided":
            provided_bindings.update({k: ns[k] for k in ns if k not in before or k in provided_bindings})
        if kind == "test":
            wrote_stderr = bool(err.getvalue().strip())
            after = _restore(snap)
            if after:
                flags.append("student code modified during a test " + ", ".join(sorted(set(after))[:8]))
            scores[gid] = 0.0 if (failed or wrote_stderr or after) else _points(value, cell["points"])
            _write(result_path, scores, error, partial=True)  # survives if a later cell kills the process
    _write(result_path, scores, error, partial=False)
    return 0


def _write(result_path: str, scores: dict, error: str, *, partial: bool) -> None:
    tmp = result_path + ".tmp"
    with _real_open()(tmp, "w") as fh:
        json.dump({"scores": scores, "flags": flags, "error": error, "partial": partial}, fh)
    os.replace(tmp, result_path)


def _real_open():
    import _io
    return _io.open


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
