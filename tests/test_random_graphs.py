"""Random programs of tinygrad_ko's operations, differentiated and checked end to end.

``programs()`` draws a random program: one to three float64 inputs and a list of instructions,
each an operation name, the indices of the earlier values it reads, and its parameters:
``("exp", 2)``, ``("mul", 3, 0)``, ``("sum", 4, (1,), True)``. Values 0, 1, ... are the inputs,
then one value per instruction. Any instruction may read any earlier value, an input included and
as often as it likes, so the graphs share subexpressions; binary operations broadcast values of
different shapes (the inputs' shapes are cut from one base shape, with axes dropped or set to 1);
reductions over random axes with and without ``keepdims``, softmax, indexing (slices with steps,
integers, ``None``, ``...``, boolean masks and integer arrays with repeats), reshape, transpose,
expand_dims, squeeze, broadcast_to, concatenate, stack, matmul and ``where`` move values between
shapes. The output is Σ (v · w).sum() over every value that no instruction reads (the last value
always among them), with fixed random weights w, so every value counts.

Hypothesis shrinks a failing program to a short one and prints it as data,
``Program(inputs=[...], steps=[...])``, each instruction followed by its code and its shape. Pasted
back (with ``from numpy import array``) it reproduces the failure: ``program(*tensors)`` is the
output, ``program.run(tensors)`` every value.

Domains are safe by construction, never by tolerance. The generator keeps an interval that
contains every value a program can take on its input domain (inputs in [-2, 2] or [0.5, 3]) and
emits an operation only where it is smooth and well conditioned: exp of values <= 3, log, sqrt and
non-integer powers of values >= 0.1, division by values at least 0.5 away from 0, and no value
outside [-40, 40]. The intervals are checked against the actual values of every generated program.
The operations with kinks (relu, abs, max, min, maximum, minimum, clip) are left out: a random
program cannot keep their arguments away from the kink, and finite differences across a kink
measure nothing. tests/test_ops.py checks each of them on inputs drawn away from its kinks, and
their conventions at the kink. ``astype`` is left out too (a float32 step ruins float64 finite
differences); tests/test_ops.py covers it.

For every program:

1. the gradient by backpropagation (``gradients`` and ``backward``, which must agree) equals
   central finite differences in float64, for every input;
2. Hessian-vector products through the recorded backward pass (``create_graph=True``) equal
   central differences of the gradient along the same direction;
3. the program run on plain NumPy arrays (where every tinygrad_ko function is plain NumPy) gives
   the values it gives on Tensors, to the last bit, and both agree with an independent NumPy
   reference (written here, with the textbook formulas);
4. run on float32 inputs, every value, the output, and the first and second derivatives stay
   float32, and agree with the float64 run to float32 precision.

The default (``ci``) profile checks 470 programs (200, 60, 150 and 60) in about 10 seconds, and
surveys 300 more to show that the generator reaches every operation, broadcasting, shared values
and repeated indices. The ``thorough`` profile scales every count by its ``max_examples`` (1000
instead of 40: 11,750 programs, about three minutes on two cores)::

    HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_random_graphs.py

``TINYGRAD_KO_RANDOM_GRAPHS_EXAMPLES=N`` sets the number of programs of the gradient test to N
(the others scale with it) in any profile::

    TINYGRAD_KO_RANDOM_GRAPHS_EXAMPLES=3000 python -m pytest tests/test_random_graphs.py
"""

from __future__ import annotations

import functools
import math
import os
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ko as tg
from tinygrad_ko.engine import gradients
from tinygrad_ko.testing import numerical_grad

MAX_INPUTS = 3
MAX_STEPS = 24
MAX_SIZE = 48  # elements in any value: finite differences cost two runs per input element
BOUND = 40.0  # no value leaves [-BOUND, BOUND]
INPUT_DOMAINS = ((-2.0, 2.0), (0.5, 3.0))
# The shapes the inputs are cut from. A pool rather than any shape: Hypothesis favours the first
# choice, and (2, 3) tells rows from columns where () or (1,) would hide transposition bugs.
BASE_SHAPES = ((2, 3), (3, 1, 2), (4,), (2, 3, 4), (3, 4), (1, 4), ())


