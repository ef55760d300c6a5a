"""Training on two logical CPU devices under ``MirroredStrategy``, in a child process:
TensorFlow splits the CPU only before it starts.

``python -m faults.mirrored_child train <run_dir> <pause seconds>``: the tiny run of
:mod:`faults.train_child` on the two devices, pausing after each epoch so that a test can kill
it. ``python -m faults.mirrored_child check <run_dir> <out.json>``: resumes that run, then
writes to ``out.json`` its history, that of the same run on one device, and the history and
weights of an epoch of two batches, the second split unevenly, on one device and on two.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import train_child


def split_the_cpu() -> None:
    """Two logical CPU devices (before TensorFlow initialises its devices)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def uneven_batches(strategy: str) -> dict:
    """Train an epoch on, then evaluate, 7 captions in batches of 4 and 3: the first splits
    2 + 2 with the short captions in one half (Keras needs an even first batch to build the
    model), the second 2 + 1. The history of the epoch and the weights after it."""
    import keras

    from course_lib.distribute import make_strategy
    from course_lib.models import build_merge_model, compile_captioner
    from course_lib.training import make_tf_dataset

    feats, image_ids, ids = train_child.tiny_data()
    order = np.argsort(np.count_nonzero(ids, axis=1), kind="stable")[-7:]  # the longest
    ids = ids[order]
    ids[:2, 3:] = 0  # two short captions first: <start> a word <end>
    ids[:2, 2] = 3
    image_ids = [image_ids[i] for i in order]
    batches = make_tf_dataset(feats, image_ids, ids, batch_size=4, shuffle=False, sort_window=1)
    keras.utils.set_random_seed(0)
    with make_strategy(strategy).scope():
        model = build_merge_model(
            train_child.VOCAB_SIZE, train_child.D, embed_dim=8, units=8, dropout=0.0
        )
        compile_captioner(model, learning_rate=1e-2)
    history = model.fit(batches, validation_data=batches, epochs=1, verbose=0, shuffle=False)
    return {**history.history, "weights": [w.ravel().tolist() for w in model.get_weights()]}


def main(argv: list[str]) -> None:
    split_the_cpu()
    command, run_dir = argv[0], Path(argv[1])
    if command == "train":
        train_child.run(run_dir, float(argv[2]), strategy="mirrored")
        return
    out = {"resumed": train_child.run(run_dir, strategy="mirrored")[1]}
    with tempfile.TemporaryDirectory() as tmp:
        # One device, from the shuffle that Model.fit starts at under a strategy.
        out["one_device"] = train_child.run(tmp, passes=1)[1]
    out["uneven_one"] = uneven_batches("default")
    out["uneven_two"] = uneven_batches("mirrored")
    Path(argv[2]).write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
