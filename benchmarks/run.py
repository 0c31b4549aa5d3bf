"""Benchmarks: the time of a training step in tinygrad_ko, against hand-written NumPy and PyTorch.

    python benchmarks/run.py                      # every workload, 7 rounds
    python benchmarks/run.py --quick              # 3 shorter rounds, under a minute
    python benchmarks/run.py --only chain-200     # one workload (or `train`)
    python benchmarks/run.py --output RESULTS.md  # also write the full markdown report
    python benchmarks/run.py --memory [--quick]   # resident memory of the 784-256-10 MLP

Each workload of ``workloads.py`` is one training step (forward, backward, SGD update) written
three ways: tinygrad_ko (run eagerly, and compiled with ``tg.compile``: its trace is timed apart,
as the first compiled call), NumPy by hand, and PyTorch when it is installed (``pip install
threadpoolctl``, and install torch yourself to compare: a CPU build is enough). At start-up the
NumPy and PyTorch steps are checked against tinygrad_ko's losses, gradients and updated
parameters, so that every ratio compares the same arithmetic.

Timing interleaves the frameworks in rounds within this process: in each round, each framework
runs a batch of steps (sized at start so a batch lasts at least ``--min-time`` seconds) and the
time per step is recorded. The report gives the median time per step of each framework and the
median over rounds of each round's ratio, tinygrad_ko / NumPy (and against PyTorch), beside the
issue's target. BLAS, OpenMP and PyTorch all use ``--threads`` threads (default 1). The digits
``train`` epoch, the project's main job, is timed in seconds (it has no NumPy twin).

The memory mode runs 2,000 steps of the 784-256-10 MLP in a fresh subprocess per framework
(tinygrad_ko eager and compiled included) and
reads the resident set size from /proc: its peak growth over the start of the loop, and its
drift (the end minus after the first 200 steps).
"""

# The BLAS thread count must be in the environment before NumPy loads its BLAS, so it is read
# from the command line here, ahead of every other import.
import os
import sys


def threads_from_argv(argv: list[str]) -> int | None:
    """The value of ``--threads N`` or ``--threads=N`` in ``argv``, if given."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return None


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_threads = threads_from_argv(sys.argv[1:])
for _variable in THREAD_VARIABLES:
    if _threads is None:
        os.environ.setdefault(_variable, "1")
    else:
        os.environ[_variable] = str(_threads)

import argparse  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark this checkout's tinygrad_ko, not an installed copy

from workloads import Step, Workload, all_workloads  # noqa: E402

import tinygrad_ko as tg  # noqa: E402
from tinygrad_ko.train import TrainConfig, cnn, train_digits  # noqa: E402

try:
    import threadpoolctl
except ImportError:  # the `bench` extra; without it only the environment variables apply
    threadpoolctl = None

FRAMEWORKS = ("numpy", "tinygrad_ko", "compiled", "torch")
LABELS = {"numpy": "NumPy", "tinygrad_ko": "tinygrad_ko", "compiled": "tinygrad_ko compiled",
          "torch": "PyTorch"}
# start-up check: |other − tinygrad_ko| <= atol + rtol · |tinygrad_ko|
TOLERANCES = {np.dtype(np.float32): {"rtol": 1e-4, "atol": 1e-6},
              np.dtype(np.float64): {"rtol": 1e-9, "atol": 1e-12}}
MEMORY_WORKLOAD = "mlp-784"
MEMORY_PEAK_ALLOWANCE_MIB = 5.0  # tinygrad_ko's peak growth may exceed NumPy's by this much
MEMORY_DRIFT_ALLOWANCE_MIB = 1.0  # "no drift": a few pages of allocator noise at most
MIB = 1024 * 1024


# ---- the command line and the environment ---------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    names = [w.name for w in all_workloads()] + ["train"]
    parser = argparse.ArgumentParser(
        description="Time a training step in tinygrad_ko against hand-written NumPy and PyTorch."
    )
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 50 ms batches: under a minute")
    parser.add_argument("--only", choices=names, metavar="NAME",
                        help=f"run one workload: {', '.join(names)}")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for BLAS, OpenMP and PyTorch (default 1)")
    parser.add_argument("--rounds", type=int, help="timing rounds (default 7, quick 3)")
    parser.add_argument("--min-time", type=float,
                        help="seconds of one timed batch of steps (default 0.2, quick 0.05)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--output", type=Path, help="also write the full markdown report here")
    parser.add_argument("--memory", action="store_true",
                        help="measure resident memory instead of time (one subprocess each)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="steps of the memory mode (default 2000, also with --quick)")
    parser.add_argument("--memory-child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.min_time = args.min_time or (0.05 if args.quick else 0.2)
    return args


def import_torch(threads: int) -> Any:
    """PyTorch set to ``threads`` threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def thread_limits(threads: int) -> Any:
    """threadpoolctl's limit on every BLAS and OpenMP pool loaded so far (a no-op without it)."""
    if threadpoolctl is None:
        return nullcontext()
    return threadpoolctl.threadpool_limits(limits=threads)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_description() -> str:
    """The BLAS and OpenMP libraries loaded, with the thread count each has in effect."""
    if threadpoolctl is None:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return (f"{blas.get('name')} {blas.get('version')} (threadpoolctl not installed: thread "
                "count set by the environment variables only)")
    pools = []
    for pool in threadpoolctl.threadpool_info():
        name = f"{pool['internal_api']} {pool.get('version') or ''}".strip()
        details = ", ".join(str(pool[key]) for key in ("architecture", "threading_layer")
                            if pool.get(key))
        pools.append(f"{name} ({details}{', ' if details else ''}{pool['num_threads']} threads, "
                     f"{Path(pool['filepath']).name})")
    return "; ".join(pools) or "none found"


