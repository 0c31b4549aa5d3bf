"""Figures of chapter 08 (convolutional networks).

    python docs/make_figures.py --only im2col.png
    python docs/make_figures.py --only filters.png

``im2col.png`` shows one digit, three of its 3×3 windows (padding 1) and the three rows that
``tg.im2col`` makes of them, in the matrix of every window. ``filters.png`` trains the CNN of
``python -m tinygrad_ko train --model cnn`` for a few epochs and draws its 32 first-layer 3×3
filters. Every number comes from tinygrad_ko; matplotlib only draws. Text inside the figures is
English: the default fonts have no Korean glyphs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygrad_ko as tg
from tinygrad_ko import train

WINDOWS = ((0, 0), (3, 4), (7, 7))  # (row, column) of the window's centre, padding 1
COLORS = ("C3", "C0", "C2")
FILTER_EPOCHS = 3  # enough for the filters to take shape; `train --model cnn` runs 20


def _figure(width: float, height: float):
    """A matplotlib Figure on the Agg canvas (no GUI, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def draw_im2col(path: Path) -> None:
    from matplotlib.patches import Rectangle

    images, _ = tg.data.load_digits(normalize=True)
    digit = images[0].reshape(1, 1, 8, 8)
    cols = tg.im2col(digit, 3, padding=1)  # (64, 9): one row per window, (kh, kw) per column
    fig = _figure(8.0, 4.2)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.2])
    left.imshow(np.pad(digit[0, 0], 1), cmap="gray_r")
    left.set_title("a digit (8×8), padded by 1")
    for (i, j), color in zip(WINDOWS, COLORS):
        left.add_patch(Rectangle((j - 0.5, i - 0.5), 3, 3, fill=False, lw=2, ec=color))
    left.set_xticks([])
    left.set_yticks([])
    right.imshow(cols.T, cmap="gray_r", aspect="auto")
    for (i, j), color in zip(WINDOWS, COLORS):
        row = i * 8 + j
        right.add_patch(Rectangle((row - 0.5, -0.5), 1, 9, fill=False, lw=2, ec=color))
    right.set_title("im2col: a row per window (drawn as columns)")
    right.set_xlabel("window (oh, ow) = row of the matrix, 0 … 63")
    right.set_ylabel("position in the window (kh, kw)")
    right.set_yticks(range(9))
    fig.savefig(path)


def draw_filters(path: Path) -> None:
    history = train.train_digits(train.TrainConfig(model="cnn", epochs=FILTER_EPOCHS))
    weights = history.model.layers[0].weight.data[:, 0]  # (32, 3, 3)
    fig = _figure(8.0, 4.4)
    axes = fig.subplots(4, 8)
    scale = np.abs(weights).max()
    for ax, w in zip(axes.ravel(), weights):
        ax.imshow(w, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"the 32 first-layer 3×3 filters after {FILTER_EPOCHS} epochs "
                 f"(test accuracy {history.test_accuracy[-1]:.1%}); red +, blue −")
    fig.savefig(path)


# file name: (draw, the tools it needs, as named in make_figures.TOOLS)
FIGURES = {
    "im2col.png": (draw_im2col, ("matplotlib",)),
    "filters.png": (draw_filters, ("matplotlib",)),
}
