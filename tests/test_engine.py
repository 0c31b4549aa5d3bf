"""Tests of the backward pass (``tinygrad_ko.engine``) as the Tensor API exposes it.

Accumulation and its reset, shared subexpressions, gradients of broadcast operands, releasing the
graph (``retain_graph``) and the errors that guard it, ``no_grad``, ``detach``, hooks,
``retain_grad``, deep chains, aliasing, dtypes, ``create_graph`` and freeing by reference counting.

Every expected gradient is derived by hand in the test and computed with NumPy.
"""

import copy
import gc
import threading
import weakref
from typing import Any

import numpy as np
import pytest
from helpers import Cube, TooManyGradients

import tinygrad_ko as tg

RTOL = 1e-12


def leaf(array, requires_grad=True):
    """A float64 leaf tensor."""
    return tg.Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


@pytest.fixture
def gc_disabled():
    """Run the test with the cyclic garbage collector off: only reference counting frees."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---- accumulation and its reset ------------------------------------------------------------------


def test_grad_is_none_before_any_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    assert x.grad is None
    y.backward()
    assert x.grad is not None


def test_gradients_accumulate_over_two_backward_calls_with_retain_graph(rng):
    a = rng.normal(size=(3, 4))
    x = leaf(a)
    z = (x * x).sum()  # dz/dx = 2x
    z.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.data, 2 * a, rtol=RTOL)
    z.backward()
    np.testing.assert_allclose(x.grad.data, 4 * a, rtol=RTOL)


def test_gradients_accumulate_over_rebuilt_graphs(rng):
    a = rng.normal(size=5)
    x = leaf(a)
    (x * x).sum().backward()  # 2x
    x.sin().sum().backward()  # cos x
    np.testing.assert_allclose(x.grad.data, 2 * a + np.cos(a), rtol=RTOL)


def test_grad_reset_by_assigning_none(rng):
    a = rng.normal(size=4)
    x = leaf(a)
    (x * x).sum().backward()
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full(4, 3.0), rtol=RTOL)


def test_grad_reset_by_zero_grad(rng):
    a = rng.normal(size=4)
    x = leaf(a)
    (x * x).sum().backward()
    x.zero_grad()
    assert x.grad is None
    x.exp().sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(a), rtol=RTOL)


def test_grad_is_a_tensor_of_the_leaf_shape(rng):
    x = leaf(rng.normal(size=(2, 3)))
    (x * 2.0).sum().backward()
    assert isinstance(x.grad, tg.Tensor)
    assert x.grad.shape == (2, 3)


# ---- shared subexpressions -----------------------------------------------------------------------


def test_tensor_used_several_times_accumulates_every_contribution(rng):
    a = rng.normal(size=6)
    x = leaf(a)
    y = x * x + x  # dy/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * a + 1, rtol=RTOL)


def test_shared_intermediate_accumulates_before_propagating(rng):
    # u = sin x is used by three consumers; z = u*u + exp(u) + 3u.
    # dz/dx = (2u + e^u + 3) cos x.
    a = rng.normal(size=(2, 3))
    x = leaf(a)
    u = x.sin()
    z = (u * u + u.exp() + 3 * u).sum()
    z.backward()
    su = np.sin(a)
    np.testing.assert_allclose(x.grad.data, (2 * su + np.exp(su) + 3) * np.cos(a), rtol=RTOL)


def test_diamond_graph(rng):
    # y = x^2; z = y*x + y/x = x^3 + x; dz/dx = 3x^2 + 1.
    a = rng.uniform(0.5, 2.0, size=4)
    x = leaf(a)
    y = x * x
    z = (y * x + y / x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.data, 3 * a**2 + 1, rtol=RTOL)


def test_same_tensor_as_both_operands(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * a, rtol=RTOL)
    x.grad = None
    (x + x + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full(3, 3.0), rtol=RTOL)


# ---- broadcasting --------------------------------------------------------------------------------


def test_broadcast_size_one_axes_and_leading_axes(rng):
    # a (2, 1, 3) and b (4, 3) broadcast to (2, 4, 3); z = a * b, upstream G.
    # dL/da[i, 0, k] = sum_j G[i, j, k] b[j, k];  dL/db[j, k] = sum_i G[i, j, k] a[i, 0, k].
    a, b = rng.normal(size=(2, 1, 3)), rng.normal(size=(4, 3))
    G = rng.normal(size=(2, 4, 3))
    ta, tb = leaf(a), leaf(b)
    z = ta * tb
    assert z.shape == (2, 4, 3)
    z.backward(G)
    assert ta.grad.shape == (2, 1, 3)
    assert tb.grad.shape == (4, 3)
    expected_a = np.einsum("ijk,jk->ik", G, b)[:, None, :]
    expected_b = np.einsum("ijk,ik->jk", G, a[:, 0, :])
    np.testing.assert_allclose(ta.grad.data, expected_a, rtol=RTOL)
    np.testing.assert_allclose(tb.grad.data, expected_b, rtol=RTOL)


def test_broadcast_add_and_sub_sum_over_stretched_axes(rng):
    # z = x - c with x (3, 4), c (4,) and bias r (3, 1): z = x - c + r.
    x, c, r = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 1))
    G = rng.normal(size=(3, 4))
    tx, tc, tr = leaf(x), leaf(c), leaf(r)
    (tx - tc + tr).backward(G)
    np.testing.assert_allclose(tx.grad.data, G, rtol=RTOL)
    np.testing.assert_allclose(tc.grad.data, -G.sum(axis=0), rtol=RTOL)
    np.testing.assert_allclose(tr.grad.data, G.sum(axis=1, keepdims=True), rtol=RTOL)


def test_broadcast_zero_dim_operand_gets_zero_dim_gradient(rng):
    # z = s * x with s a 0-d tensor: dL/ds = sum(G * x), dL/dx = s G.
    s, x, G = 1.7, rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    ts, tx = leaf(s), leaf(x)
    (ts * tx).backward(G)
    assert ts.grad.shape == ()
    np.testing.assert_allclose(ts.grad.data, np.sum(G * x), rtol=RTOL)
    np.testing.assert_allclose(tx.grad.data, s * G, rtol=RTOL)


def test_broadcast_division_operand_gradients(rng):
    # z = x / d with x (2, 3), d (1, 3): dz/dx = 1/d, dz/dd = -x/d^2 summed over axis 0.
    x, d, G = rng.normal(size=(2, 3)), rng.uniform(1.0, 2.0, size=(1, 3)), rng.normal(size=(2, 3))
    tx, td = leaf(x), leaf(d)
    (tx / td).backward(G)
    assert td.grad.shape == (1, 3)
    np.testing.assert_allclose(tx.grad.data, G / d, rtol=RTOL)
    np.testing.assert_allclose(td.grad.data, np.sum(-G * x / d**2, axis=0, keepdims=True),
                               rtol=RTOL)


def test_broadcast_length_one_to_length_n(rng):
    a, b, G = rng.normal(size=1), rng.normal(size=5), rng.normal(size=5)
    ta, tb = leaf(a), leaf(b)
    (ta * tb).backward(G)
    assert ta.grad.shape == (1,)
    np.testing.assert_allclose(ta.grad.data, [np.sum(G * b)], rtol=RTOL)
    np.testing.assert_allclose(tb.grad.data, a * G, rtol=RTOL)


# ---- retain_graph and the second backward --------------------------------------------------------


def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0, 3.0])
    z = (x * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match=r"(?i)second time|retain_graph"):
        z.backward()


def test_second_backward_raises_before_any_grad_changes(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    y = leaf(rng.normal(size=3))
    u = x * y  # released by the first backward
    u.sum().backward()
    grad_x, grad_y = x.grad.data.copy(), y.grad.data.copy()
    # A new graph that reaches the released node u, and also reaches x through a fresh branch
    # (x * 5): an engine that processed the fresh branch first would change x.grad.
    w = (u * 2.0).sum() + (x * 5.0).sum()
    with pytest.raises(RuntimeError, match=r"(?i)second time|retain_graph"):
        w.backward()
    np.testing.assert_array_equal(x.grad.data, grad_x)
    np.testing.assert_array_equal(y.grad.data, grad_y)


def test_second_backward_of_same_root_leaves_grad_unchanged():
    x = leaf([0.5, -1.0])
    z = (x * x * x).sum()
    z.backward()
    before = x.grad.data.copy()
    with pytest.raises(RuntimeError):
        z.backward()
    np.testing.assert_array_equal(x.grad.data, before)


def test_retain_graph_allows_a_second_backward_and_a_third(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    z = x.tanh().sum()
    z.backward(retain_graph=True)
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.data, 3 * (1 - np.tanh(a) ** 2), rtol=RTOL)


# ---- when nothing is recorded --------------------------------------------------------------------


def test_no_grad_records_no_node_and_keeps_no_input_alive():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        y = x * 2.0 + x.exp()
    assert y.grad_fn is None
    assert y.requires_grad is False
    assert y.is_leaf
    np.testing.assert_allclose(y.data, [2 + np.e, 4 + np.exp(2)], rtol=RTOL)
    ref = weakref.ref(x)
    del x
    assert ref() is None, "the result of an op under no_grad keeps its input alive"


def test_no_grad_as_decorator():
    @tg.no_grad()
    def double(t):
        return t * 2.0

    x = leaf([1.0])
    y = double(x)
    assert y.grad_fn is None and not y.requires_grad
    z = x * 2.0
    assert z.requires_grad, "grad mode was not restored after the decorated call"


def test_no_grad_restores_grad_mode_after_an_exception():
    x = leaf([1.0])
    with pytest.raises(ZeroDivisionError), tg.no_grad():
        _ = 1 / 0
    assert (x * 2.0).requires_grad


def test_no_grad_is_thread_local():
    x = leaf([1.0, 2.0])
    results = {}

    def other_thread():
        results["y"] = x * 3.0

    with tg.no_grad():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        inside = x * 3.0
    assert inside.grad_fn is None
    assert results["y"].requires_grad and results["y"].grad_fn is not None


def test_no_node_when_no_input_requires_grad():
    a = tg.Tensor(np.array([1.0, 2.0]))
    b = tg.Tensor(np.array([3.0, 4.0]))
    c = (a * b).sin() + a
    assert c.grad_fn is None
    assert c.requires_grad is False
    ref_a, ref_b = weakref.ref(a), weakref.ref(b)
    del a, b
    assert ref_a() is None and ref_b() is None, "a result that needs no grad keeps inputs alive"
    np.testing.assert_allclose(c.data, np.sin([3.0, 8.0]) + np.array([1.0, 2.0]), rtol=RTOL)


def test_backward_on_tensor_that_does_not_require_grad_raises():
    a = tg.Tensor(np.array(2.0))
    with pytest.raises(RuntimeError, match=r"(?i)require"):
        (a * a).backward()
    x = leaf(2.0)
    with tg.no_grad():
        y = x * x
    with pytest.raises(RuntimeError, match=r"(?i)require"):
        y.backward()


# ---- detach --------------------------------------------------------------------------------------


def test_detach_cuts_the_graph(rng):
    a = rng.normal(size=4)
    x = leaf(a)
    d = x.detach()
    assert d.requires_grad is False and d.grad_fn is None
    assert np.shares_memory(d.data, x.data)  # "same data"
    # z = x * stop(x): the detached factor is a constant, so dz/dx = x (not 2x).
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad.data, a, rtol=RTOL)


def test_detach_of_intermediate_stops_gradient_flow(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    y = x.exp()
    z = (y.detach() * x + y).sum()  # dz/dx = e^x (constant factor) + e^x
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(a), rtol=RTOL)


# ---- hooks and retain_grad -----------------------------------------------------------------------


def test_hook_sees_the_gradient_of_a_non_leaf(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    y = x * 2.0
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))
    (y * y).sum().backward()  # d/dy = 2y = 4x
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 4 * a, rtol=RTOL)
    np.testing.assert_allclose(x.grad.data, 8 * a, rtol=RTOL)


def test_hook_returning_a_tensor_replaces_the_gradient(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    y = x.sin()
    y.register_hook(lambda g: g * 10.0)
    y.sum().backward()  # d/dy = 1, replaced by 10; dx = 10 cos x
    np.testing.assert_allclose(x.grad.data, 10 * np.cos(a), rtol=RTOL)


def test_hook_on_a_leaf_replaces_what_is_accumulated(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    x.register_hook(lambda g: g * 0.5)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, a, rtol=RTOL)


def test_hook_handle_remove_unregisters(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    calls = []

    def hook(g):
        calls.append(1)
        return g * 3.0

    handle = x.register_hook(hook)
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full(3, 6.0), rtol=RTOL)
    handle.remove()
    x.grad = None
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full(3, 2.0), rtol=RTOL)
    assert len(calls) == 1


def test_hook_returning_none_keeps_the_gradient(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    y = x * 3.0
    y.register_hook(lambda g: None)
    (y * y).sum().backward()  # d/dx = 2y * 3 = 18x
    np.testing.assert_allclose(x.grad.data, 18 * a, rtol=RTOL)


def test_retain_grad_keeps_grad_on_a_non_leaf(rng):
    a = rng.normal(size=(2, 2))
    x = leaf(a)
    y = x * 3.0
    w = y.sin()
    y.retain_grad()
    assert not y.is_leaf and not w.is_leaf
    w.sum().backward()
    # d/dy sum(sin y) = cos y
    np.testing.assert_allclose(y.grad.data, np.cos(3 * a), rtol=RTOL)
    assert w.grad is None, "a non-leaf without retain_grad() keeps .grad"
    np.testing.assert_allclose(x.grad.data, 3 * np.cos(3 * a), rtol=RTOL)


def test_non_leaves_without_retain_grad_have_no_grad(rng):
    x = leaf(rng.normal(size=3))
    y = x * 2.0
    z = y.exp()
    out = z.sum()
    out.backward()
    assert y.grad is None and z.grad is None and out.grad is None
    assert x.grad is not None


def test_retained_grad_accumulates_over_backward_calls(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    y = x * 2.0
    y.retain_grad()
    z = (y * y).sum()  # dz/dy = 2y = 4x
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(y.grad.data, 8 * a, rtol=RTOL)


def test_retain_grad_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        leaf([1.0], requires_grad=False).retain_grad()


def test_hooks_get_a_copy_they_may_change_in_place():
    p, w = leaf([1.0, 2.0]), leaf([1.0, 1.0])

    def doubling(g):
        g.data *= 2  # in place: must not reach w's gradient through add's shared array
        return g

    p.register_hook(doubling)
    (p + w).backward(np.ones(2))
    np.testing.assert_array_equal(p.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


# ---- deep graphs ---------------------------------------------------------------------------------

DEPTH = 100_000


def test_chain_of_100000_operations_backpropagates():
    x = leaf(1.0)
    y = x
    for _ in range(DEPTH):
        y = y * 1.0001
    y.backward()  # a recursive topological sort would raise RecursionError here
    expected = 1.0001**DEPTH  # dy/dx of x * 1.0001^n
    np.testing.assert_allclose(y.data, expected, rtol=1e-10)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10)


def test_chain_of_100000_operations_is_freed(gc_disabled):
    x = leaf(1.0)
    y = x
    middle = None
    for i in range(DEPTH):
        y = y + 0.5
        if i == DEPTH // 2:
            middle = weakref.ref(y)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 1.0, rtol=RTOL)
    del y
    assert middle() is None, "an intermediate of the chain is alive after its output is gone"


def test_deep_chain_without_backward_is_freed_when_output_deleted(gc_disabled):
    x = leaf(1.0)
    y = x
    middle = None
    for i in range(DEPTH):
        y = y * 1.0
        if i == DEPTH // 2:
            middle = weakref.ref(y)
    assert middle() is not None
    del y  # deallocating 100,000 nested nodes must not overflow the C stack
    assert middle() is None


# ---- errors of backward() ------------------------------------------------------------------------


def test_backward_without_grad_on_many_elements_raises():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"(?i)one element|scalar"):
        y.backward()
    assert x.grad is None


def test_backward_without_grad_on_one_element_non_scalar_shape(rng):
    a = rng.normal(size=(1, 1))
    x = leaf(a)
    (x * x).backward()
    np.testing.assert_allclose(x.grad.data, 2 * a, rtol=RTOL)


def test_backward_grad_of_wrong_shape_raises_value_error_naming_both_shapes():
    x = leaf(np.ones((2, 3)))
    y = x * 2.0
    with pytest.raises(ValueError) as info:
        y.backward(np.ones((3, 2)))
    message = str(info.value)
    assert "(3, 2)" in message and "(2, 3)" in message
    assert x.grad is None


def test_backward_grad_that_would_broadcast_is_still_refused():
    x = leaf(np.ones((2, 3)))
    y = x * 2.0
    with pytest.raises(ValueError) as info:
        y.backward(np.ones(3))
    assert "(3,)" in str(info.value) and "(2, 3)" in str(info.value)


def test_backward_grad_as_tensor(rng):
    a, G = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    x = leaf(a)
    x.sin().backward(tg.Tensor(G))
    np.testing.assert_allclose(x.grad.data, G * np.cos(a), rtol=RTOL)


def test_a_failed_backward_changes_nothing_and_fails_the_same_way_again():
    x, w = leaf([1.0, 2.0]), leaf([3.0])
    z = (x * 3).sum() + TooManyGradients.apply(w).sum()
    for _ in range(2):  # the graph was not released: the second try gives the same error
        with pytest.raises(RuntimeError, match="returned 2 gradient"):
            z.backward()
        assert x.grad is None and w.grad is None


# ---- aliasing ------------------------------------------------------------------------------------


def test_gradients_of_add_operands_do_not_alias(rng):
    x, y = leaf(rng.normal(size=3)), leaf(rng.normal(size=3))
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[0] = 100.0
    np.testing.assert_array_equal(y.grad.data, np.ones(3))


def test_leaf_grad_does_not_alias_the_upstream_array(rng):
    x, y = leaf(rng.normal(size=3)), leaf(rng.normal(size=3))
    upstream = np.ones(3)
    (x + y).backward(upstream)
    assert not np.shares_memory(x.grad.data, upstream)
    assert not np.shares_memory(y.grad.data, upstream)
    # The root itself a leaf: its gradient is the upstream array, copied.
    w = leaf(rng.normal(size=3))
    w.backward(upstream)
    assert not np.shares_memory(w.grad.data, upstream)
    np.testing.assert_array_equal(upstream, np.ones(3))


def test_retained_grad_and_leaf_grad_do_not_alias(rng):
    x = leaf(rng.normal(size=3))
    y = x + 0.0
    y.retain_grad()
    z = y + x
    z.retain_grad()
    upstream = np.ones(3)
    z.backward(upstream)
    arrays = [x.grad.data, y.grad.data, z.grad.data, upstream]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert not np.shares_memory(arrays[i], arrays[j]), (i, j)


def test_accumulation_does_not_write_into_other_gradients(rng):
    x, y = leaf(rng.normal(size=3)), leaf(rng.normal(size=3))
    (x + y).sum().backward()
    (x * 2.0).sum().backward()  # x.grad becomes 3; y.grad must stay 1
    np.testing.assert_array_equal(x.grad.data, np.full(3, 3.0))
    np.testing.assert_array_equal(y.grad.data, np.ones(3))


def test_a_hooks_result_is_copied_into_grad(rng):
    """A leaf keeps a gradient that a rule made for it alone without a copy; a hook's result may
    be an array its user keeps, so it is copied."""
    x = leaf(rng.normal(size=3))
    kept = tg.Tensor(np.full(3, 5.0))
    x.register_hook(lambda g: kept)
    (x * 2.0).sum().backward()
    assert not np.shares_memory(x.grad.data, kept.data)
    x.grad.data[0] = 100.0
    np.testing.assert_array_equal(kept.data, np.full(3, 5.0))


def test_a_hooks_result_is_copied_into_a_retained_grad(rng):
    """t is used twice, so its gradient is a sum the pass made; the hook replaces it with an
    array its user keeps, which must not become t.grad itself."""
    x = leaf(rng.normal(size=3))
    t = x * 2.0
    t.retain_grad()
    kept = tg.Tensor(np.full(3, 5.0))
    t.register_hook(lambda g: kept)
    (t * t).sum().backward()
    assert not np.shares_memory(t.grad.data, kept.data)
    np.testing.assert_array_equal(t.grad.data, np.full(3, 5.0))


def test_a_copy_of_a_node_is_backpropagated_like_the_node(rng):
    """copy.copy keeps a node's creation number: both copies wait in the backward pass."""
    x = leaf(rng.normal(size=3))
    y = x * 2.0
    (y + copy.copy(y)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(3, 4.0))