def git_revision() -> str:
    try:
        result = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def environment(args: argparse.Namespace, torch: Any) -> dict[str, str]:
    """What the numbers depend on, for the report."""
    variables = (*THREAD_VARIABLES, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", *sys.argv]),
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} ({usable} usable by this process)",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "NumPy": np.__version__,
        "BLAS / OpenMP in effect": blas_description(),
        "threads": str(args.threads),
        "environment": ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in variables),
        "PyTorch": (f"{torch.__version__} ({torch.get_num_threads()} threads)" if torch
                    else "not installed" if not args.no_torch else "left out (--no-torch)"),
        "tinygrad_ko": f"{tg.__version__} (git {git_revision()})",
        "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}",
    }


# ---- the start-up check -------------------------------------------------------------------------


def steps_of(workload: Workload, torch: Any) -> dict[str, Step]:
    """A fresh step for each framework, all starting from the workload's initial parameters."""
    steps = {"numpy": workload.numpy(), "tinygrad_ko": workload.tinygrad(),
             "compiled": workload.tinygrad(compiled=True)}
    if torch is not None:
        steps["torch"] = workload.torch(torch)
    return steps


def check_agreement(workload: Workload, torch: Any) -> None:
    """Check that NumPy (and PyTorch) compute what tinygrad_ko computes on the same initial
    parameters: the loss, every gradient, and every parameter after one step. Exits with a
    message naming the first disagreement."""
    tolerance = TOLERANCES[np.dtype(workload.dtype)]
    steps = steps_of(workload, torch)
    reference = steps.pop("tinygrad_ko")
    loss, gradients = reference.loss_and_gradients()
    reference.run()
    updated = reference.parameters()
    for framework, step in steps.items():
        other_loss, other_gradients = step.loss_and_gradients()
        step.run()
        names = workload.parameter_names
        comparisons = [("the loss", np.float64(other_loss), np.float64(loss))]
        comparisons += [(f"the gradient of {name}", actual, desired) for name, actual, desired
                        in zip(names, other_gradients, gradients, strict=True)]
        comparisons += [(f"{name} after one step", actual, desired) for name, actual, desired
                        in zip(names, step.parameters(), updated, strict=True)]
        for what, actual, desired in comparisons:
            try:
                if actual.dtype != desired.dtype:
                    raise AssertionError(f"dtype {actual.dtype}, tinygrad_ko has {desired.dtype}")
                # (float32 sums of thousands of terms, as a convolution's dW, err relative to
                # the array's largest magnitude, not to each element: atol scales with it)
                scale = float(np.max(np.abs(desired))) if np.size(desired) else 0.0
                np.testing.assert_allclose(actual, desired, rtol=tolerance["rtol"],
                                           atol=tolerance["atol"] + tolerance["rtol"] * scale)
            except AssertionError as error:
                sys.exit(f"benchmarks: {workload.name}: {LABELS[framework]} (ACTUAL) and "
                         f"tinygrad_ko (DESIRED) disagree on {what}, so their times would not "
                         f"be comparable.\n{error}")


