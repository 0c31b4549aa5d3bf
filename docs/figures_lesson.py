"""Figures of chapters 01-03 (loss functions, cross entropy, gradient descent).

    python docs/make_figures.py --only minus_log.png
    python docs/make_figures.py --only learning_rates.png

Every number in the pictures is computed by tinygrad_ko (``tg.Tensor``, ``tg.log``,
``backward()``); matplotlib only draws. Text inside the figures is English, because the default
matplotlib fonts have no Korean glyphs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygrad_ko as tg

DELTA = 1e-7  # the δ of log(y + δ), as in tg.losses.cee
LEARNING_RATES = (0.01, 0.1, 0.5, 1.1)  # too small, good, fast, too large (diverges)
STEPS = 50


def _figure(width: float, height: float):
    """A matplotlib Figure on the Agg canvas (no GUI, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def loss_and_slope(y: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For the answer's probability y: each loss term and |dE/dy|, the slope by backward().

    CEE term: −log(y + δ); SE term: ½ (y − 1)² (the answer's part of ½ Σ (y − t)²).
    """
    out = {}
    for name, term in [("cee", lambda v: -tg.log(v + DELTA)),
                       ("se", lambda v: 0.5 * (v - 1.0) ** 2)]:
        v = tg.Tensor(y, requires_grad=True)
        values = term(v)
        values.sum().backward()  # elementwise terms: d(sum)/dy_i is term i's own derivative
        out[name] = (values.numpy().copy(), np.abs(v.grad.numpy()))
    return out


def draw_minus_log(path: Path) -> None:
    """−log(y) on (0, 1] next to the squared error, and the size of their slopes."""
    y = np.linspace(1e-3, 1.0, 1000)
    curves = loss_and_slope(y)
    marks = np.array([0.9, 0.5, 0.1, 0.01])
    at_marks = loss_and_slope(marks)

    fig = _figure(10, 4)
    left, right = fig.subplots(1, 2)
    left.plot(y, curves["cee"][0], color="C3", lw=2, label=r"CEE: $-\log(y+\delta)$")
    left.plot(y, curves["se"][0], color="C0", lw=2, label=r"SE: $\frac{1}{2}(y-1)^2$")
    left.scatter(marks, at_marks["cee"][0], color="C3", zorder=3)
    for m, e in zip(marks, at_marks["cee"][0]):
        offset = (-62, 10) if m > 0.8 else (8, 4)  # keep the label inside the axes
        left.annotate(f"y={m:g}: {e:.2f}", (m, e), textcoords="offset points", xytext=offset,
                      fontsize=8)
    left.set_xlim(0, 1.02)
    left.set_ylim(0, 7.2)
    left.set_xlabel("y = predicted probability of the correct class (t = 1)")
    left.set_ylabel("loss E")
    left.set_title("Loss for the correct class")
    left.legend()
    left.grid(alpha=0.3)

    right.plot(y, curves["cee"][1], color="C3", lw=2, label=r"CEE: $1/(y+\delta)$")
    right.plot(y, curves["se"][1], color="C0", lw=2, label=r"SE: $|y-1| \leq 1$")
    right.scatter(marks, at_marks["cee"][1], color="C3", zorder=3)
    right.set_yscale("log")
    right.set_ylim(1e-2, 2e3)
    right.set_xlim(0, 1.02)
    right.set_xlabel("y = predicted probability of the correct class (t = 1)")
    right.set_ylabel("|dE/dy|  (by backward())")
    right.set_title("Slope: confident wrong answers get large gradients")
    right.legend()
    right.grid(alpha=0.3)
    fig.savefig(path)


def line_data(seed: int = 0, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Noisy points of t = 2x + 1, as in chapter 03 and examples/gradient_descent.py."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=n)
    t = 2 * x + 1 + rng.normal(scale=0.1, size=n)
    return x, t


def fit_line(x: np.ndarray, t: np.ndarray, lr: float, steps: int = STEPS
             ) -> tuple[list[float], float, float]:
    """Gradient descent by hand on the MSE of y = w·x + b: the loss before each step, w, b."""
    w = tg.Tensor(0.0, requires_grad=True, dtype=np.float64)
    b = tg.Tensor(0.0, requires_grad=True, dtype=np.float64)
    history = []
    for _ in range(steps):
        loss = tg.losses.mse(w * x + b, t)
        w.grad = b.grad = None
        loss.backward()
        with tg.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        history.append(loss.item())
    return history, w.item(), b.item()


def draw_learning_rates(path: Path) -> None:
    """Loss per step for several learning rates on one problem, and the lines they reach."""
    x, t = line_data()
    fig = _figure(10, 4)
    left, right = fig.subplots(1, 2)
    right.scatter(x, t, s=12, color="0.5", label="data: t = 2x + 1 + noise")
    grid = np.array([-1.0, 1.0])
    labels = {0.01: "too small", 0.1: "good", 0.5: "fast", 1.1: "too large: diverges"}
    for i, lr in enumerate(LEARNING_RATES):
        history, w, b = fit_line(x, t, lr)
        label = f"lr = {lr:g} ({labels.get(lr, '')})"
        left.plot(range(len(history)), history, color=f"C{i}", lw=2, label=label)
        if np.isfinite(w) and abs(w) < 10:
            right.plot(grid, w * grid + b, color=f"C{i}", lw=2,
                       label=f"lr = {lr:g}: y = {w:.2f}x + {b:.2f}")
        else:  # the diverged line is far off the axes
            right.plot([], [], color=f"C{i}", lw=2, label=f"lr = {lr:g}: w = {w:.3g}, off the plot")
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("MSE loss (log scale)")
    left.set_title(f"Loss per step, {STEPS} steps of gradient descent")
    left.legend(fontsize=8)
    left.grid(alpha=0.3, which="both")
    right.set_xlabel("x")
    right.set_ylabel("y")
    right.set_title(f"Line after {STEPS} steps")
    right.legend(fontsize=8, loc="upper left")
    right.grid(alpha=0.3)
    fig.savefig(path)


# file name: (draw, the tools it needs, as named in make_figures.TOOLS)
FIGURES = {
    "minus_log.png": (draw_minus_log, ("matplotlib",)),
    "learning_rates.png": (draw_learning_rates, ("matplotlib",)),
}
