"""Public course material: importable without the checks or reference_impl; imports only the standard library,
numpy, sympy, matplotlib.

- :mod:`graders.public.hints`: ``hint(exercise_id, level=1)``, three hints on demand for every exercise of
  notebooks 01-08 and 13 (the texts live in ``hints_NN_topic.py``, one module per notebook);
- :mod:`graders.public.tensor_backprop`: data generators, fixed inputs and scenarios of notebook 13 (NumPy only).
"""
