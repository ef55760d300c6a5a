"""Every claim the prose makes about a result is guarded by a hidden cell that asserts it.

A claim cell is a code cell tagged ``remove-cell`` and ``claim`` whose first line is
``# Claim: <what the prose says>``; it asserts the claim on the outputs computed above it, so
nbval and the book build fail the day the claim stops being true. :data:`CLAIMS` lists them per
chapter, so that none is lost silently when a chapter is edited.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"

#: The claims of each chapter, in order (the text after ``# Claim:``).
CLAIMS: dict[str, list[str]] = {
    "00_welcome": [
        "the test images are not among the training images",
        "every image has five captions",
    ],
    "01_cnns": [
        "Keras's Conv2D and MaxPooling2D give the hand-computed numbers",
        "the formula gives Keras's output size in every row",
        "the CNN's code and shapes are as the prose describes them",
        "the training loss falls",
        'answering "no" is right most of the time; the CNN beats it on dev',
        "the CNN names the objects of dev scenes far better than chance",
        "random kernels are noise, pretrained ones smoother, far from 1",
        "the first two blocks light up on the shapes in nearly every image",
        "pixels divided by 255 twice give different features",
    ],
    "04_features": [
        "convolutions: most of the computation, few parameters; fc1 about 3/4",
        "the picture shows VGG16's stages with Keras's shapes",
        "pop() leaves the model unchanged; the cut shares the weights",
        "the backbone gives one vector per image, the grid one per region",
        "each preprocessing mistake changes the statistics as the bullets say",
        "every mistake moves the features at least half as far as another image",
        "(mini) swapped channels: red looks blue, blue looks red, green stays",
        "tf.io.decode_image shows the photo sideways, load_image upright",
        "the broken file is left out with its reason; the order is kept",
        "the course's store holds the numbers of the fresh extraction",
        "grids are (L, C) float16, much bigger than vectors, in a -grid folder",
        "(mini) map neighbours share the colour well above chance, shape less",
    ],
    "data_safety": [
        "the first call computes all 600 images into 3 shards and a manifest",
        "the second call loads: faster, manifest untouched, memory-mapped",
        "only the missing shard is computed again; the numbers are the same",
        "the refusal names the field that differs",
        "a changed byte is caught; only that shard is computed again",
    ],
    "02_rnns_lstms": [
        "NumPy = Keras to float32 rounding; the wrong gate order is far off",
        "f near 1 between the bursts; c jumps at the burst and is held after it",
        "the formula gives Keras's parameter count",
        "Keras's val_loss = the loss per word × the share of words",
        "hotter: less probable words; at 1.5 more variety, fewer copies",
        "NumPy runs the trained LSTM; its gates change at every word",
        "only pre-padding without a mask changes the output",
        "both fall with distance, the LSTM's much more slowly",
    ],
    "03_hybrid": [
        "on the synthetic scenes the LSTM holds most of the weights",
        "no image: loss near ln V; real vectors (synthetic): well above it",
        "at equal sizes inject and merge have the same parameter count",
        "the step model computes what the full model computes",
        "same captions 3 ways; carrying state faster, batching faster again",
        "the masked LSTM repeats its last output at the padded positions",
    ],
    "05_language_model": [
        'the course keeps "a"; the tutorial drops every one-letter word',
        "dropping one-letter words shortens most captions",
        "the 10 most frequent words make up over a quarter of the text",
        "a larger min_count: fewer ids, less text covered, more <unk>",
        "a large share of the padded matrix is padding",
        "same loss; per-prefix reads (targets per caption) × the LSTM steps",
        "one-hot targets 9.29 GB (8.65 GiB); teacher forcing ~100 MB, images",
        "(mini) no word occurs only outside the training split",
    ],
    "06_training": [
        "cutting batches never adds padding; grouping by length removes most",
        "same seed, same batches; a new epoch or seed, other batches",
        "resumed after epoch 2: each epoch once, the loss carries on",
        "both losses fall at first; the training loss starts above validation",
        "with dropout on, the same batches have a higher loss",
        "train loss falls on, validation stops; early stopping ends the run",
        "dropout: higher train loss, narrower gap",
        "babble first; (mini) then the right objects, no relation yet",
    ],
    "07_evaluation": [
        "the hand computation and nltk agree to the last digit",
        "the short caption scores 0 alone; the corpus score is above the mean",
        'greedy takes "small" first; beam search finds a more probable caption',
        "the figure's beam ends on the decoder's caption; greedy's behind",
        "with length normalisation beam search picks the longer caption",
        "plain beam captions are more probable, and shorter; α = 1: longer",
        "the plain mean of sentence BLEU-4 is lowest; smoothing lifts it",
        "the markers lift every order; the weight mistake lifts only BLEU-3",
        "scored against 4 references instead of 5, the model's BLEU is lower",
        "the mean of the per-image scores is the corpus CIDEr-D",
        "(mini) the clouds overlap: many wrong captions outscore correct ones",
        "(mini) on the synthetic set BLEU is far above the published numbers",
        "(mini) the picture gets a caption in shape words; no 'house' or 'sun'",
    ],
    "08_attention": [
        "(mini) the references' relations hold; merge states far fewer",
        "(mini) asked to choose, the merge model is about as good as a coin",
        "(mini) the vector is the max over the cells, whatever their order",
        "NumPy and the Keras layer agree to float32 rounding",
        "(mini) attention correctness is at least three times its chance level",
        "(mini) few words give their object less attention than chance",
        "(mini) attention states relations, most of them right",
        "(mini) the attention model is the smaller",
        "a step over VGG16's 14 x 14 grid takes longer than over this grid",
    ],
}


def claim_cells(notebook: Path) -> list[tuple[str, str]]:
    """``(claim, source)`` of every claim cell of ``notebook``, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = []
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code" and "claim" in tags:
            source = "".join(cell["source"])
            first = source.splitlines()[0] if source else ""
            found.append((first.removeprefix("# Claim:").strip(), source))
    return found


#: The chapters, and the appendix's notebook (its claims are checked the same way).
CHAPTERS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_claim_cells_are_the_listed_ones(notebook):
    assert [claim for claim, _ in claim_cells(notebook)] == CLAIMS.get(notebook.stem, [])


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_claim_cells_are_hidden_and_assert_something(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "claim" not in tags:
            continue
        source = "".join(cell["source"])
        assert "remove-cell" in tags, source[:60]
        assert source.startswith("# Claim: "), source[:60]
        assert "assert " in source, source[:60]


def test_the_claim_registry_names_only_chapters_that_exist():
    assert set(CLAIMS) <= {p.stem for p in CHAPTERS}
