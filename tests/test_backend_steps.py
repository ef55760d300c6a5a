"""One training step timed per Keras backend (the appendix page's table)."""

from __future__ import annotations

import keras
import pytest

from course_lib import backends


def test_tensorflow_is_installed_and_listed_first():
    assert backends.installed_backends()[0] == "tensorflow"


def test_a_step_is_timed_on_the_active_backend():
    row = backends.time_steps(steps=2, warmup=1)
    assert row["backend"] == keras.backend.backend()
    assert row["batch"] == 128 and row["ms"] > 0


def test_the_table_names_every_backend_and_why_one_has_no_time(monkeypatch):
    monkeypatch.setattr(backends, "installed_backends", lambda: ["jax"])
    monkeypatch.setattr(backends.sys, "executable", "/bin/false")
    rows = backends.step_table(steps=1)
    assert [r["backend"] for r in rows] == list(backends.BACKENDS)
    assert rows[0]["note"] == "not installed in this build"
    assert rows[1]["ms per step"] == "–" and "failed" in rows[1]["note"]


@pytest.mark.slow
def test_every_installed_backend_is_timed_in_its_own_process():
    rows = backends.step_table(steps=1)
    timed = [r["backend"] for r in rows if r["ms per step"] != "–"]
    assert timed == backends.installed_backends(), rows
    assert all(r["ms per step"] > 0 for r in rows if r["backend"] in timed)
