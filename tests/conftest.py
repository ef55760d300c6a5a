"""Shared test setup: the environment every test needs, offline data folders, the real
Flickr8k text files.

The variables below are set in ``os.environ`` when pytest loads this file, before anything
imports TensorFlow or matplotlib, so that ``pytest tests`` passes however it is started (nox,
a plain shell, an editor) and every subprocess and notebook kernel a test starts inherits them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: What the tests need, whatever the caller's environment says.
TEST_ENV = {
    "COURSE_PROFILE": "mini",  # the synthetic data: offline, on a CPU, in minutes
    "MPLBACKEND": "Agg",  # no window; notebook kernels started by tests draw off screen too
}
#: Defaults a caller may override, e.g. ``TF_CPP_MIN_LOG_LEVEL=0`` to see TensorFlow's log.
TEST_ENV_DEFAULTS = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # no start-up log lines (course_lib/_tf_logging.py)
    "KERAS_BACKEND": "tensorflow",
    "PYTHONHASHSEED": "0",  # subprocesses hash strings the same way in every run
}
os.environ.update(TEST_ENV)
for _name, _value in TEST_ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The real Flickr8k caption and split files, laid beside the clone (never copied into it).
SHARED_FLICKR8K_TEXT = REPO_ROOT.parent / "shared" / "flickr8k_text"


@pytest.fixture
def flickr8k_text_dir() -> Path:
    """The folder of real Flickr8k text files; skips the test where it is absent."""
    if not (SHARED_FLICKR8K_TEXT / "Flickr8k.token.txt").is_file():
        pytest.skip(
            f"real Flickr8k text files not found at {SHARED_FLICKR8K_TEXT} "
            "(they are laid beside the repository as ../shared/flickr8k_text, not shipped)"
        )
    return SHARED_FLICKR8K_TEXT


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Point COURSE_DATA_DIR at a fresh folder so no test writes into the repository."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path_factory.mktemp("course_data")))
