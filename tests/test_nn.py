"""Tests of ``tinygrad_ko.nn``: how a Module finds and names its parameters, ``state_dict`` and
``load_state_dict`` (copies, round trips, all-or-nothing on a mismatch), training mode, the
``Linear`` layer (forward, initialisation statistics, seeding), ``Parameter``, the activation
layers, ``mlp``, and gradients through a whole model.

Every expected value is computed here with NumPy: the layer formulas, and the backward pass of a
small two-layer network written out by hand.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_ko as tg
from tinygrad_ko import nn

RTOL = 1e-12


def f64(a, requires_grad: bool = False) -> tg.Tensor:
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    """Copies of every parameter's values, taken here (not through ``state_dict``)."""
    return {name: np.array(p.data, copy=True) for name, p in model.named_parameters()}


def assert_same_values(before: dict[str, np.ndarray], model: nn.Module) -> None:
    after = dict(model.named_parameters())
    assert list(after) == list(before)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name].data, value, err_msg=name)


# ---- finding parameters --------------------------------------------------------------------------


class Affine(nn.Module):
    """Parameters set directly as attributes, in the order scale, shift."""

    def __init__(self) -> None:
        self.scale = nn.Parameter(np.ones(3))
        self.shift = nn.Parameter(np.zeros(3))
        self.not_a_parameter = tg.Tensor(np.ones(3), requires_grad=True)
        self.plain_array = np.ones(3)

    def forward(self, x):
        return x * self.scale + self.shift


class Net(nn.Module):
    """A Parameter, a sub-module, a list of modules and a nested Sequential."""

    def __init__(self) -> None:
        self.temperature = nn.Parameter(np.ones(1))
        self.encoder = nn.Linear(3, 4, rng=0)
        self.blocks = [Affine(), nn.ReLU(), Affine()]
        self.head = nn.Sequential(nn.Linear(4, 2, rng=1), nn.Tanh(), nn.Linear(2, 2, bias=False))

    def forward(self, x):
        x = self.encoder(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x) * self.temperature


def test_parameters_are_found_from_attributes_in_definition_order_with_dotted_names():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "temperature",
        "encoder.weight", "encoder.bias",
        "blocks.0.scale", "blocks.0.shift",
        "blocks.2.scale", "blocks.2.shift",
        "head.0.weight", "head.0.bias",
        "head.2.weight",
    ]
    expected = [net.temperature, net.encoder.weight, net.encoder.bias,
                net.blocks[0].scale, net.blocks[0].shift, net.blocks[2].scale,
                net.blocks[2].shift, net.head[0].weight, net.head[0].bias, net.head[2].weight]
    found = net.parameters()
    assert len(found) == len(expected)
    assert all(a is b for a, b in zip(found, expected))
    assert all(isinstance(p, nn.Parameter) for p in found)


def test_a_tensor_that_is_not_a_parameter_is_not_a_parameter_of_the_module():
    names = [name for name, _ in Affine().named_parameters()]
    assert names == ["scale", "shift"]


class LayerThenScale(nn.Module):
    def __init__(self) -> None:
        self.layer = nn.Linear(2, 2, rng=0)
        self.scale = nn.Parameter(np.ones(2))

    def forward(self, x):
        return self.layer(x) * self.scale


def test_a_parameter_set_after_a_sub_module_comes_after_the_sub_modules_parameters():
    # The docstrings promise "definition order" / "the order they were set": here the layer
    # was set first, so its parameters come first.
    names = [name for name, _ in LayerThenScale().named_parameters()]
    assert names == ["layer.weight", "layer.bias", "scale"]


class Tied(nn.Module):
    """Two layers sharing one weight, and a list holding the same module twice."""

    def __init__(self) -> None:
        self.first = nn.Linear(3, 3, rng=0)
        self.second = nn.Linear(3, 3, rng=1)
        self.second.weight = self.first.weight
        shared = Affine()
        self.repeated = [shared, shared]

    def forward(self, x):
        return self.second(self.first(x))


