"""How the operation graph is recorded (``record``) and traversed backwards (``backward``).

The engine does the work that every operation shares, once: it orders the graph by the nodes'
creation numbers (no recursion, so a chain of any depth works), calls each operation's gradient
rule, sums a gradient over broadcast axes back to its operand's shape (``unbroadcast``), casts it
to the operand's dtype, checks its shape, accumulates gradients without aliasing (a leaf keeps a
gradient array that a rule made for it alone; any other is copied), runs hooks, and releases the
graph's nodes once the pass has succeeded. Derivative rules live in ``ops``; an operation author
writes none of this.

Speed: every operation pays this bookkeeping in Python, so it is kept to a few attribute reads
and writes per node; one- and two-operand primitives, the common case, take paths without
lists, and a chain of nodes is followed without the heap (see ``benchmarks/``).

With ``create_graph=True`` the rules receive Tensors instead of arrays, so the backward pass is
recorded like any other computation and can be differentiated again.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache
from heapq import heappop, heappush
from typing import Any

import numpy as np

from tinygrad_ko import mode


def op_name(op: Any) -> str:
    """The name of a primitive (``op.name``) or of a user ``Function`` subclass."""
    return op.__name__ if isinstance(op, type) else op.name


def renamed(error: Exception, message: str) -> Exception:
    """``error`` as its builtin class (ValueError, IndexError or TypeError) with ``message``:
    NumPy's own subclasses cannot be built from a message alone."""
    for kind in (ValueError, IndexError, TypeError):
        if isinstance(error, kind):
            return kind(message)
    return error


def check_finite(array: Any, where: str) -> None:
    array = np.asarray(array)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        kind = "nan" if np.isnan(array).any() else "inf"
        raise FloatingPointError(f"detect_anomaly: {where} produced {kind} (shape {array.shape})")


_modes = mode.modes
# In-place changes, by the array that owns the memory (a view's root): id -> (a weak reference
# that forgets the entry when the array dies, the stamp of its last change). Keyed by memory, not
# by Tensor, because every view of it (a reshape, an index, a detach(), one made under no_grad)
# sees the change; as PyTorch's version counter is shared by every view of a storage.
_changes: dict[int, tuple[weakref.ref, int]] = {}
_last_change = 0  # the newest stamp in _changes (0: no change yet)
_changes_lock = threading.Lock()
# Backward passes in several threads may add to the .grad of one shared leaf: read, add, store
# must not interleave.
_grad_lock = threading.Lock()


