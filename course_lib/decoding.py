"""Turning next-word probabilities into captions: greedy, beam search, sampling.

Every decoder runs many images at once and carries the model's state with its step model
(:func:`as_step_model`), so each new word costs one step, and returns a :class:`Decoded`.
``max_tokens`` counts the predicted tokens, ``<end>`` included (a caption of ``n`` words needs
``n + 1``); captions come back as word lists without ``<start>``/``<end>``. ``<pad>`` and
``<start>`` are never chosen as a next word. Beam search is one rule, :func:`beam_step`, which
:func:`beam_search_decode` applies to whole batches and :func:`beam_trace` to one image, keeping
every candidate it scores for chapter 7's figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from course_lib.attention import AttentionStepModel, build_attention_step_model
from course_lib.models import StepModel, build_step_model, model_kind
from course_lib.text import pad_sequences_right

__all__ = [
    "BeamStep",
    "Beams",
    "Decoded",
    "as_step_model",
    "beam_search_decode",
    "beam_step",
    "beam_trace",
    "decode_batch",
    "greedy_after",
    "greedy_decode",
    "safe_log",
    "sample_decode",
    "sequence_log_probs",
    "without_pad_and_start",
]

#: The smallest probability a log is taken of (log 0 would be -inf).
_TINY = 1e-12


@dataclass(frozen=True)
class Decoded:
    """The captions a decoder wrote for N images.

    ``captions[i]``: image i's caption (words, without ``<start>`` and ``<end>``);
    ``scores[i]``: its log-probability under the model, ``<end>`` included (not length
    normalised); ``attention[i]``: for the attention captioner, the weights it gave its L
    regions when it chose each word, then ``<end>``, shape (len(captions[i]) + 1, L); None for
    the models without attention.
    """

    captions: list[list[str]]
    scores: list[float]
    attention: list[np.ndarray] | None = None

    @staticmethod
    def join(parts: list[Decoded]) -> Decoded:
        """The decoded batches ``parts`` as one result, in order."""
        attention = None
        if parts and parts[0].attention is not None:
            attention = [w for part in parts for w in part.attention or []]
        return Decoded(
            [c for part in parts for c in part.captions],
            [s for part in parts for s in part.scores],
            attention,
        )


def without_pad_and_start(probs: np.ndarray, vocab: Any) -> np.ndarray:
    """``probs`` with ``<pad>`` and ``<start>`` made impossible (they are never a next word)."""
    probs = probs.copy()
    probs[..., [vocab.pad_id, vocab.start_id]] = 0.0
    return probs


def safe_log(probs: np.ndarray) -> np.ndarray:
    """log ``probs``, with probabilities below 1e-12 taken as 1e-12 (log 0 is -inf)."""
    return np.log(np.maximum(probs, _TINY))


def as_step_model(model: keras.Model | StepModel | AttentionStepModel) -> Any:
    """A caption model's step model (:class:`~course_lib.models.StepModel` for merge and
    inject, :class:`~course_lib.attention.AttentionStepModel` for attention); anything with
    ``init``/``step``/``select`` is used as it is."""
    if all(hasattr(model, name) for name in ("init", "step", "select")):
        return model
    if model_kind(model) == "attention":
        return build_attention_step_model(model)
    return build_step_model(model)


def _features(features: np.ndarray) -> np.ndarray:
    """Image features as float32: vectors (N, D) or grids of region vectors (N, L, C)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim not in (2, 3):
        raise ValueError(
            f"features must have shape (N, D) or (N, L, C), got {features.shape}"
        )
    return features


def _in_batches(
    model: Any,
    features: np.ndarray,
    batch_size: int,
    decode: Callable[[Any, np.ndarray], Decoded],
) -> Decoded:
    """``decode(step_model, batch)`` on ``batch_size`` images at a time, joined."""
    step_model = as_step_model(model)
    features = _features(features)
    starts = range(0, len(features), batch_size)
    return Decoded.join(
        [decode(step_model, features[i : i + batch_size]) for i in starts]
    )


