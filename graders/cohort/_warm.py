"""Imported by the recheck fork server so that forked rechecks find every watched module loaded."""

from graders.cohort._recheck_child import _import_watched

_import_watched()
