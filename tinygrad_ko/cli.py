"""The command line: ``python -m tinygrad_ko [command]`` (also installed as ``tinygrad-ko``).

Without a command it prints a worked example (a squared error written as an expression, its
gradient by ``backward()`` beside the hand-derived y − t) and the list of commands. Each command
is one function here, ``cmd_<name>``, with its options declared in ``_parser``; usage errors exit
with status 2 (argparse), failed checks with status 1.
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


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """Property-check every built-in loss against its hand-derived gradient and finite
    differences; print a table; 1 if any fails."""
    from tinygrad_ko.testing import losses as builtin

    header = (f"{'loss':<28} {'cases':>6} {'max |auto − hand|':>18} "
              f"{'max |auto − numeric|':>21}  verdict")
    print(f"{args.examples} Hypothesis examples per loss (float64)")
    print(header)
    print("-" * len(header))
    failures = []
    for check in builtin.BUILTIN:
        report = builtin.run(check, args.examples, derandomize=not args.random)
        verdict = "ok" if report.passed else "FAIL"
        print(f"{check.name:<28} {report.cases:>6} {report.hand_error:>18.2e} "
              f"{report.numeric_error:>21.2e}  {verdict}", flush=True)
        if not report.passed:
            failures.append(f"{check.name}:\n{report.message}")
    for failure in failures:
        print("\n" + failure)
    return 1 if failures else 0


COMMANDS = {
    "gradcheck": (cmd_gradcheck, "check every built-in loss's gradient (table)"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_ko",
        description="tinygrad_ko: reverse-mode autodiff on NumPy. "
        "Without a command: a worked example and the list of commands.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    gradcheck = commands.add_parser(
        "gradcheck", help=COMMANDS["gradcheck"][1],
        description="Property-check every built-in loss: autodiff against the hand-derived "
        "gradient (tinygrad_ko.losses.reference) and against central finite differences, over "
        "inputs drawn by Hypothesis. Exits 1 if any check fails.")
    gradcheck.add_argument("--examples", type=_positive, default=100, metavar="N",
                           help="Hypothesis examples per loss (default 100)")
    gradcheck.add_argument("--random", action="store_true",
                           help="draw new inputs each run (default: the same inputs every run)")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        print(worked_example())
        print()
        print("Commands (python -m tinygrad_ko <command> --help):")
        for name, (_, summary) in COMMANDS.items():
            print(f"  {name:<10} {summary}")
        return 0
    return COMMANDS[args.command][0](args)


if __name__ == "__main__":
    sys.exit(main())
