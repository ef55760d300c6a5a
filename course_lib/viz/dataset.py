"""A dataset at a glance (chapter 0): the data folder, a dataset's facts, one
scene's objects and relations, and which parts of a caption its scene confirms.

Tables only (:func:`course_lib.viz.tables.table`); the numbers come from the
library (``pipeline.dataset_info``, ``scene_checks.scene_accuracy``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from course_lib import config
from course_lib.viz.tables import MarkdownTable, table

#: The checks of :func:`course_lib.scene_checks.scene_accuracy` that
#: :func:`scene_check_table` shows: (column, key of a caption's details, key
#: of how many words the check judged, or None where it always judges some).
SCENE_CHECK_COLUMNS = (
    ("objects", "shapes_correct", None),
    ("colours", "colours_correct", "colours_judged"),
    ("sizes", "sizes_correct", "sizes_judged"),
    ("relation", "relation_correct", None),
)

#: How :func:`scene_check_table` marks a check: right, wrong, nothing to judge.
MARKS = {True: "✓", False: "✗", None: "–"}


def data_folder_table(folder: str | os.PathLike) -> MarkdownTable:
    """One row per subfolder of ``folder``: its name (as a page prints it,
    :func:`course_lib.config.shown_path`), how many files it holds and their
    size in MB."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"data folder {folder} does not exist")
    rows = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = [f for f in sub.rglob("*") if f.is_file()]
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        name = config.shown_path(sub, folder) + "/"
        rows.append([name, len(files), f"{size_mb:.1f} MB"])
    return table(rows, ["folder", "files", "size"])


def dataset_table(info: Mapping[str, Any], name: str) -> MarkdownTable:
    """The facts of ``pipeline.dataset_info(name)``, one row each."""
    splits = " / ".join(
        str(info["splits"].get(s, 0)) for s in ("train", "dev", "test")
    )
    rows = [
        ["images with captions", info["n_images"]],
        ["captions", info["n_captions"]],
        ["train / dev / test images", splits],
        [
            "vocabulary (training captions, 4 special tokens)",
            info["vocab_size"],
        ],
        [
            "longest training caption (tokens, <start>/<end>)",
            info["row_length"],
        ],
        ["all images present", info["images_present"]],
        ["entries skipped while parsing", len(info["skipped"])],
    ]
    return table(rows, ["", name])


def scene_objects_table(scene: Mapping[str, Any]) -> MarkdownTable:
    """The objects of a synthetic scene: number, size, colour, shape."""
    rows = [
        [k, o.get("size", ""), o["colour"], o["shape"]]
        for k, o in enumerate(scene["objects"])
    ]
    return table(rows, ["object", "size", "colour", "shape"])


def scene_relations_table(scene: Mapping[str, Any]) -> MarkdownTable:
    """The relations of a synthetic scene, between numbered objects (a row
    saying "none" when it states none)."""
    rows = [
        [r["subject"], r["relation"], r["object"]]
        for r in scene.get("relations", [])
    ]
    return table(
        rows or [["–", "none", "–"]], ["object", "relation", "object"]
    )


def scene_check_table(
    details: Mapping[str, Mapping[str, Any]], ids: Sequence[str]
) -> MarkdownTable:
    """Each caption's scene checks (``scene_accuracy(...)["details"]``) for
    the images ``ids``: ✓ right, ✗ wrong, – nothing to judge (no relation,
    or no colour or size word said about the objects named)."""
    missing = [i for i in ids if i not in details]
    if missing:
        raise ValueError(f"no scene check for images {missing}")
    rows = [
        [
            i,
            *(
                _mark(details[i], *column[1:])
                for column in SCENE_CHECK_COLUMNS
            ),
        ]
        for i in ids
    ]
    return table(rows, ["image", *(c[0] for c in SCENE_CHECK_COLUMNS)])


def _mark(detail: Mapping[str, Any], key: str, judged: str | None) -> str:
    """One check's mark; "–" where it judged no word (``judged`` is 0)."""
    if judged is not None and detail.get(judged) == 0:
        return MARKS[None]
    return MARKS[detail[key]]
