"""The seed tutorial's ways (course_lib.seed_tutorial): per-prefix samples give the course's
loss, and the two BLEU mistakes inflate the scores (the naive greedy loop is tested in
test_decoding.py, beside the decoder it is compared with)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from course_lib.metrics import BLEU_WEIGHTS, bleu_scores
from course_lib.models import build_merge_model, masked_sparse_categorical_crossentropy
from course_lib.seed_tutorial import (
    build_per_prefix_model,
    copy_weights_by_name,
    per_prefix_arrays,
    per_prefix_samples,
    tutorial_mistake_bleu,
)
from course_lib.text import Vocabulary, clean_caption
from course_lib.training import encode_captions, make_tf_dataset

D = 4
CAPTIONS = {
    "img_a": ["A red circle.", "The red circle is big"],
    "img_b": ["a blue square", "Blue square left of a red circle!"],
    "img_c": ["a square"],
}
VOCAB = Vocabulary.build([clean_caption(c) for caps in CAPTIONS.values() for c in caps])
FEATURES = {k: np.full(D, i + 1, np.float32) for i, k in enumerate(CAPTIONS)}
# The hand-worked BLEU example of test_metrics.py.
REF = "the cat sat on the mat".split()
HYP = "the cat on the mat".split()
BP = math.exp(1 - 6 / 5)

# --- per-prefix training ------------------------------------------------------------------------


def test_per_prefix_samples_follow_the_seed_tutorial():
    image_ids, ids = encode_captions({"img_c": ["a square"]}, VOCAB)
    samples = list(per_prefix_samples(image_ids, ids, FEATURES, len(VOCAB), prefix_length=4))
    a, square = VOCAB.token_to_id["a"], VOCAB.token_to_id["square"]
    assert [list(s[1]) for s in samples] == [[0, 0, 0, 2], [0, 0, 2, a], [0, 2, a, square]]
    assert [int(s[2].argmax()) for s in samples] == [a, square, VOCAB.end_id]
    with pytest.raises(ValueError, match="prefix_length >= 3"):
        list(per_prefix_samples(image_ids, ids, FEATURES, len(VOCAB), prefix_length=2))


def test_teacher_forcing_loss_equals_the_per_prefix_loss_with_the_same_weights():
    keras.utils.set_random_seed(3)
    image_ids, ids = encode_captions(CAPTIONS, VOCAB)
    rng = np.random.default_rng(0)
    feats = {k: rng.normal(size=D).astype(np.float32) for k in CAPTIONS}
    merge = build_merge_model(len(VOCAB), D, embed_dim=6, units=5)
    per_prefix = build_per_prefix_model(len(VOCAB), D, ids.shape[1] - 1, embed_dim=6, units=5)
    copied = copy_weights_by_name(merge, per_prefix)
    assert set(copied) == {"image_dense", "embedding", "lstm", "decoder_dense", "output"}

    ((x, y),) = [
        (x, y) for x, y in make_tf_dataset(feats, image_ids, ids, batch_size=99, shuffle=False)
    ]
    teacher = float(masked_sparse_categorical_crossentropy(y, merge(x, training=False)))

    px, py = per_prefix_arrays(image_ids, ids, feats, len(VOCAB))
    assert len(py) == int((ids[:, 1:] != 0).sum())  # one sample per real target word
    probs = per_prefix.predict_on_batch(px)
    per_sample = -np.log(probs[py.astype(bool)])
    assert teacher == pytest.approx(float(per_sample.mean()), rel=1e-5)
    keras_loss = per_prefix.evaluate(px, py, batch_size=len(py), verbose=0)
    assert keras_loss == pytest.approx(teacher, rel=1e-5)


# --- BLEU's mistakes -----------------------------------------------------------------------------


def test_tutorial_mistake_special_tokens_matches_hand_worked_value():
    scores = tutorial_mistake_bleu({"x": [REF]}, {"x": HYP}, "special_tokens")
    # Wrapped: hyp 7 words, ref 8; p1 = 7/7, p2 = 5/6, p3 = 3/5, p4 = 1/4.
    bp = math.exp(1 - 8 / 7)
    assert scores["mistake"] == "special_tokens"
    assert scores["bleu4"] == pytest.approx(bp * (5 / 6 * 3 / 5 * 1 / 4) ** 0.25)
    correct = bleu_scores({"x": [REF]}, {"x": HYP})
    assert all(scores[k] > correct[k] for k in BLEU_WEIGHTS)


def test_tutorial_mistake_bleu3_weights_sum_to_0_9_and_inflate_only_bleu3():
    scores = tutorial_mistake_bleu({"x": [REF]}, {"x": HYP}, "bleu3_weights")
    correct = bleu_scores({"x": [REF]}, {"x": HYP})
    assert scores["bleu3"] == pytest.approx(BP * (1.0 * 3 / 4 * 1 / 3) ** 0.3)
    assert scores["bleu3"] > correct["bleu3"]
    assert {k: scores[k] for k in ("bleu1", "bleu2", "bleu4")} == {
        k: correct[k] for k in ("bleu1", "bleu2", "bleu4")
    }
    with pytest.raises(ValueError, match="unknown mistake"):
        tutorial_mistake_bleu({"x": [REF]}, {"x": HYP}, "typo")  # type: ignore[arg-type]
