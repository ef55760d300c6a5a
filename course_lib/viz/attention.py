"""Where the attention captioner looked: one panel per word, its attention over the image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from course_lib.viz.style import PAGE_WIDTH_IN, SMALL, as_image, figure, finish, grid_shape


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
        raise ValueError(f"plot_attention: weights of {weights.shape[1]} cells for a {grid} grid")
    if boxes is not None and len(boxes) < n:
        raise ValueError(f"plot_attention: {len(boxes)} boxes for {n} words")
    nrows, ncols = grid_shape(n, ncols)
    panel = PAGE_WIDTH_IN / ncols
    fig, axes = figure(nrows, ncols, height=(panel + 0.5) * nrows + (0.35 if title else 0))
    height, width = picture.shape[:2]
    top = float(weights[:n].max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(picture, interpolation="nearest")
        heat = weights[k].reshape(grid)
        ax.imshow(heat, cmap="magma", alpha=0.6, vmin=0.0, vmax=top, interpolation="bilinear",
                  extent=(-0.5, width - 0.5, height - 0.5, -0.5))  # fmt: skip
        if boxes is not None and boxes[k] is not None:
            from matplotlib.patches import Rectangle

            x0, y0, x1, y1 = boxes[k]
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="white",
                                   linestyle="--", linewidth=1.5))  # fmt: skip
        ax.set_title(f"{words[k]}\nmax {heat.max():.2f}", fontsize=SMALL)
    if title:
        fig.suptitle(title)
    return finish(fig)
