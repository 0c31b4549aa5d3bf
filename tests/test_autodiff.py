"""Tests of functional autodiff (``tinygrad_ko.autodiff``): ``grad``, ``value_and_grad``,
``jacobian``, ``hessian``, and higher-order derivatives (``grad`` of ``grad``, ``create_graph``).

Expected values are hand-derived formulas evaluated with NumPy, and central finite differences
computed in float64 here, from the library's first derivative or from a hand-written NumPy
gradient.

Tolerances. Analytic comparisons: rtol 1e-10, with an absolute floor of 1e-12 where a second
derivative crosses zero (the library sums terms such as e^x x + 2 e^x whose cancellation leaves
an absolute error of a few ulps of the terms). Finite differences with h = 1e-5 on inputs in
[-3, 3]: the truncation error h^2/6 |f''''| is below 1e-8 (|f''''| <= 7 e^3 for x e^x), and the
rounding error eps |f'| / h is below 2e-9 (|f'| <= 4 e^3 ~ 80), so rtol 1e-6 with atol 1e-8 is
tight for values of order one and larger.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_ko as tg

RTOL = 1e-10
ATOL = 1e-12
H = 1e-5
FD_RTOL = 1e-6
FD_ATOL = 1e-8

points = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def float64_default():
    """Make Python floats become float64 tensors for the test, then restore the default."""
    previous = tg.get_default_dtype()
    tg.set_default_dtype(np.float64)
    try:
        yield
    finally:
        tg.set_default_dtype(previous)


def central_difference(g, x, h=H):
    """(g(x + h) - g(x - h)) / 2h in float64, elementwise for an array x."""
    x = np.asarray(x, dtype=np.float64)
    return (np.asarray(g(x + h), dtype=np.float64) - np.asarray(g(x - h), dtype=np.float64)) / (
        2 * h
    )


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# ---- grad and value_and_grad ---------------------------------------------------------------------


def test_grad_of_sum_of_squares(rng):
    a = rng.normal(size=(3, 2))
    g = tg.grad(lambda x: (x * x).sum())(a)
    assert_close(g, 2 * a)


def test_grad_returns_arguments_shape_and_dtype(rng):
    a = rng.normal(size=(2, 3, 4))
    g = tg.grad(lambda x: x.sin().sum())(a)
    assert np.shape(g) == a.shape
    assert np.asarray(g).dtype == np.float64
    assert_close(g, np.cos(a))


def test_grad_does_not_mutate_its_argument(rng):
    a = rng.normal(size=4)
    copy = a.copy()
    tg.grad(lambda x: (x * x).sum())(a)
    np.testing.assert_array_equal(a, copy)


def test_value_and_grad_returns_value_and_gradient(rng):
    a = rng.normal(size=5)
    value, g = tg.value_and_grad(lambda x: (x.exp() * x).sum())(a)
    assert_close(np.asarray(value).reshape(()), np.sum(np.exp(a) * a))
    assert_close(g, (a + 1) * np.exp(a))


def test_value_and_grad_argnums_int_selects_one_argument(rng):
    a, b = rng.normal(size=3), rng.normal(size=3)

    def f(x, y):
        return (x * y * y).sum()

    value, gy = tg.value_and_grad(f, argnums=1)(a, b)
    assert_close(np.asarray(value).reshape(()), np.sum(a * b * b))
    assert not isinstance(gy, tuple)
    assert_close(gy, 2 * a * b)
    assert_close(tg.grad(f, argnums=0)(a, b), b * b)


def test_value_and_grad_argnums_tuple_returns_a_tuple(rng):
    a, b, c = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(2, 3))

    def f(x, y, z):
        return (x * y).sin().sum() + (z * z).sum()

    value, grads = tg.value_and_grad(f, argnums=(0, 1))(a, b, c)
    assert isinstance(grads, tuple) and len(grads) == 2
    gx, gy = grads
    cosine = np.cos(a * b)
    assert_close(np.asarray(value).reshape(()), np.sum(np.sin(a * b)) + np.sum(c * c))
    assert_close(gx, cosine * b)
    assert_close(gy, (cosine * a).sum(axis=0))
    gz, gx2 = tg.grad(f, argnums=(2, 0))(a, b, c)
    assert_close(gz, 2 * c)
    assert_close(gx2, cosine * b)


def test_argnums_as_numpy_integer_and_repeated_argnums():
    assert_close(tg.grad(lambda x, y: x * y, argnums=np.int64(1))(np.float64(2.0), 5.0), 2.0)
    with pytest.raises(ValueError, match="repeated argnums"):
        tg.grad(lambda x: x, argnums=(0, 0))


def test_grad_with_python_floats(float64_default):
    # f(x, y) = x^2 y + sin(y): df/dx = 2xy, df/dy = x^2 + cos y.
    def f(x, y):
        return x * x * y + tg.sin(y)

    gx, gy = tg.grad(f, argnums=(0, 1))(1.5, -0.7)
    assert_close(gx, 2 * 1.5 * -0.7)
    assert_close(gy, 1.5**2 + np.cos(-0.7))
    value, g = tg.value_and_grad(lambda x: x**3)(2.0)
    assert_close(np.asarray(value).reshape(()), 8.0)
    assert_close(np.asarray(g).reshape(()), 12.0)


def test_grad_of_python_float_has_the_default_dtype():
    # A Python float becomes a tensor of the default float dtype (float32 at start).
    g = tg.grad(lambda x: x * x * x)(1.5)
    assert np.asarray(g).dtype == tg.get_default_dtype()
    np.testing.assert_allclose(np.asarray(g), 3 * 1.5**2, rtol=1e-6)


def test_grad_mixing_python_float_and_array(float64_default, rng):
    a = rng.normal(size=4)
    gs, ga = tg.grad(lambda s, x: (s * x).exp().sum(), argnums=(0, 1))(0.3, a)
    e = np.exp(0.3 * a)
    assert_close(np.asarray(gs).reshape(()), np.sum(a * e))
    assert_close(ga, 0.3 * e)


def test_grad_requires_one_element_output(rng):
    a = rng.normal(size=3)
    with pytest.raises(ValueError):
        tg.grad(lambda x: x * 2.0)(a)
    with pytest.raises(ValueError):
        tg.value_and_grad(lambda x: x.exp())(a)


def test_grad_accepts_one_element_output_of_any_shape(rng):
    a = rng.normal(size=3)
    g = tg.grad(lambda x: (x * x).sum().reshape(1, 1))(a)
    assert_close(g, 2 * a)


def test_grad_of_unused_argument_is_zero(rng):
    a, b = rng.normal(size=3), rng.normal(size=(2, 2))
    gx, gy = tg.grad(lambda x, y: (x * x).sum(), argnums=(0, 1))(a, b)
    assert_close(gx, 2 * a)
    assert_close(gy, np.zeros((2, 2)))


def test_grad_leaves_no_grad_on_tensor_arguments(rng):
    # The functional API returns gradients; it does not accumulate into .grad of what it is given.
    t = tg.Tensor(rng.normal(size=3))
    tg.grad(lambda x: (x * x).sum())(t)
    assert t.grad is None and not t.requires_grad


def test_grad_at_a_tensor_that_the_function_also_closes_over():
    w = tg.Tensor(np.float64(3.0), requires_grad=True)
    got = tg.grad(lambda x: x * w)(w)  # ∂/∂x (x·w) = w, whatever x's value
    assert_close(np.asarray(got.data if isinstance(got, tg.Tensor) else got), 3.0)


def test_recorded_gradients_do_not_alias_each_other():
    a = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    ga, gb = tg.grad(lambda a, b: (a + b).sum(), argnums=(0, 1))(a, b)
    assert ga is not gb and not np.shares_memory(ga.data, gb.data)
    with tg.no_grad():
        ga *= 10  # writable, and gb does not change
    np.testing.assert_array_equal(gb.data, [1.0, 1.0])


# ---- jacobian ------------------------------------------------------------------------------------


def test_jacobian_of_matrix_vector_product_is_the_matrix(rng):
    A, a = rng.normal(size=(4, 3)), rng.normal(size=3)
    J = tg.jacobian(lambda x: tg.Tensor(A) @ x)(a)
    assert np.shape(J) == (4, 3)
    assert_close(J, A)


def test_jacobian_of_vector_matrix_product_wrt_matrix(rng):
    # f(X) = X @ w, X (m, n): J[i, k, l] = delta_ik w_l.
    X, w = rng.normal(size=(2, 3)), rng.normal(size=3)
    J = tg.jacobian(lambda x: x @ tg.Tensor(w))(X)
    expected = np.einsum("ik,l->ikl", np.eye(2), w)
    assert_close(J, expected)


def test_jacobian_of_elementwise_function_is_diagonal(rng):
    a = rng.normal(size=(2, 3))
    J = tg.jacobian(lambda x: x.sin() * x)(a)  # d/dx x sin x = sin x + x cos x
    assert np.shape(J) == (2, 3, 2, 3)
    d = np.sin(a) + a * np.cos(a)
    expected = np.einsum("ik,jl,kl->ijkl", np.eye(2), np.eye(3), d)
    assert_close(J, expected)


def test_jacobian_of_softmax(rng):
    a = rng.normal(size=5)
    J = tg.jacobian(lambda x: tg.softmax(x))(a)
    e = np.exp(a - a.max())
    s = e / e.sum()
    assert_close(J, np.diag(s) - np.outer(s, s))


def test_jacobian_of_scalar_output_is_the_gradient(rng):
    a = rng.normal(size=(2, 2))
    J = tg.jacobian(lambda x: (x * x * x).sum())(a)
    assert np.shape(J) == (2, 2)
    assert_close(J, 3 * a**2)


def test_jacobian_of_output_independent_of_input_is_zero(rng):
    a = rng.normal(size=3)
    c = rng.normal(size=2)
    J = tg.jacobian(lambda x: tg.Tensor(c) * 2.0)(a)
    assert np.shape(J) == (2, 3)
    assert_close(J, np.zeros((2, 3)))


def test_jacobian_does_not_mutate_its_argument(rng):
    a = rng.normal(size=3)
    copy = a.copy()
    tg.jacobian(lambda x: x.exp())(a)
    np.testing.assert_array_equal(a, copy)


# ---- hessian -------------------------------------------------------------------------------------


def test_hessian_of_quadratic_form(rng):
    A, a = rng.normal(size=(4, 4)), rng.normal(size=4)
    Ht = tg.hessian(lambda x: x @ tg.Tensor(A) @ x)(a)
    assert np.shape(Ht) == (4, 4)
    assert_close(Ht, A + A.T)


def test_hessian_of_sum_of_exp_is_diagonal(rng):
    a = rng.normal(size=4)
    assert_close(tg.hessian(lambda x: x.exp().sum())(a), np.diag(np.exp(a)))


def test_hessian_with_matrix_argument(rng):
    # f(X) = sum((X B)^2): grad = 2 X B B^T, H[i, j, k, l] = 2 delta_ik (B B^T)[l, j].
    X, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    Ht = tg.hessian(lambda x: ((x @ tg.Tensor(B)) ** 2).sum())(X)
    assert np.shape(Ht) == (2, 3, 2, 3)
    expected = 2 * np.einsum("ik,lj->ijkl", np.eye(2), B @ B.T)
    assert_close(Ht, expected)


def test_hessian_of_logsumexp(rng):
    # d^2/dx^2 log sum exp x = diag(s) - s s^T, s = softmax(x).
    a = rng.normal(size=4)
    Ht = tg.hessian(lambda x: tg.logsumexp(x))(a)
    e = np.exp(a - a.max())
    s = e / e.sum()
    assert_close(Ht, np.diag(s) - np.outer(s, s))


def test_hessian_of_linear_function_is_zero(rng):
    c, a = rng.normal(size=3), rng.normal(size=3)
    assert_close(tg.hessian(lambda x: (x * tg.Tensor(c)).sum())(a), np.zeros((3, 3)))


def test_hessian_of_cubic_with_cross_terms(rng):
    # f = x0^2 x1 + x1^3 + x0 x2:
    # H = [[2 x1, 2 x0, 1], [2 x0, 6 x1, 0], [1, 0, 0]].
    a = rng.normal(size=3)

    def f(x):
        return x[0] * x[0] * x[1] + x[1] ** 3 + x[0] * x[2]

    x0, x1 = a[0], a[1]
    expected = np.array([[2 * x1, 2 * x0, 1.0], [2 * x0, 6 * x1, 0.0], [1.0, 0.0, 0.0]])
    assert_close(tg.hessian(f)(a), expected)


# ---- higher order: second derivatives of elementwise functions -----------------------------------

# name -> (f on Tensors, analytic f'', analytic f')
ELEMENTWISE = {
    "cube": (lambda x: x**3, lambda x: 6 * x, lambda x: 3 * x**2),
    "sin": (lambda x: x.sin(), lambda x: -np.sin(x), np.cos),
    "tanh": (lambda x: x.tanh(),
             lambda x: -2 * np.tanh(x) / np.cosh(x) ** 2,
             lambda x: 1 / np.cosh(x) ** 2),
    "x_exp": (lambda x: x.exp() * x, lambda x: (x + 2) * np.exp(x), lambda x: (x + 1) * np.exp(x)),
}


def first_derivative(f):
    """Elementwise f' of an elementwise f, by tg.grad of the sum."""
    return tg.grad(lambda x: f(x).sum())


