"""User-defined primitives with hand-written gradients, in the style of ``torch.autograd.Function``.

Subclass ``Function`` and write two static methods: ``forward(ctx, *arrays)`` computes the result
from NumPy arrays and keeps on ``ctx`` whatever the gradient needs; ``backward(ctx, grad)`` returns
one gradient per input (a tuple when there are several, None for an input that needs none).
``MyOp.apply(*tensors)`` runs it and records it in the graph like a built-in operation: the engine
sums broadcast gradients back, casts dtypes and checks shapes for it.

With ``create_graph=True`` ``backward`` receives ``grad`` as a Tensor, and what ``forward`` kept
of its inputs and output (``ctx.save_for_backward(x)`` or ``ctx.x = x``) comes back as those
Tensors: written with operators and NumPy ufuncs, ``backward`` is then recorded and can be
differentiated again. Arrays that ``forward`` computed itself count as constants there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_ko.engine import record
from tinygrad_ko.tensor import Tensor


class Context:
    """What ``forward`` keeps for ``backward``: set any attribute on it.

    ``needs_input_grad`` tells, per input, whether its gradient will be asked for.
    """

    needs_input_grad: tuple[bool, ...]
    saved_tensors: tuple[Any, ...] = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` as ``ctx.saved_tensors`` (for readers used to PyTorch)."""
        self.saved_tensors = arrays


class Function:
    """Base class of a primitive whose gradient the user writes by hand."""

    arity = None  # any number of inputs: the engine always goes through ``vjp``

    @staticmethod
    def forward(ctx: Context, *args: Any) -> Any:
        """The result from the inputs' arrays; keep on ``ctx`` what backward needs."""
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        """One gradient per input (a tuple when there are several) from the upstream ``grad``."""
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and record the result in the graph."""
        ctx = Context()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        y = cls.forward(ctx, *(a.data if isinstance(a, Tensor) else a for a in args))
        array = np.asarray(y)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{cls.__name__}.forward must return a numeric array, got {type(y).__name__}"
            )
        requires_grad = any(ctx.needs_input_grad) and array.dtype.kind == "f"  # not an integer
        return record(cls, array, args, (ctx,), requires_grad)

    @classmethod
    def vjp(cls, g: Any, xs: tuple, y: Any, params: tuple, needs: list[bool]) -> tuple:
        """The engine's entry point: call ``backward`` and check it gave one gradient per input."""
        ctx = params[0]
        if isinstance(g, Tensor):  # a recorded backward pass: see _recording
            ctx = _recording(ctx, xs, y)
        grads = cls.backward(ctx, g)
        if isinstance(grads, list):
            grads = tuple(grads)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(xs):
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(grads)} gradient(s) for {len(xs)} input(s)"
            )
        return grads


def _recording(ctx: Context, inputs: tuple, output: Tensor) -> Context:
    """A copy of ``ctx`` for a recorded backward pass, in which every array that is an input's or
    the output's own data is replaced by that Tensor. ``backward`` then computes with Tensors
    (operators and NumPy ufuncs both record), so its result can be differentiated again. Arrays
    that ``forward`` derived itself stay constants, as in PyTorch."""
    tensors = {id(t.data): t for t in (*inputs, output) if isinstance(t, Tensor)}

    def swap(value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(swap(v) for v in value)
        return tensors.get(id(value), value) if isinstance(value, np.ndarray) else value

    copy = Context()
    copy.__dict__.update({name: swap(value) for name, value in vars(ctx).items()})
    return copy
