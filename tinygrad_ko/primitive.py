"""What an operation is: a ``Primitive`` of the derivative table, or a user's ``Function``.

A ``Primitive`` is a NumPy forward with one gradient rule per operand; ``ops`` lists them, one row
each. Called on Tensors it converts the operands (``coerce``: Python numbers and integer arrays
take the float tensor's dtype) and records a node of the graph (``tensor.record``); called on
anything else it is its NumPy forward alone. ``NonDifferentiable`` operations (comparisons) give
constants. ``Function`` is the same idea for users, in the style of ``torch.autograd.Function``:
a forward and a hand-written backward on arrays. The engine's side of the contract (what it calls
and what it expects back) is stated in ``engine._step``.

User functions: subclass ``Function`` and write two static methods: ``forward(ctx, *arrays)``
computes the result from NumPy arrays and keeps on ``ctx`` whatever the gradient needs;
``backward(ctx, grad)`` returns one gradient per input (a tuple when there are several, None for
an input that needs none). ``MyOp.apply(*tensors)`` runs it and records it in the graph like a
built-in operation: the engine sums broadcast gradients back, casts dtypes and checks shapes for
it. With ``create_graph=True`` ``backward`` receives ``grad`` as a Tensor, and what ``forward``
kept of its inputs and output (``ctx.save_for_backward(x)`` or ``ctx.x = x``) comes back as those
Tensors: written with operators and NumPy ufuncs, ``backward`` is then recorded and can be
differentiated again. Arrays that ``forward`` computed itself count as constants there.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_ko.engine import renamed
from tinygrad_ko.tensor import Tensor, record


class Primitive:
    """An operation with a NumPy forward and one gradient rule per operand (tensor input).

    A rule of None marks an operand that is data, not differentiated: ``where``'s condition,
    integer labels. It is an operand all the same (not a parameter), so that a trace
    (``tg.compile``) sees it change from call to call; it is never converted to a float dtype.
    """

    __slots__ = ("arity", "data", "forward", "name", "reads", "rules")

    def __init__(self, name: str, forward: Callable, *rules: Callable | None,
                 reads: tuple[str, ...] = ()) -> None:
        self.name, self.forward, self.rules, self.arity = name, forward, rules, len(rules)
        self.data = tuple(i for i, rule in enumerate(rules) if rule is None)
        # For each rule, the positions it reads among (operand 0, operand 1, ..., output).
        self.reads = tuple(() if rule is None else _positions(name, rule, names)
                           for rule, names in zip(rules, reads + ("",) * len(rules)))

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __call__(self, x: Any, *rest: Any) -> Any:
        """Apply the operation: ``op(operand, ..., param, ...)``. On Tensors it records a node of
        the graph (``coerce`` decides the arrays to compute with); on anything else it is its
        NumPy forward alone."""
        arity = self.arity
        if arity == 1:  # one operand: nothing to convert (coerce would give it back as it is)
            if not isinstance(x, Tensor):
                return self.forward(x, *rest)  # plain NumPy
            try:  # (a call without *params where there are none is faster)
                y = self.forward(x.data, *rest) if rest else self.forward(x.data)
            except (ValueError, TypeError, IndexError) as error:
                raise self.error(error, (x,)) from None
            return record(self, y, (x,), rest, x._requires_grad)
        if len(rest) == arity - 1:  # no parameters (most operations)
            operands, params = (x, *rest), ()
        else:
            operands, params = (x, *rest[: arity - 1]), rest[arity - 1 :]
        try:
            coerced = coerce(operands, self.data)
            if coerced is None:
                return self.forward(*operands, *params)  # plain NumPy
            inputs, values, requires_grad = coerced
            y = self.forward(*values, *params) if params else self.forward(*values)
        except (ValueError, TypeError, IndexError) as error:
            raise self.error(error, operands) from None
        return record(self, y, inputs, params, requires_grad)

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
        return [rule(g, *xs, y, *params) if need and rule is not None else None
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
    """An operation whose result is a constant of the graph, with no gradient: comparisons,
    masks, ``stop_gradient``. Its node keeps no graph, but a trace (``tg.compile``) records it
    like any other, so that a mask is computed afresh at every call."""

    __slots__ = ()

    def __init__(self, name: str, forward: Callable, arity: int) -> None:
        super().__init__(name, forward)
        self.arity = arity

    def __call__(self, *args: Any) -> Any:
        """``op(operand, ..., param, ...)`` with ``arity`` operands."""
        operands, params = args[: self.arity], args[self.arity :]
        coerced = coerce(operands)
        if coerced is None:
            return self.forward(*args)
        inputs, values, _ = coerced
        return record(self, self.run(values, params), inputs, params, False)


def coerce(operands: tuple, data: tuple[int, ...] = ()) -> tuple[tuple, tuple, bool] | None:
    """The operands to record, the arrays to compute with and whether one of them requires grad;
    None when no operand is a Tensor.

    Beside a float tensor, every operand that is not a float array (a NumPy scalar, a list, an
    integer array or tensor) takes that tensor's dtype: float32 * int64 stays float32. Python
    numbers are left as they are: NumPy already gives them the other operand's dtype
    (float32 * 2.0 is float32), and converting them would cost more than the operation. The
    operands at the positions ``data`` (a condition, labels) are arrays as they are.
    """
    # Nothing to convert, the common cases first: a float Tensor beside another, a Python number
    # or an array of its dtype.
    if len(operands) == 2:
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
    for i, x in enumerate(operands):
        value = x.data if isinstance(x, Tensor) else x
        if i in data:
            value = value if isinstance(x, Tensor) else np.asarray(value)
        elif dtype is not None and not (type(value) is np.ndarray and value.dtype.kind == "f"):
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


# ---- user-defined primitives --------------------------------------------------------------------


class Context:
    """What ``forward`` keeps for ``backward``: set any attribute on it.

    ``needs_input_grad`` tells, per input, whether its gradient will be asked for.
    """

    needs_input_grad: tuple[bool, ...]
    saved_tensors: tuple[Any, ...] = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` as ``ctx.saved_tensors`` (for readers used to PyTorch)."""
        self.saved_tensors = arrays


