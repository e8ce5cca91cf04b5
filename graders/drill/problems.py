"""Every drill problem family, registered in one place.

Importing this module imports the family modules, which register themselves in
:data:`graders.drill.registry.FAMILIES`: quick problems (:mod:`.quick`), concept questions
(:mod:`.concept_questions`), find-the-bug (:mod:`.find_the_bug`), derivations (:mod:`.derivations`),
explanations (:mod:`.explanations`) and live coding (:mod:`.live_coding`).
"""

from __future__ import annotations

# import order = registration order = the order families are listed in (quick problems first)
from graders.drill import quick  # noqa: F401, I001
from graders.drill import concept_questions, find_the_bug, derivations, explanations, live_coding  # noqa: F401, I001
from graders.drill.parsing import AnswerFormatError, close  # noqa: F401
from graders.drill.registry import (COMPETENCIES, FAMILIES, KINDS, Family, Feedback, KeyPoint, Problem,  # noqa: F401
                                    by_kind, check_answer, generate)

_close = close
