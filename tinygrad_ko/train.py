"""The main job: train a classifier on the bundled digits by mini-batch gradient descent.

``train_digits(TrainConfig(...))`` splits the digits into a training and a held-out test set,
builds an MLP, and for each epoch follows the loss's gradient downhill, one mini-batch at a time;
it returns the ``History`` of losses and accuracies. The command line (``python -m tinygrad_ko
train``) is a thin layer over it. The loss is the lesson's choice:

- ``cee``: softmax cross entropy from the logits (labels as targets);
- ``mse`` and ``se``: (mean) squared error between softmax(logits) and one-hot targets, which
  learns more slowly when the model is confidently wrong: the softmax flattens the gradient.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_ko import functions as F
from tinygrad_ko import losses, mode, nn, optim
from tinygrad_ko.data import DataLoader, load_digits
from tinygrad_ko.tensor import Tensor

LOSSES = ("cee", "mse", "se")
OPTIMIZERS = ("sgd", "momentum", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.003}


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "cee"
    optimizer: str = "adam"
    lr: float | None = None  # None: DEFAULT_LR for the optimizer
    epochs: int = 30
    batch_size: int = 32
    hidden: tuple[int, ...] = (64,)
    seed: int = 0
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("epochs, batch_size and hidden sizes must be positive")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr


@dataclass
class History:
    loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    model: nn.Module | None = None


def loss_function(name: str) -> Callable[[Tensor, np.ndarray], Tensor]:
    """The training loss from logits and integer labels."""
    if name == "cee":
        return losses.softmax_cross_entropy

    squared = losses.mse if name == "mse" else losses.se

    def on_probabilities(logits: Tensor, labels: np.ndarray) -> Tensor:
        one_hot = np.eye(logits.shape[-1], dtype=logits.dtype)[labels]
        return squared(F.softmax(logits, axis=-1), one_hot)

    return on_probabilities


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
    """Train an MLP on the digits; ``progress`` wraps each epoch's batches (a progress bar),
    ``log`` receives one line per epoch."""
    rng = np.random.default_rng(config.seed)
    X, y = load_digits(normalize=True)
    X_train, y_train, X_test, y_test = split(X, y, config.test_fraction, rng)
    model = nn.mlp([X.shape[1], *config.hidden, 10], rng=rng)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate)
    compute_loss = loss_function(config.loss)
    loader = DataLoader(X_train, y_train, config.batch_size, shuffle=True, rng=rng)
    history = History(model=model)
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        total, count = 0.0, 0
        batches = loader if progress is None else progress(loader, f"epoch {epoch}")
        for xb, yb in batches:
            loss = compute_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            # The mean over samples: se sums over its batch, cee and mse average over it.
            total += loss.item() if config.loss == "se" else loss.item() * len(xb)
            count += len(xb)
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{total / count:.4f}")
        history.loss.append(total / count)
        history.train_accuracy.append(accuracy(model, X_train, y_train))
        history.test_accuracy.append(accuracy(model, X_test, y_test))
        if log:
            log(f"epoch {epoch:>3}/{config.epochs}  loss {history.loss[-1]:.4f}  "
                f"train acc {history.train_accuracy[-1]:6.2%}  "
                f"test acc {history.test_accuracy[-1]:6.2%}")
    history.seconds = time.perf_counter() - start
    return history


class PlainProgress:
    """A one-line progress bar for when tqdm is not installed: ``epoch 3 [#####     ] 12/45``,
    redrawn in place on a terminal and written once per epoch otherwise."""

    def __init__(self, items: Iterable, description: str, stream: Any = None) -> None:
        self.items, self.description = items, description
        self.stream = stream or sys.stderr
        self.total = len(items) if hasattr(items, "__len__") else 0
        self.postfix = ""

    def set_postfix(self, **values: Any) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def _draw(self, done: int, end: str) -> None:
        width = 20
        filled = width * done // self.total if self.total else 0
        bar = "#" * filled + " " * (width - filled)
        self.stream.write(f"\r{self.description} [{bar}] {done}/{self.total} {self.postfix}"
                          + end)
        self.stream.flush()

    def __iter__(self) -> Iterator:
        interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        done = 0
        for item in self.items:
            yield item
            done += 1
            if interactive:
                self._draw(done, "")
        self._draw(done, "\n")


def progress_bar(quiet: bool) -> Callable[[Iterable, str], Iterable] | None:
    """tqdm when it is installed, else ``PlainProgress``; None when quiet."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return PlainProgress
    return lambda items, description: tqdm(items, desc=description, leave=False)


def plot_history(history: History, path: str) -> None:
    """Loss and accuracy curves as a PNG (needs matplotlib: ``pip install tinygrad_ko[plot]``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history.loss) + 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history.loss, marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    right.plot(epochs, history.train_accuracy, marker="o", label="train")
    right.plot(epochs, history.test_accuracy, marker="s", label="test")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