def second_derivative(f):
    """Elementwise f'' of an elementwise f, by tg.grad of tg.grad."""
    first = first_derivative(f)
    return tg.grad(lambda x: first(x).sum())


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_first_derivative_against_analytic(name):
    f, _, d1 = ELEMENTWISE[name]
    xs = np.linspace(-3.0, 3.0, 13)
    assert_close(first_derivative(f)(xs), d1(xs))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_second_derivative_against_analytic(name):
    f, d2, _ = ELEMENTWISE[name]
    xs = np.linspace(-3.0, 3.0, 13)
    assert_close(second_derivative(f)(xs), d2(xs))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_second_derivative_against_finite_differences(name):
    f, _, _ = ELEMENTWISE[name]
    xs = np.linspace(-3.0, 3.0, 13)
    numeric = central_difference(first_derivative(f), xs)
    assert_close(second_derivative(f)(xs), numeric, rtol=FD_RTOL, atol=FD_ATOL)


def test_second_derivative_by_nested_grad_on_scalars():
    d2 = tg.grad(tg.grad(lambda x: x**3))
    for x in (-1.25, 0.5, 2.0):
        assert_close(np.asarray(d2(np.float64(x))).reshape(()), 6 * x)


def test_third_derivative_of_cube_is_six():
    d3 = tg.grad(tg.grad(tg.grad(lambda x: x**3)))
    for x in (-2.0, 0.0, 0.75, 3.0):
        assert_close(np.asarray(d3(np.float64(x))).reshape(()), 6.0)