def test_a_zero_dim_gradient_summed_from_a_broadcast_is_an_array():
    """A gradient summed back to shape () is a 0-d array, not a NumPy scalar, for the rules and
    Functions that receive it."""
    seen: list[Any] = []

    class Twice(tg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, grad):
            seen.append(grad)
            return 2.0 * grad

    x = tg.Tensor(3.0, requires_grad=True, dtype=np.float64)
    (Twice.apply(x * 1.0) + tg.Tensor(np.ones(4))).sum().backward()
    assert type(seen[0]) is np.ndarray and seen[0].shape == ()
    assert x.grad.item() == 8.0


def test_a_leaf_switched_off_after_use_gets_no_gradient(rng):
    for make in (lambda a: a.exp().sum(), lambda a: (a * leaf(np.ones(2))).sum()):
        x = leaf(rng.normal(size=2))
        loss = make(x)
        x.requires_grad = False
        loss.backward()
        assert x.grad is None


def test_a_functions_gradient_is_copied_into_grad(rng):
    saved = np.full(3, 7.0)

    class Keep(tg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            return saved  # an array its author keeps

    x = leaf(rng.normal(size=3))
    Keep.apply(x).backward(np.ones(3))
    assert not np.shares_memory(x.grad.data, saved)


def test_gradients_made_for_one_leaf_each_stay_apart(rng):
    """matmul's rule makes a new array for each operand: each leaf keeps its own, and one
    leaf's gradient is never another's or an input's."""
    a, b = leaf(rng.normal(size=(2, 3))), leaf(rng.normal(size=(3, 4)))
    (a @ b * 3.0).sum().backward()
    arrays = [a.grad.data, b.grad.data, a.data, b.data]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert not np.shares_memory(arrays[i], arrays[j]), (i, j)
    np.testing.assert_allclose(a.grad.data, np.full((2, 4), 3.0) @ b.data.T)
    np.testing.assert_allclose(b.grad.data, a.data.T @ np.full((2, 4), 3.0))


def test_gradients_with_create_graph_do_not_alias(rng):
    x, y = leaf(rng.normal(size=3)), leaf(rng.normal(size=3))
    upstream = tg.Tensor(np.ones(3))
    (x + y).backward(upstream, create_graph=True)
    assert not np.shares_memory(x.grad.data, y.grad.data)
    assert not np.shares_memory(x.grad.data, upstream.data)
    assert not np.shares_memory(y.grad.data, upstream.data)


def test_backward_does_not_mutate_inputs_or_upstream(rng):
    a, b, G = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(2, 3))
    x, y = leaf(a), leaf(b)
    upstream = G.copy()
    (x * y + x).backward(upstream)
    np.testing.assert_array_equal(x.data, a)
    np.testing.assert_array_equal(y.data, b)
    np.testing.assert_array_equal(upstream, G)


