"""The full profile's path timed on the active Keras backend, on a GPU or on a CPU.

``KERAS_BACKEND=jax python -m benchmarks.gpu [--scale 1] [--out FILE.json]`` measures, on a
Flickr8k-shaped synthetic set (random data and weights at Flickr8k's sizes):

* **extraction**: VGG16 (``weights=None``, 224 px; ImageNet weights cost the same) in images
  per second for fc2 vectors (4,096) and block5_conv3 grids (196 × 512), in batches of 32:
  the network alone on decoded images, Pillow's JPEG decoding and resizing alone (threads), and
  both together from JPEG files (decoding in threads, overlapped with the network);
* **training**: one epoch of the merge model (fc2 vectors) and of the attention model (grids)
  on 6,000 images × 5 captions with the full profile's settings: ``model.fit`` on a
  ``keras.utils.PyDataset``, after a warm-up epoch of one batch of each shape (compilation,
  timed apart);
* **decoding**: greedy and beam-3 decoding of 1,000 images with each trained model.

It needs no TensorFlow (Pillow decodes, NumPy batches), so it runs on JAX, PyTorch and
TensorFlow alike. It writes one JSON (the numbers, the backend, versions, the device and the
sizes; rewritten after each measurement, so a run cut short keeps what it measured) and
prints a table. ``--scale`` multiplies the numbers of images (a test runs it tiny on a CPU); the
shapes, the vocabulary and the models stay Flickr8k's.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import _memory_total_gib, load_average, now
from course_lib.machine import cpu_model

PARTS = ("extraction", "training", "decoding")
#: Flickr8k: images in the folder, training and test images, and the course's vocabulary
#: (7,587 words of the training captions and 4 reserved ids) and longest training caption
#: (37 words), from data/README.md.
FLICKR8K_IMAGES, TRAIN_IMAGES, TEST_IMAGES = 8091, 6000, 1000
VOCAB_SIZE, MAX_WORDS = 7591, 37
#: Caption lengths in words, drawn like Flickr8k's (mean 11.8, sd 3.9; benchmarks/README.md).
LENGTH_MEAN, LENGTH_SD = 11.8, 3.9
#: Synthetic photos: Flickr8k's usual 500 × 375 JPEGs; this many distinct, the rest copies.
PHOTO_SIZE, PHOTO_QUALITY, DISTINCT_PHOTOS = (500, 375), 90, 64


@dataclass(frozen=True)
class Sizes:
    """What one run measures; ``scale`` 1 is Flickr8k's size."""

    extraction_images: int
    train_images: int
    decode_images: int
    captions_per_image: int = 5
    vocab_size: int = VOCAB_SIZE
    max_words: int = MAX_WORDS
    image_size: int = 224
    extraction_batch: int = 32
    feature_dim: int = 4096
    grid_shape: tuple[int, int] = (196, 512)
    width_step: int = 8

    @classmethod
    def at_scale(cls, scale: float) -> Sizes:
        """Every number of images times ``scale`` (at least 2 of each)."""

        def n(full: int) -> int:
            return max(2, round(full * scale))

        return cls(n(FLICKR8K_IMAGES), n(TRAIN_IMAGES), n(TEST_IMAGES))

    @property
    def row_length(self) -> int:
        """Ids in the longest caption, ``<start>`` and ``<end>`` included."""
        return self.max_words + 2


class Timer:
    """Wall-clock and this process's CPU seconds of a ``with`` block (the CPU time, all
    threads together, says how much of a wall time on a shared machine was the work's own)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.wall
        self.cpu_seconds = time.process_time() - self.cpu

    def record(self, images: int | None = None) -> dict[str, Any]:
        """``{"seconds", "cpu_seconds"}``, with ``images`` also the images and images/s."""
        out = {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds}
        if images is not None:
            out.update(images=images, images_per_second=images / self.seconds)
        return out


class Recorder:
    """The result of a run: logs progress and rewrites the JSON after every measurement, so
    that a run stopped at a time limit keeps what it measured."""

    def __init__(self, out: Path, result: dict[str, Any]) -> None:
        self.out, self.result, self.wall = out, result, time.perf_counter()

    def log(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.wall:6.1f} s] {text}", flush=True)

    def save(self) -> None:
        from course_lib.io import atomic_write_json

        self.result["wall_seconds"] = time.perf_counter() - self.wall
        self.result["load_average_end"] = load_average()
        atomic_write_json(self.out, _rounded(self.result))


# ----------------------------------------------------------------------------- the machine
def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def device_info() -> dict[str, Any]:
    """The backend's devices (name, memory), the CPUs, and the versions that matter."""
    import keras
    import PIL

    backend = keras.backend.backend()
    info: dict[str, Any] = {
        "keras_backend": backend,
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "numpy": np.__version__,
            "pillow": PIL.__version__,
            backend: _version(backend),
        },
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": _memory_total_gib(),
        "platform": platform.platform(),
    }
    info.update({"jax": _jax_devices, "torch": _torch_devices}.get(backend, _tf_devices)())
    return info


