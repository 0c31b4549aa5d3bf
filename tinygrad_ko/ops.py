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
raw values (``constant``): they are constants of the graph, not differentiable quantities.

The engine, not the rules, sums a gradient back over broadcast axes, casts it to the operand's
dtype and checks its shape. Called on plain arrays, every primitive is just its NumPy forward.
Everything composed from these primitives (var, softmax, stack, ...) lives in ``functions``.
"""

from __future__ import annotations

import builtins
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_ko.engine import constant, record, renamed, unbroadcast
from tinygrad_ko.tensor import Tensor


class Primitive:
    """An operation with a NumPy forward and one gradient rule per operand (tensor input)."""

    __slots__ = ("arity", "forward", "name", "reads", "rules")

    def __init__(self, name: str, forward: Callable, *rules: Callable,
                 reads: tuple[str, ...] = ()) -> None:
        self.name, self.forward, self.rules, self.arity = name, forward, rules, len(rules)
        # For each rule, the positions it reads among (operand 0, operand 1, ..., output).
        self.reads = tuple(_positions(name, rule, names)
                           for rule, names in zip(rules, reads + ("",) * len(rules)))

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __call__(self, x: Any, *rest: Any) -> Any:
        if self.arity == 1 and not isinstance(x, Tensor):
            return self.forward(x, *rest)  # plain NumPy
        # (calls without *params where there are none, as for most operations, are faster)
        try:
            if self.arity == 1:  # the common case first: one operand, then the parameters
                y = self.forward(x.data, *rest) if rest else self.forward(x.data)
                return record(self, y, (x,), rest, x._requires_grad)
            if self.arity == 2 and len(rest) == 1 and isinstance(x, Tensor):
                b = rest[0]
                if type(b) is float or type(b) is int:  # NumPy gives it x's dtype (see coerce)
                    return record(self, self.forward(x.data, b), (x, b), (), x._requires_grad)
                if isinstance(b, Tensor) and b.data.dtype is x.data.dtype:  # nothing to convert
                    return record(self, self.forward(x.data, b.data), (x, b), (),
                                  x._requires_grad or b._requires_grad)
            operands, params = (x, *rest[: self.arity - 1]), rest[self.arity - 1 :]
            coerced = coerce(operands)
        except (ValueError, TypeError, IndexError) as error:
            raise self.error(error, (x, *rest)[: self.arity]) from None
        if coerced is None:
            return self.forward(*operands, *params)  # plain NumPy
        inputs, values, requires_grad = coerced
        return record(self, self.run(values, params), inputs, params, requires_grad)

    def run(self, values: tuple, params: tuple) -> Any:
        """The forward on arrays; an error names the operation and the operands' shapes."""
        try:
            return self.forward(*values, *params) if params else self.forward(*values)
        except (ValueError, TypeError, IndexError) as error:
            raise self.error(error, values) from None

    def error(self, error: Exception, values: tuple) -> Exception:
        shapes = ", ".join(str(np.shape(v)) for v in values)
        text = str(error).removeprefix(f"{self.name}: ")
        return renamed(error, f"{self.name}: {text} (operand shapes: {shapes})")

    def vjp(self, g: Any, xs: tuple, y: Any, params: tuple, needs: list[bool]) -> list:
        """The gradient for each operand that needs one (None for the others)."""
        return [rule(g, *xs, y, *params) if need else None
                for rule, need in zip(self.rules, needs)]


def _positions(name: str, rule: Callable, names: str) -> tuple[int, ...]:
    """The positions of ``names`` ("b y") among a rule's operands and output, found by the
    rule's own parameter names (g, then the operands, then y)."""
    parameters = list(inspect.signature(rule).parameters)[1:]
    positions = tuple(parameters.index(n) if n in parameters else -1 for n in names.split())
    if -1 in positions or builtins.max(positions, default=0) > parameters.index("y"):
        raise ValueError(f"{name}: reads={names!r} names a value its rule {parameters} lacks")
    return positions


class NonDifferentiable(Primitive):
    """An operation whose result is a constant of the graph (comparisons): never recorded."""

    __slots__ = ()

    def __init__(self, name: str, forward: Callable, arity: int) -> None:
        super().__init__(name, forward)
        self.arity = arity

    def __call__(self, *args: Any) -> Any:
        coerced = coerce(args)
        if coerced is None:
            return self.forward(*args)
        return Tensor._make(self.run(coerced[1], ()))


