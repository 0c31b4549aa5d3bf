"""The benchmark workloads: one training step, written three ways.

A workload holds its data and its initial parameters (NumPy arrays drawn from a fixed seed) and
builds the same training step (forward, backward, and the plain SGD update p ← p − lr · g) for
each framework:

- ``numpy()``: forward and backward written out by hand in NumPy. This is the floor that a
  framework built on NumPy can reach, and every ratio in the report is taken against it.
- ``tinygrad()``: tinygrad_ko through its public API (``tg.nn``, ``tg.losses``,
  ``tg.optim.SGD``).
- ``torch(torch)``: PyTorch, for those who have it installed (``torch`` is the module).

Each returns a ``Step``, built by ``numpy_sgd``, ``tinygrad_sgd`` or ``torch_sgd``. All three
use the same dtype and the same arithmetic, so their losses, gradients and updated parameters
agree up to rounding. ``run.py`` checks that at start-up, before it times anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_ko as tg

Arrays = list[np.ndarray]


@dataclass
class Step:
    """One framework's training step for one workload.

    ``run()`` does the forward pass, the backward pass and the SGD update. ``loss_and_gradients()``
    does only the forward and backward passes and returns the loss and one gradient per
    parameter, as NumPy copies. ``parameters()`` returns the current parameter values.
    """

    run: Callable[[], None]
    loss_and_gradients: Callable[[], tuple[float, Arrays]]
    parameters: Callable[[], Arrays]


def numpy_sgd(parameters: Arrays, loss_and_gradients: Callable[[Arrays], tuple[Any, Arrays]],
              lr: float) -> Step:
    """The NumPy step. ``loss_and_gradients(parameters)`` is the workload's hand-written forward
    and backward pass; the update changes the arrays in place."""

    def run() -> None:
        _, gradients = loss_and_gradients(parameters)
        for p, g in zip(parameters, gradients):
            p -= lr * g

    def loss_and_copied_gradients() -> tuple[float, Arrays]:
        loss, gradients = loss_and_gradients(parameters)
        return float(loss), [g.copy() for g in gradients]

    return Step(run, loss_and_copied_gradients, lambda: [p.copy() for p in parameters])


def tinygrad_sgd(parameters: list[tg.Tensor], loss: Callable[[], tg.Tensor], lr: float,
                 compiled: bool = False) -> Step:
    """The tinygrad_ko step: ``loss()`` builds the loss, and ``tg.optim.SGD`` updates. With
    ``compiled`` the forward and backward passes run through ``tg.compile`` (traced at the first
    call, which the timing's warm-up includes)."""
    optimizer = tg.optim.SGD(parameters, lr=lr)

    def loss_backward() -> tg.Tensor:
        value = loss()
        value.backward()
        return value

    step = tg.compile(loss_backward) if compiled else loss_backward

    def forward_backward() -> tg.Tensor:
        optimizer.zero_grad()
        return step()

    def run() -> None:
        forward_backward()
        optimizer.step()

    def loss_and_gradients() -> tuple[float, Arrays]:
        value = forward_backward()
        return value.item(), [p.grad.data.copy() for p in parameters]

    return Step(run, loss_and_gradients, lambda: [p.data.copy() for p in parameters])


def torch_sgd(torch: Any, parameters: list, loss: Callable[[], Any], lr: float) -> Step:
    """The PyTorch step: ``loss()`` builds the loss, and ``torch.optim.SGD`` updates."""
    optimizer = torch.optim.SGD(parameters, lr=lr)

    def forward_backward() -> Any:
        optimizer.zero_grad()
        value = loss()
        value.backward()
        return value

    def run() -> None:
        forward_backward()
        optimizer.step()

    def loss_and_gradients() -> tuple[float, Arrays]:
        value = forward_backward()
        return value.item(), [p.grad.numpy().copy() for p in parameters]

    return Step(run, loss_and_gradients, lambda: [p.detach().numpy().copy() for p in parameters])


# ---- multilayer perceptrons, shared by the MLP classifiers and the two-moons model ------------


def mlp_parameters(sizes: list[int], dtype: Any, rng: np.random.Generator) -> Arrays:
    """[W1, b1, W2, b2, ...] with W of shape (in, out) as in ``tg.nn.Linear``: He-scaled normal
    weights before a ReLU, Xavier-scaled for the last layer, zero biases (as ``tg.nn.mlp``)."""
    parameters = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = k == len(sizes) - 2
        scale = np.sqrt(2.0 / (n_in + n_out)) if last else np.sqrt(2.0 / n_in)
        parameters.append((rng.standard_normal((n_in, n_out)) * scale).astype(dtype))
        parameters.append(np.zeros(n_out, dtype=dtype))
    return parameters


def mlp_parameter_names(sizes: list[int]) -> list[str]:
    return [f"{kind}{k}" for k in range(1, len(sizes)) for kind in ("W", "b")]


def numpy_mlp_forward(parameters: Arrays, x: np.ndarray) -> tuple[np.ndarray, Arrays]:
    """h ← relu(h @ W + b) for every layer but the last, which gives the output z = h @ W + b.
    Returns z and the input of each layer (kept for the backward pass)."""
    weights, biases = parameters[0::2], parameters[1::2]
    layer_inputs = []
    h = x
    for k, (W, b) in enumerate(zip(weights, biases)):
        layer_inputs.append(h)
        h = h @ W + b
        if k < len(weights) - 1:
            h = np.maximum(h, 0)
    return h, layer_inputs


def numpy_mlp_backward(parameters: Arrays, layer_inputs: Arrays, dz: np.ndarray) -> Arrays:
    """Gradients [dW1, db1, ...] from dz = d loss / d output: for each layer from the last,
    dW = hᵀ dz, db = Σ over samples of dz, and the previous layer's dz = (dz Wᵀ) · [h > 0]
    (its ReLU output h is positive exactly where its input was; relu'(0) = 0)."""
    weights = parameters[0::2]
    gradients: Arrays = []
    for k in reversed(range(len(weights))):
        h = layer_inputs[k]
        gradients = [h.T @ dz, dz.sum(axis=0), *gradients]
        if k > 0:
            dz = (dz @ weights[k].T) * (h > 0)
    return gradients


def tinygrad_mlp(sizes: list[int], parameters: Arrays, dtype: Any) -> tg.nn.Sequential:
    """``tg.nn.mlp`` (Linear layers with ReLU between them) holding the given parameters."""
    model = tg.nn.mlp(sizes, dtype=dtype)
    model.load_state_dict(dict(zip(model.state_dict(), parameters)))  # names in parameter order
    return model


def torch_mlp(torch: Any, parameters: list, x: Any) -> Any:
    """The same MLP in PyTorch, on raw tensors so that W keeps the (in, out) layout."""
    weights, biases = parameters[0::2], parameters[1::2]
    for k, (W, b) in enumerate(zip(weights, biases)):
        x = x @ W + b
        if k < len(weights) - 1:
            x = torch.relu(x)
    return x


def torch_leaves(torch: Any, arrays: Arrays) -> list:
    """Copies of ``arrays`` as PyTorch leaf tensors that require grad."""
    return [torch.tensor(a, requires_grad=True) for a in arrays]


# ---- the workloads ----------------------------------------------------------------------------


class Workload:
    """What every workload has. ``name`` is its key for ``run.py --only``, ``title`` its row in
    the report, ``target`` the largest acceptable tinygrad_ko / NumPy time ratio per step."""

    name: str
    title: str
    target: float
    compiled_target: float
    dtype: Any
    lr: float
    parameter_names: list[str]
    initial: Arrays

    def numpy(self) -> Step:
        raise NotImplementedError

    def tinygrad(self, compiled: bool = False) -> Step:
        """The tinygrad_ko step, eager or through ``tg.compile`` (``compiled``)."""
        raise NotImplementedError

    def torch(self, torch: Any) -> Step:
        raise NotImplementedError


class MLPClassifier(Workload):
    """A multilayer perceptron classifier on one fixed mini-batch: Linear layers with ReLU
    between them, softmax cross entropy on integer labels, averaged over the batch.

    Loss: mean over samples n of logsumexp(z_n) − z_n[label_n], z the logits. Its gradient
    with respect to the logits is (softmax(z) − one_hot(labels)) / N.
    """

    def __init__(self, name: str, title: str, sizes: list[int], x: np.ndarray,
                 labels: np.ndarray, target: float, dtype: Any = np.float32,
                 lr: float = 0.1, seed: int = 0) -> None:
        self.name, self.title, self.target, self.dtype, self.lr = name, title, target, dtype, lr
        self.sizes = sizes
        self.x = np.asarray(x, dtype=dtype)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.initial = mlp_parameters(sizes, dtype, np.random.default_rng(seed))
        self.parameter_names = mlp_parameter_names(sizes)

    def numpy_loss_and_gradients(self, parameters: Arrays) -> tuple[Any, Arrays]:
        z, layer_inputs = numpy_mlp_forward(parameters, self.x)
        n = len(self.labels)
        rows = np.arange(n)
        shifted = z - z.max(axis=1, keepdims=True)  # softmax and logsumexp without overflow
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(total[:, 0]) - shifted[rows, self.labels])
        dz = exp / total
        dz[rows, self.labels] -= 1
        dz /= n
        return loss, numpy_mlp_backward(parameters, layer_inputs, dz)

    def numpy(self) -> Step:
        parameters = [p.copy() for p in self.initial]
        return numpy_sgd(parameters, self.numpy_loss_and_gradients, self.lr)

    def tinygrad(self, compiled: bool = False) -> Step:
        model = tinygrad_mlp(self.sizes, self.initial, self.dtype)
        return tinygrad_sgd(model.parameters(),
                            lambda: tg.losses.softmax_cross_entropy(model(self.x), self.labels),
                            self.lr, compiled)

    def torch(self, torch: Any) -> Step:
        parameters = torch_leaves(torch, self.initial)
        x, labels = torch.from_numpy(self.x), torch.from_numpy(self.labels)
        return torch_sgd(
            torch, parameters,
            lambda: torch.nn.functional.cross_entropy(torch_mlp(torch, parameters, x), labels),
            self.lr,
        )