# ---- dtypes --------------------------------------------------------------------------------------


def test_float32_inputs_give_float32_gradients(rng):
    a = rng.normal(size=(2, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    x = tg.Tensor(a, requires_grad=True)
    y = tg.Tensor(b, requires_grad=True)
    z = (x * y * 2.0 + x.sin()).sum()
    assert z.dtype == np.float32
    z.backward()
    assert x.grad.dtype == np.float32
    assert y.grad.dtype == np.float32
    expected_x = b * 2 + np.cos(a.astype(np.float64))
    expected_y = (2 * a.astype(np.float64)).sum(axis=0)
    np.testing.assert_allclose(x.grad.data, expected_x, rtol=1e-5)
    np.testing.assert_allclose(y.grad.data, expected_y, rtol=1e-5)


def test_float64_stays_float64(rng):
    x = leaf(rng.normal(size=3))
    (x * 2.0).exp().sum().backward()
    assert x.grad.dtype == np.float64


def test_mixed_dtypes_each_gradient_takes_its_input_dtype(rng):
    x32 = tg.Tensor(rng.normal(size=3).astype(np.float32), requires_grad=True)
    y64 = leaf(rng.normal(size=3))
    (x32 * y64).sum().backward()
    assert x32.grad.dtype == np.float32
    assert y64.grad.dtype == np.float64


def test_float32_upstream_for_float64_root_gives_float64_gradients(rng):
    x = leaf(rng.normal(size=3))
    (x * 2.0).backward(np.ones(3, dtype=np.float32))
    assert x.grad.dtype == np.float64


def test_float32_leaf_gets_float32_gradient_from_a_float64_seed_or_hook():
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * 2).backward(tg.Tensor(np.ones(2)), create_graph=True)
    assert x.grad.dtype == np.float32
    y = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y.register_hook(lambda g: tg.Tensor(np.asarray(g.data, dtype=np.float64) * 2))
    (y * 3).sum().backward()
    assert y.grad.dtype == np.float32
    np.testing.assert_array_equal(y.grad.data, [6.0, 6.0])


# ---- create_graph --------------------------------------------------------------------------------


def test_create_graph_makes_grad_differentiable(rng):
    a = rng.normal(size=4)
    x = leaf(a)
    (x * x * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    np.testing.assert_allclose(g.data, 3 * a**2, rtol=RTOL)
    x.grad = None
    g.sum().backward()  # d/dx sum(3x^2) = 6x
    np.testing.assert_allclose(x.grad.data, 6 * a, rtol=RTOL)


def test_create_graph_implies_retain_graph(rng):
    a = rng.normal(size=3)
    x = leaf(a)
    z = x.sin().sum()
    z.backward(create_graph=True)
    z.backward()  # allowed: create_graph retained the graph
    np.testing.assert_allclose(x.grad.data, 2 * np.cos(a), rtol=RTOL)


def test_create_graph_with_explicit_retain_graph_false_releases(rng):
    x = leaf(rng.normal(size=3))
    z = x.sin().sum()
    z.backward(create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match=r"(?i)second time|retain_graph"):
        z.backward()


def test_plain_backward_grad_does_not_require_grad(rng):
    x = leaf(rng.normal(size=3))
    (x * x).sum().backward()
    assert not x.grad.requires_grad
    assert x.grad.grad_fn is None


def test_hessian_vector_product_through_backward(rng):
    # f = sum(x^2 * y): grad_x = 2xy; (grad_x . v) differentiated: d/dx = 2 y v, d/dy = 2 x v.
    a, b, v = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    x, y = leaf(a), leaf(b)
    (x * x * y).sum().backward(create_graph=True)
    gx = x.grad
    x.grad = y.grad = None
    (gx * tg.Tensor(v)).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * b * v, rtol=RTOL)
    np.testing.assert_allclose(y.grad.data, 2 * a * v, rtol=RTOL)


# ---- freeing by reference counting ---------------------------------------------------------------


def test_graph_freed_by_reference_counting_alone(gc_disabled, rng):
    x = leaf(rng.normal(size=3))
    y = x * x
    ref = weakref.ref(y)
    z = (y + x).sin().sum()
    del y
    assert ref() is not None  # z's graph holds it
    del z
    assert ref() is None, "the graph has a reference cycle"


def test_graph_freed_after_retained_backward(gc_disabled, rng):
    x = leaf(rng.normal(size=3))
    y = x.exp()
    ref = weakref.ref(y)
    z = (y * x).sum()
    del y
    z.backward(retain_graph=True)
    assert ref() is not None
    del z
    assert ref() is None


def test_graph_released_by_backward(gc_disabled, rng):
    x = leaf(rng.normal(size=3))
    y = x.tanh()
    ref = weakref.ref(y)
    z = (y * 2.0).sum()
    del y
    z.backward()
    del z
    assert ref() is None


def test_graph_with_hooks_and_retained_grad_freed(gc_disabled, rng):
    x = leaf(rng.normal(size=3))
    y = x * 2.0
    y.retain_grad()
    y.register_hook(lambda g: g * 1.0)
    ref = weakref.ref(y)
    z = (y * y).sum()
    z.backward()
    del y, z
    assert ref() is None


def test_create_graph_graph_freed_once_grad_reset(gc_disabled, rng):
    x = leaf(rng.normal(size=3))
    y = x.sin()
    ref = weakref.ref(y)
    z = (y * y).sum()
    del y
    z.backward(create_graph=True)
    del z
    x.grad = None  # the recorded gradient is what still held the graph
    assert ref() is None


# ---- in-place changes between forward and backward (version counters) ---------------------------


def test_an_optimizer_step_between_forward_and_backward_is_refused() -> None:
    """The second layer's matmul reads w2 to send the gradient to h: after a step changed w2,
    backward refuses, naming the operation and w2's shape, and no .grad has changed."""
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((5, 3)), dtype=np.float64)
    w1, w2 = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((4, 2)))
    loss = ((x @ w1).relu() @ w2).sum()
    w1.grad = tg.Tensor(np.ones((3, 4)))
    w2.grad = tg.Tensor(np.ones((4, 2)))
    tg.optim.SGD([w1, w2], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"'matmul'.*\(4, 2\).*changed in place"):
        loss.backward()
    np.testing.assert_array_equal(w1.grad.data, np.ones((3, 4)))  # untouched by the refusal


