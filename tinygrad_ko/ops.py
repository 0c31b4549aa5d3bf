"""The table of derivatives: every primitive operation, its NumPy forward and its gradient rules.

Each row is ``name = Primitive("name", forward, rule_for_operand_0, rule_for_operand_1, ...,
reads=...)``. A rule gets the upstream gradient ``g``, the operands, the output ``y`` and the
operation's parameters, and returns the gradient for its operand. ``reads`` names, rule by rule,
the values whose contents the rule uses (a rule that uses only a shape reads nothing): the
engine refuses a backward pass after one of them was changed in place.

Rules are written only with operators, methods that NumPy arrays and Tensors share
(``reshape``, ``sum``, ``swapaxes``, ``[...]``) and the primitives of this table, which accept
both. So one rule serves every order: the engine feeds it arrays for a plain backward pass and
Tensors when ``create_graph=True`` records the pass itself.

Conventions at NaN: a rule evaluates its formula there, so a NaN in gives a NaN gradient wherever
the derivative reads it; masks of kinks (relu, clip, max, maximum) are NaN at NaN rather than 0
or 1, so that no NaN vanishes (PyTorch calls relu'(nan) 0; here it is NaN).

Conventions at kinks, chosen here once: relu'(0) = 0, abs'(0) = 0, ties in max/min/maximum/minimum
split the gradient evenly, clip passes the gradient at its bounds, ``select`` (``where``) sends
the gradient to the branch taken and zero to the other. Masks and tie counts are computed from
``constant`` (a recorded ``stop_gradient`` node): they are constants of the graph, not
differentiable quantities, yet a trace (``tg.compile``) computes them afresh at every call.

The engine, not the rules, sums a gradient back over broadcast axes, casts it to the operand's
dtype and checks its shape. Called on plain arrays, every primitive is just its NumPy forward.
What a row is (``Primitive``) is defined in ``primitive``; forwards that are more than one NumPy
call (a stable sigmoid, a faster max) are named kernels in ``kernels``. Everything composed from
these primitives (var, softmax, stack, ...) lives in ``functions``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_ko import kernels
from tinygrad_ko.engine import unbroadcast
from tinygrad_ko.kernels import batch_size, count
from tinygrad_ko.primitive import NonDifferentiable, Primitive, coerce
from tinygrad_ko.tensor import Tensor, record

# ---- shared by the rules -------------------------------------------------------------------------


def constant(v: Any) -> Any:
    """``v`` as a constant of the graph, never differentiated (masks and tie counts in rules): a
    Tensor goes through ``stop_gradient``, a recorded node without gradient, so that a trace
    (``tg.compile``) computes it afresh at every call; an array stays as it is."""
    return stop_gradient(v) if isinstance(v, Tensor) else v


def _kept(v: Any, shape: tuple, axis: tuple | None, keepdims: bool) -> Any:
    """``v``, the result of reducing an array of ``shape`` over ``axis``, reshaped as if with
    ``keepdims=True`` so that it broadcasts against that array."""
    if keepdims:
        return v
    if axis is None:
        return v.reshape((1,) * len(shape))
    return v.reshape(tuple(1 if i in axis else n for i, n in enumerate(shape)))


def _unless_nan(mask: Any, *xs: Any) -> Any:
    """``mask`` with NaN wherever one of ``xs`` (None: absent) is NaN. A derivative made of
    comparisons (a kink's) would otherwise call the derivative at NaN 0 or 1 and hide the NaN."""
    for x in xs:
        if x is not None:
            mask = select(x, mask, np.isnan(x))
    return mask


def _share(a: Any, b: Any) -> Any:
    """1 where ``a`` beats ``b``, ½ on ties, 0 where it loses (the gradient share of ``a``); NaN
    where either is NaN."""
    return _unless_nan((a > b) + 0.5 * (a == b), a, b)


# ---- elementwise, one operand: d/dx given upstream g, operand x, output y ------------------------

neg = Primitive("neg", np.negative, lambda g, x, y: -g)
exp = Primitive("exp", np.exp, lambda g, x, y: g * y, reads=("y",))
log = Primitive("log", np.log, lambda g, x, y: g / x, reads=("x",))
sqrt = Primitive("sqrt", np.sqrt, lambda g, x, y: g / (2 * y), reads=("y",))
sin = Primitive("sin", np.sin, lambda g, x, y: g * cos(x), reads=("x",))
cos = Primitive("cos", np.cos, lambda g, x, y: -g * sin(x), reads=("x",))
tanh = Primitive("tanh", np.tanh, lambda g, x, y: g * (1 - y * y), reads=("y",))
sigmoid = Primitive("sigmoid", kernels.sigmoid, lambda g, x, y: g * y * (1 - y), reads=("y",))
# relu' is the step function: 0 for x <= 0, 1 for x > 0, NaN at NaN. That is the sign of the
# output y = max(x, 0), as np.heaviside(x, 0) is, but eight times faster.
relu = Primitive("relu", lambda x: np.maximum(x, 0),
                 lambda g, x, y: g * np.sign(constant(y)), reads=("y",))
abs = Primitive("abs", np.abs, lambda g, x, y: g * np.sign(constant(x)), reads=("x",))
square = Primitive("square", np.square, lambda g, x, y: g * 2 * x, reads=("x",))
identity = Primitive("identity", np.positive, lambda g, x, y: g)  # a new node, same values
astype = Primitive("astype", kernels.cast, lambda g, x, y, dtype: g.astype(x.dtype))
# leaky_relu' is 1 for x > 0 and the slope for x <= 0 (as PyTorch), NaN at NaN.
leaky_relu = Primitive("leaky_relu", lambda x, slope: np.where(x > 0, x, x * slope),
                       lambda g, x, y, slope: g * _unless_nan(select(1.0, slope, constant(x) > 0),
                                                              constant(x)), reads=("x",))
clip = Primitive("clip", np.clip,
                 lambda g, x, y, lo, hi: g * _unless_nan((lo is None or constant(x) >= lo)
                                                         & (hi is None or constant(x) <= hi),
                                                         constant(x), lo, hi),
                 reads=("x",))

# ---- elementwise, two operands (broadcasting): d/da and d/db -------------------------------------

add = Primitive("add", np.add, lambda g, a, b, y: g, lambda g, a, b, y: g)
sub = Primitive("sub", np.subtract, lambda g, a, b, y: g, lambda g, a, b, y: -g)
mul = Primitive("mul", np.multiply, lambda g, a, b, y: g * b, lambda g, a, b, y: g * a,
                reads=("b", "a"))
div = Primitive("div", np.divide, lambda g, a, b, y: g / b, lambda g, a, b, y: -g * y / b,
                reads=("b", "b y"))


def _pow_grad_base(g: Any, a: Any, b: Any, y: Any) -> Any:
    """d/da a^b = b a^(b−1). At b = 0 and a = 0 it is 0, but 0 · a^(b−1) is 0 · inf: exactly
    there the exponent becomes 1. Elsewhere the formula stays as it is, so that its own
    derivatives (in b too) stay right at every order. A Python number b stays one, so that NumPy
    gives it a's dtype."""
    if (type(b) is int or type(b) is float) and b != 0:  # a constant away from the guard
        return g * b * a ** (b - 1)
    return g * b * a ** select(1, b - 1, (constant(b) == 0) & (constant(a) == 0))


# d/db a^b = a^b log a is 0 at a = 0 (for b > 0), not 0 · −inf: log sees 1 there.
pow = Primitive("pow", np.power, _pow_grad_base,
                lambda g, a, b, y: g * y * log(select(1, a, constant(a) == 0)),
                reads=("a b", "a y"))
maximum = Primitive("maximum", np.maximum,
                    lambda g, a, b, y: g * _share(constant(a), constant(b)),
                    lambda g, a, b, y: g * _share(constant(b), constant(a)), reads=("a b", "a b"))
minimum = Primitive("minimum", np.minimum,
                    lambda g, a, b, y: g * _share(constant(b), constant(a)),
                    lambda g, a, b, y: g * _share(constant(a), constant(b)), reads=("a b", "a b"))
# tg.where(cond, a, b). The row is ``select(a, b, cond)``: the differentiable operands first, then
# the condition, an operand that is data (no rule); users (and error messages) call it "where".
select = Primitive("where", lambda a, b, cond: np.where(cond, a, b),
                   lambda g, a, b, cond, y: select(g, 0, cond),
                   lambda g, a, b, cond, y: select(0, g, cond), None,
                   reads=("cond", "cond"))


# ---- matrix product (batched and 1-D as np.matmul) -----------------------------------------------
# y = a @ b as np.matmul, where a 1-D operand is a row (on the left) or a column (on the right)
# that is dropped from the result. The engine sums the gradient over broadcast batch axes.


def _matmul_grad_a(g: Any, a: Any, b: Any, y: Any) -> Any:
    """dy/da: g bᵀ. With 1-D b, y_i = Σ_k a_ik b_k, so the gradient is the outer product g b;
    with 1-D a, y_j = Σ_k a_k b_kj, so it is b g (summed over any batch)."""
    if b.ndim == 1:
        return g[..., None] * b if a.ndim >= 2 else g * b
    if a.ndim == 1:
        return (b @ g[..., None])[..., 0]
    return g @ b.swapaxes(-1, -2)


def _matmul_grad_b(g: Any, a: Any, b: Any, y: Any) -> Any:
    """dy/db: aᵀ g. With 1-D a it is the outer product a g; with 1-D b and a batch of matrices
    a, g is a batch of columns."""
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a[:, None] * g[..., None, :]
    if b.ndim == 1 and a.ndim > 2:
        return (a.swapaxes(-1, -2) @ g[..., None])[..., 0]
    return a.swapaxes(-1, -2) @ g


matmul = Primitive("matmul", np.matmul, _matmul_grad_a, _matmul_grad_b, reads=("b", "a"))

# ---- reductions over axis (a tuple of axes, or None for all), keeping dims or not ----------------


def _max_grad(g: Any, x: Any, y: Any, axis: tuple | None, keepdims: bool) -> Any:
    shape = x.shape
    winners = constant(x) == constant(_kept(y, shape, axis, keepdims))
    with np.errstate(invalid="ignore"):  # no winner where the maximum is NaN: 0/0 is NaN there
        share = winners / winners.sum(axis=axis, keepdims=True)
    return _kept(g, shape, axis, keepdims) * share


sum = Primitive("sum", kernels.sum,
                lambda g, x, y, axis, keepdims:
                    broadcast_to(_kept(g, x.shape, axis, keepdims), x.shape))
# mean = sum / n, one node instead of two: n = count(x, axis) elements make each result.
mean = Primitive("mean", kernels.mean,
                 lambda g, x, y, axis, keepdims:
                     broadcast_to(_kept(g / count(x, axis), x.shape, axis, keepdims), x.shape))
max = Primitive("max", kernels.max, _max_grad, reads=("x y",))
min = Primitive("min", kernels.min, _max_grad, reads=("x y",))
# Fused for stability: log Σ exp(x - m) + m never overflows. Its derivative is softmax(x).
logsumexp = Primitive("logsumexp", kernels.logsumexp,
                      lambda g, x, y, axis, keepdims: _kept(g, x.shape, axis, keepdims)
                      * exp(x - _kept(y, x.shape, axis, keepdims)), reads=("x y",))

# ---- softmax cross entropy, fused into one node -------------------------------------------------
# E = −(1/N) Σ t log softmax(z) over the last axis, N the batch (first axis when z has two or
# more). Fused for speed (one node, not six) and computed in log space for stability:
# dE/dz = (softmax(z) Σt − t) / N and dE/dt = −log softmax(z) / N.


def _softmax(z: Any) -> Any:
    """softmax over the last axis as exp(z − max z) / Σ exp(z − max z): one reduction fewer than
    exp(z − logsumexp(z)). The shift changes nothing mathematically, so its gradient (through
    max, at any order) is zero up to rounding."""
    e = exp(z - max(z, (z.ndim - 1,), True))
    return e / sum(e, (z.ndim - 1,), True)


softmax_cross_entropy = Primitive(
    "softmax_cross_entropy", kernels.softmax_cross_entropy,
    lambda g, z, t, y: g * (_softmax(z) * t.sum(axis=-1, keepdims=True) - t) / batch_size(z),
    lambda g, z, t, y: -g * (z - logsumexp(z, (z.ndim - 1,), True)) / batch_size(z),
    reads=("z t", "z"))
softmax_cross_entropy_labels = Primitive(
    "softmax_cross_entropy_labels", kernels.softmax_cross_entropy_labels,
    lambda g, z, labels, y: (_softmax(z) - one_hot(labels, z.shape, z.dtype)) * (g / batch_size(z)),
    None, reads=("z labels",))
# y[n, labels[n]] (y[labels] for one sample): each row's entry at its label.
pick = Primitive("pick", kernels.pick,
                 lambda g, x, labels, y: _kept(g, x.shape, (x.ndim - 1,), False)
                 * one_hot(labels, x.shape, x.dtype), None, reads=("labels",))

# ---- shape: the gradient undoes the rearrangement ------------------------------------------------


def _inverse(axes: tuple) -> tuple:
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


reshape = Primitive("reshape", np.reshape, lambda g, x, y, shape: g.reshape(x.shape))
transpose = Primitive("transpose", np.transpose,
                      lambda g, x, y, axes: g.transpose(_inverse(axes)))

broadcast_to = Primitive("broadcast_to", kernels.broadcast_to,
                         lambda g, x, y, shape: unbroadcast(g, x.shape))
getitem = Primitive("getitem", lambda x, index: x[index],
                    lambda g, x, y, index: scatter(g, index, x.shape))
scatter = Primitive("scatter", kernels.scatter, lambda g, x, y, index, shape: g[index])


# ---- windows of an image (NCHW): im2col and col2im, each the other's gradient ------------------
# im2col(x, kernel, stride, padding, fill) puts each window of x, padded with ``fill``, in a row;
# col2im(cols, shape, kernel, stride, padding) adds each row back where its window came from.
# They are adjoint linear maps, so each one's gradient is the other, at every order.

im2col = Primitive("im2col", kernels.im2col,
                   lambda g, x, y, kernel, stride, padding, fill:
                       col2im(g, x.shape, kernel, stride, padding))
col2im = Primitive("col2im", kernels.col2im,
                   lambda g, cols, y, shape, kernel, stride, padding:
                       im2col(g, kernel, stride, padding, 0.0))


class _Concatenate(Primitive):
    """``concatenate(xs, axis)``: any number of operands; each gets its slice of ``g``."""

    __slots__ = ()

    def __call__(self, xs: tuple, axis: int) -> Any:  # type: ignore[override]
        coerced = coerce(xs)
        if coerced is None:
            return self.forward(*xs, axis)
        inputs, values, requires_grad = coerced
        return record(self, self.run(values, (axis,)), inputs, (axis,), requires_grad)

    def vjp(self, g: Any, xs: tuple, y: Any, params: tuple, needs: list[bool]) -> list:
        (axis,) = params
        grads, start = [], 0
        for x, need in zip(xs, needs):
            stop = start + np.shape(x)[axis]
            piece = (slice(None),) * axis + (slice(start, stop),)
            grads.append(g[piece] if need else None)
            start = stop
        return grads


concatenate = _Concatenate("concatenate", lambda *xs: np.concatenate(xs[:-1], axis=xs[-1]))

# ---- not differentiable: comparisons give constants ----------------------------------------------

# stop_gradient(x) is x as a constant: the same array, no gradient through it.
stop_gradient = NonDifferentiable("stop_gradient", lambda x: x, 1)
less = NonDifferentiable("less", np.less, 2)
less_equal = NonDifferentiable("less_equal", np.less_equal, 2)
greater = NonDifferentiable("greater", np.greater, 2)
greater_equal = NonDifferentiable("greater_equal", np.greater_equal, 2)
equal = NonDifferentiable("equal", np.equal, 2)
not_equal = NonDifferentiable("not_equal", np.not_equal, 2)
isnan = NonDifferentiable("isnan", np.isnan, 1)
sign = NonDifferentiable("sign", np.sign, 1)
heaviside = NonDifferentiable("heaviside", np.heaviside, 2)
bitwise_and = NonDifferentiable("bitwise_and", np.bitwise_and, 2)
bitwise_or = NonDifferentiable("bitwise_or", np.bitwise_or, 2)
invert = NonDifferentiable("invert", np.invert, 1)
one_hot = NonDifferentiable("one_hot", kernels.one_hot, 1)  # one_hot(labels, shape, dtype)
# dropout_mask(x, p, rng): a random draw, recorded so that a compiled step draws afresh each call.
dropout_mask = NonDifferentiable("dropout_mask", kernels.dropout_mask, 1)


# ---- NumPy's names of the rows ----------------------------------------------------------------

# NumPy ufuncs that are primitives here: ``np.exp(t)`` and ``array * t`` on a Tensor call these.
UFUNCS = {
    "add": add, "subtract": sub, "multiply": mul, "divide": div, "power": pow, "matmul": matmul,
    "negative": neg, "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos, "tanh": tanh,
    "absolute": abs, "square": square, "maximum": maximum, "minimum": minimum, "less": less,
    "less_equal": less_equal, "greater": greater, "greater_equal": greater_equal, "equal": equal,
    "not_equal": not_equal, "isnan": isnan, "sign": sign, "heaviside": heaviside,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "invert": invert,
}
