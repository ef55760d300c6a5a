"""Scale: does memory grow with the dataset? Extraction and one training epoch at two sizes.

A student going from Flickr8k to COCO multiplies the images by 15. This benchmark writes the
synthetic dataset **in Karpathy's split format** (the format of Flickr30k and COCO) at two
sizes, ``round(2000 * scale * 10)`` and ten times that (at the default ``--scale 0.1``: 2,000
and 20,000 images; the issue's sizes), and measures each of these in its own child process,
at both sizes:

- **extraction** of the attention model's region grids (the small CNN's 8 × 8 × 128 map at
  64 px, random weights: the memory under test is the features', not the network's). Way A
  (course_lib): ``extract_features(spatial=True)``, shard by shard into the store. Way B (the
  naive way): the same backbone over the same batches of images, every grid kept in a list and
  saved as one array at the end.
- **one training epoch** of the attention model (64 units) on the training split, 5 captions
  per image, batches of 64. Way A: ``make_tf_dataset`` reading each batch's grids from the
  memory-mapped store; way B: every training grid read into memory as float32 first.

Memory is measured from after the imports and the model (the backbone is built and run once
before the baseline by both ways). The comparisons use the peak of **anonymous** memory
(``RssAnon``, sampled every 10 ms: what the process itself allocated, which the kernel cannot
drop). ``ru_maxrss`` is recorded too, but it also counts the store's memory-mapped pages that
training has read: clean page cache, which the kernel drops under pressure, and which grows
with the store simply because an epoch reads every grid once. The comparisons: at the large
size, A against B for each stage (target 2×); and, the point of the store, how way A's peak
grows from the small size to the large one, reported as small ÷ large (``≥ 0.77`` means ten
times the images need at most 1.3 × the memory).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from benchmarks import (
    MemoryWatch,
    comparison,
    features_by_way,
    load_average,
    result,
    run_stage,
    stored_mib,
)
from course_lib.attention import build_attention_model
from course_lib.backbones import build_backbone
from course_lib.data import load_dataset
from course_lib.data.images import image_batches
from course_lib.data.synthetic import generate_synthetic
from course_lib.features import (
    FeatureRequest,
    extract_features,
    feature_cache_path,
    load_feature_cache,
)
from course_lib.models import compile_captioner
from course_lib.text import Vocabulary, tokenize_captions
from course_lib.training import encode_captions, make_tf_dataset

NAME = "scale"
WAYS = ("streamed", "whole")
#: This module, as its children run it (``python -m``).
CHILD = "benchmarks.bench_scale"
IMAGE_SIZE = 64
BATCH = 64
UNITS = 64
#: The largest growth of way A's peak memory over ten times the images that passes.
MAX_GROWTH = 1.3


def sizes(scale: float) -> tuple[int, int]:
    """The two dataset sizes at ``scale``: ``round(2000 * scale * 10)`` (at least 16) and ten
    times that."""
    small = max(16, round(2000 * scale * 10))
    return small, 10 * small


# ----------------------------------------------------------------------------- child process
def _dataset(root: Path):

    return load_dataset(root, name="synthetic")


def _child_extract(args: argparse.Namespace) -> dict[str, Any]:

    dataset = _dataset(Path(args.root))
    data_dir = Path(args.work) / args.way
    # Built before the baseline by both ways (way A's extract_features builds its own), so
    # that the libraries TensorFlow loads on first use are not counted as features' memory.
    backbone = build_backbone("smallcnn", weights=None, image_size=IMAGE_SIZE, spatial=True)
    backbone.predict_on_batch(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32))
    start = time.perf_counter()
    with MemoryWatch() as watch:
        if args.way == "streamed":
            request = FeatureRequest(
                dataset, "smallcnn", weights=None, image_size=IMAGE_SIZE, data_dir=data_dir,
                progress=False, spatial=True,
            )  # fmt: skip
            images = len(extract_features(request))
            folder = feature_cache_path(request)
        else:
            paths = [dataset.image_path(i) for i in dataset.image_ids()]
            rows = []
            for _, batch in image_batches(paths, IMAGE_SIZE, 32):
                rows.append(np.asarray(backbone.predict_on_batch(batch), dtype=np.float16))
            grids = np.concatenate(rows)
            folder = data_dir
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / "grids.npy", grids)
            images = len(grids)
    seconds = time.perf_counter() - start
    return {
        "way": args.way,
        "images": images,
        "store": str(folder),
        "seconds": round(seconds, 3),
        "stored_mib": stored_mib(folder),
        **watch.record(),
    }


def _child_train(args: argparse.Namespace) -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    dataset = _dataset(Path(args.root))
    captions = dataset.split_captions("train")
    vocab = Vocabulary.build(t for ts in tokenize_captions(captions).values() for t in ts)
    store = load_feature_cache(args.store)
    model = compile_captioner(
        build_attention_model(
            len(vocab), store.item_shape, embed_dim=UNITS, units=UNITS, attention_units=UNITS
        )
    )
    with MemoryWatch() as watch:
        start = time.perf_counter()
        image_ids, ids = encode_captions(captions, vocab)
        features = features_by_way(store, image_ids, args.way)
        data = make_tf_dataset(features, image_ids, ids, batch_size=BATCH, seed=0)
        model.fit(data, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    return {
        "way": args.way,
        "images": len(captions),
        "captions": len(ids),
        "batch_size": BATCH,
        "seconds": round(seconds, 3),
        **watch.record(),
    }


# ----------------------------------------------------------------------------- the benchmark
def run(scale: float = 0.1, *, progress=print) -> dict[str, Any]:
    """Both sizes, both ways, both stages (8 child processes). Returns the result (see
    ``benchmarks``): ``way_a``/``way_b`` hold each way's measurements by size."""

    load_start = load_average()
    wall = time.perf_counter()
    measured: dict[str, dict[int, dict]] = {way: {} for way in WAYS}
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        for n in sizes(scale):
            root = tmp / f"synthetic-{n}"
            progress(f"  scale: writing {n} synthetic images in Karpathy's layout …")
            generate_synthetic(root, n_images=n, layout="karpathy", progress=False)
            for way in WAYS:
                progress(f"  scale: {n} images, extraction, {way} …")
                work = tmp / f"work-{n}"
                extract = run_stage(CHILD, "extract", way, {"root": root, "work": work})
                progress(f"  scale: {n} images, one training epoch, {way} …")
                # both ways train from the store that way A wrote at this size
                written = extract if way == "streamed" else measured["streamed"][n]["extract"]
                train = run_stage(CHILD, "train", way, {"root": root, "store": written["store"]})
                measured[way][n] = {"extract": extract, "train": train}
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    small, large = sizes(scale)
    notes = [
        f"sizes {small:,} and {large:,} images (synthetic, Karpathy's split format), grids "
        f"8 x 8 x 128 at {IMAGE_SIZE} px; A = sharded store, streamed; B = every grid in memory",
        "the second row of each stage compares way A with itself: its peak memory at "
        f"{large:,} images (A) and at {small:,} (B); the ratio ≥ {1 / MAX_GROWTH:.2f} means "
        f"growth ≤ {MAX_GROWTH}× for ten times the images",
    ]
    a = {
        "name": "streamed: extract_features' sharded store, batches read from it",
        **{str(n): measured["streamed"][n] for n in (small, large)},
    }
    b = {
        "name": "loaded whole: every grid kept in memory, saved or trained from at once",
        **{str(n): measured["whole"][n] for n in (small, large)},
    }
    return result(
        NAME, "scale: peak memory of extraction and of one epoch at two dataset sizes", scale,
        load_start=load_start, wall=wall, sizes=[small, large], way_a=a, way_b=b,
        comparisons=_comparisons(measured, small, large), notes=notes,
    )  # fmt: skip


