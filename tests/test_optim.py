"""Tests of ``tinygrad_ko.optim``: SGD (plain, momentum, Nesterov, weight decay), Adam, AdaGrad and
RMSprop against updates computed here, step by step, from the documented algorithms (the
``optim`` docstrings, which follow PyTorch's ``torch.optim.SGD``, ``Adam``, ``Adagrad`` and
``RMSprop``); in-place updates;
parameters without a gradient; ``zero_grad``; argument errors; dtypes; convergence.

Gradients are set by hand (``p.grad = Tensor(g)``) so that each expected sequence depends only on
the formulas, not on the autodiff engine; the convergence test uses ``backward()``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinygrad_ko as tg
from tinygrad_ko import nn, optim

RTOL = 1e-12
P0 = np.array([0.5, -1.5, 2.0, 0.25])
GRADS = list(np.random.default_rng(0).standard_normal((4, 4)) * 2)  # one gradient per step


def run(make_optimizer, p0=P0, grads=GRADS, dtype=np.float64) -> list[np.ndarray]:
    """The parameter's values after each step, with gradient ``grads[k]`` at step k."""
    p = nn.Parameter(np.array(p0, dtype=dtype))
    opt = make_optimizer([p])
    values = []
    for g in grads:
        p.grad = tg.Tensor(np.array(g, dtype=dtype))
        opt.step()
        values.append(p.data.copy())
    return values


def sgd_reference(p0, grads, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """PyTorch's SGD (dampening 0): g ← g + λp; b ← g on the first step, else μb + g;
    the step is g + μb with Nesterov, else b; p ← p − lr · step."""
    p, b, values = np.array(p0, dtype=np.float64), None, []
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        values.append(p)
    return values


def adam_reference(p0, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """PyTorch's Adam (L2 weight decay, not AdamW): g ← g + λp; m ← β₁m + (1 − β₁)g;
    v ← β₂v + (1 − β₂)g²; p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + eps)."""
    b1, b2 = betas
    p, m, v, values = np.array(p0, dtype=np.float64), 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        values.append(p)
    return values


def adagrad_reference(p0, grads, lr=0.01, eps=1e-10):
    """PyTorch's Adagrad (no decay, accumulator starting at 0): h ← h + g²;
    p ← p − lr · g / (√h + eps)."""
    p, h, values = np.array(p0, dtype=np.float64), 0.0, []
    for g in grads:
        h = h + g**2
        p = p - lr * g / (np.sqrt(h) + eps)
        values.append(p)
    return values


def rmsprop_reference(p0, grads, lr=0.01, alpha=0.99, eps=1e-8):
    """PyTorch's RMSprop (not centered, no momentum): v ← αv + (1 − α)g²;
    p ← p − lr · g / (√v + eps)."""
    p, v, values = np.array(p0, dtype=np.float64), 0.0, []
    for g in grads:
        v = alpha * v + (1 - alpha) * g**2
        p = p - lr * g / (np.sqrt(v) + eps)
        values.append(p)
    return values


def assert_sequences_close(got, expected, rtol=RTOL, atol=1e-14):
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"after step {k + 1}")


# ---- small cases worked out by hand --------------------------------------------------------------


def test_sgd_by_hand():
    # p ← p − 0.1 g with g = 2p (the gradient of p²): p shrinks by 0.8 each step
    got = run(lambda ps: optim.SGD(ps, lr=0.1), p0=[1.0], grads=[[2.0], [1.6], [1.28]])
    assert_sequences_close(got, [[0.8], [0.64], [0.512]])


def test_sgd_momentum_by_hand():
    # μ = 0.9, lr = 0.1, g = 1 each step: v = 1, 1.9, 2.71 (the first v is g itself)
    got = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), p0=[1.0], grads=[[1.0]] * 3)
    assert_sequences_close(got, [[0.9], [0.71], [0.439]])


