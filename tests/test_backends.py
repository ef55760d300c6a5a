"""The same models on TensorFlow, JAX and PyTorch: equal outputs for equal
weights, the same captions, training that resumes exactly on each, and a
``.keras`` file saved on one backend that loads and captions on the others.

Each backend runs ``tests/backend_probe.py`` in a process of its own
(``KERAS_BACKEND`` is read once, at Keras's import). ``nox -s backends``
installs JAX's and PyTorch's CPU builds and runs this; where neither is
installed, it is skipped with a message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROBE = Path(__file__).with_name("backend_probe.py")
ROOT = PROBE.parents[1]
BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b) is not None]
#: Outputs of the same weights on two backends differ by float32 rounding
#: (different kernels sum in different orders): seen up to 1.2e-7 in the
#: probabilities and 7e-7 in a caption's log-probability.
PROBS_ATOL, SCORE_ATOL = 1e-6, 1e-5

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        len(BACKENDS) < 2,
        reason="needs JAX or PyTorch beside TensorFlow (nox -s backends "
        f"installs both); installed: {BACKENDS}",
    ),
]


def probe(mode: str, backend: str, folder: Path) -> None:
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": str(ROOT),
    }
    cmd = [sys.executable, str(PROBE), mode, str(folder)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{backend}: {done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("backends")
    for mode in ("make", "load"):
        for backend in BACKENDS:
            probe(mode, backend, folder)
    return folder


def record(folder: Path, backend: str) -> dict:
    return json.loads((folder / f"{backend}.json").read_text())


@pytest.mark.parametrize("other", BACKENDS[1:])
def test_the_same_weights_give_the_same_outputs_and_captions(results, other):
    ref, got = np.load(results / "tensorflow.npz"), np.load(results / f"{other}.npz")
    for kind in ref.files:
        np.testing.assert_allclose(got[kind], ref[kind], atol=PROBS_ATOL, err_msg=kind)
    expected, found = record(results, "tensorflow"), record(results, other)
    for kind in ("merge", "inject", "attention"):
        for decoder in ("greedy", "beam"):
            assert found[kind][decoder] == expected[kind][decoder], (kind, decoder)
            np.testing.assert_allclose(
                found[kind][f"{decoder}_scores"],
                expected[kind][f"{decoder}_scores"],
                atol=SCORE_ATOL,
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_resumed_run_matches_an_uninterrupted_one_on_each_backend(results, backend):
    run = record(results, backend)["training"]
    assert run["resumed"] == run["history"]  # every loss, bit for bit
    assert run["same_weights"]
    assert run["history"]["loss"][-1] < run["history"]["loss"][0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_saved_on_any_backend_loads_and_captions_on_this_one(results, backend):
    loaded = json.loads((results / f"{backend}-loaded.json").read_text())
    assert sorted(loaded) == sorted(BACKENDS)
    for maker, found in loaded.items():
        made = np.load(results / f"{maker}.npz")["merge"]
        np.testing.assert_allclose(found["probs"], made, atol=PROBS_ATOL, err_msg=maker)
        assert found["greedy"] == record(results, maker)["merge"]["greedy"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_device_everywhere_and_tf_distribute_only_on_tensorflow(results, backend):
    found = record(results, backend)
    assert found["one_device"] == 1
    if backend == "tensorflow":
        assert "refused" not in found
    else:
        assert "tf.distribute" in found["refused"]
        assert "KERAS_BACKEND=tensorflow" in found["refused"]
