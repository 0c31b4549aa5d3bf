"""Bad input: every error is clear and is raised before anything changes.

One test per kind of mistake. Each asserts the error's type and that its message names the
operation and the shapes or values at fault, and then that the call left everything as it was:
the tensors' data (the same array object, bit for bit), their ``.grad``, their place in the graph
(a backward pass through a recorded intermediate still works afterwards and gives the right
gradient), model parameters, optimizer state and files.

Messages are matched with look-aheads (``(?=.*part)``) so that the parts may come in any order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import TooFewGradients, WrongShapeGradient

import tinygrad_ko as tg
from tinygrad_ko import losses as L

SHAPE = (2, 3)


def mentions(start: str, *parts: str) -> str:
    """A regex for a message that begins with ``start`` and contains every one of ``parts``."""
    return "^" + re.escape(start) + "".join(f"(?=.*{re.escape(p)})" for p in parts)


def _state(t: tg.Tensor) -> tuple:
    grad = None if t.grad is None else (t.grad.data.copy(), t.grad.dtype)
    return t.data, t.data.copy(), grad, t.requires_grad, t.grad_fn, t.is_leaf


class Watched:
    """Tensors whose whole state a failed call must leave as it found it."""

    def __init__(self, *tensors: tg.Tensor) -> None:
        self.tensors = tensors
        self.before = [_state(t) for t in tensors]

    def assert_unchanged(self) -> None:
        for i, (t, before) in enumerate(zip(self.tensors, self.before)):
            array, values, grad, requires_grad, grad_fn, is_leaf = before
            assert t.data is array, f"tensor {i}: its data array was replaced"
            assert t.data.dtype == values.dtype, f"tensor {i}: dtype changed"
            np.testing.assert_array_equal(t.data, values, err_msg=f"tensor {i}: data changed")
            if grad is None:
                assert t.grad is None, f"tensor {i}: a gradient appeared"
            else:
                assert t.grad is not None, f"tensor {i}: its gradient was reset"
                assert t.grad.dtype == grad[1]
                np.testing.assert_array_equal(t.grad.data, grad[0],
                                              err_msg=f"tensor {i}: grad changed")
            assert t.requires_grad == requires_grad, f"tensor {i}: requires_grad changed"
            assert t.grad_fn is grad_fn and t.is_leaf == is_leaf, f"tensor {i}: graph changed"


class Scene:
    """The moment of a typical mistake: a leaf ``x`` holding a gradient from an earlier backward
    pass (all ones) and a recorded intermediate ``h = 3 x`` not yet backpropagated.

    ``assert_unchanged`` checks both tensors and then backpropagates through ``h``: if the failed
    call had released or rewired the graph this raises or gives a gradient other than 1 + 3.
    """

    def __init__(self, shape: tuple[int, ...] = SHAPE) -> None:
        self.x = tg.Tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape) / 8,
                           requires_grad=True, dtype=np.float64)
        self.x.sum().backward()
        self.h = self.x * 3.0
        self.watched = Watched(self.x, self.h)

    def assert_unchanged(self) -> None:
        self.watched.assert_unchanged()
        self.h.backward(np.ones(self.h.shape))
        np.testing.assert_array_equal(self.x.grad.data, np.full(self.x.shape, 4.0))


def other_leaf(shape: tuple[int, ...]) -> tg.Tensor:
    """A second operand that requires grad and already holds a gradient."""
    t = tg.Tensor(np.full(shape, 0.5), requires_grad=True, dtype=np.float64)
    t.grad = tg.Tensor(np.full(shape, 7.0), dtype=np.float64)
    return t


# ---- non-numeric data ----------------------------------------------------------------------------

NON_NUMERIC = {"str": "abc", "object": object(), "dict": {"a": 1.0}}


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
def test_a_tensor_of_non_numeric_data_raises_type_error(kind: str) -> None:
    data = NON_NUMERIC[kind]
    before = repr(data)
    default = tg.get_default_dtype()
    with pytest.raises(TypeError, match=mentions("Tensor: data must be numeric", f"from {kind}")):
        tg.Tensor(data, requires_grad=True)
    assert repr(data) == before and tg.get_default_dtype() == default


@pytest.mark.parametrize("operand", ["abc", "1.5", object(), {"a": 1.0}],
                         ids=["str", "numeric-str", "object", "dict"])
def test_a_non_numeric_operand_raises_type_error_naming_the_operation(operand: Any) -> None:
    """NumPy itself refuses ``np.ones(3) + "1.5"`` (a string is not a number), so must we."""
    scene = Scene()
    with pytest.raises(TypeError, match=mentions("add:", str(SHAPE))):
        scene.h + operand
    scene.assert_unchanged()


# ---- NaN and infinity under detect_anomaly -------------------------------------------------------


def test_anomaly_names_the_first_operation_to_consume_a_nan_in_the_data() -> None:
    x = tg.Tensor(np.array([1.0, np.nan, 2.0]), requires_grad=True, dtype=np.float64)
    x.grad = tg.Tensor(np.array([1.0, 2.0, 3.0]))
    watched = Watched(x)
    with tg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"'add'.*nan") as info:
        (x + 1.0).exp().sum()
    assert "exp" not in str(info.value) and "sum" not in str(info.value)
    watched.assert_unchanged()


def test_anomaly_names_the_operation_that_produces_an_infinity() -> None:
    scene = Scene()
    with np.errstate(divide="ignore"), tg.detect_anomaly(), \
            pytest.raises(FloatingPointError, match=r"'log'.*inf.*\(2, 3\)"):
        tg.log(scene.h - scene.h[0, 0]).sum()  # the subtraction is finite; log(0) is not
    scene.assert_unchanged()


def test_anomaly_in_the_backward_pass_names_the_operation_and_changes_no_gradient() -> None:
    x = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True, dtype=np.float64)
    x.grad = tg.Tensor(np.array([5.0, 6.0]), dtype=np.float64)
    watched = Watched(x)
    loss = tg.sqrt(x).sum()  # finite; d sqrt(x)/dx = 1 / (2 sqrt(x)) is infinite at 0
    with np.errstate(divide="ignore"), tg.detect_anomaly(), \
            pytest.raises(FloatingPointError, match=r"backward of 'sqrt'.*inf"):
        loss.backward()
    watched.assert_unchanged()
    with np.errstate(divide="ignore"):
        loss.backward()  # the graph was not released by the failed pass
    np.testing.assert_array_equal(x.grad.data, [np.inf, 6.25])


# ---- shape mismatches in binary operations -------------------------------------------------------

BINARY: dict[str, tuple[str, Callable]] = {
    "add": ("add", lambda a, b: a + b),
    "sub": ("sub", lambda a, b: a - b),
    "mul": ("mul", lambda a, b: a * b),
    "div": ("div", lambda a, b: a / b),
    "pow": ("pow", lambda a, b: a**b),
    "maximum": ("maximum", tg.maximum),
    "minimum": ("minimum", tg.minimum),
    "where": ("where", lambda a, b: tg.where(a > 0, a, b)),
    "where-condition": ("where", lambda a, b: tg.where(b > 0, a, a)),
    "matmul": ("matmul", lambda a, b: a @ b),
    "<": ("less", lambda a, b: a < b),
    "<=": ("less_equal", lambda a, b: a <= b),
    ">": ("greater", lambda a, b: a > b),
    ">=": ("greater_equal", lambda a, b: a >= b),
    "==": ("equal", lambda a, b: a == b),
    "!=": ("not_equal", lambda a, b: a != b),
}


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_shape_mismatch_names_the_operation_and_both_shapes(op: str) -> None:
    name, apply = BINARY[op]
    scene = Scene()
    b = other_leaf((4,))
    watched = Watched(b)
    with pytest.raises(ValueError, match=mentions(f"{name}:", "(2, 3)", "(4,)")):
        apply(scene.h, b)
    watched.assert_unchanged()
    scene.assert_unchanged()


def test_concatenate_shape_mismatch_names_concatenate_and_both_shapes() -> None:
    scene = Scene()
    b = other_leaf((2, 4))
    watched = Watched(b)
    with pytest.raises(ValueError, match=mentions("concatenate:", "(2, 3)", "(2, 4)")):
        tg.concatenate([scene.h, b], axis=0)
    watched.assert_unchanged()
    scene.assert_unchanged()


def test_stack_shape_mismatch_names_stack_and_both_shapes() -> None:
    scene = Scene()
    b = other_leaf((3, 2))
    watched = Watched(b)
    with pytest.raises(ValueError, match=mentions("stack:", "(2, 3)", "(3, 2)")):
        tg.stack([scene.h, b])
    watched.assert_unchanged()
    scene.assert_unchanged()


# ---- losses --------------------------------------------------------------------------------------

LOSSES = {
    "se": ("squared_error", L.se),
    "mse": ("mean_squared_error", L.mse),
    "cee": ("cross_entropy_error", L.cee),
    "softmax_cross_entropy": ("softmax_cross_entropy", L.softmax_cross_entropy),
    "bce": ("binary_cross_entropy", L.bce),
}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_loss_shape_mismatch_names_the_loss_and_both_shapes(loss: str) -> None:
    """(2, 1) would broadcast against (2, 3): the losses must refuse it, not broadcast."""
    name, fn = LOSSES[loss]
    scene = Scene()
    t = tg.Tensor(np.full((2, 1), 0.5), dtype=np.float64)
    watched = Watched(t)
    with pytest.raises(ValueError, match=mentions(f"{name}:", "y has shape (2, 3)",
                                                  "t has shape (2, 1)")):
        fn(scene.h, t)
    watched.assert_unchanged()
    scene.assert_unchanged()


@pytest.mark.parametrize("loss", ["cee", "softmax_cross_entropy"])
@pytest.mark.parametrize("label", [3, -1])
def test_a_label_out_of_range_names_the_loss_the_label_and_the_classes(loss: str,
                                                                      label: int) -> None:
    name, fn = LOSSES[loss]
    scene = Scene()
    labels = np.array([0, label])
    with pytest.raises(ValueError, match=mentions(f"{name}:", f"label {label} is out of range",
                                                  "3 classes", "(2, 3)")):
        fn(scene.h, labels)
    np.testing.assert_array_equal(labels, [0, label])
    scene.assert_unchanged()


# ---- backward ------------------------------------------------------------------------------------


@pytest.mark.parametrize("grad", [np.ones((3, 2)), tg.Tensor(np.ones((1, 3)))],
                         ids=["ndarray", "broadcastable-tensor"])
def test_backward_with_a_grad_of_the_wrong_shape_names_both_shapes(grad: Any) -> None:
    scene = Scene()
    wrong = tuple(np.shape(grad.data if isinstance(grad, tg.Tensor) else grad))
    with pytest.raises(ValueError, match=mentions("backward():", f"grad has shape {wrong}",
                                                  "tensor has shape (2, 3)")):
        scene.h.backward(grad)
    scene.assert_unchanged()


def test_backward_twice_without_retain_graph_raises_and_changes_no_gradient() -> None:
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, dtype=np.float64)
    w = tg.Tensor(np.array([3.0, -1.0]), requires_grad=True, dtype=np.float64)
    loss = (x * w).sum() + x.sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 0.0])
    watched = Watched(x, w)
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*"
                                           r"retain_graph=True"):
        loss.backward()
    watched.assert_unchanged()


def test_backward_through_a_released_subgraph_raises_before_any_branch_accumulates() -> None:
    """Part of the new graph (x * 5) is fresh, part (y) was released by an earlier pass: the
    error must come before the fresh branch adds anything to x.grad."""
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, dtype=np.float64)
    y = x * 2.0
    y.sum().backward()
    watched = Watched(x)
    loss = (x * 5.0).sum() + (y * y).sum()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    watched.assert_unchanged()


def test_a_released_nodes_hook_does_not_run() -> None:
    """The pass finds a released node when it reaches it: the nodes passed before it have run
    their hooks (here the root's), the released one does not, and no .grad changes."""
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    y.sum().backward()
    watched = Watched(x)
    calls: list[str] = []
    y.register_hook(lambda g: calls.append("y"))
    w = (y * 3.0).sum()
    w.register_hook(lambda g: calls.append("w"))
    with pytest.raises(RuntimeError, match="second time"):
        w.backward()
    assert calls == ["w"]
    watched.assert_unchanged()


# ---- requires_grad on integer data ---------------------------------------------------------------

INTEGER_REQUIRES_GRAD: dict[str, Callable[[], Any]] = {
    "Tensor-int64": lambda: tg.Tensor(np.arange(3), dtype=np.int64, requires_grad=True),
    "Tensor-bool": lambda: tg.Tensor([True, False], dtype=bool, requires_grad=True),
    "arange": lambda: tg.arange(3, requires_grad=True),
    "zeros-int32": lambda: tg.zeros(2, dtype=np.int32, requires_grad=True),
}


@pytest.mark.parametrize("make", list(INTEGER_REQUIRES_GRAD))
def test_requires_grad_on_integer_data_raises_type_error_naming_the_dtype(make: str) -> None:
    with pytest.raises(TypeError, match=r"requires_grad=True needs a floating dtype, got "
                                        r"(int64|int32|bool)"):
        INTEGER_REQUIRES_GRAD[make]()


def test_setting_requires_grad_on_an_integer_tensor_raises_and_leaves_it_unset() -> None:
    t = tg.arange(4)
    watched = Watched(t)
    with pytest.raises(TypeError, match="requires_grad=True needs a floating dtype, got int64"):
        t.requires_grad = True
    watched.assert_unchanged()


# ---- wrong axes ----------------------------------------------------------------------------------


def _two(fn: Callable) -> Callable:
    return lambda h, axis: fn([h, h], axis=axis)


AXIS_FUNCTIONS: dict[str, Callable] = {
    "sum": tg.sum, "mean": tg.mean, "max": tg.max, "min": tg.min, "var": tg.var,
    "logsumexp": tg.logsumexp,
    "softmax": lambda h, axis: tg.softmax(h, axis=axis),
    "log_softmax": lambda h, axis: tg.log_softmax(h, axis=axis),
    "squeeze": lambda h, axis: tg.squeeze(h, axis=axis),
    "expand_dims": lambda h, axis: tg.expand_dims(h, axis),
    "transpose": lambda h, axes: h.transpose(*axes),
    "swapaxes": lambda h, axes: h.swapaxes(*axes),
    "concatenate": _two(tg.concatenate),
    "stack": _two(tg.stack),
}
REDUCTIONS = ["sum", "mean", "max", "min", "var", "logsumexp"]
# For a tensor of shape (2, 3): an axis out of range, one given twice, and one that is no int.
OUT_OF_RANGE = {**dict.fromkeys(REDUCTIONS, 2), "softmax": 2, "log_softmax": -3, "squeeze": 2,
                "expand_dims": 3, "transpose": (0, 2), "swapaxes": (0, -3), "concatenate": 2,
                "stack": 3}
REPEATED = {**dict.fromkeys(REDUCTIONS, (1, -1)), "squeeze": (0, 0), "expand_dims": (0, 0),
            "transpose": (1, 1)}
NOT_AN_INT = {**dict.fromkeys(REDUCTIONS, 1.5), "softmax": 1.5, "log_softmax": 1.5,
              "squeeze": 1.5, "expand_dims": 1.5, "transpose": (1.5, 0), "swapaxes": (0, 1.5),
              "concatenate": 1.5, "stack": 1.5}
AXIS_CASES = ([("out-of-range", name, axis, np.exceptions.AxisError)
               for name, axis in OUT_OF_RANGE.items()]
              + [("repeated", name, axis, ValueError) for name, axis in REPEATED.items()]
              + [("not-an-int", name, axis, TypeError) for name, axis in NOT_AN_INT.items()])


@pytest.mark.parametrize(("kind", "name", "axis", "error"), AXIS_CASES,
                         ids=[f"{name}-{kind}" for kind, name, _, _ in AXIS_CASES])
def test_a_wrong_axis_names_the_function_and_the_shape(kind: str, name: str, axis: Any,
                                                       error: type) -> None:
    scene = Scene()
    with pytest.raises(error, match=mentions(f"{name}:", "(2, 3)")):
        AXIS_FUNCTIONS[name](scene.h, axis)
    scene.assert_unchanged()


# ---- optimizers ----------------------------------------------------------------------------------

OPTIMIZERS = {"SGD": lambda ps: tg.optim.SGD(ps, lr=0.1, momentum=0.9),
              "Adam": lambda ps: tg.optim.Adam(ps, lr=0.1)}
NON_PARAMETERS = {
    "ndarray": lambda: (np.ones(2), "ndarray"),
    "no-grad-tensor": lambda: (tg.Tensor(np.ones(2)), "Tensor"),
    "non-leaf": lambda: (tg.Tensor(np.ones(2), requires_grad=True) * 2.0, "Tensor"),
}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("bad", list(NON_PARAMETERS))
def test_an_optimizer_given_a_non_parameter_raises_type_error_naming_it(optimizer: str,
                                                                       bad: str) -> None:
    good = other_leaf((2,))
    value, type_name = NON_PARAMETERS[bad]()
    watched = Watched(good, *[value] if isinstance(value, tg.Tensor) else [])
    params = [good, value]
    with pytest.raises(TypeError, match=mentions(f"{optimizer}: parameter 1",
                                                 "leaf Tensor that requires grad",
                                                 f"got {type_name}")):
        OPTIMIZERS[optimizer](params)
    assert params[0] is good and params[1] is value and len(params) == 2
    watched.assert_unchanged()
    if isinstance(value, tg.Tensor) and value.grad_fn is not None:
        value.sum().backward()  # the non-leaf's graph is intact


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_an_optimizer_step_with_a_gradient_of_the_wrong_shape_changes_nothing(
        optimizer: str) -> None:
    """The second parameter's gradient was set by hand with the wrong shape: the step must fail
    before it updates the first parameter or any optimizer state."""
    a, b = other_leaf((2,)), other_leaf((3,))
    opt = OPTIMIZERS[optimizer]([a, b])
    a.grad = tg.Tensor(np.array([1.0, -1.0]), dtype=np.float64)
    opt.step()  # one good step, so that there is optimizer state to protect
    b.grad = tg.Tensor(np.array([1.0, 1.0]), dtype=np.float64)
    watched = Watched(a, b)
    state = [{k: np.copy(v) for k, v in s.items()} for s in opt.state]
    with pytest.raises(ValueError, match=mentions(f"{optimizer}:", "parameter 1", "(3,)",
                                                  "(2,)")):
        opt.step()
    watched.assert_unchanged()
    assert [sorted(s) for s in opt.state] == [sorted(s) for s in state]
    for now, before in zip(opt.state, state):
        for key in before:
            np.testing.assert_array_equal(now[key], before[key])


# ---- files and model state -----------------------------------------------------------------------


@pytest.fixture
def saved_model(tmp_path: Path) -> tuple[Path, bytes]:
    model = tg.nn.mlp([4, 8, 3], rng=1)
    path = tmp_path / "model.npz"
    tg.save(model.state_dict(), path)
    return path, path.read_bytes()


def trained_model(sizes: list[int]) -> tuple[tg.nn.Module, Watched]:
    """A model holding gradients from one backward pass, and its parameters watched."""
    model = tg.nn.mlp(sizes, rng=2)
    tg.losses.mse(model(np.ones((2, sizes[0]))), np.zeros((2, sizes[-1]))).backward()
    return model, Watched(*model.parameters())


def test_loading_a_truncated_file_raises_value_error_and_changes_nothing(
        saved_model: tuple[Path, bytes], tmp_path: Path) -> None:
    _, raw = saved_model
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(raw[: len(raw) * 2 // 3])
    model, watched = trained_model([4, 8, 3])
    with pytest.raises(ValueError, match=mentions("load:", str(bad), "truncated")):
        model.load_state_dict(tg.load(bad))
    watched.assert_unchanged()
    assert bad.read_bytes() == raw[: len(raw) * 2 // 3]


def test_loading_a_corrupted_file_raises_value_error_and_changes_nothing(
        saved_model: tuple[Path, bytes], tmp_path: Path) -> None:
    path, raw = saved_model
    weight = tg.load(path)["0.weight"]
    at = raw.find(weight.tobytes())
    assert at > 0
    damaged = bytearray(raw)
    damaged[at + 5] ^= 0x40  # one bit of one weight: only the checksum can tell
    bad = tmp_path / "corrupted.npz"
    bad.write_bytes(bytes(damaged))
    model, watched = trained_model([4, 8, 3])
    with pytest.raises(ValueError, match=mentions("load:", str(bad), "corrupted")):
        model.load_state_dict(tg.load(bad))
    watched.assert_unchanged()
    assert bad.read_bytes() == bytes(damaged)


def test_loading_another_architectures_state_names_the_first_mismatch_and_changes_nothing(
        saved_model: tuple[Path, bytes]) -> None:
    """Saved from 4-8-3, loaded into 4-8-5: 0.weight and 0.bias match and come first, so only
    checking everything before writing anything keeps them from being overwritten."""
    path, raw = saved_model
    model, watched = trained_model([4, 8, 5])
    with pytest.raises(ValueError, match=mentions("load_state_dict:", "'2.weight'", "(8, 3)",
                                                  "(8, 5)")):
        model.load_state_dict(tg.load(path))
    watched.assert_unchanged()
    assert path.read_bytes() == raw


def test_loading_a_shallower_models_state_names_the_missing_parameters(
        saved_model: tuple[Path, bytes]) -> None:
    path, raw = saved_model
    model, watched = trained_model([4, 8, 8, 3])
    with pytest.raises(ValueError, match=mentions("load_state_dict:", "missing",
                                                  "'4.weight'", "'4.bias'")):
        model.load_state_dict(tg.load(path))
    watched.assert_unchanged()
    assert path.read_bytes() == raw


# ---- reshape, indexing, item ---------------------------------------------------------------------


def test_reshape_to_an_incompatible_size_names_reshape_the_size_and_both_shapes() -> None:
    scene = Scene()
    with pytest.raises(ValueError) as info:
        scene.h.reshape(4, 2)
    assert re.match(mentions("reshape:", "size 6", "(2, 3)"), str(info.value))
    assert re.search(r"\(4, ?2\)", str(info.value))
    scene.assert_unchanged()


@pytest.mark.parametrize(("index", "bad", "axis", "size"),
                         [(5, 5, 0, 2), (-3, -3, 0, 2), ((0, 7), 7, 1, 3),
                          (np.array([0, 2]), 2, 0, 2)],
                         ids=["int", "negative", "second-axis", "integer-array"])
def test_an_index_out_of_range_names_the_index_the_axis_and_the_shape(index: Any, bad: int,
                                                                     axis: int,
                                                                     size: int) -> None:
    scene = Scene()
    with pytest.raises(IndexError, match=mentions("getitem:", f"index {bad} is out of bounds",
                                                  f"axis {axis} with size {size}", "(2, 3)")):
        scene.h[index]
    scene.assert_unchanged()


def test_item_of_a_multi_element_tensor_names_the_count_and_the_shape() -> None:
    scene = Scene()
    with pytest.raises(ValueError, match=mentions("item():", "6 elements", "(2, 3)")):
        scene.h.item()
    scene.assert_unchanged()


# ---- user-defined Functions (deliberately wrong ones from tests/helpers.py) ----------------------


def test_a_function_returning_the_wrong_number_of_gradients_changes_nothing() -> None:
    a, b = other_leaf((2,)), other_leaf((2,))
    watched = Watched(a, b)
    loss = TooFewGradients.apply(a, b).sum() + a.sum()
    for _ in range(2):  # the graph survives the failure: the second call fails the same way
        with pytest.raises(RuntimeError, match=mentions("TooFewGradients.backward",
                                                        "1 gradient(s) for 2 input(s)")):
            loss.backward()
        watched.assert_unchanged()


def test_a_function_returning_a_gradient_of_an_incompatible_shape_changes_nothing() -> None:
    a = other_leaf((2,))
    watched = Watched(a)
    loss = WrongShapeGradient.apply(a).sum() + a.sum()
    for _ in range(2):
        with pytest.raises(RuntimeError, match=mentions("the backward of 'WrongShapeGradient'",
                                                        "shape (5,)", "input 0 of shape (2,)")):
            loss.backward()
        watched.assert_unchanged()
