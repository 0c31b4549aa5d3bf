"""The command line, run as a user runs it: in a subprocess; and what ``train`` shows (the
progress bar and the loss-curve plot), in process."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from helpers import fake_dot

from tinygrad_ko.cli import PlainProgress, plot_history, progress_bar
from tinygrad_ko.train import History


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


# ---- train ---------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ACCURACY_LINE = re.compile(r"^test accuracy: (\d+\.\d\d)% \((\d+) epochs?, \d+\.\d\d s\)$")
EPOCH_LINE = re.compile(r"^epoch +(\d+)/(\d+)  loss (\d+\.\d{4})  train acc +(\d+\.\d\d)%  "
                        r"test acc +(\d+\.\d\d)%  \d+\.\d{3} s$")


def run_at_root(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m tinygrad_ko ARGS`` from the repository root, with ``env`` added."""
    return subprocess.run([sys.executable, "-m", "tinygrad_ko", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("loss", ["mse"])  # (cee, compiled: test_train.py's CNN test)
def test_train_compiled_prints_the_same_numbers_as_eager(loss: str) -> None:
    """The same seed gives the same losses and accuracies, to the printed digit, eagerly and
    through tg.compile; only the times differ."""
    runs = [run_at_root("train", "--epochs", "1", "--loss", loss, *flag) for flag in ([],
                                                                                  ["--compile"])]
    for result in runs:
        assert result.returncode == 0, result.stderr
    eager, compiled = ([m.groups() for line in result.stdout.splitlines()
                        if (m := EPOCH_LINE.match(line))] for result in runs)
    assert len(eager) == 1 and compiled == eager
    assert "compiled (tg.compile)" in runs[1].stdout.splitlines()[0]


def test_train_quiet_prints_only_the_test_accuracy() -> None:
    result = run_at_root("train", "--epochs", "1", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    m = ACCURACY_LINE.match(lines[-1])
    assert m, lines[-1]
    assert 0 <= float(m[1]) <= 100 and m[2] == "1"
    assert result.stderr == ""  # no progress bar either


def test_train_prints_a_line_per_epoch() -> None:
    result = run_at_root("train", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("digits 8×8, MLP 64-64-10, loss cee, optimizer adam")
    epochs = [m for line in lines if (m := EPOCH_LINE.match(line))]
    assert [(m[1], m[2]) for m in epochs] == [("1", "2"), ("2", "2")]
    assert lines[1].startswith("epoch   1/2 ") and lines[2].startswith("epoch   2/2 ")
    final = ACCURACY_LINE.match(lines[-1])
    assert final and final[2] == "2"
    assert final[1] == epochs[-1][5]  # the final accuracy is the last epoch's test accuracy
    assert float(epochs[1][3]) < float(epochs[0][3])  # the loss fell


def test_train_save_writes_the_models_parameters(tmp_path) -> None:
    import tinygrad_ko as tg

    path = tmp_path / "model.npz"
    result = run_at_root("train", "--epochs", "1", "--quiet", "--hidden", "32", "16",
                         "--save", str(path))
    assert result.returncode == 0, result.stderr
    assert f"saved the parameters to {path}" in result.stdout
    state = tg.load(path)
    # An MLP 64-32-16-10: Linear layers at positions 0, 2, 4 of the Sequential (ReLUs between).
    expected_shapes = [(64, 32), (32,), (32, 16), (16,), (16, 10), (10,)]
    expected = dict(zip(tg.nn.mlp([64, 32, 16, 10]).state_dict(), expected_shapes))
    assert {name: array.shape for name, array in state.items()} == expected
    assert all(np.all(np.isfinite(array)) for array in state.values())


def test_train_save_of_the_default_model_has_a_64_by_64_first_layer(tmp_path) -> None:
    import tinygrad_ko as tg

    path = tmp_path / "default.npz"
    assert run_at_root("train", "--epochs", "1", "--quiet", "--save", str(path)).returncode == 0
    state = tg.load(path)
    shapes = sorted(array.shape for array in state.values())
    assert shapes == sorted([(64, 64), (64,), (64, 10), (10,)])
    assert set(state) == set(tg.nn.mlp([64, 64, 10]).state_dict())


def test_train_plot_writes_a_png(tmp_path) -> None:
    path = tmp_path / "curves.png"
    result = run_at_root("train", "--epochs", "2", "--quiet", "--plot", str(path))
    assert result.returncode == 0, result.stderr
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
    assert str(path) in result.stdout


def test_train_plot_without_matplotlib_stops_before_training(tmp_path) -> None:
    # A stand-in package on PYTHONPATH that fails to import, as if matplotlib were absent.
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is blocked')\n",
                                         encoding="utf-8")
    saved = tmp_path / "model.npz"
    result = run_at_root("train", "--epochs", "1", "--plot", str(tmp_path / "curves.png"),
                         "--save", str(saved), env={"PYTHONPATH": str(blocker.parent)})
    assert result.returncode == 2
    assert "matplotlib" in result.stderr
    assert "pip install" in result.stderr
    # Nothing was trained: no epoch lines, no accuracy, no files.
    assert "epoch" not in result.stdout + result.stderr
    assert "test accuracy" not in result.stdout
    assert not saved.exists() and not (tmp_path / "curves.png").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--loss", "foo", "invalid choice"),
    ("--epochs", "0", "expected a positive integer"),
    ("--lr", "-1", "expected a positive number"),
    ("--lr", "0", "expected a positive number"),
    ("--hidden", "0", "expected a positive integer"),
    ("--batch-size", "x", "expected a positive integer"),
    ("--optimizer", "rmsprop", "invalid choice"),
    ("--lr", "inf", "not finite"),   # inf passes "lr > 0" and makes every parameter NaN
    ("--seed", "-5", "expected a non-negative integer"),  # NumPy's seeds are non-negative
])
def test_train_rejects_bad_options_with_usage(option: str, value: str, message: str) -> None:
    result = run_at_root("train", option, value, "--quiet")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ")
    assert option in result.stderr and message in result.stderr
    assert result.stdout == ""


def test_train_save_into_a_missing_folder_fails_before_training(tmp_path) -> None:
    target = tmp_path / "no-such-folder" / "model.npz"
    result = run_at_root("train", "--epochs", "1", "--save", str(target))
    assert result.returncode == 2
    assert "--save" in result.stderr and "does not exist" in result.stderr
    assert "epoch" not in result.stdout + result.stderr
    assert not target.parent.exists()


def _without_timing(output: str) -> list[str]:
    return [re.sub(r"(, |  )\d+\.\d+ s(\)?)$", r"\2", line)
            for line in output.strip().splitlines()]


def test_train_same_seed_same_output() -> None:
    first = run_at_root("train", "--epochs", "2", "--seed", "7", "--loss", "mse")
    again = run_at_root("train", "--epochs", "2", "--seed", "7", "--loss", "mse")
    other = run_at_root("train", "--epochs", "2", "--seed", "8", "--loss", "mse")
    assert first.returncode == again.returncode == other.returncode == 0
    assert len(_without_timing(first.stdout)) == 4  # header, two epochs, accuracy
    assert _without_timing(first.stdout) == _without_timing(again.stdout)
    assert _without_timing(first.stdout)[1:] != _without_timing(other.stdout)[1:]


# ---- what train shows: the progress bar and the curves (in process) ------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_progress_writes_one_final_line_when_not_a_terminal() -> None:
    stream = io.StringIO()
    items = list(range(45))
    bar = PlainProgress(items, "epoch 3", stream=stream)
    seen = []
    for item in bar:
        seen.append(item)
        bar.set_postfix(loss="0.1234")
    assert seen == items
    out = stream.getvalue()
    assert out.endswith("\n")
    lines = out[:-1].split("\n")  # not splitlines(): that would also split at "\r"
    assert len(lines) == 1
    assert out.count("\r") <= 1  # drawn once, not redrawn per item
    assert out.count("/45") == 1
    line = lines[0].lstrip("\r")
    assert line.startswith("epoch 3")
    assert "45/45" in line
    assert "[" + "#" * 20 + "]" in line  # a full bar
    assert "loss=0.1234" in line


def test_plain_progress_yields_every_item_of_an_iterable_without_length() -> None:
    stream = io.StringIO()
    assert list(PlainProgress((i * i for i in range(5)), "epoch 1", stream=stream)) == [
        0, 1, 4, 9, 16]
    assert stream.getvalue().count("\n") == 1


def test_plain_progress_redraws_in_place_on_a_terminal() -> None:
    stream = _Terminal()
    items = ["a", "b", "c", "d"]
    assert list(PlainProgress(items, "epoch 1", stream=stream)) == items
    out = stream.getvalue()
    # One redraw per item (carriage return, no newline), then the final line.
    assert out.count("\r") == len(items) + 1
    assert out.count("\n") == 1
    for done in range(1, len(items) + 1):
        assert f"{done}/{len(items)}" in out


def test_plain_progress_close_ends_a_half_drawn_bar_on_a_terminal() -> None:
    stream = _Terminal()
    bar = PlainProgress(list(range(10)), "epoch 1", stream=stream)
    items = iter(bar)
    next(items), next(items)  # the bar is redrawn in place after each item: "1/10", no newline
    assert not stream.getvalue().endswith("\n")
    bar.close()  # as an interrupted epoch does, so the next line starts on a line of its own
    assert stream.getvalue().endswith("1/10 \n")
    bar.close()
    assert stream.getvalue().count("\n") == 1


def test_plain_progress_close_writes_nothing_when_the_bar_is_not_half_drawn() -> None:
    stream = io.StringIO()  # not a terminal: the bar is written once, at the end of the epoch
    bar = PlainProgress(list(range(10)), "epoch 1", stream=stream)
    next(iter(bar))
    bar.close()
    assert stream.getvalue() == ""


def test_progress_bar_choice(monkeypatch) -> None:
    assert progress_bar(quiet=True) is None
    monkeypatch.setitem(sys.modules, "tqdm", None)  # importing tqdm now raises ImportError
    assert progress_bar(False) is PlainProgress


def test_progress_bar_uses_tqdm_when_it_is_installed(monkeypatch) -> None:
    calls = []

    def fake_tqdm(items, **options):
        calls.append(options)
        return items

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=fake_tqdm))
    make = progress_bar(False)
    assert make is not None and make is not PlainProgress
    assert list(make([1, 2, 3], "epoch 1")) == [1, 2, 3]
    assert calls and calls[0]["desc"] == "epoch 1"


