"""The CNN chapter's figures: filter sets side by side, and a CNN's map shapes layer by layer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib import viz


def _small_cnn():
    from course_lib import scene_cnn

    return scene_cnn.build_scene_cnn(64)


def _kernels(n: int = 24, size: int = 5, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(size, size, channels, n))


#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "plot_filter_sets": lambda: viz.plot_filter_sets(
        {"conv0, random initialisation": _kernels(), "conv0, after pretraining": _kernels(seed=1)}
    ),
    "draw_feature_shapes": lambda: viz.draw_feature_shapes(_small_cnn()),
}


def test_filter_sets_one_panel_per_set_with_every_filter_tiled():
    kernels = {"before": _kernels(24), "after": _kernels(24, seed=1)}
    fig = viz.plot_filter_sets(kernels, ncols=12)
    assert [ax.get_title() for ax in fig.axes] == ["before", "after"]
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (2 * 6 - 1, 12 * 6 - 1, 3)  # 2 rows of 12 filters, 1-pixel gaps
    assert mosaic.min() >= 0 and mosaic.max() <= 1
    # each RGB filter is rescaled to 0-1 on its own: its darkest weight is 0, its brightest 1
    first = mosaic[:5, :5]
    assert first.min() == pytest.approx(0) and first.max() == pytest.approx(1)
    assert np.all(mosaic[5, :] == 1)  # the white gap between the rows


def test_filter_sets_single_channel_and_fewer_filters():
    fig = viz.plot_filter_sets({"conv1": _kernels(48, size=3, channels=24)}, n=20, ncols=10)
    assert fig.axes[0].images[0].get_array().shape == (2 * 4 - 1, 10 * 4 - 1, 3)


def test_filter_sets_rejects_bad_shapes():
    with pytest.raises(ValueError, match="no kernels"):
        viz.plot_filter_sets({})
    with pytest.raises(ValueError, match="kh, kw, in, filters"):
        viz.plot_filter_sets({"x": np.ones((3, 3, 4))})


def test_feature_shapes_read_from_the_model():
    cnn = _small_cnn()
    fig = viz.draw_feature_shapes(cnn, ["image", "relu0", "pool0", "features"])
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text()]  # not the arrows
    assert texts == ["image", "64×64\n×3", "relu0", "32×32\n×24", "pool0", "16×16\n×24",
                     "features", "256"]  # fmt: skip
    # a map's square shrinks with its side; the vector is a bar
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths[0] == pytest.approx(2 * widths[1]) == pytest.approx(4 * widths[2])


def test_feature_shapes_default_layers_follow_the_model():
    cnn = _small_cnn()
    fig = viz.draw_feature_shapes(cnn)
    names = [t.get_text() for t in fig.axes[0].texts if t.get_text()][0::2]
    assert names[0] == "image" and names[-1] == "features"
    assert "global_max" in names


def test_cnn_layer_table_reads_the_model():
    cnn = _small_cnn()
    rows = viz.cnn_layer_table(cnn).rows
    assert [r[0] for r in rows] == [layer.name for layer in cnn.layers]
    assert rows[2][1:] == ["Conv2D", "(None, 32, 32, 24)", cnn.get_layer("conv0").count_params()]
