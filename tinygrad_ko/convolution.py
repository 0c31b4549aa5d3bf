"""Convolution and pooling (NCHW), composed from the table's rows, as in the book's chapter 7.

``im2col`` turns every window of an image into a row, so that a convolution is one matrix
product: ``conv2d`` is im2col, then ``cols @ W`` with W flattened to (C·KH·KW, F). Its gradient
needs no rule of its own: im2col's gradient is ``col2im``, which adds each row back where its
window came from, and matmul's is the table's. ``conv_transpose2d`` is the same map run backwards
(col2im of ``x @ W``). Pooling is im2col then a max or a mean over each window; max pooling pads
with −inf and splits the gradient evenly between tied maxima (the project's tie rule), average
pooling counts the padding as zeros, as PyTorch does.

``stride``, ``padding`` and ``kernel_size`` take an int or a pair. Every check (a 4-D input,
matching channels, a kernel no larger than the padded input) is made before any work, and the
error names the function and the shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_ko import ops
from tinygrad_ko.tensor import Tensor


def _pair(value: Any, name: str, what: str, smallest: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= smallest
                                 for v in pair):
        raise ValueError(f"{name}: {what} must be an int >= {smallest} or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _shape(x: Any) -> tuple:
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _windows(name: str, shape: tuple, kernel_size: Any, stride: Any, padding: Any) -> tuple:
    """Checked (kernel, stride, padding) pairs and the output's (OH, OW) for an input of
    ``shape`` (N, C, H, W)."""
    if len(shape) != 4:
        raise ValueError(f"{name}: the input must be 4-D (N, C, H, W), got shape {shape}")
    kernel = _pair(kernel_size, name, "kernel_size", 1)
    stride = _pair(stride, name, "stride", 1)
    padding = _pair(padding, name, "padding", 0)
    padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{name}: the kernel {kernel} is larger than the padded input "
                         f"{padded} (input shape {shape}, padding {padding})")
    out = ((padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1)
    return kernel, stride, padding, out


def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0) -> Any:
    """The windows of x (N, C, H, W) as rows: (N·OH·OW, C·KH·KW), rows in the order
    (n, oh, ow) and columns (c, kh, kw), zero-padded; the book's ``im2col``. Its gradient is
    ``col2im``."""
    kernel, stride, padding, _ = _windows("im2col", _shape(x), kernel_size, stride, padding)
    return ops.im2col(x, kernel, stride, padding, 0.0)


def col2im(cols: Any, input_shape: Any, kernel_size: Any, stride: Any = 1,
           padding: Any = 0) -> Any:
    """The adjoint of ``im2col``: the rows of ``cols`` (N·OH·OW, C·KH·KW) added back into an
    array of ``input_shape`` (N, C, H, W) where their windows came from (overlaps add up)."""
    shape = tuple(int(n) for n in input_shape)
    kernel, stride, padding, (oh, ow) = _windows("col2im", shape, kernel_size, stride, padding)
    expected = (shape[0] * oh * ow, shape[1] * kernel[0] * kernel[1])
    if tuple(_shape(cols)) != expected:
        raise ValueError(f"col2im: cols must have shape {expected} for input_shape {shape}, "
                         f"kernel {kernel}, stride {stride} and padding {padding}; got "
                         f"{tuple(_shape(cols))}")
    return ops.col2im(cols, shape, kernel, stride, padding)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0) -> Any:
    """Cross-correlation, as ``torch.nn.functional.conv2d``: x (N, C, H, W), weight
    (F, C, KH, KW), bias (F,) → (N, F, OH, OW) with OH = (H + 2·padding − KH) // stride + 1.
    y[n, f] = Σ_c Σ_kh Σ_kw x_padded[n, c, oh·s + kh, ow·s + kw] · W[f, c, kh, kw] + b[f]:
    im2col(x) @ W.reshape(F, −1)ᵀ."""
    x_shape, w_shape = _shape(x), _shape(weight)
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: the weight must be 4-D (F, C, KH, KW), got shape {w_shape}")
    if len(x_shape) == 4 and x_shape[1] != w_shape[1]:
        raise ValueError(f"conv2d: the input has {x_shape[1]} channels but the weight expects "
                         f"{w_shape[1]} (input shape {x_shape}, weight shape {w_shape})")
    _check_bias("conv2d", bias, w_shape[0])
    kernel, stride, padding, (oh, ow) = _windows("conv2d", x_shape, w_shape[2:], stride,
                                                 padding)
    n, f = x_shape[0], w_shape[0]
    cols = ops.im2col(x, kernel, stride, padding, 0.0)  # (N·OH·OW, C·KH·KW)
    out = ops.matmul(cols, ops.transpose(ops.reshape(weight, (f, -1)), (1, 0)))  # (N·OH·OW, F)
    if bias is not None:
        out = out + bias
    return ops.transpose(ops.reshape(out, (n, oh, ow, f)), (0, 3, 1, 2))


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0) -> Any:
    """The adjoint of ``conv2d`` in its input, as ``torch.nn.functional.conv_transpose2d``:
    x (N, C_in, H, W), weight (C_in, C_out, KH, KW), bias (C_out,) → (N, C_out, OH, OW) with
    OH = (H − 1)·stride − 2·padding + KH. Each input pixel spreads its weighted kernel over the
    output: col2im(x as rows @ W.reshape(C_in, −1))."""
    x_shape, w_shape = _shape(x), _shape(weight)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"conv_transpose2d: the input and the weight must be 4-D, got shapes "
                         f"{x_shape} and {w_shape}")
    if x_shape[1] != w_shape[0]:
        raise ValueError(f"conv_transpose2d: the input has {x_shape[1]} channels but the weight "
                         f"expects {w_shape[0]} (input shape {x_shape}, weight shape {w_shape})")
    _check_bias("conv_transpose2d", bias, w_shape[1])
    kernel = (w_shape[2], w_shape[3])
    stride = _pair(stride, "conv_transpose2d", "stride", 1)
    padding = _pair(padding, "conv_transpose2d", "padding", 0)
    n, c_in, h, w = x_shape
    out_shape = (n, w_shape[1], (h - 1) * stride[0] - 2 * padding[0] + kernel[0],
                 (w - 1) * stride[1] - 2 * padding[1] + kernel[1])
    if out_shape[2] < 1 or out_shape[3] < 1:
        raise ValueError(f"conv_transpose2d: the output would have shape {out_shape} (input "
                         f"shape {x_shape}, weight shape {w_shape}, padding {padding})")
    rows = ops.reshape(ops.transpose(x, (0, 2, 3, 1)), (n * h * w, c_in))
    cols = ops.matmul(rows, ops.reshape(weight, (c_in, -1)))  # (N·H·W, C_out·KH·KW)
    out = ops.col2im(cols, out_shape, kernel, stride, padding)
    if bias is not None:
        out = out + ops.reshape(bias, (1, -1, 1, 1))
    return out


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Any:
    """The maximum of each window (stride defaults to kernel_size), padding with −inf; tied
    maxima share the gradient evenly."""
    return _pool("max_pool2d", ops.max, -np.inf, x, kernel_size, stride, padding)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Any:
    """The mean of each window (stride defaults to kernel_size), the padding counted as zeros
    (PyTorch's count_include_pad=True)."""
    return _pool("avg_pool2d", ops.mean, 0.0, x, kernel_size, stride, padding)


def _pool(name: str, reduce: Any, fill: float, x: Any, kernel_size: Any, stride: Any,
          padding: Any) -> Any:
    kernel, stride, padding, (oh, ow) = _windows(
        name, _shape(x), kernel_size, kernel_size if stride is None else stride, padding)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel {kernel}")
    n, c = _shape(x)[:2]
    cols = ops.im2col(x, kernel, stride, padding, fill)  # (N·OH·OW, C·KH·KW)
    pooled = reduce(ops.reshape(cols, (n * oh * ow, c, kernel[0] * kernel[1])), (2,), False)
    return ops.transpose(ops.reshape(pooled, (n, oh, ow, c)), (0, 3, 1, 2))


def _check_bias(name: str, bias: Any, features: int) -> None:
    if bias is not None and tuple(_shape(bias)) != (features,):
        raise ValueError(f"{name}: the bias must have shape ({features},), got "
                         f"{tuple(_shape(bias))}")


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """max(x, 0) + negative_slope · min(x, 0); the derivative is 1 for x > 0 and the slope for
    x <= 0 (as PyTorch)."""
    return ops.leaky_relu(x, negative_slope)
