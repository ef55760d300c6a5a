"""Caption metrics: corpus BLEU-1..4, CIDEr-D, a human baseline and synthetic scene accuracy.

Every function takes captions keyed by image id:

* ``references``: ``{image_id: [tokens, tokens, ...]}`` — the (usually five) reference
  captions of each image, each already cleaned into a list of words;
* ``hypotheses``: ``{image_id: tokens}`` — one generated caption per image.

Both sides must hold exactly the same image ids (a :class:`ValueError` names the missing
ones). Results are plain ``dict`` objects of floats, so they can be written as JSON and shown
as tables in the book. Everything here is deterministic: images are visited in sorted id order.

The two mistakes found in many online tutorials are reproduced on purpose by
:func:`tutorial_mistake_bleu`, so the book can show how much they inflate the scores.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from nltk.translate.bleu_score import corpus_bleu

__all__ = [
    "BLEU_WEIGHTS",
    "SPECIAL_TOKENS",
    "TUTORIAL_BLEU_WEIGHTS",
    "attention_correctness",
    "bleu_scores",
    "box_coverage",
    "cider_d",
    "cider_d_per_image",
    "evaluate_captions",
    "human_baseline",
    "parse_scene_caption",
    "scene_accuracy",
    "scene_report_table",
    "strip_special_tokens",
    "tutorial_mistake_bleu",
]

#: Start/end markers removed before scoring: the course vocabulary's and the tutorial's.
SPECIAL_TOKENS: frozenset[str] = frozenset({"<start>", "<end>", "startseq", "endseq"})

#: Cumulative BLEU-n weights (uniform over 1..n-grams, summing to one).
BLEU_WEIGHTS: dict[str, tuple[float, ...]] = {
    "bleu1": (1.0, 0.0, 0.0, 0.0),
    "bleu2": (0.5, 0.5, 0.0, 0.0),
    "bleu3": (1 / 3, 1 / 3, 1 / 3, 0.0),
    "bleu4": (0.25, 0.25, 0.25, 0.25),
}

#: The weights of the widely copied tutorial: its BLEU-3 weights sum to 0.9, not 1.
TUTORIAL_BLEU_WEIGHTS: dict[str, tuple[float, ...]] = {
    **BLEU_WEIGHTS,
    "bleu3": (0.3, 0.3, 0.3, 0.0),
}

#: nltk's "no smoothing" stands a zero precision in for ``sys.float_info.min``, which leaves
#: scores such as 1e-77 instead of 0; anything below this is reported as exactly 0.0.
_ZERO_BLEU = 1e-12

References = Mapping[str, Sequence[Sequence[str]]]
Hypotheses = Mapping[str, Sequence[str]]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def strip_special_tokens(tokens: Iterable[str]) -> list[str]:
    """Return ``tokens`` without the start/end markers in :data:`SPECIAL_TOKENS`."""
    return [t for t in tokens if t not in SPECIAL_TOKENS]


def _show_ids(ids: Iterable[str], limit: int = 5) -> str:
    ids = sorted(ids)
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" … ({len(ids)} in all)" if len(ids) > limit else "")


def _check_ids(references: Mapping[str, Any], hypotheses: Mapping[str, Any]) -> list[str]:
    """Return the shared image ids in sorted order, or raise naming the ids on one side only."""
    ref_ids, hyp_ids = set(references), set(hypotheses)
    problems = []
    if hyp_ids - ref_ids:
        problems.append(f"hypotheses without references: {_show_ids(hyp_ids - ref_ids)}")
    if ref_ids - hyp_ids:
        problems.append(f"references without a hypothesis: {_show_ids(ref_ids - hyp_ids)}")
    if problems:
        raise ValueError(
            "references and hypotheses must cover the same image ids; " + "; ".join(problems)
        )
    if not ref_ids:
        raise ValueError("no images to evaluate: references and hypotheses are empty")
    empty = [i for i in ref_ids if len(references[i]) == 0]
    if empty:
        raise ValueError(f"images without any reference caption: {_show_ids(empty)}")
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


def _prepare(
    references: References, hypotheses: Hypotheses, strip_special: bool
) -> tuple[list[str], list[list[list[str]]], list[list[str]]]:
    ids = _check_ids(references, hypotheses)
    clean = strip_special_tokens if strip_special else list
    refs = [[clean(r) for r in references[i]] for i in ids]
    hyps = [clean(hypotheses[i]) for i in ids]
    return ids, refs, hyps


# --------------------------------------------------------------------------------------------
# BLEU
# --------------------------------------------------------------------------------------------


def _corpus_bleu(
    refs: list[list[list[str]]],
    hyps: list[list[str]],
    weights: Mapping[str, tuple[float, ...]],
    smoothing_function: Any = None,
) -> dict[str, float]:
    names = list(weights)
    with warnings.catch_warnings():
        # nltk warns once per zero n-gram order without smoothing; the zero is documented.
        warnings.filterwarnings("ignore", message=r"\s*The hypothesis contains 0 counts")
        values = corpus_bleu(
            refs,
            hyps,
            weights=[tuple(weights[n]) for n in names],
            smoothing_function=smoothing_function,
        )
    if not isinstance(values, list):  # nltk returns a bare number when every unigram misses
        values = [values] * len(names)
    return {
        n: (0.0 if float(v) < _ZERO_BLEU else float(v)) for n, v in zip(names, values, strict=True)
    }


def bleu_scores(
    references: References,
    hypotheses: Hypotheses,
    *,
    strip_special: bool = True,
    weights: Literal["standard"] | Mapping[str, tuple[float, ...]] = "standard",
    smoothing_function: Any = None,
) -> dict[str, float]:
    """Corpus BLEU-1..4 of ``hypotheses`` against ``references`` with nltk's ``corpus_bleu``.

    ``references``: ``{id: [[word, ...] x k]}``; ``hypotheses``: ``{id: [word, ...]}``, with the
    same ids. Corpus BLEU pools clipped n-gram counts and lengths over all images before
    dividing (it is not the mean of per-image scores). BLEU-n uses uniform weights ``1/n`` over
    1..n-grams (:data:`BLEU_WEIGHTS`); ``weights`` may instead map names to weight tuples.

    ``strip_special`` removes ``<start>``/``<end>``/``startseq``/``endseq`` from both sides
    (leaving them in is a tutorial mistake, see :func:`tutorial_mistake_bleu`).

    No smoothing by default (as in the papers' tables): if any n-gram order used by a score has
    no match anywhere in the corpus, that score is 0.0. Pass an nltk ``SmoothingFunction()``
    method as ``smoothing_function`` to change this.

    Returns ``{"bleu1": .., "bleu2": .., "bleu3": .., "bleu4": ..}`` (or the keys of ``weights``).
    """
    table = BLEU_WEIGHTS if weights == "standard" else weights
    if isinstance(table, str):
        raise ValueError(f"weights must be 'standard' or a mapping of weight tuples, not {table!r}")
    _, refs, hyps = _prepare(references, hypotheses, strip_special)
    return _corpus_bleu(refs, hyps, table, smoothing_function)


def tutorial_mistake_bleu(
    references: References,
    hypotheses: Hypotheses,
    mistake: Literal["special_tokens", "bleu3_weights"],
) -> dict[str, Any]:
    """BLEU-1..4 computed with one of two mistakes copied from a popular tutorial, for the book.

    * ``"special_tokens"``: every reference and hypothesis is scored as
      ``startseq ... endseq`` (markers added when absent). Two free unigram and bigram matches
      per caption inflate every BLEU-n, most for short captions.
    * ``"bleu3_weights"``: markers are stripped correctly, but BLEU-3 uses the weights
      ``(0.3, 0.3, 0.3, 0)``, which sum to 0.9; since precisions are below one, the
      under-weighted geometric mean comes out too high.

    Returns the same keys as :func:`bleu_scores` plus ``"mistake"``.
    """
    if mistake == "special_tokens":
        ids = _check_ids(references, hypotheses)

        def wrap(tokens: Sequence[str]) -> list[str]:
            return ["startseq", *strip_special_tokens(tokens), "endseq"]

        refs = {i: [wrap(r) for r in references[i]] for i in ids}
        hyps = {i: wrap(hypotheses[i]) for i in ids}
        scores: dict[str, Any] = bleu_scores(refs, hyps, strip_special=False)
    elif mistake == "bleu3_weights":
        scores = bleu_scores(references, hypotheses, weights=TUTORIAL_BLEU_WEIGHTS)
    else:
        raise ValueError(f"unknown mistake {mistake!r}; use 'special_tokens' or 'bleu3_weights'")
    scores["mistake"] = mistake
    return scores


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


def _tfidf(
    counts: NgramCounts, df: Mapping[tuple[str, ...], float], log_n_images: float, n: int
) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
    """tf-idf vectors per n-gram order, their norms, and the length used by the penalty."""
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
    norm = [0.0] * n
    length = 0
    for ngram, tf in counts.items():
        order = len(ngram) - 1
        value = float(tf) * (log_n_images - math.log(max(1.0, df.get(ngram, 0.0))))
        vec[order][ngram] = value
        norm[order] += value * value
        if order == 1:  # pycocoevalcap counts *bigrams* as the length (len - 1 words)
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def cider_d_per_image(
    references: References,
    hypotheses: Hypotheses,
    *,
    n: int = 4,
    sigma: float = 6.0,
    strip_special: bool = True,
) -> dict[str, float]:
    """CIDEr-D of each image's hypothesis: ``{image_id: score}`` (see :func:`cider_d`)."""
    ids, refs, hyps = _prepare(references, hypotheses, strip_special)
    ref_counts = [[_ngram_counts(r, n) for r in rs] for rs in refs]
    # Document frequency: in how many images' reference sets each n-gram occurs.
    df: Counter = Counter()
    for counts in ref_counts:
        df.update({g for c in counts for g in c})
    log_n_images = math.log(float(len(ids)))
    scores: dict[str, float] = {}
    for image_id, hyp, counts in zip(ids, hyps, ref_counts, strict=True):
        vec_h, norm_h, len_h = _tfidf(_ngram_counts(hyp, n), df, log_n_images, n)
        total = [0.0] * n
        for ref in counts:
            vec_r, norm_r, len_r = _tfidf(ref, df, log_n_images, n)
            penalty = math.exp(-((len_h - len_r) ** 2) / (2 * sigma**2))
            for k in range(n):
                # Clipped numerator: min(hyp, ref) * ref, over the hypothesis' n-grams.
                ref_k = vec_r[k]
                val = sum(
                    min(v, ref_k.get(g, 0.0)) * ref_k.get(g, 0.0) for g, v in vec_h[k].items()
                )
                if norm_h[k] != 0 and norm_r[k] != 0:
                    val /= norm_h[k] * norm_r[k]
                total[k] += val * penalty
        scores[image_id] = 10.0 * (sum(total) / n) / len(counts)
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


def human_baseline(
    references: References,
    *,
    metric: Literal["bleu", "cider_d", "all"] = "bleu",
) -> dict[str, Any]:
    """How well people agree with each other, scored like a model: leave one reference out.

    For k = 0..m-1 (m = references per image, usually 5), each image's k-th reference plays
    the hypothesis and the other m-1 are its references; the corpus scores of the m rounds
    are averaged. Images with more than m references (m = the smallest count) use their
    first m.

    Caution: the human is scored against m-1 = 4 references while a model is scored against
    all 5, so the numbers are not directly comparable (``n_references`` in the result says 4).
    BLEU can only gain matches from a fifth reference, so the BLEU baseline is biased *low*;
    CIDEr-D averages over references (and its idf changes too), so it shifts either way.

    ``metric``: ``"bleu"`` (BLEU-1..4), ``"cider_d"``, or ``"all"``. Returns
    ``{"bleu1".."bleu4" and/or "cider_d", "n_images", "n_references", "per_holdout": [..]}``.
    """
    if metric not in ("bleu", "cider_d", "all"):
        raise ValueError(f"metric must be 'bleu', 'cider_d' or 'all', not {metric!r}")
    ids = _check_ids(references, {i: [] for i in references})
    m = min(len(references[i]) for i in ids)
    if m < 2:
        few = [i for i in ids if len(references[i]) < 2]
        raise ValueError(f"the human baseline needs >= 2 references per image; {_show_ids(few)}")
    rounds: list[dict[str, float]] = []
    for k in range(m):
        refs = {i: [r for j, r in enumerate(references[i][:m]) if j != k] for i in ids}
        hyps = {i: references[i][k] for i in ids}
        scores: dict[str, float] = {}
        if metric in ("bleu", "all"):
            scores.update(bleu_scores(refs, hyps))
        if metric in ("cider_d", "all"):
            scores["cider_d"] = cider_d(refs, hyps)
        rounds.append(scores)
    result: dict[str, Any] = {key: math.fsum(r[key] for r in rounds) / m for key in rounds[0]}
    result.update(n_images=len(ids), n_references=m - 1, per_holdout=rounds)
    return result


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
        "n_images": len(_check_ids(references, hypotheses)),
    }
    report.update(bleu_scores(references, hypotheses))
    report["cider_d"] = cider_d(references, hypotheses)
    if scenes is not None:
        summary = scene_accuracy(hypotheses, scenes)
        summary.pop("details")
        report["scene_accuracy"] = summary
    return report


