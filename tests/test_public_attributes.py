"""No module a notebook imports hands out an expected value (notebooks 01-04).

A learner who types ``ex.`` and presses Tab sees the public attributes of every module the setup cell imported.
None of them may compute what a check expects: no reference helper (``ex.lsq_reference``), no reference library
(``gl.ref``), no object carrying reference functions (``gl.RELU.ref_backward``), no table of expected counts
(lambdas behind a dict), no wrapper whose ``__wrapped__`` leads to one.

How the test decides. The modules come from the setup cell of each solution notebook (its ``import`` and
``from ... import`` lines). Every public attribute (name without a leading underscore) is visited, and so are the
public attributes of a package's own submodules (``gn.two_layer``) and of objects of classes defined in the
graders (``LayerSpec`` instances), since they are one more Tab away. An attribute fails when it is

- a module of ``reference_impl`` (the answer key) or any callable defined there;
- a function or class defined in the graders that is neither a ``check_*`` function nor listed in ALLOWED
  below with the reason it returns no expected value (checks' shared machinery from graders.core and
  graders.remote, and course material from graders.public and visuals, are allowed as such: those cannot import
  the reference code, see tests/test_public_modules.py);
- a callable whose ``__wrapped__`` fails by these rules;
- data (dicts, tuples...) holding any such callable.

A new public helper therefore fails here until it is made private (``_name``) or listed, with its reason.
"""

from __future__ import annotations

import ast
import inspect
import json
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_chain_rule/chain_rule", "02_computational_graphs/computational_graphs",
             "03_two_layer_network/two_layer_network", "04_jacobians_vjps/jacobians_vjps"]
COURSE = ("graders", "visuals", "reference_impl")
MATERIAL = ("graders.public", "visuals")                      # course material: no answers by construction
MACHINERY = ("graders.core", "graders.remote", "graders.diagnoses", "graders.answers")  # calling, comparing

# Public callables defined in the graders that are not checks, with why they return no expected value.
ALLOWED = {
    "graders.concepts.Question": "the type of a stored question (text, options, a salted digest)",
    "graders.concepts.digest": "hashes a letter the caller chooses; the visible test already tries any letter",
    "graders.concepts.questions": "the question bank: texts, options and salted digests (no letter in plain text)",
    "graders.concepts.show_question": "prints a question's text and options",
    "graders.layers.LayerSpec": "the type of a layer's test description (instances are private)",
    "graders.layers.Case": "the type of one input case",
    "graders.autodiff.programs.Program": "the type of an expression program (inputs and steps)",
    "graders.autodiff.programs.Step": "the type of one step of a program",
}


