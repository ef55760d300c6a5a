"""The Keras backends on this machine, and one training step of the mini
attention model timed on each.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so each
backend is timed in a process of its own
(``python -m course_lib.backends jax``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import keras
import numpy as np

from course_lib import config
from course_lib.attention import build_attention_model
from course_lib.models import compile_captioner

__all__ = ["BACKENDS", "installed_backends", "step_table", "time_steps"]

#: The backends of Keras 3 that the course runs on.
BACKENDS = ("tensorflow", "jax", "torch")
#: The mini attention model's inputs: 8 × 8 regions of 128 channels (the
#: small CNN at 64 px), 22 caption positions, 34 words.
REGIONS, CHANNELS, POSITIONS, VOCAB = 64, 128, 22, 34


def installed_backends() -> list[str]:
    """The backends of :data:`BACKENDS` whose package is installed."""
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def time_steps(steps: int = 10, warmup: int = 3) -> dict:
    """One training step of the mini attention model on the active backend:
    the median of ``steps`` timed ``train_on_batch`` calls, after ``warmup``
    (compilation)."""
    p = config.PROFILES["mini"].for_model("attention")
    model = build_attention_model(
        VOCAB, (REGIONS, CHANNELS), embed_dim=p.embed_dim, units=p.units,
        attention_units=p.units, dropout=p.dropout,
    )  # fmt: skip
    compile_captioner(model, p.learning_rate)
    rng = np.random.default_rng(0)
    image = rng.random((p.batch_size, REGIONS, CHANNELS), np.float32)
    ids = rng.integers(4, VOCAB, (p.batch_size, POSITIONS + 1), np.int32)
    x, y = {"image": image, "caption": ids[:, :-1]}, ids[:, 1:]
    seconds = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        if step >= warmup:
            seconds.append(time.perf_counter() - start)
    return {
        "backend": keras.backend.backend(),
        "batch": p.batch_size,
        "ms": 1000 * statistics.median(seconds),
    }


def step_table(steps: int = 10) -> list[dict]:
    """``{"backend", "ms per step", "note"}`` for each of :data:`BACKENDS`:
    :func:`time_steps` in a process of its own where it is installed; the
    note says why there is no time (not installed, or the error)."""
    rows = []
    for backend in BACKENDS:
        row = {"backend": backend, "ms per step": "–", "note": ""}
        rows.append(row)
        if backend not in installed_backends():
            row["note"] = "not installed in this build"
            continue
        env = {**os.environ, "KERAS_BACKEND": backend}
        cmd = [sys.executable, "-m", "course_lib.backends", str(steps)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode == 0:
            timed = json.loads(done.stdout.strip().splitlines()[-1])
            row["ms per step"] = round(timed["ms"])
            row["note"] = f"median of {steps}, batch {timed['batch']}"
        else:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            row["note"] = f"failed: {tail[0]}"
    return rows


if __name__ == "__main__":
    print(
        json.dumps(time_steps(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
    )
