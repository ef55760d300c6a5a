"""Greedy, beam and sampled decoding, checked on tiny random models and scripted Markov chains."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from course_lib.decoding import (
    Beams,
    Decoded,
    beam_search_decode,
    beam_step,
    decode_batch,
    greedy_after,
    greedy_decode,
    sample_decode,
    sequence_log_probs,
)
from course_lib.models import build_inject_model, build_merge_model, build_step_model
from course_lib.seed_tutorial import naive_greedy_decode
from course_lib.text import Vocabulary

WORDS = ["a", "red", "blue", "circle", "square", "left", "of", "the"]
VOCAB = Vocabulary(WORDS)
D = 5
#: The same image's score in batches of other sizes: equal on TensorFlow's CPU
#: kernels; JAX and PyTorch choose kernels by shape, which changes float32
#: rounding (seen: 1.8e-7 on JAX).
BATCH_TOL = (
    {"rtol": 1e-12} if keras.backend.backend() == "tensorflow" else {"rtol": 1e-6, "atol": 1e-6}
)


def tiny_model(kind: str = "merge", seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    build = build_merge_model if kind == "merge" else build_inject_model
    model = build(len(VOCAB), D, embed_dim=6, units=8, dropout=0.5)
    # Sharper, more varied distributions than the near-uniform initial ones.
    out = model.get_layer("output")
    kernel, bias = out.get_weights()
    bias[VOCAB.end_id] += 2.0  # end some captions before max_tokens
    out.set_weights([kernel * 8.0, bias])
    return model


def features(n: int = 7, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, D)).astype(np.float32)


class MarkovStep:
    """A scripted step model: the next-word distribution depends only on the last word."""

    def __init__(self, table: np.ndarray):
        self.table = table  # (V, V) rows sum to 1

    def init(self, feats):
        return {"row": np.zeros((len(feats), 1), np.float32)}

    def step(self, words, state):
        return self.table[np.asarray(words)], state

    @staticmethod
    def select(state, rows):
        return {k: v[rows] for k, v in state.items()}


def markov_table(seed: int, v: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(v, 0.5), size=v)
    table[:, VOCAB.pad_id] = 0.0  # the model never predicts padding
    table[:, VOCAB.start_id] = 0.0
    return table / table.sum(axis=1, keepdims=True)


def brute_force_best(table: np.ndarray, vocab: Vocabulary, max_tokens: int, alpha: float = 0.0):
    """Best caption of a Markov chain over every sequence that ends or reaches max_tokens."""
    v = len(table)
    best, best_score = None, -np.inf
    for length in range(1, max_tokens + 1):
        for seq in itertools.product(range(v), repeat=length):
            if VOCAB.end_id in seq[:-1]:
                continue
            if length < max_tokens and seq[-1] != VOCAB.end_id:
                continue
            prev, lp = VOCAB.start_id, 0.0
            for w in seq:
                lp += np.log(max(table[prev, w], 1e-12))
                prev = w
            score = lp / length**alpha
            if score > best_score:
                best, best_score = seq, score
    return vocab.decode(best), best_score


@pytest.mark.parametrize("kind", ["merge", "inject"])
def test_fast_greedy_gives_the_same_captions_as_the_seed_tutorials_loop(kind):
    model = tiny_model(kind)
    feats = features(4)
    fast = greedy_decode(model, feats, VOCAB, max_tokens=6)
    assert fast.captions == naive_greedy_decode(model, feats, VOCAB, max_tokens=6)


def test_greedy_batches_do_not_change_the_captions():
    model = tiny_model()
    feats = features(9)
    small = greedy_decode(model, feats, VOCAB, max_tokens=7, batch_size=2)
    whole = greedy_decode(model, feats, VOCAB, max_tokens=7, batch_size=256)
    assert small.captions == whole.captions
    np.testing.assert_allclose(small.scores, whole.scores, **BATCH_TOL)
    assert len(small.captions) == len(small.scores) == 9 and small.attention is None


@pytest.mark.parametrize("kind", ["merge", "inject"])
def test_beam_search_of_width_one_is_greedy(kind):
    model = tiny_model(kind)
    feats = features(8)
    step = build_step_model(model)
    beam = beam_search_decode(step, feats, VOCAB, max_tokens=7, beam_width=1, batch_size=3)
    greedy = greedy_decode(step, feats, VOCAB, max_tokens=7)
    assert beam.captions == greedy.captions
    np.testing.assert_allclose(beam.scores, greedy.scores, **BATCH_TOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_beam_is_at_least_as_probable_as_the_greedy_caption(seed):
    model = tiny_model("merge", seed)
    step = build_step_model(model)
    feats = features(10, seed)
    decoded = greedy_decode(step, feats, VOCAB, max_tokens=8)
    greedy, greedy_lp = decoded.captions, decoded.scores
    beam_lp = beam_search_decode(step, feats, VOCAB, max_tokens=8, beam_width=4).scores
    assert np.all(np.array(beam_lp) >= np.array(greedy_lp) - 1e-6)
    # The scores are the full model's log-probabilities of the captions (for finished ones).
    ended = [i for i, c in enumerate(greedy) if len(c) < 8]
    assert ended or seed == 2  # (seed 2's greedy captions all run to max_tokens)
    full = sequence_log_probs(model, feats[ended], VOCAB, [greedy[i] for i in ended])
    np.testing.assert_allclose(full, np.array(greedy_lp)[ended], atol=1e-4)


def test_beam_search_finds_the_caption_that_greedy_misses():
    v = len(VOCAB)
    a, b, end = VOCAB.token_to_id["a"], VOCAB.token_to_id["red"], VOCAB.end_id
    table = np.full((v, v), 1e-9)
    table[VOCAB.start_id, [a, b]] = [0.6, 0.4]
    table[a, :] = 1.0  # after "a": spread over everything
    table[b, end] = 0.9
    table[b, a] = 0.1
    table[:, [VOCAB.pad_id, VOCAB.start_id]] = 0.0
    table[end, end] = 1.0
    table /= table.sum(axis=1, keepdims=True)
    step = MarkovStep(table)
    feats = np.zeros((2, D), np.float32)
    assert greedy_decode(step, feats, VOCAB, max_tokens=4).captions[0][:1] == ["a"]
    beam = beam_search_decode(step, feats, VOCAB, max_tokens=4, beam_width=2)
    assert beam.captions == [["red"], ["red"]]


@pytest.mark.parametrize(("seed", "alpha"), [(0, 0.0), (1, 0.0), (2, 0.7), (3, 1.0)])
def test_exhaustive_beam_search_finds_the_best_caption(seed, alpha):
    small = Vocabulary(["x", "y"])  # ids 0..5
    table = markov_table(seed, len(small))
    max_tokens = 4
    expected, expected_score = brute_force_best(table, small, max_tokens, alpha)
    width = len(small) ** max_tokens  # wide enough to keep every prefix
    step = MarkovStep(table)
    decoded = beam_search_decode(
        step,
        np.zeros((1, D), np.float32),
        small,
        max_tokens=max_tokens,
        beam_width=width,
        length_normalisation=alpha,
    )
    (caption,), (log_prob,) = decoded.captions, decoded.scores
    length = min(len(caption) + 1, max_tokens)
    assert log_prob / length**alpha == pytest.approx(expected_score, abs=1e-9)
    assert caption == expected


def test_decoding_stops_at_the_end_token_and_drops_it():
    v = len(VOCAB)
    red, circle = VOCAB.token_to_id["red"], VOCAB.token_to_id["circle"]
    table = np.full((v, v), 1e-6)
    table[VOCAB.start_id, red] = 1.0
    table[red, circle] = 1.0
    table[circle, VOCAB.end_id] = 1.0
    table[VOCAB.end_id, red] = 1.0  # would go on if decoding did not stop
    table[:, VOCAB.pad_id] = 0.0
    table /= table.sum(axis=1, keepdims=True)
    step = MarkovStep(table)
    feats = np.zeros((3, D), np.float32)
    expected = [["red", "circle"]] * 3
    assert greedy_decode(step, feats, VOCAB, max_tokens=10).captions == expected
    assert beam_search_decode(step, feats, VOCAB, max_tokens=10, beam_width=3).captions == expected
    sampled = sample_decode(step, feats, VOCAB, max_tokens=10, temperature=1.0)
    assert sampled.captions == expected


def markov_chain(*links: tuple[str, str]) -> MarkovStep:
    """A chain that writes each link's second word after its first, surely."""
    v = len(VOCAB)
    table = np.full((v, v), 1e-6)
    for before, after in links:
        table[VOCAB.token_to_id.get(before, VOCAB.start_id), VOCAB.token_to_id[after]] = 1.0
    table[:, VOCAB.pad_id] = 0.0
    return MarkovStep(table / table.sum(axis=1, keepdims=True))


