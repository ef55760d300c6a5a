"""The full profile's code path end to end on a tiny Flickr8k-shaped fixture.

Flickr8k archives with the real file and folder names, served on 127.0.0.1 → download,
extraction and verification → the Flickr8k loader → VGG16 fc2 at 224 px (``weights=None``:
the ImageNet download is the one step CI cannot take) → merge model training → beam search →
BLEU and CIDEr-D → captions for image files. This is the path Colab users take.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from http_fixtures import FaultyServer
from PIL import Image

from course_lib import config
from course_lib.data.dataset import IMAGE_DIR_NAME, SPLIT_FILES, TOKEN_FILE
from course_lib.data.flickr8k import prepare_flickr8k
from course_lib.pipeline import (
    caption_images,
    evaluate_captioner,
    prepare_features,
    run_dir_for,
    train_captioner,
)

pytestmark = pytest.mark.slow

WORDS = ["dog", "cat", "runs", "sits", "on", "grass", "a", "the", "red", "ball"]


def _fixture_archives(n_images: int = 12) -> tuple[dict[str, bytes], dict[str, str]]:
    rng = np.random.default_rng(0)
    images, tokens = io.BytesIO(), []
    with zipfile.ZipFile(images, "w") as zf:
        for k in range(n_images):
            name = f"{1000000 + k}_{k:010x}.jpg"
            pixels = rng.integers(0, 255, size=(60 + k, 80, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, format="JPEG")
            zf.writestr(f"{IMAGE_DIR_NAME}/{name}", buf.getvalue())
            for j in range(5):
                words = rng.choice(WORDS, size=4 + j % 3)
                tokens.append(f"{name}#{j}\t{' '.join(words).capitalize()} .")
    names = [line.split("#")[0] for line in tokens[::5]]
    text_files = {
        TOKEN_FILE: "\n".join(tokens) + "\n",
        SPLIT_FILES["train"]: "\n".join(names[:8]) + "\n",
        SPLIT_FILES["dev"]: "\n".join(names[8:10]) + "\n",
        SPLIT_FILES["test"]: "\n".join(names[10:]) + "\n",
    }
    text = io.BytesIO()
    with zipfile.ZipFile(text, "w") as zf:
        for name, content in text_files.items():
            zf.writestr(name, content)
    sums = {name: hashlib.sha256(c.encode()).hexdigest() for name, c in text_files.items()}
    return {"Flickr8k_Dataset.zip": images.getvalue(), "Flickr8k_text.zip": text.getvalue()}, sums


def _downloaded(data_dir):
    """The fixture's archives served on 127.0.0.1, downloaded and prepared into ``data_dir``."""
    archives, text_sums = _fixture_archives()
    with FaultyServer(archives) as server:
        return prepare_flickr8k(
            config.dataset_dir("flickr8k", data_dir),
            urls={
                "images": server.url("Flickr8k_Dataset.zip"),
                "text": server.url("Flickr8k_text.zip"),
            },
            text_sha256=text_sums,
            expected_images=12,
            progress=False,
        )


def test_full_profile_path_on_a_flickr8k_shaped_fixture(tmp_path):
    data_dir = tmp_path / "data"
    dataset = _downloaded(data_dir)
    assert dataset.images_present() and not dataset.missing_images()
    assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 8, "dev": 2, "test": 2}

    profile = config.get_profile(
        "full", weights=None, epochs=2, batch_size=8, embed_dim=16, units=16, beam_width=2
    )
    assert (profile.dataset, profile.backbone, profile.image_size) == ("flickr8k", "vgg16", 224)

    features = prepare_features(profile, data_dir, dataset=dataset, progress=False)
    assert features.dim == 4096 and len(features) == 12
    assert features.metadata["image_size"] == 224

    captioner = train_captioner(profile, data_dir, dataset=dataset, verbose=0)
    run_dir = run_dir_for(profile, data_dir)
    assert (run_dir / "best.keras").is_file() and (run_dir / "vocab.json").is_file()
    assert len(captioner.history["loss"]) == 2

    scores = evaluate_captioner(
        profile, data_dir, dataset=dataset, captioner=captioner, decoder="beam", beam_width=2
    )
    assert (scores["decoder"], scores["beam_width"], scores["n_images"]) == ("beam", 2, 2)
    for key in ("bleu1", "bleu2", "bleu3", "bleu4", "cider_d"):
        assert 0.0 <= scores[key] <= 10.0
    assert "scene_accuracy" not in scores  # Flickr8k has no scene ground truth

    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not an image")
    photo = dataset.image_path(dataset.splits["test"][0])
    results = caption_images(profile, [photo, bogus], data_dir, dataset=dataset, beam_width=2)
    assert [p for p, _ in results] == [photo, bogus]
    assert all(w in captioner.vocab for w in results[0][1].split())
    assert results[1][1].startswith("[skipped:") and "notes.jpg" in results[1][1]


def test_the_attention_model_on_vgg16_grids_of_the_flickr8k_shaped_fixture(tmp_path):
    data_dir = tmp_path / "data"
    dataset = _downloaded(data_dir)
    profile = config.get_profile(
        "full", weights=None, epochs=1, batch_size=8, embed_dim=16, units=16, beam_width=2
    )
    grids = prepare_features(profile, data_dir, dataset=dataset, progress=False, spatial=True)
    assert grids.item_shape == (196, 512) and len(grids) == 12  # block5_conv3: 14 × 14 regions
    assert grids.metadata["dtype"] == "float16" and grids.metadata["image_size"] == 224

    captioner = train_captioner(profile, data_dir, dataset=dataset, model="attention", verbose=0)
    assert captioner.model.input["image"].shape[1:] == (196, 512)
    scores = evaluate_captioner(
        profile, data_dir, dataset=dataset, captioner=captioner, model="attention",
        decoder="beam", beam_width=2,
    )  # fmt: skip
    assert scores["n_images"] == 2 and "attention_correctness" not in scores  # no scenes
    photo = dataset.image_path(dataset.splits["test"][0])
    figure = tmp_path / "where.png"
    [(path, caption)] = caption_images(
        profile, [photo], data_dir, dataset=dataset, model="attention", beam_width=2,
        attention_figure=figure,
    )  # fmt: skip
    assert path == photo and all(w in captioner.vocab for w in caption.split())
    assert figure.read_bytes()[:4] == b"\x89PNG"
