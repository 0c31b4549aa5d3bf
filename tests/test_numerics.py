"""Numerical edge cases: huge logits, -inf entries, saturation, log and division at 0, float32.

Every expected value is derived here: analytically (written out in the test, with e = exp(1)) or
by NumPy on the same inputs. Where a result is infinite or nan, the test says why the math makes
it so, and checks that the library gives that and never a finite stand-in.

Warnings are checked in both directions: where NumPy itself warns (log 0, 1/0, exp overflow) the
library warns the same way; where a stable formula exists (softmax, sigmoid, tanh at ±1e3) it
must not overflow, which ``np.errstate(..., over="raise")`` and warnings-as-errors prove.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_ko as tg
from tinygrad_ko.testing.strategies import arrays, shapes

E = np.e
NO_OVERFLOW = {"over": "raise", "divide": "raise", "invalid": "raise"}
# Logits of size 1e3 carry an absolute rounding error of about half a unit in the last place of
# 1e3 (1.1e-13 in float64, 6.1e-5 in float32) into every x − logsumexp(x), however it is computed
# from the rounded logsumexp: so a log-probability is exact up to that absolute error, and a
# probability exp(x − logsumexp(x)) up to that relative error. A few units of it are allowed.
ULP_1E3 = {np.float64: 4 * np.spacing(1000.0), np.float32: 2 * np.spacing(np.float32(1000.0))}


def f64(data: Any, requires_grad: bool = True) -> tg.Tensor:
    return tg.Tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad)


def warnings_of(fn: Callable[[], Any]) -> tuple[Any, set[tuple[type, str]]]:
    """``fn()`` and the set of (category, message) of the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, {(w.category, str(w.message)) for w in caught}


# ---- softmax family at logits of ±1e3 ------------------------------------------------------------


def test_logsumexp_at_plus_and_minus_1e3_is_exact() -> None:
    """log(e^a + e^a) = a + log 2 for any a; log(e^1000 + e^-1000) = 1000 + log(1 + e^-2000),
    and e^-2000 is far below float64's resolution at 1. The gradient is softmax: ½, ½ and 1, 0."""
    x = f64([[1000.0, 1000.0], [-1000.0, -1000.0], [1000.0, -1000.0]])
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        out = tg.logsumexp(x, axis=1)
        out.sum().backward()
    np.testing.assert_allclose(out.data, [1000.0 + np.log(2.0), -1000.0 + np.log(2.0), 1000.0],
                               rtol=1e-15, atol=0)
    assert out.data[2] == 1000.0
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]],
                               rtol=ULP_1E3[np.float64], atol=0)


def test_logsumexp_at_1e3_in_float32() -> None:
    x = tg.Tensor(np.array([1000.0, 1000.0], dtype=np.float32), requires_grad=True)
    with np.errstate(**NO_OVERFLOW):
        out = x.logsumexp()
        out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert out.item() == pytest.approx(1000.0 + np.log(2.0), rel=1e-7)
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5], rtol=ULP_1E3[np.float32])


# Rows of logits around ±1e3 and their softmax, derived by shifting each row by a constant
# (softmax is unchanged by it): [1000, 1001, -1000] is [0, 1, -2000] shifted, and e^-2000
# is 0 in float64; [-1000, -999, -1000] is [0, 1, 0] shifted.
BIG_LOGITS = np.array([[1000.0, 1001.0, -1000.0], [-1000.0, -999.0, -1000.0]])
BIG_SOFTMAX = np.array([[1 / (1 + E), E / (1 + E), 0.0], [1 / (2 + E), E / (2 + E), 1 / (2 + E)]])
BIG_LOG_SOFTMAX = np.array([
    [-np.log1p(E), 1 - np.log1p(E), -2001 - np.log1p(1 / E)],
    [-np.log(2 + E), 1 - np.log(2 + E), -np.log(2 + E)],
])
UPSTREAM = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])