def test_nesterov_by_hand():
    # steps g + μv = 1 + 0.9·1, 1 + 0.9·1.9, 1 + 0.9·2.71 = 1.9, 2.71, 3.439
    got = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
              p0=[1.0], grads=[[1.0]] * 3)
    assert_sequences_close(got, [[0.81], [0.539], [0.1951]])


def test_weight_decay_by_hand():
    # zero loss gradient: g = λp = 0.5p, so p ← p (1 − 0.1 · 0.5) = 0.95 p
    got = run(lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.5), p0=[2.0], grads=[[0.0]] * 3)
    assert_sequences_close(got, [[1.9], [1.805], [1.71475]])


def test_adam_bias_correction_by_hand():
    # With a constant gradient g the corrected moments are exactly g and g², so every step is
    # lr · g / (|g| + eps). Without the correction the first step would be ≈ 3.16 · lr.
    got = run(lambda ps: optim.Adam(ps, lr=0.1), p0=[1.0, -1.0], grads=[[2.0, -0.5]] * 3)
    step = 0.1 * np.array([2.0 / (2.0 + 1e-8), -0.5 / (0.5 + 1e-8)])
    assert_sequences_close(got, [np.array([1.0, -1.0]) - k * step for k in (1, 2, 3)])


def test_adagrad_by_hand():
    # g = 3, then 4: h = 9, then 25; steps lr · 3/3 = 0.1, then lr · 4/5 = 0.08
    got = run(lambda ps: optim.AdaGrad(ps, lr=0.1, eps=1e-300), p0=[1.0],
              grads=[[3.0], [4.0]])
    assert_sequences_close(got, [[0.9], [0.82]])


def test_rmsprop_by_hand():
    # α = 0.5, g = 2 twice: v = 2, then 3; steps lr · 2/√2, then lr · 2/√3
    got = run(lambda ps: optim.RMSprop(ps, lr=0.1, alpha=0.5, eps=1e-300), p0=[1.0],
              grads=[[2.0], [2.0]])
    first = 1 - 0.1 * 2 / np.sqrt(2)
    assert_sequences_close(got, [[first], [first - 0.1 * 2 / np.sqrt(3)]])


# ---- several steps against the reference algorithms ----------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.5}, {"lr": 0.1, "eps": 1e-3}], ids=str)
def test_adagrad_matches_the_reference_for_several_steps(kwargs):
    got = run(lambda ps: optim.AdaGrad(ps, **kwargs))
    assert_sequences_close(got, adagrad_reference(P0, GRADS, **kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.1, "alpha": 0.9}, {"lr": 0.05, "eps": 1e-3}],
                         ids=str)
def test_rmsprop_matches_the_reference_for_several_steps(kwargs):
    got = run(lambda ps: optim.RMSprop(ps, **kwargs))
    assert_sequences_close(got, rmsprop_reference(P0, GRADS, **kwargs))


@pytest.mark.parametrize(("optimizer", "name", "value"), [
    (optim.AdaGrad, "eps", 0.0), (optim.AdaGrad, "lr", float("nan")),
    (optim.RMSprop, "alpha", 1.0), (optim.RMSprop, "alpha", -0.1), (optim.RMSprop, "eps", -1.0),
    (optim.RMSprop, "lr", float("inf")),
])
def test_adagrad_and_rmsprop_refuse_a_bad_hyperparameter_naming_it(optimizer, name, value):
    with pytest.raises(ValueError, match=f"{optimizer.__name__}: {name} must be"):
        optimizer([nn.Parameter(np.ones(2))], **{name: value})


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.5, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.3},
    {"lr": 0.02, "momentum": 0.8, "weight_decay": 0.1},
    {"lr": 0.02, "momentum": 0.8, "weight_decay": 0.1, "nesterov": True},
], ids=str)
def test_sgd_matches_the_reference_for_several_steps(kwargs):
    got = run(lambda ps: optim.SGD(ps, **kwargs))
    assert_sequences_close(got, sgd_reference(P0, GRADS, **kwargs))


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.05, "weight_decay": 0.2},
    {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.01},
], ids=str)
def test_adam_matches_the_reference_for_several_steps(kwargs):
    got = run(lambda ps: optim.Adam(ps, **kwargs))
    assert_sequences_close(got, adam_reference(P0, GRADS, **kwargs))


