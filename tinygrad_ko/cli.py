"""The command line: ``python -m tinygrad_ko [command]`` (also installed as ``tinygrad-ko``).

Without a command it prints a worked example (a squared error written as an expression, its
gradient by ``backward()`` beside the hand-derived y − t) and the list of commands. Each command
is one function here, ``cmd_<name>``, with its options declared in ``_parser``; usage errors exit
with status 2 (argparse), failed checks with status 1, Ctrl-C with one line and status 130. What
``train`` shows also lives here: the progress bar (tqdm, or ``PlainProgress`` without it) and the
loss and accuracy curves (``plot_history``); the training itself is ``tinygrad_ko.train``. On a
console whose encoding lacks some characters of the output (cp949 on a Korean Windows console
has Hangul but not "−"), those characters are printed as ASCII stand-ins instead of crashing.
"""

from __future__ import annotations

import argparse
import codecs
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_ko.train import History, Interrupted, TrainConfig


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


def cmd_train(args: argparse.Namespace) -> int:
    """Train an MLP on the bundled digits and report the held-out accuracy."""
    from tinygrad_ko import serialize
    from tinygrad_ko import train as training

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("train: --plot needs matplotlib: pip install 'tinygrad_ko[plot]' "
                  "(nothing was trained)", file=sys.stderr)
            return 2
    for option, path in (("--save", args.save), ("--plot", args.plot)):
        if not path:
            continue
        # Found out now by making a file there, not after minutes of training.
        problem = serialize.why_unwritable(path) or (
            "must end in .png" if option == "--plot" and Path(path).suffix.lower() != ".png"
            else None)
        if problem:
            print(f"train: {option} {path}: {problem} (nothing was trained)", file=sys.stderr)
            return 2
    config = training.TrainConfig(loss=args.loss, optimizer=args.optimizer, lr=args.lr,
                                  epochs=args.epochs, batch_size=args.batch_size,
                                  hidden=tuple(args.hidden), seed=args.seed,
                                  compile=args.compile, model=args.model)
    if not args.quiet:
        print(f"digits 8×8, {config.describe()}, loss {config.loss}, "
              f"optimizer {config.optimizer} (lr {config.learning_rate}), "
              f"batch {config.batch_size}, seed {config.seed}"
              f"{', compiled (tg.compile)' if config.compile else ''}")
    try:
        history = training.train_digits(config, progress=progress_bar(args.quiet),
                                        log=None if args.quiet else print)
    except training.Interrupted as stop:
        return _stop_training(stop, config, args.save)
    try:
        if args.save:
            serialize.save(history.model.state_dict(), args.save)
            print(f"saved the parameters to {args.save}")
        if args.plot:
            plot_history(history, args.plot)
            print(f"wrote the loss and accuracy curves to {args.plot}")
    except OSError as error:  # checked before training, but a disk can fill up meanwhile
        print(f"train: {error}", file=sys.stderr)
        return 1
    print(f"test accuracy: {history.test_accuracy[-1]:.2%} "
          f"({config.num_epochs} epoch{'s' * (config.num_epochs != 1)}, "
          f"{history.seconds:.2f} s)")
    return 0


def _stop_training(stop: Interrupted, config: TrainConfig, save: str | None) -> int:
    """Ctrl-C during training: one line, and with ``--save`` the parameters of the last
    completed epoch, written atomically (nothing when no epoch completed)."""
    from tinygrad_ko import serialize

    done = len(stop.history.loss)
    outcome = f"{done} epoch{'s' * (done != 1)} completed" if done else "no epoch completed"
    if save and done:
        try:
            serialize.save(stop.history.model.state_dict(), save)
            outcome += f"; saved their parameters to {save}"
        except OSError as error:
            outcome += f"; {error}"
    elif save:
        outcome += "; nothing saved"
    print(f"train: interrupted at epoch {stop.epoch}/{config.num_epochs} ({outcome})",
          file=sys.stderr)
    return INTERRUPTED


# ---- what train shows: the progress bar and the curves -------------------------------------------


