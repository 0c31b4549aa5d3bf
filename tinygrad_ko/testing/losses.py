"""The built-in losses with the inputs each is checked on: one table that
``python -m tinygrad_ko gradcheck`` and ``tests/test_losses.py`` both run.

Each entry pairs a loss of ``tinygrad_ko.losses`` with its hand-derived gradient (and Hessian,
where it is simple) from ``tinygrad_ko.losses.reference`` and a Hypothesis strategy of honest
inputs: probabilities bounded away from 0 for the cross entropies, y inside (0, 1) for BCE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tinygrad_ko import losses
from tinygrad_ko.losses import reference
from tinygrad_ko.testing import PropertyReport, check_property


@dataclass(frozen=True)
class LossCheck:
    name: str
    loss: Callable
    hand_grad: Callable
    inputs: Callable[[], Any]  # () -> a Hypothesis strategy of (y, t)
    hessian: Callable | None = None


def _strategies() -> Any:
    from tinygrad_ko.testing import strategies  # needs Hypothesis: imported when used

    return strategies


BUILTIN = [
    LossCheck("squared_error (se)", losses.se, reference.se_grad,
              lambda: _strategies().regression_pairs(), reference.se_hessian),
    LossCheck("mean_squared_error (mse)", losses.mse, reference.mse_grad,
              lambda: _strategies().regression_pairs(), reference.mse_hessian),
    LossCheck("cross_entropy_error (cee)", losses.cee, reference.cee_grad,
              lambda: _strategies().classification_pairs(), reference.cee_hessian),
    LossCheck("softmax_cross_entropy", losses.softmax_cross_entropy,
              reference.softmax_cross_entropy_grad,
              lambda: _strategies().classification_pairs(logits=True)),
    LossCheck("binary_cross_entropy (bce)", losses.bce, reference.bce_grad,
              lambda: _strategies().binary_pairs()),
]


def run(check: LossCheck, examples: int, derandomize: bool | None = None) -> PropertyReport:
    """Property-check one built-in loss; a failure is reported, not raised."""
    return check_property(check.loss, check.hand_grad, check.inputs(), examples=examples,
                          raise_on_failure=False, derandomize=derandomize)
