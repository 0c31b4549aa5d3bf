"""Checking a custom loss: copy this file next to your loss and change the imports.

    python -m pytest examples/test_custom_loss.py

Three checks, as tinygrad_ko checks its own losses: autodiff against the gradient you derived by
hand, against central finite differences, both over many random inputs (Hypothesis shrinks a
failure to a small counterexample), and a few values worked out by hand.
"""

import numpy as np
import pytest
from custom_loss import huber, huber_grad
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_ko as tg
from tinygrad_ko.testing import strategies as tgs


@st.composite
def pairs(draw):
    """(y, t) whose errors y − t stay off the kinks |y − t| = δ = 1 (an honest domain: the
    second derivative jumps there, which finite differences cannot follow)."""
    shape = draw(tgs.shapes(min_dims=1, max_dims=2))
    t = draw(tgs.arrays(shape, -5, 5))
    d = draw(tgs.arrays(shape, -3, 3, avoid=(-1.0, 1.0)))
    return t + d, t


def test_autodiff_matches_the_hand_derivation_and_finite_differences():
    report = tg.testing.check_property(huber, huber_grad, pairs(), examples=50)
    assert report.passed


@given(pairs())
def test_gradcheck(pair):
    assert tg.testing.gradcheck(huber, *pair)


def test_values_by_hand():
    # d = (0.5, −3): h = ½·0.25 = 0.125 and 1·(3 − 0.5) = 2.5, mean 1.3125.
    assert huber(tg.Tensor([0.5, -3.0]), np.zeros(2)).item() == pytest.approx(1.3125)