def _decoded(
    vocab: Any, tokens: np.ndarray, scores: np.ndarray, alphas: list[Any]
) -> Decoded:
    """A batch's result from its token ids (B, steps), log-probabilities (B,) and attention
    weights at each step (steps × (B, L); Nones for a model without attention); a caption's
    weights are those of its words and ``<end>``."""
    captions = [vocab.decode(row) for row in tokens]
    attention = None
    if alphas and alphas[0] is not None:
        stacked = np.stack(alphas, axis=1)  # (B, steps, L)
        attention = [
            w[: len(c) + 1] for w, c in zip(stacked, captions, strict=True)
        ]
    return Decoded(captions, [float(s) for s in scores], attention)


# ----------------------------------------------------------------------------- greedy, sampling
def decode_batch(
    step_model: Any,
    batch: np.ndarray,
    vocab: Any,
    max_tokens: int,
    choose: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Caption ``batch`` a word at a time, ``choose(probs (B, V))`` picking
    the words (B,) → token ids (B, max_tokens), log-probabilities (B,)."""
    n, state = len(batch), step_model.init(batch)
    words = np.full(n, vocab.start_id, dtype=np.int32)
    finished, log_prob = np.zeros(n, dtype=bool), np.zeros(n)
    out = np.zeros((n, max_tokens), dtype=np.int32)
    for t in range(max_tokens):
        probs, state = step_model.step(words, state)
        probs = without_pad_and_start(probs, vocab)
        chosen = choose(probs)
        p_chosen = probs[np.arange(n), chosen]
        log_prob += np.where(finished, 0.0, safe_log(p_chosen))
        words = np.where(finished, vocab.end_id, chosen).astype(np.int32)
        out[:, t] = words
        finished |= words == vocab.end_id
        if finished.all():
            break
    return out, log_prob


class _AttentionRecorder:
    """A step model that keeps the attention weights of each step
    (``state["alpha"]``, None for the models without attention)."""

    def __init__(self, step_model: Any):
        self.step_model = step_model
        self.alphas: list[np.ndarray | None] = []
        self.init = step_model.init

    def step(self, words: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        probs, state = self.step_model.step(words, state)
        self.alphas.append(state.get("alpha"))
        return probs, state


def _choose_and_decode(
    step_model: Any,
    batch: np.ndarray,
    vocab: Any,
    max_tokens: int,
    choose: Callable[[np.ndarray], np.ndarray],
) -> Decoded:
    """:func:`decode_batch` as a :class:`Decoded`, attention weights included."""
    recorder = _AttentionRecorder(step_model)
    tokens, log_prob = decode_batch(recorder, batch, vocab, max_tokens, choose)
    return _decoded(vocab, tokens, log_prob, recorder.alphas)


def greedy_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    *,
    max_tokens: int,
    batch_size: int = 256,
) -> Decoded:
    """The most probable next word, each step, for every image: features
    (N, D), or region grids (N, L, C) for the attention captioner → N
    captions (:class:`Decoded`)."""

    def decode(step_model: Any, batch: np.ndarray) -> Decoded:
        def choose(probs: np.ndarray) -> np.ndarray:
            return probs.argmax(axis=-1)

        return _choose_and_decode(step_model, batch, vocab, max_tokens, choose)

    return _in_batches(model, features, batch_size, decode)


def greedy_after(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    prefix: list[str],
    *,
    max_tokens: int,
) -> Decoded:
    """Greedy captions that start with the words ``prefix``, fed to the
    model as if it had chosen them: features (N, D) → N captions, each
    ``prefix`` and what the model writes after it."""
    unknown = [word for word in prefix if word not in vocab]
    if unknown:
        raise ValueError(f"prefix words not in the vocabulary: {unknown}")
    forced = vocab.encode(prefix, add_start_end=False)

    def decode(step_model: Any, batch: np.ndarray) -> Decoded:
        queue = iter(forced)

        def choose(probs: np.ndarray) -> np.ndarray:
            word = next(queue, None)
            if word is None:
                return probs.argmax(axis=-1)
            return np.full(len(probs), word)

        return _choose_and_decode(step_model, batch, vocab, max_tokens, choose)

    return _in_batches(model, features, len(features) or 1, decode)


def sample_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    *,
    max_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
) -> Decoded:
    """Sample each next word from ``p ** (1 / temperature)`` (renormalised), reproducibly.

    ``temperature`` 1 samples the model's distribution, below 1 sharpens it (0 is greedy),
    above 1 flattens it. The scores are the captions' log-probabilities under the model.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return greedy_decode(
            model,
            features,
            vocab,
            max_tokens=max_tokens,
            batch_size=batch_size,
        )
    rng = np.random.default_rng(seed)

    def choose(probs: np.ndarray) -> np.ndarray:
        # Gumbel-max trick: argmax(log p / T + Gumbel noise) is a sample of p ** (1/T).
        with np.errstate(divide="ignore"):
            logits = np.log(probs) / temperature  # log 0 = -inf: never chosen
        return (logits + rng.gumbel(size=logits.shape)).argmax(axis=-1)

    def decode(step_model: Any, batch: np.ndarray) -> Decoded:
        return _choose_and_decode(step_model, batch, vocab, max_tokens, choose)

    return _in_batches(model, features, batch_size, decode)


