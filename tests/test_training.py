"""Token ids, the teacher-forcing pipeline (grouped by length) and resumable training."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import config
from course_lib.attention import build_attention_model
from course_lib.models import (
    build_merge_model,
    compile_captioner,
)
from course_lib.text import Vocabulary, clean_caption
from course_lib.training import (
    caption_batches,
    caption_dataset,
    encode_captions,
    load_captioner,
    make_tf_dataset,
    padding_share,
    read_history,
    train,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
D = 4
CAPTIONS = {
    "img_a": ["A red circle.", "The red circle is big"],
    "img_b": ["a blue square", "Blue square left of a red circle!"],
    "img_c": ["a square"],
}
VOCAB = Vocabulary.build([clean_caption(c) for caps in CAPTIONS.values() for c in caps])
FEATURES = {k: np.full(D, i + 1, np.float32) for i, k in enumerate(CAPTIONS)}


def test_encode_captions_gives_one_right_padded_row_per_caption():
    image_ids, ids = encode_captions(CAPTIONS, VOCAB)
    assert image_ids == ["img_a", "img_a", "img_b", "img_b", "img_c"]
    assert ids.dtype == np.int32 and ids.shape == (5, 9)  # <start> + 7 words + <end>
    assert (ids[:, 0] == VOCAB.start_id).all()
    assert VOCAB.decode(ids[3]) == ["blue", "square", "left", "of", "a", "red", "circle"]
    assert list(ids[4]) == [2, *VOCAB.encode(["a", "square"])[1:], 0, 0, 0, 0, 0]


def test_encode_captions_truncates_words_but_keeps_the_end_token():
    _, ids = encode_captions(CAPTIONS, VOCAB, row_length=4)
    assert ids.shape == (5, 4)
    assert (ids[:, -1] == VOCAB.end_id).all() or (ids[4, -1] == VOCAB.end_id)
    assert ids[3, -1] == VOCAB.end_id and VOCAB.decode(ids[3]) == ["blue", "square"]


def batches(ds):
    return [(x["image"].numpy(), x["caption"].numpy(), y.numpy()) for x, y in ds]


def test_tf_dataset_shifts_captions_for_teacher_forcing_and_trims_each_batch():
    image_ids, ids = encode_captions(CAPTIONS, VOCAB)
    ds = make_tf_dataset(FEATURES, image_ids, ids, batch_size=2, shuffle=False, sort_window=1)
    got = batches(ds)
    assert [len(b[1]) for b in got] == [2, 2, 1]
    image, caption, target = got[0]
    np.testing.assert_array_equal(image, np.stack([FEATURES["img_a"]] * 2))
    assert caption.dtype == np.int32 and target.dtype == np.int32
    # Batch 0 holds captions of 3 and 5 words → 7 ids → 6 positions, not the padded 8.
    assert caption.shape == (2, 6) and target.shape == (2, 6)
    np.testing.assert_array_equal(caption, ids[:2, :6])
    np.testing.assert_array_equal(target, ids[:2, 1:7])
    assert got[2][1].shape == (1, 3)  # "a square": <start> a square | a square <end>


def test_tf_dataset_shuffles_reproducibly_and_differently_each_epoch():
    image_ids = [f"img_{i}" for i in range(40)]
    feats = {k: np.full(D, i, np.float32) for i, k in enumerate(image_ids)}
    ids = np.tile(np.array([[2, 5, 3]], np.int32), (40, 1))

    def orders(seed):
        ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, shuffle=True, seed=seed)
        return [np.concatenate([b[0][:, 0] for b in batches(ds)]) for _ in range(2)]

    first, second = orders(7)
    again = orders(7)
    assert sorted(first) == list(range(40))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])


def test_tf_dataset_reads_features_from_a_feature_store_like_object():
    class Store:
        def matrix(self, ids):
            return np.stack([FEATURES[i] for i in ids])

    image_ids, ids = encode_captions(CAPTIONS, VOCAB)
    a = batches(make_tf_dataset(Store(), image_ids, ids, batch_size=5, shuffle=False))
    b = batches(make_tf_dataset(FEATURES, image_ids, ids, batch_size=5, shuffle=False))
    np.testing.assert_array_equal(a[0][0], b[0][0])


def test_tf_dataset_streams_region_grids_from_a_spatial_store_batch_by_batch():
    class GridStore:
        spatial = True
        item_shape = (4, D)

        def __init__(self):
            self.reads = []

        def matrix(self, ids):
            self.reads.append(list(ids))
            return np.stack([np.tile(FEATURES[i], (4, 1)) for i in ids])

    image_ids, ids = encode_captions(CAPTIONS, VOCAB)
    store = GridStore()
    ds = make_tf_dataset(store, image_ids, ids, batch_size=2, shuffle=False)
    assert store.reads == []  # nothing read while the pipeline is built
    assert ds.element_spec[0]["image"].shape.as_list() == [None, 4, D]
    for x, _ in ds:
        rows = x["image"].numpy()
        assert rows.shape[1:] == (4, D) and len(rows) <= 2
        np.testing.assert_array_equal(rows[:, 0], rows[:, 3])  # one image's grid per row
    assert all(len(read) <= 2 for read in store.reads) and store.reads


def captions_of_many_lengths(n=203, row_length=16, seed=0):
    """``n`` captions of 1–14 words, each of its own image whose feature is its row number."""
    rng = np.random.default_rng(seed)
    image_ids = [f"img_{k}" for k in range(n)]
    feats = {name: np.full(D, k, np.float32) for k, name in enumerate(image_ids)}
    ids = np.zeros((n, row_length), np.int32)
    for k in range(n):
        words = rng.integers(1, row_length - 1)
        ids[k, : words + 2] = [2, *rng.integers(4, len(VOCAB), size=words), 3]
    return feats, image_ids, ids


def epoch_batches(ds):
    """Per batch of one epoch: (row numbers, the batch's caption inputs)."""
    return [(x["image"][:, 0].numpy().astype(int), x["caption"].numpy()) for x, _ in ds]


def padding_fraction(batches) -> float:
    cells = sum(caption.size for _, caption in batches)
    return 1 - sum(int(np.count_nonzero(caption)) for _, caption in batches) / cells


def test_grouped_batches_hold_every_caption_once_per_epoch_with_little_padding():
    feats, image_ids, ids = captions_of_many_lengths()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, seed=5, sort_window=4)
    plain = make_tf_dataset(feats, image_ids, ids, batch_size=8, seed=5, sort_window=1)
    assert int(ds.cardinality()) == int(plain.cardinality()) == 26  # ceil(203 / 8)
    for _ in range(3):
        batches = epoch_batches(ds)
        assert len(batches) == 26
        rows = np.concatenate([r for r, _ in batches])
        assert sorted(rows) == list(range(len(ids)))  # each caption exactly once
        for r, caption in batches:  # the right captions, cut to the batch's longest
            width = int(np.count_nonzero(ids[r], axis=1).max()) - 1
            np.testing.assert_array_equal(caption, ids[r, :width])
    grouped, mixed = padding_fraction(epoch_batches(ds)), padding_fraction(epoch_batches(plain))
    assert mixed > 0.3 and grouped < mixed / 2, (grouped, mixed)