def _root(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself unless it is a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def version(array: np.ndarray) -> int:
    """The stamp of the last in-place change of ``array``'s memory, on the clock of creation
    numbers (0: never changed). It only increases."""
    entry = _changes.get(id(_root(array)))
    return 0 if entry is None else entry[1]


def changed_in_place(t: Tensor) -> None:
    """Record that ``t``'s array was just changed in place (``+=``, ``t[...] = v``, an optimizer
    step): a node made before now whose rule reads that memory, through any Tensor, can no
    longer run backward. (A dead array's id may be reused, but its stamp is older than every
    node that can read the new array, so it never refuses one.)"""
    global _last_change
    root = _root(t.data)
    key = id(root)
    with _changes_lock:  # the stamp and _last_change move together, and only forward
        stamp = _last_change = next_number()
        entry = _changes.get(key)
        alive = entry[0] if entry is not None else weakref.ref(
            root, lambda _, key=key: _changes.pop(key, None))
        _changes[key] = (alive, stamp)


def write_in_place(target: Any, value: Any) -> None:
    """``target``'s array (a Tensor's, or an array itself) takes ``value``'s values, cast to its
    dtype; a Tensor is then stamped changed (``changed_in_place``)."""
    if isinstance(target, Tensor):
        target.data[...] = value.data if isinstance(value, Tensor) else value
        changed_in_place(target)
    else:
        target[...] = value.data if isinstance(value, Tensor) else value


def _check_unchanged(t: Tensor, op: Any) -> None:
    """Refuse to run node ``t``'s rules when a value they read was changed in place after ``t``
    was made: they would compute the gradient of a function that was never evaluated.

    Each primitive declares what its rules read (``Primitive.reads``: operand positions, and
    the output's); a user ``Function`` may have kept any of its inputs or its output."""
    inputs = t._inputs
    reads = getattr(op, "reads", None)
    if reads is None:  # a Function
        read = set(range(len(inputs) + 1))
    else:
        # (rule i gives operand i its gradient, and runs only if that operand requires grad)
        read = {j for operand, positions in zip(inputs, reads)
                if isinstance(operand, Tensor) and operand._requires_grad for j in positions}
    for j in sorted(read):
        v = inputs[j] if j < len(inputs) else t
        if isinstance(v, Tensor) and version(v.data) > t._seq:
            what = "its output" if v is t else f"its input {j}"
            raise RuntimeError(
                f"backward of '{op_name(op)}': {what}, a tensor of shape {v.data.shape}, was "
                "changed in place after the forward pass used it, so the gradient would be "
                "wrong; compute the forward again after changing it (an optimizer's step() "
                "belongs after backward())"
            )


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, so that it has ``shape``.

    Works on arrays and Tensors alike (it only calls ``sum`` and ``reshape``).
    """
    if g.shape == shape:
        return g
    axes = _broadcast_axes(g.shape, shape)
    lead = len(g.shape) - len(shape)
    if not lead:  # only stretched axes
        return g.sum(axis=axes, keepdims=True)
    if shape and len(axes) == lead:  # only axes added in front (as for a bias)
        return g.sum(axis=axes)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


@lru_cache(maxsize=1024)  # a training loop meets the same few pairs of shapes at every step
def _broadcast_axes(g_shape: tuple, shape: tuple) -> tuple[int, ...]:
    """The axes of ``g_shape`` that broadcasting ``shape`` to it added or stretched."""
    lead = len(g_shape) - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum a gradient of shape {g_shape} to shape {shape}")
    axes = list(range(lead))
    for i, n in enumerate(shape, lead):
        if n != g_shape[i]:
            if n != 1:
                raise ValueError(f"cannot sum a gradient of shape {g_shape} to shape {shape}")
            axes.append(i)
    return tuple(axes)


def _seed(root: Tensor, grad: Any, create_graph: bool) -> Any:
    """The gradient that starts the pass: ones for a one-element root, else the given one."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward(): the tensor does not require grad (no input of it has "
            "requires_grad=True, or it was computed under no_grad)"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward(): grad can be omitted only for a tensor with one element; this one "
                f"has shape {root.data.shape}: pass grad= of that shape"
            )
        seed: Any = np.array(1, root.data.dtype).reshape(root.data.shape)
    elif isinstance(grad, Tensor) and create_graph:
        seed = grad if grad.dtype == root.data.dtype else grad.astype(root.data.dtype)
    else:
        seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.data.dtype)
    if seed.shape != root.data.shape:
        raise ValueError(
            f"backward(): grad has shape {seed.shape} but the tensor has shape {root.data.shape}"
        )
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor._make(seed)
    return seed


def backward(root: Tensor, grad: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(root)/d(t) into ``t.grad`` for every leaf ``t`` of root's graph (and every
    tensor that called ``retain_grad()``). See ``Tensor.backward``."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    tracer = _modes.tracer
    if tracer is not None:  # tg.compile: record the pass, and hand the .grad updates to it
        tracer.mark("backward pass")
        _propagate(root, _seed(root, grad, True), retain_graph, True, targets=None,
                   accumulate=lambda t, g: tracer.accumulate(t, g, create_graph))
        return
    _propagate(root, _seed(root, grad, create_graph), retain_graph, create_graph, targets=None)


