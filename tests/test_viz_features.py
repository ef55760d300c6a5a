"""The feature-extraction chapter's figures: VGG16's cut, preprocessing panels, a PCA map."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from readability import small_text

from course_lib import viz
from course_lib.viz.features import VGG16_STAGES
from course_lib.viz.style import PAGE_WIDTH_IN


def _variants() -> dict[str, np.ndarray]:
    rgb = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    mean = np.array([103.939, 116.779, 123.68], dtype=np.float32)
    return {
        "correct": rgb[..., ::-1] - mean,
        "scaled to 0–1 first": rgb[..., ::-1] / 255 - mean,
        "already BGR": rgb - mean,
        "no preprocessing": rgb,
    }


def _pca_points(n: int = 300):
    rng = np.random.default_rng(0)
    colours = ["red", "green", "blue", "yellow"]
    shapes = ["circle", "square", "triangle"]
    labels = [colours[k % 4] for k in range(n)]
    coords = rng.normal(size=(n, 2)) + np.array([[k % 4, 0] for k in range(n)])
    explained = np.sort(rng.random(12))[::-1] / 6
    return coords, explained, labels, [shapes[k % 3] for k in range(n)]


def _pca_scenes():
    from course_lib.data.synthetic import COLOURS

    coords, explained, labels, shapes = _pca_points()
    return viz.plot_pca(
        coords, explained, labels, colours=COLOURS, marker_labels=shapes,
        markers={"circle": "o", "square": "s", "triangle": "^"},
        colour_title="first object's colour", marker_title="its shape",
        title="Features coloured by the scene's first object",
    )  # fmt: skip


def _pca_photos():
    coords, explained, _, _ = _pca_points()
    labels = ['a caption says "dog"' if k % 5 == 0 else "other" for k in range(len(coords))]
    return viz.plot_pca(coords, explained, labels,
                        colours={"other": "0.6", 'a caption says "dog"': "tab:orange"})  # fmt: skip


#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "draw_vgg16": lambda: viz.draw_vgg16(),
    "plot_preprocessing": lambda: viz.plot_preprocessing(_variants()),
    "plot_pca": _pca_scenes,
}

MORE = {
    "draw_vgg16 without the grid": lambda: viz.draw_vgg16(grid=False),
    "plot_pca with one legend": _pca_photos,
}


@pytest.mark.parametrize("name", sorted(MORE))  # FIGURES: in test_viz.py, with every module's
def test_more_figures_fit_the_page_with_text_of_at_least_9_pt(name):
    fig = MORE[name]()
    assert fig.get_figwidth() <= PAGE_WIDTH_IN + 1e-9
    assert small_text(fig) == []


def test_figures_are_closed_so_notebooks_show_them_once():
    before = plt.get_fignums()
    for make in {**FIGURES, **MORE}.values():
        make()
    assert plt.get_fignums() == before


def test_draw_vgg16_labels_every_stage_and_the_cuts():
    fig = viz.draw_vgg16()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for label, _, _ in VGG16_STAGES:
        assert label in texts
    assert "25,088" in texts and "14×14" in texts and "cut" in texts
    assert "attention" in texts
    assert "attention" not in " ".join(t.get_text() for t in viz.draw_vgg16(grid=False).texts)
    assert len(fig.axes[0].patches) == len(VGG16_STAGES)


def test_vgg16_stages_are_the_keras_shapes():
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()  # layer names as in a fresh kernel: "input_layer", not "_6"
    vgg = keras.applications.VGG16(weights=None)
    for _, layer, shape in VGG16_STAGES:
        assert tuple(vgg.get_layer(layer).output.shape[1:]) == shape, layer


def test_plot_preprocessing_shows_what_vgg16_sees():
    variants = _variants()
    fig = viz.plot_preprocessing(variants)
    assert len(fig.axes) == 8
    assert [ax.get_title() for ax in fig.axes[:4]] == list(variants)
    # the "correct" input, read back as VGG16 does, is the original RGB image
    rgb = variants["no preprocessing"]
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, rgb / 255, atol=1e-5)
    with pytest.raises(ValueError, match="not \\(H, W, 3\\)"):
        viz.plot_preprocessing({"grey": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="no variants"):
        viz.plot_preprocessing({})


def test_plot_pca_one_group_per_colour_and_marker_and_two_legends():
    coords, explained, labels, shapes = _pca_points(120)
    fig = viz.plot_pca(coords, explained, labels, marker_labels=shapes)
    scatter, bars = fig.axes
    assert len(scatter.collections) == 12  # 4 colours × 3 markers
    assert sum(len(c.get_offsets()) for c in scatter.collections) == 120
    assert len(bars.patches) == 10
    assert len(fig.legends) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["red", "green", "blue", "yellow"]
    with pytest.raises(ValueError, match="no colour given for \\['yellow'\\]"):
        viz.plot_pca(coords, explained, labels, colours={"red": "r", "green": "g", "blue": "b"})
    with pytest.raises(ValueError, match="one colour label"):
        viz.plot_pca(coords, explained, labels[:-1])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        viz.plot_pca(np.zeros((3, 3)), explained, ["a"] * 3)


def test_plot_pca_names_of_groups_with_the_same_centre_do_not_overlap():
    coords = np.zeros((40, 2))
    coords[::2] += 1e-3  # two groups, all but on the same spot
    labels = ["blue", "green"] * 20
    fig = viz.plot_pca(coords, [0.6, 0.4], labels)
    names = [t for t in fig.axes[0].texts if t.get_text() in ("blue", "green")]
    assert len(names) == 2
    first, second = (t.get_window_extent() for t in names)
    assert not first.overlaps(second)


def test_plot_pca_legends_follow_the_given_order_and_markers():
    coords, explained, labels, shapes = _pca_points(60)
    order = {"yellow": "y", "blue": "b", "red": "r", "green": "g"}
    markers = {"triangle": "^", "circle": "o", "square": "s"}
    fig = viz.plot_pca(coords, explained, labels, colours=order, marker_labels=shapes,
                       markers=markers)  # fmt: skip
    colour_legend, marker_legend = fig.legends
    assert [t.get_text() for t in colour_legend.get_texts()] == list(order)
    assert [t.get_text() for t in marker_legend.get_texts()] == list(markers)
    assert [h.get_marker() for h in marker_legend.legend_handles] == list(markers.values())
    scatter = fig.axes[0]
    # the first group drawn is yellow triangles, with the triangle marker
    assert len(scatter.collections[0].get_offsets()) == sum(
        1 for c, s in zip(labels, shapes, strict=True) if c == "yellow" and s == "triangle"
    )
