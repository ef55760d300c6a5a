"""One report of every metric of one decoder's captions (course_lib.evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_lib.evaluation import evaluate_captions
from course_lib.metrics import BLEU_WEIGHTS, bleu_scores, cider_d

FIXTURES = Path(__file__).parent / "fixtures" / "cider"


def _load(name: str) -> tuple[dict[str, list[list[str]]], dict[str, list[str]]]:
    data = json.loads((FIXTURES / name).read_text())
    refs = {i: [r.split() for r in rs] for i, rs in data["references"].items()}
    hyps = {i: h.split() for i, h in data["hypotheses"].items()}
    return refs, hyps


def test_evaluate_captions_labels_scores_with_the_decoder():
    refs, hyps = _load("toy_4.json")
    report = evaluate_captions(refs, hyps, decoder="beam", beam_width=3)
    assert report["decoder"] == "beam" and report["beam_width"] == 3
    assert report["n_images"] == 4
    assert report["cider_d"] == pytest.approx(cider_d(refs, hyps))
    assert {k: report[k] for k in BLEU_WEIGHTS} == bleu_scores(refs, hyps)
    assert "scene_accuracy" not in report
    json.dumps(report)
