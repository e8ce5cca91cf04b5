"""Public course material: importable without the checks or reference_impl; imports only the standard library,
numpy, sympy, matplotlib. The notebooks' own cells (everything but test cells) use only this package and visuals,
so they run the same in self-study and inside the cohort grader's sandbox, where nothing else of graders exists.

- :mod:`graders.public.hints`: ``hint(exercise_id, level=1)``, three hints on demand for every exercise (the texts
  live in ``hints_NN_topic.py``, one module per notebook).
- :mod:`graders.public.questions`: ``show_question(qid)``, the text and options of a multiple-choice question.
- one module per notebook (``chain_rule``, ``two_layer_network``, ``bptt``, ``batchnorm``, ...): the fixed inputs,
  constants and demonstration code its cells use (never an answer or a reference gradient).
"""