def gradients(output: Tensor, inputs: list[Tensor], grad: Any = None,
              retain_graph: bool | None = None, create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each of ``inputs`` (zeros where output does not depend on it),
    leaving every ``.grad`` untouched. Arrays, or Tensors with ``create_graph=True``."""
    if _modes.tracer is not None:  # tg.compile: the gradients are traced values
        create_graph = True
    if not output._requires_grad:
        grads: dict[int, Any] = {}
    else:
        seed = _seed(output, grad, create_graph)
        grads = _propagate(output, seed, create_graph if retain_graph is None else retain_graph,
                           create_graph, targets={id(x) for x in inputs})
    results = []
    for x in inputs:
        g = grads.get(id(x))
        if g is None:
            g = np.zeros_like(x.data)
            g = Tensor._make(g) if create_graph else g
        else:  # a copy (a new node when recording): gradients may alias each other
            g = g + 0 if create_graph else np.array(g, dtype=x.data.dtype)
        results.append(g)
    return results


def _propagate(root: Tensor, seed: Any, retain_graph: bool, create_graph: bool,
               targets: set[int] | None, accumulate: Any = None) -> dict[int, Any]:
    """The backward pass. With ``targets`` (ids of tensors) their gradients are returned and no
    ``.grad`` is touched; without, gradients accumulate into leaves and retained tensors (by
    ``accumulate(tensor, gradient)`` if given: a trace records them instead).

    Order: every node has a creation number (``_seq``), and the operations that use a tensor
    were all made after it. So taking the waiting node with the largest number, newest first,
    takes a node only once every use of it has sent its gradient: a topological order found with
    a heap, with no recursion (a chain of any depth works) and no pass to count uses first.
    """
    grads: dict[int, Any] = {id(root): seed}  # gradients so far, of waiting nodes and of leaves
    leaves: list[Tensor] = []
    owned: set[int] = set()  # leaves whose gradient is a new array that nothing else holds
    # Waiting nodes as (-creation number, id, node): the id breaks a tie (a copy.copy of a node
    # keeps its number), so that two Tensors are never compared.
    heap: list[tuple[int, int, Tensor]] = []
    captured: dict[int, Any] = {}
    # State changes wait until the whole pass has succeeded, so that an error raised in a rule or
    # a hook leaves every .grad and the graph as they were.
    grad_updates: list[tuple[Tensor, Any]] = []
    passed: list[Tensor] = []
    # A recorded backward pass runs primitives inside the rules; anomalies are reported by _fit
    # under the name of the op whose gradient it is, not of those inner primitives.
    previous_grad, anomaly = _modes.switch(create_graph, False)
    checked = (create_graph, anomaly) if create_graph or anomaly else None
    try:
        if root._op is None:
            leaves.append(root)
            t = None
        else:
            t, g = root, grads.pop(id(root))
        while t is not None:  # every use of t has sent its gradient: g is complete
            op, inputs = t._op, t._inputs
            if inputs is None:  # (the hooks of the nodes passed so far have run)
                raise RuntimeError(
                    f"backward through the graph a second time: the buffers of '{op_name(op)}' "
                    "were released by an earlier backward(); pass retain_graph=True to the first "
                    "backward() if you need to backpropagate through it again"
                )
            if t._hooks:
                g = _run_hooks(t, g, create_graph)
                owned.discard(id(t))  # a hook's result may be an array its user keeps
            if t._seq < _last_change:  # something was changed in place after t was made
                _check_unchanged(t, op)
            if targets is not None:
                if id(t) in targets:
                    captured[id(t)] = g
            elif t._retains_grad:
                grad_updates.append((t, g))
            passed.append(t)
            sent = _step(t, op, inputs, g, checked)
            if not heap and len(sent) == 1:
                x, gx = sent[0]
                if x._op is not None:  # a chain: its one operand is next, nothing else waits
                    t, g = x, gx
                    continue
            # A built-in rule's new array may become a leaf's .grad without a copy (see _send);
            # a user Function's gradient is an array its user may keep.
            upstream = None if isinstance(op, type) else g
            for x, gx in sent:
                _send(x, gx, upstream, grads, heap, leaves, owned)
            if heap:
                t = heappop(heap)[2]
                g = grads.pop(id(t))
            else:
                t = None
        for x in leaves:
            g = grads[id(x)]
            if x._hooks:
                g = _run_hooks(x, g, create_graph)
                owned.discard(id(x))  # a hook's result may be an array its user keeps
            if targets is None:
                grad_updates.append((x, g))
            elif id(x) in targets:
                captured[id(x)] = g
        if accumulate is not None:
            for t, g in grad_updates:
                accumulate(t, g)
        else:
            with _grad_lock:
                for t, g in grad_updates:
                    _accumulate_grad(t, g, create_graph, id(t) in owned)
        if not retain_graph:
            for t in passed:
                t._inputs = t._params = None
    finally:
        _modes.switch(previous_grad, anomaly)
    return captured


def _step(t: Tensor, op: Any, inputs: tuple, g: Any, checked: tuple[bool, bool] | None) -> tuple:
    """What happens to a gradient at one node: from ``g``, the gradient of node ``t``, the
    gradients of those of its operands that require grad, as ``((operand, gradient), ...)``,
    each gradient an array of its operand's shape and dtype (a Tensor when the pass is
    recorded). ``op`` and ``inputs`` are t's; ``checked`` is None for a plain pass, else
    (create_graph, anomaly).

    The contract between the engine and an operation ``op`` (a ``Primitive`` or a ``Function``
    subclass), all that the engine reads of it:

    - ``op.vjp(g, operands, y, params, needs)`` returns one gradient per operand (None where
      ``needs`` is False), given the operands and the output ``y`` as arrays (as Tensors when the
      pass is recorded) and the parameters the node was made with;
    - a ``Primitive`` also has ``arity``, its number of operands, and ``rules``, one per operand:
      ``rules[i](g, *operands, y, *params)`` is the gradient for operand i, which is all that its
      ``vjp`` calls. A gradient may still have a broadcast shape or another dtype: ``_fit`` sums
      and casts it.

    In general the step is ``op.vjp`` then ``_fit`` for each gradient. For one- and two-operand
    primitives in a plain pass (nearly every node) it calls the rules directly instead and keeps a
    result that is already an array of the operand's shape and dtype: the same gradients, without
    the lists and the checks that dominate a chain of small operations (a test in test_ops.py
    compares this path with the recorded and the anomaly-checking passes for every operation).
    """
    arity = op.arity if checked is None else None
    if arity == 1:
        x = inputs[0]
        if not x._requires_grad:  # (a leaf may have been switched off since t was made)
            return ()
        rule, params, data = op.rules[0], t._params, x.data  # (no *params is faster)
        gx = rule(g, data, t.data, *params) if params else rule(g, data, t.data)
        return ((x, _as_gradient(gx, data, x, op, 0)),)
    if arity == 2:  # (a Python number or an array operand is a constant)
        a, b = inputs
        a_needs = isinstance(a, Tensor) and a._requires_grad
        b_needs = isinstance(b, Tensor) and b._requires_grad
        a_data = a.data if isinstance(a, Tensor) else a
        b_data = b.data if isinstance(b, Tensor) else b
        rules, params, y = op.rules, t._params, t.data
        if a_needs:
            rule = rules[0]
            ga = rule(g, a_data, b_data, y, *params) if params else rule(g, a_data, b_data, y)
            ga = _as_gradient(ga, a_data, a, op, 0)
            if not b_needs:
                return ((a, ga),)
        if b_needs:
            rule = rules[1]
            gb = rule(g, a_data, b_data, y, *params) if params else rule(g, a_data, b_data, y)
            gb = _as_gradient(gb, b_data, b, op, 1)
            return ((a, ga), (b, gb)) if a_needs else ((b, gb),)
        return ()
    create_graph, anomaly = checked or (False, False)
    needs = [isinstance(x, Tensor) and x._requires_grad for x in inputs]
    if create_graph:
        operands, y = inputs, t
    else:
        operands = [x.data if isinstance(x, Tensor) else x for x in inputs]
        y = t.data
    return [(inputs[i], _fit(gx, inputs[i], op, i, create_graph, anomaly))
            for i, gx in enumerate(op.vjp(g, operands, y, t._params, needs))
            if gx is not None and needs[i]]


def _send(x: Tensor, gx: Any, g: Any, grads: dict[int, Any], heap: list,
          leaves: list[Tensor], owned: set[int]) -> None:
    """Add ``gx`` to the gradient of ``x``; the first gradient puts x in line. ``g`` is the
    upstream gradient of the built-in rule that made gx (None for a ``Function``'s).
    ``owned`` holds the tensors whose gradient so far is an array this pass made and nothing
    else holds: a leaf keeps it as its ``.grad`` without a copy, and the next gradient is added
    to it in place."""
    key = id(x)
    previous = grads.get(key)
    if previous is None:
        grads[key] = gx
        # A new array that nothing else holds: not the upstream gradient g passed on (as by add;
        # None for a Function's gradient, which its user may keep) and not a view of another.
        if g is not None and gx is not g and type(gx) is np.ndarray and gx.base is None:
            owned.add(key)
        if x._op is None:
            leaves.append(x)
        else:
            heappush(heap, (-x._seq, key, x))
    elif key in owned:
        previous += gx
    else:
        total = grads[key] = previous + gx
        if type(total) is np.ndarray:  # (a Tensor when the pass is recorded)
            owned.add(key)


def _as_gradient(gx: Any, data: np.ndarray, x: Tensor, op: Any, i: int) -> Any:
    """``_fit`` for a plain pass, which keeps a rule's result that is already an array of the
    operand's shape and dtype (``data``, its array; nearly every result) at the cost of one
    check."""
    if type(gx) is np.ndarray and gx.shape == data.shape and gx.dtype is data.dtype:
        return gx
    return _fit(gx, x, op, i, False, False)


def _fit(gx: Any, x: Tensor, op: Any, i: int, create_graph: bool, anomaly: bool) -> Any:
    """Make a rule's result a gradient for operand ``x``: an array (or a Tensor when recording)
    of x's shape and dtype."""
    if create_graph:
        if not isinstance(gx, Tensor):
            gx = Tensor._make(np.asarray(gx))
    elif isinstance(gx, Tensor):
        gx = gx.data
    elif type(gx) is not np.ndarray:
        gx = np.asarray(gx)
    shape = x.data.shape
    if gx.shape != shape:
        try:
            gx = unbroadcast(gx, shape)
        except ValueError:
            raise RuntimeError(
                f"the backward of '{op_name(op)}' returned a gradient of shape {gx.shape} for "
                f"its input {i} of shape {shape}"
            ) from None
    if gx.dtype != x.data.dtype:
        gx = gx.astype(x.data.dtype)
    if anomaly:
        value = gx.data if isinstance(gx, Tensor) else gx
        check_finite(value, f"the backward of '{op_name(op)}' (input {i})")
    return gx


def _accumulate_grad(t: Tensor, g: Any, create_graph: bool, owned: bool) -> None:
    if create_graph:
        # ``g + 0`` is a new tensor (still in the graph): g may also be another leaf's gradient
        # (add passes one gradient to both operands) or the caller's ``grad``.
        t.grad = g + 0 if t.grad is None else t.grad + g
    elif t.grad is None:  # a copy unless nothing else holds g
        t.grad = Tensor._make(g if owned else np.array(g, dtype=t.data.dtype))
    else:
        t.grad = Tensor._make(t.grad.data + g)


def _run_hooks(t: Tensor, g: Any, create_graph: bool) -> Any:
    for hook in list(t._hooks or ()):
        # A copy: the hook may change it in place, and g may be shared with another gradient.
        result = hook(g if create_graph else Tensor._make(np.array(g)))
        if result is None:
            continue
        if not isinstance(result, Tensor):
            result = Tensor._make(np.asarray(result))
        if result.data.shape != t.data.shape:
            raise RuntimeError(
                f"a hook returned a gradient of shape {result.data.shape} for a tensor of shape "
                f"{t.data.shape}"
            )
        if result.data.dtype != t.data.dtype:
            result = result.astype(t.data.dtype)
        g = result if create_graph else result.data
    return g


# Tensor's methods call into this module, so it is imported last (the functions above use it only
# when called).
from tinygrad_ko.tensor import Tensor, next_number  # noqa: E402
