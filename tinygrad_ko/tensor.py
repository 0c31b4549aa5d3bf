"""The ``Tensor``: a NumPy array that remembers how it was made.

A tensor made by an operation keeps four things, which together are its node in the
operation graph: the operation (``_op``), the operands it was applied to (``_inputs``), the
operation's non-differentiable parameters (``_params``, such as an axis) and its creation number
(``_seq``, which orders the backward pass). Leaves, the tensors a user makes, keep none of them.
Nothing else is recorded, so the graph is freed by reference counting alone as soon as nobody
holds its output. In-place changes are stamped on the memory they change (``_version``, see
``engine.changed_in_place``): a node whose gradient rule reads memory that was changed after the
node was made refuses to backpropagate.

What lives here: construction and dtype rules, the constructors (``zeros``, ``randn``, ...) and
the method and operator surface, each method a one-line call into ``ops`` (the derivative table)
or ``functions`` (what is composed from it). What does not: derivative rules (``ops``) and the
backward pass (``engine``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from itertools import count
from typing import Any

import numpy as np

from tinygrad_ko import mode

ArrayLike = Any  # a Tensor, an ndarray, a nested list or a number
Axis = int | Sequence[int] | None

_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype of tensors made from Python numbers and lists (``float32`` at start)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    """The float dtype of tensors made from Python numbers and lists."""
    return _default_dtype


class _TensorInList(Exception):
    """Raised by a Tensor's ``__array__`` while a list is converted (see ``_to_array``)."""


class _Listing(threading.local):
    active = False  # a list is being converted to an array on this thread


_listing = _Listing()


def _to_array(data: ArrayLike, dtype: Any = None) -> np.ndarray | None:
    """Turn user data into a fresh array following the dtype rules of ``Tensor``; None for a
    list with a Tensor inside. (NumPy asks each Tensor in a list for its array while converting
    the list: that request tells, at no cost for a list of numbers.)"""
    keeps_dtype = isinstance(data, (np.ndarray, np.generic, Tensor))
    if isinstance(data, Tensor):
        data = data.data
    try:
        if isinstance(data, (list, tuple)):
            _listing.active = True
        array = np.array(data, dtype=dtype, copy=True)
    except _TensorInList:
        return None
    except ValueError as error:
        raise ValueError(f"Tensor: cannot make an array from this data ({error})") from None
    finally:
        _listing.active = False
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: data must be numeric (bool, int or float), got dtype {array.dtype} "
            f"from {type(data).__name__}"
        )
    if dtype is None and not (keeps_dtype and array.dtype.kind == "f"):
        array = array.astype(_default_dtype)
    return array


