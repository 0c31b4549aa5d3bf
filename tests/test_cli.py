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


def test_gradcheck_prints_a_table_and_passes() -> None:
    result = run("gradcheck", "--examples", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.endswith((" ok", " FAIL"))]
    names = [row.split()[0] for row in rows]
    assert names == ["squared_error", "mean_squared_error", "cross_entropy_error",
                     "softmax_cross_entropy", "binary_cross_entropy"]
    for row in rows:
        cases, hand, numeric = row.split()[-4:-1]
        assert int(cases) >= 10 and float(hand) < 1e-9 and float(numeric) < 1e-4
        assert row.endswith(" ok")


def test_gradcheck_fails_with_exit_1_on_a_wrong_derivation(monkeypatch, capsys) -> None:
    import numpy as np

    from tinygrad_ko import cli, losses
    from tinygrad_ko.testing import losses as builtin

    wrong = builtin.LossCheck("mse without the 2", losses.mse,
                              lambda y, t: (y - t) / np.size(y), builtin.BUILTIN[1].inputs)
    monkeypatch.setattr(builtin, "BUILTIN", [builtin.BUILTIN[0], wrong])
    assert cli.main(["gradcheck", "--examples", "10"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "counterexample:" in out and "hand_grad" in out


def test_gradcheck_rejects_a_bad_example_count() -> None:
    result = run("gradcheck", "--examples", "0")
    assert result.returncode == 2
    assert "expected a positive integer" in result.stderr
