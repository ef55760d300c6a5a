"""Corpus metrics of generated captions against their references: BLEU-1..4, CIDEr-D and a
human baseline.

Every function takes captions keyed by image id:

* ``references``: ``{image_id: [tokens, tokens, ...]}`` — the (usually five) reference
  captions of each image, each already cleaned into a list of words;
* ``hypotheses``: ``{image_id: tokens}`` — one generated caption per image.

Both sides must hold exactly the same image ids (a :class:`ValueError` names the missing
ones). Results are plain ``dict`` objects of floats, so they can be written as JSON and shown
as tables in the book. Everything here is deterministic: images are visited in sorted id order.
(The seed tutorial's two BLEU mistakes are in :mod:`course_lib.seed_tutorial`; the checks of
captions against the synthetic scenes in :mod:`course_lib.scene_checks`.)

**BLEU** (:func:`bleu_scores`): corpus BLEU pools clipped n-gram counts and lengths over all
images before dividing (it is not the mean of per-image scores). BLEU-n uses uniform weights
``1/n`` over 1..n-grams (:data:`BLEU_WEIGHTS`). The start and end markers
(``<start>``/``<end>``/``startseq``/``endseq``) are removed from both sides by default (leaving
them in is a tutorial mistake, :func:`course_lib.seed_tutorial.tutorial_mistake_bleu`). No
smoothing by default (as in the papers' tables): if an n-gram order used by a score has no
match anywhere in the corpus, that score is 0.0; an nltk ``SmoothingFunction()`` method changes
this.

**The human baseline** (:func:`human_baseline`): for k = 0..m-1 (m = references per image,
usually 5), each image's k-th reference plays the hypothesis and the other m-1 are its
references; the corpus scores of the m rounds are averaged. Images with more than m
references (m = the smallest count) use their first m. Caution: the human is scored against
m-1 = 4 references while a model is scored against all 5, so the numbers are not directly
comparable (``n_references`` in the result says 4). BLEU can only gain matches from a fifth
reference, so the BLEU baseline is biased *low*; CIDEr-D averages over references (and its idf
changes too), so it shifts either way. The result holds ``"bleu1".."bleu4"`` and/or
``"cider_d"``, ``"n_images"``, ``"n_references"`` and each round's scores, ``"per_holdout"``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nltk.translate.bleu_score import corpus_bleu

__all__ = [
    "BLEU_WEIGHTS",
    "SPECIAL_TOKENS",
    "TfIdf",
    "bleu_scores",
    "cider_d",
    "cider_d_pair",
    "cider_d_per_image",
    "corpus_bleu_scores",
    "corpus_scores",
    "describe_ids",
    "human_baseline",
    "leave_one_out",
    "matching_ids",
    "references_per_image",
    "strip_special_tokens",
    "token_lists",
]

#: Start/end markers removed before scoring: the course vocabulary's and the tutorial's.
SPECIAL_TOKENS: frozenset[str] = frozenset(
    {"<start>", "<end>", "startseq", "endseq"}
)

#: Cumulative BLEU-n weights (uniform over 1..n-grams, summing to one).
BLEU_WEIGHTS: dict[str, tuple[float, ...]] = {
    "bleu1": (1.0, 0.0, 0.0, 0.0),
    "bleu2": (0.5, 0.5, 0.0, 0.0),
    "bleu3": (1 / 3, 1 / 3, 1 / 3, 0.0),
    "bleu4": (0.25, 0.25, 0.25, 0.25),
}

References = Mapping[str, Sequence[Sequence[str]]]
Hypotheses = Mapping[str, Sequence[str]]
#: BLEU's weights: ``"standard"`` (:data:`BLEU_WEIGHTS`) or a mapping of names to weights
#: (another string is refused).
Weights = str | Mapping[str, tuple[float, ...]]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def strip_special_tokens(tokens: Iterable[str]) -> list[str]:
    """Return ``tokens`` without the start/end markers in :data:`SPECIAL_TOKENS`."""
    return [t for t in tokens if t not in SPECIAL_TOKENS]


def describe_ids(ids: Iterable[str], limit: int = 5) -> str:
    """Image ids for an error message: the first ``limit`` in sorted order, and how many."""
    ids = sorted(ids)
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" … ({len(ids)} in all)" if len(ids) > limit else "")


def matching_ids(
    references: Mapping[str, Any], hypotheses: Mapping[str, Any]
) -> list[str]:
    """Return the shared image ids in sorted order, or raise naming the ids on one side only."""
    ref_ids, hyp_ids = set(references), set(hypotheses)
    problems = []
    if hyp_ids - ref_ids:
        problems.append(
            f"hypotheses without references: {describe_ids(hyp_ids - ref_ids)}"
        )
    if ref_ids - hyp_ids:
        problems.append(
            f"references without a hypothesis: {describe_ids(ref_ids - hyp_ids)}"
        )
    if problems:
        raise ValueError(
            "references and hypotheses must cover the same image ids; "
            + "; ".join(problems)
        )
    if not ref_ids:
        raise ValueError(
            "no images to evaluate: references and hypotheses are empty"
        )
    empty = [i for i in ref_ids if len(references[i]) == 0]
    if empty:
        raise ValueError(
            f"images without any reference caption: {describe_ids(empty)}"
        )
    for image_id in ref_ids:
        if any(isinstance(r, str) for r in references[image_id]):
            raise TypeError(
                f"a reference for {image_id!r} is a string; pass lists of tokens "
                "(e.g. [c.split() for c in captions])"
            )
        if isinstance(hypotheses[image_id], str):
            raise TypeError(
                f"hypothesis for {image_id!r} is a string; pass a list of tokens "
                "(e.g. caption.split())"
            )
    return sorted(ref_ids)


def token_lists(
    references: References, hypotheses: Hypotheses, strip_special: bool
) -> tuple[list[str], list[list[list[str]]], list[list[str]]]:
    """``(ids, refs, hyps)``: the shared image ids in sorted order and both
    sides' token lists in that order, without the start/end markers when
    ``strip_special`` (the ids checked by :func:`matching_ids`)."""
    ids = matching_ids(references, hypotheses)
    clean = strip_special_tokens if strip_special else list
    refs = [[clean(r) for r in references[i]] for i in ids]
    hyps = [clean(hypotheses[i]) for i in ids]
    return ids, refs, hyps


# --------------------------------------------------------------------------------------------
# BLEU
# --------------------------------------------------------------------------------------------


def corpus_bleu_scores(
    refs: list[list[list[str]]],
    hyps: list[list[str]],
    weights: Mapping[str, tuple[float, ...]],
    smoothing_function: Any = None,
) -> dict[str, float]:
    """nltk's ``corpus_bleu`` once for all the named weights: token lists in,
    ``{name: score}`` out; a score below 1e-12 is reported as 0.0."""
    names = list(weights)
    with warnings.catch_warnings():
        # nltk warns per n-gram order without a match: the 0 is documented
        warnings.filterwarnings(
            "ignore", message=r"\s*The hypothesis contains 0"
        )
        values = corpus_bleu(
            refs, hyps, [weights[n] for n in names], smoothing_function
        )
    if not isinstance(values, list):  # one number: no unigram matched
        values = [values] * len(names)
    return {
        n: 0.0 if v < 1e-12 else float(v)
        for n, v in zip(names, values, strict=True)
    }


def bleu_scores(
    references: References,
    hypotheses: Hypotheses,
    *,
    strip_special: bool = True,
    weights: Weights = "standard",
    smoothing_function: Any = None,
) -> dict[str, float]:
    """Corpus BLEU-1..4 with nltk's ``corpus_bleu`` (see the module docstring):
    ``{"bleu1": .., "bleu2": .., "bleu3": .., "bleu4": ..}``, or the keys of
    ``weights``. ``strip_special`` removes the start and end markers from both
    sides; no smoothing unless a ``smoothing_function`` of nltk is given."""
    table = BLEU_WEIGHTS if weights == "standard" else weights
    if isinstance(table, str):
        wanted = "'standard' or a mapping of weight tuples"
        raise ValueError(f"weights must be {wanted}, not {table!r}")
    _, refs, hyps = token_lists(references, hypotheses, strip_special)
    return corpus_bleu_scores(refs, hyps, table, smoothing_function)


# --------------------------------------------------------------------------------------------
# CIDEr-D (as pycocoevalcap's CiderScorer computes it)
# --------------------------------------------------------------------------------------------

NgramCounts = Counter  # Counter[tuple[str, ...], int]


def _ngram_counts(tokens: Sequence[str], n: int) -> NgramCounts:
    counts: NgramCounts = Counter()
    for k in range(1, n + 1):
        for i in range(len(tokens) - k + 1):
            counts[tuple(tokens[i : i + k])] += 1
    return counts


@dataclass(frozen=True)
class TfIdf:
    """A caption's tf-idf vectors, one ``{n-gram: weight}`` per n-gram order,
    their norms, and the length CIDEr-D's penalty compares (its bigrams)."""

    vectors: list[dict[tuple[str, ...], float]]
    norms: list[float]
    length: int


