"""The merge and inject models, the masked loss and metric, and the one-word step model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course_lib.models import (
    LAYER_NAMES,
    build_inject_model,
    build_merge_model,
    build_step_model,
    caption_inputs,
    compile_captioner,
    masked_accuracy,
    masked_sparse_categorical_crossentropy,
)

V, D = 17, 6
BUILDERS = {"merge": build_merge_model, "inject": build_inject_model}

# <start>=2, <end>=3, padding 0 on the right
IDS = np.array(
    [[2, 5, 6, 7, 3, 0], [2, 9, 3, 0, 0, 0], [2, 4, 4, 4, 4, 3], [2, 16, 8, 3, 0, 0]],
    dtype=np.int32,
)


def tiny(kind: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    return BUILDERS[kind](V, D, embed_dim=5, units=7, dropout=0.5)


@pytest.fixture
def features() -> np.ndarray:
    return np.random.default_rng(0).random((len(IDS), D), dtype=np.float32)


def numpy_masked_loss(probs: np.ndarray, targets: np.ndarray) -> float:
    picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
    real = targets != 0
    return float(-np.log(picked)[real].mean())


@pytest.mark.parametrize("kind", ["merge", "inject"])
def test_model_maps_image_and_caption_to_next_word_probabilities(kind, features):
    model = tiny(kind)
    probs = model.predict_on_batch({"image": features, "caption": IDS[:, :-1]})
    assert probs.shape == (len(IDS), IDS.shape[1] - 1, V)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    names = {layer.name for layer in model.layers}
    expected = set(LAYER_NAMES) - ({"add"} if kind == "inject" else set())
    assert expected <= names


def test_merge_model_has_the_seed_articles_layers():
    model = build_merge_model(V, D)
    assert model.get_layer("image_dropout").rate == 0.5
    assert model.get_layer("image_dense").units == 256
    assert model.get_layer("embedding").output_dim == 256
    assert model.get_layer("embedding").mask_zero
    assert model.get_layer("lstm").units == 256
    assert model.get_layer("output").units == V


def test_merge_model_prediction_ignores_padding_after_the_caption(features):
    model = tiny("merge")
    short = IDS[:, :4]
    longer = np.concatenate([short, np.zeros((len(IDS), 5), np.int32)], axis=1)
    a = model.predict_on_batch({"image": features, "caption": short})
    b = model.predict_on_batch({"image": features, "caption": longer})
    np.testing.assert_allclose(a, b[:, :4], atol=1e-6)


@pytest.mark.parametrize("kind", ["merge", "inject"])
def test_masked_loss_and_accuracy_count_only_real_target_words(kind, features):
    model = compile_captioner(tiny(kind), 1e-3)
    x = {"image": features, "caption": IDS[:, :-1]}
    targets = IDS[:, 1:]
    probs = model.predict_on_batch(x)
    expected_loss = numpy_masked_loss(probs, targets)
    real = targets != 0
    expected_acc = float((probs.argmax(-1) == targets)[real].mean())

    direct = float(masked_sparse_categorical_crossentropy(targets, probs))
    assert direct == pytest.approx(expected_loss, rel=1e-5)
    assert float(masked_accuracy(targets, probs)) == pytest.approx(expected_acc, abs=1e-6)
    # Through Keras (which would reweight by any mask left on the output): the same numbers.
    result = model.evaluate(x, targets, batch_size=len(IDS), verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert result["masked_accuracy"] == pytest.approx(expected_acc, abs=1e-6)


def test_with_decay_steps_the_learning_rate_falls_along_a_cosine_to_a_hundredth(tmp_path):
    model = compile_captioner(tiny("merge"), 2e-3, decay_steps=100)
    rate = keras.optimizers.schedules.deserialize(model.optimizer.get_config()["learning_rate"])
    assert float(rate(0)) == pytest.approx(2e-3)
    assert float(rate(50)) == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5), rel=1e-5)
    assert float(rate(100)) == pytest.approx(2e-5, rel=1e-5)
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "decaying.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(2e-3)


@pytest.mark.parametrize("kind", ["merge", "inject"])
def test_saved_model_reloads_in_safe_mode_with_the_same_outputs(kind, features, tmp_path):
    model = compile_captioner(tiny(kind), 1e-3)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = {"image": features, "caption": IDS[:, :-1]}
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-7)
    assert loaded.loss is not None


@pytest.mark.parametrize("kind", ["merge", "inject"])
def test_step_model_reproduces_the_full_model_word_by_word(kind, features):
    model = tiny(kind)
    full = model.predict_on_batch({"image": features, "caption": IDS[:, :-1]})
    step = build_step_model(model)
    state = step.init(features)
    for t in range(IDS.shape[1] - 1):
        probs, state = step.step(IDS[:, t], state)
        assert probs.shape == (len(IDS), V)
        real = IDS[:, t] != 0  # after a caption's end the full model skips padding
        np.testing.assert_allclose(probs[real], full[real, t], atol=1e-5)


def test_step_model_shares_weights_with_the_trained_model(features):
    model = tiny("merge")
    step = build_step_model(model)
    before, _ = step.step(IDS[:, 0], step.init(features))
    dense = model.get_layer("output")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 3.0, bias])
    after, _ = step.step(IDS[:, 0], step.init(features))
    assert not np.allclose(before, after)
    full = model.predict_on_batch({"image": features, "caption": IDS[:, :1]})
    np.testing.assert_allclose(after, full[:, 0], atol=1e-5)


def test_step_state_rows_can_be_selected_for_beams(features):
    step = build_step_model(tiny("merge"))
    state = step.init(features)
    picked = step.select(state, np.array([1, 1, 0]))
    assert set(picked) == {"h", "c", "image"}
    np.testing.assert_array_equal(picked["image"][0], state["image"][1])
    assert picked["h"].shape == (3, 7)


def test_step_model_rejects_a_model_that_is_not_a_captioner():
    inputs = keras.Input((3,))
    other = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="not a course_lib caption model"):
        build_step_model(other)


def test_caption_inputs_refuse_sizes_that_make_no_model():
    inputs = caption_inputs(10, 7)
    assert inputs["image"].shape == (None, 7) and inputs["caption"].shape == (None, None)
    with pytest.raises(ValueError, match="4 reserved tokens"):
        caption_inputs(4, 7)
    with pytest.raises(ValueError, match="feature_dim must be positive"):
        caption_inputs(10, 0)
