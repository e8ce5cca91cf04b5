"""Tiny automatic-differentiation engines: reverse mode (``reverse``) and forward mode (``forward``)."""
