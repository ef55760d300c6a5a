"""Smoke tests of the book's figures and tables (Agg backend): real properties, not pixels."""

from __future__ import annotations

import importlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from readability import small_text

from course_lib import viz
from course_lib.viz.style import BOX_COLOURS, PAGE_WIDTH_IN


def _images(n: int, size: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def test_figures_are_closed_so_notebooks_show_them_once():
    before = plt.get_fignums()
    viz.show_captioned_images(_images(2), ["a red circle", "a blue square"])
    viz.draw_pipeline()
    assert plt.get_fignums() == before


def test_captioned_images_one_axis_per_image_with_caption_in_title():
    captions = ["a red circle above a blue square", ["a", "green", "triangle"], "a yellow circle"]
    fig = viz.show_captioned_images(
        _images(3), captions, titles=["img 0", "img 1", "img 2"], ncols=2
    )
    assert len(fig.axes) == 3  # the empty fourth grid cell is removed
    titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    assert "a red circle above a blue square" in titles[0]
    assert titles[1].startswith("img 1") and "a green triangle" in titles[1]


def test_captioned_images_references_and_paths(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(_images(1)[0]).save(path)
    fig = viz.show_captioned_images(
        [path, _images(1)[0] / 255.0], ["hyp one", "hyp two"], references=["ref one", "ref two"]
    )
    assert [ax.get_xlabel() for ax in fig.axes] == ["ref: ref one", "ref: ref two"]
    assert fig.axes[0].images[0].get_array().shape == (16, 16, 3)


def test_captioned_images_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 images but 1 captions"):
        viz.show_captioned_images(_images(2), ["only one"])


def test_plot_history_one_panel_per_metric_with_train_and_validation():
    history = {
        "loss": [3.0, 2.0, 1.5],
        "val_loss": [3.1, 2.5, 2.7],
        "accuracy": [0.1, 0.3, 0.4],
        "val_accuracy": [0.1, 0.2, 0.25],
    }
    fig = viz.plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].get_lines()) == 3  # train, validation, best-epoch marker
    assert fig.axes[0].get_lines()[2].get_xdata()[0] == 2  # the best validation epoch


def test_plot_history_accepts_a_keras_history_like_object():
    class History:
        def __init__(self):
            self.history = {"loss": [1.0, 0.5]}

    assert len(viz.plot_history(History()).axes) == 1


def test_plot_arrays_writes_every_number():
    fig = viz.plot_arrays([np.arange(6).reshape(2, 3), np.eye(2)], ["x", "k"])
    assert [ax.get_title() for ax in fig.axes] == ["x", "k"]
    assert [t.get_text() for t in fig.axes[0].texts] == ["0", "1", "2", "3", "4", "5"]


def test_plot_feature_maps_with_input_image():
    maps = np.random.default_rng(0).random((1, 8, 8, 32))
    fig = viz.plot_feature_maps(maps, image=_images(1)[0], n=7, title="conv0")
    assert len(fig.axes) == 8
    assert fig.axes[0].get_title() == "input" and fig.axes[7].get_title() == "ch 6"
    assert fig._suptitle.get_text() == "conv0"


def test_draw_pipeline_has_every_stage_and_highlights():
    fig = viz.draw_pipeline(highlight="cnn")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for word in ("CNN backbone", "merge model", "BLEU", "token ids", "decoder"):
        assert word in texts
    colours = {matplotlib.colors.to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert BOX_COLOURS["highlight"] in colours
    with pytest.raises(ValueError, match="unknown stages"):
        viz.draw_pipeline(highlight="nope")


def test_draw_merge_diagram_two_panels():
    fig = viz.draw_merge_diagram()
    assert [ax.get_label() for ax in fig.axes] == ["inject", "merge"]
    assert any("LSTM(256)" in t.get_text() for t in fig.axes[1].texts)


def test_draw_lstm_cell_has_every_box_and_arrow():
    fig = viz.draw_lstm_cell()
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {text for _, _, text, _, _ in viz.diagrams.LSTM_CELL_BOXES.values()} <= texts
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) == len(viz.diagrams.LSTM_CELL_ARROWS)
    assert ax.get_title() == "One step of the LSTM cell"


