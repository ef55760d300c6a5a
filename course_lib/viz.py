"""Figures and tables for the book: captioned image grids, loss curves, filters, feature maps,
the pipeline and the inject/merge diagrams, and Markdown tables.

Every plotting function builds a matplotlib ``Figure``, closes it (``plt.close``) and returns
it. In a notebook, make the call the **last expression of the cell** and Jupyter shows the
figure exactly once; assign it (``fig = ...``) to keep it without showing it. Nothing here
calls ``plt.show()``.

Only matplotlib (and NumPy) are used, so the figures render the same in Jupyter, in the book
build and in tests run with the ``Agg`` backend.
"""

from __future__ import annotations

import html
import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MarkdownTable",
    "draw_merge_diagram",
    "draw_pipeline",
    "plot_arrays",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "show_captioned_images",
    "table",
]

#: Colours of the diagram boxes, by kind of stage.
BOX_COLOURS = {
    "data": "#dbe9f6",
    "image": "#fde3c8",
    "text": "#d9f0d3",
    "model": "#e8dcf0",
    "output": "#f6d5d5",
    "highlight": "#ffe066",
}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _finish(fig):
    """Close ``fig`` in pyplot's registry (so Jupyter does not show it a second time)."""
    _plt().close(fig)
    return fig


def _caption_text(caption: str | Sequence[str] | None) -> str:
    """A caption given as a string or a token list, as one string."""
    if caption is None:
        return ""
    if isinstance(caption, str):
        return caption
    return " ".join(str(t) for t in caption)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _as_image(image: Any) -> np.ndarray:
    """An image given as an array (H, W[, C]) or a path, as an array imshow can draw."""
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        with Image.open(image) as im:
            return np.asarray(im.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8 and array.size and float(np.nanmax(array)) > 1.0:
        array = np.clip(array, 0, 255).astype(np.uint8)  # float 0-255 -> uint8 for imshow
    return array


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return int(np.ceil(n / ncols)), ncols


# --------------------------------------------------------------------------------------
# Images with captions
# --------------------------------------------------------------------------------------


def show_captioned_images(
    images: Sequence[Any],
    captions: Sequence[str | Sequence[str]],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    *,
    references: Sequence[str | Sequence[str]] | None = None,
    width: float = 3.2,
    wrap: int = 34,
):
    """A grid of images, each with its caption above it (and a reference below, optional).

    ``images``: arrays (H, W, 3) uint8 / float 0–255 / float 0–1, or image file paths.
    ``captions``: one string or token list per image (e.g. a model's output).
    ``titles``: optional first title line per image (e.g. the image id or "greedy").
    ``references``: optional reference caption per image, written in grey under the image.
    One axis per image (empty grid cells are removed). Returns the ``Figure``.
    """
    plt = _plt()
    n = len(images)
    if n == 0:
        raise ValueError("show_captioned_images: no images given")
    if len(captions) != n:
        raise ValueError(f"show_captioned_images: {n} images but {len(captions)} captions")
    for name, extra in (("titles", titles), ("references", references)):
        if extra is not None and len(extra) != n:
            raise ValueError(f"show_captioned_images: {n} images but {len(extra)} {name}")
    nrows, ncols = _grid(n, ncols)
    text_lines = 3 + (2 if references is not None else 0)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, (width + 0.22 * text_lines) * nrows),
        squeeze=False,
    )
    for k, ax in enumerate(axes.flat):
        if k >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(_as_image(images[k]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        lines = []
        if titles is not None and titles[k]:
            lines.append(str(titles[k]))
        lines.append(_wrap(_caption_text(captions[k]), wrap))
        ax.set_title("\n".join(lines), fontsize=9, loc="center", parse_math=False)
        if references is not None:
            ax.set_xlabel(
                _wrap("ref: " + _caption_text(references[k]), wrap),
                fontsize=8,
                color="0.35",
                parse_math=False,
            )
    fig.tight_layout()
    return _finish(fig)


# --------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------


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
    plt = _plt()
    hist = dict(getattr(history, "history", history))
    if metrics is None:
        metrics = [
            k
            for k in hist
            if not k.startswith("val_") and k not in ("lr", "learning_rate", "epoch")
        ]
        metrics += [k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist]
    if not metrics:
        raise ValueError(f"plot_history: nothing to plot in history with keys {sorted(hist)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.4), squeeze=False)
    for ax, name in zip(axes.flat, metrics, strict=False):
        for key, label, style in ((name, "train", "-o"), (f"val_{name}", "validation", "-s")):
            values = hist.get(key)
            if values is None or len(values) == 0:
                continue
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, style, markersize=3.5, label=label)
        val = hist.get(f"val_{name}")
        if val is not None and len(val):
            lower_is_better = "loss" in name or "error" in name
            best = int(np.argmin(val) if lower_is_better else np.argmax(val))
            ax.axvline(best + 1, color="0.6", linestyle=":", linewidth=1)
            ax.annotate(
                f"best: epoch {best + 1}",
                xy=(best + 1, val[best]),
                xytext=(5, 8),
                textcoords="offset points",
                fontsize=8,
                color="0.3",
            )
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig)


# --------------------------------------------------------------------------------------
# Arrays, filters and feature maps
# --------------------------------------------------------------------------------------


def plot_arrays(
    arrays: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    fmt: str = "{:g}",
    cmap: str = "Blues",
    annotate: bool = True,
    cell: float = 0.45,
):
    """Small 2-D arrays side by side as heat maps with every number written in its cell.

    For teaching by hand: an input, a kernel and the output of a convolution or a pooling.
    ``fmt`` formats each number. Returns the ``Figure`` (one axis per array).
    """
    plt = _plt()
    arrays = [np.atleast_2d(np.asarray(a, dtype=float)) for a in arrays]
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"plot_arrays: {len(arrays)} arrays but {len(titles)} titles")
    widths = [a.shape[1] for a in arrays]
    height = max(a.shape[0] for a in arrays)
    fig, axes = plt.subplots(
        1,
        len(arrays),
        figsize=(cell * (sum(widths) + 1.2 * len(arrays)), cell * height + 1.0),
        gridspec_kw={"width_ratios": widths},
        squeeze=False,
    )
    for k, (ax, a) in enumerate(zip(axes.flat, arrays, strict=False)):
        ax.imshow(a, cmap=cmap)
        span = float(a.max() - a.min()) or 1.0
        if annotate:
            for (i, j), v in np.ndenumerate(a):
                dark = (v - a.min()) / span > 0.6
                ax.text(
                    j,
                    i,
                    fmt.format(v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k], fontsize=10)
    fig.tight_layout()
    return _finish(fig)


