"""The operation graph as Graphviz DOT text: ``to_dot(t)``, and ``render`` to draw it.

Each tensor of ``t``'s graph is a node labelled with the operation that made it (or "leaf"),
its shape and dtype; tensors that require grad are filled, and arrows run from inputs to the
tensors made from them, the way the forward pass flows (backpropagation walks them backwards).
Rendering needs Graphviz's ``dot`` program; building the text needs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tinygrad_ko.engine import op_name
from tinygrad_ko.tensor import Tensor


def _label(t: Tensor, names: dict[int, str]) -> str:
    what = op_name(t._op) if t._op is not None else names.get(id(t), "leaf")
    return f"{what}\\n{t.shape} {t.dtype}"


def to_dot(t: Tensor, names: dict[str, Tensor] | None = None) -> str:
    """The graph that produced ``t`` as DOT. ``names`` labels leaves (``{"x": x}``)."""
    by_id = {id(v): k for k, v in (names or {}).items()}
    found: dict[int, Tensor] = {}
    stack = [t]
    while stack:  # iterative: graphs of any depth
        node = stack.pop()
        if id(node) not in found:
            found[id(node)] = node
            stack.extend(x for x in node._inputs or () if isinstance(x, Tensor))
    key = {tensor_id: f"t{i}" for i, tensor_id in enumerate(found)}
    lines = ["digraph tinygrad_ko {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for tensor_id, node in found.items():
        style = ', style=filled, fillcolor="#dbe9f6"' if node.requires_grad else ""
        shape = "box" if node._op is not None else "ellipse"
        lines.append(f'  {key[tensor_id]} [label="{_label(node, by_id)}", shape={shape}{style}];')
    for tensor_id, node in found.items():
        lines += [f"  {key[id(x)]} -> {key[tensor_id]};"
                  for x in node._inputs or () if isinstance(x, Tensor)]
    return "\n".join([*lines, "}"]) + "\n"


def render(dot: str, path: str | Path) -> None:
    """Draw DOT text to ``path`` (the format from its suffix: .png, .svg, .pdf) with Graphviz.
    Raises ``RuntimeError`` when Graphviz's ``dot`` program is not installed."""
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("rendering needs Graphviz's `dot` program (apt-get install graphviz "
                           "or brew install graphviz); the DOT text itself needs nothing")
    fmt = Path(path).suffix.lstrip(".") or "png"
    subprocess.run([program, f"-T{fmt}", "-o", str(path)], input=dot.encode(), check=True)
