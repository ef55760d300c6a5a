"""A caption model laid open (chapter 3): every layer's output on a real batch, as a table and
as a graph, and what decoding costs with and without carrying the LSTM state.

The layer outputs come from a *probe*, a functional model that shares the model's layers and
returns every layer's output, which the chapter builds in plain sight::

    probe = keras.Model(model.input, {layer.name: layer.output for layer in model.layers})
    outputs = probe(batch, training=False)

:func:`layer_table` and :func:`draw_model_graph` take the model and those ``outputs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from course_lib.viz.diagrams import box, draw_arrow
from course_lib.viz.style import SMALL, figure, finish
from course_lib.viz.tables import MarkdownTable, table

#: What each layer of the course's caption models does (:mod:`course_lib.models`).
LAYER_NOTES = {
    "image": "one image vector per caption",
    "caption": "word ids of the prefix, right-padded with 0",
    "image_dropout": "drops half the features while training",
    "image_dense": "image projected to the LSTM's size",
    "image_time_axis": "a time axis of length 1, to broadcast over T",
    "embedding": "one vector per word; mask_zero marks padding",
    "caption_dropout": "dropout on the word vectors",
    "lstm": "one output per position (return_sequences=True)",
    "add": "image vector + LSTM output, at every position",
    "drop_mask": "same values; removes the padding mask",
    "decoder_dense": "mixes image and language",
    "output": "softmax: P(next word) at every position",
}


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in np.shape(value))


def _outputs_for(
    model, outputs: Mapping[str, Any]
) -> dict[str, tuple[int, ...]]:
    missing = [
        layer.name for layer in model.layers if layer.name not in outputs
    ]
    if missing:
        raise ValueError(
            f"no output given for the layers {missing}: probe every layer"
        )
    return {layer.name: _shape(outputs[layer.name]) for layer in model.layers}


def layer_table(
    model, outputs: Mapping[str, Any], notes: Mapping[str, str] | None = None
) -> MarkdownTable:
    """One row per layer of ``model``: name, type, symbolic output shape, the shape of its
    output in ``outputs`` (layer name → array, from a probe on a real batch), parameters and
    what it is (``notes``, default :data:`LAYER_NOTES`); a last row with the total."""
    notes = LAYER_NOTES if notes is None else notes
    shapes = _outputs_for(model, outputs)
    batch = next(iter(shapes.values()))[0] if shapes else 0
    rows = [
        [layer.name, type(layer).__name__, str(tuple(layer.output.shape)),
         str(shapes[layer.name]), f"{layer.count_params():,}", notes.get(layer.name, "")]
        for layer in model.layers
    ]  # fmt: skip
    rows.append(["**total**", "", "", "", f"**{model.count_params():,}**", ""])
    columns = ["layer", "type", "symbolic shape", f"shape, batch of {batch}", "params",
               "what it is"]  # fmt: skip
    return table(rows, columns)


def _tensor_refs(node: Any, slot: str = "") -> list[tuple[str, str]]:
    """``(layer name, slot)`` of every tensor in a layer call's serialised arguments."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [(node["config"]["keras_history"][0], slot)]
        return [
            ref
            for key, value in node.items()
            for ref in _tensor_refs(value, key or slot)
        ]
    if isinstance(node, (list, tuple)):
        return [ref for value in node for ref in _tensor_refs(value, slot)]
    return []


def model_edges(model) -> list[tuple[str, str, str]]:
    """The data flow between ``model``'s layers as ``(from, to, how)``: ``how`` is ``""`` for
    an ordinary input and the keyword otherwise (``"initial_state"``). Masks and the helper
    ops Keras inserts for them are left out."""
    names = {layer.name for layer in model.layers}
    edges = []
    for spec in model.get_config()["layers"]:
        if spec["name"] not in names:
            continue
        for node in spec.get("inbound_nodes", []):
            refs = _tensor_refs(node.get("args", []))
            kwargs = {
                k: v
                for k, v in node.get("kwargs", {}).items()
                if k not in ("mask", "training")
            }
            refs += _tensor_refs(kwargs)
            edges += [
                (src, spec["name"], how) for src, how in refs if src in names
            ]
    return edges


