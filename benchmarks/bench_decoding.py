"""Decoding the 1,000-image test split: greedy with carried LSTM state vs. the seed's loop.

Way A (course_lib): ``greedy_decode`` — all images in batches of 256, one LSTM *step* per new
word (``build_step_model``).

Way B (the seed tutorial's loop): ``naive_greedy_decode`` — for every image and every new word,
the whole prefix padded to ``max_length`` goes through ``model.predict``.

Model: ``build_merge_model`` at Flickr8k's shape (vocabulary 7,579, 4,096-d features, 256
units) with random weights, and random features. So that both ways decode the same number of
words, the output bias of ``<end>`` is set to -1e4: no caption ends early, every caption is
``max_length`` = 34 words, and the words produced are counted. Way B is timed on a subset of
the images (``n_naive``) and extrapolated to all of them; both ways get one untimed warm-up
image first (tracing ``predict``).
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from benchmarks import FLICKR8K, comparison, load_average, result
from course_lib.decoding import greedy_decode
from course_lib.models import build_merge_model
from course_lib.seed_tutorial import naive_greedy_decode
from course_lib.text import Vocabulary

NAME = "decoding"


def build_model_and_vocab(vocab_size: int, feature_dim: int):
    """A random-weight merge model whose ``<end>`` is never chosen, and a matching Vocabulary."""
    keras.utils.set_random_seed(0)
    model = build_merge_model(vocab_size, feature_dim)
    vocab = Vocabulary([f"w{i}" for i in range(vocab_size - 4)])
    output = model.get_layer("output")
    kernel, bias = output.get_weights()
    bias[vocab.end_id] = -1e4
    output.set_weights([kernel, bias])
    return model, vocab


def run(
    scale: float = 0.1,
    *,
    n_images: int = FLICKR8K["test_images"],
    n_naive: int | None = None,
    vocab_size: int = FLICKR8K["vocab_size"],
    feature_dim: int = FLICKR8K["feature_dim"],
    max_length: int = FLICKR8K["max_length"],
    progress=print,
) -> dict[str, Any]:
    """Measure both ways; way B on ``n_naive`` images (default ``max(3, 50 * scale)``)."""
    load_start = load_average()
    wall = time.perf_counter()
    n_naive = min(n_images, n_naive if n_naive is not None else max(3, round(50 * scale)))
    model, vocab = build_model_and_vocab(vocab_size, feature_dim)
    features = np.random.default_rng(0).random((n_images, feature_dim), dtype=np.float32)

    greedy_decode(model, features[:1], vocab, max_tokens=max_length)  # warm-up
    progress(f"  decoding: greedy with carried state, {n_images} images …")
    start = time.perf_counter()
    fast = greedy_decode(model, features, vocab, max_tokens=max_length).captions
    seconds_a = time.perf_counter() - start

    naive_greedy_decode(model, features[:1], vocab, max_length)  # warm-up
    progress(f"  decoding: per-word predict loop, {n_naive} images …")
    start = time.perf_counter()
    slow = naive_greedy_decode(model, features[:n_naive], vocab, max_length)
    seconds_b_measured = time.perf_counter() - start

    a = {
        "name": "greedy_decode (carried LSTM state, batches of 256)",
        "images": n_images,
        "seconds": round(seconds_a, 3),
        "words": sum(len(c) for c in fast),
        "words_per_second": sum(len(c) for c in fast) / seconds_a,
    }
    b = {
        "name": "naive_greedy_decode (model.predict on the whole prefix per word)",
        "images": n_images,
        "images_timed": n_naive,
        "seconds_timed": round(seconds_b_measured, 3),
        "seconds": round(seconds_b_measured * n_images / n_naive, 3),
        "extrapolated": n_naive < n_images,
        "words_timed": sum(len(c) for c in slow),
        "words_per_second": sum(len(c) for c in slow) / seconds_b_measured,
    }
    same = sum(f == s for f, s in zip(fast[:n_naive], slow, strict=True))
    seconds = comparison(
        f"seconds for {n_images} images", "s", a["seconds"], b["seconds"], target=20.0,
        higher_is_better=False,
    )  # fmt: skip
    return result(
        NAME, "decoding the test split: seconds for 1,000 images", scale,
        load_start=load_start, wall=wall, way_a=a, way_b=b, comparisons=[seconds],
        notes=_notes(a, b, same, vocab_size, max_length),
    )  # fmt: skip


def _notes(a: dict, b: dict, same: int, vocab_size: int, max_length: int) -> list[str]:
    n_images, n_naive = a["images"], b["images_timed"]
    return [
        f"{n_images} random 4,096-d feature vectors; merge model with random weights "
        f"(vocabulary {vocab_size}); <end> disabled, so every caption has {max_length} words "
        f"(A decoded {a['words']} words, B {b['words_timed']} on {n_naive} images).",
        f"way B timed on {n_naive} images and extrapolated ×{n_images / n_naive:g} to "
        f"{n_images}" + ("." if n_naive < n_images else " (not extrapolated)."),
        f"both ways chose the same caption for {same} of the {n_naive} images decoded by both.",
    ]
