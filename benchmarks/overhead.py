"""Per-operation overhead: a chain of small elementwise operations, forward + backward.

    python benchmarks/overhead.py [--ops 200] [--size 16] [--repeat 50]

Prints microseconds per operation for tinygrad_ko and for a hand-written NumPy forward/backward
of the same arithmetic (the floor a NumPy-based framework can reach), run in this process, and
their ratio. The full benchmark suite (issue 6) will live beside it in ``run.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygrad_ko as tg


def chain_tinygrad(x0: np.ndarray, n: int) -> np.ndarray:
    x = tg.Tensor(x0, requires_grad=True)
    h = x
    for i in range(n):
        h = h.tanh() if i % 2 else h * 0.9
    h.backward(np.ones_like(x0))
    return x.grad.data


def chain_numpy(x0: np.ndarray, n: int) -> np.ndarray:
    outputs = []
    h = x0
    for i in range(n):
        h = np.tanh(h) if i % 2 else h * np.float32(0.9)
        outputs.append(h)
    g = np.ones_like(x0)
    for i in reversed(range(n)):
        g = g * (1 - outputs[i] * outputs[i]) if i % 2 else g * np.float32(0.9)
    return g


def best_of(fn, *args, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    x0 = np.random.default_rng(0).standard_normal(args.size).astype(np.float32)
    np.testing.assert_allclose(chain_tinygrad(x0, args.ops), chain_numpy(x0, args.ops), rtol=1e-5)
    t_tg = best_of(chain_tinygrad, x0, args.ops, repeat=args.repeat)
    t_np = best_of(chain_numpy, x0, args.ops, repeat=args.repeat)
    per_op = 1e6 / args.ops
    print(f"chain of {args.ops} ops on ({args.size},) float32, forward + backward, median:")
    print(f"  tinygrad_ko : {t_tg * per_op:6.2f} us/op")
    print(f"  numpy       : {t_np * per_op:6.2f} us/op")
    print(f"  ratio       : {t_tg / t_np:6.2f}x")


if __name__ == "__main__":
    main()
