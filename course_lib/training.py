"""Training: token ids, the teacher-forcing ``tf.data`` pipeline and a resumable ``fit`` loop.

Teacher forcing feeds each caption once: the input is ``ids[:, :-1]`` and the target
``ids[:, 1:]``, and the LSTM's ``return_sequences=True`` gives one prediction per position. The
seed tutorial instead made one sample per *prefix* (``ids[:i]`` → ``ids[i]``;
:func:`course_lib.seed_tutorial.per_prefix_samples`); with the same weights both give the same
mean loss over the real words, but teacher forcing reads each caption once instead of once per
word.

Two lengths appear here: the *row length* of the id matrix (``<start>``, the words, ``<end>``
and right padding; :func:`encode_captions`) and each batch's own width, its longest caption
(:func:`make_tf_dataset`).

**The batches** (:func:`make_tf_dataset`): ``caption = ids[:, :-1]`` and ``targets =
ids[:, 1:]``, cut per batch to the batch's longest caption (right padding means the trailing
columns are all 0). Each image's features are stored once and gathered per batch. Captions of
similar length share a batch, so that little of a batch is padding (whose softmax and LSTM
steps are computed, then masked): the rows are taken ``sort_window`` batches at a time, each
window is sorted by caption length and cut into batches (``sort_window=1``: batches of plain
shuffled rows, as many padding cells as chance gives). With ``shuffle``, the rows are shuffled
before the windows are cut and the batches are shuffled after, every epoch differently and the
same way for the same ``seed``; without it, windows follow the order of ``ids``. The shuffles
and the sorting move caption numbers, not captions: a shuffle buffer holds a whole epoch, and
one number per element keeps its memory small (the order is the same: a shuffle's order
depends on its seed and size, not on what the elements hold). The number of batches,
``ceil(N / batch_size)``, is known (``cardinality()``), which resuming in :func:`train` needs.
The masked loss is a mean over each batch's real words, so grouping by length gives a word of a
short caption somewhat more weight than one of a long caption (as a per-caption mean would);
with shuffled batches of mixed lengths every word weighs about the same.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import tensorflow as tf

import course_lib.attention  # noqa: F401  (registers its layers, which saved models name)
from course_lib import config
from course_lib.io import (
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    read_json,
)
from course_lib.streams import (
    SORT_WINDOW,
    CaptionStream,
    EpochOrder,
    check_rows,
    feature_matrix,
    feature_rows,
)
from course_lib.text import clean_caption, pad_sequences_right

#: tf.data's choice of parallelism and buffer sizes.
AUTOTUNE = tf.data.AUTOTUNE

__all__ = [
    "AtomicBestCheckpoint",
    "EpochBackup",
    "EpochLogger",
    "ResumableEarlyStopping",
    "ResumeState",
    "RunFiles",
    "caption_batches",
    "caption_dataset",
    "encode_captions",
    "feature_matrix",
    "image_lookup",
    "load_captioner",
    "make_tf_dataset",
    "padding_share",
    "read_history",
    "train",
    "training_callbacks",
]


# ----------------------------------------------------------------------------- token ids
def encode_captions(
    captions: Mapping[str, Sequence[str]],
    vocab: Any,
    row_length: int | None = None,
) -> tuple[list[str], np.ndarray]:
    """Clean and encode every caption: ``(image_ids, ids)``, a row each.

    ``ids`` (N, L) int32 holds ``<start> words… <end>`` right-padded with
    0, ``image_ids[n]`` row ``n``'s image. ``L``: the longest caption, or
    ``row_length`` (longer captions lose their last words, not ``<end>``).
    """
    if row_length is not None and row_length < 3:
        raise ValueError(
            "row_length must leave room for <start>, a word and <end>:"
            f" {row_length}"
        )
    words = None if row_length is None else row_length - 2
    image_ids = [image_id for image_id, caps in captions.items() for _ in caps]
    rows = [
        vocab.encode(clean_caption(caption)[:words])
        for caps in captions.values()
        for caption in caps
    ]
    length = row_length or max((len(r) for r in rows), default=2)
    return image_ids, pad_sequences_right(rows, length)


# ----------------------------------------------------------------------------- tf.data
def make_tf_dataset(
    features: Any,
    image_ids: Sequence[str],
    ids: np.ndarray,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    sort_window: int = SORT_WINDOW,
) -> tf.data.Dataset:
    """Batches ({"image": (B, D), "caption": (B, T)}, targets (B, T))."""
    ids = check_rows(image_ids, ids, batch_size, sort_window)
    image_of, rows = image_lookup(features, image_ids)  # rows: (N,) int32
    lengths = tf.constant(np.count_nonzero(ids, axis=1), dtype=tf.int32)
    ids = tf.constant(ids)
    ds = caption_batches(lengths, batch_size, shuffle, seed, sort_window)

    def to_model_inputs(batch):  # the batch's caption numbers
        seq = tf.gather(ids, batch)
        seq = seq[:, : tf.maximum(tf.reduce_max(tf.gather(lengths, batch)), 2)]
        image = image_of(tf.gather(rows, batch))
        return {"image": image, "caption": seq[:, :-1]}, seq[:, 1:]

    ds = ds.map(to_model_inputs, AUTOTUNE, deterministic=True)  # in parallel
    return ds.prefetch(AUTOTUNE)


def caption_dataset(
    features: Any,
    image_ids: Sequence[str],
    ids: np.ndarray,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    sort_window: int = SORT_WINDOW,
) -> Any:
    """The batches :func:`train` reads on the active Keras backend: the
    ``tf.data`` pipeline (:func:`make_tf_dataset`) on TensorFlow, else a
    :class:`~course_lib.streams.CaptionStream` of the same composition (its
    widths rounded up to a multiple of 4 ids: JAX compiles one step per
    batch shape)."""
    kw: dict[str, Any] = dict(
        batch_size=batch_size, shuffle=shuffle, seed=seed
    )
    if keras.backend.backend() == "tensorflow":
        return make_tf_dataset(
            features, image_ids, ids, sort_window=sort_window, **kw
        )
    ids = check_rows(image_ids, ids, batch_size, sort_window)
    images, rows = feature_rows(features, image_ids)
    return CaptionStream(
        images, rows, ids, sort_window=sort_window, width_step=4, **kw
    )


def caption_batches(
    lengths: tf.Tensor, size: int, shuffle: bool, seed: int, window: int
) -> tf.data.Dataset:
    """Batches of ``size`` caption numbers 0 … N − 1, ``lengths`` (N,) the
    captions' lengths: shuffled, sorted by length ``window`` batches at a
    time, the batches shuffled again (``window=1``: no sorting)."""
    n = int(lengths.shape[0])
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if window > 1:

        def by_length(numbers):
            order = tf.argsort(tf.gather(lengths, numbers), stable=True)
            return tf.gather(numbers, order)

        ds = ds.batch(window * size).map(by_length).unbatch()
        ds = ds.apply(tf.data.experimental.assert_cardinality(n))
    ds = ds.batch(size)
    if shuffle and window > 1:
        batches = -(-n // size)
        ds = ds.shuffle(batches, seed=seed + 1, reshuffle_each_iteration=True)
    return ds


def padding_share(batches: Any) -> float:
    """The share of the target cells of one pass over ``batches`` (pairs
    ``(inputs, targets (B, T))``, as :func:`make_tf_dataset` yields) that
    are padding (id 0)."""
    cells = padded = 0
    for _, targets in batches:
        targets = np.asarray(targets)
        cells += targets.size
        padded += int(np.count_nonzero(targets == 0))
    if not cells:
        raise ValueError("padding_share: the batches hold no target cells")
    return padded / cells


def image_lookup(
    features: Any, image_ids: Sequence[str]
) -> tuple[Callable[[tf.Tensor], tf.Tensor], tf.Tensor]:
    """``rows (B,) → image features (B, …)`` for ``make_tf_dataset``, and each caption's row
    (N,): the features of each image are held once.

    Vectors are small: they are copied into one tensor, gathered per batch. Region grids
    (a spatial ``FeatureStore``, memory-mapped shards) are read per batch from the store, so a
    grid store larger than memory (Flickr8k's VGG16 grids are 1.6 GB) is streamed, never loaded
    whole (:func:`course_lib.streams.feature_rows`)."""
    images, rows = feature_rows(features, image_ids)
    if isinstance(images, np.ndarray):
        matrix = tf.constant(images)
        return (lambda rows: tf.gather(matrix, rows)), tf.constant(rows)
    shape = (None, *features.item_shape)

    def lookup(rows):
        found = tf.numpy_function(
            images.__getitem__, [rows], tf.float32, stateful=False
        )
        return tf.ensure_shape(found, shape)

    return lookup, tf.constant(rows)


# ----------------------------------------------------------------------------- training loop
class EpochLogger(keras.callbacks.Callback):
    """One tidy line per epoch (no progress bars): ``epoch  3/20  loss 2.31  … 4.2 s``."""

    def __init__(self, epochs: int, print_fn=print):
        super().__init__()
        self.epochs = epochs
        self.print_fn = print_fn
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        parts = [f"epoch {epoch + 1:>{len(str(self.epochs))}}/{self.epochs}"]
        for key, value in (logs or {}).items():
            if key == "learning_rate":
                continue
            parts.append(f"{key.replace('masked_', '')} {float(value):.4f}")
        parts.append(f"{time.perf_counter() - self._start:.1f} s")
        self.print_fn("  ".join(parts))


# Written against Keras 3.15.1. Resuming uses only public Keras API: ``Model.save_weights`` of
# a compiled model also writes its optimizer's variables, ``Optimizer.build`` creates them
# before ``Model.load_weights`` reads them back, and ``Model.fit(initial_epoch=k)`` numbers
# the epochs (and the callbacks' ``epoch``) from ``k``. ``ResumableEarlyStopping`` sets the
# attributes that ``EarlyStopping.on_train_begin`` resets and ``on_epoch_end`` reads: ``best``,
# ``wait`` and ``best_epoch``. ``tests/test_training.py::test_the_keras_behaviour_that_resuming
# _relies_on`` checks each of these, so a Keras upgrade that changes one fails by name.
class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that continues counting patience from an earlier, interrupted run."""

    def __init__(
        self,
        *args,
        resume_best: float | None,
        resume_wait: int,
        resume_epoch: int,
        **kw,
    ):
        super().__init__(*args, **kw)
        self._resume = (resume_best, resume_wait, resume_epoch)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        best, wait, best_epoch = self._resume
        if best is not None:
            self.best, self.wait, self.best_epoch = best, wait, best_epoch


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Save the model to ``path`` whenever ``monitor`` improves, atomically (a temporary file
    renamed into place), so a kill during the save never leaves a truncated ``best.keras``."""

    def __init__(
        self,
        path: Path,
        monitor: str = "val_loss",
        initial_best: float | None = None,
    ):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = initial_best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if self.best is None or value < self.best:
            self.best = value
            with atomic_path(self.path) as tmp:
                self.model.save(tmp)


class EpochBackup(keras.callbacks.Callback):
    """After every epoch, a crash-safe backup of the weights *and* the optimizer state: they go
    to a new ``epoch-<n>.weights.h5`` (renamed into place once complete), then the JSON record
    naming them is replaced atomically, then older weights are deleted. A kill at any moment
    leaves a record that names complete weights of the epoch it states (see
    :func:`_restore_backup`)."""

    def __init__(self, backup_dir: Path):
        super().__init__()
        self.backup_dir = Path(backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1:05d}.weights.h5"
        tmp = (
            self.backup_dir / f".tmp-{os.getpid()}-{name}"
        )  # Keras wants the .weights.h5 ending
        try:
            self.model.save_weights(tmp, overwrite=True)
            os.replace(tmp, self.backup_dir / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        atomic_write_json(
            self.backup_dir / _BACKUP_RECORD,
            {"epoch": epoch + 1, "weights": name},
        )
        for old in self.backup_dir.glob("*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)


_BACKUP_RECORD = "training_metadata.json"


def _read_backup(backup_dir: Path) -> dict | None:
    """The backup record ``{"epoch", "weights"}`` when it names a readable weights file, else
    None (no backup). A broken backup is reported and deleted, so training restarts cleanly."""
    record_path = backup_dir / _BACKUP_RECORD
    if not record_path.exists():
        return None
    problem = None
    try:
        record = read_json(record_path)
        weights = backup_dir / str(record["weights"])
        int(record["epoch"])
    except (ValueError, KeyError, TypeError) as err:
        problem = f"{record_path} is unreadable ({err})"
    else:
        problem = _h5_problem(weights)
    if problem is None:
        return record
    warnings.warn(
        f"ignoring the training backup in {backup_dir}: {problem}; training starts again "
        "from epoch 1",
        stacklevel=4,
    )
    shutil.rmtree(backup_dir, ignore_errors=True)
    return None


def _h5_problem(path: Path) -> str | None:
    """Why the weights file ``path`` cannot be read, or None when it opens as HDF5."""
    if not path.is_file():
        return f"{path} is missing"
    try:
        with h5py.File(path, "r") as handle:
            list(handle.keys())
    except Exception as err:  # truncated or not HDF5 at all
        return f"{path} is corrupt or truncated ({type(err).__name__}: {err})"
    return None


def _build_optimizer(model: keras.Model) -> None:
    """Create a compiled model's optimizer variables, so that loading weights fills them in (in
    the scope of the ``tf.distribute`` strategy the model was compiled in: it owns them)."""
    if model.optimizer is not None and not model.optimizer.built:
        strategy = getattr(model, "distribute_strategy", None)  # TF only
        with strategy.scope() if strategy else contextlib.nullcontext():
            model.optimizer.build(model.trainable_variables)


def _restore_backup(model: keras.Model, backup_dir: Path, record: dict) -> int:
    """Load the backed-up weights and optimizer state into ``model``; returns the number of
    epochs they had completed."""
    _build_optimizer(model)
    model.load_weights(backup_dir / record["weights"])
    return int(record["epoch"])


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """A ``CSVLogger`` file as ``{"epoch": [...], "loss": [...], ...}`` (empty if missing)."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    history: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            history.setdefault(key, []).append(
                int(value) if key == "epoch" else float(value)
            )
    return history