def test_softmax_at_plus_and_minus_1e3_is_exact_and_finite() -> None:
    x = f64(BIG_LOGITS)
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        out = tg.softmax(x)
        out.backward(UPSTREAM)
    np.testing.assert_allclose(out.data, BIG_SOFTMAX, rtol=ULP_1E3[np.float64], atol=0)
    assert out.data[0, 2] == 0.0
    # d/dz_j Σ_i w_i p_i = p_j (w_j − Σ_i w_i p_i)
    p = BIG_SOFTMAX
    expected = p * (UPSTREAM - (UPSTREAM * p).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad.data, expected, rtol=4 * ULP_1E3[np.float64], atol=0)


def test_log_softmax_at_plus_and_minus_1e3_is_exact_and_finite() -> None:
    x = f64(BIG_LOGITS)
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        out = tg.log_softmax(x)
        out.backward(UPSTREAM)
    assert np.all(np.isfinite(out.data))
    np.testing.assert_allclose(out.data, BIG_LOG_SOFTMAX, rtol=0, atol=ULP_1E3[np.float64])
    # d/dz_j Σ_i w_i log p_i = w_j − p_j Σ_i w_i
    expected = UPSTREAM - BIG_SOFTMAX * UPSTREAM.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, expected, rtol=0, atol=4 * ULP_1E3[np.float64])


@pytest.mark.parametrize("target", [np.array([1, 1]), np.array([[0.0, 1.0], [0.0, 1.0]])],
                         ids=["labels", "one-hot"])
def test_softmax_cross_entropy_at_plus_and_minus_1e3_is_exact(target: np.ndarray) -> None:
    """Row 1 picks the class 2000 below the other: −log p = 2000 + log(1 + e^-2000) = 2000.
    Row 2 picks the winner: −log p = log(1 + e^-2000) = 0. The mean is 1000, and the gradient
    (p − t) / N is ([1, 0] − [0, 1]) / 2 and ([0, 1] − [0, 1]) / 2."""
    z = f64([[1000.0, -1000.0], [-1000.0, 1000.0]])
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        loss = tg.losses.softmax_cross_entropy(z, target)
        loss.backward()
    assert loss.item() == 1000.0
    np.testing.assert_array_equal(z.grad.data, [[0.5, -0.5], [0.0, 0.0]])


# ---- -inf logits ---------------------------------------------------------------------------------

# One row with a -inf entry: it is exactly the row [0, 1] with a class that has probability 0.
WITH_MINUS_INF = np.array([[0.0, -np.inf, 1.0]])
P_WITH_MINUS_INF = np.array([[1 / (1 + E), 0.0, E / (1 + E)]])
W = np.array([[2.0, 3.0, -1.0]])