def _stacked(data: list | tuple, dtype: Any) -> Tensor:
    """``tg.stack`` of a nested list's rows, level by level. The dtype follows ``Tensor``'s
    rules: the float dtype the Tensors and float arrays among the rows promote to (numbers take
    it), else the default float dtype; ``dtype`` forces one."""
    rows = [_stacked(x, None) if isinstance(x, (list, tuple)) and _to_array(x) is None else x
            for x in data]  # (a row of numbers stays as it is: it takes the dtype found below)
    floats = [x.dtype for x in (r.data if isinstance(r, Tensor) else r for r in rows)
              if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    kind = np.dtype(dtype) if dtype is not None else (
        np.result_type(*floats) if floats else _default_dtype)
    return functions.stack([
        (x if x.data.dtype == kind else x.astype(kind)) if isinstance(x, Tensor)
        else _to_array(x, kind) for x in rows])


def _check_can_require_grad(dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise TypeError(
            f"requires_grad=True needs a floating dtype, got {dtype}: "
            "gradients are only tracked for float tensors"
        )


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is a number, a nested list, a
    NumPy array or a Tensor, always copied. A float NumPy array or scalar (or a Tensor) keeps its
    dtype; anything else becomes the default float dtype (``float32``, see
    ``set_default_dtype``); ``dtype`` forces one. Only float tensors can require grad.

    A list with Tensors inside (``Tensor([a, b])``) is recorded as ``tg.stack``, so the result
    stays in the graph of a and b instead of silently cutting it; with ``requires_grad=True``
    it is a new leaf holding their values, as in PyTorch.
    """

    __slots__ = ("__weakref__", "_hooks", "_inputs", "_op", "_params", "_requires_grad",
                 "_retains_grad", "_seq", "data", "grad")

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        array = _to_array(data, dtype)
        if array is None:  # a list with Tensors inside
            made = _stacked(data, dtype)
            if _modes._tracer is not None:  # (a trace reads this tensor as the stack)
                _modes._tracer.alias(self, made)
            if not requires_grad:  # be the stack's result, which nobody else holds
                self._leaf(made.data, False)
                if made._op is not None:
                    self._op, self._inputs, self._params = made._op, made._inputs, made._params
                    self._requires_grad, self._seq = True, made._seq
                return
            array = made.data  # a new leaf was asked for (a Parameter): the values alone
        if requires_grad:
            _check_can_require_grad(array.dtype)
        self._leaf(array, bool(requires_grad))

    def _leaf(self, data: np.ndarray, requires_grad: bool) -> None:
        """Hold ``data`` as a leaf: no gradient, no node, no hooks (``record`` writes the same
        slots itself: the hot path)."""
        self.data = data
        self.grad = self._op = self._inputs = self._params = self._hooks = None
        self._requires_grad = requires_grad
        self._retains_grad = False
        if _modes._tracer is not None:  # a constant made inside a traced function
            _modes._tracer.made(self)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """A leaf around ``data`` as it is: no copy, no dtype rules (for the library's own use)."""
        t = cls.__new__(cls)
        t._leaf(data if type(data) is np.ndarray else np.asarray(data), requires_grad)
        return t

    # ---- attributes ------------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor. Settable on leaves with a float dtype."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._op is not None:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; use detach() for a new leaf"
            )
        if value:
            _check_can_require_grad(self.data.dtype)
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def _version(self) -> int:
        """When this tensor's memory was last changed in place (``+=``, ``t[...] = v``, an
        optimizer step), on the clock of creation numbers; 0 if never. It only increases, and
        every view of the same memory shares it, as in PyTorch."""
        return _engine.version(self.data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (and results that do not require grad)."""
        return self._op is None

    @property
    def grad_fn(self) -> Any:
        """The operation that made this tensor, or None for a leaf."""
        return self._op

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self)):
            yield self[i]

    def numpy(self) -> np.ndarray:
        """The underlying array itself (not a copy)."""
        _escape("numpy()", self)
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        _escape("item()", self)
        if self.data.size != 1:
            raise ValueError(f"item(): the tensor has {self.data.size} elements, not 1 "
                             f"(shape {self.data.shape})")
        return self.data.item()

    def tolist(self) -> Any:
        """The values as nested Python lists."""
        _escape("tolist()", self)
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if _listing.active:  # Tensor([..., self, ...]): recorded as stack, not copied
            raise _TensorInList
        _escape("np.asarray()", self)
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        _escape("float()", self)
        return float(self.item())

    def __int__(self) -> int:
        _escape("int()", self)
        return int(self.item())

    def __bool__(self) -> bool:
        _escape("bool()", self)
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data)

    __hash__ = object.__hash__  # tensors are keyed by identity, as __eq__ is elementwise

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.data.dtype}"
        if self._op is not None:
            extra += f", grad_fn=<{_engine.op_name(self._op)}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # ---- autodiff --------------------------------------------------------------------------------

    def backward(self, grad: ArrayLike | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Backpropagate from this tensor, accumulating d(self)/d(leaf) into each leaf's ``.grad``.

        ``grad`` is the upstream gradient (of this tensor's shape); it may be omitted only when
        the tensor has one element. Without ``retain_graph`` the graph's buffers are released
        and a second backward through it raises ``RuntimeError``. ``create_graph=True`` records
        the backward pass itself, so the gradients can be differentiated again; it implies
        ``retain_graph=True`` unless that is given.

        If the pass fails (a released graph, an error in a rule or a hook), no ``.grad`` has
        changed and the graph can be backpropagated again; only the hooks of the nodes reached
        before the failure have run.
        """
        _engine.backward(self, grad, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._make(self.data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        mode.refuse_in_trace("retain_grad()", "keeps a gradient on a tensor that exists only "
                             "while the function is traced; return what you need instead")
        if self._op is not None:
            self._retains_grad = True

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned Tensor replaces
        the gradient. Returns a handle whose ``remove()`` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self._hooks, fn)

    def zero_grad(self) -> None:
        """Reset the accumulated gradient (``self.grad = None``)."""
        self.grad = None

    # ---- operators -------------------------------------------------------------------------------

    def __add__(self, other: ArrayLike) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __lt__(self, other: ArrayLike) -> Tensor:
        return ops.less(self, other)

    def __le__(self, other: ArrayLike) -> Tensor:
        return ops.less_equal(self, other)

    def __gt__(self, other: ArrayLike) -> Tensor:
        return ops.greater(self, other)

    def __ge__(self, other: ArrayLike) -> Tensor:
        return ops.greater_equal(self, other)

    def __eq__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return ops.equal(self, other)

    def __ne__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return ops.not_equal(self, other)

    # ``&``, ``|`` and ``~`` as NumPy's bitwise operators (logical on bool masks); no gradient.
    def __and__(self, other: ArrayLike) -> Tensor:
        return ops.bitwise_and(self, other)

    def __rand__(self, other: ArrayLike) -> Tensor:
        return ops.bitwise_and(other, self)

    def __or__(self, other: ArrayLike) -> Tensor:
        return ops.bitwise_or(self, other)

    def __ror__(self, other: ArrayLike) -> Tensor:
        return ops.bitwise_or(other, self)

    def __invert__(self) -> Tensor:
        return ops.invert(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, functions.normalize_index(index, self.data.shape))

    # In-place arithmetic changes ``data`` only when no graph is being recorded for it (inside
    # ``no_grad``, or when nothing involved requires grad): that is the parameter update
    # ``w -= lr * w.grad``. A leaf that requires grad cannot be changed in place while the graph is
    # recorded (its gradient would be lost); any other tensor falls back to ``a = a + b``, which
    # must keep a's shape, as NumPy's in-place operations do. A change in place bumps the tensor's
    # version: a graph not yet backpropagated that reads the old values then refuses to run.
    def _inplace(self, ufunc: np.ufunc, op: Callable, other: ArrayLike) -> Tensor:
        other_requires_grad = isinstance(other, Tensor) and other._requires_grad
        if mode.modes.grad_enabled and (self._requires_grad or other_requires_grad):
            if self._op is None and self._requires_grad:
                raise RuntimeError(
                    f"in-place {ufunc.__name__} on a leaf tensor that requires grad: "
                    "do parameter updates inside `with tg.no_grad():`"
                )
            out = op(self, other)
            if out.data.shape != self.data.shape:
                raise ValueError(f"in-place {op.name}: the result would have shape "
                                 f"{out.data.shape}, not the tensor's shape {self.data.shape}")
            return out
        if _modes._tracer is not None:
            mode.refuse_in_trace(f"in-place {op.name}", _IN_PLACE)
        value = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as error:
            raise _engine.renamed(
                error, f"in-place {op.name}: {error} (shapes {self.data.shape} and "
                f"{np.shape(value)})") from None
        _engine.changed_in_place(self)
        return self

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        """``t[index] = value`` changes ``t.data`` in place, as NumPy does, and bumps t's version.

        It is never recorded: inside the graph, write it as an expression (``tg.where``,
        ``tg.concatenate``) instead, or change the values inside ``with tg.no_grad():``."""
        value_requires_grad = isinstance(value, Tensor) and value._requires_grad
        if mode.modes.grad_enabled and (self._requires_grad or value_requires_grad):
            raise RuntimeError(
                f"t[...] = value on a tensor of shape {self.data.shape} would change a tensor "
                "the graph records (the tensor or the value requires grad): write it as an "
                "expression (tg.where, tg.concatenate), or inside `with tg.no_grad():`"
            )
        mode.refuse_in_trace("setitem (t[...] = value)", _IN_PLACE)
        array = value.data if isinstance(value, Tensor) else value
        index = functions.normalize_index(index, self.data.shape, "setitem")
        try:
            self.data[index] = array
        except (ValueError, TypeError, IndexError) as error:
            raise _engine.renamed(error, f"setitem: {error} (tensor of shape "
                                  f"{self.data.shape}, value of shape {np.shape(array)})") from None
        _engine.changed_in_place(self)

    def __iadd__(self, other: ArrayLike) -> Tensor:
        return self._inplace(np.add, ops.add, other)

    def __isub__(self, other: ArrayLike) -> Tensor:
        return self._inplace(np.subtract, ops.sub, other)

    def __imul__(self, other: ArrayLike) -> Tensor:
        return self._inplace(np.multiply, ops.mul, other)

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return self._inplace(np.divide, ops.div, other)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy ufuncs with a derivative rule here (``np.exp(t)``, ``array * t``, ...) become
        the recorded operation; any other ufunc is refused rather than silently dropping the
        gradient."""
        op = ops.UFUNCS.get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if op is None:
            raise TypeError(
                f"numpy.{ufunc.__name__} ({method}) has no derivative rule in tinygrad_ko; "
                "use the tinygrad_ko function, or t.numpy() for plain values"
            )
        return op(*inputs)

    # ---- elementwise -----------------------------------------------------------------------------

    def exp(self) -> Tensor:
        """e^x, elementwise; d/dx = e^x."""
        return ops.exp(self)

    def log(self) -> Tensor:
        """Natural log, elementwise; d/dx = 1/x."""
        return ops.log(self)

    def sqrt(self) -> Tensor:
        """√x, elementwise; d/dx = 1/(2√x)."""
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        """|x|, elementwise; d/dx = sign(x), 0 at x = 0."""
        return ops.abs(self)

    def sin(self) -> Tensor:
        """sin x, elementwise; d/dx = cos x."""
        return ops.sin(self)

    def cos(self) -> Tensor:
        """cos x, elementwise; d/dx = −sin x."""
        return ops.cos(self)

    def tanh(self) -> Tensor:
        """tanh x, elementwise; d/dx = 1 − tanh² x."""
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^−x), elementwise, without overflow; d/dx = σ(x)(1 − σ(x))."""
        return ops.sigmoid(self)

    def relu(self) -> Tensor:
        """max(x, 0), elementwise; d/dx = 1 where x > 0, else 0 (also at 0)."""
        return ops.relu(self)

    def square(self) -> Tensor:
        """x², elementwise; d/dx = 2x."""
        return ops.square(self)

    def clip(self, lo: float | None = None, hi: float | None = None, *, out: None = None,
             **numpy_options: Any) -> Tensor:
        """x limited to [lo, hi]; the gradient passes where lo ≤ x ≤ hi."""
        if numpy_options:  # (a ValueError: np.clip would retry a TypeError on the array)
            raise ValueError(f"clip: options {sorted(numpy_options)} are not supported for a "
                             "Tensor")
        return functions.clip(_numpy_args(self, "clip", None, out), lo, hi)

    def maximum(self, other: ArrayLike) -> Tensor:
        """Elementwise larger of self and other; ties split the gradient evenly."""
        return ops.maximum(self, other)

    def minimum(self, other: ArrayLike) -> Tensor:
        """Elementwise smaller of self and other; ties split the gradient evenly."""
        return ops.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A cast to ``dtype``; the gradient is cast back to this tensor's dtype. An integer or
        boolean result has no gradient."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            return Tensor._make(self.data.astype(dtype))
        return ops.astype(self, dtype)

    # ---- reductions ------------------------------------------------------------------------------

    # ``dtype`` and ``out`` are there for NumPy: ``np.sum(t)`` calls ``t.sum(axis=None,
    # dtype=None, out=None)``. A dtype casts first; ``out`` must be None (the result is new).

    def sum(self, axis: Axis = None, keepdims: bool = False, *, dtype: Any = None,
            out: None = None) -> Tensor:
        """Σ over ``axis`` (all axes when None); the gradient is broadcast back."""
        return functions.sum(_numpy_args(self, "sum", dtype, out), axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dtype: Any = None,
             out: None = None) -> Tensor:
        """(1/n) Σ over ``axis``."""
        return functions.mean(_numpy_args(self, "mean", dtype, out), axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False, *, out: None = None) -> Tensor:
        """Largest element over ``axis``; tied maxima share the gradient evenly."""
        return functions.max(_numpy_args(self, "max", None, out), axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False, *, out: None = None) -> Tensor:
        """Smallest element over ``axis``; tied minima share the gradient evenly."""
        return functions.min(_numpy_args(self, "min", None, out), axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0, *,
            dtype: Any = None, out: None = None) -> Tensor:
        """Variance over ``axis`` as ``np.var`` (``ddof=0``)."""
        return functions.var(_numpy_args(self, "var", dtype, out), axis, keepdims, ddof)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """log Σ exp(x) over ``axis``, without overflow; its gradient is softmax(x)."""
        return functions.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / Σ exp(x) along ``axis``, stable for any x."""
        return functions.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x − logsumexp(x) along ``axis``."""
        return functions.log_softmax(self, axis)

    # ---- shape -----------------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape: ``t.reshape(2, 3)`` or ``t.reshape((2, 3))``."""
        return functions.reshape(self, *shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (reverse them when none are given)."""
        return functions.transpose(self, *axes)

    @property
    def T(self) -> Tensor:
        return functions.transpose(self)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Exchange two axes."""
        return functions.swapaxes(self, axis1, axis2)

    def squeeze(self, axis: Axis = None) -> Tensor:
        """Remove axes of length one."""
        return functions.squeeze(self, axis)

    def expand_dims(self, axis: int | Sequence[int]) -> Tensor:
        """Insert an axis of length one."""
        return functions.expand_dims(self, axis)

    def flatten(self) -> Tensor:
        """All elements in one axis."""
        return functions.flatten(self)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Repeat along new or length-one axes; the gradient sums back."""
        return functions.broadcast_to(self, shape)

    def matmul(self, other: ArrayLike) -> Tensor:
        """Matrix product as ``np.matmul`` (batched, 1-D operands promoted)."""
        return ops.matmul(self, other)


# Creation numbers of nodes, the order of the backward pass; in-place changes are stamped on the
# same clock (engine.changed_in_place), so "changed after this node was made" is one comparison.
next_number = count().__next__
_modes = mode.modes
_new = object.__new__


def record(op: Any, y: Any, inputs: tuple, params: tuple, requires_grad: bool) -> Tensor:
    """Wrap ``op``'s result ``y`` in a Tensor. When grad mode is on and an input requires grad
    (``requires_grad``), make it a node of the graph: remember the op, its inputs and its
    parameters, and give it the next creation number.

    The caller passes ``requires_grad=False`` for a result that is not float, which has no
    gradient: only a cast (``Tensor.astype``) and a user ``Function`` can give one from a float
    input.
    """
    out = _new(Tensor)  # (the slots of Tensor._leaf, written here directly: the hot path)
    out.data = y if type(y) is np.ndarray else np.asarray(y)
    out.grad = out._hooks = None
    out._retains_grad = False
    if not _modes.plain:  # grad mode off, anomaly mode on, or a trace running
        if _modes.anomaly:
            _engine.check_finite(out.data, f"the forward of '{_engine.op_name(op)}'")
        if _modes.tracer is not None:
            _modes.tracer.node(op, inputs, params, out)
        requires_grad = requires_grad and _modes.grad_enabled
    if requires_grad:
        out._requires_grad = True
        out._op, out._inputs, out._params = op, inputs, params
        out._seq = next_number()
    else:
        out._requires_grad = False
        out._op = out._inputs = out._params = None
    return out


_IN_PLACE = ("cannot be traced: a compiled function computes new values only; change tensors "
             "(an optimizer's step()) outside it")


def _escape(what: str, t: Tensor) -> None:
    """Refuse, while a trace runs, to turn a tensor into Python values or a bare array: the
    compiled function would keep the values of the traced call."""
    if _modes._tracer is not None:
        raise mode.CompileError(
            f"tg.compile: {what} on a tensor of shape {t.data.shape} while tracing would fix its "
            "value at this call; compute with tensors instead, and call it outside the compiled "
            "function (on what it returns)")


def _numpy_args(t: Tensor, name: str, dtype: Any, out: Any) -> Tensor:
    """``t`` cast to ``dtype`` (if given), after refusing an ``out`` array: NumPy's functions
    (``np.sum(t)``) pass both to the method, and a Tensor's result is always a new Tensor."""
    if out is not None:  # (not a TypeError: np.clip would retry the call on the array)
        raise ValueError(f"{name}: out= is not supported for a Tensor (got {type(out).__name__}); "
                        "use the returned Tensor")
    return t if dtype is None or np.dtype(dtype) == t.data.dtype else t.astype(dtype)


class _HookHandle:
    __slots__ = ("_fn", "_hooks")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as ``Tensor(data, requires_grad, dtype)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# ---- constructors --------------------------------------------------------------------------------


def _shape(shape: tuple) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _leaf(array: np.ndarray, requires_grad: bool) -> Tensor:
    if requires_grad:
        _check_can_require_grad(array.dtype)
    return Tensor._make(array, requires_grad)


def _float_dtype(dtype: Any) -> np.dtype:
    return _default_dtype if dtype is None else np.dtype(dtype)


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _leaf(np.zeros(_shape(shape), _float_dtype(dtype)), requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return _leaf(np.ones(_shape(shape), _float_dtype(dtype)), requires_grad)


def zeros_like(t: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Zeros of ``t``'s shape and (unless given) dtype."""
    a = np.asarray(t)
    return _leaf(np.zeros(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def ones_like(t: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Ones of ``t``'s shape and (unless given) dtype."""
    a = np.asarray(t)
    return _leaf(np.ones(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def arange(*args: float, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """``arange([start,] stop[, step])`` as NumPy: integers give ``int64``, any float gives the
    default float dtype."""
    if dtype is None:
        dtype = np.int64 if all(isinstance(a, (int, np.integer)) for a in args) else _default_dtype
    return _leaf(np.arange(*args, dtype=dtype), requires_grad)


def _generator(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def randn(*shape: Any, rng: Any = None, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Standard normal samples; ``rng`` is a ``numpy.random.Generator``, a seed, or None."""
    array = _generator(rng).standard_normal(_shape(shape)).astype(_float_dtype(dtype))
    return _leaf(array, requires_grad)


def rand(*shape: Any, rng: Any = None, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Uniform samples on [0, 1); ``rng`` is a ``numpy.random.Generator``, a seed, or None."""
    array = _generator(rng).random(_shape(shape)).astype(_float_dtype(dtype))
    return _leaf(array, requires_grad)


# ``ops`` and ``functions`` build on Tensor, so they are imported after it; the methods above look
# them up when called.
from tinygrad_ko import engine as _engine  # noqa: E402
from tinygrad_ko import functions, ops  # noqa: E402

__all__ = ["Tensor", "arange", "get_default_dtype", "ones", "ones_like", "rand", "randn",
           "set_default_dtype", "tensor", "zeros", "zeros_like"]