def setup_modules(notebook: str) -> list[str]:
    """The course modules imported by the notebook's setup cell (``from pkg import sub`` counts as pkg.sub)."""
    nb = json.loads((ROOT / "solutions" / f"{notebook}.ipynb").read_text())
    setup = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")
    found = []
    for node in ast.walk(ast.parse("".join(setup["source"]))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.append(sub if _is_module(sub) else node.module)
    return sorted({m for m in found if m.split(".")[0] in COURSE})


def _is_module(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _defined_in(obj) -> str:
    return getattr(obj, "__module__", None) or ""


def _problems(root: types.ModuleType) -> list[str]:
    """Every public attribute reachable from ``root`` (see the module docstring) that may give an answer away."""
    bad: list[str] = []
    seen: set[int] = set()

    def judge_callable(path: str, obj, name: str) -> None:
        home = _defined_in(obj)
        wrapped = getattr(obj, "__wrapped__", None)
        if home.startswith("reference_impl"):
            bad.append(f"{path}: a callable of the reference library ({home})")
        elif home.startswith("graders") and not home.startswith(MATERIAL + MACHINERY):
            key = f"{home}.{getattr(obj, '__qualname__', name)}"
            if not name.startswith("check_") and key not in ALLOWED:
                bad.append(f"{path}: public helper {key} (make it private or list it in ALLOWED with a reason)")
        if wrapped is not None and callable(wrapped) and wrapped is not obj:
            judge_callable(f"{path}.__wrapped__", wrapped, getattr(wrapped, "__name__", name))

    def judge_data(path: str, obj, depth: int = 0) -> None:
        if depth > 4:
            return
        if isinstance(obj, dict):
            for k, v in obj.items():
                judge_data(f"{path}[{k!r}]", v, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for i, v in enumerate(obj):
                judge_data(f"{path}[{i}]", v, depth + 1)
        elif isinstance(obj, types.ModuleType):
            visit(path, obj)
        elif callable(obj) and not isinstance(obj, type(int)) and _defined_in(obj):
            judge_callable(path, obj, getattr(obj, "__name__", ""))

    def visit(path: str, obj) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType):
            if obj.__name__.startswith("reference_impl"):
                bad.append(f"{path}: the reference library module {obj.__name__}")
                return
            owner = root.__name__
            walk = obj is root or (obj.__name__.startswith(owner + ".") and hasattr(root, "__path__"))
            if not walk:
                return
            for name in dir(obj):
                if not name.startswith("_"):
                    visit(f"{path}.{name}" if obj is not root else f"{root.__name__}.{name}", getattr(obj, name))
            return
        if inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, types.FunctionType):
            judge_callable(path, obj, path.rsplit(".", 1)[-1])
            return
        if callable(obj) and _defined_in(obj).startswith(("graders", "reference_impl")):  # a cache wrapper...
            judge_callable(path, obj, path.rsplit(".", 1)[-1])
            return
        if type(obj).__module__.startswith("graders"):  # an object of a grader class: its fields are reachable
            for name in dir(obj):
                if not name.startswith("_"):
                    try:
                        visit(f"{path}.{name}", getattr(obj, name))
                    except Exception:
                        continue
            return
        judge_data(path, obj)

    visit(root.__name__, root)
    return bad


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_module_a_notebook_imports_exposes_an_expected_value(notebook):
    import importlib
    modules = setup_modules(notebook)
    assert any(m.startswith("graders.") for m in modules), modules
    bad = [p for m in modules for p in _problems(importlib.import_module(m))]
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------------------- the test catches what it should


def test_the_setup_cells_are_read():
    assert "graders.exercises.chain_rule" in setup_modules(NOTEBOOKS[0])
    assert {"graders.layers", "graders.network", "graders.concepts"} <= set(setup_modules(NOTEBOOKS[2]))
    assert "graders.autodiff" in setup_modules(NOTEBOOKS[1])
    assert "visuals.jacobian_plots" in setup_modules(NOTEBOOKS[3])


def _fake(source: str) -> types.ModuleType:
    """A module named like a grader module, built from ``source`` (its functions are defined "in the graders")."""
    mod = types.ModuleType("graders.exercises.fake")
    exec(source, mod.__dict__)
    return mod


PLANTED = {
    "a reference helper": "def lsq_reference(X, w, y):\n    return X.T @ (X @ w - y)",
    "the reference library": "from reference_impl import layers as ref",
    "a reference function under another name": "from reference_impl.layers import relu_backward as helper",
    "a cached wrapper": "import functools\n@functools.lru_cache(maxsize=None)\ndef truths():\n    return 1.0",
    "a wrapper whose __wrapped__ is a helper": ("import functools\ndef _key():\n    return 1.0\n"
                                                 "@functools.wraps(_key)\ndef check_key():\n    return _key()\n"
                                                 "check_key.__wrapped__ = _key"),
    "a dict of answer lambdas": "COUNTS = {'grad_forward': ('text', lambda n, m: n)}",
    "a reference function in a dict": "from reference_impl import layers as _r\nPAIRS = {'relu': _r.relu_backward}",
    "an object carrying reference functions": (
        "from graders.layers import LayerSpec\nfrom reference_impl import layers as _r\n"
        "RELU = LayerSpec('relu', ('dx',), _r.relu_forward, _r.relu_backward, lambda rng, t: [])"),
}


@pytest.mark.parametrize("what", list(PLANTED))
def test_a_planted_exposure_is_caught(what):
    assert _problems(_fake(PLANTED[what])), what


def test_checks_constants_and_machinery_pass():
    source = ("import numpy as np\nfrom graders.core import call_student, array_problem\n"
              "from graders.public.chain_rule import NEURON_POINT\nfrom graders import diagnoses\n"
              "KEYS = ('a', 'b')\nPOINT = {'x': 1.0}\n"
              "def check_x(fn, *, seed=0, points=None, thorough=False):\n    return points\n"
              "def _private_reference():\n    return 1.0\n")
    assert _problems(_fake(source)) == []
