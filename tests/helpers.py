"""Small NumPy helpers shared by the tests, written independently of the library."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


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
