"""Fixed inputs of notebook 01 (the chain rule), for the notebook's own cells."""

#: The point of the one-neuron trace: L = (sigmoid(w x + b) - y)**2.
NEURON_POINT = {"w": 0.6, "x": 1.5, "b": -0.4, "y": 1.0}

#: The point of the sum-over-paths table: g = 3x + 2, L = g**2 + x * g.
PATHS_X = 2.0
