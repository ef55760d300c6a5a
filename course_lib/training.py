"""Training: token ids, the teacher-forcing ``tf.data`` pipeline, the seed's per-prefix samples,
and a resumable ``fit`` loop.

Teacher forcing feeds each caption once: the input is ``ids[:, :-1]`` and the target
``ids[:, 1:]``, and the LSTM's ``return_sequences=True`` gives one prediction per position. The
seed tutorial instead made one sample per *prefix* (``ids[:i]`` → ``ids[i]``); with the same
weights both give the same mean loss over the real words (see :func:`per_prefix_samples`), but
teacher forcing reads each caption once instead of once per word.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from course_lib import config
from course_lib.io import atomic_path, atomic_write_json, atomic_write_text, read_json
from course_lib.models import compile_captioner

__all__ = [
    "EpochLogger",
    "build_per_prefix_model",
    "copy_weights_by_name",
    "encode_captions",
    "feature_matrix",
    "load_captioner",
    "make_tf_dataset",
    "per_prefix_arrays",
    "per_prefix_samples",
    "read_history",
    "train",
]


# ----------------------------------------------------------------------------- token ids
def encode_captions(
    captions: Mapping[str, Sequence[str]], vocab: Any, max_length: int | None = None
) -> tuple[list[str], np.ndarray]:
    """Clean and encode every caption: ``(image_ids, ids)`` with one row per caption.

    ``ids`` is (N, L) int32, ``<start> words… <end>`` right-padded with 0; ``L`` is the longest
    encoded caption, or ``max_length`` (longer captions then lose their last *words* and keep
    ``<end>``). ``image_ids[n]`` is the image of row ``n``.
    """
    from course_lib.text import clean_caption

    if max_length is not None and max_length < 3:
        raise ValueError(f"max_length must leave room for <start>, a word and <end>: {max_length}")
    image_ids: list[str] = []
    rows: list[list[int]] = []
    for image_id, caps in captions.items():
        for caption in caps:
            tokens = clean_caption(caption)
            if max_length is not None:
                tokens = tokens[: max_length - 2]
            image_ids.append(image_id)
            rows.append(vocab.encode(tokens))
    length = max_length if max_length is not None else max((len(r) for r in rows), default=2)
    ids = np.zeros((len(rows), length), dtype=np.int32)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = row
    return image_ids, ids


def feature_matrix(features: Any, image_ids: Sequence[str]) -> np.ndarray:
    """Rows of image features (n, D) float32 for ``image_ids``, from a ``FeatureStore``
    (anything with ``.matrix(ids)``) or a mapping ``{image id: (D,) array}``."""
    if hasattr(features, "matrix"):
        matrix = features.matrix(list(image_ids))
    else:
        missing = [i for i in image_ids if i not in features]
        if missing:
            raise KeyError(f"no features for {len(missing)} images, e.g. {missing[:3]}")
        matrix = np.stack([np.asarray(features[i]) for i in image_ids]) if image_ids else None
    if matrix is None:
        raise ValueError("no image ids given")
    return np.asarray(matrix, dtype=np.float32)


# ----------------------------------------------------------------------------- tf.data
def make_tf_dataset(
    features: Any,
    image_ids: Sequence[str],
    ids: np.ndarray,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
):
    """Teacher-forcing batches ``({"image": (B, D), "caption": (B, T)}, targets (B, T))``.

    ``caption = ids[:, :-1]`` and ``targets = ids[:, 1:]``, cut per batch to the batch's longest
    caption (right padding means the trailing columns are all 0). Each image's features are
    stored once and gathered per batch. With ``shuffle`` the order changes every epoch, the
    same way for the same ``seed``.
    """
    import tensorflow as tf

    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError(f"ids must have shape (N, L) with L >= 2, got {ids.shape}")
    if len(image_ids) != len(ids):
        raise ValueError(f"{len(image_ids)} image ids for {len(ids)} captions")
    unique = list(dict.fromkeys(image_ids))
    row_of = {image_id: row for row, image_id in enumerate(unique)}
    matrix = tf.constant(feature_matrix(features, unique))
    rows = np.array([row_of[i] for i in image_ids], dtype=np.int32)

    ds = tf.data.Dataset.from_tensor_slices((rows, ids))
    if shuffle:
        ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def to_model_inputs(row, seq):
        length = tf.reduce_max(tf.reduce_sum(tf.cast(seq != 0, tf.int32), axis=1))
        seq = seq[:, : tf.maximum(length, 2)]
        return {"image": tf.gather(matrix, row), "caption": seq[:, :-1]}, seq[:, 1:]

    ds = ds.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------- the seed's way
def per_prefix_samples(
    image_ids: Sequence[str],
    ids: np.ndarray,
    features: Any,
    vocab_size: int,
    max_length: int | None = None,
    *,
    padding: str = "pre",
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The seed tutorial's samples, one per caption and word: ``(image (D,), prefix (max_length,),
    one-hot next word (V,))``.

    For caption ``ids[n]`` and every position ``i >= 1`` holding a real id, the prefix is
    ``ids[n, :i]`` padded with 0 to ``max_length`` (default ``L - 1``) at the front
    (``padding="pre"``, as the tutorial's ``pad_sequences``) or the back (``"post"``), and the
    target is ``to_categorical(ids[n, i], vocab_size)``. A caption of ``k`` ids gives ``k - 1``
    samples, which is why this formulation needs so much memory.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}")
    ids = np.asarray(ids, dtype=np.int32)
    max_length = ids.shape[1] - 1 if max_length is None else max_length
    vectors = feature_matrix(features, list(dict.fromkeys(image_ids)))
    row_of = {image_id: row for row, image_id in enumerate(dict.fromkeys(image_ids))}
    for image_id, seq in zip(image_ids, ids, strict=True):
        real = seq[seq != 0]
        if len(real) - 1 > max_length:
            raise ValueError(f"a caption of {len(real)} ids needs max_length >= {len(real) - 1}")
        for i in range(1, len(real)):
            prefix = np.zeros(max_length, dtype=np.int32)
            if padding == "pre":
                prefix[max_length - i :] = real[:i]
            else:
                prefix[:i] = real[:i]
            target = np.zeros(vocab_size, dtype=np.float32)
            target[real[i]] = 1.0
            yield vectors[row_of[image_id]], prefix, target


def per_prefix_arrays(
    image_ids: Sequence[str],
    ids: np.ndarray,
    features: Any,
    vocab_size: int,
    max_length: int | None = None,
    *,
    padding: str = "pre",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All of :func:`per_prefix_samples` stacked: ``({"image": (S, D), "caption": (S, max_length)},
    one-hot targets (S, V))``. Only for small data: ``S × V`` floats."""
    samples = list(
        per_prefix_samples(image_ids, ids, features, vocab_size, max_length, padding=padding)
    )
    if not samples:
        raise ValueError("no samples: every caption is empty")
    images, prefixes, targets = (np.stack(column) for column in zip(*samples, strict=True))
    return {"image": images, "caption": prefixes}, targets


