"""Tests of ``tinygrad_ko.data``: the bundled digits (shape, dtype, value range, class counts,
known first samples, read from the package without the network), ``make_spiral`` (shapes,
geometry, seeding, errors) and ``DataLoader`` (each sample once per epoch, the partial last batch,
order, shuffling and its seeding, alignment of X and y, errors).

The digit facts are independent of the library: the UCI "Optical Recognition of Handwritten
Digits" test set, as scikit-learn distributes it, has 1,797 samples with the class counts below,
and its first sample is the zero shown in scikit-learn's documentation.
"""

from __future__ import annotations

import csv
import gzip
import io
import socket
from importlib import resources

import numpy as np
import pytest

import tinygrad_ko as tg
from tinygrad_ko.data import DataLoader, load_digits, make_spiral

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # digits 0..9
FIRST_DIGIT = np.array([
    [0, 0, 5, 13, 9, 1, 0, 0],
    [0, 0, 13, 15, 10, 15, 5, 0],
    [0, 3, 15, 2, 0, 11, 8, 0],
    [0, 4, 12, 0, 0, 8, 8, 0],
    [0, 5, 8, 0, 0, 9, 8, 0],
    [0, 4, 11, 0, 1, 12, 7, 0],
    [0, 2, 14, 5, 10, 12, 0, 0],
    [0, 0, 6, 13, 10, 0, 0, 0],
])



@pytest.fixture(scope="module")
def digits():
    return load_digits()


# ---- load_digits ---------------------------------------------------------------------------------


def test_digits_have_the_documented_shape_dtype_and_range(digits):
    X, y = digits
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float32 == tg.get_default_dtype()
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))  # whole pixel counts 0..16
    assert y.dtype.kind == "i"
    assert set(np.unique(y).tolist()) == set(range(10))


def test_each_digit_has_its_known_count(digits):
    _, y = digits
    assert [int(np.sum(y == d)) for d in range(10)] == DIGIT_COUNTS
    assert sum(DIGIT_COUNTS) == 1797


def test_the_first_samples_are_the_known_ones(digits):
    X, y = digits
    np.testing.assert_array_equal(X[0].reshape(8, 8), FIRST_DIGIT)
    np.testing.assert_array_equal(y[:10], np.arange(10))


def test_normalize_divides_by_16_into_the_unit_interval(digits):
    X, y = digits
    Xn, yn = load_digits(normalize=True)
    assert Xn.dtype == X.dtype
    assert Xn.min() == 0.0 and Xn.max() == 1.0
    np.testing.assert_array_equal(Xn, X / 16)  # a power of two: exact in any float dtype
    np.testing.assert_array_equal(yn, y)


def test_the_dtype_follows_the_default_float_dtype(digits):
    tg.set_default_dtype(np.float64)
    X, _ = load_digits()
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X, digits[0].astype(np.float64))


def test_each_call_returns_fresh_arrays(digits):
    X, y = load_digits()
    X[...] = -1
    y[...] = -1
    X2, y2 = load_digits()
    np.testing.assert_array_equal(X2, digits[0])
    np.testing.assert_array_equal(y2, digits[1])


