"""BLEU, CIDEr-D and the human baseline (course_lib.metrics)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
from pycocoevalcap.cider.cider import Cider

from course_lib.metrics import (
    BLEU_WEIGHTS,
    bleu_scores,
    cider_d,
    cider_d_per_image,
    corpus_bleu_scores,
    human_baseline,
    leave_one_out,
    token_lists,
)

FIXTURES = Path(__file__).parent / "fixtures" / "cider"

# The hand-worked example: reference "the cat sat on the mat" (6 words), hypothesis
# "the cat on the mat" (5 words). Clipped precisions p1 = 5/5, p2 = 3/4, p3 = 1/3, p4 = 0/2;
# brevity penalty exp(1 - 6/5).
REF = "the cat sat on the mat".split()
HYP = "the cat on the mat".split()
BP = math.exp(1 - 6 / 5)


def _load(name: str) -> tuple[dict[str, list[list[str]]], dict[str, list[str]]]:
    data = json.loads((FIXTURES / name).read_text())
    refs = {i: [r.split() for r in rs] for i, rs in data["references"].items()}
    hyps = {i: h.split() for i, h in data["hypotheses"].items()}
    return refs, hyps


def _coco_cider(refs, hyps, sigma: float = 6.0) -> tuple[float, np.ndarray]:
    """pycocoevalcap's Cider (CIDEr-D) on already tokenised captions, no PTBTokenizer."""
    ids = sorted(refs)
    gts = {i: [" ".join(r) for r in refs[i]] for i in ids}
    res = {i: [" ".join(hyps[i])] for i in ids}
    score, scores = Cider(sigma=sigma).compute_score(gts, res)
    return float(score), np.asarray(scores)


# --- BLEU ---------------------------------------------------------------------------------------


def test_bleu_of_a_perfect_match_is_one():
    refs = {"a": [REF, HYP], "b": [["a", "dog", "runs", "on", "the", "grass"]]}
    hyps = {"a": REF, "b": ["a", "dog", "runs", "on", "the", "grass"]}
    assert bleu_scores(refs, hyps) == pytest.approx(dict.fromkeys(BLEU_WEIGHTS, 1.0))


def test_bleu_matches_the_hand_worked_example_with_brevity_penalty():
    scores = bleu_scores({"x": [REF]}, {"x": HYP})
    assert scores["bleu1"] == pytest.approx(BP * 1.0)
    assert scores["bleu2"] == pytest.approx(BP * (1.0 * 3 / 4) ** (1 / 2))
    assert scores["bleu3"] == pytest.approx(BP * (1.0 * 3 / 4 * 1 / 3) ** (1 / 3))
    # No 4-gram matches and no smoothing: exactly zero (not nltk's 1e-77 sentinel).
    assert scores["bleu4"] == 0.0


def test_bleu_clips_repeated_words_to_their_reference_count():
    scores = bleu_scores({"x": [REF]}, {"x": ["the", "the", "the", "the"]})
    # "the" occurs twice in the reference: p1 = 2/4; brevity penalty exp(1 - 6/4).
    assert scores["bleu1"] == pytest.approx(0.5 * math.exp(1 - 6 / 4))


def test_bleu_pools_counts_over_the_corpus_rather_than_averaging_images():
    refs = {"a": [REF], "b": [["a", "dog"]]}
    hyps = {"a": HYP, "b": ["a", "cat"]}
    # Unigrams 5/5 + 1/2 = 6/7; lengths 7 (hyp) vs 8 (closest refs).
    assert bleu_scores(refs, hyps)["bleu1"] == pytest.approx(6 / 7 * math.exp(1 - 8 / 7))


def test_bleu_smoothing_function_is_passed_to_nltk():
    smooth = SmoothingFunction().method1
    scores = bleu_scores({"x": [REF]}, {"x": HYP}, smoothing_function=smooth)
    expected = corpus_bleu([[REF]], [HYP], smoothing_function=smooth)
    assert scores["bleu4"] == pytest.approx(expected) and scores["bleu4"] > 0


