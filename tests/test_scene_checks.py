"""Captions checked against the synthetic scenes' ground truth (course_lib.scene_checks)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_lib.data import synthetic
from course_lib.evaluation import evaluate_captions
from course_lib.scene_checks import (
    checks_passed,
    parse_scene_caption,
    relation_pairs,
    scene_accuracy,
    scene_report_table,
    what_is_wrong,
)
from course_lib.text import clean_caption


def _obj(shape, colour, size, x, y):
    return {"shape": shape, "colour": colour, "size": size, "x": x, "y": y, "r": 5}


#: Two objects: a large red circle left of a small blue square.
TWO = {
    "width": 64,
    "height": 64,
    "background": "grey",
    "objects": [_obj("circle", "red", "large", 12, 30), _obj("square", "blue", "small", 50, 30)],
    "relations": [{"subject": 0, "relation": "left of", "object": 1}],
}
ONE = {
    "width": 64,
    "height": 64,
    "background": "white",
    "objects": [_obj("triangle", "yellow", "small", 30, 30)],
    "relations": [],
}


def _check(caption: str, scene: dict, **kwargs) -> dict:
    return scene_accuracy({"img": caption.split()}, {"img": scene}, **kwargs)["details"]["img"]


def test_scene_contract_vocabulary_is_the_generators():
    assert synthetic.SHAPES == ("circle", "square", "triangle")
    assert set(synthetic.COLOURS) == {"red", "green", "blue", "yellow"}
    assert synthetic.SIZE_WORDS == {"small": ("small", "little"), "large": ("large", "big")}
    assert set(synthetic.RELATION_PHRASES) == set(synthetic.RELATIONS)


def test_parse_scene_caption_finds_mentions_and_relations():
    parsed = parse_scene_caption("<start> a big red circle to the left of a square <end>".split())
    assert [(m["size"], m["colour"], m["shape"]) for m in parsed["mentions"]] == [
        ("large", "red", "circle"),
        (None, None, "square"),
    ]
    assert parsed["relations"] == [{"subject": 0, "relation": "left of", "object": 1}]


def test_scene_correct_caption_is_all_correct():
    d = _check("a large red circle to the left of a small blue square", TWO)
    assert d["all_correct"] and d["relation_correct"] is True
    assert d["hallucinations"] == [] and d["missing"] == []


def test_scene_wrong_colour_is_flagged():
    d = _check("a large green circle to the left of a small blue square", TWO)
    assert d["shapes_correct"] and not d["colours_correct"] and not d["all_correct"]
    assert d["sizes_correct"] and d["relation_correct"] and d["hallucinations"] == []


def test_scene_wrong_size_is_flagged_and_synonyms_count():
    assert not _check("a small red circle left of a blue square", TWO)["sizes_correct"]
    said = _check("a big red circle left of a blue square", TWO)
    assert said["sizes_judged"] == 1 and said["colours_judged"] == 2
    assert _check("a red circle left of a blue square", TWO)["sizes_judged"] == 0
    assert _check("a big red circle left of a little blue square", TWO)["all_correct"]


def test_scene_wrong_relation_is_flagged():
    d = _check("a red circle above a blue square", TWO)
    assert d["relation_correct"] is False and d["shapes_correct"] and not d["all_correct"]


def test_scene_relation_stated_the_other_way_round_is_correct():
    d = _check("a small blue square to the right of a large red circle", TWO)
    assert d["relation_correct"] is True and d["all_correct"]
    assert not _check("a blue square to the left of a red circle", TWO)["relation_correct"]


def test_scene_hallucinated_object_is_reported():
    d = _check("a red circle left of a blue square and a green triangle", TWO)
    assert d["hallucinations"] == ["green triangle"]
    assert not d["shapes_correct"] and not d["all_correct"]
    assert d["relation_correct"] and d["colours_correct"]


def test_scene_missing_object_is_reported():
    d = _check("a large red circle", TWO)
    assert d["missing"] == ["blue square"] and not d["shapes_correct"]
    assert d["relation_correct"] is None  # no relation said: not judged by default
    assert _check("a large red circle", TWO, require_relation=True)["relation_correct"] is False


def test_scene_relation_with_a_dangling_side_does_not_hold():
    d = _check("a red circle and a blue square to the left of", TWO)
    assert d["relation_correct"] is False
    assert d["relation_said"] is False  # no object after the phrase


def test_scene_babbled_relation_words_state_no_relation():
    said = "a red circle above a blue square"
    babble = _check("above above above above", TWO)
    assert babble["relation_said"] is False
    assert _check(said, TWO)["relation_said"]
    hyps = {"babble": "above above above".split(), "said": said.split()}
    result = scene_accuracy(hyps, {"babble": TWO, "said": TWO})
    assert result["relation_said_rate"] == pytest.approx(0.5)


def test_scene_one_object_relation_is_not_applicable():
    d = _check("a little yellow triangle on a white background", ONE)
    assert d["relation_correct"] is None and d["all_correct"]
    assert not _check("a yellow circle", ONE)["shapes_correct"]


def test_scene_accuracy_summary_means_and_table():
    hyps = {
        "good": "a red circle to the left of a blue square".split(),
        "bad": "a red circle below a blue square".split(),
        "one": "a yellow triangle".split(),
    }
    result = scene_accuracy(hyps, {"good": TWO, "bad": TWO, "one": ONE})
    assert result["n_images"] == 3 and result["n_relation_images"] == 2
    assert result["relation_correct"] == pytest.approx(0.5)
    assert result["all_correct"] == pytest.approx(2 / 3)
    assert result["shapes_correct"] == 1.0 and result["hallucination_rate"] == 0.0
    assert result["relation_said_rate"] == 1.0
    rows = scene_report_table(result)
    assert [r["check"] for r in rows][-1] == "hallucination_rate"
    assert len(scene_report_table(result, per_image=True)) == 3
    json.dumps(result)
    refs = {i: [h] for i, h in hyps.items()}
    report = evaluate_captions(
        refs, hyps, decoder="greedy", beam_width=None, scenes={"good": TWO, "bad": TWO, "one": ONE}
    )
    assert report["scene_accuracy"]["all_correct"] == pytest.approx(2 / 3)
    assert "details" not in report["scene_accuracy"]
    with pytest.raises(ValueError, match="no ground-truth scene"):
        scene_accuracy(hyps, {"good": TWO})


def test_scene_accuracy_accepts_every_reference_caption_of_the_generator():
    rng = np.random.default_rng(0)
    hyps, scenes = {}, {}
    for k in range(60):
        scene = synthetic.make_scene(rng, 64)
        for j, caption in enumerate(synthetic.make_captions(scene, rng)):
            hyps[f"{k}#{j}"] = clean_caption(caption)
            scenes[f"{k}#{j}"] = scene
    result = scene_accuracy(hyps, scenes)
    wrong = {i: d for i, d in result["details"].items() if not d["all_correct"]}
    assert not wrong, list(wrong.items())[:3]
    assert result["n_relation_images"] > 0


def test_relation_pairs_state_the_first_relation_and_its_opposite():
    rng = np.random.default_rng(0)
    scenes = {f"s{k}": synthetic.make_scene(rng, 64) for k in range(30)}
    ids, true, opposite = relation_pairs(scenes, sorted(scenes))
    assert ids == sorted(i for i, s in scenes.items() if len(s["objects"]) >= 2) and ids
    for image_id, right, wrong in zip(ids, true, opposite, strict=True):
        assert len(right) == len(wrong) and right != wrong
        checks = scene_accuracy({image_id: right}, scenes)["details"][image_id]
        assert checks["relation_correct"] is True and not checks["hallucinations"]
        assert (
            scene_accuracy({image_id: wrong}, scenes)["details"][image_id]["relation_correct"]
            is False
        )


def test_checks_passed_is_the_share_of_the_judged_checks():
    assert (
        checks_passed(_check("a large red circle to the left of a small blue square", TWO)) == 1.0
    )
    wrong_colour = _check("a large green circle to the left of a small blue square", TWO)
    assert checks_passed(wrong_colour) == pytest.approx(3 / 4)
    no_relation = _check("a small yellow triangle", ONE)  # the relation is not judged
    assert no_relation["relation_correct"] is None and checks_passed(no_relation) == 1.0


def test_what_is_wrong_names_each_failed_check():
    assert (
        what_is_wrong(_check("a large red circle to the left of a small blue square", TWO)) == "—"
    )
    said = what_is_wrong(_check("a large green circle to the right of a small blue square", TWO))
    assert said == "wrong colour; wrong relation"
    invented = what_is_wrong(_check("a small yellow triangle and a red square", ONE))
    assert invented.startswith("invents ") and "square" in invented