def _keep_epochs(history_csv: Path, n_epochs: int) -> None:
    """Drop rows of epochs >= ``n_epochs`` (logged after the last backup) from the CSV log."""
    if not history_csv.exists():
        return
    with history_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    seen: set[int] = set()
    kept = []
    for row in body:
        epoch = int(row[0])
        if epoch < n_epochs and epoch not in seen:
            seen.add(epoch)
            kept.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(kept)
    atomic_write_text(history_csv, buffer.getvalue())


@dataclass(frozen=True)
class RunFiles:
    """The files of one training run in ``run_dir``."""

    run_dir: Path

    @property
    def best(self) -> Path:
        return self.run_dir / "best.keras"

    @property
    def history(self) -> Path:
        return self.run_dir / "history.csv"

    @property
    def backup(self) -> Path:
        return self.run_dir / "backup"

    @property
    def state(self) -> Path:
        return self.run_dir / "train_state.json"


@dataclass(frozen=True)
class ResumeState:
    """Where an interrupted run stopped: epochs completed (0 for a new run), the best
    ``val_loss`` so far, its epoch (0-based) and the epochs since it (early stopping's wait)."""

    done: int = 0
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0


def _resume_state(model: keras.Model, files: RunFiles) -> ResumeState:
    """Restore an interrupted run into ``model`` (weights and optimizer state from the backup)
    and trim ``history.csv`` to the epochs the backup holds; a new run starts a new history."""
    record = _read_backup(files.backup)
    if record is None:
        files.history.unlink(missing_ok=True)
        return ResumeState()
    done = _restore_backup(model, files.backup, record)
    _keep_epochs(files.history, done)
    losses = read_history(files.history).get("val_loss")
    if not losses:
        return ResumeState(done=done)
    best_epoch = int(np.argmin(losses))
    return ResumeState(
        done,
        float(losses[best_epoch]),
        best_epoch,
        len(losses) - 1 - best_epoch,
    )


