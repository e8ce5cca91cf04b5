"""No module a notebook imports hands out an expected value (issue 12: "expected-value helpers private").

Covers the graded notebooks 01-08 and 10-13. Notebook 09 (mock interviews) is exempt, see DRILL_ONLY below: it
has no graded cell, and its drill grades the learner's answers in the learner's own kernel, so every problem it
generates carries its answer by design. tests/test_public_attributes.py scans 01-04 with rules of its own (it also
opens objects of grader classes, such as LayerSpec instances); the two scans complement each other.

The setup cell of each of these notebooks imports a few modules (its checks, graders.public course material,
visuals). Everything a learner can reach from them by tab completion is listed here: their public attributes,
and the public attributes of every grader module among those (recursively). A public attribute fails the test
when it

- is (or wraps, through ``__wrapped__``) the reference library: a ``reference_impl`` module, function or class;
- is a function or class whose name says it computes an expected value (``expected``, ``truth``, ``reference``,
  ``answer``, ``solution``, ``correct``, ``right``, ``want``, ``mistake``...), unless the curated allowlist below
  says why it does not;
- is a callable of a grader module other than a check, a course-wide helper (graders.core, graders.diagnoses,
  graders.remote, graders.typed's readers of typed answers: they know no answer) or an entry of the allowlist;
- is data that holds functions (a table of lambdas that compute the answers), unless allowlisted;
- is an object of a grader class (a ``LayerSpec`` instance...) whose public fields are the reference library, a
  grader's helper function or a table of functions (a public LayerSpec carries ``ref_backward``: the expected backward).

A new public helper in one of these modules therefore needs a decision: make it private (``_name``) or add it to
the allowlist with the reason it returns no expected value.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_chain_rule", "02_computational_graphs", "03_two_layer_network", "04_jacobians_vjps",
             "05_ad_modes", "06_bptt", "07_batchnorm", "08_vanishing_exploding",
             "10_attention", "11_convolution", "12_gated_rnn", "13_tensor_backprop"]
# A notebook with no graded cell whose setup imports only the drill: the drill shows each problem's answer after
# the attempt and grades it in the learner's kernel, so its problems (``Problem.expected``) hold the answers.
DRILL_ONLY = {"09_mock_interview": "self-assessment drills, no graded cell; the drill grades in the learner's kernel"}

EXPECTED_NAME = re.compile(r"expected|truth|reference|answer|solution|correct|right|want|mistake|^ref_|_ref$|"
                           r"oracle|^ref$", re.IGNORECASE)
NEUTRAL_MODULES = ("graders.core", "graders.diagnoses", "graders.remote", "graders.layers", "graders.typed", "typing", "dataclasses",
                   "builtins", "abc", "collections", "functools", "numbers", "__future__")

# (module, attribute): why it returns no expected value
ALLOWED = {
    ("graders.autodiff", "PASS_KEYS"): "the key names of the pass-count answer dict",
    ("graders.autodiff.modes", "PASS_KEYS"): "the key names of the pass-count answer dict",
    ("graders.exercises.ad_modes", "SWELL_CASES"): "the maps, depths and texts the learner's function is given",
    ("graders.batchnorm", "grade_pair_case"): "a runner: grades one case against values its caller passes in",
    ("graders.batchnorm", "check_pair"): "a check (of a LayerSpec); returns a score",
    ("graders.batchnorm", "planted_batchnorm_backward"): "course material: deliberately WRONG backwards (public)",
    ("graders.exercises.batchnorm_nb", "n3_symbols"): "the SymPy symbols of the exercise (inputs)",
    ("graders.exercises.batchnorm_nb", "trace_inputs"): "the fixed inputs of the hand trace (graders.public)",
    ("graders.exercises.bptt", "decay_matrix"): "the fixed input matrix (graders.public)",
    ("graders.concepts", "show_question"): "prints a multiple-choice question",
    ("graders.concepts", "questions"): "the question bank: texts and salted digests; its letters are what the "
                                       "visible check_choice answers anyway (four letters to try)",
    ("graders.concepts", "digest"): "the salted digest of a letter (as above)",
    ("graders.concepts", "Question"): "the question record (text, options, digests)",
    ("graders.public.batchnorm", "planted_batchnorm_backward"): "course material: deliberately WRONG backwards",
    ("graders.public.batchnorm", "trace_inputs"): "the fixed inputs of the hand trace",
    ("graders.public.bptt", "decay_matrix"): "the fixed input matrix of the decay exercise",
    ("graders.public.hints", "hint"): "prints a hint (levels 1-3 stop short of the answer)",
    ("graders.public.questions", "show_question"): "prints a multiple-choice question",
    ("graders.public.questions", "texts"): "the question texts and options (no answers)",
    ("graders.public.hints", "exercises"): "the hint texts of every notebook",
    ("graders.public.hints", "hint_text"): "the text hint() prints",
    ("graders.exercises.batchnorm_nb", "CHECKER_MISTAKES"): "the names of the planted backwards the checker meets",
    # notebooks 03 and 10-13: fixed inputs and course material the notebook's own cells use (graders.public, and
    # the checks' re-exports of it)
    ("graders.public.two_layer_network", "symmetry_problem"): "the fixed inputs (X, y, H, C) of the symmetry "
                                                              "experiment",
    ("graders.exercises.two_layer_network", "symmetry_problem"): "the same inputs (re-exported from graders.public)",
    ("graders.public.attention", "one_query_example"): "the inputs (q, K, v, g) of the worked example and trace",
    ("graders.public.attention", "demo_tokens"): "the six words of the heatmap demo",
    ("graders.public.attention", "demo_qkv"): "random Q, K, V inputs of the heatmap demo",
    ("graders.public.convolution", "conv1d_symbols"): "the SymPy symbols of the 1-D convolution exercise (inputs)",
    ("graders.public.convolution", "demo_problem"): "random x, w, b inputs for demonstration cells",
    ("graders.public.gated_rnn", "sigmoid"): "the logistic function as a SymPy expression (a building block the "
                                             "notebook's cells use, not a derivative)",
    ("graders.public.gated_rnn", "lag_problem"): "the inputs (x, h0, params, g) of the gradient-norm experiment",
    ("graders.public.tensor_backprop", "make_moons"): "a data set generator (inputs)",
    ("graders.public.tensor_backprop", "make_spirals"): "a data set generator (inputs)",
    ("graders.public.tensor_backprop", "init_mlp"): "He-initialized starting parameters (inputs)",
    ("graders.public.tensor_backprop", "micro_batches"): "index arrays of micro-batches of given sizes (inputs)",
    ("graders.exercises.tensor_engine", "moons_task"): "the inputs of the graded training run (train and held-out "
                                                       "moons, starting parameters); no trained result",
    ("graders.exercises.tensor_losses", "derivation_symbols"): "the SymPy symbols the derivation answers use",
    ("graders.exercises.tensor_precision", "confident_network"): "the inputs (float32 params, X, y) of the float16 "
                                                                 "backward check; no gradient",
}
# (defining module, name): classes that appear wherever they are imported
ALLOWED_DEFINED = {
    ("graders.autodiff.programs", "Program"): "an expression program: its inputs and operations",
    ("graders.autodiff.programs", "Step"): "one operation of an expression program",
}


def _setup_imports(name: str) -> list[str]:
    """The modules the setup cell of solutions/<name> imports (``from a import b`` counts b when it is a module)."""
    (path,) = sorted((ROOT / "solutions" / name).glob("*.ipynb"))
    nb = nbformat.read(str(path), as_version=4)
    setup = next(c for c in nb.cells if c.get("id") == "setup")
    found = []
    for node in ast.walk(ast.parse(setup.source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                try:
                    importlib.import_module(full)
                    found.append(full)
                except ImportError:
                    found.append(node.module)
    return [m for m in dict.fromkeys(found) if m.split(".")[0] in ("graders", "visuals")]


def _is_reference(obj) -> bool:
    seen = 0
    while obj is not None and seen < 10:
        mod = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None) or ""
        if isinstance(mod, str) and mod.split(".")[0] == "reference_impl":
            return True
        obj, seen = getattr(obj, "__wrapped__", None), seen + 1
    return False


def _holds_functions(value) -> bool:
    if isinstance(value, dict):
        return any(_holds_functions(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_functions(v) for v in value)
    return isinstance(value, (types.FunctionType, types.LambdaType, types.MethodType))


def _problems(module_name: str, seen: set[str]) -> list[str]:
    if module_name in seen:
        return []
    seen.add(module_name)
    module = importlib.import_module(module_name)
    grader = module_name.startswith("graders.") and not module_name.startswith(NEUTRAL_MODULES)
    out = []
    for attr in sorted(vars(module)):
        if attr.startswith("_"):
            continue
        value = getattr(module, attr)
        where = f"{module_name}.{attr}"
        if _is_reference(value):
            out.append(f"{where}: the reference library ({getattr(value, '__name__', value)!r})")
            continue
        if isinstance(value, types.ModuleType):
            if value.__name__.startswith("graders.") and not value.__name__.startswith(NEUTRAL_MODULES):
                out += _problems(value.__name__, seen)
            continue
        defined_in = getattr(value, "__module__", "") or ""
        if (module_name, attr) in ALLOWED or (defined_in, getattr(value, "__name__", None)) in ALLOWED_DEFINED:
            continue
        if callable(value) and attr.startswith("check_"):
            continue   # a check returns a score
        if callable(value):
            if EXPECTED_NAME.search(attr) or EXPECTED_NAME.search(getattr(value, "__name__", "") or ""):
                out.append(f"{where}: its name says it computes an expected value")
            elif grader and not attr.startswith("check_") and not defined_in.startswith(NEUTRAL_MODULES) \
                    and defined_in.split(".")[0] in ("graders", "reference_impl"):
                out.append(f"{where}: a public helper of a grader module (make it private or allowlist it)")
            continue
        if EXPECTED_NAME.search(attr):
            out.append(f"{where}: its name says it holds an expected value")
        elif _holds_functions(value):
            out.append(f"{where}: data holding functions (a table that computes answers?)")
        elif (type(value).__module__ or "").startswith("graders.") and not isinstance(value, type):
            out += _field_problems(where, value)
    return out


def _field_problems(where: str, obj) -> list[str]:
    """An object of a grader class (a LayerSpec instance...) is one more Tab away: its public fields must not be
    the reference library or a grader's helper (a public LayerSpec carries ``ref_backward``: the expected backward)."""
    out = []
    for field in sorted(dir(obj)):
        if field.startswith("_"):
            continue
        try:
            value = getattr(obj, field)
        except Exception:  # noqa: BLE001 - a property that needs state is not a field
            continue
        defined_in = getattr(value, "__module__", "") or ""
        if _is_reference(value):
            out.append(f"{where}.{field}: the reference library ({getattr(value, '__name__', value)!r})")
        elif isinstance(value, (types.FunctionType, types.LambdaType)) and defined_in.split(".")[0] == "graders" \
                and not defined_in.startswith(NEUTRAL_MODULES):
            out.append(f"{where}.{field}: a grader's helper carried by an object (make the object private)")
        elif _holds_functions(value):
            out.append(f"{where}.{field}: data holding functions (a table that computes answers?)")
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_setup_cells_import_no_expected_value(name):
    modules = _setup_imports(name)
    assert any(m.startswith("graders.") and not m.startswith("graders.public") for m in modules), modules
    seen: set[str] = set()
    problems = [p for m in modules for p in _problems(m, seen)]
    assert not problems, "\n".join(problems)