def test_adam_default_hyperparameters_are_pytorchs():
    got = run(optim.Adam)
    assert_sequences_close(got, adam_reference(P0, GRADS, lr=1e-3, betas=(0.9, 0.999), eps=1e-8))


def test_each_parameter_has_its_own_state():
    a, b = nn.Parameter(np.array([1.0, 2.0])), nn.Parameter(np.array([[3.0], [-4.0]]))
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.1)
    for ga, gb in zip(GRADS, GRADS[::-1]):
        a.grad, b.grad = tg.Tensor(ga[:2]), tg.Tensor(gb[2:].reshape(2, 1))
        opt.step()
    np.testing.assert_allclose(
        a.data, adam_reference([1.0, 2.0], [g[:2] for g in GRADS], 0.1, weight_decay=0.1)[-1],
        rtol=RTOL)
    np.testing.assert_allclose(
        b.data.ravel(),
        adam_reference([3.0, -4.0], [g[2:] for g in GRADS[::-1]], 0.1, weight_decay=0.1)[-1],
        rtol=RTOL)


# ---- in place, gradients left alone, parameters without a gradient -------------------------------


OPTIMIZERS = [
    pytest.param(lambda ps: optim.SGD(ps, lr=0.1), id="sgd"),
    pytest.param(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1), id="momentum"),
    pytest.param(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), id="nesterov"),
    pytest.param(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1), id="adam"),
    pytest.param(lambda ps: optim.AdaGrad(ps, lr=0.1), id="adagrad"),
    pytest.param(lambda ps: optim.RMSprop(ps, lr=0.1), id="rmsprop"),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_step_updates_the_parameter_array_in_place_and_leaves_the_gradient_alone(make):
    p = nn.Parameter(P0.copy())
    array, view = p.data, p.data[1:3]
    opt = make([p])
    for g in GRADS[:2]:
        p.grad = tg.Tensor(g)
        opt.step()
        np.testing.assert_array_equal(p.grad.data, g)  # the gradient is not modified
    assert p.data is array
    assert not np.array_equal(array, P0)
    np.testing.assert_array_equal(view, array[1:3])


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_a_parameter_without_a_gradient_is_skipped(make):
    used, unused = nn.Parameter(P0.copy()), nn.Parameter(np.array([3.0, -2.0]))
    opt = make([used, unused])
    for g in GRADS[:3]:
        used.grad = tg.Tensor(g)
        opt.step()
    np.testing.assert_array_equal(unused.data, [3.0, -2.0])  # not even weight decay applied
    assert unused.grad is None


@pytest.mark.parametrize("make, reference", [
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
     lambda p0, gs: sgd_reference(p0, gs, 0.1, momentum=0.9, weight_decay=0.1)),
    (lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
     lambda p0, gs: adam_reference(p0, gs, 0.1, weight_decay=0.1)),
], ids=["momentum", "adam"])
def test_skipped_steps_leave_no_trace_in_the_optimizer_state(make, reference):
    # The late parameter gets no gradient for two steps, then two: its updates must be those of
    # an optimizer that starts at the third step (velocity from g, Adam's step count t = 1).
    early, late = nn.Parameter(P0.copy()), nn.Parameter(np.array([1.0, -1.0]))
    opt = make([early, late])
    late_grads = [np.array([0.3, -2.0]), np.array([1.5, 0.5])]
    for k, g in enumerate(GRADS):
        early.grad = tg.Tensor(g)
        late.grad = None if k < 2 else tg.Tensor(late_grads[k - 2])
        opt.step()
    np.testing.assert_allclose(early.data, reference(P0, GRADS)[-1], rtol=RTOL)
    np.testing.assert_allclose(late.data, reference([1.0, -1.0], late_grads)[-1], rtol=RTOL)


