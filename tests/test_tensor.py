"""Tests of ``tinygrad_ko.tensor``: construction and dtype rules, attributes, the operator surface
(forward values and hand-derived gradients), in-place updates, indexing, the constructors and the
shape errors.

Every expected value is computed here with NumPy or from a derivative written out by hand.
"""

from __future__ import annotations

import operator
import re

import numpy as np
import pytest
from helpers import sum_to
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ko as tg

RTOL = 1e-12


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# ---- construction and dtype rules ----------------------------------------------------------------


def test_default_dtype_starts_as_float32():
    assert tg.get_default_dtype() == np.float32


@pytest.mark.parametrize(
    "data",
    [3, 2.5, True, [1, 2, 3], [1.5, 2.5], [[1, 2], [3, 4]], [[0.5], [1.5]], [True, False]],
    ids=repr,
)
def test_python_numbers_and_lists_become_the_default_float_dtype(data):
    t = tg.Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.array(data, dtype=np.float64))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_ndarray_keeps_its_dtype(dtype):
    a = np.array([0.5, -1.25, 3.0], dtype=dtype)
    t = tg.Tensor(a)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, a)


@given(a=hnp.arrays(
    st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.uint16, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
))
def test_int_and_bool_ndarrays_become_the_default_float_dtype(a):
    t = tg.Tensor(a)
    assert t.dtype == np.float32
    assert t.shape == a.shape
    np.testing.assert_array_equal(t.data, a.astype(np.float32))


def test_dtype_argument_forces_the_dtype():
    assert tg.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert tg.Tensor(np.ones(2, dtype=np.float64), dtype=np.float32).dtype == np.float32
    assert tg.Tensor(np.ones(2, dtype=np.float32), dtype="float64").dtype == np.float64
    forced_int = tg.Tensor(np.array([1, 2, 3]), dtype=np.int32)
    assert forced_int.dtype == np.int32
    np.testing.assert_array_equal(forced_int.data, [1, 2, 3])


def test_tensor_function_follows_the_same_rules_as_the_class():
    t = tg.tensor([1, 2], requires_grad=True)
    assert isinstance(t, tg.Tensor)
    assert t.dtype == np.float32
    assert t.requires_grad
    assert tg.tensor(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert tg.tensor([1, 2], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_construction_from_an_ndarray_copies(dtype):
    a = np.array([1, 0, 1], dtype=dtype)
    t = tg.Tensor(a)
    assert not np.shares_memory(t.data, a)
    before = t.data.copy()
    a[0] = 0
    np.testing.assert_array_equal(t.data, before)


def test_construction_from_a_tensor_copies_and_makes_a_new_leaf():
    source = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = source * 3.0
    t = tg.Tensor(y)
    assert t.dtype == np.float64
    assert not np.shares_memory(t.data, y.data)
    assert t.is_leaf
    assert t.grad_fn is None
    assert not t.requires_grad
    y.data[0] = -7.0
    np.testing.assert_array_equal(t.data, [3.0, 6.0])


def test_set_default_dtype_changes_new_tensors_from_numbers_lists_and_int_arrays():
    tg.set_default_dtype(np.float64)
    assert tg.get_default_dtype() == np.float64
    assert tg.Tensor(1.5).dtype == np.float64
    assert tg.Tensor([1, 2]).dtype == np.float64
    assert tg.Tensor(np.arange(3)).dtype == np.float64
    assert tg.zeros(2).dtype == np.float64
    assert tg.ones(2, 2).dtype == np.float64
    # An explicit float ndarray still keeps its own dtype.
    assert tg.Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    tg.set_default_dtype(np.float32)
    assert tg.Tensor([1, 2]).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, int, np.complex128, "U3"])
def test_set_default_dtype_rejects_non_float_dtypes(dtype):
    with pytest.raises(TypeError, match="float"):
        tg.set_default_dtype(dtype)
    assert tg.get_default_dtype() == np.float32
    assert tg.Tensor([1, 2]).dtype == np.float32


@pytest.mark.parametrize(
    "data",
    ["abc", ["a", "b"], object(), [object(), object()], None, {"a": 1}],
    ids=["str", "str-list", "object", "object-list", "None", "dict"],
)
def test_non_numeric_data_raises_type_error(data):
    with pytest.raises(TypeError, match="numeric"):
        tg.Tensor(data)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_requires_grad_on_integer_or_bool_data_raises_type_error(dtype):
    with pytest.raises(TypeError, match=r"requires_grad.*float"):
        tg.Tensor(np.array([1, 2, 3]), requires_grad=True, dtype=dtype)


def test_requires_grad_on_int_list_without_dtype_is_fine_because_it_becomes_float():
    t = tg.Tensor([1, 2, 3], requires_grad=True)
    assert t.requires_grad
    assert t.dtype == np.float32


def test_setting_requires_grad_on_an_integer_tensor_raises_type_error():
    t = tg.Tensor(np.array([1, 2]), dtype=np.int64)
    with pytest.raises(TypeError, match="float"):
        t.requires_grad = True
    assert not t.requires_grad


def test_requires_grad_cannot_be_changed_on_a_non_leaf():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_requires_grad_underscore_sets_the_flag_in_place_and_returns_self():
    x = tg.Tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad  # True by default
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])  # a leaf that now gets a gradient
    assert x.requires_grad_(False) is x and not x.requires_grad
    assert (x * 3.0).grad_fn is None  # nothing is recorded any more


