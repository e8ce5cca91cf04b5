"""Static evidence of cheating in a student's own cells (answer cells and unlocked cells).

Looks at the Python syntax tree (after dropping IPython magics) for imports, calls, attribute names and
string constants that graded work never needs: the reference library, the gradebook or other course files,
nbgrader's environment variables, IPython's input transformers, process exits and ways around them.
"""

from __future__ import annotations

import ast
import re

FORBIDDEN_MODULES = {"reference_impl": "imports the reference implementation",
                     "sqlite3": "imports sqlite3 (the gradebook is an SQLite file)",
                     "sqlalchemy": "imports sqlalchemy (gradebook access)",
                     "ctypes": "imports ctypes", "subprocess": "starts processes",
                     "importlib": "imports modules by name", "nbgrader": "imports nbgrader",
                     "nbformat": "reads notebooks", "builtins": "edits builtins"}
FORBIDDEN_ATTRS = {"input_transformers_post": "installs an IPython input transformer",
                   "input_transformers_cleanup": "installs an IPython input transformer",
                   "_exit": "calls os._exit", "ref": "reaches the reference library through graders (.ref)",
                   "register_magic_function": "registers magics", "system": "runs shell commands"}
FORBIDDEN_STRINGS = [(re.compile(r"NBGRADER", re.I), "reads nbgrader's environment"),
                     (re.compile(r"gradebook|\.db\b", re.I), "names the gradebook"),
                     (re.compile(r"solutions|autograded|submitted|\.ipynb", re.I), "names course files"),
                     (re.compile(r"reference_impl"), "names the reference implementation")]


def strip_magics(src: str) -> str:
    """Source with IPython magic and shell lines (``%...``, ``!...``) blanked."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def scan(source: str) -> list[str]:
    """Reasons this cell looks like cheating (empty when clean)."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in FORBIDDEN_MODULES:
                    found.append(FORBIDDEN_MODULES[top])
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_MODULES:
                found.append(FORBIDDEN_MODULES[top])
            if top == "graders" and any(a.name == "ref" for a in node.names):
                found.append(FORBIDDEN_ATTRS["ref"])
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
            found.append(FORBIDDEN_ATTRS[node.attr])
        elif isinstance(node, ast.Name) and node.id in ("get_ipython", "__import__", "__builtins__"):
            found.append(f"uses {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for pattern, why in FORBIDDEN_STRINGS:
                if pattern.search(node.value):
                    found.append(why)
    return list(dict.fromkeys(found))
