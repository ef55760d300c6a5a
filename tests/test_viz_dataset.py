"""Chapter 0's tables: the data folder, a dataset's facts, a scene and its checks."""

from __future__ import annotations

import pytest

from course_lib import viz

#: Tables, not figures (tests/test_viz.py collects only figures).
FIGURES: dict = {}

SCENE = {
    "objects": [
        {"size": "small", "colour": "red", "shape": "circle"},
        {"size": "large", "colour": "blue", "shape": "square"},
    ],
    "relations": [{"subject": 0, "relation": "left of", "object": 1}],
}


def test_data_folder_table_counts_files_and_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "x.bin").write_bytes(b"0" * 2_000_000)
    (tmp_path / "runs" / "y.json").write_text("{}")
    (tmp_path / "features").mkdir()
    (tmp_path / "README.md").write_text("not a folder")
    shown = viz.data_folder_table(tmp_path)
    assert shown.rows == [
        ["<data>/features/", 0, "0.0 MB"],
        ["<data>/runs/", 2, "2.0 MB"],
    ]
    assert str(tmp_path) not in shown.data


def test_data_folder_table_names_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        viz.data_folder_table(tmp_path / "nowhere")


def test_dataset_table_reads_the_info():
    info = {
        "n_images": 10,
        "n_captions": 50,
        "splits": {"train": 6, "test": 2},
        "vocab_size": 30,
        "row_length": 9,
        "images_present": True,
        "skipped": ["bad line"],
    }
    rows = dict(map(tuple, viz.dataset_table(info, "synthetic").rows))
    assert rows["train / dev / test images"] == "6 / 0 / 2"
    assert rows["entries skipped while parsing"] == 1
    assert rows["captions"] == 50


def test_scene_tables():
    assert viz.scene_objects_table(SCENE).rows[1] == [1, "large", "blue", "square"]
    assert viz.scene_relations_table(SCENE).rows == [[0, "left of", 1]]
    alone = {"objects": SCENE["objects"][:1]}
    assert viz.scene_relations_table(alone).rows == [["–", "none", "–"]]


def test_scene_check_table_marks_each_check():
    details = {
        "a.jpg": {
            "shapes_correct": True,
            "colours_correct": False,
            "sizes_correct": None,
            "relation_correct": True,
        }
    }
    assert viz.scene_check_table(details, ["a.jpg"]).rows == [["a.jpg", "✓", "✗", "–", "✓"]]
    said_none = {**details["a.jpg"], "colours_correct": True, "colours_judged": 0}
    said_none |= {"sizes_correct": True, "sizes_judged": 0}
    rows = viz.scene_check_table({"c.jpg": said_none}, ["c.jpg"]).rows
    assert rows == [["c.jpg", "✓", "–", "–", "✓"]]  # no colour or size word said
    with pytest.raises(ValueError, match=r"b\.jpg"):
        viz.scene_check_table(details, ["b.jpg"])
