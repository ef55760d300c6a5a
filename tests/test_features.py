"""Backbones, feature extraction, the feature cache (metadata checks, corruption, resumption)
and the small CNN's pretraining on synthetic scenes."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image, ImageDraw

from course_lib import features as F

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220)}
SHAPES = ("circle", "square")


# --------------------------------------------------------------------------------------
# Fixtures: tiny datasets in Flickr8k's layout
# --------------------------------------------------------------------------------------


@dataclass
class TinyDataset:
    """Stand-in for ``course_lib.data.CaptionDataset`` (same attributes used by features)."""

    name: str
    root: Path
    image_dir: Path
    captions: dict[str, list[str]]
    splits: dict[str, list[str]]
    skipped: list = field(default_factory=list)
    scenes: dict[str, dict] | None = None

    def image_path(self, image_id: str) -> Path:
        return self.image_dir / image_id


def _draw_scene(rng: random.Random, width: int = 96, height: int = 64) -> tuple[Image.Image, dict]:
    image = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    n = rng.choice((1, 2))
    pairs = rng.sample([(c, s) for c in COLOURS for s in SHAPES], n)
    xs = rng.sample([20, 48, 76], n)
    objects = []
    for (colour, shape), x in zip(pairs, xs, strict=True):
        size = rng.choice(("small", "large"))
        r = 7 if size == "small" else 13
        y = rng.randint(r + 2, height - r - 2)
        box = (x - r, y - r, x + r, y + r)
        if shape == "circle":
            draw.ellipse(box, fill=COLOURS[colour])
        else:
            draw.rectangle(box, fill=COLOURS[colour])
        objects.append({"shape": shape, "colour": colour, "size": size, "x": x, "y": y, "r": r})
    relations = []
    if n == 2:
        rel = "left of" if objects[0]["x"] < objects[1]["x"] else "right of"
        relations.append({"subject": 0, "relation": rel, "object": 1})
    scene = {"width": width, "height": height, "background": "white", "objects": objects,
             "relations": relations}  # fmt: skip
    return image, scene


def make_dataset(root: Path, n_images: int = 12, seed: int = 0, name: str = "synthetic"):
    """Write a tiny synthetic dataset in Flickr8k's layout and load it."""
    rng = random.Random(seed)
    image_dir = root / "Flicker8k_Dataset"
    image_dir.mkdir(parents=True, exist_ok=True)
    ids, scenes, lines = [], {}, []
    for k in range(n_images):
        image_id = f"syn_{k:05d}.jpg"
        image, scene = _draw_scene(rng)
        image.save(image_dir / image_id, quality=95)
        ids.append(image_id)
        scenes[image_id] = scene
        obj = scene["objects"][0]
        for j in range(5):
            lines.append(f"{image_id}#{j}\ta {obj['colour']} {obj['shape']}")
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    n_train = max(1, int(0.7 * n_images))
    n_dev = max(1, (n_images - n_train) // 2)
    splits = {
        "train": ids[:n_train],
        "dev": ids[n_train : n_train + n_dev],
        "test": ids[n_train + n_dev :],
    }
    for split, fname in (
        ("train", "Flickr_8k.trainImages.txt"),
        ("dev", "Flickr_8k.devImages.txt"),
        ("test", "Flickr_8k.testImages.txt"),
    ):
        (root / fname).write_text("".join(f"{i}\n" for i in splits[split]))
    (root / "scenes.json").write_text(json.dumps(scenes))
    try:  # the real loader once course_lib.data provides it
        from course_lib.data import load_dataset
    except ImportError:
        captions: dict[str, list[str]] = {}
        for line in lines:
            key, caption = line.split("\t")
            captions.setdefault(key.split("#")[0], []).append(caption)
        return TinyDataset(name, root, image_dir, captions, splits, scenes=scenes)
    return load_dataset(root, name=name)


@pytest.fixture
def tiny(tmp_path):
    """Ten 96×64 JPEG scenes in Flickr8k's layout."""
    return make_dataset(tmp_path / "synthetic", n_images=10)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def _extract(dataset, data_dir, **kw):
    kw.setdefault("weights", None)
    kw.setdefault("image_size", 32)
    kw.setdefault("batch_size", 4)
    kw.setdefault("progress", False)
    return F.extract_features(dataset, "smallcnn", data_dir=data_dir, **kw)


# --------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------


def test_smallcnn_maps_images_to_256_features():
    model = F.build_backbone("smallcnn", weights=None, image_size=64)
    out = model(np.zeros((2, 64, 64, 3), dtype=np.float32), training=False)
    assert tuple(out.shape) == (2, 256)


def test_smallcnn_random_init_is_seeded():
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    a = F.build_backbone("smallcnn", weights=None, image_size=32).predict_on_batch(x)
    b = F.build_backbone("smallcnn", weights=None, image_size=32).predict_on_batch(x)
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_vgg16_without_weights_gives_4096_fc2_features():
    model = F.build_backbone("vgg16", weights=None, image_size=224)
    out = model.predict_on_batch(np.zeros((1, 224, 224, 3), dtype=np.float32))
    assert out.shape == (1, 4096)
    assert model.layers[-1].get_layer("fc2") is not None


def test_vgg16_preprocessing_matches_keras_preprocess_input():
    import keras

    x = np.random.default_rng(1).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    ours = np.asarray(F._vgg16_preprocess_layer()(x))
    theirs = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-4)


