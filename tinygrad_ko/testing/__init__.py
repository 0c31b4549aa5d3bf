"""Gradient checking for everyone: the tools tinygrad_ko tests itself with, for your own losses.

- ``numerical_grad(f, *inputs)``: central finite differences in float64;
- ``gradcheck(f, *inputs)``: autodiff against finite differences;
- ``assert_grad_matches(f, hand_grad, *inputs)``: autodiff against your hand-derived gradient;
- ``check_property(f, hand_grad, inputs)``: both checks over many inputs drawn by Hypothesis,
  shrinking a failure to a small counterexample;
- ``strategies``: Hypothesis strategies for shapes, arrays, probability rows, one-hot targets
  and labels (imported on first use: Hypothesis is needed only for it).

A failed check raises ``GradcheckError`` saying which input, the worst index, the autodiff value,
the expected value, the error and the tolerance.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_ko import mode
from tinygrad_ko.engine import gradients
from tinygrad_ko.tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient differs from what it was checked against."""


def _is_float(x: Any) -> bool:
    return np.asarray(x).dtype.kind == "f" or isinstance(x, float)


def _float64(x: Any) -> Any:
    """A float64 copy of a float input; other inputs (integer labels, ...) pass unchanged."""
    if isinstance(x, Tensor):
        x = x.data
    return np.array(x, dtype=np.float64) if _is_float(x) else x


def _scalar(out: Any, projection: np.ndarray | None) -> Tensor:
    """``out`` as one number: itself, or Σ projection·out for an output with several elements."""
    if not isinstance(out, Tensor):
        out = Tensor(np.asarray(out, dtype=np.float64))
    return out if projection is None else (out * projection).sum()


def _projection(f: Callable, inputs: Sequence[Any]) -> np.ndarray | None:
    """For an ``f`` with several outputs: a fixed random vector to contract them with, so that
    the check covers a vector-Jacobian product (any wrong entry changes it almost surely)."""
    with mode.no_grad():
        out = f(*(Tensor(x) if _is_float(x) else x for x in inputs))
    shape = np.shape(out.data if isinstance(out, Tensor) else out)
    if int(np.prod(shape)) == 1:
        return None
    return np.random.default_rng(0).standard_normal(shape)


def numerical_grad(f: Callable, *inputs: Any, eps: float = 1e-6) -> tuple[np.ndarray, ...]:
    """Central differences (f(x + eps) − f(x − eps)) / 2eps, element by element, in float64.

    ``f`` takes Tensors and returns one element. ``eps`` is an absolute step. Returns one array
    per input (integer inputs, such as labels, get an array of zeros: they are not varied).
    """
    arrays = [_float64(x) for x in inputs]

    def value() -> float:
        with mode.no_grad():
            out = f(*(Tensor(a) if _is_float(a) else a for a in arrays))
        return float(np.asarray(out.data if isinstance(out, Tensor) else out).reshape(()))

    grads = []
    for a in arrays:
        g = np.zeros(np.shape(a), dtype=np.float64)
        if _is_float(a):
            for i in np.ndindex(a.shape):
                original = a[i]
                a[i] = original + eps
                plus = value()
                a[i] = original - eps
                minus = value()
                a[i] = original
                g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return tuple(grads)


def autodiff_grad(f: Callable, *inputs: Any) -> tuple[np.ndarray, ...]:
    """The gradient of one-element ``f`` with respect to each float input, by backpropagation in
    float64 (integer inputs get zeros). No ``.grad`` is touched."""
    xs = [Tensor(a, requires_grad=True) if _is_float(a) else a for a in map(_float64, inputs)]
    out = _scalar(f(*xs), None)
    variables = [x for x in xs if isinstance(x, Tensor)]
    grads = iter(gradients(out, variables) if out.requires_grad else
                 [np.zeros(x.shape) for x in variables])
    return tuple(next(grads) if isinstance(x, Tensor) else np.zeros(np.shape(x)) for x in xs)


def _compare(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], atol: float, rtol: float,
             expected_name: str, inputs: Sequence[Any], positions: Sequence[int]) -> None:
    """Raise GradcheckError at the first input (numbered by ``positions``) whose gradient is off."""
    for k, g, e, x in zip(positions, got, expected, inputs):
        g, e = np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64)
        if g.shape != e.shape:
            raise GradcheckError(
                f"input {k}: autodiff gradient has shape {g.shape}, {expected_name} has shape "
                f"{e.shape}"
            )
        error = np.abs(g - e)
        tolerance = atol + rtol * np.abs(e)
        bad = ~(error <= tolerance)  # also catches nan
        if bad.any():
            excess = np.where(np.isnan(error), np.inf, error - tolerance)
            worst = tuple(int(i) for i in np.unravel_index(np.argmax(excess), e.shape))
            x = np.asarray(_float64(x))
            raise GradcheckError(
                f"input {k} (shape {e.shape}): gradient mismatch at index {worst} "
                f"({int(bad.sum())} of {e.size} elements off)\n"
                f"  input value  = {float(x[worst])!r}\n"
                f"  autodiff     = {float(g[worst])!r}\n"
                f"  {expected_name:<12} = {float(e[worst])!r}\n"
                f"  error        = {float(error[worst])!r} > tolerance {float(tolerance[worst])!r} "
                f"(atol={atol}, rtol={rtol})"
            )