class Chain(Workload):
    """A long chain of small elementwise operations on a vector ``x``, the only parameter: what
    a framework costs per operation, and whether its backward pass survives a deep graph.

    The chain repeats the cycle ×0.5, exp, log, ×2, which gives back its input, so values stay
    near x and the gradient near 1 however long the chain is (a chain of tanh and scaling would
    underflow to zero and make the gradient check vacuous). Loss: Σ (h − 1)² on the chain's
    output h, so SGD pulls x towards 1 and the values stay put during timing.
    """

    def __init__(self, name: str, title: str, length: int, size: int, dtype: Any,
                 target: float, lr: float = 0.1, seed: int = 0) -> None:
        if length % 4:
            raise ValueError(f"Chain: length must be a multiple of 4, got {length}")
        self.name, self.title, self.target, self.dtype, self.lr = name, title, target, dtype, lr
        self.cycles = length // 4
        self.initial = [np.random.default_rng(seed).standard_normal(size).astype(dtype)]
        self.parameter_names = ["x"]

    def numpy_loss_and_gradients(self, parameters: Arrays) -> tuple[Any, Arrays]:
        (x,) = parameters
        exps = []  # exp's output: both exp's and log's derivatives need it
        h = x
        for _ in range(self.cycles):
            e = np.exp(h * 0.5)
            exps.append(e)
            h = np.log(e) * 2.0
        d = h - 1.0
        loss = np.sum(d * d)
        g = 2.0 * d
        for e in reversed(exps):
            g = g * 2.0  # ×2
            g = g / e  # log: 1 / input
            g = g * e  # exp: its output
            g = g * 0.5  # ×0.5
        return loss, [g]

    def numpy(self) -> Step:
        return numpy_sgd([self.initial[0].copy()], self.numpy_loss_and_gradients, self.lr)

    def tinygrad(self, compiled: bool = False) -> Step:
        x = tg.Tensor(self.initial[0], requires_grad=True)

        def loss() -> tg.Tensor:
            h = x
            for _ in range(self.cycles):
                h = (h * 0.5).exp().log() * 2.0
            d = h - 1.0
            return (d * d).sum()

        return tinygrad_sgd([x], loss, self.lr, compiled)

    def torch(self, torch: Any) -> Step:
        (x,) = torch_leaves(torch, self.initial)

        def loss() -> Any:
            h = x
            for _ in range(self.cycles):
                h = torch.log(torch.exp(h * 0.5)) * 2.0
            d = h - 1.0
            return (d * d).sum()

        return torch_sgd(torch, [x], loss, self.lr)


