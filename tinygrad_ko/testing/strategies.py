"""Hypothesis strategies for gradient tests: the ones tinygrad_ko's own tests use.

Each argument that is a number may also be a strategy (``batch=st.integers(1, 8)``). Values are
float64 unless ``dtype`` says otherwise, finite, and drawn from the domain you give: choose it
honestly (``min_value`` > 0 for a log, ``avoid=(0.0,)`` for a kink) rather than loosening a
tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def _strategy(value: Any) -> st.SearchStrategy:
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes with ``min_dims``..``max_dims`` axes of length ``min_side``..``max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4,
                         max_side: int = 5) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 axes, missing leading
    axes), as NumPy's broadcasting rules allow."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda result: result.input_shapes)


def arrays(shape: Any = None, min_value: float = -10.0, max_value: float = 10.0,
           dtype: Any = np.float64, avoid: tuple[float, ...] = (),
           gap: float = 1e-3, unique: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of ``shape`` (a shape or a strategy of shapes; by default ``shapes()``) with
    values in [min_value, max_value], none closer than ``gap`` to a point of ``avoid`` (kinks).
    With ``unique`` the values are also at least ``gap`` apart (multiples of ``gap``), so that no
    two are tied, or nearly tied, at a max."""
    if unique:
        if not gap > 0:
            raise ValueError(f"arrays: unique=True needs gap > 0 (values are multiples of gap), "
                             f"got gap={gap}")
        elements = st.integers(math.ceil(min_value / gap), math.floor(max_value / gap)).map(
            lambda k: k * gap)
    else:
        elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                             allow_subnormal=False)
    elements = elements.filter(
        lambda v: min_value <= v <= max_value and all(abs(v - k) >= gap for k in avoid))
    return hnp.arrays(np.dtype(dtype), shapes() if shape is None else _strategy(shape),
                      elements=elements, unique=unique)


@st.composite
def probabilities(draw: Any, batch: Any = None, classes: Any = 10,
                  floor: float = 0.01) -> np.ndarray:
    """Rows on the probability simplex (non-negative, summing to 1), every entry at least
    ``floor`` / classes: bounded away from 0. Shape ``(batch, classes)``, or ``(classes,)`` when
    ``batch`` is None."""
    n = draw(_strategy(batch))
    k = draw(_strategy(classes))
    shape = (k,) if n is None else (n, k)
    weights = draw(hnp.arrays(np.float64, shape, elements=st.floats(floor, 1.0)))
    return weights / weights.sum(axis=-1, keepdims=True)


@st.composite
def labels(draw: Any, batch: Any = 4, classes: Any = 10) -> np.ndarray:
    """Integer class labels, shape ``(batch,)``, each in [0, classes)."""
    n = draw(_strategy(batch))
    k = draw(_strategy(classes))
    return draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))


@st.composite
def one_hot(draw: Any, batch: Any = None, classes: Any = 10) -> np.ndarray:
    """One-hot target rows: exactly one 1 per row, the rest 0. Shape ``(batch, classes)``, or
    ``(classes,)`` when ``batch`` is None."""
    n = draw(_strategy(batch))
    k = draw(_strategy(classes))
    index = draw(labels(1 if n is None else n, k))
    rows = np.eye(k)[index]
    return rows[0] if n is None else rows


# ---- (prediction, target) pairs for losses -------------------------------------------------------


@st.composite
def regression_pairs(draw: Any, shape: Any = None, low: float = -5.0,
                     high: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """``(y, t)`` of one shape (by default 1 to 3 axes, the first the batch), for SE and MSE."""
    shape = draw(shapes(min_dims=1, max_dims=3) if shape is None else _strategy(shape))
    return draw(arrays(shape, low, high)), draw(arrays(shape, low, high))


@st.composite
def classification_pairs(draw: Any, target: Any = None, batch: Any = None, classes: Any = None,
                         logits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(y, t)`` for a cross entropy: ``y`` probability rows (or logits in [-10, 10] with
    ``logits=True``) of shape ``(N, C)`` or ``(C,)``, and ``t`` one of ``target``: "one_hot",
    "probabilities" or "labels" (integers of shape ``(N,)``, or one label); any when None.

    ``batch`` and ``classes`` are numbers or strategies; None draws them (``batch``: a single
    ``(C,)`` sample or N in 1..8; ``classes``: 2..10). Ask for single samples only with
    ``batch=st.none()``."""
    kind = draw(st.sampled_from(["one_hot", "probabilities", "labels"]) if target is None
                else _strategy(target))
    n = draw(st.one_of(st.none(), st.integers(1, 8)) if batch is None else _strategy(batch))
    k = draw(st.integers(2, 10) if classes is None else _strategy(classes))
    shape = (k,) if n is None else (n, k)
    y = draw(arrays(shape, -10, 10)) if logits else draw(probabilities(n, k))
    if kind == "labels":
        t = draw(labels(1 if n is None else n, k))
        return y, (t[0] if n is None else t)
    return y, draw(one_hot(n, k) if kind == "one_hot" else probabilities(n, k))


@st.composite
def binary_pairs(draw: Any, shape: Any = None, margin: float = 0.01,
                 hard: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(y, t)`` for binary cross entropy: ``y`` in [margin, 1 − margin], ``t`` in [0, 1]
    (exactly 0 or 1 when ``hard``; either kind when None)."""
    shape = draw(shapes(min_dims=1, max_dims=3) if shape is None else _strategy(shape))
    y = draw(arrays(shape, margin, 1 - margin))
    if draw(st.booleans() if hard is None else _strategy(hard)):
        t = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0])))
    else:
        t = draw(arrays(shape, 0.0, 1.0))
    return y, t
