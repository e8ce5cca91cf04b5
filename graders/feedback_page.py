"""The look of nbgrader's feedback HTML: long lines wrap, and math renders offline.

nbgrader's feedback template clips long code and output lines (they run off the right edge), and loads MathJax 2
from a CDN, so a student reading the page offline sees raw LaTeX. :func:`configure` points nbgrader's
``GenerateFeedback`` at the template in ``graders/feedback_templates/backprop_feedback``, which extends nbgrader's
own ``feedback`` template and

- adds CSS that wraps ``pre`` blocks (code, outputs, error messages) instead of clipping them;
- replaces nbconvert's ``mathjax`` macro by MathJax 3 (``tex-svg.js`` from the ``django-static-mathjax``
  package, which ships MathJax's files and depends on nothing) inlined into the page: SVG output needs no font
  files, so the page is self-contained (about 2 MB larger) and renders math with no network at all.

The settings are nested under ``GenerateFeedback`` so that formgrader's own HTML exporter keeps its template.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "feedback_templates"
TEMPLATE_NAME = "backprop_feedback"


def mathjax_file() -> Path:
    """MathJax 3's single-file TeX-to-SVG bundle, from the installed django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax files not found: install the course requirements (django-static-mathjax).")
    path = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5" / "tex-svg.js"
    if not path.is_file():
        raise RuntimeError(f"MathJax bundle missing at {path}: reinstall django-static-mathjax.")
    return path


@functools.lru_cache(maxsize=1)
def _mathjax_source() -> str:
    # Safe inside an inline <script>: no "</script" or "<!--" can end or confuse the script element.
    return mathjax_file().read_text(encoding="utf-8").replace("</script", "<\\/script").replace("<!--", "\\x3C!--")


def offline_mathjax(_: Any = None) -> str:
    """Jinja filter: the MathJax bundle's source, to inline in a <script> element."""
    return _mathjax_source()


def nbgrader_templates() -> Path:
    import nbgrader

    return Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"


def configure(c: Any) -> None:
    """Set the feedback template on a traitlets Config (``c`` of nbgrader_config.py, or a Config object)."""
    exporter = c.GenerateFeedback.HTMLExporter
    exporter.template_name = TEMPLATE_NAME
    exporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates())]
    # nbgrader sets this to its bootstrap CSS folder; ours also makes 'feedback/index.html.j2' (the template
    # ours extends) reachable by that name
    bootstrap = nbgrader_templates().parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    exporter.extra_template_paths = [str(bootstrap), str(nbgrader_templates())]
    exporter.filters = {"offline_mathjax": "graders.feedback_page.offline_mathjax"}
