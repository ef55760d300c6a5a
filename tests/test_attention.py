"""The attention captioner: weights are distributions over the grid, the step model is the full
model, decoders return the weights of the chosen caption, and attention correctness is measured
right on hand-made grids and boxes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from course_lib.attention import (
    RegionPositions,
    build_attention_model,
    build_attention_step_model,
    placed_regions,
)
from course_lib.decoding import beam_search_decode, greedy_decode, sequence_log_probs
from course_lib.models import build_merge_model, compile_captioner, model_kind
from course_lib.pipeline import Captioner, caption_log_probs, step_seconds
from course_lib.scene_checks import attention_correctness, box_coverage
from course_lib.text import Vocabulary
from course_lib.training import load_captioner

REPO_ROOT = Path(__file__).resolve().parents[1]
VOCAB = Vocabulary([f"w{i}" for i in range(12)])
GRID = (4, 4)


def tiny_model(penalty: float = 1.0, dropout: float = 0.0, seed: int = 0):
    keras.utils.set_random_seed(seed)
    return build_attention_model(
        len(VOCAB), (16, 6), embed_dim=8, units=12, attention_units=10, dropout=dropout,
        penalty=penalty,
    )  # fmt: skip


def batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    caption = np.array([[2, 5, 6, 7, 0, 0], [2, 8, 0, 0, 0, 0], [2, 5, 9, 9, 9, 4]], "int32")
    return {"image": rng.normal(size=(3, 16, 6)).astype("float32"), "caption": caption}


def weights_of(model, inputs):
    """The (B, T, L) attention weights of a teacher-forced pass."""
    layer = model.get_layer("attention_lstm")
    probe = keras.Model(model.inputs, layer.output[2])
    return ops.convert_to_numpy(probe(inputs, training=False))


def test_the_model_is_recognised_and_outputs_distributions_over_words():
    model = tiny_model()
    assert model_kind(model) == "attention"
    probs = ops.convert_to_numpy(model(batch(), training=False))
    assert probs.shape == (3, 6, len(VOCAB))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_attention_weights_are_a_distribution_over_the_grid_at_every_step():
    alphas = weights_of(tiny_model(), batch())
    assert alphas.shape == (3, 6, 16)
    assert (alphas >= 0).all()
    np.testing.assert_allclose(alphas.sum(-1), 1.0, rtol=1e-5)
    assert not np.allclose(alphas, 1 / 16)  # they do depend on the regions and the state


def test_padding_after_a_caption_changes_nothing_at_its_words():
    model, inputs = tiny_model(), batch()
    longer = dict(inputs, caption=np.pad(inputs["caption"], ((0, 0), (0, 4))))
    real = inputs["caption"] != 0
    for out in (lambda m, x: ops.convert_to_numpy(m(x, training=False)), weights_of):
        short, padded = out(model, inputs), out(model, longer)
        np.testing.assert_allclose(padded[:, :6][real], short[real], atol=1e-6)


def test_the_doubly_stochastic_penalty_counts_real_words_only():
    model = tiny_model(penalty=2.0)
    layer = model.get_layer("attention_lstm")
    inputs = batch()
    model(inputs, training=True)
    (penalty,) = [float(ops.convert_to_numpy(x)) for x in layer.losses]
    alphas = weights_of(model, inputs)
    real = (inputs["caption"] != 0)[..., None]
    expected = 2.0 * np.mean(np.sum((1.0 - (alphas * real).sum(1)) ** 2, axis=-1))
    assert penalty == pytest.approx(expected, rel=1e-5)
    longer = dict(inputs, caption=np.pad(inputs["caption"], ((0, 0), (0, 3))))
    model(longer, training=True)  # more padding: the same penalty
    again = [float(ops.convert_to_numpy(x)) for x in layer.losses]
    assert again == pytest.approx([penalty], rel=1e-5)
    model(inputs, training=False)
    assert layer.losses == []  # not part of the validation loss


def test_the_step_model_reproduces_the_full_model():
    model, inputs = tiny_model(), batch()
    probs = ops.convert_to_numpy(model(inputs, training=False))
    alphas = weights_of(model, inputs)
    step = build_attention_step_model(model)
    state = step.init(inputs["image"])
    for t in range(inputs["caption"].shape[1]):
        p, state = step.step(inputs["caption"][:, t], state)
        np.testing.assert_allclose(p, probs[:, t], atol=1e-5)
        np.testing.assert_allclose(state["alpha"], alphas[:, t], atol=1e-5)


def test_beam_search_of_width_one_is_greedy_with_the_same_weights():
    model, images = tiny_model(seed=3), batch(1)["image"]
    greedy = greedy_decode(model, images, VOCAB, max_tokens=5)
    beam = beam_search_decode(model, images, VOCAB, max_tokens=5, beam_width=1)
    assert greedy.captions == beam.captions
    for g, b, caption in zip(greedy.attention, beam.attention, greedy.captions, strict=True):
        assert g.shape == (min(len(caption) + 1, 5), 16)
        np.testing.assert_allclose(g, b, atol=1e-6)


def test_wider_beams_return_the_weights_of_the_caption_they_chose():
    model, images = tiny_model(seed=3), batch(1)["image"]
    decoded = beam_search_decode(model, images, VOCAB, max_tokens=5, beam_width=3)
    captions, scores, weights = decoded.captions, decoded.scores, decoded.attention
    step = build_attention_step_model(model)
    for image, caption, w in zip(images, captions, weights, strict=True):
        state, word = step.init(image[None]), VOCAB.start_id
        for t, token in enumerate([*VOCAB.encode(caption)[1:-1], VOCAB.end_id][: len(w)]):
            _, state = step.step(np.array([word]), state)
            np.testing.assert_allclose(state["alpha"][0], w[t], atol=1e-5)
            word = token
    assert len(scores) == len(captions)


def test_a_model_without_attention_decodes_without_weights():
    merge = build_merge_model(len(VOCAB), 6, embed_dim=8, units=8)
    features = np.zeros((2, 6), "float32")
    assert greedy_decode(merge, features, VOCAB, max_tokens=3).attention is None
    assert beam_search_decode(merge, features, VOCAB, max_tokens=3).attention is None


def test_a_saved_model_reloads_in_safe_mode_and_trains(tmp_path):
    model, inputs = tiny_model(), batch()
    compile_captioner(model, 1e-2)
    targets = np.concatenate([inputs["caption"][:, 1:], np.zeros((3, 1), "int32")], axis=1)
    history = model.fit(inputs, targets, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "a.keras")
    again = load_captioner(tmp_path / "a.keras")
    expected = ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(ops.convert_to_numpy(again(inputs)), expected, atol=1e-6)
    # A new process that has not imported course_lib.attention loads it too (as chapter 8 and
    # the command line do after a restart).
    script = "from course_lib.training import load_captioner; import sys; "
    script += "print(load_captioner(sys.argv[1]).get_layer('region_positions').name)"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "a.keras")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip() == "region_positions", out.stderr[-2000:]


# ------------------------------------------------------------------------ attention correctness

SCENE = {
    "width": 80,
    "height": 80,
    "objects": [
        {"shape": "circle", "colour": "red", "size": "large", "x": 10, "y": 10, "r": 10},
        {"shape": "square", "colour": "blue", "size": "small", "x": 70, "y": 40, "r": 10},
    ],
    "relations": [{"subject": 0, "relation": "left of", "object": 1}],
}


def test_box_coverage_is_the_share_of_each_cell_inside_the_box():
    cover = box_coverage(SCENE["objects"][0], SCENE, GRID).reshape(GRID)
    expected = np.zeros(GRID)
    expected[0, 0] = 1.0  # the circle's box is exactly the top-left 20 × 20 cell
    np.testing.assert_allclose(cover, expected)
    square = box_coverage(SCENE["objects"][1], SCENE, GRID).reshape(GRID)
    assert square[1, 3] == pytest.approx(0.5) and square[2, 3] == pytest.approx(0.5)
    assert square.sum() == pytest.approx(1.0)  # half of two cells


def one_hot(cells: list[int]) -> np.ndarray:
    rows = np.zeros((len(cells), 16))
    rows[np.arange(len(cells)), cells] = 1.0
    return rows


def test_attention_on_the_named_object_scores_one_and_elsewhere_zero():
    tokens = "a large red circle left of a small blue square".split()
    # Where the model looked at each word: the circle's cell (0, 0) for "large red circle",
    # the square's cells (1, 3) and (2, 3) = 7 and 11 for "small blue square".
    right = one_hot([5, 0, 0, 0, 5, 5, 5, 0, 0, 0, 5])
    right[7:10] = 0.0
    right[7:10, [7, 11]] = 0.5
    result = attention_correctness({"x": tokens}, {"x": right}, {"x": SCENE}, GRID)
    assert result["n_words"] == 6 and result["correctness"] == pytest.approx(0.75)
    assert [d["box"] for d in result["details"]] == [(0, 0, 20, 20)] * 3 + [(60, 30, 80, 50)] * 3
    assert result["by_kind"]["shape"]["correctness"] == pytest.approx(0.75)  # 1 and 0.5
    assert result["chance"] == pytest.approx(1 / 16)
    assert result["by_kind"]["shape"]["n_words"] == 2
    wrong = one_hot([5, 15, 15, 15, 5, 5, 5, 0, 0, 0, 5])  # each object named, elsewhere seen
    assert attention_correctness({"x": tokens}, {"x": wrong}, {"x": SCENE}, GRID)[
        "correctness"
    ] == pytest.approx(0.0)
    uniform = np.full((11, 16), 1 / 16)
    spread = attention_correctness({"x": tokens}, {"x": uniform}, {"x": SCENE}, GRID)
    assert spread["correctness"] == pytest.approx(spread["chance"])  # chance is uniform attention


def test_words_naming_objects_not_in_the_scene_are_not_counted():
    tokens = "a green triangle and a red circle".split()
    result = attention_correctness({"x": tokens}, {"x": one_hot([0] * 7)}, {"x": SCENE}, GRID)
    assert [d["word"] for d in result["details"]] == ["red", "circle"]
    nothing = attention_correctness(
        {"x": ["a", "dog"]}, {"x": one_hot([0] * 3)}, {"x": SCENE}, GRID
    )
    assert (nothing["correctness"], nothing["ratio"], nothing["n_words"]) == (None, None, 0)
    with pytest.raises(ValueError, match="expected"):
        attention_correctness({"x": tokens}, {"x": np.ones((7, 9))}, {"x": SCENE}, GRID)


def test_region_positions_append_each_cells_place_row_by_row():
    regions = np.zeros((2, 9, 3), "float32")
    out = ops.convert_to_numpy(RegionPositions()(regions))
    assert out.shape == (2, 9, 5)
    np.testing.assert_array_equal(out[0, :, :3], 0.0)
    places = out[0, :, 3:].reshape(3, 3, 2)  # (row, column, (x, y))
    np.testing.assert_array_equal(places[0, :, 0], [-1, 0, 1])  # x grows along a row
    np.testing.assert_array_equal(places[:, 0, 1], [-1, 0, 1])  # y grows down the rows
    np.testing.assert_array_equal(out[0], out[1])
    with pytest.raises(ValueError, match="square grid"):
        RegionPositions()(np.zeros((1, 6, 3), "float32"))


def test_placed_regions_appends_each_regions_place_after_the_projection():
    image = keras.Input(shape=(16, 6))
    placed = keras.Model(image, placed_regions(image, units=5, dropout=0.0))
    out = ops.convert_to_numpy(placed(batch(0)["image"]))
    assert out.shape == (3, 16, 5 + 2)
    places = out[0, :, -2:]  # (x, y) of the 4 x 4 grid, row by row
    np.testing.assert_allclose(places[:4, 1], -1.0)  # the top row
    np.testing.assert_allclose(places[::4, 0], -1.0)  # the left column
    np.testing.assert_allclose(places[-1], [1.0, 1.0])


def test_the_pipelines_log_probabilities_in_batches_are_the_decoders():
    model = tiny_model(seed=4)
    captioner = Captioner(model, VOCAB, 6, Path("."), {}, None)
    images = batch(2)["image"]
    captions = [["w3", "w4"], ["w5"], ["w6", "w6", "w7"]]
    whole = sequence_log_probs(model, images, VOCAB, captions)
    parts = caption_log_probs(captioner, images, captions, batch=2)
    np.testing.assert_allclose(parts, whole, atol=1e-5)
    with pytest.raises(ValueError, match="2 captions for 3 images"):
        caption_log_probs(captioner, images, captions[:2])


def test_a_timed_training_step_takes_some_time_and_trains():
    model = tiny_model(seed=5)
    before = [w.copy() for w in model.get_weights()]
    seconds = step_seconds(model, 0.01, steps=2, batch=4, length=5)
    assert 0.0 < seconds < 60.0
    after = model.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
