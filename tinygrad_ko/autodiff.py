"""Functional autodiff: ``grad``, ``value_and_grad``, ``jacobian`` and ``hessian`` of Python
functions, in the style of JAX.

They take functions of NumPy arrays, Python floats or Tensors and return NumPy arrays. They nest:
called inside another transformation (directly, or through a closure over its variable) or on a
Tensor that requires grad, they record their own backward pass (``create_graph``) and return a
Tensor, so ``grad(grad(f))`` is the second derivative and ``hessian(f)`` is
``jacobian(grad(f))``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from tinygrad_ko import mode, ops
from tinygrad_ko.engine import gradients
from tinygrad_ko.functions import stack
from tinygrad_ko.tensor import Tensor, _check_can_require_grad, record


class _Depth(threading.local):
    value = 0  # how many transformations this thread is inside


_depth = _Depth()


@contextmanager
def _transforming() -> Iterator[None]:
    """Mark that ``f`` runs inside a transformation, so transformations it calls nest."""
    _depth.value += 1
    try:
        with mode.enable_grad():
            yield
    finally:
        _depth.value -= 1


def _variables(args: tuple, argnums: Sequence[int], name: str) -> tuple[list, list, bool]:
    """Replace the arguments at ``argnums`` by tensors to differentiate with respect to.

    Returns the new argument list, those tensors, and whether an enclosing transformation may
    differentiate the result (then the backward pass must itself be recorded): it is running,
    or an argument is already a Tensor that requires grad.
    """
    args_list = list(args)
    xs = []
    tracing = mode.modes.tracer is not None  # (tg.compile: the gradients are traced values)
    nested = _depth.value > 0 or tracing
    for i in argnums:
        if not -len(args) <= i < len(args):
            raise IndexError(f"{name}: argnums {i} is out of range for {len(args)} argument(s)")
        a = args_list[i]
        if isinstance(a, Tensor) and a.requires_grad:
            # Differentiate with respect to a new node standing for this argument, not the
            # Tensor itself: f may also use that Tensor elsewhere (a closure), and the result
            # must be the partial derivative in the argument.
            nested = True
            x = ops.identity(a)
        elif isinstance(a, Tensor) and tracing:  # a node, so that the trace sees a's values
            _check_can_require_grad(a.data.dtype)
            x = record(ops.identity, np.positive(a.data), (a,), (), True)
        else:
            array = a.data if isinstance(a, Tensor) else a
            x = Tensor(array)
            x.requires_grad = True
        args_list[i] = x
        xs.append(x)
    return args_list, xs, nested


def _argnums(argnums: int | Sequence[int]) -> tuple[int, ...]:
    nums = (int(argnums),) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"grad: repeated argnums {argnums!r}")
    return nums


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """A function that returns ``(f(*args), df/d args[argnums])``. ``f`` must return one element;
    the gradient has the argument's shape (a tuple of them when ``argnums`` is a tuple)."""
    nums = _argnums(argnums)

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        args_list, xs, nested = _variables(args, nums, "grad")
        with _transforming():
            out = f(*args_list, **kwargs)
        if not isinstance(out, Tensor):
            out = Tensor(out)
        if out.size != 1:
            raise ValueError(
                f"grad: f must return one element, got shape {out.shape}; use jacobian for more"
            )
        grads = gradients(out, xs, create_graph=nested)
        value = out if nested else out.data
        return value, (grads[0] if isinstance(argnums, (int, np.integer)) else tuple(grads))

    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """A function that returns df/d args[argnums] (see ``value_and_grad``). Nestable:
    ``grad(grad(f))`` is the second derivative."""
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_f(*args, **kwargs)[1]

    return grad_f


def jacobian(f: Callable, argnums: int = 0) -> Callable:
    """A function that returns the Jacobian of ``f`` at a point, of shape
    ``f(x).shape + x.shape``, one backward pass per element of ``f(x)``."""

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        args_list, (x,), nested = _variables(args, (argnums,), "jacobian")
        with _transforming():
            out = f(*args_list, **kwargs)
        if not isinstance(out, Tensor):
            out = Tensor(out)
        rows = []
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = 1
            (row,) = gradients(out, [x], seed.reshape(out.shape),
                               retain_graph=nested or k < out.size - 1, create_graph=nested)
            rows.append(row)
        shape = out.shape + x.shape
        if not rows:
            return np.zeros(shape, dtype=x.dtype)
        return stack(rows).reshape(shape) if nested else np.stack(rows).reshape(shape)

    return jacobian_f


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """A function that returns the Hessian of scalar ``f`` at a point, of shape
    ``x.shape + x.shape``: the Jacobian of its gradient."""
    return jacobian(grad(f, argnums), argnums)
