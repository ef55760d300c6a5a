"""The seed tutorial's ways, reproduced to show and measure what the course does instead.

The widely copied Keras captioning tutorial (the course's seed) feeds the whole caption prefix
through the model for every new word (:func:`naive_greedy_decode`; the course carries the LSTM
state, :mod:`course_lib.decoding`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from course_lib.decoding import without_pad_and_start

__all__ = ["naive_greedy_decode"]


def naive_greedy_decode(
    model: keras.Model, features: np.ndarray, vocab: Any, max_tokens: int
) -> list[list[str]]:
    """The seed tutorial's greedy loop: for every image and every new word,
    the whole prefix (padded to ``max_tokens``) goes through ``model.predict``.
    Slow on purpose; for comparison. Like the course's decoders it never
    picks ``<pad>`` or ``<start>``."""
    captions = []
    for vector in np.asarray(features, dtype=np.float32):
        prefix = [vocab.start_id]
        for _ in range(max_tokens):
            padded = np.zeros((1, max_tokens), dtype=np.int32)
            padded[0, : len(prefix)] = prefix
            inputs = {"image": vector[None], "caption": padded}
            probs = model.predict(inputs, verbose=0)[0, len(prefix) - 1]
            word = int(without_pad_and_start(probs, vocab).argmax())
            prefix.append(word)
            if word == vocab.end_id:
                break
        captions.append(vocab.decode(prefix))
    return captions
