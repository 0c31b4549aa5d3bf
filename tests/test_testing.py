"""Tests of ``tinygrad_ko.testing``: the gradient-checking toolkit offered for custom losses
(``numerical_grad``, ``gradcheck``, ``assert_grad_matches``, ``check_property``) and the
Hypothesis strategies of ``tinygrad_ko.testing.strategies``.

Expected values are written here: derivatives worked out by hand and evaluated with NumPy, or
central differences computed by hand. A checker is tested both ways: it must accept a correct
gradient and must reject a deliberately wrong one (a ``tg.Function`` with a wrong backward, or a
hand formula missing a factor), with a message whose parts (input, worst index, both values,
error, tolerance) are read back and compared with values computed in the test.

Tolerances. Central differences with step h on a polynomial of degree 3 have a truncation error of
exactly h² (for x³: ((x+h)³ − (x−h)³) / 2h = 3x² + h²), and a rounding error of about
1e-16 |f| / h, below 1e-7 for the functions and steps used here.
"""

from __future__ import annotations

import ast
import math
import re
from itertools import pairwise

import numpy as np
import pytest
from helpers import Cube
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ko as tg
from tinygrad_ko.testing import strategies as S

T = tg.testing
EXAMPLES = 30  # for check_property: small, so the file stays fast


# ---- helpers: read a GradcheckError message back -------------------------------------------------


def _number(message: str, label: str) -> float:
    """The number after ``label =`` in a GradcheckError message."""
    match = re.search(rf"\b{label}\s*=\s*([-+0-9.eEnaif]+)", message)
    assert match, f"no '{label} = ...' in message:\n{message}"
    return float(match.group(1))


def _tolerance(message: str) -> float:
    match = re.search(r"tolerance\s*=?\s*([-+0-9.eE]+)", message)
    assert match, f"no tolerance in message:\n{message}"
    return float(match.group(1))


def _index(message: str) -> tuple[int, ...]:
    match = re.search(r"index \(([-0-9, ]*)\)", message)
    assert match, f"no index in message:\n{message}"
    return tuple(int(i) for i in match.group(1).split(",") if i.strip())


def _counterexample(message: str) -> list[np.ndarray]:
    """The arguments shown after ``counterexample:``, parsed back into arrays."""
    assert "counterexample:" in message, message
    text = message.split("counterexample:", 1)[1].strip()
    return [np.array(a) for a in ast.literal_eval(f"({text},)")]


def _worst(error: np.ndarray, tolerance: np.ndarray) -> tuple[int, ...]:
    """Where the error exceeds its tolerance the most (computed here, not by the library)."""
    return tuple(int(i) for i in np.unravel_index(np.argmax(error - tolerance), error.shape))


