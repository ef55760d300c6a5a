"""One training step timed per Keras backend (the appendix page's table)."""

from __future__ import annotations

import keras

from course_lib import backends


def test_tensorflow_is_installed_and_listed_first():
    assert backends.installed_backends()[0] == "tensorflow"


def test_a_step_is_timed_on_the_active_backend():
    row = backends.time_steps(steps=2, warmup=1)
    assert row["backend"] == keras.backend.backend()
    assert row["batch"] == 128 and row["ms"] > 0


def test_a_backend_that_cannot_start_says_why(monkeypatch):
    monkeypatch.setattr(backends, "installed_backends", lambda: ["no-such"])
    (row,) = backends.step_table(steps=1)
    assert row["backend"] == "no-such" and "no-such" in row["error"]