def build_per_prefix_model(
    vocab_size: int,
    feature_dim: int,
    max_length: int,
    *,
    embed_dim: int = 256,
    units: int = 256,
    dropout: float = 0.5,
    name: str = "per_prefix_merge",
) -> keras.Model:
    """The seed tutorial's model: (image (B, D), prefix (B, max_length)) → next word (B, V).

    Same layers, names and weight shapes as :func:`course_lib.models.build_merge_model`, but the
    LSTM returns only its last output (``return_sequences=False``) and it is trained with
    categorical cross-entropy on one-hot targets (compiled here).
    """
    from keras import layers

    image = keras.Input(shape=(feature_dim,), dtype="float32", name="image")
    caption = keras.Input(shape=(max_length,), dtype="int32", name="caption")
    x = layers.Dropout(dropout, name="image_dropout")(image)
    image_vector = layers.Dense(units, activation="relu", name="image_dense")(x)
    w = layers.Embedding(vocab_size, embed_dim, mask_zero=True, name="embedding")(caption)
    w = layers.Dropout(dropout, name="caption_dropout")(w)
    w = layers.LSTM(units, name="lstm")(w)
    h = layers.Add(name="add")([image_vector, w])
    h = layers.Dense(units, activation="relu", name="decoder_dense")(h)
    probs = layers.Dense(vocab_size, activation="softmax", name="output")(h)
    model = keras.Model({"image": image, "caption": caption}, probs, name=name)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def copy_weights_by_name(source: keras.Model, target: keras.Model) -> list[str]:
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