def test_plot_history_writes_a_png(tmp_path) -> None:
    history = History(loss=[2.0, 1.0, 0.5, 0.3], train_accuracy=[0.5, 0.7, 0.8, 0.9],
                      test_accuracy=[0.45, 0.65, 0.8, 0.85])
    path = tmp_path / "curves.png"
    plot_history(history, str(path))
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000  # two axes with curves, labels and a legend at 1000×400 pixels


def test_plot_history_leaves_the_callers_backend_alone(tmp_path) -> None:
    import matplotlib

    history = History(loss=[2.0, 1.0], train_accuracy=[0.5, 0.7], test_accuracy=[0.45, 0.65])
    original = matplotlib.get_backend()
    matplotlib.use("svg")  # the caller's choice, which is not Agg
    try:
        plot_history(history, str(tmp_path / "curves.png"))
        assert matplotlib.get_backend().lower() == "svg"
    finally:
        matplotlib.use(original)
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG_SIGNATURE


# ---- graph ---------------------------------------------------------------------------------------

EXPRESSION = "0.5 * ((y - t) ** 2).sum()"


def test_graph_prints_dot() -> None:
    result = run_at_root("graph", EXPRESSION, "--const", "t=3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("digraph")
    assert out.rstrip().endswith("}")
    labels = re.findall(r'label="([^"\\]+)', out)
    assert sorted(labels) == sorted(["y", "t", "sub", "pow", "sum", "mul"])
    assert len(re.findall(r"->", out)) == 5
    # y requires grad (filled), the constant t does not.
    filled = re.findall(r'label="(\w+)\\n[^"]*"[^\n]*style=filled', out)
    assert "y" in filled and "t" not in filled


def test_graph_shapes_from_var() -> None:
    result = run_at_root("graph", "(x @ w).sum()", "--var", "x=4,3", "--var", "w=3,2")
    assert result.returncode == 0, result.stderr
    assert "matmul\\n(4, 2)" in result.stdout
    assert "x\\n(4, 3)" in result.stdout and "w\\n(3, 2)" in result.stdout


@pytest.mark.parametrize("expression", ["0.5 * ((y - t) ** 2", "y +", "1 + 2", "len([1, 2])",
                                        "y.sum().item()", "undefined_function(y)"])
def test_graph_rejects_bad_expressions(expression: str) -> None:
    result = run_at_root("graph", expression)
    assert result.returncode == 2
    assert result.stderr.startswith("graph: ")
    assert result.stdout == ""


def test_graph_writes_the_dot_to_a_file(tmp_path) -> None:
    path = tmp_path / "graph.dot"
    result = run_at_root("graph", EXPRESSION, "--const", "t=3", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    printed = run_at_root("graph", EXPRESSION, "--const", "t=3").stdout
    assert path.read_text(encoding="utf-8") == printed




def test_graph_render_runs_dot(tmp_path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_dot(bin_dir)
    target = tmp_path / "out.png"
    result = run_at_root("graph", EXPRESSION, "--const", "t=3", "--render", str(target),
                         env={"PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8") == result.stdout
    assert result.stdout.startswith("digraph")
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(calls) == 1 and "-Tpng" in calls[0]


def test_graph_render_without_graphviz_exits_2(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    target = tmp_path / "out.png"
    result = run_at_root("graph", EXPRESSION, "--render", str(target),
                         env={"PATH": str(empty)})
    assert result.returncode == 2
    assert "Graphviz" in result.stderr
    assert not target.exists()


def test_console_script_is_declared() -> None:
    import importlib

    # Read with a regex, not tomllib: the project supports Python 3.10, which lacks tomllib.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[project\.scripts\]\n(.*?)(?=^\[|\Z)", text, flags=re.M | re.S)
    assert section, "pyproject.toml has no [project.scripts] table"
    entries = dict(re.findall(r'^([\w.-]+)\s*=\s*"([^"]+)"', section[1], flags=re.M))
    assert entries == {"tinygrad-ko": "tinygrad_ko.cli:main"}
    module, _, function = entries["tinygrad-ko"].partition(":")
    main = getattr(importlib.import_module(module), function)
    assert main(["graph", "x.exp().sum()", "-o", os.devnull]) == 0


def test_train_refuses_a_folder_for_save_and_a_non_png_plot_before_training(tmp_path) -> None:
    folder = run_at_root("train", "--epochs", "1", "--quiet", "--save", str(tmp_path))
    assert folder.returncode == 2 and "is a folder (nothing was trained)" in folder.stderr
    text = run_at_root("train", "--epochs", "1", "--quiet", "--plot", str(tmp_path / "c.txt"))
    assert text.returncode == 2 and "must end in .png" in text.stderr
    assert "test accuracy" not in folder.stdout + text.stdout


def test_graph_into_a_missing_folder_is_a_clear_error(tmp_path) -> None:
    result = run_at_root("graph", "x * y", "-o", str(tmp_path / "missing" / "g.dot"))
    assert result.returncode == 2 and result.stderr.startswith("graph: ")


# ---- a legacy console encoding (cp949: Korean Windows) ---------------------------------------


@pytest.mark.parametrize("command", ["example", "gradcheck", "train"])
def test_a_cp949_console_prints_every_command_readably(tmp_path, command) -> None:
    # cp949 encodes Hangul, ½, Σ and ×, but not "−" (U+2212), which the output uses; nor can
    # it encode a user's path with one in it.
    save = tmp_path / "model−1.npz"
    args = {"example": [], "gradcheck": ["gradcheck", "--examples", "2"],
            "train": ["train", "--epochs", "1", "--save", str(save)]}[command]
    result = subprocess.run([sys.executable, "-m", "tinygrad_ko", *args], capture_output=True,
                            timeout=120, cwd=ROOT, env={**os.environ, "PYTHONIOENCODING": "cp949"})
    out, err = result.stdout.decode("cp949"), result.stderr.decode("cp949")
    assert result.returncode == 0, err
    assert "Traceback" not in err and "\\u" not in out + err
    if command == "example":
        assert "손실 함수를 식으로 쓰고" in out  # Korean stays readable
        assert "SE = ½ Σ (y - t)²" in out and "backward() == y - t : True" in out
    elif command == "gradcheck":
        assert "max |auto - hand|" in out
        assert sum(line.endswith(" ok") for line in out.splitlines()) == 5
    else:
        assert out.startswith("digits 8×8, MLP")
        assert f"saved the parameters to {tmp_path / 'model-1.npz'}" in out
        assert save.exists()  # the file has its real name; only the printed name is ASCII


# ---- Ctrl-C during train -------------------------------------------------------------------------

INTERRUPTED_LINE = re.compile(r"^train: interrupted at epoch (\d+)/1000 \((\d+) epochs? "
                              r"completed; saved their parameters to (.+)\)$")


def test_ctrl_c_during_train_saves_the_last_completed_epoch_and_exits_130(tmp_path) -> None:
    import tinygrad_ko as tg
    from tinygrad_ko.train import TrainConfig, train_digits

    path = tmp_path / "model.npz"
    process = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_ko", "train", "--epochs", "1000", "--save", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        for line in process.stdout:  # wait until the first epoch has completed
            if EPOCH_LINE.match(line.strip()):
                break
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err
    m = INTERRUPTED_LINE.match(lines[0])
    assert m, lines[0]
    completed = int(m[2])
    assert completed >= 1 and int(m[1]) == completed + 1 and m[3] == str(path)
    assert "test accuracy" not in rest
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left
    # The file holds the parameters after exactly `completed` epochs, not a partial epoch's.
    expected = train_digits(TrainConfig(epochs=completed)).model.state_dict()
    saved = tg.load(path)
    assert set(saved) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(saved[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


def main_without_escaping_interrupts(argv: list[str]) -> int:
    """``cli.main(argv)``, failing the test (not stopping pytest) if a KeyboardInterrupt escapes."""
    from tinygrad_ko import cli

    try:
        return cli.main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped from cli.main")


def test_ctrl_c_before_an_epoch_completes_saves_nothing(tmp_path, monkeypatch, capsys) -> None:
    from tinygrad_ko import train

    def interrupted(*args, **kwargs):  # Ctrl-C while the first epoch's accuracy is measured
        raise KeyboardInterrupt

    path = tmp_path / "model.npz"
    path.write_bytes(b"an older model")
    monkeypatch.setattr(train, "accuracy", interrupted)
    assert main_without_escaping_interrupts(
        ["train", "--epochs", "3", "--quiet", "--save", str(path)]) == 130
    captured = capsys.readouterr()
    assert captured.err == "train: interrupted at epoch 1/3 (no epoch completed; nothing saved)\n"
    assert captured.out == ""
    assert path.read_bytes() == b"an older model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(monkeypatch, capsys) -> None:
    from tinygrad_ko import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "worked_example", interrupted)
    assert main_without_escaping_interrupts([]) == 130
    assert capsys.readouterr().err == "tinygrad_ko: interrupted\n"


# ---- --save into a place nobody can write --------------------------------------------------------


def test_train_save_where_no_file_can_be_made_fails_before_training_naming_the_path(
        tmp_path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"")
    # Unwritable even for root: below a regular file, and in /proc.
    for target, reason in [(a_file / "inside" / "model.npz", f"{a_file} is a file, not a folder"),
                           (Path("/proc/model.npz"), "/proc")]:
        result = run_at_root("train", "--epochs", "1", "--save", str(target))
        assert result.returncode == 2
        assert result.stderr.startswith(f"train: --save {target}: "), result.stderr
        assert reason in result.stderr and "(nothing was trained)" in result.stderr
        assert ".tmp" not in result.stderr and "Traceback" not in result.stderr
        assert "epoch" not in result.stdout + result.stderr
