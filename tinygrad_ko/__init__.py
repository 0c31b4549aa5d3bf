"""tinygrad_ko: a small, exact reverse-mode autodiff framework on NumPy.

손실 함수를 텐서 식으로 쓰고 ``loss.backward()`` 를 부르면, 연산 그래프를 거꾸로 따라가며
정확한 기울기를 구합니다. Write a loss as an expression of ``Tensor``s, call ``backward()``, and
get exact gradients by backpropagation through the operation graph.

Every public name is defined here. The package layout shows the architecture:

- ``tensor``: the Tensor, its construction and dtype rules, and its method surface;
- ``ops``: the primitives, each forward beside its gradient (the table of derivatives);
- ``functions``: what is composed from the primitives (mean, var, softmax, ...);
- ``engine``: recording the graph and the backward pass;
- ``primitive``: what an operation is: ``Primitive`` (a row of the table) and ``Function``
  (user-defined primitives, ``tg.Function``);
- ``autodiff``: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``;
- ``mode``: ``no_grad`` and ``detect_anomaly``;
- ``losses``: SE, MSE, CEE, ... as plain expressions (softmax cross entropy as one fused row of
  the table, tested equal to its expression), and ``losses.reference``, their hand-derived
  gradients;
- ``testing``: gradient checking (finite differences, hand formulas, Hypothesis strategies);
- ``nn``, ``optim``, ``data``: models, optimizers and the bundled digits, for training;
- ``serialize``: ``save`` and ``load`` of parameters; ``viz``: the graph as Graphviz DOT;
- ``train``: the main job, training on the digits; ``cli``: the command line
  (``python -m tinygrad_ko``).
"""

from tinygrad_ko import data, losses, nn, optim, testing, viz
from tinygrad_ko.autodiff import grad, hessian, jacobian, value_and_grad
from tinygrad_ko.compiler import CompileError, compile
from tinygrad_ko.convolution import (
    avg_pool2d,
    col2im,
    conv2d,
    conv_transpose2d,
    im2col,
    leaky_relu,
    max_pool2d,
)
from tinygrad_ko.functions import (
    batch_norm,
    broadcast_to,
    clip,
    concatenate,
    dropout,
    expand_dims,
    flatten,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    reshape,
    softmax,
    squeeze,
    stack,
    sum,
    swapaxes,
    transpose,
    var,
    where,
)
from tinygrad_ko.mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from tinygrad_ko.ops import (
    abs,
    cos,
    exp,
    log,
    matmul,
    maximum,
    minimum,
    relu,
    sigmoid,
    sin,
    sqrt,
    square,
    tanh,
)
from tinygrad_ko.primitive import Context, Function
from tinygrad_ko.serialize import load, save
from tinygrad_ko.tensor import (
    Tensor,
    arange,
    get_default_dtype,
    ones,
    ones_like,
    rand,
    randn,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

__all__ = [
    "CompileError",
    "Context",
    "Function",
    "Tensor",
    "abs",
    "arange",
    "avg_pool2d",
    "batch_norm",
    "broadcast_to",
    "clip",
    "col2im",
    "compile",
    "concatenate",
    "conv2d",
    "conv_transpose2d",
    "cos",
    "data",
    "detect_anomaly",
    "dropout",
    "enable_grad",
    "exp",
    "expand_dims",
    "flatten",
    "get_default_dtype",
    "grad",
    "hessian",
    "im2col",
    "is_grad_enabled",
    "jacobian",
    "leaky_relu",
    "load",
    "log",
    "log_softmax",
    "logsumexp",
    "losses",
    "matmul",
    "max",
    "max_pool2d",
    "maximum",
    "mean",
    "min",
    "minimum",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "randn",
    "relu",
    "reshape",
    "save",
    "set_default_dtype",
    "sigmoid",
    "sin",
    "softmax",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "sum",
    "swapaxes",
    "tanh",
    "tensor",
    "testing",
    "transpose",
    "value_and_grad",
    "var",
    "viz",
    "where",
    "zeros",
    "zeros_like",
]