def test_a_shared_parameter_is_listed_once_under_its_first_name():
    model = Tied()
    named = model.named_parameters()
    assert [name for name, _ in named] == [
        "first.weight", "first.bias", "second.bias", "repeated.0.scale", "repeated.0.shift",
    ]
    ids = [id(p) for p in model.parameters()]
    assert len(ids) == len(set(ids))
    assert list(model.state_dict()) == [name for name, _ in named]


def test_sequential_names_parameters_by_layer_position():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Sigmoid(),
                          nn.Linear(2, 1, bias=False))
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight",
    ]
    assert len(model) == 5 and model[2] is model.layers[2]


def test_zero_grad_forgets_every_gradient():
    model = nn.mlp([3, 4, 2], rng=0, dtype=np.float64)
    (model(f64(np.ones((2, 3)))) ** 2).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ---- state_dict / load_state_dict ----------------------------------------------------------------


def test_state_dict_holds_copies_of_the_values_in_parameter_order():
    model = nn.mlp([3, 4, 2], rng=0)
    state = model.state_dict()
    assert list(state) == [name for name, _ in model.named_parameters()]
    before = snapshot(model)
    for name, p in model.named_parameters():
        assert isinstance(state[name], np.ndarray)
        assert state[name].dtype == p.dtype
        np.testing.assert_array_equal(state[name], p.data)
        assert not np.shares_memory(state[name], p.data)
        state[name][...] = 123.0  # changing the copy ...
    assert_same_values(before, model)  # ... does not change the model
    model[0].weight.data[...] = -1.0  # and changing the model does not change an earlier copy
    assert np.all(state["0.weight"] == 123.0)


def test_load_state_dict_round_trip_gives_the_same_values_and_outputs():
    source = nn.mlp([3, 5, 2], rng=0)
    target = nn.mlp([3, 5, 2], rng=1)
    identities = [id(p) for p in target.parameters()]
    arrays = [p.data for p in target.parameters()]
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    assert not np.array_equal(source(x).data, target(x).data)

    target.load_state_dict(source.state_dict())

    assert_same_values(snapshot(source), target)
    np.testing.assert_array_equal(target(x).data, source(x).data)
    # loaded in place: the same Parameter objects (an optimizer holding them keeps working)
    assert [id(p) for p in target.parameters()] == identities
    assert all(p.data is a for p, a in zip(target.parameters(), arrays))  # as torch's copy_
    assert all(p.dtype == np.float32 for p in target.parameters())


def test_load_state_dict_copies_the_values_and_keeps_the_models_dtype():
    model = nn.mlp([2, 3, 1], rng=0)  # float32
    state = {name: np.full(p.shape, 0.5, dtype=np.float64) for name, p in model.named_parameters()}
    model.load_state_dict(state)
    state["0.weight"][...] = 9.0
    for p in model.parameters():
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.data, np.full(p.shape, 0.5, dtype=np.float32))


def test_load_state_dict_accepts_tensors_as_values():
    source, target = nn.mlp([2, 3, 1], rng=0), nn.mlp([2, 3, 1], rng=1)
    target.load_state_dict({name: tg.Tensor(p.data) for name, p in source.named_parameters()})
    assert_same_values(snapshot(source), target)


def _state_of_another_model() -> dict[str, np.ndarray]:
    return nn.mlp([3, 4, 2], rng=99).state_dict()


@pytest.mark.parametrize("change, named", [
    (lambda s: s.pop("2.bias"), "2.bias"),                                # missing
    (lambda s: s.pop("0.weight"), "0.weight"),                            # missing, first
    (lambda s: s.update({"1.weight": np.ones((4, 4))}), "1.weight"),      # unexpected
    (lambda s: s.update({"2.weight": np.ones((2, 4))}), "2.weight"),      # transposed shape
    (lambda s: s.update({"2.bias": np.ones((1, 2))}), "2.bias"),          # extra axis
])
def test_a_mismatched_state_raises_naming_it_and_changes_no_parameter(change, named):
    model = nn.mlp([3, 4, 2], rng=0)
    before = snapshot(model)
    state = _state_of_another_model()
    change(state)
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        model.load_state_dict(state)
    # including 0.weight and 0.bias, which come before the bad entry and would load fine
    assert_same_values(before, model)


def test_the_first_of_several_shape_mismatches_is_named():
    model = nn.mlp([3, 4, 2], rng=0)
    before = snapshot(model)
    state = _state_of_another_model()
    state["0.bias"] = np.ones(5)
    state["2.weight"] = np.ones((3, 3))
    with pytest.raises(ValueError, match=r"0\.bias"):
        model.load_state_dict(state)
    assert_same_values(before, model)


NON_NUMERIC = {"str": np.array(["a", "b"]), "object": np.array([1.0, 2.0], dtype=object),
               "complex": np.array([1 + 2j, 3j]),
               "datetime": np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")}


@pytest.mark.parametrize("value", list(NON_NUMERIC.values()), ids=list(NON_NUMERIC))
def test_a_non_numeric_value_in_the_state_is_a_type_error_and_changes_no_parameter(value):
    """A TypeError, as for non-numeric data anywhere in the package (Tensor, the losses),
    naming the entry and its dtype; the entries before it, which would load, are not loaded."""
    model = nn.mlp([3, 4, 2], rng=0)
    before = snapshot(model)
    state = _state_of_another_model()
    state["2.bias"] = value
    with pytest.raises(TypeError, match=r"load_state_dict: '2\.bias' .*numeric.*"
                                        + re.escape(str(value.dtype))):
        model.load_state_dict(state)
    assert_same_values(before, model)


# ---- training mode -------------------------------------------------------------------------------


def _all_modules(net: Net) -> list[nn.Module]:
    return [net, net.encoder, *net.blocks, net.head, *net.head.layers]


def test_train_and_eval_set_training_on_every_sub_module():
    net = Net()
    assert all(m.training for m in _all_modules(net))
    assert net.eval() is net
    assert not any(m.training for m in _all_modules(net))
    assert net.train() is net
    assert all(m.training for m in _all_modules(net))
    net.train(False)
    assert not any(m.training for m in _all_modules(net))
    net.blocks[0].train()  # a sub-tree alone
    assert net.blocks[0].training and not net.training and not net.blocks[2].training


# ---- Linear --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_shape", [(), (5,), (2, 3)])
def test_linear_computes_x_times_w_plus_b(batch_shape):
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 4, rng=1, dtype=np.float64)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (4,)
    layer.bias.data[...] = rng.standard_normal(4)  # the bias starts at zero; make it count
    x = rng.standard_normal((*batch_shape, 3))
    expected = x @ layer.weight.data + layer.bias.data
    y = layer(f64(x))
    assert y.shape == (*batch_shape, 4)
    np.testing.assert_allclose(y.data, expected, rtol=RTOL, atol=1e-15)


def test_linear_bias_starts_at_zero_and_the_default_dtype_is_float32():
    layer = nn.Linear(6, 2)
    np.testing.assert_array_equal(layer.bias.data, np.zeros(2))
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    tg.set_default_dtype(np.float64)
    assert nn.Linear(6, 2).weight.dtype == np.float64


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False, rng=0, dtype=np.float64)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(layer(f64(x)).data, x @ layer.weight.data, rtol=RTOL)