def _examples(ci_count: int) -> int:
    """``ci_count`` programs in the ci profile, scaled by the active profile's max_examples, or
    by TINYGRAD_KO_RANDOM_GRAPHS_EXAMPLES (the count of the gradient test, 200 in ci)."""
    override = os.environ.get("TINYGRAD_KO_RANDOM_GRAPHS_EXAMPLES")
    if override:
        return max(1, int(override) * ci_count // 200)
    return max(1, ci_count * settings.default.max_examples // settings.get_profile("ci")
               .max_examples)


# ---- what the generator knows of a value: its shape and an interval holding it ------------------


class Known(NamedTuple):
    shape: tuple[int, ...]
    lo: float
    hi: float


def _size(shape: tuple) -> int:
    return math.prod(shape)


@functools.cache
def _broadcast(a: tuple, b: tuple) -> tuple | None:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None


def _count(shape: tuple, axis: Any) -> int:
    """How many elements a reduction over ``axis`` combines."""
    if axis is None:
        return _size(shape)
    return math.prod(shape[a] for a in ((axis,) if isinstance(axis, int) else axis))


def _corners(f: Callable, a: Known, b: Known) -> tuple[float, float]:
    """The interval of f(a, b) for an f monotone in each argument on the intervals given."""
    values = [f(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return min(values), max(values)


def _square(x: Known) -> tuple[float, float]:
    ends = sorted((x.lo * x.lo, x.hi * x.hi))
    return (0.0 if x.lo <= 0 <= x.hi else ends[0]), ends[1]


def _increasing(f: Callable) -> Callable:
    return lambda x, *_: (f(x.lo), f(x.hi))


def _same(x: Known, *_: Any) -> tuple[float, float]:
    return x.lo, x.hi


def _union(a: Known, b: Known, *_: Any) -> tuple[float, float]:
    return min(a.lo, b.lo), max(a.hi, b.hi)


def _power(x: Known, p: float) -> tuple[float, float]:
    if p == 2:
        return _square(x)
    ends = sorted((x.lo**p, x.hi**p))  # monotone: p odd, or a positive base
    return ends[0], ends[1]


def _logistic(v: float) -> float:
    return 1 / (1 + math.exp(-v))


# ---- where each operation is safe ---------------------------------------------------------------


def _anything(*_: Known) -> bool:
    return True


def _positive(x: Known) -> bool:
    return x.lo >= 0.1


def _away_from_zero(x: Known) -> bool:
    return x.lo >= 0.5 or x.hi <= -0.5


def _broadcastable(a: Known, b: Known) -> bool:
    return _broadcast(a.shape, b.shape) is not None


def _matmul_compatible(a: Known, b: Known) -> bool:
    if not a.shape or not b.shape:
        return False
    k = b.shape[0] if len(b.shape) == 1 else b.shape[-2]
    return a.shape[-1] == k and _broadcast(a.shape[:-2], b.shape[:-2]) is not None


def _concatenable(a: Known, b: Known) -> bool:
    return (len(a.shape) == len(b.shape) >= 1
            and sum(m != n for m, n in zip(a.shape, b.shape)) <= 1)


# ---- how parameters are drawn -------------------------------------------------------------------


def _no_params(draw: Any, *_: Known) -> tuple:
    return ()


def _one_of(*choices: Any) -> Callable:
    return lambda draw, *_: (draw(st.sampled_from(choices)),)


def _axes(ndim: int) -> st.SearchStrategy:
    """An axis argument: None, an int or a tuple of distinct axes (maybe ()), each maybe
    negative."""
    if ndim == 0:
        return st.none()
    axis = st.integers(-ndim, ndim - 1)
    return st.one_of(st.none(), axis, st.lists(axis, unique_by=lambda a: a % ndim,
                                                max_size=ndim).map(tuple))


def _reduction_params(draw: Any, x: Known) -> tuple:
    return draw(_axes(len(x.shape))), draw(st.booleans())


def _axis_params(draw: Any, x: Known) -> tuple:
    return (draw(st.integers(-len(x.shape), len(x.shape) - 1)),)


def _exponent_params(draw: Any, x: Known) -> tuple:
    return (draw(st.sampled_from((2.0, 3.0, 0.5, -1.0, 1.5) if _positive(x) else (2.0, 3.0))),)


@functools.cache
def _factorizations(size: int, max_dims: int = 3) -> tuple[tuple[int, ...], ...]:
    """Every shape of at most ``max_dims`` axes holding ``size`` elements."""
    found = [()] if size == 1 else []
    if max_dims:
        for first in range(1, size + 1):
            if size % first == 0:
                found += [(first, *rest) for rest in _factorizations(size // first, max_dims - 1)
                          if rest or size == first]
    return tuple(found)


def _reshape_params(draw: Any, x: Known) -> tuple:
    shape = list(draw(st.sampled_from(_factorizations(_size(x.shape)))))
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return (tuple(shape),)


def _broadcast_to_params(draw: Any, x: Known) -> tuple:
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    stretched = tuple(draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)
    return ((*lead, *stretched),)


def _squeeze_params(draw: Any, x: Known) -> tuple:
    ones = [a for a, n in enumerate(x.shape) if n == 1]
    return (draw(st.sampled_from([None, *ones, *(a - len(x.shape) for a in ones)])),)


def _concatenate_params(draw: Any, a: Known, b: Known) -> tuple:
    ndim = len(a.shape)
    differ = [k for k in range(ndim) if a.shape[k] != b.shape[k]]
    axes = [differ[0], differ[0] - ndim] if differ else list(range(-ndim, ndim))
    return (draw(st.sampled_from(axes)),)


def _basic_item(draw: Any, n: int) -> Any:
    """An index into an axis of length ``n`` that keeps at least one element: all of it, a slice
    (maybe with a step, maybe backwards) or one integer (maybe negative)."""
    kind = draw(st.sampled_from(["all", "slice", "int"]))
    if kind == "all":
        return slice(None)
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    start = draw(st.integers(0, n - 1))
    stop = draw(st.integers(start + 1, n))
    if draw(st.sampled_from([1, 2, -1])) == -1:  # the same elements, backwards
        return slice(stop - 1, start - 1 if start else None, -1)
    return slice(start, stop, draw(st.sampled_from([None, 2])))


def _basic_index_params(draw: Any, x: Known) -> tuple:
    """Basic items for some leading axes, maybe an Ellipsis and items for some trailing axes,
    maybe a new axis (None) anywhere."""
    ndim = len(x.shape)
    lead = draw(st.integers(1, ndim))
    items: list = [_basic_item(draw, n) for n in x.shape[:lead]]
    if draw(st.booleans()):
        trail = draw(st.integers(0, ndim - lead))
        items += [Ellipsis, *(_basic_item(draw, n) for n in x.shape[ndim - trail :])]
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return (tuple(items),)


def _gather_params(draw: Any, x: Known) -> tuple:
    """Basic items on the leading axes, then on the next axis either a list of integers that
    names one element twice (as k, or as k - n: the gradient must accumulate the repeats) or a
    boolean mask that keeps at least one element."""
    axis = draw(st.integers(0, len(x.shape) - 1))
    n = x.shape[axis]
    leading = [_basic_item(draw, m) for m in x.shape[:axis]]
    if draw(st.booleans()):
        keep = draw(st.integers(0, n - 1))
        mask = [k == keep or draw(st.booleans()) for k in range(n)]
        return ((*leading, mask),)
    picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3))
    again = picks[draw(st.integers(0, len(picks) - 1))]
    again = draw(st.sampled_from([again, again - n if again >= 0 else again + n]))
    picks.insert(draw(st.integers(0, len(picks))), again)
    return ((*leading, picks),)


# ---- the operations: how to run one, show it, bound it and when it is safe -----------------------


@dataclass(frozen=True)
class Op:
    arity: int  # operands: the leading arguments of the instruction after its name
    run: Callable[..., Any]  # (lib, *operands, *params) -> value; lib is tinygrad_ko or REF
    show: Callable[..., str]  # (*operand names, *params) -> code
    bounds: Callable[..., tuple[float, float]]  # (*operands as Known, *params) -> interval
    domain: Callable[..., bool] = _anything  # (*operands as Known) -> whether it is safe there
    params: Callable[..., tuple] = _no_params  # (draw, *operands as Known) -> parameters


def _call(name: str) -> Callable[..., str]:
    return lambda *args: f"{name}({', '.join(map(str, args))})"


def _show_reduction(name: str) -> Callable[..., str]:
    return lambda x, axis, keepdims: f"{name}({x}, axis={axis!r}, keepdims={keepdims})"


def _show_index(index: tuple) -> str:
    def item(i: Any) -> str:
        if isinstance(i, slice):
            text = ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step))
            return text.removesuffix(":")
        return "..." if i is Ellipsis else repr(i)
    return ", ".join(map(item, index))