def _no_warning(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        return fn()


def test_softmax_gives_a_minus_inf_logit_probability_0_and_gradient_0() -> None:
    x = f64(WITH_MINUS_INF)
    out = _no_warning(lambda: tg.softmax(x))
    _no_warning(lambda: out.backward(W))
    np.testing.assert_allclose(out.data, P_WITH_MINUS_INF, rtol=1e-15, atol=0)
    assert out.data[0, 1] == 0.0
    p = P_WITH_MINUS_INF
    np.testing.assert_allclose(x.grad.data, p * (W - (W * p).sum()), rtol=1e-14, atol=0)
    assert x.grad.data[0, 1] == 0.0 and np.all(np.isfinite(x.grad.data))


def test_log_softmax_of_a_minus_inf_logit_is_minus_inf_with_a_finite_gradient() -> None:
    """log 0 = -inf is the right value there. Its gradient is not 0: ∂ log p_i / ∂z_j =
    δ_ij − p_j, so with upstream w the gradient is w_j − p_j Σ w, which at p_j = 0 is w_j."""
    x = f64(WITH_MINUS_INF)
    out = _no_warning(lambda: tg.log_softmax(x))
    _no_warning(lambda: out.backward(W))
    np.testing.assert_allclose(out.data, [[-np.log1p(E), -np.inf, 1 - np.log1p(E)]], rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, W - P_WITH_MINUS_INF * W.sum(), rtol=1e-14, atol=0)
    assert x.grad.data[0, 1] == W[0, 1]


def test_logsumexp_ignores_a_minus_inf_logit_and_gives_it_gradient_0() -> None:
    x = f64(WITH_MINUS_INF)
    out = _no_warning(lambda: tg.logsumexp(x, axis=1))
    _no_warning(out.sum().backward)
    assert out.item() == pytest.approx(np.log1p(E), rel=1e-15)
    np.testing.assert_allclose(x.grad.data, P_WITH_MINUS_INF, rtol=1e-15, atol=0)
    assert x.grad.data[0, 1] == 0.0


@pytest.mark.parametrize("target", [np.array([0]), np.array([[1.0, 0.0, 0.0]]),
                                    np.array([[0.5, 0.0, 0.5]])],
                         ids=["label", "one-hot", "soft"])
def test_softmax_cross_entropy_with_a_minus_inf_logit_is_finite_without_nan(
        target: np.ndarray) -> None:
    """The class with logit -inf has probability 0 and target 0: its term t log p is 0 · log 0,
    which is 0 in the cross entropy (the limit of t log p as p → 0 with t = 0 held fixed), so
    the loss is −Σ t log p over the other classes. The gradient is p − t: 0 at that entry."""
    z = f64(WITH_MINUS_INF)
    t_dense = target if target.ndim == 2 else np.eye(3)[target]
    log_p = np.array([-np.log1p(E), 0.0, 1 - np.log1p(E)])  # 0 where t = 0: the term vanishes
    expected_loss = -(t_dense[0] * log_p).sum()
    loss = _no_warning(lambda: tg.losses.softmax_cross_entropy(z, target))
    _no_warning(loss.backward)
    assert np.isfinite(loss.item())
    assert loss.item() == pytest.approx(expected_loss, rel=1e-15)
    np.testing.assert_allclose(z.grad.data, P_WITH_MINUS_INF - t_dense, rtol=1e-15, atol=1e-16)
    assert z.grad.data[0, 1] == 0.0


def test_softmax_cross_entropy_whose_target_class_has_logit_minus_inf_is_plus_inf() -> None:
    """The target class has probability 0: −log 0 = +inf (not nan). The gradient p − t is still
    finite: p_j − 1 = −1 at the target, p elsewhere."""
    z = f64(WITH_MINUS_INF)
    loss = _no_warning(lambda: tg.losses.softmax_cross_entropy(z, np.array([1])))
    _no_warning(loss.backward)
    assert loss.item() == np.inf
    np.testing.assert_allclose(z.grad.data, P_WITH_MINUS_INF - [[0.0, 1.0, 0.0]], rtol=1e-15)


# A whole row of -inf has no softmax: exp(x) / Σ exp(x) is 0 / 0. The library follows NumPy's own
# formula there: nan (with a RuntimeWarning, as NumPy gives one), and logsumexp is log 0 = -inf as
# NumPy's log(Σ exp(x)). The other rows of the batch are unaffected.
ALL_MINUS_INF = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])


def _numpy_softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)


def _numpy_log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


@pytest.mark.parametrize(("fn", "reference"), [(tg.softmax, _numpy_softmax),
                                               (tg.log_softmax, _numpy_log_softmax)],
                         ids=["softmax", "log_softmax"])