def tfidf(
    counts: NgramCounts,
    df: Mapping[tuple[str, ...], float],
    log_n_images: float,
    n: int,
) -> TfIdf:
    """The :class:`TfIdf` of a caption's n-gram ``counts``, for document frequencies ``df``."""
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
    norm = [0.0] * n
    length = 0
    for ngram, tf in counts.items():
        order = len(ngram) - 1
        value = float(tf) * (
            log_n_images - math.log(max(1.0, df.get(ngram, 0.0)))
        )
        vec[order][ngram] = value
        norm[order] += value * value
        if (
            order == 1
        ):  # pycocoevalcap counts *bigrams* as the length (len - 1 words)
            length += tf
    return TfIdf(vec, [math.sqrt(x) for x in norm], length)


def cider_d_pair(hyp: TfIdf, ref: TfIdf, sigma: float = 6.0) -> float:
    """CIDEr-D's similarity of a hypothesis and one reference: per n-gram
    order a clipped cosine of their tf-idf vectors, averaged over the
    orders, times a Gaussian penalty on their length difference."""
    gap = hyp.length - ref.length
    penalty = math.exp(-(gap**2) / (2 * sigma**2))
    total = 0.0
    for k, h_k in enumerate(hyp.vectors):
        r_k = ref.vectors[k]
        shared = [(v, r_k[g]) for g, v in h_k.items() if g in r_k]
        # clipped: an n-gram counts at most as much as the reference has it
        dot = sum(min(v, r) * r for v, r in shared)
        if hyp.norms[k] != 0 and ref.norms[k] != 0:
            dot /= hyp.norms[k] * ref.norms[k]
        total += dot * penalty
    return total / len(hyp.vectors)


