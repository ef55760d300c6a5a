"""CNN backbones, batched feature extraction and the feature cache.

The captioning models never see pixels: each image is turned once into a feature vector by a
CNN *backbone* and the vectors are cached on disk.

- ``"vgg16"`` (full profile): VGG16 trained on ImageNet, cut after its second fully connected
  layer ``fc2``, so each 224×224 photo becomes a 4096-d vector.
- ``"smallcnn"`` (mini profile): a small CNN pretrained here on the synthetic scenes (to name
  the colours, shapes, sizes and relations of the objects), the way VGG16 was pretrained on
  ImageNet; each 64×64 scene becomes a 256-d vector.

Every backbone is a ``keras.Model`` that takes RGB images in the 0–255 range, shape
``(B, S, S, 3)`` float32, and does its own preprocessing (see :func:`describe_preprocessing`).

The cache ``<features_dir>/<dataset>-<backbone>-<weights>-<size>.npz`` holds ``ids``,
``features`` (N, D) float32 and a JSON ``metadata`` string; it is only reused when its metadata
matches the request (dataset fingerprint, backbone, weights, image size, preprocessing, image
set). Extraction is written in chunks, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, config
from .io import atomic_path, atomic_write_json, file_lock, read_json, sha256_file

logger = logging.getLogger(__name__)

BACKBONES = ("smallcnn", "vgg16")
#: Input side that each backbone expects (VGG16 with its top layers needs 224).
DEFAULT_IMAGE_SIZE = {"smallcnn": 64, "vgg16": 224}
#: Feature vector length of each backbone.
FEATURE_DIM = {"smallcnn": 256, "vgg16": 4096}
#: ImageNet channel means in BGR order, as in ``keras.applications.vgg16.preprocess_input``.
VGG16_BGR_MEAN = (103.939, 116.779, 123.68)
#: Images per chunk file written during extraction (the unit of resumption).
DEFAULT_CHUNK_SIZE = 1024
#: Epochs used when ``weights="scenes"`` trains the small CNN on first use.
SCENE_CNN_EPOCHS = 15
SCENE_CNN_LEARNING_RATE = 3e-3
SCENE_CNN_SEED = 0
#: Version of the small CNN's architecture, labels and training recipe, stored beside its weights:
#: a pretrained CNN of another version is retrained (and so its features re-extracted).
#: 2: coordinate channels and global max pooling instead of flattening; background labels;
#: horizontally mirrored training scenes (left/right labels swapped).
SCENE_CNN_VERSION = 2
#: Seed of the random initialisation of ``build_backbone("smallcnn", weights=None)``.
SMALLCNN_INIT_SEED = 0

_RESIZE = "bilinear resize with antialiasing (tf.image.resize) to {size}x{size}, no crop"
_PREPROCESSING = {
    "vgg16": (
        "decode RGB (tf.io.decode_image, channels=3); "
        + _RESIZE
        + "; float32 0-255; keras.applications.vgg16.preprocess_input "
        "(RGB->BGR, subtract ImageNet BGR means 103.939,116.779,123.68, no scaling)"
    ),
    "smallcnn": (
        "decode RGB (tf.io.decode_image, channels=3); "
        + _RESIZE
        + "; float32 0-255; Rescaling(1/255) to [0, 1]"
    ),
}

#: Metadata fields a cache must match to be reused.
KEY_FIELDS = (
    "dataset",
    "dataset_fingerprint",
    "backbone",
    "weights",
    "weights_sha256",
    "image_size",
    "preprocessing",
    "image_set",
)


class FeatureCacheError(RuntimeError):
    """A feature cache file is corrupt or was made with different settings."""


# --------------------------------------------------------------------------------------
# The feature store
# --------------------------------------------------------------------------------------


@dataclass
class FeatureStore:
    """Feature vectors by image id: ``features[i]`` (D,) belongs to ``image_ids[i]``."""

    image_ids: list[str]
    features: np.ndarray  # (N, D) float32
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.image_ids = [str(i) for i in self.image_ids]
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.ndim != 2 or self.features.shape[0] != len(self.image_ids):
            raise ValueError(
                f"features of shape {self.features.shape} do not fit "
                f"{len(self.image_ids)} image ids"
            )
        self._index = {image_id: i for i, image_id in enumerate(self.image_ids)}

    def __len__(self) -> int:
        return len(self.image_ids)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._index

    def __getitem__(self, image_id: str) -> np.ndarray:
        """The (D,) feature vector of one image."""
        try:
            return self.features[self._index[image_id]]
        except KeyError:
            skipped = {s.get("image_id"): s.get("reason") for s in self.skipped}
            why = (
                f"it was skipped during extraction: {skipped[image_id]}"
                if image_id in skipped
                else "it was not part of the extracted image set"
            )
            raise KeyError(f"no features for image {image_id!r}: {why}") from None

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.features.shape[1])

    @property
    def skipped(self) -> list[dict]:
        """Images left out of extraction, as ``{"image_id", "reason"}`` dicts."""
        return list(self.metadata.get("skipped", []))

    def matrix(self, image_ids: Iterable[str]) -> np.ndarray:
        """Stack the features of ``image_ids`` in that order: (n, D) float32."""
        ids = list(image_ids)
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self[i] for i in ids]).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------


def describe_preprocessing(backbone: str, image_size: int | None = None) -> str:
    """The exact preprocessing of ``backbone``, as stored in the cache metadata."""
    _check_backbone(backbone)
    size = image_size or DEFAULT_IMAGE_SIZE[backbone]
    return _PREPROCESSING[backbone].format(size=size)


def _check_backbone(name: str) -> None:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {list(BACKBONES)}")


def _vgg16_preprocess_layer():
    """A Keras layer doing ``vgg16.preprocess_input`` ("caffe" mode) with ``keras.ops``."""
    import keras
    from keras import ops

    class VGG16Preprocess(keras.layers.Layer):
        """RGB 0-255 -> BGR minus the ImageNet means (``vgg16.preprocess_input``)."""

        def call(self, images):
            bgr = ops.flip(images, axis=-1)
            return bgr - ops.convert_to_tensor(VGG16_BGR_MEAN, dtype=bgr.dtype)

    return VGG16Preprocess(name="vgg16_preprocess")


def _build_vgg16(weights: str | None, image_size: int):
    import keras

    if image_size != 224:
        raise ValueError(
            f"vgg16 with its fully connected layers needs 224x224 images, got {image_size}"
        )
    if weights not in ("imagenet", None):
        raise ValueError(f"vgg16 weights must be 'imagenet' or None, got {weights!r}")
    vgg = keras.applications.VGG16(include_top=True, weights=weights)
    fc2 = keras.Model(vgg.input, vgg.get_layer("fc2").output, name="vgg16_fc2")
    inputs = keras.Input((224, 224, 3), name="image")
    outputs = fc2(_vgg16_preprocess_layer()(inputs))
    return keras.Model(inputs, outputs, name="vgg16_features")


@functools.cache
def _coordinates_layer():
    """The (registered) Keras layer class that appends x/y coordinate channels in [-1, 1]."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="course_lib")
    class SpatialCoordinates(keras.layers.Layer):
        """(B, H, W, C) -> (B, H, W, C + 2): appends each cell's x and y in [-1, 1]
        ("CoordConv"), so that the next convolution can tell *where* a shape is."""

        def call(self, inputs):
            shape = ops.shape(inputs)
            height, width = inputs.shape[1], inputs.shape[2]
            xs = ops.linspace(-1.0, 1.0, width)
            ys = ops.linspace(-1.0, 1.0, height)
            grid = ops.stack(
                [
                    ops.broadcast_to(xs[None, :], (height, width)),
                    ops.broadcast_to(ys[:, None], (height, width)),
                ],
                axis=-1,
            )
            grid = ops.broadcast_to(
                ops.cast(grid, inputs.dtype)[None], (shape[0], height, width, 2)
            )
            return ops.concatenate([inputs, grid], axis=-1)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] + 2)

    return SpatialCoordinates


