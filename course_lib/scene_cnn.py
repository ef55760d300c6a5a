"""The mini profile's backbone: a small CNN pretrained on the synthetic scenes.

VGG16 learned to see on ImageNet; this CNN learns to see on the course's synthetic scenes, by
predicting their attributes (which coloured shapes are present, their sizes, where they are
and how they stand to each other) from the pixels. Cut before its classifier, it turns each
64×64 scene into a 256-d feature vector, the way VGG16's ``fc2`` turns a photo into 4096.

The network (:func:`build_scene_cnn`): a strided 5×5 stem and 3 conv blocks (BatchNorm, ReLU)
down to an (S/8)×(S/8) map; x/y coordinate channels go into the last block, whose global max
pooling says *what* is in the image and *where* (which the captions talk about), into
Dense(256, relu) ``features``. Pooling over positions makes each detector work anywhere in the
image, so the CNN learns from a few thousand scenes (a flattened map would have to be learnt
position by position). Pretrained, it is a classifier with an extra sigmoid layer
``attributes``, one output per scene attribute (:func:`scene_attribute_names`).

It is trained on first use (about 20 s on 2 CPU cores), deterministically for the course's seed
(:func:`course_lib.config.course_seed`), and saved as
``<backbones_dir>/smallcnn-<dataset fingerprint>-seed<seed>.keras`` with a JSON sidecar of its
metrics and :data:`SCENE_CNN_VERSION`; a CNN of another version is retrained.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from course_lib import __version__, config
from course_lib.data.images import RESIZE, read_images
from course_lib.data.synthetic import INVERSE_RELATION, RELATIONS
from course_lib.io import atomic_path, atomic_write_json, file_lock, read_json
from course_lib.scene_checks import box_coverage

logger = logging.getLogger(__name__)

#: Length of the feature vector.
FEATURE_DIM = 256
#: Side of the square images it reads.
IMAGE_SIZE = 64
#: Epochs, learning rate and batch size of the pretraining on the scenes.
SCENE_CNN_EPOCHS = 10
SCENE_CNN_LEARNING_RATE = 1e-3
SCENE_CNN_BATCH_SIZE = 32
#: Version of the small CNN's architecture, labels, training recipe and image decoding, stored
#: beside its weights: a pretrained CNN of another version is retrained (and so its features
#: re-extracted). Raise it whenever one of them changes.
SCENE_CNN_VERSION = 4
#: Seed of the random initialisation of ``build_scene_cnn`` when no weights are loaded.
SMALLCNN_INIT_SEED = 0
#: What the CNN does to an image before its first convolution (stored in cache metadata).
PREPROCESSING = RESIZE + "; float32 0-255; Rescaling(1/255) to [0, 1]"


@keras.saving.register_keras_serializable(package="course_lib")
class SpatialCoordinates(layers.Layer):
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


def conv_block(
    x: keras.KerasTensor,
    k: int,
    filters: int,
    seed: int,
    *,
    size: int = 3,
    strides: int = 1,
    pool: bool = True,
) -> keras.KerasTensor:
    """Block ``k``: a convolution, batch normalisation, ReLU and, unless
    ``pool=False``, a 2×2 max pooling."""
    init = keras.initializers.GlorotUniform(seed=seed + k)
    conv = layers.Conv2D(
        filters, size, strides=strides, padding="same", use_bias=False,
        kernel_initializer=init, name=f"conv{k}",
    )  # fmt: skip
    x = layers.BatchNormalization(momentum=0.9, name=f"bn{k}")(conv(x))
    x = layers.ReLU(name=f"relu{k}")(x)
    return layers.MaxPooling2D(2, name=f"pool{k}")(x) if pool else x


def build_scene_cnn(
    image_size: int = 64,
    n_outputs: int | None = None,
    *,
    seed: int = 0,
    output_bias: np.ndarray | None = None,
) -> keras.Model:
    """The small CNN: RGB 0–255 images (B, S, S, 3) → features (B, 256); with
    ``n_outputs``, the classifier it is pretrained as (module docstring)."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = conv_block(x, 0, 24, seed, size=5, strides=2)  # S/4
    x = conv_block(x, 1, 48, seed)  # S/8
    x = conv_block(x, 2, 96, seed, pool=False)
    x = SpatialCoordinates(name="coordinates")(x)
    x = conv_block(x, 3, 128, seed, pool=False)
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    init = keras.initializers.GlorotUniform(seed=seed + 10)
    relu = {"activation": "relu", "kernel_initializer": init}
    features = layers.Dense(FEATURE_DIM, name="features", **relu)(x)
    if n_outputs is None:
        return keras.Model(inputs, features, name="smallcnn")
    head = attributes_head(features, n_outputs, seed, output_bias)
    return keras.Model(inputs, head, name="smallcnn_classifier")


