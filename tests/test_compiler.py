"""tg.compile: the generated code gives what the eager call gives, on inputs it was not traced on.

The differential tests call a compiled function on the inputs it is traced with (A), then on fresh
inputs of the same signature (B and C), and compare its values and every ``.grad`` with the eager
call's (float64, rtol 1e-12): over the op database of test_ops.py and over the random programs
of test_random_graphs.py. A value baked into the code at tracing (a mask, a tie count, a
condition, labels) would pass on A and fail on B or C.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops import CASES, Case
from test_random_graphs import Program, programs

import tinygrad_ko as tg


def fresh(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New values of x's shape and dtype from x's own: the mean of two shuffles for floats (it
    stays in any interval that holds x's values, so in the operation's domain), a shuffle for
    integers and booleans (labels stay labels, a mask stays a mask)."""
    flat = np.asarray(x).ravel()
    if flat.dtype.kind == "f":
        return ((rng.permutation(flat) + rng.permutation(flat)) / 2).reshape(np.shape(x))
    return rng.permutation(flat).reshape(np.shape(x))


def assert_same(actual: tg.Tensor, expected: tg.Tensor) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual.data, expected.data, rtol=1e-12, atol=0, equal_nan=True)


def check_against_eager(fn: Any, inputs: list[list[np.ndarray]], grads: list[bool]) -> tg.compile:
    """Call ``fn`` eagerly and compiled on each list of ``inputs`` (arrays; those marked in
    ``grads`` become Tensors that require grad) and compare the results and the gradients."""
    compiled = tg.compile(fn)
    for arrays in inputs:
        runs = []
        for call in (fn, compiled):
            args = [tg.Tensor(a, requires_grad=True) if g else a for a, g in zip(arrays, grads)]
            runs.append((call(*args), args))
        (expected, eager_args), (actual, compiled_args) = runs
        assert not actual.requires_grad
        assert_same(actual, expected)
        for e, c in zip(eager_args, compiled_args):
            if isinstance(e, tg.Tensor):
                assert (c.grad is None) == (e.grad is None)
                if e.grad is not None:
                    assert_same(c.grad, e.grad)
    assert len(compiled._programs) == 1  # traced once: B and C ran the generated code
    return compiled


# ---- the differential tests ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_a_compiled_operation_equals_eager_on_fresh_inputs(case: Case, data: Any) -> None:
    operands, params = case.draw(data)
    # where's condition and labels are arguments too: they must be traced. (An index is a
    # constant of the trace: see test_an_index_tensor_inside_is_a_compile_error.)
    names = sorted(k for k in params if k in ("cond", "labels"))
    fixed = {k: v for k, v in params.items() if k not in names}
    n = len(operands)

    def program(*args: Any) -> tg.Tensor:
        out = case.fn(*args[:n], **fixed, **dict(zip(names, args[n:])))
        weights = np.random.default_rng(1).uniform(-1, 1, out.shape)
        (out * weights).sum().backward()
        return out

    first = [np.asarray(x, dtype=np.float64) for x in operands]
    first += [np.asarray(params[k]) for k in names]  # (one label is a 0-d array)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    inputs = [first, [fresh(x, rng) for x in first], [fresh(x, rng) for x in first]]
    check_against_eager(program, inputs, [True] * n + [False] * len(names))


@settings(max_examples=25, deadline=None)
@given(program=programs(), seed=st.integers(0, 2**32 - 1))
def test_a_compiled_random_program_equals_eager_on_fresh_inputs(program: Program,
                                                                seed: int) -> None:
    def run(*xs: tg.Tensor) -> tg.Tensor:
        out = program(*xs)
        out.backward()
        return out

    rng = np.random.default_rng(seed)
    first = program.inputs
    inputs = [first, [fresh(x, rng) for x in first], [fresh(x, rng) for x in first]]
    check_against_eager(run, inputs, [True] * len(first))


# ---- a training step -----------------------------------------------------------------------------


def mlp_and_data(seed: int = 0) -> tuple[tg.nn.Module, np.ndarray, np.ndarray]:
    model = tg.nn.Sequential(tg.nn.Linear(4, 8, rng=seed), tg.nn.ReLU(),
                             tg.nn.Linear(8, 3, rng=seed + 1))
    rng = np.random.default_rng(seed)
    return model, rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)