def test_the_scan_finds_what_it_should(monkeypatch):
    """The rules catch the kinds of exposure issue 12 lists (planted on a throw-away module)."""
    import reference_impl.batchnorm

    fake = types.ModuleType("graders.fake_for_surface_test")
    fake.ref = reference_impl.batchnorm
    fake.dout_ones_truths = lambda: {"correct": 0.0}

    def helper():
        return 1
    helper.__module__ = "graders.fake_for_surface_test"
    fake.seed_losses = helper
    fake.TABLE = {"grad": ("text", lambda n, m: n)}
    wrapped = lambda: None  # noqa: E731
    wrapped.__wrapped__ = reference_impl.batchnorm.batchnorm_forward
    fake.check_shortcut = wrapped
    from graders.layers import LayerSpec
    fake.NORM = LayerSpec("batchnorm", ("dx",), reference_impl.batchnorm.batchnorm_forward,
                          reference_impl.batchnorm.batchnorm_backward, lambda rng, t: [])
    monkeypatch.setitem(__import__("sys").modules, fake.__name__, fake)
    problems = "\n".join(_problems(fake.__name__, set()))
    for attr in ("ref", "dout_ones_truths", "seed_losses", "TABLE", "check_shortcut", "NORM.ref_backward"):
        assert f"{fake.__name__}.{attr}:" in problems, problems