def plot_filters(
    kernel: np.ndarray,
    *,
    n: int | None = 32,
    ncols: int = 8,
    title: str | None = None,
    channel: int | None = None,
):
    """The filters of a convolution layer, one small image per filter.

    ``kernel``: the layer's weights, shape (kh, kw, in_channels, filters) (Keras layout, e.g.
    ``layer.get_weights()[0]``). With 3 input channels each filter is drawn as an RGB patch
    (each filter rescaled to 0–1 on its own); otherwise input ``channel`` (default 0) is drawn
    in a diverging colour map (red positive, blue negative). ``n``: how many filters (default
    32; None for all). Returns the ``Figure`` with one axis per filter, titled ``f<k>``.
    """
    plt = _plt()
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 4:
        raise ValueError(f"plot_filters: expected (kh, kw, in, filters), got shape {kernel.shape}")
    count = kernel.shape[-1] if n is None else min(n, kernel.shape[-1])
    rgb = kernel.shape[2] == 3 and channel is None
    nrows, ncols = _grid(count, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.35 * nrows + 0.5), squeeze=False)
    limit = float(np.abs(kernel).max()) or 1.0
    for k, ax in enumerate(axes.flat):
        if k >= count:
            fig.delaxes(ax)
            continue
        w = kernel[..., k]
        if rgb:
            lo, hi = w.min(), w.max()
            ax.imshow((w - lo) / ((hi - lo) or 1.0), interpolation="nearest")
        else:
            ax.imshow(
                w[..., channel or 0],
                cmap="RdBu_r",
                vmin=-limit,
                vmax=limit,
                interpolation="nearest",
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"f{k}", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig)