def _mask(seed: int, a: Any, b: Any) -> np.ndarray:
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    return np.random.default_rng(seed).random(shape) < 0.5


def _constant(seed: int, x: Any) -> np.ndarray:
    """A fixed array of x's shape and dtype in [0.5, 1.5]: the left operand of ``array * x``."""
    return np.random.default_rng(seed).uniform(0.5, 1.5, np.shape(x)).astype(x.dtype)


def _matmul_bounds(a: Known, b: Known) -> tuple[float, float]:
    lo, hi = _corners(lambda u, v: u * v, a, b)
    k = a.shape[-1]
    return k * lo, k * hi


def _softmax_bounds(x: Known, axis: int) -> tuple[float, float]:
    return math.exp(x.lo - x.hi) / x.shape[axis], 1.0


OPS: dict[str, Op] = {
    # elementwise, two operands, broadcasting (first: the shrinker's and the generator's
    # favourite is the first operation, and x * x shares an operand)
    "mul": Op(2, lambda lib, a, b: a * b, lambda a, b: f"{a} * {b}",
              lambda a, b: _corners(lambda u, v: u * v, a, b), _broadcastable),
    "add": Op(2, lambda lib, a, b: a + b, lambda a, b: f"{a} + {b}",
              lambda a, b: (a.lo + b.lo, a.hi + b.hi), _broadcastable),
    "sub": Op(2, lambda lib, a, b: a - b, lambda a, b: f"{a} - {b}",
              lambda a, b: (a.lo - b.hi, a.hi - b.lo), _broadcastable),
    "div": Op(2, lambda lib, a, b: a / b, lambda a, b: f"{a} / {b}",
              lambda a, b: _corners(lambda u, v: u / v, a, b),
              lambda a, b: _broadcastable(a, b) and _away_from_zero(b)),
    "pow": Op(2, lambda lib, a, b: a**b, lambda a, b: f"{a} ** {b}",
              lambda a, b: _corners(lambda u, v: u**v, a, b),
              lambda a, b: _broadcastable(a, b) and _positive(a) and max(-b.lo, b.hi) <= 3),
    "where": Op(2, lambda lib, a, b, seed: lib.where(_mask(seed, a, b), a, b),
                lambda a, b, seed: f"where(mask({seed}), {a}, {b})", _union, _broadcastable,
                _one_of(0, 1, 2)),
    "matmul": Op(2, lambda lib, a, b: a @ b, lambda a, b: f"{a} @ {b}", _matmul_bounds,
                 _matmul_compatible),
    "concatenate": Op(2, lambda lib, a, b, axis: lib.concatenate([a, b], axis),
                      lambda a, b, axis: f"concatenate([{a}, {b}], {axis})", _union,
                      _concatenable, _concatenate_params),
    "stack": Op(2, lambda lib, a, b, axis: lib.stack([a, b], axis),
                lambda a, b, axis: f"stack([{a}, {b}], {axis})", _union,
                lambda a, b: a.shape == b.shape,
                lambda draw, a, b: (draw(st.integers(-len(a.shape) - 1, len(a.shape))),)),
    # elementwise, one operand
    "neg": Op(1, lambda lib, x: -x, lambda x: f"-{x}", lambda x: (-x.hi, -x.lo)),
    "square": Op(1, lambda lib, x: lib.square(x), _call("square"), _square),
    "exp": Op(1, lambda lib, x: lib.exp(x), _call("exp"), _increasing(math.exp),
              domain=lambda x: x.hi <= 3),
    "log": Op(1, lambda lib, x: lib.log(x), _call("log"), _increasing(math.log), _positive),
    "sqrt": Op(1, lambda lib, x: lib.sqrt(x), _call("sqrt"), _increasing(math.sqrt), _positive),
    "sin": Op(1, lambda lib, x: lib.sin(x), _call("sin"), lambda x: (-1.0, 1.0)),
    "cos": Op(1, lambda lib, x: lib.cos(x), _call("cos"), lambda x: (-1.0, 1.0)),
    "tanh": Op(1, lambda lib, x: lib.tanh(x), _call("tanh"), _increasing(math.tanh)),
    "sigmoid": Op(1, lambda lib, x: lib.sigmoid(x), _call("sigmoid"), _increasing(_logistic)),
    # with a Python number or a constant array, on either side
    "add_scalar": Op(1, lambda lib, x, c: x + c, lambda x, c: f"{x} + {c}",
                     lambda x, c: (x.lo + c, x.hi + c), params=_one_of(1.0, -0.5, 2.0)),
    "mul_scalar": Op(1, lambda lib, x, c: x * c, lambda x, c: f"{x} * {c}",
                     lambda x, c: tuple(sorted((x.lo * c, x.hi * c))),
                     params=_one_of(2.0, -0.5, 0.25)),
    "rsub_scalar": Op(1, lambda lib, x, c: c - x, lambda x, c: f"{c} - {x}",
                      lambda x, c: (c - x.hi, c - x.lo), params=_one_of(1.0, -2.0)),
    "rdiv_scalar": Op(1, lambda lib, x, c: c / x, lambda x, c: f"{c} / {x}",
                      lambda x, c: tuple(sorted((c / x.lo, c / x.hi))), _away_from_zero,
                      _one_of(1.0, -2.0)),
    "pow_scalar": Op(1, lambda lib, x, p: x**p, lambda x, p: f"{x} ** {p}", _power,
                     params=_exponent_params),
    "rpow_scalar": Op(1, lambda lib, x, c: c**x, lambda x, c: f"{c} ** {x}",
                      lambda x, c: tuple(sorted((c**x.lo, c**x.hi))),
                      domain=lambda x: max(-x.lo, x.hi) <= 4, params=_one_of(2.0, 0.5)),
    "rmul_array": Op(1, lambda lib, x, seed: _constant(seed, x) * x,
                     lambda x, seed: f"constant({seed}) * {x}",
                     lambda x, seed: (1.5 * x.lo if x.lo < 0 else 0.5 * x.lo,
                                      1.5 * x.hi if x.hi > 0 else 0.5 * x.hi),
                     params=_one_of(0, 1)),
    # reductions
    "sum": Op(1, lambda lib, x, axis, keepdims: lib.sum(x, axis=axis, keepdims=keepdims),
              _show_reduction("sum"),
              lambda x, axis, _: (_count(x.shape, axis) * x.lo, _count(x.shape, axis) * x.hi),
              params=_reduction_params),
    "mean": Op(1, lambda lib, x, axis, keepdims: lib.mean(x, axis=axis, keepdims=keepdims),
               _show_reduction("mean"), _same, params=_reduction_params),
    "var": Op(1, lambda lib, x, axis, keepdims: lib.var(x, axis=axis, keepdims=keepdims),
              _show_reduction("var"), lambda x, *_: (0.0, (x.hi - x.lo) ** 2 / 4),
              params=_reduction_params),
    "logsumexp": Op(1, lambda lib, x, axis, keepdims: lib.logsumexp(x, axis=axis,
                                                                     keepdims=keepdims),
                    _show_reduction("logsumexp"),
                    lambda x, axis, _: (x.lo + math.log(_count(x.shape, axis)),
                                        x.hi + math.log(_count(x.shape, axis))),
                    params=_reduction_params),
    "softmax": Op(1, lambda lib, x, axis: lib.softmax(x, axis=axis), _call("softmax"),
                  _softmax_bounds, lambda x: len(x.shape) >= 1, _axis_params),
    "log_softmax": Op(1, lambda lib, x, axis: lib.log_softmax(x, axis=axis), _call("log_softmax"),
                      lambda x, axis: (x.lo - x.hi - math.log(x.shape[axis]), 0.0),
                      lambda x: len(x.shape) >= 1, _axis_params),
    # shapes
    "reshape": Op(1, lambda lib, x, shape: lib.reshape(x, shape), _call("reshape"), _same,
                  params=_reshape_params),
    "transpose": Op(1, lambda lib, x, axes: lib.transpose(x, axes), _call("transpose"), _same,
                    lambda x: len(x.shape) >= 2,
                    lambda draw, x: (tuple(draw(st.permutations(range(len(x.shape))))),)),
    "expand_dims": Op(1, lambda lib, x, axis: lib.expand_dims(x, axis), _call("expand_dims"),
                      _same, params=lambda draw, x: (draw(st.integers(-len(x.shape) - 1,
                                                                      len(x.shape))),)),
    "squeeze": Op(1, lambda lib, x, axis: lib.squeeze(x, axis), _call("squeeze"), _same,
                  lambda x: 1 in x.shape, _squeeze_params),
    "broadcast_to": Op(1, lambda lib, x, shape: lib.broadcast_to(x, shape),
                       _call("broadcast_to"), _same, params=_broadcast_to_params),
    "getitem": Op(1, lambda lib, x, index: x[index],
                  lambda x, index: f"{x}[{_show_index(index)}]", _same,
                  lambda x: len(x.shape) >= 1, _basic_index_params),
    "gather": Op(1, lambda lib, x, index: x[index],
                 lambda x, index: f"{x}[{_show_index(index)}]", _same,
                 lambda x: len(x.shape) >= 1, _gather_params),
}