class PlainProgress:
    """A one-line progress bar for when tqdm is not installed: ``epoch 3 [#####     ] 12/45``,
    redrawn in place on a terminal and written once per epoch otherwise."""

    def __init__(self, items: Iterable, description: str, stream: Any = None) -> None:
        self.items, self.description = items, description
        self.stream = stream or sys.stderr
        self.total = len(items) if hasattr(items, "__len__") else 0
        self.postfix = ""
        self.half_drawn = False  # a bar drawn in place, not yet ended by a newline

    def set_postfix(self, **values: Any) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def _draw(self, done: int, end: str) -> None:
        width = 20
        filled = width * done // self.total if self.total else 0
        bar = "#" * filled + " " * (width - filled)
        self.stream.write(f"\r{self.description} [{bar}] {done}/{self.total} {self.postfix}"
                          + end)
        self.stream.flush()
        self.half_drawn = not end

    def close(self) -> None:
        """End a bar left half-drawn by an interrupted epoch, so the next line starts clean."""
        if self.half_drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.half_drawn = False

    def __iter__(self) -> Iterator:
        interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        done = 0
        for item in self.items:
            yield item
            done += 1
            if interactive:
                self._draw(done, "")
        self._draw(done, "\n")


def progress_bar(quiet: bool) -> Callable[[Iterable, str], Iterable] | None:
    """The ``progress`` of ``train_digits``: tqdm when it is installed, else ``PlainProgress``;
    None when quiet."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return PlainProgress
    return lambda items, description: tqdm(items, desc=description, leave=False)


def plot_history(history: History, path: str) -> None:
    """Loss and accuracy curves as a PNG (needs matplotlib: ``pip install tinygrad_ko[plot]``).

    It draws on its own Agg canvas through matplotlib's object API, never through pyplot, so the
    caller's backend and open figures are left as they were."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = range(1, len(history.loss) + 1)
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    left.plot(epochs, history.loss, marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    right.plot(epochs, history.train_accuracy, marker="o", label="train")
    right.plot(epochs, history.test_accuracy, marker="s", label="test")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")


def cmd_graph(args: argparse.Namespace) -> int:
    """Print the operation graph of an expression as Graphviz DOT."""
    import ast

    import tinygrad_ko as tg
    from tinygrad_ko import viz

    try:
        tree = ast.parse(args.expression, mode="eval")
    except SyntaxError as error:
        print(f"graph: the expression is not valid Python: {error.msg}", file=sys.stderr)
        return 2
    shapes = {name: shape for name, shape in args.var}
    constants = {name: shape for name, shape in args.const}
    free = sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
                  - {"tg", "np"})
    rng = np.random.default_rng(0)
    variables = {}
    for name in free:
        shape = constants.get(name, shapes.get(name, (3,)))
        variables[name] = tg.Tensor(rng.standard_normal(shape), requires_grad=name not in
                                    constants)
    try:
        result = eval(compile(tree, "<expression>", "eval"),
                      {"tg": tg, "np": np, "__builtins__": {}}, variables)
    except Exception as error:
        print(f"graph: evaluating the expression failed: {error}", file=sys.stderr)
        return 2
    if not isinstance(result, tg.Tensor):
        print("graph: the expression must produce a Tensor", file=sys.stderr)
        return 2
    dot = viz.to_dot(result, variables)
    try:
        if args.output:
            Path(args.output).write_text(dot, encoding="utf-8")
        else:
            print(dot, end="")
        if args.render:
            viz.render(dot, args.render)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        print(f"graph: {error}", file=sys.stderr)
        return 2
    return 0


