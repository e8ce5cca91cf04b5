"""Public course material: importable without the checks or reference_impl (it imports only the standard
library, numpy, sympy and matplotlib). Notebook cells other than test cells use only this package and visuals,
so they run the same in self-study and inside the cohort grader's sandbox, where nothing else of graders exists."""