# ----------------------------------------------------------------------------- beam search
@dataclass(frozen=True)
class Beams:
    """The ``k`` partial captions kept for each of ``n`` images, as (n, k)
    arrays: their log-probability (-inf: an empty place), their length in
    tokens (``<end>`` included) and whether they have ended."""

    log_prob: np.ndarray
    length: np.ndarray
    finished: np.ndarray

    @classmethod
    def start(cls, n: int, k: int) -> Beams:
        """Before the first word: one live beam per image (the others empty),
        so that the first step does not pick the same word ``k`` times."""
        log_prob = np.full((n, k), -np.inf)
        log_prob[:, 0] = 0.0
        length = np.zeros((n, k), dtype=np.int64)
        return cls(log_prob, length, np.zeros((n, k), dtype=bool))


@dataclass(frozen=True)
class BeamStep:
    """One step of beam search: the beams ``kept``; for each, the beam it
    extends (``parent``, (n, k)), the word it adds (``word``) and whether it
    is an ended beam carried on as it is (``carried``); and every candidate's
    ``log_prob`` and ``score`` (n, k, V)."""

    kept: Beams
    parent: np.ndarray
    word: np.ndarray
    carried: np.ndarray
    log_prob: np.ndarray
    score: np.ndarray


def beam_step(
    beams: Beams,
    word_lp: np.ndarray,
    vocab: Any,
    *,
    norm: float = 0.0,
) -> BeamStep:
    """Extend each beam by every word (``word_lp``: the words' log-probs,
    (n, k, V)) and keep each image's ``k`` best candidates: the highest
    log-probability / length ** ``norm``, ties to the earlier beam and word."""
    n, k, vocab_size = word_lp.shape
    step_lp = np.where(beams.finished[:, :, None], -np.inf, word_lp)
    step_lp[beams.finished, vocab.pad_id] = 0.0  # an ended beam: itself, free
    log_prob = beams.log_prob[:, :, None] + step_lp  # (n, k, V)
    length = np.where(beams.finished, beams.length, beams.length + 1)
    score = log_prob / np.maximum(length, 1)[:, :, None] ** norm
    best = np.argsort(-score.reshape(n, -1), axis=1, kind="stable")[:, :k]
    parent, word = best // vocab_size, best % vocab_size
    rows = np.arange(n)[:, None]
    carried = beams.finished[rows, parent]
    finished = carried | (word == vocab.end_id)
    word = np.where(carried, vocab.pad_id, word)
    lp = log_prob.reshape(n, -1)[rows, best]
    kept = Beams(lp, length[rows, parent], finished)
    return BeamStep(kept, parent, word, carried, log_prob, score)


def _beam_search(
    step_model: Any,
    batch: np.ndarray,
    vocab: Any,
    max_tokens: int,
    k: int,
    norm: float,
) -> Decoded:
    """Beam search for one batch of n images: images × beams are one batch
    of the step model, reordered after every step to follow the kept beams."""
    n, start = len(batch), step_model.init(batch)
    state = step_model.select(start, np.repeat(np.arange(n), k))
    words, beams = np.full(n * k, vocab.start_id), Beams.start(n, k)
    trails = _Trails.start(n, k, state)
    for _ in range(max_tokens):
        probs, state = step_model.step(words, state)
        word_lp = safe_log(without_pad_and_start(probs, vocab)).reshape(
            n, k, -1
        )
        step = beam_step(beams, word_lp, vocab, norm=norm)
        beams, trails = step.kept, trails.grow(step, state)
        rows = (np.arange(n)[:, None] * k + step.parent).ravel()
        state = step_model.select(state, rows)
        words = np.where(step.carried, vocab.end_id, step.word).ravel()
        if beams.finished[np.isfinite(beams.log_prob)].all():
            break
    return trails.answers(vocab, beams, norm)


