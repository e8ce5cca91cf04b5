"""Show a multiple-choice question (text and lettered options; never its answer).

In self-study the texts come from graders.question_bank. Inside the cohort grader's sandbox, where the question
bank and its answer digests are absent, they come from ``question_texts.json``, which the grader writes next to
this module when it prepares the sandbox (graders.cohort.execute.prepare_opt).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

TEXTS_FILE = Path(__file__).with_name("question_texts.json")


@functools.cache
def texts() -> dict[str, dict]:
    """qid -> {"text": str, "options": {letter: text}} for every question of the course."""
    if TEXTS_FILE.exists():
        return json.loads(TEXTS_FILE.read_text(encoding="utf-8"))
    from graders import concepts  # self-study: the full bank is installed

    return {qid: {"text": q.text, "options": dict(q.options)} for qid, q in concepts.questions().items()}


def show_question(qid: str) -> None:
    """Print the question and its lettered options."""
    bank = texts()
    if qid not in bank:
        raise KeyError(f"no question {qid!r}; known ids: {', '.join(sorted(bank)[:8])}, ...")
    q = bank[qid]
    print("\n".join([q["text"], ""] + [f"  ({letter}) {text}" for letter, text in q["options"].items()]))
