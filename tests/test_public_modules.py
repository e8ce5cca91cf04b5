"""What runs inside the cohort grader's sandbox imports nothing that holds answers.

The notebook's own cells may use graders.public (course material) and visuals; the sandboxed kernel runs
graders.remote's student side (protocol, server, catalogue, sandbox_kernel). None of these may import the checks,
the question bank's answer digests or the reference library: the test imports each of them in a fresh
interpreter where those packages cannot be found, as in the sandbox.
"""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import graders.public
import visuals

ROOT = Path(__file__).resolve().parents[1]
STUDENT_SIDE = ["graders.remote.protocol", "graders.remote.server", "graders.remote.sandbox_kernel"]
PUBLIC = [f"graders.public.{m.name}" for m in pkgutil.iter_modules(graders.public.__path__)]
VISUALS = [f"visuals.{m.name}" for m in pkgutil.iter_modules(visuals.__path__)]

BLOCKER = """
import importlib.abc, sys
ALLOWED = ("graders.public", "graders.remote")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "reference_impl" or name.startswith("reference_impl."):
            raise ImportError(f"{name} is not in the sandbox")
        if name.startswith("graders.") and not name.startswith(ALLOWED):
            raise ImportError(f"{name} is not in the sandbox")
        return None
sys.meta_path.insert(0, Block())
import importlib, os
for mod in os.environ["MODULES"].split():  # (not on the command line: test_cohort looks for sandbox kernels there)
    importlib.import_module(mod)
print("ok")
"""


def _catalogue_modules() -> list[str]:
    import graders.remote as remote
    found = [f"graders.remote.{m.name}" for m in pkgutil.iter_modules(remote.__path__) if m.name.startswith("catalogue")]
    pkg = Path(remote.__file__).parent / "catalogue"
    if pkg.is_dir():
        found += [f"graders.remote.catalogue.{m.name}" for m in pkgutil.iter_modules([str(pkg)])]
    return found


@pytest.mark.parametrize("modules", [STUDENT_SIDE + _catalogue_modules(), PUBLIC, VISUALS],
                         ids=["student side", "graders.public", "visuals"])
def test_sandbox_side_modules_import_without_checks_or_reference(modules):
    done = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "PATH": "/usr/bin",
                               "MODULES": " ".join(modules)})
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
