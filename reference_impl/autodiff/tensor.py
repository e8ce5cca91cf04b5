"""A tiny tensor-level reverse-mode engine: micrograd's ``Value``, with a NumPy array in every node.

Every operation on :class:`Tensor` objects records its inputs and a small local backward rule that ADDS
(``+=``) its contribution into each input's ``.grad``; broadcast operands get theirs through
``unbroadcast`` (sum over the broadcast axes). ``loss.backward()`` runs the rules in reverse topological
order. On top of that, the engine behaves like PyTorch in the ways interviewers ask about:

* **Accumulation.** ``backward()`` ADDS into the ``.grad`` of leaves that require grad, across calls:
  two backward passes without ``zero_grad`` in between give the sum of both gradients (this is what makes
  gradient accumulation over micro-batches work, and what makes a forgotten ``zero_grad`` a bug).
  A non-leaf's ``.grad`` holds the gradient of the latest pass only. (The scalar ``Value`` engine of
  ``reverse.py`` is different on purpose: its ``backward()`` recomputes from zero.)
* **Freeing the graph.** ``backward()`` frees every node's backward rule and saved arrays afterwards;
  a second ``backward()`` through the same graph raises unless the first used ``retain_graph=True``.
* **Stop-gradient.** ``t.detach()`` is a new leaf with the same data (shared, like PyTorch) that no
  gradient flows back through; ``with no_grad():`` records no graph at all (used for parameter updates).
* **In-place operations and the version counter.** ``relu_``, ``add_``, ``sub_``, ``mul_`` overwrite
  ``.data`` and increment the tensor's version. Every operation records the version of each array its
  backward will read ("saved tensors"); ``backward()`` raises a clear RuntimeError if one has changed,
  because the backward would read the overwritten values and return a wrong gradient. In-place ReLU after
  a matmul is fine: ReLU's backward reads its OUTPUT (``out > 0``), which is what stays in the array, and
  the matmul saved its inputs, not its output. Overwriting an array that a backward needs is not:
  sigmoid's output (sigmoid, tanh and exp save their output), a matmul or multiply input, a log input.
  ``backward(check_versions=False)`` skips the check so the corrupted gradient can be measured;
  :func:`inplace_demo` does that for three cases side by side.

A differentiable in-place operation on a non-leaf tensor that another operation has already used is
refused with an error (PyTorch re-routes such a graph; this small engine keeps the rules simple).
Python's ``x += y`` on a Tensor is NOT in place here: it builds ``x + y`` and rebinds the name.

Shapes: any shapes for the elementwise operations (NumPy broadcasting), 2-D @ 2-D for matmul,
(N, C) logits and (N,) labels for :func:`cross_entropy`. All data is float64.
"""

from __future__ import annotations

import contextlib
import numbers
from typing import Iterator

import numpy as np

from reference_impl import losses
from reference_impl.broadcasting import broadcasts_to, unbroadcast

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "cross_entropy", "zero_grad", "sgd_step", "topological_order",
           "inplace_demo"]

_GRAD_ENABLED = [True]


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside the ``with`` block operations record no graph (outputs are constants), as in PyTorch."""
    _GRAD_ENABLED.append(False)
    try:
        yield
    finally:
        _GRAD_ENABLED.pop()


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``."""
    return _GRAD_ENABLED[-1]