def training_callbacks(
    files: RunFiles,
    state: ResumeState,
    *,
    patience: int,
    extra: Sequence[keras.callbacks.Callback] = (),
) -> list[keras.callbacks.Callback]:
    """The best checkpoint, early stopping and the CSV history, each
    continuing ``state``; the caller's ``extra``; last, the backup (written
    after the epoch's other files)."""
    stopping = ResumableEarlyStopping(
        monitor="val_loss",
        patience=patience,
        resume_best=state.best,
        resume_wait=state.wait,
        resume_epoch=state.best_epoch,
    )
    return [
        AtomicBestCheckpoint(files.best, initial_best=state.best),
        stopping,
        keras.callbacks.CSVLogger(str(files.history), append=True),
        *extra,
        EpochBackup(files.backup),
    ]


def _fit(
    model: keras.Model,
    train_ds,
    val_ds,
    *,
    epochs: int,
    done: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: int,
) -> None:
    """Fit epochs ``done + 1 … epochs`` on the repeated pipeline.

    Every pass over a shuffled pipeline, a repetition or a new iterator, takes the next shuffle
    of its seeded sequence. The ``done`` epochs already run are replayed as ``done`` passes of
    one batch each, so that each resumed epoch gets the same batches as in an uninterrupted run
    without reading the skipped epochs. Under a ``tf.distribute`` strategy ``Model.fit`` itself
    opens one more pass, to build the model from a batch: the epochs then start at the
    pipeline's second shuffle, resumed or not."""
    if isinstance(train_ds, CaptionStream):
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            initial_epoch=done,
            callbacks=[EpochOrder(train_ds), *callbacks],
            shuffle=False,  # the stream shuffles, by epoch
            verbose=1 if verbose == 1 else 0,
        )
        return
    steps = int(train_ds.cardinality())
    for _ in range(done):
        next(iter(train_ds))
    model.fit(
        train_ds.repeat(),
        steps_per_epoch=steps,
        validation_data=val_ds,
        epochs=epochs,
        initial_epoch=done,
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline shuffles
        verbose=1 if verbose == 1 else 0,
    )


