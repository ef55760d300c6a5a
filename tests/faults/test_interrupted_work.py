"""Interrupted work: killed extraction and training resume to the same result; truncated or
corrupt caches, checkpoints and vocabularies are detected, never trusted; a failed write (a
full disk) leaves the old file intact and no half file behind."""

from __future__ import annotations

import errno
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest

from course_lib import features as F
from course_lib import io as cio
from course_lib.text import Vocabulary

from . import extract_child, train_child
from .helpers import (
    files_under,
    jpeg_bytes,
    scene_image,
    start_child,
    stop,
    wait_for,
    write_dataset,
)

N_IMAGES = 10
N_SHARDS = N_IMAGES // extract_child.SHARD


@pytest.fixture
def tiny_root(tmp_path) -> Path:
    names = {f"im_{k:02d}.jpg": jpeg_bytes(scene_image(k, (24, 20))) for k in range(N_IMAGES)}
    return write_dataset(tmp_path / "tiny", names)


@pytest.fixture
def predict_counter(monkeypatch):
    """Count the images that go through the backbone (chunks reused from disk do not)."""
    seen: list[int] = []
    real = F._predict

    def counting(model, images):
        seen.append(len(images))
        return real(model, images)

    monkeypatch.setattr(F, "_predict", counting)
    return seen


def _same_store(a, b) -> None:
    assert a.image_ids == b.image_ids
    np.testing.assert_array_equal(a.features, b.features)
    assert a.skipped == b.skipped


def _shards(data_dir: Path) -> list[Path]:
    """The shards written so far (a shard is complete once its .json is there)."""
    return sorted(p.with_suffix(".npy") for p in (data_dir / "features").glob("*/shard-*.json"))


def _store_folder(data_dir: Path) -> Path:
    (manifest,) = (data_dir / "features").glob("*/manifest.json")
    return manifest.parent


# ------------------------------------------------------------------------ feature extraction


@pytest.mark.slow
def test_feature_extraction_sigkilled_at_a_random_point_resumes_to_the_same_result(
    tiny_root, tmp_path, predict_counter
):
    rng = random.Random(20240606)  # seeded: the "random" kill point is reproducible
    wait_shards = rng.randint(1, N_SHARDS - 2)
    delay = rng.uniform(0.0, 0.3)  # less than one slowed-down shard (2 batches × 0.4 s)
    data_dir, log = tmp_path / "killed", tmp_path / "predict.log"
    victim = start_child("faults.extract_child", tiny_root, data_dir, log)
    try:
        wait_for(lambda: len(_shards(data_dir)) >= wait_shards, victim, "the first shards")
        import time

        time.sleep(delay)
        assert victim.poll() is None, "extraction finished before the kill"
        victim.send_signal(signal.SIGKILL)
    finally:
        stop(victim)
    done = _shards(data_dir)
    assert wait_shards <= len(done) < N_SHARDS
    assert not list((data_dir / "features").glob("*/manifest.json")), "no manifest yet"
    mtimes = {p.name: p.stat().st_mtime_ns for p in done}

    resumed = extract_child.extract(tiny_root, data_dir)
    assert sum(predict_counter) == N_IMAGES - extract_child.SHARD * len(done)
    assert resumed.metadata["images_computed"] == N_IMAGES - extract_child.SHARD * len(done)
    assert all(p.stat().st_mtime_ns == mtimes[p.name] for p in done if p.exists())

    fresh = extract_child.extract(tiny_root, tmp_path / "uninterrupted")
    _same_store(resumed, fresh)
    assert sorted(p.name for p in _store_folder(data_dir).iterdir()) == sorted(
        p.name for p in _store_folder(tmp_path / "uninterrupted").iterdir()
    )  # no temporary files are left


def _interrupt_after(monkeypatch, n_batches: int) -> None:
    real = F._predict
    calls = []

    def stop(model, images):
        calls.append(1)
        if len(calls) > n_batches:
            raise KeyboardInterrupt  # the notebook's stop button, or a Colab disconnect
        return real(model, images)

    monkeypatch.setattr(F, "_predict", stop)