def test_fourth_derivative_of_cube_is_zero():
    d4 = tg.grad(tg.grad(tg.grad(tg.grad(lambda x: x**3))))
    assert_close(np.asarray(d4(np.float64(1.3))).reshape(()), 0.0)


def test_third_derivative_of_sin_is_minus_cos():
    d3 = tg.grad(tg.grad(tg.grad(lambda x: x.sin())))
    for x in (-1.0, 0.3, 2.5):
        assert_close(np.asarray(d3(np.float64(x))).reshape(()), -np.cos(x))


def test_nested_grad_composes_with_other_operations():
    # d/dx [x f'(x)] = f'(x) + x f''(x), with f = sin: cos x - x sin x.
    fp = tg.grad(lambda x: x.sin())
    outer = tg.grad(lambda x: x * fp(x))
    for x in (-2.0, 0.4, 1.7):
        assert_close(np.asarray(outer(np.float64(x))).reshape(()), np.cos(x) - x * np.sin(x))


def test_nested_grad_with_two_arguments():
    # f(x, y) = x^2 y^3; d/dy (df/dx) = d/dy (2 x y^3) = 6 x y^2.
    def f(x, y):
        return x * x * y**3

    mixed = tg.grad(lambda x, y: tg.grad(f, argnums=0)(x, y), argnums=1)
    x, y = np.float64(1.3), np.float64(-0.8)
    assert_close(np.asarray(mixed(x, y)).reshape(()), 6 * x * y**2)


