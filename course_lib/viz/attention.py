"""The attention captioner: one step of attention as a diagram, where it looked at each word,
and how much of its attention fell on the object a word names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from course_lib.viz.diagrams import arrow, box
from course_lib.viz.style import (
    FONT,
    PAGE_WIDTH_IN,
    SMALL,
    as_image,
    figure,
    finish,
    grid_shape,
    wrap,
)

Box = tuple[float, float, float, float]


def draw_attention_diagram(*, title: str | None = None):
    """One word of the attention captioner as a box-and-arrow diagram, at page width.

    Top row: the grid of region vectors → their keys (once per image) → the scores of the
    regions against the state ``h`` → the weights ``α``. Bottom row, right to left: the context
    ``z`` → the LSTM, which also reads the previous word → the next word. The LSTM's new ``h``
    goes up into the scores of the next word. Returns the ``Figure`` (one axis).
    """
    fig, axes = figure(height=3.5)
    ax = axes[0, 0]
    top, bottom, low = 0.9, -0.35, -1.45
    b = {
        "grid": box(
            ax,
            0.0,
            top,
            "grid of regions\n$a_1 \\ldots a_L$  (L × C)",
            "image",
            w=1.6,
        ),
        "keys": box(
            ax, 1.95, top, "keys $W_a a_i$\n(once per image)", "model", w=1.5
        ),
        "scores": box(
            ax,
            4.0,
            top,
            "scores\n$e_i = v^\\top \\tanh(W_a a_i + W_h h)$",
            "model",
            w=2.3,
        ),
        "alpha": box(
            ax,
            6.05,
            top,
            "weights\n$\\alpha = \\mathrm{softmax}(e)$",
            "model",
            w=1.3,
        ),
        "context": box(
            ax,
            6.05,
            bottom,
            "context\n$z = \\beta\\,\\Sigma_i\\,\\alpha_i a_i$",
            "image",
            w=1.3,
        ),
        "lstm": box(
            ax, 4.0, bottom, "LSTM reads\nthe word and z", "model", w=1.7
        ),
        "next": box(
            ax,
            1.0,
            bottom,
            "next word: softmax\nof [y, z, word]",
            "output",
            w=2.0,
        ),
        "word": box(
            ax, 4.0, low, "previous word → embedding", "text", w=2.6, h=0.5
        ),
    }
    for a, c in (
        ("grid", "keys"), ("keys", "scores"), ("scores", "alpha"), ("alpha", "context"),
        ("context", "lstm"), ("lstm", "next"), ("word", "lstm"), ("lstm", "scores"),
    ):  # fmt: skip
        arrow(ax, b[a], b[c])
    middle = (top + bottom) / 2
    ax.text(4.1, middle, "new h, for\nthe next word", ha="left", va="center", fontsize=SMALL,
            color="0.3")  # fmt: skip
    ax.text(2.5, bottom + 0.08, "y", ha="center", va="bottom", fontsize=SMALL,
            color="0.3")  # fmt: skip
    ax.set_xlim(-0.85, 6.8)
    ax.set_ylim(low - 0.4, top + 0.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "One word of the attention captioner", fontsize=FONT)
    return finish(fig)


def _overlay(
    ax, picture: np.ndarray, heat: np.ndarray, box_: Box | None, top: float
) -> None:
    """Draw ``picture`` with the attention map ``heat`` (H', W') stretched over it, on the scale
    0..``top``, and ``box_`` (x0, y0, x1, y1) in pixels outlined with a dashed line."""
    height, width = picture.shape[:2]
    ax.set_xticks([])
    ax.set_yticks([])
    ax.imshow(picture, interpolation="nearest")
    ax.imshow(heat, cmap="magma", alpha=0.6, vmin=0.0, vmax=top, interpolation="bilinear",
              extent=(-0.5, width - 0.5, height - 0.5, -0.5))  # fmt: skip
    if box_ is not None:
        x0, y0, x1, y1 = box_
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="white",
                               linestyle="--", linewidth=1.5))  # fmt: skip


def plot_attention(
    image: Any,
    words: Sequence[str],
    weights: np.ndarray,
    grid: tuple[int, int],
    *,
    boxes: Sequence[tuple[float, float, float, float] | None] | None = None,
    ncols: int = 5,
    title: str | None = None,
):
    """The image once per generated word, with that step's attention laid over it.

    ``image``: array (H, W, 3) or path; ``words``: the caption's tokens (``<end>`` may follow);
    ``weights``: (n, H'·W') attention rows, row ``t`` for word ``t`` (extra rows are dropped);
    ``grid``: (H', W') of the attended map. Each map is stretched over the image (a cell covers
    its share of the picture) and drawn on a shared scale, bright where the model looked.
    ``boxes``: optional (x0, y0, x1, y1) in image pixels per word (None for none), outlined
    with a dashed line: where the named object really is. Returns the ``Figure``; each panel
    is titled with its word and the largest weight it gave a cell.
    """
    picture = as_image(image)
    weights = np.asarray(weights, dtype=float)
    n = min(len(words), len(weights))
    if n == 0:
        raise ValueError("plot_attention: no words to show")
    if weights.shape[1] != grid[0] * grid[1]:
        raise ValueError(
            f"plot_attention: weights of {weights.shape[1]} cells for a {grid} grid"
        )
    if boxes is not None and len(boxes) < n:
        raise ValueError(f"plot_attention: {len(boxes)} boxes for {n} words")
    nrows, ncols = grid_shape(n, ncols)
    panel = PAGE_WIDTH_IN / ncols
    fig, axes = figure(
        nrows, ncols, height=(panel + 0.5) * nrows + (0.35 if title else 0)
    )
    top = float(weights[:n].max()) or 1.0
    for k, ax in enumerate(axes.flat):
        if k >= n:
            fig.delaxes(ax)
            continue
        heat = weights[k].reshape(grid)
        _overlay(ax, picture, heat, None if boxes is None else boxes[k], top)
        ax.set_title(f"{words[k]}\nmax {heat.max():.2f}", fontsize=SMALL)
    if title:
        fig.suptitle(title)
    return finish(fig)


def plot_word_attention(
    images: Sequence[Any],
    weights: np.ndarray,
    grid: tuple[int, int],
    *,
    titles: Sequence[str],
    boxes: Sequence[Box | None] | None = None,
    ncols: int = 4,
    title: str | None = None,
):
    """One panel per (image, word): ``images[k]`` with the attention row ``weights[k]`` (over
    the ``grid`` = (H', W') cells) laid over it, each on its own scale (bright = its largest
    weight), ``boxes[k]`` outlined (dashed, image pixels) and ``titles[k]`` above it (wrapped).
    For a gallery of single words from many images, e.g. where attention missed the object.
    Returns the ``Figure``."""
    weights = np.asarray(weights, dtype=float)
    n = len(images)
    if n == 0:
        raise ValueError("plot_word_attention: no images")
    if weights.shape != (n, grid[0] * grid[1]):
        raise ValueError(
            f"plot_word_attention: weights of shape {weights.shape} for {n} images and a "
            f"{grid} grid"
        )
    for name, extra in (("titles", titles), ("boxes", boxes)):
        if extra is not None and len(extra) != n:
            raise ValueError(
                f"plot_word_attention: {n} images but {len(extra)} {name}"
            )
    nrows, ncols = grid_shape(n, ncols)
    panel = PAGE_WIDTH_IN / ncols
    texts = [wrap(t, panel) for t in titles]
    lines = max(t.count("\n") + 1 for t in texts)
    row_height = panel + lines * SMALL * 1.35 / 72 + 0.25
    fig, axes = figure(
        nrows, ncols, height=row_height * nrows + (0.35 if title else 0)
    )
    for k, ax in enumerate(axes.flat):
        if k >= n:
            fig.delaxes(ax)
            continue
        heat = weights[k].reshape(grid)
        _overlay(ax, as_image(images[k]), heat, None if boxes is None else boxes[k],
                 float(heat.max()) or 1.0)  # fmt: skip
        ax.set_title(texts[k], fontsize=SMALL)
    if title:
        fig.suptitle(title)
    return finish(fig)


#: Marker of each kind of word in :func:`plot_attention_correctness`.
KIND_MARKERS = {"shape": "o", "colour": "s", "size": "^"}


def plot_attention_correctness(
    mass: Sequence[float],
    chance: Sequence[float],
    kinds: Sequence[str],
    *,
    title: str | None = None,
):
    """Per word naming an object: the share of its attention on the object's box (y) against
    the box's share of the image (x, what even attention would put there). One marker per kind
    of word (:data:`KIND_MARKERS`); the dashed line is chance (y = x), the dotted one twice
    chance. Returns the ``Figure`` (one axis)."""
    on_box, even = (
        np.asarray(mass, dtype=float),
        np.asarray(chance, dtype=float),
    )
    kinds = list(kinds)
    if not len(on_box) == len(even) == len(kinds) or not len(on_box):
        raise ValueError(
            "plot_attention_correctness: mass, chance and kinds differ or are empty"
        )
    unknown = set(kinds) - set(KIND_MARKERS)
    if unknown:
        raise ValueError(
            f"plot_attention_correctness: unknown kinds {sorted(unknown)}"
        )
    fig, axes = figure(height=4.4, width=5.5)
    ax = axes[0, 0]
    colours = {
        "shape": "tab:purple",
        "colour": "tab:orange",
        "size": "tab:green",
    }
    for kind, marker in KIND_MARKERS.items():
        rows = np.array([k == kind for k in kinds])
        if rows.any():
            ax.scatter(even[rows], on_box[rows], s=14, marker=marker, alpha=0.6,
                       color=colours[kind], label=f"{kind} words ({int(rows.sum())})")  # fmt: skip
    edge = float(max(even.max(), 1e-3)) * 1.05
    ax.plot(
        [0, edge],
        [0, edge],
        "k--",
        linewidth=1,
        label="chance (even attention)",
    )
    ax.plot([0, edge], [0, 2 * edge], "k:", linewidth=1, label="twice chance")
    ax.set_xlim(0, edge)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("the object's box: share of the image")
    ax.set_ylabel("attention on the box")
    ax.legend(
        fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2
    )
    if title:
        ax.set_title(title)
    return finish(fig)
