"""The command line: `data` and `info` on the synthetic set and on the real Flickr8k text."""

from __future__ import annotations

import json
import os
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
    assert (info["vocab_words"], info["vocab_size"], info["row_length"]) == (7587, 7591, 37)


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


@pytest.mark.slow
def test_the_command_line_hides_tensorflows_startup_lines_but_not_its_errors(tmp_path):
    # `caption` without --profile imports TensorFlow and asks it for GPUs (which logs
    # `E0000 … failed call to cuInit` on a machine without CUDA), then fails: no trained model.
    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "COURSE_PROFILE")
    }
    result = subprocess.run(
        [sys.executable, "-m", "course_lib", "caption", "photo.jpg", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1
    for noise in ("absl::InitializeLog", "oneDNN", "cudart_stub", "cuInit", "node_def_util"):
        assert noise not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "no finished training run" in lines[0]


def test_features_shard_and_join_reach_the_pipeline(tmp_path, capsys, monkeypatch):
    from course_lib import pipeline

    calls = []

    class Store:
        item_shape = (196, 512)

        def __len__(self):
            return 3

    def part(profile, data_dir, *, part, dataset_name, spatial):
        calls.append(("part", part, spatial))
        return tmp_path / f"store.part-{part[0]}-of-{part[1]}"

    def join(profile, data_dir, *, parts, dataset_name, spatial):
        calls.append(("join", parts, spatial))
        return Store()

    monkeypatch.setattr(pipeline, "prepare_feature_part", part)
    monkeypatch.setattr(pipeline, "join_prepared_parts", join)
    assert main(["features", "--profile", "mini", "--grids", "--shard", "1/2"]) == 0
    assert main(["features", "--profile", "mini", "--grids", "--join", "2"]) == 0
    assert calls == [("part", (1, 2), True), ("join", 2, True)]
    out = capsys.readouterr().out
    assert "part 1/2 written to" in out and "3 images × 196 × 512" in out
    for wrong in (["--shard", "2/2"], ["--shard", "a/b"], ["--shard", "0/2", "--join", "2"]):
        with pytest.raises(SystemExit):
            main(["features", "--profile", "mini", *wrong])
    assert "I must be in 0..N-1" in capsys.readouterr().err
