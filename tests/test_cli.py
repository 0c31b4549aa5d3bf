"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinygrad_ko", *args], capture_output=True,
                          text=True, timeout=120)


def test_no_command_prints_the_worked_example_and_the_commands() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "0.5 * ((y - t) ** 2).sum()" in out
    # The book's example: y = (0.1, 0.05, 0.6, ...), t = one-hot at 2, so SE = ½ Σ (y − t)²:
    # ½ (0.01 + 0.0025 + 0.16 + 0.0025 + 0.01 + 0.01) = 0.0975.
    assert "loss = 0.0975" in out
    assert "backward() == y − t : True" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    for _index, y, t, autodiff, hand in rows:
        assert float(autodiff) == float(hand) == round(float(y) - float(t), 4)
    assert len(rows) == 10
    assert "Commands" in out


def test_help_and_bad_command() -> None:
    assert run("--help").returncode == 0
    bad = run("no-such-command")
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr
