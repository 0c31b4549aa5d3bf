"""Convolution and pooling beyond the op database (test_ops.py checks their values against loops
and their gradients against finite differences): the errors, written by hand examples, and the
layers of ``tg.nn``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_ko as tg


def image(*shape: int) -> tg.Tensor:
    return tg.Tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape),
                     requires_grad=True)


# ---- by hand -------------------------------------------------------------------------------------


def test_a_2x2_kernel_on_a_3x3_image_by_hand() -> None:
    """x = [[0 1 2] [3 4 5] [6 7 8]], W = [[1 0] [0 1]] (the diagonal): each output is a window's
    top-left plus bottom-right, 0+4, 1+5, 3+7, 4+8; each x is counted by as many windows as
    hold it on their diagonal: dL/dx for L = Σ y is [[1 1 0] [1 2 1] [0 1 1]]."""
    x = image(1, 1, 3, 3)
    w = tg.Tensor(np.array([[[[1.0, 0.0], [0.0, 1.0]]]]), requires_grad=True)
    y = tg.conv2d(x, w)
    np.testing.assert_array_equal(y.data, [[[[4.0, 6.0], [10.0, 12.0]]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1, 1, 0], [1, 2, 1], [0, 1, 1]]]])
    np.testing.assert_array_equal(w.grad.data, [[[[0 + 1 + 3 + 4, 1 + 2 + 4 + 5],
                                                   [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]]]])


def test_max_pool_ties_split_the_gradient_and_avg_pool_counts_the_padding() -> None:
    x = tg.Tensor(np.array([[[[1.0, 3.0], [3.0, 2.0]]]]), requires_grad=True)
    tg.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 0.5], [0.5, 0]]]])
    # a 2×2 window at padding 1 over one pixel holds three zeros: the mean is a quarter of it
    one = tg.Tensor(np.full((1, 1, 1, 1), 8.0), requires_grad=True)
    np.testing.assert_array_equal(tg.avg_pool2d(one, 2, 1, 1).data, np.full((1, 1, 2, 2), 2.0))


def test_conv_transpose2d_is_the_adjoint_of_conv2d_in_its_input() -> None:
    """⟨conv2d(z, W), x⟩ = ⟨z, conv_transpose2d(x, W)⟩ with the same W, stride and padding."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2, 3, 3))  # conv2d: 2 → 3 channels; transposed: 3 → 2
    z = rng.standard_normal((2, 2, 7, 7))
    y = tg.conv2d(z, w, stride=2, padding=1)
    x = rng.standard_normal(y.shape)
    back = tg.conv_transpose2d(x, w, stride=2, padding=1)
    assert back.shape == z.shape
    np.testing.assert_allclose((y.data * x).sum(), (z * back.data).sum(), rtol=1e-12)


def test_float32_stays_float32_through_a_conv_layer_and_its_gradients() -> None:
    layer = tg.nn.Conv2d(2, 3, 3, padding=1, rng=0)
    x = tg.Tensor(np.ones((1, 2, 4, 4), np.float32), requires_grad=True)
    y = tg.max_pool2d(layer(x), 2)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == layer.weight.grad.dtype == np.float32


# ---- errors: named, with the shapes, before any work ---------------------------------------------


