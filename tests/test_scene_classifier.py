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
