"""경사 하강법 (gradient descent), written by hand: only ``Tensor``, ``backward()`` and an update.

    python examples/gradient_descent.py

The lesson's definition: learning is finding the parameters where the loss is smallest. The loss
here is the mean squared error of a line y = w·x + b against noisy points of t = 2x + 1; its
gradient says which way the loss rises, so each step moves w and b the other way:

    w ← w − lr · dL/dw,    b ← b − lr · dL/db
"""

from __future__ import annotations

import numpy as np

import tinygrad_ko as tg


def fit(steps: int = 100, lr: float = 0.1, seed: int = 0) -> list[float]:
    """Fit the line; return the loss before each step."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=50)
    t = 2 * x + 1 + rng.normal(scale=0.1, size=50)  # 정답 (targets)

    w = tg.Tensor(0.0, requires_grad=True, dtype=np.float64)
    b = tg.Tensor(0.0, requires_grad=True, dtype=np.float64)
    history = []
    for step in range(steps):
        y = w * x + b  # 예측값 (predictions)
        loss = ((y - t) ** 2).mean()  # 평균 제곱 오차 (MSE)
        w.grad = b.grad = None  # forget the previous step's gradient
        loss.backward()  # dL/dw and dL/db, by backpropagation
        with tg.no_grad():  # the update itself is not part of the graph
            w -= lr * w.grad
            b -= lr * b.grad
        history.append(loss.item())
        if step % 10 == 0 or step == steps - 1:
            print(f"step {step:3d}  loss {loss.item():.5f}  w {w.item():.3f}  b {b.item():.3f}")
    print(f"learned w = {w.item():.3f}, b = {b.item():.3f} (truth: w = 2, b = 1)")
    return history


if __name__ == "__main__":
    fit()