@pytest.mark.parametrize(("call", "message"), [
    (lambda: tg.conv2d(image(1, 2, 4, 4), image(3, 1, 3, 3)),
     r"conv2d: the input has 2 channels but the weight expects 1 \(input shape \(1, 2, 4, 4\), "
     r"weight shape \(3, 1, 3, 3\)\)"),
    (lambda: tg.conv2d(image(1, 1, 2, 2), image(1, 1, 3, 3)),
     r"conv2d: the kernel \(3, 3\) is larger than the padded input \(2, 2\) \(input shape "
     r"\(1, 1, 2, 2\), padding \(0, 0\)\)"),
    (lambda: tg.conv2d(image(2, 4, 4), image(1, 2, 3, 3)),
     r"conv2d: the input must be 4-D \(N, C, H, W\), got shape \(2, 4, 4\)"),
    (lambda: tg.conv2d(image(1, 1, 4, 4), image(2, 1, 3, 3), image(3)),
     r"conv2d: the bias must have shape \(2,\), got \(3,\)"),
    (lambda: tg.max_pool2d(image(1, 1, 4), 2), r"max_pool2d: the input must be 4-D"),
    (lambda: tg.max_pool2d(image(1, 1, 4, 4), 2, padding=2),
     r"max_pool2d: padding \(2, 2\) must be at most half the kernel \(2, 2\)"),
    (lambda: tg.avg_pool2d(image(1, 1, 4, 4), 0), r"avg_pool2d: kernel_size must be an int >= 1"),
    (lambda: tg.im2col(image(1, 1, 4, 4), 2, stride=0), r"im2col: stride must be an int >= 1"),
    (lambda: tg.col2im(image(4, 5), (1, 1, 3, 3), 2),
     r"col2im: cols must have shape \(4, 4\) for input_shape \(1, 1, 3, 3\)"),
    (lambda: tg.conv_transpose2d(image(1, 2, 3, 3), image(3, 1, 2, 2)),
     r"conv_transpose2d: the input has 2 channels but the weight expects 3"),
    (lambda: tg.nn.Conv2d(1, 2, 3)(image(1, 3, 5, 5)),
     r"conv2d: the input has 3 channels but the weight expects 1"),
], ids=["channels", "kernel", "3-D", "bias", "pool-3-D", "pool-padding", "kernel-0", "stride-0",
        "col2im", "transpose-channels", "layer"])
def test_bad_input_is_a_value_error_naming_the_function_and_the_shapes(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ---- layers --------------------------------------------------------------------------------------


def test_conv2d_layer_is_he_initialized_and_names_its_parameters() -> None:
    layer = tg.nn.Conv2d(8, 64, 3, rng=0)
    assert layer.weight.shape == (64, 8, 3, 3) and layer.bias.shape == (64,)
    assert abs(layer.weight.data.std() - np.sqrt(2 / (8 * 9))) < 0.02  # He: √(2 / fan_in)
    np.testing.assert_array_equal(layer.bias.data, 0)
    assert [name for name, _ in tg.nn.Sequential(layer).named_parameters()] == ["0.weight",
                                                                                "0.bias"]
    assert tg.nn.Conv2d(1, 1, 1, bias=False).bias is None


def test_a_small_cnn_maps_images_to_class_scores_through_every_layer() -> None:
    model = tg.nn.Sequential(
        tg.nn.Conv2d(1, 4, 3, padding=1, rng=0), tg.nn.LeakyReLU(0.1), tg.nn.MaxPool2d(2),
        tg.nn.ConvTranspose2d(4, 2, 2, stride=2, rng=1), tg.nn.AvgPool2d(2),
        tg.nn.Flatten(), tg.nn.Linear(2 * 4 * 4, 3, rng=2))
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8))
    scores = model(x)
    assert scores.shape == (5, 3)
    tg.losses.softmax_cross_entropy(scores, np.array([0, 1, 2, 0, 1])).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    assert tg.testing.gradcheck(lambda w: tg.conv2d(x[:2], w, padding=1).sum(),
                                tg.Tensor(model.layers[0].weight.data.astype(np.float64)))


def test_flatten_keeps_the_batch_axis() -> None:
    assert tg.nn.Flatten()(image(2, 3, 4, 5)).shape == (2, 60)
    with pytest.raises(ValueError, match="Flatten: the input needs a batch axis"):
        tg.nn.Flatten()(tg.Tensor(1.0))


# ---- dropout -------------------------------------------------------------------------------------