def test_grouped_batches_are_reproducible_for_a_seed_and_differ_between_epochs():
    feats, image_ids, ids = captions_of_many_lengths()

    def two_epochs(seed):
        ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, seed=seed, sort_window=4)
        return [np.concatenate([r for r, _ in epoch_batches(ds)]) for _ in range(2)]

    first, second = two_epochs(7)
    again = two_epochs(7)
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, two_epochs(8)[0])


def test_unshuffled_batches_repeat_and_are_sorted_by_length_within_windows():
    feats, image_ids, ids = captions_of_many_lengths()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, shuffle=False, sort_window=4)
    rows = np.concatenate([r for r, _ in epoch_batches(ds)])
    np.testing.assert_array_equal(rows, np.concatenate([r for r, _ in epoch_batches(ds)]))
    lengths = np.count_nonzero(ids, axis=1)
    for start in range(0, len(ids), 32):  # each window: the same rows, sorted by length
        window = rows[start : start + 32]
        assert sorted(window) == list(range(start, min(start + 32, len(ids))))
        assert (np.diff(lengths[window]) >= 0).all()


def test_caption_batches_number_each_caption_once_sorted_within_windows():
    lengths = np.array([5, 2, 4, 3, 9, 1, 7], np.int32)
    plain = [b.numpy().tolist() for b in caption_batches(lengths, 3, False, 0, 1)]
    assert plain == [[0, 1, 2], [3, 4, 5], [6]]
    sorted_ = [b.numpy().tolist() for b in caption_batches(lengths, 2, False, 0, 2)]
    assert sorted_ == [[1, 3], [2, 0], [5, 6], [4]]  # windows of 4: sorted by length
    shuffled = caption_batches(lengths, 2, True, 3, 2)
    epochs = [np.concatenate([b.numpy() for b in shuffled]) for _ in range(2)]
    assert all(sorted(e) == list(range(7)) for e in epochs)
    assert not np.array_equal(*epochs)


