"""``tg.compile``: trace a function once, then replay it as generated NumPy code.

On the first call with a given signature (the shapes, dtypes and requires_grad of the Tensor
arguments, the shapes and dtypes of the array arguments, the values of the others) the function
runs eagerly while a ``_Trace`` watches every operation: those of the forward pass and those of
any backward pass it runs, which is recorded as with ``create_graph=True`` and so is made of
table rows too. ``_generate`` turns that record into the source of one Python function, one NumPy
call per line (``v7 = v3 @ v5``): constants folded, common subexpressions shared, dead code
dropped. Later calls with that signature run only that function; ``step.source`` shows it.

What a trace sees and what it does not:

- Every value that depends on an argument, or on a Tensor the function reads from outside (a
  model's parameters, read afresh at every call), is recomputed at every call; so are the masks
  and tie counts of the gradient rules (``ops.constant`` records them).
- Python control flow runs once, at tracing, as in ``jax.jit``; arrays and numbers read from
  outside (globals, closures) are constants of the trace. Turning a traced value into a Python
  value (``.item()``, ``float()``, ``bool()``, ``.tolist()``, ``.numpy()``) raises
  ``CompileError``, and so does any change in place (``+=``, ``t[...] = v``, an optimizer's
  ``step()``, ``zero_grad()``): those belong outside the compiled function.
- ``.grad`` updates of a traced ``backward()`` are applied after each call, adding to what is
  there, as eagerly. So are the updates of batch normalization's running statistics (the one
  change in place a trace records, ``_Trace.assign``): written into their arrays after each call.
"""

from __future__ import annotations

import builtins
import functools
import gc
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_ko import kernels, mode, ops
from tinygrad_ko.engine import write_in_place
from tinygrad_ko.mode import CompileError
from tinygrad_ko.tensor import Tensor

__all__ = ["CompileError", "compile"]

# How a row reads as Python: {0}, {1}, ... are its operands, then its parameters (each a name or
# a literal). Rows not listed are called by their forward's name: ``kernels.sum(v3, (1,), True)``.
_SOURCE = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
    "pow": "{0} ** {1}", "matmul": "{0} @ {1}", "neg": "-{0}", "relu": "np.maximum({0}, 0)",
    "where": "np.where({2}, {0}, {1})", "getitem": "{0}[{1}]", "reshape": "{0}.reshape({1})",
    "transpose": "{0}.transpose({1})", "astype": "{0}.astype({1})",
    "less": "{0} < {1}", "less_equal": "{0} <= {1}", "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}", "equal": "{0} == {1}", "not_equal": "{0} != {1}",
    "bitwise_and": "{0} & {1}", "bitwise_or": "{0} | {1}", "invert": "~{0}",
}
# Rows whose result may share memory with an operand: such a result is copied before it is
# returned or kept as a .grad, so that results never alias each other or an argument.
_VIEWS = {"reshape", "transpose", "broadcast_to", "getitem", "stop_gradient", "astype"}
# How many programs a compiled function keeps for one signature (they differ in what they
# assume of the state around the call: a module's training mode, whether a .grad is None).
_PROGRAMS_KEPT = 4
# Rows that draw random numbers: never folded into a constant, never shared between two calls.
_RANDOM = {"dropout_mask"}
# Rows that ``_Writer.simplified`` and ``_Writer.unchanged`` may make simpler: elementwise rows
# in which a constant of one repeated value can be written as a number, and rows that may change
# nothing (x * 1, a reshape to x's own shape, ...).
_SHAPE_ONLY = {"stop_gradient", "reshape", "broadcast_to"}
_SIMPLER = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", *_SHAPE_ONLY}


