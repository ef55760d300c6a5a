"""The attention figure: one panel per word, readable at page width."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from readability import small_text

from course_lib import viz

WORDS = ["a", "large", "red", "circle", "above", "a", "blue", "square", "<end>"]


def weights(n: int = 9, cells: int = 64) -> np.ndarray:
    w = np.random.default_rng(0).random((n, cells))
    return w / w.sum(axis=1, keepdims=True)


FIGURES = {
    "plot_attention": lambda: viz.plot_attention(
        np.zeros((64, 64, 3), np.uint8), WORDS, weights(), (8, 8),
        boxes=[None, (8, 8, 30, 30), (8, 8, 30, 30), (8, 8, 30, 30), None, None,
               (34, 34, 60, 60), (34, 34, 60, 60), (34, 34, 60, 60), None],
        title="where the model looked",
    ),
    "plot_word_attention": lambda: viz.plot_word_attention(
        [np.zeros((80, 80, 3), np.uint8)] * 5, weights(5), (8, 8),
        titles=["syn_00001 'circle': 0.12 on the box (chance 0.05)"] * 5,
        boxes=[(8, 8, 30, 30), None, (0, 0, 10, 10), None, (40, 40, 79, 79)],
        title="where attention missed",
    ),
    "plot_attention_correctness": lambda: viz.plot_attention_correctness(
        np.linspace(0, 1, 30), np.linspace(0.01, 0.2, 30), ["shape", "colour", "size"] * 10,
        title="attention on the named object",
    ),
    "draw_attention_diagram": lambda: viz.draw_attention_diagram(),
}  # fmt: skip


def test_one_panel_per_word_with_its_word_and_the_box():
    fig = FIGURES["plot_attention"]()
    assert len(fig.axes) == len(WORDS)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == WORDS
    assert len(fig.axes[1].patches) == 1 and not fig.axes[0].patches
    assert small_text(fig) == []


def test_the_map_is_stretched_over_the_image():
    fig = viz.plot_attention(np.zeros((40, 80, 3), np.uint8), ["a"], weights(1, 4), (2, 2))
    heat = fig.axes[0].images[1]
    assert heat.get_array().shape == (2, 2)
    assert heat.get_extent() == [-0.5, 79.5, 39.5, -0.5]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="cells"):
        viz.plot_attention(np.zeros((8, 8, 3)), ["a"], weights(1, 10), (3, 3))
    with pytest.raises(ValueError, match="no words"):
        viz.plot_attention(np.zeros((8, 8, 3)), [], weights(1, 9), (3, 3))


def test_the_word_gallery_has_one_panel_per_word_each_on_its_own_scale():
    w = weights(3)
    w[1] *= 10  # another scale: the panel's brightest cell is still its largest weight
    fig = viz.plot_word_attention(
        [np.zeros((40, 40, 3), np.uint8)] * 3, w, (8, 8), titles=["a", "b", "c"],
        boxes=[None, (0, 0, 10, 10), None],
    )  # fmt: skip
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert [len(ax.patches) for ax in fig.axes] == [0, 1, 0]
    for ax, row in zip(fig.axes, w, strict=True):
        assert ax.images[1].get_clim() == pytest.approx((0.0, row.max()))
    with pytest.raises(ValueError, match="weights of shape"):
        viz.plot_word_attention([np.zeros((8, 8, 3))], weights(2), (8, 8), titles=["a"])


def test_the_correctness_plot_marks_each_kind_and_draws_chance():
    fig = viz.plot_attention_correctness(
        [0.5, 0.1, 0.9], [0.1, 0.1, 0.2], ["shape", "size", "shape"]
    )
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "shape words (2)",
        "size words (1)",
        "chance (even attention)",
        "twice chance",
    ]
    (x, y) = ax.lines[0].get_data()
    assert list(x) == list(y)  # chance is the diagonal
    (x2, y2) = ax.lines[1].get_data()
    assert list(y2) == [2 * v for v in x2]  # twice chance
    assert max(x2) == pytest.approx(ax.get_xlim()[1])  # across the axis
    with pytest.raises(ValueError, match="unknown kinds"):
        viz.plot_attention_correctness([0.5], [0.1], ["verb"])
