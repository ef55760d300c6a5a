"""Training: teacher forcing (course_lib) vs. the seed's per-prefix samples, at Flickr8k's shape.

Way A (course_lib): ``make_tf_dataset`` batches of 64 whole captions grouped by length (the
shuffled rows are sorted by length in windows of 16 batches, cut into batches, and the batches
shuffled), each cut to its longest caption, into ``build_merge_model`` with
``return_sequences=True`` and the masked sparse cross-entropy. Way A is also measured without
the grouping (``sort_window=1``: batches of shuffled captions, cut to their longest caption),
the pipeline as it was before, so that before and after are compared in one run.

Way B (the seed tutorial's ``create_sequences`` + ``model.fit``): every caption of ``k`` ids
becomes ``k - 1`` samples ``(image vector, prefix pre-padded to max_length=34, one-hot next
word)``, all materialised in memory as NumPy arrays (``per_prefix_arrays``; float32 one-hot, as
Keras 2's ``to_categorical`` made; Keras 3's is float64, twice as big), into
``build_per_prefix_model`` (LSTM returning its last output) with categorical cross-entropy and
``fit``'s default batch of 32 samples. (The tutorial's "progressive loading" generator variant
needs less memory but does the same computation, plus Python work per sample.)

Data: ``round(6000 * scale)`` images with random 4,096-d features, 5 captions each, whose word
counts are drawn to match Flickr8k (mean ≈ 11.8 words, 1–32 words, so at most 34 ids with
``<start>``/``<end>``), random word ids from a 7,579-id vocabulary.

Each way runs in its own child process (so none pollutes another's memory): it imports
TensorFlow, builds and compiles its model and reads ``ru_maxrss`` (the *baseline*), then makes
the data, trains ``warmup + steps`` batches and reads ``ru_maxrss`` again; peak memory is the
difference. Seconds per epoch = mean time of the ``steps`` timed batches (after ``warmup``
untimed ones) × batches per epoch: an extrapolation from measured steps whenever ``steps`` is
less than an epoch. Teacher forcing is timed over one epoch's number of batches by default
(grouped batches differ in width, so a few of them would be a noisy sample of an epoch).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import keras
import numpy as np

from benchmarks import (
    FLICKR8K,
    available_memory_bytes,
    comparison,
    load_average,
    peak_rss_mib,
    result,
    run_child,
)
from course_lib.models import build_merge_model, compile_captioner
from course_lib.seed_tutorial import build_per_prefix_model, per_prefix_arrays
from course_lib.training import make_tf_dataset

NAME = "training"
#: What each way is, in the order of :data:`WAYS`.
NAMES = (
    "teacher forcing: make_tf_dataset (batches grouped by length) + build_merge_model, masked loss",
    "teacher forcing, batches cut to their longest caption (no bucketing): "
    "make_tf_dataset(sort_window=1)",
    "per-prefix: per_prefix_arrays (pre-padded, one-hot) + build_per_prefix_model",
)
TEACHER_BATCH = 64  # the profiles' batch_size
PER_PREFIX_BATCH = 32  # model.fit's default, which the tutorial uses
#: Flickr8k's caption lengths in words (cleaned): mean ≈ 11.8, sd ≈ 3.9, 1 to 35 words.
CAPTION_WORDS_MEAN = 11.8
CAPTION_WORDS_SD = 3.9
#: The ways, each measured in its own child processes: teacher forcing with batches grouped by
#: length (course_lib), without (the pipeline before), and the seed's per-prefix samples.
WAYS = ("teacher", "teacher_ungrouped", "per_prefix")
#: The order of the child processes: a palindrome, so that a load that drifts during the run
#: hits every way alike.
ORDER = ("teacher", "teacher_ungrouped", "per_prefix", "per_prefix", "teacher_ungrouped", "teacher")


def make_data(
    scale: float,
    *,
    vocab_size: int = FLICKR8K["vocab_size"],
    max_length: int = FLICKR8K["max_length"],
    feature_dim: int = FLICKR8K["feature_dim"],
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], list[str], np.ndarray]:
    """Random Flickr8k-shaped data: ``(features {image id: (D,)}, image_ids (N,), ids (N, L))``.

    ``round(6000 * scale)`` images (at least 2), 5 captions each; ``ids`` rows are
    ``<start> words <end>`` right-padded with 0 to the row length ``L = max_length`` (the
    tutorial's name for the longest caption with ``<start>`` and ``<end>``).
    """
    rng = np.random.default_rng(seed)
    n_images = max(2, round(FLICKR8K["train_images"] * scale))
    matrix = rng.random((n_images, feature_dim), dtype=np.float32)  # ReLU features are >= 0
    names = [f"img_{i:05d}" for i in range(n_images)]
    features = {name: matrix[i] for i, name in enumerate(names)}
    n_captions = n_images * FLICKR8K["captions_per_image"]
    words = np.rint(rng.normal(CAPTION_WORDS_MEAN, CAPTION_WORDS_SD, n_captions)).astype(int)
    words = np.clip(words, 1, max_length - 2)
    ids = np.zeros((n_captions, max_length), dtype=np.int32)
    for n, k in enumerate(words):
        ids[n, 0] = 2  # <start>
        ids[n, 1 : k + 1] = rng.integers(4, vocab_size, size=k)
        ids[n, k + 1] = 3  # <end>
    image_ids = [names[n // FLICKR8K["captions_per_image"]] for n in range(n_captions)]
    return features, image_ids, ids


def per_prefix_bytes(ids: np.ndarray, vocab_size: int, feature_dim: int, max_length: int) -> int:
    """Bytes of the per-prefix arrays (image rows, prefixes, one-hot targets), all float32/int32."""
    samples = int(np.count_nonzero(ids)) - len(ids)
    return samples * 4 * (feature_dim + max_length + vocab_size)


# ----------------------------------------------------------------------------- child process
def _padding_share(data) -> float:
    """Share of the caption cells of one epoch of teacher-forcing batches that are padding."""
    cells = real = 0
    for inputs, _ in data:
        caption = inputs["caption"].numpy()
        cells += caption.size
        real += int(np.count_nonzero(caption))
    return 1 - real / cells


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one way in this process; returns its measurements."""
    load_start = load_average()
    keras.utils.set_random_seed(0)
    v, d, length = args.vocab_size, args.feature_dim, args.max_length
    teacher = args.way.startswith("teacher")
    if teacher:
        model = compile_captioner(build_merge_model(v, d))
    else:
        model = build_per_prefix_model(v, d, length)
    baseline = peak_rss_mib()

    start = time.perf_counter()
    features, image_ids, ids = make_data(args.scale, vocab_size=v, max_length=length, feature_dim=d)
    if teacher:
        batch = TEACHER_BATCH
        grouping = {"sort_window": 1} if args.way == "teacher_ungrouped" else {}
        data = make_tf_dataset(features, image_ids, ids, batch_size=batch, seed=0, **grouping)
        n_samples = len(ids)
        fit_kwargs: dict[str, Any] = {"x": data.repeat(), "shuffle": False}
    else:
        batch = PER_PREFIX_BATCH
        x, y = per_prefix_arrays(image_ids, ids, features, v, length)
        n_samples = len(y)
        fit_kwargs = {"x": x, "y": y, "batch_size": batch, "shuffle": True}
    prepare_seconds = time.perf_counter() - start
    steps_per_epoch = math.ceil(n_samples / batch)
    timing = _time_steps(model, fit_kwargs, steps_per_epoch, args.steps, args.warmup)
    peak = peak_rss_mib()
    result = {
        "way": args.way,
        "batch_size": batch,
        "samples": n_samples,
        "captions": len(ids),
        "steps_per_epoch": steps_per_epoch,
        **timing,
        "seconds_per_epoch": timing["seconds_per_step"] * steps_per_epoch,
        "extrapolated": timing["timed_steps"] < steps_per_epoch,
        "prepare_seconds": round(prepare_seconds, 3),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_memory_mib": round(peak - baseline, 1),
        "load_average": {"start": load_start, "end": load_average()},
    }
    if teacher:  # after the memory reading: one more pass over the pipeline, without the model
        result["padding_share"] = round(_padding_share(data), 4)
    return result


def _time_steps(
    model: keras.Model, fit_kwargs: dict[str, Any], steps_per_epoch: int, steps: int, warmup: int
) -> dict[str, Any]:
    """Fit ``warmup`` untimed steps, then ``steps`` timed ones (0: an epoch's); arrays stay
    in one epoch. Returns the warm-up and timed steps and the seconds per timed step."""
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    steps = steps_per_epoch if steps <= 0 else min(steps, steps_per_epoch)
    if "y" in fit_kwargs and warmup + steps > steps_per_epoch:  # arrays: stay in one epoch
        steps = max(1, steps_per_epoch - warmup)
        warmup = steps_per_epoch - steps
    fit_start = time.perf_counter()
    model.fit(
        **fit_kwargs, epochs=1, steps_per_epoch=warmup + steps, callbacks=[Clock()], verbose=0
    )
    timed = times[-1] - times[warmup - 1] if warmup else times[-1] - fit_start
    n_timed = len(times) - warmup
    return {
        "warmup_steps": warmup,
        "timed_steps": n_timed,
        "seconds_per_step": timed / max(n_timed, 1),
    }


def _run_child(way: str, scale: float, steps: int, warmup: int, shape: dict[str, int]) -> dict:
    args = [
        "--child", way, "--scale", str(scale), "--steps", str(steps), "--warmup", str(warmup),
        "--vocab-size", str(shape["vocab_size"]), "--feature-dim", str(shape["feature_dim"]),
        "--max-length", str(shape["max_length"]),
    ]  # fmt: skip
    return run_child("benchmarks.bench_training", args, f"{way} training")


def _load_note(label: str, result: dict) -> str:
    load = result["load_average"]
    return f"{label} {load['start'][:1]}→{load['end'][:1]}"


def _check_memory(need: int, scale: float) -> None:
    """MemoryError when the per-prefix child, which holds its sample list and the stacked
    arrays at once (2 × ``need`` bytes), would not fit in the available memory."""
    available = available_memory_bytes()
    if available is not None and 2 * need > 0.8 * available:
        raise MemoryError(
            f"scale {scale}: the per-prefix arrays need about {2 * need / 2**30:.1f} GiB at peak "
            f"but only {available / 2**30:.1f} GiB is available; use a smaller --scale"
        )


def run(
    scale: float = 0.1,
    *,
    steps_teacher: int = 0,
    steps_per_prefix: int = 100,
    warmup: int = 5,
    repeats: int = 2,
    vocab_size: int = FLICKR8K["vocab_size"],
    feature_dim: int = FLICKR8K["feature_dim"],
    max_length: int = FLICKR8K["max_length"],
    progress=print,
) -> dict[str, Any]:
    """Measure the three ways, each in its own child processes (``repeats`` = 2: the order of
    :data:`ORDER`, the faster run of each way kept; 1: each way once); ``steps_teacher=0``
    times one epoch's number of batches. Returns the result (see ``benchmarks``)."""
    shape = {"vocab_size": vocab_size, "feature_dim": feature_dim, "max_length": max_length}
    load_start = load_average()
    wall = time.perf_counter()
    _, _, ids = make_data(scale, **shape)
    need = per_prefix_bytes(ids, vocab_size, feature_dim, max_length)
    _check_memory(need, scale)
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    order = ORDER if repeats >= 2 else WAYS
    for way in order:
        steps = steps_per_prefix if way == "per_prefix" else steps_teacher
        progress(
            f"  training: {way} child (scale {scale}, {need / 2**30:.2f} GiB per-prefix arrays) …"
        )
        runs[way].append(_run_child(way, scale, steps, warmup, shape))
    a, a0, b = (min(runs[w], key=lambda r: r["seconds_per_step"]) for w in WAYS)
    for kept, way in zip((a, a0, b), WAYS, strict=True):
        kept["runs_seconds_per_epoch"] = [round(r["seconds_per_epoch"], 3) for r in runs[way]]
        kept["runs_peak_memory_mib"] = [r["peak_memory_mib"] for r in runs[way]]
        kept["peak_memory_mib"] = max(kept["runs_peak_memory_mib"])
    _, _, full_ids = make_data(1.0, **shape) if scale != 1.0 else (None, None, ids)
    full_need = per_prefix_bytes(full_ids, vocab_size, feature_dim, max_length)
    for kept, name in zip((a, a0, b), NAMES, strict=True):
        kept["name"] = name
    comparisons = [
        comparison(
            "seconds per epoch", "s", a["seconds_per_epoch"], b["seconds_per_epoch"],
            target=15.0, higher_is_better=False,
        ),
        comparison(
            "seconds per epoch, no length grouping (before)", "s", a0["seconds_per_epoch"],
            b["seconds_per_epoch"], target=8.0, higher_is_better=False,
        ),
        comparison(
            "peak memory", "MiB", a["peak_memory_mib"], b["peak_memory_mib"], target=13.0,
            higher_is_better=False,
        ),
    ]  # fmt: skip
    return result(
        NAME, "training: seconds per epoch and peak memory", scale, load_start=load_start,
        wall=wall, shape=shape, way_a=a, way_a_ungrouped=a0, way_b=b, comparisons=comparisons,
        notes=_notes(a, a0, b, scale, order, runs, full_need),
    )  # fmt: skip


def _notes(a, a0, b, scale: float, order, runs: dict, full_need: int) -> list[str]:
    return [
        f"{a['captions']} captions of {a['captions'] // 5} images (scale "
        f"{scale} of Flickr8k's 6,000 training images), random 4,096-d features, random word "
        f"ids, caption lengths drawn to Flickr8k's mean {CAPTION_WORDS_MEAN} words.",
        f"teacher forcing: batches of {a['batch_size']} captions; {a['timed_steps']} steps "
        f"timed after {a['warmup_steps']} warm-up steps, × {a['steps_per_epoch']} steps per "
        "epoch" + (" (extrapolated)." if a["extrapolated"] else "."),
        f"padding share of the caption cells of an epoch's batches: {a['padding_share']:.1%} "
        f"grouped by length, {a0['padding_share']:.1%} without grouping (both cut to their "
        "longest caption).",
        f"per-prefix: {b['samples']} samples materialised in memory (the tutorial's "
        f"create_sequences), batches of {b['batch_size']}; {b['timed_steps']} steps timed "
        f"after {b['warmup_steps']} warm-up steps, × {b['steps_per_epoch']} steps per epoch"
        + (" (extrapolated)." if b["extrapolated"] else "."),
        "load average (1 min) at the start→end of the kept runs: "
        + ", ".join(
            _load_note(label, r)
            for label, r in (("grouped", a), ("ungrouped", a0), ("per-prefix", b))
        )
        + ": an oversubscribed CPU slows teacher forcing's large multithreaded matrix products "
        "more than per-prefix's small ones, so compare runs at similar, low load.",
        f"each way ran {len(runs['teacher'])} times in its own child process (order "
        f"{', '.join(order)}); the faster run of each way is kept, all runs are in "
        "runs_seconds_per_epoch; peak memory is the largest of the runs.",
        "peak memory = ru_maxrss at the end of training minus ru_maxrss after importing "
        "TensorFlow and building the model, each way in its own child process.",
        f"at full scale the per-prefix arrays alone would take {full_need / 2**30:.1f} GiB "
        "(float32 one-hot; Keras 3's to_categorical makes float64, twice that); teacher "
        "forcing's memory does not grow with the data beyond the token ids and features.",
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_training --child WAY ...`` (internal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", dest="way", choices=WAYS, required=True)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=0, help="timed steps; 0: one epoch's")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--vocab-size", type=int, default=FLICKR8K["vocab_size"])
    parser.add_argument("--feature-dim", type=int, default=FLICKR8K["feature_dim"])
    parser.add_argument("--max-length", type=int, default=FLICKR8K["max_length"])
    args = parser.parse_args(argv)
    result = _child(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
