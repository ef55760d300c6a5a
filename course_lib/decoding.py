"""Turning next-word probabilities into captions: greedy, beam search, sampling.

All fast decoders run many images at once and carry the LSTM state with
:class:`course_lib.models.StepModel`, so each new word costs one step. ``naive_greedy_decode``
is the seed tutorial's loop (the whole prefix through the model, once per word and image), kept
to show, and measure, the difference. ``max_tokens`` counts the predicted tokens, ``<end>``
included (a caption of ``n`` words needs ``n + 1``); captions come back as word lists without
``<start>``/``<end>``. ``<pad>`` and ``<start>`` are never chosen as a next word.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from course_lib.attention import AttentionStepModel, build_attention_step_model
from course_lib.models import StepModel, build_step_model, model_kind
from course_lib.text import pad_sequences_right

__all__ = [
    "as_step_model",
    "beam_search_decode",
    "greedy_decode",
    "naive_greedy_decode",
    "sample_decode",
    "sequence_log_probs",
]

_TINY = 1e-12


def _never(probs: np.ndarray, vocab: Any) -> np.ndarray:
    """``probs`` with ``<pad>`` and ``<start>`` made impossible (they are never a next word)."""
    probs = probs.copy()
    probs[..., [vocab.pad_id, vocab.start_id]] = 0.0
    return probs


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
        raise ValueError(f"features must have shape (N, D) or (N, L, C), got {features.shape}")
    return features


def _attention_rows(weights: np.ndarray, caption: list[str]) -> np.ndarray:
    """The attention weights of a decoded caption's tokens: its words and ``<end>``."""
    return weights[: min(len(caption) + 1, len(weights))]


def _choose_and_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    max_tokens: int,
    batch_size: int,
    choose,
    return_attention: bool = False,
):
    """Shared loop of greedy and sampling: ``choose(probs (B, V)) -> ids (B,)`` each step.
    With ``return_attention`` also each caption's attention weights (see greedy_decode)."""
    step_model = as_step_model(model)
    features = _features(features)
    captions: list[list[str]] = []
    attention: list[np.ndarray] = []
    for begin in range(0, len(features), batch_size):
        batch = features[begin : begin + batch_size]
        state = step_model.init(batch)
        words = np.full(len(batch), vocab.start_id, dtype=np.int32)
        finished = np.zeros(len(batch), dtype=bool)
        out = np.zeros((len(batch), max_tokens), dtype=np.int32)
        weights = []
        for t in range(max_tokens):
            probs, state = step_model.step(words, state)
            if return_attention:
                weights.append(_alpha(state))
            probs = _never(probs, vocab)
            words = np.where(finished, vocab.end_id, choose(probs)).astype(np.int32)
            out[:, t] = words
            finished |= words == vocab.end_id
            if finished.all():
                break
        decoded = [vocab.decode(row) for row in out]
        captions.extend(decoded)
        if return_attention:
            stacked = np.stack(weights, axis=1)  # (B, steps, L)
            attention.extend(_attention_rows(w, c) for w, c in zip(stacked, decoded, strict=True))
    return (captions, attention) if return_attention else captions


def _alpha(state: dict[str, np.ndarray]) -> np.ndarray:
    """The attention weights in a step model's state; ValueError for a model without any."""
    if "alpha" not in state:
        raise ValueError("return_attention needs the attention captioner (its state has alpha)")
    return np.asarray(state["alpha"])


def greedy_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    max_tokens: int,
    batch_size: int = 256,
    return_attention: bool = False,
):
    """The most probable next word, each step, for every image: features (N, D), or region
    grids (N, L, C) for the attention captioner → N captions (word lists).

    With ``return_attention`` (attention captioner only) returns ``(captions, weights)``, where
    ``weights[i]`` is (len(caption i) + 1, L): the attention over the L regions when each word,
    then ``<end>``, was chosen.
    """
    return _choose_and_decode(
        model, features, vocab, max_tokens, batch_size, lambda p: p.argmax(axis=-1),
        return_attention,
    )  # fmt: skip