def test_greedy_after_a_prefix_continues_from_the_prefix_not_from_its_own_words():
    step = markov_chain(
        ("<start>", "red"),
        ("red", "circle"),
        ("blue", "square"),
        ("circle", "<end>"),
        ("square", "<end>"),
    )
    feats = np.zeros((2, D), np.float32)
    assert greedy_decode(step, feats, VOCAB, max_tokens=6).captions == [["red", "circle"]] * 2
    wrong = greedy_after(step, feats, VOCAB, ["blue"], max_tokens=6)
    assert wrong.captions == [["blue", "square"]] * 2
    assert wrong.scores[0] < np.log(1e-3)  # the forced word was improbable
    with pytest.raises(ValueError, match="not in the vocabulary"):
        greedy_after(step, feats, VOCAB, ["green"], max_tokens=6)


def test_decode_batch_returns_token_ids_and_log_probabilities():
    step = markov_chain(("<start>", "red"), ("red", "circle"), ("circle", "<end>"))
    feats = np.zeros((3, D), np.float32)
    tokens, log_prob = decode_batch(step, feats, VOCAB, 5, lambda probs: probs.argmax(axis=-1))
    ids = [VOCAB.token_to_id[w] for w in ("red", "circle")] + [VOCAB.end_id]
    assert tokens.shape == (3, 5)
    assert (tokens[:, :3] == ids).all()
    assert np.allclose(log_prob, 3 * np.log(1 / (1 + 1e-6 * (len(VOCAB) - 2))), atol=1e-4)