def coerce(operands: tuple) -> tuple[tuple, tuple, bool] | None:
    """The operands to record, the arrays to compute with and whether one of them requires grad;
    None when no operand is a Tensor.

    Beside a float tensor, every operand that is not a float array (a NumPy scalar, a list, an
    integer array or tensor) takes that tensor's dtype: float32 * int64 stays float32. Python
    numbers are left as they are: NumPy already gives them the other operand's dtype
    (float32 * 2.0 is float32), and converting them would cost more than the operation.
    """
    if len(operands) == 2:  # fast paths: nothing to convert
        a, b = operands
        if isinstance(a, Tensor):
            if isinstance(b, Tensor):
                if a.data.dtype.kind == "f" and b.data.dtype.kind == "f":
                    return operands, (a.data, b.data), a._requires_grad or b._requires_grad
            elif type(b) is float or type(b) is int or (
                    type(b) is np.ndarray and b.dtype is a.data.dtype):
                return operands, (a.data, b), a._requires_grad
        elif isinstance(b, Tensor):
            if type(a) is float or type(a) is int or (
                    type(a) is np.ndarray and a.dtype is b.data.dtype):
                return operands, (a, b.data), b._requires_grad
        else:
            return None
    tensors = [x for x in operands if isinstance(x, Tensor)]
    if not tensors:
        return None
    dtype = next((x.data.dtype for x in tensors if x.data.dtype.kind == "f"), None)
    inputs, values = [], []
    for x in operands:
        value = x.data if isinstance(x, Tensor) else x
        if dtype is not None and not (type(value) is np.ndarray and value.dtype.kind == "f"):
            if _is_number(value):
                value = dtype.type(value)
            else:
                value = np.asarray(value)
                if value.dtype.kind not in "biuf":  # "1.5" is not a number
                    raise TypeError(f"operand of dtype {value.dtype} is not numeric")
                value = value.astype(dtype)
        inputs.append(x if isinstance(x, Tensor) else value)
        values.append(value)
    return tuple(inputs), tuple(values), any(x._requires_grad for x in tensors)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, bool, np.number, np.bool_))


def _kept(v: Any, shape: tuple, axis: tuple | None, keepdims: bool) -> Any:
    """``v``, the result of reducing an array of ``shape`` over ``axis``, reshaped as if with
    ``keepdims=True`` so that it broadcasts against that array."""
    if keepdims:
        return v
    if axis is None:
        return v.reshape((1,) * len(shape))
    return v.reshape(tuple(1 if i in axis else n for i, n in enumerate(shape)))


def count(x: Any, axis: tuple | None) -> int:
    """How many elements of ``x`` (an array or a Tensor) each result of a reduction over
    ``axis`` summarizes."""
    try:
        shape = x.shape
    except AttributeError:  # a list or a number
        shape = np.shape(x)
    return math.prod(shape) if axis is None else math.prod(shape[a] for a in axis)


def _unless_nan(mask: Any, *xs: Any) -> Any:
    """``mask`` with NaN wherever one of ``xs`` (None: absent) is NaN. A derivative made of
    comparisons (a kink's) would otherwise call the derivative at NaN 0 or 1 and hide the NaN."""
    for x in xs:
        if x is not None:
            mask = np.where(np.isnan(x), x, mask)
    return mask


def _share(a: Any, b: Any) -> Any:
    """1 where ``a`` beats ``b``, ½ on ties, 0 where it loses (the gradient share of ``a``); NaN
    where either is NaN."""
    return _unless_nan((a > b) + 0.5 * (a == b), a, b)


def _sigmoid(x: Any) -> Any:
    a = np.abs(x)
    # e^-a in (0, 1]: no overflow for any x; set to 0 where it would underflow (y is 0 or 1).
    # (written "not a >= limit" so that NaN goes through exp and stays NaN)
    e = np.exp(-a, out=np.zeros_like(a), where=~(a >= -np.log(np.finfo(a.dtype).tiny)))
    return np.where(x >= 0, 1, e) / (1 + e)