def test_padding_share_counts_the_padding_cells_of_one_pass():
    targets = [np.array([[4, 3, 0], [5, 6, 3]]), np.array([[3, 0, 0]])]
    assert padding_share([({}, t) for t in targets]) == pytest.approx(3 / 9)
    feats, image_ids, ids = captions_of_many_lengths()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, shuffle=False)
    cells = [y.numpy() for _, y in ds]
    expected = sum(int((y == 0).sum()) for y in cells) / sum(y.size for y in cells)
    assert padding_share(ds) == pytest.approx(expected) and 0 < expected < 1
    with pytest.raises(ValueError, match="no target cells"):
        padding_share([])


def tiny_data(n_images=12, seed=0):
    rng = np.random.default_rng(seed)
    image_ids = [f"img_{i // 2}" for i in range(2 * n_images)]
    feats = {f"img_{i}": rng.normal(size=D).astype(np.float32) for i in range(n_images)}
    ids = np.zeros((len(image_ids), 7), np.int32)
    for n in range(len(ids)):
        length = rng.integers(1, 5)
        ids[n, : length + 2] = [2, *rng.integers(4, len(VOCAB), size=length), 3]
    return feats, image_ids, ids


def test_train_writes_checkpoint_history_and_returns_finished_runs(tmp_path, capsys):
    feats, image_ids, ids = tiny_data()
    ds = caption_dataset(feats, image_ids, ids, batch_size=8, shuffle=True, seed=1)
    val = caption_dataset(feats, image_ids, ids, batch_size=8, shuffle=False)
    keras.utils.set_random_seed(0)
    model = compile_captioner(build_merge_model(len(VOCAB), D, embed_dim=4, units=4), 1e-2)
    history = train(model, ds, val, epochs=3, run_dir=tmp_path / "run")
    out = capsys.readouterr().out
    assert out.count("epoch ") == 3 and "val_loss" in out
    assert history["epoch"] == [0, 1, 2] and len(history["val_loss"]) == 3
    assert (tmp_path / "run" / "best.keras").exists()
    assert not (tmp_path / "run" / "backup").exists()
    best = load_captioner(tmp_path / "run" / "best.keras")
    x, _ = next(iter(val))
    np.testing.assert_allclose(best.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
    assert min(history["val_loss"]) == pytest.approx(
        best.evaluate(val, verbose=0, return_dict=True)["loss"], rel=1e-4
    )
    # Again with the same run_dir: nothing retrained, same history, best weights loaded.
    fresh = compile_captioner(build_merge_model(len(VOCAB), D, embed_dim=4, units=4))
    assert train(fresh, ds, val, epochs=3, run_dir=tmp_path / "run", verbose=0) == history
    np.testing.assert_allclose(fresh.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


def test_train_refuses_an_uncompiled_model_and_a_dataset_of_unknown_length(tmp_path):
    feats, image_ids, ids = tiny_data()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8)
    model = build_merge_model(len(VOCAB), D, embed_dim=4, units=4)
    with pytest.raises(ValueError, match="compile_captioner"):
        train(model, ds, ds, epochs=1, run_dir=tmp_path / "a")
    compile_captioner(model)
    unknown = ds.filter(lambda x, y: True)
    with pytest.raises(ValueError, match="known, finite number of batches"):
        train(model, unknown, ds, epochs=1, run_dir=tmp_path / "b")


class _Interrupt(keras.callbacks.Callback):
    """Stops the run (as a disconnect would) at the start of epoch ``at`` (0-based)."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_train_names_its_run_folder_as_the_page_prints_it(capsys):
    feats, image_ids, ids = tiny_data()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, seed=1)
    run_dir = config.runs_dir() / "tiny"
    model = compile_captioner(build_merge_model(len(VOCAB), D, embed_dim=4, units=4))
    with pytest.raises(KeyboardInterrupt):
        train(model, ds, ds, epochs=2, run_dir=run_dir, callbacks=[_Interrupt(at=1)])
    for _ in range(2):  # resumed, then finished
        train(model, ds, ds, epochs=2, run_dir=run_dir)
    out = capsys.readouterr().out
    assert "resuming <data>/runs/tiny after epoch 1 (best val_loss" in out
    assert "<data>/runs/tiny: training already finished" in out
    assert str(config.data_dir()) not in out


def _grouped_run(run_dir, callbacks=(), attention: bool = False):
    """A fresh process's view: seed, pipeline and model built anew, then ``train``. With
    ``attention``, the attention model over 2×2 grids of region vectors."""
    feats, image_ids, ids = captions_of_many_lengths()
    if attention:
        feats = {k: np.stack([v, v + 0.5, -v, v * 2]) for k, v in feats.items()}  # (4, D)
    keras.utils.set_random_seed(0)
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=16, seed=2, sort_window=3)
    val = make_tf_dataset(feats, image_ids, ids, batch_size=16, shuffle=False)
    if attention:
        model = build_attention_model(
            len(VOCAB), (4, D), embed_dim=8, units=8, attention_units=8, dropout=0.0
        )
    else:
        model = build_merge_model(len(VOCAB), D, embed_dim=8, units=8, dropout=0.0)
    compile_captioner(model, 1e-2)
    history = train(
        model, ds, val, epochs=5, run_dir=run_dir, patience=9, seed=0, verbose=0,
        callbacks=callbacks,
    )  # fmt: skip
    return model, history


@pytest.mark.slow
@pytest.mark.parametrize("attention", [False, True], ids=["merge", "attention"])
def test_a_resumed_run_over_grouped_batches_matches_an_uninterrupted_one_exactly(
    tmp_path, attention
):
    reference, expected = _grouped_run(tmp_path / "whole", attention=attention)
    with pytest.raises(KeyboardInterrupt):
        _grouped_run(tmp_path / "cut", callbacks=[_Interrupt(at=3)], attention=attention)
    assert read_history(tmp_path / "cut" / "history.csv")["epoch"] == [0, 1, 2]
    resumed, history = _grouped_run(tmp_path / "cut", attention=attention)
    assert history == expected  # every loss of every epoch, bit for bit
    for a, b in zip(resumed.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_keras_behaviour_that_resuming_relies_on(tmp_path):
    """Resuming (see the comment above ``ResumableEarlyStopping``) relies on these Keras
    3.15.1 behaviours; each failure names the one that changed."""
    from course_lib.training import ResumableEarlyStopping

    feats, image_ids, ids = tiny_data()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, seed=1)

    def compiled():
        keras.utils.set_random_seed(0)
        return compile_captioner(build_merge_model(len(VOCAB), D, embed_dim=4, units=4), 1e-2)

    seen: list[int] = []
    epochs = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    trained = compiled()
    trained.fit(ds, epochs=2, shuffle=False, verbose=0)
    path = tmp_path / "backup.weights.h5"
    trained.save_weights(path)
    restored = compiled()
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(path)
    for a, b in zip(restored.optimizer.variables, trained.optimizer.variables, strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), (
            f"Model.save_weights/load_weights no longer carry the optimizer variable {a.path}"
        )
    assert int(restored.optimizer.iterations.numpy()) == 2 * int(ds.cardinality())

    restored.fit(ds, epochs=5, initial_epoch=3, callbacks=[epochs], shuffle=False, verbose=0)
    assert seen == [3, 4], "Model.fit(initial_epoch=k) no longer starts at epoch k"

    stopper = ResumableEarlyStopping(
        monitor="loss", patience=3, resume_best=0.0, resume_wait=2, resume_epoch=1
    )
    fit = restored.fit(ds, epochs=9, initial_epoch=4, callbacks=[stopper], shuffle=False, verbose=0)
    assert (stopper.best, stopper.best_epoch) == (0.0, 1), (
        "EarlyStopping.on_train_begin no longer resets best/best_epoch before ours sets them"
    )
    assert len(fit.history["loss"]) == 1, (
        "EarlyStopping no longer counts patience with its attributes best and wait"
    )


def test_load_captioner_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.keras"):
        load_captioner(tmp_path / "nope.keras")


TRAIN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import keras, numpy as np
    sys.path.insert(0, {tests!r})
    from test_training import tiny_data, VOCAB, D
    from course_lib.models import build_merge_model, compile_captioner
    from course_lib.training import make_tf_dataset, train

    class Slow(keras.callbacks.Callback):  # gives the test time to kill after epoch 1
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(float(sys.argv[2]))

    feats, image_ids, ids = tiny_data(n_images=16)
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, shuffle=False)
    keras.utils.set_random_seed(0)
    model = build_merge_model(len(VOCAB), D, embed_dim=8, units=8, dropout=0.0)
    compile_captioner(model, 1e-2)
    train(model, ds, ds, epochs=6, run_dir=sys.argv[1], patience=10, seed=0, verbose=0,
          callbacks=[Slow()])
    """
)


