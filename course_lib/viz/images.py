"""Images with their captions: the book's galleries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from course_lib.viz.style import (
    PAGE_WIDTH_IN,
    SMALL,
    as_image,
    caption_text,
    figure,
    finish,
    grid_shape,
    wrap,
)


def show_captioned_images(
    images: Sequence[Any],
    captions: Sequence[str | Sequence[str]],
    titles: Sequence[str] | None = None,
    ncols: int = 3,
    *,
    references: Sequence[str | Sequence[str]] | None = None,
    width: float | None = None,
):
    """A grid of images at page width, each with its caption above it (and optionally a
    reference caption in grey below it).

    ``images``: arrays (H, W, 3) uint8 / float 0–255 / float 0–1, or image file paths.
    ``captions``: one string or token list per image (e.g. a model's output).
    ``titles``: optional first line per image (e.g. the image id or "greedy").
    ``references``: optional reference caption per image.
    ``width``: inches per image (default and at most: the page width shared by ``ncols``).
    One axis per image (empty grid cells are removed). Returns the ``Figure``.
    """
    n = len(images)
    if n == 0:
        raise ValueError("show_captioned_images: no images given")
    if len(captions) != n:
        raise ValueError(
            f"show_captioned_images: {n} images but {len(captions)} captions"
        )
    for name, extra in (("titles", titles), ("references", references)):
        if extra is not None and len(extra) != n:
            raise ValueError(
                f"show_captioned_images: {n} images but {len(extra)} {name}"
            )
    nrows, ncols = grid_shape(n, ncols)
    panel = min(width or PAGE_WIDTH_IN, PAGE_WIDTH_IN / ncols)
    texts = [wrap(caption_text(c), panel) for c in captions]
    refs = (
        [wrap("ref: " + caption_text(r), panel) for r in references]
        if references
        else []
    )
    lines_above = max(t.count("\n") + 1 for t in texts) + (titles is not None)
    lines_below = max((r.count("\n") + 1 for r in refs), default=0)
    line = SMALL * 1.35 / 72  # inches per line of text
    row_height = panel * 0.92 + (lines_above + lines_below) * line + 0.3
    fig, axes = figure(
        nrows, ncols, width=panel * ncols, height=row_height * nrows
    )
    for k, ax in enumerate(axes.flat):
        if k >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(as_image(images[k]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        title = texts[k] if titles is None else f"{titles[k]}\n{texts[k]}"
        ax.set_title(title, fontsize=SMALL, loc="center", parse_math=False)
        if references is not None:
            ax.set_xlabel(
                refs[k], fontsize=SMALL, color="0.35", parse_math=False
            )
    return finish(fig)