def cider_d_per_image(
    references: References,
    hypotheses: Hypotheses,
    *,
    n: int = 4,
    sigma: float = 6.0,
    strip_special: bool = True,
) -> dict[str, float]:
    """CIDEr-D of each image's hypothesis: ``{image_id: score}`` (see :func:`cider_d`)."""
    ids, refs, hyps = token_lists(references, hypotheses, strip_special)
    ref_counts = [[_ngram_counts(r, n) for r in rs] for rs in refs]
    # Document frequency: in how many images' reference sets each n-gram occurs.
    df: Counter = Counter()
    for counts in ref_counts:
        df.update({g for c in counts for g in c})
    log_n_images = math.log(float(len(ids)))
    scores: dict[str, float] = {}
    for image_id, hyp, counts in zip(ids, hyps, ref_counts, strict=True):
        vec_h = tfidf(_ngram_counts(hyp, n), df, log_n_images, n)
        pairs = [
            cider_d_pair(vec_h, tfidf(r, df, log_n_images, n), sigma)
            for r in counts
        ]
        scores[image_id] = 10.0 * sum(pairs) / len(counts)
    return scores


def cider_d(
    references: References,
    hypotheses: Hypotheses,
    *,
    n: int = 4,
    sigma: float = 6.0,
    strip_special: bool = True,
) -> float:
    """Corpus CIDEr-D: the mean over images of :func:`cider_d_per_image`.

    Our own implementation of the metric as pycocoevalcap's ``Cider``/``CiderScorer`` computes
    it (that class *is* CIDEr-D), matching it to floating-point precision:

    * n-grams for n = 1..``n`` of each caption, weighted by tf-idf where the document
      frequency counts the images whose *reference set* (of the evaluated images only)
      contains the n-gram and idf = log(#images) - log(max(1, df));
    * per order, a "clipped" cosine between hypothesis and each reference:
      sum over the hypothesis' n-grams of min(h, r) * r, divided by |h| |r|;
    * times a Gaussian length penalty exp(-(l_h - l_r)^2 / (2 sigma^2)), where, as in
      pycocoevalcap, the lengths are bigram counts (words - 1);
    * averaged over the n orders and the references, times 10.

    Because idf comes from the evaluated set, a score depends on which images are scored
    together; compare models on the same image ids only. Scores range over [0, 10].
    """
    per_image = cider_d_per_image(
        references, hypotheses, n=n, sigma=sigma, strip_special=strip_special
    )
    return math.fsum(per_image.values()) / len(per_image)