def attributes_head(
    features: keras.KerasTensor,
    n_outputs: int,
    seed: int,
    output_bias: np.ndarray | None,
) -> keras.KerasTensor:
    """The pretraining classifier's sigmoid layer ``attributes`` (B, n_outputs), its bias
    starting at ``output_bias`` (log-odds of the label frequencies)."""
    bias = (
        "zeros"
        if output_bias is None
        else keras.initializers.Constant(output_bias)
    )
    init = keras.initializers.GlorotUniform(seed=seed + 11)
    head = layers.Dense(
        n_outputs, activation="sigmoid", kernel_initializer=init, bias_initializer=bias,
        name="attributes",
    )  # fmt: skip
    return head(features)


def load_scene_classifier(path: str | os.PathLike):
    """Load a pretrained small CNN (safe mode) whole: images (B, S, S, 3) → the probability of
    each scene attribute (B, len(attributes)), in the order of ``scene_cnn_metrics(path)
    ["attributes"]``."""
    path = Path(path)
    try:
        return keras.saving.load_model(
            path,
            safe_mode=True,
            compile=False,
            custom_objects={"SpatialCoordinates": SpatialCoordinates},
        )
    except Exception as err:
        raise ValueError(
            f"{path}: cannot load the pretrained small CNN ({err}); delete it to retrain it"
        ) from err


def load_scene_cnn(path: str | os.PathLike, *, image_size: int | None = None):
    """Load a pretrained small CNN (safe mode) and cut it at its ``features`` layer."""
    path = Path(path)
    classifier = load_scene_classifier(path)
    size = classifier.input_shape[1]
    if image_size is not None and size != image_size:
        raise ValueError(
            f"{path} was trained on {size}x{size} images but image_size={image_size}; "
            f"use image_size={size}"
        )
    return keras.Model(
        classifier.input,
        classifier.get_layer("features").output,
        name="smallcnn_scenes",
    )


def grid_model(model: keras.Model) -> keras.Model:
    """The small CNN (either cut) read at its last convolutional map
    ``relu3``: images (B, S, S, 3) → region vectors (B, (S/8)², 128), the
    grid attention looks at."""
    grid = model.get_layer("relu3").output
    height, width, channels = grid.shape[1:]
    flatten = layers.Reshape((height * width, channels), name="regions")
    regions = flatten(grid)
    name = f"{model.name}_grid"
    return keras.Model(model.input, regions, name=name)


def scene_cnn_path(
    dataset: Any,
    data_dir: str | os.PathLike | None = None,
    seed: int | None = None,
) -> Path:
    """``<backbones_dir>/smallcnn-<dataset fingerprint[:16]>-seed<seed>.keras`` (default
    seed: :func:`course_lib.config.course_seed`)."""
    seed = config.course_seed() if seed is None else seed
    name = f"smallcnn-{dataset.fingerprint()[:16]}-seed{seed}.keras"
    return config.backbones_dir(data_dir) / name