@pytest.mark.slow
def test_training_killed_after_an_epoch_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "train_tiny.py"
    script.write_text(TRAIN_SCRIPT.format(tests=str(REPO_ROOT / "tests")))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO_ROOT)}

    def run(run_dir, pause):
        cmd = [sys.executable, str(script), str(run_dir), str(pause)]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    reference = run(tmp_path / "uninterrupted", 0)
    victim = run(tmp_path / "killed", 2.0)
    metadata = tmp_path / "killed" / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 300  # generous: shared CI machines can be slow
    while not metadata.exists():
        assert victim.poll() is None, victim.stdout.read().decode()
        assert time.monotonic() < deadline, "no backup written"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()  # reaps it and closes its pipe
    assert not (tmp_path / "killed" / "train_state.json").exists()
    killed_epochs = read_history(tmp_path / "killed" / "history.csv").get("epoch", [])
    assert 1 <= len(killed_epochs) < 6

    resumed = run(tmp_path / "killed", 0)
    for proc in (reference, resumed):
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out.decode()[-3000:]

    with (tmp_path / "killed" / "history.csv").open() as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2, 3, 4, 5]
    done = read_history(tmp_path / "uninterrupted" / "history.csv")
    again = read_history(tmp_path / "killed" / "history.csv")
    np.testing.assert_allclose(again["val_loss"], done["val_loss"], rtol=1e-4)
    np.testing.assert_allclose(again["loss"], done["loss"], rtol=1e-4)
