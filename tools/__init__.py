"""Course tools, run from the repo root (not installed): the launcher lab.py (students and instructors), notebook
authoring helpers and the release generator (maintainers)."""
