"""CNN backbones: the models that turn an image into the feature vector a captioner reads.

- ``"vgg16"`` (full profile): VGG16 trained on ImageNet, cut after its second fully connected
  layer ``fc2``, so each 224×224 photo becomes a 4096-d vector.
- ``"smallcnn"`` (mini profile): the small CNN of :mod:`course_lib.scene_cnn`, pretrained on
  the synthetic scenes; each 64×64 scene becomes a 256-d vector.

Every backbone is a ``keras.Model`` that takes RGB images in the 0–255 range, shape
``(B, S, S, 3)`` float32, as :func:`course_lib.data.images.read_images` makes them, and does
its own preprocessing (:func:`describe_preprocessing`).

Building a backbone reads its weights and never trains them: the small CNN's pretrained weights
come from a file (:func:`course_lib.pipeline.backbone_weights` pretrains it on first use).
VGG16's ImageNet weights are downloaded by Keras on first use, unless ``$COURSE_VGG16_WEIGHTS``
names a local copy of the file Keras downloads (:func:`local_vgg16_weights`), for machines
without internet access.
"""

from __future__ import annotations

import hashlib
import math
import os
import urllib.error
from pathlib import Path

import keras
from keras import ops

from course_lib import config, scene_cnn
from course_lib.data.images import RESIZE

BACKBONES = ("smallcnn", "vgg16")
#: Input side that each backbone expects (VGG16 with its top layers needs 224).
DEFAULT_IMAGE_SIZE = {"smallcnn": scene_cnn.IMAGE_SIZE, "vgg16": 224}
#: Feature vector length of each backbone.
FEATURE_DIM = {"smallcnn": scene_cnn.FEATURE_DIM, "vgg16": 4096}
#: The layer each backbone's features come from: ``[vector, grid]``. The grid is the last
#: convolutional map, flattened to L = H × W region vectors (what attention reads).
OUTPUT_LAYER = {
    "smallcnn": (
        "features (Dense 256)",
        "relu3 (S/8 x S/8 x 128 map as regions)",
    ),
    "vgg16": ("fc2 (4096)", "block5_conv3 (14 x 14 x 512 map as regions)"),
}
#: ImageNet channel means in BGR order, as in ``keras.applications.vgg16.preprocess_input``.
VGG16_BGR_MEAN = (103.939, 116.779, 123.68)

#: The file Keras downloads for VGG16 with its fully connected layers, from this address.
VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
VGG16_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    + VGG16_WEIGHTS_FILE
)
#: The digest Keras checks that file against: ``file_hash`` in
#: ``keras/src/applications/vgg16.py``. Keras pins an MD5 (not a SHA-256) for it.
VGG16_WEIGHTS_MD5 = "64373286793e3c8b2b4e3219cbf3544b"

_PREPROCESSING = {
    "vgg16": (
        RESIZE + "; float32 0-255; keras.applications.vgg16.preprocess_input "
        "(RGB->BGR, subtract ImageNet BGR means 103.939,116.779,123.68, no scaling)"
    ),
    "smallcnn": scene_cnn.PREPROCESSING,
}


