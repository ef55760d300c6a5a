"""Training on several devices: ``MirroredStrategy`` on two logical CPU devices gives the
one-device losses, and a run killed part way resumes to the same result.

The CPU is split before TensorFlow starts, so everything runs in child processes
(:mod:`faults.mirrored_child`): one trains on two devices and is killed after its first backup,
the other resumes it and runs the references. The epochs the killed run backed up compare two
devices with one; the epochs after it also compare the resumed run.
"""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

from course_lib import io as cio

from . import train_child
from .helpers import finish, start_child, stop, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The children's results, and the epochs the killed run had backed up."""
    tmp = tmp_path_factory.mktemp("several_devices")
    killed, out = tmp / "killed", tmp / "results.json"
    record = killed / "backup" / "training_metadata.json"
    victim = start_child("faults.mirrored_child", "train", killed, 0.4)
    try:
        wait_for(record.exists, victim, "the first epoch's backup on two devices")
        time.sleep(0.2)
        assert victim.poll() is None, "training finished before the kill"
        victim.send_signal(signal.SIGKILL)
    finally:
        stop(victim)
    saved = cio.read_json(record)["epoch"]
    finish(start_child("faults.mirrored_child", "check", killed, out))
    return {**json.loads(out.read_text(encoding="utf-8")), "saved": saved}


def test_the_masked_loss_and_accuracy_of_batches_split_unevenly_are_the_one_device_values(runs):
    one, two = runs["uneven_one"], runs["uneven_two"]
    for key in ("loss", "val_loss"):  # while training, and after
        assert two[key] == pytest.approx(one[key], rel=1e-6), key
    for key in ("masked_accuracy", "val_masked_accuracy"):
        assert two[key] == pytest.approx(one[key], abs=1e-6), key
    # Two training steps: the replicas' gradients add up to the one-device gradient.
    for w_one, w_two in zip(one["weights"], two["weights"], strict=True):
        np.testing.assert_allclose(w_two, w_one, atol=1e-6)


def _compare_with_one_device(runs, epochs: slice) -> None:
    two, one = runs["resumed"], runs["one_device"]
    assert two["epoch"] == one["epoch"] == list(range(train_child.EPOCHS))  # each epoch once
    for key in ("loss", "val_loss", "masked_accuracy", "val_masked_accuracy"):
        np.testing.assert_allclose(two[key][epochs], one[key][epochs], rtol=1e-5, err_msg=key)


def test_training_on_two_cpu_devices_gives_the_one_device_losses(runs):
    assert 1 <= runs["saved"] < train_child.EPOCHS
    _compare_with_one_device(runs, slice(0, runs["saved"]))  # the epochs before the kill


def test_training_on_two_devices_killed_resumes_to_the_uninterrupted_result(runs):
    _compare_with_one_device(runs, slice(runs["saved"], None))
    assert runs["resumed"]["loss"][-1] < runs["resumed"]["loss"][0]  # it learns