COMMANDS = {
    "train": (cmd_train, "train a classifier on the bundled digits (the main job)"),
    "gradcheck": (cmd_gradcheck, "check every built-in loss's gradient (table)"),
    "graph": (cmd_graph, "write the operation graph of an expression as Graphviz DOT"),
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

    from tinygrad_ko.train import DEFAULT_EPOCHS, LOSSES, MODELS, OPTIMIZERS, TrainConfig

    defaults = TrainConfig()
    train = commands.add_parser(
        "train", help=COMMANDS["train"][1],
        description="Train an MLP (or a small CNN) on the bundled 8×8 digits by mini-batch "
        "gradient descent, "
        "with a held-out test split; prints the loss and accuracy per epoch and the final test "
        "accuracy.")
    train.add_argument("--model", choices=MODELS, default=defaults.model,
                       help="mlp: a multilayer perceptron (--hidden); cnn: two 3×3 convolutions "
                       "with max pooling, on the images as (N, 1, 8, 8) (default %(default)s)")
    train.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                       help="cee: softmax cross entropy; mse/se: (mean) squared error of "
                       "softmax outputs against one-hot targets (default %(default)s)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer,
                       help="default %(default)s")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: sgd 0.1, momentum 0.05, adam 0.003; "
                       "adam 0.002 for the cnn)")
    train.add_argument("--epochs", type=_positive, default=None,
                       help=f"default {DEFAULT_EPOCHS['mlp']} for the mlp, "
                       f"{DEFAULT_EPOCHS['cnn']} for the cnn")
    train.add_argument("--batch-size", type=_positive, default=defaults.batch_size,
                       help="default %(default)s")
    train.add_argument("--hidden", type=_positive, nargs="+", default=list(defaults.hidden),
                       metavar="N", help="hidden layer sizes (default %(default)s)")
    train.add_argument("--seed", type=_non_negative, default=defaults.seed,
                       help="default %(default)s")
    train.add_argument("--save", metavar="PATH", help="write the trained parameters (.npz)")
    train.add_argument("--plot", metavar="PATH",
                       help="write the loss and accuracy curves as PNG (needs matplotlib)")
    train.add_argument("--compile", action="store_true",
                       help="run each training step through tg.compile: the same numbers, "
                       "faster (the first step of each batch shape is traced)")
    train.add_argument("--quiet", action="store_true",
                       help="no progress bar and no per-epoch lines")

    graph = commands.add_parser(
        "graph", help=COMMANDS["graph"][1],
        description="Evaluate EXPR (Python, with tg and np available) and print the graph "
        "that computes it as Graphviz DOT. Names in EXPR become random tensors that require "
        "grad, of shape (3,) unless --var or --const says otherwise. Example: "
        "graph \"0.5 * ((y - t) ** 2).sum()\" --const t=3")
    graph.add_argument("expression", metavar="EXPR")
    graph.add_argument("--var", action="append", type=_name_shape, default=[],
                       metavar="NAME=SHAPE", help="a tensor that requires grad, e.g. x=2,3")
    graph.add_argument("--const", action="append", type=_name_shape, default=[],
                       metavar="NAME=SHAPE", help="a tensor that does not require grad")
    graph.add_argument("-o", "--output", metavar="PATH", help="write the DOT to PATH")
    graph.add_argument("--render", metavar="PATH",
                       help="also draw it (PNG/SVG/PDF by suffix; needs Graphviz's dot)")
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    if not math.isfinite(value):  # inf would make every parameter NaN at the first step
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}, which is "
                                         "not finite")
    return value


def _name_shape(text: str) -> tuple[str, tuple[int, ...]]:
    name, _, shape = text.partition("=")
    try:
        dims = tuple(int(n) for n in shape.split(",") if n.strip()) if shape else (3,)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=SHAPE like x=2,3, got {text!r}") from None
    if not name.isidentifier() or any(n < 1 for n in dims):
        raise argparse.ArgumentTypeError(f"expected NAME=SHAPE like x=2,3, got {text!r}")
    return name, dims


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


# The exit status after Ctrl-C: 128 + SIGINT, as a shell reports a program that SIGINT stopped.
INTERRUPTED = 130

# ASCII stand-ins for the characters of this command line's output that a console's legacy
# encoding may lack (cp949 lacks "−" and the dashes; cp1252 lacks "Σ", "≤", ...). Any other
# character the encoding lacks becomes "?".
ASCII_STAND_INS = {"−": "-", "–": "-", "—": "-", "½": "1/2", "Σ": "sum", "×": "x", "²": "^2",
                   "·": "*", "…": "...", "≤": "<=", "≥": ">=", "→": "->", "←": "<-",
                   "√": "sqrt", "δ": "delta", "ε": "eps"}
STAND_IN_ERRORS = "tinygrad_ko.ascii_stand_ins"


def _stand_ins(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: the ASCII stand-ins of the characters that could not be encoded."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(ASCII_STAND_INS.get(character, "?") for character in text), error.end


def use_encodable_output() -> None:
    """Let stdout and stderr print every line on a console whose encoding is not UTF (cp949 on
    a Korean Windows console): a character the encoding has, Hangul included, is printed as it
    is, and one it lacks as its ASCII stand-in, instead of a UnicodeEncodeError."""
    codecs.register_error(STAND_IN_ERRORS, _stand_ins)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or not hasattr(stream, "reconfigure"):
            continue  # no console (pythonw), or a stream that is not a text file
        if codecs.lookup(encoding).name.startswith("utf"):
            continue
        # Python's defaults: strict for stdout, backslashreplace (\u2212) for stderr
        if stream.errors in ("strict", "backslashreplace"):
            stream.reconfigure(errors=STAND_IN_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    use_encodable_output()
    args = _parser().parse_args(argv)
    try:
        if args.command is None:
            print(worked_example())
            print()
            print("Commands (python -m tinygrad_ko <command> --help):")
            for name, (_, summary) in COMMANDS.items():
                print(f"  {name:<10} {summary}")
            return 0
        return COMMANDS[args.command][0](args)
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback
        print(f"{args.command or 'tinygrad_ko'}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