def build_scene_cnn(
    image_size: int = 64,
    n_outputs: int | None = None,
    *,
    seed: int = 0,
    output_bias: np.ndarray | None = None,
):
    """The small CNN: a strided 5×5 stem and 3 conv blocks (BatchNorm, ReLU) down to an
    (S/8)×(S/8) map; x/y coordinate channels go into the last block, whose global max pooling
    says *what* is in the image and *where* (which the captions talk about), into
    Dense(256, relu) ``features``.

    Pooling over positions makes each detector work anywhere in the image, so the CNN learns
    from a few thousand scenes (flattening the map made it learn every position separately).

    Input: RGB 0–255 images (B, S, S, 3); output: (B, 256) features, or, with ``n_outputs``,
    the classifier used for pretraining with an extra sigmoid layer ``attributes``
    (B, n_outputs) whose bias starts at ``output_bias`` (log-odds of the label frequencies).
    """
    import keras
    from keras import layers

    def init(k: int):
        return keras.initializers.GlorotUniform(seed=seed + k)

    def block(x, k: int, filters: int, size: int = 3, strides: int = 1, pool: bool = True):
        x = layers.Conv2D(
            filters, size, strides=strides, padding="same", use_bias=False,
            kernel_initializer=init(k), name=f"conv{k}",
        )(x)  # fmt: skip
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{k}")(x)
        x = layers.ReLU(name=f"relu{k}")(x)
        return layers.MaxPooling2D(2, name=f"pool{k}")(x) if pool else x

    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = block(x, 0, 24, size=5, strides=2)  # S/4
    x = block(x, 1, 48)  # S/8
    x = block(x, 2, 96, pool=False)
    x = _coordinates_layer()(name="coordinates")(x)
    x = block(x, 3, 128, pool=False)
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    features = layers.Dense(
        FEATURE_DIM["smallcnn"], activation="relu", kernel_initializer=init(10), name="features"
    )(x)
    if n_outputs is None:
        return keras.Model(inputs, features, name="smallcnn")
    bias = "zeros" if output_bias is None else keras.initializers.Constant(output_bias)
    head = layers.Dense(
        n_outputs, activation="sigmoid", kernel_initializer=init(11), bias_initializer=bias,
        name="attributes",
    )(features)  # fmt: skip
    return keras.Model(inputs, head, name="smallcnn_classifier")