def test_nested_grad_through_a_closure():
    # The inner function closes over the outer variable y:
    # d/dy [d/dx (x y^2)] = d/dy y^2 = 2y, whatever x is.
    def outer(y):
        return tg.grad(lambda x: x * y * y)(np.float64(0.6))

    for y in (-1.5, 0.25, 2.0):
        assert_close(np.asarray(tg.grad(outer)(np.float64(y))).reshape(()), 2 * y)


def test_nested_grad_is_the_partial_in_the_argument_not_through_a_closure():
    # d/dx [ d/dy (x·y) at y = x ] = d/dx [x] = 1, as in JAX (not d/dx of 2x).
    assert_close(tg.grad(lambda x: tg.grad(lambda y: x * y)(x))(np.float64(3.0)), 1.0)
    # d/dx [ ∂/∂a (a·b) at a = b = x ] = d/dx [b] = 1.
    assert_close(tg.grad(lambda x: tg.grad(lambda a, b: a * b)(x, x))(np.float64(3.0)), 1.0)


def test_second_derivative_through_backward_create_graph():
    # The Tensor API path: backward(create_graph=True), then backward of the gradient.
    xs = np.linspace(-2.0, 2.0, 9)
    x = tg.Tensor(xs, requires_grad=True)
    (x.exp() * x).sum().backward(create_graph=True)
    g = x.grad
    assert_close(g.data, (xs + 1) * np.exp(xs))
    x.grad = None
    g.sum().backward()
    assert_close(x.grad.data, (xs + 2) * np.exp(xs))