class Function:
    """Base class of a primitive whose gradient the user writes by hand."""

    arity = None  # any number of inputs: the engine always goes through ``vjp``

    @staticmethod
    def forward(ctx: Context, *args: Any) -> Any:
        """The result from the inputs' arrays; keep on ``ctx`` what backward needs."""
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        """One gradient per input (a tuple when there are several) from the upstream ``grad``."""
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and record the result in the graph."""
        ctx = Context()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        y = cls.forward(ctx, *(a.data if isinstance(a, Tensor) else a for a in args))
        array = np.asarray(y)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{cls.__name__}.forward must return a numeric array, got {type(y).__name__}"
            )
        requires_grad = any(ctx.needs_input_grad) and array.dtype.kind == "f"  # not an integer
        return record(cls, array, args, (ctx,), requires_grad)

    @classmethod
    def vjp(cls, g: Any, xs: tuple, y: Any, params: tuple, needs: list[bool]) -> tuple:
        """The engine's entry point: call ``backward`` and check it gave one gradient per input."""
        ctx = params[0]
        if isinstance(g, Tensor):  # a recorded backward pass: see _recording
            ctx = _recording(ctx, xs, y)
        grads = cls.backward(ctx, g)
        if isinstance(grads, list):
            grads = tuple(grads)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(xs):
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(grads)} gradient(s) for {len(xs)} input(s)"
            )
        return grads


def _recording(ctx: Context, inputs: tuple, output: Tensor) -> Context:
    """A copy of ``ctx`` for a recorded backward pass, in which every array that is an input's or
    the output's own data is replaced by that Tensor. ``backward`` then computes with Tensors
    (operators and NumPy ufuncs both record), so its result can be differentiated again. Arrays
    that ``forward`` derived itself stay constants, as in PyTorch."""
    tensors = {id(t.data): t for t in (*inputs, output) if isinstance(t, Tensor)}

    def swap(value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(swap(v) for v in value)
        return tensors.get(id(value), value) if isinstance(value, np.ndarray) else value

    copy = Context()
    copy.__dict__.update({name: swap(value) for name, value in vars(ctx).items()})
    return copy