class _ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that continues counting patience from an earlier, interrupted run."""

    def __init__(self, *args, resume_best: float | None, resume_wait: int, resume_epoch: int, **kw):
        super().__init__(*args, **kw)
        self._resume = (resume_best, resume_wait, resume_epoch)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        best, wait, best_epoch = self._resume
        if best is not None:
            self.best, self.wait, self.best_epoch = best, wait, best_epoch


class _AtomicBestCheckpoint(keras.callbacks.Callback):
    """Save the model to ``path`` whenever ``monitor`` improves, atomically (a temporary file
    renamed into place), so a kill during the save never leaves a truncated ``best.keras``."""

    def __init__(self, path: Path, monitor: str = "val_loss", initial_best: float | None = None):
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


class _AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backup is crash-safe: the weights go to a new
    ``epoch-<n>.weights.h5`` (renamed into place once complete), then the JSON record naming
    them is replaced atomically, then older weights are deleted. A kill at any moment leaves a
    record that names complete weights of the epoch it states."""

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch:05d}.weights.h5"
        tmp = backup / f".tmp-{os.getpid()}-{name}"  # Keras wants the .weights.h5 ending
        try:
            self.model.save_weights(tmp, overwrite=True)
            os.replace(tmp, backup / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        atomic_write_json(
            backup / _BACKUP_RECORD,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name},
        )
        for old in backup.glob("*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def _load_model(self):
        record = _read_backup(Path(self.backup_dir))
        if record is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(Path(self.backup_dir) / record["weights"])
        self.model._initial_epoch = int(record["epoch"])


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
    import warnings

    warnings.warn(
        f"ignoring the training backup in {backup_dir}: {problem}; training starts again "
        "from epoch 1",
        stacklevel=3,
    )
    shutil.rmtree(backup_dir, ignore_errors=True)
    return None


def _h5_problem(path: Path) -> str | None:
    """Why the weights file ``path`` cannot be read, or None when it opens as HDF5."""
    if not path.is_file():
        return f"{path} is missing"
    try:
        import h5py

        with h5py.File(path, "r") as handle:
            list(handle.keys())
    except Exception as err:  # truncated or not HDF5 at all
        return f"{path} is corrupt or truncated ({type(err).__name__}: {err})"
    return None


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
            history.setdefault(key, []).append(int(value) if key == "epoch" else float(value))
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


def train(
    model: keras.Model,
    train_ds,
    val_ds,
    *,
    epochs: int,
    run_dir: str | os.PathLike,
    patience: int = 3,
    learning_rate: float = 1e-3,
    seed: int = 1234,
    verbose: int = 2,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    overwrite: bool = False,
) -> dict[str, list[float]]:
    """Fit ``model`` with checkpoints, early stopping and crash-safe resume; returns the history.

    Writes into ``run_dir``: ``best.keras`` (lowest ``val_loss``), ``history.csv`` (one row per
    epoch), ``backup/`` (the last completed epoch, weights and optimizer; deleted at the end)
    and ``train_state.json`` once finished. Calling ``train`` again with the same ``run_dir``
    resumes an interrupted run from its last completed epoch, or, for a finished run, loads
    ``best.keras``'s weights and returns the saved history without training (``overwrite=True``
    starts afresh). On return the model holds the best weights. ``verbose``: 0 silent,
    1 Keras progress bars, 2 one line per epoch.
    """
    run_dir = Path(run_dir)
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    best_path = run_dir / "best.keras"
    history_csv = run_dir / "history.csv"
    backup_dir = run_dir / "backup"
    state_path = run_dir / "train_state.json"
    say = print if verbose else (lambda *a, **k: None)

    if state_path.exists():
        if best_path.exists():
            _load_weights_checked(model, best_path)
        say(f"{run_dir}: training already finished; loaded the best weights")
        return read_history(history_csv)

    config.set_seed(seed)
    if not model.compiled:
        compile_captioner(model, learning_rate)

    # Epochs completed before an interruption (BackupAndRestore's own record).
    record = _read_backup(backup_dir)
    done = int(record["epoch"]) if record else 0
    if done:
        _keep_epochs(history_csv, done)
    else:
        history_csv.unlink(missing_ok=True)
    past = read_history(history_csv)
    best = wait = best_epoch = None
    if past.get("val_loss"):
        losses = past["val_loss"]
        best_epoch = int(np.argmin(losses))
        best, wait = float(losses[best_epoch]), len(losses) - 1 - best_epoch
        say(f"resuming {run_dir} after epoch {done} (best val_loss {best:.4f})")
    if done and wait is not None and wait >= patience:
        done_epochs = epochs  # patience was already used up: nothing left to do
    else:
        done_epochs = done

    all_callbacks = [
        _AtomicBestCheckpoint(best_path, monitor="val_loss", initial_best=best),
        _ResumableEarlyStopping(
            monitor="val_loss",
            patience=patience,
            restore_best_weights=True,
            resume_best=best,
            resume_wait=wait or 0,
            resume_epoch=best_epoch or 0,
        ),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        *callbacks,
    ]
    if verbose == 2:
        all_callbacks.append(EpochLogger(epochs))
    # Last, so that the backup is written after the epoch's other files.
    all_callbacks.append(_AtomicBackupAndRestore(str(backup_dir)))

    # One repeated pipeline, its first ``done`` epochs skipped: a shuffled pipeline then gives
    # each resumed epoch the same order as an uninterrupted run (a fresh iterator would start
    # the shuffle sequence again from its first epoch).
    steps = int(train_ds.cardinality()) if hasattr(train_ds, "cardinality") else -1
    fit_ds, steps_per_epoch = train_ds, None
    if steps > 0:
        fit_ds, steps_per_epoch = train_ds.repeat().skip(done_epochs * steps), steps
    if done_epochs < epochs:
        model.fit(
            fit_ds,
            steps_per_epoch=steps_per_epoch,
            validation_data=val_ds,
            epochs=epochs,
            callbacks=all_callbacks,
            shuffle=False,  # the tf.data pipeline shuffles
            verbose=1 if verbose == 1 else 0,
        )
    shutil.rmtree(backup_dir, ignore_errors=True)
    if best_path.exists():
        _load_weights_checked(model, best_path)
    history = read_history(history_csv)
    atomic_write_json(
        state_path,
        {
            "finished": True,
            "epochs_run": len(history.get("epoch", [])),
            "epochs": epochs,
            "best_epoch": int(np.argmin(history["val_loss"])) if history.get("val_loss") else None,
            "best_val_loss": min(history["val_loss"]) if history.get("val_loss") else None,
        },
    )
    return history


def load_captioner(path: str | os.PathLike, *, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` caption model in safe mode (no arbitrary code); clear error if missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no saved model here (train one first)")
    import course_lib.models  # noqa: F401  (registers the loss, metric and layers)

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
    try:
        model.load_weights(path)
    except Exception as err:
        raise ValueError(
            f"{path}: cannot load the saved weights, the file is corrupt or truncated "
            f"({type(err).__name__}: {err}). Delete {path.parent} (or call train(..., "
            "overwrite=True)) to train again."
        ) from err