def _grow(
    history: np.ndarray, parent: np.ndarray, new: np.ndarray
) -> np.ndarray:
    """Per-beam history (n, k, t, …) reordered to follow the kept beams (``parent``), with
    their ``new`` entries (n, k, …) appended: (n, k, t + 1, …)."""
    rows = np.arange(len(new))[:, None]
    return np.concatenate([history[rows, parent], new[:, :, None]], axis=2)


@dataclass(frozen=True)
class _Trails:
    """What each of n × k beams has written, (n, k, steps), and for the attention captioner
    where it looked when it wrote it, (n, k, steps, L)."""

    tokens: np.ndarray
    alphas: np.ndarray | None

    @classmethod
    def start(cls, n: int, k: int, state: dict[str, np.ndarray]) -> _Trails:
        """Nothing written yet (an attention captioner's state holds its weights, ``alpha``)."""
        alphas = None
        if "alpha" in state:
            alphas = np.zeros(
                (n, k, 0, state["alpha"].shape[-1]), dtype=np.float32
            )
        return cls(np.zeros((n, k, 0), dtype=np.int32), alphas)

    def grow(self, step: BeamStep, state: dict[str, np.ndarray]) -> _Trails:
        """The trails of the kept beams, with this step's words (and weights) appended."""
        alphas = self.alphas
        if alphas is not None:
            n, k = step.parent.shape
            alpha = state["alpha"].reshape(n, k, -1)[
                np.arange(n)[:, None], step.parent
            ]
            alphas = _grow(alphas, step.parent, alpha)
        return _Trails(_grow(self.tokens, step.parent, step.word), alphas)

    def answers(self, vocab: Any, beams: Beams, norm: float) -> Decoded:
        """Each image's best final beam."""
        pick = (
            np.arange(len(self.tokens)),
            _final_scores(beams, norm).argmax(axis=1),
        )
        weights = (
            []
            if self.alphas is None
            else list(self.alphas[pick].transpose(1, 0, 2))
        )
        return _decoded(
            vocab, self.tokens[pick], beams.log_prob[pick], weights
        )


def _final_scores(beams: Beams, norm: float) -> np.ndarray:
    """What picks each image's answer among its final beams (n, k)."""
    return beams.log_prob / np.maximum(beams.length, 1) ** norm