class _Version:
    """A mutable counter shared by every Tensor that views the same array (the tensor, its detach(), ...)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor:
    """A node of a computational graph holding a float64 NumPy array.

    Attributes:
        data: the forward value (float64 ndarray, owned by this tensor).
        grad: None, or an array shaped like data: d(root)/d(this) accumulated by backward().
        requires_grad: whether gradients are computed for this tensor (and whatever is built from it).
        label: optional name, only for printing.
        _prev: the input tensors (empty for leaves). _op: the operation that made this node.
        _backward: ``g -> None`` adding ``g * local derivative`` into every input's grad (None for leaves).
        _saved: ((version counter, version when saved, description, shape), ...) for every array that
            _backward reads; backward() compares each counter with the version recorded here.
        _version: this array's version counter (incremented by every in-place operation).
        _uses: number of recorded operations that took this tensor as input.
        _freed: True once backward() has released this node's rule (no retain_graph).
    """

    __slots__ = ("data", "grad", "requires_grad", "label", "_prev", "_op", "_backward", "_saved", "_version",
                 "_uses", "_freed")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, label: str = "") -> None:
        if isinstance(data, Tensor):
            raise TypeError("Tensor(data): data is already a Tensor; use it directly or call .detach()")
        arr = np.asarray(data)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"Tensor data must be numeric, got dtype {arr.dtype}")
        self.data = np.array(arr, dtype=np.float64, copy=True)  # never aliases the caller's array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.label = label
        self._prev: tuple = ()
        self._op = ""
        self._backward = None
        self._saved: tuple = ()
        self._version = _Version()
        self._uses = 0
        self._freed = False

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Tensor({name}shape={self.shape}, op={self._op or 'leaf'!r}, requires_grad={self.requires_grad})"

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors not computed by a recorded operation (parameters, inputs, constants)."""
        return not self._prev

    @property
    def version(self) -> int:
        """How many in-place operations have modified this array."""
        return self._version.value

    def item(self) -> float:
        """The value of a one-element tensor as a float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """A copy of the data."""
        return self.data.copy()

    # ---------------------------------------------------------------- graph construction helpers
    @staticmethod
    def _lift(x) -> "Tensor":
        """Tensors pass through; numbers and arrays become constants (requires_grad=False)."""
        if isinstance(x, Tensor):
            return x
        if isinstance(x, (numbers.Real, np.ndarray)) and not isinstance(x, bool):
            return Tensor(x)
        raise TypeError(f"cannot combine a Tensor with {type(x).__name__}")

    @staticmethod
    def _wrap(arr: np.ndarray, label: str = "") -> "Tensor":
        """A leaf around an existing float64 array, without copying it (internal)."""
        t = Tensor.__new__(Tensor)
        Tensor.__init__(t, 0.0, label=label)
        t.data = arr
        return t

    @staticmethod
    def _result(data, parents: tuple, op: str) -> "Tensor":
        """A new node; it records its parents only if grad mode is on and some parent requires grad."""
        out = Tensor._wrap(np.asarray(data, dtype=np.float64))
        out.requires_grad = is_grad_enabled() and any(p.requires_grad for p in parents)
        if out.requires_grad:
            out._prev, out._op = tuple(parents), op
            for p in parents:
                p._uses += 1
        return out

    def _save(self, *items) -> None:
        """Record (tensor, description) pairs whose arrays this node's backward reads."""
        self._saved = tuple((t._version, t._version.value, f"{what} of {self._op!r}", t.shape) for t, what in items)

    def _check_saved(self) -> None:
        for version, expected, what, shape in self._saved:
            if version.value != expected:
                raise RuntimeError(
                    f"one of the arrays needed for gradient computation has been modified by an in-place "
                    f"operation: the array of shape {shape} saved as {what} is at version {version.value}; "
                    f"expected version {expected}. Its backward would read the overwritten values and give a "
                    f"wrong gradient. Compute a new tensor instead (x = x.relu() rather than x.relu_()), or modify "
                    f"it only after backward().")

    # ---------------------------------------------------------------- elementwise arithmetic (broadcasting)
    def __add__(self, other) -> "Tensor":
        other = self._lift(other)
        out = self._result(self.data + other.data, (self, other), "+")

        def _backward(g):
            self.grad += unbroadcast(g, self.shape)
            other.grad += unbroadcast(g, other.shape)

        out._backward = _backward
        return out

    def __sub__(self, other) -> "Tensor":
        other = self._lift(other)
        out = self._result(self.data - other.data, (self, other), "-")

        def _backward(g):
            self.grad += unbroadcast(g, self.shape)
            other.grad += unbroadcast(-g, other.shape)

        out._backward = _backward
        return out

    def __mul__(self, other) -> "Tensor":
        other = self._lift(other)
        out = self._result(self.data * other.data, (self, other), "*")
        out._save((self, "input 0"), (other, "input 1"))

        def _backward(g):
            self.grad += unbroadcast(g * other.data, self.shape)
            other.grad += unbroadcast(g * self.data, other.shape)

        out._backward = _backward
        return out

    def __truediv__(self, other) -> "Tensor":
        other = self._lift(other)
        if np.any(other.data == 0):
            raise ValueError("division by a tensor with a zero entry")
        out = self._result(self.data / other.data, (self, other), "/")
        out._save((self, "input 0"), (other, "input 1"))

        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
        def _backward(g):
            self.grad += unbroadcast(g / other.data, self.shape)
            other.grad += unbroadcast(-g * self.data / other.data**2, other.shape)

        out._backward = _backward
        return out

    def __pow__(self, p) -> "Tensor":
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"the exponent must be a number, got {type(p).__name__}")
        p = float(p)
        if not p.is_integer() and np.any(self.data < 0):
            raise ValueError(f"x ** {p:g} with a negative entry is not real")
        if p < 1 and p != 0 and np.any(self.data == 0):
            raise ValueError(f"x ** {p:g} has an infinite derivative at an entry equal to 0")
        out = self._result(self.data**p, (self,), f"**{p:g}")
        out._save((self, "input 0"))

        def _backward(g):  # d(x^p)/dx = p * x^(p-1)  (0 for p = 0)
            if p != 0:
                self.grad += g * p * self.data ** (p - 1.0)

        out._backward = _backward
        return out

    def __neg__(self) -> "Tensor":
        return self * -1.0

    def __radd__(self, other) -> "Tensor":
        return self + other

    def __rsub__(self, other) -> "Tensor":
        return self._lift(other) - self

    def __rmul__(self, other) -> "Tensor":
        return self * other

    def __rtruediv__(self, other) -> "Tensor":
        return self._lift(other) / self

    # ---------------------------------------------------------------- matrix product
    def __matmul__(self, other) -> "Tensor":
        """(N, D) @ (D, M) -> (N, M); dA = g @ B.T, dB = A.T @ g."""
        other = self._lift(other)
        if self.ndim != 2 or other.ndim != 2 or self.shape[1] != other.shape[0]:
            raise ValueError(f"matmul needs (N, D) @ (D, M), got {self.shape} @ {other.shape}")
        out = self._result(self.data @ other.data, (self, other), "@")
        out._save((self, "input 0"), (other, "input 1"))

        def _backward(g):
            self.grad += g @ other.data.T
            other.grad += self.data.T @ g

        out._backward = _backward
        return out

    def __rmatmul__(self, other) -> "Tensor":
        return self._lift(other) @ self

    @property
    def T(self) -> "Tensor":
        """Transpose of a 2-D tensor (dX = g.T)."""
        if self.ndim != 2:
            raise ValueError(f".T needs a 2-D tensor, got shape {self.shape}")
        out = self._result(self.data.T.copy(), (self,), "T")

        def _backward(g):
            self.grad += g.T

        out._backward = _backward
        return out

    # ---------------------------------------------------------------- elementwise functions
    def relu(self) -> "Tensor":
        """max(x, 0); backward reads the OUTPUT: dx = g * 1[out > 0]."""
        out = self._result(np.maximum(self.data, 0.0), (self,), "relu")
        out._save((out, "output 0"))
        y = out.data

        def _backward(g):
            self.grad += g * (y > 0)

        out._backward = _backward
        return out

    def sigmoid(self) -> "Tensor":
        """1 / (1 + exp(-x)) without overflow; backward reads the OUTPUT: dx = g * s * (1 - s)."""
        out = self._result(np.exp(-np.logaddexp(0.0, -self.data)), (self,), "sigmoid")
        out._save((out, "output 0"))
        s = out.data

        def _backward(g):
            self.grad += g * s * (1.0 - s)

        out._backward = _backward
        return out

    def tanh(self) -> "Tensor":
        """tanh(x); backward reads the OUTPUT: dx = g * (1 - t^2)."""
        out = self._result(np.tanh(self.data), (self,), "tanh")
        out._save((out, "output 0"))
        t = out.data

        def _backward(g):
            self.grad += g * (1.0 - t * t)

        out._backward = _backward
        return out

    def exp(self) -> "Tensor":
        """exp(x); backward reads the OUTPUT: dx = g * exp(x)."""
        with np.errstate(over="raise"):
            try:
                e = np.exp(self.data)
            except FloatingPointError:
                raise ValueError("exp overflows float64 for an entry > ~709") from None
        out = self._result(e, (self,), "exp")
        out._save((out, "output 0"))
        e = out.data

        def _backward(g):
            self.grad += g * e

        out._backward = _backward
        return out

    def log(self) -> "Tensor":
        """log(x) for x > 0; backward reads the INPUT: dx = g / x."""
        if np.any(self.data <= 0):
            raise ValueError("log is only defined for entries > 0")
        out = self._result(np.log(self.data), (self,), "log")
        out._save((self, "input 0"))

        def _backward(g):
            self.grad += g / self.data

        out._backward = _backward
        return out

    # ---------------------------------------------------------------- reductions and shapes
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Sum over ``axis`` (None: all); backward copies g back along the summed axes."""
        out = self._result(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")
        axes = tuple(range(self.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(self.ndim, 1))

        def _backward(g):
            self.grad += g if keepdims else np.expand_dims(g, axes)  # then broadcast along those axes

        out._backward = _backward
        return out

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over ``axis`` (None: all) = sum / count."""
        count = self.data.size if axis is None else int(np.prod([self.shape[a] for a in np.atleast_1d(axis)]))
        if count == 0:
            raise ValueError("mean over an empty axis")
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def reshape(self, *shape) -> "Tensor":
        """Same entries in a new shape (a copy); dx = g reshaped back."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        out = self._result(self.data.reshape(shape).copy(), (self,), "reshape")

        def _backward(g):
            self.grad += g.reshape(self.shape)

        out._backward = _backward
        return out

    def __getitem__(self, idx) -> "Tensor":
        """Row lookup (an embedding): ``W[idx]`` for an integer array idx of any shape I -> I + W.shape[1:].

        Backward is a scatter-add (``np.add.at``): a row looked up k times receives k contributions.
        """
        ids = np.asarray(idx)
        if ids.dtype.kind not in "iu" or self.ndim < 1:
            raise TypeError("Tensor indexing supports only integer row ids (an embedding lookup), "
                            f"got {type(idx).__name__} with dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.shape[0]):
            raise IndexError(f"row ids must be in [0, {self.shape[0]}), got range [{ids.min()}, {ids.max()}]")
        ids = ids.astype(np.int64, copy=True)
        out = self._result(self.data[ids], (self,), "lookup")

        def _backward(g):
            np.add.at(self.grad, ids, g)

        out._backward = _backward
        return out

    # ---------------------------------------------------------------- stop-gradient
    def detach(self) -> "Tensor":
        """A new leaf with requires_grad=False sharing this tensor's data and version counter.

        Nothing flows back through it: using ``x.detach()`` in place of ``x`` makes that use a constant
        (stop-gradient). Like PyTorch, the array is shared, so an in-place change of either is seen by both.
        """
        out = Tensor._wrap(self.data, label=self.label)
        out._version = self._version
        return out

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``, as PyTorch's set_to_none)."""
        self.grad = None

    # ---------------------------------------------------------------- in-place operations
    def _inplace_begin(self, op: str) -> "Tensor | None":
        """Check that an in-place op is allowed; return the node that keeps self's old history, or None."""
        if not (is_grad_enabled() and self.requires_grad):
            return None  # nothing to record; the version bump still lets backward() detect the change
        if self.is_leaf:
            raise RuntimeError(f"{op}: a leaf Tensor that requires grad is being used in an in-place operation; "
                               "update parameters inside `with no_grad():`")
        if self._uses:
            raise RuntimeError(f"{op}: this tensor is already an input of {self._uses} recorded operation(s); "
                               "this engine does not re-route their gradients through an in-place change. "
                               "Compute a new tensor instead.")
        old = Tensor._wrap(self.data, label=self.label)  # takes over self's history; shares the array
        old.requires_grad, old._version = True, self._version
        old._prev, old._op, old._backward, old._saved = self._prev, self._op, self._backward, self._saved
        old._uses, old._freed = 1, self._freed
        self._prev, self._op, self._backward, self._saved, self._freed = (old,), op, None, (), False
        return old

    def relu_(self) -> "Tensor":
        """In-place max(x, 0). Its backward reads the output, so it never needs the overwritten input."""
        old = self._inplace_begin("relu_")
        np.maximum(self.data, 0.0, out=self.data)
        self._version.value += 1
        if old is not None:
            self._save((self, "output 0"))
            y = self.data

            def _backward(g):
                old.grad += g * (y > 0)

            self._backward = _backward
        return self

    def add_(self, other) -> "Tensor":
        """In-place x += other (other a number or array broadcast to x's shape; a constant)."""
        return self._inplace_arith("add_", other, lambda d, c: np.add(d, c, out=d), lambda g, c: g)

    def sub_(self, other) -> "Tensor":
        """In-place x -= other (other a number or array broadcast to x's shape; a constant)."""
        return self._inplace_arith("sub_", other, lambda d, c: np.subtract(d, c, out=d), lambda g, c: g)

    def mul_(self, other) -> "Tensor":
        """In-place x *= other (other a number or array broadcast to x's shape; a constant)."""
        return self._inplace_arith("mul_", other, lambda d, c: np.multiply(d, c, out=d), lambda g, c: g * c)

    def _inplace_arith(self, op: str, other, apply, local) -> "Tensor":
        if isinstance(other, Tensor):
            if other.requires_grad and is_grad_enabled():
                raise TypeError(f"{op}: the argument must be a constant (a number, an array, or a tensor that "
                                "does not require grad, e.g. under no_grad())")
            other = other.data
        if isinstance(other, bool) or not isinstance(other, (numbers.Real, np.ndarray)):
            raise TypeError(f"{op}: expected a number or an array, got {type(other).__name__}")
        c = np.array(other, dtype=np.float64)  # a private copy
        if not broadcasts_to(c.shape, self.shape):
            raise ValueError(f"{op}: an array of shape {c.shape} cannot be broadcast to this tensor's {self.shape}")
        old = self._inplace_begin(op)
        apply(self.data, c)
        self._version.value += 1
        if old is not None:
            def _backward(g):
                old.grad += local(g, c)

            self._backward = _backward
        return self

    # ---------------------------------------------------------------- backpropagation
    def backward(self, grad=None, *, retain_graph: bool = False, check_versions: bool = True) -> None:
        """Accumulate d(self)/d(leaf) into the .grad of every leaf that requires grad.

        Args:
            grad: the upstream gradient, shaped like self; may be omitted only for a one-element tensor
                (then it is 1).
            retain_graph: keep the backward rules so that backward() can run through this graph again.
            check_versions: raise if an array a backward rule reads was modified in place since it was
                saved (turn off only to measure the resulting wrong gradient).

        Leaves that require grad ADD this pass's gradient to what their .grad already holds. Non-leaf nodes
        get this pass's gradient only. Constants (requires_grad=False) keep grad None.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad (no leaf it depends on has "
                               "requires_grad=True, or it was computed under no_grad()/detach())")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a one-element tensor, got shape "
                                   f"{self.shape}; pass grad= of that shape")
            seed = np.ones(self.shape)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=np.float64)
            if seed.shape != self.shape:
                raise ValueError(f"grad must have shape {self.shape}, got {seed.shape}")
        order = topological_order(self)
        for node in order:
            if node._freed:
                raise RuntimeError("Trying to backward through the graph a second time: the first backward() "
                                   "freed it. Pass retain_graph=True to the first backward() if you need a second.")
        if check_versions:
            for node in order:
                node._check_saved()
        for node in order:
            keep = node.is_leaf and node.requires_grad and node.grad is not None
            node.grad = node.grad if keep else np.zeros(node.shape)
        self.grad += seed
        for node in reversed(order):
            if node._backward is not None:
                node._backward(node.grad)
        for node in order:
            if not node.requires_grad:
                node.grad = None
            elif not retain_graph and not node.is_leaf:
                node._backward, node._saved, node._freed = None, (), True


def topological_order(root: Tensor) -> list:
    """All tensors reachable from ``root``, each once, inputs before the nodes computed from them (root last).

    Iterative depth-first search (no recursion limit), as in reverse.topological_order.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"topological_order expects a Tensor, got {type(root).__name__}")
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for child in node._prev:
            if id(child) not in visited:
                stack.append((child, False))
    return order


