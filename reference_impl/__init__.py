"""Reference NumPy backprop implementation that every grader in the course trusts.

All arrays are float64. Layers follow the cs231n contract::

    out, cache = x_forward(...)
    grads = x_backward(dout, cache)

Nothing here seeds the global RNG or mutates its arguments.
"""
