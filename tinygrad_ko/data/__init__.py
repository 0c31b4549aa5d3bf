"""Data for learning: the bundled handwritten digits, a spiral toy problem, and a mini-batch
``DataLoader``. Everything here is plain NumPy; nothing is downloaded.

The digits are the UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0, doi:10.24432/C50P49), in the copy that scikit-learn distributes:
1,797 images of 8×8 pixels with values 0..16, and their labels 0..9.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np

from tinygrad_ko.tensor import _generator, get_default_dtype


def load_digits(normalize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits: ``X`` of shape (1797, 64), pixel values 0..16 in the default float
    dtype (divided by 16 into [0, 1] with ``normalize=True``), and integer labels ``y`` 0..9."""
    with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as raw, \
            gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    X = table[:, :-1].astype(get_default_dtype())
    return (X / 16 if normalize else X), table[:, -1]


def make_spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2,
                rng: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Points on ``classes`` interleaved spiral arms in the plane: a problem no straight line
    separates. Returns ``X`` of shape (n_per_class · classes, 2) and integer labels ``y``.
    ``noise`` is the standard deviation added to each point's angle; ``rng`` a Generator or
    seed."""
    if n_per_class < 1 or classes < 1:
        raise ValueError(f"make_spiral: need n_per_class >= 1 and classes >= 1, got "
                         f"{n_per_class} and {classes}")
    rng = _generator(rng)
    radius = np.linspace(0.0, 1.0, n_per_class)
    points, labels = [], []
    for c in range(classes):
        angle = (radius * 4 + c * 2 * np.pi / classes
                 + rng.standard_normal(n_per_class) * noise)
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(n_per_class, c))
    return np.concatenate(points).astype(get_default_dtype()), np.concatenate(labels)


class DataLoader:
    """Mini-batches ``(X[batch], y[batch])`` of NumPy arrays, one pass per ``for`` loop.

    With ``shuffle`` the order is drawn anew each pass from ``rng`` (a Generator or seed). The
    last batch keeps what is left, so it may be smaller. ``len(loader)`` is the number of batches.
    """

    def __init__(self, X: Any, y: Any, batch_size: int, shuffle: bool = True,
                 rng: Any = None) -> None:
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"DataLoader: X has {len(X)} samples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.X, self.y, self.batch_size, self.shuffle = X, y, batch_size, shuffle
        self.rng = _generator(rng)

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = self.rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            yield self.X[batch], self.y[batch]
