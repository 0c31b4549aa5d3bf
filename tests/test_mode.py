"""Tests of ``tinygrad_ko.mode``: ``no_grad`` / ``enable_grad`` / ``is_grad_enabled`` (as context
managers, as decorators, and thread-local), and ``detect_anomaly`` (NaN and infinity in the forward
and the backward pass raise ``FloatingPointError`` naming the operation).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_ko as tg

RTOL = 1e-12


def run_threads(*targets):
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors: list[BaseException] = []

    def guarded(target):
        def run():
            try:
                target()
            except BaseException as error:  # reported in the main thread below
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
        assert not thread.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


# ---- no_grad / enable_grad / is_grad_enabled -----------------------------------------------------


def test_grad_is_enabled_by_default():
    assert tg.is_grad_enabled() is True


def test_no_grad_context_manager_records_no_graph():
    x = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with tg.no_grad():
        assert tg.is_grad_enabled() is False
        results = [x * 2.0, tg.exp(x), x @ x, x[1:], (x + x).sum(), -x]
    assert tg.is_grad_enabled() is True
    for y in results:
        assert not y.requires_grad
        assert y.grad_fn is None
        assert y.is_leaf
    np.testing.assert_allclose(results[0].data, [2.0, 4.0, 6.0], rtol=RTOL)
    np.testing.assert_allclose(results[1].data, np.exp([1.0, 2.0, 3.0]), rtol=RTOL)
    np.testing.assert_allclose(results[2].data, 14.0, rtol=RTOL)
    # Outside the block, the same expression is recorded again.
    assert (x * 2.0).requires_grad


def test_backward_of_a_result_made_under_no_grad_raises():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with tg.no_grad():
        loss = (x * x).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        loss.backward()
    assert x.grad is None


def test_no_grad_as_a_decorator():
    seen = {}

    @tg.no_grad()
    def step(x):
        seen["enabled"] = tg.is_grad_enabled()
        return x * x + 1.0

    x = tg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = step(x)
    assert seen["enabled"] is False
    assert tg.is_grad_enabled() is True
    assert not y.requires_grad
    assert y.grad_fn is None
    np.testing.assert_allclose(y.data, [2.0, 5.0], rtol=RTOL)
    # The decorator can be used more than once (it is not a one-shot context).
    assert not step(x).requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError), tg.no_grad():
        raise KeyError("boom")
    assert tg.is_grad_enabled() is True

    @tg.no_grad()
    def failing():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        failing()
    assert tg.is_grad_enabled() is True


def test_nested_no_grad_restores_the_outer_state():
    with tg.no_grad():
        with tg.no_grad():
            assert tg.is_grad_enabled() is False
        assert tg.is_grad_enabled() is False
    assert tg.is_grad_enabled() is True


def test_enable_grad_inside_no_grad_records_the_graph():
    x = np.array([0.5, 1.5, -2.0])
    t = tg.Tensor(x, requires_grad=True)
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled() is True
            loss = (t * t * t).sum()
        assert tg.is_grad_enabled() is False
        untracked = t * t
    assert loss.requires_grad and loss.grad_fn is not None
    assert not untracked.requires_grad
    loss.backward()
    np.testing.assert_allclose(t.grad.data, 3 * x**2, rtol=RTOL)


def test_enable_grad_as_a_decorator_inside_no_grad():
    @tg.enable_grad()
    def square(v):
        return v * v

    t = tg.Tensor(np.array([3.0]), requires_grad=True)
    with tg.no_grad():
        y = square(t)
        assert tg.is_grad_enabled() is False
    assert y.requires_grad
    y.backward()
    np.testing.assert_allclose(t.grad.data, [6.0], rtol=RTOL)


def test_backward_inside_no_grad_still_computes_gradients():
    x = np.array([1.0, 2.0])
    t = tg.Tensor(x, requires_grad=True)
    loss = (t * t).sum()
    with tg.no_grad():
        loss.backward()
        assert tg.is_grad_enabled() is False
    np.testing.assert_allclose(t.grad.data, 2 * x, rtol=RTOL)


# ---- thread-locality -----------------------------------------------------------------------------


def test_no_grad_in_one_thread_does_not_affect_another_thread():
    """Thread A stays inside ``no_grad`` while thread B records a graph, runs a backward pass
    (recording it, with create_graph) and a second-order one. Barriers make the overlap
    certain, not a matter of timing."""
    barrier = threading.Barrier(2, timeout=10)
    seen = {}
    x = np.array([0.5, -1.0, 2.0])

    def thread_a():
        with tg.no_grad():
            barrier.wait()  # 1: A is inside no_grad
            t = tg.Tensor(x, requires_grad=True)
            y = t * t
            seen["a_forward"] = (tg.is_grad_enabled(), y.requires_grad, y.grad_fn)
            barrier.wait()  # 2: B has recorded its forward graph
            barrier.wait()  # 3: B has finished its backward passes
            z = t * 3.0
            seen["a_after"] = (tg.is_grad_enabled(), z.requires_grad, z.grad_fn)

    def thread_b():
        barrier.wait()  # 1
        t = tg.Tensor(x, requires_grad=True)
        loss = (t * t * t).sum()
        seen["b_forward"] = (tg.is_grad_enabled(), loss.requires_grad, loss.grad_fn is not None)
        barrier.wait()  # 2
        loss.backward(create_graph=True)
        first = t.grad
        t.grad = None
        first.sum().backward()
        seen["b_grads"] = (first.data.copy(), t.grad.data.copy())
        seen["b_enabled"] = tg.is_grad_enabled()
        barrier.wait()  # 3

    run_threads(thread_a, thread_b)
    assert seen["a_forward"] == (False, False, None)
    assert seen["a_after"] == (False, False, None)
    assert seen["b_forward"] == (True, True, True)
    assert seen["b_enabled"] is True
    first, second = seen["b_grads"]
    np.testing.assert_allclose(first, 3 * x**2, rtol=RTOL)  # d/dx Σ x³
    np.testing.assert_allclose(second, 6 * x, rtol=RTOL)  # d/dx Σ 3x²
    assert tg.is_grad_enabled() is True


def test_a_new_thread_starts_with_grad_enabled_even_if_the_caller_is_in_no_grad():
    seen = {}

    def worker():
        t = tg.Tensor(np.array([2.0]), requires_grad=True)
        y = t * t
        seen["enabled"] = tg.is_grad_enabled()
        seen["recorded"] = y.requires_grad and y.grad_fn is not None

    with tg.no_grad():
        run_threads(worker)
        assert tg.is_grad_enabled() is False
    assert seen == {"enabled": True, "recorded": True}


def test_detect_anomaly_is_thread_local():
    barrier = threading.Barrier(2, timeout=10)
    seen = {}

    # np.errstate is per thread, so each thread sets its own.
    def thread_a():
        with np.errstate(divide="ignore"), tg.detect_anomaly():
            barrier.wait()  # 1: A is inside detect_anomaly
            barrier.wait()  # 2: B has computed log(0) without an error
            try:
                tg.log(tg.Tensor(np.array([0.0])))
            except FloatingPointError as error:
                seen["a_error"] = str(error)

    def thread_b():
        barrier.wait()  # 1
        with np.errstate(divide="ignore"):
            seen["b_value"] = tg.log(tg.Tensor(np.array([0.0]))).data[0]
        barrier.wait()  # 2

    run_threads(thread_a, thread_b)
    assert seen["b_value"] == -np.inf
    assert "log" in seen["a_error"]


# ---- detect_anomaly ------------------------------------------------------------------------------


@pytest.mark.parametrize("requires_grad", [True, False])
def test_log_of_zero_under_detect_anomaly_raises_naming_log(requires_grad):
    t = tg.Tensor(np.array([1.0, 0.0]), requires_grad=requires_grad)
    with np.errstate(divide="ignore"), tg.detect_anomaly(), \
            pytest.raises(FloatingPointError, match="log"):
        tg.log(t)


NAN_OPS = {
    "exp": lambda t: tg.exp(t),
    "mul": lambda t: t * 2.0,
    "add": lambda t: t + 1.0,
    "sum": lambda t: t.sum(),
    "matmul": lambda t: t @ np.ones(3),
    "tanh": lambda t: t.tanh(),
}


@pytest.mark.parametrize("name", sorted(NAN_OPS))
def test_nan_flowing_through_an_operation_raises_naming_it(name):
    t = tg.Tensor(np.array([1.0, np.nan, 2.0]), requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(FloatingPointError, match=f"(?i){name}"):
        NAN_OPS[name](t)


def test_inf_from_an_operation_raises_naming_it():
    t = tg.Tensor(np.array([1.0, 1000.0]), requires_grad=True)
    with np.errstate(over="ignore"), tg.detect_anomaly(), \
            pytest.raises(FloatingPointError, match="exp"):
        tg.exp(t)


def test_backward_producing_inf_raises_naming_the_operation():
    t = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore"), tg.detect_anomaly():
        loss = tg.sqrt(t).sum()  # the forward is finite: sqrt(0) = 0
        np.testing.assert_allclose(loss.data, 2.0, rtol=RTOL)
        # d sqrt(x)/dx = 1 / (2 sqrt(x)) is infinite at 0.
        with pytest.raises(FloatingPointError, match="sqrt"):
            loss.backward()


def test_backward_producing_nan_raises_naming_the_operation():
    t = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"), tg.detect_anomaly():
        loss = (tg.sqrt(t) * 0.0).sum()
        # The upstream gradient of sqrt is 0 and its derivative infinite at 0: 0 / 0 = nan.
        with pytest.raises(FloatingPointError, match="sqrt"):
            loss.backward()


def test_recorded_backward_producing_inf_names_the_operation_whose_gradient_it_is():
    """With create_graph the backward pass is itself made of operations; the anomaly still
    comes from the gradient of sqrt, and that is the operation the user must be told about."""
    t = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore"), tg.detect_anomaly():
        loss = tg.sqrt(t).sum()
        with pytest.raises(FloatingPointError, match="sqrt"):
            loss.backward(create_graph=True)


class UserLog(tg.Function):
    """y = log x, dy/dx = 1/x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.x


