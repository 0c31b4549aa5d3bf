"""Small NumPy helpers shared by the tests, written independently of the library."""

from __future__ import annotations

import numpy as np


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` (of a broadcast shape) back to ``shape``: the gradient of a broadcast operand,
    written from NumPy's broadcasting rules (leading axes added, size-1 axes stretched)."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g