def _jax_devices() -> dict[str, Any]:
    import jax

    devices = []
    for d in jax.devices():
        stats = d.memory_stats() or {}
        limit = stats.get("bytes_limit")
        devices.append(
            {"platform": d.platform, "name": d.device_kind,
             "allocator_limit_gib": round(limit / 2**30, 1) if limit else None}
        )  # fmt: skip
    return {
        "devices": devices,
        "jaxlib": _version("jaxlib"),
        "jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
    }


def _torch_devices() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"devices": [{"platform": "cpu", "name": cpu_model()}]}
    devices = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        devices.append(
            {"platform": "gpu", "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
             "multiprocessors": p.multi_processor_count}
        )  # fmt: skip
    return {
        "devices": devices,
        "cuda": torch.version.cuda,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
    }


def _tf_devices() -> dict[str, Any]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    devices = [
        {"platform": "gpu", "name": tf.config.experimental.get_device_details(g).get("device_name")}
        for g in gpus
    ]
    return {"devices": devices or [{"platform": "cpu", "name": cpu_model()}]}


# ----------------------------------------------------------------------------- extraction
def write_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` JPEG photos of :data:`PHOTO_SIZE` (smooth colours and grain; the first
    :data:`DISTINCT_PHOTOS` distinct, the rest byte copies of them)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    folder.mkdir(parents=True, exist_ok=True)
    paths, data = [], []
    for i in range(n):
        path = folder / f"{i:05d}.jpg"
        if i < DISTINCT_PHOTOS:
            base = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            smooth = Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC)
            grain = rng.normal(0, 24, (height, width, 3))
            pixels = np.clip(np.asarray(smooth, np.float32) + grain, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(path, "JPEG", quality=PHOTO_QUALITY)
            data.append(path.read_bytes())
        else:
            path.write_bytes(data[i % DISTINCT_PHOTOS])
        paths.append(path)
    return paths


def decoded_batches(paths: list[Path], size: int, batch: int, pool: ThreadPoolExecutor):
    """Batches (b, size, size, 3) float32 0–255 of the course's image path
    (:func:`course_lib.data.images.load_image`), decoded in ``pool`` two batches ahead."""
    from course_lib.data.images import load_image

    starts = list(range(0, len(paths), batch))
    jobs: list[list | None] = []
    for k in range(len(starts)):
        while len(jobs) < min(k + 3, len(starts)):
            first = starts[len(jobs)]
            jobs.append([pool.submit(load_image, p, size) for p in paths[first : first + batch]])
        yield np.stack([job.result() for job in jobs[k]]).astype(np.float32)
        jobs[k] = None  # let the decoded images go


def _batch_sizes(n: int, batch: int) -> list[int]:
    return [min(batch, n - start) for start in range(0, n, batch)]


def time_network(model, images: np.ndarray, n: int) -> dict[str, Any]:
    """The network alone: ``n`` images in batches of ``len(images)``, the same decoded images
    each time; a first call of each batch shape (compilation) timed apart."""
    sizes = _batch_sizes(n, len(images))
    with Timer() as warmup:
        for b in sorted(set(sizes)):
            np.asarray(model.predict_on_batch(images[:b]))
    with Timer() as timer:
        for b in sizes:
            np.asarray(model.predict_on_batch(images[:b]))
    return {**timer.record(n), "warmup": warmup.record(), "batch_shapes": len(set(sizes))}


def time_decoding(paths: list[Path], size: int, batch: int, threads: int) -> dict[str, Any]:
    """Pillow's decoding and resizing alone, in ``threads`` threads."""
    with ThreadPoolExecutor(threads) as pool, Timer() as timer:
        n = sum(len(b) for b in decoded_batches(paths, size, batch, pool))
    return {**timer.record(n), "threads": threads}


def time_end_to_end(model, paths: list[Path], size: int, batch: int, threads: int):
    """JPEG files to features: decoding in threads, overlapped with the network; each batch's
    features brought back to the host (grids as float16, as the feature store keeps them)."""
    n = 0
    with ThreadPoolExecutor(threads) as pool, Timer() as timer:
        for images in decoded_batches(paths, size, batch, pool):
            features = np.asarray(model.predict_on_batch(images))
            n += len(features.astype(np.float16 if features.ndim == 3 else np.float32))
    return {**timer.record(n), "threads": threads}


def run_extraction(sizes: Sizes, folder: Path, threads: int, part: dict, run: Recorder):
    """Images/s for fc2 vectors and block5_conv3 grids: network alone, decoding alone, both;
    into ``part``."""
    from course_lib.backbones import build_backbone

    n, batch, size = sizes.extraction_images, sizes.extraction_batch, sizes.image_size
    paths = write_photos(folder, n)
    part["photos"] = {"count": n, "size": list(PHOTO_SIZE), "jpeg_quality": PHOTO_QUALITY,
                      "distinct": min(n, DISTINCT_PHOTOS),
                      "mean_kib": np.mean([p.stat().st_size for p in paths]) / 1024}  # fmt: skip
    part["batch_size"] = batch
    part["decoding_only"] = time_decoding(paths, size, batch, threads)
    with ThreadPoolExecutor(threads) as pool:
        images = next(decoded_batches(paths[:batch], size, batch, pool))
    for name, spatial in (("fc2", False), ("grids", True)):
        run.log(f"extraction: VGG16 {name}, {n} images")
        with Timer() as build:
            model = build_backbone("vgg16", weights=None, image_size=size, spatial=spatial)
        part[name] = {"output_shape": list(model.output_shape[1:]), "build": build.record()}
        part[name]["network_only"] = time_network(model, images, n)
        run.save()
        part[name]["with_jpeg_decoding"] = time_end_to_end(model, paths, size, batch, threads)
        run.save()
        del model


# ----------------------------------------------------------------------------- training
def synthetic_captions(sizes: Sizes, n_images: int, seed: int = 0):
    """``(rows (N,), ids (N, row_length))``: ``captions_per_image`` captions per image, lengths
    drawn like Flickr8k's (one of :data:`MAX_WORDS`), word ids Zipf-distributed over the
    vocabulary, framed by ``<start>`` and ``<end>`` and right-padded with 0."""
    from course_lib.text import Vocabulary

    rng = np.random.default_rng(seed)
    n = n_images * sizes.captions_per_image
    lengths = np.clip(np.rint(rng.normal(LENGTH_MEAN, LENGTH_SD, n)), 1, sizes.max_words)
    lengths[0] = sizes.max_words
    words = np.arange(4, sizes.vocab_size)
    zipf = 1.0 / np.arange(1, len(words) + 1)
    ids = np.zeros((n, sizes.row_length), dtype=np.int32)
    for row, length in enumerate(lengths.astype(int)):
        ids[row, 0] = Vocabulary.start_id
        ids[row, 1 : length + 1] = rng.choice(words, length, p=zipf / zipf.sum())
        ids[row, length + 1] = Vocabulary.end_id
    rows = np.repeat(np.arange(n_images, dtype=np.int32), sizes.captions_per_image)
    return rows, ids


def caption_batches(features, rows, ids, *, batch_size, width_step, seed, sort_window=16):
    """A ``keras.utils.PyDataset`` of teacher-forcing batches (see :class:`CaptionBatches`)."""
    import keras

    from course_lib.streams import batch_order, padded_width

    class CaptionBatches(keras.utils.PyDataset):
        """``({"image": (B, …) float32, "caption": (B, T)}, targets (B, T))`` from NumPy, grouped
        by length as ``make_tf_dataset`` groups them (``sort_window`` shuffled batches sorted by
        length, the batches shuffled); T rounded up to a multiple of ``width_step``, so that a
        compiling backend meets a few batch shapes, not one per caption length."""

        def __init__(self, batches: list[np.ndarray] | None = None):
            super().__init__(workers=4, use_multiprocessing=False, max_queue_size=16)
            self.lengths = np.count_nonzero(ids, axis=1)
            self.epoch = 0
            self.fixed = batches is not None
            self.batches = self.shapes_free(batches if self.fixed else self.plan())

        def plan(self) -> list[np.ndarray]:
            """This epoch's batches, composed as course_lib's stream composes them."""
            return batch_order(
                self.lengths, batch_size, shuffle=True, seed=seed, epoch=self.epoch,
                window=sort_window,
            )  # fmt: skip

        def width(self, numbers: np.ndarray) -> int:
            return padded_width(int(self.lengths[numbers].max()), width_step, ids.shape[1])

        def shapes_free(self, batches: list[np.ndarray]) -> list[np.ndarray]:
            """``batches`` with the smallest first and then one of another width, where there
            are such: on TensorFlow, Keras fixes every dimension that a PyDataset's first two
            batches share, and then refuses a batch of another shape."""
            if len(batches) < 2:
                return batches
            first = min(range(len(batches)), key=lambda i: len(batches[i]))
            rest = [i for i in range(len(batches)) if i != first]
            other = [i for i in rest if self.width(batches[i]) != self.width(batches[first])]
            if other:
                rest.remove(other[0])
                rest.insert(0, other[0])
            return [batches[i] for i in (first, *rest)]

        def __len__(self) -> int:
            return len(self.batches)

        def __getitem__(self, index: int):
            numbers = self.batches[index]
            batch = ids[numbers, : self.width(numbers)]
            image = np.asarray(features[rows[numbers]], dtype=np.float32)
            return {"image": image, "caption": batch[:, :-1]}, batch[:, 1:]

        def on_epoch_end(self) -> None:
            if not self.fixed:
                self.epoch += 1
                self.batches = self.shapes_free(self.plan())

        def shapes(self) -> set[tuple[int, int]]:
            """The (captions, positions) shapes of this epoch's batches."""
            return {(len(b), self.width(b) - 1) for b in self.batches}

        def one_of_each_shape(self) -> CaptionBatches:
            """The same batches, one of each shape (a warm-up epoch that compiles them all)."""
            first = {(len(b), self.width(b) - 1): b for b in reversed(self.batches)}
            return CaptionBatches(list(first.values()))

    return CaptionBatches()


def train_one_epoch(model, batches) -> dict[str, Any]:
    """A warm-up ``fit`` of one batch of each shape of the epoch (compilation: ``fit``'s
    train function is kept and reused), then one timed epoch; seconds per step is the epoch's
    wall time over its steps. The warm-up runs two epochs: a model's first ``fit`` reads one
    batch to build its loss and metrics, and with a PyDataset that batch is then missing from
    the epoch (its shape would be compiled in the timed epoch)."""
    warmup = batches.one_of_each_shape()
    with Timer() as compiling:
        model.fit(warmup, epochs=2, verbose=0)
    with Timer() as epoch:
        history = model.fit(batches, epochs=1, verbose=0)
    steps = len(batches)
    return {"warmup": compiling.record(), "batch_shapes": len(warmup), "steps": steps,
            "epoch": epoch.record(), "step_seconds": epoch.seconds / steps,
            "loss": float(history.history["loss"][-1])}  # fmt: skip


def random_features(shape: tuple[int, ...], dtype, seed: int) -> np.ndarray:
    """Non-negative random features (as after a ReLU), made in chunks of rows."""
    rng = np.random.default_rng(seed)
    out = np.empty(shape, dtype=dtype)
    for start in range(0, shape[0], 256):
        chunk = out[start : start + 256]
        chunk[...] = rng.random(chunk.shape, dtype=np.float32) * 2
    return out


def build_captioner(kind: str, sizes: Sizes):
    """The full profile's merge (fc2 vectors) or attention (grids) model, compiled as the
    course compiles it."""
    from course_lib.attention import build_attention_model
    from course_lib.config import PROFILES
    from course_lib.models import build_merge_model, compile_captioner

    p = PROFILES["full"].for_model(kind)
    common = {"embed_dim": p.embed_dim, "units": p.units, "dropout": p.dropout}
    if kind == "merge":
        model = build_merge_model(sizes.vocab_size, sizes.feature_dim, **common)
    else:
        model = build_attention_model(
            sizes.vocab_size, sizes.grid_shape, attention_units=p.units,
            penalty=p.attention_penalty, **common,
        )  # fmt: skip
    return compile_captioner(model, p.learning_rate), p


def run_training(sizes: Sizes, models: dict, part: dict, run: Recorder) -> None:
    """One epoch of each model at Flickr8k's size, into ``part``; the trained models go into
    ``models``."""
    from course_lib.config import PROFILES, set_seed

    rows, ids = synthetic_captions(sizes, sizes.train_images)
    part["captions"] = len(ids)
    part["mean_caption_ids"] = float(np.count_nonzero(ids, axis=1).mean())
    for kind, shape, dtype in (
        ("merge", (sizes.feature_dim,), np.float32),
        ("attention", sizes.grid_shape, np.float16),
    ):
        run.log(f"training: {kind}, {len(ids)} captions")
        features = random_features((sizes.train_images, *shape), dtype, seed=1)
        set_seed(PROFILES["full"].seed)
        model, profile = build_captioner(kind, sizes)
        batches = caption_batches(
            features, rows, ids, batch_size=profile.batch_size,
            width_step=sizes.width_step, seed=profile.seed,
        )  # fmt: skip
        part[kind] = {"batch_size": profile.batch_size, "params": model.count_params(),
                      "padding_share": _padding_share(batches),
                      **train_one_epoch(model, batches)}  # fmt: skip
        models[kind] = model
        run.save()


def _padding_share(batches) -> float:
    """Share of the model positions of an epoch's batches that are padding."""
    cells = sum(len(b) * (batches.width(b) - 1) for b in batches.batches)
    return 1 - float(np.sum(batches.lengths - 1)) / cells


# ----------------------------------------------------------------------------- decoding
class TimedSteps:
    """A step model that counts its steps and times them (the model's share of decoding;
    the rest is the decoder's NumPy work on the host)."""

    def __init__(self, inner) -> None:
        self.inner, self.steps, self.seconds = inner, 0, 0.0

    def init(self, features):
        return self.inner.init(features)

    def step(self, word_ids, state):
        start = time.perf_counter()
        out = self.inner.step(word_ids, state)  # returns NumPy: the device has finished
        self.seconds += time.perf_counter() - start
        self.steps += 1
        return out

    def select(self, state, rows):
        return self.inner.select(state, rows)


def never_end(model, vocab) -> None:
    """Make ``<end>`` impossible (its output bias -1e4), so that every caption is as long as
    decoding allows and every backend decodes the same number of words."""
    output = model.get_layer("output")
    kernel, bias = output.get_weights()
    bias[vocab.end_id] = -1e4
    output.set_weights([kernel, bias])


def time_decoder(decode, model, features, vocab, max_tokens, batch_size) -> dict[str, Any]:
    """One decoder on all ``features``, after a warm-up of two words on each batch shape it
    meets (the shapes of every step are the same)."""
    from course_lib.decoding import as_step_model

    steps = TimedSteps(as_step_model(model))
    n = len(features)
    with Timer() as warmup:
        for b in sorted(set(_batch_sizes(n, batch_size))):
            # two words compile all
            decode(steps, features[:b], vocab, max_tokens=2, batch_size=batch_size)
    steps.steps, steps.seconds = 0, 0.0
    with Timer() as timer:
        captions = decode(
            steps, features, vocab, max_tokens=max_tokens, batch_size=batch_size
        ).captions
    return {**timer.record(n), "warmup": warmup.record(), "batch_size": batch_size,
            "steps": steps.steps, "model_step_seconds": steps.seconds,
            "mean_words": float(np.mean([len(c) for c in captions]))}  # fmt: skip


def run_decoding(sizes: Sizes, models: dict, part: dict, run: Recorder) -> None:
    """Greedy and beam-3 decoding of the test images with each model (trained one epoch by
    :func:`run_training`, else untrained), ``<end>`` disabled (:func:`never_end`); into
    ``part``."""
    from functools import partial

    from course_lib.decoding import beam_search_decode, greedy_decode
    from course_lib.text import Vocabulary

    vocab = Vocabulary([f"w{i}" for i in range(sizes.vocab_size - 4)])
    max_tokens = sizes.row_length - 1
    part["max_tokens"] = max_tokens
    for kind, shape in (("merge", (sizes.feature_dim,)), ("attention", sizes.grid_shape)):
        model = models.get(kind) or build_captioner(kind, sizes)[0]
        never_end(model, vocab)
        features = random_features((sizes.decode_images, *shape), np.float32, seed=2)
        part[kind] = {"trained_epochs": int(kind in models)}
        for name, decode, batch in (
            ("greedy", greedy_decode, 256),
            ("beam3", partial(beam_search_decode, beam_width=3), 64),
        ):
            run.log(f"decoding: {kind}, {name}, {sizes.decode_images} images")
            part[kind][name] = time_decoder(decode, model, features, vocab, max_tokens, batch)
            run.save()


# ----------------------------------------------------------------------------- the run
def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def table(result: dict[str, Any]) -> str:
    """The numbers of a result as a Markdown table."""
    rows = ["| part | what | measured | wall s | CPU s |", "|---|---|---|---|---|"]

    def row(part: str, what: str, m: dict[str, Any], number: str | None = None) -> None:
        if number is None:
            number = f"{m['images_per_second']:,.4g} images/s ({m['images']} images)"
        rows.append(f"| {part} | {what} | {number} | {m['seconds']:.3g} | {m['cpu_seconds']:.3g} |")

    ext = result.get("extraction", {})
    if "decoding_only" in ext:
        row("extraction", "JPEG decoding and resizing alone", ext["decoding_only"])
    for name in ("fc2", "grids"):
        for way, what in (
            ("network_only", "network alone"),
            ("with_jpeg_decoding", "from JPEG files"),
        ):
            if way in ext.get(name, {}):
                row("extraction", f"{name}, {what}", ext[name][way])
    for kind, t in result.get("training", {}).items():
        if isinstance(t, dict):
            row(
                "training",
                f"{kind}, one epoch, {t['steps']} steps",
                t["epoch"],
                f"{t['step_seconds'] * 1000:.4g} ms/step",
            )
            row(
                "training",
                f"{kind}, compilation ({t['batch_shapes']} batch shapes)",
                t["warmup"],
                "",
            )
    for kind, d in result.get("decoding", {}).items():
        for name in ("greedy", "beam3"):
            if isinstance(d, dict) and name in d:
                row("decoding", f"{kind}, {name}", d[name])
    return "\n".join(rows)  # fmt: skip


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="numbers of images, 1 = Flickr8k")
    for part, full in (
        ("extraction", FLICKR8K_IMAGES),
        ("train", TRAIN_IMAGES),
        ("decode", TEST_IMAGES),
    ):
        parser.add_argument(f"--{part}-images", type=int, help=f"instead of {full} x scale")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset")
    parser.add_argument("--threads", type=int, default=min(16, os.cpu_count() or 1),
                        help="threads decoding JPEGs")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu.json"))
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if set(args.parts) - set(PARTS) or args.scale <= 0:
        parser.error(f"--parts must name some of {list(PARTS)} and --scale be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure the chosen parts, rewriting the JSON after each measurement; print the table."""
    import course_lib.config  # noqa: F401 (first: it quiets TensorFlow's start-up log lines)

    args = _parse(argv)
    counts = {
        f"{part}_images": getattr(args, f"{part}_images")
        for part in ("extraction", "train", "decode")
    }
    sizes = replace(Sizes.at_scale(args.scale), **{k: v for k, v in counts.items() if v})
    result: dict[str, Any] = {
        "benchmark": "gpu", "date": now(), "scale": args.scale, "parts": args.parts,
        "device": device_info(), "sizes": asdict(sizes), "load_average_start": load_average(),
    }  # fmt: skip
    run = Recorder(args.out, result)
    run.log(f"backend {result['device']['keras_backend']}, devices {result['device']['devices']}")
    models: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        for name in (p for p in PARTS if p in args.parts):
            part = result.setdefault(name, {})
            if name == "extraction":
                run_extraction(sizes, Path(tmp), args.threads, part, run)
            elif name == "training":
                run_training(sizes, models, part, run)
            else:
                run_decoding(sizes, models, part, run)
    run.save()
    run.log(f"wrote {args.out}")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
