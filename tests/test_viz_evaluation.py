"""Chapter 7's figures: BLEU's n-gram matches, a beam search step by step, scores per image and
sentence BLEU against scene correctness; the trace behind the beam figure; the example picture
that chapter 7 captions."""

from __future__ import annotations

import itertools
from importlib.resources import files

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib import viz
from course_lib.data.images import load_image
from course_lib.decoding import beam_search_decode, beam_trace, greedy_decode
from course_lib.text import Vocabulary
from course_lib.viz.evaluation import _ngram_status

HYP = "a red circle above a red square"
REFS = ["a big red circle above a blue square", "a red circle over a small blue square"]

#: The hand-made chain of chapter 7's worked example: last word -> {next word: probability}.
NEXT_WORD = {
    "<start>": {"a": 1.0},
    "a": {"small": 0.4, "blue": 0.35, "red": 0.25},
    "small": {"blue": 0.55, "red": 0.45},
    "blue": {"square": 0.9, "circle": 0.1},
    "red": {"circle": 0.9, "square": 0.1},
    "square": {"<end>": 0.55, "on": 0.45},
    "circle": {"<end>": 0.55, "on": 0.45},
    "on": {"grey": 1.0},
    "grey": {"background": 1.0},
    "background": {"<end>": 1.0},
}


class MarkovStep:
    """A step model whose next word depends only on the last word."""

    def __init__(self, table: np.ndarray):
        self.table = table

    def init(self, features):
        return {"row": np.zeros(len(features))}

    def step(self, words, state):
        return self.table[np.asarray(words)], state

    @staticmethod
    def select(state, rows):
        return {k: v[rows] for k, v in state.items()}


def worked_example() -> tuple[MarkovStep, Vocabulary]:
    words = sorted({w for row in NEXT_WORD.values() for w in row} - {"<end>"})
    vocab = Vocabulary(words)
    table = np.zeros((len(vocab), len(vocab)))
    for last, row in NEXT_WORD.items():
        for word, p in row.items():
            table[vocab.token_to_id[last], vocab.token_to_id[word]] = p
    return MarkovStep(table), vocab


def random_chain(seed: int, vocab: Vocabulary) -> MarkovStep:
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(len(vocab), 0.4), size=len(vocab))
    table[:, [vocab.pad_id, vocab.start_id]] = 0.0
    return MarkovStep(table / table.sum(axis=1, keepdims=True))


NO_IMAGE = np.zeros((1, 1), np.float32)


def _trace(width: int = 3, alpha: float = 0.0) -> dict:
    model, vocab = worked_example()
    return beam_trace(
        model, NO_IMAGE[0], vocab, max_tokens=8, beam_width=width, length_normalisation=alpha
    )


#: Typical calls of this module's figure functions (collected by tests/test_viz.py).
FIGURES = {
    "draw_ngram_matches": lambda: viz.draw_ngram_matches(HYP, REFS),
    "draw_beam_search": lambda: viz.draw_beam_search(_trace(3, 1.0)),
    "plot_per_image_scores": lambda: viz.plot_per_image_scores(
        np.random.default_rng(0).gamma(4.0, 0.8, 250), xlabel="CIDEr-D of one caption",
        title="CIDEr-D per test image (beam 3)",
    ),
    "plot_bleu_vs_correctness": lambda: viz.plot_bleu_vs_correctness(
        np.linspace(0, 1, 40), np.tile([1.0, 0.5, 0.75, 0.25], 10), np.tile([True, False], 20),
        title="Sentence BLEU vs. scene checks (test split, beam 3)",
    ),
}  # fmt: skip


def test_ngram_status_clips_the_second_occurrence():
    hyp, refs = HYP.split(), [r.split() for r in REFS]
    assert _ngram_status(hyp, refs, 1) == ["matched"] * 5 + ["clipped", "matched"]
    assert _ngram_status(hyp, refs, 2) == [
        "matched", "matched", "matched", "matched", "clipped", "absent"
    ]  # fmt: skip
    assert _ngram_status(hyp, refs, 4) == ["absent", "matched", "absent", "absent"]


def test_ngram_figure_labels_every_ngram_with_its_mark():
    fig = viz.draw_ngram_matches(HYP, REFS)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "✓ a red circle" in texts and "✂ red" in texts and "✗ red square" in texts
    assert "4-grams\n1 of 4 match" in texts
    boxes = [p for p in fig.axes[0].patches if p.get_facecolor()[3] > 0]
    assert len(boxes) == 7 + 6 + 5 + 4  # one filled bar per n-gram


