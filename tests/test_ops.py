"""Every differentiable operation, checked the same three ways.

``CASES`` is the test database: one entry per operation with its NumPy reference, how to draw
its inputs (the domain: positive for log, away from kinks for relu and abs, distinct values for
max) and, for the elementwise ones, the hand-derived derivative. The property tests below run
over every entry; ``test_every_primitive_has_a_case`` makes adding an operation without a case
impossible.

For each case and each Hypothesis example: the forward matches NumPy; the gradient under a random
upstream gradient matches central finite differences in float64; elementwise gradients match
the hand formula; second derivatives (the backward pass recorded with ``create_graph``) match
finite differences of the gradient; float32 stays float32; inputs are not mutated and gradients
do not alias each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from helpers import sum_to
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ko as tg
from tinygrad_ko import ops
from tinygrad_ko.engine import gradients
from tinygrad_ko.testing import numerical_grad
from tinygrad_ko.testing.strategies import (
    arrays,
    broadcastable_shapes,
    labels,
    probabilities,
    shapes,
)


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]  # the tinygrad_ko operation: Tensors (and parameters) -> Tensor
    reference: Callable[..., np.ndarray]  # the same in plain NumPy
    draw: Callable[[Any], tuple[list[np.ndarray], dict]]  # data -> (operands, parameters)
    derivative: Callable[..., tuple] | None = None  # hand-derived elementwise d/d operand
    covers: tuple[str, ...] = ()  # other primitives this case exercises
    smooth: bool = True  # whether finite differences of the gradient are meaningful
    notes: list[str] = field(default_factory=list)


# ---- how operands are drawn ----------------------------------------------------------------------


def unary(lo: float = -3.0, hi: float = 3.0, avoid: tuple = (), unique: bool = False,
          min_dims: int = 0) -> Callable:
    def draw(data: Any) -> tuple[list, dict]:
        shape = data.draw(shapes(min_dims=min_dims))
        return [data.draw(arrays(shape, lo, hi, avoid=avoid, unique=unique))], {}
    return draw


def binary(a: tuple = (-3.0, 3.0), b: tuple = (-3.0, 3.0), separated: bool = False,
           avoid_b: tuple = ()) -> Callable:
    def draw(data: Any) -> tuple[list, dict]:
        sa, sb = data.draw(broadcastable_shapes(2))
        x = data.draw(arrays(sa, *a))
        y = data.draw(arrays(sb, *b, avoid=avoid_b, gap=0.3))
        if separated:  # no ties between the operands: maximum/minimum have a kink there
            assume(np.all(np.abs(np.subtract(x, y)) > 1e-3))
        return [x, y], {}
    return draw


def axis_strategy(ndim: int) -> st.SearchStrategy:
    if ndim == 0:
        return st.none()
    single = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return st.one_of(st.none(), single, several)


def reduction(unique: bool = False, lo: float = -3.0, hi: float = 3.0,
              extra: Callable | None = None) -> Callable:
    def draw(data: Any) -> tuple[list, dict]:
        shape = data.draw(shapes())
        x = data.draw(arrays(shape, lo, hi, unique=unique))
        params = {"axis": data.draw(axis_strategy(len(shape))),
                  "keepdims": data.draw(st.booleans())}
        if extra:
            params.update(extra(data, shape, params))
        return [x], params
    return draw


def along_axis(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape, -5, 5))
    return [x], {"axis": data.draw(st.integers(-len(shape), len(shape) - 1))}


def numpy_axis(params: dict) -> dict:
    return {"axis": params["axis"], "keepdims": params["keepdims"]}


# ---- shape operations ----------------------------------------------------------------------------


def draw_reshape(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes())
    size = math.prod(shape)
    target = data.draw(st.sampled_from([(size,), tuple(reversed(shape)), (1, *shape), (-1,),
                                        (size, 1)]))
    return [data.draw(arrays(shape))], {"shape": target}


def draw_transpose(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes())
    axes = data.draw(st.permutations(range(len(shape))))
    return [data.draw(arrays(shape))], {"axes": tuple(axes)}


def draw_swapaxes(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(min_dims=1))
    a, b = (data.draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(2))
    return [data.draw(arrays(shape))], {"axis1": a, "axis2": b}


def draw_squeeze(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(min_side=1, max_side=2))
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = data.draw(st.one_of(st.none(), st.sampled_from(ones))) if ones else None
    return [data.draw(arrays(shape))], {"axis": axis}


def draw_expand_dims(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(max_dims=3))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    return [data.draw(arrays(shape))], {"axis": axis}


def draw_broadcast_to(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(max_dims=3, max_side=3))
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    grown = [data.draw(st.integers(1, 3)) if n == 1 else n for n in shape]
    return [data.draw(arrays(shape))], {"shape": (*lead, *grown)}


def draw_getitem(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    index = data.draw(st.one_of(
        hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True),
        hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2, max_side=6)),
        hnp.arrays(bool, shape),
        st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6),  # repeats
    ))
    return [x], {"index": index}


def draw_concatenate(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.integers(1, 3))
    parts = []
    for _ in range(n):
        part = list(shape)
        part[axis] = data.draw(st.integers(1, 3))
        parts.append(data.draw(arrays(tuple(part))))
    return parts, {"axis": axis}


def draw_stack(data: Any) -> tuple[list, dict]:
    shape = data.draw(shapes(max_dims=3))
    n = data.draw(st.integers(1, 3))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    return [data.draw(arrays(shape)) for _ in range(n)], {"axis": axis}


def draw_matmul(data: Any) -> tuple[list, dict]:
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = data.draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    left = data.draw(st.sampled_from(["vector", "matrix"]))
    right = data.draw(st.sampled_from(["vector", "matrix"]))
    sa = (k,) if left == "vector" else (*batch_a, n, k)
    sb = (k,) if right == "vector" else (*batch_b, k, m)
    return [data.draw(arrays(sa)), data.draw(arrays(sb))], {}


def draw_where(data: Any) -> tuple[list, dict]:
    sc, sa, sb = data.draw(broadcastable_shapes(3))
    return [data.draw(arrays(sa)), data.draw(arrays(sb))], {"cond": data.draw(hnp.arrays(bool, sc))}


def draw_clip(data: Any) -> tuple[list, dict]:
    x = data.draw(arrays(shapes(), -3, 3, avoid=(-1.0, 1.5)))
    lo, hi = data.draw(st.sampled_from([(-1.0, 1.5), (None, 1.5), (-1.0, None)]))
    return [x], {"lo": lo, "hi": hi}


def draw_var(data: Any, shape: tuple, params: dict) -> dict:
    axes = params["axis"]
    n = math.prod(shape) if axes is None else math.prod(
        shape[a] for a in ((axes,) if isinstance(axes, int) else axes))
    return {"ddof": data.draw(st.integers(0, 1)) if n > 1 else 0}


def draw_softmax_cross_entropy(data: Any) -> tuple[list, dict]:
    batch = data.draw(st.one_of(st.none(), st.integers(1, 4)))
    classes = data.draw(st.integers(2, 5))
    shape = (classes,) if batch is None else (batch, classes)
    return [data.draw(arrays(shape, -5, 5)), data.draw(probabilities(batch, classes))], {}


def draw_softmax_cross_entropy_labels(data: Any) -> tuple[list, dict]:
    batch = data.draw(st.integers(1, 4))
    classes = data.draw(st.integers(2, 5))
    return [data.draw(arrays((batch, classes), -5, 5))], {"labels": data.draw(labels(batch,
                                                                                     classes))}


def draw_pick(data: Any) -> tuple[list, dict]:
    batch = data.draw(st.one_of(st.none(), st.integers(1, 4)))
    classes = data.draw(st.integers(1, 5))
    shape = (classes,) if batch is None else (batch, classes)
    picked = data.draw(labels(1 if batch is None else batch, classes))
    return [data.draw(arrays(shape))], {"labels": picked[0] if batch is None else picked}


def np_pick(x: np.ndarray, labels: Any) -> np.ndarray:
    """Each row's entry at its label, one row at a time."""
    if x.ndim == 1:
        return x[int(labels)]
    return np.array([row[label] for row, label in zip(x, labels)])


