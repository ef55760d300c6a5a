"""The house style of the book's figures: sized for the page, text readable at that size.

A figure is shown at the width of the book's text column, :data:`PAGE_WIDTH_PX` (its width in a
1280-pixel-wide browser window), or smaller: a PNG wider than the column is scaled down, and so
is its text. Every figure function in :mod:`course_lib.viz` therefore makes figures at most
:data:`PAGE_WIDTH_IN` wide at :data:`DPI`, with text of at least :data:`SMALL` points, which is
9 pt or more as displayed.

Every function builds a matplotlib ``Figure``, closes it in pyplot (:func:`finish`) and returns
it: make the call the last expression of a notebook cell and Jupyter shows it exactly once.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from course_lib.data.images import load_image

#: Pixels per inch of every figure (the PNG the notebook shows has this many per inch).
DPI = 100
#: Width of the book's text column in a 1280-pixel-wide window (measured in Chromium).
PAGE_WIDTH_PX = 688
#: The margin Jupyter's inline backend leaves around a figure's tight bounding box, in inches.
PAD_IN = 0.1
#: The widest a figure may be without being scaled down on the page, in inches (its PNG is
#: this plus the margins, :data:`PAGE_WIDTH_PX` pixels).
PAGE_WIDTH_IN = PAGE_WIDTH_PX / DPI - 2 * PAD_IN
#: Font sizes in points: body text and the smallest text a figure may use.
FONT = 10.0
SMALL = 9.0
TITLE = 11.0

#: Colours of the diagram boxes, by kind of stage.
BOX_COLOURS = {
    "data": "#dbe9f6",
    "image": "#fde3c8",
    "text": "#d9f0d3",
    "model": "#e8dcf0",
    "output": "#f6d5d5",
    "highlight": "#ffe066",
}


def plt():
    """``matplotlib.pyplot``, imported when the first figure is made, not when ``course_lib.viz``
    is: importing pyplot fixes matplotlib's backend, which a notebook or a test may still
    choose (``matplotlib.use``) after importing the course."""
    import matplotlib.pyplot as pyplot

    return pyplot


def figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    height: float,
    width: float = PAGE_WIDTH_IN,
    **subplots_kw: Any,
):
    """``(fig, axes)`` of a new figure ``width`` × ``height`` inches at :data:`DPI`, with the
    house font sizes; ``axes`` is always a 2-D array (``squeeze=False``)."""
    if width > PAGE_WIDTH_IN + 1e-9:
        raise ValueError(
            f"a figure {width:.2f} in wide is wider than the page ({PAGE_WIDTH_IN})"
        )
    with plt().rc_context(
        {"font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT,
         "xtick.labelsize": SMALL, "ytick.labelsize": SMALL, "legend.fontsize": SMALL,
         "figure.titlesize": TITLE}
    ):  # fmt: skip
        return plt().subplots(
            nrows,
            ncols,
            figsize=(width, height),
            dpi=DPI,
            squeeze=False,
            **subplots_kw,
        )


def finish(fig):
    """Lay out ``fig`` and close it in pyplot's registry (so Jupyter shows it only once)."""
    fig.tight_layout()
    plt().close(fig)
    return fig


def caption_text(caption: str | Sequence[str] | None) -> str:
    """A caption given as a string or a token list, as one string."""
    if caption is None:
        return ""
    if isinstance(caption, str):
        return caption
    return " ".join(str(t) for t in caption)


def wrap(text: str, width_in: float, fontsize: float = SMALL) -> str:
    """``text`` wrapped to lines that fit ``width_in`` inches at ``fontsize`` points."""
    chars = max(8, int(width_in * 72 / (0.55 * fontsize)))
    return (
        "\n".join(textwrap.wrap(text, chars, break_long_words=False))
        if text
        else ""
    )


def as_image(image: Any) -> np.ndarray:
    """An image given as an array (H, W[, C]) or a path, as an array ``imshow`` can draw."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if (
        array.dtype != np.uint8
        and array.size
        and float(np.nanmax(array)) > 1.0
    ):
        array = np.clip(array, 0, 255).astype(
            np.uint8
        )  # float 0-255 -> uint8 for imshow
    return array


def grid_shape(n: int, ncols: int) -> tuple[int, int]:
    """(rows, columns) of a grid of ``n`` panels at most ``ncols`` wide."""
    ncols = max(1, min(ncols, n))
    return int(np.ceil(n / ncols)), ncols
