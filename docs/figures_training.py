"""Figures of chapters 04-06 (backpropagation, training on the digits).

    python docs/make_figures.py --only graph.dot
    python docs/make_figures.py --only graph.png
    python docs/make_figures.py --only loss_comparison.png

``graph.dot`` is the operation graph that ``python -m tinygrad_ko graph`` prints for the loss of
chapter 04, as DOT text (writing it needs nothing); ``graph.png`` is its picture, which needs
Graphviz's ``dot``. ``loss_comparison.png`` trains the same MLP with SGD and each of the three
losses of ``python -m tinygrad_ko train`` and draws the test accuracy per epoch, beside the
gradient that each loss sends to the correct class's logit. Every number comes from tinygrad_ko;
matplotlib only draws. Text inside the figures is English: the default fonts have no Korean glyphs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygrad_ko as tg
from tinygrad_ko import train, viz

# The command of chapter 04: x and t are constants, w requires grad; "=3" is a shape, (3,).
GRAPH_EXPRESSION = "0.5 * ((w * x - t) ** 2).sum()"
GRAPH_CONSTANTS = ("x", "t")
SHAPE = (3,)

LOSSES = ("cee", "mse", "se")
COLORS = {"cee": "C3", "mse": "C0", "se": "C2"}
LABELS = {"cee": "CEE: softmax cross entropy",
          "mse": "MSE of softmax(z)",
          "se": "SE of softmax(z)"}
EPOCHS = 30
BATCH = 32  # the batch size of `train`: CEE and MSE divide by it, SE does not
CLASSES = 10


def _figure(width: float, height: float):
    """A matplotlib Figure on the Agg canvas (no GUI, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def graph_dot() -> str:
    """The DOT text that `python -m tinygrad_ko graph` prints for GRAPH_EXPRESSION with
    ``--const x=3 --const t=3`` (the values are random; the picture shows no values)."""
    rng = np.random.default_rng(0)
    names = {name: tg.Tensor(rng.standard_normal(SHAPE),
                             requires_grad=name not in GRAPH_CONSTANTS)
             for name in sorted(("w", "x", "t"))}
    loss = 0.5 * ((names["w"] * names["x"] - names["t"]) ** 2).sum()
    return viz.to_dot(loss, names)


def write_graph_dot(path: Path) -> None:
    """The DOT text of graph_dot(), which any machine can write."""
    Path(path).write_text(graph_dot(), encoding="utf-8")


def draw_graph(path: Path) -> None:
    """The picture Graphviz draws from graph_dot()."""
    viz.render(graph_dot(), path)


def correct_logit_gradient(name: str, p_correct: np.ndarray) -> np.ndarray:
    """|dL/dz_c| for one sample of a batch of BATCH, by backward(), where the model gives the
    correct class c the probability ``p_correct`` and one wrong class almost all the rest (it is
    confidently wrong when p_correct is small). The loss is exactly the training loss of
    `train --loss name`."""
    out = []
    for p in p_correct:
        probabilities = np.full(CLASSES, 1e-3 * (1 - p))
        probabilities[0], probabilities[1] = p, 0.992 * (1 - p)  # class 0 is the correct one
        z = tg.Tensor(np.tile(np.log(probabilities), (BATCH, 1)), requires_grad=True,
                      dtype=np.float64)
        train.loss_function(name)(z, np.zeros(BATCH, dtype=np.int64)).backward()
        out.append(abs(z.grad.data[0, 0]))
    return np.array(out)


def draw_loss_comparison(path: Path) -> None:
    """Test accuracy per epoch with SGD for each loss, and the gradient on the correct logit."""
    fig = _figure(11, 4.2)
    left, right = fig.subplots(1, 2)
    for name in LOSSES:
        history = train.train_digits(train.TrainConfig(loss=name, optimizer="sgd",
                                                       epochs=EPOCHS, batch_size=BATCH))
        accuracy = 100 * np.array(history.test_accuracy)
        left.plot(range(1, EPOCHS + 1), accuracy, color=COLORS[name], lw=2, marker="o",
                  markersize=3, label=f"{LABELS[name]} (last {accuracy[-1]:.1f}%)")
    left.set_xlabel("epoch")
    left.set_ylabel("test accuracy (%)")
    left.set_ylim(0, 100)
    left.set_title(f"train --optimizer sgd --lr 0.1 --loss ..., batch {BATCH}")
    left.legend(loc="lower right", fontsize=8)
    left.grid(alpha=0.3)

    y_c = np.logspace(-4, np.log10(0.95), 60)
    for name in LOSSES:
        right.plot(y_c, correct_logit_gradient(name, y_c), color=COLORS[name], lw=2,
                   label=LABELS[name])
    right.axvline(1 / CLASSES, color="0.5", ls=":", lw=1)
    right.annotate(r"untrained model: $y_c \approx 1/10$", (1 / CLASSES, 0.4), xytext=(-4, 0),
                   textcoords="offset points", ha="right", va="center", fontsize=8,
                   color="0.35")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel(r"$y_c$ = softmax probability of the correct class (rest on one wrong class)")
    right.set_ylabel(r"$|\partial L / \partial z_c|$ per sample (by backward())")
    right.set_title(rf"Push on the correct logit $z_c$ (one sample of a batch of {BATCH})")
    right.legend(loc="lower right", fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.savefig(path)


# file name: (draw, the tools it needs, as named in make_figures.TOOLS)
FIGURES = {
    "graph.dot": (write_graph_dot, ()),
    "graph.png": (draw_graph, ("Graphviz",)),
    "loss_comparison.png": (draw_loss_comparison, ("matplotlib",)),
}