def _one_hot(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Integer labels as one-hot rows of y's shape; dense targets unchanged."""
    t = np.asarray(t)
    if t.dtype.kind in "iu":
        return np.eye(y.shape[-1])[t].reshape(y.shape)
    return t


# ---- functions with hand-written (right or wrong) backward ---------------------------------------


def scaled_square(scale):
    """y = x² elementwise whose backward returns 2x · scale: right only where scale == 1."""

    class ScaledSquare(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x**2

        @staticmethod
        def backward(ctx, grad):
            return 2 * ctx.x * grad * scale

    return ScaledSquare


class SwappedIdentity(tg.Function):
    """y = x (two elements) whose backward swaps the upstream gradient: right for an upstream
    gradient of ones (so for y.sum()), wrong for almost any other."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad[::-1]


class WrongMulExp(tg.Function):
    """y = a · exp(b); backward right for a (exp b), wrong for b (a instead of a · exp b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a * np.exp(b)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.exp(ctx.b), grad * ctx.a


class CubeWithSquareGrad(Cube):
    """y = x³ (the forward of helpers.Cube) with the wrong derivative 2x² (a plausible slip for
    3x²)."""

    @staticmethod
    def backward(ctx, grad):
        return 2 * ctx.x**2 * grad


def mse_grad(y, t):
    """d/dy (1/n) Σ (y − t)² = 2 (y − t) / n."""
    return 2 * (y - t) / y.size


def cee_grad(y, t, eps=1e-7):
    """d/dy −(1/N) Σ t log(y + eps) = −t / (N (y + eps)), N = y.shape[0] for a batch, else 1."""
    n = y.shape[0] if y.ndim >= 2 else 1
    return -_one_hot(y, t) / (n * (y + eps))


small_floats = S.arrays(S.shapes(min_dims=1, max_dims=2, max_side=4), -3.0, 3.0)


# ---- numerical_grad ------------------------------------------------------------------------------


@given(small_floats)
def test_numerical_grad_of_sum_of_cubes_is_three_x_squared(x):
    (g,) = T.numerical_grad(lambda a: (a**3).sum(), x)
    assert g.dtype == np.float64 and g.shape == x.shape
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-7, atol=1e-6)


def test_numerical_grad_of_a_two_input_function_gives_one_array_per_input():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-2, 2, size=3), rng.uniform(-1, 1, size=(2, 3))
    grads = T.numerical_grad(lambda a, b: (a * b.exp()).sum(), a, b)
    assert isinstance(grads, tuple) and len(grads) == 2
    ga, gb = grads
    assert ga.shape == a.shape and gb.shape == b.shape
    assert ga.dtype == gb.dtype == np.float64
    # d/da Σ a_j e^{b_ij} = Σ_i e^{b_ij};  d/db_ij = a_j e^{b_ij}
    np.testing.assert_allclose(ga, np.exp(b).sum(axis=0), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(gb, a * np.exp(b), rtol=1e-8, atol=1e-8)


def test_numerical_grad_works_in_float64_and_leaves_the_inputs_alone():
    x = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    before = x.copy()
    seen = []

    def f(a):
        seen.append(a.dtype)
        return (a**3).sum()

    (g,) = T.numerical_grad(f, x, eps=1e-6)
    assert g.dtype == np.float64
    assert set(seen) == {np.dtype(np.float64)}
    # in float32 a step of 1e-6 would be lost in rounding; float64 gives 3x² closely
    np.testing.assert_allclose(g, 3 * x.astype(np.float64) ** 2, rtol=1e-7, atol=1e-7)
    np.testing.assert_array_equal(x, before)
    assert x.dtype == np.float32


def test_numerical_grad_of_a_python_float_is_a_zero_dim_array():
    (g,) = T.numerical_grad(lambda a: a * a * a, 2.0, eps=1e-3)
    assert np.shape(g) == () and g.dtype == np.float64
    assert abs(float(g) - (12.0 + 1e-6)) < 1e-8  # 3x² + eps²


def test_numerical_grad_does_not_vary_integer_inputs_and_gives_them_zeros():
    y = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    labels = np.array([2, 0], dtype=np.int64)
    seen = []

    def f(y, t):
        seen.append(np.array(t, copy=True))
        return tg.losses.cee(y, t)

    gy, gt = T.numerical_grad(f, y, labels)
    assert gt.shape == labels.shape
    np.testing.assert_array_equal(gt, np.zeros(labels.shape))
    # only the float input is varied: two evaluations per element of y, labels always intact
    assert len(seen) == 2 * y.size
    for t in seen:
        assert t.dtype.kind == "i"
        np.testing.assert_array_equal(t, labels)
    expected = np.zeros_like(y)
    expected[[0, 1], labels] = -1 / (2 * (y[[0, 1], labels] + 1e-7))
    np.testing.assert_allclose(gy, expected, rtol=1e-6, atol=1e-8)


def test_numerical_grad_matches_the_central_difference_computed_by_hand():
    x, eps = 0.3, 1e-3
    (g,) = T.numerical_grad(lambda a: a.exp().sum(), np.array([x]), eps=eps)
    by_hand = (np.exp(x + eps) - np.exp(x - eps)) / (2 * eps)
    np.testing.assert_allclose(g, [by_hand], rtol=1e-12)
    # and the step really was eps: the truncation error eps²/6 · e^x is visible
    assert abs(g[0] - np.exp(x)) > 1e-8


@pytest.mark.parametrize("x, steps", [
    (2.0, (1e-1, 1e-2, 1e-3)),
    (-0.5, (1e-1, 1e-2, 1e-3)),
    (100.0, (1e-1, 1e-2)),
])
def test_numerical_grad_eps_is_an_absolute_step_with_error_eps_squared(x, steps):
    """For x³ the central difference is 3x² + eps² exactly: an absolute step gives error eps²
    whatever x is (a step relative to x would give eps² x², 1e4 times more at x = 100); the
    error shrinks as eps²."""
    errors = []
    for eps in steps:
        (g,) = T.numerical_grad(lambda a: (a**3).sum(), np.array([x]), eps=eps)
        error = g[0] - 3 * x**2
        # rounding: a few ulps of f(x ± eps) ~ |x|³, and of x ± eps times f' ~ 3x², over 2 eps
        rounding = 1e-15 * (abs(x) ** 3 + 3 * x**2 * abs(x)) / eps
        np.testing.assert_allclose(error, eps**2, rtol=1e-6, atol=rounding)
        errors.append(error)
    assert all(50 * later < earlier for earlier, later in pairwise(errors))
    assert errors[-1] > 0


# ---- gradcheck -----------------------------------------------------------------------------------


@given(small_floats)
def test_gradcheck_accepts_a_correct_scalar_function(x):
    assert T.gradcheck(lambda a: (a.tanh() * a).sum(), x) is True


def test_gradcheck_accepts_correct_multi_output_functions():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-2, 2, size=(2, 3)), rng.uniform(-1, 1, size=3)
    assert T.gradcheck(lambda a, b: a * b.exp(), a, b) is True
    assert T.gradcheck(lambda z: z.softmax(axis=-1), rng.normal(size=(3, 4))) is True
    assert T.gradcheck(scaled_square(np.ones((2, 3))).apply, a) is True


def test_gradcheck_accepts_a_loss_with_integer_labels():
    y = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    assert T.gradcheck(tg.losses.cee, y, np.array([2, 0])) is True
    assert T.gradcheck(tg.losses.softmax_cross_entropy, np.log(y), np.array([1, 1])) is True


def test_gradcheck_reports_input_worst_index_values_error_and_tolerance():
    x = np.array([[0.5, -1.0, 0.5], [2.0, 3.0, -0.25]])
    scale = np.ones_like(x)
    scale[0, 2] = -1.0  # error 2 |2x| = 2
    scale[1, 1] = 1.5  # error 0.5 |2x| = 3: the worst
    atol, rtol = 1e-5, 1e-4
    with pytest.raises(T.GradcheckError) as failure:
        T.gradcheck(lambda a: scaled_square(scale).apply(a).sum(), x, atol=atol, rtol=rtol)
    message = str(failure.value)

    autodiff, numerical = 2 * x * scale, 2 * x
    error = np.abs(autodiff - numerical)
    tolerance = atol + rtol * np.abs(numerical)
    worst = _worst(error, tolerance)
    assert worst == (1, 1) == np.unravel_index(np.argmax(error), x.shape)

    assert re.search(r"\binput 0\b", message), message
    assert _index(message) == worst
    np.testing.assert_allclose(_number(message, "autodiff"), autodiff[worst], rtol=1e-12)
    np.testing.assert_allclose(_number(message, "numerical"), numerical[worst], rtol=1e-8)
    np.testing.assert_allclose(_number(message, "error"), error[worst], rtol=1e-8)
    np.testing.assert_allclose(_tolerance(message), tolerance[worst], rtol=1e-8)


@given(S.arrays(S.shapes(min_dims=1, max_dims=2, max_side=4), -3.0, 3.0, avoid=(0.0,), gap=0.1),
       st.data())
def test_gradcheck_worst_index_is_where_the_error_is_largest(x, data):
    scale = data.draw(hnp.arrays(np.float64, x.shape,
                                 elements=st.sampled_from([1.0, -1.0, 0.5, 1.5, 3.0])))
    autodiff, numerical = 2 * x * scale, 2 * x
    error = np.abs(autodiff - numerical)
    tolerance = 1e-5 + 1e-4 * np.abs(numerical)
    excess = np.sort((error - tolerance).ravel())
    assume(excess[-1] > 0)
    # a clear winner, by either reading of "worst" (largest error, or largest excess over the
    # tolerance), so rounding in the finite differences cannot change it
    assume(excess.size == 1 or excess[-1] - excess[-2] > 1e-6)
    assume(_worst(error, tolerance) == _worst(error, np.zeros_like(error)))
    worst = _worst(error, tolerance)

    with pytest.raises(T.GradcheckError) as failure:
        T.gradcheck(lambda a: scaled_square(scale).apply(a).sum(), x)
    message = str(failure.value)
    assert re.search(r"\binput 0\b", message), message
    assert _index(message) == worst
    np.testing.assert_allclose(_number(message, "autodiff"), autodiff[worst], rtol=1e-12)
    np.testing.assert_allclose(_number(message, "numerical"), numerical[worst], rtol=1e-7)
    assert _number(message, "error") > _tolerance(message)


def test_gradcheck_names_the_input_whose_gradient_is_wrong():
    a, b = np.array([0.5, -1.5, 2.0]), np.array([0.1, 0.7, -0.3])
    labels = np.array([1, 0, 2])

    def f(a, labels, b):  # labels only ride along: the wrong gradient is input 2's
        return WrongMulExp.apply(a, b).sum() + 0 * labels.sum()

    with pytest.raises(T.GradcheckError) as failure:
        T.gradcheck(f, a, labels, b)
    message = str(failure.value)
    assert re.search(r"\binput 2\b", message), message
    assert not re.search(r"\binput [01]\b", message), message
    autodiff, numerical = a, a * np.exp(b)
    worst = _worst(np.abs(autodiff - numerical), 1e-5 + 1e-4 * np.abs(numerical))
    assert _index(message) == worst
    np.testing.assert_allclose(_number(message, "autodiff"), autodiff[worst], rtol=1e-12)
    np.testing.assert_allclose(_number(message, "numerical"), numerical[worst], rtol=1e-7)


def test_gradcheck_catches_a_wrong_gradient_of_a_multi_output_function():
    x = np.array([[0.5, -1.0, 0.75], [2.0, 3.0, -0.25]])
    scale = np.ones_like(x)
    scale[1, 0] = -1.0
    with pytest.raises(T.GradcheckError) as failure:
        T.gradcheck(scaled_square(scale).apply, x)
    message = str(failure.value)
    assert re.search(r"\binput 0\b", message), message
    assert _index(message) == (1, 0)


def test_gradcheck_checks_every_output_not_just_their_sum():
    x = np.array([0.3, -0.8])
    # the swapped backward is right for y.sum() ...
    assert T.gradcheck(lambda a: SwappedIdentity.apply(a).sum(), x) is True
    # ... but not as a vector-Jacobian product of the two outputs
    with pytest.raises(T.GradcheckError, match=r"\binput 0\b"):
        T.gradcheck(SwappedIdentity.apply, x)


def test_gradcheck_uses_the_tolerances_it_is_given():
    x = np.array([1.0, -2.0, 3.0])
    scale = np.array([1.0, 1.0, 1.001])  # relative error 1e-3 at index 2

    def f(a):
        return scaled_square(scale).apply(a).sum()

    assert T.gradcheck(f, x, rtol=1e-2) is True
    with pytest.raises(T.GradcheckError) as failure:
        T.gradcheck(f, x, atol=1e-7, rtol=1e-5)
    message = str(failure.value)
    assert _index(message) == (2,)
    np.testing.assert_allclose(_tolerance(message), 1e-7 + 1e-5 * 6.0, rtol=1e-6)
    np.testing.assert_allclose(_number(message, "error"), 6.0 * 1e-3, rtol=1e-5)


def test_gradcheck_catches_a_nan_gradient():
    x = np.array([0.5, 1.5, -2.0])
    scale = np.array([1.0, np.nan, 1.0])
    with pytest.raises(T.GradcheckError) as failure:
        T.gradcheck(lambda a: scaled_square(scale).apply(a).sum(), x)
    message = str(failure.value)
    assert _index(message) == (1,)
    assert np.isnan(_number(message, "autodiff"))


# ---- assert_grad_matches -------------------------------------------------------------------------


Y = np.array([[0.5, -1.0, 2.0], [0.25, 3.0, -0.5]])
TARGET = np.array([[0.0, 1.0, 1.5], [1.0, -1.0, 0.0]])  # |y − t| = .5 2 .5 / .75 4 .5


def test_assert_grad_matches_accepts_the_hand_derived_mse_gradient():
    assert T.assert_grad_matches(tg.losses.mse, mse_grad, Y, TARGET) is None


def test_assert_grad_matches_reports_a_hand_formula_missing_the_factor_two():
    def forgot_the_two(y, t):
        return (y - t) / y.size

    with pytest.raises(T.GradcheckError) as failure:
        T.assert_grad_matches(tg.losses.mse, forgot_the_two, Y, TARGET)
    message = str(failure.value)

    autodiff, hand = mse_grad(Y, TARGET), forgot_the_two(Y, TARGET)
    error = np.abs(autodiff - hand)
    tolerance = 1e-12 + 1e-9 * np.abs(hand)  # the documented defaults atol, rtol
    worst = _worst(error, tolerance)
    assert worst == (1, 1)  # where |y − t| is largest
    assert re.search(r"\binput 0\b", message), message
    assert "hand_grad" in message
    assert _index(message) == worst
    np.testing.assert_allclose(_number(message, "autodiff"), autodiff[worst], rtol=1e-12)
    np.testing.assert_allclose(_number(message, "hand_grad"), hand[worst], rtol=1e-15)
    np.testing.assert_allclose(_number(message, "error"), error[worst], rtol=1e-12)
    np.testing.assert_allclose(_tolerance(message), tolerance[worst], rtol=1e-12)


def test_assert_grad_matches_reports_a_hand_formula_missing_one_over_n():
    with pytest.raises(T.GradcheckError) as failure:
        T.assert_grad_matches(tg.losses.mse, lambda y, t: 2 * (y - t), Y, TARGET)
    message = str(failure.value)
    assert "hand_grad" in message and re.search(r"\binput 0\b", message)
    assert _index(message) == (1, 1)
    np.testing.assert_allclose(_number(message, "hand_grad"), 2 * (Y - TARGET)[1, 1])


def test_assert_grad_matches_hand_grad_gets_float64_arrays():
    seen = []

    def hand(y, t):
        seen.extend([type(y), y.dtype, type(t), t.dtype])
        return mse_grad(y, t)

    T.assert_grad_matches(tg.losses.mse, hand, Y.astype(np.float32), TARGET.astype(np.float32))
    assert seen == [np.ndarray, np.dtype(np.float64)] * 2


def test_assert_grad_matches_with_an_integer_argnum():
    def dmse_dt(y, t):
        return -2 * (y - t) / y.size

    T.assert_grad_matches(tg.losses.mse, dmse_dt, Y, TARGET, argnums=1)
    with pytest.raises(T.GradcheckError) as failure:  # d/dt has the opposite sign of d/dy
        T.assert_grad_matches(tg.losses.mse, mse_grad, Y, TARGET, argnums=1)
    message = str(failure.value)
    assert re.search(r"\binput 1\b", message), message
    assert _index(message) == (1, 1)


def test_assert_grad_matches_with_a_tuple_of_argnums():
    def both(y, t):
        g = mse_grad(y, t)
        return g, -g

    T.assert_grad_matches(tg.losses.mse, both, Y, TARGET, argnums=(0, 1))

    def second_wrong(y, t):
        g = mse_grad(y, t)
        return g, g

    with pytest.raises(T.GradcheckError) as failure:
        T.assert_grad_matches(tg.losses.mse, second_wrong, Y, TARGET, argnums=(0, 1))
    assert re.search(r"\binput 1\b", str(failure.value)), str(failure.value)


def test_assert_grad_matches_with_integer_labels():
    y = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    T.assert_grad_matches(tg.losses.cee, cee_grad, y, np.array([2, 0]))
    with pytest.raises(T.GradcheckError):
        T.assert_grad_matches(tg.losses.cee, lambda y, t: 2 * cee_grad(y, t), y, np.array([2, 0]))


@pytest.mark.parametrize("argnums, hand", [
    ((0, 1), lambda y, t: (mse_grad(y, t),)),
    ((0, 1), lambda y, t: (mse_grad(y, t), -mse_grad(y, t), mse_grad(y, t))),
    (0, lambda y, t: (mse_grad(y, t), -mse_grad(y, t))),
], ids=["one-for-two", "three-for-two", "two-for-one"])
def test_assert_grad_matches_rejects_the_wrong_number_of_gradients(argnums, hand):
    with pytest.raises(T.GradcheckError):
        T.assert_grad_matches(tg.losses.mse, hand, Y, TARGET, argnums=argnums)


# ---- check_property ------------------------------------------------------------------------------


def test_check_property_passes_a_correct_hand_formula():
    report = T.check_property(tg.losses.mse, mse_grad, S.regression_pairs(), examples=EXAMPLES)
    assert isinstance(report, T.PropertyReport)
    assert report.passed is True and report.message == ""
    assert 0.9 * EXAMPLES <= report.cases <= EXAMPLES
    assert 0 <= report.hand_error <= 1e-12
    assert 0 <= report.numeric_error <= 1e-6


def test_check_property_passes_cee_over_classification_pairs():
    report = T.check_property(tg.losses.cee, cee_grad, S.classification_pairs(),
                              examples=EXAMPLES)
    assert report.passed is True
    assert 0.9 * EXAMPLES <= report.cases <= EXAMPLES
    assert report.hand_error <= 1e-9


def test_check_property_with_argnums():
    def dmse_dt(y, t):
        return -2 * (y - t) / y.size

    assert T.check_property(tg.losses.mse, dmse_dt, S.regression_pairs(), examples=EXAMPLES,
                            argnums=1).passed
    with pytest.raises(T.GradcheckError, match=r"\binput 1\b"):
        T.check_property(tg.losses.mse, mse_grad, S.regression_pairs(), examples=EXAMPLES,
                         argnums=1)


def test_check_property_shrinks_a_missing_factor_two_to_one_element():
    def forgot_the_two(y, t):
        return (y - t) / y.size

    with pytest.raises(T.GradcheckError) as failure:
        T.check_property(tg.losses.mse, forgot_the_two, S.regression_pairs(), examples=EXAMPLES)
    message = str(failure.value)
    assert "hand_grad" in message and re.search(r"\binput 0\b", message)
    y, t = _counterexample(message)
    assert y.shape == t.shape
    assert y.size == 1  # the smallest input that shows the slip
    # the shown counterexample really fails, and the values shown are its own
    worst = _index(message)
    np.testing.assert_allclose(_number(message, "autodiff"), mse_grad(y, t)[worst], rtol=1e-12)
    np.testing.assert_allclose(_number(message, "hand_grad"), forgot_the_two(y, t)[worst],
                               rtol=1e-12)
    assert abs(mse_grad(y, t) - forgot_the_two(y, t))[worst] > 1e-10


def test_check_property_shrinks_a_missing_one_over_batch_size_to_two_samples():
    def forgot_one_over_n(y, t):  # right for one sample, wrong for N > 1
        return -_one_hot(y, t) / (y + 1e-7)

    with pytest.raises(T.GradcheckError) as failure:
        T.check_property(tg.losses.cee, forgot_one_over_n, S.classification_pairs(),
                         examples=EXAMPLES)
    message = str(failure.value)
    assert "hand_grad" in message
    y, t = _counterexample(message)
    assert y.ndim == 2 and y.shape[0] == 2  # N == 2: the smallest batch where 1/N matters
    assert y.shape == (2, 2)  # and the fewest classes
    assert t.shape in {(2, 2), (2,)}
    worst = _index(message)
    np.testing.assert_allclose(_number(message, "autodiff"), cee_grad(y, t)[worst], rtol=1e-9)
    np.testing.assert_allclose(_number(message, "hand_grad"), forgot_one_over_n(y, t)[worst],
                               rtol=1e-12)


def test_check_property_can_return_a_failed_report_instead_of_raising():
    def forgot_the_two(y, t):
        return (y - t) / y.size

    report = T.check_property(tg.losses.mse, forgot_the_two, S.regression_pairs(),
                              examples=EXAMPLES, raise_on_failure=False)
    assert isinstance(report, T.PropertyReport)
    assert report.passed is False
    assert "counterexample:" in report.message and "hand_grad" in report.message
    assert report.cases >= 1
    # the largest hand error seen is at least the shrunk counterexample's
    assert report.hand_error >= _number(report.message, "error") > 0


def test_check_property_finite_differences_catch_a_derivation_autodiff_agrees_with():
    inputs = st.tuples(S.arrays(S.shapes(min_dims=1, max_dims=2, max_side=3), -2.0, 2.0))

    def f(x):
        return CubeWithSquareGrad.apply(x).sum()

    def same_slip(x):
        return 2 * x**2

    assert T.check_property(f, same_slip, inputs, examples=EXAMPLES, numeric=False).passed
    with pytest.raises(T.GradcheckError) as failure:
        T.check_property(f, same_slip, inputs, examples=EXAMPLES)
    message = str(failure.value)
    assert "numerical" in message and "counterexample:" in message
    (x,) = _counterexample(message)
    assert x.size == 1


# ---- strategies ----------------------------------------------------------------------------------


def test_strategies_are_reachable_from_tg_testing():
    assert tg.testing.strategies is S


batches = st.one_of(st.none(), st.integers(1, 6))
class_counts = st.integers(1, 8)


@given(st.data(), batches, class_counts, st.sampled_from([0.001, 0.01, 0.1, 0.5, 1.0]))
def test_probabilities_are_rows_on_the_simplex_bounded_away_from_zero(data, batch, classes,
                                                                     floor):
    p = data.draw(S.probabilities(batch, classes, floor=floor))
    assert p.shape == ((classes,) if batch is None else (batch, classes))
    assert p.dtype == np.float64
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(p >= floor / classes)


@given(S.probabilities(st.integers(1, 4), st.integers(2, 5)))
def test_probabilities_take_strategies_for_batch_and_classes(p):
    assert p.ndim == 2 and 1 <= p.shape[0] <= 4 and 2 <= p.shape[1] <= 5
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(p >= 0.01 / p.shape[1])


@given(st.data(), batches, class_counts)
def test_one_hot_rows_have_exactly_one_one(data, batch, classes):
    t = data.draw(S.one_hot(batch, classes))
    assert t.shape == ((classes,) if batch is None else (batch, classes))
    rows = t.reshape(-1, classes)
    assert np.all((rows == 0) | (rows == 1))
    np.testing.assert_array_equal((rows == 1).sum(axis=1), 1)
    np.testing.assert_array_equal((rows == 0).sum(axis=1), classes - 1)


@given(st.data(), st.integers(1, 8), class_counts)
def test_labels_are_int64_class_indices(data, batch, classes):
    t = data.draw(S.labels(batch, classes))
    assert t.dtype == np.int64 and t.shape == (batch,)
    assert np.all((t >= 0) & (t < classes))


@given(st.data(), st.integers(0, 3), st.integers(0, 2), st.integers(1, 3), st.integers(0, 3))
def test_shapes_stay_within_the_limits(data, min_dims, more_dims, min_side, more_side):
    max_dims, max_side = min_dims + more_dims, min_side + more_side
    shape = data.draw(S.shapes(min_dims, max_dims, min_side, max_side))
    assert isinstance(shape, tuple)
    assert min_dims <= len(shape) <= max_dims
    assert all(min_side <= n <= max_side for n in shape)


@given(S.shapes())
def test_default_shapes(shape):
    assert 0 <= len(shape) <= 4 and all(1 <= n <= 5 for n in shape)


@given(st.data(), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2), st.integers(1, 5))
def test_broadcastable_shapes_really_broadcast(data, num_shapes, min_dims, more_dims, max_side):
    max_dims = min_dims + more_dims
    shapes = data.draw(S.broadcastable_shapes(num_shapes, min_dims, max_dims, max_side))
    assert len(shapes) == num_shapes
    for shape in shapes:
        assert min_dims <= len(shape) <= max_dims
        assert all(1 <= n <= max_side for n in shape)
    result = np.broadcast_shapes(*shapes)  # raises if they do not broadcast
    # and arrays of those shapes really combine, elementwise, into that shape
    total = sum(np.zeros(shape) for shape in shapes)
    assert total.shape == result