def build_backbone(
    name: str,
    *,
    weights: str | None,
    image_size: int,
    data_dir: str | os.PathLike | None = None,
    dataset: Any | None = None,
    progress: bool = True,
):
    """A ``keras.Model`` mapping RGB 0–255 images (B, S, S, 3) float32 to features (B, D).

    The model includes its preprocessing (:func:`describe_preprocessing`).

    - ``"vgg16"``: ``weights="imagenet"`` (downloaded by Keras) or ``None``; S must be 224;
      D = 4096 (the ``fc2`` layer).
    - ``"smallcnn"``: ``weights="scenes"`` loads the CNN pretrained on the synthetic scenes of
      ``dataset`` (default: the synthetic set in ``data_dir``), training it on first use;
      ``weights=None`` is a seeded random initialisation. D = 256.
    """
    _check_backbone(name)
    if name == "vgg16":
        return _build_vgg16(weights, image_size)
    if weights is None:
        return build_scene_cnn(image_size, seed=SMALLCNN_INIT_SEED)
    if weights != "scenes":
        raise ValueError(f"smallcnn weights must be 'scenes' or None, got {weights!r}")
    if dataset is None:
        from .data import load_dataset

        dataset = load_dataset(config.dataset_dir("synthetic", data_dir), name="synthetic")
    path = _ensure_scene_cnn(dataset, data_dir, progress)
    return load_scene_cnn(path, image_size=image_size)


def load_scene_cnn(path: str | os.PathLike, *, image_size: int | None = None):
    """Load a pretrained small CNN (safe mode) and cut it at its ``features`` layer."""
    import keras

    path = Path(path)
    try:
        classifier = keras.saving.load_model(
            path,
            safe_mode=True,
            compile=False,
            custom_objects={"SpatialCoordinates": _coordinates_layer()},
        )
    except Exception as err:
        raise FeatureCacheError(
            f"{path}: cannot load the pretrained small CNN ({err}); delete it to retrain it"
        ) from err
    size = classifier.input_shape[1]
    if image_size is not None and size != image_size:
        raise ValueError(
            f"{path} was trained on {size}x{size} images but image_size={image_size}; "
            f"use image_size={size} or train_scene_cnn(..., image_size={image_size})"
        )
    return keras.Model(
        classifier.input, classifier.get_layer("features").output, name="smallcnn_scenes"
    )


# --------------------------------------------------------------------------------------
# Dataset helpers
# --------------------------------------------------------------------------------------


def dataset_fingerprint(dataset: Any) -> str:
    """SHA-256 of a dataset's parsed captions, splits and scenes (hex)."""
    content = {
        "captions": dataset.captions,
        "splits": dataset.splits,
        "scenes": getattr(dataset, "scenes", None),
    }
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def dataset_image_ids(dataset: Any) -> list[str]:
    """All image ids of a dataset (captioned or in a split), sorted."""
    ids = set(dataset.captions)
    for split_ids in dataset.splits.values():
        ids.update(split_ids)
    return sorted(ids)


# --------------------------------------------------------------------------------------
# Image pipeline
# --------------------------------------------------------------------------------------


def _decode_resize(path, image_size: int):
    """tf.data map function: file path -> (S, S, 3) float32 RGB in 0-255."""
    import tensorflow as tf

    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0)