def test_momentum_keeps_its_own_copy_of_the_first_gradient():
    # If the velocity aliased the gradient array, changing that array afterwards would change
    # the velocity.
    p = nn.Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tg.Tensor(np.array([1.0]))
    opt.step()
    p.grad.data[...] = 100.0
    p.grad = tg.Tensor(np.array([1.0]))
    opt.step()
    np.testing.assert_allclose(p.data, [0.71], rtol=RTOL)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_zero_grad_sets_every_gradient_to_none(make):
    model = nn.mlp([3, 4, 2], rng=0, dtype=np.float64)
    opt = make(model.parameters())
    (model(tg.Tensor(np.ones((2, 3)))) ** 2).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    before = model.state_dict()
    opt.step()  # nothing to do without gradients
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


# ---- argument errors -----------------------------------------------------------------------------


def _non_leaf():
    return tg.Tensor(np.ones(2), requires_grad=True) * 2


@pytest.mark.parametrize("optimizer", [optim.SGD, optim.Adam, optim.AdaGrad, optim.RMSprop])
@pytest.mark.parametrize("bad", [
    lambda: np.ones(2),
    lambda: tg.Tensor(np.ones(2)),  # does not require grad
    _non_leaf,
    lambda: [1.0, 2.0],
], ids=["ndarray", "no-requires-grad", "non-leaf", "list"])
def test_a_non_parameter_raises_type_error_naming_its_position(optimizer, bad):
    good = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))]
    with pytest.raises(TypeError, match=r"\b2\b"):
        optimizer([*good, bad()], lr=0.1)
    with pytest.raises(TypeError, match=r"\b0\b"):
        optimizer([bad(), *good], lr=0.1)


def test_any_leaf_tensor_that_requires_grad_is_accepted():
    t = tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD(iter([t]), lr=0.5)  # any iterable, consumed once
    t.grad = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32))
    opt.step()
    np.testing.assert_array_equal(t.data, [0.5, 0.0])


@pytest.mark.parametrize("optimizer", [optim.SGD, optim.Adam, optim.AdaGrad, optim.RMSprop])
def test_no_parameters_raises_value_error(optimizer):
    with pytest.raises(ValueError, match="no parameters"):
        optimizer([], lr=0.1)
    with pytest.raises(ValueError, match="no parameters"):
        optimizer(iter(()), lr=0.1)


@pytest.mark.parametrize("optimizer", [optim.SGD, optim.Adam, optim.AdaGrad, optim.RMSprop])
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_a_learning_rate_that_is_not_positive_raises_value_error(optimizer, lr):
    with pytest.raises(ValueError, match="lr"):
        optimizer([nn.Parameter(np.ones(2))], lr=lr)


def test_nesterov_without_momentum_raises_value_error():
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([nn.Parameter(np.ones(2))], lr=0.1, nesterov=True)


@pytest.mark.parametrize("kwargs", [{"momentum": -0.5}, {"weight_decay": -1.0}])
def test_negative_momentum_or_weight_decay_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        optim.SGD([nn.Parameter(np.ones(2))], lr=0.1, **kwargs)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9)])
def test_adam_betas_outside_zero_one_raise_value_error(betas):
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([nn.Parameter(np.ones(2))], betas=betas)


def test_an_optimizer_without_an_update_rule_says_what_a_subclass_must_define():
    class NoRule(optim.Optimizer):
        pass

    for make in (optim.Optimizer, NoRule):
        p = nn.Parameter(np.ones(2))
        p.grad = tg.Tensor(np.full(2, 0.5))
        with pytest.raises(NotImplementedError,
                           match=rf"^{make.__name__}: a subclass of Optimizer must define "
                                 r"update\(value, grad, state\)"):
            make([p], lr=0.1).step()
        np.testing.assert_array_equal(p.data, np.ones(2))


