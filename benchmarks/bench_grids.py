"""Region grids (the attention model's features): streamed from the sharded store vs. loaded whole.

Flickr8k's VGG16 grids are 196 regions × 512 channels per image, 8,091 images: 1.6 GB in
float16 (as the store holds them), 3.2 GB in float32. Two stages are measured, each way in its
own child process, at Flickr8k's grid shape with ``round(8091 * scale)`` images:

- **writing the store** (extraction). Way A (course_lib): ``extract_features(spatial=True)``
  itself, with the backbone and the image decoding replaced by a stand-in that returns random
  float32 grids in batches of 32 (running VGG16 on 2 CPU cores would take ≈ 0.5 s per image and
  measure the network, not the store): each shard is converted to float16, written with its
  ``.json``, then the manifest, then the store is opened (memory-mapped) and checked, as in a
  real extraction. Only one shard is in memory at a time. Way B (the naive way): the same
  grids, converted to float16 batch by batch, accumulated for every image and saved as one
  array at the end (``np.concatenate`` + ``np.save``; float16, so B is if anything favoured:
  the tutorial kept what ``predict`` returns, float32, twice as big). At ``--scale`` s the
  shard size is ``round(1024 * s)``, so the store has Flickr8k's 8 shards at any scale and the
  ratio is the one at full scale (at s = 1, shards of 1,024 images, the library's default).
- **training**. Way A (course_lib): the store written by A, opened with ``load_feature_cache``
  (shards memory-mapped), into ``make_tf_dataset``, which reads each batch's grids from the
  store through ``tf.numpy_function``; way B: the same store read whole into memory as float32
  (``{image id: store[image id]}`` for every training image), into the same
  ``make_tf_dataset``, which then stacks the rows and copies them into one ``tf.constant``
  (its path for vectors). Both train the same small ``build_attention_model`` (units 64; the
  memory under test is the features') compiled with ``compile_captioner`` on the first
  ``round(6000 * scale)`` images × 5 random captions (as ``bench_training``), batches of 64.

Peak memory = ``ru_maxrss`` at the end minus ``ru_maxrss`` after importing TensorFlow (and, for
training, building and compiling the model), in each child. ``ru_maxrss`` counts the store's
memory-mapped pages that training has touched (clean page cache, which the kernel can drop
under pressure); a thread also samples ``/proc/self/status`` every 10 ms for the peak of the
anonymous memory (``RssAnon``), which cannot be dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from benchmarks import (
    FLICKR8K,
    MemoryWatch,
    available_memory_bytes,
    comparison,
    features_by_way,
    load_average,
    result,
    run_stage,
    stored_mib,
)
from benchmarks.bench_training import make_data
from course_lib import features as F
from course_lib.attention import build_attention_model
from course_lib.features import DEFAULT_SHARD_SIZE, load_feature_cache
from course_lib.models import compile_captioner
from course_lib.training import make_tf_dataset

NAME = "grids"
#: Flickr8k: every image (the store holds them all) and VGG16's 14 × 14 × 512 grid.
N_IMAGES = 8091
GRID_SHAPE = (196, 512)
BATCH = 64  # the profiles' batch_size
EXTRACT_BATCH = 32  # extract_features' batch_size
UNITS = 64
WAYS = ("streamed", "whole")
#: This module, as its children run it (``python -m``).
CHILD = "benchmarks.bench_grids"
#: Training children in a palindrome, so that a load that drifts hits both ways alike.
ORDER = ("streamed", "whole", "whole", "streamed")


def n_images(scale: float) -> int:
    """Images in the store at ``scale``: ``round(8091 * scale)``, at least 4."""
    return max(4, round(N_IMAGES * scale))


def shard_size(scale: float) -> int:
    """``round(1024 * scale)`` (at least 2): the store has Flickr8k's number of shards."""

    return max(2, round(DEFAULT_SHARD_SIZE * scale))


# ----------------------------------------------------------------------------- child process
def _random_batches(n: int, grid: tuple[int, int], seed: int = 0):
    """Random float32 grids standing in for the backbone's output, batches of 32 (≥ 0, as
    after a ReLU)."""
    rng = np.random.default_rng(seed)
    for begin in range(0, n, EXTRACT_BATCH):
        yield begin, rng.random((min(EXTRACT_BATCH, n - begin), *grid), dtype=np.float32)