def _image_pipeline(
    paths: Sequence[str], image_size: int, batch_size: int, *, skip_errors: bool = True
):
    """Batches of ``(index, images)``; with ``skip_errors`` undecodable images are dropped."""
    import tensorflow as tf

    indices = np.arange(len(paths), dtype=np.int64)
    ds = tf.data.Dataset.from_tensor_slices((indices, [str(p) for p in paths]))
    ds = ds.map(
        lambda i, p: (i, _decode_resize(p, image_size)), num_parallel_calls=tf.data.AUTOTUNE
    )
    if skip_errors:
        ds = ds.ignore_errors()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def read_images(paths: Sequence[str | os.PathLike], image_size: int) -> np.ndarray:
    """Decode and resize images exactly as extraction does: (n, S, S, 3) float32 0–255.

    Raises ``ValueError`` naming the first file that cannot be decoded.
    """
    import tensorflow as tf

    batches = []
    try:
        for _, images in _image_pipeline(paths, image_size, 256, skip_errors=False):
            batches.append(images.numpy())
    except tf.errors.OpError as err:
        for path in paths:  # find the culprit to name it
            reason = _decode_error(Path(path), image_size)
            if reason:
                raise ValueError(f"{path}: cannot decode the image ({reason})") from err
        raise
    if not batches:
        return np.zeros((0, image_size, image_size, 3), dtype=np.float32)
    return np.concatenate(batches)


def _check_image_file(path: Path) -> str | None:
    """Why ``path`` cannot be used as an image (cheap PIL check), or None when it looks fine."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return "file not found"
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with Image.open(path) as image:
            image.verify()
    except UnidentifiedImageError:
        return "not an image file PIL can identify"
    except Exception as err:
        return f"broken image data ({type(err).__name__}: {err})"
    return None


def _decode_error(path: Path, image_size: int) -> str | None:
    """Why TensorFlow cannot decode ``path`` (re-run eagerly on that one file), or None."""
    import tensorflow as tf

    try:
        _decode_resize(tf.constant(str(path)), image_size)
    except tf.errors.OpError as err:
        return f"TensorFlow could not decode it ({err.message.strip().splitlines()[0]})"
    return None


# --------------------------------------------------------------------------------------
# Cache files
# --------------------------------------------------------------------------------------


def feature_cache_path(
    dataset_name: str,
    backbone: str,
    weights: str | None,
    image_size: int,
    data_dir: str | os.PathLike | None = None,
    image_ids: Sequence[str] | None = None,
) -> Path:
    """``<features_dir>/<dataset>-<backbone>-<weights>-<size>.npz`` (``-subset-<hash>``
    before the suffix when only some images were asked for)."""
    stem = f"{dataset_name}-{backbone}-{weights}-{image_size}"
    if image_ids is not None:
        stem += f"-subset-{_image_set_hash(image_ids)[:10]}"
    return config.features_dir(data_dir) / f"{stem}.npz"


def _image_set_hash(image_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(image_ids).encode("utf-8")).hexdigest()


def _normalise(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def save_feature_cache(path: str | os.PathLike, store: FeatureStore) -> Path:
    """Write ``store`` to ``path`` (.npz: ``ids``, ``features``, JSON ``metadata``) atomically."""
    path = Path(path)
    metadata = dict(store.metadata)
    metadata["feature_dim"] = store.dim
    metadata["n_images"] = len(store)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            ids=np.array(store.image_ids, dtype=str),
            features=store.features.astype(np.float32, copy=False),
            metadata=np.array(json.dumps(metadata, sort_keys=True)),
        )
    return path


def _read_npz(path: Path) -> tuple[list[str], np.ndarray, dict]:
    """Read and sanity-check an .npz written by this module; FeatureCacheError if broken."""
    fix = "delete it to rebuild it (extract_features rebuilds it automatically)"
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"ids", "features", "metadata"} - set(npz.files)
            if missing:
                raise FeatureCacheError(
                    f"{path}: not a feature cache (missing arrays {sorted(missing)}); {fix}"
                )
            ids = [str(i) for i in npz["ids"].tolist()]
            features = np.asarray(npz["features"])
            metadata = json.loads(str(npz["metadata"]))
    except FeatureCacheError:
        raise
    except Exception as err:
        raise FeatureCacheError(
            f"{path}: cannot read the feature cache, it is corrupt or truncated "
            f"({type(err).__name__}: {err}); {fix}"
        ) from err
    if not isinstance(metadata, dict):
        raise FeatureCacheError(f"{path}: metadata is not a JSON object; {fix}")
    if features.ndim != 2 or features.shape[0] != len(ids) or features.dtype != np.float32:
        raise FeatureCacheError(
            f"{path}: features {features.shape} {features.dtype} do not match "
            f"{len(ids)} ids (expected (N, D) float32); {fix}"
        )
    return ids, features, metadata


def load_feature_cache(
    path: str | os.PathLike, expected_metadata: dict | None = None
) -> FeatureStore:
    """Load a feature cache and check its metadata against ``expected_metadata``.

    Raises :class:`FeatureCacheError` naming the file, the field, the expected and found values
    when a field differs, and when the file is corrupt or truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise FeatureCacheError(f"{path}: feature cache not found")
    ids, features, metadata = _read_npz(path)
    fix = (
        "the cache was made with other settings; delete it (or call extract_features, which "
        "rebuilds it) to extract the features again"
    )
    for key in ("n_images", "feature_dim"):
        want = len(ids) if key == "n_images" else features.shape[1]
        if metadata.get(key) != want:
            raise FeatureCacheError(
                f"{path}: metadata field {key!r} is {metadata.get(key)!r} but the arrays say "
                f"{want}; the file is inconsistent, delete it to rebuild it"
            )
    for key, want in _normalise(expected_metadata or {}).items():
        found = metadata.get(key, "<missing>")
        if found != want:
            raise FeatureCacheError(
                f"{path}: metadata field {key!r} does not match: expected {want!r}, "
                f"found {found!r}; {fix}"
            )
    return FeatureStore(ids, features, metadata)