# --------------------------------------------------------------------------------------------
# Scene accuracy (synthetic set only)
# --------------------------------------------------------------------------------------------

#: The per-caption checks, in the order they are reported.
SCENE_CHECKS: tuple[str, ...] = (
    "shapes_correct",
    "colours_correct",
    "sizes_correct",
    "relation_correct",
    "all_correct",
)

_CHECK_DESCRIPTIONS = {
    "shapes_correct": "every object named, nothing extra",
    "colours_correct": "every colour said is right",
    "sizes_correct": "every size word said is right",
    "relation_correct": "the relation said holds (2+ objects, a relation said)",
    "all_correct": "all of the above",
}


def _scene_words() -> dict[str, Any]:
    """The synthetic vocabulary, from the generator module (one source of truth)."""
    from course_lib.data.synthetic import (
        COLOURS,
        INVERSE_RELATION,
        RELATION_PHRASES,
        SHAPES,
        SIZE_WORDS,
    )

    phrases = sorted(
        ((tuple(p), rel) for rel, ps in RELATION_PHRASES.items() for p in ps),
        key=lambda item: -len(item[0]),  # longest first: "to the left of" before "left of"
    )
    return {
        "shapes": frozenset(SHAPES),
        "colours": frozenset(COLOURS),
        "size_of_word": {w: size for size, words in SIZE_WORDS.items() for w in words},
        "phrases": phrases,
        "inverse": dict(INVERSE_RELATION),
    }


