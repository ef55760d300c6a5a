"""VGG16's ImageNet weights from a local file (offline and air-gapped machines).

The real file is ~553 MB, so the tests write one of the same legacy-H5 layout (``layer_names``,
per-layer ``weight_names``, one dataset per weight) in which every weight is a constant: HDF5
stores only the fill value, so the file is a few kilobytes.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import urllib.error

import h5py
import numpy as np
import pytest

from course_lib import backbones, config
from course_lib.__main__ import main

#: VGG16 with its top: the layers that have weights, in order, as Keras's file lists them.
VGG16_LAYERS = {
    "block1_conv1": (3, 64),
    "block1_conv2": (64, 64),
    "block2_conv1": (64, 128),
    "block2_conv2": (128, 128),
    "block3_conv1": (128, 256),
    "block3_conv2": (256, 256),
    "block3_conv3": (256, 256),
    "block4_conv1": (256, 512),
    "block4_conv2": (512, 512),
    "block4_conv3": (512, 512),
    "block5_conv1": (512, 512),
    "block5_conv2": (512, 512),
    "block5_conv3": (512, 512),
    "fc1": (25088, 4096),
    "fc2": (4096, 4096),
    "predictions": (4096, 1000),
}


def _kernel_value(k: int) -> float:
    return 0.001 * (k + 1)


def _bias_value(k: int) -> float:
    return -0.01 * (k + 1)


def _write_vgg16_weights(path) -> str:
    """Write constant VGG16 weights in Keras's legacy H5 layout; return the file's MD5."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name in VGG16_LAYERS]
        for k, (name, (n_in, n_out)) in enumerate(VGG16_LAYERS.items()):
            group = f.create_group(name)
            kernel_shape = (3, 3, n_in, n_out) if name.startswith("block") else (n_in, n_out)
            weights = {
                f"{name}/kernel:0": (kernel_shape, _kernel_value(k)),
                f"{name}/bias:0": ((n_out,), _bias_value(k)),
            }
            group.attrs["weight_names"] = [w.encode() for w in weights]
            for weight_name, (shape, value) in weights.items():
                group.create_dataset(
                    weight_name, shape=shape, dtype="f4", fillvalue=value, compression="gzip"
                )
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture
def weights_file(tmp_path, monkeypatch):
    """A tiny VGG16 weights file, with its digest taken as the one Keras expects."""
    path = tmp_path / backbones.VGG16_WEIGHTS_FILE
    monkeypatch.setattr(backbones, "VGG16_WEIGHTS_MD5", _write_vgg16_weights(path))
    return path


def test_the_expected_digest_is_the_one_keras_checks_its_download_against():
    from keras.src.applications import vgg16

    source = inspect.getsource(vgg16)
    found = re.search(
        re.escape(f'"{backbones.VGG16_WEIGHTS_FILE}"') + r".*?file_hash=\"([0-9a-f]+)\"",
        source,
        re.DOTALL,
    )
    assert found, "keras/src/applications/vgg16.py no longer pins a hash for the weights file"
    assert found[1] == backbones.VGG16_WEIGHTS_MD5
    assert len(found[1]) == 32  # an MD5: Keras picks the algorithm from the digest's length
    assert vgg16.WEIGHTS_PATH == backbones.VGG16_WEIGHTS_URL


@pytest.mark.slow
def test_vgg16_loads_imagenet_weights_from_the_local_file(weights_file, monkeypatch):
    assert weights_file.stat().st_size < 200_000
    monkeypatch.setenv(config.VGG16_WEIGHTS_ENV, str(weights_file))
    model = backbones.build_backbone("vgg16", weights="imagenet", image_size=224)
    vgg = model.get_layer("vgg16_fc2")
    for k, name in enumerate(list(VGG16_LAYERS)[:-1]):  # "predictions" is cut off after fc2
        kernel, bias = vgg.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, np.float32(_kernel_value(k)))
        np.testing.assert_array_equal(bias, np.float32(_bias_value(k)))
    features = model.predict(np.zeros((1, 224, 224, 3), np.float32), verbose=0)
    assert features.shape == (1, 4096)


