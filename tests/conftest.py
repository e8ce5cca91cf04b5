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

# Property tests draw the same examples on every run, so a CI verdict never depends on luck; set
# BACKPROP_HYPOTHESIS=explore to draw fresh random examples (and keep hypothesis' example database) instead.
from hypothesis import settings  # noqa: E402

settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile("explore" if os.environ.get("BACKPROP_HYPOTHESIS") == "explore" else "repeatable")
