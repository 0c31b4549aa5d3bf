"""The benchmark script keeps working: a tiny timing run and a short memory run (the numbers
themselves are measured by ``python benchmarks/run.py``, never asserted in tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_a_quick_timing_run_writes_its_table_and_report(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    result = run("--only", "linreg", "--rounds", "1", "--min-time", "0.01", "--no-torch",
                 "--output", str(report))
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "(`linreg`)" in line)
    # workload, 3 times per step, 2 ratios, targets, result, first compiled call: 9 cells
    assert row.count("|") == 10 and "×" in row and ("PASS" in row or "MISS" in row)
    text = report.read_text(encoding="utf-8")
    assert "## Environment" in text and "NumPy" in text and "(`linreg`)" in text


def test_the_train_timing_reports_the_epoch_and_the_cnn_step() -> None:
    result = run("--only", "train", "--rounds", "1", "--min-time", "0.01", "--no-torch")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "digits CNN training step" in line)
    assert "tinygrad_ko " in line and "tinygrad_ko compiled " in line and "s" in line
    assert "digits `train`, one epoch" in result.stdout


def test_a_short_memory_run_reports_peak_and_drift() -> None:
    result = run("--memory", "--steps", "400", "--no-torch")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| NumPy",
                                                                            "| tinygrad_ko"))]
    assert len(rows) == 3 and all("MiB" in row for row in rows)  # NumPy, eager, compiled


def test_the_breakdown_counts_the_nodes_and_times_the_phases() -> None:
    """linreg is x @ w + b, then mse: matmul, add, sub, pow and mean, five nodes."""
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "breakdown.py"), "linreg",
                             "--steps", "5", "--top", "3"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "(`linreg`): 5 nodes per step" in result.stdout
    for phase in ("forward", "backward", "update", "NumPy step"):
        assert phase in result.stdout
    assert "cProfile of 5 steps" in result.stdout