def test_a_local_file_with_another_digest_is_refused_with_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / backbones.VGG16_WEIGHTS_FILE
    path.write_bytes(b"half a download")
    found = hashlib.md5(b"half a download", usedforsecurity=False).hexdigest()
    monkeypatch.setenv(config.VGG16_WEIGHTS_ENV, str(path))
    with pytest.raises(ValueError) as err:
        backbones.build_backbone("vgg16", weights="imagenet", image_size=224)
    message = str(err.value)
    for part in (str(path), found, backbones.VGG16_WEIGHTS_MD5, "MD5", backbones.VGG16_WEIGHTS_URL):
        assert part in message
    assert config.VGG16_WEIGHTS_ENV in message


def test_a_missing_local_file_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / backbones.VGG16_WEIGHTS_FILE
    monkeypatch.setenv(config.VGG16_WEIGHTS_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        backbones.build_backbone("vgg16", weights="imagenet", image_size=224)


def test_a_file_keras_would_not_read_as_legacy_h5_is_refused_by_name(weights_file, monkeypatch):
    renamed = weights_file.rename(weights_file.with_name("vgg16.weights.h5"))
    monkeypatch.setenv(config.VGG16_WEIGHTS_ENV, str(renamed))
    with pytest.raises(ValueError, match=r"rename it to vgg16_weights_tf_dim_ordering"):
        backbones.local_vgg16_weights()


def test_a_failed_download_says_how_to_use_a_local_file(monkeypatch):
    import keras

    def vgg16_offline(**kwargs):
        # What keras.utils.get_file does when the network is unreachable.
        try:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        except urllib.error.URLError as err:
            raise Exception(f"URL fetch failure on {backbones.VGG16_WEIGHTS_URL}: {err}")  # noqa: B904

    monkeypatch.setattr(keras.applications, "VGG16", vgg16_offline)
    monkeypatch.delenv(config.VGG16_WEIGHTS_ENV, raising=False)
    with pytest.raises(OSError, match=config.VGG16_WEIGHTS_ENV) as err:
        backbones.build_backbone("vgg16", weights="imagenet", image_size=224)
    assert "Temporary failure in name resolution" in str(err.value)


def test_without_the_variable_keras_downloads_the_weights(monkeypatch):
    monkeypatch.delenv(config.VGG16_WEIGHTS_ENV, raising=False)
    assert backbones.local_vgg16_weights() is None
    monkeypatch.setenv(config.VGG16_WEIGHTS_ENV, "  ")
    assert backbones.local_vgg16_weights() is None


@pytest.mark.parametrize("command", ["features", "train", "evaluate", "caption", "run"])
def test_the_command_line_option_sets_the_weights_file(command, tmp_path, monkeypatch):
    import course_lib.__main__ as cli

    seen = []

    def command_stub(args) -> int:
        seen.append(os.environ[config.VGG16_WEIGHTS_ENV])
        return 0

    monkeypatch.setattr(cli, f"_cmd_{command}", command_stub)
    monkeypatch.setenv(config.VGG16_WEIGHTS_ENV, "replaced by the option")
    extra = ["photo.jpg"] if command == "caption" else []
    assert main([command, "--vgg16-weights", str(tmp_path / "w.h5"), *extra]) == 0
    assert seen == [str(tmp_path / "w.h5")]


def test_build_vgg16_needs_224_pixel_images():
    with pytest.raises(ValueError, match="224x224"):
        backbones.build_vgg16(None, 64, False, None)


def test_layer_rows_and_multiply_adds_of_a_small_network():
    import keras

    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")
    dense = keras.layers.Dense(5, name="dense")
    x = conv(inputs)
    model = keras.Model(inputs, dense(keras.layers.Flatten(name="flat")(x)))
    rows = backbones.layer_rows(model)
    assert [r[:3] for r in rows] == [
        ("conv", "Conv2D", (8, 8, 4)),
        ("flat", "Flatten", (256,)),
        ("dense", "Dense", (5,)),
    ]
    assert rows[0][3] == f"{3 * 3 * 3 * 4 + 4:,}"
    assert backbones.multiply_adds(conv) == 8 * 8 * (3 * 3 * 3 * 4)
    assert backbones.multiply_adds(dense) == 256 * 5
    assert backbones.multiply_adds(model.get_layer("flat")) == 0
    outer_input = keras.Input((8, 8, 3))
    outer = keras.Model(outer_input, keras.layers.Dense(2)(model(outer_input)))
    total = 8 * 8 * (3 * 3 * 3 * 4) + 256 * 5
    assert backbones.model_multiply_adds(model) == total
    assert backbones.model_multiply_adds(outer) == total + 5 * 2  # nested