def test_a_change_under_no_grad_to_a_value_a_rule_reads_is_refused() -> None:
    """exp's rule reads its output (d/dx e^x = e^x): h += 100 would make it e^x + 100."""
    x = leaf([0.0, 1.0])
    h = x.exp()
    with tg.no_grad():
        h += 100
    with pytest.raises(RuntimeError, match=r"'exp'.*its output.*\(2,\)"):
        h.sum().backward()


def test_a_change_to_a_value_no_rule_reads_is_allowed() -> None:
    """add's rules read neither operand: its gradient is 1 whatever they hold."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = a + b
    with tg.no_grad():
        a += 10
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_only_what_the_running_rules_read_is_checked() -> None:
    """y = x · w with only w requiring grad: w's rule reads x, not w. Changing w keeps dy/dw = x
    exact (as in PyTorch); changing x is refused."""
    x, w = tg.Tensor([2.0, 3.0], dtype=np.float64), leaf([1.0, 1.0])
    y = x * w
    with tg.no_grad():
        w -= 0.5
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])
    y = x * w
    x += 1.0  # (nothing records: x does not require grad)
    with pytest.raises(RuntimeError, match=r"'mul'.*its input 0"):
        y.sum().backward()


def test_setitem_and_every_in_place_operator_bump_the_version() -> None:
    t = tg.Tensor([1.0, 2.0, 3.0])
    versions = [t._version]
    for change in (lambda: t.__iadd__(1), lambda: t.__isub__(1), lambda: t.__imul__(2),
                   lambda: t.__itruediv__(2), lambda: t.__setitem__(0, 5.0)):
        change()
        versions.append(t._version)
    assert versions == sorted(set(versions))  # strictly increasing
    np.testing.assert_array_equal(t.data, [5.0, 2.0, 3.0])


def test_setitem_after_the_forward_is_refused_at_backward() -> None:
    x = leaf([0.5, 1.0])
    h = x.sin()
    y = h * h
    with tg.no_grad():
        h[0] = 7.0
    with pytest.raises(RuntimeError, match=r"'mul'.*changed in place"):
        y.sum().backward()


def test_a_change_through_a_view_reaches_the_tensor_it_views() -> None:
    """v = h[0] shares h's memory: changing v changes h, which exp's rule reads."""
    x = leaf([[0.0, 1.0], [2.0, 3.0]])
    h = x.exp()
    v = h[0]
    with tg.no_grad():
        v += 1
    with pytest.raises(RuntimeError, match="'exp'"):
        h.sum().backward()


def test_loading_a_state_dict_after_the_forward_is_refused() -> None:
    """The second layer's matmul reads its weight to send the gradient to the first layer."""
    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.ReLU(), tg.nn.Linear(4, 2))
    loss = model(tg.Tensor(np.ones((4, 3)))).sum()
    model.load_state_dict({name: np.zeros(p.shape) for name, p in model.named_parameters()})
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_a_function_whose_input_changed_is_refused() -> None:
    """A user Function may have kept any input: every one is checked."""
    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    with tg.no_grad():
        x *= 2
    with pytest.raises(RuntimeError, match=r"'Cube'.*its input 0"):
        y.sum().backward()


