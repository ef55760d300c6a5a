"""Feature extraction: the batched ``tf.data`` pipeline (course_lib) vs. one image at a time.

Way A (course_lib): ``extract_features`` on the synthetic dataset (parallel decode and resize in
``tf.data``, batches of 32 through the backbone, cache written) into an empty data folder,
timed end to end including building the backbone.

Way B (the seed tutorial's loop): build the same backbone, then for each image
``keras.utils.load_img(path, target_size=…)`` (PIL), ``img_to_array``, add a batch axis and
``model.predict`` on that one image; timed including building the backbone.

Backbones: ``smallcnn`` (``weights=None``, 64 px; the mini profile's network) always; with
``vgg16=True`` also VGG16 (``weights=None``, 224 px; the full profile's network) on fewer
images. Images per second = images / seconds; way B runs on the first images only when
``images_loop`` is smaller (a rate, so no extrapolation is needed beyond that).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from benchmarks import comparison, load_average, result
from course_lib.backbones import build_backbone
from course_lib.data import generate_synthetic, load_dataset
from course_lib.features import FeatureRequest, extract_features

NAME = "extraction"


def _seed_loop(model, paths: list[Path], image_size: int) -> np.ndarray:
    """The tutorial's loop: load one image with PIL, to array, ``predict`` it alone."""
    rows = []
    for path in paths:
        image = keras.utils.load_img(path, target_size=(image_size, image_size))
        array = keras.utils.img_to_array(image)[None]  # (1, S, S, 3) float32 0-255
        rows.append(model.predict(array, verbose=0)[0])  # preprocessing is in the model
    return np.stack(rows)


def _measure(dataset, backbone: str, image_size: int, n_batched: int, n_loop: int, tmp: Path):

    ids = sorted(dataset.captions)
    batched_ids = ids[:n_batched]
    start = time.perf_counter()
    request = FeatureRequest(
        dataset, backbone, weights=None, image_size=image_size, data_dir=tmp / f"a-{backbone}",
        batch_size=32, progress=False, image_ids=batched_ids,
    )  # fmt: skip
    store = extract_features(request)
    seconds_a = time.perf_counter() - start
    if len(store) != len(batched_ids):
        raise RuntimeError(f"batched extraction returned {len(store)} of {len(batched_ids)}")

    loop_ids = ids[:n_loop]
    start = time.perf_counter()
    model = build_backbone(backbone, weights=None, image_size=image_size)
    features = _seed_loop(model, [dataset.image_path(i) for i in loop_ids], image_size)
    seconds_b = time.perf_counter() - start
    return (
        {"images": len(batched_ids), "seconds": round(seconds_a, 3),
         "images_per_second": len(batched_ids) / seconds_a, "feature_dim": store.dim},
        {"images": len(loop_ids), "seconds": round(seconds_b, 3),
         "images_per_second": len(loop_ids) / seconds_b, "feature_dim": int(features.shape[1])},
    )  # fmt: skip


def run(
    scale: float = 0.1,
    *,
    vgg16: bool = False,
    n_images: int | None = None,
    progress=print,
) -> dict[str, Any]:
    """Generate ``round(2000 * scale)`` synthetic images (≥ 16) and measure both ways."""

    load_start = load_average()
    wall = time.perf_counter()
    n = n_images if n_images is not None else max(16, round(2000 * scale))
    n_loop = min(n, max(16, round(1000 * scale)))
    a: dict[str, Any] = {"name": "extract_features (tf.data, Pillow decoding, batches of 32)"}
    b: dict[str, Any] = {"name": "load_img + model.predict, one image at a time"}
    comparisons = []
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench-extraction-") as tmp_name:
        tmp = Path(tmp_name)
        progress(f"  extraction: generating {n} synthetic images …")
        root = generate_synthetic(tmp / "synthetic", n_images=n, seed=0, progress=False)
        dataset = load_dataset(root, name="synthetic")
        runs = [("smallcnn", 64, n, n_loop)]
        if vgg16:
            n_vgg = max(8, round(n / 10))
            runs.append(("vgg16", 224, n_vgg, n_vgg))
        for backbone, size, n_a, n_b in runs:
            progress(f"  extraction: {backbone} ({n_a} batched, {n_b} one at a time) …")
            ma, mb = _measure(dataset, backbone, size, n_a, n_b, tmp)
            a[backbone], b[backbone] = ma, mb
            comparisons.append(
                comparison(
                    f"images/s, {backbone} {size}px", "img/s", ma["images_per_second"],
                    mb["images_per_second"], target=2.5, higher_is_better=True,
                )
            )  # fmt: skip
            notes.append(
                f"{backbone} (weights=None, {size}px): way A on {n_a} images, way B on the "
                f"first {n_b}; both timed including building the backbone."
            )
    notes.append(
        "images are the synthetic set's JPEGs (64 to 96 px squares), so decoding is cheap and "
        "way B's cost is mostly model.predict's per-call overhead."
    )
    return result(
        NAME, "feature extraction: images per second", scale, load_start=load_start, wall=wall,
        way_a=a, way_b=b, comparisons=comparisons, notes=notes,
    )  # fmt: skip
