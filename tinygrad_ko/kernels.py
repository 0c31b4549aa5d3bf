"""NumPy kernels: the forwards of the derivative table that are more than one NumPy call.

Each computes exactly what a plain NumPy expression does (named in its docstring) but faster or
without overflow, and ``tests/test_kernels.py`` checks each against that expression. The table
(``ops``) calls them by name, so that a row still reads as the mathematics. They take and return
arrays only: no Tensor reaches a kernel.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−x) without overflow for any x: as e^−|x| in (0, 1]."""
    a = np.abs(x)
    # e^-a, set to 0 where it would underflow (the result is then 0 or 1); written "not
    # a >= limit" so that NaN goes through exp and stays NaN
    e = np.exp(-a, out=np.zeros_like(a), where=~(a >= -np.log(np.finfo(a.dtype).tiny)))
    return np.where(x >= 0, 1, e) / (1 + e)


def cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x.astype(dtype)`` for a float dtype: an integer result has no gradient, so the table's
    cast refuses one (``Tensor.astype`` makes those without recording)."""
    if dtype.kind != "f":
        raise TypeError(f"astype: a recorded cast must be to a float dtype, got {dtype}")
    return x.astype(dtype)


# ---- reductions: ``ufunc.reduce`` is np.sum / np.max / np.min without their Python wrappers ----


def sum(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """``np.sum(x, axis, keepdims=keepdims)``."""
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def mean(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """``np.mean(x, axis, keepdims=keepdims)``: the sum over ``count(x, axis)`` elements."""
    return np.add.reduce(x, axis=axis, keepdims=keepdims) / count(x, axis)


def count(x: Any, axis: tuple | None) -> int:
    """How many elements of ``x`` (an array, a Tensor, a list or a number) each result of a
    reduction over ``axis`` summarizes."""
    try:
        shape = x.shape
    except AttributeError:  # a list or a number
        shape = np.shape(x)
    return math.prod(shape) if axis is None else math.prod(shape[a] for a in axis)


def max(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """``np.max(x, axis, keepdims=keepdims)``. NumPy reduces many short rows one at a time; over
    the short last axis of a matrix (class scores: softmax, cross entropy) it is several times
    faster to take the elementwise maximum of the columns, the rows of the transposed copy."""
    if type(x) is np.ndarray and x.ndim == 2 and axis == (1,) and 1 < x.shape[1] <= 32:
        m = x.T.copy().max(axis=0)
        return m[:, None] if keepdims else m
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def min(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """``np.min(x, axis, keepdims=keepdims)``."""
    return np.minimum.reduce(x, axis=axis, keepdims=keepdims)


def logsumexp(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """``log(sum(exp(x), axis))`` without overflow: log Σ exp(x − m) + m with m the maximum. A
    row of −inf gives −inf (log 0), a row with +inf gives +inf, never inf − inf."""
    # (an empty axis gives -inf)
    m = max(x, axis, True) if x.size else np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    if math.isfinite(m.sum()):  # the common case, checked at once: every maximum is finite
        out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    else:
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# ---- softmax cross entropy, the forwards of the fused rows ---------------------------------------


def batch_size(z: Any) -> int:
    """N: the size of the first axis when z has two or more dimensions, else 1 (one sample)."""
    return z.shape[0] if z.ndim >= 2 else 1


def softmax_cross_entropy(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``-(t * log_softmax(z)).sum() / N`` over the last axis, with 0 · log 0 taken as 0: a
    class with target 0 adds nothing, even with logit −inf."""
    log_p = z - logsumexp(z, (z.ndim - 1,), True)
    terms = np.multiply(t, log_p, out=np.zeros(np.broadcast_shapes(np.shape(t), log_p.shape),
                                                 log_p.dtype), where=np.not_equal(t, 0))
    return -terms.sum() / batch_size(z)