def test_bleu_strips_start_and_end_tokens_from_both_sides():
    refs = {"x": [["<start>", *REF, "<end>"]]}
    hyps = {"x": ["startseq", *HYP, "endseq"]}
    assert bleu_scores(refs, hyps) == bleu_scores({"x": [REF]}, {"x": HYP})


def test_keeping_special_tokens_inflates_bleu():
    refs = {"x": [["startseq", *REF, "endseq"]]}
    hyps = {"x": ["startseq", *HYP, "endseq"]}
    kept = bleu_scores(refs, hyps, strip_special=False)
    stripped = bleu_scores(refs, hyps)
    assert all(kept[k] > stripped[k] for k in ("bleu2", "bleu3", "bleu4"))


def test_bleu_accepts_custom_weights():
    scores = bleu_scores({"x": [REF]}, {"x": HYP}, weights={"b2": (0.5, 0.5)})
    assert list(scores) == ["b2"] and scores["b2"] == pytest.approx(BP * math.sqrt(0.75))


def test_mismatched_ids_raise_an_error_naming_them():
    with pytest.raises(ValueError, match=r"hypotheses without references: 'extra'"):
        bleu_scores({"x": [REF]}, {"x": HYP, "extra": HYP})
    with pytest.raises(ValueError, match=r"references without a hypothesis: 'lost'"):
        cider_d({"x": [REF], "lost": [REF]}, {"x": HYP})
    with pytest.raises(ValueError, match="empty"):
        bleu_scores({}, {})
    with pytest.raises(TypeError, match="lists of tokens"):
        human_baseline({"x": ["the cat", "a cat"]})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="list of tokens"):
        bleu_scores({"x": [REF]}, {"x": "the cat"})  # type: ignore[dict-item]


# --- CIDEr-D ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["toy_4.json", "flickr_style_20.json"])
def test_cider_d_equals_pycocoevalcap_on_fixtures(name):
    refs, hyps = _load(name)
    expected, expected_per_image = _coco_cider(refs, hyps)
    assert cider_d(refs, hyps) == pytest.approx(expected, abs=1e-6)
    per_image = cider_d_per_image(refs, hyps)
    assert list(per_image) == sorted(refs)
    np.testing.assert_allclose(list(per_image.values()), expected_per_image, atol=1e-6)


def test_cider_d_sigma_is_the_length_penalty_width():
    refs, hyps = _load("flickr_style_20.json")
    assert cider_d(refs, hyps, sigma=2.0) == pytest.approx(
        _coco_cider(refs, hyps, 2.0)[0], abs=1e-6
    )
    assert cider_d(refs, hyps, sigma=2.0) < cider_d(refs, hyps)


def test_cider_d_of_a_copied_reference_is_high_and_of_nonsense_is_zero():
    refs, hyps = _load("flickr_style_20.json")
    per_image = cider_d_per_image(refs, hyps)
    copied = [i for i in refs if hyps[i] == refs[i][0]]
    nonsense = [i for i in refs if hyps[i] == ["a", "a", "a", "a"]]
    assert copied and nonsense
    assert min(per_image[i] for i in copied) > 1.0
    assert max(per_image[i] for i in nonsense) < 0.1


def test_cider_d_ignores_special_tokens_by_default():
    refs, hyps = _load("toy_4.json")
    wrapped = {i: ["<start>", *h, "<end>"] for i, h in hyps.items()}
    assert cider_d(refs, wrapped) == pytest.approx(cider_d(refs, hyps))


@pytest.mark.real_data
def test_cider_d_equals_pycocoevalcap_on_real_flickr8k_captions(flickr8k_text_dir):
    from course_lib.text import clean_caption

    captions: dict[str, list[list[str]]] = {}  # file order: the first 201 images
    with open(flickr8k_text_dir / "Flickr8k.token.txt", encoding="utf-8") as f:
        for line in f:
            key, _, text = line.rstrip("\n").partition("\t")
            captions.setdefault(key.split("#")[0], []).append(clean_caption(text))
            if len(captions) > 200:
                break
    ids = list(captions)[:200]
    refs = {i: captions[i][1:] for i in ids}
    # Held-out human captions as hypotheses; the first 20 images get another image's caption.
    hyps = {i: captions[ids[(k + 1) % 20] if k < 20 else i][0] for k, i in enumerate(ids)}
    assert cider_d(refs, hyps) == pytest.approx(_coco_cider(refs, hyps)[0], abs=1e-6)