@st.composite
def array_domains(draw, unique):
    """(min_value, max_value, avoid, gap) with room left between the avoided points."""
    low = draw(st.floats(-100, 100))
    width = draw(st.floats(0.01, 100))
    avoid = tuple(draw(st.lists(st.floats(low, low + width), max_size=2)))
    smallest = width / 1000 if unique else 0.0  # unique values need a grid: gap > 0
    gap = draw(st.floats(smallest, width / 10)) if avoid or unique else 1e-3
    return low, low + width, avoid, gap


def _check_array(a, shape, low, high, avoid, gap, dtype=np.float64):
    assert a.dtype == dtype and a.shape == shape
    assert np.all(np.isfinite(a))
    assert np.all((low <= a) & (a <= high)), (low, high, a[(a < low) | (a > high)])
    for point in avoid:
        assert np.all(np.abs(a - point) >= gap), (point, gap, a[np.abs(a - point) < gap])


@given(st.data(), S.shapes(max_dims=2, max_side=4), array_domains(unique=False))
def test_arrays_stay_in_their_domain(data, shape, domain):
    low, high, avoid, gap = domain
    a = data.draw(S.arrays(shape, low, high, avoid=avoid, gap=gap))
    _check_array(a, shape, low, high, avoid, gap)


@given(st.data(), S.shapes(max_dims=2, max_side=4), array_domains(unique=True))
def test_unique_arrays_are_distinct_and_stay_in_their_domain(data, shape, domain):
    low, high, avoid, gap = domain
    assume(math.floor(high / gap) - math.ceil(low / gap) + 1 >= np.prod(shape) + 2 * len(avoid))
    a = data.draw(S.arrays(shape, low, high, avoid=avoid, gap=gap, unique=True))
    assert np.unique(a).size == a.size
    values = np.sort(a.ravel())
    assert np.all(np.diff(values) >= gap * (1 - 1e-9))  # no two nearly tied
    _check_array(a, shape, low, high, avoid, gap)