def test_max_tokens_caps_the_number_of_predicted_tokens():
    table = np.zeros((len(VOCAB), len(VOCAB)))
    table[:, VOCAB.token_to_id["a"]] = 1.0  # never ends
    step = MarkovStep(table)
    feats = np.zeros((2, D), np.float32)
    assert greedy_decode(step, feats, VOCAB, max_tokens=5).captions == [["a"] * 5] * 2
    beam = beam_search_decode(step, feats, VOCAB, max_tokens=5, beam_width=2)
    assert beam.captions == [["a"] * 5] * 2


def test_sampling_near_zero_temperature_is_greedy():
    model = tiny_model()
    step = build_step_model(model)
    feats = features(6)
    greedy = greedy_decode(step, feats, VOCAB, max_tokens=7)
    cold = sample_decode(step, feats, VOCAB, max_tokens=7, temperature=1e-4, seed=3)
    assert cold.captions == greedy.captions
    assert sample_decode(step, feats, VOCAB, max_tokens=7, temperature=0.0) == greedy


def test_sampling_is_reproducible_for_a_seed_and_varies_across_seeds():
    step = build_step_model(tiny_model())
    feats = features(20)
    first = sample_decode(step, feats, VOCAB, max_tokens=7, temperature=1.5, seed=11)
    assert first == sample_decode(step, feats, VOCAB, max_tokens=7, temperature=1.5, seed=11)
    assert first != sample_decode(step, feats, VOCAB, max_tokens=7, temperature=1.5, seed=12)


def test_decoders_reject_features_of_the_wrong_shape():
    step = build_step_model(tiny_model())
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        greedy_decode(step, np.zeros(D, np.float32), VOCAB, max_tokens=3)


def test_a_beam_step_keeps_the_best_candidates_and_carries_an_ended_beam():
    # one image, two beams: the first ended (log-prob -1), the second live (-2)
    beams = Beams(np.array([[-1.0, -2.0]]), np.array([[2, 2]]), np.array([[True, False]]))
    word_lp = np.log(np.full((1, 2, len(VOCAB)), 1e-3))
    word_lp[0, 1, VOCAB.token_to_id["red"]] = np.log(0.5)
    word_lp[0, 1, VOCAB.end_id] = np.log(0.4)
    step = beam_step(beams, word_lp, VOCAB)
    assert step.parent.tolist() == [[0, 1]] and step.carried.tolist() == [[True, False]]
    assert step.word.tolist() == [[VOCAB.pad_id, VOCAB.token_to_id["red"]]]
    np.testing.assert_allclose(step.kept.log_prob, [[-1.0, -2.0 + np.log(0.5)]])
    assert step.kept.length.tolist() == [[2, 3]] and step.kept.finished.tolist() == [[True, False]]
    assert np.isneginf(step.log_prob[0, 0, VOCAB.token_to_id["red"]])  # an ended beam: no word
    # length normalisation ranks by log-prob / length: the live beam's <end> now beats red
    long = beam_step(beams, word_lp, VOCAB, norm=1.0)
    np.testing.assert_allclose(long.score[0, 1, VOCAB.end_id], (-2.0 + np.log(0.4)) / 3)


def test_decoded_batches_join_in_order():
    first = Decoded([["a"]], [-1.0], [np.zeros((2, 4))])
    second = Decoded([["b", "c"]], [-2.0], [np.ones((3, 4))])
    joined = Decoded.join([first, second])
    assert joined.captions == [["a"], ["b", "c"]] and joined.scores == [-1.0, -2.0]
    assert [w.shape for w in joined.attention] == [(2, 4), (3, 4)]
    assert Decoded.join([]) == Decoded([], [], None)