# ---- windows of an image: references written from the book's formulas, one window at a time ----


def _window_shapes(data: Any, pooling: bool = False) -> tuple[tuple, dict]:
    """A small NCHW input shape and its kernel_size, stride and padding (for pooling, padding
    at most half the kernel)."""
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    stride = data.draw(st.sampled_from([1, 2, (1, 2)]))
    padding = data.draw(st.sampled_from([0, 1, (1, 0)]))
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    if pooling:
        assume(ph <= kh // 2 and pw <= kw // 2)
    h = data.draw(st.integers(max(1, kh - 2 * ph), 4))
    w = data.draw(st.integers(max(1, kw - 2 * pw), 4))
    return (n, c, h, w), {"kernel_size": (kh, kw), "stride": stride, "padding": padding}


def _pairs(p: dict) -> tuple:
    def pair(v: Any) -> tuple:
        return (v, v) if isinstance(v, int) else tuple(v)
    return pair(p["kernel_size"]), pair(p["stride"]), pair(p["padding"])


def np_windows(x: np.ndarray, fill: float = 0.0, **p: Any) -> np.ndarray:
    """(N, OH, OW, C, KH, KW): x padded with ``fill``, window by window, with loops."""
    (kh, kw), (sh, sw), (ph, pw) = _pairs(p)
    n, c, h, w = x.shape
    padded = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
    return out


def np_im2col(x: np.ndarray, **p: Any) -> np.ndarray:
    windows = np_windows(x, **p)
    return windows.reshape(np.prod(windows.shape[:3]), -1)


def draw_im2col(data: Any) -> tuple[list, dict]:
    shape, p = _window_shapes(data)
    return [data.draw(arrays(shape))], p


def np_col2im(cols: np.ndarray, input_shape: tuple, **p: Any) -> np.ndarray:
    """Each row's window added back into a zero image, one window at a time."""
    (kh, kw), (sh, sw), (ph, pw) = _pairs(p)
    n, c, h, w = input_shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    windows = cols.reshape(n, oh, ow, c, kh, kw)
    for i in range(oh):
        for j in range(ow):
            padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += windows[:, i, j]
    return padded[:, :, ph : ph + h, pw : pw + w]


def draw_col2im(data: Any) -> tuple[list, dict]:
    shape, p = _window_shapes(data)
    rows = np_im2col(np.zeros(shape), **p).shape
    return [data.draw(arrays(rows))], {"input_shape": shape, **p}


def np_conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, **p: Any) -> np.ndarray:
    """y[n, f, i, j] = Σ x_padded[n, :, window i j] · W[f] + b[f]."""
    windows = np_windows(x, kernel_size=weight.shape[2:], **p)  # (N, OH, OW, C, KH, KW)
    return np.einsum("nijckl,fckl->nfij", windows, weight) + bias[:, None, None]


