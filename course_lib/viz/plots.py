"""Curves and small arrays: training histories, and numbers laid out as heat maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from course_lib.viz.style import PAGE_WIDTH_IN, SMALL, figure, finish


def plot_history(
    history: Mapping[str, Sequence[float]] | Any,
    metrics: Sequence[str] | None = None,
    *,
    title: str | None = None,
):
    """Training curves: one panel per metric, the training and validation curves together.

    ``history``: a dict ``{"loss": [...], "val_loss": [...], ...}`` (per epoch) or a Keras
    ``History`` (its ``.history``). ``metrics``: base names to plot (default: every key
    without ``val_`` that is not the learning rate). The best validation epoch is marked.
    Returns the ``Figure`` (one axis per metric).
    """
    hist = dict(getattr(history, "history", history))
    if metrics is None:
        metrics = [
            k
            for k in hist
            if not k.startswith("val_")
            and k not in ("lr", "learning_rate", "epoch")
        ]
        metrics += [
            k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist
        ]
    if not metrics:
        raise ValueError(
            f"plot_history: nothing to plot in history with keys {sorted(hist)}"
        )
    fig, axes = figure(1, len(metrics), height=3.0)
    for ax, name in zip(axes.flat, metrics, strict=False):
        for key, label, style in (
            (name, "train", "-o"),
            (f"val_{name}", "validation", "--s"),
        ):
            values = hist.get(key)
            if values is None or len(values) == 0:
                continue
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, style, markersize=3.5, label=label)
        val = hist.get(f"val_{name}")
        if val is not None and len(val):
            lower_is_better = "loss" in name or "error" in name
            best = int(np.argmin(val) if lower_is_better else np.argmax(val))
            ax.axvline(
                best + 1,
                color="0.6",
                linestyle=":",
                linewidth=1,
                label="best epoch",
            )
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return finish(fig)


def plot_arrays(
    arrays: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    fmt: str = "{:g}",
    cmap: str = "gray",
    annotate: bool = True,
):
    """Small 2-D arrays side by side as heat maps with every number written in its cell.

    For teaching by hand: an input, a kernel and the output of a convolution or a pooling.
    ``fmt`` formats each number; the default grey map draws each array's lowest value black
    and its highest white, like a grey image. Returns the ``Figure`` (one axis per array).
    """
    arrays = [np.atleast_2d(np.asarray(a, dtype=float)) for a in arrays]
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(
            f"plot_arrays: {len(arrays)} arrays but {len(titles)} titles"
        )
    widths = [a.shape[1] for a in arrays]
    height = max(a.shape[0] for a in arrays)
    cell = min(0.5, PAGE_WIDTH_IN / (sum(widths) + 1.0 * len(arrays)))
    fig, axes = figure(
        1,
        len(arrays),
        width=min(PAGE_WIDTH_IN, cell * (sum(widths) + 1.0 * len(arrays))),
        height=cell * height + 0.6,
        gridspec_kw={"width_ratios": widths},
    )
    for k, (ax, a) in enumerate(zip(axes.flat, arrays, strict=False)):
        shown = ax.imshow(a, cmap=cmap)
        if annotate:
            for (i, j), v in np.ndenumerate(a):
                r, g, b, _ = shown.cmap(shown.norm(v))  # the cell's colour
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=SMALL,
                        color="white" if dark else "black")  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k])
    return finish(fig)