def _write_chunk(
    parts_dir: Path, index: int, planned: Sequence[str], ids: Sequence[str], features, meta: dict
) -> Path:
    """Write one chunk ``chunk_<index>.npz`` atomically (ids, features, planned ids, meta)."""
    path = parts_dir / f"chunk_{index:05d}.npz"
    chunk_meta = {**meta, "chunk": index, "planned": _image_set_hash(planned)}
    features = np.asarray(features, dtype=np.float32).reshape(len(ids), -1)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            ids=np.array(list(ids), dtype=str),
            features=features,
            metadata=np.array(json.dumps(chunk_meta, sort_keys=True)),
        )
    return path


def _read_chunk(
    parts_dir: Path, index: int, planned: Sequence[str], meta: dict
) -> tuple[list[str], np.ndarray] | None:
    """A completed chunk made with the same settings and images, or None."""
    path = parts_dir / f"chunk_{index:05d}.npz"
    if not path.is_file():
        return None
    try:
        ids, features, chunk_meta = _read_npz(path)
    except FeatureCacheError as err:
        logger.warning("ignoring a broken chunk: %s", err)
        return None
    want = _normalise({**meta, "chunk": index, "planned": _image_set_hash(planned)})
    if chunk_meta != want or not set(ids) <= set(planned):
        return None
    return ids, features


# --------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------


