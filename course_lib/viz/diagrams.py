"""Box-and-arrow diagrams: the course's pipeline, and inject vs. merge."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.patches import FancyBboxPatch

from course_lib.viz.style import (
    BOX_COLOURS,
    FONT,
    SMALL,
    TITLE,
    figure,
    finish,
)


def box(
    ax,
    x: float,
    y: float,
    text: str,
    kind: str,
    *,
    w: float = 1.5,
    h: float = 0.62,
):
    """Draw a rounded box of colour ``BOX_COLOURS[kind]`` centred at (x, y) with ``text``;
    returns ``(x, y, w, h)`` for :func:`arrow`. A ``"highlight"`` box is not told by its colour
    alone: it has a thick border and bold text too."""
    highlight = kind == "highlight"
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03,rounding_size=0.1",
            facecolor=BOX_COLOURS[kind], edgecolor="0.1" if highlight else "0.25",
            linewidth=2.6 if highlight else 1.0,
        )
    )  # fmt: skip
    weight = "bold" if highlight else "normal"
    ax.text(
        x, y, text, ha="center", va="center", fontsize=SMALL, fontweight=weight
    )
    return (x, y, w, h)


def draw_arrow(
    ax, start: tuple[float, float], end: tuple[float, float]
) -> None:
    """A plain dark arrow from point ``start`` to point ``end`` (data coordinates)."""
    ax.annotate(
        "", xy=end, xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": "0.25", "linewidth": 1.1,
                    "shrinkA": 0, "shrinkB": 0},
    )  # fmt: skip


def arrow(ax, a, b, *, label: str | None = None) -> None:
    """An arrow from the edge of box ``a`` to the edge of box ``b`` (boxes as (x, y, w, h)),
    optionally labelled at its middle."""
    (xa, ya, wa, ha), (xb, yb, wb, hb) = a, b
    if abs(xa - xb) < 1e-6:  # same column: bottom/top edges
        start = (xa, ya + ha / 2 * np.sign(yb - ya))
        end = (xb, yb - hb / 2 * np.sign(yb - ya))
    else:  # leave and enter sideways
        start = (xa + wa / 2 * np.sign(xb - xa), ya)
        end = (xb - wb / 2 * np.sign(xb - xa), yb)
    draw_arrow(ax, start, end)
    if label:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.08)
        ax.text(
            *middle,
            label,
            ha="center",
            va="bottom",
            fontsize=SMALL,
            color="0.3",
        )


#: The stages of :func:`draw_pipeline`, by key: (column, row, text, kind). The data flows left
#: to right on the top two rows, into the model, and back right to left on the bottom row.
PIPELINE_STAGES = {
    "images": (0, 0, "images\n(5 captions each)", "image"),
    "cnn": (1, 0, "CNN backbone", "model"),
    "features": (2, 0, "feature vectors\n(cached)", "image"),
    "captions": (0, 1, "captions", "text"),
    "clean": (1, 1, "cleaning,\nvocabulary", "text"),
    "ids": (2, 1, "token ids\n(right-padded)", "text"),
    "model": (3, 0.5, "merge model\n(LSTM)", "model"),
    "decoder": (3, 2, "decoder\n(greedy, beam)", "model"),
    "output": (2, 2, "generated\ncaptions", "output"),
    "metrics": (1, 2, "BLEU-1..4,\nCIDEr-D", "output"),
}


def draw_pipeline(
    highlight: Sequence[str] | str | None = None, *, title: str | None = None
):
    """The course's pipeline as a box-and-arrow diagram at page width.

    images → CNN backbone → cached features; captions → cleaning and vocabulary → token ids;
    both → merge model (LSTM) → decoder → generated captions → BLEU/CIDEr-D. ``highlight``:
    stage keys of :data:`PIPELINE_STAGES` to colour (e.g. ``"cnn"`` in the CNN chapter).
    Returns the ``Figure`` (one axis).
    """
    chosen = (
        {highlight} if isinstance(highlight, str) else set(highlight or ())
    )
    unknown = chosen - set(PIPELINE_STAGES)
    if unknown:
        raise ValueError(
            f"draw_pipeline: unknown stages {sorted(unknown)}; choose from {list(PIPELINE_STAGES)}"
        )
    fig, axes = figure(height=3.1)
    ax = axes[0, 0]
    dx, dy = 1.75, -0.95
    boxes = {
        key: box(
            ax,
            col * dx,
            row * dy,
            text,
            "highlight" if key in chosen else kind,
        )
        for key, (col, row, text, kind) in PIPELINE_STAGES.items()
    }
    for a, b in (
        ("images", "cnn"), ("cnn", "features"), ("captions", "clean"), ("clean", "ids"),
        ("features", "model"), ("ids", "model"), ("model", "decoder"), ("decoder", "output"),
        ("output", "metrics"),
    ):  # fmt: skip
        arrow(ax, boxes[a], boxes[b])
    ax.set_xlim(-0.8, 3 * dx + 0.8)
    ax.set_ylim(2 * dy - 0.45, 0.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        title or "The captioning pipeline built in this course", fontsize=TITLE
    )
    return finish(fig)


def draw_merge_diagram(*, title: str | None = None):
    """Inject vs. merge (Tanti et al.), one above the other: where the image enters the model.

    Top (``inject``): the image vector is fed *into* the RNN together with the words.
    Bottom (``merge``, the course's model): the LSTM reads only the words; its output is
    *added* to the projected image vector after the RNN, then Dense → softmax.
    Returns the ``Figure`` with two axes labelled "inject" and "merge".
    """
    fig, axes = figure(2, 1, height=5.2)
    top, bottom = axes[:, 0]
    b = {
        "img": box(top, 0, 0.8, "image vector", "image"),
        "words": box(top, 0, -0.3, "caption prefix\n→ embedding", "text"),
        "rnn": box(
            top,
            2.2,
            0.25,
            "LSTM: sees the\nimage and the words",
            "model",
            w=1.9,
        ),
        "dense": box(top, 4.2, 0.25, "Dense", "model", w=1.0),
        "soft": box(top, 5.7, 0.25, "softmax:\nnext word", "output", w=1.2),
    }
    for a, c in (
        ("img", "rnn"),
        ("words", "rnn"),
        ("rnn", "dense"),
        ("dense", "soft"),
    ):
        arrow(top, b[a], b[c])
    top.set_title("inject: the image goes into the RNN", fontsize=FONT)
    m = {
        "img": box(bottom, 0, 0.8, "image vector", "image"),
        "proj": box(
            bottom, 2.0, 0.8, "Dropout →\nDense(256, relu)", "model", w=1.6
        ),
        "words": box(bottom, 0, -0.3, "caption prefix", "text"),
        "lstm": box(
            bottom,
            2.0,
            -0.3,
            "Embedding → Dropout\n→ LSTM(256)",
            "model",
            w=1.6,
        ),
        "add": box(bottom, 3.55, 0.25, "add", "model", w=0.7),
        "dense": box(bottom, 4.75, 0.25, "Dense(256,\nrelu)", "model", w=1.0),
        "soft": box(
            bottom, 5.9, 0.25, "softmax:\nnext word", "output", w=0.95
        ),
    }
    for a, c in (
        ("img", "proj"), ("words", "lstm"), ("proj", "add"), ("lstm", "add"),
        ("add", "dense"), ("dense", "soft"),
    ):  # fmt: skip
        arrow(bottom, m[a], m[c])
    bottom.set_title(
        "merge: the LSTM reads only words; the image joins after it",
        fontsize=FONT,
    )
    for ax, label in ((top, "inject"), (bottom, "merge")):
        ax.set_xlim(-0.85, 6.45)
        ax.set_ylim(-0.75, 1.25)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_label(label)
    if title:
        fig.suptitle(title)
    return finish(fig)


#: The boxes of :func:`draw_lstm_cell`: (x, y, text, kind, width).
LSTM_CELL_BOXES = {
    "input": (0.0, 0.0, "$x_t$ and $h_{t-1}$", "text", 1.3),
    "f": (2.1, 1.5, "forget gate $f$\n(sigmoid)", "model", 1.5),
    "i": (2.1, 0.5, "input gate $i$\n(sigmoid)", "model", 1.5),
    "g": (2.1, -0.5, "candidate $g$\n(tanh)", "model", 1.5),
    "o": (2.1, -1.5, "output gate $o$\n(sigmoid)", "model", 1.5),
    "c_prev": (4.2, 2.7, "$c_{t-1}$", "image", 1.3),
    "keep": (4.2, 1.5, "$f \\times c_{t-1}$", "model", 1.3),
    "write": (4.2, 0.0, "$i \\times g$", "model", 1.3),
    "c": (6.2, 0.75, "$c_t$ = sum\nof the two", "output", 1.4),
    "h": (6.2, -1.5, "$h_t = o \\times$\n$\\tanh(c_t)$", "output", 1.4),
}

#: The arrows of :func:`draw_lstm_cell`, as pairs of box keys.
LSTM_CELL_ARROWS = (
    ("input", "f"), ("input", "i"), ("input", "g"), ("input", "o"),
    ("c_prev", "keep"), ("f", "keep"), ("i", "write"), ("g", "write"),
    ("keep", "c"), ("write", "c"), ("c", "h"), ("o", "h"),
)  # fmt: skip


def draw_lstm_cell(*, title: str | None = None):
    """One step of the LSTM cell as a data-flow diagram: the input and the
    previous output feed four gates; the forget gate scales the old cell
    state, the input gate the candidate; their sum is the new cell state
    ``c_t``, and the output gate reads ``h_t`` from it. Returns the
    ``Figure`` (one axis)."""
    fig, axes = figure(height=3.6)
    ax = axes[0, 0]
    boxes = {
        key: box(ax, x, y, text, kind, w=w, h=0.7)
        for key, (x, y, text, kind, w) in LSTM_CELL_BOXES.items()
    }
    for a, b in LSTM_CELL_ARROWS:
        arrow(ax, boxes[a], boxes[b])
    ax.set_xlim(-0.8, 7.0)
    ax.set_ylim(-2.0, 3.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "One step of the LSTM cell", fontsize=TITLE)
    return finish(fig)
