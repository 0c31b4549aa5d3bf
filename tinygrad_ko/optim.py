"""Optimizers: gradient descent and its refinements, updating parameters in place.

Each ``step()`` reads ``p.grad`` of every parameter (skipping those whose grad is None, as when
a parameter took no part in the loss) and changes ``p.data`` in place, under ``no_grad``.
``zero_grad()`` forgets the gradients before the next backward pass.

- ``SGD``: p ← p − lr · g, with optional momentum (heavy ball or Nesterov) and weight decay
  (g ← g + wd · p);
- ``Adam``: per-parameter steps from bias-corrected running means of g and g²;
- ``AdaGrad`` and ``RMSprop``: per-parameter steps divided by the root of the sum (AdaGrad) or of
  a running mean (RMSprop) of g², the book's chapter 6.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_ko import mode
from tinygrad_ko.engine import changed_in_place
from tinygrad_ko.tensor import Tensor


def _check_hyperparameter(optimizer: str, name: str, value: float, *, low_open: bool = False,
                          high: float | None = None) -> None:
    """Refuse a hyperparameter outside [0, high) ((0, high) when ``low_open``), naming it.
    Finiteness is checked on its own: inf passes ``value > 0`` and NaN fails every comparison
    (so ``value < 0`` lets it through), and either would turn every parameter into NaN at the
    first step, far from the mistake."""
    rule = ("> 0" if low_open else ">= 0") if high is None else f"in [0, {high:g})"
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {name} must be a number {rule}, got {value!r}")
    in_range = (value > 0 if low_open else value >= 0) and (high is None or value < high)
    if not (math.isfinite(value) and in_range):
        raise ValueError(f"{optimizer}: {name} must be a finite number {rule}, got {value!r}")


class Optimizer:
    """Holds the parameters and the per-parameter state; subclasses write ``update``."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimize")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is not a leaf Tensor that requires "
                    f"grad (got {type(p).__name__}); pass model.parameters()"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter is given twice (it would be "
                             "updated twice per step)")
        _check_hyperparameter(type(self).__name__, "lr", lr, low_open=True)
        self.params: list[Tensor] = params
        self.lr = lr
        self.state: list[dict[str, Any]] = [{} for _ in params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``)."""
        mode.refuse_in_trace("zero_grad()", "resets gradients, which a compiled function only "
                             "adds to; call it outside, before the compiled step")
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        mode.refuse_in_trace("optimizer.step()", "changes the parameters in place; call it "
                             "outside the compiled function, after it")
        for i, p in enumerate(self.params):
            if p.grad is not None and p.grad.data.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}: parameter {i} has shape {p.shape} but "
                                 f"its gradient has shape {p.grad.shape}")
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self.update(p.data, p.grad.data, state)
                changed_in_place(p)  # a graph made before this step can no longer run backward

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """Change one parameter's ``value`` in place from its ``grad`` and its ``state``."""
        raise NotImplementedError(
            f"{type(self).__name__}: a subclass of Optimizer must define "
            "update(value, grad, state), which changes one parameter's value in place")


class SGD(Optimizer):
    """Stochastic gradient descent: p ← p − lr · g.

    With ``momentum`` μ: v ← μ v + g, and p ← p − lr · v (or, with ``nesterov``,
    p ← p − lr · (g + μ v)). With ``weight_decay`` λ the gradient is g + λ p.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        _check_hyperparameter("SGD", "momentum", momentum)
        _check_hyperparameter("SGD", "weight_decay", weight_decay)
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """One step of the rule in the class docstring, in place."""
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        if self.momentum:
            velocity = state.get("velocity")
            velocity = grad.copy() if velocity is None else self.momentum * velocity + grad
            state["velocity"] = velocity
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        value -= self.lr * grad


class Adam(Optimizer):
    """Adam: m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g², and after k steps
    p ← p − lr · m̂ / (√v̂ + eps) with m̂ = m / (1 − β₁ᵏ), v̂ = v / (1 − β₂ᵏ)."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}") from None
        for i, beta in enumerate((beta1, beta2)):
            _check_hyperparameter("Adam", f"betas[{i}]", beta, high=1.0)
        _check_hyperparameter("Adam", "eps", eps, low_open=True)
        _check_hyperparameter("Adam", "weight_decay", weight_decay)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """One step of the rule in the class docstring, in place."""
        b1, b2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        k = state["step"] = state.get("step", 0) + 1
        m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * grad
        v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * grad * grad
        m_hat = m / (1 - b1**k)
        v_hat = v / (1 - b2**k)
        value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdaGrad(Optimizer):
    """AdaGrad, as ``torch.optim.Adagrad``: h ← h + g², p ← p − lr · g / (√h + eps). Each
    parameter's step shrinks as its gradients add up: steep directions slow down first."""

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        _check_hyperparameter("AdaGrad", "eps", eps, low_open=True)
        self.eps = eps

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """One step of the rule in the class docstring, in place."""
        h = state["sum"] = state.get("sum", 0.0) + grad * grad
        value -= self.lr * grad / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: v ← α v + (1 − α) g², p ← p − lr · g / (√v + eps).
    AdaGrad with a running mean instead of the sum, so that old gradients are forgotten."""

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        _check_hyperparameter("RMSprop", "alpha", alpha, high=1.0)
        _check_hyperparameter("RMSprop", "eps", eps, low_open=True)
        self.alpha, self.eps = alpha, eps

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """One step of the rule in the class docstring, in place."""
        v = state["square_avg"] = (self.alpha * state.get("square_avg", 0.0)
                                   + (1 - self.alpha) * grad * grad)
        value -= self.lr * grad / (np.sqrt(v) + self.eps)