def sample_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    max_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
) -> list[list[str]]:
    """Sample each next word from ``p ** (1 / temperature)`` (renormalised), reproducibly.

    ``temperature`` 1 samples the model's distribution, below 1 sharpens it (0 is greedy),
    above 1 flattens it.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return greedy_decode(model, features, vocab, max_tokens, batch_size)
    rng = np.random.default_rng(seed)

    def choose(probs: np.ndarray) -> np.ndarray:
        # Gumbel-max trick: argmax(log p / T + Gumbel noise) is a sample of p ** (1/T).
        with np.errstate(divide="ignore"):
            logits = np.log(probs) / temperature  # log 0 = -inf: never chosen
        return (logits + rng.gumbel(size=logits.shape)).argmax(axis=-1)

    return _choose_and_decode(model, features, vocab, max_tokens, batch_size, choose)


def beam_search_decode(
    model: keras.Model | StepModel,
    features: np.ndarray,
    vocab: Any,
    max_tokens: int,
    beam_width: int = 3,
    length_normalisation: float = 0.0,
    batch_size: int = 64,
    return_scores: bool = False,
    return_attention: bool = False,
):
    """Keep the ``beam_width`` best partial captions per image; return each image's best.

    Images × beams form one batch (``batch_size`` images at a time). A caption's score is its
    log-probability divided by ``length ** length_normalisation`` (length counts ``<end>``;
    0 = plain log-probability, which favours short captions). A beam that has produced
    ``<end>`` is kept as it is and competes with the others on its score.

    Returns the captions; with ``return_scores`` also each best caption's log-probability (not
    normalised), and with ``return_attention`` (attention captioner) each best caption's
    attention weights as in :func:`greedy_decode`, in a tuple in that order.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    step_model = as_step_model(model)
    features = _features(features)
    k, norm = beam_width, float(length_normalisation)
    captions: list[list[str]] = []
    scores: list[float] = []
    attention: list[np.ndarray] = []
    for begin in range(0, len(features), batch_size):
        batch = features[begin : begin + batch_size]
        n = len(batch)
        state = step_model.select(step_model.init(batch), np.repeat(np.arange(n), k))
        words = np.full(n * k, vocab.start_id, dtype=np.int32)
        log_prob = np.full((n, k), -np.inf)
        log_prob[:, 0] = 0.0  # one live beam per image at the start
        lengths = np.zeros((n, k), dtype=np.int64)
        finished = np.zeros((n, k), dtype=bool)
        tokens = np.zeros((n, k, max_tokens), dtype=np.int32)
        weights = None
        for t in range(max_tokens):
            probs, state = step_model.step(words, state)
            if return_attention:
                step_alpha = _alpha(state).reshape(n, k, -1)
                if weights is None:
                    weights = np.zeros((n, k, max_tokens, step_alpha.shape[-1]), np.float32)
            probs = _never(probs, vocab)
            vocab_size = probs.shape[-1]
            step_lp = np.log(np.maximum(probs, _TINY)).reshape(n, k, vocab_size)
            # A finished beam has exactly one continuation, itself, at no cost.
            step_lp[finished] = -np.inf
            step_lp[finished, vocab.pad_id] = 0.0
            cand_lp = log_prob[:, :, None] + step_lp  # (n, k, V)
            cand_len = np.where(finished, lengths, t + 1)[:, :, None]
            cand_score = cand_lp / np.maximum(cand_len, 1) ** norm if norm else cand_lp
            flat = cand_score.reshape(n, k * vocab_size)
            best = np.argsort(-flat, axis=1, kind="stable")[:, :k]  # (n, k)
            parent, word = best // vocab_size, best % vocab_size
            rows = np.arange(n)[:, None]
            log_prob = cand_lp.reshape(n, -1)[rows, best]
            was_finished = finished[rows, parent]
            lengths = np.where(was_finished, lengths[rows, parent], t + 1)
            tokens = tokens[rows, parent]
            tokens[:, :, t] = np.where(was_finished, vocab.pad_id, word)
            if weights is not None:
                weights = weights[rows, parent]
                weights[:, :, t] = step_alpha[rows, parent]
            finished = was_finished | (word == vocab.end_id)
            state = step_model.select(state, (rows * k + parent).reshape(-1))
            words = np.where(was_finished, vocab.end_id, word).reshape(-1).astype(np.int32)
            if finished[np.isfinite(log_prob)].all():
                break
        final = log_prob / np.maximum(lengths, 1) ** norm if norm else log_prob
        choice = final.argmax(axis=1)
        for i in range(n):
            captions.append(vocab.decode(tokens[i, choice[i]]))
            scores.append(float(log_prob[i, choice[i]]))
            if weights is not None:
                attention.append(_attention_rows(weights[i, choice[i]], captions[-1]))
    out = [captions] + [scores] * return_scores + [attention] * return_attention
    return tuple(out) if len(out) > 1 else captions


def sequence_log_probs(
    model: keras.Model, features: np.ndarray, vocab: Any, captions: list[list[str]]
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
    return np.where(targets != 0, np.log(np.maximum(picked, _TINY)), 0.0).sum(axis=1)


def naive_greedy_decode(
    model: keras.Model, features: np.ndarray, vocab: Any, max_tokens: int
) -> list[list[str]]:
    """The seed tutorial's greedy loop: for every image and every new word, the whole prefix
    (padded to ``max_tokens``) goes through ``model.predict``. Slow on purpose; for comparison.
    Like the fast decoders it never picks ``<pad>`` or ``<start>``.
    """
    features = _features(features)
    captions = []
    for vector in features:
        prefix = [vocab.start_id]
        for _ in range(max_tokens):
            padded = np.zeros((1, max_tokens), dtype=np.int32)
            padded[0, : len(prefix)] = prefix
            probs = model.predict({"image": vector[None], "caption": padded}, verbose=0)
            word = int(_never(probs[0, len(prefix) - 1], vocab).argmax())
            prefix.append(word)
            if word == vocab.end_id:
                break
        captions.append(vocab.decode(prefix))
    return captions