def test_a_whole_row_of_minus_inf_gives_nan_as_numpy_does_and_spares_the_other_rows(
        fn: Callable, reference: Callable) -> None:
    expected, numpy_warnings = warnings_of(lambda: reference(ALL_MINUS_INF))
    assert np.all(np.isnan(expected[1]))  # NumPy's own convention: 0/0 and -inf - (-inf)
    assert any(category is RuntimeWarning and "invalid value" in message
               for category, message in numpy_warnings)
    x = f64(ALL_MINUS_INF)
    out, ours = warnings_of(lambda: fn(x))
    assert any(category is RuntimeWarning and "invalid value" in message
               for category, message in ours)
    np.testing.assert_allclose(out.data, expected, rtol=1e-15, equal_nan=True)
    with np.errstate(invalid="ignore"):
        out.backward(np.array([W[0], W[0]]))
    assert np.all(np.isnan(x.grad.data[1]))  # no softmax, so no derivative
    assert np.all(np.isfinite(x.grad.data[0]))
    with np.errstate(invalid="ignore"):  # row 0 alone gives the same gradient
        alone = f64(ALL_MINUS_INF[:1])
        fn(alone).backward(W)
    np.testing.assert_array_equal(x.grad.data[0], alone.grad.data[0])


def test_logsumexp_of_a_whole_row_of_minus_inf_is_minus_inf_as_numpy_gives() -> None:
    with np.errstate(divide="ignore"):
        expected = np.log(np.exp(ALL_MINUS_INF).sum(axis=1))
    assert expected[1] == -np.inf
    out = tg.logsumexp(f64(ALL_MINUS_INF), axis=1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-15)
    assert out.data[1] == -np.inf


# ---- saturating functions ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_at_plus_and_minus_1e3_is_exactly_1_and_0_with_gradient_0(dtype: Any) -> None:
    """1 / (1 + e^-1000) = 1 − (about e^-1000), which rounds to 1 in any float; e^-1000 / (1 +
    e^-1000) rounds to 0. The derivative σ(1 − σ) is then exactly 0. Nothing may overflow on the
    way (the textbook 1 / (1 + exp(-x)) overflows at x = -1000)."""
    x = tg.Tensor(np.array([1000.0, -1000.0, 0.0], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        y = tg.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.25])