# --------------------------------------------------------------------------- losses and training helpers
def cross_entropy(logits: Tensor, y) -> Tensor:
    """Mean softmax cross-entropy of (N, C) logits against (N,) integer labels, as one graph node.

    loss = mean_i (logsumexp(logits_i) - logits_i[y_i]); the backward adds g * (softmax - onehot(y)) / N.
    """
    logits = Tensor._lift(logits)
    loss, dlogits = losses.softmax_cross_entropy(logits.data, y)  # validates shapes and labels
    out = Tensor._result(loss, (logits,), "cross_entropy")

    def _backward(g):
        logits.grad += g * dlogits

    out._backward = _backward
    return out


def zero_grad(params) -> None:
    """``p.zero_grad()`` for every tensor in ``params`` (a dict of tensors or an iterable of them)."""
    for p in (params.values() if isinstance(params, dict) else params):
        p.zero_grad()


def sgd_step(params, lr: float) -> None:
    """``p -= lr * p.grad`` in place for every parameter with a gradient, inside no_grad().

    The in-place update bumps each parameter's version: a graph built before the step and not yet
    backpropagated now refuses to run (its matmul saved the old weights).
    """
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    with no_grad():
        for p in (params.values() if isinstance(params, dict) else params):
            if p.grad is not None:
                p.sub_(lr * p.grad)


