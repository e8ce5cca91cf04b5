"""Timed mock-interview drills: problem families, sessions with a rubric, SQLite history, spaced repetition,
an ipywidgets UI (:mod:`graders.drill.widget`) and a terminal drill (``python -m graders.drill``)."""