def test_dropout_zeroes_with_probability_p_and_scales_the_rest_and_so_does_its_gradient() -> None:
    x = tg.Tensor(np.full(20_000, 2.0), requires_grad=True)
    y = tg.dropout(x, 0.25, rng=np.random.default_rng(0))
    expected_keep = np.random.default_rng(0).random(20_000) >= 0.25  # the same draw, by hand
    np.testing.assert_array_equal(y.data, np.where(expected_keep, 2.0 / 0.75, 0.0))
    assert abs((y.data == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.where(expected_keep, 1 / 0.75, 0.0))
    assert tg.dropout(x, 0.5, training=False) is x and tg.dropout(x, 0.0) is x
    np.testing.assert_array_equal(tg.dropout(x, 1.0).data, 0.0)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got 1.5"):
        tg.dropout(x, 1.5)


def test_compiled_dropout_draws_a_fresh_mask_each_call_the_same_as_eager() -> None:
    """With generators seeded alike, eager and compiled calls draw the same masks, call after
    call; two calls draw different masks (nothing baked in)."""
    def step(x: Any, rng: Any) -> tg.Tensor:
        return tg.dropout(x, 0.5, rng=rng) * 1.0

    x = np.ones(64)
    eager_rng, compiled_rng = np.random.default_rng(7), np.random.default_rng(7)
    compiled = tg.compile(lambda x: step(x, compiled_rng))
    masks = []
    for _ in range(3):
        expected = step(tg.Tensor(x), eager_rng).data
        got = compiled(x).data
        np.testing.assert_array_equal(got, expected)
        masks.append(got)
    assert not np.array_equal(masks[0], masks[1])
    assert "kernels.dropout_mask" in compiled.source


def test_dropout_layer_follows_train_and_eval() -> None:
    model = tg.nn.Sequential(tg.nn.Linear(4, 4, rng=0), tg.nn.Dropout(0.5, rng=1))
    x = np.ones((2, 4))
    assert (model(x).data == 0).any()
    model.eval()
    assert not model.layers[1].training
    np.testing.assert_array_equal(model(x).data, model.layers[0](x).data)
    model.train()
    assert model.layers[1].training


def test_a_compiled_model_follows_train_and_eval_as_eager() -> None:
    """The training mode is Python control flow, fixed in a trace: a compiled function is
    traced again when a mode it read changes, so it never keeps dropping after eval()."""
    def model() -> tg.nn.Module:  # (twins: their generators draw the same masks, call by call)
        return tg.nn.Sequential(tg.nn.Linear(4, 4, rng=0), tg.nn.Dropout(0.5, rng=1))

    eager, compiled = model(), model()
    forward = tg.compile(lambda x: compiled(x))
    x = np.ones((3, 4))
    for training in (True, True, False, True):
        eager.train(training), compiled.train(training)
        y = forward(x).data
        np.testing.assert_array_equal(y, eager(x).data)
        assert (y == 0).any() == training

    def then_eval(net: tg.nn.Module) -> Any:  # reads the mode, then changes it
        return lambda x: (net(x) * 1, net.eval())[0]

    eager, compiled = model(), model()
    step, compiled_step = then_eval(eager), tg.compile(then_eval(compiled))
    for _ in range(3):  # dropping at the first call only
        np.testing.assert_array_equal(compiled_step(x).data, step(x).data)
    assert not compiled.training

    traces = []

    @tg.compile
    def train_step(x: Any) -> tg.Tensor:  # sets the mode before reading it
        traces.append(1)
        compiled.train()
        return compiled(x)

    for _ in range(3):
        train_step(x)
        compiled.eval()
    assert len(traces) == 1  # (the mode before the call does not matter to it)


# ---- batch normalization -------------------------------------------------------------------------


def bn_reference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                 var: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    view = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(view)) / np.sqrt(var.reshape(view) + eps) * gamma.reshape(view) \
        + beta.reshape(view)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 5)])