# ---- an independent NumPy reference for the forward ----------------------------------------------


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


REF = types.SimpleNamespace(
    exp=np.exp, log=np.log, sqrt=np.sqrt, sin=np.sin, cos=np.cos, tanh=np.tanh,
    square=np.square, sigmoid=lambda x: 1 / (1 + np.exp(-x)), sum=np.sum, mean=np.mean,
    var=np.var, logsumexp=_np_logsumexp, softmax=_np_softmax,
    log_softmax=lambda x, axis: x - _np_logsumexp(x, axis, keepdims=True), reshape=np.reshape,
    transpose=np.transpose, expand_dims=np.expand_dims, squeeze=np.squeeze,
    broadcast_to=np.broadcast_to, concatenate=np.concatenate, stack=np.stack, where=np.where,
)


# ---- programs ------------------------------------------------------------------------------------


def _operands(step: tuple) -> tuple[int, ...]:
    return step[1 : 1 + OPS[step[0]].arity]


def _weights(k: int, shape: tuple) -> np.ndarray:
    """The fixed random weights of value ``k`` in the output."""
    return np.random.default_rng(k).uniform(-1, 1, shape)


def _apply(step: tuple, values: list, lib: Any) -> Any:
    op = OPS[step[0]]
    return op.run(lib, *(values[k] for k in _operands(step)), *step[1 + op.arity :])