# --------------------------------------------------------------------------- in-place demonstration
def _demo_run(scenario: str, X, W1, W2, inplace: bool):
    """One forward/backward of a small two-layer graph; returns (error message or None, {"W1": ..., "W2": ...})."""
    x = Tensor(X)
    w1, w2 = Tensor(W1, requires_grad=True, label="W1"), Tensor(W2, requires_grad=True, label="W2")
    if scenario == "relu_after_matmul":
        h = x @ w1
        h = h.relu_() if inplace else h.relu()
        loss = ((h @ w2) ** 2).sum()
    elif scenario == "sigmoid_output":
        s = (x @ w1).sigmoid()
        s = s.mul_(2.0) if inplace else s * 2.0
        loss = ((s @ w2) ** 2).sum()
    else:  # "matmul_input": x is saved by x @ w1 (dW1 = x.T @ g), then centred in place
        loss = (((x @ w1).tanh() @ w2) ** 2).sum()
        if inplace:
            x.sub_(x.data.mean(axis=0))
    error = None
    if inplace:
        try:
            loss.backward(retain_graph=True)
        except RuntimeError as exc:
            error = str(exc)
            loss.backward(check_versions=False)
    else:
        loss.backward()
    return error, {"W1": w1.grad, "W2": w2.grad}


