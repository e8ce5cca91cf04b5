"""Tiny automatic-differentiation engines: scalar reverse mode (``reverse.Value``), forward mode (``forward``),
tensor-level reverse mode with PyTorch's semantics (``tensor.Tensor``), and gradient checkpointing (``checkpoint``)."""