def gradcheck(f: Callable, *inputs: Any, atol: float = 1e-5, rtol: float = 1e-4,
              eps: float = 1e-6) -> bool:
    """Check the autodiff gradient of ``f`` against central finite differences, in float64.

    ``f`` takes Tensors (float inputs become float64 Tensors; integer inputs such as labels pass
    unchanged). An ``f`` with several outputs is checked through a fixed random projection of
    them. Returns True, or raises ``GradcheckError`` naming the input, the worst index, both
    values, the error and the tolerance.
    """
    projection = _projection(f, inputs)

    def scalar_f(*xs: Any) -> Tensor:
        return _scalar(f(*xs), projection)

    _compare(autodiff_grad(scalar_f, *inputs), numerical_grad(scalar_f, *inputs, eps=eps),
             atol, rtol, "numerical", inputs, range(len(inputs)))
    return True


def assert_grad_matches(f: Callable, hand_grad: Callable, *inputs: Any,
                        argnums: int | Sequence[int] = 0, atol: float = 1e-12,
                        rtol: float = 1e-9) -> None:
    """Check the autodiff gradient of one-element ``f`` against ``hand_grad``, your derivation.

    ``hand_grad`` takes the same inputs as NumPy float64 arrays and returns d f / d input for
    the input ``argnums`` (a tuple of arrays when ``argnums`` is a tuple). Raises
    ``GradcheckError`` on a mismatch.
    """
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    auto = autodiff_grad(f, *inputs)
    hand = hand_grad(*(_float64(x) for x in inputs))
    hand = (hand,) if isinstance(argnums, int) else tuple(hand)
    if len(hand) != len(nums):
        raise GradcheckError(f"hand_grad returned {len(hand)} gradient(s) for argnums {argnums}")
    _compare([auto[i] for i in nums], hand, atol, rtol, "hand_grad", [inputs[i] for i in nums],
             nums)


@dataclass(frozen=True)
class PropertyReport:
    """What ``check_property`` found: how many inputs it tried, the largest absolute error of
    autodiff against the hand formula and against finite differences, and the verdict (with
    the failure message, which shows the shrunk counterexample)."""

    cases: int
    hand_error: float
    numeric_error: float
    passed: bool
    message: str = ""


def _show(args: Sequence[Any]) -> str:
    return ", ".join(np.array2string(np.asarray(_float64(a)), precision=17, separator=", ")
                     for a in args)


def check_property(f: Callable, hand_grad: Callable, inputs: Any, examples: int = 100,
                   argnums: int = 0, atol: float = 1e-12, rtol: float = 1e-10,
                   numeric: bool = True, numeric_atol: float = 1e-6, numeric_rtol: float = 1e-5,
                   raise_on_failure: bool = True, derandomize: bool | None = None
                   ) -> PropertyReport:
    """Property-check the gradient of ``f`` over ``examples`` inputs that Hypothesis draws.

    ``inputs`` is a Hypothesis strategy of argument tuples for ``f`` (see
    ``tg.testing.strategies``: ``regression_pairs()``, ``classification_pairs()``, ...). For each
    one, autodiff of ``f`` with respect to argument ``argnums`` must equal ``hand_grad`` (within
    ``atol + rtol·|expected|``) and, when ``numeric``, central finite differences. On a mismatch
    Hypothesis shrinks the inputs to a small counterexample, and the ``GradcheckError`` raised
    (or the report, with ``raise_on_failure=False``) shows it. ``derandomize=True`` draws the
    same inputs on every run (None: as the active Hypothesis profile says).
    """
    from hypothesis import HealthCheck, Verbosity, given, settings

    worst = {"cases": 0, "hand": 0.0, "numeric": 0.0}

    def check(args: tuple) -> None:
        worst["cases"] += 1
        auto = autodiff_grad(f, *args)[argnums]
        hand = np.asarray(hand_grad(*(_float64(a) for a in args)), dtype=np.float64)
        checks = [(hand, "hand_grad", "hand", atol, rtol)]
        if numeric:
            num = numerical_grad(f, *args)[argnums]
            checks.append((num, "numerical", "numeric", numeric_atol, numeric_rtol))
        for expected, label, key, a, r in checks:
            if expected.shape == auto.shape:
                error = float(np.max(np.abs(auto - expected), initial=0.0))
                worst[key] = max(worst[key], error) if error == error else float("nan")
            try:
                _compare([auto], [expected], a, r, label, [args[argnums]], [argnums])
            except GradcheckError as failure:
                raise GradcheckError(f"{failure}\n  counterexample: {_show(args)}") from None

    options = {} if derandomize is None else {"derandomize": derandomize}
    run = settings(max_examples=examples, deadline=None, database=None,
                   verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck), **options)(
        given(inputs)(check))
    try:
        run()
    except GradcheckError as failure:
        if raise_on_failure:
            raise
        return PropertyReport(worst["cases"], worst["hand"], worst["numeric"], False,
                              str(failure))
    return PropertyReport(worst["cases"], worst["hand"], worst["numeric"], True)


def __getattr__(name: str) -> Any:
    if name == "strategies":  # needs Hypothesis: imported only when asked for
        return importlib.import_module("tinygrad_ko.testing.strategies")
    raise AttributeError(f"module 'tinygrad_ko.testing' has no attribute {name!r}")


__all__ = ["GradcheckError", "PropertyReport", "assert_grad_matches", "autodiff_grad",
           "check_property", "gradcheck", "numerical_grad"]
