"""The stream of teacher-forcing batches that backends other than TensorFlow
read: the same composition as the ``tf.data`` pipeline, drawn with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.streams import (
    CaptionStream,
    EpochOrder,
    batch_order,
    feature_rows,
    padded_width,
)
from course_lib.training import make_tf_dataset


def captions(n=203, row_length=16, seed=0):
    """Captions of many lengths: ``(features, image_ids, ids)``."""
    rng = np.random.default_rng(seed)
    image_ids = [f"img_{i // 3}" for i in range(n)]
    feats = {i: rng.normal(size=4).astype(np.float32) for i in set(image_ids)}
    ids = np.zeros((n, row_length), np.int32)
    for row in range(n):
        length = int(rng.integers(1, row_length - 1))
        ids[row, : length + 2] = [2, *rng.integers(4, 20, size=length), 3]
    return feats, image_ids, ids


def stream(epoch=0, **kw):
    feats, image_ids, ids = captions()
    images, rows = feature_rows(feats, image_ids)
    kw = {"batch_size": 16, "seed": 5, "sort_window": 3, **kw}
    s = CaptionStream(images, rows, ids, **kw)
    s.epoch = epoch
    return s


def numbers(s: CaptionStream) -> list[list[int]]:
    return [b.tolist() for b in s.batches]


def test_every_caption_comes_once_per_epoch_sorted_within_windows():
    lengths = np.count_nonzero(captions()[2], axis=1)
    batches = batch_order(lengths, 16, shuffle=True, seed=5, epoch=0, window=3)
    assert sorted(np.concatenate(batches)) == list(range(len(lengths)))
    assert [len(b) for b in batches].count(16) == len(batches) - 1
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    mixed = batch_order(lengths, 16, shuffle=True, seed=5, epoch=0, window=1)
    assert spread < np.mean([np.ptp(lengths[b]) for b in mixed])


def test_the_order_follows_the_seed_and_the_epoch():
    assert numbers(stream(epoch=2)) == numbers(stream(epoch=2))
    assert numbers(stream(epoch=2)) != numbers(stream(epoch=3))
    assert numbers(stream(seed=6)) != numbers(stream(seed=5))
    unshuffled = stream(shuffle=False, sort_window=1)
    assert np.concatenate(unshuffled.batches).tolist() == list(range(203))
    unshuffled.on_epoch_end()
    assert unshuffled.epoch == 0


def test_batches_shift_the_captions_and_match_the_tf_pipelines_content():
    feats, image_ids, ids = captions()
    s = stream(shuffle=False, sort_window=1)
    tf_batches = make_tf_dataset(feats, image_ids, ids, batch_size=16, shuffle=False, sort_window=1)
    assert len(s) == int(tf_batches.cardinality())
    for i, (x, y) in enumerate(tf_batches):
        mine, targets = s[i]
        np.testing.assert_array_equal(mine["caption"], x["caption"].numpy())
        np.testing.assert_array_equal(mine["image"], x["image"].numpy())
        np.testing.assert_array_equal(targets, y.numpy())


def test_a_width_step_pads_to_few_shapes_and_keeps_the_words():
    s = stream(width_step=4)
    widths = {s[i][0]["caption"].shape[1] for i in range(len(s))}
    assert widths <= {4, 8, 12, 15}
    assert padded_width(5, 4, 16) == 5 and padded_width(6, 4, 16) == 9
    _, y = s[0]
    lengths = np.count_nonzero(s.ids[s.batches[0]], axis=1)
    assert (np.count_nonzero(y, axis=1) == lengths - 1).all()


def test_region_grids_are_read_from_the_store_per_batch():
    class Store:
        spatial, reads = True, []

        def matrix(self, ids):
            self.reads.append(len(ids))
            return np.ones((len(ids), 3, 2), np.float32)

    _, image_ids, ids = captions(n=40)
    images, rows = feature_rows(Store(), image_ids)
    s = CaptionStream(images, rows, ids, batch_size=8, shuffle=False)
    assert s[1][0]["image"].shape == (8, 3, 2) and Store.reads == [8]


def test_epoch_order_sets_the_epoch_that_fit_starts():
    s = stream()
    EpochOrder(s).on_epoch_begin(4)
    assert numbers(s) == numbers(stream(epoch=4))


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"sort_window": 0}])
def test_caption_dataset_refuses_bad_sizes(bad):
    from course_lib.training import caption_dataset

    feats, image_ids, ids = captions(n=10)
    with pytest.raises(ValueError, match="must be >= 1"):
        caption_dataset(feats, image_ids, ids, **bad)