class _Dataset:
    """Just enough of a ``CaptionDataset`` for ``extract_features``."""

    name = "grids-bench"

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def image_ids(self) -> list[str]:
        return list(self.ids)

    def fingerprint(self) -> str:
        return f"random-{len(self.ids)}"

    def image_path(self, image_id: str) -> str:
        return f"/nonexistent/{image_id}.jpg"


def _write_streamed(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Way A: ``extract_features(spatial=True)`` with a stand-in backbone and no decoding."""

    grid = (args.regions, args.channels)
    ids = [f"img_{i:05d}" for i in range(args.images)]
    batches: dict[int, np.ndarray] = {}

    def image_batches(paths, size, batch_size, failures=None):  # the stand-in decoder
        first = ids.index(Path(paths[0]).stem)  # one call per shard
        for begin, array in _random_batches(len(paths), grid, seed=first):
            batches[begin] = array
            yield tf.constant(np.arange(begin, begin + len(array))), begin

    class Backbone:  # the stand-in network: the batch's random grids
        output_shape = (None, *grid)

        def predict_on_batch(self, begin):
            return batches.pop(begin)

    F.image_batches = image_batches
    F.build_backbone = lambda *a, **k: Backbone()
    request = F.FeatureRequest(
        _Dataset(ids), "vgg16", weights=None, image_size=224, data_dir=folder,
        progress=False, shard_size=args.shard_size, spatial=True,
    )  # fmt: skip
    store = F.extract_features(request)
    if len(store) != len(ids) or store.item_shape != grid:
        raise RuntimeError(f"the store holds {len(store)} grids of {store.item_shape}")
    path = F.feature_cache_path(request)
    return {"store": str(path), "shards": len(store.shards), "shard_size": args.shard_size}


def _write_whole(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Way B: every image's grid accumulated in memory, one array saved at the end."""
    rows = [
        array.astype(np.float16)
        for _, array in _random_batches(args.images, (args.regions, args.channels))
    ]
    whole = np.concatenate(rows)
    del rows
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "grids.npy", whole, allow_pickle=False)
    return {"file": str(folder / "grids.npy"), "shards": 1}