def _softmax_cross_entropy_labels(z: Tensor, labels: Tensor) -> Tensor:
    """The fused row's forward (``kernels.softmax_cross_entropy_labels``, the same operations in
    the same order) as rows: its max, z − max, exp and sum over the classes are those that the
    gradient rule computes for softmax(z) (``ops._softmax``), so the code computes them once.
    With an infinite logit this gives NaN where the kernel gives ±inf (and NaN gradients in
    both)."""
    axis = (z.ndim - 1,)
    m = ops.max(z, axis, True)
    lse = ops.log(ops.sum(ops.exp(z - m), axis, True)) + m
    return (lse.reshape(z.shape[:-1]) - ops.pick(z, labels)).sum() / kernels.batch_size(z)


# Fused rows written out as rows when compiled, to share work with their gradient rules.
_WRITTEN_OUT = {"softmax_cross_entropy_labels": _softmax_cross_entropy_labels}


class _Const:
    """A value known at tracing: a Python number or an array that depends on no input."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Trace:
    """What one traced call did: its nodes in order, the constants it made, the ``.grad``
    updates of its backward passes and the running statistics it updated. The engine, the Tensor
    and ``batch_norm`` report to it (``mode.tracer``)."""

    def __init__(self) -> None:
        self.nodes: list[tuple[Any, tuple, tuple, Tensor]] = []
        self.constants: set[int] = set()  # ids of tensors made inside the function
        self.aliases: dict[int, Tensor] = {}  # Tensor([a, b]): id -> the stack it holds
        self.grads: list[tuple[Tensor, Tensor]] = []
        self.marks: dict[int, str] = {}  # node index -> a comment before it
        self.saved: dict[int, tuple[Tensor, Any]] = {}  # id -> (tensor, its .grad before)
        self.grad_reads: dict[int, Tensor] = {}  # id of a stand-in for t.grad -> t
        self.assigns: list[tuple[int, Tensor, Tensor]] = []  # (node index, tensor, new values)
        self.overwritten: dict[int, tuple[Tensor, np.ndarray]] = {}  # id -> (tensor, old values)
        self.depends: dict[tuple[int, str], tuple[Any, str, Any]] = {}  # Python values read
        self.set_here: set[tuple[int, str]] = set()  # ... and those the function set first
        self.keep: list[Any] = []  # every tensor seen, alive until the code is made (ids stay)

    def node(self, op: Any, inputs: tuple, params: tuple, out: Tensor) -> None:
        if isinstance(op, type):
            raise CompileError(
                f"tg.compile: the Function {op.__name__} cannot be traced: its backward works on "
                "arrays that its forward kept, which a trace cannot follow; write it with "
                "tinygrad_ko operations, or call it outside the compiled function")
        self.nodes.append((op, inputs, params, out))
        self.keep.append(out)

    def made(self, t: Tensor) -> None:
        self.constants.add(id(t))
        self.keep.append(t)

    def alias(self, t: Tensor, source: Tensor) -> None:
        self.aliases[id(t)] = source
        self.keep.append(t)

    def mark(self, comment: str) -> None:
        self.marks.setdefault(len(self.nodes), comment)

    def accumulate(self, t: Tensor, g: Tensor, create_graph: bool = False) -> None:
        """A traced backward pass adds ``g`` to ``t.grad``: recorded, to be done after each call.
        Meanwhile ``t.grad`` holds the traced sum, so that the function may read it, with a graph
        only if the pass was asked for one (``create_graph``), as eagerly. A ``.grad`` from
        before the call, read before or after the pass, is read afresh at every call."""
        self.grads.append((t, g))
        if id(t) not in self.saved:
            self.saved[id(t)] = (t, t.grad)
            if t.grad is not None:
                self.grad_reads[id(t.grad)] = t  # (read before the pass: the same .grad)
                t.grad = Tensor._make(t.grad.data)
                self.grad_reads[id(t.grad)] = t
        total = g if t.grad is None else t.grad + g
        t.grad = total if create_graph else ops.constant(total)

    def depend(self, owner: Any, attribute: str, value: Any) -> None:
        """The function read ``value`` from ``owner.attribute`` (a module's training mode),
        which decides what it computes: the code serves only calls that begin with the value
        read first (the function may change it afterwards), unless the function set it before
        reading it."""
        if (id(owner), attribute) not in self.set_here:
            self.depends.setdefault((id(owner), attribute), (owner, attribute, value))
            self.keep.append(owner)

    def set(self, owner: Any, attribute: str) -> None:
        """The function sets ``owner.attribute`` itself."""
        if (id(owner), attribute) not in self.depends:
            self.set_here.add((id(owner), attribute))
            self.keep.append(owner)

    def assign(self, t: Tensor, value: Tensor) -> None:
        """``t``'s array takes ``value``'s values, in place (a running statistic's update):
        recorded, to be done after each call. It is done now too, as eagerly, so that the rest
        of the function reads the new values and the traced call has made its update; if the
        trace fails, ``undo`` puts the old values back."""
        self.assigns.append((len(self.nodes), t, value))
        self.keep += [t, value]
        self.overwritten.setdefault(id(t), (t, t.data.copy()))
        write_in_place(t, value)

    def restore(self) -> None:
        """Give every ``.grad`` the traced backward passes touched its value from before."""
        for t, grad in self.saved.values():
            t.grad = grad

    def undo(self) -> None:
        """Give every array ``assign`` changed its values from before (the trace failed)."""
        for t, old in self.overwritten.values():
            t.data[...] = old


class _Program:
    """The code made for one signature, and what a call needs around it."""

    def __init__(self, fn: Callable, source: str, externals: list[Tensor],
                 reads_grad: list[bool], targets: list[tuple[bool, int]],
                 written: list[tuple[bool, int]], depends: list[tuple[Any, str, Any]],
                 tree: Any, tensors: list) -> None:
        self.fn, self.source, self.externals, self.targets, self.written, self.tree = (
            fn, source, externals, targets, written, tree)
        self.depends = [(owner, attribute) for owner, attribute, _ in depends]
        self.reads_grad = reads_grad if any(reads_grad) else None
        shapes, grads, _ = self.state(tensors)
        self.expected = shapes, grads, tuple(value for _, _, value in depends)  # (as first read)

    def state(self, tensors: list) -> tuple:
        """What the code assumes of what it reads besides its arguments: the shapes, dtypes and
        requires_grad of the tensors from outside (or of their .grad), which of the .grad it
        adds to are None (a .grad read inside depends on it), and the Python values that decided
        what it computes (a module's training mode)."""
        read = self.externals if self.reads_grad is None else [
            t.grad if grad else t for t, grad in zip(self.externals, self.reads_grad)]
        return (tuple(None if t is None else (t.data.shape, t.data.dtype, t._requires_grad)
                      for t in read),
                tuple((self.externals[i] if external else tensors[i]).grad is None
                      for external, i in self.targets),
                tuple(getattr(owner, attribute) for owner, attribute in self.depends))

    def run(self, tensors: list, traced: tuple[list, list] | None = None) -> Any:
        """Call the code on the arrays of ``tensors`` (the arguments that are Tensors or arrays)
        and the externals' current arrays, add the gradients to ``.grad``, write the updated
        running statistics into their arrays, rebuild the result. For the call that was traced,
        ``traced`` holds its results and gradients: the code does not run again (a random draw
        would be drawn again), and the trace has made the updates."""
        externals = self.externals
        if traced is not None:
            outs, grads = traced
        else:
            arrays = [t.data if isinstance(t, Tensor) else t for t in tensors]
            if self.reads_grad is None:
                arrays += [t.data for t in externals]
            else:
                arrays += [(t.grad if grad else t).data
                           for t, grad in zip(externals, self.reads_grad)]
            outs, grads, *written = self.fn(*arrays)  # (written: present when there are any)
            for (external, i), value in zip(self.written, *written):
                write_in_place(externals[i] if external else tensors[i], value)
        for (external, i), g in zip(self.targets, grads):
            t = externals[i] if external else tensors[i]
            # (the code returns new arrays for gradients, so a first one is kept as it is)
            t.grad = Tensor._make(g) if t.grad is None else Tensor._make(t.grad.data + g)
        if self.tree is _ONE_TENSOR:  # (the common case, a loss: no structure to rebuild)
            return Tensor._make(outs[0])
        return _rebuild(self.tree, iter(outs))


class compile:
    """``tg.compile(fn)``, or ``@tg.compile``: ``fn`` traced once per signature and replayed as
    generated NumPy code. See the module's docstring, and ``source`` for the code."""

    def __init__(self, fn: Callable) -> None:
        if not callable(fn):
            raise TypeError(f"tg.compile: expected a function, got {type(fn).__name__}")
        self._fn = fn
        self._programs: dict[tuple, list[_Program]] = {}  # signature -> the latest programs
        self._last: _Program | None = None
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)

    @property
    def source(self) -> str:
        """The generated code of the last traced signature."""
        if self._last is None:
            raise RuntimeError(f"tg.compile: {self.__name__} has not been called yet")
        return self._last.source

    def __get__(self, instance: Any, owner: Any) -> Any:  # a compiled method binds like one
        return self if instance is None else functools.partial(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if mode.modes._tracer is not None:  # inside another traced function: part of its trace
            return self._fn(*args, **kwargs)
        key, tensors = _signature(args + tuple(kwargs[k] for k in sorted(kwargs)) if kwargs
                                  else args, tuple(sorted(kwargs)))
        for program in self._programs.get(key, ()):  # (one, or one per mode the function read)
            if program.state(tensors) == program.expected:
                return program.run(tensors)
        program, traced = self._trace(args, kwargs, key)
        return program.run(tensors, traced)

    def _trace(self, args: tuple, kwargs: dict, key: tuple) -> tuple[_Program, tuple]:
        # A trace makes many objects and frees none until the code is made: the garbage
        # collector would walk them all, again and again, for nothing (a tenth of the time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._trace_and_generate(args, kwargs, key)
        finally:
            if collecting:
                gc.enable()

    def _trace_and_generate(self, args: tuple, kwargs: dict,
                            key: tuple) -> tuple[_Program, tuple]:
        trace = _Trace()
        # Arrays become Tensors (keeping their dtype), so that the trace sees what is made of them.
        wrapped = [Tensor._make(a) if type(a) is np.ndarray else a for a in args]
        named = {k: Tensor._make(v) if type(v) is np.ndarray else v for k, v in kwargs.items()}
        inputs = [a for a in [*wrapped, *(named[k] for k in sorted(named))]
                  if isinstance(a, Tensor)]
        name = self.__name__ if self.__name__.isidentifier() else "compiled"  # (a lambda)
        try:
            mode.modes.tracer = trace
            try:
                result = self._fn(*wrapped, **named)
            finally:
                mode.modes.tracer = None
                trace.restore()
            program, traced = _generate(trace, inputs, result, name,
                                        _argument_names(self._fn, args, kwargs))
        except BaseException:
            trace.undo()  # (the running statistics the trace updated: as before the call)
            raise
        with self._lock:  # the newest first; a few kept (train and eval, .grad None or not)
            self._programs[key] = [program, *self._programs.get(key, ())][:_PROGRAMS_KEPT]
            self._last = program
        return program, traced


def _signature(args: tuple, names: tuple) -> tuple[tuple, list]:
    """The cache key of a call, and its arguments that are Tensors or arrays, in order. ``args``
    are the positional arguments, then the keyword arguments ordered by their ``names``."""
    parts, tensors = [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            parts.append((a.data.shape, a.data.dtype, a._requires_grad))
            tensors.append(a)
        elif type(a) is np.ndarray:
            parts.append((np.ndarray, a.shape, a.dtype))
            tensors.append(a)
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"tg.compile: argument {i} is a {type(a).__name__}, which is "
                                "neither a Tensor, an array nor a hashable value") from None
            parts.append((type(a), a))
    return (tuple(parts), names), tensors


def _argument_names(fn: Callable, args: tuple, kwargs: dict) -> list[str]:
    """Names for the generated code's arguments: fn's own parameter names where it has them."""
    code = getattr(fn, "__code__", None)
    names = list(code.co_varnames[: code.co_argcount]) if code is not None else []
    if names and names[0] == "self":
        names = names[1:]
    out = []
    for i, a in enumerate(args):
        if isinstance(a, (Tensor, np.ndarray)):
            out.append(names[i] if i < len(names) and names[i].isidentifier() else f"x{i}")
    out += [k for k in sorted(kwargs) if isinstance(kwargs[k], (Tensor, np.ndarray))]
    return out


# ---- the record as code --------------------------------------------------------------------------


_ONE_TENSOR = ("tensor", 0)


def _flatten(value: Any, leaves: list) -> Any:
    """The structure of a returned value, with each Tensor replaced by its index in ``leaves``."""
    if isinstance(value, Tensor):
        leaves.append(value)
        return _ONE_TENSOR if len(leaves) == 1 else ("tensor", len(leaves) - 1)
    if isinstance(value, (tuple, list)):
        return (type(value), [_flatten(v, leaves) for v in value])
    if isinstance(value, dict):
        return (dict, {k: _flatten(v, leaves) for k, v in value.items()})
    if isinstance(value, np.ndarray):
        raise CompileError("tg.compile: the function returned a NumPy array, whose values a "
                           "trace cannot follow; return Tensors")
    return ("value", value)


def _rebuild(tree: Any, outs: Any) -> Any:
    kind, content = tree
    if kind == "tensor":
        return Tensor._make(next(outs))
    if kind == "value":
        return content
    if kind is dict:
        return {k: _rebuild(v, outs) for k, v in content.items()}
    return kind(_rebuild(v, outs) for v in content)


class _Writer:
    """Turns the trace's nodes into lines of code."""

    def __init__(self, trace: _Trace) -> None:
        self.trace = trace
        self.env: dict[int, Any] = {}  # id(tensor) -> its variable's name, or a _Const
        self.namespace: dict[str, Any] = {"np": np, "kernels": kernels}
        self.externals: list[Tensor] = []
        self.reads_grad: list[bool] = []  # for each external: whether its .grad is read
        self.lines: list[tuple[str, str, list[str]]] = []  # (name, expression, names read)
        self.comments: dict[int, str] = {}  # line index -> a comment before it
        self.shapes: dict[str, tuple] = {}  # name -> (shape, dtype)
        self.views: set[str] = set()  # names that may share an input's memory
        self.seen: dict[str, str] = {}  # common subexpressions: expression -> name

    def ref(self, x: Any) -> Any:
        """What an operand is in the code: a name, or a _Const."""
        found = self.env.get(id(x))  # (the common case first: a tensor met before)
        if found is not None:
            return found
        if not isinstance(x, Tensor):
            return _Const(x)
        source = self.trace.aliases.get(id(x))
        if source is not None:
            return self.ref(source)
        owner = self.trace.grad_reads.get(id(x))
        if owner is None and id(x) in self.trace.constants:
            return _Const(x.data)
        name = f"w{len(self.externals)}"  # read from outside: afresh at every call
        self.externals.append(x if owner is None else owner)
        self.reads_grad.append(owner is not None)
        self.env[id(x)] = name
        self.shapes[name] = (x.data.shape, x.data.dtype)
        self.views.add(name)
        return name

    def constant(self, value: Any) -> str:
        """``value`` written in the code: a literal, or a name in the namespace."""
        text = _literal(value)
        if text is not None:
            return text
        for name, v in self.namespace.items():
            if v is value:
                return name
        name = f"c{len(self.namespace) - 2}"
        self.namespace[name] = value
        return name

    def node(self, op: Any, inputs: tuple, params: tuple, out: Tensor) -> None:
        refs = [self.ref(x) for x in inputs]
        reads = [r for r in refs if type(r) is str]
        name = op.name
        if not reads and name not in _RANDOM:  # depends on no input: fold
            self.env[id(out)] = _Const(out.data)
            return
        if name in _WRITTEN_OUT:
            self.written_out(_WRITTEN_OUT[name], inputs, params, out)
            return
        shape = (out.data.shape, out.data.dtype)
        if name in _SIMPLER and (len(reads) < len(refs) or name in _SHAPE_ONLY):
            refs = self.simplified(name, refs, shape)
            same = self.unchanged(name, refs, shape)
            if same is not None:  # the row changes nothing here: its result is its operand
                self.env[id(out)] = same
                return
        texts = [r if type(r) is str else self.constant(r.value) for r in refs]
        texts += [self.constant(p) for p in params]
        template = _SOURCE.get(name)
        if name == "pick" and type(refs[1]) is _Const:  # labels known (and checked) at tracing
            labels = np.asarray(refs[1].value)
            index = labels if labels.ndim == 0 else (np.arange(labels.shape[0]), labels)
            expression = f"{texts[0]}[{self.constant(index)}]"
        elif template is not None:
            expression = template.format(*texts)
        else:
            expression = f"{self.callee(op)}({', '.join(texts)})"
        # The same expression of the same names is the same value (unless random): computed once.
        var = None if name in _RANDOM else self.seen.get(expression)
        if var is None:
            var = self.seen[expression] = f"v{len(self.lines)}"
            self.lines.append((var, expression, reads))
            self.shapes[var] = shape
            if name in _VIEWS:
                self.views.add(var)
        self.env[id(out)] = var

    def written_out(self, rows: Callable, inputs: tuple, params: tuple, out: Tensor) -> None:
        """A fused row as the rows ``rows(*inputs, *params)`` computes it with, traced now."""
        sub = _Trace()
        mode.modes.tracer = sub
        try:
            result = rows(*inputs, *params)
        finally:
            mode.modes.tracer = None
        self.trace.constants |= sub.constants
        self.trace.keep += sub.keep
        for node in sub.nodes:
            self.node(*node)
        self.env[id(out)] = self.ref(result)

    def simplified(self, name: str, refs: list, shape: tuple) -> list:
        """In an elementwise row, a constant array of one repeated value beside an operand that
        already has the result's shape and dtype is written as that number (``-0.25 * t``)."""
        if len(refs) != 2:
            return refs
        out = []
        for i, r in enumerate(refs):
            other = refs[1 - i]
            if (isinstance(r, _Const) and isinstance(r.value, np.ndarray) and r.value.size
                    and isinstance(other, str) and self.shapes[other] == shape
                    and r.value.dtype.kind in "biuf" and np.all(r.value == r.value.flat[0])):
                r = _Const(r.value.flat[0].item())
            out.append(r)
        return out

    def unchanged(self, name: str, refs: list, shape: tuple) -> str | None:
        """The operand a row gives back unchanged here, if any: x * 1, x / 1, x + 0, x - 0,
        x ** 1, a reshape or broadcast to x's own shape, and stop_gradient (no gradient is
        computed from compiled code)."""
        first = refs[0]
        if name == "mul" and isinstance(first, _Const) and len(refs) == 2:  # 1 * x
            first, refs = refs[1], [refs[1], first]
        if name == "add" and isinstance(first, _Const) and len(refs) == 2:  # 0 + x
            first, refs = refs[1], [refs[1], first]
        if not isinstance(first, str):
            return None
        if name == "stop_gradient":
            return first
        if name in ("reshape", "broadcast_to") and self.shapes[first] == shape:
            return first
        if len(refs) == 2 and isinstance(refs[1], _Const) and self.shapes[first] == shape:
            value = refs[1].value
            neutral = {"mul": 1, "div": 1, "pow": 1, "add": 0, "sub": 0}.get(name)
            if neutral is not None and type(value) in (int, float) and value == neutral:
                return first
        return None

    def callee(self, op: Any) -> str:
        forward = op.forward
        name = getattr(forward, "__name__", "")
        if name.isidentifier() and getattr(np, name, None) is forward:
            return f"np.{name}"
        if name.isidentifier() and getattr(kernels, name, None) is forward:
            return f"kernels.{name}"
        alias = f"{op.name}_forward"
        self.namespace[alias] = forward
        return alias


def _literal(value: Any) -> str | None:
    """Python source that gives ``value`` back exactly, or None."""
    if value is None or value is Ellipsis:
        return repr(value)
    if type(value) in (bool, int, str):
        text = repr(value)
    elif type(value) is float:
        if not math.isfinite(value):
            return None
        text = repr(value)
    elif isinstance(value, np.generic) and value.dtype.kind in "biuf":
        inner = _literal(value.item())
        return None if inner is None else f"np.{value.dtype.name}({inner})"
    elif isinstance(value, tuple):
        items = [_literal(v) for v in value]
        if any(item is None for item in items):
            return None
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    elif isinstance(value, slice):
        parts = [_literal(v) for v in (value.start, value.stop, value.step)]
        return None if None in parts else f"slice({', '.join(parts)})"
    elif isinstance(value, type) and issubclass(value, np.generic):
        return f"np.{value.__name__}"
    elif isinstance(value, np.dtype):
        return f"np.dtype({value.name!r})"
    else:
        return None
    return f"({text})" if text.startswith("-") else text


def _generate(trace: _Trace, inputs: list[Tensor], result: Any, name: str,
              arg_names: list[str]) -> _Program:
    writer = _Writer(trace)
    names = []
    for i, t in enumerate(inputs):
        arg = arg_names[i] if i < len(arg_names) and arg_names[i] not in names else f"x{i}"
        names.append(arg)
        writer.env[id(t)] = arg
        writer.shapes[arg] = (t.data.shape, t.data.dtype)
        writer.views.add(arg)
    argument = {id(t): i for i, t in enumerate(inputs)}
    made = trace.constants | {id(out) for *_, out in trace.nodes}  # tensors made inside

    def owner(t: Tensor) -> tuple[bool, int] | None:
        """Where the program finds ``t`` at a call (an argument's position, or an external's),
        or None for a tensor made inside the function, which nobody outside can read."""
        if id(t) in argument:
            return False, argument[id(t)]
        if id(t) in made:
            return None
        writer.ref(t)  # (a tensor from outside: now one of writer.externals, if not yet)
        return True, next(i for i, (e, grad) in enumerate(zip(writer.externals,
                                                               writer.reads_grad))
                          if e is t and not grad)

    # Running statistics updated in place: after its update, the function reads the new values.
    written, written_values = [], []
    updates: dict[int, list[tuple[Tensor, Tensor]]] = {}  # node index -> updates before it
    for index, t, value in trace.assigns:
        updates.setdefault(index, []).append((t, value))

    def assign(t: Tensor, value: Tensor) -> None:
        where = owner(t)
        if where is not None:
            written.append(where)
            written_values.append(writer.ref(value))
        writer.env[id(t)] = writer.ref(value)

    for index, (op, operands, params, out) in enumerate(trace.nodes):
        for t, value in updates.get(index, ()):
            assign(t, value)
        if index in trace.marks:
            writer.comments[len(writer.lines)] = trace.marks[index]
        writer.node(op, operands, params, out)
    for t, value in updates.get(len(trace.nodes), ()):
        assign(t, value)

    leaves: list[Tensor] = []
    tree = _flatten(result, leaves)
    outputs = [writer.ref(t) for t in leaves]
    targets, gradients = [], []
    # The traced call's own results: the first call returns these (new arrays) instead of running
    # the code, so that nothing it does happens twice (a random draw would be drawn again).
    first = ([np.array(t.data) for t in leaves], [])
    for t, g in trace.grads:
        where = owner(t)
        if where is None:
            continue  # a tensor made inside the function: nobody outside can read its .grad
        targets.append(where)
        gradients.append(writer.ref(g))
        first[1].append(np.array(g.data))

    # Results: a copy where one could share memory with an input or with another result.
    counts: dict[str, int] = {}
    for r in (*outputs, *gradients):
        if isinstance(r, str):
            counts[r] = counts.get(r, 0) + 1

    def returned(r: Any) -> str:
        if isinstance(r, _Const):
            return f"np.array({writer.constant(np.asarray(r.value))})"
        return f"np.array({r})" if r in writer.views or counts[r] > 1 else r

    out_texts = [returned(r) for r in outputs]
    grad_texts = [returned(r) for r in gradients]
    written_texts = [writer.constant(np.asarray(r.value)) if isinstance(r, _Const) else r
                     for r in written_values]  # (copied into their arrays: never aliased)
    live = _live(writer.lines, [*out_texts, *grad_texts, *written_texts])
    body = []
    for i, (var, expression, _) in enumerate(writer.lines):
        if i in writer.comments and any(j in live for j in range(i, len(writer.lines))):
            body.append(f"    # {writer.comments[i]}")
        if i in live:
            body.append(f"    {var} = {expression}")
    # A .grad that only the traced ``.grad + g`` read (dead code: ``run`` adds the gradients) is
    # not passed. Every tensor from outside is: the code reads it, or ``run`` adds a .grad to it
    # or writes into it.
    read = {word for i in live for word in writer.lines[i][2]}
    read.update(word for text in [*out_texts, *grad_texts, *written_texts] for word in _names(text))
    passed = [i for i, grad in enumerate(writer.reads_grad) if not grad or f"w{i}" in read]
    renumbered = {old: new for new, old in enumerate(passed)}
    targets, written = ([(external, renumbered[i] if external else i) for external, i in where]
                        for where in (targets, written))
    externals = [writer.externals[i] for i in passed]
    reads_grad = [writer.reads_grad[i] for i in passed]
    params = [*names, *(f"w{i}" for i in passed)]
    header = [f"    # {w}: {_describe(t)} from outside, read afresh at each call" if not grad
              else f"    # {w}: the .grad of a tensor from outside, read afresh at each call"
              for w, t, grad in zip(params[len(names):], externals, reads_grad)]
    owners = [params[i + len(names) * external] if external else names[i]
              for external, i in [*targets, *written]]
    returned = f"    return ({_tuple(out_texts)}), ({_tuple(grad_texts)})"
    if written:
        returned += f", ({_tuple(written_texts)})"
    comments = [f"added to the .grad of {', '.join(owners[:len(targets)])}"] if targets else []
    if written:
        comments.append(f"written into {', '.join(owners[len(targets):])}")
    if comments:
        returned += f"  # {'; '.join(comments)}"
    source = f"def {name}({', '.join(params)}):\n" + "\n".join([*header, *body, returned]) + "\n"
    namespace = dict(writer.namespace)
    exec(builtins.compile(source, f"<tg.compile {name}>", "exec"), namespace)
    program = _Program(namespace[name], source, externals, reads_grad, targets, written,
                       list(trace.depends.values()), tree, inputs)
    return program, first


def _describe(t: Tensor) -> str:
    return f"a {t.data.dtype} tensor of shape {t.data.shape}"


def _tuple(items: list[str]) -> str:
    return ", ".join(items) + ("," if len(items) == 1 else "")


def _live(lines: list[tuple[str, str, list[str]]], results: list[str]) -> set[int]:
    """The indices of the lines that a result needs, directly or not."""
    needed = {word for text in results for word in _names(text)}
    live = set()
    for i in range(len(lines) - 1, -1, -1):
        var, _, reads = lines[i]
        if var in needed:
            live.add(i)
            needed.update(reads)
    return live


def _names(text: str) -> list[str]:
    return [w for w in text.replace("(", " ").replace(")", " ").replace(",", " ").split()]

