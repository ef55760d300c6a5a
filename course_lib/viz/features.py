"""The feature-extraction chapter's figures: where VGG16 is cut, what its preprocessing does to
the pixels, and a 2-D map (PCA) of the features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.patheffects as effects
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from course_lib.viz.style import BOX_COLOURS, SMALL, TITLE, figure, finish, plt

#: VGG16's stages as :func:`draw_vgg16` draws them: (label, Keras layer whose output the stage
#: ends with, output shape without the batch axis). The chapter checks these shapes against
#: ``keras.applications.VGG16``.
VGG16_STAGES = (
    ("input", "input_layer", (224, 224, 3)),
    ("block1", "block1_conv2", (224, 224, 64)),
    ("block2", "block2_conv2", (112, 112, 128)),
    ("block3", "block3_conv3", (56, 56, 256)),
    ("block4", "block4_conv3", (28, 28, 512)),
    ("block5", "block5_conv3", (14, 14, 512)),
    ("pool5 + flatten", "flatten", (25088,)),
    ("fc1", "fc1", (4096,)),
    ("fc2", "fc2", (4096,)),
    ("softmax", "predictions", (1000,)),
)

#: ImageNet channel means in BGR order (``keras.applications.vgg16.preprocess_input``).
_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(f"{n:,}" for n in shape)


def draw_vgg16(*, grid: bool = True, title: str | None = None):
    """VGG16 from top to bottom (:data:`VGG16_STAGES`): one bar per stage, as wide as its map's
    side, with its output shape, and the cut the course makes after ``fc2`` (the feature
    vector); with ``grid``, also the last convolutional map ``block5_conv3`` marked as the grid
    of region vectors that attention reads. Returns the ``Figure`` (one axis)."""
    fig, axes = figure(height=3.6)
    ax = axes[0, 0]
    for k, (label, layer, shape) in enumerate(VGG16_STAGES):
        side = shape[0] if len(shape) == 3 else 0
        width = 0.4 + 2.0 * side / 224 if side else 1.2
        kind = "model" if side else "text"
        if layer == "fc2":
            kind = "highlight"
        elif layer == "predictions":
            kind = "data"
        elif grid and layer == "block5_conv3":
            kind = "image"
        ax.add_patch(
            Rectangle((-width / 2, -k - 0.32), width, 0.64, facecolor=BOX_COLOURS[kind],
                      edgecolor="0.25", linewidth=1.0)
        )  # fmt: skip
        ax.text(
            1.4,
            -k,
            f"{label}: {_shape_text(shape)}",
            va="center",
            fontsize=SMALL,
        )
    notes = [(8, "← the feature vector: the course cuts here", "tab:red")]
    if grid:
        notes.append(
            (5, "← the grid of region vectors (attention)", "tab:orange")
        )
    for row, text, colour in notes:
        ax.text(4.3, -row, text, va="center", fontsize=SMALL, color=colour)
    ax.plot([-1.5, 7.8], [-8.5, -8.5], color="tab:red", ls="--", lw=1.2)
    for rows, text in (
        ((1, 5), "convolutions\n+ max pooling"),
        ((7, 8), "fully\nconnected"),
    ):
        ax.plot(
            [-1.55, -1.55], [-rows[0] + 0.3, -rows[1] - 0.3], color="0.4", lw=1
        )
        ax.text(
            -1.65,
            -(rows[0] + rows[1]) / 2,
            text,
            ha="right",
            va="center",
            fontsize=SMALL,
        )
    ax.set_xlim(-3.3, 8.2)
    ax.set_ylim(-len(VGG16_STAGES) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(
        title or "VGG16: we keep everything up to fc2", fontsize=TITLE
    )
    return finish(fig)


def plot_preprocessing(
    variants: Mapping[str, np.ndarray], *, title: str | None = None
):
    """What VGG16 "sees" (top row) and the values it receives (bottom row), one column per
    way of preparing the same image.

    ``variants``: short name → the array given to VGG16's first convolution, (H, W, 3) in the
    network's BGR-minus-mean convention (e.g. ``preprocess_input(rgb)``). The top row shows the
    array as VGG16 interprets it: the ImageNet means added back and the channels read as BGR.
    The bottom row shows the histogram of each channel on the same axis in every column.
    Returns the ``Figure`` (2 × ``len(variants)`` axes).
    """
    n = len(variants)
    if n == 0:
        raise ValueError("plot_preprocessing: no variants given")
    fig, axes = figure(
        2, n, height=4.2, gridspec_kw={"height_ratios": [1.2, 1]}
    )
    bins = np.linspace(-140, 260, 101)  # the same 4-unit bins in every panel
    names = ("B", "G", "R")
    colours = ("tab:blue", "tab:green", "tab:red")
    outlines = (
        "-",
        "--",
        ":",
    )  # the channels differ in line style too, not in colour only
    for col, (name, x) in enumerate(variants.items()):
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[-1] != 3:
            raise ValueError(
                f"plot_preprocessing: {name!r} has shape {x.shape}, not (H, W, 3)"
            )
        seen = (
            np.clip(x + _BGR_MEAN, 0, 255)[..., ::-1] / 255
        )  # as VGG16 reads it, as RGB
        top, bottom = axes[0, col], axes[1, col]
        top.imshow(seen)
        top.set_title(name, fontsize=SMALL)
        top.axis("off")
        for channel in range(3):
            values = x[..., channel].ravel()
            bottom.hist(values, bins=bins, color=colours[channel], alpha=0.35)
            bottom.hist(values, bins=bins, color=colours[channel], histtype="step",
                        linestyle=outlines[channel], linewidth=1.3,
                        label=f"{names[channel]} channel")  # fmt: skip
        bottom.set_yticks([])
        bottom.set_xticks([-100, 0, 100, 200])
        bottom.tick_params(labelsize=SMALL)
    axes[1, 0].set_ylabel("pixels", fontsize=SMALL)
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", ncol=3, fontsize=SMALL, frameon=False,
               bbox_to_anchor=(1.0, 0.0), handlelength=1.2, columnspacing=1.0)  # fmt: skip
    fig.text(0.03, 0.035, "value fed to the first convolution", fontsize=SMALL)
    fig.suptitle(title or "What VGG16 sees (top) and the values it receives (bottom)",
                 fontsize=TITLE)  # fmt: skip
    fig.subplots_adjust(
        left=0.05, right=0.99, top=0.88, bottom=0.17, hspace=0.18, wspace=0.1
    )
    return _close(fig)


def _close(fig):
    """Close ``fig`` in pyplot's registry (its layout is already done, with room for the
    figure legends), so that Jupyter shows it once."""
    plt().close(fig)
    return fig


_MARKERS = ("o", "s", "^", "D", "v", "P")


def _in_order(
    labels: Sequence[str], order: Mapping[str, Any] | None
) -> list[str]:
    """The distinct ``labels``: in the order of ``order``'s keys when given (the legend's
    order), else in order of appearance."""
    seen = list(dict.fromkeys(labels))
    if order is None:
        return seen
    return [k for k in order if k in set(seen)] + [
        k for k in seen if k not in order
    ]


def _colour(value: Any):
    """A matplotlib colour; RGB triples in 0–255 are scaled to 0–1."""
    if (
        isinstance(value, (tuple, list, np.ndarray))
        and len(value) == 3
        and max(value) > 1
    ):
        return tuple(float(v) / 255 for v in value)
    return value


def _styles(
    labels: Sequence[Any] | None,
    given: Mapping[Any, Any] | None,
    cycle: Sequence[Any],
    what: str,
) -> tuple[list[Any], Mapping[Any, Any]]:
    """The labels in order (``given``'s, else of appearance; ``[None]`` without labels) and
    each one's style: ``given``, else the ``cycle`` in that order; ValueError naming the labels
    ``given`` has no ``what`` for."""
    names = [None] if labels is None else _in_order(labels, given)
    if given is None:
        return names, {
            name: cycle[k % len(cycle)] for k, name in enumerate(names)
        }
    if missing := set(names) - set(given):
        raise ValueError(
            f"plot_pca: no {what} given for {sorted(missing, key=str)}"
        )
    return names, given


def plot_pca(
    coords: np.ndarray,
    explained: Sequence[float],
    colour_labels: Sequence[str],
    *,
    colours: Mapping[str, Any] | None = None,
    marker_labels: Sequence[str] | None = None,
    markers: Mapping[str, str] | None = None,
    colour_title: str | None = None,
    marker_title: str | None = None,
    title: str = "The features on their first two principal components",
    n_bars: int = 10,
):
    """A 2-D PCA map of feature vectors (left) and the share of the variance of the first
    ``n_bars`` components (right).

    ``coords``: (n, 2) coordinates on the first two components; ``explained``: the share of
    the variance of each component (largest first). Each point is coloured by its entry of
    ``colour_labels`` (``colours``: label → colour, RGB 0–255 triples allowed; default: the
    matplotlib cycle) and, with ``marker_labels``, drawn with one marker per label
    (``markers``: label → matplotlib marker; default: o, s, ^, … in order of appearance).
    The legends (one for colours, one for markers, in the order of ``colours`` and
    ``markers`` when given) sit under the map, and each colour's name is written at the median
    of its points (a line up or down where two names would overlap), so that the groups are
    not told apart by colour alone. Returns the ``Figure``.
    """
    coords = np.asarray(coords, dtype=float)
    n = len(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(
            f"plot_pca: coords must be (n, 2), got {coords.shape}"
        )
    if len(colour_labels) != n or (
        marker_labels is not None and len(marker_labels) != n
    ):
        raise ValueError(
            "plot_pca: one colour label (and marker label) per point is needed"
        )
    palette = [f"C{k}" for k in range(10)]
    colour_names, colours = _styles(colour_labels, colours, palette, "colour")
    marker_names, markers = _styles(marker_labels, markers, _MARKERS, "marker")
    colour_of = np.asarray(colour_labels, dtype=object)
    marker_of = np.asarray(
        marker_labels if marker_labels is not None else [None] * n, object
    )
    fig, axes = figure(
        1, 2, height=4.3, gridspec_kw={"width_ratios": [2.1, 1]}
    )
    ax, bars = axes[0]
    for cname in colour_names:
        for mname in marker_names:
            pick = (colour_of == cname) & (marker_of == mname)
            if pick.any():
                ax.scatter(coords[pick, 0], coords[pick, 1], s=14, marker=markers[mname],
                           alpha=0.65, color=_colour(colours[cname]), linewidths=0)  # fmt: skip
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title, fontsize=SMALL + 1)
    colour_handles = [
        Line2D([], [], marker="o", ls="", color=_colour(colours[c]), label=c)
        for c in colour_names
    ]
    fig.legend(handles=colour_handles, title=colour_title, loc="lower left",
                        bbox_to_anchor=(0.0, 0.0), ncol=min(4, len(colour_names)),
                        fontsize=SMALL, title_fontsize=SMALL, frameon=False)  # fmt: skip
    if marker_labels is not None:
        marker_handles = [
            Line2D([], [], marker=markers[m], ls="", color="0.3", label=m)
            for m in marker_names
        ]
        fig.legend(handles=marker_handles, title=marker_title, loc="lower right",
                   bbox_to_anchor=(1.0, 0.0), ncol=min(3, len(marker_names)),
                   fontsize=SMALL, title_fontsize=SMALL, frameon=False)  # fmt: skip
    k = min(n_bars, len(explained))
    bars.bar(np.arange(1, k + 1), np.asarray(explained[:k]), color="0.45")
    bars.set_xlabel("component")
    bars.set_ylabel("share of the variance")
    bars.set_xticks(np.arange(1, k + 1, 2 if k > 6 else 1))
    bars.set_title("Variance explained", fontsize=SMALL + 1)
    fig.tight_layout(
        rect=(0, 0.15 if colour_title or marker_title else 0.09, 1, 1)
    )
    centres = {
        c: np.median(coords[colour_of == c], axis=0) for c in colour_names
    }
    _name_groups(ax, centres)
    return _close(fig)


def _name_groups(ax, centres: Mapping[str, np.ndarray]) -> None:
    """Write each group's name at its centre, moved a line up or down where it
    would cover a name already written (call it once the layout is final)."""
    halo = [effects.withStroke(linewidth=3, foreground="white")]
    written: list[Any] = []
    for name, centre in centres.items():
        for step in (0, 1, -1, 2, -2):
            label = ax.annotate(str(name), centre, xytext=(0, step * (SMALL + 3)),
                                textcoords="offset points", ha="center",
                                va="center", fontsize=SMALL, fontweight="bold",
                                path_effects=halo)  # fmt: skip
            box = label.get_window_extent()
            if step == -2 or not any(box.overlaps(b) for b in written):
                break
            label.remove()
        written.append(box)
