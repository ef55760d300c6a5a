"""The rule every book figure must pass: text at least 9 pt as the page shows it.

A figure's PNG is its tight bounding box at ``fig.dpi`` (what Jupyter's inline backend saves);
the page shows it at the width of the text column, :data:`course_lib.viz.style.PAGE_WIDTH_PX`,
or smaller, so text shrinks by ``min(1, column / PNG width)``. 9 pt in CSS is 12 pixels.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from course_lib.viz.style import PAD_IN, PAGE_WIDTH_PX

MIN_TEXT_PX = 12.0  # 9 pt (CSS: 1 pt = 4/3 px)


def shown_width_px(fig) -> float:
    """Width in pixels of the figure's PNG as Jupyter saves it (tight bounding box and a
    margin of ``PAD_IN`` on each side)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    return (fig.get_tightbbox(renderer).width + 2 * PAD_IN) * fig.dpi


def small_text(fig) -> list[tuple[str, float]]:
    """``(text, pixels)`` of every visible text in ``fig`` smaller than 9 pt on the page."""
    FigureCanvasAgg(fig).draw()
    scale = min(1.0, PAGE_WIDTH_PX / shown_width_px(fig))
    found = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        pixels = text.get_fontsize() * fig.dpi / 72 * scale
        if pixels < MIN_TEXT_PX - 1e-6:
            found.append((text.get_text()[:40], round(float(pixels), 1)))
    return found
