"""Public course material: importable without the checks or reference_impl; imports only the standard library,
numpy, sympy, matplotlib.

- :mod:`graders.public.hints`: ``hint(exercise_id, level=1)``, three hints on demand for every exercise of
  the notebooks (the texts live in ``hints_NN_topic.py``, one module per notebook).
- :mod:`graders.public.attention`: the fixed inputs and constants of notebook 10 (NumPy only).
"""
