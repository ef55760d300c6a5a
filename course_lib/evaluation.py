"""One report of every metric for one decoder's captions: the corpus metrics
(:mod:`course_lib.metrics`) and, on the synthetic set, the scene checks
(:mod:`course_lib.scene_checks`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from course_lib.metrics import (
    Hypotheses,
    References,
    bleu_scores,
    cider_d,
    matching_ids,
)
from course_lib.scene_checks import scene_accuracy

__all__ = ["evaluate_captions"]


def evaluate_captions(
    references: References,
    hypotheses: Hypotheses,
    *,
    decoder: str,
    beam_width: int | None,
    scenes: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """All metrics for one decoder's captions, labelled with the decoder that produced them.

    Returns ``{"decoder", "beam_width", "n_images", "bleu1".."bleu4", "cider_d"}`` and, when
    ground-truth ``scenes`` are given (synthetic set), ``"scene_accuracy"``: the summary of
    :func:`scene_accuracy` without its per-image details.
    """
    report: dict[str, Any] = {
        "decoder": decoder,
        "beam_width": beam_width,
        "n_images": len(matching_ids(references, hypotheses)),
    }
    report.update(bleu_scores(references, hypotheses))
    report["cider_d"] = cider_d(references, hypotheses)
    if scenes is not None:
        summary = scene_accuracy(hypotheses, scenes)
        summary.pop("details")
        report["scene_accuracy"] = summary
    return report
