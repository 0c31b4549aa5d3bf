"""The main job: train a classifier on the bundled digits by mini-batch gradient descent.

``train_digits(TrainConfig(...))`` splits the digits into a training and a held-out test set,
builds an MLP, and for each epoch follows the loss's gradient downhill, one mini-batch at a time;
it returns the ``History`` of losses and accuracies. The command line (``python -m tinygrad_ko
train``) is a thin layer over it, and what it shows while and after training (the progress bar,
the loss-curve plot) lives there, in ``tinygrad_ko.cli``. The loss is the lesson's choice:

- ``cee``: softmax cross entropy from the logits (labels as targets);
- ``mse`` and ``se``: (mean) squared error between softmax(logits) and one-hot targets, which
  learns more slowly when the model is confidently wrong: the softmax flattens the gradient.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_ko import functions as F
from tinygrad_ko import losses, mode, nn, ops, optim
from tinygrad_ko.compiler import compile as compile_step
from tinygrad_ko.data import DataLoader, load_digits
from tinygrad_ko.tensor import Tensor

LOSSES = ("cee", "mse", "se")
OPTIMIZERS = ("sgd", "momentum", "adam")
MODELS = ("mlp", "cnn")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.003}
# The CNN's defaults: Adam a little slower, and fewer epochs (it is slower per epoch and learns
# faster); measured on the held-out split of seed 0: 98.9% after 20 epochs.
CNN_DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.002}
DEFAULT_EPOCHS = {"mlp": 30, "cnn": 20}


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "cee"
    optimizer: str = "adam"
    lr: float | None = None  # None: the model's default for the optimizer
    epochs: int | None = None  # None: DEFAULT_EPOCHS of the model
    batch_size: int = 32
    hidden: tuple[int, ...] = (64,)  # the MLP's hidden layers
    seed: int = 0
    test_fraction: float = 0.2
    compile: bool = False  # run each step through tg.compile (the same numbers, faster)
    model: str = "mlp"  # "mlp", or "cnn": a small convolutional network on the 8×8 images

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.num_epochs < 1 or self.batch_size < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("epochs, batch_size and hidden sizes must be positive")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        # inf passes "lr > 0" and would make every parameter NaN at the first step
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            # NumPy's generators take only non-negative integer seeds
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    @property
    def learning_rate(self) -> float:
        defaults = CNN_DEFAULT_LR if self.model == "cnn" else DEFAULT_LR
        return defaults[self.optimizer] if self.lr is None else self.lr

    @property
    def num_epochs(self) -> int:
        return DEFAULT_EPOCHS[self.model] if self.epochs is None else self.epochs

    def describe(self) -> str:
        """The model in words: "MLP 64-64-10" or the CNN's layers."""
        if self.model == "cnn":
            return "CNN conv3×3(32)-pool-conv3×3(64)-pool-10"
        return f"MLP 64-{'-'.join(map(str, self.hidden))}-10"


@dataclass
class History:
    loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)  # the training loop of each epoch
    seconds: float = 0.0
    model: nn.Module | None = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``train_digits``, at ``epoch``: ``history`` holds the epochs that completed,
    and ``history.model`` the parameters as they were at the end of the last one (the updates
    of the interrupted epoch are undone). A KeyboardInterrupt, so it stops a program as one."""

    def __init__(self, epoch: int, history: History) -> None:
        super().__init__(f"interrupted at epoch {epoch}")
        self.epoch, self.history = epoch, history


def loss_function(name: str) -> Callable[[Tensor, np.ndarray], Tensor]:
    """The training loss from logits and integer labels."""
    if name == "cee":
        return losses.softmax_cross_entropy

    squared = losses.mse if name == "mse" else losses.se

    def on_probabilities(logits: Tensor, labels: Any) -> Tensor:
        # (labels may be a Tensor: ops.one_hot takes both, and tg.compile traces it)
        one_hot = ops.one_hot(labels, logits.shape, logits.dtype)
        return squared(F.softmax(logits, axis=-1), one_hot)

    return on_probabilities


def cnn(rng: np.random.Generator) -> nn.Sequential:
    """The digits CNN, for (N, 1, 8, 8) images: two 3×3 convolutions (32 and 64 channels, padding
    1) each followed by ReLU and 2×2 max pooling (8×8 → 4×4 → 2×2), then one Linear layer to the
    10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 10, rng=rng))