# ---- Hypothesis properties -----------------------------------------------------------------------


def _check_second_derivative(name, x):
    f, d2, _ = ELEMENTWISE[name]
    point = np.float64(x)
    second = np.asarray(second_derivative(f)(point)).reshape(())
    assert_close(second, d2(point))
    numeric = central_difference(first_derivative(f), point)
    assert_close(second, numeric, rtol=FD_RTOL, atol=FD_ATOL)


@given(points)
def test_property_second_derivative_of_cube(x):
    _check_second_derivative("cube", x)


@given(points)
def test_property_second_derivative_of_sin(x):
    _check_second_derivative("sin", x)


@given(points)
def test_property_second_derivative_of_tanh(x):
    _check_second_derivative("tanh", x)


@given(points)
def test_property_second_derivative_of_x_exp(x):
    _check_second_derivative("x_exp", x)


@given(st.lists(points, min_size=1, max_size=6))
def test_property_hessian_of_sum_of_sin_squared(values):
    # f = sum(sin(x)^2): f'' = 2 cos(2x) on the diagonal, 0 elsewhere.
    a = np.array(values, dtype=np.float64)
    Ht = tg.hessian(lambda x: (x.sin() ** 2).sum())(a)
    assert_close(Ht, np.diag(2 * np.cos(2 * a)))


# ---- Hessian-vector product of a small MLP -------------------------------------------------------

N, D_IN, D_HIDDEN, D_OUT = 5, 3, 4, 2
SIZE_W1 = D_IN * D_HIDDEN
SIZE_W = SIZE_W1 + D_HIDDEN * D_OUT


