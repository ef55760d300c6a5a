"""The command line: `data` and `info` on the synthetic set and on the real Flickr8k text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from course_lib.__main__ import main


def _info_json(capsys, *args: str) -> dict:
    assert main(["info", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.real_data
def test_info_on_a_folder_with_only_the_real_text_files(tmp_path, capsys, flickr8k_text_dir):
    for path in flickr8k_text_dir.glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    info = _info_json(capsys, "--dataset", "flickr8k", "--data-dir", str(tmp_path))
    assert info["splits"] == {"train": 6000, "dev": 1000, "test": 1000}
    assert info["images_present"] is False
    # Every named image has 5 captions, except the one whose first caption is filed
    # under the bogus name "….jpg.1", which is skipped with its reason.
    assert info["captions_per_image"] == {"5": 8091, "4": 1}
    assert [s["entry"].split("#")[0] for s in info["skipped"]] == ["2258277193_586949ec62.jpg.1"]
    assert "no image" in info["skipped"][0]["reason"]
    # The numbers documented in data/README.md for the course's cleaning.
    assert (info["vocab_words"], info["vocab_size"], info["max_length"]) == (7587, 7591, 37)


def test_info_text_output_says_the_images_are_missing(tmp_path, capsys, flickr8k_text_dir):
    for path in flickr8k_text_dir.glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    assert main(["info", "--dataset", "flickr8k", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MISSING" in out and "python -m course_lib data --dataset flickr8k" in out


def test_data_then_info_on_a_small_synthetic_set(tmp_path, capsys):
    assert (
        main(["data", "--dataset", "synthetic", "--data-dir", str(tmp_path), "--n-images", "40"])
        == 0
    )
    capsys.readouterr()
    info = _info_json(capsys, "--dataset", "synthetic", "--data-dir", str(tmp_path))
    assert info["n_images"] == 40 and info["n_captions"] == 200
    assert sum(info["splits"].values()) == 40
    assert info["images_present"] is True and info["skipped"] == []


def test_info_on_an_empty_folder_fails_with_a_message_naming_the_file(tmp_path, capsys):
    assert main(["info", "--dataset", "flickr8k", "--data-dir", str(tmp_path)]) == 1
    assert "Flickr8k.token.txt" in capsys.readouterr().err


def test_module_entry_point_prints_help():
    out = subprocess.run(
        [sys.executable, "-m", "course_lib", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("data", "info", "features", "train", "evaluate", "caption", "run"):
        assert command in out