def _layout(model, edges) -> dict[str, tuple[int, int]]:
    """(column, row) of every layer: row = longest path from an input; column 0 for layers
    that depend on the first input only, 2 on the second only, 1 on both."""
    inputs = (
        list(model.input)
        if isinstance(model.input, dict)
        else [t.name for t in model.inputs]
    )
    parents: dict[str, list[str]] = {layer.name: [] for layer in model.layers}
    for src, dst, _ in edges:
        parents[dst].append(src)
    depth: dict[str, int] = {}
    sources: dict[str, set[str]] = {}

    def visit(name: str) -> None:
        if name in depth:
            return
        for p in parents[name]:
            visit(p)
        depth[name] = 1 + max((depth[p] for p in parents[name]), default=-1)
        sources[name] = set().union(*(sources[p] for p in parents[name])) or {
            name
        }

    for name in parents:
        visit(name)
    where = {}
    for name in parents:
        from_inputs = [k for k, i in enumerate(inputs) if i in sources[name]]
        column = (
            1 if len(from_inputs) != 1 else (0 if from_inputs[0] == 0 else 2)
        )
        where[name] = (column, depth[name])
    return where


def _link(ax, a, b, label: str | None) -> None:
    """An arrow from the bottom of box ``a`` to the top of box ``b`` (boxes as (x, y, w, h)),
    labelled 40 % of the way along."""
    (xa, ya, _, ha), (xb, yb, _, hb) = a, b
    start, end = (xa, ya - ha / 2), (xb, yb + hb / 2)
    draw_arrow(ax, start, end)
    if label:
        middle = (0.6 * start[0] + 0.4 * end[0], 0.6 * start[1] + 0.4 * end[1])
        ax.text(*middle, label, ha="center", va="center", fontsize=SMALL, color="#b5651d",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})  # fmt: skip


def draw_model_graph(
    model, outputs: Mapping[str, Any], *, title: str | None = None
):
    """``model``'s layers as boxes (name, type and output shape on the probed batch), arrows
    along the data flow: the first input's branch on the left, the second's on the right,
    what depends on both in the middle. An arrow into a keyword argument (the inject model's
    ``initial_state``) is labelled. Colours: image branch, word branch, shared layers, output.

    ``outputs``: layer name → array, from a probe on a real batch. Returns the ``Figure``.
    """
    shapes = _outputs_for(model, outputs)
    edges = model_edges(model)
    where = _layout(model, edges)
    n_rows = 1 + max(row for _, row in where.values())
    dx, dy = 2.3, 0.92
    fig, axes = figure(height=dy * n_rows + 0.6)
    ax = axes[0, 0]
    last = model.layers[-1].name
    boxes = {}
    for layer in model.layers:
        column, row = where[layer.name]
        kind = (
            ("image", "model", "text")[column]
            if layer.name != last
            else "output"
        )
        text = f"{layer.name}\n{type(layer).__name__} {shapes[layer.name]}"
        boxes[layer.name] = box(
            ax, column * dx, -row * dy, text, kind, w=2.0, h=0.5
        )
    for src, dst, how in edges:
        _link(ax, boxes[src], boxes[dst], how.replace("_", " ") or None)
    ax.set_xlim(-1.1, 2 * dx + 1.1)
    ax.set_ylim(-(n_rows - 1) * dy - 0.4, 0.4)
    ax.axis("off")
    batch = next(iter(shapes.values()))[0]
    ax.set_title(
        title
        or f"the {model.name} model on a batch of {batch} (batch, time, features)"
    )
    return finish(fig)


def plot_decoding_cost(max_tokens: int, *, longest: int | None = None):
    """LSTM steps needed to write a caption of L tokens: carrying the state (L), re-running
    the growing prefix (L(L+1)/2) and re-running the prefix padded to ``max_tokens`` as the
    seed tutorial does (L × max_tokens), for L = 1 … ``max_tokens``; ``longest`` marks a
    caption length with a dotted line. Returns the ``Figure`` (one axis)."""
    if max_tokens < 1:
        raise ValueError(
            f"plot_decoding_cost: max_tokens must be positive, got {max_tokens}"
        )
    lengths = np.arange(1, max_tokens + 1)
    fig, axes = figure(height=3.0)
    ax = axes[0, 0]
    curves = (
        (
            lengths * max_tokens,
            "-o",
            f"re-run the prefix padded to {max_tokens}: {max_tokens} L",
        ),
        (lengths * (lengths + 1) / 2, "--s", "re-run the prefix: L(L+1)/2"),
        (lengths, "-.^", "carry the state (step model): L"),
    )
    every = max(
        1, max_tokens // 8
    )  # line style and marker tell the curves apart, not colour only
    for values, style, label in curves:
        ax.plot(
            lengths, values, style, markersize=4, markevery=every, label=label
        )
    if longest is not None:
        ax.axvline(
            longest,
            color="0.5",
            ls=":",
            label=f"the longest caption here: L = {longest}",
        )
    ax.set_xlabel("caption length L (tokens, <end> included)")
    ax.set_ylabel("LSTM steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL)
    return finish(fig)