# ---- timing -------------------------------------------------------------------------------------


def seconds_per_step(run: Any, steps: int) -> float:
    """Run ``steps`` steps back to back; the mean seconds per step.

    Garbage from earlier work is collected first, so that no framework pays for another's. The
    garbage collector stays on (a training loop pays for it), but the objects that exist before
    the batch are frozen out of its sight: otherwise each full collection would walk every
    object of PyTorch, if it is imported, and tinygrad_ko's time would depend on that.
    """
    gc.collect()
    gc.freeze()
    try:
        start = time.perf_counter()
        for _ in range(steps):
            run()
        return (time.perf_counter() - start) / steps
    finally:
        gc.unfreeze()


def steps_per_batch(run: Any, min_time: float) -> int:
    """How many steps a timed batch needs to last ``min_time`` seconds, after a warm-up (first
    calls are slow: caches, allocators, lazy initialization)."""
    seconds_per_step(run, 3)
    steps = 1
    while True:
        per_step = seconds_per_step(run, steps)
        if per_step * steps >= min_time / 2:
            return max(1, math.ceil(min_time / per_step))
        steps *= 2


@dataclass
class Timing:
    """The seconds per step of each framework in each round, and what was asked of them."""

    workload: Workload
    per_step: dict[str, list[float]] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    first_compiled_call: float = 0.0  # seconds: the trace, the code generation and one step

    def median(self, framework: str) -> float | None:
        times = self.per_step.get(framework)
        return statistics.median(times) if times else None

    def ratio(self, framework: str, baseline: str) -> float | None:
        """The median over rounds of this round's time of ``framework`` / ``baseline``."""
        if framework not in self.per_step or baseline not in self.per_step:
            return None
        return statistics.median(a / b for a, b in
                                 zip(self.per_step[framework], self.per_step[baseline]))


def time_workload(workload: Workload, torch: Any, rounds: int, min_time: float) -> Timing:
    """Interleaved rounds: in each, every framework runs one batch of steps. The order rotates
    from round to round, so that no framework always runs first (or right after another)."""
    steps = steps_of(workload, torch)
    timing = Timing(workload)
    start = time.perf_counter()
    steps["compiled"].run()
    timing.first_compiled_call = time.perf_counter() - start
    for framework, step in steps.items():
        timing.steps[framework] = steps_per_batch(step.run, min_time)
        timing.per_step[framework] = []
    order = list(steps)
    for round_ in range(rounds):
        shift = round_ % len(order)
        for framework in order[shift:] + order[:shift]:
            per_step = seconds_per_step(steps[framework].run, timing.steps[framework])
            timing.per_step[framework].append(per_step)
    return timing


def time_train_epoch(rounds: int) -> list[float]:
    """Seconds of ``train_digits(TrainConfig(epochs=1))``, the `train` command's work for one
    epoch (loading the digits, building the model, one pass of Adam, the accuracies), once per
    round after one warm-up call."""
    def epoch() -> None:
        train_digits(TrainConfig(epochs=1))

    epoch()
    return [seconds_per_step(epoch, 1) for _ in range(rounds)]