def _comparisons(measured: dict[str, dict[int, dict]], small: int, large: int) -> list[dict]:
    """Each stage's peak anonymous memory: A against B at the larger size, and A at the larger
    size against A at the smaller (its growth)."""

    def peak(way: str, n: int, stage: str) -> float:
        return measured[way][n][stage]["peak_anon_memory_mib"]

    comparisons = []
    for stage, label in (("extract", "extraction"), ("train", "one training epoch")):
        comparisons.append(
            comparison(
                f"peak anonymous memory, {label}, {large:,} images",
                "MiB",
                peak("streamed", large, stage),
                peak("whole", large, stage),
                target=2.0,
                higher_is_better=False,
            )
        )
        comparisons.append(
            comparison(
                f"peak anonymous memory, {label}: {small:,} ÷ {large:,} images (A: {large:,}; "
                f"B: {small:,}; streamed)",
                "MiB",
                peak("streamed", large, stage),
                peak("streamed", small, stage),
                target=round(1 / MAX_GROWTH, 2),
                higher_is_better=False,
            )
        )
    return comparisons


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_scale --stage extract|train --way streamed|whole ...``
    (internal: one child process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("extract", "train"), required=True)
    parser.add_argument("--way", choices=WAYS, required=True)
    parser.add_argument("--root", required=True, help="the synthetic dataset")
    parser.add_argument("--work", default="", help="extract: where the features go")
    parser.add_argument("--store", default="", help="train: the store written by way A")
    args = parser.parse_args(argv)
    result = _child_extract(args) if args.stage == "extract" else _child_train(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
