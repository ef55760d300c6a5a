"""Backbones, feature extraction, the feature cache (metadata checks, corruption, resumption)
and the small CNN's pretraining on synthetic scenes."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image, ImageDraw

from course_lib import backbones as B
from course_lib import features as F
from course_lib import scene_cnn as S
from course_lib.data import load_dataset
from course_lib.data.images import ImageError, load_image, read_images

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220)}
SHAPES = ("circle", "square")


# --------------------------------------------------------------------------------------
# Fixtures: tiny datasets in Flickr8k's layout
# --------------------------------------------------------------------------------------


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
    return load_dataset(root, name=name)


@pytest.fixture
def tiny(tmp_path):
    """Ten 96×64 JPEG scenes in Flickr8k's layout."""
    return make_dataset(tmp_path / "synthetic", n_images=10)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def _request(dataset, data_dir, **kw) -> F.FeatureRequest:
    kw.setdefault("weights", None)
    kw.setdefault("image_size", 32)
    kw.setdefault("batch_size", 4)
    kw.setdefault("progress", False)
    return F.FeatureRequest(dataset, "smallcnn", data_dir=data_dir, **kw)


def _extract(dataset, data_dir, **kw):
    return F.extract_features(_request(dataset, data_dir, **kw))


def _path(dataset, data_dir, **kw) -> Path:
    return F.feature_cache_path(_request(dataset, data_dir, **kw))


# --------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------


def test_smallcnn_maps_images_to_256_features():
    model = B.build_backbone("smallcnn", weights=None, image_size=64)
    out = model(np.zeros((2, 64, 64, 3), dtype=np.float32), training=False)
    assert tuple(out.shape) == (2, 256)


def test_smallcnn_random_init_is_seeded():
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    a = B.build_backbone("smallcnn", weights=None, image_size=32).predict_on_batch(x)
    b = B.build_backbone("smallcnn", weights=None, image_size=32).predict_on_batch(x)
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_vgg16_without_weights_gives_4096_fc2_features():
    model = B.build_backbone("vgg16", weights=None, image_size=224)
    out = model.predict_on_batch(np.zeros((1, 224, 224, 3), dtype=np.float32))
    assert out.shape == (1, 4096)
    assert model.layers[-1].get_layer("fc2") is not None


def test_vgg16_preprocessing_matches_keras_preprocess_input():
    import keras

    x = np.random.default_rng(1).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    ours = np.asarray(B.VGG16Preprocess()(x))
    theirs = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-4)


def test_vgg16_refuses_other_image_sizes():
    with pytest.raises(ValueError, match="224"):
        B.build_backbone("vgg16", weights=None, image_size=128)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        B.build_backbone("resnet", weights=None, image_size=64)


def test_describe_preprocessing_names_the_steps():
    assert "preprocess_input" in B.describe_preprocessing("vgg16")
    assert "224x224" in B.describe_preprocessing("vgg16")
    assert "[0, 1]" in B.describe_preprocessing("smallcnn", 64)


# --------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------


def test_extraction_equals_direct_model_call(tiny, data_dir):
    store = _extract(tiny, data_dir)
    ids = tiny.image_ids()
    assert store.image_ids == ids
    assert store.features.shape == (len(ids), 256)
    assert store.features.dtype == np.float32
    model = B.build_backbone("smallcnn", weights=None, image_size=32)
    images = read_images([tiny.image_path(i) for i in ids], 32)
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
    np.testing.assert_array_equal(read_images([path], 16)[0], pixels.astype(np.float32))


