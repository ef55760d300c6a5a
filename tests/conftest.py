"""Shared test setup: quiet TensorFlow, offline data folders, the real Flickr8k text files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("COURSE_PROFILE", "mini")

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
