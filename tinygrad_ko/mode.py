"""Thread-local switches that change how operations behave: grad mode, anomaly mode and a
running trace.

``no_grad`` stops the recording of the operation graph; ``detect_anomaly`` makes every
operation check its result for NaN and infinity; ``tg.compile`` sets a tracer that sees every
operation while it traces a function. All are thread-local, so one thread's
``with tg.no_grad():`` never affects another thread. Nothing here knows about Tensors.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _Modes(threading.local):
    # Class attributes are each thread's starting values.
    _grad_enabled = True
    _anomaly = False
    _tracer: Any = None
    # What every operation reads, once: grad mode on, anomaly mode off and no trace running (the
    # common case).
    plain = True

    @property
    def tracer(self) -> Any:
        """The trace that ``tg.compile`` is recording on this thread, or None."""
        return self._tracer

    @tracer.setter
    def tracer(self, value: Any) -> None:
        self._tracer = value
        self.switch(self._grad_enabled, self._anomaly)

    @property
    def grad_enabled(self) -> bool:
        return self._grad_enabled

    @grad_enabled.setter
    def grad_enabled(self, value: bool) -> None:
        self.switch(value, self._anomaly)

    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, value: bool) -> None:
        self.switch(self._grad_enabled, value)

    def switch(self, grad_enabled: bool, anomaly: bool) -> tuple[bool, bool]:
        """Set both modes at once (and ``plain``, which only this sets); returns the previous
        (grad_enabled, anomaly)."""
        previous = self._grad_enabled, self._anomaly
        self._grad_enabled, self._anomaly = grad_enabled, anomaly
        self.plain = grad_enabled and not anomaly and self._tracer is None
        return previous


modes = _Modes()


class CompileError(RuntimeError):
    """Raised while ``tg.compile`` traces a function that does something a trace cannot replay:
    turning a traced value into a Python value (``.item()``, ``float()``, ``bool()``,
    ``.tolist()``, ``.numpy()``) or changing a tensor in place."""


def refuse_in_trace(what: str, why: str) -> None:
    """Raise ``CompileError`` for ``what`` if a trace is running on this thread."""
    if modes.tracer is not None:
        raise CompileError(f"tg.compile: {what} {why}")


def depend_in_trace(owner: Any, attribute: str, value: Any) -> None:
    """Tell the trace running on this thread, if any, that it read ``value`` from
    ``owner.attribute``, a Python value that decides what the function computes (a module's
    training mode): the compiled code serves only calls that begin with that value there."""
    if modes.tracer is not None:
        modes.tracer.depend(owner, attribute, value)


def set_in_trace(owner: Any, attribute: str) -> None:
    """Tell the trace running on this thread, if any, that the function sets
    ``owner.attribute`` itself (``model.train()`` inside): what it reads there afterwards does
    not depend on the state before the call."""
    if modes.tracer is not None:
        modes.tracer.set(owner, attribute)


def is_grad_enabled() -> bool:
    """Whether operations on this thread record the graph for backpropagation."""
    return modes.grad_enabled


class _Switch:
    """A context manager that sets one mode and restores it; also usable as a decorator."""

    _field = ""
    _value = False

    def __enter__(self) -> None:
        # A stack, so that one instance can be entered again inside itself.
        self.__dict__.setdefault("_previous", []).append(getattr(modes, self._field))
        setattr(modes, self._field, self._value)

    def __exit__(self, *exc: object) -> None:
        setattr(modes, self._field, self._previous.pop())

    def __call__(self, func: F) -> F:
        if inspect.isgeneratorfunction(func):
            return self._generator(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _generator(self, func: F) -> F:
        """A generator function whose body runs with the mode set, as in PyTorch. A generator's
        body runs piecemeal, interleaved with its caller's code: at each resumption the body's
        modes are put back (the decorator's at the start, then as the body left them at its
        last ``yield``, in case it switched them itself), and at each ``yield`` the caller's."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            generator = func(*args, **kwargs)  # (making a generator runs none of its body)
            body = None  # the body's modes at its last yield (None: not started yet)

            def run(resume: Callable, value: Any) -> Any:
                nonlocal body
                caller = modes.switch(modes.grad_enabled, modes.anomaly)
                if body is None:
                    setattr(modes, self._field, self._value)
                else:
                    modes.switch(*body)
                try:
                    return resume(value)
                finally:
                    body = modes.switch(*caller)

            resume, value = generator.send, None
            while True:
                try:
                    request = run(resume, value)
                except StopIteration as stop:
                    return stop.value
                try:
                    value = yield request
                    resume = generator.send
                except GeneratorExit:
                    run(lambda _: generator.close(), None)
                    raise
                except BaseException as error:  # thrown in by the caller: the body handles it
                    resume, value = generator.throw, error

        return wrapper  # type: ignore[return-value]


class no_grad(_Switch):
    """Inside ``with tg.no_grad():`` (or in a function decorated ``@tg.no_grad()``) no graph is
    recorded.

    Results do not require grad, so parameter updates such as ``w -= lr * w.grad`` are plain
    NumPy arithmetic on ``w.data``.
    """

    _field, _value = "grad_enabled", False


class enable_grad(_Switch):
    """Turn graph recording back on inside a ``no_grad`` block."""

    _field, _value = "grad_enabled", True


class detect_anomaly(_Switch):
    """Inside ``with tg.detect_anomaly():`` any NaN or infinity produced by an operation,
    forward or backward, raises ``FloatingPointError`` naming the operation."""

    _field, _value = "anomaly", True