def test_ngram_figure_of_a_short_hypothesis_has_only_its_orders():
    fig = viz.draw_ngram_matches(["a", "circle"], [["a", "red", "circle"]])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("2-grams") for t in texts)
    assert not any(t.startswith("3-grams") for t in texts)
    with pytest.raises(ValueError, match="needs a hypothesis"):
        viz.draw_ngram_matches([], REFS)


def test_worked_example_greedy_misses_what_beam_search_finds():
    model, vocab = worked_example()
    greedy = greedy_decode(model, NO_IMAGE, vocab, max_tokens=8)
    assert greedy.captions == [["a", "small", "blue", "square"]]
    beam = beam_search_decode(model, NO_IMAGE, vocab, max_tokens=8, beam_width=3)
    assert beam.captions == [["a", "blue", "square"]]
    long = beam_search_decode(
        model, NO_IMAGE, vocab, max_tokens=8, beam_width=3, length_normalisation=1.0
    )
    assert long.captions == [["a", "blue", "square", "on", "grey", "background"]]


@pytest.mark.parametrize(
    ("seed", "width", "alpha"), list(itertools.product([0, 1, 2, 3], [1, 2, 4], [0.0, 0.7, 1.0]))
)
def test_the_trace_picks_what_beam_search_decode_picks(seed, width, alpha):
    vocab = Vocabulary(["a", "red", "blue", "circle", "square", "on"])
    model = random_chain(seed, vocab)
    settings = {"max_tokens": 7, "beam_width": width, "length_normalisation": alpha}
    decoded = beam_search_decode(model, NO_IMAGE, vocab, **settings)
    trace = beam_trace(model, NO_IMAGE[0], vocab, **settings)
    assert trace["caption"] == decoded.captions[0]
    assert trace["log_prob"] == pytest.approx(decoded.scores[0])
    for step in trace["steps"]:  # exactly beam_width kept per step, ranked by score
        kept = sorted((c for c in step if c["kept"] is not None), key=lambda c: c["kept"])
        assert [c["kept"] for c in kept] == list(range(width))
        assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(kept))
        dropped = [c["score"] for c in step if c["kept"] is None]
        assert not dropped or max(dropped) <= kept[-1]["score"]


def test_beam_figure_marks_kept_dropped_and_the_answer():
    trace = _trace(3)
    fig = viz.draw_beam_search(trace)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.startswith("★") for t in texts) == 1
    assert "✗ red" in texts and "✓ small" in texts
    assert any("the answer: a blue square" in t for t in texts)
    assert any("log-probability so far" in t for t in texts)
    assert not any("<pad>" in t or "<unk>" in t for t in texts)  # impossible words not drawn
    texts = [t.get_text() for t in viz.draw_beam_search(_trace(3, 0.5)).axes[0].texts]
    assert any("log-probability / length^0.5" in t for t in texts)


def test_trace_rejects_a_batch_and_a_bad_width():
    model, vocab = worked_example()
    with pytest.raises(ValueError, match="one image"):
        beam_trace(model, np.zeros((2, 1)), vocab, max_tokens=5)
    with pytest.raises(ValueError, match="beam_width"):
        beam_trace(model, NO_IMAGE[0], vocab, max_tokens=5, beam_width=0)


def test_scatter_marks_correct_and_wrong_with_different_markers():
    fig = viz.plot_bleu_vs_correctness([0.2, 0.9, 0.5], [1.0, 0.5, 1.0], [True, False, True])
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [2, 1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["all correct (dot)", "something wrong (cross)"]
    fig.canvas.draw()  # the legend sits below the axes, over no point
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 < ax.get_window_extent().y0
    with pytest.raises(ValueError, match="differ in length"):
        viz.plot_bleu_vs_correctness([0.1], [1.0, 0.5], [True])


def test_per_image_histogram_marks_the_mean():
    fig = viz.plot_per_image_scores([1.0, 2.0, 6.0], xlabel="CIDEr-D")
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "mean = 3.00"
    with pytest.raises(ValueError, match="no values"):
        viz.plot_per_image_scores([], xlabel="x")


def test_the_example_picture_ships_with_the_package_small_and_readable():
    example = files("course_lib") / "examples" / "house.png"
    assert example.is_file()
    assert len(example.read_bytes()) < 100_000
    assert load_image(str(example), 64).shape == (64, 64, 3)


@pytest.mark.parametrize("name", ["draw_ngram_matches", "draw_beam_search"])
def test_diagrams_as_jupyter_saves_them_fit_the_page_unscaled(name):
    import io

    from PIL import Image

    from course_lib.viz.style import PAGE_WIDTH_PX

    buffer = io.BytesIO()
    FIGURES[name]().savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.1)
    assert Image.open(buffer).size[0] <= PAGE_WIDTH_PX
