"""Optimizers: gradient descent and its refinements, updating parameters in place.

Each ``step()`` reads ``p.grad`` of every parameter (skipping those whose grad is None, as when
a parameter took no part in the loss) and changes ``p.data`` in place, under ``no_grad``.
``zero_grad()`` forgets the gradients before the next backward pass.

- ``SGD``: p ← p − lr · g, with optional momentum (heavy ball or Nesterov) and weight decay
  (g ← g + wd · p);
- ``Adam``: per-parameter steps from bias-corrected running means of g and g².
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_ko.tensor import Tensor


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
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.params: list[Tensor] = params
        self.lr = lr
        self.state: list[dict[str, Any]] = [{} for _ in params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is not None and p.grad.shape != p.shape:
                raise ValueError(f"{type(self).__name__}: parameter {i} has shape {p.shape} but "
                                 f"its gradient has shape {p.grad.shape}")
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self.update(p.data, p.grad.data, state)

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """Change one parameter's ``value`` in place from its ``grad`` and its ``state``."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: p ← p − lr · g.

    With ``momentum`` μ: v ← μ v + g, and p ← p − lr · v (or, with ``nesterov``,
    p ← p − lr · (g + μ v)). With ``weight_decay`` λ the gradient is g + λ p.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError("SGD: momentum and weight_decay must be >= 0")
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
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        if not eps > 0 or weight_decay < 0:
            raise ValueError(f"Adam: eps must be > 0 and weight_decay >= 0, got {eps}, "
                             f"{weight_decay}")
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