@given(S.arrays(shape=(3,), min_value=0.1234561, max_value=0.1234564, gap=1e-8, unique=True))
def test_unique_arrays_stay_within_bounds_that_are_not_round_numbers(a):
    assert np.all((a >= 0.1234561) & (a <= 0.1234564)), a


def test_unique_arrays_need_a_positive_gap():
    with pytest.raises(ValueError, match="gap"):
        S.arrays((2,), unique=True, gap=0.0)


@given(S.arrays(shape=(2,), min_value=0.1224567, max_value=0.2, avoid=(0.12345675,),
                gap=1e-3, unique=True))
def test_unique_arrays_keep_their_gap_from_avoided_points(a):
    assert np.all(np.abs(a - 0.12345675) >= 1e-3), a


@given(S.arrays())
def test_arrays_defaults(a):
    _check_array(a, a.shape, -10.0, 10.0, (), 0.0)
    assert 0 <= a.ndim <= 4 and all(1 <= n <= 5 for n in a.shape)


@given(S.arrays(st.just((3, 2)), -1.0, 1.0, dtype=np.float32, avoid=(0.0,), gap=0.25))
def test_arrays_of_another_dtype_and_a_shape_strategy(a):
    _check_array(a, (3, 2), -1.0, 1.0, (0.0,), 0.25, dtype=np.float32)


