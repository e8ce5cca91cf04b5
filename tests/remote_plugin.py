"""pytest plugin: run the grader tests with every check's student arguments served from a forked process.

Used by tests/test_remote_equivalence.py (``-p tests.remote_plugin``): each public ``check_*`` function of the
graders package is wrapped with tests.remote_harness.proxied before the test modules import it, so the planted
mistakes, correct answers and garbage of the whole grader suite go through the cohort grader's data-only link
and must give the same verdicts and messages as in one process.
"""

from __future__ import annotations

import importlib
import pkgutil

import graders
from tests.remote_harness import proxied

SKIP = ("graders.cohort", "graders.drill", "graders.remote", "graders.feedback_filter")


def pytest_configure(config):
    for info in pkgutil.walk_packages(graders.__path__, prefix="graders."):
        if info.name.startswith(SKIP) or info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in list(vars(mod).items()):
            if name.startswith("check_") and callable(obj) and getattr(obj, "__module__", "") == mod.__name__:
                setattr(mod, name, proxied(obj))