def parse_scene_caption(tokens: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Find object mentions and relation phrases in a synthetic-scene caption.

    A mention is ``[size word] [colour] shape`` (both modifiers optional, in that order,
    directly before the shape). A relation is a phrase from ``RELATION_PHRASES`` (longest
    match first) linking the nearest mention before it to the nearest mention after it.

    Returns ``{"mentions": [{"shape", "colour", "size", "start", "end"}],
    "relations": [{"subject": mention index | None, "relation", "object": index | None}]}``;
    missing modifiers are ``None``; token positions are after removing start/end markers.
    """
    words = _scene_words()
    toks = [t.lower() for t in strip_special_tokens(tokens)]
    mentions: list[dict[str, Any]] = []
    for i, tok in enumerate(toks):
        if tok not in words["shapes"]:
            continue
        start, colour, size = i, None, None
        if start > 0 and toks[start - 1] in words["colours"]:
            start -= 1
            colour = toks[start]
        if start > 0 and toks[start - 1] in words["size_of_word"]:
            start -= 1
            size = words["size_of_word"][toks[start]]
        mentions.append(
            {"shape": tok, "colour": colour, "size": size, "start": start, "end": i + 1}
        )
    relations: list[dict[str, Any]] = []
    i = 0
    while i < len(toks):
        for phrase, rel in words["phrases"]:
            if tuple(toks[i : i + len(phrase)]) == phrase:
                end = i + len(phrase)
                before = [k for k, m in enumerate(mentions) if m["end"] <= i]
                after = [k for k, m in enumerate(mentions) if m["start"] >= end]
                relations.append(
                    {
                        "subject": before[-1] if before else None,
                        "relation": rel,
                        "object": after[0] if after else None,
                    }
                )
                i = end
                break
        else:
            i += 1
    return {"mentions": mentions, "relations": relations}


def _named_objects(mentions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """Merge mentions of one object. Returns the objects and each mention's object index.

    Mentions with a colour and the same (shape, colour) are one object (objects in a scene
    have distinct (shape, colour) pairs); a mention without a colour is its own object.
    """
    objects: list[dict[str, Any]] = []
    key_to_object: dict[tuple[str, str], int] = {}
    mention_to_object: list[int] = []
    for m in mentions:
        key = (m["shape"], m["colour"])
        if m["colour"] is not None and key in key_to_object:
            index = key_to_object[key]
        else:
            index = len(objects)
            objects.append({"shape": m["shape"], "colour": m["colour"], "sizes": []})
            if m["colour"] is not None:
                key_to_object[key] = index
        if m["size"] is not None:
            objects[index]["sizes"].append(m["size"])
        mention_to_object.append(index)
    return objects, mention_to_object


def _match(
    named: list[dict[str, Any]], scene_objects: Sequence[Mapping[str, Any]]
) -> list[int | None]:
    """Assign named objects to scene objects of the same shape, one to one.

    Maximises the number matched, then the colours and sizes that agree (DP over subsets of
    scene objects; ties go to the lowest indices, so the result is deterministic).
    """
    n_scene = len(scene_objects)

    def agree(obj: Mapping[str, Any], s: Mapping[str, Any]) -> int:
        return int(obj["colour"] == s.get("colour")) + sum(z == s.get("size") for z in obj["sizes"])

    memo: dict[tuple[int, int], tuple[tuple[int, int], list[int | None]]] = {}

    def best(i: int, used: int) -> tuple[tuple[int, int], list[int | None]]:
        if i == len(named):
            return (0, 0), []
        if (i, used) in memo:
            return memo[(i, used)]
        (m, a), rest = best(i + 1, used)
        choice: tuple[tuple[int, int], list[int | None]] = ((m, a), [None, *rest])
        for j in range(n_scene):
            if used >> j & 1 or scene_objects[j].get("shape") != named[i]["shape"]:
                continue
            (m2, a2), rest2 = best(i + 1, used | 1 << j)
            score = (m2 + 1, a2 + agree(named[i], scene_objects[j]))
            if score > choice[0]:
                choice = (score, [j, *rest2])
        memo[(i, used)] = choice
        return choice

    return best(0, 0)[1]


def _describe(obj: Mapping[str, Any]) -> str:
    return " ".join(str(w) for w in (obj.get("colour"), obj.get("shape")) if w)


def _score_scene_caption(
    tokens: Sequence[str],
    scene: Mapping[str, Any],
    inverse: Mapping[str, str],
    require_relation: bool,
) -> dict[str, Any]:
    parsed = parse_scene_caption(tokens)
    scene_objects = list(scene.get("objects", []))
    named, mention_to_object = _named_objects(parsed["mentions"])
    match = _match(named, scene_objects)
    matched = [
        (obj, scene_objects[j]) for obj, j in zip(named, match, strict=True) if j is not None
    ]
    hallucinations = [_describe(obj) for obj, j in zip(named, match, strict=True) if j is None]
    missing = [_describe(s) for j, s in enumerate(scene_objects) if j not in match]

    truth = {(r["subject"], r["relation"], r["object"]) for r in scene.get("relations", [])}
    truth |= {(o, inverse[rel], s) for s, rel, o in truth}
    holds = []
    for rel in parsed["relations"]:
        ends = [rel["subject"], rel["object"]]
        scene_ends = [None if k is None else match[mention_to_object[k]] for k in ends]
        holds.append(
            None not in scene_ends and (scene_ends[0], rel["relation"], scene_ends[1]) in truth
        )
    relation_correct: bool | None = None
    if len(scene_objects) >= 2 and (holds or require_relation):
        relation_correct = bool(holds) and all(holds)

    flags = {
        "shapes_correct": not hallucinations and not missing,
        "colours_correct": all(o["colour"] in (None, s.get("colour")) for o, s in matched),
        "sizes_correct": all(z == s.get("size") for o, s in matched for z in o["sizes"]),
        "relation_correct": relation_correct,
    }
    flags["all_correct"] = all(v is not False for v in flags.values())
    return {
        "caption": " ".join(strip_special_tokens(tokens)),
        **flags,
        "hallucinations": hallucinations,
        "missing": missing,
        "n_objects": len(scene_objects),
        "relation_said": bool(holds),
        "named": [_describe(o) for o in named],
        "relations_said": [
            {
                "subject": None
                if r["subject"] is None
                else _describe(parsed["mentions"][r["subject"]]),
                "relation": r["relation"],
                "object": None
                if r["object"] is None
                else _describe(parsed["mentions"][r["object"]]),
            }
            for r in parsed["relations"]
        ],
    }


def scene_accuracy(
    hypotheses: Hypotheses,
    scenes: Mapping[str, Mapping[str, Any]],
    *,
    require_relation: bool = False,
) -> dict[str, Any]:
    """Check synthetic-scene captions against the ground-truth scenes they describe.

    Each caption is parsed with :func:`parse_scene_caption`; its objects are matched one to
    one to scene objects of the same shape. Per caption:

    * ``shapes_correct``: every scene object is named and nothing else is (no object missing,
      no hallucination);
    * ``colours_correct``: every colour said for a matched object is its colour (an object
      named without a colour is not wrong, just less detailed);
    * ``sizes_correct``: likewise for size words ("small"/"little", "large"/"big");
    * ``relation_correct``: every relation said holds in the scene's ``relations``, read in
      either direction ("a left of b" == "b right of a"); a phrase with an object missing on
      one side, or naming an object not in the scene, does not hold. ``None`` (not judged)
      for 1-object scenes, and for captions that state no relation ("a red circle and a blue
      square", which the synthetic references themselves use) unless ``require_relation``,
      which counts saying no relation as wrong;
    * ``all_correct``: all of the judged flags;
    * ``hallucinations`` / ``missing``: objects named but not in the scene, and the reverse.

    ``hypotheses``: ``{id: tokens}``; ``scenes``: ``{id: scene dict}`` (``scenes.json``) with
    every hypothesis id. Returns the mean of each flag over the images where it is judged
    (``None`` when there are none), ``hallucination_rate`` (share of captions with at least
    one), ``relation_said_rate`` (share of multi-object scenes whose caption states a
    relation), ``n_images``, ``n_relation_images`` (where ``relation_correct`` is judged) and
    ``details: {id: per-caption dict}``.
    """
    missing_scenes = set(hypotheses) - set(scenes)
    if missing_scenes:
        raise ValueError(f"no ground-truth scene for hypotheses {_show_ids(missing_scenes)}")
    if not hypotheses:
        raise ValueError("no hypotheses to check")
    inverse = _scene_words()["inverse"]
    details = {
        i: _score_scene_caption(hypotheses[i], scenes[i], inverse, require_relation)
        for i in sorted(hypotheses)
    }

    def mean(key: str) -> float | None:
        values = [d[key] for d in details.values() if d[key] is not None]
        return sum(values) / len(values) if values else None

    result: dict[str, Any] = {key: mean(key) for key in SCENE_CHECKS}
    result["hallucination_rate"] = sum(bool(d["hallucinations"]) for d in details.values()) / len(
        details
    )
    multi = [d for d in details.values() if d["n_objects"] >= 2]
    result["relation_said_rate"] = (
        sum(d["relation_said"] for d in multi) / len(multi) if multi else None
    )
    result["n_images"] = len(details)
    result["n_relation_images"] = sum(d["relation_correct"] is not None for d in details.values())
    result["details"] = details
    return result


def scene_report_table(
    result: Mapping[str, Any], *, per_image: bool = False
) -> list[dict[str, Any]]:
    """Rows for a table in the book from a :func:`scene_accuracy` result.

    Default: one row per check, ``{"check", "meaning", "value", "images"}`` (plus a
    hallucination row). ``per_image=True``: one row per image with its caption and flags.
    """
    if per_image:
        return [
            {
                "image_id": image_id,
                "caption": d["caption"],
                **{key: d[key] for key in SCENE_CHECKS},
                "hallucinations": ", ".join(d["hallucinations"]),
                "missing": ", ".join(d["missing"]),
            }
            for image_id, d in result["details"].items()
        ]
    rows = []
    for key in SCENE_CHECKS:
        images = result["n_relation_images"] if key == "relation_correct" else result["n_images"]
        rows.append(
            {
                "check": key,
                "meaning": _CHECK_DESCRIPTIONS[key],
                "value": result[key],
                "images": images,
            }
        )
    rows.append(
        {
            "check": "hallucination_rate",
            "meaning": "captions naming an object not in the scene",
            "value": result["hallucination_rate"],
            "images": result["n_images"],
        }
    )
    return rows


# --------------------------------------------------------------------------------------------
# Attention correctness (synthetic set only)
# --------------------------------------------------------------------------------------------


def box_coverage(obj: Mapping[str, Any], scene: Mapping[str, Any], grid: tuple[int, int]):
    """How much of each grid cell an object's box covers: (H·W,) floats in [0, 1].

    The image (``scene["width"]`` × ``scene["height"]`` pixels) is cut into ``grid`` = (H, W)
    equal cells, row by row, as a backbone's last convolutional map cuts it; the object's box
    is its centre ± its half-extent ``r``. Cell (i, j)'s value is the share of its area inside
    the box, so ``coverage.sum() / (H·W)`` is the box's share of the image (the chance level
    of attention correctness).
    """
    rows, cols = grid
    width, height = float(scene.get("width", 1)), float(scene.get("height", 1))
    x, y, r = float(obj["x"]), float(obj["y"]), float(obj["r"])

    def overlap(lo: float, hi: float, size: float, n: int) -> np.ndarray:
        edges = np.linspace(0.0, size, n + 1)
        inside = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
        return inside / (size / n)  # share of each cell's extent

    return np.outer(overlap(y - r, y + r, height, rows), overlap(x - r, x + r, width, cols)).ravel()


def _box(obj: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """An object's box ``(x0, y0, x1, y1)`` in image pixels: its centre ± its half-extent."""
    x, y, r = float(obj["x"]), float(obj["y"]), float(obj["r"])
    return (x - r, y - r, x + r, y + r)


def attention_correctness(
    hypotheses: Hypotheses,
    attention: Mapping[str, np.ndarray],
    scenes: Mapping[str, Mapping[str, Any]],
    grid: tuple[int, int],
) -> dict[str, Any]:
    """Where the model looked when it named an object, against where the object is.

    After Liu et al. 2017 ("Attention Correctness in Neural Image Captioning"): for every
    generated word that names an object of the scene (its shape word, and a colour or size
    word attached to it, found and matched to the scene's objects as :func:`scene_accuracy`
    does), the share of that step's attention that falls on the object's box
    (:func:`box_coverage`; attention spread evenly within each cell). Words naming an object
    that is not in the scene are not counted.

    ``hypotheses``: ``{id: tokens}``; ``attention``: ``{id: (n_steps, H·W)}``, row ``t`` the
    weights when token ``t`` was chosen (a decoder's ``Decoded.attention``); ``scenes``:
    ground truth; ``grid``: (H, W) of the attended map.

    Returns ``{"correctness", "chance", "ratio", "n_words", "n_images", "by_kind", "details"}``:
    the mean share on the box, the mean share the box has of the image (what uniform attention
    would give), their ratio, counts, the means per kind of word (``"shape"``, ``"colour"``,
    ``"size"``) and one dict per word (its image, position, word, kind, object, the object's box
    ``(x0, y0, x1, y1)`` in image pixels, its mass on the box and the box's chance). When no word
    names an object of its scene (an untrained model), the means and the ratio are None.
    """
    missing = set(hypotheses) - set(scenes) | set(hypotheses) - set(attention)
    if missing:
        raise ValueError(f"no scene or no attention for hypotheses {_show_ids(missing)}")
    cells = grid[0] * grid[1]
    details: list[dict[str, Any]] = []
    for image_id in sorted(hypotheses):
        tokens = [t.lower() for t in strip_special_tokens(hypotheses[image_id])]
        weights = np.asarray(attention[image_id], dtype=float)
        if weights.ndim != 2 or weights.shape[1] != cells:
            raise ValueError(
                f"attention of {image_id!r} has shape {weights.shape}; expected (steps, {cells})"
            )
        scene = scenes[image_id]
        objects = list(scene.get("objects", []))
        mentions = parse_scene_caption(tokens)["mentions"]
        named, mention_to_object = _named_objects(mentions)
        match = _match(named, objects)
        for mention, k in zip(mentions, mention_to_object, strict=True):
            if match[k] is None:
                continue
            obj = objects[match[k]]
            cover = box_coverage(obj, scene, grid)
            for position in range(mention["start"], min(mention["end"], len(weights))):
                word = tokens[position]
                kind = "shape" if position == mention["end"] - 1 else (
                    "colour" if word == mention["colour"] else "size"
                )  # fmt: skip
                details.append(
                    {
                        "image_id": image_id,
                        "position": position,
                        "word": word,
                        "kind": kind,
                        "object": _describe(obj),
                        "box": _box(obj),
                        "mass": float(weights[position] @ cover),
                        "chance": float(cover.sum() / cells),
                    }
                )

    def mean(key: str, rows: list[dict[str, Any]]) -> float | None:
        return math.fsum(d[key] for d in rows) / len(rows) if rows else None

    by_kind = {}
    for kind in ("shape", "colour", "size"):
        rows = [d for d in details if d["kind"] == kind]
        if rows:
            by_kind[kind] = {"correctness": mean("mass", rows), "chance": mean("chance", rows),
                             "n_words": len(rows)}  # fmt: skip
    correctness, chance = mean("mass", details), mean("chance", details)
    return {
        "correctness": correctness,
        "chance": chance,
        "ratio": None if correctness is None else correctness / chance,
        "n_words": len(details),
        "n_images": len({d["image_id"] for d in details}),
        "by_kind": by_kind,
        "details": details,
    }