@given(st.data(), st.floats(-10, 0), st.floats(0.5, 10))
def test_regression_pairs_share_a_shape_and_stay_in_range(data, low, width):
    y, t = data.draw(S.regression_pairs(low=low, high=low + width))
    assert y.shape == t.shape and 1 <= y.ndim <= 3
    for a in (y, t):
        _check_array(a, y.shape, low, low + width, (), 0.0)


@given(S.regression_pairs(shape=(2, 3)))
def test_regression_pairs_with_a_fixed_shape(pair):
    y, t = pair
    assert y.shape == t.shape == (2, 3)


def _check_rows(p, shape):
    assert p.shape == shape and p.dtype.kind == "f"
    assert np.all(p > 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


@given(st.data(), st.sampled_from(["one_hot", "probabilities", "labels"]), st.booleans(),
       batches, st.integers(2, 6))
def test_classification_pairs_for_each_target_kind(data, kind, logits, batch, classes):
    # batch=None would mean "either shape": ask for one sample with a strategy of None
    n = st.none() if batch is None else batch
    y, t = data.draw(S.classification_pairs(kind, n, classes, logits=logits))
    shape = (classes,) if batch is None else (batch, classes)
    if logits:
        _check_array(y, shape, -10.0, 10.0, (), 0.0)
    else:
        _check_rows(y, shape)
    if kind == "labels":
        t = np.asarray(t)
        assert t.dtype.kind == "i" and t.shape == shape[:-1]
        assert np.all((t >= 0) & (t < classes))
    elif kind == "one_hot":
        assert t.shape == shape and np.all((t == 0) | (t == 1))
        np.testing.assert_array_equal(t.reshape(-1, classes).sum(axis=1), 1)
    else:
        _check_rows(t, shape)


@given(S.classification_pairs())
def test_classification_pairs_by_default_fit_a_cross_entropy(pair):
    y, t = pair
    assert y.ndim in (1, 2) and 2 <= y.shape[-1] <= 10
    if y.ndim == 2:
        assert 1 <= y.shape[0] <= 8
    _check_rows(y, y.shape)
    t = np.asarray(t)
    if t.dtype.kind == "i":
        assert t.shape == y.shape[:-1] and np.all((t >= 0) & (t < y.shape[-1]))
    else:
        assert t.shape == y.shape
        np.testing.assert_allclose(t.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    tg.losses.cee(y, t)  # a valid pair: the loss accepts it


@given(st.data(), st.sampled_from([None, True, False]), st.sampled_from([0.0, 0.01, 0.2]))
def test_binary_pairs_share_a_shape_and_stay_in_range(data, hard, margin):
    y, t = data.draw(S.binary_pairs(margin=margin, hard=hard))
    assert y.shape == t.shape and 1 <= y.ndim <= 3
    _check_array(y, y.shape, margin, 1 - margin, (), 0.0)
    _check_array(t, y.shape, 0.0, 1.0, (), 0.0)
    if hard:
        assert np.all((t == 0.0) | (t == 1.0))


@given(S.binary_pairs(shape=(4,), hard=False))
def test_binary_pairs_soft_targets(pair):
    y, t = pair
    assert y.shape == t.shape == (4,)
    assert np.all((t >= 0) & (t <= 1))