def cnn_steps(torch: Any) -> dict[str, Any]:
    """One training step of the digits CNN (``train --model cnn``'s network, a fixed batch of 32,
    Adam at lr 0.002) for each framework: tinygrad_ko eager and compiled, PyTorch if given. It
    has no NumPy twin (writing the network's backward by hand is the chapter's exercise)."""
    images, labels = tg.data.load_digits(normalize=True)
    x, y = images[:32].reshape(32, 1, 8, 8).astype(np.float32), labels[:32]
    steps = {}
    for framework in ("tinygrad_ko", "compiled"):
        model = cnn(np.random.default_rng(0))
        optimizer = tg.optim.Adam(model.parameters(), lr=0.002)

        def forward_backward(xb: Any, yb: Any, model: Any = model) -> tg.Tensor:
            loss = tg.losses.softmax_cross_entropy(model(xb), yb)
            loss.backward()
            return loss

        step = tg.compile(forward_backward) if framework == "compiled" else forward_backward

        def run(step: Any = step, optimizer: Any = optimizer) -> None:
            optimizer.zero_grad()
            step(x, y)
            optimizer.step()

        steps[framework] = run
    if torch is not None:
        nn = torch.nn
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(256, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def torch_run() -> None:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(tx), ty).backward()
            optimizer.step()

        steps["torch"] = torch_run
    return steps


