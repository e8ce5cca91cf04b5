"""The kernel a submission runs in during cohort grading (inside the bubblewrap sandbox).

``python -m graders.remote.sandbox_kernel -f CONNECTION_FILE --grading-socket PATH [ipykernel options]``

An ordinary IPython kernel, with two additions made before any student code runs:

- the grading socket: a Unix socket the grader connects to; between two cells the grader sends an execute
  request that calls :func:`graders.remote.server.serve`, which answers the grader's requests against the
  notebook's namespace until the grader releases it;
- stand-ins for the checks: in the sandbox only ``graders.public`` (course material without answers),
  ``graders.question_bank`` texts and ``graders.remote`` exist; any other ``graders`` module imports as a stub,
  so a notebook's setup cell (``from graders import layers as gl``) still runs, while using a check or the
  reference library from student code fails with a message saying why. ``reference_impl`` is not there at all.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

STUB_MESSAGE = ("{name} is not available while your notebook is graded: the grader runs the checks in its own "
                "process, and your answers must work without the course's reference code.")
REAL_PREFIXES = ("graders.public", "graders.remote", "graders.question_bank")


class _Stub(types.ModuleType):
    """A module whose attributes do not exist (a clear AttributeError says why)."""

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise AttributeError(STUB_MESSAGE.format(name=f"{self.__name__}.{attr}"))


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []  # a package, so that graders.exercises.x imports too
        return module

    def exec_module(self, module):
        return None


class StandInFinder(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: any ``graders.*`` module the real finders did not find becomes a stub."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("graders.") or fullname.startswith(REAL_PREFIXES):
            return None
        return importlib.machinery.ModuleSpec(fullname, _StubLoader(), is_package=True)


def install() -> None:
    if not any(isinstance(f, StandInFinder) for f in sys.meta_path):
        sys.meta_path.append(StandInFinder())


def main(argv: list[str]) -> None:
    if "--grading-socket" not in argv:
        raise SystemExit("usage: python -m graders.remote.sandbox_kernel -f CONNECTION --grading-socket PATH")
    i = argv.index("--grading-socket")
    socket_path = argv[i + 1]
    rest = argv[:i] + argv[i + 2:]
    from graders.remote import server

    server._LISTENER = server.listen(socket_path)
    install()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(rest)
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