def test_a_change_through_any_view_of_the_memory_is_refused() -> None:
    """Versions belong to memory, not to a Tensor: a change through a detach(), a view made
    under no_grad, a sibling view or a copy.copy reaches every node that reads that memory."""
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x).sum()
    d = x.detach()
    d += 10  # (allowed outside no_grad: d does not require grad)
    with pytest.raises(RuntimeError, match="'mul'"):
        y.backward()

    x = leaf([1.0, 2.0, 3.0])
    y = (x * x).sum()
    with tg.no_grad():
        v = x[:2]
        v += 10
    with pytest.raises(RuntimeError, match="'mul'"):
        y.backward()

    x = leaf([1.0, 2.0, 3.0, 4.0])
    h = x * 1
    whole, part = h[:4], h[:2]
    y = (whole * whole).sum()
    with tg.no_grad():
        part += 10
    with pytest.raises(RuntimeError, match="'mul'"):
        y.backward()

    x = leaf([1.0, 2.0])
    t = x.exp()
    with tg.no_grad():
        copy.copy(t).__iadd__(100)
    with pytest.raises(RuntimeError, match="'exp'"):
        t.sum().backward()


def test_a_step_between_two_backward_passes_through_a_transposed_weight_is_refused() -> None:
    """h = Wᵀ x reads W through the view Wᵀ: the step that changes W changes what it reads."""
    W, x = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([1.0, 1.0])
    h = W.T @ x
    first, second = h.sum(), (h * h).sum()
    first.backward(retain_graph=True)
    tg.optim.SGD([W], lr=1.0).step()
    with pytest.raises(RuntimeError, match=r"'matmul'.*\(2, 2\)"):
        second.backward()


