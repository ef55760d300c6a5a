"""Chapter 5's figures: one caption on its way to ids, word frequencies, caption lengths, and
the seed's per-prefix samples beside teacher forcing."""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")

import pytest
from readability import small_text

from course_lib import viz

TOKENS = ["<pad>", "<unk>", "<start>", "<end>", "a", "small", "yellow", "square", "on", "beige"]
ID = {t: i for i, t in enumerate(TOKENS)}
CAPTION = ["a", "small", "yellow", "square", "on", "a", "beige", "background"]
LONG = "a big brown dog with a red collar runs across the green grass towards a man".split()


def _encoded(words, row_length):
    ids = [ID["<start>"], *[ID.get(w, ID["<unk>"]) for w in words], ID["<end>"]]
    return ids, ids + [0] * (row_length - len(ids))


#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "draw_caption_encoding": lambda: viz.draw_caption_encoding(
        "A small yellow square on a beige background .", CAPTION, *_encoded(CAPTION, 23),
        TOKENS,
    ),
    "plot_word_frequencies": lambda: viz.plot_word_frequencies(
        Counter({f"word{k}": 10_000 // (k + 1) for k in range(300)})
    ),
    "plot_caption_lengths": lambda: viz.plot_caption_lengths([5, 6, 9, 9, 10, 12, 23] * 50),
    "draw_prefix_layouts": lambda: viz.draw_prefix_layouts(
        ["<start>", "a", "yellow", "square", "<end>"], 22
    ),
}  # fmt: skip


def test_long_captions_and_rows_stay_readable():
    # Flickr8k: captions of 15 and more words, rows of 37 ids
    ids, padded = _encoded(LONG, 37)
    fig = viz.draw_caption_encoding(" ".join(LONG), LONG, ids, padded, TOKENS)
    assert small_text(fig) == []
    tokens = ["<start>", *LONG, "<end>"]
    fig = viz.draw_prefix_layouts(tokens, 36)
    assert small_text(fig) == []
    top = fig.axes[0]
    assert top.get_title().startswith(f"Per-prefix: {len(tokens) - 1} samples × 36 steps")


def test_the_encoding_shows_every_position_and_collapses_the_padding():
    ids, padded = _encoded(CAPTION, 23)
    fig = viz.draw_caption_encoding("raw", CAPTION, ids, padded, TOKENS)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("<start>") == 1 and texts.count("<end>") == 1
    assert "0 × 13" in texts  # 23 positions, 10 of them the caption
    for i in ids:  # each id in the id column and in the padded row
        assert texts.count(str(i)) >= 2, i
    assert "padded to 23" in texts


def test_the_encoding_refuses_ids_that_do_not_match_the_tokens():
    ids, padded = _encoded(CAPTION, 23)
    with pytest.raises(ValueError, match="one id per token"):
        viz.draw_caption_encoding("raw", CAPTION[:-1], ids, padded, TOKENS)
    with pytest.raises(ValueError, match="padded"):
        viz.draw_caption_encoding("raw", CAPTION, ids, [9, *padded[1:]], TOKENS)


def test_word_frequencies_most_frequent_on_top_and_every_word_on_the_rank_plot():
    counts = Counter({"a": 50, "red": 20, "circle": 30, "blue": 5})
    fig = viz.plot_word_frequencies(counts, top=3)
    bars, loglog = fig.axes
    assert [t.get_text() for t in bars.get_yticklabels()] == ["a", "circle", "red"]
    assert bars.yaxis_inverted()
    assert list(loglog.lines[0].get_ydata()) == [50, 30, 20, 5]
    with pytest.raises(ValueError, match="no words"):
        viz.plot_word_frequencies({})


def test_caption_lengths_mark_the_95th_percentile_and_the_longest():
    fig = viz.plot_caption_lengths(list(range(5, 25)))
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "longest = 24" in labels and any(label.startswith("95 %") for label in labels)
    with pytest.raises(ValueError, match="no captions"):
        viz.plot_caption_lengths([])


def test_prefix_layouts_one_row_per_target_and_one_teacher_forcing_row():
    tokens = ["<start>", "a", "yellow", "square", "<end>"]
    fig = viz.draw_prefix_layouts(tokens, 22)
    top, bottom = fig.axes
    assert [t.get_text() for t in top.texts if t.get_text() in tokens] == tokens[1:]
    bottom_texts = [t.get_text() for t in bottom.texts]
    assert bottom_texts[:2] == ["<start>", "a"] and "target" in bottom_texts
    assert "1 sample × 4 steps" in bottom.get_title()
    with pytest.raises(ValueError, match="prefix_length"):
        viz.draw_prefix_layouts(tokens, 3)


def test_coverage_table_formats_one_row_per_min_count():
    got = viz.coverage_table({1: (30, 34, 1.0, 0.0), 5: (1_234, 1_238, 0.97, 0.031)})
    assert got.rows[0] == [1, "30", "34", "100.00%", "0.00%"]
    assert got.rows[1] == [5, "1,234", "1,238", "97.00%", "3.10%"]
    assert got.columns[0] == "min_count" and len(got.columns) == 5


def test_per_prefix_table_shows_each_prefix_and_its_next_word():
    prefix = [0, 0, ID["<start>"], ID["a"]]
    target = [0.0] * len(TOKENS)
    target[ID["yellow"]] = 1.0
    got = viz.per_prefix_table([(None, prefix, target)], TOKENS)
    assert got.rows == [[1, "· · <start> a", "yellow", f"one-hot, {len(TOKENS)} floats"]]


def test_teacher_forcing_table_stops_after_one_padding_position():
    ids = [ID[t] for t in ["<start>", "a", "square", "<end>"]] + [0, 0]
    got = viz.teacher_forcing_table(ids[:-1], ids[1:], TOKENS)
    assert [row[1:] for row in got.rows] == [
        ["<start>", "a"],
        ["a", "square"],
        ["square", "<end>"],
        ["<end>", "<pad>"],
    ]
    full = viz.teacher_forcing_table(ids[:3], ids[1:4], TOKENS)
    assert len(full.rows) == 3  # no padding to show
    with pytest.raises(ValueError, match="both"):
        viz.teacher_forcing_table(ids[:3], ids[1:3], TOKENS)


def test_byte_size_reads_megabytes_and_gigabytes():
    assert viz.byte_size(41_680_000) == "41.7 MB"
    assert viz.byte_size(306_404 * 7_579 * 4) == "9.29 GB = 8.65 GiB"


def test_memory_table_computes_the_memory_of_both_layouts():
    got = viz.memory_table({"a": (7_579, 34, 306_404, 30_000), "b": (34, 23, 161_508, 15_000)})
    assert got.rows[0] == ["a", "7,579", 34, "306,404", "9.29 GB = 8.65 GiB", "4.1 MB"]
    assert got.rows[1][4:] == ["22.0 MB", "1.4 MB"]