def test_batch_norm_training_uses_the_batch_and_updates_the_running_statistics(shape) -> None:
    """PyTorch's rule, written out: normalize with the biased batch variance; running ←
    0.9 running + 0.1 statistic, with the unbiased variance (n / (n − 1))."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 2
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = np.full(3, 0.5), np.full(3, 2.0)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    n = x.size // 3
    y = tg.batch_norm(tg.Tensor(x), tg.Tensor(gamma), tg.Tensor(beta), running_mean,
                      running_var, training=True)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    np.testing.assert_allclose(y.data, bn_reference(x, gamma, beta, mean, var), rtol=1e-12)
    np.testing.assert_allclose(running_mean, 0.9 * 0.5 + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(running_var, 0.9 * 2.0 + 0.1 * var * n / (n - 1), rtol=1e-12)
    evaluated = tg.batch_norm(x, gamma, beta, running_mean, running_var, training=False)
    np.testing.assert_allclose(np.asarray(evaluated),
                               bn_reference(x, gamma, beta, running_mean, running_var),
                               rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients_match_finite_differences(training: bool) -> None:
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    gamma = tg.Tensor(rng.standard_normal(2), requires_grad=True)
    beta = tg.Tensor(rng.standard_normal(2), requires_grad=True)
    mean, var = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    assert tg.testing.gradcheck(
        lambda x, g, b: tg.batch_norm(x, g, b, mean.copy(), var.copy(), training), x, gamma, beta)


def test_batch_norm_layers_save_their_statistics_and_follow_train_and_eval() -> None:
    model = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 3, rng=0), tg.nn.BatchNorm2d(2),
                             tg.nn.Flatten(), tg.nn.Linear(2 * 2 * 2, 3, rng=1),
                             tg.nn.BatchNorm1d(3))
    x = np.random.default_rng(2).standard_normal((5, 1, 4, 4)).astype(np.float32)
    model(x)
    state = model.state_dict()
    assert {"1.running_mean", "1.running_var", "4.running_mean", "4.running_var"} <= set(state)
    assert all(p.requires_grad for p in model.parameters())  # the buffers are not trained
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var",
                                                          "4.running_mean", "4.running_var"]
    model.eval()
    before = model(x).data
    other = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 3, rng=5), tg.nn.BatchNorm2d(2), tg.nn.Flatten(),
                             tg.nn.Linear(2 * 2 * 2, 3, rng=6), tg.nn.BatchNorm1d(3)).eval()
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(x).data, before)
    assert all(not m.training for m in other.layers)
    tg.optim.SGD(model.parameters(), lr=0.1)  # accepted: no buffer among them
    with pytest.raises(ValueError, match=r"BatchNorm2d: the input must be 4-D, got shape \(5, 2\)"):
        tg.nn.BatchNorm2d(2)(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"batch_norm: gamma must have shape \(2,\)"):
        tg.batch_norm(np.ones((3, 2)), np.ones(3), np.zeros(2), np.zeros(2), np.ones(2), True)


def test_a_compiled_training_step_updates_the_running_statistics_as_eager() -> None:
    """Training-mode batch norm compiles: after every call the compiled step has written the
    running statistics into the same arrays, with eager's values, and given eager's gradients;
    after eval() it is traced again and normalizes with them."""
    def model() -> tg.nn.Module:
        return tg.nn.Sequential(tg.nn.Linear(3, 4, rng=0, dtype=np.float64),
                                tg.nn.BatchNorm1d(4, dtype=np.float64), tg.nn.ReLU(),
                                tg.nn.Linear(4, 2, rng=1, dtype=np.float64))

    def training_step(net: tg.nn.Module) -> Any:
        def step(x: Any, t: Any) -> tg.Tensor:
            loss = tg.losses.mean_squared_error(net(x), t)
            loss.backward()
            return loss
        return step

    eager, compiled = model(), model()
    step, compiled_step = training_step(eager), tg.compile(training_step(compiled))
    arrays = [b.data for _, b in compiled.named_buffers()]
    rng = np.random.default_rng(4)
    for _ in range(3):
        x, t = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
        np.testing.assert_allclose(compiled_step(x, t).data, step(x, t).data, rtol=1e-12)
        for (name, mine), (_, theirs) in zip(compiled.state_dict().items(),
                                             eager.state_dict().items()):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, err_msg=name)
        for mine, theirs in zip(compiled.parameters(), eager.parameters()):
            np.testing.assert_allclose(mine.grad.data, theirs.grad.data, rtol=1e-12)
    assert [b.data for _, b in compiled.named_buffers()] == arrays  # the same arrays, changed
    assert all(a is b.data for a, (_, b) in zip(arrays, compiled.named_buffers()))
    assert "written into" in compiled_step.source
    forward = tg.compile(lambda x: compiled(x))
    x = rng.standard_normal((5, 3))
    before = np.array(compiled.layers[1].running_mean.data)
    np.testing.assert_allclose(forward(x).data, eager(x).data, rtol=1e-12)  # training mode:
    assert not np.array_equal(compiled.layers[1].running_mean.data, before)  # an update
    compiled.eval(), eager.eval()
    np.testing.assert_allclose(forward(x).data, eager(x).data, rtol=1e-12)


def test_a_failed_compile_leaves_the_running_statistics_as_they_were() -> None:
    """Whether the trace fails (``.item()``) or the code cannot be made from it (an array
    returned), after batch_norm has updated the statistics in the trace."""
    layer = tg.nn.BatchNorm1d(2, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((6, 2))
    for failing, message in ((lambda x: layer(x).sum().item(), r"item\(\) on a tensor"),
                             (lambda x: (layer(x), np.zeros(1)), "returned a NumPy array")):
        with pytest.raises(tg.CompileError, match=message):
            tg.compile(failing)(x)
        np.testing.assert_array_equal(layer.running_mean.data, [0.0, 0.0])
        np.testing.assert_array_equal(layer.running_var.data, [1.0, 1.0])
    running = np.zeros(2), np.ones(2)  # arrays read from outside: nothing to update them in
    with pytest.raises(tg.CompileError, match=r"give them as Tensors .* or as arguments"):
        tg.compile(lambda x: tg.batch_norm(x, np.ones(2), np.zeros(2), *running, True))(x)
    np.testing.assert_array_equal(running[0], [0.0, 0.0])
    step = tg.compile(lambda x, mean, var: tg.batch_norm(x, np.ones(2), np.zeros(2), mean, var,
                                                         True))
    step(x, *running)
    step(x, *running)  # arguments: updated in place, as eagerly
    expected = np.zeros(2), np.ones(2)
    for _ in range(2):
        tg.batch_norm(x, np.ones(2), np.zeros(2), *expected, True)
    np.testing.assert_allclose(running, expected, rtol=1e-12)


def test_running_statistics_of_another_dtype_or_made_outside_are_updated_as_eager() -> None:
    """float32 statistics of a float64 input, read after the update (a second call of the same
    layer in one step): the values the array holds, in its dtype. Statistics that are results of
    operations made outside the function (not leaves) are updated too."""
    def run(compiled: bool) -> list:
        layer = tg.nn.BatchNorm1d(3, dtype=np.float32)
        p = tg.Tensor(np.zeros(3), requires_grad=True)
        mean, var = p * 1, p + 1  # (results of operations, from outside)

        def step(x: Any) -> tg.Tensor:
            y = layer(layer(x)) + tg.batch_norm(x, np.ones(3), np.zeros(3), mean, var, True)
            return y + layer.running_mean
        f = tg.compile(step) if compiled else step
        rng = np.random.default_rng(5)
        outs = [f(rng.standard_normal((4, 3))).data for _ in range(3)]
        return [*outs, layer.running_mean.data, layer.running_var.data, mean.data, var.data]

    for mine, theirs in zip(run(True), run(False)):
        assert mine.dtype == theirs.dtype
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