def time_cnn_step(torch: Any, rounds: int, min_time: float) -> dict[str, list[float]]:
    """Seconds per CNN training step, per framework, interleaved in rounds as the workloads."""
    steps = cnn_steps(torch)
    counts = {name: steps_per_batch(run, min_time) for name, run in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, run in steps.items():
            times[name].append(seconds_per_step(run, counts[name]))
    return times


# ---- the report ---------------------------------------------------------------------------------


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def format_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


def timing_table(timings: list[Timing], has_torch: bool) -> str:
    """One row per workload: times per step, ratios to NumPy against their targets (eager and
    compiled), and the first compiled call (trace, code generation and one step)."""
    header = ["workload", "NumPy / step", "eager / step", "compiled / step"]
    header += ["PyTorch / step"] if has_torch else []
    header += ["eager / NumPy", "compiled / NumPy"]
    header += ["PyTorch / NumPy", "eager / PyTorch"] if has_torch else []
    header += ["targets (eager, compiled)", "result", "first compiled call"]
    rows = []
    for timing in timings:
        workload = timing.workload
        eager, compiled = timing.ratio("tinygrad_ko", "numpy"), timing.ratio("compiled", "numpy")
        row = [f"{workload.title} (`{workload.name}`)", format_time(timing.median("numpy")),
               format_time(timing.median("tinygrad_ko")), format_time(timing.median("compiled"))]
        row += [format_time(timing.median("torch"))] if has_torch else []
        row += [format_ratio(eager), format_ratio(compiled)]
        if has_torch:
            row += [format_ratio(timing.ratio("torch", "numpy")),
                    format_ratio(timing.ratio("tinygrad_ko", "torch"))]
        missed = [kind for kind, ratio, target in (("eager", eager, workload.target),
                                                   ("compiled", compiled, workload.compiled_target))
                  if ratio > target]
        row += [f"≤ {workload.target:g}×, ≤ {workload.compiled_target:g}×",
                f"MISS ({', '.join(missed)})" if missed else "PASS",
                format_time(timing.first_compiled_call)]
        rows.append(row)
    return markdown_table(header, rows, right_from=1)


def markdown_table(header: list[str], rows: list[list[str]], right_from: int) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def environment_section(env: dict[str, str]) -> str:
    return "\n".join(f"- **{key}**: {value}" for key, value in env.items())


def timing_report(args: argparse.Namespace, env: dict[str, str], timings: list[Timing],
                  train_seconds: list[float] | None, has_torch: bool,
                  cnn_seconds: dict[str, list[float]] | None = None) -> tuple[str, str]:
    """The table for the terminal, and the full report for ``--output``."""
    parts = []
    if timings:
        parts.append(timing_table(timings, has_torch))
    if train_seconds:
        median = format_time(statistics.median(train_seconds))
        parts.append(f"digits `train`, one epoch (`train_digits(TrainConfig(epochs=1))`: "
                     f"64-64-10 MLP, Adam, batch 32): median {median} over "
                     f"{len(train_seconds)} runs (min {format_time(min(train_seconds))}, "
                     f"max {format_time(max(train_seconds))})")
    if cnn_seconds:
        parts.append("digits CNN training step (`train --model cnn`'s network, batch 32, Adam), "
                     "median per step: " + ", ".join(
                         f"{LABELS[name]} {format_time(statistics.median(times))}"
                         for name, times in cnn_seconds.items()))
    summary = "\n\n".join(parts)
    method = (
        f"Each workload is one training step (forward, backward, SGD update); \"compiled\" "
        f"runs the forward and backward passes through `tg.compile` (traced at the first "
        f"call, which is timed apart and not in the steps), the SGD update eagerly. The "
        f"frameworks "
        f"run interleaved in {args.rounds} rounds within one process; in each round each "
        f"framework runs a batch of steps lasting at least {args.min_time:g} s "
        f"(steps per batch below). Times are the median over rounds of the time per step; each "
        f"ratio is the median over rounds of that round's ratio. Before timing, the NumPy"
        f"{' and PyTorch steps were' if has_torch else ' step was'} checked against "
        f"tinygrad_ko's loss, gradients and updated parameters. The garbage collector stays "
        f"on, but what exists before a batch is frozen out of its sight (``gc.freeze``), so "
        f"that importing PyTorch does not make tinygrad_ko's collections slower."
    )
    names_by_kind: dict[type, list[str]] = {}  # the workloads of each class, in order
    for t in timings:
        names_by_kind.setdefault(type(t.workload), []).append(f"`{t.workload.name}`")
    described = "\n".join(f"- {', '.join(names)}: " + " ".join(inspect.getdoc(kind).split())
                          for kind, names in names_by_kind.items())
    batches = "\n".join(
        f"- `{t.workload.name}`: " + ", ".join(f"{LABELS[f]} {n}" for f, n in t.steps.items())
        for t in timings
    )
    rounds = "\n".join(
        f"- `{t.workload.name}` ({kind}): " + ", ".join(
            f"{a / b:.2f}" for a, b in zip(t.per_step[framework], t.per_step["numpy"]))
        for t in timings for kind, framework in (("eager", "tinygrad_ko"), ("compiled", "compiled"))
    )
    full = "\n\n".join(part for part in [
        "# tinygrad_ko benchmarks",
        "## Environment",
        environment_section(env),
        "## Time per training step",
        method,
        "The workloads (see `benchmarks/workloads.py`):\n\n" + described if timings else "",
        summary,
        "Steps per timed batch:\n\n" + batches if timings else "",
        "tinygrad_ko / NumPy in each round, eager and compiled (their spread shows the "
        "noise):\n\n" + rounds
        if timings else "",
    ] if part)
    return summary, full + "\n"


# ---- memory -------------------------------------------------------------------------------------


def resident_bytes() -> int:
    """The resident set size of this process, from /proc/self/statm (in pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def reset_peak_resident() -> bool:
    """Reset the kernel's high-water mark of resident memory (VmHWM); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(framework: str, steps: int, torch: Any) -> None:
    """Run in a fresh subprocess: ``steps`` training steps of the memory workload, sampling the
    resident set size every 100 steps. Prints one JSON line for the parent."""
    workload = next(w for w in all_workloads() if w.name == MEMORY_WORKLOAD)
    step = steps_of(workload, torch if framework == "torch" else None)[framework]
    gc.collect()
    start = resident_bytes()
    has_peak = reset_peak_resident()
    samples = []
    for i in range(1, steps + 1):
        step.run()
        if i % 100 == 0 or i == steps:
            samples.append((i, resident_bytes()))
    after_200 = next((rss for i, rss in samples if i >= 200), samples[-1][1])
    print(json.dumps({
        "framework": framework,
        "start": start,
        "sampled_peak": max(rss for _, rss in samples),
        "kernel_peak": peak_resident_bytes() if has_peak else None,
        "end": samples[-1][1],
        "after_200": after_200,
    }))


def memory_mode(args: argparse.Namespace, has_torch: bool) -> list[dict[str, Any]]:
    """Each framework in its own fresh subprocess (so that none inherits another's memory)."""
    results = []
    for framework in FRAMEWORKS:
        if framework == "torch" and not has_torch:
            continue
        command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", framework,
                   "--steps", str(args.steps), "--threads", str(args.threads)]
        if args.no_torch:
            command.append("--no-torch")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"benchmarks: the memory run of {LABELS[framework]} failed:\n{done.stderr}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def memory_report(args: argparse.Namespace, env: dict[str, str],
                  results: list[dict[str, Any]]) -> tuple[str, str]:
    def mib(n: float) -> str:
        return f"{n / MIB:+.2f} MiB"

    def peak_growth(result: dict[str, Any]) -> int:
        # The kernel's high-water mark catches peaks within a step; samples every 100 steps
        # would miss them. Fall back to the samples where the mark cannot be reset.
        peak = result["kernel_peak"] or result["sampled_peak"]
        return max(peak, result["sampled_peak"]) - result["start"]

    header = ["framework", "RSS at loop start", "peak growth", "peak growth (sampled)",
              "drift (end − after 200 steps)"]
    rows = [[LABELS[r["framework"]], f"{r['start'] / MIB:.1f} MiB", mib(peak_growth(r)),
             mib(r["sampled_peak"] - r["start"]), mib(r["end"] - r["after_200"])]
            for r in results]
    by_framework = {r["framework"]: r for r in results}
    numpy = by_framework["numpy"]
    verdicts = []
    for framework in ("tinygrad_ko", "compiled"):
        result = by_framework[framework]
        excess = peak_growth(result) - peak_growth(numpy)
        drift = result["end"] - result["after_200"]
        peak_ok = excess <= MEMORY_PEAK_ALLOWANCE_MIB * MIB
        drift_ok = abs(drift) <= MEMORY_DRIFT_ALLOWANCE_MIB * MIB
        verdicts.append(
            f"{LABELS[framework]}'s peak growth is {mib(excess)} over NumPy's (allowed "
            f"{MEMORY_PEAK_ALLOWANCE_MIB:g} MiB): {'PASS' if peak_ok else 'MISS'}. "
            f"Its drift is {mib(drift)} (allowed ±{MEMORY_DRIFT_ALLOWANCE_MIB:g} MiB): "
            f"{'PASS' if drift_ok else 'MISS'}.")
    verdict = " ".join(verdicts)
    summary = markdown_table(header, rows, right_from=1) + "\n\n" + verdict
    method = (
        f"{args.steps} training steps of the 784-256-10 MLP (batch 128, float32, SGD), each "
        "framework in a fresh subprocess. The resident set size (RSS, /proc/self/statm) is "
        "read at the start of the loop and every 100 steps. Peak growth is the kernel's "
        "high-water mark of RSS during the loop (VmHWM, reset at the start of the loop) minus "
        "the RSS at its start; drift is the RSS at the end minus the RSS after 200 steps."
    )
    full = "\n\n".join(["# tinygrad_ko benchmarks: memory", "## Environment",
                        environment_section(env), "## Resident memory", method, summary])
    return summary, full + "\n"


