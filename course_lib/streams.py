"""Teacher-forcing batches without TensorFlow: a ``keras.utils.PyDataset``
that JAX, PyTorch and TensorFlow all read.

:class:`CaptionStream` composes its batches as ``training.make_tf_dataset``
does, from the same memory-mapped feature store and encoded captions: the
caption numbers are shuffled, sorted by length ``sort_window`` batches at a
time, cut into batches, and the batches shuffled again. The shuffles are
drawn with NumPy from ``(seed, epoch)``, so every backend that reads the
stream gets the same batches in the same order for the same seed, and a
resumed run gets the epochs it would have had. ``tf.data`` shuffles with
TensorFlow's own generator, so its order differs from the stream's (the
batches are composed the same way, not drawn the same).

It imports no TensorFlow: where the Keras backend is not TensorFlow,
training reads this stream (``training.caption_dataset`` chooses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

__all__ = [
    "SORT_WINDOW",
    "CaptionStream",
    "EpochOrder",
    "batch_order",
    "check_rows",
    "feature_matrix",
    "feature_rows",
    "padded_width",
]

#: Batches per window of the shuffled training rows sorted by caption length
#: before they are cut into batches. 16 leaves about 2 % of the caption cells
#: of a batch as padding at Flickr8k's caption lengths, against about 36 % for
#: plain shuffled batches (``benchmarks/bench_training.py``); wider windows
#: make the captions of a batch more alike, which costs caption quality and
#: makes no step faster.
SORT_WINDOW = 16


def feature_matrix(features: Any, image_ids: Sequence[str]) -> np.ndarray:
    """Rows of image features (n, D) float32 for ``image_ids``, from a
    ``FeatureStore`` (anything with ``.matrix(ids)``) or a mapping
    ``{image id: (D,) array}``."""
    if hasattr(features, "matrix"):
        matrix = features.matrix(list(image_ids))
    else:
        missing = [i for i in image_ids if i not in features]
        if missing:
            raise KeyError(
                f"no features for {len(missing)} images, e.g. {missing[:3]}"
            )
        matrix = (
            np.stack([np.asarray(features[i]) for i in image_ids])
            if image_ids
            else None
        )
    if matrix is None:
        raise ValueError("no image ids given")
    return np.asarray(matrix, dtype=np.float32)


def check_rows(
    image_ids: Sequence[str],
    ids: np.ndarray,
    batch_size: int,
    sort_window: int,
) -> np.ndarray:
    """``ids`` as int32 (N, L), or a ValueError saying what is wrong."""
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError(
            f"ids must have shape (N, L) with L >= 2, got {ids.shape}"
        )
    if len(image_ids) != len(ids):
        raise ValueError(f"{len(image_ids)} image ids for {len(ids)} captions")
    if batch_size < 1 or sort_window < 1:
        raise ValueError(
            "batch_size and sort_window must be >= 1: "
            f"{batch_size}, {sort_window}"
        )
    return ids


class _StoreRows:
    """Rows of a spatial feature store, read per batch (never whole)."""

    def __init__(self, store: Any, image_ids: list[str]):
        self.store, self.image_ids = store, image_ids

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.store.matrix([self.image_ids[i] for i in rows])


def feature_rows(features: Any, image_ids: Sequence[str]) -> tuple[Any, Any]:
    """``(images, rows)``: ``images[rows[n]]`` are the features of caption
    ``n``'s image, each image held once. Vectors are copied into one (M, D)
    array; region grids (a spatial store) are read from the memory-mapped
    shards per batch."""
    unique = list(dict.fromkeys(image_ids))
    row_of = {image_id: row for row, image_id in enumerate(unique)}
    rows = np.array([row_of[i] for i in image_ids], dtype=np.int32)
    if getattr(features, "spatial", False):
        return _StoreRows(features, unique), rows
    return feature_matrix(features, unique), rows


def batch_order(
    lengths: np.ndarray,
    size: int,
    *,
    shuffle: bool,
    seed: int,
    epoch: int,
    window: int,
) -> list[np.ndarray]:
    """One epoch's batches of caption numbers: shuffled, sorted by length
    ``window`` batches at a time, the batches shuffled again."""
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if shuffle else np.arange(n)
    if window > 1:
        windows = np.split(order, range(window * size, n, window * size))
        order = np.concatenate(
            [w[np.argsort(lengths[w], kind="stable")] for w in windows]
        )
    batches = np.split(order, range(size, n, size))
    if shuffle and window > 1:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def padded_width(longest: int, step: int, row_length: int) -> int:
    """Id columns of a batch whose longest caption has ``longest`` ids: its
    ``longest - 1`` positions rounded up to a multiple of ``step``, plus one
    (at most ``row_length``)."""
    positions = max(longest - 1, 1)
    return min(row_length, math.ceil(positions / step) * step + 1)


class CaptionStream(keras.utils.PyDataset):
    """Batches ``({"image": (B, …), "caption": (B, T)}, targets (B, T))``.

    ``images[rows[n]]``: caption ``n``'s image features
    (:func:`feature_rows`); ``ids`` (N, L) int32. ``T + 1`` is the batch's
    longest caption rounded up by :func:`padded_width` (``width_step`` > 1:
    fewer batch shapes for a compiling backend; the masked loss ignores the
    extra padding). ``epoch`` picks the order (:func:`batch_order`); Keras
    advances it after every epoch, and :class:`EpochOrder` sets it to the
    epoch that ``fit`` starts. Read it with ``fit(..., shuffle=False)``:
    Keras would shuffle the batches again with Python's generator.
    """

    def __init__(
        self,
        images: Any,
        rows: np.ndarray,
        ids: np.ndarray,
        *,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        sort_window: int = SORT_WINDOW,
        width_step: int = 1,
    ):
        super().__init__()  # one worker: batches in order, no thread races
        self.images, self.rows, self.ids = images, rows, ids
        self.lengths = np.count_nonzero(ids, axis=1)
        self.order: dict[str, Any] = dict(
            size=batch_size, shuffle=shuffle, seed=seed, window=sort_window
        )
        self.width_step = width_step
        self.epoch = 0
        self._batches: tuple[int, list[np.ndarray]] | None = None

    @property
    def batches(self) -> list[np.ndarray]:
        """This epoch's batches of caption numbers."""
        if self._batches is None or self._batches[0] != self.epoch:
            order = batch_order(self.lengths, epoch=self.epoch, **self.order)
            self._batches = (self.epoch, order)
        return self._batches[1]

    def __len__(self) -> int:
        return -(-len(self.ids) // self.order["size"])

    def __getitem__(self, index: int) -> tuple[dict[str, Any], np.ndarray]:
        numbers = self.batches[index]
        longest = int(self.lengths[numbers].max())
        width = padded_width(longest, self.width_step, self.ids.shape[1])
        seq = self.ids[numbers, :width]
        image = np.asarray(self.images[self.rows[numbers]], np.float32)
        return {"image": image, "caption": seq[:, :-1]}, seq[:, 1:]

    def on_epoch_end(self) -> None:
        if self.order["shuffle"]:
            self.epoch += 1


class EpochOrder(keras.callbacks.Callback):
    """Sets ``stream.epoch`` to each epoch that ``fit`` starts, so that the
    batches follow the epoch's number, not how often Keras began a pass
    (its first ``fit`` opens one more, to build the model from a batch)."""

    def __init__(self, stream: CaptionStream):
        super().__init__()
        self.stream = stream

    def on_epoch_begin(self, epoch, logs=None):
        self.stream.epoch = epoch
