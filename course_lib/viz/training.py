"""Training (chapter 6): a schematic run with its safety nets, and the loss curves of several
runs on one pair of axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.patches import Rectangle

from course_lib.viz.style import SMALL, figure, finish

#: The validation losses of the schematic run of :func:`draw_training_timeline` (invented).
TIMELINE_VAL_LOSS = (2.0, 1.4, 1.1, 0.95, 0.90, 0.93, 0.97, 1.01)


def draw_training_timeline(patience: int = 3, disconnect_at: int = 3):
    """A schematic training run (invented numbers): one box per epoch with its validation
    loss, a backup after every epoch, a disconnect during epoch ``disconnect_at`` and the
    resume from the backup, the best epoch (the checkpoint) and early stopping ``patience``
    epochs after it. Returns the ``Figure`` (one axis)."""
    val = TIMELINE_VAL_LOSS
    best = int(np.argmin(val)) + 1
    if not 1 <= patience <= len(val) - best or not 2 <= disconnect_at < best:
        raise ValueError(
            f"draw_training_timeline: patience must be 1..{len(val) - best} and disconnect_at "
            f"2..{best - 1}"
        )
    epochs = best + patience
    fig, axes = figure(height=3.0)
    ax = axes[0, 0]
    red, green, orange = "#c00000", "#38761d", "#b45f06"
    for e in range(1, epochs + 1):
        colour = "#cfe2f3" if e < disconnect_at else "#d9ead3"
        ax.add_patch(
            _epoch_box((e - 0.44, 0), 0.88, 0.55, colour, best=e == best)
        )
        ax.text(e, 0.27, f"epoch {e}\nval {val[e - 1]:.2f}", ha="center", va="center",
                fontsize=SMALL)  # fmt: skip
        ax.text(e + 0.44, 0.6, "▣", ha="center", fontsize=SMALL, color="0.35")
    ax.annotate(f"connection lost\nduring epoch {disconnect_at}", xy=(disconnect_at - 0.45, 0.55),
                xytext=(disconnect_at - 1.1, 1.2), ha="center", fontsize=SMALL, color=red,
                arrowprops={"arrowstyle": "->", "color": red})  # fmt: skip
    ax.annotate(f"train() again: resumes at\nepoch {disconnect_at} from backup/",
                xy=(disconnect_at, 0.55), xytext=(disconnect_at + 1.2, 1.2), ha="center",
                fontsize=SMALL, color=green,
                arrowprops={"arrowstyle": "->", "color": green})  # fmt: skip
    ax.text(best, -0.22, "★ best val_loss → best.keras", ha="center", fontsize=SMALL,
            color=orange)  # fmt: skip
    ax.plot([best + 0.5, epochs + 0.44], [-0.45, -0.45], color="0.3")
    ax.text((best + epochs) / 2 + 0.5, -0.7,
            f"no improvement for patience = {patience} epochs:\nstop, restore epoch {best}",
            ha="center", va="center", fontsize=SMALL)  # fmt: skip
    ax.text(0.55, 1.55, "▣ = backup after each epoch  ·  history.csv: one row per epoch",
            fontsize=SMALL, color="0.35")  # fmt: skip
    ax.set_xlim(0.45, epochs + 0.6)
    ax.set_ylim(-0.95, 1.75)
    ax.axis("off")
    ax.set_title("One training run with its safety nets (schematic)")
    return finish(fig)


def _epoch_box(xy, w: float, h: float, colour: str, *, best: bool = False):
    """An epoch's box for :func:`draw_training_timeline` (a thick orange edge for the best)."""
    edge, width = ("#b45f06", 2.0) if best else ("0.3", 1.0)
    return Rectangle(
        xy, w, h, facecolor=colour, edgecolor=edge, linewidth=width
    )


def plot_runs(
    runs: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str = "loss",
    *,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
):
    """The training and validation curves of several runs on one axis: one colour per run,
    training solid (●), validation dashed (■), each run's best validation epoch marked ★.

    ``runs``: label → history (``{"loss": [...], "val_loss": [...]}``, per epoch; the runs may
    have different lengths, e.g. after early stopping). ``ylim``: the range of the y axis
    (default: all of every curve). Returns the ``Figure`` (one axis).
    """
    if not runs:
        raise ValueError("plot_runs: no runs given")
    fig, axes = figure(height=3.4)
    ax = axes[0, 0]
    colours = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (label, history), colour in zip(
        runs.items(), colours * len(runs), strict=False
    ):
        for key, style, what in (
            (metric, "-o", "train"),
            (f"val_{metric}", "--s", "validation"),
        ):
            values = np.asarray(history.get(key, []), dtype=float)
            if values.size == 0:
                raise ValueError(f"plot_runs: run {label!r} has no {key!r}")
            epochs = np.arange(1, len(values) + 1)
            ax.plot(
                epochs,
                values,
                style,
                color=colour,
                markersize=3,
                label=f"{label}: {what}",
            )
        val = np.asarray(history[f"val_{metric}"], dtype=float)
        best = int(np.argmin(val))
        ax.plot(
            best + 1,
            val[best],
            "*",
            color=colour,
            markersize=13,
            markeredgecolor="black",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    return finish(fig)