def expected_metadata(
    dataset: Any,
    backbone: str,
    *,
    weights: str | None,
    image_size: int,
    image_ids: Sequence[str],
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """The metadata fields (:data:`KEY_FIELDS`) a cache must match for this request.

    For ``smallcnn`` with ``weights="scenes"`` this trains the small CNN if it is missing,
    since its file's SHA-256 is part of the key.
    """
    _check_backbone(backbone)
    weights_sha = None
    if backbone == "smallcnn" and weights == "scenes":
        weights_sha = sha256_file(_ensure_scene_cnn(dataset, data_dir, progress))
    return {
        "dataset": dataset.name,
        "dataset_fingerprint": dataset_fingerprint(dataset),
        "backbone": backbone,
        "weights": weights,
        "weights_sha256": weights_sha,
        "image_size": int(image_size),
        "preprocessing": describe_preprocessing(backbone, image_size),
        "image_set": _image_set_hash(image_ids),
    }


def extract_features(
    dataset: Any,
    backbone: str = "smallcnn",
    *,
    weights: str | None,
    image_size: int,
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 32,
    progress: bool = True,
    image_ids: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> FeatureStore:
    """Feature vectors of a dataset's images, computed once and cached.

    Args:
        dataset: a ``CaptionDataset`` (``name``, ``captions``, ``splits``, ``image_path()``).
        backbone: ``"smallcnn"`` or ``"vgg16"`` (see :func:`build_backbone`).
        image_ids: only these images (default: every image of the dataset).
        chunk_size: images per chunk file; an interrupted run resumes from the last chunk.

    Returns:
        A :class:`FeatureStore` with (N, D) float32 features. Images that cannot be read are
        skipped, listed in ``store.metadata["skipped"]`` and reported in a printed summary.
    """
    _check_backbone(backbone)
    ids = dataset_image_ids(dataset) if image_ids is None else list(dict.fromkeys(image_ids))
    path = feature_cache_path(
        dataset.name, backbone, weights, image_size, data_dir, None if image_ids is None else ids
    )
    key = expected_metadata(
        dataset,
        backbone,
        weights=weights,
        image_size=image_size,
        image_ids=ids,
        data_dir=data_dir,
        progress=progress,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        if path.exists():
            try:
                return load_feature_cache(path, key)
            except FeatureCacheError as err:
                logger.warning("rebuilding the feature cache: %s", err)
        store = _extract(
            dataset, backbone, ids, key, path, weights, image_size, data_dir, batch_size,
            progress, chunk_size,
        )  # fmt: skip
        save_feature_cache(path, store)
        shutil.rmtree(_parts_dir(path), ignore_errors=True)
    _print_skipped(store)
    return store


def _parts_dir(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


def _predict(model, images) -> np.ndarray:
    return np.asarray(model.predict_on_batch(images), dtype=np.float32)


def _extract(
    dataset, backbone, ids, key, path, weights, image_size, data_dir, batch_size, progress,
    chunk_size,
) -> FeatureStore:  # fmt: skip
    """Validate files, run the backbone chunk by chunk (resuming), merge into a store."""
    from tqdm import tqdm

    if chunk_size < 1 or batch_size < 1:
        raise ValueError("batch_size and chunk_size must be at least 1")
    skipped: list[dict] = []
    valid: list[str] = []
    paths: dict[str, Path] = {}
    for image_id in ids:
        paths[image_id] = Path(dataset.image_path(image_id))
        reason = _check_image_file(paths[image_id])
        if reason is None:
            valid.append(image_id)
        else:
            skipped.append({"image_id": image_id, "file": str(paths[image_id]), "reason": reason})

    parts = _parts_dir(path)
    chunk_meta = {**key, "chunk_size": chunk_size}
    chunks = [valid[i : i + chunk_size] for i in range(0, len(valid), chunk_size)]
    model = None
    out_ids: list[str] = []
    out_features: list[np.ndarray] = []
    start = time.perf_counter()
    n_computed = 0
    with tqdm(
        total=len(valid), desc=f"{backbone} features", unit="img", disable=not progress
    ) as bar:
        for index, planned in enumerate(chunks):
            done = _read_chunk(parts, index, planned, chunk_meta)
            if done is None:
                if model is None:
                    model = build_backbone(
                        backbone, weights=weights, image_size=image_size, data_dir=data_dir,
                        dataset=dataset,
                    )  # fmt: skip
                done = _run_chunk(model, [paths[i] for i in planned], planned, image_size,
                                  batch_size, bar)  # fmt: skip
                _write_chunk(parts, index, planned, done[0], done[1], chunk_meta)
                n_computed += len(planned)
            else:
                bar.update(len(planned))
            got = set(done[0])
            for image_id in planned:
                if image_id not in got:
                    reason = _decode_error(paths[image_id], image_size) or "could not decode"
                    skipped.append(
                        {"image_id": image_id, "file": str(paths[image_id]), "reason": reason}
                    )
            out_ids.extend(done[0])
            out_features.append(done[1])
    seconds = time.perf_counter() - start
    dim = next((f.shape[1] for f in out_features if f.size), FEATURE_DIM[backbone])
    features = (
        np.concatenate([f.reshape(-1, dim) for f in out_features])
        if out_features
        else np.zeros((0, dim), dtype=np.float32)
    )
    metadata = {
        **key,
        "feature_dim": int(dim),
        "n_images": len(out_ids),
        "course_lib_version": __version__,
        "skipped": sorted(skipped, key=lambda s: s["image_id"]),
        "extraction_seconds": round(seconds, 3),
        "images_computed": n_computed,
    }
    return FeatureStore(out_ids, features, metadata)


def _run_chunk(model, paths, planned, image_size, batch_size, bar) -> tuple[list[str], np.ndarray]:
    ids: list[str] = []
    feats: list[np.ndarray] = []
    seen = 0
    for indices, images in _image_pipeline(paths, image_size, batch_size):
        idx = indices.numpy()
        ids.extend(planned[i] for i in idx)
        feats.append(_predict(model, images))
        # Count dropped images too, so the bar reaches its total.
        new_seen = int(idx[-1]) + 1
        bar.update(new_seen - seen)
        seen = new_seen
    bar.update(len(planned) - seen)
    if not feats:
        return [], np.zeros((0, 0), dtype=np.float32)
    return ids, np.concatenate(feats)


def _print_skipped(store: FeatureStore) -> None:
    skipped = store.skipped
    if not skipped:
        return
    lines = [f"Skipped {len(skipped)} image(s) that could not be read:"]
    lines += [f"  {s['image_id']}: {s['reason']}" for s in skipped[:20]]
    if len(skipped) > 20:
        lines.append(f"  ... and {len(skipped) - 20} more (see store.metadata['skipped'])")
    print("\n".join(lines))


# --------------------------------------------------------------------------------------
# Pretraining the small CNN on the synthetic scenes
# --------------------------------------------------------------------------------------


def scene_cnn_path(dataset: Any, data_dir: str | os.PathLike | None = None) -> Path:
    """``<backbones_dir>/smallcnn-<dataset fingerprint[:16]>.keras``."""
    return config.backbones_dir(data_dir) / f"smallcnn-{dataset_fingerprint(dataset)[:16]}.keras"


def scene_attribute_names(scenes: Iterable[dict]) -> list[str]:
    """Names of the binary scene attributes the small CNN learns to predict.

    ``colour shape`` and ``size colour shape`` present, ``colour shape <relation>`` (the object
    stands in that relation to another one, both directions), ``colour shape at <where>`` (the
    third of the image its centre lies in: left/centre/right, top/middle/bottom),
    ``objects=<n>`` and ``background=<name>`` (when the scenes name their background).
    """
    colours, shapes, sizes, relations, counts = set(), set(), set(), set(), set()
    backgrounds = set()
    for scene in scenes:
        if scene.get("background"):
            backgrounds.add(scene["background"])
        objects = scene.get("objects", [])
        counts.add(len(objects))
        for obj in objects:
            colours.add(obj["colour"])
            shapes.add(obj["shape"])
            sizes.add(obj.get("size", ""))
        for rel in scene.get("relations", []):
            relations.add(rel["relation"])
            relations.add(_inverse_relation(rel["relation"]))
    names = [f"{c} {s}" for c in sorted(colours) for s in sorted(shapes)]
    names += [
        f"{z} {c} {s}" for z in sorted(sizes) for c in sorted(colours) for s in sorted(shapes)
    ]
    names += [
        f"{c} {s} {r}" for c in sorted(colours) for s in sorted(shapes) for r in sorted(relations)
    ]
    names += [
        f"{c} {s} at {where}"
        for c in sorted(colours)
        for s in sorted(shapes)
        for where in ("left", "centre", "right", "top", "middle", "bottom")
    ]
    names += [f"objects={n}" for n in sorted(counts)]
    names += [f"background={b}" for b in sorted(backgrounds)]
    return names


_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _inverse_relation(relation: str) -> str:
    return _INVERSE.get(relation, f"inverse {relation}")


def scene_attributes(scene: dict, names: Sequence[str]) -> np.ndarray:
    """Binary attribute vector (len(names),) float32 of one scene (see
    :func:`scene_attribute_names`)."""
    index = {n: i for i, n in enumerate(names)}
    vec = np.zeros(len(names), dtype=np.float32)

    def mark(name: str) -> None:
        if name in index:
            vec[index[name]] = 1.0

    objects = scene.get("objects", [])
    for obj in objects:
        mark(f"{obj['colour']} {obj['shape']}")
        mark(f"{obj.get('size', '')} {obj['colour']} {obj['shape']}")
        if "x" in obj and "y" in obj:
            width = scene.get("width") or 1
            height = scene.get("height") or 1
            column = ("left", "centre", "right")[min(2, int(3 * obj["x"] / width))]
            row = ("top", "middle", "bottom")[min(2, int(3 * obj["y"] / height))]
            mark(f"{obj['colour']} {obj['shape']} at {column}")
            mark(f"{obj['colour']} {obj['shape']} at {row}")
    for rel in scene.get("relations", []):
        subj, other = objects[rel["subject"]], objects[rel["object"]]
        mark(f"{subj['colour']} {subj['shape']} {rel['relation']}")
        mark(f"{other['colour']} {other['shape']} {_inverse_relation(rel['relation'])}")
    mark(f"objects={len(objects)}")
    if scene.get("background"):
        mark(f"background={scene['background']}")
    return vec


def mirror_scene(scene: dict) -> dict:
    """The scene seen in a mirror (left and right swapped): what a horizontally flipped image
    shows. Used to double the small CNN's training scenes."""
    width = scene.get("width") or 1
    swap = {"left of": "right of", "right of": "left of"}
    mirrored = dict(scene)
    mirrored["objects"] = [
        {**obj, "x": width - obj["x"]} if "x" in obj else dict(obj)
        for obj in scene.get("objects", [])
    ]
    mirrored["relations"] = [
        {**rel, "relation": swap.get(rel["relation"], rel["relation"])}
        for rel in scene.get("relations", [])
    ]
    return mirrored


def train_scene_cnn(
    dataset: Any,
    *,
    image_size: int = 64,
    epochs: int = SCENE_CNN_EPOCHS,
    seed: int = SCENE_CNN_SEED,
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> Path:
    """Pretrain the small CNN on the TRAIN split's scene attributes and save it.

    Multi-label classification (sigmoid, binary cross-entropy) of the attributes of
    :func:`scene_attribute_names`; deterministic for a seed. Writes
    ``<backbones_dir>/smallcnn-<fingerprint>.keras`` and a ``.json`` sidecar with the training
    metrics (also accuracy on the dev split when it has scenes). Returns the ``.keras`` path.
    """
    path = scene_cnn_path(dataset, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        return _train_scene_cnn(dataset, path, image_size, epochs, seed, batch_size, progress)


def _ensure_scene_cnn(
    dataset: Any, data_dir: str | os.PathLike | None, progress: bool = True
) -> Path:
    """The pretrained small CNN of ``dataset``, training it on first use (under a lock);
    ``progress=False`` trains silently."""
    path = scene_cnn_path(dataset, data_dir)
    if _is_current_scene_cnn(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        if _is_current_scene_cnn(path):  # another process trained it while we waited
            return path
        if progress:
            print(f"Pretraining the small CNN on the synthetic scenes (first use) -> {path}")
        return _train_scene_cnn(dataset, path, 64, SCENE_CNN_EPOCHS, SCENE_CNN_SEED, 32, progress)


def _is_current_scene_cnn(path: Path) -> bool:
    """Whether ``path`` holds a pretrained small CNN of this :data:`SCENE_CNN_VERSION`."""
    if not path.is_file():
        return False
    try:
        version = scene_cnn_metrics(path).get("version")
    except Exception:  # missing or unreadable sidecar: retrain
        return False
    if version != SCENE_CNN_VERSION:
        logger.warning(
            "%s: small CNN version %s, expected %s; retraining it", path, version, SCENE_CNN_VERSION
        )
        return False
    return True


def _split_arrays(dataset, split: str, names, image_size):
    scenes = dataset.scenes or {}
    ids = [i for i in dataset.splits.get(split, []) if i in scenes]
    if not ids:
        return ids, None, None
    images = read_images([dataset.image_path(i) for i in ids], image_size)
    labels = np.stack([scene_attributes(scenes[i], names) for i in ids])
    return ids, images, labels


def _train_scene_cnn(dataset, path, image_size, epochs, seed, batch_size, progress) -> Path:
    import keras

    if not getattr(dataset, "scenes", None):
        raise ValueError(
            f"dataset {dataset.name!r} has no scenes.json: the small CNN is pretrained on the "
            "synthetic scenes (prepare_dataset('synthetic')), not on Flickr8k"
        )
    start = time.perf_counter()
    train_scenes = [dataset.scenes[i] for i in dataset.splits.get("train", [])]
    train_scenes = [s for s in train_scenes if s is not None]
    if not train_scenes:
        raise ValueError(f"dataset {dataset.name!r}: no training images with scenes")
    names = scene_attribute_names(train_scenes)
    train_ids, x_train, y_train = _split_arrays(dataset, "train", names, image_size)
    # Mirrored copies (left/right labels swapped) double the training scenes.
    mirrored = np.stack(
        [scene_attributes(mirror_scene(dataset.scenes[i]), names) for i in train_ids]
    )
    x_train = np.concatenate([x_train, x_train[:, :, ::-1]])
    y_train = np.concatenate([y_train, mirrored])
    dev_ids, x_dev, y_dev = _split_arrays(dataset, "dev", names, image_size)
    load_seconds = time.perf_counter() - start

    config.set_seed(seed)
    rate = np.clip(y_train.mean(axis=0), 1e-3, 1 - 1e-3)
    model = build_scene_cnn(
        image_size, len(names), seed=seed, output_bias=np.log(rate / (1 - rate))
    )
    model.compile(
        optimizer=keras.optimizers.Adam(SCENE_CNN_LEARNING_RATE),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    fit_start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=2 if progress else 0,
    )
    fit_seconds = time.perf_counter() - fit_start
    metrics: dict[str, Any] = {
        "train_history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    for split, x, y in (("train", x_train, y_train), ("dev", x_dev, y_dev)):
        if x is None:
            continue
        probs = model.predict(x, batch_size=128, verbose=0)
        pred = probs > 0.5
        metrics[f"{split}_label_accuracy"] = float(np.mean(pred == (y > 0.5)))
        metrics[f"{split}_exact_match"] = float(np.mean(np.all(pred == (y > 0.5), axis=1)))
        present = y > 0.5
        metrics[f"{split}_recall_of_present"] = float(np.mean(pred[present]))
    with atomic_path(path) as tmp:
        model.save(tmp)
    sidecar = {
        "file": path.name,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset_fingerprint(dataset),
        "image_size": image_size,
        "epochs": epochs,
        "seed": seed,
        "version": SCENE_CNN_VERSION,
        "mirrored": True,
        "batch_size": batch_size,
        "learning_rate": SCENE_CNN_LEARNING_RATE,
        "n_train": len(train_ids),
        "n_dev": len(dev_ids),
        "attributes": names,
        "preprocessing": describe_preprocessing("smallcnn", image_size),
        "load_seconds": round(load_seconds, 3),
        "fit_seconds": round(fit_seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
        "course_lib_version": __version__,
        "keras_version": keras.__version__,
        **metrics,
    }
    atomic_write_json(path.with_suffix(".json"), sidecar)
    return path


def scene_cnn_metrics(path: str | os.PathLike) -> dict:
    """The training metrics stored beside a pretrained small CNN (``.json`` sidecar)."""
    return read_json(Path(path).with_suffix(".json"))  # type: ignore[return-value]