# --------------------------------------------------------------------------------------------
# Human baseline and a combined report
# --------------------------------------------------------------------------------------------


def leave_one_out(
    references: References,
    hypotheses: Hypotheses | None = None,
    *,
    metric: Literal["bleu", "cider_d", "all"] = "bleu",
) -> dict[str, Any]:
    """Captions scored against m - 1 of each image's m references, averaged
    over the m rounds (round k leaves reference k out). The captions are
    ``hypotheses``, or by default the reference left out: the human baseline
    (see the module docstring)."""
    ids = matching_ids(references, hypotheses or dict.fromkeys(references))
    m = references_per_image(references, ids)
    rounds: list[dict[str, float]] = []
    for k in range(m):
        kept = {i: references[i][:m] for i in ids}
        refs = {i: [r for j, r in enumerate(kept[i]) if j != k] for i in ids}
        hyps = hypotheses or {i: kept[i][k] for i in ids}
        rounds.append(corpus_scores(refs, hyps, metric))
    total = {key: math.fsum(r[key] for r in rounds) for key in rounds[0]}
    result: dict[str, Any] = {key: value / m for key, value in total.items()}
    result.update(n_images=len(ids), n_references=m - 1, per_holdout=rounds)
    return result


def human_baseline(
    references: References,
    *,
    metric: Literal["bleu", "cider_d", "all"] = "bleu",
) -> dict[str, Any]:
    """People scored like a model: :func:`leave_one_out` with each image's
    k-th reference as its caption in round k."""
    return leave_one_out(references, metric=metric)


def references_per_image(references: References, ids: list[str]) -> int:
    """The fewest references any image has (at least 2, else a ValueError
    naming the images with fewer)."""
    m = min(len(references[i]) for i in ids)
    if m < 2:
        few = [i for i in ids if len(references[i]) < 2]
        raise ValueError(
            f"the human baseline needs >= 2 references per image; {describe_ids(few)}"
        )
    return m


def corpus_scores(
    references: References, hypotheses: Hypotheses, metric: str
) -> dict[str, float]:
    """``metric``'s scores: ``"bleu"`` (BLEU-1..4), ``"cider_d"`` or ``"all"``."""
    if metric not in ("bleu", "cider_d", "all"):
        raise ValueError(
            f"metric must be 'bleu', 'cider_d' or 'all', not {metric!r}"
        )
    scores: dict[str, float] = {}
    if metric in ("bleu", "all"):
        scores.update(bleu_scores(references, hypotheses))
    if metric in ("cider_d", "all"):
        scores["cider_d"] = cider_d(references, hypotheses)
    return scores