def test_a_hook_that_changes_a_value_its_node_reads_is_refused() -> None:
    """The check runs after the node's hooks, just before its rules read the values."""
    x = leaf([1.0, 2.0])
    y = x * x

    def hook(g):
        with tg.no_grad():
            x.__iadd__(100)

    y.register_hook(hook)
    with pytest.raises(RuntimeError, match="'mul'"):
        y.sum().backward()
    assert x.grad is None


def test_indices_conditions_and_labels_are_the_graphs_own() -> None:
    """Changing the caller's index, condition or labels (arrays) after the forward changes no
    gradient: the graph keeps copies. A condition that is a Tensor is an operand of the graph,
    guarded by its version like any other. Expected gradients by hand: d/dx Σ x[[0, 1]] =
    [1, 1, 0]; d/dx Σ where(x > 0, x, 0) = [1, 0]; softmax cross entropy: (softmax(z) − onehot)
    / N."""
    x = leaf([1.0, 2.0, 3.0])
    index = np.array([0, 1])
    y = x[index]
    index[:] = 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0])

    x = leaf([1.0, -1.0])
    condition = x.data > 0
    y = tg.where(condition, x, 0.0)
    condition[...] = True
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0])

    x = leaf([1.0, -1.0])
    condition = x > 0
    y = tg.where(condition, x, 0.0)
    condition[...] = True
    with pytest.raises(RuntimeError, match="backward of 'where': its input 2"):
        y.sum().backward()
    assert x.grad is None

    z = leaf([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    labels = np.array([0, 1])
    loss = tg.losses.softmax_cross_entropy(z, labels)
    labels[:] = 2
    loss.backward()
    softmax = np.exp(z.data) / np.exp(z.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(z.grad.data, (softmax - np.eye(3)[[0, 1]]) / 2, rtol=1e-12)
