"""Building blocks for models: ``Module``, ``Parameter``, ``Linear``, ``Sequential``, the
activation layers, ``Dropout``, and the layers of a convolutional network (``Conv2d``,
``ConvTranspose2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``).

A ``Module`` finds its parameters by looking at its attributes (Parameters, Modules, and lists
of Modules), in the order they were set, so ``parameters()``, ``state_dict()`` and
``load_state_dict()`` need no registration calls. Layers compute with the functions of
``tinygrad_ko``; nothing here has backward code. ``Linear`` keeps its weight as (in, out), so the
layer reads like the book: ``x @ W + b``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_ko import convolution as C
from tinygrad_ko import functions as F
from tinygrad_ko import mode, ops
from tinygrad_ko.engine import write_in_place
from tinygrad_ko.tensor import Tensor, _generator, get_default_dtype


class Parameter(Tensor):
    """A leaf Tensor that a Module trains: it always requires grad."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype)


class Buffer(Tensor):
    """A Tensor that a Module keeps and saves with its parameters (``state_dict``) but does not
    train: batch normalization's running statistics."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=False, dtype=dtype)


_ZERO_GRAD = ("resets gradients, which a compiled function only adds to; call it outside, "
              "before the compiled step")


class Module:
    """Base class of layers and models: subclass it, set Parameters and Modules as attributes in
    ``__init__``, and write ``forward``. Calling the module calls ``forward``."""

    _training = True

    @property
    def training(self) -> bool:
        """Training mode (``train()``, the default) or evaluation mode (``eval()``). A compiled
        function (``tg.compile``) that read it serves calls that begin in the mode it read, and
        is traced again for the other."""
        mode.depend_in_trace(self, "training", self._training)
        return self._training

    @training.setter
    def training(self, value: bool) -> None:
        mode.set_in_trace(self, "training")
        self._training = value

    def forward(self, *args: Any) -> Any:
        """The computation of the module; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)

    def members(self) -> Iterator[tuple[str, Parameter | Module]]:
        """Own Parameters and sub-modules in the order the attributes were set (a list of
        modules ``layers`` gives ``layers.0``, ``layers.1``, ...)."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Buffer, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator[tuple[str, Module]]:
        """The sub-modules, named as in ``members``."""
        return ((name, value) for name, value in self.members() if isinstance(value, Module))

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs in the order the attributes were set, sub-modules'
        parameters in place of the sub-module; a parameter reachable twice is listed once."""
        return [(name, t) for name, t in self._named_tensors() if isinstance(t, Parameter)]

    def named_buffers(self) -> list[tuple[str, Buffer]]:
        """``(dotted name, Buffer)`` pairs, in the order of ``named_parameters``."""
        return [(name, t) for name, t in self._named_tensors() if isinstance(t, Buffer)]

    def _named_tensors(self) -> list[tuple[str, Parameter | Buffer]]:
        """Parameters and Buffers, by dotted name, depth first, members in order."""
        found: list[tuple[str, Parameter | Buffer]] = []
        seen: set[int] = set()  # parameters and modules: a module may refer back to its parent
        stack: list[tuple[str, Parameter | Module]] = [("", self)]
        while stack:  # depth first, members in order
            name, value = stack.pop()
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Module):
                prefix = name + "." if name else ""
                stack.extend(reversed([(prefix + key, item) for key, item in value.members()]))
            else:
                found.append((name, value))
        return found

    def parameters(self) -> list[Parameter]:
        """The Parameters of ``named_parameters``, without their names."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``)."""
        mode.refuse_in_trace("zero_grad()", _ZERO_GRAD)
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's and buffer's values, by dotted name."""
        return {name: p.data.copy() for name, p in self._named_tensors()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set the parameters from ``state``. Names, shapes and dtypes are all checked first: on
        a mismatch of names or shapes ``ValueError`` names the first one, on a non-numeric value
        ``TypeError`` (as for any non-numeric data in the package), and no parameter has
        changed."""
        mode.refuse_in_trace("load_state_dict()", "changes the parameters in place; load them "
                             "outside the compiled function")
        params = dict(self._named_tensors())  # (the buffers too)
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if missing or unexpected:
            raise ValueError(f"load_state_dict: missing {missing}, unexpected {unexpected}")
        values = {}
        for name, p in params.items():
            value = np.asarray(state[name].data if isinstance(state[name], Tensor) else state[name])
            if value.shape != p.data.shape:
                raise ValueError(f"load_state_dict: '{name}' has shape {value.shape}, the "
                                 f"model's has shape {p.data.shape}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: '{name}' must be numeric, got dtype "
                                f"{value.dtype}")
            values[name] = value
        for name, p in params.items():  # (a graph made before the load can no longer run backward)
            write_in_place(p, values[name])

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every sub-module; returns self."""
        stack: list[Module] = [self]
        seen: set[int] = set()
        while stack:
            module = stack.pop()
            if id(module) not in seen:
                seen.add(id(module))
                module.training = mode
                stack.extend(child for _, child in module.children())
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def __repr__(self) -> str:
        inner = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self.children()]
        return f"{type(self).__name__}(" + ("\n" + "\n".join(inner) + "\n" if inner else "") + ")"


def _init_scale(init: str, fan_in: int, fan_out: int) -> float:
    if init == "he":  # keeps the variance of ReLU activations from layer to layer
        return float(np.sqrt(2.0 / fan_in))
    if init == "xavier":  # Glorot: for tanh, sigmoid and linear layers
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    raise ValueError(f"Linear: init must be 'he' or 'xavier', got {init!r}")


class Linear(Module):
    """``y = x @ W + b`` with ``W`` of shape (in_features, out_features).

    ``init``: "he" (normal with std √(2/in), for layers followed by ReLU) or "xavier" (std
    √(2/(in+out)), otherwise). ``rng``: a ``numpy.random.Generator`` or a seed, for
    reproducible weights. The bias starts at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "xavier", rng: Any = None, dtype: Any = None) -> None:
        scale = _init_scale(init, in_features, out_features)
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        weight = _generator(rng).standard_normal((in_features, out_features)) * scale
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(weight, dtype=dtype)
        self.bias = Parameter(np.zeros(out_features), dtype=dtype) if bias else None

    def forward(self, x: Any) -> Tensor:
        """x @ W + b."""
        y = ops.matmul(x, self.weight)
        return y if self.bias is None else y + self.bias

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None})")