# ---- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # A memory run of NumPy or tinygrad_ko must not carry PyTorch's libraries in its memory.
    skip_torch = args.no_torch or args.memory_child not in (None, "torch")
    torch = None if skip_torch else import_torch(args.threads)
    with thread_limits(args.threads):
        if args.memory_child:
            memory_child(args.memory_child, args.steps, torch)
            return
        env = environment(args, torch)
        print("\n".join(f"{key}: {value}" for key, value in env.items()), end="\n\n",
              flush=True)
        if args.memory:
            summary, full = memory_report(args, env, memory_mode(args, torch is not None))
        else:
            selected = [w for w in all_workloads() if args.only in (None, w.name)]
            for workload in selected:
                check_agreement(workload, torch)
            timings = []
            for workload in selected:
                print(f"timing {workload.name} ...", file=sys.stderr, flush=True)
                timings.append(time_workload(workload, torch, args.rounds, args.min_time))
            train_seconds = cnn_seconds = None
            if args.only in (None, "train"):
                print("timing train ...", file=sys.stderr, flush=True)
                train_seconds = time_train_epoch(args.rounds)
                cnn_seconds = time_cnn_step(torch, args.rounds, args.min_time)
            env["load average (1 min) at the end"] = f"{os.getloadavg()[0]:.2f}"
            summary, full = timing_report(args, env, timings, train_seconds, torch is not None,
                                          cnn_seconds)
    print(summary)
    if args.output:
        args.output.write_text(full)
        print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