def _child_write(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    with MemoryWatch() as watch:
        write = _write_streamed if args.way == "streamed" else _write_whole
        result = write(args, Path(args.folder))
    seconds = time.perf_counter() - start
    return {
        "way": args.way,
        "images": args.images,
        **result,
        "seconds": round(seconds, 3),
        "stored_mib": stored_mib(Path(args.folder)),
        **watch.record(),
    }


def _child_train(args: argparse.Namespace) -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    grid = (args.regions, args.channels)
    model = compile_captioner(
        build_attention_model(
            args.vocab_size, grid, embed_dim=UNITS, units=UNITS, attention_units=UNITS
        )
    )
    with MemoryWatch() as watch:
        start = time.perf_counter()
        _, image_ids, ids = make_data(
            args.scale, vocab_size=args.vocab_size, max_length=args.max_length, feature_dim=1
        )
        features = features_by_way(load_feature_cache(args.store), image_ids, args.way)
        data = make_tf_dataset(features, image_ids, ids, batch_size=BATCH, seed=0)
        prepare_seconds = time.perf_counter() - start
        steps_per_epoch = math.ceil(len(ids) / BATCH)
        times: list[float] = []

        class Clock(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                times.append(time.perf_counter())

        steps = steps_per_epoch if args.steps <= 0 else args.steps
        fit_start = time.perf_counter()
        model.fit(
            data.repeat(), epochs=1, steps_per_epoch=args.warmup + steps, callbacks=[Clock()],
            verbose=0,
        )  # fmt: skip
        warmup = args.warmup
        timed = times[-1] - times[warmup - 1] if warmup else times[-1] - fit_start
        n_timed = len(times) - warmup
    seconds_per_step = timed / max(n_timed, 1)
    return {
        "way": args.way,
        "images": len(set(image_ids)),
        "captions": len(ids),
        "batch_size": BATCH,
        "steps_per_epoch": steps_per_epoch,
        "warmup_steps": warmup,
        "timed_steps": n_timed,
        "seconds_per_step": seconds_per_step,
        "prepare_seconds": round(prepare_seconds, 3),
        **watch.record(),
    }


def _check_fits(scale: float, images: int, train_images: int, grid: tuple[int, int], tmp: Path):
    """Refuse a scale whose whole-grid way would not fit in memory, or the files on disk."""
    cell = grid[0] * grid[1]
    # Training B: the float32 rows, their stacked copy and the tf.constant; writing B: the
    # float16 batches and their concatenation.
    need = max(3 * train_images * cell * 4, 2 * images * cell * 2)
    available = available_memory_bytes()
    if available is not None and need > 0.8 * available:
        raise MemoryError(
            f"scale {scale}: loading the grids whole needs about {need / 2**30:.1f} GiB at peak "
            f"but only {available / 2**30:.1f} GiB is available; use a smaller --scale"
        )
    disk = 2 * images * cell * 2 * 1.05  # the store and way B's one array
    free = shutil.disk_usage(tmp).free
    if disk > 0.9 * free:
        raise OSError(
            f"scale {scale}: the grid files need {disk / 2**30:.1f} GiB in {tmp}, "
            f"{free / 2**30:.1f} GiB is free; use a smaller --scale or set TMPDIR"
        )


def run(
    scale: float = 0.1,
    *,
    steps: int = 0,
    warmup: int = 5,
    repeats: int = 2,
    grid_shape: tuple[int, int] = GRID_SHAPE,
    vocab_size: int = FLICKR8K["vocab_size"],
    max_length: int = FLICKR8K["max_length"],
    progress=print,
) -> dict[str, Any]:
    """Measure writing the grid store and training from it, both ways, each in its own child
    process (training ``repeats`` = 2: order :data:`ORDER`, the faster run of each way kept,
    peak memory the largest; 1: each way once); ``steps=0`` times one epoch's number of
    batches after ``warmup`` untimed ones. Returns the result (see ``benchmarks``)."""

    load_start = load_average()
    wall = time.perf_counter()
    grid = (int(grid_shape[0]), int(grid_shape[1]))
    images = n_images(scale)
    _, image_ids, _ = make_data(scale, vocab_size=vocab_size, max_length=max_length, feature_dim=1)
    train_images = len(set(image_ids))
    if train_images > images:
        raise ValueError(f"scale {scale}: {train_images} training images, {images} in the store")
    train_options = {
        "scale": scale, "steps": steps, "warmup": warmup, "vocab_size": vocab_size,
        "max_length": max_length,
    }  # fmt: skip
    order = ORDER if repeats >= 2 else WAYS
    write, runs = _measure(scale, images, train_images, grid, train_options, order, progress)
    trained = {way: _kept_run(runs[way]) for way in WAYS}
    a = {
        "name": "streamed: extract_features' sharded writer (float16 shards) + make_tf_dataset "
        "reading each batch from the memory-mapped FeatureStore",
        "write": write["streamed"],
        "train": trained["streamed"],
    }
    b = {
        "name": "loaded whole: every grid accumulated, one array saved; training from all "
        "grids in memory as float32 (one tf.constant)",
        "write": write["whole"],
        "train": trained["whole"],
    }
    return result(
        NAME, "region grids: writing the store and training, streamed vs. loaded whole", scale,
        load_start=load_start, wall=wall,
        shape={"images": images, "train_images": train_images, "grid": list(grid)},
        way_a=a, way_b=b, comparisons=_comparisons(write, trained),
        notes=_notes(scale, images, train_images, grid, write, trained, runs, order),
    )  # fmt: skip


def _measure(
    scale: float,
    images: int,
    train_images: int,
    grid: tuple[int, int],
    train_options: dict[str, Any],
    order: tuple[str, ...],
    progress,
) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """Write the store both ways, then train from it in the ``order`` of the ways, each in its
    own child process, in a temporary folder: the writes and the training runs by way."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-grids-"))
    try:
        _check_fits(scale, images, train_images, grid, tmp)
        shape = {"regions": grid[0], "channels": grid[1], "images": images}
        write: dict[str, dict] = {}
        for way in WAYS:
            progress(f"  grids: writing {images} grids {grid}, {way} …")
            write[way] = run_stage(
                CHILD, "write", way, {**shape, "shard_size": shard_size(scale), "folder": tmp / way}
            )
        options = {**shape, **train_options, "store": write["streamed"]["store"]}
        runs: dict[str, list[dict]] = {way: [] for way in WAYS}
        for way in order:
            progress(f"  grids: training {train_images} images, {way} …")
            runs[way].append(run_stage(CHILD, "train", way, options))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return write, runs


def _kept_run(runs: list[dict]) -> dict:
    """The faster of a way's training runs, with every run's seconds and memory, and the
    largest memory."""
    best = dict(min(runs, key=lambda r: r["seconds_per_step"]))
    best["runs_seconds_per_step"] = [round(r["seconds_per_step"], 4) for r in runs]
    for key in ("peak_memory_mib", "peak_anon_memory_mib", "peak_file_rss_mib"):
        best[f"runs_{key}"] = [r[key] for r in runs]
        best[key] = max(best[f"runs_{key}"])
    return best


def _comparisons(write: dict, trained: dict) -> list[dict]:
    rows = (
        ("peak memory writing the grid store", "MiB", write, "peak_memory_mib", 4.0),
        ("peak memory training on grids", "MiB", trained, "peak_memory_mib", 1.3),
        ("seconds per step training on grids", "s", trained, "seconds_per_step", 0.8),
    )
    return [
        comparison(label, unit, ways["streamed"][key], ways["whole"][key], target=target,
                   higher_is_better=False)
        for label, unit, ways, key, target in rows
    ]  # fmt: skip


def _notes(
    scale: float,
    images: int,
    train_images: int,
    grid: tuple[int, int],
    write: dict,
    trained: dict,
    runs: dict,
    order: tuple[str, ...],
) -> list[str]:
    cell_mib = grid[0] * grid[1] / 2**20
    full_mib = GRID_SHAPE[0] * GRID_SHAPE[1] / 2**20
    return [
        f"{images} random grids of {grid[0]} × {grid[1]} (scale {scale} of Flickr8k's "
        f"{N_IMAGES:,} images; float16 {images * cell_mib * 2:,.0f} MiB, float32 "
        f"{images * cell_mib * 4:,.0f} MiB); Flickr8k's 196 × 512 VGG16 grids take "
        f"{N_IMAGES * full_mib * 2 / 1024:.1f} GiB in float16, "
        f"{N_IMAGES * full_mib * 4 / 1024:.1f} GiB in float32. Random values stand in for "
        "VGG16's output (VGG16 on CPU is far too slow).",
        f"writing: A = extract_features(spatial=True) with a stand-in backbone, "
        f"{write['streamed']['shards']} shards of {shard_size(scale)} images (1,024 × scale, so "
        f"as many shards as Flickr8k's); B = float16 batches accumulated, concatenated and "
        "saved as one array.",
        f"training: the first {train_images} images × 5 random captions "
        f"({trained['streamed']['captions']}), batches of {BATCH}, attention model with units "
        f"{UNITS}; {trained['streamed']['timed_steps']} steps timed after "
        f"{trained['streamed']['warmup_steps']} warm-up steps "
        f"({trained['streamed']['steps_per_epoch']} steps per epoch).",
        f"training ran {len(runs['streamed'])} times per way, each in its own child process "
        f"(order {', '.join(order)}); the faster run is kept for "
        "seconds per step, the largest for memory; all runs are in runs_*.",
        "peak memory = ru_maxrss at the end minus after imports (and building the model); it "
        "counts the memory-mapped pages of the store that were read (page cache, droppable). "
        "peak_anon_memory_mib = sampled peak of RssAnon (every 10 ms) minus its baseline: "
        "the memory that cannot be dropped.",
        "training load average (1 min) start→end of the kept runs: "
        + ", ".join(
            f"{way} {trained[way]['load_average']['start'][:1]}→"
            f"{trained[way]['load_average']['end'][:1]}"
            for way in WAYS
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_grids --stage write|train --way streamed|whole ...``
    (internal: one child process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("write", "train"), required=True)
    parser.add_argument("--way", choices=WAYS, required=True)
    parser.add_argument("--regions", type=int, default=GRID_SHAPE[0])
    parser.add_argument("--channels", type=int, default=GRID_SHAPE[1])
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--shard-size", type=int, default=1024)
    parser.add_argument("--folder", default="")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--store", default="")
    parser.add_argument("--steps", type=int, default=0, help="timed steps; 0: one epoch's")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--vocab-size", type=int, default=FLICKR8K["vocab_size"])
    parser.add_argument("--max-length", type=int, default=FLICKR8K["max_length"])
    args = parser.parse_args(argv)
    result = _child_write(args) if args.stage == "write" else _child_train(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
