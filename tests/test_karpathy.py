"""Karpathy's split format (Flickr8k, Flickr30k, COCO): read into the course's CaptionDataset,
every unusable entry counted with its reason, the same splits as Flickr8k's own files, and
datasets prepared from mirrors the user names (a server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from http_fixtures import FaultyServer
from PIL import Image

from course_lib.__main__ import main
from course_lib.data import load_dataset, prepare_dataset
from course_lib.data.dataset import R_EMPTY, R_UNSAFE, SPLIT_FILES, TOKEN_FILE
from course_lib.data.download import DataError
from course_lib.data.karpathy import (
    R_K_BAD_SPLIT,
    R_K_DUPLICATE,
    R_K_NO_SENTENCES,
    R_K_NOT_OBJECT,
    R_K_RESTVAL,
    load_karpathy,
)
from course_lib.data.synthetic import generate_synthetic


def sentence(text: str) -> dict:
    return {"raw": text, "tokens": text.lower().split()}


def coco_entry(name: str, split: str, folder: str = "val2014", n: int = 5) -> dict:
    return {
        "filename": name,
        "filepath": folder,
        "split": split,
        "sentences": [sentence(f"A cat number {k} on a mat.") for k in range(n)],
    }


def coco_fixture(root) -> dict:
    """A small dataset_coco.json with every kind of bad entry, and two of its images."""
    images = [
        coco_entry("COCO_val2014_000000000001.jpg", "val"),
        coco_entry("COCO_val2014_000000000002.jpg", "test"),
        coco_entry("COCO_val2014_000000000003.jpg", "restval"),
        coco_entry("COCO_train2014_000000000004.jpg", "train", folder="train2014"),
        coco_entry("COCO_train2014_000000000005.jpg", "train", folder="train2014"),
        coco_entry("COCO_train2014_000000000005.jpg", "train", folder="train2014"),  # duplicate
        {"filepath": "val2014", "split": "val", "sentences": []},  # no filename
        "not an object",
        coco_entry("COCO_val2014_000000000006.jpg", "holdout"),  # unknown split
        coco_entry("../../etc/passwd.jpg", "train"),  # unsafe
        {**coco_entry("COCO_val2014_000000000007.jpg", "val"),
         "sentences": [{"raw": "", "tokens": []}, {"tokens": ["a", "dog"]}]},
        {**coco_entry("COCO_val2014_000000000008.jpg", "val"), "sentences": [{"raw": " "}]},
    ]  # fmt: skip
    (root / "dataset_coco.json").write_text(json.dumps({"dataset": "coco", "images": images}))
    for folder, name in (
        ("val2014", "COCO_val2014_000000000001.jpg"),
        ("train2014", "COCO_train2014_000000000004.jpg"),
    ):
        (root / folder).mkdir(exist_ok=True)
        Image.new("RGB", (8, 8), (200, 30, 30)).save(root / folder / name)
    return {"images": images}


def test_a_coco_split_file_is_read_with_every_skipped_entry_and_its_reason(tmp_path):
    coco_fixture(tmp_path)
    dataset = load_dataset(tmp_path)
    assert dataset.name == "coco"
    assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 3, "dev": 2, "test": 1}
    assert "val2014/COCO_val2014_000000000003.jpg" in dataset.splits["train"]  # restval
    assert dataset.captions["val2014/COCO_val2014_000000000007.jpg"] == ["a dog"]
    reasons = sorted(s.reason for s in dataset.skipped)
    assert reasons == sorted(
        [R_K_DUPLICATE, R_K_NOT_OBJECT, R_K_NOT_OBJECT, R_K_BAD_SPLIT, R_UNSAFE, R_EMPTY,
         R_EMPTY, R_K_NO_SENTENCES]
    )  # fmt: skip
    assert all(s.file == "dataset_coco.json" for s in dataset.skipped)
    assert dataset.image_path("val2014/COCO_val2014_000000000001.jpg").is_file()
    assert sorted(dataset.missing_images()) == [
        "train2014/COCO_train2014_000000000005.jpg",
        "val2014/COCO_val2014_000000000002.jpg",
        "val2014/COCO_val2014_000000000003.jpg",
        "val2014/COCO_val2014_000000000007.jpg",
    ]


def test_restval_can_be_left_out(tmp_path):
    coco_fixture(tmp_path)
    dataset = load_karpathy(tmp_path, restval="skip")
    assert len(dataset.splits["train"]) == 2
    assert R_K_RESTVAL in {s.reason for s in dataset.skipped}
    with pytest.raises(ValueError, match="restval"):
        load_karpathy(tmp_path, restval="dev")


def test_info_on_a_coco_folder_reports_splits_and_skipped_entries(tmp_path, capsys):
    (tmp_path / "coco").mkdir()
    coco_fixture(tmp_path / "coco")
    assert main(["info", "--dataset", "coco", "--data-dir", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"] == {"train": 3, "dev": 2, "test": 1}
    assert info["skipped_by_reason"][R_K_DUPLICATE] == 1
    assert {s["reason"] for s in info["skipped"]} >= {R_UNSAFE, R_K_BAD_SPLIT}
    assert info["n_missing_images"] == 4


def test_a_malformed_split_file_is_refused_naming_it(tmp_path):
    (tmp_path / "dataset_flickr30k.json").write_text('{"images": ')
    with pytest.raises(DataError, match=r"dataset_flickr30k\.json"):
        load_dataset(tmp_path)
    (tmp_path / "dataset_flickr30k.json").write_text('{"sentences": []}')
    with pytest.raises(DataError, match="list 'images'"):
        load_dataset(tmp_path)


def to_karpathy_json(dataset) -> dict:
    """The Karpathy file of a dataset in Flickr8k's layout, as Karpathy made Flickr8k's."""
    names = {"train": "train", "dev": "val", "test": "test"}
    split_of = {i: names[s] for s, ids in dataset.splits.items() for i in ids}
    return {
        "dataset": "flickr8k",
        "images": [
            {"filename": i, "split": split_of[i], "sentences": [sentence(c) for c in caps]}
            for i, caps in dataset.captions.items()
            if i in split_of
        ],
    }


def test_flickr8k_gives_the_same_splits_from_karpathys_file_and_its_own_files(tmp_path):
    flickr = tmp_path / "flickr8k"
    generate_synthetic(flickr, n_images=24, seed=3, image_size=32, progress=False)
    own = load_dataset(flickr, name="flickr8k")
    karpathy = tmp_path / "karpathy"
    karpathy.mkdir()
    (karpathy / "dataset_flickr8k.json").write_text(json.dumps(to_karpathy_json(own)))
    theirs = load_dataset(karpathy)
    assert theirs.name == "flickr8k"
    assert {k: sorted(v) for k, v in theirs.splits.items()} == {
        k: sorted(v) for k, v in own.splits.items()
    }
    assert theirs.captions == own.captions and not theirs.skipped
    assert theirs.image_path("syn_00000.jpg").parent.name == "Flicker8k_Dataset"


@pytest.mark.real_data
def test_the_real_flickr8k_files_split_6000_1000_1000(flickr8k_text_dir):
    own = load_dataset(flickr8k_text_dir, name="flickr8k")
    assert {k: len(v) for k, v in own.splits.items()} == {"train": 6000, "dev": 1000, "test": 1000}
    assert (flickr8k_text_dir / TOKEN_FILE).is_file() and all(
        (flickr8k_text_dir / f).is_file() for f in SPLIT_FILES.values()
    )


def test_a_missing_dataset_says_what_to_put_where(tmp_path):
    with pytest.raises(DataError) as err:
        prepare_dataset("coco", tmp_path, progress=False)
    message = str(err.value)
    assert "dataset_coco.json" in message and "train2014" in message and "val2014" in message
    assert "--url" in message


def test_a_dataset_is_prepared_from_mirrors_and_checked(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    coco_fixture(source)
    split = (source / "dataset_coco.json").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((source / "val2014").iterdir()):
            archive.write(path, f"val2014/{path.name}")
    images = buffer.getvalue()
    with FaultyServer({"dataset_coco.json": split, "val2014.zip": images}) as server:
        urls = {"split": server.url("dataset_coco.json"), "images": server.url("val2014.zip")}
        digest = {"split": hashlib.sha256(split).hexdigest()}
        dataset = prepare_dataset(
            "coco", tmp_path / "data", urls=urls, sha256=digest, progress=False
        )
        assert dataset.image_path("val2014/COCO_val2014_000000000001.jpg").is_file()
        bad = {"split": "0" * 64}
        with pytest.raises(DataError, match=r"SHA-256|sha256|checksum"):
            prepare_dataset("coco", tmp_path / "other", urls=urls, sha256=bad, progress=False)


def test_the_synthetic_set_in_karpathys_layout_is_the_same_dataset(tmp_path):
    flickr = generate_synthetic(tmp_path / "a", n_images=16, seed=1, image_size=32, progress=False)
    karpathy = generate_synthetic(
        tmp_path / "b", n_images=16, seed=1, image_size=32, progress=False, layout="karpathy"
    )
    a, b = load_dataset(flickr, name="synthetic"), load_dataset(karpathy, name="synthetic")
    assert (karpathy / "dataset_synthetic.json").is_file() and not (karpathy / TOKEN_FILE).exists()
    assert a.captions == b.captions and a.scenes == b.scenes
    assert {k: sorted(v) for k, v in a.splits.items()} == {
        k: sorted(v) for k, v in b.splits.items()
    }
    assert not b.missing_images() and b.image_path("syn_00000.jpg").parent.name == "images"
    again = generate_synthetic(
        tmp_path / "b", n_images=16, seed=1, image_size=32, progress=False, layout="karpathy"
    )
    assert again == karpathy  # complete: nothing rewritten


@pytest.mark.slow
def test_run_works_on_a_synthetic_set_in_karpathys_layout(tmp_path, capsys):
    base = ["--data-dir", str(tmp_path)]
    assert main(["data", "--dataset", "synthetic", *base, "--n-images", "40", "--layout",
                 "karpathy"]) == 0  # fmt: skip
    assert main(["run", "--profile", "mini", *base, "--epochs", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n_images"] == 5 and 0 <= result["bleu4"] <= 1
    assert (tmp_path / "synthetic" / "dataset_synthetic.json").is_file()