def beam_search_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    *,
    max_tokens: int,
    beam_width: int = 3,
    length_normalisation: float = 0.0,
    batch_size: int = 64,
) -> Decoded:
    """Keep the ``beam_width`` best partial captions per image (:func:`beam_step`); return each
    image's best (:class:`Decoded`).

    Images × beams form one batch (``batch_size`` images at a time). A caption's score is its
    log-probability divided by ``length ** length_normalisation`` (length counts ``<end>``;
    0 = plain log-probability, which favours short captions). A beam that has produced
    ``<end>`` is kept as it is and competes with the others on its score.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    norm = float(length_normalisation)

    def decode(step_model: Any, batch: np.ndarray) -> Decoded:
        return _beam_search(
            step_model, batch, vocab, max_tokens, beam_width, norm
        )

    return _in_batches(model, features, batch_size, decode)


def beam_trace(
    model: Any,
    features: np.ndarray,
    vocab: Any,
    *,
    max_tokens: int,
    beam_width: int = 3,
    length_normalisation: float = 0.0,
) -> dict[str, Any]:
    """Every candidate that beam search scores for **one** image, step by step, with
    :func:`beam_step` (what :func:`beam_search_decode` does), for chapter 7's figure
    (:func:`course_lib.viz.draw_beam_search`). ``features``: one image's (D,) (or a batch of one).

    Returns ``{"steps", "caption", "log_prob", "score", "chosen", "beam_width",
    "length_normalisation"}`` (``chosen``: the answer's place in the last step's beam):
    ``steps[t]`` is a list of candidates, dicts with ``tokens`` (the caption so far, ``<end>``
    included once it has ended), ``word`` (the word added; ``None`` for a carried ended
    beam), ``log_prob``, ``score``, ``parent`` (the beam it extends: an index into the
    previous step's ``kept`` list), ``ended`` and ``kept`` (its place in the beam or ``None``);
    ``caption`` is the chosen caption (words, without ``<end>``).
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    step_model = as_step_model(model)
    feats = _one_image(features)
    k, norm = beam_width, float(length_normalisation)
    state = step_model.select(
        step_model.init(feats), np.zeros(k, dtype=np.int64)
    )
    words = np.full(k, vocab.start_id, dtype=np.int32)
    beams = Beams.start(1, k)
    prefixes: list[list[str]] = [[] for _ in range(k)]
    steps: list[list[dict[str, Any]]] = []
    for _ in range(max_tokens):
        probs, state = step_model.step(words, state)
        word_lp = safe_log(without_pad_and_start(np.asarray(probs), vocab))[
            None
        ]
        step = beam_step(beams, word_lp, vocab, norm=norm)
        steps.append(_candidates(step, beams.finished[0], prefixes, vocab))
        parent, word, carried = step.parent[0], step.word[0], step.carried[0]
        prefixes = [
            prefixes[p] + ([] if c else [vocab.id_to_token[w]])
            for p, w, c in zip(parent, word, carried, strict=True)
        ]
        beams = step.kept
        state = step_model.select(state, parent)
        words = np.where(carried, vocab.end_id, word).astype(np.int32)
        if beams.finished[np.isfinite(beams.log_prob)].all():
            break
    final = _final_scores(beams, norm)[0]
    choice = int(final.argmax())
    return {
        "steps": steps,
        "caption": vocab.decode(
            vocab.encode(prefixes[choice], add_start_end=False)
        ),
        "log_prob": float(beams.log_prob[0, choice]),
        "score": float(final[choice]),
        "chosen": choice,
        "beam_width": k,
        "length_normalisation": norm,
    }


def _one_image(features: np.ndarray) -> np.ndarray:
    """One image's features as a batch of one; ValueError for more images."""
    feats = np.asarray(features, dtype=np.float32)
    feats = feats[None] if feats.ndim == 1 else feats
    if len(feats) != 1:
        raise ValueError(
            f"beam_trace follows one image; got {len(feats)} feature vectors"
        )
    return feats


def _candidates(
    step: BeamStep, finished: np.ndarray, prefixes: list[list[str]], vocab: Any
) -> list[dict[str, Any]]:
    """The possible candidates of one image's beam step (see :func:`beam_trace`)."""
    vocab_size = step.log_prob.shape[-1]
    kept = zip(step.parent[0], step.word[0], strict=True)
    slot_of = {
        int(p) * vocab_size + int(w): s for s, (p, w) in enumerate(kept)
    }
    candidates = []
    for parent in range(len(prefixes)):
        for word in range(vocab_size):
            lp = step.log_prob[0, parent, word]
            if not np.isfinite(lp):
                continue
            carried = bool(finished[parent])
            token = None if carried else vocab.id_to_token[word]
            candidates.append({
                "tokens": prefixes[parent] + ([] if carried else [token]),
                "word": token,
                "log_prob": float(lp),
                "score": float(step.score[0, parent, word]),
                "parent": parent,
                "ended": carried or word == vocab.end_id,
                "kept": slot_of.get(parent * vocab_size + word),
            })  # fmt: skip
    return candidates


def sequence_log_probs(
    model: keras.Model,
    features: np.ndarray,
    vocab: Any,
    captions: list[list[str]],
) -> np.ndarray:
    """Log-probability (N,) that the full model gives each caption, ``<end>`` included
    (a caption that reached ``max_tokens`` without ``<end>`` is scored as if it ended)."""
    features = _features(features)
    rows = [vocab.encode(c) for c in captions]
    if not rows:
        return np.zeros(0)
    ids = pad_sequences_right(rows, max(len(r) for r in rows))
    probs = model.predict_on_batch({"image": features, "caption": ids[:, :-1]})
    targets = ids[:, 1:]
    picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
    return np.where(targets != 0, safe_log(picked), 0.0).sum(axis=1)
