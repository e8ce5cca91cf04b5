"""pytest plugin: run the grader tests with every check's student arguments served from a forked process.

Used by tests/test_remote_equivalence.py (``-p tests.remote_plugin``): each public ``check_*`` function of the
graders package is wrapped with tests.remote_harness.proxied before the test modules import it, so the planted
mistakes, correct answers and garbage of the whole grader suite go through the cohort grader's data-only link
and must give the same verdicts and messages as in one process. Tests marked ``in_process`` (they read objects
that the student's code fills in its own process, or rely on object identity) are deselected.
"""

from __future__ import annotations

import importlib
import pkgutil

import graders
from tests.remote_harness import proxied

SKIP = ("graders.cohort", "graders.drill", "graders.remote", "graders.feedback_filter")


def pytest_configure(config):
    wrapped: dict = {}  # original check -> its proxied version (a package re-exports its modules' checks)
    for info in pkgutil.walk_packages(graders.__path__, prefix="graders."):
        if info.name.startswith(SKIP) or info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in list(vars(mod).items()):
            if name.startswith("check_") and callable(obj) and getattr(obj, "__module__", "").startswith("graders.") \
                    and not getattr(obj, "__module__", "").startswith(SKIP):
                if obj in wrapped.values():
                    continue
                if obj not in wrapped:
                    wrapped[obj] = proxied(obj)
                setattr(mod, name, wrapped[obj])


def pytest_collection_modifyitems(config, items):
    drop = [item for item in items if item.get_closest_marker("in_process")]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if not item.get_closest_marker("in_process")]