def test_feature_extraction_interrupted_then_a_truncated_shard_is_recomputed_not_trusted(
    tiny_root, tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    _interrupt_after(monkeypatch, 3 * extract_child.SHARD // extract_child.BATCH)
    with pytest.raises(KeyboardInterrupt):
        extract_child.extract(tiny_root, data_dir)
    shards = _shards(data_dir)
    assert len(shards) == 3
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # truncated on a full disk, say
    monkeypatch.undo()
    seen: list[int] = []
    real = F._predict
    monkeypatch.setattr(F, "_predict", lambda m, x: seen.append(len(x)) or real(m, x))
    resumed = extract_child.extract(tiny_root, data_dir)
    assert sum(seen) == N_IMAGES - 2 * extract_child.SHARD  # shards 0 and 2 were reused
    _same_store(resumed, extract_child.extract(tiny_root, tmp_path / "fresh"))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other_arrays"])
def test_corrupt_feature_store_is_detected_and_rebuilt(
    tiny_root, tmp_path, damage, predict_counter
):
    data_dir = tmp_path / "data"
    first = extract_child.extract(tiny_root, data_dir)
    expected = first.features  # a copy: the shards below are damaged in place
    folder = _store_folder(data_dir)
    shard = folder / "shard-00001.npy"
    blob = shard.read_bytes()
    del first
    if damage == "truncated":
        shard.write_bytes(blob[: len(blob) // 2])
    elif damage == "garbage":
        shard.write_bytes(os.urandom(len(blob)))
    elif damage == "empty":
        shard.write_bytes(b"")
    else:  # a valid array, but not the one the manifest recorded
        np.save(shard, np.zeros((2, 256), np.float32))
    with pytest.raises(F.FeatureCacheError, match=str(shard)) as err:
        F.load_feature_cache(folder)
    assert "delete the folder" in str(err.value)
    before = sum(predict_counter)
    again = extract_child.extract(tiny_root, data_dir)
    assert sum(predict_counter) - before == extract_child.SHARD  # only that shard recomputed
    assert again.image_ids == sorted(again.image_ids)
    np.testing.assert_array_equal(again.features, expected)
    F.load_feature_cache(folder)  # and the rebuilt store is valid


def test_a_manifest_that_miscounts_its_shards_is_refused(tiny_root, tmp_path):
    data_dir = tmp_path / "data"
    extract_child.extract(tiny_root, data_dir)
    folder = _store_folder(data_dir)
    manifest = cio.read_json(folder / F.MANIFEST)
    cio.atomic_write_json(folder / F.MANIFEST, {**manifest, "n_images": N_IMAGES + 1})
    with pytest.raises(F.FeatureCacheError, match="the manifest says"):
        F.load_feature_cache(folder)


# ------------------------------------------------------------------------ training


@pytest.mark.slow
def test_training_sigkilled_at_a_random_point_resumes_from_the_last_epoch_to_the_same_result(
    tmp_path, reference_history
):
    from course_lib.training import read_history

    rng = random.Random(1234)
    delay = rng.uniform(0.0, 0.8)  # after the first backup: between, or during, later saves
    killed = tmp_path / "killed"
    record = killed / "backup" / "training_metadata.json"
    victim = start_child("faults.train_child", killed, 0.4)
    try:
        wait_for(record.exists, victim, "the first epoch's backup")
        import time

        time.sleep(delay)
        assert victim.poll() is None, "training finished before the kill"
        victim.send_signal(signal.SIGKILL)
    finally:
        stop(victim)
    assert not (killed / "train_state.json").exists()
    saved = cio.read_json(killed / "backup" / "training_metadata.json")["epoch"]
    assert 1 <= saved < train_child.EPOCHS

    _model, history = train_child.run(killed)  # the rerun
    assert history["epoch"] == list(range(train_child.EPOCHS))  # each epoch once
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], reference_history[key], rtol=1e-4)
    assert read_history(killed / "history.csv") == history
    assert not (killed / "backup").exists()
    # A kill during a save may leave the killed process's hidden temporary file (".best.*.tmp.
    # keras"), never a damaged best.keras: the checkpoint loads and holds the best weights.
    from course_lib.training import load_captioner

    assert all(Path(p).name.startswith(".") for p in files_under(killed) if ".tmp" in p)
    load_captioner(killed / "best.keras")


class _StopAfter:
    """A Keras callback that stops the run with KeyboardInterrupt after ``n`` epochs."""

    def __new__(cls, n: int):
        import keras

        class Stop(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch + 1 >= n:
                    raise KeyboardInterrupt

        return Stop()


def _interrupted_run(run_dir: Path, epochs_done: int = 2) -> None:
    with pytest.raises(KeyboardInterrupt):
        train_child.run(run_dir, callbacks=[_StopAfter(epochs_done)])


@pytest.fixture(scope="module")
def reference_history(tmp_path_factory):
    """The uninterrupted tiny training run (once per module)."""
    return train_child.run(tmp_path_factory.mktemp("reference") / "run")[1]


@pytest.mark.parametrize("damage", ["truncated_weights", "garbage_record"])
def test_training_backup_that_is_corrupt_is_detected_and_training_starts_again(
    tmp_path, damage, reference_history
):
    run_dir = tmp_path / "run"
    _interrupted_run(run_dir)
    backup = run_dir / "backup"
    (weights,) = backup.glob("*.weights.h5")
    if damage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[:500])
    elif damage == "garbage_record":
        (backup / "training_metadata.json").write_text('{"epoch": 2, "wei')
    with pytest.warns(UserWarning, match="ignoring the training backup"):
        _, history = train_child.run(run_dir)
    assert history["epoch"] == list(range(train_child.EPOCHS))
    np.testing.assert_allclose(history["val_loss"], reference_history["val_loss"], rtol=1e-4)


def test_checkpoint_truncated_after_training_is_refused_with_a_clear_message(tmp_path):
    from course_lib.training import load_captioner

    run_dir = tmp_path / "run"
    train_child.run(run_dir)
    best = run_dir / "best.keras"
    best.write_bytes(best.read_bytes()[:1000])
    with pytest.raises(ValueError, match="corrupt or truncated") as err:
        load_captioner(best)
    assert str(best) in str(err.value) and "train again" in str(err.value)
    with pytest.raises(ValueError, match="corrupt or truncated"):  # the finished-run shortcut
        train_child.run(run_dir)
    _, history = train_child.run(run_dir, overwrite=True)  # the way out the message names
    assert len(history["epoch"]) == train_child.EPOCHS
    load_captioner(best)


def test_checkpoint_write_that_fails_mid_save_leaves_the_previous_best_intact(
    tmp_path, monkeypatch
):
    import keras

    run_dir = tmp_path / "run"
    _interrupted_run(run_dir, epochs_done=2)
    best = run_dir / "best.keras"
    good = best.read_bytes()
    real_save = keras.Model.save

    def full_disk(self, path, *a, **kw):
        real_save(self, path, *a, **kw)
        with open(path, "r+b") as handle:  # half written, then the disk is full
            handle.truncate(os.path.getsize(path) // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train_child.run(run_dir)
    assert best.read_bytes() == good
    assert not [p for p in files_under(run_dir) if ".tmp" in p]


# ------------------------------------------------------------------------ vocabulary JSON


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"format": "course_lib.vocabulary", "tokens": ["<pad>", "<un', "not a valid JSON"),
        ("", "not a valid JSON"),
        ('{"tokens": ["a", "b"]}', "not a course_lib vocabulary"),
        ('{"format": "course_lib.vocabulary", "tokens": ["a", "b"]}', "first tokens must be"),
        ("[1, 2, 3]", "not a course_lib vocabulary"),
    ],
    ids=["truncated", "empty", "no_format", "no_reserved_tokens", "a_list"],
)
def test_corrupt_vocabulary_json_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        Vocabulary.load(path)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------------ a full disk


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _old_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    cio.atomic_write_json(path, {"old": True})
    return path


def test_disk_full_during_write_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path = _old_file(tmp_path)
    real = Path.write_bytes

    def half_then_full(self, data):
        real(self, data[: len(data) // 2])
        _enospc()

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        cio.atomic_write_json(path, {"new": list(range(1000))})
    assert cio.read_json(path) == {"old": True}
    assert files_under(tmp_path) == ["state.json"]


def test_disk_full_at_the_rename_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path = _old_file(tmp_path)
    monkeypatch.setattr(cio.os, "replace", _enospc)
    with pytest.raises(OSError):
        cio.atomic_write_text(path, "new")
    assert cio.read_json(path) == {"old": True}
    assert files_under(tmp_path) == ["state.json"]


def test_fsync_failure_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path = _old_file(tmp_path)

    def eio(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cio.os, "fsync", eio)
    with pytest.raises(OSError):
        cio.atomic_write_bytes(path, b"new")
    assert cio.read_json(path) == {"old": True}
    assert files_under(tmp_path) == ["state.json"]


def test_disk_full_while_saving_the_feature_store_keeps_the_old_store_loadable(
    tiny_root, tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    store = extract_child.extract(tiny_root, data_dir)
    folder = _store_folder(data_dir)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = np.save

    def half_then_full(handle, array, **kw):
        real(handle, array, **kw)
        with open(handle, "r+b") as f:
            f.truncate(f.seek(0, 2) // 2)
        _enospc()

    monkeypatch.setattr(np, "save", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        F.save_feature_cache(folder, store)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    leftovers = [p.name for p in (data_dir / "features").iterdir() if p.suffix != ".lock"]
    assert leftovers == [folder.name]
    _same_store(F.load_feature_cache(folder), store)


def test_disk_full_while_saving_the_vocabulary_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "vocab.json"
    old = Vocabulary.build([["a", "dog"]])
    old.save(path)
    monkeypatch.setattr(cio.os, "replace", _enospc)
    with pytest.raises(OSError):
        Vocabulary.build([["a", "cat", "runs"]]).save(path)
    assert Vocabulary.load(path) == old
    assert files_under(tmp_path) == ["vocab.json"]
