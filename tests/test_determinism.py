"""Same seed, same numbers: the small CNN's pretraining and the features it gives are
bit-identical across processes (TensorFlow's multi-threaded CPU kernels are made
deterministic by ``config.set_seed``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import hashlib, sys
from course_lib import pipeline
from course_lib.config import get_profile
profile = get_profile("mini", synthetic_images=60)
store = pipeline.prepare_features(profile, sys.argv[1], progress=False)
print(hashlib.sha256(store.features.tobytes()).hexdigest())
"""


def _feature_digest(data_dir) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return out.stdout.strip().splitlines()[-1]


def test_pretraining_and_extraction_are_bit_identical_across_runs(tmp_path):
    assert _feature_digest(tmp_path / "a") == _feature_digest(tmp_path / "b")
