"""The operation graph as DOT: nodes and edges against the graph itself, labels, depth, and
rendering with (a stand-in for) Graphviz's ``dot``."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
from helpers import fake_dot

import tinygrad_ko as tg
from tinygrad_ko import viz

NODE = re.compile(r'^\s*(\w+) \[label="(.*?)", shape=(\w+)(.*)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")


def parse(dot: str) -> tuple[dict[str, tuple[str, str, bool]], list[tuple[str, str]]]:
    """Nodes (id -> (label, shape, filled)) and edges (id, id) of to_dot's output."""
    lines = dot.strip().splitlines()
    assert lines[0].startswith("digraph") and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if m := EDGE.match(line):
            edges.append((m[1], m[2]))
        elif m := NODE.match(line):
            assert m[1] not in nodes, f"node {m[1]} declared twice"
            nodes[m[1]] = (m[2], m[3], "style=filled" in m[4])
    for a, b in edges:
        assert a in nodes and b in nodes
    return nodes, edges


def op_label(t: tg.Tensor) -> str:
    """What the test expects a node's label to start with, from the public ``grad_fn``."""
    op = t.grad_fn
    return "leaf" if op is None else getattr(op, "name", None) or op.__name__


def walk(root: tg.Tensor) -> tuple[list[tg.Tensor], list[tuple[tg.Tensor, tg.Tensor]]]:
    """Every tensor of the graph and every (input, output) pair, by an explicit stack."""
    seen: dict[int, tg.Tensor] = {}
    pairs = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        for x in node._inputs or ():
            if isinstance(x, tg.Tensor):
                pairs.append((x, node))
                stack.append(x)
    return list(seen.values()), pairs


def label_of(t: tg.Tensor) -> str:
    return f"{op_label(t)}\\n{t.shape} {t.dtype}"


def first_line(nodes: dict, key: str) -> str:
    """The op name or leaf name of node ``key``."""
    return nodes[key][0].split("\\n")[0]


def test_squared_error_by_hand() -> None:
    y = tg.Tensor([0.1, 0.6, 0.3], requires_grad=True)
    t = tg.Tensor([0.0, 1.0, 0.0])
    loss = 0.5 * ((y - t) ** 2).sum()
    nodes, edges = parse(viz.to_dot(loss, names={"y": y, "t": t}))
    # Leaves y, t; ops sub, pow, sum, mul: six tensors. The Python numbers 0.5 and 2 are not
    # tensors. Edges: y->sub, t->sub, sub->pow, pow->sum, sum->mul.
    assert len(nodes) == 6
    assert len(edges) == 5
    assert {first_line(nodes, key) for key in nodes} == {"y", "t", "sub", "pow", "sum", "mul"}
    expected = {("y", "sub"), ("t", "sub"), ("sub", "pow"), ("pow", "sum"), ("sum", "mul")}
    assert {(first_line(nodes, a), first_line(nodes, b)) for a, b in edges} == expected
    labels = {label.split("\\n")[0]: label for label, _, _ in nodes.values()}
    assert labels["y"] == "y\\n(3,) float32"
    assert labels["sub"] == "sub\\n(3,) float32"
    assert labels["sum"] == "sum\\n() float32"
    assert labels["mul"] == "mul\\n() float32"
    filled = {label.split("\\n")[0] for label, _, fill in nodes.values() if fill}
    assert filled == {"y", "sub", "pow", "sum", "mul"}  # t needs no grad


def test_unnamed_leaves_are_labelled_leaf() -> None:
    y = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    nodes, _ = parse(viz.to_dot(y.exp().sum()))
    assert sorted(label.split("\\n")[0] for label, _, _ in nodes.values()) == ["exp", "leaf",
                                                                               "sum"]
    assert "leaf\\n(2, 3) float64" in {label for label, _, _ in nodes.values()}


def test_nodes_and_edges_match_a_walk_of_the_graph() -> None:
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w = tg.Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    b = tg.Tensor(np.zeros(2))  # a constant: not filled
    h = (x @ w + b).tanh()
    # h feeds two branches (a diamond), x feeds two ops.
    out = (h.sum(axis=0) * h.mean(axis=0)).sum() + (x ** 2).sum()
    tensors, pairs = walk(out)
    nodes, edges = parse(viz.to_dot(out))

    assert len(nodes) == len(tensors)
    assert len(edges) == len(pairs)
    assert Counter(label for label, _, _ in nodes.values()) == Counter(map(label_of, tensors))
    assert (Counter((nodes[a][0], nodes[b][0]) for a, b in edges)
            == Counter((label_of(u), label_of(v)) for u, v in pairs))
    filled = Counter(label for label, _, fill in nodes.values() if fill)
    assert filled == Counter(label_of(t) for t in tensors if t.requires_grad)
    shapes = {label: shape for label, shape, _ in nodes.values()}
    assert shapes[label_of(b)] == "ellipse" and shapes[label_of(h)] == "box"
    # Every op of the expression is named in some label.
    names = {label.split("\\n")[0] for label in shapes}
    assert {"matmul", "add", "tanh", "mul", "pow"} <= names


def test_a_tensor_not_requiring_grad_has_a_single_node() -> None:
    c = tg.Tensor([1.0, 2.0])
    nodes, edges = parse(viz.to_dot(c * 2 + 1))  # nothing is recorded
    assert len(nodes) == 1 and edges == []
    assert not next(iter(nodes.values()))[2]


def test_a_chain_ten_thousand_deep() -> None:
    x = tg.Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    nodes, edges = parse(viz.to_dot(y, names={"x": x}))
    assert len(nodes) == 10_001
    assert len(edges) == 10_000
    assert sum(label.startswith("x\\n") for label, _, _ in nodes.values()) == 1


# ---- render --------------------------------------------------------------------------------------




def test_render_without_graphviz_names_it(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RuntimeError, match="Graphviz"):
        viz.render("digraph g {}\n", tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_render_calls_dot_with_the_format_of_the_suffix(tmp_path, monkeypatch,
                                                        suffix: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_dot(bin_dir)
    monkeypatch.setenv("PATH", str(bin_dir))
    y = tg.Tensor([1.0, 2.0], requires_grad=True)
    dot = viz.to_dot((y * y).sum(), names={"y": y})
    target = tmp_path / f"graph.{suffix}"
    viz.render(dot, target)
    assert target.read_text(encoding="utf-8") == dot
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1
    assert f"-T{suffix}" in calls[0]
    assert calls[0][calls[0].index("-o") + 1] == str(target)