def draw_conv2d(data: Any) -> tuple[list, dict]:
    shape, p = _window_shapes(data)
    features = data.draw(st.integers(1, 3))
    weight = (features, shape[1], *p.pop("kernel_size"))
    return [data.draw(arrays(shape)), data.draw(arrays(weight)),
            data.draw(arrays((features,)))], p


def np_conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                        **p: Any) -> np.ndarray:
    """Each input pixel x[n, c, i, j] adds x · W[c] to the output window at (i·s, j·s) of the
    padded output, which is then cropped."""
    (sh, sw), (ph, pw) = _pairs({"kernel_size": 1, **p})[1:]
    n, _, h, w = x.shape
    _, f, kh, kw = weight.shape
    out = np.zeros((n, f, (h - 1) * sh + kh, (w - 1) * sw + kw))
    for i in range(h):
        for j in range(w):
            out[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += np.einsum(
                "nc,cfkl->nfkl", x[:, :, i, j], weight)
    return out[:, :, ph : out.shape[2] - ph, pw : out.shape[3] - pw] + bias[:, None, None]


def draw_conv_transpose2d(data: Any) -> tuple[list, dict]:
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    h, w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    stride, padding = data.draw(st.sampled_from([1, 2])), data.draw(st.sampled_from([0, 1]))
    assume((h - 1) * stride - 2 * padding + kh >= 1 and (w - 1) * stride - 2 * padding + kw >= 1)
    features = data.draw(st.integers(1, 3))
    return [data.draw(arrays((n, c, h, w))), data.draw(arrays((c, features, kh, kw))),
            data.draw(arrays((features,)))], {"stride": stride, "padding": padding}


def draw_pool(unique: bool) -> Callable:
    def draw(data: Any) -> tuple[list, dict]:
        shape, p = _window_shapes(data, pooling=True)
        return [data.draw(arrays(shape, unique=unique))], p
    return draw


def np_max_pool2d(x: np.ndarray, **p: Any) -> np.ndarray:
    return np_windows(x, -np.inf, **p).max(axis=(4, 5)).transpose(0, 3, 1, 2)


def np_avg_pool2d(x: np.ndarray, **p: Any) -> np.ndarray:
    return np_windows(x, 0.0, **p).mean(axis=(4, 5)).transpose(0, 3, 1, 2)


# ---- normalization and regularization ------------------------------------------------------------


def draw_batch_norm(data: Any) -> tuple[list, dict]:
    """x (N, C) or (N, C, H, W) with N·H·W >= 2 values per channel, and γ, β."""
    n, c = data.draw(st.integers(2, 4)), data.draw(st.integers(1, 3))
    shape = data.draw(st.sampled_from([(n, c), (n, c, 2, 2), (n, c, 1, 3)]))
    return [data.draw(arrays(shape, unique=True)), data.draw(arrays((c,))),
            data.draw(arrays((c,)))], {}


def batch_norm_training(x: Any, gamma: Any, beta: Any) -> Any:
    """Training-mode batch norm, with running statistics of its own (they change each call;
    Tensors, as a compiled function needs them)."""
    c = np.shape(x)[1]
    return tg.batch_norm(x, gamma, beta, tg.Tensor(np.zeros(c)), tg.Tensor(np.ones(c)),
                         training=True)


def np_batch_norm_training(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    view = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * gamma.reshape(view) + beta.reshape(view)


def np_dropout(x: np.ndarray) -> np.ndarray:
    """tg.dropout(x, 0.3, rng=5): the mask of default_rng(5), drawn again, kept / 0.7."""
    return x * (np.random.default_rng(5).random(np.shape(x)) >= 0.3) / 0.7


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_softmax_cross_entropy(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    return -(t * np_log_softmax(z)).sum() / (len(z) if z.ndim >= 2 else 1)


def np_softmax_cross_entropy_labels(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return -np_log_softmax(z)[np.arange(len(z)), labels].sum() / len(z)


def clip_derivative(x: np.ndarray, lo: float | None, hi: float | None) -> tuple:
    """1 on [lo, hi], 0 outside: a product of step functions (np.heaviside, NaN at NaN)."""
    inside = np.ones(np.shape(x))
    if lo is not None:
        inside = inside * np.heaviside(x - lo, 1)
    if hi is not None:
        inside = inside * np.heaviside(hi - x, 1)
    return (inside,)


def spread(v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``v`` broadcast to the shape of ``a`` op ``b`` (a derivative that does not read a or b
    stays finite where they are NaN)."""
    return np.broadcast_to(v, np.broadcast_shapes(np.shape(a), np.shape(b)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def np_index(x: np.ndarray, index: Any) -> np.ndarray:
    return x[np.asarray(index) if isinstance(index, list) else index]


CASES = [
    # elementwise, one operand: d/dx written by hand
    Case("neg", lambda x: -x, np.negative, unary(), lambda x: (-np.ones_like(x),)),
    Case("exp", tg.exp, np.exp, unary(-4, 4), lambda x: (np.exp(x),)),
    Case("log", tg.log, np.log, unary(0.1, 10), lambda x: (1 / x,)),
    Case("sqrt", tg.sqrt, np.sqrt, unary(0.1, 10), lambda x: (0.5 / np.sqrt(x),)),
    Case("sin", tg.sin, np.sin, unary(), lambda x: (np.cos(x),)),
    Case("cos", tg.cos, np.cos, unary(), lambda x: (-np.sin(x),)),
    Case("tanh", tg.tanh, np.tanh, unary(), lambda x: (1 / np.cosh(x) ** 2,)),
    Case("sigmoid", tg.sigmoid, sigmoid, unary(-6, 6),
         lambda x: (np.exp(-x) / (1 + np.exp(-x)) ** 2,)),
    Case("relu", tg.relu, lambda x: np.maximum(x, 0.0), unary(avoid=(0.0,)),
         lambda x: (np.heaviside(x, 0),), smooth=False),
    Case("abs", tg.abs, np.abs, unary(avoid=(0.0,)), lambda x: (np.sign(x),), smooth=False),
    Case("leaky_relu", lambda x: tg.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
         unary(avoid=(0.0,)), lambda x: (np.where(np.isnan(x), x, np.where(x > 0, 1.0, 0.1)),),
         smooth=False),
    Case("square", tg.square, np.square, unary(), lambda x: (2 * x,)),
    Case("identity", ops.identity, np.positive, unary(), lambda x: (np.ones_like(x),)),
    Case("clip", tg.clip, lambda x, lo, hi: np.clip(x, lo, hi), draw_clip, clip_derivative,
         smooth=False),
    Case("astype", lambda x: x.astype(np.float32).astype(np.float64),
         lambda x: x.astype(np.float32).astype(np.float64), unary(),
         notes=["float32 round trip: finite differences see the rounding"]),
    # elementwise, two broadcast operands
    Case("add", lambda a, b: a + b, np.add, binary(),
         lambda a, b: (spread(1.0, a, b), spread(1.0, a, b))),
    Case("sub", lambda a, b: a - b, np.subtract, binary(),
         lambda a, b: (spread(1.0, a, b), spread(-1.0, a, b))),
    Case("mul", lambda a, b: a * b, np.multiply, binary(),
         lambda a, b: (spread(b, a, b), spread(a, a, b))),
    Case("div", lambda a, b: a / b, np.divide, binary(b=(-3, 3), avoid_b=(0.0,)),
         lambda a, b: (spread(1 / b, a, b), -a / b**2)),
    Case("pow", lambda a, b: a**b, np.power, binary(a=(0.2, 3), b=(-2, 2)),
         lambda a, b: (b * a ** (b - 1), a**b * np.log(a))),
    Case("maximum", tg.maximum, np.maximum, binary(separated=True),
         lambda a, b: (np.heaviside(a - b, 0.5), np.heaviside(b - a, 0.5)), smooth=False),
    Case("minimum", tg.minimum, np.minimum, binary(separated=True),
         lambda a, b: (np.heaviside(b - a, 0.5), np.heaviside(a - b, 0.5)), smooth=False),
    Case("where", lambda a, b, cond: tg.where(cond, a, b),
         lambda a, b, cond: np.where(cond, a, b), draw_where, covers=("where",)),
    Case("matmul", lambda a, b: a @ b, np.matmul, draw_matmul),
    # windows of an image (NCHW)
    Case("im2col", tg.im2col, np_im2col, draw_im2col),
    Case("col2im", tg.col2im, np_col2im, draw_col2im),
    Case("conv2d", lambda x, w, b, **p: tg.conv2d(x, w, b, **p), np_conv2d, draw_conv2d),
    Case("conv_transpose2d", lambda x, w, b, **p: tg.conv_transpose2d(x, w, b, **p),
         np_conv_transpose2d, draw_conv_transpose2d),
    Case("max_pool2d", tg.max_pool2d, np_max_pool2d, draw_pool(unique=True), smooth=False),
    Case("avg_pool2d", tg.avg_pool2d, np_avg_pool2d, draw_pool(unique=False)),
    # normalization and regularization (composed; a seed makes dropout's mask the same each call)
    Case("batch_norm", batch_norm_training, np_batch_norm_training, draw_batch_norm),
    Case("dropout", lambda x: tg.dropout(x, 0.3, rng=5), np_dropout, unary()),
    # reductions
    Case("sum", tg.sum, lambda x, **p: np.sum(x, **p), reduction()),
    Case("mean", tg.mean, lambda x, **p: np.mean(x, **p), reduction()),
    Case("max", tg.max, lambda x, **p: np.max(x, **p), reduction(unique=True), smooth=False),
    Case("min", tg.min, lambda x, **p: np.min(x, **p), reduction(unique=True), smooth=False),
    Case("var", tg.var, lambda x, **p: np.var(x, **p), reduction(extra=draw_var)),
    Case("logsumexp", tg.logsumexp, np_logsumexp, reduction(lo=-5, hi=5)),
    Case("softmax", tg.softmax, np_softmax, along_axis),
    Case("log_softmax", tg.log_softmax, lambda x, axis: np.log(np_softmax(x, axis)), along_axis),
    # losses fused into one node
    Case("softmax_cross_entropy", ops.softmax_cross_entropy, np_softmax_cross_entropy,
         draw_softmax_cross_entropy),
    Case("pick", lambda x, labels: ops.pick(x, labels), np_pick, draw_pick),
    Case("softmax_cross_entropy_labels",
         lambda z, labels: ops.softmax_cross_entropy_labels(z, labels),
         np_softmax_cross_entropy_labels, draw_softmax_cross_entropy_labels),
    # shape
    Case("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape),
         draw_reshape),
    Case("flatten", tg.flatten, np.ravel, unary()),
    Case("transpose", lambda x, axes: x.transpose(*axes), np.transpose, draw_transpose),
    Case("swapaxes", tg.swapaxes, np.swapaxes, draw_swapaxes),
    Case("squeeze", tg.squeeze, np.squeeze, draw_squeeze),
    Case("expand_dims", tg.expand_dims, np.expand_dims, draw_expand_dims),
    Case("broadcast_to", tg.broadcast_to, np.broadcast_to, draw_broadcast_to),
    Case("getitem", lambda x, index: x[index], np_index, draw_getitem, covers=("scatter",)),
    Case("concatenate", lambda *xs, axis: tg.concatenate(xs, axis),
         lambda *xs, axis: np.concatenate(xs, axis), draw_concatenate),
    Case("stack", lambda *xs, axis: tg.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis),
         draw_stack),
]

BY_NAME = {case.name: case for case in CASES}


def test_every_primitive_has_a_case() -> None:
    covered = set(BY_NAME) | {name for case in CASES for name in case.covers}
    primitives = {p.name for p in vars(ops).values()
                  if isinstance(p, ops.Primitive) and not isinstance(p, ops.NonDifferentiable)}
    assert primitives - covered == set()
    public = {"exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "square",
              "clip", "maximum", "minimum", "where", "sum", "mean", "max", "min", "var",
              "logsumexp", "softmax", "log_softmax", "reshape", "transpose", "swapaxes",
              "squeeze", "expand_dims", "flatten", "broadcast_to", "matmul", "concatenate",
              "stack", "im2col", "col2im", "conv2d", "conv_transpose2d", "max_pool2d",
              "avg_pool2d", "leaky_relu", "batch_norm", "dropout"}
    assert public - covered == set()
    assert all(callable(getattr(tg, name)) for name in public)


def _tensors(operands: list, dtype: Any = np.float64) -> list:
    return [tg.Tensor(np.asarray(x, dtype=dtype), requires_grad=True) for x in operands]


def _upstream(data: Any, shape: tuple) -> np.ndarray:
    return data.draw(arrays(shape, -2, 2), label="upstream gradient")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(max_examples=20)  # (the forward is NumPy's own call; the gradients get 40)
@given(data=st.data())
def test_forward_matches_numpy(case: Case, data: Any) -> None:
    operands, params = case.draw(data)
    out = case.fn(*_tensors(operands), **params)
    np.testing.assert_allclose(out.data, case.reference(*operands, **params), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@given(data=st.data())
def test_gradient_matches_finite_differences(case: Case, data: Any) -> None:
    operands, params = case.draw(data)
    before = [np.copy(x) for x in operands]
    xs = _tensors(operands)
    out = case.fn(*xs, **params)
    upstream = _upstream(data, out.shape)
    out.backward(upstream)

    def projected(*ts: Any) -> Any:
        return (case.fn(*ts, **params) * upstream).sum()

    step = 1e-3 if case.name == "astype" else 1e-6  # float32 rounding steps are ~1e-7
    numeric = numerical_grad(projected, *operands, eps=step)
    for x, expected, original in zip(xs, numeric, before):
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == np.float64
        tolerance = 1e-3 if case.name == "astype" else 1e-6
        np.testing.assert_allclose(x.grad.data, expected, rtol=1e-5, atol=tolerance)
        np.testing.assert_array_equal(x.data, original)  # inputs are not mutated
    for i, a in enumerate(xs):
        for b in xs[i + 1:]:
            assert not np.shares_memory(a.grad.data, b.grad.data)


@pytest.mark.parametrize("case", [c for c in CASES if c.derivative], ids=lambda c: c.name)
@given(data=st.data())
def test_gradient_matches_hand_derivative(case: Case, data: Any) -> None:
    operands, params = case.draw(data)
    xs = _tensors(operands)
    out = case.fn(*xs, **params)
    upstream = _upstream(data, out.shape)
    out.backward(upstream)
    for x, derivative in zip(xs, case.derivative(*operands, **params)):
        expected = sum_to(upstream * np.broadcast_to(derivative, upstream.shape), x.shape)
        np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c.smooth], ids=lambda c: c.name)
@settings(max_examples=15)
@given(data=st.data())
def test_second_derivative_matches_finite_differences_of_gradient(case: Case, data: Any) -> None:
    """Hessian-vector products through the recorded backward pass (one rule, every order)."""
    operands, params = case.draw(data)
    xs = _tensors(operands)
    out = case.fn(*xs, **params)
    upstream = _upstream(data, out.shape)
    directions = [data.draw(arrays(np.shape(x), -1, 1), label="direction") for x in operands]

    first = gradients((out * upstream).sum(), xs, create_graph=True)
    directional = sum(((g * v).sum() for g, v in zip(first, directions)), tg.Tensor(0.0))
    hvp = gradients(directional, xs) if directional.requires_grad else [
        np.zeros(np.shape(x)) for x in operands]

    def gradient_at(step: float) -> list:
        moved = _tensors([x + step * v for x, v in zip(operands, directions)])
        return gradients((case.fn(*moved, **params) * upstream).sum(), moved)

    h = 1e-5
    for got, plus, minus in zip(hvp, gradient_at(h), gradient_at(-h)):
        np.testing.assert_allclose(got, (plus - minus) / (2 * h), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "astype"], ids=lambda c: c.name)
@settings(max_examples=5)
@given(data=st.data())
def test_float32_in_float32_out(case: Case, data: Any) -> None:
    operands, params = case.draw(data)
    xs = _tensors(operands, np.float32)
    out = case.fn(*xs, **params)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert all(x.grad.dtype == np.float32 for x in xs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(max_examples=10)
@given(data=st.data())
def test_plain_recorded_and_anomaly_passes_give_identical_gradients(case: Case,
                                                                    data: Any) -> None:
    """The engine's shortcuts for one- and two-operand primitives (engine._step) against its
    general path: a plain pass, a pass recorded with create_graph=True (rules get Tensors) and a
    pass under detect_anomaly (every gradient checked) give the same gradients, bit for bit."""
    operands, params = case.draw(data)
    upstream = None
    results = []
    for how in ("plain", "recorded", "anomaly"):
        xs = _tensors(operands)
        out = case.fn(*xs, **params)
        if upstream is None:
            upstream = _upstream(data, out.shape)
        if how == "anomaly":
            with tg.detect_anomaly():
                out.backward(upstream)
        else:
            out.backward(upstream, create_graph=how == "recorded")
        results.append([x.grad.data for x in xs])
    plain, recorded, anomaly = results
    for p, r, a in zip(plain, recorded, anomaly):
        np.testing.assert_array_equal(r, p)
        np.testing.assert_array_equal(a, p)


def _with_nan(data: Any, operands: list) -> list:
    """``operands`` with one element of one of them made NaN."""
    k = data.draw(st.sampled_from([i for i, x in enumerate(operands) if np.size(x)]),
                  label="operand with a NaN")
    operand = np.array(operands[k], dtype=np.float64)
    operand.flat[data.draw(st.integers(0, operand.size - 1), label="NaN position")] = np.nan
    return [operand if i == k else x for i, x in enumerate(operands)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(max_examples=10)
@given(data=st.data())
def test_nan_in_gives_nan_out(case: Case, data: Any) -> None:
    """A NaN in an operand comes out wherever NumPy's own function gives NaN, and only there;
    for the elementwise operations the gradient is NaN exactly where the hand derivative,
    evaluated by NumPy at the NaN, is: a kink's mask (relu, clip, maximum) never turns a NaN
    into 0 (as sigmoid(nan) = 0 with gradient 0 once did)."""
    operands, params = case.draw(data)
    assume(any(np.size(x) for x in operands))
    operands = _with_nan(data, operands)
    with np.errstate(invalid="ignore"):
        expected = case.reference(*operands, **params)
    xs = _tensors(operands)
    out = case.fn(*xs, **params)
    np.testing.assert_array_equal(np.isnan(out.data), np.isnan(expected))
    if case.derivative:
        upstream = _upstream(data, out.shape)
        out.backward(upstream)
        with np.errstate(invalid="ignore"):
            derivatives = case.derivative(*operands, **params)
        for x, derivative in zip(xs, derivatives):
            expected = sum_to(upstream * np.broadcast_to(derivative, upstream.shape), x.shape)
            np.testing.assert_array_equal(np.isnan(x.grad.data), np.isnan(expected))


def test_nan_reaches_the_gradient_of_reductions_and_the_softmax_family() -> None:
    """Beyond the elementwise rules: a row with a NaN has a NaN maximum, logsumexp and softmax,
    and a NaN gradient in that row; the other row is untouched."""
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    for fn in (lambda t: t.max(axis=1), lambda t: t.min(axis=1),
               lambda t: t.logsumexp(axis=1), lambda t: t.softmax(axis=1)[:, 0],
               lambda t: t.log_softmax(axis=1)[:, 2]):
        t = tg.Tensor(x, requires_grad=True)
        out = fn(t)
        assert np.isnan(out.data[0]) and np.isfinite(out.data[1])
        out.sum().backward()
        assert np.isnan(t.grad.data[0]).all() and np.isfinite(t.grad.data[1]).all()


# ---- in-place changes after the forward pass -----------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(max_examples=8)
@given(data=st.data())
def test_an_in_place_change_after_the_forward_raises_or_changes_no_gradient(
        case: Case, data: Any) -> None:
    """Change an operand or the output in place between forward and backward: the backward pass
    either refuses (naming the operation) or gives exactly the gradient of the unchanged graph,
    because no rule reads what changed. Never a wrong gradient."""
    operands, params = case.draw(data)
    before = _tensors(operands)
    out = case.fn(*before, **params)
    upstream = _upstream(data, out.shape)
    out.backward(upstream)

    xs = _tensors(operands)
    out = case.fn(*xs, **params)
    changed = data.draw(st.sampled_from([*xs, out]), label="changed in place")
    assume(changed.data.flags.writeable and changed.size)  # (broadcast_to gives a read-only view)
    with tg.no_grad():
        changed += 0.5
    try:
        out.backward(upstream)
    except RuntimeError as error:
        assert "changed in place" in str(error)
        assert all(x.grad is None for x in xs)  # refused before any state changed
    else:
        for x, unchanged in zip(xs, before):
            np.testing.assert_array_equal(x.grad.data, unchanged.grad.data)


# ---- conventions at kinks, written down in ops.py ------------------------------------------------


def test_max_ties_split_the_gradient_evenly() -> None:
    x = tg.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True, dtype=np.float64)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = tg.Tensor([5.0, -1.0, -1.0], requires_grad=True, dtype=np.float64)
    y.min().backward()
    np.testing.assert_array_equal(y.grad.data, [0, 0.5, 0.5])


def test_maximum_and_minimum_ties_split_evenly() -> None:
    a = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    b = tg.Tensor([1.0, 5.0, 0.0], requires_grad=True, dtype=np.float64)
    tg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 0, 1])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1, 0])
    a.grad = b.grad = None
    tg.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 1, 0])


def test_relu_and_abs_have_zero_derivative_at_zero() -> None:
    x = tg.Tensor([0.0, -0.0, 2.0, -2.0], requires_grad=True, dtype=np.float64)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 1, 0])
    x.grad = None
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 1, -1])


def test_a_nan_bound_of_clip_gives_nan_values_and_gradient() -> None:
    """np.clip with a NaN bound gives NaN; the gradient does not hide it as 0."""
    x = tg.Tensor([0.0, 5.0], requires_grad=True, dtype=np.float64)
    y = x.clip(float("nan"), 2.0)
    assert np.isnan(y.data).all()
    y.sum().backward()
    assert np.isnan(x.grad.data).all()


def test_clip_passes_the_gradient_at_its_bounds() -> None:
    x = tg.Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True, dtype=np.float64)
    x.clip(-1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 1, 1, 1, 0])


def test_where_sends_the_gradient_to_the_branch_taken() -> None:
    x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True, dtype=np.float64)
    y = tg.Tensor([10.0, 20.0, 30.0], requires_grad=True, dtype=np.float64)
    tg.where(x > 0, x * 2, y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2, 0, 2])
    np.testing.assert_array_equal(y.grad.data, [0, 3, 0])


def test_where_nan_pitfall_and_the_safe_pattern() -> None:
    """The derivative of the untaken branch is still evaluated: 0 · (1/0) = nan."""
    x = tg.Tensor([0.0, 2.0], requires_grad=True, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tg.where(x > 0, tg.log(x), 0.0).sum().backward()
    assert np.isnan(x.grad.data[0]) and x.grad.data[1] == 0.5
    x.grad = None
    safe = tg.where(x > 0, x, 1.0)
    tg.where(x > 0, tg.log(safe), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5])


@pytest.mark.parametrize("fn", [tg.softmax, tg.log_softmax])
def test_softmax_family_is_stable_for_large_logits(fn: Callable) -> None:
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]])
    x = tg.Tensor(z, requires_grad=True, dtype=np.float64)
    out = fn(x)
    shifted = z - z.max(axis=1, keepdims=True)  # the same softmax, with nothing to overflow
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = np.exp(log_p) if fn is tg.softmax else log_p
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=0)
    (out * np.array([[1.0, 2, 3], [4, 5, 6]])).sum().backward()
    assert np.all(np.isfinite(x.grad.data))


def test_logsumexp_is_stable_for_large_logits_and_minus_infinity() -> None:
    x = tg.Tensor([1000.0, 1000.0, -np.inf], requires_grad=True, dtype=np.float64)
    out = x.logsumexp()
    np.testing.assert_allclose(out.item(), 1000.0 + np.log(2.0), rtol=1e-15)
    out.backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5, 0.0])


def test_softmax_family_over_an_empty_axis() -> None:
    empty = tg.Tensor(np.zeros((2, 0)), requires_grad=True)
    assert tg.softmax(empty).shape == (2, 0) and tg.log_softmax(empty).shape == (2, 0)
    np.testing.assert_array_equal(tg.logsumexp(empty, axis=1).data, [-np.inf, -np.inf])


# ---- rows without a gradient: masks and constants ------------------------------------------------

MASKS = {  # row -> (arguments from a float array x, NumPy's own function of the same)
    "stop_gradient": (lambda x: (x,), lambda x: x),
    "isnan": (lambda x: (x,), np.isnan),
    "sign": (lambda x: (x,), np.sign),
    "heaviside": (lambda x: (x, 0.5), lambda x: np.heaviside(x, 0.5)),
    "bitwise_and": (lambda x: (x > 0, x < 1), lambda x: (x > 0) & (x < 1)),
    "bitwise_or": (lambda x: (x > 0, x < -1), lambda x: (x > 0) | (x < -1)),
    "invert": (lambda x: (x > 0,), lambda x: ~(x > 0)),
}


def test_every_row_without_a_gradient_has_a_mask_case() -> None:
    rows = {p.name for p in vars(ops).values() if isinstance(p, ops.NonDifferentiable)}
    comparisons = {"less", "less_equal", "greater", "greater_equal", "equal", "not_equal"}
    assert rows - comparisons - {"one_hot", "dropout_mask"} == set(MASKS)  # (tested apart)


@pytest.mark.parametrize("name", sorted(MASKS))
@settings(max_examples=10)
@given(x=arrays(shapes(), -2, 2, avoid=(0.0,)))
def test_masks_on_tensors_are_numpys_and_need_no_grad(name: str, x: np.ndarray) -> None:
    """On Tensors (as a recorded backward pass computes them) a mask row gives NumPy's values
    as a Tensor that requires no grad, whatever its operands require."""
    arguments, reference = MASKS[name]
    t = tg.Tensor(x, requires_grad=True)
    out = getattr(ops, name)(*arguments(t))
    assert isinstance(out, tg.Tensor) and not out.requires_grad
    np.testing.assert_array_equal(out.data, reference(x))
    np.testing.assert_array_equal(getattr(ops, name)(*arguments(x)), reference(x))  # arrays


def test_one_hot_on_a_tensor_of_labels_is_rows_of_the_identity() -> None:
    labels = tg.Tensor(np.array([2, 0, 1]), dtype=np.int64)
    out = ops.one_hot(labels, (3, 4), np.float32)
    assert isinstance(out, tg.Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.eye(4, dtype=np.float32)[[2, 0, 1]])


def test_pick_refuses_a_negative_label_that_numpy_would_count_from_the_end() -> None:
    with pytest.raises(ValueError, match=r"pick: label -1 is out of range for 3 classes"):
        ops.pick(tg.Tensor(np.ones((2, 3)), requires_grad=True), np.array([0, -1]))