class Program:
    """Inputs and instructions; values 0.. are the inputs, then one value per instruction.

    ``run(xs)`` runs it on Tensors or arrays ``xs`` (shaped like the inputs) and returns every
    value and the output, Σ (v · w).sum() over the values that no instruction reads.
    """

    def __init__(self, inputs: list[np.ndarray], steps: list[tuple]) -> None:
        self.inputs, self.steps = list(inputs), list(steps)
        read = {k for step in self.steps for k in _operands(step)}
        self.sinks = [k for k in range(len(self.inputs) + len(self.steps)) if k not in read]

    def run(self, xs: Any, lib: Any = tg, dtype: Any = np.float64) -> tuple[list, Any]:
        values = list(xs)
        for step in self.steps:
            values.append(_apply(step, values, lib))
        out = None
        for k in self.sinks:
            term = (values[k] * _weights(k, np.shape(values[k])).astype(dtype)).sum()
            out = term if out is None else out + term
        return values, out

    def __call__(self, *xs: Any) -> Any:
        return self.run(xs)[1]

    def __repr__(self) -> str:
        values, _ = self.run(self.inputs, REF)
        names = [f"v{k}" for k in range(len(values))]
        with np.printoptions(floatmode="unique", threshold=10_000):
            lines = ["Program(inputs=["]
            lines += [f"    {x!r},  # v{k}" for k, x in enumerate(self.inputs)]
            lines.append("], steps=[")
            for k, step in enumerate(self.steps, len(self.inputs)):
                op = OPS[step[0]]
                code = op.show(*(names[i] for i in _operands(step)), *step[1 + op.arity :])
                lines.append(f"    {step!r},  # v{k} = {code}: {np.shape(values[k])}")
        sinks = ", ".join(names[k] for k in self.sinks)
        lines.append(f"])  # output: sum of (v * weights(v)).sum() for v in {sinks}")
        return "\n".join(lines)


