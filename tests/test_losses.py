"""The built-in losses: values, gradients against the hand derivations, Hessians, edge cases and
errors.

The gradient properties run the same table as ``python -m tinygrad_ko gradcheck``
(``tinygrad_ko.testing.losses.BUILTIN``), float64 with rtol 1e-10 against
``tinygrad_ko.losses.reference``, plus central finite differences. The fused softmax cross
entropy is also held equal to its composed definition (value, first and second derivatives).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_ko as tg
from tinygrad_ko.losses import _softmax_cross_entropy_composed as softmax_cross_entropy_composed
from tinygrad_ko.losses import reference
from tinygrad_ko.testing import assert_grad_matches, check_property, gradcheck
from tinygrad_ko.testing.losses import BUILTIN
from tinygrad_ko.testing.strategies import (
    arrays,
    binary_pairs,
    classification_pairs,
    probabilities,
    regression_pairs,
)

L = tg.losses

# The book's example (밑바닥부터 시작하는 딥러닝 §4.2): softmax outputs for ten digits, the answer
# is 2. In the first prediction the model gives 2 the highest probability, in the second 7.
BOOK_T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)
BOOK_Y_RIGHT = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
BOOK_Y_WRONG = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


def f64(a: Any, requires_grad: bool = False) -> tg.Tensor:
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---- gradients: every loss, against its hand derivation and finite differences -------------------


@pytest.mark.parametrize("check", BUILTIN, ids=lambda c: c.name.split()[0])
def test_gradient_matches_the_hand_derivation_and_finite_differences(check: Any) -> None:
    report = check_property(check.loss, check.hand_grad, check.inputs(), examples=40,
                            rtol=1e-10, atol=1e-13)
    assert report.passed and report.cases >= 40


@pytest.mark.parametrize("target", ["one_hot", "probabilities", "labels"])
@pytest.mark.parametrize("loss, hand_grad, logits", [
    (L.cee, reference.cee_grad, False),
    (L.softmax_cross_entropy, reference.softmax_cross_entropy_grad, True),
])
def test_cross_entropies_for_every_kind_of_target(loss: Any, hand_grad: Any, logits: bool,
                                                   target: str) -> None:
    pairs = classification_pairs(target=target, logits=logits)
    assert check_property(loss, hand_grad, pairs, examples=25, rtol=1e-10, atol=1e-13).passed


@pytest.mark.parametrize("loss, hessian, pairs", [
    (L.se, reference.se_hessian, regression_pairs(shape=st.sampled_from([(3,), (2, 3)]))),
    (L.mse, reference.mse_hessian, regression_pairs(shape=st.sampled_from([(4,), (2, 2)]))),
    (L.cee, reference.cee_hessian, classification_pairs(batch=st.sampled_from([None, 1, 2]),
                                                        classes=st.integers(2, 4))),
], ids=["se", "mse", "cee"])
@given(data=st.data())
def test_hessian_matches_the_hand_derivation(loss: Any, hessian: Any, pairs: Any,
                                             data: Any) -> None:
    y, t = data.draw(pairs)
    got = tg.hessian(lambda y_: loss(y_, t))(np.asarray(y, dtype=np.float64))
    np.testing.assert_allclose(got.reshape(y.size, y.size), hessian(y, t), rtol=1e-10,
                               atol=1e-13)


# ---- the fused softmax cross entropy keeps the promise of its composed definition ----------------
# softmax_cross_entropy is one fused row of the table of derivatives; its definition, the composed
# expression −(1/N) Σ t log_softmax(z), is _softmax_cross_entropy_composed. The two must agree in
# value, first and second derivatives, for every kind of target. Logits are finite: with a logit
# −inf against a target 0 the two differ on purpose (0 · log 0 is 0 in the fused row).

SCE_TARGETS = ["one_hot", "probabilities", "weights", "labels"]


@st.composite
def logits_and_target(draw: Any, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Finite logits (N, C) or (C,) with N ≤ 4, C ≤ 5, and a target of the given kind; "weights"
    are non-negative rows that need not sum to 1 (the fused row's dE/dz carries a factor Σt)."""
    kind = "one_hot" if target == "weights" else target
    z, t = draw(classification_pairs(target=kind, batch=st.one_of(st.none(), st.integers(1, 4)),
                                     classes=st.integers(2, 5), logits=True))
    if target == "weights":
        t = draw(arrays(z.shape, 0.0, 2.0))
    return z, t


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _dense(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.eye(z.shape[-1])[t] if t.dtype.kind == "i" else t


@pytest.mark.parametrize("target", SCE_TARGETS)
@given(data=st.data())
def test_fused_softmax_cross_entropy_value_equals_its_definition(target: str, data: Any) -> None:
    z, t = data.draw(logits_and_target(target))
    n = len(z) if z.ndim == 2 else 1
    expected = -(_dense(z, t) * _log_softmax(z)).sum() / n  # plain NumPy
    composed = softmax_cross_entropy_composed(f64(z), t)
    fused = L.softmax_cross_entropy(f64(z), t)
    assert composed.item() == pytest.approx(expected, rel=1e-12, abs=1e-13)
    assert fused.item() == pytest.approx(composed.item(), rel=1e-12, abs=1e-13)


@pytest.mark.parametrize("target", SCE_TARGETS)
@given(data=st.data())
def test_fused_softmax_cross_entropy_gradients_equal_its_definitions(target: str,
                                                                     data: Any) -> None:
    """dE/dz, and dE/dt = −log_softmax(z) / N for a dense target (one-hot, probabilities or
    weights) given as a Tensor that requires grad."""
    z, t = data.draw(logits_and_target(target))
    dense = t.dtype.kind == "f"
    grads = []
    for loss in (L.softmax_cross_entropy, softmax_cross_entropy_composed):
        z_ = f64(z, requires_grad=True)
        t_ = f64(t, requires_grad=True) if dense else t
        loss(z_, t_).backward()
        grads.append((z_.grad.data, t_.grad.data if dense else None))
    (fused_z, fused_t), (composed_z, composed_t) = grads
    np.testing.assert_allclose(fused_z, composed_z, rtol=1e-10, atol=1e-13)
    if dense:
        n = len(z) if z.ndim == 2 else 1
        np.testing.assert_allclose(composed_t, -_log_softmax(z) / n, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(fused_t, composed_t, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("target", SCE_TARGETS)
@given(data=st.data())
def test_fused_softmax_cross_entropy_second_derivatives_equal_its_definitions(
        target: str, data: Any) -> None:
    """The Hessian in z (the fused row's rules recorded by create_graph, differentiated again),
    and for a dense target both mixed blocks: d/dt of dE/dz and d/dz of dE/dt."""
    z, t = data.draw(logits_and_target(target))
    n, k = (len(z) if z.ndim == 2 else 1), z.shape[-1]
    # The definition's second derivatives by hand, p = softmax(z) row by row, nothing across rows:
    # d²E/dz_i dz_j = (1[i = j] p_i − p_i p_j) Σt / N and d²E/dz_i dt_j = (p_i − 1[i = j]) / N.
    p = np.exp(_log_softmax(z)).reshape(n, k)
    weight = _dense(z, t).reshape(n, k).sum(axis=-1)
    hessian, mixed = np.zeros((z.size, z.size)), np.zeros((z.size, z.size))
    for i in range(n):
        rows = slice(i * k, (i + 1) * k)
        hessian[rows, rows] = (np.diag(p[i]) - np.outer(p[i], p[i])) * weight[i] / n
        mixed[rows, rows] = (p[i][:, None] - np.eye(k)) / n

    fused, composed = L.softmax_cross_entropy, softmax_cross_entropy_composed
    hessians = [tg.hessian(lambda z_, loss=loss: loss(z_, t))(z) for loss in (fused, composed)]
    np.testing.assert_allclose(hessians[1].reshape(z.size, z.size), hessian, rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(hessians[0], hessians[1], rtol=1e-10, atol=1e-13)
    if t.dtype.kind != "f":
        return

    def mixed_blocks(loss: Any) -> tuple[np.ndarray, np.ndarray]:
        dz_dt = tg.jacobian(lambda t_: tg.grad(lambda z_: loss(z_, t_))(z))(t)
        dt_dz = tg.jacobian(lambda z_: tg.grad(lambda t_: loss(z_, t_))(t))(z)
        return dz_dt, dt_dz

    fused_blocks, composed_blocks = mixed_blocks(fused), mixed_blocks(composed)
    for got, want, by_hand in zip(fused_blocks, composed_blocks, (mixed, mixed.T)):
        np.testing.assert_allclose(want.reshape(z.size, z.size), by_hand, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_the_fused_row_takes_zero_log_zero_as_zero_where_the_definition_gives_nan() -> None:
    """z = (0, 0, −inf), t = (1, 0, 0): log softmax z = (−log 2, −log 2, −inf), so E = log 2 by
    hand; the composed expression multiplies 0 · (−inf) = NaN."""
    z, t = np.array([0.0, 0.0, -np.inf]), np.array([1.0, 0.0, 0.0])
    assert L.softmax_cross_entropy(f64(z), t).item() == pytest.approx(np.log(2), rel=1e-15)
    with np.errstate(invalid="ignore"):
        assert np.isnan(softmax_cross_entropy_composed(f64(z), t).item())


# ---- values, derived independently ---------------------------------------------------------------


def test_book_example_values() -> None:
    # SE: ½ Σ (y − t)², worked by hand: ½ (0.01 + 0.0025 + 0.16 + 0.0025 + 0.01 + 0.01) and
    # ½ (0.01 + 0.0025 + 0.81 + 0.0025 + 0.01 + 0.01 + 0.36 + 0.01 ...).
    assert L.se(f64(BOOK_Y_RIGHT), BOOK_T).item() == pytest.approx(0.0975, abs=1e-12)
    assert L.se(f64(BOOK_Y_WRONG), BOOK_T).item() == pytest.approx(0.5975, abs=1e-12)
    # CEE: only the answer's term survives: −log(0.6 + 1e-7) and −log(0.1 + 1e-7).
    assert L.cee(f64(BOOK_Y_RIGHT), BOOK_T).item() == pytest.approx(-np.log(0.6 + 1e-7), 1e-12)
    assert L.cee(f64(BOOK_Y_WRONG), BOOK_T).item() == pytest.approx(-np.log(0.1 + 1e-7), 1e-12)
    assert L.cee(f64(BOOK_Y_RIGHT), BOOK_T).item() == pytest.approx(0.510825457, abs=1e-9)
    assert L.cee(f64(BOOK_Y_WRONG), BOOK_T).item() == pytest.approx(2.302584093, abs=1e-9)


@given(pair=regression_pairs())
def test_se_and_mse_values(pair: tuple) -> None:
    y, t = pair
    diff = (y - t).ravel()
    assert L.se(f64(y), t).item() == pytest.approx(0.5 * float(diff @ diff), rel=1e-12, abs=1e-12)
    assert L.mse(f64(y), t).item() == pytest.approx(float(diff @ diff) / y.size, rel=1e-12,
                                                    abs=1e-12)


@given(pair=classification_pairs(batch=st.integers(1, 6)))
def test_cee_value_averages_over_the_batch(pair: tuple) -> None:
    y, t = pair
    dense = np.eye(y.shape[1])[t] if t.dtype.kind == "i" else t
    per_sample = [-(dense[n] * np.log(y[n] + 1e-7)).sum() for n in range(len(y))]
    assert L.cee(f64(y), t).item() == pytest.approx(np.mean(per_sample), rel=1e-12)


@given(pair=classification_pairs(logits=True, batch=st.integers(1, 6)))
def test_softmax_cross_entropy_equals_cee_of_softmax(pair: tuple) -> None:
    z, t = pair
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    dense = np.eye(z.shape[1])[t] if t.dtype.kind == "i" else t
    expected = -(dense * np.log(p)).sum() / len(z)
    assert L.softmax_cross_entropy(f64(z), t).item() == pytest.approx(expected, rel=1e-10)


@given(pair=binary_pairs())
def test_bce_value(pair: tuple) -> None:
    y, t = pair
    eps = 1e-7
    expected = -np.mean(t * np.log(y + eps) + (1 - t) * np.log(1 - y + eps))
    assert L.bce(f64(y), t).item() == pytest.approx(expected, rel=1e-12)


@given(y=probabilities(st.integers(1, 5), st.integers(2, 6)), data=st.data())
def test_labels_and_one_hot_rows_are_the_same_target(y: np.ndarray, data: Any) -> None:
    labels = data.draw(st.lists(st.integers(0, y.shape[1] - 1), min_size=len(y),
                                max_size=len(y)).map(np.array))
    for loss in (L.cee, L.softmax_cross_entropy):
        a, b = f64(y, requires_grad=True), f64(y, requires_grad=True)
        loss(a, labels).backward()
        loss(b, np.eye(y.shape[1])[labels]).backward()
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12)


def test_single_sample_and_a_batch_of_one_agree() -> None:
    y, t = BOOK_Y_WRONG, BOOK_T
    for loss in (L.se, L.mse, L.cee, L.softmax_cross_entropy):
        assert loss(f64(y), t).item() == pytest.approx(loss(f64(y[None]), t[None]).item(),
                                                       rel=1e-12)
    assert L.cee(f64(y), np.int64(2)).item() == pytest.approx(L.cee(f64(y), t).item(), 1e-12)


def test_aliases() -> None:
    assert L.se is L.squared_error and L.mse is L.mean_squared_error
    assert L.cee is L.cross_entropy_error and L.bce is L.binary_cross_entropy


@pytest.mark.parametrize("loss, korean", [
    (L.se, "제곱 오차"), (L.mse, "평균 제곱 오차"), (L.cee, "교차 엔트로피 오차"),
    (L.softmax_cross_entropy, "소프트맥스 교차 엔트로피"), (L.bce, "이진 교차 엔트로피"),
])
def test_docstrings_state_the_korean_name_formula_and_derivative(loss: Any, korean: str) -> None:
    doc = loss.__doc__
    assert korean in doc and "Derivative:" in doc and "Σ" in doc


# ---- edge cases ----------------------------------------------------------------------------------


def test_cee_with_exact_zeros_is_finite() -> None:
    y = f64(BOOK_Y_RIGHT * 0, requires_grad=True)  # the model gives the answer probability 0
    loss = L.cee(y, BOOK_T)
    loss.backward()
    assert loss.item() == pytest.approx(-np.log(1e-7), rel=1e-12)  # δ keeps log(0) away
    assert np.all(np.isfinite(y.grad.data))
    assert y.grad.data[2] == pytest.approx(-1 / 1e-7, rel=1e-12)


def test_confident_wrong_answers_cost_more_and_pull_harder() -> None:
    """−log y grows without bound as y → 0: the lesson's reason to prefer CEE."""
    confidences = [0.9, 0.5, 0.1, 0.01, 0.001]
    losses, pulls = [], []
    for p_answer in confidences:
        y = f64(np.array([p_answer, 1 - p_answer]), requires_grad=True)
        loss = L.cee(y, np.array([1.0, 0.0]))
        loss.backward()
        losses.append(loss.item())
        pulls.append(-y.grad.data[0])
    assert losses == sorted(losses) and pulls == sorted(pulls)
    np.testing.assert_allclose(pulls, [1 / (p + 1e-7) for p in confidences], rtol=1e-12)


@pytest.mark.parametrize("scale", [1e3, -1e3])
def test_softmax_cross_entropy_with_huge_logits(scale: float) -> None:
    z0 = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]) * scale
    t = np.array([1, 1])
    z = f64(z0, requires_grad=True)
    loss = L.softmax_cross_entropy(z, t)
    loss.backward()
    shifted = z0 - z0.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert np.isfinite(loss.item())
    assert loss.item() == pytest.approx(-(log_p[0, 1] + log_p[1, 1]) / 2, rel=1e-12)
    np.testing.assert_allclose(z.grad.data, reference.softmax_cross_entropy_grad(z0, t),
                               rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("y0", [0.0, 1.0])
def test_bce_at_zero_and_one_is_finite(y0: float) -> None:
    y = f64([y0, y0], requires_grad=True)
    t = np.array([0.0, 1.0])
    loss = L.bce(y, t)
    loss.backward()
    eps = 1e-7
    expected = -np.mean(t * np.log(y0 + eps) + (1 - t) * np.log(1 - y0 + eps))
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(y.grad.data, reference.bce_grad(np.array([y0, y0]), t),
                               rtol=1e-12)


@pytest.mark.parametrize("check", BUILTIN, ids=lambda c: c.name.split()[0])
@given(data=st.data())
def test_float32_agrees_with_float64(check: Any, data: Any) -> None:
    y, t = data.draw(check.inputs())
    if t.dtype.kind == "f":  # both runs see the same float32-representable numbers
        t = t.astype(np.float32).astype(np.float64)
    y32 = tg.Tensor(y.astype(np.float32), requires_grad=True)
    y64 = tg.Tensor(y.astype(np.float32).astype(np.float64), requires_grad=True)
    loss32, loss64 = check.loss(y32, t), check.loss(y64, t)
    loss32.backward()
    loss64.backward()
    assert loss32.dtype == np.float32 and y32.grad.dtype == np.float32
    assert loss32.item() == pytest.approx(loss64.item(), rel=1e-5, abs=1e-6)
    scale = 1 + np.abs(y64.grad.data).max()
    np.testing.assert_allclose(y32.grad.data, y64.grad.data, rtol=1e-4, atol=1e-5 * scale)


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [L.se, L.mse, L.cee, L.softmax_cross_entropy, L.bce])
def test_mismatched_shapes_name_both(loss: Any) -> None:
    with pytest.raises(ValueError, match=r"y has shape \(2, 3\) but t has shape \(3,\)"):
        loss(f64(np.full((2, 3), 0.3)), np.full(3, 0.3))  # broadcastable, still refused
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)"):
        loss(f64(np.full(4, 0.3)), np.full(5, 0.3))


@pytest.mark.parametrize("loss", [L.cee, L.softmax_cross_entropy])
def test_labels_out_of_range(loss: Any) -> None:
    y = f64(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="label 3 is out of range for 3 classes"):
        loss(y, np.array([0, 3]))
    with pytest.raises(ValueError, match="label -1 is out of range"):
        loss(y, np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        loss(y, np.array([0.0, 1.0]))  # float "labels" are not labels


def test_labels_are_not_accepted_by_regression_losses() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        L.mse(f64(np.zeros((2, 3))), np.array([0, 1]))


def test_gradcheck_of_every_loss_with_a_tensor_target() -> None:
    """The target may itself be a Tensor that requires grad (dL/dt exists for SE and MSE)."""
    y, t = np.array([[0.2, -1.0], [0.5, 2.0]]), np.array([[1.0, 0.0], [-0.5, 0.25]])
    assert gradcheck(L.se, y, t) and gradcheck(L.mse, y, t)
    assert_grad_matches(L.se, lambda y_, t_: t_ - y_, y, t, argnums=1)


@pytest.mark.parametrize("loss", [tg.losses.se, tg.losses.mse, tg.losses.cee, tg.losses.bce,
                                  tg.losses.softmax_cross_entropy],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("where", ["y", "t"])
def test_a_nan_in_the_prediction_or_the_target_gives_a_nan_loss(loss: Any, where: str) -> None:
    """NaN in, NaN out: the loss and the gradient reaching the prediction are NaN."""
    y = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    t = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    (y if where == "y" else t)[1, 1] = np.nan
    y = tg.Tensor(y, requires_grad=True)
    value = loss(y, t)
    assert np.isnan(value.item())
    value.backward()
    assert np.isnan(y.grad.data).any()


def test_bce_of_sigmoid_of_nan_logits_is_nan_even_as_a_sigmoid_of_nan() -> None:
    """sigmoid(nan) was 0 with gradient 0: the NaN vanished and bce came out finite."""
    z = tg.Tensor([np.nan, 0.0], requires_grad=True, dtype=np.float64)
    p = z.sigmoid()
    assert np.isnan(p.data[0]) and p.data[1] == 0.5
    value = tg.losses.bce(p, np.array([1.0, 0.0]))
    assert np.isnan(value.item())
    value.backward()
    assert np.isnan(z.grad.data[0])
    with pytest.raises(FloatingPointError, match="sigmoid"), tg.detect_anomaly():
        tg.Tensor([np.nan]).sigmoid()
