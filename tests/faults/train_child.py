"""A tiny, deterministic training run, shared by the kill tests and their child processes.

Run as ``python -m faults.train_child <run_dir> <pause seconds>``: trains and pauses after each
epoch's callbacks so that a test can kill it between or during saves.
"""

from __future__ import annotations

import sys
import time

import numpy as np

D, VOCAB_SIZE, EPOCHS = 4, 12, 4


def tiny_data(n_images: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    image_ids = [f"img_{i // 2}" for i in range(2 * n_images)]
    feats = {f"img_{i}": rng.normal(size=D).astype(np.float32) for i in range(n_images)}
    ids = np.zeros((len(image_ids), 7), np.int32)
    for n in range(len(ids)):
        length = rng.integers(1, 5)
        ids[n, : length + 2] = [2, *rng.integers(4, VOCAB_SIZE, size=length), 3]
    return feats, image_ids, ids


def run(
    run_dir, pause: float = 0.0, callbacks=(), strategy: str = "default", passes: int = 0, **kw
):
    """Train the tiny merge model into ``run_dir`` on the devices of ``strategy``
    (``course_lib.distribute``), after spending ``passes`` passes of the shuffled pipeline (as
    ``Model.fit`` spends one under a strategy); returns (model, history)."""
    import keras

    from course_lib.distribute import make_strategy
    from course_lib.models import build_merge_model, compile_captioner
    from course_lib.training import make_tf_dataset, train

    class Pause(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(pause)

    keras.utils.set_random_seed(0)  # before the pipeline: its shuffle depends on the seed
    feats, image_ids, ids = tiny_data()
    ds = make_tf_dataset(feats, image_ids, ids, batch_size=8, shuffle=True, seed=3, sort_window=2)
    val = make_tf_dataset(feats, image_ids, ids, batch_size=8, shuffle=False)
    for _ in range(passes):
        next(iter(ds))
    keras.utils.set_random_seed(0)
    with make_strategy(strategy).scope():
        model = build_merge_model(VOCAB_SIZE, D, embed_dim=8, units=8, dropout=0.0)
        compile_captioner(model, learning_rate=1e-2)
    history = train(
        model,
        ds,
        val,
        epochs=EPOCHS,
        run_dir=run_dir,
        patience=10,
        seed=0,
        verbose=0,
        callbacks=[Pause(), *callbacks],
        **kw,
    )
    return model, history


if __name__ == "__main__":
    run(sys.argv[1], float(sys.argv[2]))