def _sub_shape(draw: Any, base: tuple) -> tuple:
    """``base`` with leading axes dropped and some axes set to 1: it broadcasts against base."""
    return tuple(1 if draw(st.booleans()) else n for n in base[draw(st.integers(0, len(base))):])


def _candidates(op: Op, known: list[Known]) -> list[tuple[int, ...]]:
    """The operands ``op`` is safe on, the latest values first: Hypothesis favours (and shrinks
    towards) the first, so programs tend to chain rather than all read input 0."""
    latest = list(reversed(list(enumerate(known))))
    if op.arity == 1:
        return [(k,) for k, x in latest if op.domain(x)]
    return [(i, j) for i, a in latest for j, b in latest if op.domain(a, b)]


@st.composite
def programs(draw: Any) -> Program:
    """A random program over 1 to MAX_INPUTS float64 inputs with up to MAX_STEPS instructions,
    every one of them smooth and well conditioned on the inputs' whole domain."""
    # The length first: drawn after many other choices, Hypothesis's generation favours 1.
    length = draw(st.integers(1, MAX_STEPS))
    base = draw(st.sampled_from(BASE_SHAPES))
    inputs, known = [], []
    for k in range(draw(st.integers(1, MAX_INPUTS))):
        shape = _sub_shape(draw, base) if k else base
        lo, hi = draw(st.sampled_from(INPUT_DOMAINS))
        inputs.append(draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi),
                                 fill=st.nothing())))  # no runs of one repeated value
        known.append(Known(shape, lo, hi))
    values: list = list(inputs)  # the actual values, to check the intervals against
    steps: list[tuple] = []
    for _ in range(length):
        candidates = {name: _candidates(op, known) for name, op in OPS.items()}
        name = draw(st.sampled_from([name for name in OPS if candidates[name]]))
        operands = draw(st.sampled_from(candidates[name]))
        op = OPS[name]
        params = op.params(draw, *(known[k] for k in operands))
        lo, hi = op.bounds(*(known[k] for k in operands), *params)
        if not -BOUND <= lo <= hi <= BOUND:
            continue
        step = (name, *operands, *params)
        value = np.asarray(_apply(step, values, REF))
        if not 1 <= value.size <= MAX_SIZE:
            continue
        # The generator's own check: a value outside its interval would make the domains lie.
        assert lo - 1e-9 <= value.min() and value.max() <= hi + 1e-9, (step, lo, hi, value)
        steps.append(step)
        values.append(value)
        known.append(Known(value.shape, lo, hi))
    return Program(inputs, steps)