def test_a_training_loop_compiled_follows_the_eager_one_step_by_step() -> None:
    """SGD through a compiled step and through the eager step, from the same start on the same
    batches: parameters read afresh after each optimizer step, gradients accumulated into
    .grad, the same losses and parameters at every step (float32, so to float32 rounding)."""
    runs = []
    for compiled in (False, True):
        model, x, labels = mlp_and_data()
        optimizer = tg.optim.SGD(model.parameters(), lr=0.5)

        def step(xb: Any, yb: Any, model: tg.nn.Module = model) -> tg.Tensor:
            loss = tg.losses.softmax_cross_entropy(model(xb), yb)
            loss.backward()
            return loss

        call = tg.compile(step) if compiled else step
        losses = []
        for k in range(5):
            rows = np.random.default_rng(k).permutation(6)
            optimizer.zero_grad()
            losses.append(call(x[rows], labels[rows]).item())
            optimizer.step()
        runs.append((losses, [p.data.copy() for p in model.parameters()]))
    (eager_losses, eager_params), (compiled_losses, compiled_params) = runs
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-6)
    assert eager_losses[-1] < eager_losses[0]  # it trained
    for c, e in zip(compiled_params, eager_params):
        np.testing.assert_allclose(c, e, rtol=1e-5, atol=1e-6)


def test_grad_accumulates_across_calls_as_eagerly() -> None:
    """Without zero_grad two calls add their gradients: d/dx Σ x² = 2x, twice = 4x."""
    x = tg.Tensor([1.0, -2.0], requires_grad=True)

    @tg.compile
    def step(x: tg.Tensor) -> tg.Tensor:
        loss = (x * x).sum()
        loss.backward()
        return loss

    step(x)
    step(x)
    np.testing.assert_array_equal(x.grad.data, [4.0, -8.0])
    w = tg.Tensor([1.0, -2.0], requires_grad=True)  # (from outside: its .grad is not read)
    f = tg.compile(lambda: (w * w).sum().backward())
    f()
    f()  # (traced again: w.grad was None, now it is not)
    np.testing.assert_array_equal(w.grad.data, [4.0, -8.0])
    assert f.source.startswith("def compiled(w0):") and ".grad" not in f.source.splitlines()[1]


def test_grad_read_inside_after_backward_is_the_accumulated_gradient() -> None:
    """Inside, after backward(), w.grad is what it is eagerly: the earlier .grad plus this pass's
    gradient (d/dw Σ w·x = x)."""
    w = tg.Tensor([1.0, 2.0], requires_grad=True)

    @tg.compile
    def f(x: Any) -> tg.Tensor:
        (w * x).sum().backward()
        return w.grad * 10

    np.testing.assert_array_equal(f(np.array([1.0, 1.0])).data, [10.0, 10.0])  # .grad was None
    np.testing.assert_array_equal(f(np.array([1.0, 1.0])).data, [20.0, 20.0])  # now it was not
    w.grad = tg.Tensor([100.0, 100.0])
    np.testing.assert_array_equal(f(np.array([3.0, 4.0])).data, [1030.0, 1040.0])
    np.testing.assert_array_equal(w.grad.data, [103.0, 104.0])
    np.testing.assert_array_equal(f(np.array([5.0, 6.0])).data, [1080.0, 1100.0])
    np.testing.assert_array_equal(w.grad.data, [108.0, 110.0])


def test_a_grad_read_before_backward_is_read_afresh_and_has_no_graph_after() -> None:
    """Read before the pass, w.grad is the one from before the call (None, then 2w, then 4w);
    read after, it is a value without a graph, as eagerly: a backward through it reaches c only
    (d/dc Σ w.grad · c = w.grad)."""
    def make() -> tuple:
        w = tg.Tensor([1.0, -2.0], requires_grad=True)
        c = tg.Tensor([1.0, 1.0], requires_grad=True)

        def f(x: Any) -> Any:
            before = None if w.grad is None else w.grad * 1
            (w * w * x).sum().backward()
            (w.grad * c).sum().backward()
            return before
        return w, c, f

    (w, c, f), (cw, cc, cf) = make(), make()
    cf = tg.compile(cf)
    for _ in range(3):
        expected, got = f(np.ones(2)), cf(np.ones(2))
        assert (got is None) == (expected is None)
        if got is not None:
            np.testing.assert_array_equal(got.data, expected.data)
        np.testing.assert_array_equal(cw.grad.data, w.grad.data)
        np.testing.assert_array_equal(cc.grad.data, c.grad.data)