def test_vgg16_refuses_other_image_sizes():
    with pytest.raises(ValueError, match="224"):
        F.build_backbone("vgg16", weights=None, image_size=128)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        F.build_backbone("resnet", weights=None, image_size=64)


def test_describe_preprocessing_names_the_steps():
    assert "preprocess_input" in F.describe_preprocessing("vgg16")
    assert "224x224" in F.describe_preprocessing("vgg16")
    assert "[0, 1]" in F.describe_preprocessing("smallcnn", 64)


# --------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------


def test_extraction_equals_direct_model_call(tiny, data_dir):
    store = _extract(tiny, data_dir)
    ids = F.dataset_image_ids(tiny)
    assert store.image_ids == ids
    assert store.features.shape == (len(ids), 256)
    assert store.features.dtype == np.float32
    model = F.build_backbone("smallcnn", weights=None, image_size=32)
    images = F.read_images([tiny.image_path(i) for i in ids], 32)
    direct = np.asarray(model(images, training=False))
    np.testing.assert_allclose(store.features, direct, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(store.matrix(ids[::-1]), store.features[::-1])
    assert store.dim == 256 and len(store) == len(ids)
    np.testing.assert_array_equal(store[ids[3]], store.features[3])


def test_read_images_matches_pil_decoding_at_native_size(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(pixels).save(path)
    np.testing.assert_array_equal(F.read_images([path], 16)[0], pixels.astype(np.float32))


def test_metadata_records_settings_and_version(tiny, data_dir):
    store = _extract(tiny, data_dir)
    meta = store.metadata
    assert meta["backbone"] == "smallcnn" and meta["weights"] is None
    assert meta["image_size"] == 32 and meta["feature_dim"] == 256
    assert meta["preprocessing"] == F.describe_preprocessing("smallcnn", 32)
    assert meta["dataset"] == tiny.name
    assert meta["dataset_fingerprint"] == F.dataset_fingerprint(tiny)
    assert meta["n_images"] == len(store)
    assert meta["skipped"] == []
    assert "course_lib_version" in meta
    path = F.feature_cache_path(tiny.name, "smallcnn", None, 32, data_dir)
    assert path.name == "synthetic-smallcnn-None-32.npz" and path.is_file()


def test_cache_hit_returns_identical_features_without_running_the_model(
    tiny, data_dir, monkeypatch
):
    first = _extract(tiny, data_dir)

    def fail(*args, **kwargs):
        raise AssertionError("the model must not run on a cache hit")

    monkeypatch.setattr(F, "build_backbone", fail)
    monkeypatch.setattr(F, "_predict", fail)
    second = _extract(tiny, data_dir)
    np.testing.assert_array_equal(first.features, second.features)
    assert first.image_ids == second.image_ids


def test_cache_with_different_preprocessing_is_refused_naming_the_field(tiny, data_dir):
    store = _extract(tiny, data_dir)
    path = F.feature_cache_path(tiny.name, "smallcnn", None, 32, data_dir)
    expected = {k: store.metadata[k] for k in F.KEY_FIELDS}
    assert F.load_feature_cache(path, expected).image_ids == store.image_ids
    expected["preprocessing"] = "scale to [-1, 1]"
    with pytest.raises(F.FeatureCacheError) as info:
        F.load_feature_cache(path, expected)
    message = str(info.value)
    assert str(path) in message and "'preprocessing'" in message
    assert "scale to [-1, 1]" in message and "[0, 1]" in message
    assert "delete" in message


def test_stale_cache_is_rebuilt_not_used(tiny, data_dir, caplog):
    store = _extract(tiny, data_dir)
    path = F.feature_cache_path(tiny.name, "smallcnn", None, 32, data_dir)
    meta = dict(store.metadata, preprocessing="something else")
    F.save_feature_cache(path, F.FeatureStore(store.image_ids, store.features * 0, meta))
    with caplog.at_level("WARNING", logger="course_lib.features"):
        rebuilt = _extract(tiny, data_dir)
    assert "'preprocessing'" in caplog.text
    np.testing.assert_allclose(rebuilt.features, store.features, rtol=1e-6, atol=1e-6)
    assert F.load_feature_cache(path, {"preprocessing": store.metadata["preprocessing"]})


def test_corrupt_cache_is_detected_and_rebuilt(tiny, data_dir, caplog):
    store = _extract(tiny, data_dir)
    path = F.feature_cache_path(tiny.name, "smallcnn", None, 32, data_dir)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(F.FeatureCacheError, match="corrupt or truncated"):
        F.load_feature_cache(path)
    with caplog.at_level("WARNING", logger="course_lib.features"):
        rebuilt = _extract(tiny, data_dir)
    assert "corrupt" in caplog.text
    np.testing.assert_allclose(rebuilt.features, store.features, rtol=1e-6, atol=1e-6)
    F.load_feature_cache(path)


def test_interrupted_extraction_resumes_from_completed_chunks(tiny, data_dir, monkeypatch):
    reference = _extract(tiny, data_dir / "ref", chunk_size=4)
    real_predict = F._predict
    calls = {"n": 0}

    def interrupt_after_two(model, images):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real_predict(model, images)

    monkeypatch.setattr(F, "_predict", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        _extract(tiny, data_dir, chunk_size=4)
    path = F.feature_cache_path(tiny.name, "smallcnn", None, 32, data_dir)
    parts = sorted(p.name for p in (path.parent / (path.name + ".parts")).glob("chunk_*.npz"))
    assert parts == ["chunk_00000.npz", "chunk_00001.npz"] and not path.exists()

    monkeypatch.setattr(F, "_predict", real_predict)
    resumed = _extract(tiny, data_dir, chunk_size=4)
    assert resumed.metadata["images_computed"] == len(resumed) - 8
    assert resumed.image_ids == reference.image_ids
    np.testing.assert_allclose(resumed.features, reference.features, rtol=1e-6, atol=1e-6)
    assert not (path.parent / (path.name + ".parts")).exists()


def test_bad_images_are_skipped_and_reported_by_name(tiny, data_dir, capsys):
    ids = F.dataset_image_ids(tiny)
    tiny.image_path(ids[1]).write_bytes(b"this is not a jpeg")
    good = tiny.image_path(ids[4]).read_bytes()
    tiny.image_path(ids[4]).write_bytes(good[: len(good) // 3])  # truncated JPEG
    tiny.image_path(ids[6]).unlink()
    store = _extract(tiny, data_dir)
    skipped = {s["image_id"]: s["reason"] for s in store.metadata["skipped"]}
    assert set(skipped) == {ids[1], ids[4], ids[6]}
    assert skipped[ids[6]] == "file not found"
    assert store.image_ids == [i for i in ids if i not in skipped]
    out = capsys.readouterr().out
    assert "Skipped 3 image(s)" in out and ids[1] in out and ids[4] in out
    with pytest.raises(KeyError, match="skipped"):
        store[ids[1]]
    cached = F.load_feature_cache(F.feature_cache_path(tiny.name, "smallcnn", None, 32, data_dir))
    assert [s["image_id"] for s in cached.skipped] == sorted(skipped)


def test_subset_extraction_uses_its_own_cache(tiny, data_dir):
    ids = F.dataset_image_ids(tiny)[:3]
    store = _extract(tiny, data_dir, image_ids=ids)
    assert store.image_ids == ids
    full = _extract(tiny, data_dir)
    np.testing.assert_allclose(full.matrix(ids), store.features, rtol=1e-6, atol=1e-6)
    assert len(list(Path(data_dir, "features").glob("*.npz"))) == 2


# --------------------------------------------------------------------------------------
# Pretraining the small CNN on scenes
# --------------------------------------------------------------------------------------


def test_scene_attributes_encode_objects_and_relations():
    scene = {
        "objects": [
            {"shape": "circle", "colour": "red", "size": "small"},
            {"shape": "square", "colour": "blue", "size": "large"},
        ],
        "relations": [{"subject": 0, "relation": "left of", "object": 1}],
    }
    names = F.scene_attribute_names([scene])
    on = {n for n, v in zip(names, F.scene_attributes(scene, names), strict=True) if v}
    assert on == {
        "red circle", "blue square", "small red circle", "large blue square",
        "red circle left of", "blue square right of", "objects=2",
    }  # fmt: skip


@pytest.mark.slow
def test_train_scene_cnn_saves_a_loadable_backbone_with_metrics(tmp_path, data_dir):
    dataset = make_dataset(tmp_path / "synthetic", n_images=40)
    path = F.train_scene_cnn(dataset, epochs=1, seed=0, data_dir=data_dir, progress=False)
    assert path.name == f"smallcnn-{F.dataset_fingerprint(dataset)[:16]}.keras"
    metrics = F.scene_cnn_metrics(path)
    assert metrics["n_train"] == 28 and metrics["epochs"] == 1
    assert len(metrics["train_history"]["loss"]) == 1
    assert "dev_label_accuracy" in metrics and "red circle" in metrics["attributes"]

    model = F.build_backbone(
        "smallcnn", weights="scenes", image_size=64, data_dir=data_dir, dataset=dataset
    )
    out = model.predict_on_batch(np.zeros((2, 64, 64, 3), dtype=np.float32))
    assert out.shape == (2, 256)
    with pytest.raises(ValueError, match="64x64"):
        F.build_backbone(
            "smallcnn", weights="scenes", image_size=32, data_dir=data_dir, dataset=dataset
        )

    # Deterministic: retraining with the same seed gives the same features.
    before = np.asarray(out)
    F.train_scene_cnn(dataset, epochs=1, seed=0, data_dir=data_dir, progress=False)
    again = F.load_scene_cnn(path).predict_on_batch(np.zeros((2, 64, 64, 3), dtype=np.float32))
    np.testing.assert_allclose(before, again, rtol=1e-5, atol=1e-6)


def test_scene_weights_need_a_dataset_with_scenes(tiny, data_dir):
    tiny.scenes = None
    with pytest.raises(ValueError, match=r"scenes\.json"):
        F.build_backbone(
            "smallcnn", weights="scenes", image_size=64, data_dir=data_dir, dataset=tiny
        )


def test_images_that_only_tensorflow_fails_to_decode_are_skipped(tiny, data_dir, monkeypatch):
    ids = F.dataset_image_ids(tiny)
    tiny.image_path(ids[2]).write_bytes(b"GIF89a not really a gif")
    monkeypatch.setattr(F, "_check_image_file", lambda path: None)  # let it reach tf.data
    store = _extract(tiny, data_dir)
    skipped = {s["image_id"]: s["reason"] for s in store.skipped}
    assert list(skipped) == [ids[2]] and "TensorFlow could not decode" in skipped[ids[2]]
    assert len(store) == len(ids) - 1 and ids[2] not in store