def _leaves(program: Program, dtype: Any = np.float64) -> list[tg.Tensor]:
    return [tg.Tensor(x.astype(dtype), requires_grad=True) for x in program.inputs]


# ---- the properties ------------------------------------------------------------------------------


@settings(max_examples=_examples(200))
@given(program=programs())
def test_gradient_matches_finite_differences(program: Program) -> None:
    before = [x.copy() for x in program.inputs]
    xs = _leaves(program)
    out = program(*xs)
    got = gradients(out, xs, retain_graph=True)
    out.backward()
    numeric = numerical_grad(program, *program.inputs, eps=1e-6)
    for k, (x, g, expected) in enumerate(zip(xs, got, numeric)):
        assert g.shape == x.shape and g.dtype == np.float64
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6, err_msg=f"d out / d v{k}")
        np.testing.assert_array_equal(x.grad.data, g, err_msg=f"backward() vs gradients(), v{k}")
    for x, original in zip(program.inputs, before):
        np.testing.assert_array_equal(x, original)  # inputs are not mutated


@settings(max_examples=_examples(60))
@given(program=programs(), data=st.data())
def test_hessian_vector_products_match_finite_differences(program: Program, data: Any) -> None:
    directions = [data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-1, 1)),
                            label=f"direction for v{k}") for k, x in enumerate(program.inputs)]
    xs = _leaves(program)
    first = gradients(program(*xs), xs, create_graph=True)
    directional = sum((g * v).sum() for g, v in zip(first, directions))
    if directional.requires_grad:
        hvp = gradients(directional, xs)
    else:  # the program is linear in its inputs: the gradient is a constant
        hvp = [np.zeros(x.shape) for x in program.inputs]

    def gradient_at(step: float) -> list[np.ndarray]:
        moved = [tg.Tensor(x + step * v, requires_grad=True)
                 for x, v in zip(program.inputs, directions)]
        return gradients(program(*moved), moved)

    plain, h = gradient_at(0.0), 1e-5
    for k, (g1, g0, got, plus, minus) in enumerate(
            zip(first, plain, hvp, gradient_at(h), gradient_at(-h))):
        # The recorded backward pass computes the same first derivative as the plain one.
        np.testing.assert_allclose(g1.data, g0, rtol=1e-12, atol=1e-12, err_msg=f"v{k}")
        np.testing.assert_allclose(got, (plus - minus) / (2 * h), rtol=1e-5, atol=1e-6,
                                   err_msg=f"Hessian-vector product, v{k}")


