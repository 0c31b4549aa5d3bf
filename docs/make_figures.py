"""Regenerate every figure of the tutorial with tinygrad_ko's own code.

    python docs/make_figures.py [--out docs/figures]

Each ``docs/figures_*.py`` module lists its figures in ``FIGURES``: a file name and the function
that draws it to a path. Needs matplotlib (``pip install "tinygrad_ko[plot]"``); the graph
picture also needs Graphviz's ``dot``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def all_figures() -> dict:
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
    for name, draw in all_figures().items():
        if args.only and name != args.only:
            continue
        draw(args.out / name)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