def _finish(
    model: keras.Model, files: RunFiles, epochs: int
) -> dict[str, list[float]]:
    """Delete the backup, load the best weights and write ``train_state.json``; the history."""
    shutil.rmtree(files.backup, ignore_errors=True)
    if files.best.exists():
        _load_weights_checked(model, files.best)
    history = read_history(files.history)
    losses = history.get("val_loss")
    atomic_write_json(
        files.state,
        {
            "finished": True,
            "epochs_run": len(history.get("epoch", [])),
            "epochs": epochs,
            "best_epoch": int(np.argmin(losses)) if losses else None,
            "best_val_loss": min(losses) if losses else None,
        },
    )
    return history


def _check_trainable(model: keras.Model, train_ds) -> None:
    """ValueError unless ``model`` is compiled and ``train_ds`` knows its number of batches."""
    if not model.compiled:
        raise ValueError(
            f"train() needs a compiled model; {model.name!r} is not compiled. Call "
            "course_lib.models.compile_captioner(model, learning_rate) first."
        )
    steps = (
        len(train_ds)
        if isinstance(train_ds, CaptionStream)
        else int(train_ds.cardinality())
    )
    if steps <= 0:
        raise ValueError(
            f"train_ds must have a known, finite number of batches (cardinality {steps}): "
            "resuming skips the epochs already done. make_tf_dataset's datasets have one."
        )