@settings(max_examples=_examples(150))
@given(program=programs())
def test_arrays_and_tensors_give_the_same_values(program: Program) -> None:
    tensor_values, tensor_out = program.run(_leaves(program))
    array_values, array_out = program.run([x.copy() for x in program.inputs])
    reference_values, reference_out = program.run(program.inputs, REF)
    for k, (t, a, r) in enumerate(zip(tensor_values, array_values, reference_values)):
        assert isinstance(t, tg.Tensor) and not isinstance(a, tg.Tensor), f"v{k}"
        assert t.dtype == np.asarray(a).dtype == np.float64, f"v{k}"
        # Equal but for the last bit: NumPy computes ``c ** v`` of a NumPy scalar (what a
        # reduction to one number returns on arrays) with C's pow, and of a 0-d array (what a
        # Tensor holds) with its own loop, and they may differ by one ulp.
        np.testing.assert_allclose(t.data, a, rtol=1e-13, atol=1e-13, err_msg=f"v{k}: Tensor")
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12, err_msg=f"v{k}: vs NumPy")
    assert not isinstance(array_out, tg.Tensor)
    np.testing.assert_allclose(tensor_out.data, array_out, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(array_out, reference_out, rtol=1e-10, atol=1e-12)


@settings(max_examples=_examples(60))
@given(program=programs())
def test_float32_stays_float32(program: Program) -> None:
    xs = _leaves(program, np.float32)
    values, out = program.run(xs, dtype=np.float32)
    for k, v in enumerate(values):
        assert v.dtype == np.float32, f"v{k} is {v.dtype}"
    assert out.dtype == np.float32
    first = gradients(out, xs, create_graph=True)
    directional = sum((g * g).sum() for g in first)
    second = gradients(directional, xs) if directional.requires_grad else []
    assert all(g.dtype == np.float32 for g in first)
    assert all(g.dtype == np.float32 for g in second)

    xs64 = _leaves(program)
    _, out64 = program.run(xs64)
    expected = gradients(out64, xs64)
    # float32 carries 7 digits and these domains are well conditioned: errors stay near 1e-6
    # of the gradient's scale (measured over thousands of programs), 1e-4 leaves a wide margin.
    scale = 1.0 + max(float(np.max(np.abs(g), initial=0.0)) for g in expected)
    np.testing.assert_allclose(out.data, out64.data, rtol=1e-4, atol=1e-4 * scale)
    for k, (g, e) in enumerate(zip(first, expected)):
        np.testing.assert_allclose(g.data, e, rtol=1e-4, atol=1e-4 * scale, err_msg=f"v{k}")


# ---- the generator itself: it must reach every operation and the features the tests are for --


def test_programs_use_every_operation_broadcasting_and_shared_values() -> None:
    seen: dict[str, int] = dict.fromkeys(OPS, 0)
    features = dict.fromkeys(["broadcast", "shared", "repeated index", "three inputs"], 0)

    @settings(max_examples=300, derandomize=True, database=None)
    @given(program=programs())
    def survey(program: Program) -> None:
        values, _ = program.run(program.inputs, REF)
        reads = [k for step in program.steps for k in _operands(step)]
        features["shared"] += len(reads) != len(set(reads))
        features["three inputs"] += len(program.inputs) == 3
        for step in program.steps:
            seen[step[0]] += 1
            shapes = {np.shape(values[k]) for k in _operands(step)}
            features["broadcast"] += OPS[step[0]].arity == 2 and len(shapes) == 2
            picks = step[2][-1] if step[0] == "gather" else [True]
            if not isinstance(picks[0], bool):
                n = np.shape(values[step[1]])[len(step[2]) - 1]
                features["repeated index"] += len({k % n for k in picks}) < len(picks)

    survey()
    assert [name for name, n in seen.items() if n < 5] == []
    assert [name for name, n in features.items() if n < 5] == []
