"""Threads: grad mode is per thread (see also test_mode.py), two threads training separate
models get exactly the results of training them one after the other, and threads sharing a
parameter lose none of its gradient."""

from __future__ import annotations

import sys
import threading

import numpy as np

import tinygrad_ko as tg
from tinygrad_ko.train import TrainConfig, train_digits


def histories(configs, parallel: bool):
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def run(i, config):
        try:
            results[i] = train_digits(config)
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    if parallel:
        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(configs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    else:
        for i, config in enumerate(configs):
            run(i, config)
    assert not errors, errors
    return [results[i] for i in range(len(configs))]


def test_two_threads_training_give_the_sequential_results() -> None:
    configs = [TrainConfig(epochs=4, seed=1, optimizer="sgd"),
               TrainConfig(epochs=4, seed=2, loss="mse", hidden=(32,))]
    sequential = histories(configs, parallel=False)
    parallel = histories(configs, parallel=True)
    for one, other in zip(sequential, parallel):
        assert one.loss == other.loss
        assert one.test_accuracy == other.test_accuracy
    assert sequential[0].loss != sequential[1].loss  # the two runs really differ


def test_threads_sharing_a_parameter_lose_no_gradient() -> None:
    """Eight threads backpropagate ``(x * w).sum()`` into one shared ``w`` many times: every
    contribution arrives. d/dw Σ x w = Σ x = n per call, so the total is n · threads · calls.
    A tiny switch interval makes the threads interleave inside the accumulation, where an
    unlocked read-add-store loses updates."""
    threads, calls, n = 8, 200, 4
    w = tg.Tensor(np.zeros(n), requires_grad=True, dtype=np.float64)
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run() -> None:
        try:
            start.wait()
            for _ in range(calls):
                x = tg.Tensor(np.ones(n), dtype=np.float64)
                (x * w).sum().backward()
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=run) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    np.testing.assert_array_equal(w.grad.data, np.full(n, threads * calls))
