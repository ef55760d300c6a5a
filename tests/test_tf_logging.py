"""TensorFlow's start-up log lines are dropped, everything else written to stderr is kept."""

from __future__ import annotations

import os

import pytest

from course_lib import _tf_logging

STARTUP_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    b"I0000 00:00:1796105709.266275   17558 port.cc:153] oneDNN custom operations are on.\n",
    b"I0000 00:00:1796105709.266613   17558 cudart_stub.cc:31] Could not find cuda drivers.\n",
    b"W0000 00:00:1796105709.300000   17558 some_file.cc:12] a warning\n",
    b"E0000 00:00:1796105710.1   17558 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
    b"2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could\n",
]


@pytest.mark.parametrize(
    ("level", "dropped"), [(0, 0), (1, 4), (2, 5), (3, 6)], ids=["0", "1", "2", "3"]
)
def test_log_lines_below_the_level_are_quiet(level, dropped):
    assert sum(_tf_logging.is_quiet_line(line, level) for line in STARTUP_LINES) == dropped


@pytest.mark.parametrize(
    "line",
    [
        b"Traceback (most recent call last):\n",
        b"ValueError: I0000 is not a log line here\n",
        b"F0000 00:00:1796105709.266275   17558 check.cc:1] Check failed: fatal\n",
        b"/site-packages/keras/src/x.py:74: UserWarning: something\n",
    ],
)
def test_other_lines_are_never_quiet(line):
    assert not _tf_logging.is_quiet_line(line, 3)


def test_the_filter_writes_back_what_is_not_a_log_line_even_on_an_exception(capfd):
    with pytest.raises(RuntimeError), _tf_logging.stderr_without_log_lines(3):
        for line in STARTUP_LINES:
            os.write(2, line)
        os.write(2, b"a real message\n")
        raise RuntimeError("a real error")
    assert capfd.readouterr().err == "a real message\n"


def test_the_level_defaults_to_3_and_a_level_set_by_the_user_wins(monkeypatch):
    monkeypatch.delenv(_tf_logging.LEVEL_ENV, raising=False)
    _tf_logging.install()
    assert os.environ[_tf_logging.LEVEL_ENV] == "3"
    monkeypatch.setenv(_tf_logging.LEVEL_ENV, "0")
    _tf_logging.install()
    assert _tf_logging.min_log_level() == 0
    monkeypatch.setenv(_tf_logging.LEVEL_ENV, "verbose")
    assert _tf_logging.min_log_level() == 0
