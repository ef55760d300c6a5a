"""Choosing the devices that train (course_lib.distribute): the strategies, the refusals.

Training on two devices, which needs a CPU split before TensorFlow starts, is tested in child
processes: tests/faults/test_several_devices.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from course_lib import config, distribute
from course_lib.__main__ import build_parser, main


def test_the_default_strategy_is_tensorflows_one_device_and_others_are_made_once():
    import tensorflow as tf

    assert distribute.make_strategy() is tf.distribute.get_strategy()
    assert distribute.make_strategy("default").num_replicas_in_sync == 1
    mirrored = distribute.make_strategy("mirrored")  # the CPU, where there is no GPU
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert distribute.make_strategy("mirrored") is mirrored
    with pytest.raises(ValueError, match=r"unknown strategy 'gpus'.*'default', 'mirrored', 'tpu'"):
        distribute.make_strategy("gpus")


@pytest.fixture
def no_tpu(monkeypatch):
    import tensorflow as tf

    if any(d.device_type.startswith("TPU") for d in tf.config.list_physical_devices()):
        pytest.skip("this machine has a TPU")
    for name in ("TPU_NAME", "TPU_CONFIG", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)


def test_the_tpu_strategy_without_a_tpu_says_so_and_what_to_do(no_tpu):
    with pytest.raises(RuntimeError, match="no TPU found") as err:
        distribute.make_strategy("tpu")
    assert "Change runtime type > TPU" in str(err.value) and "$TPU_NAME" in str(err.value)


def test_training_on_a_missing_tpu_fails_before_reading_any_data(no_tpu, tmp_path, capsys):
    assert main(["train", "--profile", "mini", "--strategy", "tpu", "--data-dir", str(tmp_path)])
    assert "error: strategy 'tpu': no TPU found" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_train_and_run_take_a_strategy_and_default_to_one_device():
    parser = build_parser()
    for command in ("train", "run"):
        assert parser.parse_args([command]).strategy == "default"
        assert parser.parse_args([command, "--strategy", "mirrored"]).strategy == "mirrored"
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--strategy", "gpus"])


def test_the_pipeline_builds_the_model_in_the_strategys_scope(tmp_path, monkeypatch):
    from course_lib import pipeline

    class Built(Exception):
        pass

    def stop_at_training(model, *args, **kwargs):
        raise Built(model.distribute_strategy)

    monkeypatch.setattr(pipeline, "train", stop_at_training)
    tiny = config.get_profile(
        "mini",
        synthetic_images=16,
        synthetic_extra_test_images=0,
        weights=None,
        units=8,
        embed_dim=8,
    )
    with pytest.raises(Built) as built:
        pipeline.run_all(tiny, tmp_path, strategy="mirrored")
    assert built.value.args[0] is distribute.make_strategy("mirrored")


def test_batches_that_cannot_open_an_epoch_on_every_device_are_refused():
    four = SimpleNamespace(num_replicas_in_sync=4)
    distribute.check_batches(four, 64, train_rows=30000, val_rows=5000)  # Flickr8k: 48 left
    with pytest.raises(ValueError, match=r"a training batch of 30 captions .* 4 devices"):
        distribute.check_batches(four, 30, train_rows=300, val_rows=5000)
    with pytest.raises(ValueError, match="a training batch of 2 captions"):  # the last one
        distribute.check_batches(four, 64, train_rows=130, val_rows=5000)
    with pytest.raises(ValueError, match="a validation batch of 10 captions"):
        distribute.check_batches(four, 64, train_rows=128, val_rows=10)
    distribute.check_batches(four, 64, train_rows=128, val_rows=66)  # opens with 64