# --- Human baseline and the combined report -----------------------------------------------------


def test_human_baseline_of_identical_references_is_perfect_with_four_references():
    refs = {"a": [REF] * 5, "b": [HYP] * 5}
    result = human_baseline(refs, metric="all")
    assert result["n_references"] == 4 and result["n_images"] == 2
    assert len(result["per_holdout"]) == 5
    for key in BLEU_WEIGHTS:
        assert result[key] == pytest.approx(1.0)
    # CIDEr-D is not 1 for a perfect copy: it weighs n-grams by how rare they are in the set.
    four = {i: r[:4] for i, r in refs.items()}
    assert result["cider_d"] == pytest.approx(_coco_cider(four, {"a": REF, "b": HYP})[0])


def test_human_baseline_averages_leave_one_out_rounds():
    refs, _ = _load("flickr_style_20.json")
    result = human_baseline(refs, metric="all")
    expected_bleu, expected_cider = [], []
    for k in range(5):
        others = [[r for j, r in enumerate(refs[i]) if j != k] for i in sorted(refs)]
        held_out = [refs[i][k] for i in sorted(refs)]
        expected_bleu.append(corpus_bleu(others, held_out))
        expected_cider.append(
            _coco_cider(
                dict(zip(sorted(refs), others, strict=True)),
                dict(zip(sorted(refs), held_out, strict=True)),
            )[0]
        )
    assert result["bleu4"] == pytest.approx(np.mean(expected_bleu))
    assert result["cider_d"] == pytest.approx(np.mean(expected_cider), abs=1e-6)
    assert set(human_baseline(refs)) == {
        "bleu1",
        "bleu2",
        "bleu3",
        "bleu4",
        "n_images",
        "n_references",
        "per_holdout",
    }
    with pytest.raises(ValueError, match=">= 2 references"):
        human_baseline({"a": [REF]})


def test_corpus_bleu_scores_is_nltk_once_for_every_order_and_zero_below_1e_12():
    ids, refs, hyps = token_lists(
        {"b": [["<start>", *REF, "<end>"]], "a": [["a", "dog"]]},
        {"b": ["<start>", *HYP, "<end>"], "a": ["a", "cat"]},
        strip_special=True,
    )
    assert ids == ["a", "b"] and refs[1] == [REF] and hyps[1] == HYP
    scores = corpus_bleu_scores(refs, hyps, BLEU_WEIGHTS)
    for name, weights in BLEU_WEIGHTS.items():
        with warnings.catch_warnings():  # nltk warns of the missing 4-grams
            warnings.simplefilter("ignore")
            expected = corpus_bleu(refs, hyps, weights=weights)
        assert scores[name] == (0.0 if expected < 1e-12 else expected)
    assert scores["bleu4"] == 0.0  # no 4-gram matches anywhere
    missed = corpus_bleu_scores([[["a"]]], [["b"]], BLEU_WEIGHTS)
    assert missed == dict.fromkeys(BLEU_WEIGHTS, 0.0)


def test_leave_one_out_scores_a_model_against_each_four_of_five_references():
    refs = {
        "x": [f"a red circle {w}".split() for w in ("one", "two", "three", "four", "five")],
        "y": [f"a blue square {w}".split() for w in ("one", "two", "three", "four", "five")],
    }
    hyps = {"x": "a red circle one".split(), "y": "a blue square".split()}
    result = leave_one_out(refs, hyps, metric="bleu")
    rounds = []
    for k in range(5):
        others = {i: [r for j, r in enumerate(refs[i]) if j != k] for i in refs}
        rounds.append(bleu_scores(others, hyps)["bleu1"])
    assert result["bleu1"] == pytest.approx(sum(rounds) / 5)
    assert result["n_references"] == 4 and len(result["per_holdout"]) == 5
    assert leave_one_out(refs) == human_baseline(refs)