def test_requires_grad_underscore_refuses_a_non_leaf_and_an_integer_tensor():
    y = tg.Tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    assert y.requires_grad
    n = tg.Tensor(np.array([1, 2]), dtype=np.int64)
    with pytest.raises(TypeError, match=r"requires_grad.*float"):
        n.requires_grad_()
    assert not n.requires_grad


# ---- attributes ----------------------------------------------------------------------------------


def test_shape_ndim_size_dtype_and_len_are_numpys():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    t = tg.Tensor(a)
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.size == 24
    assert t.dtype == np.float64
    assert len(t) == 2
    s = tg.Tensor(3.0)
    assert (s.shape, s.ndim, s.size) == ((), 0, 1)


def test_len_of_a_zero_dimensional_tensor_raises_type_error():
    with pytest.raises(TypeError, match="len"):
        len(tg.Tensor(1.0))


def test_iterating_a_0d_tensor():
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(tg.Tensor(1.0)).__next__()


def test_data_and_numpy_return_the_same_array_object_not_a_copy():
    t = tg.Tensor([1.0, 2.0])
    assert t.data is t.data
    assert t.numpy() is t.data
    t.numpy()[0] = 5.0
    assert t.data[0] == 5.0


def test_np_asarray_is_a_view_sharing_memory():
    t = tg.Tensor(np.array([1.0, 2.0, 3.0]))
    view = np.asarray(t)
    assert np.shares_memory(view, t.data)
    view[1] = -4.0
    np.testing.assert_array_equal(t.data, [1.0, -4.0, 3.0])


def test_item_returns_a_python_number():
    value = tg.Tensor(np.array([[2.5]])).item()
    assert isinstance(value, float)
    assert value == 2.5
    assert tg.Tensor(np.float64(-1.25)).item() == -1.25


def test_item_of_several_elements_raises_value_error():
    with pytest.raises(ValueError, match=r"element|size"):
        tg.Tensor([1.0, 2.0]).item()


def test_tolist_returns_nested_python_lists():
    a = np.array([[1.0, 2.5], [-3.0, 0.0]])
    assert tg.Tensor(a).tolist() == [[1.0, 2.5], [-3.0, 0.0]]
    assert tg.Tensor(4.0).tolist() == 4.0


def test_detach_shares_data_and_is_a_leaf_cut_from_the_graph():
    x = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * x
    d = y.detach()
    assert np.shares_memory(d.data, y.data)
    assert d.is_leaf
    assert not d.requires_grad
    assert d.grad_fn is None
    # Gradients do not flow through the detached copy: d(sum(d * x))/dx = d = x².
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.array([1.0, 4.0, 9.0]), rtol=RTOL)
    d.data[0] = 10.0
    assert y.data[0] == 10.0


def test_is_leaf_requires_grad_and_grad_fn():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    assert c.is_leaf and not c.requires_grad and c.grad_fn is None
    y = x * c
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    z = c * 2.0
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None


def test_repr_shows_values_and_dtype():
    r = repr(tg.Tensor([1.5, -2.25]))
    assert "1.5" in r and "-2.25" in r
    assert "float32" in r
    assert "requires_grad" not in r and "grad_fn" not in r


def test_repr_shows_requires_grad_on_a_leaf_and_grad_fn_on_a_result():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    r = repr(x)
    assert "requires_grad=True" in r
    assert "float64" in r
    y = x * 3.0
    ry = repr(y)
    assert re.search(r"grad_fn=<[^>]*mul", ry, re.IGNORECASE), ry
    assert "3." in ry and "6." in ry
    assert re.search(r"grad_fn=<[^>]*add", repr(x + x), re.IGNORECASE)


# ---- operators: forward values and hand-derived gradients ----------------------------------------

# name: (operator, NumPy forward, hand-derived (d/da, d/db) on broadcast arrays, a range, b range)
BINARY = {
    "add": (operator.add, np.add,
            lambda a, b: (np.ones_like(a), np.ones_like(b)), (-3, 3), (-3, 3)),
    "sub": (operator.sub, np.subtract,
            lambda a, b: (np.ones_like(a), -np.ones_like(b)), (-3, 3), (-3, 3)),
    "mul": (operator.mul, np.multiply, lambda a, b: (b, a), (-3, 3), (-3, 3)),
    "div": (operator.truediv, np.divide,
            lambda a, b: (1 / b, -a / b**2), (-3, 3), (0.5, 3)),
    "pow": (operator.pow, np.power,
            lambda a, b: (b * a ** (b - 1), a**b * np.log(a)), (0.5, 3), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_operator_values_and_gradients_with_broadcasting(name, data):
    op, reference, hand_grads, (alo, ahi), (blo, bhi) = BINARY[name]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    shape_a, shape_b = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=floats(alo, ahi)))
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=floats(blo, bhi)))
    g = data.draw(hnp.arrays(np.float64, shapes.result_shape, elements=floats(-2, 2)))
    ta = tg.Tensor(a, requires_grad=True)
    tb = tg.Tensor(b, requires_grad=True)

    out = op(ta, tb)
    assert isinstance(out, tg.Tensor)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, reference(a, b), rtol=RTOL)

    out.backward(g)
    a_b, b_b = np.broadcast_arrays(a, b)
    da, db = hand_grads(a_b, b_b)
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    np.testing.assert_allclose(ta.grad.data, sum_to(da * g, a.shape), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(tb.grad.data, sum_to(db * g, b.shape), rtol=1e-10,
                               atol=1e-12)


# Each case: a shape pair and the hand-derived gradients of sum(G * (A @ B)), written with
# einsum over the broadcast batch, then summed back to each operand's shape.
MATMUL_CASES = [
    ((2, 3), (3, 4)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((2, 1, 2, 3), (4, 3, 2)),
]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_CASES)
def test_matmul_values_and_gradients(shape_a, shape_b):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape_a)
    b = rng.standard_normal(shape_b)
    expected = np.matmul(a, b)
    g = rng.standard_normal(expected.shape)
    ta = tg.Tensor(a, requires_grad=True)
    tb = tg.Tensor(b, requires_grad=True)
    out = ta @ tb
    np.testing.assert_allclose(out.data, expected, rtol=RTOL)
    out.backward(g)

    # Promote 1-D operands the way matmul does, then dA = G B^T, dB = A^T G per batch element.
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    g2 = g.reshape((*batch, a2.shape[-2], b2.shape[-1]))
    a_b = np.broadcast_to(a2, (*batch, *a2.shape[-2:]))
    b_b = np.broadcast_to(b2, (*batch, *b2.shape[-2:]))
    da = sum_to(np.einsum("...ik,...jk->...ij", g2, b_b), a2.shape).reshape(a.shape)
    db = sum_to(np.einsum("...ki,...kj->...ij", a_b, g2), b2.shape).reshape(b.shape)
    np.testing.assert_allclose(ta.grad.data, da, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad.data, db, rtol=1e-10, atol=1e-12)