def train(
    model: keras.Model,
    train_ds,
    val_ds,
    *,
    epochs: int,
    run_dir: str | os.PathLike,
    patience: int = 3,
    seed: int = config.DEFAULT_SEED,
    verbose: int = 2,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    overwrite: bool = False,
) -> dict[str, list[float]]:
    """Fit a compiled ``model`` with checkpoints, early stopping and crash-safe resume; returns
    the history ``{"epoch": [...], "loss": [...], "val_loss": [...], ...}``.

    ``model`` must be compiled (:func:`course_lib.models.compile_captioner` sets the optimizer
    and its learning rate), in a ``tf.distribute`` strategy's scope to train on several devices
    (:mod:`course_lib.distribute`); ``train_ds`` must know its number of batches per epoch
    (:func:`make_tf_dataset`'s does). Writes into ``run_dir``: ``best.keras`` (lowest
    ``val_loss``), ``history.csv`` (one row per epoch), ``backup/`` (the last completed epoch,
    weights and optimizer; deleted at the end) and ``train_state.json`` once finished. Calling
    ``train`` again with the same ``run_dir`` resumes an interrupted run from its last completed
    epoch, or, for a finished run, loads ``best.keras``'s weights and returns the saved history
    without training (``overwrite=True`` starts afresh). On return the model holds the best
    weights. ``verbose``: 0 silent, 1 Keras progress bars, 2 one line per epoch.
    """
    _check_trainable(model, train_ds)
    files = RunFiles(Path(run_dir))
    if overwrite and files.run_dir.exists():
        shutil.rmtree(files.run_dir)
    files.run_dir.mkdir(parents=True, exist_ok=True)
    say = print if verbose else (lambda *a, **k: None)
    if files.state.exists():
        if files.best.exists():
            _load_weights_checked(model, files.best)
        say(
            f"{config.shown_path(files.run_dir)}: training already finished;"
            " loaded the best weights"
        )
        return read_history(files.history)

    config.set_seed(seed)
    state = _resume_state(model, files)
    if state.best is not None:
        say(
            f"resuming {config.shown_path(files.run_dir)} after epoch"
            f" {state.done} (best val_loss {state.best:.4f})"
        )
    extra = (
        [*callbacks, EpochLogger(epochs)] if verbose == 2 else list(callbacks)
    )
    if state.done < epochs and not (state.done and state.wait >= patience):
        _fit(
            model,
            train_ds,
            val_ds,
            epochs=epochs,
            done=state.done,
            callbacks=training_callbacks(
                files, state, patience=patience, extra=extra
            ),
            verbose=verbose,
        )
    return _finish(model, files, epochs)


def load_captioner(
    path: str | os.PathLike, *, compile: bool = True
) -> keras.Model:
    """Load a ``.keras`` caption model in safe mode (no arbitrary code); clear error if missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no saved model here (train one first)"
        )
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=compile)
    except Exception as err:
        if "safe_mode" in str(err) or "Lambda" in str(err):
            raise ValueError(
                f"{path}: refused: the model contains code (a Lambda layer) that would run when "
                "it is loaded, and course_lib only loads models in Keras safe mode. Load only "
                "models you trained yourself with course_lib."
            ) from err
        raise ValueError(
            f"{path}: cannot load the model, the file is corrupt or truncated or not a "
            f"course_lib model ({type(err).__name__}: {err}). Delete it and train again."
        ) from err


def _load_weights_checked(model: keras.Model, path: Path) -> None:
    """``model.load_weights(path)`` with an error that names the file and what to do."""
    _build_optimizer(model)
    try:
        model.load_weights(path)
    except Exception as err:
        raise ValueError(
            f"{path}: cannot load the saved weights, the file is corrupt or truncated "
            f"({type(err).__name__}: {err}). Delete {path.parent} (or call train(..., "
            "overwrite=True)) to train again."
        ) from err
