"""Threads: grad mode is per thread (see also test_mode.py), and two threads training separate
models get exactly the results of training them one after the other."""

from __future__ import annotations

import threading

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
