"""The mini profile's pipeline and command line end to end, at a tiny size."""

from __future__ import annotations

import dataclasses
import json

import pytest

from course_lib import config
from course_lib.__main__ import build_parser, main
from course_lib.io import atomic_write_json, read_json
from course_lib.pipeline import caption_images, run_all, run_dir_for, train_captioner
from course_lib.text import Vocabulary

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_mini():
    return config.get_profile(
        "mini",
        synthetic_images=40,
        synthetic_extra_test_images=0,
        epochs=2,
        embed_dim=16,
        units=16,
        batch_size=16,
    )


def test_run_all_reports_bleu_cider_scene_accuracy_decoder_and_timings(tmp_path, tiny_mini):
    result = run_all(tiny_mini, tmp_path)
    for key in ("bleu1", "bleu2", "bleu3", "bleu4", "cider_d"):
        assert 0.0 <= result[key] <= 10.0
    assert (result["decoder"], result["beam_width"]) == ("beam", tiny_mini.beam_width)
    assert set(result["greedy"]) >= {"bleu4", "cider_d"}
    assert 0.0 <= result["scene_accuracy"]["all_correct"] <= 1.0
    assert set(result["timings_s"]) >= {"data", "features", "train", "evaluate"}
    saved = read_json(run_dir_for(tiny_mini, tmp_path) / "scores.json")
    assert saved["bleu4"] == result["bleu4"]


def test_a_finished_run_is_reused_and_retrained_when_the_features_change(
    tmp_path, tiny_mini, capsys
):
    first = train_captioner(tiny_mini, tmp_path, verbose=0)
    run_dir = first.run_dir
    mtime = (run_dir / "best.keras").stat().st_mtime_ns
    again = train_captioner(tiny_mini, tmp_path, verbose=0)
    assert (run_dir / "best.keras").stat().st_mtime_ns == mtime
    assert again.history["loss"] == first.history["loss"]
    assert first.train_seconds > 0 and again.train_seconds == first.train_seconds  # recorded

    settings = read_json(run_dir / "settings.json")
    other = {**settings, "features_key": "made by another backbone"}
    atomic_write_json(run_dir / "settings.json", other)
    capsys.readouterr()
    train_captioner(tiny_mini, tmp_path, verbose=0)
    assert "other settings (features_key); retraining" in capsys.readouterr().out
    assert read_json(run_dir / "settings.json") == settings


def test_a_run_is_trained_again_when_its_training_settings_change(tmp_path, tiny_mini, capsys):
    first = train_captioner(tiny_mini, tmp_path, verbose=0)
    longer = dataclasses.replace(tiny_mini, epochs=tiny_mini.epochs + 1, dropout=0.1)
    assert run_dir_for(longer, tmp_path) == first.run_dir  # same folder, other settings
    capsys.readouterr()
    again = train_captioner(longer, tmp_path, verbose=0)
    assert "other settings (dropout, epochs); retraining" in capsys.readouterr().out
    assert len(again.history["loss"]) == tiny_mini.epochs + 1

    # A run finished before settings.json existed is judged by what its run.json records.
    (first.run_dir / "settings.json").unlink()
    mtime = (first.run_dir / "best.keras").stat().st_mtime_ns
    train_captioner(longer, tmp_path, verbose=0)
    assert (first.run_dir / "best.keras").stat().st_mtime_ns == mtime
    train_captioner(tiny_mini, tmp_path, verbose=0)
    assert "other settings (dropout, epochs); retraining" in capsys.readouterr().out


def test_cli_train_evaluate_and_caption(tmp_path, capsys):
    base = ["--profile", "mini", "--data-dir", str(tmp_path)]
    config_overrides = ["--epochs", "1"]
    # A small dataset first: the pipeline then uses the set on disk, not the profile's 2,000.
    assert (
        main(["data", "--dataset", "synthetic", "--data-dir", str(tmp_path), "--n-images", "40"])
        == 0
    )
    assert main(["train", *base, *config_overrides]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(out)["epochs"] == 1
    assert main(["evaluate", *base, *config_overrides, "--decoder", "greedy"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["decoder"] == "greedy" and scores["beam_width"] is None
    image = next((tmp_path / "synthetic" / "Flicker8k_Dataset").glob("*.jpg"))
    assert main(["caption", *base, str(image), str(tmp_path / "missing.jpg")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[-2:]
    path, caption = lines[0].split("\t")
    # After one epoch of 3 batches the caption may well be empty (<end> first), so check only
    # that it is made of the trained vocabulary's words.
    (vocab_file,) = tmp_path.glob("runs/*/vocab.json")
    assert path == str(image) and set(caption.split()) <= set(Vocabulary.load(vocab_file).words)
    assert "missing.jpg" in lines[1] and "[skipped:" in lines[1]


def test_the_attention_model_runs_end_to_end_with_grids_and_saves_attention_figures(
    tmp_path, tiny_mini, capsys
):
    result = run_all(tiny_mini, tmp_path, model="attention")
    assert result["model"] == "attention"
    correctness = result["attention_correctness"]
    if correctness["n_words"]:  # two epochs may name no object at all
        assert 0.0 <= correctness["correctness"] <= 1.0 and 0.0 < correctness["chance"] < 1.0
    else:
        assert correctness["correctness"] is None and correctness["ratio"] is None
    assert "details" not in correctness
    run_dir = run_dir_for(tiny_mini, tmp_path, model="attention")
    assert (run_dir / "best.keras").exists()
    assert list((tmp_path / "features").glob("*-grid"))  # read from the grid store

    images = sorted((tmp_path / "synthetic" / "Flicker8k_Dataset").glob("*.jpg"))[:2]
    figure = tmp_path / "where.png"
    captions = caption_images(
        tiny_mini, images, tmp_path, model="attention", attention_figure=figure
    )
    assert [path for path, _ in captions] == images
    for k in range(2):
        assert (tmp_path / f"where-{k}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args = build_parser().parse_args(
        ["caption", "--model", "attention", "--attention-figure", str(figure), "x.jpg"]
    )
    assert (args.model, args.attention_figure) == ("attention", figure)


def test_an_attention_figure_needs_the_attention_model(tmp_path, tiny_mini):
    with pytest.raises(ValueError, match="attention model"):
        caption_images(tiny_mini, [tmp_path / "a.jpg"], tmp_path, attention_figure="a.png")
    with pytest.raises(ValueError, match="unknown model"):
        run_all(tiny_mini, tmp_path, model="transformer")
