"""The machine line printed beside timings."""

from __future__ import annotations

import os

from course_lib import machine


def test_the_line_names_processor_cores_and_load(monkeypatch):
    monkeypatch.setattr(machine, "cpu_model", lambda: "Test CPU 9000")
    monkeypatch.setattr(machine, "load_average", lambda: [1.25, 1.0, 0.5])
    line = machine.describe()
    assert line == f"measured on Test CPU 9000, {os.cpu_count()} CPU cores, load average 1.2"


def test_no_load_average_leaves_it_out(monkeypatch):
    monkeypatch.setattr(machine, "load_average", lambda: [])
    assert "load" not in machine.describe()


def test_a_processor_is_named():
    assert machine.cpu_model().strip()
