"""Where one training step of a workload spends its time: ``python benchmarks/breakdown.py NAME``.

Prints, for tinygrad_ko, the median time of the forward pass, the backward pass and the SGD
update of one step (and of the whole hand-written NumPy step, for scale), the number of graph
nodes, and the functions with the most time of their
own under cProfile (which slows every Python call down, so read it for proportions, not for
absolute times). NAME is a workload of ``run.py`` (mlp-64, mlp-784, chain-200, linreg, moons,
chain-20000).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")  # as run.py: one BLAS thread, set before NumPy loads

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

import tinygrad_ko as tg  # noqa: E402


def graph_size(root: tg.Tensor) -> int:
    """The number of nodes (operations) in root's graph."""
    seen, stack = set(), [root]
    while stack:
        t = stack.pop()
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        stack.extend(x for x in t._inputs if isinstance(x, tg.Tensor))
    return len(seen)


def phases(workload: workloads.Workload, steps: int) -> dict[str, float]:
    """Median seconds of the forward pass, the backward pass and the update, timed apart."""
    step = workload.tinygrad()
    times: dict[str, list[float]] = {"forward": [], "backward": [], "update": []}
    original_backward, original_step = tg.Tensor.backward, tg.optim.SGD.step

    def timed(name: str, function: object) -> object:
        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            result = function(*args, **kwargs)  # type: ignore[operator]
            times[name].append(time.perf_counter() - start)
            return result
        return wrapper

    tg.Tensor.backward = timed("backward", original_backward)  # type: ignore[method-assign]
    tg.optim.SGD.step = timed("update", original_step)  # type: ignore[method-assign]
    try:
        for _ in range(steps):
            start = time.perf_counter()
            step.run()
            times["forward"].append(time.perf_counter() - start)
    finally:
        tg.Tensor.backward, tg.optim.SGD.step = original_backward, original_step
    forward = [total - b - u for total, b, u in
               zip(times["forward"], times["backward"], times["update"])]
    return {"forward": statistics.median(forward),
            "backward": statistics.median(times["backward"]),
            "update": statistics.median(times["update"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the workload")
    parser.add_argument("--steps", type=int, default=1000, help="steps to time and to profile")
    parser.add_argument("--top", type=int, default=15, help="functions to list")
    args = parser.parse_args()
    by_name = {w.name: w for w in workloads.all_workloads()}
    if args.name not in by_name:
        parser.error(f"unknown workload {args.name!r}; choose from {', '.join(by_name)}")
    workload = by_name[args.name]

    captured: list[tg.Tensor] = []
    original_backward = tg.Tensor.backward
    tg.Tensor.backward = lambda self, *a, **k: captured.append(self)  # type: ignore[method-assign]
    try:
        workload.tinygrad().run()
    finally:
        tg.Tensor.backward = original_backward  # type: ignore[method-assign]
    print(f"{workload.title} (`{workload.name}`): {graph_size(captured[0])} nodes per step")

    for name, seconds in phases(workload, args.steps).items():
        print(f"  {name:8s} {seconds * 1e6:9.1f} µs")
    baseline = workload.numpy()
    samples = []
    for _ in range(args.steps):
        start = time.perf_counter()
        baseline.run()
        samples.append(time.perf_counter() - start)
    print(f"  (the hand-written NumPy step: {statistics.median(samples) * 1e6:.1f} µs in all)")

    step = workload.tinygrad()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        step.run()
    profiler.disable()
    print(f"\ncProfile of {args.steps} steps, by own time:")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
