"""Authoring and release tools for course maintainers (not installed; run from the repo root)."""