X = np.array([0.5, 1.25, 2.0])
C = np.array([1.5, -0.5, 2.0])
M = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])

# id: (f(t), NumPy forward of x, hand-derived d sum(f)/dx)
REFLECTED = {
    "t + 3": (lambda t: t + 3.0, lambda x: x + 3.0, lambda x: np.ones_like(x)),
    "3 + t": (lambda t: 3.0 + t, lambda x: 3.0 + x, lambda x: np.ones_like(x)),
    "t - 3": (lambda t: t - 3.0, lambda x: x - 3.0, lambda x: np.ones_like(x)),
    "3 - t": (lambda t: 3.0 - t, lambda x: 3.0 - x, lambda x: -np.ones_like(x)),
    "t * 3": (lambda t: t * 3.0, lambda x: x * 3.0, lambda x: np.full_like(x, 3.0)),
    "3 * t": (lambda t: 3.0 * t, lambda x: 3.0 * x, lambda x: np.full_like(x, 3.0)),
    "t / 4": (lambda t: t / 4.0, lambda x: x / 4.0, lambda x: np.full_like(x, 0.25)),
    "3 / t": (lambda t: 3.0 / t, lambda x: 3.0 / x, lambda x: -3.0 / x**2),
    "t ** 3": (lambda t: t**3, lambda x: x**3, lambda x: 3 * x**2),
    "3 ** t": (lambda t: 3.0**t, lambda x: 3.0**x, lambda x: 3.0**x * np.log(3.0)),
    "t + C": (lambda t: t + C, lambda x: x + C, lambda x: np.ones_like(x)),
    "C + t": (lambda t: C + t, lambda x: C + x, lambda x: np.ones_like(x)),
    "t - C": (lambda t: t - C, lambda x: x - C, lambda x: np.ones_like(x)),
    "C - t": (lambda t: C - t, lambda x: C - x, lambda x: -np.ones_like(x)),
    "t * C": (lambda t: t * C, lambda x: x * C, lambda x: C),
    "C * t": (lambda t: C * t, lambda x: C * x, lambda x: C),
    "t / C": (lambda t: t / C, lambda x: x / C, lambda x: 1 / C),
    "C / t": (lambda t: C / t, lambda x: C / x, lambda x: -C / x**2),
    "t ** C": (lambda t: t**C, lambda x: x**C, lambda x: C * x ** (C - 1)),
    "C ** t": (lambda t: np.abs(C) ** t, lambda x: np.abs(C) ** x,
               lambda x: np.abs(C) ** x * np.log(np.abs(C))),
    "t @ C": (lambda t: t @ C, lambda x: x @ C, lambda x: C),
    "C @ t": (lambda t: C @ t, lambda x: C @ x, lambda x: C),
    "M * t": (lambda t: M * t, lambda x: M * x, lambda x: M.sum(axis=0)),
    "M @ t": (lambda t: M @ t, lambda x: M @ x, lambda x: M.sum(axis=0)),
    "-t": (lambda t: -t, lambda x: -x, lambda x: -np.ones_like(x)),
    "+t": (lambda t: +t, lambda x: x, lambda x: np.ones_like(x)),
}


@pytest.mark.parametrize("case", sorted(REFLECTED))
def test_operators_with_numbers_and_arrays_on_either_side(case):
    f, reference, hand_grad = REFLECTED[case]
    t = tg.Tensor(X, requires_grad=True)
    out = f(t)
    assert isinstance(out, tg.Tensor)
    assert out.requires_grad
    np.testing.assert_allclose(out.data, reference(X), rtol=RTOL)
    out.backward(np.ones(out.shape))
    np.testing.assert_allclose(t.grad.data, hand_grad(X), rtol=1e-10)