def scene_attribute_names(scenes: Iterable[dict]) -> list[str]:
    """Names of the binary scene attributes the small CNN learns to predict.

    ``colour shape`` and ``size colour shape`` present, ``colour shape <relation>`` (the object
    stands in that relation to another one, both directions), ``colour shape at <where>`` (the
    third of the image its centre lies in: left/centre/right, top/middle/bottom),
    ``objects=<n>`` and ``background=<name>`` (when the scenes name their background).
    """
    colours, shapes, sizes, relations, counts = (
        set(),
        set(),
        set(),
        set(),
        set(),
    )
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
        f"{z} {c} {s}"
        for z in sorted(sizes)
        for c in sorted(colours)
        for s in sorted(shapes)
    ]
    names += [
        f"{c} {s} {r}"
        for c in sorted(colours)
        for s in sorted(shapes)
        for r in sorted(relations)
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


def _inverse_relation(relation: str) -> str:
    return INVERSE_RELATION.get(relation, f"inverse {relation}")


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
            column = ("left", "centre", "right")[
                min(2, int(3 * obj["x"] / width))
            ]
            row = ("top", "middle", "bottom")[
                min(2, int(3 * obj["y"] / height))
            ]
            mark(f"{obj['colour']} {obj['shape']} at {column}")
            mark(f"{obj['colour']} {obj['shape']} at {row}")
    for rel in scene.get("relations", []):
        subj, other = objects[rel["subject"]], objects[rel["object"]]
        mark(f"{subj['colour']} {subj['shape']} {rel['relation']}")
        mark(
            f"{other['colour']} {other['shape']} {_inverse_relation(rel['relation'])}"
        )
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


def ensure_scene_cnn(
    dataset: Any, data_dir: str | os.PathLike | None, progress: bool = True
) -> Path:
    """Path of the pretrained small CNN of ``dataset`` for the course's seed, training it on
    first use (under a lock; :func:`course_lib.pipeline.backbone_weights` is the pipeline's
    step that calls it); ``progress=False`` trains silently."""
    seed = config.course_seed()
    path = scene_cnn_path(dataset, data_dir, seed)
    if is_current_scene_cnn(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        # another process may have trained it while we waited
        if is_current_scene_cnn(path):
            return path
        if progress:
            print(
                "Pretraining the small CNN on the synthetic scenes (first use)"
                f" -> {config.shown_path(path)}"
            )
        recipe = {"epochs": SCENE_CNN_EPOCHS, "seed": seed}
        return train_scene_cnn(
            dataset, path, image_size=IMAGE_SIZE, progress=progress, **recipe
        )


def is_current_scene_cnn(path: Path) -> bool:
    """Whether ``path`` holds a pretrained small CNN of this :data:`SCENE_CNN_VERSION`."""
    if not path.is_file():
        return False
    try:
        version = scene_cnn_metrics(path).get("version")
    except Exception:  # missing or unreadable sidecar: retrain
        return False
    if version != SCENE_CNN_VERSION:
        logger.warning(
            "%s: small CNN version %s, expected %s; retraining it",
            path,
            version,
            SCENE_CNN_VERSION,
        )
        return False
    return True


def _split_arrays(
    dataset: Any, split: str, names: Sequence[str], image_size: int
):
    """The images (N, S, S, 3) and attribute labels (N, A) of a split's scenes, and their ids."""
    scenes = dataset.scenes or {}
    ids = [i for i in dataset.splits.get(split, []) if i in scenes]
    if not ids:
        return ids, None, None
    images = read_images([dataset.image_path(i) for i in ids], image_size)
    labels = np.stack([scene_attributes(scenes[i], names) for i in ids])
    return ids, images, labels


def _training_scenes(dataset: Any, image_size: int):
    """The attribute names, the training images with their mirror images and their labels,
    and the training and dev ids and arrays."""
    if not getattr(dataset, "scenes", None):
        raise ValueError(
            f"dataset {dataset.name!r} has no scenes.json: the small CNN is pretrained on the "
            "synthetic scenes (prepare_dataset('synthetic')), not on Flickr8k"
        )
    train_scenes = [dataset.scenes[i] for i in dataset.splits.get("train", [])]
    train_scenes = [s for s in train_scenes if s is not None]
    if not train_scenes:
        raise ValueError(
            f"dataset {dataset.name!r}: no training images with scenes"
        )
    names = scene_attribute_names(train_scenes)
    train_ids, x_train, y_train = _split_arrays(
        dataset, "train", names, image_size
    )
    # Mirrored copies (left/right labels swapped) double the training scenes.
    mirrored = np.stack(
        [
            scene_attributes(mirror_scene(dataset.scenes[i]), names)
            for i in train_ids
        ]
    )
    x_train = np.concatenate([x_train, x_train[:, :, ::-1]])
    y_train = np.concatenate([y_train, mirrored])
    dev = _split_arrays(dataset, "dev", names, image_size)
    return names, (train_ids, x_train, y_train), dev


def train_scene_cnn(
    dataset: Any,
    path: Path,
    *,
    image_size: int,
    epochs: int,
    seed: int,
    batch_size: int = SCENE_CNN_BATCH_SIZE,
    progress: bool = True,
) -> Path:
    """Pretrain the small CNN on the TRAIN split's scene attributes and save it to ``path``.

    Multi-label classification (sigmoid, binary cross-entropy) of the attributes of
    :func:`scene_attribute_names`, deterministic for a seed; the ``.json`` sidecar holds the
    recipe and the metrics (also on the dev split when it has scenes). Returns ``path``.
    """
    start = time.perf_counter()
    names, (train_ids, x_train, y_train), (dev_ids, x_dev, y_dev) = (
        _training_scenes(dataset, image_size)
    )
    load_seconds = time.perf_counter() - start
    config.set_seed(seed)
    rate = np.clip(y_train.mean(axis=0), 1e-3, 1 - 1e-3)
    model = build_scene_cnn(
        image_size,
        len(names),
        seed=seed,
        output_bias=np.log(rate / (1 - rate)),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(SCENE_CNN_LEARNING_RATE),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    fit_start = time.perf_counter()
    history = model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=True,
        verbose=2 if progress else 0,
    )  # fmt: skip
    fit_seconds = time.perf_counter() - fit_start
    metrics = {
        "train_history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
        **_split_metrics(
            model, {"train": (x_train, y_train), "dev": (x_dev, y_dev)}
        ),
    }
    with atomic_path(path) as tmp:
        model.save(tmp)
    recipe = {
        "image_size": image_size,
        "epochs": epochs,
        "seed": seed,
        "batch_size": batch_size,
    }
    seconds = {
        "load_seconds": round(load_seconds, 3),
        "fit_seconds": round(fit_seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
    }
    counts = {
        "n_train": len(train_ids),
        "n_dev": len(dev_ids),
        "attributes": names,
    }
    _write_sidecar(path, dataset, recipe, {**counts, **seconds, **metrics})
    return path


def _write_sidecar(
    path: Path, dataset: Any, recipe: dict, results: dict
) -> None:
    """The ``.json`` beside a pretrained small CNN: what made it, and how well it did."""
    sidecar = {
        "file": path.name,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint(),
        **recipe,
        "version": SCENE_CNN_VERSION,
        "mirrored": True,
        "learning_rate": SCENE_CNN_LEARNING_RATE,
        "preprocessing": PREPROCESSING.format(size=recipe["image_size"]),
        "course_lib_version": __version__,
        "keras_version": keras.__version__,
        **results,
    }
    atomic_write_json(path.with_suffix(".json"), sidecar)


def _split_metrics(model: Any, splits: dict[str, tuple]) -> dict[str, float]:
    """Per-attribute accuracy, exact match and recall of present attributes of each split
    that has images."""
    metrics = {}
    for split, (x, y) in splits.items():
        if x is None:
            continue
        pred = model.predict(x, batch_size=128, verbose=0) > 0.5
        present = y > 0.5
        metrics[f"{split}_label_accuracy"] = float(np.mean(pred == present))
        metrics[f"{split}_exact_match"] = float(
            np.mean(np.all(pred == present, axis=1))
        )
        metrics[f"{split}_recall_of_present"] = float(np.mean(pred[present]))
    return metrics


def scene_cnn_metrics(path: str | os.PathLike) -> dict:
    """The training metrics stored beside a pretrained small CNN (``.json`` sidecar)."""
    return read_json(Path(path).with_suffix(".json"))


# ----------------------------------------------------------------------------- what it learnt
def attribute_kind(name: str) -> str:
    """The kind of question a scene attribute (:func:`scene_attribute_names`)
    asks, e.g. ``"colour + shape present"`` for ``"red circle"``."""
    if name.startswith("objects="):
        return "how many objects"
    if name.startswith("background="):
        return "background"
    if " at " in name:
        return "colour + shape in a third of the image"
    if name.endswith(tuple(RELATIONS) + tuple(INVERSE_RELATION.values())):
        return "relation"
    if len(name.split()) == 3:
        return "size + colour + shape"
    return "colour + shape present"


def scene_objects(scene: dict) -> set[str]:
    """The ``"colour shape"`` of every object of a scene (each once)."""
    return {f"{o['colour']} {o['shape']}" for o in scene.get("objects", [])}


def rank_objects(
    probs: np.ndarray, names: Sequence[str], k: int
) -> list[tuple[str, float]]:
    """The ``k`` "colour + shape present" attributes that ``probs``
    (len(names),) makes most probable, with their probabilities, best first."""
    if len(probs) != len(names):
        raise ValueError(f"{len(probs)} probabilities for {len(names)} names")
    present = "colour + shape present"
    objects = [j for j, n in enumerate(names) if attribute_kind(n) == present]
    best = sorted(objects, key=lambda j: -probs[j])[:k]
    return [(names[j], float(probs[j])) for j in best]


def activity_on_objects(
    activity: np.ndarray, scene: dict
) -> tuple[float, float]:
    """Mean activity of a map (H, W) on the scene's objects and elsewhere.

    A cell of the map covers a patch of the image; it counts as "on the
    objects" as much as their boxes cover it (a weight between 0 and 1),
    and as "elsewhere" for the rest.
    """
    boxes = [box_coverage(o, scene, activity.shape) for o in scene["objects"]]
    cover = np.max(boxes, axis=0).reshape(activity.shape)
    on = (activity * cover).sum() / cover.sum()
    off = (activity * (1 - cover)).sum() / (1 - cover).sum()
    return float(on), float(off)
