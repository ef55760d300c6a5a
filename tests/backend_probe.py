"""What tests/test_backends.py compares across Keras backends, computed on the
backend that ``KERAS_BACKEND`` names, in a process of its own.

``python tests/backend_probe.py make OUT``: the outputs of the merge, inject
and attention models with weights drawn from one NumPy generator, their masked
loss, greedy and beam-3 captions, a short training run interrupted and
resumed (and one uninterrupted), the strategies (``tf.distribute`` is
refused off TensorFlow), and the merge model saved as
``OUT/<backend>.keras``; all into ``OUT/<backend>.npz`` and ``.json``.
``python tests/backend_probe.py load OUT``: every ``OUT/*.keras`` loaded and
run on this backend → ``OUT/<backend>-loaded.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np

from course_lib.attention import build_attention_model
from course_lib.decoding import beam_search_decode, greedy_decode
from course_lib.distribute import make_strategy
from course_lib.models import (
    build_inject_model,
    build_merge_model,
    compile_captioner,
    masked_sparse_categorical_crossentropy,
)
from course_lib.text import Vocabulary
from course_lib.training import caption_dataset, load_captioner, train

VOCAB = Vocabulary(["a", "red", "blue", "circle", "square", "left", "of"])
D, GRID, T, N = 5, (4, 3), 6, 7


def inputs(kind: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    shape = (N, *GRID) if kind == "attention" else (N, D)
    caption = rng.integers(1, len(VOCAB), size=(N, T)).astype(np.int32)
    caption[:, 0], caption[0, 3:] = VOCAB.start_id, 0  # one padded row
    return {"image": rng.normal(size=shape).astype(np.float32), "caption": caption}


def model(kind: str) -> keras.Model:
    """A tiny model of ``kind``, every weight drawn from one NumPy generator."""
    v = len(VOCAB)
    if kind == "attention":
        m = build_attention_model(v, GRID, embed_dim=6, units=8, attention_units=5, dropout=0.5)
    else:
        build = build_merge_model if kind == "merge" else build_inject_model
        m = build(v, D, embed_dim=6, units=8, dropout=0.5)
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(0, 0.5, w.shape) for w in m.get_weights()])
    return m


def captions(m: keras.Model, kind: str) -> dict:
    image = inputs(kind)["image"]
    greedy = greedy_decode(m, image, VOCAB, max_tokens=T)
    beam = beam_search_decode(m, image, VOCAB, max_tokens=T, beam_width=3)
    return {
        "greedy": greedy.captions,
        "greedy_scores": greedy.scores,
        "beam": beam.captions,
        "beam_scores": beam.scores,
    }


def training_data(n_images: int = 16):
    rng = np.random.default_rng(0)
    image_ids = [f"img_{i // 3}" for i in range(3 * n_images)]
    feats = {f"img_{i}": rng.normal(size=D).astype(np.float32) for i in range(n_images)}
    ids = np.zeros((len(image_ids), 9), np.int32)
    for n in range(len(ids)):
        length = rng.integers(1, 7)
        words = rng.integers(4, len(VOCAB), size=length)
        ids[n, : length + 2] = [VOCAB.start_id, *words, VOCAB.end_id]
    return feats, image_ids, ids


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


def run(run_dir: Path, callbacks=()) -> tuple[dict, list[np.ndarray]]:
    """A fresh process's view of a training run: data, seed, model, train."""
    feats, image_ids, ids = training_data()
    keras.utils.set_random_seed(0)  # before tf.data's shuffles take their seeds
    ds = caption_dataset(feats, image_ids, ids, batch_size=8, seed=2, sort_window=2)
    val = caption_dataset(feats, image_ids, ids, batch_size=8, shuffle=False)
    m = build_merge_model(len(VOCAB), D, embed_dim=8, units=8, dropout=0.0)
    compile_captioner(m, 1e-2)
    history = train(
        m, ds, val, epochs=4, run_dir=run_dir, patience=9, seed=0,
        verbose=0, callbacks=callbacks,
    )  # fmt: skip
    return history, [np.asarray(w) for w in m.get_weights()]


def training(out: Path, backend: str) -> dict:
    whole, weights = run(out / f"{backend}-whole")
    try:
        run(out / f"{backend}-cut", [Interrupt()])
    except KeyboardInterrupt:
        pass
    resumed, again = run(out / f"{backend}-cut")
    same = all(np.array_equal(a, b) for a, b in zip(weights, again, strict=True))
    return {"history": whole, "resumed": resumed, "same_weights": same}


def make(out: Path, backend: str) -> None:
    arrays, record = {}, {}
    for kind in ("merge", "inject", "attention"):
        m = model(kind)
        x = inputs(kind)
        probs = np.asarray(m.predict_on_batch(x))
        arrays[kind] = probs
        targets = np.concatenate([x["caption"][:, 1:], x["caption"][:, :1]], 1)
        loss = masked_sparse_categorical_crossentropy(targets, probs)
        arrays[f"{kind}_loss"] = np.asarray(keras.ops.convert_to_numpy(loss))
        record[kind] = captions(m, kind)
    compile_captioner(model("merge")).save(out / f"{backend}.keras")
    record["training"] = training(out, backend)
    record["one_device"] = make_strategy("default").num_replicas_in_sync
    if backend != "tensorflow":
        try:
            make_strategy("mirrored")
        except ValueError as err:
            record["refused"] = str(err)
    np.savez(out / f"{backend}.npz", **arrays)
    (out / f"{backend}.json").write_text(json.dumps(record))


def load(out: Path, backend: str) -> None:
    found = {}
    for path in sorted(out.glob("*.keras")):
        m = load_captioner(path, compile=False)
        found[path.stem] = {
            "probs": np.asarray(m.predict_on_batch(inputs("merge"))).tolist(),
            **captions(m, "merge"),
        }
    (out / f"{backend}-loaded.json").write_text(json.dumps(found))


if __name__ == "__main__":
    mode, folder = sys.argv[1], Path(sys.argv[2])
    {"make": make, "load": load}[mode](folder, keras.backend.backend())
    print(f"{mode} on {keras.backend.backend()}: done")