# ---- elementwise, one operand: d/dx given upstream g, operand x, output y ------------------------

neg = Primitive("neg", np.negative, lambda g, x, y: -g)
exp = Primitive("exp", np.exp, lambda g, x, y: g * y, reads=("y",))
log = Primitive("log", np.log, lambda g, x, y: g / x, reads=("x",))
sqrt = Primitive("sqrt", np.sqrt, lambda g, x, y: g / (2 * y), reads=("y",))
sin = Primitive("sin", np.sin, lambda g, x, y: g * cos(x), reads=("x",))
cos = Primitive("cos", np.cos, lambda g, x, y: -g * sin(x), reads=("x",))
tanh = Primitive("tanh", np.tanh, lambda g, x, y: g * (1 - y * y), reads=("y",))
sigmoid = Primitive("sigmoid", _sigmoid, lambda g, x, y: g * y * (1 - y), reads=("y",))
# relu' is the step function: 0 for x <= 0, 1 for x > 0, NaN at NaN (np.heaviside)
relu = Primitive("relu", lambda x: np.maximum(x, 0),
                 lambda g, x, y: g * np.heaviside(constant(x), 0), reads=("x",))
abs = Primitive("abs", np.abs, lambda g, x, y: g * np.sign(constant(x)), reads=("x",))
square = Primitive("square", np.square, lambda g, x, y: g * 2 * x, reads=("x",))
def _cast(x: Any, dtype: np.dtype) -> Any:
    if dtype.kind != "f":  # an integer result has no gradient: Tensor.astype does not record it
        raise TypeError(f"astype: a recorded cast must be to a float dtype, got {dtype}")
    return x.astype(dtype)


astype = Primitive("astype", _cast,
                   lambda g, x, y, dtype: g.astype(x.dtype))
clip = Primitive("clip", np.clip,
                 lambda g, x, y, lo, hi: g * _unless_nan((lo is None or constant(x) >= lo)
                                                         & (hi is None or constant(x) <= hi),
                                                         constant(x), lo, hi),
                 reads=("x",))

# ---- elementwise, two operands (broadcasting): d/da and d/db -------------------------------------

identity = Primitive("identity", np.positive, lambda g, x, y: g)  # a new node, same values
add = Primitive("add", np.add, lambda g, a, b, y: g, lambda g, a, b, y: g)
sub = Primitive("sub", np.subtract, lambda g, a, b, y: g, lambda g, a, b, y: -g)
mul = Primitive("mul", np.multiply, lambda g, a, b, y: g * b, lambda g, a, b, y: g * a,
                reads=("b", "a"))
div = Primitive("div", np.divide, lambda g, a, b, y: g / b, lambda g, a, b, y: -g * y / b,
                reads=("b", "b y"))


def _pow_grad_base(g: Any, a: Any, b: Any, y: Any) -> Any:
    """b a^(b−1). With b = 0 at a = 0 this would be 0 · inf, while the derivative is 0: exactly
    there the exponent is replaced by 1; elsewhere the formula is untouched, which keeps the rule
    right to every order. A nonzero number as exponent needs no mask, and for x ** 2, the most
    common power, b a^(b−1) is just 2a."""
    if type(b) is int or type(b) is float:  # a Python number: a constant of the graph
        if b == 2:
            return g * (2 * a)
        if b != 0:
            return g * (b * a ** (b - 1))
    elif np.ndim(b) == 0 and constant(b) != 0:
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
# where(cond, a, b), with the condition as a parameter: it is not differentiable.
select = Primitive("where", lambda a, b, cond: np.where(cond, a, b),
                   lambda g, a, b, y, cond: select(g, 0, cond),
                   lambda g, a, b, y, cond: select(0, g, cond))


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