def test_metadata_records_settings_and_version(tiny, data_dir):
    store = _extract(tiny, data_dir)
    meta = store.metadata
    assert meta["backbone"] == "smallcnn" and meta["weights"] is None
    assert meta["image_size"] == 32 and meta["item_shape"] == [256]
    assert meta["dtype"] == "float32" and meta["spatial"] is False
    assert meta["preprocessing"] == B.describe_preprocessing("smallcnn", 32)
    assert meta["dataset"] == tiny.name
    assert meta["dataset_fingerprint"] == tiny.fingerprint()
    assert meta["n_images"] == len(store)
    assert meta["skipped"] == []
    assert "course_lib_version" in meta
    path = _path(tiny, data_dir)
    assert path.name == "synthetic-smallcnn-None-32" and (path / F.MANIFEST).is_file()
    assert [s["file"] for s in meta["shards"]] == ["shard-00000.npy"]


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
    path = _path(tiny, data_dir)
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
    path = _path(tiny, data_dir)
    meta = dict(store.metadata, preprocessing="something else")
    F.save_feature_cache(path, F.FeatureStore(store.image_ids, store.features * 0, meta))
    with caplog.at_level("WARNING", logger="course_lib.features"):
        rebuilt = _extract(tiny, data_dir)
    assert "'preprocessing'" in caplog.text
    np.testing.assert_allclose(rebuilt.features, store.features, rtol=1e-6, atol=1e-6)
    assert F.load_feature_cache(path, {"preprocessing": store.metadata["preprocessing"]})


def test_corrupt_cache_is_detected_and_rebuilt(tiny, data_dir, caplog):
    # Copied out of the memory map: truncating a mapped file in place would crash a reader.
    expected = _extract(tiny, data_dir).features
    path = _path(tiny, data_dir)
    shard = path / "shard-00000.npy"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(F.FeatureCacheError, match="corrupt or truncated") as info:
        F.load_feature_cache(path)
    assert str(shard) in str(info.value)
    with caplog.at_level("WARNING", logger="course_lib.features"):
        rebuilt = _extract(tiny, data_dir)
    assert "corrupt" in caplog.text
    np.testing.assert_allclose(rebuilt.features, expected, rtol=1e-6, atol=1e-6)
    F.load_feature_cache(path)


