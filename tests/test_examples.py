"""The examples run as a reader runs them, and do what their docstrings promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_gradient_descent_runs_and_finds_the_line() -> None:
    result = run_example("gradient_descent.py")
    assert result.returncode == 0, result.stderr
    steps = re.findall(r"^step +(\d+)  loss (\d+\.\d+)  w (-?\d+\.\d+)  b (-?\d+\.\d+)$",
                       result.stdout, flags=re.M)
    assert len(steps) >= 5
    losses = [float(loss) for _, loss, _, _ in steps]
    assert losses[-1] < losses[0] / 100  # from the line y = 0 to within the noise (σ = 0.1)
    assert np.all(np.diff(losses) <= 0)
    learned = re.search(r"learned w = (-?\d+\.\d+), b = (-?\d+\.\d+)", result.stdout)
    assert learned, result.stdout
    w, b = float(learned[1]), float(learned[2])
    assert abs(w - 2) < 0.1 and abs(b - 1) < 0.1


def test_gradient_descent_fit_never_increases_the_loss(monkeypatch, capsys) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import gradient_descent

    # The loss L(w, b) = (1/n) Σ (w x_i + b − t_i)² is a convex quadratic with Hessian
    # H = (2/n) Σ [x_i, 1][x_i, 1]ᵀ. Its gradient is L-Lipschitz with L = λ_max(H) ≤ trace(H)
    # = 2 (mean x² + 1) ≤ 4, since the example draws x in [−1, 1]. For a quadratic, a step
    # w ← w − lr ∇L gives L(new) = L(old) − lr (1 − lr L/2) |∇L|² at worst, a decrease for any
    # lr < 2/L, so any lr < 0.5 is safe whatever the data: the loss never rises.
    for lr in (0.05, 0.1, 0.4):
        history = gradient_descent.fit(steps=60, lr=lr, seed=1)
        assert len(history) == 60
        assert history[-1] < history[0]
        # Rounding alone may wiggle the last digits once converged.
        assert np.all(np.diff(history) <= 1e-12), lr

    # The converse shows the test can see a rise: λ_max(H) ≥ H_bb = 2, so 2/λ_max ≤ 1 and a
    # step of 1.5 overshoots along the top eigenvector, by a factor |1 − 1.5 λ_max| ≥ 2 per step.
    diverging = gradient_descent.fit(steps=10, lr=1.5, seed=1)
    assert diverging[-1] > diverging[0]
    assert np.any(np.diff(diverging) > 0)
    capsys.readouterr()


def test_custom_loss_checks_the_gradient_and_resists_the_outlier() -> None:
    result = run_example("custom_loss.py")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "assert_grad_matches" in out
    assert "gradcheck (finite differences): True" in out
    mse = re.search(r"slope fitted with MSE *: (-?\d+\.\d+)", out)
    huber = re.search(r"slope fitted with Huber *: (-?\d+\.\d+)", out)
    assert mse and huber, out
    mse_slope, huber_slope = float(mse[1]), float(huber[1])
    assert abs(huber_slope - 2) < abs(mse_slope - 2)
    # The outlier (+30 at x = 1) pulls the least-squares slope up by 30 x / Σ x² for 21 points
    # on [−1, 1]: Σ x² = 7.7, so about +3.9; Huber caps the outlier's pull.
    assert mse_slope > 4