def plot_feature_maps(
    feature_maps: np.ndarray,
    *,
    image: Any | None = None,
    n: int = 16,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "viridis",
):
    """The first ``n`` channels of a layer's output for one image, optionally after the image.

    ``feature_maps``: (H, W, C) or (1, H, W, C) (a batch of one, as ``model.predict`` returns).
    ``image``: the input image (array or path), drawn first and titled ``input``.
    Channels are titled ``ch <k>``. Returns the ``Figure`` (one axis per panel).
    """
    plt = _plt()
    maps = np.asarray(feature_maps, dtype=float)
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(f"plot_feature_maps: give one image's maps, got shape {maps.shape}")
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"plot_feature_maps: expected (H, W, C), got shape {maps.shape}")
    count = min(n, maps.shape[-1])
    panels = count + (image is not None)
    nrows, ncols = _grid(panels, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.5 * ncols, 1.6 * nrows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= panels:
            fig.delaxes(ax)
            continue
        if image is not None and k == 0:
            ax.imshow(_as_image(image), interpolation="nearest")
            ax.set_title("input", fontsize=8)
            continue
        c = k - (image is not None)
        ax.imshow(maps[..., c], cmap=cmap, interpolation="nearest")
        ax.set_title(f"ch {c}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig)


# --------------------------------------------------------------------------------------
# Diagrams
# --------------------------------------------------------------------------------------


def _box(ax, x: float, y: float, text: str, kind: str, *, w: float = 1.7, h: float = 0.8):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.04,rounding_size=0.12",
            facecolor=BOX_COLOURS[kind],
            edgecolor="0.25",
            linewidth=1.0,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)
    return (x, y, w, h)


def _arrow(ax, a, b, *, label: str | None = None) -> None:
    """An arrow from the edge of box ``a`` to the edge of box ``b`` (boxes as (x, y, w, h))."""
    (xa, ya, wa, ha), (xb, yb, wb, hb) = a, b
    if abs(ya - yb) < 1e-6:  # same row: right edge -> left edge
        start = (xa + wa / 2 * np.sign(xb - xa), ya)
        end = (xb - wb / 2 * np.sign(xb - xa), yb)
    elif abs(xa - xb) < 1e-6:  # same column
        start = (xa, ya + ha / 2 * np.sign(yb - ya))
        end = (xb, yb - hb / 2 * np.sign(yb - ya))
    else:  # leave sideways, enter sideways
        start = (xa + wa / 2 * np.sign(xb - xa), ya)
        end = (xb - wb / 2 * np.sign(xb - xa), yb)
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "0.25",
            "linewidth": 1.1,
            "shrinkA": 0,
            "shrinkB": 0,
        },
    )
    if label:
        ax.text(
            (start[0] + end[0]) / 2,
            (start[1] + end[1]) / 2 + 0.12,
            label,
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.3",
        )


#: The stages of :func:`draw_pipeline`, by key: (column, row, text, kind).
PIPELINE_STAGES = {
    "images": (0, 1, "images\n(5 captions each)", "image"),
    "cnn": (1, 1, "CNN backbone\n(VGG16 / small CNN)", "model"),
    "features": (2, 1, "feature vectors\n(cached)", "image"),
    "captions": (0, 0, "captions", "text"),
    "clean": (1, 0, "clean +\nvocabulary", "text"),
    "ids": (2, 0, "token ids\n(right-padded)", "text"),
    "model": (3, 0.5, "merge model\n(LSTM)", "model"),
    "decoder": (4, 0.5, "decoder\n(greedy, beam)", "model"),
    "output": (5, 0.5, "captions", "output"),
    "metrics": (6, 0.5, "BLEU-1..4,\nCIDEr", "output"),
}


def draw_pipeline(highlight: Sequence[str] | str | None = None, *, title: str | None = None):
    """The course's pipeline as a box-and-arrow diagram.

    images → CNN backbone → cached features; captions → cleaning/vocabulary → token ids; both
    → merge model (LSTM) → decoder → captions → BLEU/CIDEr. ``highlight``: stage keys of
    :data:`PIPELINE_STAGES` to colour (e.g. ``"cnn"`` in the CNN chapter). Returns the
    ``Figure`` (one axis).
    """
    plt = _plt()
    if isinstance(highlight, str):
        highlight = [highlight]
    highlight = set(highlight or ())
    unknown = highlight - set(PIPELINE_STAGES)
    if unknown:
        raise ValueError(
            f"draw_pipeline: unknown stages {sorted(unknown)}; choose from {list(PIPELINE_STAGES)}"
        )
    fig, ax = plt.subplots(figsize=(12.5, 2.9))
    dx, dy = 2.05, 1.35
    boxes = {}
    for key, (col, row, text, kind) in PIPELINE_STAGES.items():
        boxes[key] = _box(ax, col * dx, row * dy, text, "highlight" if key in highlight else kind)
    for a, b in (
        ("images", "cnn"),
        ("cnn", "features"),
        ("captions", "clean"),
        ("clean", "ids"),
        ("features", "model"),
        ("ids", "model"),
        ("model", "decoder"),
        ("decoder", "output"),
        ("output", "metrics"),
    ):
        _arrow(ax, boxes[a], boxes[b])
    ax.set_xlim(-1.0, 6 * dx + 1.0)
    ax.set_ylim(-0.7, dy + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "The captioning pipeline built in this course", fontsize=11)
    fig.tight_layout()
    return _finish(fig)


