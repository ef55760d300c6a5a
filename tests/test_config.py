"""Profiles and paths are decided in one place, from the environment."""

from __future__ import annotations

import pytest

from course_lib import config


def test_course_profile_selects_the_profile(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert config.get_profile().name == "full"
    monkeypatch.setenv("COURSE_PROFILE", " MINI ")
    assert config.get_profile().name == "mini"


def test_an_unknown_profile_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "large")
    with pytest.raises(ValueError, match=r"COURSE_PROFILE='large'.*full.*mini"):
        config.get_profile()


def test_without_course_profile_the_default_follows_the_gpu(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(config, "gpu_available", lambda: True)
    assert config.default_profile_name() == "full"
    monkeypatch.setattr(config, "gpu_available", lambda: False)
    assert config.default_profile_name() == "mini"


def test_the_two_profiles_differ_as_the_design_says():
    mini, full = config.PROFILES["mini"], config.PROFILES["full"]
    assert (mini.dataset, mini.backbone, mini.weights) == ("synthetic", "smallcnn", "scenes")
    assert (full.dataset, full.backbone, full.weights, full.image_size) == (
        "flickr8k",
        "vgg16",
        "imagenet",
        224,
    )
    for profile in (mini, full):
        assert (profile.embed_dim, profile.units, profile.dropout) == (256, 256, 0.5)


def test_overrides_make_a_new_profile_and_leave_the_table_alone():
    small = config.get_profile("mini", epochs=1)
    assert small.epochs == 1 and config.PROFILES["mini"].epochs != 1


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env"))
    assert config.data_dir() == tmp_path / "env"
    assert config.data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert config.data_dir().name == "data"  # <repo>/data in a source checkout
    assert config.dataset_dir("synthetic", tmp_path) == tmp_path / "synthetic"
    assert config.features_dir(tmp_path) == tmp_path / "features"
    assert config.runs_dir(tmp_path) == tmp_path / "runs"
    with pytest.raises(ValueError, match="unknown dataset"):
        config.dataset_dir("imagenet", tmp_path)


def test_banner_names_profile_dataset_backbone_and_how_to_switch(tmp_path):
    text = config.banner(config.get_profile("mini"), tmp_path)
    for word in ("mini", "synthetic", "smallcnn", "COURSE_PROFILE=full", str(tmp_path)):
        assert word in text


def test_the_banner_names_no_folder_of_the_machine(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    text = config.banner(config.get_profile("mini"))
    assert str(tmp_path) not in text and "$COURSE_DATA_DIR" in text
    monkeypatch.delenv(config.DATA_DIR_ENV)
    assert "the repository's data/" in config.banner(config.get_profile("mini"))


def test_shown_path_is_relative_to_the_data_folder_or_the_current_one(monkeypatch, tmp_path):
    data, work = tmp_path / "data", tmp_path / "work"
    monkeypatch.setenv(config.DATA_DIR_ENV, str(data))
    monkeypatch.chdir(tmp_path)
    run = data / "runs" / "merge" / "best.keras"
    assert config.shown_path(run) == "<data>/runs/merge/best.keras"
    assert config.shown_path(work / "x.png") == "work/x.png"
    assert config.shown_path("/etc/hosts") == "/etc/hosts"


def test_a_model_kind_trains_with_its_own_settings_unless_overridden():
    mini = config.get_profile("mini")
    attention = mini.for_model("attention")
    assert attention.epochs == config.ATTENTION_MINI["epochs"] != mini.epochs
    assert mini.for_model("merge") == mini
    short = config.get_profile("mini", epochs=1).for_model("attention")
    assert short.epochs == 1  # an explicit override wins over the model's settings
    assert short.patience == config.ATTENTION_MINI["patience"]
    with pytest.raises(ValueError, match="unknown model"):
        mini.for_model("transformer")


def test_course_seed_sets_the_profiles_seed_unless_overridden(monkeypatch):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert config.course_seed() == config.DEFAULT_SEED
    assert config.get_profile("mini") is config.PROFILES["mini"]
    monkeypatch.setenv("COURSE_SEED", " 3 ")
    assert config.course_seed() == 3
    assert config.get_profile("mini").seed == 3
    assert config.get_profile("mini", seed=7).seed == 7
    assert config.get_profile("mini").for_model("attention").seed == 3


def test_a_course_seed_that_is_not_a_number_is_refused(monkeypatch):
    monkeypatch.setenv("COURSE_SEED", "one")
    with pytest.raises(ValueError, match="COURSE_SEED='one' is not an integer seed"):
        config.course_seed()


def test_the_small_cnn_of_each_seed_has_its_own_file(monkeypatch, tmp_path):
    from course_lib import scene_cnn

    class Dataset:
        def fingerprint(self) -> str:
            return "f" * 64

    monkeypatch.setenv("COURSE_SEED", "5")
    assert scene_cnn.scene_cnn_path(Dataset(), tmp_path).name == f"smallcnn-{'f' * 16}-seed5.keras"
    assert scene_cnn.scene_cnn_path(Dataset(), tmp_path, seed=2).name.endswith("-seed2.keras")
