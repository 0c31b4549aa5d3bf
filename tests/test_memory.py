"""Long runs keep memory flat: graphs are released by backward and freed by reference counting.

10,000 training steps of a small MLP must not grow traced memory; the graph is gone after a
backward without ``retain_graph`` even while the loss is still held; and a training step leaves
nothing for the cyclic garbage collector. (Depth: the 100,000-deep chain is in test_engine.py.)
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np

import tinygrad_ko as tg


def small_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((16, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = tg.nn.mlp([4, 8, 2], rng=seed)
    return X, y, model, tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def step(X, y, model, optimizer) -> float:
    loss = tg.losses.softmax_cross_entropy(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def live_tensors() -> int:
    return sum(isinstance(o, tg.Tensor) for o in gc.get_objects())


def test_ten_thousand_training_steps_keep_memory_flat() -> None:
    X, y, model, optimizer = small_problem()
    for _ in range(200):  # warm up: optimizer state, NumPy caches
        step(X, y, model, optimizer)
    tensors_before = live_tensors()
    for _ in range(8800):
        step(X, y, model, optimizer)
    assert live_tensors() == tensors_before  # no graph survives a step
    tracemalloc.start()  # slow: only for the last thousand steps
    try:
        step(X, y, model, optimizer)
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            step(X, y, model, optimizer)
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A leak of even one small array (~100 B) per step would add ~100 kB here.
    assert end - start < 16 * 1024, (start, end)
    assert step(X, y, model, optimizer) < 0.1  # and it did learn


def test_graph_is_released_by_backward_while_the_loss_is_still_held() -> None:
    x = tg.Tensor(np.ones(3), requires_grad=True)
    hidden = (x * 2).exp()
    probe = weakref.ref(hidden)
    loss = hidden.sum()
    del hidden
    assert probe() is not None  # the graph keeps it for backward
    loss.backward()
    assert probe() is None  # released by backward, though `loss` is alive
    assert loss.grad_fn is not None and loss.item() == 3 * np.exp(2)


def test_retained_graph_lives_until_the_output_goes() -> None:
    x = tg.Tensor(np.ones(3), requires_grad=True)
    hidden = x * 2
    probe = weakref.ref(hidden)
    loss = hidden.sum()
    del hidden
    loss.backward(retain_graph=True)
    assert probe() is not None
    del loss
    assert probe() is None


def test_a_training_step_leaves_no_reference_cycles() -> None:
    X, y, model, optimizer = small_problem()
    step(X, y, model, optimizer)
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            step(X, y, model, optimizer)
            tg.grad(lambda w: (w * w).sum())(np.ones(3))
            tg.hessian(lambda w: (w**3).sum())(np.ones(2))
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
