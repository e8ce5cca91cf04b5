"""A Jupyter server extension for the instructor launch (tools/lab.py --instructor): classic ``/tree/...`` links
open in JupyterLab.

nbgrader's formgrader links its Preview and assignment names to ``/tree/<folder>``. Notebook 7's file browser,
which would serve them, reads a path containing ``/notebooks/`` (this course's release folder) as a notebook to open
and shows "File Load Error"; so the instructor launch turns Notebook 7 off and this extension sends ``/tree/<path>``
to ``/lab/tree/<path>``, where JupyterLab's file browser opens that folder.
"""

from __future__ import annotations


def _jupyter_server_extension_points():
    return [{"module": "graders.instructor_lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_escape, url_path_join
    from tornado import web

    class TreeToLab(JupyterHandler):
        @web.authenticated
        def get(self, path: str = "") -> None:
            self.redirect(url_path_join(self.base_url, "lab", "tree", url_escape(path or "")))

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, r"/tree/?(.*)"), TreeToLab)])
