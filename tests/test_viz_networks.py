"""Chapter 3's views of a caption model: every layer's output on a batch (table and graph,
read from the model itself) and the cost of decoding with and without the carried state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras
import numpy as np
import pytest
from readability import small_text

from course_lib import viz
from course_lib.models import build_inject_model, build_merge_model
from course_lib.viz.networks import LAYER_NOTES, layer_table, model_edges


def _probed(builder, batch: int = 4, steps: int = 22):
    model = builder(34, 256)
    probe = keras.Model(model.input, {layer.name: layer.output for layer in model.layers})
    inputs = {
        "image": np.zeros((batch, 256), "float32"),
        "caption": np.ones((batch, steps), "int32"),
    }
    return model, probe(inputs, training=False)


#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "draw_model_graph": lambda: viz.draw_model_graph(*_probed(build_inject_model)),
    "plot_decoding_cost": lambda: viz.plot_decoding_cost(22, longest=12),
}


def test_merge_graph_is_readable_too():
    assert small_text(viz.draw_model_graph(*_probed(build_merge_model))) == []


def test_edges_follow_the_data_and_name_the_initial_state():
    merge = build_merge_model(34, 256)
    edges = set(model_edges(merge))
    assert ("image_time_axis", "add", "") in edges and ("lstm", "add", "") in edges
    assert all("not_equal" not in edge for edge in edges)  # the mask's helper op is left out
    assert len(edges) == len(merge.layers) - 1  # a tree: every layer but the output feeds one
    inject = build_inject_model(34, 256)
    assert ("image_dense", "lstm", "initial_state") in set(model_edges(inject))


def test_graph_puts_branches_left_and_right_with_real_shapes():
    model, outputs = _probed(build_merge_model, batch=3, steps=7)
    fig = viz.draw_model_graph(model, outputs)
    ax = fig.axes[0]
    where = {t.get_text().split("\n")[0]: t.get_position() for t in ax.texts}
    assert where["image"][0] < where["add"][0] < where["caption"][0]
    assert where["image"][1] == where["caption"][1] > where["lstm"][1] > where["output"][1]
    texts = [t.get_text() for t in ax.texts]
    assert "lstm\nLSTM (3, 7, 256)" in texts and "output\nDense (3, 7, 34)" in texts
    assert ax.get_title() == "the merge model on a batch of 3 (batch, time, features)"


def test_inject_graph_labels_the_initial_state():
    fig = viz.draw_model_graph(*_probed(build_inject_model))
    assert "initial state" in [t.get_text() for t in fig.axes[0].texts]


def test_layer_table_rows_shapes_params_and_total():
    model, outputs = _probed(build_merge_model, batch=2, steps=5)
    t = layer_table(model, outputs)
    assert t.columns[3] == "shape, batch of 2"
    rows = {row[0]: row for row in t.rows}
    assert rows["lstm"][1:5] == ["LSTM", "(None, None, 256)", "(2, 5, 256)", "525,312"]
    assert rows["lstm"][5] == LAYER_NOTES["lstm"]
    assert t.rows[-1][4] == f"**{model.count_params():,}**"
    assert len(t.rows) == len(model.layers) + 1


def test_layer_table_and_graph_need_every_layer_probed():
    model, outputs = _probed(build_merge_model)
    partial = {k: v for k, v in outputs.items() if k != "add"}
    with pytest.raises(ValueError, match=r"\['add'\]"):
        layer_table(model, partial)
    with pytest.raises(ValueError, match="probe every layer"):
        viz.draw_model_graph(model, partial)


def test_decoding_cost_three_curves():
    fig = viz.plot_decoding_cost(10, longest=4)
    lines = fig.axes[0].get_lines()
    assert [list(line.get_ydata())[-1] for line in lines[:3]] == [100, 55, 10]
    assert lines[3].get_xdata()[0] == 4
    with pytest.raises(ValueError, match="positive"):
        viz.plot_decoding_cost(0)