@pytest.fixture
def mlp_problem():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(N, D_IN))
    T = rng.normal(size=(N, D_OUT))
    w = 0.5 * rng.normal(size=SIZE_W)
    v = rng.normal(size=SIZE_W)
    return X, T, w, v


def mlp_loss(w, X, T):
    """0.5 * sum((tanh(X W1) W2 - T)^2) with W1, W2 taken from the flat vector w (a Tensor)."""
    W1 = w[:SIZE_W1].reshape(D_IN, D_HIDDEN)
    W2 = w[SIZE_W1:].reshape(D_HIDDEN, D_OUT)
    residual = (X @ W1).tanh() @ W2 - T
    return 0.5 * (residual * residual).sum()


def mlp_grad_by_hand(w, X, T):
    """The gradient of ``mlp_loss`` by hand-written backpropagation in NumPy."""
    W1 = w[:SIZE_W1].reshape(D_IN, D_HIDDEN)
    W2 = w[SIZE_W1:].reshape(D_HIDDEN, D_OUT)
    hidden = np.tanh(X @ W1)
    residual = hidden @ W2 - T
    d_w2 = hidden.T @ residual
    d_pre = (residual @ W2.T) * (1 - hidden**2)
    d_w1 = X.T @ d_pre
    return np.concatenate([d_w1.ravel(), d_w2.ravel()])


def hvp_by_finite_differences(w, v, X, T, h=H):
    return (mlp_grad_by_hand(w + h * v, X, T) - mlp_grad_by_hand(w - h * v, X, T)) / (2 * h)


def test_mlp_gradient_matches_hand_backprop(mlp_problem):
    X, T, w, _ = mlp_problem
    g = tg.grad(lambda p: mlp_loss(p, tg.Tensor(X), tg.Tensor(T)))(w)
    assert_close(g, mlp_grad_by_hand(w, X, T))


def test_mlp_hvp_by_create_graph_matches_finite_differences_and_hessian(mlp_problem):
    X, T, w, v = mlp_problem
    p = tg.Tensor(w, requires_grad=True)
    mlp_loss(p, tg.Tensor(X), tg.Tensor(T)).backward(create_graph=True)
    g = p.grad
    assert g.requires_grad
    p.grad = None
    (g * tg.Tensor(v)).sum().backward()
    hvp = p.grad.data

    numeric = hvp_by_finite_differences(w, v, X, T)
    assert_close(hvp, numeric, rtol=FD_RTOL, atol=FD_ATOL)

    full = tg.hessian(lambda q: mlp_loss(q, tg.Tensor(X), tg.Tensor(T)))(w)
    assert np.shape(full) == (SIZE_W, SIZE_W)
    assert_close(hvp, np.asarray(full) @ v)


def test_mlp_hvp_by_nested_grad(mlp_problem):
    # Hv = d/dw (grad f(w) . v), written with tg.grad twice.
    X, T, w, v = mlp_problem
    tX, tT, tv = tg.Tensor(X), tg.Tensor(T), tg.Tensor(v)
    grad_f = tg.grad(lambda q: mlp_loss(q, tX, tT))
    hvp = tg.grad(lambda q: (grad_f(q) * tv).sum())(w)
    assert_close(hvp, hvp_by_finite_differences(w, v, X, T), rtol=FD_RTOL, atol=FD_ATOL)


def test_mlp_hessian_matches_finite_differences_of_hand_gradient(mlp_problem):
    X, T, w, _ = mlp_problem
    full = np.asarray(tg.hessian(lambda q: mlp_loss(q, tg.Tensor(X), tg.Tensor(T)))(w))
    columns = [hvp_by_finite_differences(w, e, X, T) for e in np.eye(SIZE_W)]
    numeric = np.stack(columns, axis=1)
    assert_close(full, numeric, rtol=FD_RTOL, atol=FD_ATOL)
    assert_close(full, full.T)
