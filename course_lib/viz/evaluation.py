"""Evaluation (chapter 7): BLEU's n-gram matches, a beam search step by step, scores per image
and sentence BLEU against scene correctness.

Meaning is never carried by colour alone: matched n-grams are marked ✓, unmatched ones ✗ with
the reason written out, kept beam candidates ✓ with a solid border, dropped ones ✗ with a dashed
border, correct captions are dots and wrong ones crosses.

:func:`draw_beam_search` draws the trace of a beam search, every candidate it scored for one
image (:func:`course_lib.decoding.beam_trace`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from course_lib.viz.style import PAGE_WIDTH_IN, SMALL, figure, finish, plt

_MATCHED = "#b6d7a8"  # green: the n-gram counts
_CLIPPED = "#f9cb9c"  # orange: in a reference, but used up
_ABSENT = "#f4cccc"  # red: in no reference
_KEPT = "#d9ead3"


def _ngram_status(
    hypothesis: Sequence[str], references: Sequence[Sequence[str]], n: int
) -> list[str]:
    """Per n-gram of the hypothesis, left to right: "matched", "clipped" or "absent".

    An n-gram is matched while it has budget left: the most times it occurs in any single
    reference (BLEU's clipping); the occurrences after that are "clipped"."""
    budget: Counter = Counter()
    for ref in references:
        counts = Counter(
            tuple(ref[i : i + n]) for i in range(len(ref) - n + 1)
        )
        for gram, count in counts.items():
            budget[gram] = max(budget[gram], count)
    used: Counter = Counter()
    status = []
    for i in range(len(hypothesis) - n + 1):
        gram = tuple(hypothesis[i : i + n])
        if budget[gram] == 0:
            status.append("absent")
        elif used[gram] < budget[gram]:
            used[gram] += 1
            status.append("matched")
        else:
            status.append("clipped")
    return status


def _ngram_bar(ax, xy, size, mark, text: str) -> None:
    """One n-gram's bar at ``xy`` (its top left) of ``size`` (w, h): the fill
    (hatched in a light grey), the border (its line style by status), text."""
    prefix, colour, style, hatch = mark
    w, h = size
    ax.add_patch(Rectangle(xy, w, h, fc=colour, ec="0.72", hatch=hatch, lw=0))
    ax.add_patch(Rectangle(xy, w, h, fc="none", ec="0.25", ls=style, lw=1.0))
    ax.text(xy[0] + w / 2, xy[1] + h / 2, prefix + text, ha="center",
            va="center", fontsize=SMALL,
            bbox={"fc": "white", "ec": "none", "pad": 0.8, "alpha": 0.9})  # fmt: skip


def draw_ngram_matches(
    hypothesis: Sequence[str] | str,
    references: Sequence[Sequence[str] | str],
    max_n: int = 4,
):
    """Every 1- to ``max_n``-gram of ``hypothesis``, each in its own bar under the words it
    covers (bars that would overlap go on separate lanes), marked ✓ matched, ✂ clipped (in a
    reference, but more often than in any single one) or ✗ in no reference, each also with its
    own border style and hatching, and the clipped matches of each order on the left. The
    references are listed on top.

    ``hypothesis`` and each reference: a token list or a string (split on spaces).
    Returns the ``Figure`` (one axis).
    """
    hyp = (
        hypothesis.split() if isinstance(hypothesis, str) else list(hypothesis)
    )
    refs = [r.split() if isinstance(r, str) else list(r) for r in references]
    if not hyp or not refs:
        raise ValueError(
            "draw_ngram_matches: needs a hypothesis and at least one reference"
        )
    orders = [n for n in range(1, max_n + 1) if n <= len(hyp)]
    lanes = sum(orders)
    label_w, lane_h, gap = 1.25, 0.27, 0.16  # inches
    head = (
        0.3 * (len(refs) + 1) + 0.45
    )  # reference lines, then the hypothesis's words
    height = head + lanes * lane_h + gap * len(orders) + 0.5
    fig, axes = figure(height=height, width=PAGE_WIDTH_IN)
    ax = axes[0, 0]
    width = fig.get_figwidth()
    col = (width - label_w - 0.1) / len(hyp)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.invert_yaxis()
    ax.axis("off")
    ax.set_position((0, 0, 1, 1))

    def x_of(i: float) -> float:
        return label_w + i * col

    y = 0.2
    for k, ref in enumerate(refs, start=1):
        ax.text(0.05, y, f"reference {k}:  " + " ".join(ref), fontsize=SMALL, va="center",
                color="0.25")  # fmt: skip
        y += 0.3
    y += 0.05
    ax.text(0.05, y + 0.15, "hypothesis:", fontsize=SMALL, va="center", weight="bold")  # fmt: skip
    for i, word in enumerate(hyp):
        ax.text(x_of(i + 0.5), y + 0.15, word, fontsize=SMALL + 1, ha="center", va="center",
                weight="bold")  # fmt: skip
    y += 0.4
    marks = {"matched": ("✓ ", _MATCHED, "-", None),
             "clipped": ("✂ ", _CLIPPED, "--", "//"),
             "absent": ("✗ ", _ABSENT, ":", "xx")}  # fmt: skip
    for n in orders:
        status = _ngram_status(hyp, refs, n)
        matched = status.count("matched")
        top = y
        ax.text(0.05, top + n * lane_h / 2, f"{n}-grams\n{matched} of {len(status)} match",
                fontsize=SMALL, va="center")  # fmt: skip
        for i, state in enumerate(status):
            lane_y = top + (i % n) * lane_h
            xy = (x_of(i) + 0.03, lane_y + 0.025)
            _ngram_bar(ax, xy, (n * col - 0.06, lane_h - 0.05), marks[state],
                       " ".join(hyp[i : i + n]))  # fmt: skip
        y = top + n * lane_h + gap
        ax.plot([0.05, width - 0.05], [y - gap / 2] * 2, color="0.8", lw=0.6)
    ax.text(0.05, y + 0.2,
            "✓ matched (solid)    ✂ clipped: in a reference, but used up (dashed, //)    "
            "✗ in no reference (dotted, xx)", fontsize=SMALL, va="center")  # fmt: skip
    fig.set_layout_engine("none")
    return _close(fig)


def _close(fig):
    plt().close(fig)
    return fig


# --------------------------------------------------------------------------------------------
# Beam search, step by step
# --------------------------------------------------------------------------------------------


def _shown_candidates(
    candidates: list[dict[str, Any]], max_shown: int, min_log_prob: float
) -> list[dict[str, Any]]:
    """One step's candidates to draw, best first: every kept one, then the
    best dropped ones up to ``max_shown``; none below ``min_log_prob``."""
    possible = [c for c in candidates if c["log_prob"] >= min_log_prob]
    ranked = sorted(possible, key=lambda c: (-c["score"], c["kept"] is None))
    kept = [c for c in ranked if c["kept"] is not None]
    dropped = [c for c in ranked if c["kept"] is None]
    row = kept + dropped[: max(0, max_shown - len(kept))]
    return sorted(row, key=lambda c: -c["score"])


def draw_beam_search(
    trace: dict[str, Any],
    *,
    max_shown: int = 6,
    min_log_prob: float = -15.0,
):
    """A beam search drawn from its trace (:func:`course_lib.decoding.beam_trace`): one row
    per step, its candidates from best to worst (at most ``max_shown``), each with the word it
    adds and its score; a line joins it to the beam it extends. Kept candidates: ✓, solid
    border; dropped: ✗, dashed border, grey; the chosen caption's last candidate: ★.
    Candidates less probable than ``exp(min_log_prob)`` (impossible words of a hand-made
    model) are not drawn.
    Returns the ``Figure`` (one axis).
    """
    steps = trace["steps"]
    if not steps:
        raise ValueError("draw_beam_search: the trace has no steps")
    shown = [_shown_candidates(row, max_shown, min_log_prob) for row in steps]
    n_cols = max(len(row) for row in shown)
    label_w, row_h = 0.6, 0.72
    height = row_h * len(steps) + 0.9
    fig, axes = figure(height=height, width=PAGE_WIDTH_IN)
    ax = axes[0, 0]
    width = fig.get_figwidth()
    col = (width - label_w) / max(n_cols, 1)
    box_w, box_h = col - 0.08, 0.46
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.invert_yaxis()
    ax.axis("off")
    ax.set_position((0, 0, 1, 1))
    last = len(steps) - 1
    normalised = trace["length_normalisation"] != 0
    where: dict[
        tuple[int, int], tuple[float, float]
    ] = {}  # (step, kept slot) → box centre
    for t, row in enumerate(shown):
        y = 0.15 + t * row_h + box_h / 2
        ax.text(0.05, y, f"step {t + 1}", fontsize=SMALL, va="center")
        for j, cand in enumerate(row):
            x = label_w + j * col + col / 2
            is_kept = cand["kept"] is not None
            star = t == last and cand["kept"] == trace["chosen"]
            if is_kept:
                where[t, cand["kept"]] = (x, y)
            mark = "★ " if star else ("✓ " if is_kept else "✗ ")
            word = cand["word"] if cand["word"] is not None else "(ended)"
            ax.add_patch(
                Rectangle((x - box_w / 2, y - box_h / 2), box_w, box_h,
                           fc=_KEPT if is_kept else "white", ec="0.2" if is_kept else "0.55",
                           ls="-" if is_kept else "--", lw=2.0 if star else 1.0)
            )  # fmt: skip
            colour = "black" if is_kept else "0.4"
            ax.text(x, y - 0.1, mark + word, ha="center", va="center", fontsize=SMALL,
                    color=colour, weight="bold" if star else "normal")  # fmt: skip
            ax.text(x, y + 0.12, f"{cand['score']:.2f}", ha="center", va="center",
                    fontsize=SMALL, color=colour)  # fmt: skip
            if t > 0 and (t - 1, cand["parent"]) in where:
                px, py = where[t - 1, cand["parent"]]
                line = (
                    {"color": "0.3", "ls": "-"}
                    if is_kept
                    else {"color": "0.7", "ls": ":"}
                )
                ax.plot([px, x], [py + box_h / 2, y - box_h / 2], lw=1.0,
                        zorder=0, **line)  # fmt: skip
    score = "log-probability / length" if normalised else "log-probability"
    if normalised and trace["length_normalisation"] != 1:
        score += f"^{trace['length_normalisation']:g}"
    answer = " ".join(trace["caption"])
    ax.text(0.05, height - 0.5, f"✓ kept in the beam    ✗ dropped    ★ the answer: {answer}",
            fontsize=SMALL, va="center")  # fmt: skip
    ax.text(0.05, height - 0.22,
            f"beam width {trace['beam_width']}; each number: the caption's {score} so far",
            fontsize=SMALL, va="center")  # fmt: skip
    fig.set_layout_engine("none")
    return _close(fig)


# --------------------------------------------------------------------------------------------
# Scores per image
# --------------------------------------------------------------------------------------------


def plot_per_image_scores(
    values: Sequence[float], *, xlabel: str, title: str = "", bins: int = 30
):
    """A histogram of one score per image with its mean marked (dashed line, value in the
    legend). Returns the ``Figure`` (one axis)."""
    scores = np.asarray(values, dtype=float)
    if scores.size == 0:
        raise ValueError("plot_per_image_scores: no values")
    fig, axes = figure(height=3.0, width=5.5)
    ax = axes[0, 0]
    ax.hist(scores, bins=bins, color="tab:purple", alpha=0.8)
    ax.axvline(
        scores.mean(), color="k", ls="--", label=f"mean = {scores.mean():.2f}"
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=SMALL)
    return finish(fig)


def plot_bleu_vs_correctness(
    bleu: Sequence[float],
    passed: Sequence[float],
    correct: Sequence[bool],
    *,
    title: str = "",
    seed: int = 0,
):
    """Sentence BLEU (x) against the share of scene checks a caption passes (y, jittered a
    little so equal values stay visible): correct captions as green dots, wrong ones as red
    crosses. Returns the ``Figure`` (one axis)."""
    x = np.asarray(bleu, dtype=float)
    y = np.asarray(passed, dtype=float)
    right = np.asarray(correct, dtype=bool)
    if not len(x) == len(y) == len(right):
        raise ValueError(
            "plot_bleu_vs_correctness: bleu, passed and correct differ in length"
        )
    jitter = np.random.default_rng(seed).uniform(-0.03, 0.03, len(x))
    fig, axes = figure(height=3.6)
    ax = axes[0, 0]
    ax.scatter(x[right], y[right] + jitter[right], s=16, c="tab:green", marker="o",
               label="all correct (dot)")  # fmt: skip
    ax.scatter(x[~right], y[~right] + jitter[~right], s=22, c="tab:red", marker="x",
               label="something wrong (cross)")  # fmt: skip
    ax.set_xlabel("sentence BLEU-4 (smoothing method 1)")
    ax.set_ylabel("share of scene checks passed")
    if title:
        ax.set_title(title)
    # below the axes: inside, it would hide points (any corner can hold some)
    ax.legend(
        fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2
    )
    return finish(fig)
