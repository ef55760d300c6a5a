"""The Flickr8k parser: the real text files (when available) and synthetic quirk fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_lib.data.dataset import (
    IMAGE_DIR_NAME,
    SPLIT_FILES,
    TOKEN_FILE,
    CaptionDataset,
    load_flickr8k_layout,
)
from course_lib.data.download import DataError
from course_lib.data.flickr8k import TEXT_SHA256, verify_text_files

REAL_TEXT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "flickr8k_text"
ODD_NAME = "2258277193_586949ec62.jpg.1"


@pytest.fixture(scope="module")
def real() -> CaptionDataset:
    if not (REAL_TEXT_DIR / TOKEN_FILE).is_file():
        pytest.skip(
            f"real Flickr8k text files not found in {REAL_TEXT_DIR} (../shared beside "
            "the repository); these tests only run where they are available"
        )
    return load_flickr8k_layout(REAL_TEXT_DIR, name="flickr8k")


# -------------------------------------------------------------------------------- real files


@pytest.mark.real_data
def test_real_text_files_match_their_checksums(real):
    assert verify_text_files(REAL_TEXT_DIR) == dict.fromkeys(TEXT_SHA256, True)


@pytest.mark.real_data
def test_real_token_file_names_and_captions(real):
    lines = (REAL_TEXT_DIR / TOKEN_FILE).read_text(encoding="utf-8").splitlines()
    names = {line.split("\t")[0].rpartition("#")[0] for line in lines}
    assert len(lines) == 40_460
    # 8,092 .jpg names plus the odd "<name>.jpg.1"
    assert len(names) == 8_093 and ODD_NAME in names
    summary = real.summary()
    assert summary["n_images"] == 8_092 and summary["n_captions"] == 40_459
    assert summary["captions_per_image"] == {"4": 1, "5": 8_091}
    # The odd name holds #0 of 2258277193_586949ec62.jpg, which therefore has 4 captions; that
    # photo is not in the image zip (8,091 usable images, 40,455 captions on real photos).
    assert len(real.captions[ODD_NAME.removesuffix(".1")]) == 4
    usable = [i for i, caps in real.captions.items() if len(caps) == 5]
    assert len(usable) == 8_091 and sum(len(real.captions[i]) for i in usable) == 40_455


@pytest.mark.real_data
def test_real_odd_jpg1_entry_is_skipped_and_counted(real):
    assert ODD_NAME not in real.captions
    (entry,) = real.skipped
    assert entry.file == TOKEN_FILE and entry.line == 6731 and entry.entry.startswith(ODD_NAME)
    assert entry.reason == "no image: name is not a .jpg file"
    assert real.summary()["skipped_by_reason"] == {"no image: name is not a .jpg file": 1}


@pytest.mark.real_data
def test_real_splits_are_disjoint_6000_1000_1000(real):
    sizes = {split: len(ids) for split, ids in real.splits.items()}
    assert sizes == {"train": 6000, "dev": 1000, "test": 1000}
    train, dev, test = (set(real.splits[s]) for s in ("train", "dev", "test"))
    assert len(train | dev | test) == 8000
    assert all(len(ids) == len(set(ids)) for ids in real.splits.values())
    assert all(len(caps) == 5 for caps in real.split_captions("train").values())
    in_no_split = set(real.captions) - train - dev - test
    # 91 photos are in no split, plus the captioned name that has no photo
    assert len(in_no_split) == 92 and "2258277193_586949ec62.jpg" in in_no_split


@pytest.mark.real_data
def test_real_text_only_dataset_loads_without_images(real):
    summary = real.summary()
    assert not real.images_present() and summary["images_present"] is False
    json.dumps(summary)


# -------------------------------------------------------------------------------- quirks


def write_dataset(root: Path, token: bytes, splits: dict[str, bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / TOKEN_FILE).write_bytes(token)
    for split, data in (splits or {}).items():
        (root / SPLIT_FILES[split]).write_bytes(data)
    return root


def five(name: str, eol: str = "\n") -> str:
    return "".join(f"{name}#{k}\tcaption {k} of {name}{eol}" for k in range(5))


def test_crlf_bom_blank_lines_and_no_final_newline(tmp_path):
    token = "\ufeff" + five("a.jpg", "\r\n") + "\r\n\r\n" + five("b.jpg", "\r\n").rstrip("\r\n")
    root = write_dataset(
        tmp_path / "ds", token.encode(), {"train": b"\xef\xbb\xbfa.jpg\r\n\r\nb.jpg"}
    )
    ds = load_flickr8k_layout(root)
    assert list(ds.captions) == ["a.jpg", "b.jpg"]
    assert ds.captions["a.jpg"][0] == "caption 0 of a.jpg"  # no BOM, no \r
    assert ds.captions["b.jpg"][4] == "caption 4 of b.jpg"
    assert ds.splits["train"] == ["a.jpg", "b.jpg"]
    assert ds.skipped == [] and ds.name == "ds"


def test_bad_lines_are_skipped_with_line_number_and_reason(tmp_path):
    lines = [
        "a.jpg#0\tfirst",  # 1
        "a.jpg#1 no tab here",  # 2
        "a.jpg#x\tbad number",  # 3
        "a.jpg\tno number",  # 4
        "a.jpg#0\tduplicate of line 1",  # 5
        "a.jpg#2\t   ",  # 6: empty caption
        "a.jpg.1#3\tnot an image name",  # 7
        "../a.jpg#3\tunsafe",  # 8
        "a.jpg#3\tLa crème brûlée — ça va ?",  # 9: non-ASCII kept
    ]
    root = write_dataset(tmp_path / "ds", ("\n".join(lines) + "\n").encode())
    ds = load_flickr8k_layout(root, name="quirks")
    assert ds.captions == {"a.jpg": ["first", "La crème brûlée — ça va ?"]}
    got = [(e.file, e.line, e.reason) for e in ds.skipped]
    assert got == [
        (TOKEN_FILE, 2, "no tab between image name and caption"),
        (TOKEN_FILE, 3, "bad caption number (expected <image id>#<k>)"),
        (TOKEN_FILE, 4, "bad caption number (expected <image id>#<k>)"),
        (TOKEN_FILE, 5, "duplicate caption number for this image"),
        (TOKEN_FILE, 6, "empty caption"),
        (TOKEN_FILE, 7, "no image: name is not a .jpg file"),
        (TOKEN_FILE, 8, "unsafe image name (path separators or '..')"),
    ]
    summary = ds.summary()
    assert summary["skipped_by_reason"]["bad caption number (expected <image id>#<k>)"] == 2
    assert summary["captions_per_image"] == {"2": 1}
    json.dumps(summary)


def test_invalid_utf8_line_is_skipped_not_fatal(tmp_path):
    token = five("a.jpg").encode() + b"b.jpg#0\tcaf\xe9\n"
    ds = load_flickr8k_layout(write_dataset(tmp_path / "ds", token))
    assert list(ds.captions) == ["a.jpg"]
    assert [(e.line, e.reason) for e in ds.skipped] == [(6, "not valid UTF-8")]


def test_split_entries_not_in_token_file_are_skipped(tmp_path):
    token = (five("a.jpg") + five("b.jpg") + "c.jpg.1#0\todd\n").encode()
    splits = {
        "train": b"a.jpg\nzzz.jpg\na.jpg\n",
        "dev": b"b.jpg\nc.jpg.1\n",
        "test": b"a.jpg\n",
    }
    ds = load_flickr8k_layout(write_dataset(tmp_path / "ds", token, splits))
    assert ds.splits == {"train": ["a.jpg"], "dev": ["b.jpg"], "test": []}
    reasons = {(e.file, e.entry): e.reason for e in ds.skipped if e.file != TOKEN_FILE}
    assert reasons == {
        (SPLIT_FILES["train"], "zzz.jpg"): "not in the token file",
        (SPLIT_FILES["train"], "a.jpg"): "listed twice in this split",
        (SPLIT_FILES["dev"], "c.jpg.1"): "its captions were all skipped",
        (SPLIT_FILES["test"], "a.jpg"): "already in another split (train)",
    }


def test_missing_split_file_gives_empty_split(tmp_path):
    ds = load_flickr8k_layout(write_dataset(tmp_path / "ds", five("a.jpg").encode()))
    assert ds.splits == {"train": [], "dev": [], "test": []}
    assert ds.split_captions("dev") == {}
    with pytest.raises(KeyError, match="valid"):
        ds.split_captions("valid")


def test_missing_token_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=TOKEN_FILE):
        load_flickr8k_layout(tmp_path)


def test_images_absent_present_and_missing(tmp_path):
    root = write_dataset(tmp_path / "ds", (five("a.jpg") + five("b.jpg")).encode())
    ds = load_flickr8k_layout(root)
    assert not ds.images_present()
    (root / IMAGE_DIR_NAME).mkdir()
    (root / IMAGE_DIR_NAME / "a.jpg").write_bytes(b"jpeg")
    (root / IMAGE_DIR_NAME / "stray.jpg").write_bytes(b"jpeg")
    assert ds.images_present()
    assert ds.image_path("a.jpg") == root / IMAGE_DIR_NAME / "a.jpg"
    assert ds.missing_images() == ["b.jpg"] and ds.extra_images() == ["stray.jpg"]
    summary = ds.summary()
    assert summary["n_missing_images"] == 1 and summary["images_present"] is True


def test_scenes_json_is_read_when_present(tmp_path):
    root = write_dataset(tmp_path / "ds", five("a.jpg").encode())
    assert load_flickr8k_layout(root).scenes is None
    (root / "scenes.json").write_text(json.dumps({"a.jpg": {"objects": []}}))
    ds = load_flickr8k_layout(root)
    assert ds.scenes == {"a.jpg": {"objects": []}} and ds.summary()["has_scenes"] is True