def test_table_markdown_rows_and_escaping():
    t = viz.table(
        [["greedy", 0.51234, ["a", "red", "circle"]], ["beam|3", 0.6, "x"]],
        ["decoder", "BLEU-1", "caption"],
    )
    lines = t.data.splitlines()
    assert lines[0] == "| decoder | BLEU-1 | caption |"
    assert lines[1] == "|---|---|---|"
    assert lines[2] == "| greedy | 0.512 | a red circle |"
    assert lines[3] == "| beam\\|3 | 0.600 | x |"
    assert t._repr_markdown_() == t.data
    assert t._repr_html_().count("<tr>") == 3


def test_a_table_has_no_empty_header_cell():
    html = viz.table([["epochs", 3]], ["", "mini"])._repr_html_()
    assert "<thead><tr><td></td><th>mini</th></tr></thead>" in html
    assert "<th></th>" not in html


def test_table_from_dicts_and_bad_rows():
    from IPython.display import Markdown

    t = viz.table([{"a": 1, "b": 2}, {"a": 3, "b": 4}])
    assert isinstance(t, Markdown)
    assert t.data.splitlines()[-1] == "| 3 | 4 |"
    with pytest.raises(ValueError, match="row 0 has 1 values but there are 2 columns"):
        viz.table([[1]], ["a", "b"])


#: One call of every figure function in ``course_lib.viz``, with typical book arguments.
FIGURES = {
    "show_captioned_images": lambda: viz.show_captioned_images(
        _images(6), ["a large red circle to the left of a small blue square"] * 6,
        titles=[f"syn_{k:05d}.jpg" for k in range(6)], references=["a red circle"] * 6,
    ),
    "plot_history": lambda: viz.plot_history(
        {"loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.5, 2.7],
         "masked_accuracy": [0.1, 0.3, 0.4], "val_masked_accuracy": [0.1, 0.2, 0.25]}
    ),
    "plot_arrays": lambda: viz.plot_arrays(
        [np.arange(64).reshape(8, 8), np.ones((3, 3)), np.arange(36).reshape(6, 6)],
        ["input", "kernel", "output"],
    ),
    "plot_feature_maps": lambda: viz.plot_feature_maps(
        np.ones((16, 16, 32)), image=_images(1)[0], title="relu1"
    ),
    "draw_pipeline": lambda: viz.draw_pipeline(highlight="cnn"),
    "draw_merge_diagram": lambda: viz.draw_merge_diagram(),
    "draw_lstm_cell": lambda: viz.draw_lstm_cell(),
}  # fmt: skip


def all_figure_examples() -> dict:
    """``FIGURES`` of this module and of every other ``tests/test_viz_*.py`` (one per viz
    module added for a chapter)."""
    examples = dict(FIGURES)
    for path in sorted(Path(__file__).parent.glob("test_viz_*.py")):
        module = importlib.import_module(path.stem)
        examples.update(module.FIGURES)
    return examples


def test_every_figure_function_has_a_readability_example():
    figure_functions = {  # tables (``table``, ``*_table``), formatters: no figures
        name
        for name in viz.__all__
        if not name.endswith(("table", "Table")) and name != "byte_size"
    }
    assert figure_functions == set(all_figure_examples())


#: every figure function's example, from this module and the tests/test_viz_*.py modules
ALL_FIGURES = all_figure_examples()


@pytest.mark.parametrize("name", sorted(ALL_FIGURES))
def test_figures_fit_the_page_with_text_of_at_least_9_pt(name):
    fig = ALL_FIGURES[name]()
    assert fig.get_figwidth() <= PAGE_WIDTH_IN + 1e-9
    assert small_text(fig) == []


def test_the_readability_check_can_fail():
    fig = viz.show_captioned_images(_images(2), ["a red circle", "a blue square"])
    fig.axes[0].set_title("tiny", fontsize=6)
    assert small_text(fig) == [("tiny", 8.3)]
    fig.set_figwidth(14)  # wider than the page: everything shrinks
    assert "a blue square" in dict(small_text(fig))


def test_profile_table_has_a_row_per_setting_and_a_column_per_profile():
    from course_lib import config

    profiles = list(config.PROFILES.values())
    t = viz.profile_table(profiles)
    assert t.columns == ["", *(p.name for p in profiles)]
    rows = {row[0]: row[1:] for row in t.rows}
    assert rows["image size (px)"] == [p.image_size for p in profiles]
    assert rows["backbone weights"] == [p.weights for p in profiles]
    assert len(t.rows) == len(viz.tables.PROFILE_SETTINGS)