def _max(x: Any, axis: tuple | None, keepdims: bool) -> Any:
    """np.max over ``axis``. NumPy reduces many short rows one at a time; over the short last
    axis of a matrix (class scores: softmax, cross entropy) it is several times faster to take
    the elementwise maximum of the columns, which are the rows of the transposed copy."""
    if type(x) is np.ndarray and x.ndim == 2 and axis == (1,) and 1 < x.shape[1] <= 32:
        m = x.T.copy().max(axis=0)
        return m[:, None] if keepdims else m
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def _logsumexp(x: Any, axis: tuple | None, keepdims: bool) -> Any:
    # (an empty axis gives -inf)
    m = _max(x, axis, True) if x.size else np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    if math.isfinite(m.sum()):  # the common case: every row has a finite maximum
        out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    else:  # a row of ±inf must not give inf − inf; log 0 = −inf for a row of −inf
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# np.add.reduce is np.sum without its Python wrapper (the same for max and min).
sum = Primitive("sum", lambda x, axis, keepdims: np.add.reduce(x, axis=axis, keepdims=keepdims),
                lambda g, x, y, axis, keepdims:
                    broadcast_to(_kept(g, x.shape, axis, keepdims), x.shape))
# mean = sum / n, one node instead of two: n = count(x, axis) elements make each result.
mean = Primitive("mean",
                 lambda x, axis, keepdims:
                     np.add.reduce(x, axis=axis, keepdims=keepdims) / count(x, axis),
                 lambda g, x, y, axis, keepdims:
                     broadcast_to(_kept(g / count(x, axis), x.shape, axis, keepdims), x.shape))
max = Primitive("max", _max,
                _max_grad, reads=("x y",))
min = Primitive("min", lambda x, axis, keepdims: np.minimum.reduce(x, axis=axis, keepdims=keepdims),
                _max_grad, reads=("x y",))
# Fused for stability: log Σ exp(x - m) + m never overflows. Its derivative is softmax(x).
logsumexp = Primitive("logsumexp", _logsumexp,
                      lambda g, x, y, axis, keepdims: _kept(g, x.shape, axis, keepdims)
                      * exp(x - _kept(y, x.shape, axis, keepdims)), reads=("x y",))

# ---- softmax cross entropy, fused into one node -------------------------------------------------
# E = −(1/N) Σ t log softmax(z) over the last axis, N the batch (first axis when z has two or
# more). Fused for speed (one node, not six) and computed in log space for stability:
# dE/dz = (softmax(z) Σt − t) / N and dE/dt = −log softmax(z) / N.


def batch_size(z: Any) -> int:
    """N: the size of the first axis when z has two or more dimensions, else 1 (one sample)."""
    return z.shape[0] if z.ndim >= 2 else 1


def _log_softmax(z: Any) -> Any:
    return z - _logsumexp(z, (z.ndim - 1,), True)


def _softmax_cross_entropy(z: Any, t: Any) -> Any:
    log_p = _log_softmax(z)
    # Only where t ≠ 0: a class with target 0 adds nothing, even with logit −inf (0 · log 0).
    terms = np.multiply(t, log_p, out=np.zeros(np.broadcast_shapes(np.shape(t), log_p.shape),
                                                 log_p.dtype), where=np.not_equal(t, 0))
    return -terms.sum() / batch_size(z)


def _softmax_cross_entropy_labels(z: Any, labels: Any) -> Any:
    """The same with integer labels: −(1/N) Σ log softmax(z)[n, labels[n]], where
    log softmax(z)[n, k] = z[n, k] − logsumexp(z[n])."""
    picked = z[labels] if z.ndim == 1 else z[np.arange(z.shape[0]), labels]
    return (_logsumexp(z, (z.ndim - 1,), False) - picked).sum() / batch_size(z)


def _one_hot(labels: Any, shape: tuple, dtype: Any) -> np.ndarray:
    out = np.zeros(shape, dtype)
    out[(labels,) if len(shape) == 1 else (np.arange(shape[0]), labels)] = 1
    return out


def _softmax(z: Any) -> Any:
    """softmax over the last axis as exp(z − max z) / Σ exp(z − max z): one reduction fewer than
    exp(z − logsumexp(z)). The shift changes nothing mathematically, so its gradient (through
    max, at any order) is zero up to rounding."""
    e = exp(z - max(z, (z.ndim - 1,), True))
    return e / sum(e, (z.ndim - 1,), True)


softmax_cross_entropy = Primitive(
    "softmax_cross_entropy", _softmax_cross_entropy,
    lambda g, z, t, y: g * (_softmax(z) * t.sum(axis=-1, keepdims=True) - t) / batch_size(z),
    lambda g, z, t, y: -g * (z - logsumexp(z, (z.ndim - 1,), True)) / batch_size(z),
    reads=("z t", "z"))
