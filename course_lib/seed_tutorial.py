"""The seed tutorial's ways, reproduced to show and measure what the course does instead.

The widely copied Keras captioning tutorial (the course's seed)

* trains on one sample per caption *prefix*, pre-padded, with one-hot targets
  (:func:`per_prefix_samples`, :func:`build_per_prefix_model`; the course feeds each caption
  once with teacher forcing, :mod:`course_lib.training`): the same loss, many times the memory
  (chapter 5, ``benchmarks/bench_training.py``);
* feeds the whole prefix through the model for every new word (:func:`naive_greedy_decode`;
  the course carries the LSTM state, :mod:`course_lib.decoding`; chapter 3,
  ``benchmarks/bench_decoding.py``);
* scores BLEU with two mistakes (:func:`tutorial_mistake_bleu`; chapter 7).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import keras
import numpy as np
from keras import layers

from course_lib.decoding import without_pad_and_start
from course_lib.metrics import (
    BLEU_WEIGHTS,
    Hypotheses,
    References,
    bleu_scores,
    matching_ids,
    strip_special_tokens,
)
from course_lib.training import feature_matrix

__all__ = [
    "TUTORIAL_BLEU_WEIGHTS",
    "build_per_prefix_model",
    "copy_weights_by_name",
    "naive_greedy_decode",
    "per_prefix_arrays",
    "per_prefix_samples",
    "tutorial_mistake_bleu",
]

#: The weights of the widely copied tutorial: its BLEU-3 weights sum to 0.9, not 1.
TUTORIAL_BLEU_WEIGHTS: dict[str, tuple[float, ...]] = {
    **BLEU_WEIGHTS,
    "bleu3": (0.3, 0.3, 0.3, 0.0),
}


# ----------------------------------------------------------------------------- per-prefix training
def per_prefix_samples(
    image_ids: Sequence[str],
    ids: np.ndarray,
    features: Any,
    vocab_size: int,
    prefix_length: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The seed tutorial's samples, one per caption and word: ``(image (D,),
    prefix (prefix_length,), one-hot next word (V,))``.

    For caption ``ids[n]`` and every position ``i >= 1`` holding a real id, the prefix is
    ``ids[n, :i]`` padded with 0 at the front to ``prefix_length`` (default ``L - 1``, as the
    tutorial's ``pad_sequences``), and the target is ``to_categorical(ids[n, i], vocab_size)``.
    A caption of ``k`` ids gives ``k - 1`` samples, which is why this formulation needs so much
    memory.
    """
    ids = np.asarray(ids, dtype=np.int32)
    prefix_length = (
        ids.shape[1] - 1 if prefix_length is None else prefix_length
    )
    vectors = feature_matrix(features, list(dict.fromkeys(image_ids)))
    row_of = {
        image_id: row for row, image_id in enumerate(dict.fromkeys(image_ids))
    }
    for image_id, seq in zip(image_ids, ids, strict=True):
        real = seq[seq != 0]
        if len(real) - 1 > prefix_length:
            raise ValueError(
                f"a caption of {len(real)} ids needs prefix_length >= {len(real) - 1}"
            )
        for i in range(1, len(real)):
            prefix = np.zeros(prefix_length, dtype=np.int32)
            prefix[prefix_length - i :] = real[:i]
            target = np.zeros(vocab_size, dtype=np.float32)
            target[real[i]] = 1.0
            yield vectors[row_of[image_id]], prefix, target


def per_prefix_arrays(
    image_ids: Sequence[str],
    ids: np.ndarray,
    features: Any,
    vocab_size: int,
    prefix_length: int | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All of :func:`per_prefix_samples` stacked: ``({"image": (S, D),
    "caption": (S, prefix_length)}, one-hot targets (S, V))``. Only for small data: ``S × V``
    floats."""
    samples = list(
        per_prefix_samples(image_ids, ids, features, vocab_size, prefix_length)
    )
    if not samples:
        raise ValueError("no samples: every caption is empty")
    images, prefixes, targets = (
        np.stack(column) for column in zip(*samples, strict=True)
    )
    return {"image": images, "caption": prefixes}, targets


def build_per_prefix_model(
    vocab_size: int,
    feature_dim: int,
    prefix_length: int,
    *,
    embed_dim: int = 256,
    units: int = 256,
    dropout: float = 0.5,
    name: str = "per_prefix_merge",
) -> keras.Model:
    """The seed tutorial's model: (image (B, D), prefix (B, prefix_length)) → next word (B, V).

    Same layers, names and weight shapes as :func:`course_lib.models.build_merge_model`, but the
    LSTM returns only its last output (``return_sequences=False``) and it is trained with
    categorical cross-entropy on one-hot targets (compiled here).
    """
    image = keras.Input(shape=(feature_dim,), dtype="float32", name="image")
    caption = keras.Input(
        shape=(prefix_length,), dtype="int32", name="caption"
    )
    x = layers.Dropout(dropout, name="image_dropout")(image)
    image_vector = layers.Dense(units, activation="relu", name="image_dense")(
        x
    )
    w = layers.Embedding(
        vocab_size, embed_dim, mask_zero=True, name="embedding"
    )(caption)
    w = layers.Dropout(dropout, name="caption_dropout")(w)
    w = layers.LSTM(units, name="lstm")(w)
    h = layers.Add(name="add")([image_vector, w])
    h = layers.Dense(units, activation="relu", name="decoder_dense")(h)
    probs = layers.Dense(vocab_size, activation="softmax", name="output")(h)
    model = keras.Model({"image": image, "caption": caption}, probs, name=name)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def copy_weights_by_name(
    source: keras.Model, target: keras.Model
) -> list[str]:
    """Copy the weights of every layer of ``target`` that ``source`` has under the same name;
    returns the names copied. Shapes must agree (they do between merge and per-prefix)."""
    copied = []
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        layer.set_weights(other.get_weights())
        copied.append(layer.name)
    return copied


# ----------------------------------------------------------------------------- decoding


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


# ----------------------------------------------------------------------------- BLEU
def tutorial_mistake_bleu(
    references: References,
    hypotheses: Hypotheses,
    mistake: Literal["special_tokens", "bleu3_weights"],
) -> dict[str, Any]:
    """BLEU-1..4 computed with one of two mistakes copied from a popular tutorial, for the book.

    * ``"special_tokens"``: every reference and hypothesis is scored as
      ``startseq ... endseq`` (markers added when absent). Two free unigram and bigram matches
      per caption inflate every BLEU-n, most for short captions.
    * ``"bleu3_weights"``: markers are stripped correctly, but BLEU-3 uses the weights
      ``(0.3, 0.3, 0.3, 0)``, which sum to 0.9; since precisions are below one, the
      under-weighted geometric mean comes out too high.

    Returns the same keys as :func:`bleu_scores` plus ``"mistake"``.
    """
    if mistake == "special_tokens":
        ids = matching_ids(references, hypotheses)

        def wrap(tokens: Sequence[str]) -> list[str]:
            return ["startseq", *strip_special_tokens(tokens), "endseq"]

        refs = {i: [wrap(r) for r in references[i]] for i in ids}
        hyps = {i: wrap(hypotheses[i]) for i in ids}
        scores: dict[str, Any] = bleu_scores(refs, hyps, strip_special=False)
    elif mistake == "bleu3_weights":
        scores = bleu_scores(
            references, hypotheses, weights=TUTORIAL_BLEU_WEIGHTS
        )
    else:
        raise ValueError(
            f"unknown mistake {mistake!r}; use 'special_tokens' or 'bleu3_weights'"
        )
    scores["mistake"] = mistake
    return scores