def draw_merge_diagram(*, title: str | None = None):
    """Inject vs. merge side by side (Tanti et al.): where the image enters the model.

    Left (``inject``): the image vector is fed *into* the RNN together with the words.
    Right (``merge``, the course's model): the LSTM reads only the words; its output is
    *added* to the projected image vector after the RNN, then Dense → softmax.
    Returns the ``Figure`` with two axes titled "inject" and "merge".
    """
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    # Inject: image and words both go into the RNN.
    b = {}
    b["img"] = _box(left, 0, 3, "image vector", "image")
    b["words"] = _box(left, 0, 1, "caption prefix\n→ embedding", "text")
    b["rnn"] = _box(left, 2.4, 2, "RNN (LSTM)\nsees image + words", "model", w=2.1)
    b["dense"] = _box(left, 4.8, 2, "Dense", "model", w=1.3)
    b["soft"] = _box(left, 4.8, 0.4, "softmax:\nnext word", "output", w=1.5)
    _arrow(left, b["img"], b["rnn"])
    _arrow(left, b["words"], b["rnn"])
    _arrow(left, b["rnn"], b["dense"])
    _arrow(left, b["dense"], b["soft"])
    left.set_title("inject: the image goes into the RNN", fontsize=10)
    # Merge: the seed article's model.
    m = {}
    m["img"] = _box(right, 0, 3, "image vector", "image")
    m["drop1"] = _box(right, 2.1, 3, "Dropout(0.5) →\nDense(256, relu)", "model", w=2.0)
    m["words"] = _box(right, 0, 1, "caption prefix", "text")
    m["lstm"] = _box(right, 2.1, 1, "Embedding(256) →\nDropout → LSTM(256)", "model", w=2.0)
    m["add"] = _box(right, 4.2, 2, "add", "model", w=0.9)
    m["dense"] = _box(right, 5.9, 2, "Dense(256, relu)", "model", w=1.7)
    m["soft"] = _box(right, 5.9, 0.4, "softmax:\nnext word", "output", w=1.5)
    for a, c in (
        ("img", "drop1"),
        ("words", "lstm"),
        ("drop1", "add"),
        ("lstm", "add"),
        ("add", "dense"),
        ("dense", "soft"),
    ):
        _arrow(right, m[a], m[c])
    right.set_title("merge: the LSTM only reads words; the image joins after it", fontsize=10)
    for ax, xmax in ((left, 5.9), (right, 7.0)):
        ax.set_xlim(-1.0, xmax)
        ax.set_ylim(-0.4, 3.7)
        ax.set_aspect("equal")
        ax.axis("off")
    left.set_label("inject")
    right.set_label("merge")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        text = format(float(value), floatfmt)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        text = " ".join(value)  # a token list
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(rows: Sequence[Sequence[Any]], columns: Sequence[str], floatfmt: str) -> str:
    header = "| " + " | ".join(_cell(c, floatfmt) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(v, floatfmt) for v in row) + " |" for row in rows]
    return "\n".join([header, rule, *body])


def _html(rows: Sequence[Sequence[Any]], columns: Sequence[str], floatfmt: str) -> str:
    def esc(v: Any) -> str:
        return html.escape(_cell(v, floatfmt).replace("\\|", "|"))

    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


try:  # IPython is there in every notebook; the fallback keeps the library importable without it
    from IPython.display import Markdown as _MarkdownBase
except ImportError:  # pragma: no cover - exercised only without IPython

    class _MarkdownBase:  # type: ignore[no-redef]
        def __init__(self, data: str) -> None:
            self.data = data

        def _repr_markdown_(self) -> str:
            return self.data


class MarkdownTable(_MarkdownBase):
    """A table shown as Markdown in Jupyter (and as HTML where HTML is preferred, e.g. the
    book). ``.data`` is the Markdown text; ``.rows``/``.columns`` the values given."""

    def __init__(self, data: str, rows: list[list[Any]], columns: list[str], html_text: str):
        super().__init__(data)
        self.rows = rows
        self.columns = columns
        self._html_text = html_text

    def _repr_html_(self) -> str:
        return self._html_text

    def __str__(self) -> str:
        return self.data


def table(
    rows: Sequence[Sequence[Any]] | Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    floatfmt: str = ".3f",
) -> MarkdownTable:
    """A table for a notebook: an ``IPython.display.Markdown`` (pandas-free).

    ``rows``: sequences of values (one per column), or dicts (then ``columns`` defaults to
    the first row's keys). Floats use ``floatfmt``; token lists are joined with spaces; ``|``
    is escaped. Make it the last expression of a cell (or ``display(...)`` it).
    """
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        columns = list(columns if columns is not None else rows[0].keys())
        rows = [[r.get(c, "") for c in columns] for r in rows]  # type: ignore[union-attr]
    if columns is None:
        raise ValueError("table: give the column names (or rows as dicts)")
    columns = [str(c) for c in columns]
    rows = [list(r) for r in rows]
    for k, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(
                f"table: row {k} has {len(row)} values but there are {len(columns)} columns"
            )
    return MarkdownTable(
        _markdown(rows, columns, floatfmt), rows, columns, _html(rows, columns, floatfmt)
    )