def test_sigmoid_at_plus_and_minus_1e3_raises_no_floating_point_exception_at_all() -> None:
    """Stricter, as the issue asks: np.errstate(all="raise") also traps underflow, which a
    result of exactly 0 does not need (e^-1000 need not be computed at all)."""
    x = f64([1000.0, -1000.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        y = tg.sigmoid(x)
        y.sum().backward()
    np.testing.assert_array_equal(y.data, [1.0, 0.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tanh_at_large_inputs_is_exactly_plus_or_minus_1_with_gradient_0(dtype: Any) -> None:
    x = tg.Tensor(np.array([1000.0, -1000.0, 30.0], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        y = tg.tanh(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_array_equal(y.data, [1.0, -1.0, 1.0])  # 1 − tanh 30 < 1e-25
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])  # 1 − tanh² = 0 there


@pytest.mark.parametrize(("dtype", "largest"), [(np.float64, 709.0), (np.float32, 88.0)])
def test_exp_overflows_to_inf_as_numpy_does_and_its_gradient_is_the_same_inf(
        dtype: Any, largest: float) -> None:
    """e^largest is the largest finite power of e in the dtype; one more overflows to inf, as
    NumPy gives it (with its RuntimeWarning). d e^x / dx = e^x, so the gradient is exactly the
    value: inf where the value is inf, 0 at e^-1000."""
    data = np.array([largest, largest + 1, -1000.0], dtype=dtype)
    expected, numpy_warnings = warnings_of(lambda: np.exp(data))
    assert np.isfinite(expected[0]) and expected[1] == np.inf
    x = tg.Tensor(data, requires_grad=True)
    y, ours = warnings_of(lambda: tg.exp(x))
    assert (RuntimeWarning, "overflow encountered in exp") in numpy_warnings
    assert ours == numpy_warnings
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.data, expected)
    y.backward(np.ones(3, dtype=dtype))
    np.testing.assert_array_equal(x.grad.data, expected)


# ---- log, sqrt and division at 0 -----------------------------------------------------------------


def test_log_at_and_near_0_matches_numpy_including_its_warning() -> None:
    """log 0 = -inf, as NumPy gives it with 'divide by zero encountered in log'. d log x / dx =
    1/x: inf at 0 (the slope grows without bound as x → 0+), 1e300 at 1e-300."""
    data = np.array([0.0, 1e-300, 1.0])
    expected, numpy_warnings = warnings_of(lambda: np.log(data))
    x = f64(data)
    y, ours = warnings_of(lambda: tg.log(x))
    assert (RuntimeWarning, "divide by zero encountered in log") in numpy_warnings
    assert ours == numpy_warnings
    np.testing.assert_array_equal(y.data, expected)
    assert y.data[0] == -np.inf
    with np.errstate(divide="ignore"):
        y.backward(np.ones(3))
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(x.grad.data, 1.0 / data)
    assert x.grad.data[0] == np.inf


def test_log_of_a_negative_number_is_nan_and_its_rule_stays_1_over_x() -> None:
    """log is not defined below 0 (in the reals): the value is nan, as NumPy gives it with
    'invalid value encountered in log'. The rule keeps 1/x there, as PyTorch and JAX do: the
    nan value already marks the loss, and a nan rule would turn the safe pattern
    ``where(x > 0, log(x), 0)`` into nan for every negative x (0 · nan)."""
    data = np.array([-1.0, -1e-300])
    expected, numpy_warnings = warnings_of(lambda: np.log(data))
    x = f64(data)
    y, ours = warnings_of(lambda: tg.log(x))
    assert (RuntimeWarning, "invalid value encountered in log") in numpy_warnings
    assert ours == numpy_warnings
    np.testing.assert_array_equal(y.data, expected)
    assert np.all(np.isnan(y.data))
    y.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, 1 / data)
    z = f64([-2.0, 3.0])
    with np.errstate(invalid="ignore"):  # log(-2) = nan, in the branch not taken
        tg.where(z > 0, tg.log(z), 0.0).sum().backward()
    np.testing.assert_array_equal(z.grad.data, [0.0, 1 / 3])


def test_sqrt_at_0_has_an_infinite_gradient_and_below_0_nan() -> None:
    """d √x / dx = 1 / (2 √x): inf at 0; below 0 √x is nan (as NumPy) and so is its slope."""
    data = np.array([0.0, 4.0, -1.0])
    expected, numpy_warnings = warnings_of(lambda: np.sqrt(data))
    x = f64(data)
    y, ours = warnings_of(lambda: tg.sqrt(x))
    assert ours == numpy_warnings
    np.testing.assert_array_equal(y.data, expected)
    with np.errstate(all="ignore"):
        y.backward(np.ones(3))
    assert x.grad.data[0] == np.inf and x.grad.data[1] == 0.25 and np.isnan(x.grad.data[2])


def test_division_by_0_and_near_0_matches_numpy_including_its_warnings() -> None:
    """a / b at b = 0: ±inf (and nan for 0/0), as NumPy gives them, with the same warnings.
    The gradients are ∂/∂a = 1/b and ∂/∂b = −a/b², evaluated here with NumPy: ±inf where the
    slope is unbounded, nan at 0/0 (−0/0), and -inf for 1/1e-300, whose slope −1e600 is beyond
    float64."""
    a_data = np.array([1.0, -1.0, 0.0, 1.0, 3.0])
    b_data = np.array([0.0, 0.0, 0.0, 1e-300, 2.0])
    expected, numpy_warnings = warnings_of(lambda: a_data / b_data)
    a, b = f64(a_data), f64(b_data)
    y, ours = warnings_of(lambda: a / b)
    assert (RuntimeWarning, "divide by zero encountered in divide") in numpy_warnings
    assert (RuntimeWarning, "invalid value encountered in divide") in numpy_warnings
    assert ours == numpy_warnings
    np.testing.assert_array_equal(y.data, expected)
    with np.errstate(all="ignore"):
        y.backward(np.ones(5))
        grad_a, grad_b = 1 / b_data, -a_data / b_data**2
    np.testing.assert_array_equal(a.grad.data, grad_a)
    np.testing.assert_array_equal(b.grad.data[:4], grad_b[:4])
    assert b.grad.data[4] == pytest.approx(-0.75, rel=1e-15)


def test_reciprocal_of_0_from_a_python_number_matches_numpy() -> None:
    """1 / x at x = ±0: ±inf as NumPy's 1.0 / array gives it; d(1/x)/dx = −1/x² = -inf."""
    data = np.array([0.0, -0.0])
    expected, numpy_warnings = warnings_of(lambda: 1.0 / data)
    x = f64(data)
    y, ours = warnings_of(lambda: 1.0 / x)
    assert ours == numpy_warnings
    np.testing.assert_array_equal(y.data, expected)
    assert y.data[0] == np.inf and y.data[1] == -np.inf
    with np.errstate(all="ignore"):
        y.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [-np.inf, -np.inf])


# ---- float32 end to end --------------------------------------------------------------------------


def _train(model: tg.nn.Module, dtype: Any, X: np.ndarray, labels: np.ndarray,
           steps: int) -> tuple[list[float], list[np.dtype]]:
    """Train with Adam; return the losses and the dtype of every array seen on the way."""
    opt = tg.optim.Adam(model.parameters(), lr=0.05)
    losses, dtypes = [], []
    for _ in range(steps):
        h = tg.Tensor(X.astype(dtype))
        activations = []
        for layer in model.layers:
            h = layer(h)
            h.retain_grad()
            activations.append(h)
        loss = tg.losses.softmax_cross_entropy(h, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        dtypes += [loss.dtype, *(a.dtype for a in activations), *(a.grad.dtype for a in
                                                                    activations)]
        dtypes += [q.dtype for p in model.parameters() for q in (p.data, p.grad.data)]
        dtypes += [np.asarray(v).dtype for s in opt.state for v in s.values()
                   if isinstance(v, np.ndarray)]
    return losses, dtypes


def test_a_small_mlp_trains_in_float32_end_to_end_and_agrees_with_float64() -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((16, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 16)
    m32 = tg.nn.mlp([4, 8, 3], activation=tg.nn.Tanh, rng=0, dtype=np.float32)
    m64 = tg.nn.mlp([4, 8, 3], activation=tg.nn.Tanh, rng=1, dtype=np.float64)
    m64.load_state_dict(m32.state_dict())  # the same float32 starting point, held in float64
    losses32, dtypes32 = _train(m32, np.float32, X, labels, steps=6)
    losses64, dtypes64 = _train(m64, np.float64, X, labels, steps=6)
    assert set(dtypes32) == {np.dtype(np.float32)}
    assert set(dtypes64) == {np.dtype(np.float64)}
    assert losses32[-1] < losses32[0]  # it does train
    np.testing.assert_allclose(losses32, losses64, rtol=2e-6)
    for p32, p64 in zip(m32.parameters(), m64.parameters()):
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-4, atol=1e-5)


# ---- property: the softmax family over random logits in [-1e3, 1e3] -----------------------------


@given(logits=arrays(shape=shapes(min_dims=2, max_dims=2, max_side=8), min_value=-1e3,
                     max_value=1e3),
       axis=st.sampled_from([0, 1, -1]))
def test_softmax_rows_sum_to_1_and_log_softmax_is_finite_and_non_positive(
        logits: np.ndarray, axis: int) -> None:
    x = tg.Tensor(logits, requires_grad=True)
    assert x.dtype == np.float64
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        p = tg.softmax(x, axis=axis)
        log_p = tg.log_softmax(x, axis=axis)
    assert np.all(p.data >= 0) and np.all(p.data <= 1)
    np.testing.assert_allclose(p.data.sum(axis=axis), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(log_p.data)) and np.all(log_p.data <= 0)
