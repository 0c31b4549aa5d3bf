"""The losses' gradients and Hessians derived by hand, as plain NumPy functions of ``(y, t)``.

Nothing here uses autodiff: these are the formulas worked out on paper, written down so that the
autodiff of ``tinygrad_ko.losses`` can be checked against them (``tg.testing.assert_grad_matches``
and ``python -m tinygrad_ko gradcheck`` do exactly that). ``y`` is the prediction, ``t`` the
target; integer labels ``t`` of shape ``(N,)`` stand for one-hot rows. Hessians are over the
flattened ``y``: shape ``(y.size, y.size)``.
"""

from __future__ import annotations

import numpy as np


def _batch(y: np.ndarray) -> int:
    """N, the number of samples: the first axis when y has two or more dimensions, else 1."""
    return y.shape[0] if y.ndim >= 2 else 1


def _dense(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Integer labels as one-hot rows of y's shape; one-hot or probability rows as they are."""
    t = np.asarray(t)
    if t.dtype.kind in "iu" and t.shape != y.shape:
        return np.eye(y.shape[-1])[t].reshape(y.shape)
    return t.astype(np.float64)


def se_grad(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d/dy ½ Σ (y − t)² = y − t: the ½ cancels the 2 of the square's derivative."""
    return y - t


def mse_grad(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d/dy (1/n) Σ (y − t)² = 2 (y − t) / n, n = y.size."""
    return 2 * (y - t) / y.size


def cee_grad(y: np.ndarray, t: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """d/dy −(1/N) Σ t log(y + eps) = −t / (N (y + eps))."""
    return -_dense(y, t) / (_batch(y) * (y + eps))


def softmax_cross_entropy_grad(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d/dz −(1/N) Σ t log softmax(z) = (softmax(z) − t) / N, for target rows that sum to 1.

    Derivation: log softmax(z)_j = z_j − log Σ_k exp z_k, so d/dz_i Σ_j t_j log softmax(z)_j
    = t_i − softmax(z)_i Σ_j t_j = t_i − softmax(z)_i.
    """
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return (p - _dense(z, t)) / _batch(z)


def bce_grad(y: np.ndarray, t: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """d/dy −(1/n) Σ [t log(y + eps) + (1 − t) log(1 − y + eps)]
    = −(1/n) [t / (y + eps) − (1 − t) / (1 − y + eps)], n = y.size."""
    return -(t / (y + eps) - (1 - t) / (1 - y + eps)) / y.size


def se_hessian(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d²/dy² ½ Σ (y − t)² = I."""
    return np.eye(y.size)


def mse_hessian(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d²/dy² (1/n) Σ (y − t)² = 2 I / n."""
    return 2 * np.eye(y.size) / y.size


def cee_hessian(y: np.ndarray, t: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """d²/dy² −(1/N) Σ t log(y + eps) = diag(t / (N (y + eps)²))."""
    return np.diag((_dense(y, t) / (_batch(y) * (y + eps) ** 2)).ravel())