# With N = 500 · 400 = 200,000 independent normal draws, the sample standard deviation has a
# relative standard error of 1/√(2N) ≈ 0.0016, so rtol 0.01 is over six standard errors (and the
# seed is fixed, so the test is deterministic). The two scales differ by 34%, far outside it.
# The sample mean has standard error std/√N; kurtosis (3 for a normal, 1.8 for a uniform of the
# same std) has standard error √(24/N) ≈ 0.011, and we allow 0.1.
@pytest.mark.parametrize("init, expected_std", [
    ("he", np.sqrt(2 / 500)),
    ("xavier", np.sqrt(2 / (500 + 400))),
    (None, np.sqrt(2 / (500 + 400))),  # the default is Xavier
])
def test_initialisation_draws_normal_weights_with_the_documented_std(init, expected_std):
    kwargs = {} if init is None else {"init": init}
    w = nn.Linear(500, 400, rng=0, **kwargs).weight.data.astype(np.float64).ravel()
    n = w.size
    assert abs(w.mean()) < 6 * expected_std / np.sqrt(n)
    np.testing.assert_allclose(w.std(), expected_std, rtol=0.01)
    kurtosis = np.mean((w - w.mean()) ** 4) / w.var() ** 2
    assert abs(kurtosis - 3.0) < 0.1


@pytest.mark.parametrize("init", ["uniform", "HE", "", "kaiming"])
def test_an_unknown_init_raises_value_error(init):
    with pytest.raises(ValueError, match="init"):
        nn.Linear(3, 2, init=init)


def test_the_same_seed_gives_the_same_weights_and_another_seed_different_ones():
    a = nn.Linear(5, 3, rng=7).weight.data
    b = nn.Linear(5, 3, rng=7).weight.data
    c = nn.Linear(5, 3, rng=8).weight.data
    d = nn.Linear(5, 3, rng=np.random.default_rng(7)).weight.data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d)
    assert not np.array_equal(a, c)
    m1, m2 = nn.mlp([4, 6, 3], rng=3), nn.mlp([4, 6, 3], rng=3)
    for (n1, p1), (n2, p2) in zip(m1.named_parameters(), m2.named_parameters()):
        assert n1 == n2
        np.testing.assert_array_equal(p1.data, p2.data)


# ---- Parameter -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], np.float32),
    (np.arange(3), np.float32),                 # integers become the default float dtype
    (np.ones((2, 2), dtype=np.float64), np.float64),
    (3.5, np.float32),
])
def test_a_parameter_is_a_leaf_that_requires_grad(data, dtype):
    p = nn.Parameter(data)
    assert isinstance(p, tg.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert p.dtype == dtype
    np.testing.assert_array_equal(p.data, np.asarray(data, dtype=dtype))


def test_a_parameter_made_from_a_graph_result_is_a_new_leaf():
    x = f64([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.requires_grad and p.is_leaf
    np.testing.assert_array_equal(p.data, [2.0, 4.0])
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.data, [4.0, 8.0])
    assert x.grad is None  # cut from the graph it came from


# ---- activation layers ---------------------------------------------------------------------------


X = np.random.default_rng(5).standard_normal((4, 6)) * 3


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("layer, formula", [
    (nn.ReLU(), lambda x: np.where(x > 0, x, 0.0)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))),
    (nn.Softmax(), lambda x: _softmax(x, -1)),
    (nn.Softmax(axis=0), lambda x: _softmax(x, 0)),
], ids=["relu", "sigmoid", "tanh", "softmax", "softmax-axis0"])
def test_activation_layers_match_their_formulas(layer, formula):
    y = layer(f64(X))
    assert y.shape == X.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.data, formula(X), rtol=1e-12, atol=1e-15)
    assert layer.parameters() == []


def test_softmax_layer_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]])
    y = nn.Softmax()(f64(x)).data
    np.testing.assert_allclose(y, _softmax(x, -1), rtol=1e-12)
    assert np.all(np.isfinite(y))


# ---- mlp -----------------------------------------------------------------------------------------


