"""nbgrader configuration for the course (run nbgrader commands from the repo root)."""

c = get_config()  # noqa: F821  (provided by nbgrader/traitlets)

c.CourseDirectory.root = "."
# A course id is required by PostgreSQL gradebooks (foreign key from assignments to the course table).
c.CourseDirectory.course_id = "backprop-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Assignment folders are solutions/<NN_topic>/; nothing but notebooks is released.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py", "*.db",
]

# Execute.timeout is the knob that takes effect (ExecutePreprocessor.timeout is overridden).
c.Execute.timeout = 120
# A student who deletes a test cell gets it back when grading.
c.OverwriteCells.add_missing_cells = True
# Hidden tests must never reach a student's feedback.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "graders.feedback_filter.ClearHiddenTestsInTests",
    "graders.feedback_filter.HideHiddenTestsInOutputs",
]
# Release notebooks are committed with outputs stripped.
c.ClearOutput.enabled = True

# `nbgrader validate` and the Lab "Validate" button list each failing test cell with its exercise and the first
# lines of its message (graders/validate_summary.py), instead of every cell's whole error output. Feedback HTML
# wraps long lines and renders math offline (graders/feedback_page.py).
try:
    from graders import feedback_page
    from graders.validate_summary import summarise_failed_cell
except ImportError:  # graders not installed in this environment: nbgrader's defaults
    pass
else:
    c.Execute.on_cell_error = summarise_failed_cell
    c.Validator.width = 120
    feedback_page.configure(c)