softmax_cross_entropy_labels = Primitive(
    "softmax_cross_entropy_labels", _softmax_cross_entropy_labels,
    lambda g, z, y, labels:
        (_softmax(z) - _one_hot(labels, z.shape, constant(z).dtype)) * (g / batch_size(z)),
    reads=("z",))

# ---- shape: the gradient undoes the rearrangement ------------------------------------------------


def _inverse(axes: tuple) -> tuple:
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


def _scatter(g: Any, index: Any, shape: tuple) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index``; a repeated index accumulates."""
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


reshape = Primitive("reshape", np.reshape, lambda g, x, y, shape: g.reshape(x.shape))
transpose = Primitive("transpose", np.transpose,
                      lambda g, x, y, axes: g.transpose(_inverse(axes)))
def _broadcast_to(x: Any, shape: tuple) -> np.ndarray:
    """np.broadcast_to: a read-only view. For one element (the gradient of a sum over every
    axis, the most common case) the view is made directly, ten times faster."""
    if type(x) is np.ndarray and x.size == 1 and type(shape) is tuple \
            and x.ndim <= len(shape) and builtins.min(shape, default=0) >= 0:
        view = np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))
        view.flags.writeable = False
        return view
    return np.broadcast_to(x, shape)


broadcast_to = Primitive("broadcast_to", _broadcast_to,
                         lambda g, x, y, shape: unbroadcast(g, x.shape))
getitem = Primitive("getitem", lambda x, index: x[index],
                    lambda g, x, y, index: scatter(g, index, x.shape))
scatter = Primitive("scatter", _scatter, lambda g, x, y, index, shape: g[index])


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

less = NonDifferentiable("less", np.less, 2)
less_equal = NonDifferentiable("less_equal", np.less_equal, 2)
greater = NonDifferentiable("greater", np.greater, 2)
greater_equal = NonDifferentiable("greater_equal", np.greater_equal, 2)
equal = NonDifferentiable("equal", np.equal, 2)
not_equal = NonDifferentiable("not_equal", np.not_equal, 2)


# NumPy ufuncs that are primitives here: ``np.exp(t)`` and ``array * t`` on a Tensor call these.
UFUNCS = {
    "add": add, "subtract": sub, "multiply": mul, "divide": div, "power": pow, "matmul": matmul,
    "negative": neg, "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos, "tanh": tanh,
    "absolute": abs, "square": square, "maximum": maximum, "minimum": minimum, "less": less,
    "less_equal": less_equal, "greater": greater, "greater_equal": greater_equal, "equal": equal,
    "not_equal": not_equal,
}

# ---- indices -------------------------------------------------------------------------------------


def normalize_index(index: Any, shape: tuple, name: str = "getitem") -> Any:
    """An index into an array of ``shape`` as NumPy takes it: Tensors and lists become arrays of
    their own (the graph keeps the index, so a later change to the caller's array must not
    reach it), boolean masks become the integer arrays of their True positions (so that the
    gradient can scatter with them), after NumPy has checked them against ``shape``."""
    items = index if isinstance(index, tuple) else (index,)
    out: list = []
    masked = False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, list):
            item = np.array(item) if item else np.zeros(0, dtype=np.intp)
        elif isinstance(item, np.ndarray):
            item = item.copy()
        if isinstance(item, np.ndarray) and item.dtype == bool and item.ndim > 0:
            masked = True
            out.extend(np.nonzero(item))
        else:
            out.append(item)
    if masked:  # a mask of the wrong shape is an IndexError in NumPy: index a stand-in
        try:  # (that takes no memory)
            np.broadcast_to(np.empty((), bool), shape)[tuple(
                item.data if isinstance(item, Tensor) else item for item in items)]
        except IndexError as error:
            raise IndexError(f"{name}: {error} (tensor of shape {shape})") from None
    return tuple(out) if isinstance(index, tuple) or len(out) != 1 else out[0]


def _is_basic(index: Any) -> bool:
    """Whether ``index`` is basic indexing (ints, slices, None, ...): no element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, np.ndarray) for i in items)