def test_interrupted_extraction_resumes_at_the_first_missing_shard(tiny, data_dir, monkeypatch):
    reference = _extract(tiny, data_dir / "ref", shard_size=4)
    real_predict = F._predict
    calls = {"n": 0}

    def interrupt_after_two(model, images):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real_predict(model, images)

    monkeypatch.setattr(F, "_predict", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        _extract(tiny, data_dir, shard_size=4)
    path = _path(tiny, data_dir)
    shards = sorted(p.name for p in path.glob("shard-*.npy"))
    assert shards == ["shard-00000.npy", "shard-00001.npy"]
    assert not (path / F.MANIFEST).exists()
    with pytest.raises(F.FeatureCacheError, match="no complete feature store"):
        F.load_feature_cache(path)

    monkeypatch.setattr(F, "_predict", real_predict)
    resumed = _extract(tiny, data_dir, shard_size=4)
    assert resumed.metadata["images_computed"] == len(resumed) - 8
    assert resumed.image_ids == reference.image_ids
    np.testing.assert_allclose(resumed.features, reference.features, rtol=1e-6, atol=1e-6)
    assert [s["n"] for s in resumed.metadata["shards"]] == [4, 4, 2]


def test_bad_images_are_skipped_and_reported_by_name(tiny, data_dir, capsys):
    ids = tiny.image_ids()
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
    cached = F.load_feature_cache(_path(tiny, data_dir))
    assert [s["image_id"] for s in cached.skipped] == sorted(skipped)


def test_subset_extraction_uses_its_own_cache(tiny, data_dir):
    ids = tiny.image_ids()[:3]
    store = _extract(tiny, data_dir, image_ids=ids)
    assert store.image_ids == ids
    full = _extract(tiny, data_dir)
    np.testing.assert_allclose(full.matrix(ids), store.features, rtol=1e-6, atol=1e-6)
    assert len(list(Path(data_dir, "features").glob("*/manifest.json"))) == 2


def test_grids_are_stored_in_float16_and_memory_mapped(tiny, data_dir):
    store = _extract(tiny, data_dir, image_size=64, spatial=True)
    ids = tiny.image_ids()
    assert store.spatial and store.item_shape == (64, 128) and store.dim == 128
    assert all(isinstance(s, np.memmap) and s.dtype == np.float16 for s in store.shards)
    model = B.build_backbone("smallcnn", weights=None, image_size=64, spatial=True)
    direct = model.predict_on_batch(read_images([tiny.image_path(i) for i in ids[:3]], 64))
    np.testing.assert_allclose(store.matrix(ids[:3]), direct, rtol=1e-2, atol=1e-2)
    vectors = _extract(tiny, data_dir, image_size=64)
    assert not vectors.spatial and vectors.item_shape == (256,)
    path = _path(tiny, data_dir, image_size=64, spatial=True)
    assert path.name.endswith("-grid") and store.metadata["dtype"] == "float16"


def test_a_grid_store_is_reloaded_without_the_model_and_refuses_other_settings(
    tiny, data_dir, monkeypatch
):
    first = _extract(tiny, data_dir, image_size=64, spatial=True)

    def fail(*args, **kwargs):
        raise AssertionError("the model must not run on a cache hit")

    monkeypatch.setattr(F, "build_backbone", fail)
    monkeypatch.setattr(F, "_predict", fail)
    again = _extract(tiny, data_dir, image_size=64, spatial=True)
    assert again.image_ids == first.image_ids and again.item_shape == (64, 128)
    np.testing.assert_array_equal(again.matrix(again.image_ids), first.matrix(first.image_ids))
    path = _path(tiny, data_dir, image_size=64, spatial=True)
    wanted = {k: first.metadata[k] for k in F.KEY_FIELDS} | {"preprocessing": "other"}
    with pytest.raises(F.FeatureCacheError, match="'preprocessing'"):
        F.load_feature_cache(path, wanted)


def test_a_grid_store_refuses_a_request_for_vectors(tiny, data_dir):
    grid = _extract(tiny, data_dir, image_size=64, spatial=True)
    path = _path(tiny, data_dir, image_size=64, spatial=True)
    wanted = {k: grid.metadata[k] for k in F.KEY_FIELDS} | {"spatial": False}
    with pytest.raises(F.FeatureCacheError, match="'spatial'"):
        F.load_feature_cache(path, wanted)


def test_save_and_load_an_in_memory_store_in_several_shards(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"img{k}" for k in range(7)]
    store = F.FeatureStore(ids, rng.normal(size=(7, 5)).astype(np.float32), {"dataset": "x"})
    path = F.save_feature_cache(tmp_path / "store", store, shard_size=3)
    assert sorted(p.name for p in path.glob("shard-*.npy")) == [
        "shard-00000.npy", "shard-00001.npy", "shard-00002.npy"
    ]  # fmt: skip
    loaded = F.load_feature_cache(path, {"dataset": "x"})
    assert loaded.image_ids == ids
    np.testing.assert_array_equal(loaded.matrix(ids[::-1]), store.features[::-1])


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
    names = S.scene_attribute_names([scene])
    on = {n for n, v in zip(names, S.scene_attributes(scene, names), strict=True) if v}
    assert on == {
        "red circle", "blue square", "small red circle", "large blue square",
        "red circle left of", "blue square right of", "objects=2",
    }  # fmt: skip


def train_scene_cnn(dataset, data_dir, seed: int = 0):
    """The small CNN pretrained on ``dataset`` for one epoch, where the pipeline keeps it."""
    path = S.scene_cnn_path(dataset, data_dir, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    return S.train_scene_cnn(dataset, path, image_size=64, epochs=1, seed=seed, progress=False)


@pytest.mark.slow
def test_train_scene_cnn_saves_a_loadable_backbone_with_metrics(tmp_path, data_dir):
    dataset = make_dataset(tmp_path / "synthetic", n_images=40)
    path = train_scene_cnn(dataset, data_dir)
    assert path.name == f"smallcnn-{dataset.fingerprint()[:16]}-seed0.keras"
    metrics = S.scene_cnn_metrics(path)
    assert metrics["n_train"] == 28 and metrics["epochs"] == 1
    assert len(metrics["train_history"]["loss"]) == 1
    assert "dev_label_accuracy" in metrics and "red circle" in metrics["attributes"]

    model = B.build_backbone("smallcnn", weights="scenes", image_size=64, weights_file=path)
    out = model.predict_on_batch(np.zeros((2, 64, 64, 3), dtype=np.float32))
    assert out.shape == (2, 256)
    with pytest.raises(ValueError, match="64x64"):
        B.build_backbone("smallcnn", weights="scenes", image_size=32, weights_file=path)

    # Deterministic: retraining with the same seed gives the same features.
    before = np.asarray(out)
    train_scene_cnn(dataset, data_dir)
    again = S.load_scene_cnn(path).predict_on_batch(np.zeros((2, 64, 64, 3), dtype=np.float32))
    np.testing.assert_allclose(before, again, rtol=1e-5, atol=1e-6)


def test_scene_weights_need_a_dataset_with_scenes(tiny, data_dir):
    tiny.scenes = None
    with pytest.raises(ValueError, match=r"scenes\.json"):
        S.ensure_scene_cnn(tiny, data_dir, progress=False)


def test_building_or_keying_a_pretrained_backbone_never_trains_it(tiny, data_dir):
    with pytest.raises(ValueError, match="weights_file"):
        B.build_backbone("smallcnn", weights="scenes", image_size=64)
    with pytest.raises(ValueError, match="backbone_weights"):
        F.expected_metadata(_request(tiny, data_dir, weights="scenes", image_size=64))
    assert not S.scene_cnn_path(tiny, data_dir).exists()


def test_an_unreadable_image_is_skipped_with_the_reason_load_image_gives(tiny, data_dir):
    ids = tiny.image_ids()
    tiny.image_path(ids[2]).write_bytes(b"GIF89a not really a gif")
    with pytest.raises(ImageError) as err:
        load_image(tiny.image_path(ids[2]), 32)
    store = _extract(tiny, data_dir)
    skipped = {s["image_id"]: s["reason"] for s in store.skipped}
    assert skipped == {ids[2]: err.value.reason}
    assert len(store) == len(ids) - 1 and ids[2] not in store
    again = _extract(tiny, data_dir)  # read back from the cache: the reason is kept
    assert again.skipped == store.skipped


# --------------------------------------------------------------------------------------
# Extraction split into parts (--shard i/n) and joined
# --------------------------------------------------------------------------------------


def _part(dataset, data_dir, part, **kw):
    return F.extract_feature_part(_request(dataset, data_dir, **kw), part)


def _join(dataset, data_dir, parts, **kw):
    return F.join_feature_parts(_request(dataset, data_dir, **kw), parts)


@pytest.mark.parametrize("spatial", [False, True], ids=["vectors", "grids"])
def test_parts_joined_equal_one_extraction(tiny, data_dir, spatial):
    reference = _extract(tiny, data_dir / "ref", shard_size=3, spatial=spatial)
    folders = [_part(tiny, data_dir, (i, 2), shard_size=3, spatial=spatial) for i in (1, 0)]
    records = [json.loads((f / F.PART_RECORD).read_text()) for f in folders]
    assert [r["shards"] for r in records] == [[1, 3], [0, 2]]  # 10 images, shards of 3
    store = _join(tiny, data_dir, 2, shard_size=3, spatial=spatial)
    assert store.image_ids == reference.image_ids
    np.testing.assert_array_equal(store.features, reference.features)
    assert store.metadata["images_computed"] == 0  # every shard came from a part
    assert not any(f.exists() for f in folders)
    again = _extract(tiny, data_dir, shard_size=3, spatial=spatial)  # the store is reused
    np.testing.assert_array_equal(again.features, reference.features)


def test_join_refuses_a_missing_part_naming_the_command(tiny, data_dir):
    _part(tiny, data_dir, (0, 3), shard_size=3)
    _part(tiny, data_dir, (2, 3), shard_size=3)
    with pytest.raises(F.FeatureCacheError, match=r"part 1 of 3 is missing.*--shard 1/3"):
        _join(tiny, data_dir, 3, shard_size=3)
    # nothing was moved: the two finished parts are intact
    path = _path(tiny, data_dir)
    assert (F.part_path(path, (0, 3)) / F.PART_RECORD).is_file()
    assert not (path / F.MANIFEST).exists()


def test_join_refuses_parts_made_with_other_settings_naming_the_field(tiny, data_dir):
    _part(tiny, data_dir, (0, 2), shard_size=3)
    folder = _part(tiny, data_dir, (1, 2), shard_size=3)
    record = json.loads((folder / F.PART_RECORD).read_text())
    record["preprocessing"] = "something else"  # as if made by another version of the course
    (folder / F.PART_RECORD).write_text(json.dumps(record))
    with pytest.raises(F.FeatureCacheError, match=r"part-1-of-2.*field 'preprocessing'"):
        _join(tiny, data_dir, 2, shard_size=3)
    with pytest.raises(F.FeatureCacheError, match=r"field 'shard_size'"):
        _join(tiny, data_dir, 2, shard_size=4)


def test_a_part_records_its_skipped_images_for_the_join(tiny, data_dir):
    broken = Path(tiny.image_path(tiny.image_ids()[4]))
    broken.write_bytes(b"<html>not an image</html>")
    for i in range(2):
        _part(tiny, data_dir, (i, 2), shard_size=3)
    store = _join(tiny, data_dir, 2, shard_size=3)
    assert [s["image_id"] for s in store.skipped] == [tiny.image_ids()[4]]
    assert len(store) == len(tiny.image_ids()) - 1


def test_a_part_is_refused_outside_its_range(tiny, data_dir):
    with pytest.raises(ValueError, match=r"0\.\.n-1"):
        _part(tiny, data_dir, (2, 2))


# --------------------------------------------------------------------------------------
# The store's pieces, one idea each (the appendix page shows them)
# --------------------------------------------------------------------------------------


def test_a_shard_is_reused_only_with_its_settings_and_its_bytes(tmp_path, caplog):
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    meta = {"backbone": "smallcnn", "planned": "abc"}
    F.write_shard(tmp_path, 4, ["a", "b"], rows, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "shard-00004.json",
        "shard-00004.npy",
    ]
    ids, array = F.reusable_shard(tmp_path, 4, meta)
    assert ids == ["a", "b"] and np.array_equal(array, rows)
    assert F.reusable_shard(tmp_path, 4, {**meta, "planned": "other"}) is None
    assert F.reusable_shard(tmp_path, 5, meta) is None  # never written
    del array
    path = tmp_path / F.shard_name(4)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with caplog.at_level("WARNING", logger="course_lib.features"):
        assert F.reusable_shard(tmp_path, 4, meta) is None
    assert "SHA-256" in caplog.text


def test_check_settings_names_the_field_and_shows_the_folder_in_the_data_folder():
    from course_lib import config

    path = config.features_dir() / "a-store"
    manifest = {"backbone": "smallcnn", "image_size": 64}
    F.check_settings(path, manifest, {"image_size": 64})
    with pytest.raises(F.FeatureCacheError) as info:
        F.check_settings(path, manifest, {"backbone": "vgg16"})
    message = str(info.value)
    assert message.startswith("<data>/features/a-store: field 'backbone'")
    assert "expected 'vgg16', found 'smallcnn'" in message
    assert str(config.data_dir()) not in message


def test_the_store_is_opened_in_three_checked_steps(tmp_path):
    store = F.FeatureStore(["x", "y", "z"], np.ones((3, 2), np.float32), {"k": 1})
    path = F.save_feature_cache(tmp_path / "store", store, shard_size=2)
    manifest = F.read_manifest(path)
    assert [s["n"] for s in manifest["shards"]] == [2, 1]
    assert F.open_shards(path, manifest).image_ids == ["x", "y", "z"]
    with pytest.raises(F.FeatureCacheError, match="no complete feature store"):
        F.read_manifest(tmp_path)
    assert F.as_json({"t": (1, 2)}) == {"t": [1, 2]}
