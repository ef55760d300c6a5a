"""Caption and split files with faults: each odd line is skipped and counted with its file,
line and reason, or kept as it is; nothing is dropped silently and nothing crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_lib.data import load_dataset
from course_lib.data.dataset import (
    R_BAD_NUMBER,
    R_DUPLICATE,
    R_EMPTY,
    R_NO_TAB,
    R_NOT_UTF8,
    R_SPLIT_DUPLICATE,
    R_SPLIT_NO_CAPTIONS,
    R_SPLIT_UNKNOWN,
)
from course_lib.text import Vocabulary, clean_caption

from .helpers import SPLIT_FILES, TOKEN_FILE


def write(root: Path, token: bytes | str, train: str = "a.jpg\n", dev: str = "", test: str = ""):
    root.mkdir(parents=True, exist_ok=True)
    data = token if isinstance(token, bytes) else token.encode("utf-8")
    (root / TOKEN_FILE).write_bytes(data)
    for split, text in (("train", train), ("dev", dev), ("test", test)):
        (root / SPLIT_FILES[split]).write_text(text, encoding="utf-8")
    return load_dataset(root, name="faulty")


def reasons(dataset) -> list[tuple[str, int | None, str]]:
    return [(s.file, s.line, s.reason) for s in dataset.skipped]


def test_duplicate_caption_line_is_kept_once_and_the_repeat_counted(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\na.jpg#1\ta cat\na.jpg#0\ta dog\n")
    assert ds.captions == {"a.jpg": ["a dog", "a cat"]}
    assert reasons(ds) == [(TOKEN_FILE, 3, R_DUPLICATE)]
    assert ds.summary()["skipped_by_reason"] == {R_DUPLICATE: 1}


def test_line_without_a_tab_is_skipped_with_its_line_number(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\na.jpg#1 a cat with spaces not a tab\n")
    assert ds.captions == {"a.jpg": ["a dog"]}
    assert reasons(ds) == [(TOKEN_FILE, 2, R_NO_TAB)]


def test_line_with_a_bad_caption_number_is_skipped(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\na.jpg#x\ta cat\na.jpg\ta bird\n")
    assert [r[2] for r in reasons(ds)] == [R_BAD_NUMBER, R_BAD_NUMBER]


def test_non_ascii_captions_are_kept_verbatim_and_survive_the_vocabulary(tmp_path):
    text = "a.jpg#0\tUn café près du fjörd\na.jpg#1\t子供が走る\na.jpg#2\tA dog 🐕 runs\n"
    ds = write(tmp_path / "d", text)
    assert ds.captions["a.jpg"] == ["Un café près du fjörd", "子供が走る", "A dog 🐕 runs"]
    tokens = [clean_caption(c) for c in ds.captions["a.jpg"]]
    assert tokens[0] == ["un", "café", "près", "du", "fjörd"]
    vocab = Vocabulary.build(tokens)
    vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again == vocab and "fjörd" in again
    assert again.decode(again.encode(tokens[0])) == tokens[0]


def test_line_that_is_not_utf8_is_skipped_and_the_rest_read(tmp_path):
    ds = write(tmp_path / "d", b"a.jpg#0\ta dog\na.jpg#1\ta caf\xe9 in latin-1\na.jpg#2\tok\n")
    assert ds.captions == {"a.jpg": ["a dog", "ok"]}
    assert reasons(ds) == [(TOKEN_FILE, 2, R_NOT_UTF8)]


def test_bom_and_windows_line_endings_are_tolerated(tmp_path):
    ds = write(tmp_path / "d", b"\xef\xbb\xbfa.jpg#0\ta dog\r\na.jpg#1\ta cat\r\n")
    assert ds.captions == {"a.jpg": ["a dog", "a cat"]} and ds.skipped == []


@pytest.mark.parametrize("caption", ["", "   ", "\t"])
def test_empty_caption_is_skipped_and_counted(tmp_path, caption):
    ds = write(tmp_path / "d", f"a.jpg#0\ta dog\na.jpg#1\t{caption}\n")
    assert ds.captions == {"a.jpg": ["a dog"]}
    assert reasons(ds) == [(TOKEN_FILE, 2, R_EMPTY)]


def test_image_whose_captions_were_all_empty_is_dropped_from_its_split_with_a_reason(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\nb.jpg#0\t\n", train="a.jpg\nb.jpg\n")
    assert ds.splits["train"] == ["a.jpg"]
    assert (SPLIT_FILES["train"], 2, R_SPLIT_NO_CAPTIONS) in reasons(ds)


def test_split_image_not_in_the_token_file_is_skipped_and_counted(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\n", train="a.jpg\nghost.jpg\n", test="ghost2.jpg\n")
    assert ds.splits == {"train": ["a.jpg"], "dev": [], "test": []}
    assert (SPLIT_FILES["train"], 2, R_SPLIT_UNKNOWN) in reasons(ds)
    assert (SPLIT_FILES["test"], 1, R_SPLIT_UNKNOWN) in reasons(ds)
    assert ds.summary()["skipped_by_reason"][R_SPLIT_UNKNOWN] == 2


def test_image_listed_twice_in_a_split_is_kept_once(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\n", train="a.jpg\na.jpg\n")
    assert ds.splits["train"] == ["a.jpg"]
    assert reasons(ds) == [(SPLIT_FILES["train"], 2, R_SPLIT_DUPLICATE)]


def test_missing_split_file_gives_an_empty_split(tmp_path):
    ds = write(tmp_path / "d", "a.jpg#0\ta dog\n")
    (tmp_path / "d" / SPLIT_FILES["dev"]).unlink()
    ds = load_dataset(tmp_path / "d")
    assert ds.splits["dev"] == []


def test_missing_token_file_is_a_clear_error_naming_it(tmp_path):
    from course_lib.data.download import DataError

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"Flickr8k\.token\.txt not found"):
        load_dataset(tmp_path / "empty")