class UserSqrt(tg.Function):
    """y = √x, dy/dx = 1 / (2√x): finite forward, infinite gradient at 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.y = np.sqrt(x)
        return ctx.y

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.y)


def test_anomaly_in_the_forward_of_a_user_function_names_the_function():
    t = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with np.errstate(divide="ignore"), tg.detect_anomaly(), \
            pytest.raises(FloatingPointError, match="UserLog"):
        UserLog.apply(t)


def test_anomaly_in_the_backward_of_a_user_function_names_the_function():
    t = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with np.errstate(divide="ignore"), tg.detect_anomaly():
        loss = UserSqrt.apply(t).sum()
        with pytest.raises(FloatingPointError, match="UserSqrt"):
            loss.backward()


def test_detect_anomaly_lets_a_finite_computation_through():
    x = np.array([0.5, 2.0])
    t = tg.Tensor(x, requires_grad=True)
    with tg.detect_anomaly():
        loss = (tg.log(t) * t).sum()
        loss.backward()
    # d/dx x log x = log x + 1
    np.testing.assert_allclose(t.grad.data, np.log(x) + 1, rtol=RTOL)


def test_outside_detect_anomaly_nan_and_inf_pass_silently():
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = tg.log(tg.Tensor(np.array([1.0, 0.0])))
        assert logged.data[1] == -np.inf
        assert np.isnan(tg.exp(tg.Tensor(np.array([np.nan]))).data[0])
        t = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True)
        tg.sqrt(t).sum().backward()
    assert t.grad.data[0] == np.inf
    np.testing.assert_allclose(t.grad.data[1], 0.25, rtol=RTOL)  # 1 / (2 sqrt 4)


def test_detect_anomaly_is_off_again_after_a_block_that_raised():
    with np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError), tg.detect_anomaly():
            tg.log(tg.Tensor(np.array([0.0])))
        assert tg.log(tg.Tensor(np.array([0.0]))).data[0] == -np.inf


def test_one_no_grad_instance_can_be_entered_inside_itself():
    switch = tg.no_grad()
    with switch:
        with switch:
            assert not tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_no_grad_on_a_generator_function_covers_its_body() -> None:
    """As in PyTorch: the body runs without grad at each resumption, the caller's code between
    two items runs with its own mode, and send, throw and return values pass through."""
    x = tg.Tensor([1.0], requires_grad=True)

    @tg.no_grad()
    def items(n):
        received = None
        for _ in range(n):
            try:
                received = yield (x * 2).requires_grad, tg.is_grad_enabled(), received
            except KeyError:
                received = "handled"
        return "done"

    gen = items(3)
    assert next(gen) == (False, False, None)
    assert tg.is_grad_enabled() and (x * 2).requires_grad  # the caller's mode between items
    assert gen.send(5) == (False, False, 5)
    assert gen.throw(KeyError()) == (False, False, "handled")
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    assert tg.is_grad_enabled()
    gen = items(2)
    next(gen)
    gen.close()
    assert tg.is_grad_enabled()


def test_a_generator_that_switches_modes_itself_keeps_them_across_yields() -> None:
    """The body's own `with tg.enable_grad():` holds at every item, not only the first."""
    x = tg.Tensor([1.0], requires_grad=True)

    @tg.no_grad()
    def items():
        yield (x * 3).requires_grad
        with tg.enable_grad():
            yield (x * 3).requires_grad
            yield (x * 3).requires_grad
        yield (x * 3).requires_grad

    with tg.no_grad():  # the caller's own mode never leaks into the body
        gen = items()
        first = next(gen)
    assert [first, *gen] == [False, True, True, False]
    assert tg.is_grad_enabled()
