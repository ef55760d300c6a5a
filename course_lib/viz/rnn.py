"""Recurrent networks (chapter 2): sequence set-ups, Keras's LSTM weights, gates over time,
and how far back an output depends on its inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import ListedColormap

from course_lib.viz.style import BOX_COLOURS, FONT, SMALL, figure, finish

#: The three set-ups of :func:`draw_rnn_patterns`: title → (inputs, outputs), one per step
#: (``None``: nothing goes in or comes out at that step).
RNN_PATTERNS: dict[str, tuple[list[str | None], list[str | None]]] = {
    "one-to-many (captioning)": (
        ["image", None, None, None],
        ["a", "red", "circle", "<end>"],
    ),
    "many-to-one (sentiment)": (
        ["what", "a", "great", "film"],
        [None, None, None, "positive"],
    ),
    "many-to-many (language model)": (
        ["<start>", "a", "red", "circle"],
        ["a", "red", "circle", "<end>"],
    ),
}

#: Row names of :func:`plot_lstm_gates`, in the order they are drawn.
GATE_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "c": "cell state c",
    "h": "output h",
}

_STATE = "#b5651d"  # colour of the arrows that carry the state


def _token(ax, x: float, y: float, text: str, colour: str) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=SMALL,
            bbox={"boxstyle": "round,pad=0.25", "fc": colour, "ec": "none"})  # fmt: skip


def _up(ax, x: float, y0: float, y1: float, colour: str = "0.25") -> None:
    ax.annotate("", xy=(x, y1), xytext=(x, y0),
                arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.1})  # fmt: skip


def draw_rnn_patterns(
    patterns: Mapping[str, tuple[Sequence, Sequence]] | None = None,
):
    """One-to-many, many-to-one and many-to-many, one row each: the same RNN cell at every
    step (boxes), its state carried to the right (brown arrows), inputs below, outputs above.

    ``patterns``: title → (inputs, outputs), one entry per step, ``None`` where nothing goes in
    or comes out (default :data:`RNN_PATTERNS`). Returns the ``Figure`` (one axis per row).
    """
    patterns = dict(patterns or RNN_PATTERNS)
    fig, axes = figure(len(patterns), 1, height=1.9 * len(patterns) + 0.3)
    for ax, (title, (ins, outs)) in zip(
        axes[:, 0], patterns.items(), strict=True
    ):
        if len(ins) != len(outs):
            raise ValueError(
                f"draw_rnn_patterns: {title!r} has {len(ins)} inputs, {len(outs)} outputs"
            )
        for t, (x, y) in enumerate(zip(ins, outs, strict=True)):
            _token(ax, t, 1.1, "RNN", BOX_COLOURS["model"])
            if t:
                state = {"arrowstyle": "-|>", "color": _STATE, "lw": 1.8}
                ax.annotate(
                    "",
                    xy=(t - 0.22, 1.1),
                    xytext=(t - 0.78, 1.1),
                    arrowprops=state,
                )
            if x is not None:
                kind = "image" if x == "image" else "text"
                _token(ax, t, 0.0, x, BOX_COLOURS[kind])
                _up(ax, t, 0.2, 0.88)
            if y is not None:
                _token(ax, t, 2.2, y, BOX_COLOURS["output"])
                _up(ax, t, 1.32, 2.0)
        ax.set_xlim(-0.6, len(ins) - 0.4)
        ax.set_ylim(-0.3, 2.5)
        ax.set_title(title, fontsize=FONT)
        ax.axis("off")
    fig.text(0.5, 0.01, "the same RNN cell at every step; the brown arrows carry its state",
             ha="center", va="bottom", fontsize=SMALL, color=_STATE)  # fmt: skip
    fig = finish(fig)
    fig.subplots_adjust(bottom=0.08)
    return fig


def draw_lstm_weights(input_dim: int, units: int):
    """Keras's LSTM weights as one picture: the kernel ``W`` (input_dim, 4u), the recurrent
    kernel ``U`` (u, 4u) and the bias ``b`` (4u,), each cut into the four gates' blocks in
    Keras's order i, f, c, o. Every block is labelled (``W_i``, ``U_f``, ``b_o`` …).

    Returns the ``Figure`` (one axis).
    """
    if input_dim < 1 or units < 1:
        raise ValueError(
            f"draw_lstm_weights: sizes must be positive, got {input_dim}, {units}"
        )
    rows = input_dim + units + 1
    layout = np.concatenate(
        [np.full((rows, units), k) for k in range(4)], axis=1
    )
    colours = ["#8ecae6", "#f4a261", "#95d5b2", "#e9c8f0"]
    fig, axes = figure(height=0.9 + 0.24 * rows)
    ax = axes[0, 0]
    ax.imshow(
        layout, cmap=ListedColormap(colours), aspect="auto", vmin=0, vmax=3
    )
    blocks = (
        ("W", 0, input_dim, f" ({input_dim} × {units})"),
        ("U", input_dim, input_dim + units, f" ({units} × {units})"),
        ("b", rows - 1, rows, f" ({units},)"),
    )
    for k, gate in enumerate("ifco"):
        for name, top, bottom, shape in blocks:
            ax.text(k * units + (units - 1) / 2, (top + bottom - 1) / 2, f"${name}_{gate}$" + shape,
                    ha="center", va="center", fontsize=FONT)  # fmt: skip
        if k:
            ax.axvline(k * units - 0.5, color="white", lw=2)
    for edge in (input_dim, input_dim + units):
        ax.axhline(edge - 0.5, color="k", lw=1.2)
    ax.set_yticks([(input_dim - 1) / 2, input_dim + (units - 1) / 2, rows - 1])
    ax.set_yticklabels([f"kernel W\n({input_dim}, 4u)", f"recurrent\nkernel U\n({units}, 4u)",
                        "bias b (4u,)"])  # fmt: skip
    ax.set_xticks([k * units + (units - 1) / 2 for k in range(4)])
    ax.set_xticklabels(
        ["i (input)", "f (forget)", "c (candidate)", "o (output)"]
    )
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_xlabel(f"columns: four gates of u = {units} units, side by side")
    return finish(fig)


def plot_lstm_gates(
    gates: Mapping[str, np.ndarray],
    *,
    xlabels: Sequence[str] | None = None,
    title: str | None = None,
):
    """Heat maps (units × time) of an LSTM's gates, candidate, cell state and output for one
    sequence, one row each, time running left to right.

    ``gates``: any of ``"i" "f" "g" "o" "c" "h"`` (:data:`GATE_NAMES`) → array (T, u).
    Gates are drawn on 0…1 (viridis); the candidate and the output on −1…1 and the cell state
    on ±max(1, |c|) (red positive, blue negative). ``xlabels``: one label per step (e.g. the
    words). Returns the ``Figure`` (one axis per row, plus the colour bars).
    """
    keys = [k for k in GATE_NAMES if k in gates]
    unknown = set(gates) - set(GATE_NAMES)
    if unknown or not keys:
        raise ValueError(
            f"plot_lstm_gates: keys must be among {list(GATE_NAMES)}, got {sorted(gates)}"
        )
    arrays = {k: np.asarray(gates[k], dtype=float) for k in keys}
    steps = {a.shape[0] for a in arrays.values()}
    if len(steps) != 1 or any(a.ndim != 2 for a in arrays.values()):
        raise ValueError(
            "plot_lstm_gates: every array must be (T, u) with the same T"
        )
    fig, axes = figure(
        len(keys), 1, height=0.95 * len(keys) + 0.9, sharex=True
    )
    for ax, key in zip(axes[:, 0], keys, strict=True):
        values = arrays[key].T  # (u, T)
        if key in "ifo":
            kw = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
        else:
            lim = max(1.0, float(np.abs(values).max())) if key == "c" else 1.0
            kw = {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}
        image = ax.imshow(values, aspect="auto", interpolation="nearest", **kw)
        ax.set_ylabel(GATE_NAMES[key], rotation=0, ha="right", va="center")
        ax.set_yticks([])
        bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
        bar.ax.tick_params(labelsize=SMALL)
    bottom = axes[-1, 0]
    if xlabels is not None:
        if len(xlabels) != steps.pop():
            raise ValueError("plot_lstm_gates: one x label per time step")
        bottom.set_xticks(range(len(xlabels)))
        bottom.set_xticklabels(xlabels, rotation=45, ha="right")
    bottom.set_xlabel("time step")
    if title:
        axes[0, 0].set_title(title)
    return finish(fig)


def plot_step_dependence(
    norms: Mapping[str, Sequence[float]], *, title: str | None = None
):
    """How much a recurrent layer's last output depends on each input step: one curve per
    layer of the gradient norm ‖∂h_T/∂x_t‖ against t (log scale).

    ``norms``: layer name → T values (step 1 first). Returns the ``Figure`` (one axis).
    """
    if not norms:
        raise ValueError("plot_step_dependence: no curves given")
    fig, axes = figure(height=3.0)
    ax = axes[0, 0]
    for (name, curve), marker in zip(norms.items(), "os^v", strict=False):
        values = np.asarray(curve, dtype=float)
        ax.semilogy(np.arange(1, len(values) + 1), values, marker=marker, markersize=3.5,
                    label=name)  # fmt: skip
    ax.set_xlabel("input step t")
    ax.set_ylabel(r"$\|\partial h_T / \partial x_t\|$")
    ax.grid(alpha=0.3, which="major")
    ax.legend()
    if title:
        ax.set_title(title)
    return finish(fig)
