"""Each kernel of ``tinygrad_ko.kernels`` against the plain NumPy expression it replaces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_ops import _pairs, _window_shapes, np_col2im, np_im2col

from tinygrad_ko import kernels
from tinygrad_ko.testing.strategies import arrays

FLOATS = st.floats(width=32, allow_nan=True, allow_infinity=True)
FINITE = st.floats(-50, 50, width=32)


def axes_of(ndim: int) -> st.SearchStrategy:
    every = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
    return st.one_of(st.none(), every.map(lambda a: tuple(sorted(a))))


@st.composite
def arrays_and_axes(draw, elements=FLOATS):
    x = draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
                        elements=elements))
    return x, draw(axes_of(x.ndim)), draw(st.booleans())


@given(arrays_and_axes())
def test_sum_mean_max_min_are_numpys(case) -> None:
    x, axis, keepdims = case
    with np.errstate(invalid="ignore", over="ignore"):
        for kernel, reference in ((kernels.sum, np.sum), (kernels.mean, np.mean),
                                  (kernels.max, np.max), (kernels.min, np.min)):
            np.testing.assert_array_equal(kernel(x, axis, keepdims),
                                          reference(x, axis=axis, keepdims=keepdims))


@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 40)),
                  elements=FLOATS), st.booleans())
def test_max_over_the_short_last_axis_of_a_matrix_is_np_max(x: np.ndarray, keepdims) -> None:
    """Short last axes take another path (the maximum across the transposed rows): the same
    values as np.max, nan and ±inf included."""
    expected = np.max(x, axis=1, keepdims=keepdims)
    out = kernels.max(x, (1,), keepdims)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


@given(arrays_and_axes(FINITE))
def test_logsumexp_is_log_of_sum_of_exp(case) -> None:
    """Against the naive formula in float64, where it does not overflow."""
    x, axis, keepdims = case
    naive = np.log(np.sum(np.exp(x.astype(np.float64)), axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(kernels.logsumexp(x, axis, keepdims), naive, rtol=1e-5, atol=1e-5)


def test_logsumexp_of_infinite_rows() -> None:
    """log Σ exp over a row of −inf is log 0 = −inf; a row holding +inf gives +inf; a large
    finite row does not overflow (the naive formula would give inf)."""
    for x, expected in (([[-np.inf, -np.inf], [1000.0, 1000.0]], [-np.inf, 1000 + np.log(2)]),
                        ([[np.inf, 0.0], [1000.0, 1000.0]], [np.inf, 1000 + np.log(2)])):
        np.testing.assert_array_equal(kernels.logsumexp(np.array(x), (1,), False), expected)


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2), elements=st.floats(-700, 700)))
def test_sigmoid_is_one_over_one_plus_exp(x: np.ndarray) -> None:
    np.testing.assert_allclose(kernels.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-300)


def test_sigmoid_far_out_and_at_nan() -> None:
    """No overflow warning for any x (the naive formula overflows e^800), NaN stays NaN."""
    with np.errstate(all="raise"):
        out = kernels.sigmoid(np.array([-800.0, 800.0, 0.0]))
    np.testing.assert_array_equal(out, [0.0, 1.0, 0.5])
    assert np.isnan(kernels.sigmoid(np.array([np.nan])))[0]


@given(hnp.arrays(np.float32, st.sampled_from([(), (1,), (1, 1)])),
       hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_broadcasting_one_element_is_np_broadcast_to(x: np.ndarray, shape: tuple) -> None:
    try:
        expected = np.broadcast_to(x, shape)
    except ValueError:
        with pytest.raises(ValueError):
            kernels.broadcast_to(x, shape)
        return
    out = kernels.broadcast_to(x, shape)
    np.testing.assert_array_equal(out, expected)
    assert out.shape == expected.shape and not out.flags.writeable


@given(st.data())
def test_scatter_is_np_add_at(data) -> None:
    """Repeated indices accumulate, as np.add.at; basic indices assign."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    index = data.draw(st.one_of(
        hnp.basic_indices(shape),
        hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2, max_side=6))))
    g = data.draw(hnp.arrays(np.float64, np.zeros(shape)[index].shape,
                             elements=st.floats(-10, 10)))
    expected = np.zeros(shape)
    np.add.at(expected, index, g)
    np.testing.assert_array_equal(kernels.scatter(g, index, shape), expected)


def test_a_recorded_cast_refuses_an_integer_dtype() -> None:
    with pytest.raises(TypeError, match="astype"):
        kernels.cast(np.ones(2), np.dtype(np.int64))
    assert kernels.cast(np.ones(2), np.dtype(np.float32)).dtype == np.float32


@given(st.integers(1, 5), st.integers(2, 6), st.data())
def test_softmax_cross_entropy_forwards(batch: int, classes: int, data) -> None:
    """Against −Σ t log softmax(z) / N written plainly, with labels as one-hot rows."""
    z = data.draw(hnp.arrays(np.float64, (batch, classes), elements=st.floats(-20, 20)))
    labels = data.draw(hnp.arrays(np.int64, batch, elements=st.integers(0, classes - 1)))
    t = np.eye(classes)[labels]
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -(t * log_softmax).sum() / batch
    # (the plain formula's own rounding: about 1e-15 of the largest log term)
    np.testing.assert_allclose(kernels.softmax_cross_entropy(z, t), expected, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(kernels.softmax_cross_entropy_labels(z, labels), expected,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(kernels.one_hot(labels, (batch, classes), np.float64), t)


# ---- windows of an image -------------------------------------------------------------------------


@settings(max_examples=30)
@given(data=st.data())
def test_im2col_is_the_windows_and_col2im_its_adjoint(data) -> None:
    """im2col gives the book's rows, window by window (a loop); col2im is its adjoint:
    ⟨im2col(x), g⟩ = ⟨x, col2im(g)⟩ for every x and g, so each is the other's gradient."""
    shape, p = _window_shapes(data)
    kernel, stride, padding = _pairs(p)
    x = data.draw(arrays(shape))
    cols = kernels.im2col(x, kernel, stride, padding)
    np.testing.assert_array_equal(cols, np_im2col(x, **p))
    assert not np.shares_memory(cols, x)
    g = data.draw(arrays(cols.shape))
    back = kernels.col2im(g, shape, kernel, stride, padding)
    np.testing.assert_allclose(back, np_col2im(g, shape, **p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose((cols * g).sum(), (x * back).sum(), rtol=1e-9, atol=1e-9)
