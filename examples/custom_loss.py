"""나만의 손실 함수 (a custom loss): the Huber loss, written as a plain expression and checked.

    python examples/custom_loss.py

The Huber loss is quadratic for small errors (like MSE) and linear for large ones (like an
absolute error), so one outlier cannot dominate the fit:

    L(y, t) = (1/n) Σ h(y − t),  h(d) = ½ d²         if |d| ≤ δ
                                       δ (|d| − ½ δ)  otherwise

Derived by hand: dL/dy = (1/n) h'(y − t) with h'(d) = d for |d| ≤ δ and δ·sign(d) otherwise,
that is dL/dy = clip(y − t, −δ, δ) / n. ``examples/test_custom_loss.py`` proves autodiff agrees,
over many random inputs; copy it next to your own loss.
"""

from __future__ import annotations

import numpy as np

import tinygrad_ko as tg


def huber(y: tg.Tensor, t: tg.Tensor, delta: float = 1.0) -> tg.Tensor:
    """Huber loss (1/n) Σ h(y − t): no backward code, only an expression."""
    d = y - t
    small = tg.abs(d) <= delta
    return tg.where(small, 0.5 * d**2, delta * (tg.abs(d) - 0.5 * delta)).mean()


def huber_grad(y: np.ndarray, t: np.ndarray, delta: float = 1.0) -> np.ndarray:
    """dL/dy derived by hand: clip(y − t, −δ, δ) / n."""
    return np.clip(y - t, -delta, delta) / y.size


def fit_line(loss, x: np.ndarray, t: np.ndarray, steps: int = 500, lr: float = 0.1) -> float:
    """Gradient descent on y = w·x + b; returns the slope w."""
    w = tg.Tensor(0.0, requires_grad=True, dtype=np.float64)
    b = tg.Tensor(0.0, requires_grad=True, dtype=np.float64)
    for _ in range(steps):
        error = loss(w * x + b, t)
        w.grad = b.grad = None
        error.backward()
        with tg.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
    return w.item()


def main() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(4, 3))
    t = rng.normal(size=(4, 3)) * 2

    y_tensor = tg.Tensor(y, requires_grad=True)
    huber(y_tensor, t).backward()
    print("autodiff  dL/dy[0] =", np.round(y_tensor.grad.data[0], 6))
    print("by hand   dL/dy[0] =", np.round(huber_grad(y, t)[0], 6))
    tg.testing.assert_grad_matches(huber, huber_grad, y, t)  # raises GradcheckError if not
    print("assert_grad_matches: autodiff == hand derivation")
    print("gradcheck (finite differences):", tg.testing.gradcheck(huber, y, t))

    # Why Huber: one outlier barely moves the fitted slope (the truth is 2).
    x = np.linspace(-1, 1, 21)
    target = 2 * x + 0.5
    target[-1] += 30.0  # an outlier
    print(f"slope fitted with MSE  : {fit_line(tg.losses.mse, x, target):.3f}")
    print(f"slope fitted with Huber: {fit_line(huber, x, target):.3f}  (truth: 2)")


if __name__ == "__main__":
    main()