def softmax_cross_entropy_labels(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The same with integer labels: −(1/N) Σ log softmax(z)[n, labels[n]], where
    log softmax(z)[n, k] = z[n, k] − logsumexp(z[n]); no log-softmax array is made."""
    return (logsumexp(z, (z.ndim - 1,), False) - pick(z, labels)).sum() / batch_size(z)


def pick(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's entry at its label: ``x[n, labels[n]]`` (``x[labels]`` for one row). A label
    out of range raises, a negative one included (NumPy would count it from the end)."""
    classes = x.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)].flat[0]
        raise ValueError(f"label {int(bad)} is out of range for {classes} classes")
    return x[labels] if x.ndim == 1 else x[np.arange(x.shape[0]), labels]


def one_hot(labels: np.ndarray, shape: tuple, dtype: Any) -> np.ndarray:
    """Zeros of ``shape`` with a 1 at each row's label (``np.eye(C)[labels]``)."""
    out = np.zeros(shape, dtype)
    out[(labels,) if len(shape) == 1 else (np.arange(shape[0]), labels)] = 1
    return out


# ---- shape ---------------------------------------------------------------------------------------


def broadcast_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    """``np.broadcast_to(x, shape)``: a read-only view. For one element (the gradient of a sum
    over every axis, the most common case) the view is made directly, ten times faster."""
    if type(x) is np.ndarray and x.size == 1 and type(shape) is tuple \
            and x.ndim <= len(shape) and builtins.min(shape, default=0) >= 0:
        view = np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))
        view.flags.writeable = False
        return view
    return np.broadcast_to(x, shape)


def scatter(g: np.ndarray, index: Any, shape: tuple) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index``; a repeated index accumulates
    (``np.add.at``; basic indexing, which repeats nothing, is a plain assignment)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    if is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def is_basic(index: Any) -> bool:
    """Whether ``index`` is basic indexing (ints, slices, None, ...): no element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, np.ndarray) for i in items)


# ---- windows of an image (convolution and pooling) -----------------------------------------------


def im2col(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple,
           fill: float = 0.0) -> np.ndarray:
    """The windows of x (N, C, H, W) as rows: (N·OH·OW, C·KH·KW), rows in the order (n, oh, ow)
    and columns (c, kh, kw), as the book's ``im2col``. x is first padded with ``fill`` on every
    side (0 for convolution and average pooling, −inf for max pooling). As the book, one slice
    per position in the window, but with the channels last (x copied once into a padded
    (N, H + 2·PH, W + 2·PW, C) array), so that each slice lands in the rows' own layout: no
    transposing copy at the end."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    padded = np.full((n, h + 2 * ph, w + 2 * pw, c), fill, dtype=x.dtype)  # channels last
    padded[:, ph : ph + h, pw : pw + w] = x.transpose(0, 2, 3, 1)
    cols = np.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[..., i, j] = padded[:, i : i + sh * oh : sh, j : j + sw * ow : sw]
    return cols.reshape(n * oh * ow, c * kh * kw)


def col2im(cols: np.ndarray, shape: tuple, kernel: tuple, stride: tuple,
           padding: tuple) -> np.ndarray:
    """The adjoint of ``im2col``: each row's window added back where it came from, into an array
    of ``shape`` (N, C, H, W). Overlapping windows add up; the padding is cut off."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    windows = cols.reshape(n, oh, ow, c, kh, kw)
    out = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)  # channels last
    for i in range(kh):  # one slice per position in the window: KH·KW array additions
        for j in range(kw):
            out[:, i : i + sh * oh : sh, j : j + sw * ow : sw] += windows[..., i, j]
    return np.ascontiguousarray(out[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2))


# ---- randomness ----------------------------------------------------------------------------------


def dropout_mask(x: np.ndarray, p: float, rng: Any) -> np.ndarray:
    """Inverted dropout's mask for x: each entry 0 with probability p, else 1 / (1 − p), in x's
    dtype. ``rng``: a ``numpy.random.Generator`` (drawn from), a seed (the same mask each call) or
    None (fresh entropy)."""
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    keep = generator.random(x.shape) >= p
    return keep.astype(x.dtype) / x.dtype.type(1 - p)
