"""Shared by the tests: small NumPy helpers written independently of the library, and the small
``tg.Function`` fixtures that several test files use, each with its hand-derived gradient (or, for
a deliberately wrong one, what it gets wrong) in its docstring."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import tinygrad_ko as tg


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` (of a broadcast shape) back to ``shape``: the gradient of a broadcast operand,
    written from NumPy's broadcasting rules (leading axes added, size-1 axes stretched)."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def fake_dot(folder: Path) -> Path:
    """A stand-in for Graphviz's ``dot`` in ``folder``: it records its arguments (one JSON list
    per line in the returned log file) and copies stdin to the ``-o`` file."""
    log = folder / "calls.jsonl"
    script = folder / "dot"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    log.write(json.dumps(args) + '\\n')\n"
        "with open(args[args.index('-o') + 1], 'wb') as out:\n"
        "    out.write(sys.stdin.buffer.read())\n",
        encoding="utf-8")
    script.chmod(0o755)
    return log


# ---- tg.Function fixtures ------------------------------------------------------------------------


class Cube(tg.Function):
    """y = x³, dy/dx = 3x²: backward returns 3x² · grad, from x kept as a ctx attribute."""

    @staticmethod
    def forward(ctx: tg.Context, x: np.ndarray) -> np.ndarray:
        ctx.x = x
        return x**3

    @staticmethod
    def backward(ctx: tg.Context, grad: np.ndarray) -> np.ndarray:
        return 3 * ctx.x**2 * grad


class TooManyGradients(tg.Function):
    """Wrong on purpose: y = x, one input, whose gradient is grad itself (dy/dx = 1), but
    backward returns two gradients."""

    @staticmethod
    def forward(ctx: tg.Context, x: np.ndarray) -> np.ndarray:
        return x * 1.0

    @staticmethod
    def backward(ctx: tg.Context, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return grad, grad


class TooFewGradients(tg.Function):
    """Wrong on purpose: y = a · b, two inputs, whose gradients are grad · b and grad · a, but
    backward returns only one."""

    @staticmethod
    def forward(ctx: tg.Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    @staticmethod
    def backward(ctx: tg.Context, grad: np.ndarray) -> np.ndarray:
        return grad


class WrongShapeGradient(tg.Function):
    """Wrong on purpose: y = 2x, whose gradient is 2 · grad (of x's shape), but backward returns
    ones of shape (5,)."""

    @staticmethod
    def forward(ctx: tg.Context, x: np.ndarray) -> np.ndarray:
        return x * 2.0

    @staticmethod
    def backward(ctx: tg.Context, grad: np.ndarray) -> np.ndarray:
        return np.ones(5)
