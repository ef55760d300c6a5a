"""Captions as data (chapter 5): one caption on its way to the model, word frequencies, caption
lengths, and the seed's per-prefix samples beside teacher forcing; the tables of chapters 5 and
6 that read token ids (a vocabulary's coverage, both layouts of one caption, their memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.patches import Rectangle

from course_lib.viz.style import (
    FONT,
    PAGE_WIDTH_IN,
    SMALL,
    figure,
    finish,
    wrap,
)
from course_lib.viz.tables import MarkdownTable, table

#: Cell colours: a word, a reserved token (``<start>``, ``<end>``…), padding, a target.
WORD, RESERVED, PADDING, TARGET = "#cfe3ff", "#ffd9a0", "#e6e6e6", "#d9f0d3"


def _cell(
    ax,
    x: float,
    y: float,
    w: float,
    text: str,
    colour: str,
    h: float = 0.8,
    **kw,
):
    """A box ``w`` × ``h`` centred at (x, y) (data units) with ``text``."""
    ax.add_patch(
        Rectangle(
            (x - w / 2, y - h / 2), w, h, facecolor=colour, edgecolor="white"
        )
    )
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=SMALL, **kw)


def _kind(token: str) -> str:
    return RESERVED if token.startswith("<") else WORD


def draw_caption_encoding(
    raw: str,
    tokens: Sequence[str],
    ids: Sequence[int],
    padded: Sequence[int],
    id_to_token: Sequence[str],
):
    """One caption on its way to the model, one row per position ``t``: the cleaned tokens
    (``clean_caption``), the tokens framed by ``<start>``/``<end>`` and their ids
    (``vocab.encode``), and the right-padded row (``pad_sequences_right``); the padding
    positions are one grey row. The raw caption is the title.

    ``ids``: the encoded caption; ``padded``: the same ids padded with 0 to the row length;
    ``id_to_token``: the vocabulary's tokens by id. Returns the ``Figure`` (one axis).
    """
    ids, padded = [int(i) for i in ids], [int(i) for i in padded]
    if len(tokens) + 2 != len(ids) or padded[: len(ids)] != ids:
        raise ValueError(
            "draw_caption_encoding: ids must be <start>, one id per token, <end>, and padded "
            "must start with them"
        )
    n, length = len(ids), len(padded)
    columns = [
        "t",
        "clean_caption",
        "vocab.encode",
        "id",
        f"padded to {length}",
    ]
    xs, widths = [0.3, 1.6, 3.2, 4.35, 5.5], [0.5, 1.5, 1.5, 0.7, 1.4]
    rows = n + (length > n)
    fig, axes = figure(
        height=0.6 + 0.26 * (rows + 1) + 0.2 * (wrap(raw, 6).count("\n") + 1)
    )
    ax = axes[0, 0]
    for x, name in zip(xs, columns, strict=True):
        ax.text(
            x,
            0,
            name,
            ha="center",
            va="center",
            fontsize=SMALL,
            family="monospace",
        )
    framed = [id_to_token[i] for i in ids]
    for t in range(n):
        y = -(t + 1)
        ax.text(
            xs[0],
            y,
            str(t),
            ha="center",
            va="center",
            fontsize=SMALL,
            color="0.35",
        )
        if 0 < t < n - 1:
            _cell(ax, xs[1], y, widths[1], tokens[t - 1], WORD)
        _cell(ax, xs[2], y, widths[2], framed[t], _kind(framed[t]))
        _cell(ax, xs[3], y, widths[3], str(ids[t]), _kind(framed[t]))
        _cell(ax, xs[4], y, widths[4], str(padded[t]), _kind(framed[t]))
    if length > n:
        y = -(n + 1)
        span = f"{n}…{length - 1}" if length - n > 1 else str(n)
        ax.text(
            xs[0],
            y,
            span,
            ha="center",
            va="center",
            fontsize=SMALL,
            color="0.35",
        )
        _cell(ax, xs[4], y, widths[4], f"0 × {length - n}", PADDING)
        ax.text(xs[3] + 0.45, y, "padding →", ha="right", va="center", fontsize=SMALL,
                color="0.35")  # fmt: skip
    ax.set_xlim(-0.1, 6.3)
    ax.set_ylim(-(rows + 0.6), 0.5)
    ax.axis("off")
    ax.set_title(wrap(f"raw caption: “{raw}”", PAGE_WIDTH_IN - 0.3, FONT), fontsize=FONT,
                 parse_math=False)  # fmt: skip
    fig.text(0.5, 0.01, "orange: reserved tokens   ·   blue: words   ·   grey: padding",
             ha="center", va="bottom", fontsize=SMALL, color="0.35")  # fmt: skip
    fig = finish(fig)
    fig.subplots_adjust(bottom=0.1)
    return fig


def plot_word_frequencies(counts: Mapping[str, int], top: int = 20):
    """Word frequencies of a corpus: the ``top`` most frequent words as horizontal bars (the
    most frequent at the top), and every word's count against its rank on log-log axes.

    ``counts``: word → occurrences (e.g. a ``collections.Counter``). Returns the ``Figure``
    (two axes).
    """
    if not counts:
        raise ValueError("plot_word_frequencies: no words")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = min(top, len(ranked))
    words, freqs = zip(*ranked, strict=True)
    fig, axes = figure(
        1, 2, height=0.6 + 0.17 * top, gridspec_kw={"width_ratios": [1, 1.1]}
    )
    bars, loglog = axes[0]
    bars.barh(range(top), freqs[:top], color="tab:blue")
    bars.set_yticks(range(top), words[:top])
    bars.invert_yaxis()
    bars.set_xlabel("occurrences")
    bars.set_title(f"the {top} most frequent words")
    loglog.loglog(np.arange(1, len(freqs) + 1), freqs, marker=".", lw=1)
    loglog.set_xlabel("rank of the word")
    loglog.set_ylabel("occurrences")
    loglog.set_title("every word: count against rank")
    loglog.grid(alpha=0.3, which="major")
    return finish(fig)


def plot_caption_lengths(lengths: Sequence[int]):
    """A histogram of caption lengths in tokens (``<start>`` and ``<end>`` included), with the
    95th percentile and the longest caption (the row length every caption is padded to)
    marked. Returns the ``Figure`` (one axis)."""
    counts = np.asarray(lengths, dtype=int)
    if counts.size == 0:
        raise ValueError("plot_caption_lengths: no captions")
    p95, longest = float(np.percentile(counts, 95)), int(counts.max())
    fig, axes = figure(height=2.9)
    ax = axes[0, 0]
    ax.hist(
        counts,
        bins=np.arange(counts.min(), longest + 2) - 0.5,
        color="tab:blue",
    )
    ax.axvline(p95, color="tab:orange", ls="--", label=f"95 % are ≤ {p95:.0f}")
    ax.axvline(longest, color="tab:red", ls="--", label=f"longest = {longest}")
    ax.set_xlabel("caption length in tokens, with <start> and <end>")
    ax.set_ylabel("captions")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Caption lengths (mean {counts.mean():.1f})")
    ax.legend()
    return finish(fig)


def draw_prefix_layouts(tokens: Sequence[str], prefix_length: int):
    """The seed's per-prefix samples above teacher forcing, for one caption.

    Top: one row per sample, its prefix front-padded to ``prefix_length`` steps (blue: a word,
    grey: padding) and its target word, stored one-hot. Bottom: teacher forcing's single row,
    the caption without its last token in and shifted by one out, one prediction per step.
    ``tokens``: the encoded caption as tokens, ``<start>`` … ``<end>``. Returns the ``Figure``
    (two axes).
    """
    n = len(tokens)
    if n < 2 or n - 1 > prefix_length:
        raise ValueError(
            f"draw_prefix_layouts: {n} tokens need 2 <= tokens and prefix_length >= {n - 1}"
        )
    samples = n - 1
    width = min(0.85, 5.6 / samples)  # of one teacher-forcing step, in inches
    vertical = (
        width < 0.62
    )  # long captions: the words stand upright in taller boxes
    heights = [0.7 + 0.24 * samples, 2.6 if vertical else 1.3]  # inches
    fig, axes = figure(2, 1, height=sum(heights) + 0.3,
                       gridspec_kw={"height_ratios": heights})  # fmt: skip
    top, bottom = axes[:, 0]
    step = (
        4.6 / prefix_length
    )  # width of one step, in inches of the 6.5-inch axis
    for i in range(1, n):  # sample i: prefix tokens[:i] -> tokens[i]
        y = -i
        for k in range(prefix_length):
            real = k >= prefix_length - i
            _cell(top, k * step, y, step * 0.92, "", WORD if real else PADDING)
        _cell(top, prefix_length * step + 0.55, y, 0.9, tokens[i], TARGET)
    top.text(-step, -(samples + 1) / 2, f"{samples}\nsamples", ha="right", va="center",
             fontsize=SMALL)  # fmt: skip
    top.text(prefix_length * step / 2, 0, f"prefix, padded at the front to {prefix_length} steps",
             ha="center", va="center", fontsize=SMALL)  # fmt: skip
    top.text(prefix_length * step + 0.55, 0, "target\n(one-hot)", ha="center", va="center",
             fontsize=SMALL)  # fmt: skip
    top.set_xlim(-0.75, prefix_length * step + 1.05)
    top.set_ylim(-(samples + 0.6), 0.6)
    top.set_title(
        f"Per-prefix: {samples} samples × {prefix_length} steps, one-hot targets"
    )
    h, rot = (1.6, {"rotation": 90}) if vertical else (0.8, {})
    for t in range(samples):
        x = t * width
        _cell(
            bottom, x, 0, width * 0.94, tokens[t], _kind(tokens[t]), h, **rot
        )
        _cell(
            bottom, x, -1.2 - h, width * 0.94, tokens[t + 1], TARGET, h, **rot
        )
        bottom.annotate("", xy=(x, -1.05 - h / 2), xytext=(x, -h / 2 - 0.15),
                        arrowprops={"arrowstyle": "-|>", "color": "0.3"})  # fmt: skip
    bottom.text(
        -width / 2 - 0.1, 0, "input", ha="right", va="center", fontsize=SMALL
    )
    bottom.text(
        -width / 2 - 0.1,
        -1.2 - h,
        "target",
        ha="right",
        va="center",
        fontsize=SMALL,
    )
    bottom.set_xlim(-0.8, max(samples * width, 4.6) + 0.2)
    bottom.set_ylim(-1.3 - 1.5 * h, 0.1 + h / 2)
    bottom.set_title(
        f"Teacher forcing: 1 sample × {samples} steps, integer targets"
    )
    for ax in (top, bottom):
        ax.axis("off")
    return finish(fig)


def coverage_table(
    by_min_count: Mapping[int, Sequence[float]],
) -> MarkdownTable:
    """``min_count`` → (words, ids, training tokens covered, other tokens that
    become ``<unk>``), as :func:`course_lib.text.vocabulary_coverage` gives."""
    columns = ["min_count", "words", "ids (softmax size)",
               "training tokens covered", "dev tokens → <unk>"]  # fmt: skip
    rows = [(m, f"{w:,}", f"{i:,}", f"{c:.2%}", f"{u:.2%}")
            for m, (w, i, c, u) in by_min_count.items()]  # fmt: skip
    return table(rows, columns)


def per_prefix_table(
    samples: Sequence[tuple], id_to_token: Sequence[str], pad: str = "·"
) -> MarkdownTable:
    """The seed's samples ``(image, prefix ids, one-hot target)`` of one
    caption (:func:`course_lib.seed_tutorial.per_prefix_samples`): the
    prefix as words (``pad`` for padding), the target word, its storage."""
    rows = []
    for k, (_image, prefix, target) in enumerate(samples, start=1):
        words = " ".join(pad if i == 0 else id_to_token[i] for i in prefix)
        next_word = id_to_token[int(np.argmax(target))]
        rows.append((k, words, next_word, f"one-hot, {len(target)} floats"))
    columns = ["sample", "prefix (input)", "next word (target)", "stored as"]
    return table(rows, columns)


def teacher_forcing_table(
    inputs: Sequence[int], targets: Sequence[int], id_to_token: Sequence[str]
) -> MarkdownTable:
    """One caption of a teacher-forcing batch, position by position: the id
    read (``inputs`` (T,)) and the id to predict (``targets`` (T,)), up to
    the last real target and one padding position where there is one."""
    read, want = np.asarray(inputs), np.asarray(targets)
    if read.shape != want.shape or read.ndim != 1:
        raise ValueError(
            f"teacher_forcing_table: one caption's inputs and targets, both "
            f"(T,): got {read.shape} and {want.shape}"
        )
    shown = min(int(np.count_nonzero(want)) + 1, len(want))
    rows = [(t, id_to_token[read[t]], id_to_token[want[t]])
            for t in range(shown)]  # fmt: skip
    return table(rows, ["position t", "input (reads)", "target (predicts)"])


def byte_size(n_bytes: float) -> str:
    """``n_bytes`` for a reader: ``9.29 GB = 8.65 GiB`` from a gigabyte on,
    else ``41.7 MB``."""
    if n_bytes >= 1e9:
        return f"{n_bytes / 1e9:,.2f} GB = {n_bytes / 2**30:,.2f} GiB"
    return f"{n_bytes / 1e6:,.1f} MB"


def memory_table(
    training_sets: Mapping[str, tuple[int, int, int, int]],
) -> MarkdownTable:
    """Memory of both layouts per training set, ``name → (ids, longest
    caption, per-prefix samples, captions)``: the per-prefix layout's
    one-hot float32 targets, teacher forcing's int32 id matrix."""
    rows = [(name, f"{ids:,}", longest, f"{samples:,}",
             byte_size(samples * ids * 4), byte_size(captions * longest * 4))
            for name, (ids, longest, samples, captions)
            in training_sets.items()]  # fmt: skip
    columns = ["training set", "ids", "longest", "per-prefix samples",
               "one-hot targets", "teacher-forcing ids"]  # fmt: skip
    return table(rows, columns)