def test_digits_come_from_the_packaged_file_without_the_network(monkeypatch, digits):
    def no_network(*args, **kwargs):
        raise AssertionError("load_digits tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    X, y = load_digits()

    # the bundled file, parsed here with the csv module: 64 pixels and the label on each row
    packaged = resources.files("tinygrad_ko.data").joinpath("digits.csv.gz")
    with gzip.open(io.BytesIO(packaged.read_bytes()), "rt") as text:
        rows = [[int(v) for v in row] for row in csv.reader(text) if row]
    table = np.array(rows)
    assert table.shape == (1797, 65)
    np.testing.assert_array_equal(X, table[:, :64])
    np.testing.assert_array_equal(y, table[:, 64])


# ---- make_spiral ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n, classes", [(100, 3), (1, 1), (7, 5), (50, 2)])
def test_spiral_shapes_and_labels(n, classes):
    X, y = make_spiral(n, classes, rng=0)
    assert X.shape == (n * classes, 2) and y.shape == (n * classes,)
    assert X.dtype == tg.get_default_dtype()
    assert y.dtype.kind == "i"
    assert [int(np.sum(y == c)) for c in range(classes)] == [n] * classes
    assert set(np.unique(y).tolist()) == set(range(classes))


def test_spiral_defaults_give_three_classes_of_one_hundred():
    X, y = make_spiral(rng=0)
    assert X.shape == (300, 2)
    assert np.bincount(y).tolist() == [100, 100, 100]


@pytest.mark.parametrize("noise", [0.0, 0.2, 5.0])
def test_spiral_points_lie_in_the_unit_disc(noise):
    # the noise moves each point's angle, not its radius, so no point leaves the disc; 1e-6
    # allows for rounding in float32
    X, _ = make_spiral(200, 4, noise=noise, rng=1)
    radius = np.hypot(X[:, 0].astype(np.float64), X[:, 1].astype(np.float64))
    assert radius.max() <= 1 + 1e-6
    assert radius.max() > 0.99  # the arms reach the edge


def test_every_arm_covers_the_same_radii_whatever_the_noise():
    # arms are rotations of one another, and the angle noise does not change any radius
    X0, y0 = make_spiral(60, 3, noise=0.0, rng=0)
    X1, y1 = make_spiral(60, 3, noise=1.0, rng=0)
    np.testing.assert_array_equal(y0, y1)
    r0, r1 = np.hypot(*X0.astype(np.float64).T), np.hypot(*X1.astype(np.float64).T)
    np.testing.assert_allclose(r1, r0, atol=1e-6)
    for c in (1, 2):
        np.testing.assert_allclose(np.sort(r0[y0 == c]), np.sort(r0[y0 == 0]), atol=1e-6)


def test_spiral_is_reproducible_with_a_seed_and_differs_with_another():
    X1, y1 = make_spiral(50, 3, rng=42)
    X2, y2 = make_spiral(50, 3, rng=42)
    X3, _ = make_spiral(50, 3, rng=43)
    X4, _ = make_spiral(50, 3, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(X1, X4)
    assert not np.allclose(X1, X3)


def test_without_noise_the_spiral_does_not_depend_on_the_seed():
    np.testing.assert_array_equal(make_spiral(30, 2, noise=0.0, rng=1)[0],
                                  make_spiral(30, 2, noise=0.0, rng=2)[0])


@pytest.mark.parametrize("kwargs", [
    {"n_per_class": 0}, {"n_per_class": -5}, {"classes": 0}, {"classes": -1},
], ids=str)
def test_spiral_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="make_spiral"):
        make_spiral(**kwargs)


# ---- DataLoader ----------------------------------------------------------------------------------


def indexed(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows that carry their own index, so any batch can be traced back: X[i] = (i, 10 i, i²)."""
    i = np.arange(n)
    return np.stack([i, 10 * i, i * i], axis=1).astype(np.float64), i


def epoch(loader: DataLoader) -> tuple[list[np.ndarray], list[np.ndarray]]:
    batches = list(loader)
    return [xb for xb, _ in batches], [yb for _, yb in batches]


@pytest.mark.parametrize("n, batch_size, sizes", [
    (10, 4, [4, 4, 2]),
    (12, 4, [4, 4, 4]),
    (5, 8, [5]),
    (3, 1, [1, 1, 1]),
    (1, 1, [1]),
])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch_and_the_last_partial_batch_is_kept(n, batch_size, sizes,
                                                                        shuffle):
    X, y = indexed(n)
    loader = DataLoader(X, y, batch_size, shuffle=shuffle, rng=0)
    assert len(loader) == len(sizes)
    for _ in range(3):  # iterable again, each epoch complete
        xs, ys = epoch(loader)
        assert [len(yb) for yb in ys] == sizes
        assert [len(xb) for xb in xs] == sizes
        assert sorted(np.concatenate(ys).tolist()) == list(range(n))


def test_batches_are_numpy_arrays_of_rows():
    X, y = indexed(6)
    xb, yb = next(iter(DataLoader(X, y, 4, shuffle=False)))
    assert isinstance(xb, np.ndarray) and isinstance(yb, np.ndarray)
    assert xb.shape == (4, 3) and yb.shape == (4,)
    assert xb.dtype == X.dtype and yb.dtype == y.dtype


def test_shuffle_false_keeps_the_order():
    X, y = indexed(10)
    xs, ys = epoch(DataLoader(X, y, 3, shuffle=False))
    np.testing.assert_array_equal(np.concatenate(ys), np.arange(10))
    np.testing.assert_array_equal(np.concatenate(xs), X)


@pytest.mark.parametrize("shuffle", [False, True])
def test_x_and_y_stay_aligned(shuffle):
    X, y = indexed(37)
    for xb, yb in DataLoader(X, y, 5, shuffle=shuffle, rng=3):
        np.testing.assert_array_equal(xb[:, 0], yb)
        np.testing.assert_array_equal(xb[:, 1], 10 * yb)
        np.testing.assert_array_equal(xb[:, 2], yb * yb)


def test_shuffle_reorders_and_draws_a_new_order_each_epoch():
    X, y = indexed(50)
    loader = DataLoader(X, y, 8, rng=0)  # shuffle is on by default
    orders = [np.concatenate(epoch(loader)[1]) for _ in range(3)]
    for order in orders:
        assert not np.array_equal(order, np.arange(50))
        assert sorted(order.tolist()) == list(range(50))
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])


def test_shuffling_is_reproducible_with_a_seed():
    X, y = indexed(40)

    def three_epochs(rng):
        loader = DataLoader(X, y, 6, shuffle=True, rng=rng)
        return [np.concatenate(epoch(loader)[1]) for _ in range(3)]

    same = three_epochs(7), three_epochs(7), three_epochs(np.random.default_rng(7))
    for a, b, c in zip(*same):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    other = three_epochs(8)
    assert not all(np.array_equal(a, b) for a, b in zip(same[0], other))


def test_a_loader_accepts_lists_and_multidimensional_samples():
    images = np.arange(6 * 2 * 2).reshape(6, 2, 2)
    labels = [0, 1, 2, 3, 4, 5]
    batches = list(DataLoader(images, labels, 4, shuffle=False))
    assert [xb.shape for xb, _ in batches] == [(4, 2, 2), (2, 2, 2)]
    np.testing.assert_array_equal(batches[1][0], images[4:])
    np.testing.assert_array_equal(batches[1][1], [4, 5])


def test_mismatched_lengths_raise_value_error():
    with pytest.raises(ValueError, match=r"10.*9|9.*10"):
        DataLoader(np.zeros((10, 2)), np.zeros(9), 4)


@pytest.mark.parametrize("batch_size", [0, -1])
def test_a_batch_size_below_one_raises_value_error(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((10, 2)), np.zeros(10), batch_size)