class Sequential(Module):
    """Layers applied one after another; their parameters are named ``0.weight``, ``1.bias``..."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def members(self) -> Iterator[tuple[str, Parameter | Module]]:
        """The layers, named by position."""
        return ((str(i), layer) for i, layer in enumerate(self.layers))

    def forward(self, x: Any) -> Any:
        """Each layer applied to the previous one's output."""
        for layer in self.layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]


class ReLU(Module):
    """max(x, 0), elementwise (see ``tg.relu``)."""

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        return ops.relu(x)


class Sigmoid(Module):
    """1 / (1 + e^−x), elementwise (see ``tg.sigmoid``)."""

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh x, elementwise (see ``tg.tanh``)."""

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        return ops.tanh(x)


class Softmax(Module):
    """softmax along ``axis`` (see ``tg.softmax``)."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        return F.softmax(x, self.axis)


class LeakyReLU(Module):
    """max(x, 0) + negative_slope · min(x, 0), elementwise (see ``tg.leaky_relu``)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        return ops.leaky_relu(x, self.negative_slope)


class _BatchNorm(Module):
    """``tg.batch_norm`` with a weight γ (ones) and a bias β (zeros), trained, and the running
    mean (zeros) and variance (ones), saved in ``state_dict``; the batch's statistics while
    training (``train()``), the running ones after ``eval()``."""

    ndim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype: Any = None) -> None:
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.ones(num_features), dtype=dtype)
        self.bias = Parameter(np.zeros(num_features), dtype=dtype)
        self.running_mean = Buffer(np.zeros(num_features), dtype=dtype)
        self.running_var = Buffer(np.ones(num_features), dtype=dtype)
        self.eps, self.momentum = eps, momentum

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        shape = x.shape if isinstance(x, Tensor) else np.shape(x)
        if len(shape) != self.ndim:
            raise ValueError(f"{type(self).__name__}: the input must be {self.ndim}-D, got shape "
                             f"{shape}")
        return F.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                            self.training, self.momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) inputs, per feature."""


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel."""

    ndim = 4


class Dropout(Module):
    """``tg.dropout`` with probability ``p`` while the module is training (``train()``), the
    identity after ``eval()``."""

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p, self.rng = p, _generator(rng)

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        return F.dropout(x, self.p, self.training, self.rng)


# ---- convolutional networks (NCHW) ---------------------------------------------------------------


class _Convolution(Module):
    """What ``Conv2d`` and ``ConvTranspose2d`` share: a weight He-initialized over its fan in
    (normal with std √(2 / (in_channels · KH · KW)), for layers followed by ReLU), laid out as
    the function takes it (``weight_shape``), and a bias (out_channels,) starting at zero."""

    function: Any = None  # the convolution, tg.conv2d or tg.conv_transpose2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, bias: bool = True, rng: Any = None, dtype: Any = None) -> None:
        kh, kw = C._pair(kernel_size, type(self).__name__, "kernel_size", 1)
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        scale = np.sqrt(2.0 / (in_channels * kh * kw))
        shape = self.weight_shape(in_channels, out_channels, kh, kw)
        self.weight = Parameter(_generator(rng).standard_normal(shape) * scale, dtype=dtype)
        self.bias = Parameter(np.zeros(out_channels), dtype=dtype) if bias else None
        self.stride, self.padding = stride, padding

    @staticmethod
    def weight_shape(in_channels: int, out_channels: int, kh: int, kw: int) -> tuple:
        raise NotImplementedError

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x`` (N, in_channels, H, W)."""
        return type(self).function(x, self.weight, self.bias, self.stride, self.padding)


