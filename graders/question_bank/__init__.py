"""Multiple-choice questions, one module per notebook, each defining ``QUESTIONS = {qid: concepts.Question}``.

See graders/concepts.py for how answers are stored (salted digests) and checked.
"""
