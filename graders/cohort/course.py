"""Where a cohort's files live, and the nbgrader configuration used to grade them.

Layout (nbgrader's, with this course's source/release names), relative to the course root:

    solutions/<assignment>/<nb>.ipynb               source (instructor) notebooks
    submitted/<student>/<assignment>/<nb>.ipynb     what students handed in
    autograded/<student>/<assignment>/...           written by nbgrader autograde
    feedback/<student>/<assignment>/<nb>.html       written by generate_feedback
    cohort/<assignment>/                            this tool's ledger, grades.csv and report.html
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from graders import feedback_page


COURSE_ID = "backprop-course"


@dataclass(frozen=True)
class Course:
    root: Path
    assignment: str
    db_url: str | None = None
    timeout: int = 60

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())
        if not (self.root / "solutions" / self.assignment).is_dir():
            raise FileNotFoundError(f"no source for assignment {self.assignment!r}: "
                                    f"{self.root / 'solutions' / self.assignment} does not exist")

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def out_dir(self) -> Path:
        return self.root / "cohort" / self.assignment

    def source_notebooks(self) -> list[str]:
        """Notebook file names of the assignment (what every submission must contain)."""
        return sorted(p.name for p in (self.root / "solutions" / self.assignment).glob("*.ipynb"))

    def students(self) -> list[str]:
        """Student ids with a submission folder for this assignment, sorted."""
        sub = self.root / "submitted"
        if not sub.is_dir():
            return []
        return sorted(p.name for p in sub.iterdir() if (p / self.assignment).is_dir())

    def submission_dir(self, student: str) -> Path:
        return self.root / "submitted" / student / self.assignment

    def autograded_dir(self, student: str) -> Path:
        return self.root / "autograded" / student / self.assignment

    def config(self, graded_execute: bool = False) -> Config:
        c = Config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.source_directory = "solutions"
        c.CourseDirectory.release_directory = "notebooks"
        c.CourseDirectory.db_url = self.gradebook_url
        # PostgreSQL enforces the gradebook's foreign key to the course table, so the course needs an id.
        c.CourseDirectory.course_id = COURSE_ID
        c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py", "*.db"]
        c.Execute.timeout = int(self.timeout)
        c.OverwriteCells.add_missing_cells = True
        if graded_execute:
            # nbgrader's autograde with the student's cells in a sandbox and the test cells run by the grader
            from nbconvert.preprocessors import ClearMetadataPreprocessor
            from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                                SaveAutoGrades)

            from graders.cohort.execute import GradedExecute

            c.Autograde.autograde_preprocessors = [GradedExecute, IgnorePattern, ClearMetadataPreprocessor,
                                                   LimitOutput, SaveAutoGrades, AssignLatePenalties,
                                                   CheckCellMetadata]
        c.GenerateFeedback.preprocessors = [
            "nbgrader.preprocessors.GetGrades",
            "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
            "graders.feedback_filter.ClearHiddenTestsInTests",
            "graders.feedback_filter.HideHiddenTestsInOutputs",
        ]
        feedback_page.configure(c)  # long lines wrap, math renders offline
        return c


def env_with_venv_on_path() -> dict:
    """os.environ with this interpreter's bin/ first on PATH (nbgrader shells out to `alembic`)."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
