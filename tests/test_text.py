"""Caption cleaning, the vocabulary and encoding, on toy data and on the real Flickr8k text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_lib.text import (
    COURSE_CLEANING,
    END,
    PAD,
    START,
    TUTORIAL_CLEANING,
    UNK,
    Vocabulary,
    caption_length_stats,
    clean_caption,
    pad_sequences_right,
)


def test_cleaning_lowercases_deletes_punctuation_and_drops_words_with_digits():
    assert clean_caption("A dog's 2 balls, on the grass!") == [
        "a",
        "dogs",
        "balls",
        "on",
        "the",
        "grass",
    ]


def test_tutorial_cleaning_drops_one_letter_words():
    assert clean_caption("A man in a red shirt .", TUTORIAL_CLEANING) == [
        "man",
        "in",
        "red",
        "shirt",
    ]
    assert clean_caption("A man in a red shirt .", COURSE_CLEANING)[0] == "a"


def test_cleaning_keeps_non_ascii_letters_and_drops_symbols():
    assert clean_caption("Un café #1 über") == ["un", "café", "über"]


def test_vocabulary_reserves_pad_unk_start_end_and_orders_by_frequency():
    vocab = Vocabulary.build([["a", "dog"], ["a", "cat"], ["a", "dog"]])
    assert vocab.id_to_token[:4] == [PAD, UNK, START, END]
    assert vocab.pad_id == 0
    assert vocab.words == ["a", "dog", "cat"]
    assert len(vocab) == 7


def test_min_count_drops_rare_words_to_unknown():
    vocab = Vocabulary.build([["a", "dog"], ["a", "cat"]], min_count=2)
    assert vocab.words == ["a"]
    assert vocab.encode(["a", "cat"]) == [vocab.start_id, 4, vocab.unk_id, vocab.end_id]


def test_encode_decode_round_trip_stops_at_end():
    vocab = Vocabulary.build([["a", "red", "circle"]])
    ids = vocab.encode(["a", "red", "circle"])
    assert ids[0] == vocab.start_id and ids[-1] == vocab.end_id
    assert vocab.decode([*ids, vocab.pad_id, vocab.pad_id]) == ["a", "red", "circle"]
    assert vocab.decode([vocab.start_id, 4, vocab.end_id, 5]) == ["a"]


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary.build([["a", "red", "circle"], ["a", "blue", "square"]], min_count=1)
    path = vocab.save(tmp_path / "vocab.json")
    data = json.loads(path.read_text())
    assert data["tokens"][:4] == [PAD, UNK, START, END]
    again = Vocabulary.load(path)
    assert again == vocab and again.cleaning == vocab.cleaning


def test_loading_a_bad_vocabulary_names_the_file(tmp_path):
    bad = tmp_path / "vocab.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"vocab\.json"):
        Vocabulary.load(bad)
    bad.write_text(json.dumps({"tokens": ["a"]}))
    with pytest.raises(ValueError, match="not a course_lib vocabulary"):
        Vocabulary.load(bad)


def test_right_padding_puts_zeros_at_the_end_and_refuses_to_truncate():
    out = pad_sequences_right([[2, 5, 3], [2, 3]], 4)
    np.testing.assert_array_equal(out, [[2, 5, 3, 0], [2, 3, 0, 0]])
    assert out.dtype == np.int32
    with pytest.raises(ValueError, match="length=2"):
        pad_sequences_right([[1, 2, 3]], 2)


@pytest.mark.real_data
def test_real_flickr8k_training_vocabulary_matches_the_documented_numbers(flickr8k_text_dir):
    """The README of ../shared/flickr8k_text quotes the tutorial's numbers; ours differ only
    where the cleaning differs, as data/README.md documents."""
    captions: dict[str, list[str]] = {}
    for line in (flickr8k_text_dir / "Flickr8k.token.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            key, caption = line.split("\t", 1)
            captions.setdefault(key.rsplit("#", 1)[0], []).append(caption)
    train = (flickr8k_text_dir / "Flickr_8k.trainImages.txt").read_text().split()
    all_words = {
        t for caps in captions.values() for c in caps for t in clean_caption(c, TUTORIAL_CLEANING)
    }
    assert len(all_words) == 8763

    tutorial = [clean_caption(c, TUTORIAL_CLEANING) for i in train for c in captions[i]]
    vocab = Vocabulary.build(tutorial, cleaning=TUTORIAL_CLEANING)
    # Tutorial: 7,578 words incl. "startseq"/"endseq" + 1 padding index = 7,579.
    assert len(vocab.words) + 2 + 1 == 7579
    assert caption_length_stats(tutorial)["max"] == 34

    ours = [clean_caption(c) for i in train for c in captions[i]]
    vocab = Vocabulary.build(ours)
    assert len(vocab.words) == 7587 and len(vocab) == 7591
    assert caption_length_stats(ours)["max"] == 37


def test_vocabulary_coverage_counts_what_a_min_count_keeps():
    from course_lib.text import Coverage, vocabulary_coverage

    train = [["a", "red", "circle"], ["a", "blue", "circle"], ["a", "red", "square"]]
    dev = [["a", "green", "circle"]]
    assert vocabulary_coverage(train, dev, 1) == Coverage(5, 9, 1.0, 1 / 3)
    words, ids, covered, unknown = vocabulary_coverage(train, dev, 2)
    assert (words, ids) == (3, 7)  # a, circle, red
    assert covered == pytest.approx(7 / 9) and unknown == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least one token"):
        vocabulary_coverage(train, [], 1)
