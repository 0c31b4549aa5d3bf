"""Tests of ``tinygrad_ko.function``: user-defined primitives (``tg.Function``) with hand-written
gradients, in the style of ``torch.autograd.Function``.

Expected gradients are the derivatives of the test's own forward formulas, written out by hand.
The Functions other test files use too (``Cube`` and the deliberately wrong ones) come from
``tests/helpers.py``, with their derivatives in their docstrings.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Cube, TooFewGradients, TooManyGradients, WrongShapeGradient
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ko as tg

RTOL = 1e-10


def float_arrays(shape, lo=-3.0, hi=3.0):
    return hnp.arrays(np.float64, shape,
                      elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False))


class MulSin(tg.Function):
    """y = a · sin(b), dy/da = sin(b), dy/db = a · cos(b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * np.sin(b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * np.sin(b), grad * a * np.cos(b)


# ---- correct gradients ---------------------------------------------------------------------------


@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
def test_cube_gradient_matches_the_hand_formula(data, shape):
    x = data.draw(float_arrays(shape))
    g = data.draw(float_arrays(shape))
    t = tg.Tensor(x, requires_grad=True)
    y = Cube.apply(t)
    assert isinstance(y, tg.Tensor)
    np.testing.assert_allclose(y.data, x * x * x, rtol=1e-12)
    y.backward(g)
    np.testing.assert_allclose(t.grad.data, 3 * x**2 * g, rtol=RTOL, atol=1e-12)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
def test_two_input_function_gradients_match_the_hand_formulas(data, shape):
    a = data.draw(float_arrays(shape))
    b = data.draw(float_arrays(shape))
    g = data.draw(float_arrays(shape))
    ta = tg.Tensor(a, requires_grad=True)
    tb = tg.Tensor(b, requires_grad=True)
    y = MulSin.apply(ta, tb)
    np.testing.assert_allclose(y.data, a * np.sin(b), rtol=1e-12, atol=1e-15)
    y.backward(g)
    np.testing.assert_allclose(ta.grad.data, g * np.sin(b), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(tb.grad.data, g * a * np.cos(b), rtol=RTOL, atol=1e-12)


def test_function_composes_with_builtin_operations():
    x = np.array([-1.5, 0.5, 2.0])
    t = tg.Tensor(x, requires_grad=True)
    (Cube.apply(t) * 2.0 + t).sum().backward()
    # d/dx [2x³ + x] = 6x² + 1
    np.testing.assert_allclose(t.grad.data, 6 * x**2 + 1, rtol=RTOL)


def test_function_used_twice_accumulates_both_gradients():
    x = np.array([1.0, -2.0])
    t = tg.Tensor(x, requires_grad=True)
    (Cube.apply(t) + Cube.apply(t * 2.0)).sum().backward()
    # d/dx [x³ + (2x)³] = 3x² + 24x²
    np.testing.assert_allclose(t.grad.data, 27 * x**2, rtol=RTOL)


def test_function_works_with_functional_grad():
    x = np.array([0.5, -1.0, 3.0])
    g = tg.grad(lambda v: Cube.apply(v).sum())(x)
    np.testing.assert_allclose(np.asarray(g), 3 * x**2, rtol=RTOL)


def test_float32_input_gets_a_float32_gradient_even_if_backward_returns_float64():
    class Double(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return np.asarray(grad, dtype=np.float64) * 2.0

    t = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    Double.apply(t).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad.data, [2.0, 2.0])


# ---- ctx -----------------------------------------------------------------------------------------


def test_forward_gets_arrays_and_ctx_attributes_reach_backward():
    seen = {}

    class Scaled(tg.Function):
        @staticmethod
        def forward(ctx, x):
            seen["forward_input_type"] = type(x)
            seen["forward_ctx"] = ctx
            ctx.factor = 4.0
            ctx.shape = x.shape
            return x * ctx.factor

        @staticmethod
        def backward(ctx, grad):
            seen["backward_ctx"] = ctx
            seen["shape"] = ctx.shape
            return grad * ctx.factor

    t = tg.Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    Scaled.apply(t).sum().backward()
    assert seen["forward_input_type"] is np.ndarray
    assert seen["backward_ctx"] is seen["forward_ctx"]
    assert seen["shape"] == (1, 3)
    np.testing.assert_array_equal(t.grad.data, np.full((1, 3), 4.0))


def test_save_for_backward_and_saved_tensors():
    seen = {}

    class Product(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            seen["saved"] = ctx.saved_tensors
            a, b = ctx.saved_tensors
            return grad * b, grad * a

    a = np.array([1.0, -2.0, 0.5])
    b = np.array([3.0, 4.0, -1.0])
    ta = tg.Tensor(a, requires_grad=True)
    tb = tg.Tensor(b, requires_grad=True)
    Product.apply(ta, tb).sum().backward()
    assert len(seen["saved"]) == 2
    np.testing.assert_array_equal(np.asarray(seen["saved"][0]), a)
    np.testing.assert_array_equal(np.asarray(seen["saved"][1]), b)
    np.testing.assert_allclose(ta.grad.data, b, rtol=RTOL)
    np.testing.assert_allclose(tb.grad.data, a, rtol=RTOL)


@pytest.mark.parametrize("a_requires, b_requires",
                         [(True, False), (False, True), (True, True)])
def test_needs_input_grad_tells_which_gradients_are_wanted(a_requires, b_requires):
    seen = {}

    class Product(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["forward"] = tuple(ctx.needs_input_grad)
            ctx.a, ctx.b = a, b
            return a * b

        @staticmethod
        def backward(ctx, grad):
            seen["backward"] = tuple(ctx.needs_input_grad)
            da = grad * ctx.b if ctx.needs_input_grad[0] else None
            db = grad * ctx.a if ctx.needs_input_grad[1] else None
            return da, db

    a = np.array([2.0, 3.0])
    b = np.array([5.0, 7.0])
    ta = tg.Tensor(a, requires_grad=a_requires)
    tb = tg.Tensor(b, requires_grad=b_requires)
    Product.apply(ta, tb).sum().backward()
    assert seen["forward"] == (a_requires, b_requires)
    assert seen["backward"] == (a_requires, b_requires)
    if a_requires:
        np.testing.assert_allclose(ta.grad.data, b, rtol=RTOL)
    else:
        assert ta.grad is None
    if b_requires:
        np.testing.assert_allclose(tb.grad.data, a, rtol=RTOL)
    else:
        assert tb.grad is None


def test_first_order_backward_still_sees_arrays():
    seen = []

    class Spy(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return 3 * x

        @staticmethod
        def backward(ctx, grad):
            seen.append((type(ctx.x), type(grad)))
            return 3 * grad

    x = tg.Tensor(np.ones(2), requires_grad=True)
    Spy.apply(x).sum().backward()
    assert seen == [(np.ndarray, np.ndarray)]


# ---- what the engine checks and does for a Function ----------------------------------------------


def test_backward_returning_too_many_gradients_raises_naming_the_class():
    t = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = TooManyGradients.apply(t).sum()
    with pytest.raises(RuntimeError, match=r"TooManyGradients.*2.*1"):
        y.backward()


def test_backward_returning_too_few_gradients_raises_naming_the_class():
    a = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = TooFewGradients.apply(a, b).sum()
    with pytest.raises(RuntimeError, match=r"TooFewGradients.*1.*2"):
        y.backward()


def test_backward_may_return_a_list():
    class Both(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return [grad, 2 * grad]

    a = tg.Tensor(np.ones(2), requires_grad=True)
    b = tg.Tensor(np.ones(2), requires_grad=True)
    Both.apply(a, b).sum().backward()
    np.testing.assert_array_equal(b.grad.data, [2.0, 2.0])


@pytest.mark.parametrize("shape", [(3,), (1, 3), (2, 1)])
def test_a_broadcast_gradient_is_summed_back_to_the_input_shape(shape):
    class Spread(tg.Function):
        """y = broadcast of x to (4, 2, 3) times 5; backward returns the gradient at y's shape,
        leaving the summation over broadcast axes to the engine."""

        @staticmethod
        def forward(ctx, x):
            return np.broadcast_to(x, (4, 2, 3)) * 5.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 5.0

    x = np.arange(1, np.prod(shape) + 1, dtype=np.float64).reshape(shape)
    t = tg.Tensor(x, requires_grad=True)
    g = np.arange(24, dtype=np.float64).reshape(4, 2, 3)
    Spread.apply(t).backward(g)
    assert t.grad.shape == shape
    # Each element of x feeds every y it was broadcast to: sum 5 g over those.
    expected = np.zeros(shape)
    for index in np.ndindex(4, 2, 3):
        source = tuple(i if n != 1 else 0 for i, n in zip(index[-len(shape):], shape))
        expected[source] += 5.0 * g[index]
    np.testing.assert_allclose(t.grad.data, expected, rtol=RTOL)


def test_a_gradient_of_an_incompatible_shape_raises_naming_the_class_and_shapes():
    t = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = WrongShapeGradient.apply(t).sum()
    with pytest.raises(RuntimeError, match="WrongShapeGradient") as error:
        y.backward()
    assert "(5,)" in str(error.value) and "(3,)" in str(error.value)


def test_non_tensor_arguments_pass_through_to_forward():
    seen = {}

    class ScaleShift(tg.Function):
        """y = k · x + offset, with k and the label not differentiated."""

        @staticmethod
        def forward(ctx, x, k, label, offset):
            seen["k"], seen["label"], seen["offset"] = k, label, offset
            seen["needs"] = tuple(ctx.needs_input_grad)
            ctx.k = k
            return k * x + offset

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.k, None, None, None

    x = np.array([1.0, -2.0, 4.0])
    offset = np.array([0.5, 0.25, 0.0])
    t = tg.Tensor(x, requires_grad=True)
    y = ScaleShift.apply(t, 2.5, "twice-and-a-half", offset)
    np.testing.assert_allclose(y.data, 2.5 * x + offset, rtol=1e-12)
    assert seen["k"] == 2.5 and type(seen["k"]) is float
    assert seen["label"] == "twice-and-a-half"
    assert seen["offset"] is offset
    assert seen["needs"] == (True, False, False, False)
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(t.grad.data, 2.5 * np.array([1.0, 2.0, 3.0]), rtol=RTOL)


# ---- recording -----------------------------------------------------------------------------------


def test_result_is_recorded_only_when_an_input_requires_grad():
    x = np.array([1.0, 2.0])
    plain = Cube.apply(tg.Tensor(x))
    np.testing.assert_allclose(plain.data, x**3, rtol=1e-12)
    assert not plain.requires_grad
    assert plain.grad_fn is None
    assert plain.is_leaf

    recorded = Cube.apply(tg.Tensor(x, requires_grad=True))
    assert recorded.requires_grad
    assert recorded.grad_fn is not None
    assert not recorded.is_leaf
    assert "Cube" in repr(recorded)


def test_result_is_recorded_when_only_one_of_several_inputs_requires_grad():
    a = tg.Tensor(np.array([1.0]))
    b = tg.Tensor(np.array([0.5]), requires_grad=True)
    y = MulSin.apply(a, b)
    assert y.requires_grad and y.grad_fn is not None


def test_function_under_no_grad_is_not_recorded():
    t = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with tg.no_grad():
        y = Cube.apply(t)
    assert not y.requires_grad
    assert y.grad_fn is None
    np.testing.assert_allclose(y.data, [1.0, 8.0], rtol=1e-12)


def test_backward_without_any_recorded_input_raises():
    y = Cube.apply(tg.Tensor(np.array([2.0]))).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# ---- create_graph and second derivatives ---------------------------------------------------------


def test_create_graph_through_a_function_gives_the_first_order_gradient():
    x = np.array([1.0, 2.0, -0.5])
    t = tg.Tensor(x, requires_grad=True)
    Cube.apply(t).sum().backward(create_graph=True)
    assert isinstance(t.grad, tg.Tensor)
    np.testing.assert_allclose(t.grad.data, 3 * x**2, rtol=RTOL)


def test_create_graph_with_a_function_inside_a_larger_expression():
    x = np.array([1.0, 2.0, -0.5])
    t = tg.Tensor(x, requires_grad=True)
    # z = Σ x³ · x = Σ x⁴, dz/dx = 4x³
    (Cube.apply(t) * t).sum().backward(create_graph=True)
    np.testing.assert_allclose(t.grad.data, 4 * x**3, rtol=RTOL)


def test_create_graph_with_a_two_input_function():
    a = np.array([0.5, -1.0])
    b = np.array([0.3, 2.0])
    ta = tg.Tensor(a, requires_grad=True)
    tb = tg.Tensor(b, requires_grad=True)
    (MulSin.apply(ta, tb) * 3.0).sum().backward(create_graph=True)
    np.testing.assert_allclose(ta.grad.data, 3 * np.sin(b), rtol=RTOL)
    np.testing.assert_allclose(tb.grad.data, 3 * a * np.cos(b), rtol=RTOL)


class SquareSaved(tg.Function):
    """y = x², dy/dx = 2x, from x kept by save_for_backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class SineAttribute(tg.Function):
    """y = sin x, dy/dx = cos x, from x kept as a ctx attribute."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.cos(ctx.x)  # a NumPy ufunc: records when ctx.x is a Tensor


def test_second_derivative_through_saved_inputs():
    d2 = tg.grad(tg.grad(lambda x: SquareSaved.apply(x)))
    np.testing.assert_allclose(d2(np.float64(3.0)), 2.0, rtol=1e-12)  # (x²)'' = 2


def test_second_derivative_through_ctx_attributes_and_ufuncs():
    d2 = tg.grad(tg.grad(lambda x: SineAttribute.apply(x)))
    for x in (-1.0, 0.4, 2.0):
        np.testing.assert_allclose(d2(np.float64(x)), -np.sin(x), rtol=1e-12)  # sin'' = −sin
