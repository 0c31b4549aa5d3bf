"""Functions composed from the primitives of ``ops``: no backward code lives here.

Their gradients come from the chain rule over the primitives they call, so a function here is
correct as soon as its forward is. This module also turns the arguments users write (an int or a
tuple axis, negative axes, ``reshape(2, 3)`` or ``reshape((2, 3))``) into the normalized
parameters the primitives take, and names the function and the shape in every error.

Like the primitives, each function accepts Tensors (and records the graph) or plain arrays (and
is plain NumPy).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_ko import mode, ops
from tinygrad_ko.engine import write_in_place
from tinygrad_ko.kernels import count
from tinygrad_ko.tensor import Tensor

Axis = int | Sequence[int] | None


def _axis(axis: int, ndim: int, name: str, shape: tuple) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: axis must be an int, got {axis!r} (tensor of shape {shape})")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(
            f"{name}: axis {axis} is out of bounds for a tensor of shape {shape}"
        )
    return int(axis) % ndim


def _axes(axis: Axis, x: Any, name: str) -> tuple[int, ...] | None:
    """``axis`` (None, an int or a sequence of ints) as None or a sorted tuple of axes >= 0."""
    if axis is None:
        return None
    shape = np.shape(x)
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(sorted(_axis(a, len(shape), name, shape) for a in items))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axis in {axis!r} (tensor of shape {shape})")
    return axes


def _shape_arg(shape: tuple) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


# ---- reductions ----------------------------------------------------------------------------------


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Σ over ``axis`` (all axes when None)."""
    return ops.sum(x, _axes(axis, x, "sum"), keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """(1/n) Σ over ``axis``, n the number of elements summed."""
    return ops.mean(x, _axes(axis, x, "mean"), keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Largest element over ``axis``; tied maxima share the gradient evenly."""
    return ops.max(x, _axes(axis, x, "max"), keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Smallest element over ``axis``; tied minima share the gradient evenly."""
    return ops.min(x, _axes(axis, x, "min"), keepdims)


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance Σ (x − mean)² / (n − ddof) over ``axis``, as ``np.var`` (``ddof=0`` by default)."""
    axes = _axes(axis, x, "var")
    deviation = x - ops.mean(x, axes, True)
    return ops.sum(ops.square(deviation), axes, keepdims) / (count(x, axes) - ddof)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """log Σ exp(x) over ``axis``, computed without overflow; its gradient is softmax(x)."""
    return ops.logsumexp(x, _axes(axis, x, "logsumexp"), keepdims)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / Σ exp(x) along ``axis``, computed as exp(x − logsumexp(x)): stable for any x."""
    return ops.exp(_log_softmax(x, axis, "softmax"))


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along ``axis``: the log of softmax without forming softmax."""
    return _log_softmax(x, axis, "log_softmax")


def _log_softmax(x: Any, axis: int, name: str) -> Any:
    return x - ops.logsumexp(x, _axes(axis, x, name), True)


# ---- shape ---------------------------------------------------------------------------------------


def reshape(x: Any, *shape: Any) -> Any:
    """The same elements in a new shape (one dimension may be -1): ``reshape(x, 2, 3)``."""
    return ops.reshape(x, tuple(int(n) for n in _shape_arg(shape)))


def transpose(x: Any, *axes: Any) -> Any:
    """Permute the axes (reverse them when none are given), as ``np.transpose``."""
    shape = np.shape(x)
    axes = _shape_arg(axes)
    if axes in ((), (None,)):
        axes = tuple(reversed(range(len(shape))))
    perm = tuple(_axis(a, len(shape), "transpose", shape) for a in axes)
    if sorted(perm) != list(range(len(shape))):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the axes of shape {shape}"
        )
    return ops.transpose(x, perm)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """Exchange two axes."""
    shape = np.shape(x)
    a, b = (_axis(n, len(shape), "swapaxes", shape) for n in (axis1, axis2))
    perm = list(range(len(shape)))
    perm[a], perm[b] = perm[b], perm[a]
    return ops.transpose(x, tuple(perm))


def squeeze(x: Any, axis: Axis = None) -> Any:
    """Remove axes of length one (all of them when ``axis`` is None)."""
    shape = np.shape(x)
    axes = _axes(axis, x, "squeeze")
    if axes is None:
        axes = tuple(i for i, n in enumerate(shape) if n == 1)
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {shape} has length {shape[a]}, not 1")
    return ops.reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def expand_dims(x: Any, axis: int | Sequence[int]) -> Any:
    """Insert axes of length one at ``axis`` (positions in the result), as ``np.expand_dims``."""
    shape = np.shape(x)
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    ndim = len(shape) + len(items)
    new = {_axis(a, ndim, "expand_dims", shape) for a in items}
    if len(new) != len(items):
        raise ValueError(f"expand_dims: repeated axis in {axis!r} (tensor of shape {shape})")
    rest = iter(shape)
    return ops.reshape(x, tuple(1 if i in new else next(rest) for i in range(ndim)))


def flatten(x: Any) -> Any:
    """All elements in one axis."""
    return ops.reshape(x, (-1,))


def broadcast_to(x: Any, shape: int | Sequence[int]) -> Any:
    """``x`` repeated along new or length-one axes to ``shape``; its gradient sums back."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    return ops.broadcast_to(x, tuple(int(n) for n in shape))


def concatenate(xs: Sequence[Any], axis: int = 0) -> Any:
    """Join tensors along an existing axis; each gets its slice of the gradient."""
    xs = tuple(xs)
    if not xs:
        raise ValueError("concatenate: needs at least one tensor")
    shape = np.shape(xs[0])
    return ops.concatenate(xs, _axis(axis, builtins.max(len(shape), 1), "concatenate", shape))


def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """Join tensors of one shape along a new axis."""
    xs = tuple(xs)
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    shape = np.shape(xs[0])
    shapes = [np.shape(x) for x in xs]
    if any(s != shape for s in shapes):
        raise ValueError(f"stack: every tensor must have the same shape, got "
                         f"{', '.join(map(str, shapes))}")
    axis = _axis(axis, len(shape) + 1, "stack", shape)
    return concatenate([expand_dims(x, axis) for x in xs], axis)


# ---- indices -------------------------------------------------------------------------------------


def normalize_index(index: Any, shape: tuple, name: str = "getitem") -> Any:
    """An index into an array of ``shape`` as NumPy takes it: Tensors and lists become arrays of
    their own (the graph keeps the index, so a later change to the caller's array must not
    reach it), boolean masks become the integer arrays of their True positions (so that the
    gradient can scatter with them), after NumPy has checked them against ``shape``."""
    items = index if isinstance(index, tuple) else (index,)
    out: list = []
    masked = False
    for item in items:
        if isinstance(item, Tensor):
            mode.refuse_in_trace(f"{name}: an index that is a Tensor", "would be fixed at this "
                                 "call; index with a constant array, or use tg.where or the "
                                 "labels of softmax_cross_entropy")
            item = item.data
        if isinstance(item, list):
            item = np.array(item) if item else np.zeros(0, dtype=np.intp)
        elif isinstance(item, np.ndarray):
            item = item.copy()
        if isinstance(item, np.ndarray) and item.dtype == bool and item.ndim > 0:
            masked = True
            out.extend(np.nonzero(item))
        else:
            out.append(item)
    if masked:  # a mask of the wrong shape is an IndexError in NumPy: index a stand-in
        try:  # (that takes no memory)
            np.broadcast_to(np.empty((), bool), shape)[tuple(
                item.data if isinstance(item, Tensor) else item for item in items)]
        except IndexError as error:
            raise IndexError(f"{name}: {error} (tensor of shape {shape})") from None
    return tuple(out) if isinstance(index, tuple) or len(out) != 1 else out[0]


# ---- elementwise selections ----------------------------------------------------------------------


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Any:
    """``x`` limited to [lo, hi]; the gradient passes where lo <= x <= hi (bounds included)."""
    if lo is None and hi is None:
        raise ValueError("clip: give lo, hi or both")
    return ops.clip(x, lo, hi)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together). The gradient goes to the
    branch taken and zero to the other.

    The derivative of the branch not taken still gets evaluated: ``where(x > 0, log(x), 0)`` at
    x = 0 has log's gradient 1/0 · 0 = nan. Make the untaken branch safe instead:
    ``where(x > 0, log(where(x > 0, x, 1)), 0)``.
    """
    if isinstance(cond, Tensor) and not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)  # a Tensor condition gives a Tensor, even between two constants
    if not isinstance(cond, Tensor):  # (a copy: the caller's array may change later)
        cond = np.array(cond, dtype=bool)
    return ops.select(a, b, cond)


# ---- normalization and regularization ------------------------------------------------------------


def batch_norm(x: Any, gamma: Any, beta: Any, running_mean: Any, running_var: Any,
               training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Any:
    """Batch normalization, as ``torch.nn.functional.batch_norm``, over every axis but 1 of x
    (N, C) or (N, C, H, W): y = γ (x − μ) / √(σ² + eps) + β per channel. When ``training``, μ and
    σ² are the batch's (biased) mean and variance, part of the graph, and the running arrays
    (arrays or Tensors of shape (C,); in a compiled function, Tensors or its arguments) are
    updated in place, outside the graph: r ← (1 − momentum) r + momentum · statistic, with the
    unbiased variance. Otherwise the running statistics are used as constants. Every check comes
    before any change."""
    shape = x.shape if isinstance(x, Tensor) else np.shape(x)
    if len(shape) not in (2, 4):
        raise ValueError(f"batch_norm: the input must be (N, C) or (N, C, H, W), got shape "
                         f"{shape}")
    channels = shape[1]
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        got = tuple(v.shape if isinstance(v, Tensor) else np.shape(v))
        if got != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for an input of "
                             f"shape {shape}, got {got}")
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    view = (1, channels) + (1,) * (len(shape) - 2)
    if training:
        count = int(np.prod([shape[a] for a in axes]))
        if count < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got "
                             f"input shape {shape}")
        if mode.modes.tracer is not None and not (isinstance(running_mean, Tensor)
                                                  and isinstance(running_var, Tensor)):
            raise mode.CompileError(
                "tg.compile: batch_norm in training mode updates its running statistics after "
                "each call: give them as Tensors (as nn.BatchNorm1d/2d keeps them) or as "
                "arguments of the compiled function, not as NumPy arrays it reads from outside")
        mean = ops.mean(x, axes, True)
        centered = x - mean
        var = ops.mean(centered * centered, axes, True)
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var, momentum, count / (count - 1))  # unbiased variance
    else:
        centered = x - ops.reshape(running_mean, view)
        var = ops.reshape(running_var, view)
    return centered / ops.sqrt(var + eps) * ops.reshape(gamma, view) + ops.reshape(beta, view)


def _update_running(running: Any, statistic: Any, momentum: float, scale: float = 1.0) -> None:
    """running ← (1 − momentum) · running + momentum · (scale · statistic), in the running
    array's dtype, in place and outside the graph (``statistic``: a batch's (1, C, ...), dims
    kept). In a function being compiled the trace records it, and the compiled function makes
    the update after each call."""
    with mode.no_grad():
        statistic = ops.reshape(statistic, (statistic.shape[1],)) * scale
        value = (1 - momentum) * running + momentum * statistic
        if value.dtype != running.dtype:  # (what the array will hold: later reads see that)
            value = ops.astype(value, running.dtype)
    if mode.modes.tracer is not None:
        mode.modes.tracer.assign(running, value)
    else:
        write_in_place(running, value)


# ---- regularization ------------------------------------------------------------------------------


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: Any = None) -> Any:
    """Inverted dropout, as PyTorch: when ``training``, each element is zeroed with probability
    ``p`` and the others are scaled by 1 / (1 − p), so that the expected value is unchanged and
    evaluation needs no rescaling (the book's version scales at evaluation instead); the
    identity otherwise. The gradient passes through the same mask. ``rng``: a
    ``numpy.random.Generator``, a seed, or None. The draw is an operation of the graph, so a
    compiled step (``tg.compile``) draws a fresh mask at every call."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    return x * ops.dropout_mask(x, p, rng)