def inplace_demo(rng: np.random.Generator) -> dict:
    """Three in-place changes in a small network, each compared with the same network written out of place.

    Graph: x (4, 3) constant, W1 (3, 5), W2 (5, 2) leaves; loss = sum((a @ W2)^2) with a from:
        "relu_after_matmul": a = relu_(x @ W1)         fine: relu's backward reads its output and the
                                                        matmul saved x and W1, not its output
        "sigmoid_output":    a = sigmoid(x @ W1).mul_(2) refused: sigmoid's backward reads s, now 2s
        "matmul_input":      a = tanh(x @ W1), then x -= mean(x) in place  refused: dW1 = x.T @ g needs the old x

    Returns:
        {scenario: {"error": the RuntimeError message (None if backward was allowed),
                    "grads": {"W1", "W2"} from the in-place version (computed with check_versions=False
                             when refused, i.e. what an engine without the check would return),
                    "reference": {"W1", "W2"} from the out-of-place version,
                    "rel_error": max over W1, W2 of the relative error between the two}}
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")
    X, W1, W2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    X = X + np.array([1.0, -2.0, 0.5])  # columns with nonzero means, so centring x changes it
    out = {}
    for scenario in ("relu_after_matmul", "sigmoid_output", "matmul_input"):
        error, grads = _demo_run(scenario, X, W1, W2, inplace=True)
        _, reference = _demo_run(scenario, X, W1, W2, inplace=False)
        rel = max(float(np.max(np.abs(grads[k] - reference[k]))
                        / max(1e-8, float(np.max(np.abs(grads[k]) + np.abs(reference[k]))))) for k in grads)
        out[scenario] = {"error": error, "grads": grads, "reference": reference, "rel_error": rel}
    return out
