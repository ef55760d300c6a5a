"""Smoke test of the benchmarks at a tiny size: each runs both ways and writes results in the
documented schema. No speed or memory is asserted (those are for ``nox -s bench``)."""

from __future__ import annotations

import json

import pytest

from benchmarks import RESULT_KEYS, write_result, write_summary

pytestmark = pytest.mark.slow

TINY = {"vocab_size": 40, "feature_dim": 16, "max_length": 10}


def _check_schema(result: dict, name: str) -> None:
    assert set(RESULT_KEYS) <= set(result)
    assert result["benchmark"] == name
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["tensorflow"] and result["machine"]["keras"]
    assert set(result["load_average"]) == {"start", "end"}
    assert result["way_a"]["name"] and result["way_b"]["name"]
    assert result["comparisons"]
    for c in result["comparisons"]:
        assert {"metric", "unit", "a", "b", "ratio", "target", "passed"} <= set(c)
        if c["unit"] == "MiB":  # at a tiny scale neither way may grow past its baseline
            assert c["a"] >= 0 and c["b"] >= 0
        else:
            assert c["a"] > 0 and c["b"] > 0 and c["ratio"] > 0
    json.dumps(result)  # serialisable as written


def test_training_benchmark_runs_both_ways_in_child_processes(tmp_path):
    from benchmarks import bench_training

    result = bench_training.run(
        0.002,
        steps_teacher=2,
        steps_per_prefix=2,
        warmup=1,
        repeats=1,
        progress=lambda *_: None,
        **TINY,
    )
    _check_schema(result, "training")
    for way in ("way_a", "way_b"):
        assert result[way]["timed_steps"] >= 1
        assert result[way]["peak_rss_mib"] >= result[way]["baseline_rss_mib"] > 0
    # 12 images × 5 captions; the per-prefix way has one sample per word of each caption.
    assert result["way_a"]["samples"] == 60
    assert result["way_b"]["samples"] > result["way_a"]["samples"]


def test_extraction_benchmark_runs_both_ways(tmp_path):
    from benchmarks import bench_extraction

    result = bench_extraction.run(0.001, n_images=16, progress=lambda *_: None)
    _check_schema(result, "extraction")
    assert result["way_a"]["smallcnn"]["images"] == 16
    assert result["way_b"]["smallcnn"]["images"] == 16
    assert result["way_a"]["smallcnn"]["feature_dim"] == result["way_b"]["smallcnn"]["feature_dim"]


def test_decoding_benchmark_decodes_the_same_number_of_words(tmp_path):
    from benchmarks import bench_decoding

    result = bench_decoding.run(0.01, n_images=6, n_naive=2, progress=lambda *_: None, **TINY)
    _check_schema(result, "decoding")
    assert result["way_a"]["words"] == 6 * TINY["max_length"]
    assert result["way_b"]["words_timed"] == 2 * TINY["max_length"]
    write_result(tmp_path, result)
    summary = write_summary(tmp_path).read_text(encoding="utf-8")
    assert "| decoding |" in summary
    saved = json.loads((tmp_path / "decoding.json").read_text(encoding="utf-8"))
    assert saved["comparisons"] == result["comparisons"]


def test_grids_benchmark_writes_the_store_and_trains_both_ways(tmp_path):
    from benchmarks import bench_grids

    result = bench_grids.run(
        0.002,
        steps=2,
        warmup=1,
        repeats=1,
        grid_shape=(4, 8),
        vocab_size=TINY["vocab_size"],
        max_length=TINY["max_length"],
        progress=lambda *_: None,
    )
    _check_schema(result, "grids")
    # 16 images (0.002 of 8,091) in 8 shards of 2 (1,024 × 0.002) vs. one array.
    assert result["way_a"]["write"]["images"] == result["way_b"]["write"]["images"] == 16
    assert result["way_a"]["write"]["shards"] == 8 and result["way_b"]["write"]["shards"] == 1
    assert result["way_a"]["write"]["stored_mib"] == result["way_b"]["write"]["stored_mib"]
    for way in ("way_a", "way_b"):
        train = result[way]["train"]
        assert train["images"] == 12 and train["captions"] == 60
        assert train["timed_steps"] == 2
        assert train["peak_rss_mib"] >= train["baseline_rss_mib"] > 0
    write_result(tmp_path, result)
    assert "| grids |" in write_summary(tmp_path).read_text(encoding="utf-8")


def test_run_entry_point_writes_json_and_summary(tmp_path, monkeypatch):
    from benchmarks import bench_decoding, run

    real = bench_decoding.run
    monkeypatch.setattr(
        bench_decoding, "run", lambda scale: real(scale, n_images=4, n_naive=1, **TINY)
    )
    assert run.main(["--only", "decoding", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "decoding.json").is_file()
    assert "decoding" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_scale_benchmark_measures_both_sizes_both_ways(tmp_path):
    from benchmarks import bench_scale

    result = bench_scale.run(0.0008, progress=lambda *_: None)  # 16 and 160 images
    _check_schema(result, "scale")
    assert result["sizes"] == [16, 160]
    for way in ("way_a", "way_b"):
        for n in ("16", "160"):
            extract, train = result[way][n]["extract"], result[way][n]["train"]
            assert extract["images"] == int(n)
            assert train["captions"] == 5 * train["images"] > 0
            assert train["peak_rss_mib"] >= train["baseline_rss_mib"] > 0
    assert [c["target"] for c in result["comparisons"]] == [2.0, 0.77, 2.0, 0.77]
    write_result(tmp_path, result)
    assert "| scale |" in write_summary(tmp_path).read_text(encoding="utf-8")
