"""Plotting helpers the notebooks use for pictures (computational graphs, gradient norms, curves)."""
