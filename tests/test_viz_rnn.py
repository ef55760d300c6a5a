"""Chapter 2's figures: sequence set-ups, Keras's LSTM weight layout, gates over time and how
far back a recurrent layer's output depends on its inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from readability import small_text

from course_lib import viz
from course_lib.viz.rnn import GATE_NAMES, RNN_PATTERNS

WORDS = ["<start>", "a", "small", "yellow", "square", "on", "a", "beige", "background"]


def _gates(steps: int, units: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(0 if k in "ifo" else -1, 1, (steps, units)) for k in GATE_NAMES}


#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "draw_rnn_patterns": lambda: viz.draw_rnn_patterns(),
    "draw_lstm_weights": lambda: viz.draw_lstm_weights(3, 4),
    "plot_lstm_gates": lambda: viz.plot_lstm_gates(
        _gates(len(WORDS), 24), xlabels=WORDS, title="first 24 units, after each word"
    ),
    "plot_step_dependence": lambda: viz.plot_step_dependence(
        {"SimpleRNN(32)": np.logspace(-6, 0, 40), "LSTM(32)": np.logspace(-4, -0.5, 40)},
        title="how much the output after 40 steps depends on each input step",
    ),
}


def test_the_gates_of_a_long_sequence_stay_readable():
    fig = viz.plot_lstm_gates(_gates(30, 8), title="8 units, 30 steps")
    assert small_text(fig) == []


def test_rnn_patterns_one_row_per_set_up_with_every_token():
    fig = viz.draw_rnn_patterns()
    assert [ax.get_title() for ax in fig.axes] == list(RNN_PATTERNS)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("RNN") == 4
    for token in ("image", "a", "red", "circle", "<end>"):
        assert token in texts
    many_to_one = [t.get_text() for t in fig.axes[1].texts]
    assert "positive" in many_to_one and "red" not in many_to_one


def test_rnn_patterns_reject_uneven_steps():
    with pytest.raises(ValueError, match="2 inputs, 1 outputs"):
        viz.draw_rnn_patterns({"x": (["a", "b"], ["c"])})


def test_lstm_weights_label_every_block_in_keras_gate_order():
    fig = viz.draw_lstm_weights(3, 4)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 12
    assert labels[:3] == ["$W_i$ (3 × 4)", "$U_i$ (4 × 4)", "$b_i$ (4,)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "i (input)", "f (forget)", "c (candidate)", "o (output)"
    ]  # fmt: skip
    assert ax.images[0].get_array().shape == (3 + 4 + 1, 4 * 4)
    with pytest.raises(ValueError, match="positive"):
        viz.draw_lstm_weights(0, 4)


def test_lstm_gates_rows_in_order_units_by_time_and_colour_ranges():
    gates = _gates(9, 5)
    gates["c"] = gates["c"] * 3  # a cell state beyond ±1 gets its own range
    fig = viz.plot_lstm_gates(gates, xlabels=WORDS)
    heat = [ax for ax in fig.axes if ax.images and ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in heat] == list(GATE_NAMES.values())
    assert heat[0].images[0].get_array().shape == (5, 9)  # units × time
    assert heat[0].images[0].get_clim() == (0.0, 1.0)
    low, high = heat[4].images[0].get_clim()
    assert high == pytest.approx(np.abs(gates["c"]).max()) and low == -high
    assert [t.get_text() for t in heat[-1].get_xticklabels()] == WORDS


def test_lstm_gates_subset_and_bad_input():
    fig = viz.plot_lstm_gates({"f": np.ones((4, 2)), "c": np.zeros((4, 2))})
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == [
        "forget gate f", "cell state c"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="keys must be among"):
        viz.plot_lstm_gates({"x": np.ones((4, 2))})
    with pytest.raises(ValueError, match="same T"):
        viz.plot_lstm_gates({"i": np.ones((4, 2)), "f": np.ones((5, 2))})
    with pytest.raises(ValueError, match="one x label per time step"):
        viz.plot_lstm_gates({"i": np.ones((4, 2))}, xlabels=["a"])


def test_step_dependence_one_log_curve_per_layer():
    fig = viz.plot_step_dependence({"a": [1e-3, 1e-2, 1.0], "b": [0.1, 0.5, 1.0]})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    with pytest.raises(ValueError, match="no curves"):
        viz.plot_step_dependence({})