def test_the_exempt_notebook_has_no_graded_cell_and_imports_only_the_drill():
    """The exemption of DRILL_ONLY holds only while the notebook grades nothing and imports nothing but the drill."""
    from nbgrader import utils as nbu

    for name in DRILL_ONLY:
        assert name not in NOTEBOOKS
        (path,) = sorted((ROOT / "solutions" / name).glob("*.ipynb"))
        nb = nbformat.read(str(path), as_version=4)
        assert not [c.get("id") for c in nb.cells if nbu.is_grade(c)], name
        modules = _setup_imports(name)
        assert modules and all(m.startswith("graders.drill") for m in modules), modules
    every = {p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")}
    assert every == set(NOTEBOOKS) | set(DRILL_ONLY), "a notebook the scan does not cover"


def test_the_allowlist_names_only_existing_public_attributes():
    for module_name, attr in ALLOWED:
        assert hasattr(importlib.import_module(module_name), attr), (module_name, attr)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebooks_own_cells_use_course_material_only(name):
    """Markdown, provided and answer cells point learners to graders.public (``course.``), never to a check module
    (``ex.``, ``gad.``, ...): in cohort grading those cells run where the checks do not exist."""
    from nbgrader import utils as nbu

    (path,) = sorted((ROOT / "solutions" / name).glob("*.ipynb"))
    nb = nbformat.read(str(path), as_version=4)
    aliases = {"ex", "exe", "exl", "exp16", "gad", "gr", "gbn", "gl", "gn", "gconv", "gpool", "gg", "concepts"}
    found = [(c.get("id"), m.group(0)) for c in nb.cells if c.get("id") != "setup" and not nbu.is_grade(c)
             for m in re.finditer(r"\b(\w+)\.[A-Za-z_]\w*", c.source) if m.group(1) in aliases]
    assert not found, found


def test_08_promises_gradients_whose_squares_really_overflow():
    import numpy as np

    from graders.exercises import vanishing_exploding as ex
    from graders.public import hints_08_vanishing_exploding as hints

    huge = [g for label, grads, _ in ex._clip_cases(np.random.default_rng(0), False) if "overflow" in label
            for g in grads.values()]
    with np.errstate(over="ignore"):
        assert huge and all(np.isinf(np.sum(g ** 2)) for g in huge)
        assert np.isfinite(np.float64(1e150) ** 2)   # the old text's 1e150 does not overflow
    (path,) = sorted((ROOT / "solutions" / "08_vanishing_exploding").glob("*.ipynb"))
    text = path.read_text() + " ".join(" ".join(h) for h in hints.HINTS.values())
    assert "10^{150}" not in text and "1e150" not in text and "10^{160}" in path.read_text()
