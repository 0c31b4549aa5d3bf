"""The command line: ``python -m tinygrad_ko [command]`` (also installed as ``tinygrad-ko``).

Without a command it prints a worked example (a squared error written as an expression, its
gradient by ``backward()`` beside the hand-derived y − t) and the list of commands. Each command
lives in its own function here and has ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np


def worked_example() -> str:
    """The lesson in ten lines: SE = ½ Σ (y − t)², and its gradient is y − t."""
    import tinygrad_ko as tg

    # The softmax output of the book's example: the model gives 0.6 to class 2, the right one.
    y = tg.Tensor([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0], requires_grad=True)
    t = tg.Tensor([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    loss = 0.5 * ((y - t) ** 2).sum()  # 제곱 오차 (squared error), y = 예측값, t = 정답
    loss.backward()
    hand = y.data - t.data  # the ½ makes the derivative simply y − t

    lines = [
        "tinygrad_ko: 손실 함수를 식으로 쓰고, backward()로 기울기를 구합니다.",
        "             Write a loss as an expression; backward() gives its gradient.",
        "",
        "  y = 예측값 (prediction), t = 정답 (target)",
        "  loss = 0.5 * ((y - t) ** 2).sum()      # 제곱 오차 SE = ½ Σ (y − t)²",
        f"  loss = {loss.item():.4f}",
        "",
        f"  {'i':>2}  {'y':>6}  {'t':>3}  {'backward(): dL/dy':>18}  {'손 계산 y − t':>14}",
    ]
    for i, (yi, ti, gi, hi) in enumerate(zip(y.data, t.data, y.grad.data, hand)):
        lines.append(f"  {i:>2}  {yi:6.2f}  {ti:3.0f}  {gi:18.4f}  {hi:14.4f}")
    same = np.allclose(y.grad.data, hand)
    lines += ["", f"  backward() == y − t : {same}"]
    return "\n".join(lines)


COMMANDS: dict[str, str] = {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_ko",
        description="tinygrad_ko: reverse-mode autodiff on NumPy. "
        "Without a command: a worked example and the list of commands.",
    )
    parser.add_subparsers(dest="command", metavar="command")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        print(worked_example())
        print()
        print("Commands (python -m tinygrad_ko <command> --help):")
        for name, summary in COMMANDS.items():
            print(f"  {name:<10} {summary}")
        if not COMMANDS:
            print("  (none yet)")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
