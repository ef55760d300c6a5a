"""Loading the small CNN whole (its attribute classifier), as chapter 1 does."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import scene_cnn as S


def test_the_classifier_loads_whole_and_the_backbone_is_its_features(tmp_path):
    model = S.build_scene_cnn(64, 5, seed=0)
    path = tmp_path / "smallcnn-test.keras"
    model.save(path)
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")

    classifier = S.load_scene_classifier(path)
    probs = classifier.predict_on_batch(images)
    assert probs.shape == (2, 5) and np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs, model.predict_on_batch(images), rtol=1e-5, atol=1e-6)
    features = S.load_scene_cnn(path).predict_on_batch(images)
    assert features.shape == (2, S.FEATURE_DIM)


def test_a_file_that_is_not_a_model_is_refused_with_its_name(tmp_path):
    path = tmp_path / "smallcnn-broken.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"smallcnn-broken\.keras: cannot load"):
        S.load_scene_classifier(path)
    with pytest.raises(ValueError, match="delete it to retrain it"):
        S.load_scene_cnn(path)


NAMES = ["blue circle", "red circle", "red square", "small red circle", "red circle above",
         "red circle left of", "red circle at top", "objects=2", "background=white"]  # fmt: skip


def test_attribute_kinds_follow_the_names():
    kinds = [S.attribute_kind(n) for n in NAMES]
    assert kinds == [
        "colour + shape present",
        "colour + shape present",
        "colour + shape present",
        "size + colour + shape",
        "relation",
        "relation",
        "colour + shape in a third of the image",
        "how many objects",
        "background",
    ]


def test_rank_objects_keeps_the_most_probable_colour_and_shape_attributes():
    probs = np.array([0.2, 0.7, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert S.rank_objects(probs, NAMES, 2) == [("red square", 0.9), ("red circle", 0.7)]
    with pytest.raises(ValueError, match="3 probabilities for 9 names"):
        S.rank_objects(probs[:3], NAMES, 1)


def test_scene_objects_names_each_colour_and_shape_once():
    scene = {"objects": [{"colour": "red", "shape": "circle"}] * 2}
    assert S.scene_objects(scene) == {"red circle"}


def test_activity_on_objects_weighs_each_cell_by_the_boxes():
    scene = {"width": 4, "height": 4, "objects": [{"x": 1, "y": 1, "r": 1}]}
    activity = np.zeros((4, 4))
    activity[:2, :2] = 3.0  # exactly the object's box: the top-left quarter
    activity[3, 3] = 1.0
    on, off = S.activity_on_objects(activity, scene)
    assert on == pytest.approx(3.0) and off == pytest.approx(1 / 12)