# ---- dtypes and convergence ----------------------------------------------------------------------


@pytest.mark.parametrize("make, reference", [
    (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.1, nesterov=True),
     lambda: sgd_reference(P0, GRADS, 0.05, momentum=0.9, weight_decay=0.1, nesterov=True)),
    (lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.1),
     lambda: adam_reference(P0, GRADS, 0.05, weight_decay=0.1)),
], ids=["sgd", "adam"])
def test_float32_parameters_stay_float32(make, reference):
    got = run(make, dtype=np.float32)
    assert all(values.dtype == np.float32 for values in got)
    assert_sequences_close(got, reference(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.5},
    {"lr": 0.1, "momentum": 0.5, "nesterov": True},
], ids=str)
def test_sgd_converges_to_the_minimum_of_a_convex_quadratic(kwargs):
    # f(x) = ½ (x − c)ᵀ A (x − c) with A symmetric positive definite, eigenvalues in [1, 4]:
    # plain gradient descent with lr = 0.1 contracts the error by max|1 − lr·λ| = 0.9 per step;
    # with momentum μ = 0.5 both roots of z² − (1 + μ − lr·λ) z + μ are complex, of size √μ.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    A = q @ np.diag([1.0, 2.5, 4.0]) @ q.T
    c = np.array([1.0, -2.0, 0.5])
    x = nn.Parameter(np.zeros(3, dtype=np.float64))
    opt = optim.SGD([x], **kwargs)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        d = x - tg.Tensor(c)
        loss = 0.5 * ((d @ tg.Tensor(A)) * d).sum()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    np.testing.assert_allclose(x.data, c, atol=1e-8)
    assert losses[-1] < 1e-15 < losses[0]
    if "momentum" not in kwargs:  # lr ≤ 1/L: plain gradient descent decreases f at every step
        assert all(b <= a for a, b in itertools.pairwise(losses))


def test_a_parameter_given_twice_is_refused():
    p = tg.nn.Parameter(np.ones(1))
    with pytest.raises(ValueError, match="given twice"):
        tg.optim.SGD([p, p], lr=0.1)


@pytest.mark.parametrize("kwargs", [{"eps": 0.0}, {"eps": -1.0}, {"weight_decay": -1.0}])
def test_adam_rejects_bad_eps_and_weight_decay(kwargs):
    with pytest.raises(ValueError, match="Adam"):
        tg.optim.Adam([tg.nn.Parameter(np.ones(1))], **kwargs)


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("optimizer, name, value", [
    *[(optim.SGD, name, value) for name in ("lr", "momentum", "weight_decay")
      for value in (INF, NAN)],
    *[(optim.Adam, name, value) for name in ("lr", "betas[0]", "betas[1]", "eps", "weight_decay")
      for value in (INF, NAN)],
    (optim.Adam, "betas[1]", -INF),
    (optim.Adam, "weight_decay", -0.5),
], ids=lambda value: value.__name__ if isinstance(value, type) else str(value))
def test_a_non_finite_or_negative_hyperparameter_is_refused_by_name(optimizer, name, value):
    # inf and nan slip past "value < 0" and "value > 0" alike, and would make every parameter
    # NaN at the first step; the error must say which optimizer, which hyperparameter, and what
    # it got.
    kwargs = {"lr": 0.1}
    if name.startswith("betas"):
        betas = [0.9, 0.999]
        betas[int(name[len("betas[")])] = value
        kwargs["betas"] = tuple(betas)
    else:
        kwargs[name] = value
    with pytest.raises(ValueError) as caught:
        optimizer([nn.Parameter(np.ones(2))], **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{optimizer.__name__}: {name} must be a finite number"), message
    assert message.endswith(f"got {value!r}"), message