def test_pow_base_gradient_of_x_to_the_zero_is_zero_at_zero():
    # x⁰ = 1 for every x (0⁰ = 1 as in NumPy), so d/dx x⁰ = 0, also at x = 0 (not 0 · 0⁻¹).
    x = tg.Tensor(np.array([0.0, 2.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_pow_exponent_gradient_is_zero_at_a_zero_base():
    # 0^b = 0 for every b > 0, so d/db 0^b = 0 there (not 0 · log 0 = nan).
    b = tg.Tensor(np.array([0.5, 2.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (0.0**b).sum().backward()
    np.testing.assert_array_equal(b.grad.data, [0.0, 0.0])
    base = tg.Tensor(np.array([0.0, 3.0]), requires_grad=True)
    exponent = tg.Tensor(np.array([2.0, 2.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (base**exponent).sum().backward()
    np.testing.assert_allclose(base.grad.data, [0.0, 6.0], rtol=RTOL)  # b a^(b-1)
    np.testing.assert_allclose(exponent.grad.data, [0.0, 9.0 * np.log(3.0)], rtol=RTOL)


@pytest.mark.parametrize("absolute", [abs, tg.abs, lambda t: t.abs(), np.abs],
                         ids=["builtin", "tg.abs", "method", "np.abs"])
def test_abs_value_and_gradient_with_abs_prime_zero_at_zero(absolute):
    x = np.array([-2.0, -0.5, 0.0, 0.75, 3.0])
    t = tg.Tensor(x, requires_grad=True)
    out = absolute(t)
    assert isinstance(out, tg.Tensor)
    np.testing.assert_array_equal(out.data, [2.0, 0.5, 0.0, 0.75, 3.0])
    out.backward(np.ones(5))
    np.testing.assert_array_equal(t.grad.data, [-1.0, -1.0, 0.0, 1.0, 1.0])


COMPARISONS = {
    "<": (operator.lt, np.less),
    "<=": (operator.le, np.less_equal),
    ">": (operator.gt, np.greater),
    ">=": (operator.ge, np.greater_equal),
    "==": (operator.eq, np.equal),
    "!=": (operator.ne, np.not_equal),
}


@pytest.mark.parametrize("symbol", sorted(COMPARISONS))
@pytest.mark.parametrize("other_kind", ["number", "array", "tensor"])
def test_comparisons_give_tensors_that_need_no_grad(symbol, other_kind):
    op, reference = COMPARISONS[symbol]
    x = np.array([1.0, 2.0, 3.0, 2.0])
    other = {"number": 2.0, "array": np.array([0.0, 2.0, 4.0, 1.0]),
             "tensor": tg.Tensor(np.array([0.0, 2.0, 4.0, 1.0]), requires_grad=True)}[other_kind]
    other_values = other.data if isinstance(other, tg.Tensor) else other
    t = tg.Tensor(x, requires_grad=True)
    for out, expected in ((op(t, other), reference(x, other_values)),
                          (op(other, t), reference(other_values, x))):
        assert isinstance(out, tg.Tensor)
        assert not out.requires_grad
        assert out.grad_fn is None
        np.testing.assert_array_equal(out.data, expected)


# ---- dtypes of results and gradients -------------------------------------------------------------

SCALARS = [2.0, 2, np.float64(2.0), np.float32(2.0), np.int64(2)]
SCALAR_OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scalar", SCALARS, ids=lambda s: f"{type(s).__name__}")
@pytest.mark.parametrize("op", SCALAR_OPS, ids=lambda op: op.__name__)
def test_a_python_or_numpy_scalar_takes_the_tensors_dtype(dtype, scalar, op):
    t = tg.Tensor(np.array([1.0, 2.0, 4.0], dtype=dtype), requires_grad=True)
    for out, expected in ((op(t, scalar), op(np.array([1.0, 2.0, 4.0]), float(scalar))),
                          (op(scalar, t), op(float(scalar), np.array([1.0, 2.0, 4.0])))):
        assert isinstance(out, tg.Tensor)
        assert out.dtype == dtype
        np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_float32_times_two_is_float32_in_both_orders():
    t = tg.Tensor(np.ones(3, dtype=np.float32))
    assert (t * 2.0).dtype == np.float32
    assert (2.0 * t).dtype == np.float32
    assert (t * np.float64(2.0)).dtype == np.float32
    assert (np.float64(2.0) * t).dtype == np.float32


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_gradients_have_their_inputs_float_dtype(dtype, rtol):
    x = np.array([0.5, 1.0, 2.0])
    t = tg.Tensor(x.astype(dtype), requires_grad=True)
    loss = (tg.exp(t) * 2.0 + t**2 - 1.0 / t + np.float64(3.0) * t).sum()
    assert loss.dtype == dtype
    loss.backward()
    assert t.grad.dtype == dtype
    # d/dx [2 e^x + x² − 1/x + 3x] = 2 e^x + 2x + 1/x² + 3
    np.testing.assert_allclose(t.grad.data, 2 * np.exp(x) + 2 * x + 1 / x**2 + 3, rtol=rtol)


def test_each_gradient_keeps_its_own_inputs_dtype_when_dtypes_mix():
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    w = tg.Tensor(np.array([3.0, 5.0], dtype=np.float64), requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == np.float32
    assert w.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, [3.0, 5.0], rtol=1e-6)
    np.testing.assert_allclose(w.grad.data, [1.0, 2.0], rtol=RTOL)


@pytest.mark.parametrize("integers", [
    np.array([1, 2, 3]),
    tg.Tensor(np.array([1, 2, 3]), dtype=np.int64),
    [1, 2, 3],
], ids=["int-ndarray", "int-tensor", "int-list"])
def test_float32_with_integer_operands_keeps_float32(integers):
    # "results keep their inputs' float dtype": the only float input here is float32.
    t = tg.Tensor(np.array([2.0, 4.0, 6.0], dtype=np.float32), requires_grad=True)
    x = np.array([2.0, 4.0, 6.0])
    values = np.array([1.0, 2.0, 3.0])
    for op in (operator.add, operator.mul, operator.truediv):
        out = op(t, integers)
        assert out.dtype == np.float32, op.__name__
        np.testing.assert_allclose(out.data, op(x, values), rtol=1e-6)
        if not isinstance(integers, list):  # list on the left: list arithmetic, not NumPy's
            reflected = op(integers, t)
            assert reflected.dtype == np.float32, op.__name__
            np.testing.assert_allclose(reflected.data, op(values, x), rtol=1e-6)


def test_cast_to_an_integer_type_has_no_gradient():
    x = tg.Tensor(np.array([1.5, 2.5]), requires_grad=True)
    z = x.astype(np.int64)
    assert z.dtype == np.int64 and not z.requires_grad and z.grad_fn is None


def test_a_recorded_cast_to_an_integer_dtype_is_refused():
    """Tensor.astype gives an integer result no graph; the table's astype refuses to record one
    (an integer node would pass a gradient back)."""
    x = tg.Tensor(np.array([1.5, 2.5]), requires_grad=True)
    out = x.astype(np.int32)
    assert out.dtype == np.int32 and not out.requires_grad
    with pytest.raises(TypeError, match=r"^astype: .*float dtype"):
        tg.ops.astype(x, np.dtype(np.int32))


# ---- in-place operators --------------------------------------------------------------------------


def test_parameter_update_under_no_grad_changes_data_in_place_and_keeps_the_leaf():
    x = np.array([1.0, -2.0, 3.0])
    w = tg.Tensor(x, requires_grad=True)
    leaf, array = w, w.data
    (w * w).sum().backward()  # grad = 2w
    with tg.no_grad():
        w -= 0.1 * w.grad
    assert w is leaf
    assert w.data is array
    np.testing.assert_allclose(w.data, x - 0.1 * 2 * x, rtol=RTOL)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    # The updated leaf still works as a parameter.
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.data, 2 * (0.8 * x), rtol=RTOL)


@pytest.mark.parametrize("op, reference", [
    (operator.iadd, lambda a: a + 0.5),
    (operator.isub, lambda a: a - 0.5),
    (operator.imul, lambda a: a * 0.5),
    (operator.itruediv, lambda a: a / 0.5),
])
def test_every_in_place_operator_works_on_a_leaf_under_no_grad(op, reference):
    x = np.array([1.0, 2.0, 4.0])
    w = tg.Tensor(x, requires_grad=True)
    leaf, array = w, w.data
    with tg.no_grad():
        w = op(w, 0.5)
    assert w is leaf and w.data is array
    np.testing.assert_allclose(w.data, reference(x), rtol=RTOL)


def test_in_place_operator_on_a_tensor_argument_under_no_grad():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = tg.Tensor(np.array([0.25, 0.5]), requires_grad=True)
    leaf = w
    with tg.no_grad():
        w += step
    assert w is leaf
    np.testing.assert_allclose(w.data, [1.25, 2.5], rtol=RTOL)


def test_in_place_on_a_leaf_requiring_grad_outside_no_grad_raises():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)in-place.*leaf.*requires grad"):
        w -= 0.5
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_in_place_shape_mismatch_names_the_operation_and_both_shapes():
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    with tg.no_grad():
        with pytest.raises(ValueError, match="add") as error:
            w += tg.Tensor(np.ones(4))
        _assert_names(error, "(3,)", "(4,)")
        # A broadcast that would change w's shape cannot be done in place either.
        with pytest.raises(ValueError, match="sub") as error:
            w -= np.ones((2, 3))
        _assert_names(error, "(3,)", "(2, 3)")
    np.testing.assert_array_equal(w.data, np.zeros(3))


def test_in_place_on_a_tensor_not_requiring_grad_changes_it_in_place():
    t = tg.Tensor(np.array([1.0, 2.0]))
    original, array = t, t.data
    t += 1.0
    t *= np.array([2.0, 3.0])
    assert t is original and t.data is array
    np.testing.assert_array_equal(t.data, [4.0, 9.0])


# ---- indexing ------------------------------------------------------------------------------------

BASIC_INDICES = [
    1,
    -1,
    slice(1, 3),
    (slice(None), 0),
    (Ellipsis, 1),
    (slice(None, None, 2), slice(1, None)),
    (None, 0),
    (-1, slice(None, None, -1)),
    (1, 2),
]


@pytest.mark.parametrize("index", BASIC_INDICES, ids=repr)
def test_basic_indexing_values_and_gradient(index):
    x = np.arange(12, dtype=np.float64).reshape(3, 4) / 3
    t = tg.Tensor(x, requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.data, x[index])
    g = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    out.backward(g)
    expected = np.zeros_like(x)
    expected[index] = g  # basic indexing touches each element at most once
    np.testing.assert_array_equal(t.grad.data, expected)


@given(
    n=st.integers(1, 5),
    data=st.data(),
)
def test_integer_array_indexing_accumulates_repeated_indices(n, data):
    index = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8))
    x = np.linspace(-1.0, 1.0, 2 * n).reshape(n, 2)
    g = data.draw(hnp.arrays(np.float64, (len(index), 2), elements=floats(-3, 3)))
    t = tg.Tensor(x, requires_grad=True)
    out = t[np.array(index)]
    np.testing.assert_array_equal(out.data, np.stack([x[i] for i in index]))
    out.backward(g)
    expected = np.zeros_like(x)
    for k, i in enumerate(index):
        expected[i] += g[k]
    np.testing.assert_allclose(t.grad.data, expected, rtol=RTOL, atol=1e-15)


def test_an_empty_integer_list_selects_nothing():
    # As np.arange(3.0)[[]]: an empty list is an (empty) integer-array index.
    t = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    out = t[[]]
    assert out.shape == (0,)
    (out.sum() + t.sum()).backward()
    np.testing.assert_array_equal(t.grad.data, [1.0, 1.0, 1.0])


def test_repeated_index_gradient_counts_each_repeat():
    t = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    t[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(t.grad.data, [3.0, 0.0, 1.0])


def test_paired_integer_arrays_accumulate_repeats():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    rows, cols = np.array([0, 1, 0, 0]), np.array([2, 1, 2, 0])
    t = tg.Tensor(x, requires_grad=True)
    out = t[rows, cols]
    np.testing.assert_array_equal(out.data, [2.0, 4.0, 2.0, 0.0])
    g = np.array([1.0, 10.0, 100.0, 1000.0])
    out.backward(g)
    expected = np.array([[1000.0, 0.0, 101.0], [0.0, 10.0, 0.0]])
    np.testing.assert_array_equal(t.grad.data, expected)


@given(mask=hnp.arrays(np.bool_, (3, 4)))
def test_boolean_mask_indexing_values_and_gradient(mask):
    x = np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5
    t = tg.Tensor(x, requires_grad=True)
    out = t[mask]
    np.testing.assert_array_equal(out.data, x[mask])
    if out.size == 0:
        assert out.shape == (0,)
        return
    g = np.arange(1, out.size + 1, dtype=np.float64)
    out.backward(g)
    expected = np.zeros_like(x)
    expected[mask] = g
    np.testing.assert_array_equal(t.grad.data, expected)


def test_boolean_mask_on_one_axis():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = tg.Tensor(x, requires_grad=True)
    out = t[:, np.array([True, False, True])]
    np.testing.assert_array_equal(out.data, [[0.0, 2.0], [3.0, 5.0]])
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])


def test_tensor_indices_integer_and_boolean():
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    t = tg.Tensor(x, requires_grad=True)
    out = t[tg.Tensor([3, 1, 3], dtype=np.int64)]
    np.testing.assert_array_equal(out.data, [4.0, 2.0, 4.0])
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.data, [0.0, 1.0, 0.0, 2.0])

    t.grad = None
    positive = t[t > 0]
    np.testing.assert_array_equal(positive.data, [2.0, 4.0])
    positive.backward(np.array([5.0, 7.0]))
    np.testing.assert_array_equal(t.grad.data, [0.0, 5.0, 0.0, 7.0])

    t.grad = None
    t[tg.arange(2)].sum().backward()
    np.testing.assert_array_equal(t.grad.data, [1.0, 1.0, 0.0, 0.0])


# ---- constructors --------------------------------------------------------------------------------


@pytest.mark.parametrize("make, fill", [(tg.zeros, 0.0), (tg.ones, 1.0)],
                         ids=["zeros", "ones"])
def test_zeros_and_ones(make, fill):
    for t in (make(2, 3), make((2, 3))):
        assert t.shape == (2, 3)
        assert t.dtype == np.float32
        np.testing.assert_array_equal(t.data, np.full((2, 3), fill))
        assert t.is_leaf and not t.requires_grad
    r = make(4, requires_grad=True, dtype=np.float64)
    assert r.shape == (4,) and r.dtype == np.float64
    assert r.requires_grad and r.is_leaf
    np.testing.assert_array_equal(r.data, np.full(4, fill))
    with pytest.raises(TypeError, match="float"):
        make(2, requires_grad=True, dtype=np.int64)


@pytest.mark.parametrize("make, fill", [(tg.zeros_like, 0.0), (tg.ones_like, 1.0)],
                         ids=["zeros_like", "ones_like"])
def test_zeros_like_and_ones_like(make, fill):
    src = tg.Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    t = make(src)
    assert t.shape == (1, 3) and t.dtype == np.float64
    assert not t.requires_grad and t.is_leaf
    np.testing.assert_array_equal(t.data, np.full((1, 3), fill))
    r = make(src, requires_grad=True, dtype=np.float32)
    assert r.dtype == np.float32 and r.requires_grad
    assert not np.shares_memory(r.data, src.data)


def test_arange():
    np.testing.assert_array_equal(tg.arange(5).data, np.arange(5))
    assert tg.arange(5).dtype.kind == "i"
    floats_ = tg.arange(0.0, 1.0, 0.25)
    assert floats_.dtype == np.float32
    np.testing.assert_array_equal(floats_.data, [0.0, 0.25, 0.5, 0.75])
    r = tg.arange(1, 4, dtype=np.float64, requires_grad=True)
    assert r.dtype == np.float64 and r.requires_grad and r.is_leaf
    np.testing.assert_array_equal(r.data, [1.0, 2.0, 3.0])
    # A leaf from arange is a usable parameter.
    (r * r).sum().backward()
    np.testing.assert_array_equal(r.grad.data, [2.0, 4.0, 6.0])


@pytest.mark.parametrize("make", [tg.randn, tg.rand], ids=["randn", "rand"])
def test_random_constructors_are_reproducible_with_a_generator(make):
    a = make(3, 4, rng=np.random.default_rng(0))
    b = make(3, 4, rng=np.random.default_rng(0))
    c = make(3, 4, rng=np.random.default_rng(1))
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    r = make((2, 2), rng=np.random.default_rng(0), requires_grad=True, dtype=np.float64)
    assert r.shape == (2, 2) and r.dtype == np.float64 and r.requires_grad and r.is_leaf


def test_randn_and_rand_distributions():
    n = tg.randn(20000, rng=np.random.default_rng(0), dtype=np.float64).data
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05
    u = tg.rand(20000, rng=np.random.default_rng(0), dtype=np.float64).data
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.02


# ---- shape methods and module-level functions ----------------------------------------------------


def test_broadcast_to_takes_an_int_shape():
    out = tg.Tensor(np.array([2.0])).broadcast_to(3)
    np.testing.assert_array_equal(out.data, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("source, shape", [((), (2, 3)), ((1,), (3,)), ((1, 1), (4, 1, 2)),
                                           ((1, 1, 1), (2,)), ((1, 1), (3,)), ((1,), (-1,)),
                                           ((), (0, 2))])
def test_broadcasting_one_element_is_np_broadcast_to(source: tuple, shape: tuple):
    """One element takes a faster path: the same read-only view as np.broadcast_to, and the
    same refusal of a shape with fewer axes."""
    x = np.full(source, 2.5)
    try:
        expected = np.broadcast_to(x, shape)
    except ValueError:
        with pytest.raises(ValueError, match=r"^broadcast_to: "):
            tg.Tensor(x).broadcast_to(shape)
        return
    out = tg.Tensor(x).broadcast_to(shape).data
    assert out.shape == expected.shape and not out.flags.writeable
    np.testing.assert_array_equal(out, expected)


def test_reductions_of_lists_and_numbers_are_numpys():
    """On plain values the primitives are their NumPy forwards: no Tensor, NumPy's result."""
    values = [1.0, 2.0, 4.0]
    np.testing.assert_allclose(tg.mean(values), np.mean(values))
    np.testing.assert_allclose(tg.var(values, ddof=1), np.var(values, ddof=1))
    np.testing.assert_allclose(tg.sum([[1.0, 2.0], [3.0, 4.0]], axis=0), [4.0, 6.0])
    np.testing.assert_allclose(tg.mean(3.0), 3.0)


def test_where_with_a_tensor_condition_and_two_numbers_gives_a_tensor():
    out = tg.where(tg.Tensor([1.0, -1.0]) > 0, 1.0, 0.0)
    assert isinstance(out, tg.Tensor) and out.dtype == tg.get_default_dtype()
    np.testing.assert_array_equal(out.data, [1.0, 0.0])


# ---- errors name the operation (and both shapes, for a shape mismatch) ---------------------------


def _assert_names(error: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(error.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_add_shape_mismatch_names_add_and_both_shapes():
    with pytest.raises(ValueError, match="add") as error:
        tg.Tensor(np.ones((2, 3))) + tg.Tensor(np.ones(4))
    _assert_names(error, "(2, 3)", "(4,)")


def test_mul_shape_mismatch_with_an_array_names_mul_and_both_shapes():
    with pytest.raises(ValueError, match="mul") as error:
        tg.Tensor(np.ones((2, 3)), requires_grad=True) * np.ones((3, 2))
    _assert_names(error, "(2, 3)", "(3, 2)")


def test_matmul_shape_mismatch_names_matmul_and_both_shapes():
    with pytest.raises(ValueError, match="matmul") as error:
        tg.Tensor(np.ones((2, 3))) @ tg.Tensor(np.ones((4, 5)))
    _assert_names(error, "(2, 3)", "(4, 5)")


def test_concatenate_shape_mismatch_names_concatenate_and_both_shapes():
    with pytest.raises(ValueError, match="concatenate") as error:
        tg.concatenate([tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((2, 4)))], axis=0)
    _assert_names(error, "(2, 3)", "(2, 4)")


def test_numpy_errors_keep_their_message_and_name_the_operation():
    x = tg.arange(3)
    with pytest.raises(TypeError, match=r"in-place add.*casting"), tg.no_grad():
        x += 1.5  # an int64 tensor cannot hold 1.5
    with pytest.raises(TypeError, match=r"^add: .*ufunc"):
        tg.arange(3) + "a"
    with pytest.raises(ValueError, match=r"^matmul: .*mismatch") as info:
        tg.ones(2, 3) @ tg.ones(4, 5)
    assert "matmul: matmul" not in str(info.value)


# ---- a list of Tensors, NumPy's functions on a Tensor, t[...] = v, shape-changing += ------------


def test_a_list_of_tensors_is_recorded_as_stack() -> None:
    """Tensor([a, b]) keeps the graph: d/da Σ w · [a, 2b] = w0, d/db = 2 w1."""
    a = tg.Tensor(1.5, requires_grad=True, dtype=np.float64)
    b = tg.Tensor(-2.0, requires_grad=True, dtype=np.float64)
    v = tg.Tensor([a, 2 * b])
    assert v.requires_grad and v.dtype == np.float64
    np.testing.assert_array_equal(v.data, [1.5, -4.0])
    (v * tg.Tensor([3.0, 5.0], dtype=np.float64)).sum().backward()
    assert a.grad.item() == 3.0 and b.grad.item() == 10.0


def test_a_nested_list_mixing_tensors_and_numbers() -> None:
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    m = tg.Tensor([[a, [3, 4]], [[5, 6], a * 3]])
    assert m.shape == (2, 2, 2) and m.dtype == np.float32  # numbers take a's dtype
    np.testing.assert_array_equal(m.data, [[[1, 2], [3, 4]], [[5, 6], [3, 6]]])
    m.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [4.0, 4.0])
    assert tg.Tensor([a, a], dtype=np.float64).dtype == np.float64


def test_a_list_of_tensors_of_different_shapes_names_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        tg.Tensor([tg.ones(2), tg.ones(3)])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
def test_numpy_reductions_on_a_tensor_are_recorded(name: str) -> None:
    """np.sum(t) calls t.sum(axis=None, dtype=None, out=None): the result is the recorded
    Tensor, with the value NumPy gives for the array."""
    x = np.array([[1.0, -2.0, 4.0], [0.5, 3.0, -1.0]])
    t = tg.Tensor(x, requires_grad=True)
    out = getattr(np, name)(t, axis=1)
    assert isinstance(out, tg.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, getattr(np, name)(x, axis=1))
    out.sum().backward()
    assert t.grad is not None and t.grad.shape == x.shape


def test_numpy_functions_on_a_tensor_refuse_out() -> None:
    t = tg.Tensor([1.0, 2.0])
    for call in (lambda: np.sum(t, out=np.zeros(())), lambda: np.max(t, out=np.zeros(())),
                 lambda: np.clip(t, 0, 1, out=np.zeros(2))):
        with pytest.raises(ValueError, match="out="):  # (NumPy retries a TypeError on arrays)
            call()
    assert np.mean(t, dtype=np.float64).dtype == np.float64


def test_setitem_changes_the_values_as_numpy_does() -> None:
    t = tg.Tensor(np.arange(6.0).reshape(2, 3))
    expected = np.arange(6.0).reshape(2, 3)
    for index, value in [((0, 1), 9.0), (slice(None), tg.Tensor([7.0, 8.0, 9.0])),
                         (np.array([True, False]), -1.0), ([1, 1], 0.5)]:
        t[index] = value
        expected[index] = value.data if isinstance(value, tg.Tensor) else value
        np.testing.assert_array_equal(t.data, expected)


def test_setitem_that_the_graph_would_record_is_refused() -> None:
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*no_grad"):
        w[0] = 5.0
    c = tg.zeros(2)
    with pytest.raises(RuntimeError, match="requires grad"):
        c[0] = w[1]
    with tg.no_grad():
        w[0] = 5.0
    np.testing.assert_array_equal(w.data, [5.0, 2.0])
    with pytest.raises(ValueError, match=r"setitem.*\(2,\).*\(3,\)"):
        c[:] = np.ones(3)


def test_a_recorded_in_place_operation_cannot_change_the_shape() -> None:
    """NumPy refuses y += bigger for an array; the recorded y += bigger must too."""
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"in-place add.*\(3, 2\).*\(2,\)"):
        y += np.ones((3, 2))
    y += np.ones(2)  # the same shape is fine
    np.testing.assert_array_equal(y.data, [3.0, 5.0])


def test_a_list_of_tensors_follows_the_dtype_rules_of_tensor() -> None:
    """As for a list of numbers: the float dtype the Tensors (and float arrays) promote to,
    numbers taking it, and the default float dtype when no Tensor is float; no value is cut."""
    ints = tg.Tensor([1, 2]).astype(np.int64)
    made = tg.Tensor([ints, [0.5, 1.5]])
    assert made.dtype == np.float32
    np.testing.assert_array_equal(made.data, [[1, 2], [0.5, 1.5]])
    mask = tg.Tensor([1.0, -1.0]) > 0
    np.testing.assert_array_equal(tg.Tensor([mask, [0.25, 1.0]]).data, [[1, 0], [0.25, 1.0]])
    x32 = tg.Tensor([1.0], requires_grad=True)
    assert tg.Tensor([x32, np.array([2.0])]).dtype == np.float64  # as x32 + float64 array


def test_a_list_of_tensors_with_requires_grad_is_a_new_leaf() -> None:
    """As PyTorch's torch.tensor([...], requires_grad=True): a leaf holding the values (a
    Parameter built from tensors is a leaf an optimizer accepts)."""
    a = tg.Tensor(1.0, requires_grad=True)
    leaf = tg.Tensor([a, a * 2], requires_grad=True)
    assert leaf.is_leaf and leaf.requires_grad
    np.testing.assert_array_equal(leaf.data, [1.0, 2.0])
    tg.optim.SGD([tg.nn.Parameter([a, a])], lr=0.1)


def test_np_clip_with_options_a_tensor_lacks_is_refused() -> None:
    """NumPy retries a TypeError on the plain array, which would silently cut the graph."""
    t = tg.Tensor([0.5, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="dtype"):
        np.clip(t, 0, 1.5, dtype=np.float32)


@pytest.mark.parametrize("write", [False, True])
def test_a_mask_of_the_wrong_shape_is_an_index_error(write: bool) -> None:
    t = tg.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match=r"(setitem|getitem).*\(3,\)"):
        if write:
            t[np.array([True, False])] = 5.0
        else:
            t[np.array([True, False])]
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])