class LinearRegression(Workload):
    """Least squares on the whole data set in each step: y = X w + b, loss = mean((y − t)²),
    X of shape (1000, 10). Gradient: with r = y − t, dw = Xᵀ (2r / n) and db = Σ 2r / n."""

    def __init__(self, name: str, title: str, target: float, samples: int = 1000,
                 features: int = 10, dtype: Any = np.float32, lr: float = 0.05,
                 seed: int = 0) -> None:
        self.name, self.title, self.target, self.dtype, self.lr = name, title, target, dtype, lr
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((samples, features)).astype(dtype)
        true_w = rng.standard_normal(features)
        self.t = (self.x @ true_w + 0.5 + 0.1 * rng.standard_normal(samples)).astype(dtype)
        self.initial = [np.zeros(features, dtype=dtype), np.zeros(1, dtype=dtype)]
        self.parameter_names = ["w", "b"]

    def numpy_loss_and_gradients(self, parameters: Arrays) -> tuple[Any, Arrays]:
        w, b = parameters
        r = self.x @ w + b - self.t
        loss = np.mean(r * r)
        dr = r * (2.0 / r.size)
        return loss, [self.x.T @ dr, dr.sum(keepdims=True)]

    def numpy(self) -> Step:
        return numpy_sgd([p.copy() for p in self.initial], self.numpy_loss_and_gradients,
                         self.lr)

    def tinygrad(self, compiled: bool = False) -> Step:
        w, b = (tg.Tensor(p, requires_grad=True) for p in self.initial)
        x = tg.Tensor(self.x)
        return tinygrad_sgd([w, b], lambda: tg.losses.mse(x @ w + b, self.t), self.lr, compiled)

    def torch(self, torch: Any) -> Step:
        w, b = torch_leaves(torch, self.initial)
        x, t = torch.from_numpy(self.x), torch.from_numpy(self.t)
        return torch_sgd(torch, [w, b],
                         lambda: torch.nn.functional.mse_loss(x @ w + b, t), self.lr)


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles in the plane (as scikit-learn's ``make_moons``), with
    Gaussian noise, and labels −1 (upper moon) and +1 (lower moon)."""
    n_upper = n // 2
    angle_upper = np.linspace(0, np.pi, n_upper)
    angle_lower = np.linspace(0, np.pi, n - n_upper)
    upper = np.stack([np.cos(angle_upper), np.sin(angle_upper)], axis=1)
    lower = np.stack([1 - np.cos(angle_lower), 0.5 - np.sin(angle_lower)], axis=1)
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([-np.ones(n_upper), np.ones(n - n_upper)])
    return x, y


class Moons(Workload):
    """micrograd's demo: a 2-16-16-1 ReLU MLP separating 100 two-moons points, float64.

    Loss: max-margin (hinge) loss plus L2 regularization,
    mean over samples of relu(1 − y s) + α Σ_p Σ p², with scores s and labels y = ±1.
    Gradient: ds = −y · [1 − y s > 0] / N, and 2α p added to each parameter's gradient.
    """

    def __init__(self, name: str, title: str, target: float, samples: int = 100,
                 sizes: tuple[int, ...] = (2, 16, 16, 1), alpha: float = 1e-4,
                 lr: float = 0.05, seed: int = 0) -> None:
        self.name, self.title, self.target, self.lr = name, title, target, lr
        self.dtype = np.float64
        rng = np.random.default_rng(seed)
        self.sizes, self.alpha = list(sizes), alpha
        self.x, self.y = make_moons(samples, 0.1, rng)
        self.initial = mlp_parameters(self.sizes, self.dtype, rng)
        self.parameter_names = mlp_parameter_names(self.sizes)

    def numpy_loss_and_gradients(self, parameters: Arrays) -> tuple[Any, Arrays]:
        z, layer_inputs = numpy_mlp_forward(parameters, self.x)
        margin = 1 - self.y * z[:, 0]
        loss = np.mean(np.maximum(margin, 0)) + self.alpha * sum(np.sum(p * p) for p in parameters)
        dz = (-self.y * (margin > 0) / len(self.y))[:, None]
        gradients = numpy_mlp_backward(parameters, layer_inputs, dz)
        return loss, [g + 2 * self.alpha * p for g, p in zip(gradients, parameters)]

    def numpy(self) -> Step:
        parameters = [p.copy() for p in self.initial]
        return numpy_sgd(parameters, self.numpy_loss_and_gradients, self.lr)

    def tinygrad(self, compiled: bool = False) -> Step:
        model = tinygrad_mlp(self.sizes, self.initial, self.dtype)
        parameters = model.parameters()

        def loss() -> tg.Tensor:
            scores = model(self.x).reshape(-1)
            hinge = (1 - scores * self.y).relu().mean()
            return hinge + self.alpha * sum((p * p).sum() for p in parameters)

        return tinygrad_sgd(parameters, loss, self.lr, compiled)

    def torch(self, torch: Any) -> Step:
        parameters = torch_leaves(torch, self.initial)
        x, y = torch.from_numpy(self.x), torch.from_numpy(self.y)

        def loss() -> Any:
            scores = torch_mlp(torch, parameters, x).reshape(-1)
            hinge = torch.relu(1 - scores * y).mean()
            return hinge + self.alpha * sum((p * p).sum() for p in parameters)

        return torch_sgd(torch, parameters, loss, self.lr)


class ConvLayer(Workload):
    """One convolution layer (3×3, padding 1, stride 1, NCHW, float32) on a fixed batch, its
    forward and backward pass, against the book's ``Convolution`` layer written with NumPy:
    im2col, then ``col @ W.reshape(F, −1)ᵀ + b``; backward db = Σ dout, dW = (colᵀ dout)ᵀ.

    Loss: Σ (y · R) over the layer's output y with fixed random weights R, so the upstream
    gradient of y is R. The input is data (no gradient with respect to it, on either side).
    """

    def __init__(self, name: str, title: str, batch: int, channels: int, features: int,
                 size: int, target: float, lr: float = 0.01, seed: int = 0) -> None:
        self.name, self.title, self.target, self.lr = name, title, target, lr
        self.dtype = np.float32
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
        self.r = rng.standard_normal((batch, features, size, size)).astype(np.float32)
        scale = np.sqrt(2.0 / (channels * 9))
        self.initial = [(rng.standard_normal((features, channels, 3, 3)) * scale)
                        .astype(np.float32), np.zeros(features, np.float32)]
        self.parameter_names = ["W", "b"]

    @staticmethod
    def numpy_im2col(x: np.ndarray, kh: int, kw: int, pad: int) -> np.ndarray:
        """The book's im2col (stride 1): one slice per position in the window."""
        n, c, h, w = x.shape
        oh, ow = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        col = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                col[:, :, i, j] = padded[:, :, i : i + oh, j : j + ow]
        return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)

    def numpy_loss_and_gradients(self, parameters: Arrays) -> tuple[Any, Arrays]:
        w, b = parameters
        f = w.shape[0]
        n, _, h, width = self.x.shape
        col = self.numpy_im2col(self.x, 3, 3, 1)
        out = (col @ w.reshape(f, -1).T + b).reshape(n, h, width, f).transpose(0, 3, 1, 2)
        loss = np.sum(out * self.r)
        dout = self.r.transpose(0, 2, 3, 1).reshape(-1, f)
        return loss, [(col.T @ dout).T.reshape(w.shape), dout.sum(axis=0)]

    def numpy(self) -> Step:
        return numpy_sgd([p.copy() for p in self.initial], self.numpy_loss_and_gradients,
                         self.lr)

    def tinygrad(self, compiled: bool = False) -> Step:
        w, b = (tg.Tensor(p, requires_grad=True) for p in self.initial)
        x = tg.Tensor(self.x)  # (a tensor, read at every call: compiled code cannot fold im2col)
        return tinygrad_sgd([w, b], lambda: (tg.conv2d(x, w, b, padding=1) * self.r).sum(),
                            self.lr, compiled)

    def torch(self, torch: Any) -> Step:
        w, b = torch_leaves(torch, self.initial)
        x, r = torch.from_numpy(self.x), torch.from_numpy(self.r)
        return torch_sgd(torch, [w, b],
                         lambda: (torch.nn.functional.conv2d(x, w, b, padding=1) * r).sum(),
                         self.lr)


