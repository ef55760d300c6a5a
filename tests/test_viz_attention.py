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
