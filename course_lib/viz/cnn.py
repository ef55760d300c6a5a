"""What a CNN learned: its filters, its feature maps for one image, and the shapes of its
maps layer by layer (a figure, and :func:`cnn_layer_table`)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.patches import Rectangle

from course_lib.viz.style import (
    BOX_COLOURS,
    FONT,
    PAGE_WIDTH_IN,
    SMALL,
    as_image,
    figure,
    finish,
    grid_shape,
)
from course_lib.viz.tables import MarkdownTable, table


def plot_feature_maps(
    feature_maps: np.ndarray,
    *,
    image: Any | None = None,
    n: int = 11,
    ncols: int = 6,
    title: str | None = None,
    cmap: str = "viridis",
):
    """The first ``n`` channels of a layer's output for one image, optionally after the image.

    ``feature_maps``: (H, W, C) or (1, H, W, C) (a batch of one, as ``model.predict`` returns).
    ``image``: the input image (array or path), drawn first and titled ``input``.
    Channels are titled ``ch <k>``. Returns the ``Figure`` (one axis per panel).
    """
    maps = np.asarray(feature_maps, dtype=float)
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(
                f"plot_feature_maps: give one image's maps, got shape {maps.shape}"
            )
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(
            f"plot_feature_maps: expected (H, W, C), got shape {maps.shape}"
        )
    count = min(n, maps.shape[-1])
    panels = count + (image is not None)
    nrows, ncols = grid_shape(panels, ncols)
    panel = PAGE_WIDTH_IN / ncols
    fig, axes = figure(
        nrows, ncols, height=(panel + 0.2) * nrows + (0.35 if title else 0)
    )
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= panels:
            fig.delaxes(ax)
            continue
        if image is not None and k == 0:
            ax.imshow(as_image(image), interpolation="nearest")
            ax.set_title("input", fontsize=SMALL)
            continue
        c = k - (image is not None)
        ax.imshow(maps[..., c], cmap=cmap, interpolation="nearest")
        ax.set_title(f"ch {c}", fontsize=SMALL)
    if title:
        fig.suptitle(title)
    return finish(fig)


def _filter_mosaic(
    kernel: np.ndarray, count: int, ncols: int, channel: int | None
) -> np.ndarray:
    """The first ``count`` filters of ``kernel`` (kh, kw, in, filters) tiled ``ncols`` wide as
    one RGB image in [0, 1], filters one pixel apart on white."""
    kh, kw, channels, _ = kernel.shape
    nrows = int(np.ceil(count / ncols))
    mosaic = np.ones((nrows * (kh + 1) - 1, ncols * (kw + 1) - 1, 3))
    limit = float(np.abs(kernel).max()) or 1.0
    for k in range(count):
        w = kernel[..., k]
        if channels == 3 and channel is None:
            patch = (w - w.min()) / ((w.max() - w.min()) or 1.0)
        else:
            patch = colormaps["RdBu_r"](
                (w[..., channel or 0] / limit + 1) / 2
            )[..., :3]
        row, col = divmod(k, ncols)
        mosaic[
            row * (kh + 1) : row * (kh + 1) + kh,
            col * (kw + 1) : col * (kw + 1) + kw,
        ] = patch
    return mosaic


def plot_filter_sets(
    kernels: Mapping[str, np.ndarray],
    *,
    n: int | None = None,
    ncols: int = 12,
    channel: int | None = None,
):
    """Several sets of convolution filters, one panel per set, titled by its key: e.g. the
    same layer before and after training.

    ``kernels``: ``{title: weights}``, weights of shape (kh, kw, in_channels, filters) (Keras
    layout, ``layer.get_weights()[0]``). With 3 input channels each filter is an RGB patch
    rescaled to 0–1 on its own (so its colours, not its strength, show); otherwise input
    ``channel`` (default 0) in a diverging colour map (red positive, blue negative). ``n``: how
    many filters per set (default all); ``ncols`` per row. The filters of a set are tiled into
    one image, one pixel apart, so that dozens of them stay large enough to see at page width.
    Returns the ``Figure`` (one axis per set).
    """
    if not kernels:
        raise ValueError("plot_filter_sets: no kernels given")
    mosaics = {}
    for title, kernel in kernels.items():
        kernel = np.asarray(kernel, dtype=float)
        if kernel.ndim != 4:
            raise ValueError(
                f"plot_filter_sets: {title!r}: expected (kh, kw, in, filters), got shape "
                f"{kernel.shape}"
            )
        count = kernel.shape[-1] if n is None else min(n, kernel.shape[-1])
        mosaics[title] = _filter_mosaic(
            kernel, count, min(ncols, count), channel
        )
    width = PAGE_WIDTH_IN
    heights = [width * m.shape[0] / m.shape[1] for m in mosaics.values()]
    fig, axes = figure(
        len(mosaics), 1, width=width, height=sum(heights) + 0.4 * len(mosaics),
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for ax, (title, mosaic) in zip(axes.flat, mosaics.items(), strict=True):
        ax.imshow(mosaic, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title, fontsize=FONT)
    return finish(fig)


def _output_shapes(
    model, layers: Sequence[str]
) -> list[tuple[str, tuple[int, ...]]]:
    shapes = []
    for name in layers:
        shape = model.get_layer(name).output.shape
        shapes.append((name, tuple(int(d) for d in shape[1:])))
    return shapes


def cnn_layer_table(model) -> MarkdownTable:
    """One row per layer of ``model``: its name, type, output shape (the
    batch axis ``None``) and number of parameters."""
    rows = [
        [layer.name, type(layer).__name__, str(tuple(layer.output.shape)),
         layer.count_params()]
        for layer in model.layers
    ]  # fmt: skip
    return table(rows, ["layer", "type", "output shape", "parameters"])


def draw_feature_shapes(
    model, layers: Sequence[str] | None = None, *, title: str | None = None
):
    """How a CNN trades space for channels: the output of each of ``layers`` (default: the
    input, every ReLU and pooling layer, and the last layer), left to right.

    A map (H, W, C) is a rectangle H × W in proportion (the input's at most about an inch),
    labelled ``H×W`` and ``×C`` below it; a vector (C,) is a thin bar labelled ``C``. The
    layer's name is written above. The shapes are read from ``model``, so the picture is always
    the model's. Returns the ``Figure`` (one axis).
    """
    if layers is None:
        kinds = (
            "ReLU",
            "MaxPooling2D",
            "GlobalMaxPooling2D",
            "GlobalAveragePooling2D",
            "Flatten",
        )
        layers = [model.layers[0].name]
        layers += [
            layer.name
            for layer in model.layers[1:-1]
            if type(layer).__name__ in kinds
        ]
        layers.append(model.layers[-1].name)
    shapes = _output_shapes(model, layers)
    slot = PAGE_WIDTH_IN / len(shapes)
    side = min(1.1, 0.8 * slot)
    largest = max((max(s[:2]) for _, s in shapes if len(s) == 3), default=1)
    fig, axes = figure(height=side + 1.3)
    ax = axes[0, 0]
    edges = []
    for k, (name, shape) in enumerate(shapes):
        x = (k + 0.5) * slot
        if len(shape) == 3:
            w, h = (
                max(side * d / largest, 0.05) for d in (shape[1], shape[0])
            )
            label = f"{shape[0]}×{shape[1]}\n×{shape[2]}"
            colour = BOX_COLOURS["image"] if k == 0 else BOX_COLOURS["model"]
        else:
            w, h, label = 0.08, side, "×".join(str(d) for d in shape)
            colour = BOX_COLOURS["output"]
        ax.add_patch(
            Rectangle(
                (x - w / 2, -h / 2), w, h, facecolor=colour, edgecolor="0.25"
            )
        )
        ax.text(
            x, side / 2 + 0.1, name, ha="center", va="bottom", fontsize=SMALL
        )
        ax.text(
            x, -side / 2 - 0.1, label, ha="center", va="top", fontsize=SMALL
        )
        edges.append((x - w / 2, x + w / 2))
    for (_, right), (left, _) in itertools.pairwise(edges):
        ax.annotate("", xy=(left - 0.04, 0), xytext=(right + 0.04, 0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.5", "linewidth": 0.8,
                                "shrinkA": 0, "shrinkB": 0})  # fmt: skip
    ax.set_xlim(0, PAGE_WIDTH_IN)
    ax.set_ylim(-side / 2 - 0.55, side / 2 + 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=FONT)
    return finish(fig)