class Conv2d(_Convolution):
    """``tg.conv2d`` with a weight (out_channels, in_channels, KH, KW) and a bias."""

    function = staticmethod(C.conv2d)

    @staticmethod
    def weight_shape(in_channels: int, out_channels: int, kh: int, kw: int) -> tuple:
        return (out_channels, in_channels, kh, kw)


class ConvTranspose2d(_Convolution):
    """``tg.conv_transpose2d`` with a weight (in_channels, out_channels, KH, KW) and a bias."""

    function = staticmethod(C.conv_transpose2d)

    @staticmethod
    def weight_shape(in_channels: int, out_channels: int, kh: int, kw: int) -> tuple:
        return (in_channels, out_channels, kh, kw)


class _Pool(Module):
    """What ``MaxPool2d`` and ``AvgPool2d`` share: windows of ``kernel_size`` (the stride
    defaults to it) and a padding."""

    function: Any = None  # the pooling, tg.max_pool2d or tg.avg_pool2d

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x`` (N, C, H, W)."""
        return type(self).function(x, self.kernel_size, self.stride, self.padding)


class MaxPool2d(_Pool):
    """``tg.max_pool2d``: the maximum of each window."""

    function = staticmethod(C.max_pool2d)


class AvgPool2d(_Pool):
    """``tg.avg_pool2d``: the mean of each window, the padding counted as zeros."""

    function = staticmethod(C.avg_pool2d)


class Flatten(Module):
    """(N, ...) → (N, −1): each sample's features in one row, between convolutional and
    ``Linear`` layers."""

    def forward(self, x: Any) -> Tensor:
        """The layer applied to ``x``."""
        shape = x.shape if isinstance(x, Tensor) else np.shape(x)
        if len(shape) < 1:
            raise ValueError(f"Flatten: the input needs a batch axis, got shape {shape}")
        return ops.reshape(x, (shape[0], -1))


def mlp(sizes: list[int], activation: type[Module] = ReLU, rng: Any = None,
        dtype: Any = None) -> Sequential:
    """A multilayer perceptron: ``Linear`` layers of the given sizes with ``activation`` between
    them (none after the last). He initialisation before ReLU, Xavier otherwise."""
    if len(sizes) < 2:
        raise ValueError(f"mlp: needs at least an input and an output size, got {sizes}")
    rng = _generator(rng)
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        init = "he" if activation is ReLU and not last else "xavier"
        layers.append(Linear(n_in, n_out, init=init, rng=rng, dtype=dtype))
        if not last:
            layers.append(activation())
    return Sequential(*layers)
