"""Every code block in the README and the tutorial runs, so no snippet can rot.

In each Markdown file, the ```python blocks run in order in one namespace (a later block may use
what an earlier one defined), in a temporary folder. In ```bash blocks, each line that runs
``python -m tinygrad_ko ...`` or ``python examples/...`` runs as a subprocess and must exit 0;
``pip install`` lines are the README's own commands, checked by test_project.py. A block meant
only to be read is fenced as ```text.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import fake_dot

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(path: Path, language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(path.read_text(encoding="utf-8"))
            if lang == language]


def test_documents_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DOCUMENTS}
    assert "README.md" in names


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc_snippet__"}
    for i, code in enumerate(blocks(path, "python")):
        exec(compile(code, f"{path.name} block {i + 1}", "exec"), namespace)


FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
SHOWING_OUTPUT = [p for p in DOCUMENTS if "```text output" in p.read_text(encoding="utf-8")]


def test_some_documents_show_checked_output() -> None:
    assert len(SHOWING_OUTPUT) >= 2  # chapter 07, in Korean and in English


@pytest.mark.parametrize("path", SHOWING_OUTPUT,
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shown_output_is_what_the_code_prints_today(path: Path, tmp_path: Path, monkeypatch,
                                                    capsys) -> None:
    """A ```text output block shows what the ```python block before it prints (the generated
    code of tg.compile, in chapter 07): run the blocks in order, and compare each."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc_snippet__"}
    printed, checked = None, 0
    for i, (language, info, code) in enumerate(FENCE.findall(path.read_text(encoding="utf-8"))):
        if language == "python":
            capsys.readouterr()
            exec(compile(code, f"{path.name} block {i + 1}", "exec"), namespace)
            printed = capsys.readouterr().out
        elif language == "text" and info.strip() == "output":
            assert printed is not None, f"block {i + 1}: no python block before it"
            assert printed.rstrip("\n") == code.rstrip("\n"), f"block {i + 1} of {path.name}"
            checked += 1
    assert checked >= 1


def commands(path: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for code in blocks(path, "bash")
             for line in code.splitlines()]
    return [line for line in lines
            if line.startswith(("python -m tinygrad_ko", "python examples/"))]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shell_commands_run(path: Path, tmp_path: Path) -> None:
    for line in commands(path):
        argv = shlex.split(line)
        argv[0] = sys.executable
        if len(argv) > 1 and argv[1].startswith("examples/"):
            argv[1] = str(ROOT / argv[1])
        env = {**os.environ, "MPLBACKEND": "Agg"}
        result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True,
                                timeout=300, env=env)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"


def make_figures(out: Path, path: Path, *options: str) -> subprocess.CompletedProcess:
    """``python docs/make_figures.py --out OUT`` with only the folder ``path`` on PATH."""
    return subprocess.run([sys.executable, str(ROOT / "docs" / "make_figures.py"),
                           "--out", str(out), *options],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg", "PATH": str(path)})


def test_figures_without_graphviz_draw_all_the_others(tmp_path: Path) -> None:
    """``python docs/make_figures.py`` redraws the committed figures. With no ``dot`` on PATH (a
    fresh machine may lack Graphviz), every matplotlib figure and the DOT text are still written,
    and the one picture that needs Graphviz is reported as skipped, naming Graphviz."""
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "figures"
    result = make_figures(out, empty)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    plots = ["filters.png", "im2col.png", "learning_rates.png", "loss_comparison.png",
             "minus_log.png"]
    committed = sorted(p.name for p in (ROOT / "docs" / "figures").glob("*.png"))
    assert committed == sorted([*plots, "graph.png"])     # a new figure belongs in `plots`
    for name in plots:
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name
    committed_dot = (ROOT / "docs" / "figures" / "graph.dot").read_text(encoding="utf-8")
    assert (out / "graph.dot").read_text(encoding="utf-8") == committed_dot
    assert not (out / "graph.png").exists()
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1, result.stderr
    assert "graph.png" in skipped[0] and "Graphviz" in skipped[0]


def test_figures_with_graphviz_draw_the_graph(tmp_path: Path) -> None:
    """With a ``dot`` on PATH (a stand-in that copies its input), the graph picture is drawn by
    it from the DOT text, and nothing is skipped."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_dot(bin_dir)
    out = tmp_path / "figures"
    result = make_figures(out, bin_dir, "--only", "graph.png")
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stderr
    committed_dot = (ROOT / "docs" / "figures" / "graph.dot").read_text(encoding="utf-8")
    assert (out / "graph.png").read_text(encoding="utf-8") == committed_dot
    assert len(log.read_text().splitlines()) == 1