def test_results_need_no_grad_and_never_alias_across_calls_or_the_inputs() -> None:
    w = tg.Tensor(np.ones(3), requires_grad=True)

    @tg.compile
    def f(x: Any) -> tuple:
        return x.reshape(3), w.T, x * w  # a view of the argument, a view of w, a new array

    a = np.arange(3.0)
    first, second = f(a), f(a)
    for r1, r2 in zip(first, second):
        assert not r1.requires_grad
        assert not np.shares_memory(r1.data, r2.data)
        assert not np.shares_memory(r1.data, a) and not np.shares_memory(r1.data, w.data)


def test_the_compiled_function_keeps_no_reference_to_its_arguments() -> None:
    @tg.compile
    def f(x: Any) -> tg.Tensor:
        return (x * 2).sum()

    a = np.ones(4)
    f(a)
    f(a)
    alive = weakref.ref(a)
    del a
    gc.collect()
    assert alive() is None


# ---- signatures ----------------------------------------------------------------------------------


def test_a_new_signature_traces_again_and_the_same_one_does_not() -> None:
    traced = []

    @tg.compile
    def f(x: Any, scale: float) -> tg.Tensor:
        traced.append(np.shape(x))  # Python runs once per trace
        return x * scale

    np.testing.assert_array_equal(f(np.ones(2), 3.0).data, [3.0, 3.0])
    np.testing.assert_array_equal(f(np.full(2, 2.0), 3.0).data, [6.0, 6.0])
    assert len(traced) == 1
    np.testing.assert_array_equal(f(np.ones(3), 3.0).data, [3.0, 3.0, 3.0])  # a new shape
    np.testing.assert_array_equal(f(np.ones(3), 0.5).data, [0.5, 0.5, 0.5])  # a new number
    np.testing.assert_array_equal(f(np.ones(3, np.float32), 0.5).data, [0.5] * 3)  # a new dtype
    assert len(traced) == 4


def test_a_parameter_that_changes_shape_or_stops_requiring_grad_traces_again() -> None:
    w = tg.Tensor(np.ones(2), requires_grad=True)

    @tg.compile
    def f(x: Any) -> tg.Tensor:
        loss = (x * w).sum()
        loss.backward()
        return loss

    f(np.ones(2))
    w.data = np.ones(3)
    w.grad = None
    np.testing.assert_array_equal(f(np.full(3, 2.0)).data, 6.0)
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0, 2.0])
    w.requires_grad = False
    w.grad = None
    with pytest.raises(RuntimeError, match="does not require grad"):  # as eagerly
        f(np.full(3, 2.0))


def test_an_argument_that_is_neither_a_tensor_an_array_nor_hashable_is_refused() -> None:
    f = tg.compile(lambda xs: xs[0] * 2)
    with pytest.raises(TypeError, match="argument 0 is a list"):
        f([tg.Tensor([1.0])])


# ---- what a trace refuses ------------------------------------------------------------------------


@pytest.mark.parametrize("escape", [lambda t: t.item(), lambda t: float(t), lambda t: bool(t > 0),
                                    lambda t: t.tolist(), lambda t: t.numpy(), np.asarray],
                         ids=["item", "float", "bool", "tolist", "numpy", "asarray"])
def test_turning_a_traced_value_into_a_python_value_is_a_compile_error(escape: Any) -> None:
    f = tg.compile(lambda x: escape(x.sum()))
    with pytest.raises(tg.CompileError, match=r"tg.compile: .* on a tensor of shape \(\)"):
        f(np.ones(3))


