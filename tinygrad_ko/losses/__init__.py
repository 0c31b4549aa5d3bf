"""Loss functions (손실 함수): plain Tensor expressions with no hand-written backward, except
one fused loss.

A loss measures how far the prediction ``y`` (예측값) is from the target ``t`` (정답); gradient
descent follows its derivative downhill. Each function returns a scalar Tensor and its docstring
states the formula, the derivative and a one-line derivation; ``tinygrad_ko.losses.reference``
holds those derivatives as NumPy functions, and the tests check autodiff against them.

SE, MSE, CEE and BCE are composed from the primitives of the table of derivatives
(``tinygrad_ko.ops``), so the engine differentiates them with no backward code here. Softmax
cross entropy is the exception: it is one fused row of that table
(``ops.softmax_cross_entropy``, ``ops.softmax_cross_entropy_labels``), for speed (one node
instead of the six of its expression, on the hot path of every training step) and computed in
log space for stability (no probability is formed or clipped). Its definition, the composed
expression −(1/N) Σ t log_softmax(z), stays here as ``_softmax_cross_entropy_composed``, and the
tests hold the fused row equal to it in value, gradient and second derivatives.

Shapes: ``y`` and ``t`` must have the same shape, except that the cross entropies also take
integer class labels ``t`` of shape ``(N,)`` for ``y`` of shape ``(N, C)`` (or one label for a
single ``(C,)`` sample). When ``y`` has two or more dimensions, its first axis is the batch.
Anything else raises ``ValueError`` naming both shapes; nothing is broadcast between ``y`` and
``t``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_ko import ops
from tinygrad_ko.kernels import batch_size
from tinygrad_ko.losses import reference
from tinygrad_ko.tensor import Tensor


def _prepare(name: str, y: Any, t: Any, labels: bool = False) -> tuple[Tensor, Any, bool]:
    """Check shapes; return y as a Tensor, t as a Tensor or an array of y's float dtype, and
    whether t holds integer labels."""
    y = y if isinstance(y, Tensor) else Tensor(y)
    target = t.data if isinstance(t, Tensor) else np.asarray(t)
    if labels and target.dtype.kind in "iu" and target.shape == y.shape[:-1] and y.ndim in (1, 2):
        classes = y.shape[-1]
        if target.size and (target.min() < 0 or target.max() >= classes):
            bad = target[(target < 0) | (target >= classes)]
            raise ValueError(f"{name}: label {int(bad[0])} is out of range for {classes} classes "
                             f"(y has shape {y.shape})")
        # The graph keeps the labels: a copy of an array (the caller's may change later), a
        # Tensor as it is (its version guards it, and tg.compile traces it).
        return y, t if isinstance(t, Tensor) else target.copy(), True
    if target.shape != y.shape:
        allowed = " (or integer labels of shape y.shape[:-1])" if labels else ""
        raise ValueError(f"{name}: y has shape {y.shape} but t has shape {target.shape}; they "
                         f"must have the same shape{allowed}")
    if target.dtype.kind not in "biuf":
        raise TypeError(f"{name}: t must be numeric, got dtype {target.dtype}")
    if not isinstance(t, Tensor):  # (an array of y's dtype as it is, as y - t would take it)
        t = target.astype(y.dtype, copy=False) if y.dtype.kind == "f" else target
    return y, t, False


def _picked(y: Tensor, labels: Any) -> Tensor:
    """y's entry at each sample's label: y[n, labels[n]] (or y[label] for one sample)."""
    return ops.pick(y, labels)


def squared_error(y: Any, t: Any) -> Tensor:
    """제곱 오차 (squared error, SE): E = ½ Σ (y − t)².

    Derivative: dE/dy = y − t, because d/dy ½ (y − t)² = ½ · 2 (y − t): the ½ is there so that
    the 2 cancels. Summed over every element (not averaged over the batch). ``t``: a target of
    y's shape.
    """
    y, t, _ = _prepare("squared_error", y, t)
    return 0.5 * ((y - t) ** 2).sum()


def mean_squared_error(y: Any, t: Any) -> Tensor:
    """평균 제곱 오차 (mean squared error, MSE): E = (1/n) Σ (y − t)², n = number of elements.

    Derivative: dE/dy = 2 (y − t) / n, since each term (y − t)² has derivative 2 (y − t) and
    the mean divides by n. ``t``: a target of y's shape.
    """
    y, t, _ = _prepare("mean_squared_error", y, t)
    return ((y - t) ** 2).mean()


def cross_entropy_error(y: Any, t: Any, eps: float = 1e-7) -> Tensor:
    """교차 엔트로피 오차 (cross-entropy error, CEE): E = −(1/N) Σ t log(y + eps), N = batch
    size (1 for a single sample).

    Derivative: dE/dy = −t / (N (y + eps)), since d/dy log(y + eps) = 1 / (y + eps). The small
    eps (δ) keeps log(0) = −inf away when the model gives a class probability 0; −log y grows
    without bound as y → 0, so a confident wrong answer costs a lot. ``y``: probabilities (for
    instance softmax outputs); ``t``: one-hot or probability rows of y's shape, or integer labels
    of shape (N,) (E is then −(1/N) Σ log(y[n, t_n] + eps)).
    """
    y, t, labels = _prepare("cross_entropy_error", y, t, labels=True)
    if labels:
        return -ops.log(_picked(y, t) + eps).sum() / batch_size(y)
    return -(t * ops.log(y + eps)).sum() / batch_size(y)


def softmax_cross_entropy(z: Any, t: Any) -> Tensor:
    """소프트맥스 교차 엔트로피 (softmax cross entropy): E = −(1/N) Σ t log softmax(z), from logits
    ``z``, N = batch size.

    Derivative: dE/dz = (softmax(z) − t) / N for target rows that sum to 1, because
    log softmax(z)_j = z_j − log Σ_k exp z_k. Computed in log space, so logits of any size give a
    finite loss and the right gradient: no probability is clipped.
    ``t``: one-hot or probability rows of z's shape, or integer labels of shape (N,).

    Fused: the one loss with a hand-written backward. It is a single row of the table of
    derivatives (``ops.softmax_cross_entropy``, or ``ops.softmax_cross_entropy_labels`` for
    labels) rather than the six nodes of its definition ``_softmax_cross_entropy_composed``,
    because it runs at every training step; the tests hold the two equal in value, first and
    second derivatives. One difference: a target 0 against a logit −inf adds 0 here (0 · log 0
    taken as 0), where the composed expression gives 0 · (−inf) = NaN.
    """
    z, t, labels = _prepare("softmax_cross_entropy", z, t, labels=True)
    if labels:
        return ops.softmax_cross_entropy_labels(z, t)
    return ops.softmax_cross_entropy(z, t)


def _softmax_cross_entropy_composed(z: Any, t: Any) -> Tensor:
    """The definition of ``softmax_cross_entropy``, composed from primitives like every other
    loss: E = −(1/N) Σ t log_softmax(z), or −(1/N) Σ_n log_softmax(z)[n, t_n] for integer labels
    (one-hot rows picked by index). Six nodes (logsumexp, sub, mul or getitem, sum, neg, div)
    where the fused row is one; not public, kept as the reference the fused row is tested
    against. Takes the same arguments and checks them the same way."""
    z, t, labels = _prepare("softmax_cross_entropy", z, t, labels=True)
    log_p = z.log_softmax(axis=-1)
    if labels:
        return -_picked(log_p, t).sum() / batch_size(z)
    return -(t * log_p).sum() / batch_size(z)


def binary_cross_entropy(y: Any, t: Any, eps: float = 1e-7) -> Tensor:
    """이진 교차 엔트로피 (binary cross entropy, BCE):
    E = −(1/n) Σ [t log(y + eps) + (1 − t) log(1 − y + eps)], n = number of elements.

    Derivative: dE/dy = −(1/n) [t / (y + eps) − (1 − t) / (1 − y + eps)], one log term each:
    d/dy log(y + eps) = 1 / (y + eps) and d/dy log(1 − y + eps) = −1 / (1 − y + eps). ``y``:
    probabilities in [0, 1] (eps keeps y = 0 and y = 1 finite); ``t``: targets in [0, 1] of y's
    shape.
    """
    y, t, _ = _prepare("binary_cross_entropy", y, t)
    return -(t * ops.log(y + eps) + (1 - t) * ops.log(1 - y + eps)).sum() / y.size


se = squared_error
mse = mean_squared_error
cee = cross_entropy_error
bce = binary_cross_entropy

__all__ = ["bce", "binary_cross_entropy", "cee", "cross_entropy_error", "mean_squared_error",
           "mse", "reference", "se", "softmax_cross_entropy", "squared_error"]