# The largest acceptable time per step of the compiled step (tg.compile) as a multiple of the
# NumPy step, by workload (issue 13).
COMPILED_TARGETS = {"mlp-64": 1.2, "mlp-784": 1.03, "chain-200": 1.2, "linreg": 1.3, "moons": 1.3,
                    "chain-20000": 1.3, "conv-1-16": 1.05, "conv-16-32": 1.05}


def all_workloads() -> list[Workload]:
    """The workloads of the issue, in the order of the report."""
    digits, digit_labels = tg.data.load_digits(normalize=True)
    rng = np.random.default_rng(0)
    workloads = [
        MLPClassifier("mlp-64", "MLP 64-32-10, batch 32 (digits), float32", [64, 32, 10],
                      digits[:32], digit_labels[:32], target=1.6),
        MLPClassifier("mlp-784", "MLP 784-256-10, batch 128 (random inputs), float32",
                      [784, 256, 10], rng.standard_normal((128, 784)), rng.integers(0, 10, 128),
                      target=1.08),
        Chain("chain-200", "chain of 200 elementwise ops on (16,), float32", length=200,
              size=16, dtype=np.float32, target=2.5),
        LinearRegression("linreg", "linear regression, X (1000, 10), MSE, float32",
                         target=2.5),
        Moons("moons", "2-16-16-1 MLP, 100 two-moons points, hinge + L2, float64",
              target=2.0),
        Chain("chain-20000", "chain of 20,000 ops on (1,), float64", length=20_000, size=1,
              dtype=np.float64, target=3.0),
        ConvLayer("conv-1-16", "conv 3×3, 1→16 channels, 8×8, batch 64, float32", batch=64,
                  channels=1, features=16, size=8, target=1.15),
        ConvLayer("conv-16-32", "conv 3×3, 16→32 channels, 14×14, batch 64, float32", batch=64,
                  channels=16, features=32, size=14, target=1.15),
    ]
    for workload in workloads:
        workload.compiled_target = COMPILED_TARGETS[workload.name]
    return workloads