def test_mlp_alternates_linear_layers_and_activations():
    model = nn.mlp([64, 32, 16, 10], rng=0)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    shapes = [model[i].weight.shape for i in (0, 2, 4)]
    assert shapes == [(64, 32), (32, 16), (16, 10)]
    assert [type(layer) for layer in nn.mlp([4, 3, 2], activation=nn.Tanh).layers] == [
        nn.Linear, nn.Tanh, nn.Linear,
    ]
    assert [type(layer) for layer in nn.mlp([4, 2]).layers] == [nn.Linear]
    assert nn.mlp([4, 2], dtype=np.float64)[0].weight.dtype == np.float64


# The same statistics as for Linear: a layer of N weights has sample std within 6/√(2N) of the
# truth (rtol 0.03 covers N = 20,000, the smallest here). He and Xavier differ by at least 18%
# in every layer below, so the test tells them apart.
@pytest.mark.parametrize("activation, inits", [
    (nn.ReLU, ["he", "he", "xavier"]),
    (nn.Tanh, ["xavier", "xavier", "xavier"]),
    (nn.Sigmoid, ["xavier", "xavier", "xavier"]),
])
def test_mlp_uses_he_before_relu_and_xavier_on_the_last_layer(activation, inits):
    sizes = [400, 300, 200, 100]
    model = nn.mlp(sizes, activation=activation, rng=0)
    for k, init in enumerate(inits):
        n_in, n_out = sizes[k], sizes[k + 1]
        expected = np.sqrt(2 / n_in) if init == "he" else np.sqrt(2 / (n_in + n_out))
        w = model[2 * k].weight.data.astype(np.float64)
        np.testing.assert_allclose(w.std(), expected, rtol=0.03, err_msg=f"layer {k}")


def test_gradients_reach_every_parameter_of_an_mlp():
    model = nn.mlp([6, 5, 4, 3], rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((8, 6))
    (model(f64(x)) ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape and p.grad.dtype == np.float64, name
        assert np.any(p.grad.data != 0), name


def test_mlp_gradients_match_a_hand_written_backward_pass():
    model = nn.mlp([3, 4, 2], rng=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    model[0].bias.data[...] = rng.standard_normal(4) * 0.1
    model[2].bias.data[...] = rng.standard_normal(2) * 0.1
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    W1, b1 = model[0].weight.data.copy(), model[0].bias.data.copy()
    W2, b2 = model[2].weight.data.copy(), model[2].bias.data.copy()

    y = model(f64(x))
    loss = 0.5 * ((y - f64(t)) ** 2).sum()
    loss.backward()

    # forward and backward by hand: L = ½ Σ (y − t)², y = relu(x W1 + b1) W2 + b2
    h = x @ W1 + b1
    assert np.all(np.abs(h) > 1e-6)  # away from relu's kink
    a = np.maximum(h, 0.0)
    out = a @ W2 + b2
    d_out = out - t
    dW2, db2 = a.T @ d_out, d_out.sum(axis=0)
    d_h = (d_out @ W2.T) * (h > 0)
    dW1, db1 = x.T @ d_h, d_h.sum(axis=0)

    np.testing.assert_allclose(y.data, out, rtol=RTOL)
    np.testing.assert_allclose(loss.item(), 0.5 * np.sum(d_out**2), rtol=RTOL)
    for got, expected in [(model[0].weight, dW1), (model[0].bias, db1),
                          (model[2].weight, dW2), (model[2].bias, db2)]:
        np.testing.assert_allclose(got.grad.data, expected, rtol=1e-10, atol=1e-13)


def test_a_module_that_refers_back_to_its_parent_is_walked_once():
    class Child(nn.Module):
        def __init__(self, parent):
            self.parent = parent
            self.w = nn.Parameter(np.ones(2))

    class Parent(nn.Module):
        def __init__(self):
            self.b = nn.Parameter(np.zeros(3))
            self.child = Child(self)

    model = Parent()
    assert [name for name, _ in model.named_parameters()] == ["b", "child.w"]
    model.eval()
    assert not model.training and not model.child.training


def test_mlp_needs_two_sizes():
    with pytest.raises(ValueError, match="mlp: needs at least"):
        nn.mlp([5])
