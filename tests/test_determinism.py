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
from course_lib.data import prepare_dataset
from course_lib import features
ds = prepare_dataset("synthetic", sys.argv[1], n_images=60, progress=False)
store = features.extract_features(
    ds, "smallcnn", weights="scenes", image_size=64, data_dir=sys.argv[1], progress=False
)
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