def make_optimizer(name: str, params: list, lr: float) -> optim.Optimizer:
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def split(X: np.ndarray, y: np.ndarray, test_fraction: float,
          rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A random held-out split: (X_train, y_train, X_test, y_test)."""
    order = rng.permutation(len(X))
    n_test = round(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


@mode.no_grad()
def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float((model(X).data.argmax(axis=-1) == y).mean())


def train_digits(config: TrainConfig, progress: Callable[[Iterable, str], Iterable] | None = None,
                 log: Callable[[str], None] | None = None) -> History:
    """Train an MLP on the digits; ``progress(batches, description)`` wraps each epoch's
    batches (a progress bar such as ``cli.progress_bar(quiet=False)`` gives), ``log`` receives
    one line per epoch. Ctrl-C raises ``Interrupted``, which holds the model of the last
    completed epoch."""
    rng = np.random.default_rng(config.seed)
    X, y = load_digits(normalize=True)
    X_train, y_train, X_test, y_test = split(X, y, config.test_fraction, rng)
    if config.model == "cnn":
        X_train, X_test = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
        model = cnn(rng)
    else:
        model = nn.mlp([X.shape[1], *config.hidden, 10], rng=rng)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate)
    compute_loss = loss_function(config.loss)

    def forward_backward(xb: Any, yb: Any) -> Tensor:
        loss = compute_loss(model(xb), yb)
        loss.backward()
        return loss

    step = compile_step(forward_backward) if config.compile else forward_backward
    loader = DataLoader(X_train, y_train, config.batch_size, shuffle=True, rng=rng)
    history = History(model=model)
    start = time.perf_counter()
    # (epochs completed, a copy of the parameters after them), replaced in one assignment so
    # that a Ctrl-C at any point finds the two in step.
    completed = (0, model.state_dict())
    batches: Iterable = loader
    try:
        for epoch in range(1, config.num_epochs + 1):
            total, count = 0.0, 0
            epoch_start = time.perf_counter()
            batches = loader if progress is None else progress(loader, f"epoch {epoch}")
            for xb, yb in batches:
                optimizer.zero_grad()
                loss = step(xb, yb)
                optimizer.step()
                # The mean over samples: se sums over its batch, cee and mse average over it.
                total += loss.item() if config.loss == "se" else loss.item() * len(xb)
                count += len(xb)
                if hasattr(batches, "set_postfix"):
                    batches.set_postfix(loss=f"{total / count:.4f}")
            history.epoch_seconds.append(time.perf_counter() - epoch_start)
            history.loss.append(total / count)
            history.train_accuracy.append(accuracy(model, X_train, y_train))
            history.test_accuracy.append(accuracy(model, X_test, y_test))
            completed = (epoch, model.state_dict())
            if log:
                log(f"epoch {epoch:>3}/{config.num_epochs}  loss {history.loss[-1]:.4f}  "
                    f"train acc {history.train_accuracy[-1]:6.2%}  "
                    f"test acc {history.test_accuracy[-1]:6.2%}  "
                    f"{history.epoch_seconds[-1]:.3f} s")
    except KeyboardInterrupt:
        if hasattr(batches, "close"):  # end a half-drawn progress bar
            batches.close()
        done, parameters = completed
        model.load_state_dict(parameters)  # undo the interrupted epoch's updates
        for values in (history.loss, history.train_accuracy, history.test_accuracy):
            del values[done:]
        history.seconds = time.perf_counter() - start
        raise Interrupted(min(done + 1, config.num_epochs), history) from None
    history.seconds = time.perf_counter() - start
    return history
