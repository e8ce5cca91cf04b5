"""Test-session setup shared by every test module."""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")

# Drill history written by tests (and by notebooks the tests execute) goes to a throw-away file, never to the
# user's real data directory.
_TMP = tempfile.mkdtemp(prefix="backprop-tests-")
os.environ["BACKPROP_DRILL_DB"] = os.path.join(_TMP, "drill_history.sqlite3")
os.environ.setdefault("MPLBACKEND", "Agg")