def test_an_in_place_change_inside_is_a_compile_error_naming_it_and_changes_nothing() -> None:
    model, x, labels = mlp_and_data()
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    before = [p.data.copy() for p in model.parameters()]

    def with_step(xb: Any, yb: Any) -> tg.Tensor:
        loss = tg.losses.softmax_cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    with pytest.raises(tg.CompileError, match=r"optimizer.step\(\) changes the parameters"):
        tg.compile(with_step)(x, labels)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
        assert p.grad is None  # the traced backward added nothing

    def add_in_place(t: Any) -> Any:
        t += 1
        return t

    def set_item(t: Any) -> Any:
        t[0] = 5.0
        return t

    for fn, name in ((add_in_place, "in-place add"), (set_item, "setitem"),
                     (lambda t: optimizer.zero_grad(), "zero_grad"),
                     (lambda t: model.load_state_dict(model.state_dict()), "load_state_dict")):
        a = np.zeros(2)
        with pytest.raises(tg.CompileError, match=f"tg.compile: {name}"):
            tg.compile(fn)(a)
        np.testing.assert_array_equal(a, [0.0, 0.0])


def test_an_index_tensor_inside_is_a_compile_error() -> None:
    f = tg.compile(lambda x, i: x[i])
    with pytest.raises(tg.CompileError, match="getitem: an index that is a Tensor"):
        f(np.arange(3.0), np.array([0, 2]))
    np.testing.assert_array_equal(tg.compile(lambda x: x[np.array([0, 2])])(np.arange(3.0)).data,
                                  [0.0, 2.0])  # an array index is a constant: fine


def test_a_user_function_is_a_compile_error() -> None:
    class Double(tg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            return 2 * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return 2 * g

    with pytest.raises(tg.CompileError, match="the Function Double cannot be traced"):
        tg.compile(lambda x: Double.apply(x))(np.ones(2))


def test_the_trace_mode_is_off_after_an_error_and_on_other_threads() -> None:
    with pytest.raises(tg.CompileError):
        tg.compile(lambda x: x.sum().item())(np.ones(2))
    assert tg.Tensor([2.0]).item() == 2.0  # no trace left running
    seen = []

    def other() -> None:
        seen.append(tg.Tensor([3.0]).item())

    @tg.compile
    def f(x: Any) -> Any:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        return x * 2

    f(np.ones(2))
    assert seen == [3.0]


# ---- the transformations inside ------------------------------------------------------------------


def test_grad_and_value_and_grad_inside_are_traced() -> None:
    """d/dx Σ sin(x) · y = cos(x) · y, on two inputs."""
    f = lambda x, y: (tg.sin(x) * y).sum()  # noqa: E731
    both = tg.compile(lambda x, y: tg.value_and_grad(f, argnums=(0, 1))(x, y))
    for x, y in ((np.array([0.5, 1.0]), np.array([2.0, 3.0])),
                 (np.array([1.5, -1.0]), np.array([-1.0, 0.5]))):
        value, (dx, dy) = both(x, y)
        np.testing.assert_allclose(value.data, (np.sin(x) * y).sum(), rtol=1e-12)
        np.testing.assert_allclose(dx.data, np.cos(x) * y, rtol=1e-12)
        np.testing.assert_allclose(dy.data, np.sin(x), rtol=1e-12)


def test_a_compiled_function_called_inside_another_is_part_of_its_trace() -> None:
    inner = tg.compile(lambda x: x * x)
    outer = tg.compile(lambda x: inner(x) + 1)
    np.testing.assert_array_equal(outer(np.array([2.0])).data, [5.0])
    np.testing.assert_array_equal(outer(np.array([3.0])).data, [10.0])
    assert "v0 * v0" not in outer.source and "x * x" in outer.source


# ---- the generated code --------------------------------------------------------------------------


def test_the_squared_errors_gradient_is_y_minus_t_itself() -> None:
    """½ Σ (y − t)²: the backward pass adds no line; the gradient is the forward's y − t."""

    @tg.compile
    def se(y: tg.Tensor, t: Any) -> tg.Tensor:
        loss = tg.losses.squared_error(y, t)
        loss.backward()
        return loss

    y = tg.Tensor(np.array([0.1, 0.7, 0.2]), requires_grad=True)
    se(y, np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(y.grad.data, [0.1, -0.3, 0.2], rtol=1e-12)
    lines = se.source.splitlines()
    assert lines[1] == "    v0 = y - t"
    assert lines[-1] == "    return (v3,), (v0,)  # added to the .grad of y"