def check_backbone(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is one of :data:`BACKBONES`."""
    if name not in BACKBONES:
        raise ValueError(
            f"unknown backbone {name!r}; choose one of {list(BACKBONES)}"
        )


def describe_preprocessing(
    backbone: str, image_size: int | None = None, *, spatial: bool = False
) -> str:
    """The exact decoding, preprocessing and output layer of ``backbone``, as stored in a
    feature store's manifest."""
    check_backbone(backbone)
    size = image_size or DEFAULT_IMAGE_SIZE[backbone]
    return (
        _PREPROCESSING[backbone].format(size=size)
        + f"; output {OUTPUT_LAYER[backbone][spatial]}"
    )


class VGG16Preprocess(keras.layers.Layer):
    """RGB 0-255 -> BGR minus the ImageNet means: ``vgg16.preprocess_input`` ("caffe" mode)
    with ``keras.ops``."""

    def call(self, images):
        bgr = ops.flip(images, axis=-1)
        return bgr - ops.convert_to_tensor(VGG16_BGR_MEAN, dtype=bgr.dtype)


def _md5_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_vgg16_weights() -> Path | None:
    """The VGG16 ImageNet weights file named by ``$COURSE_VGG16_WEIGHTS``; None when unset.

    The file must be the one Keras downloads (:data:`VGG16_WEIGHTS_FILE`, ~553 MB): its MD5
    digest is checked against :data:`VGG16_WEIGHTS_MD5`, the value Keras itself uses.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for another file.
    """
    value = os.environ.get(config.VGG16_WEIGHTS_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    fix = (
        f"download {VGG16_WEIGHTS_URL} (the file with the fully connected layers, not the "
        f"'_notop' one) and point {config.VGG16_WEIGHTS_ENV} (or --vgg16-weights) at it, or "
        f"unset {config.VGG16_WEIGHTS_ENV} to let Keras download the weights"
    )
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: VGG16 weights file not found ({config.VGG16_WEIGHTS_ENV}); {fix}"
        )
    if path.suffix not in (".h5", ".hdf5") or path.name.endswith(
        ".weights.h5"
    ):
        raise ValueError(
            f"{path}: Keras reads these legacy H5 weights only from a file whose name ends in "
            f"'.h5' (and not '.weights.h5'); rename it to {VGG16_WEIGHTS_FILE}"
        )
    found = _md5_file(path)
    if found != VGG16_WEIGHTS_MD5:
        raise ValueError(
            f"{path}: not the VGG16 ImageNet weights file Keras expects: its MD5 digest is "
            f"{found}, expected {VGG16_WEIGHTS_MD5} (the digest Keras checks "
            f"{VGG16_WEIGHTS_FILE} against). The file is truncated, damaged or another file; "
            f"{fix}"
        )
    return path


def imagenet_vgg16(
    weights: str | None, weights_file: str | os.PathLike | None
):
    """VGG16 with its top layers: random weights, or ImageNet's from ``weights_file``, else from
    ``$COURSE_VGG16_WEIGHTS`` (:func:`local_vgg16_weights`), else downloaded by Keras."""
    if weights not in ("imagenet", None):
        raise ValueError(
            f"vgg16 weights must be 'imagenet' or None, got {weights!r}"
        )
    local = weights_file or (
        local_vgg16_weights() if weights == "imagenet" else None
    )
    try:
        return keras.applications.VGG16(
            include_top=True, weights=str(local) if local else weights
        )
    except (
        Exception
    ) as err:  # Keras turns a failed download into a bare Exception
        if local is not None or not isinstance(
            err.__context__, urllib.error.URLError
        ):
            raise
        raise OSError(
            f"cannot download VGG16's ImageNet weights from {VGG16_WEIGHTS_URL} "
            f"({err.__context__}). Without internet access, copy {VGG16_WEIGHTS_FILE} from a "
            f"machine that has it (Keras keeps it in ~/.keras/models/) and set "
            f"{config.VGG16_WEIGHTS_ENV}=/path/to/{VGG16_WEIGHTS_FILE} (or pass --vgg16-weights)"
        ) from err


def build_vgg16(
    weights: str | None,
    image_size: int,
    spatial: bool,
    weights_file: str | os.PathLike | None,
) -> keras.Model:
    """VGG16 with its preprocessing inside, cut at ``fc2`` (``spatial``: at
    ``block5_conv3``, its 14 × 14 map flattened into 196 regions)."""
    if image_size != 224:
        raise ValueError(f"vgg16 needs 224x224 images, got {image_size}")
    vgg = imagenet_vgg16(weights, weights_file)
    layer = "block5_conv3" if spatial else "fc2"
    output = vgg.get_layer(layer).output
    cut = keras.Model(vgg.input, output, name=f"vgg16_{layer}")
    inputs = keras.Input((224, 224, 3), name="image")
    outputs = cut(VGG16Preprocess(name="vgg16_preprocess")(inputs))
    if spatial:
        regions = keras.layers.Reshape((14 * 14, 512), name="regions")
        outputs = regions(outputs)
    name = "vgg16_grid" if spatial else "vgg16_features"
    return keras.Model(inputs, outputs, name=name)


def build_backbone(
    name: str,
    *,
    weights: str | None,
    image_size: int,
    weights_file: str | os.PathLike | None = None,
    spatial: bool = False,
) -> keras.Model:
    """A ``keras.Model`` mapping RGB 0–255 images (B, S, S, 3) float32 to features (B, D), or
    with ``spatial`` to grids of region vectors (B, L, C) from the last convolutional map.

    The model includes its preprocessing (:func:`describe_preprocessing`); its weights are read
    from ``weights_file`` (:func:`course_lib.pipeline.backbone_weights` makes sure it exists).

    - ``"vgg16"``: ``weights="imagenet"`` (from ``weights_file``, else the verified local file
      named by ``$COURSE_VGG16_WEIGHTS``, :func:`local_vgg16_weights`, else downloaded by
      Keras) or ``None``; S must be 224; D = 4096 (the ``fc2`` layer); grids 196 × 512
      (``block5_conv3``).
    - ``"smallcnn"``: ``weights="scenes"``, the CNN pretrained on the synthetic scenes, saved in
      ``weights_file``; ``weights=None`` is a seeded random initialisation. D = 256; grids
      (S/8)² × 128.
    """
    check_backbone(name)
    if name == "vgg16":
        return build_vgg16(weights, image_size, spatial, weights_file)
    if weights is None:
        model = scene_cnn.build_scene_cnn(
            image_size, seed=scene_cnn.SMALLCNN_INIT_SEED
        )
    elif weights != "scenes":
        raise ValueError(
            f"smallcnn weights must be 'scenes' or None, got {weights!r}"
        )
    elif weights_file is None:
        raise ValueError(
            "the small CNN's 'scenes' weights need their file: pass weights_file="
            "course_lib.pipeline.backbone_weights(profile), which pretrains it if missing"
        )
    else:
        model = scene_cnn.load_scene_cnn(weights_file, image_size=image_size)
    return scene_cnn.grid_model(model) if spatial else model


def layer_rows(model: keras.Model) -> list[tuple[str, str, tuple, str]]:
    """One row per layer after the input: name, type, output shape (without
    the batch axis) and parameter count, for a table of the architecture."""
    return [
        (
            layer.name,
            type(layer).__name__,
            tuple(layer.output.shape[1:]),
            f"{layer.count_params():,}",
        )
        for layer in model.layers[1:]
    ]


def multiply_adds(layer: keras.layers.Layer) -> int:
    """Multiply-adds of one image through a Conv2D or Dense layer: each output
    value costs one per weight of its kernel; 0 for other layers."""
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        return 0
    kernel = math.prod(layer.kernel.shape)  # k*k*C_in*C_out, or inputs*units
    if isinstance(layer, keras.layers.Dense):
        return kernel
    return math.prod(layer.output.shape[1:-1]) * kernel  # H * W positions


def model_multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one image through ``model``: :func:`multiply_adds`
    summed over its layers, those of nested models included."""
    return sum(
        model_multiply_adds(layer)
        if isinstance(layer, keras.Model)
        else multiply_adds(layer)
        for layer in model.layers
    )
