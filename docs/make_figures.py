"""Regenerate every figure of the tutorial with tinygrad_ko's own code.

    python docs/make_figures.py [--out docs/figures] [--only NAME]

Each ``docs/figures_*.py`` module lists its figures in ``FIGURES``: a file name, the function
that draws it to a path, and the tools that drawing needs (names of ``TOOLS`` below). A figure
whose tools are missing is skipped, with the reason, and every other figure is still drawn:
matplotlib comes with ``pip install "tinygrad_ko[plot]"``, Graphviz's ``dot`` from the system.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Each tool: how to tell it is installed, and what to say when it is not.
TOOLS = {
    "matplotlib": (lambda: importlib.util.find_spec("matplotlib") is not None,
                   'matplotlib is not installed (pip install "tinygrad_ko[plot]")'),
    "Graphviz": (lambda: shutil.which("dot") is not None,
                 "Graphviz's `dot` program is not on PATH "
                 "(apt-get install graphviz or brew install graphviz)"),
}


def all_figures() -> dict:
    """File name -> (draw, tools), from every ``docs/figures_*.py``."""
    sys.path.insert(0, str(HERE))
    figures = {}
    for module in sorted(HERE.glob("figures_*.py")):
        figures.update(importlib.import_module(module.stem).FIGURES)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "figures")
    parser.add_argument("--only", help="one figure's file name")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    skipped = 0
    for name, (draw, tools) in all_figures().items():
        if args.only and name != args.only:
            continue
        missing = [TOOLS[tool][1] for tool in tools if not TOOLS[tool][0]()]
        if missing:
            skipped += 1
            print(f"skipped {args.out / name}: {'; '.join(missing)}", file=sys.stderr)
            continue
        draw(args.out / name)
        print(f"wrote {args.out / name}")
    if skipped:
        print(f"{skipped} figure(s) skipped for missing tools; install them and run again",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
