"""The GPU benchmark (``benchmarks/gpu.py``) run tiny on the CPU, on the course's default
backend: it finishes, prints its table and writes a JSON with every part, the device and the
sizes. No speed is asserted; every number must be positive and finite. 30 training images
make 3 batches of different shapes, which Keras's TensorFlow adapter of a PyDataset accepts
only when its first two batches differ in both dimensions."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _numbers(value, path=""):
    """Every number in a JSON value (booleans are not numbers here), with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}/{i}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu") / "gpu.json"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--scale", "0.0005", "--train-images", "30",
         "--threads", "2", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), run.stdout


def test_the_json_has_every_part_the_device_and_the_sizes(tiny_run):
    result, _ = tiny_run
    assert result["benchmark"] == "gpu" and result["parts"] == [
        "extraction",
        "training",
        "decoding",
    ]
    device = result["device"]
    assert device["keras_backend"] == "tensorflow"
    assert device["versions"]["keras"] and device["versions"]["tensorflow"]
    assert device["devices"] and device["cpu_count"] >= 1
    sizes = result["sizes"]
    assert (sizes["vocab_size"], sizes["max_words"], sizes["grid_shape"]) == (7591, 37, [196, 512])
    assert (sizes["extraction_images"], sizes["train_images"], sizes["decode_images"]) == (4, 30, 2)

    extraction = result["extraction"]
    assert extraction["fc2"]["output_shape"] == [4096]
    assert extraction["grids"]["output_shape"] == [196, 512]
    for name in ("fc2", "grids"):
        for way in ("network_only", "with_jpeg_decoding"):
            assert extraction[name][way]["images"] == 4
    assert extraction["decoding_only"]["images"] == 4

    training = result["training"]
    assert training["captions"] == 150
    for kind in ("merge", "attention"):
        assert training[kind]["steps"] == 3  # 64 + 64 + 22 captions
        assert training[kind]["batch_shapes"] >= 2
        for name in ("greedy", "beam3"):
            decoded = result["decoding"][kind][name]
            assert decoded["images"] == 2
            # <end> is disabled: every caption is as long as decoding allows
            assert decoded["mean_words"] == result["decoding"]["max_tokens"] == 38
        assert result["decoding"][kind]["trained_epochs"] == 1


def test_every_number_is_positive_and_finite(tiny_run):
    result, _ = tiny_run
    numbers = [(p, v) for p, v in _numbers(result) if not p.startswith("/load_average")]
    assert len(numbers) > 50
    bad = [(p, v) for p, v in numbers if not (math.isfinite(v) and v > 0)]
    assert not bad


def test_the_table_has_a_row_per_measurement(tiny_run):
    _, stdout = tiny_run
    rows = [
        line
        for line in stdout.splitlines()
        if line.startswith(("| extraction", "| train", "| decod"))
    ]
    assert len(rows) == 5 + 4 + 4
    assert "images/s" in rows[0] and "ms/step" in "".join(rows)
