"""Chapter 7 exercises: evaluation (BLEU by hand, beam search, the tutorial's two mistakes)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from course_lib.exercises.core import (
    Case,
    FunctionExercise,
    Mistake,
    ThoughtExercise,
    ValueExercise,
)
from course_lib.exercises.view import bind

# -- reference solutions ----------------------------------------------------------------------


def clipped_precision(hyp, refs, n):
    def ngrams(tokens):
        return Counter(
            tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)
        )

    counts = ngrams(hyp)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    max_ref = Counter()
    for ref in refs:
        for gram, count in ngrams(ref).items():
            max_ref[gram] = max(max_ref[gram], count)
    clipped = sum(min(count, max_ref[gram]) for gram, count in counts.items())
    return clipped / total


def brevity_penalty(c, r):
    if c > r:
        return 1.0
    if c == 0:
        return 0.0
    return math.exp(1 - r / c)


def closest_ref_length(hyp_len, ref_lens):
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


def best_continuations(log_probs, beam_scores, k):
    vocab_size = log_probs.shape[1]
    totals = (beam_scores[:, None] + log_probs).ravel()
    best = np.argsort(-totals, kind="stable")[:k]
    return [
        (int(i // vocab_size), int(i % vocab_size), float(totals[i]))
        for i in best
    ]


def best_caption(log_probs, lengths, alpha):
    scores = [lp / n**alpha for lp, n in zip(log_probs, lengths, strict=True)]
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


_cat = "the cat is on the mat".split()
_refs = [_cat, "there is a cat on the mat".split()]

ex1 = FunctionExercise(
    "Clipped n-gram precision",
    reference=clipped_precision,
    prompt="""
        Write `clipped_precision(hyp, refs, n)` for a hypothesis `hyp` (a list of tokens) and
        references `refs` (a list of token lists): the fraction of the hypothesis's n-grams that
        appear in a reference, where each n-gram counts at most as many times as it occurs in
        the single reference that has it most often (so "the the the" does not score 1).
        Return 0.0 when the hypothesis has no n-grams. Check it with
        `ch7.ex1.check(clipped_precision)`.
    """,
    cases=[
        Case((_cat, _refs, 1)),
        Case((_cat, _refs, 2)),
        Case(
            ("the the the the the the the".split(), _refs, 1),
            "clipping: 'the' × 7",
        ),
        Case(([], _refs, 1), "empty hypothesis"),
        Case((["cat"], _refs, 2), "shorter than n"),
        Case(
            ("a dog runs".split(), [["a", "cat", "sleeps"]], 1),
            "one reference",
        ),
        Case(
            ("a a b".split(), [["a", "b"], ["a", "a", "c"]], 1),
            "the max over references",
        ),
    ],
    hints=[
        "`Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))` counts n-grams.",
        "For each n-gram the clip is the maximum of its counts over the references (not the sum);"
        " precision = sum of min(count, clip) / number of hypothesis n-grams.",
    ],
)

ex2 = FunctionExercise(
    "The brevity penalty",
    reference=brevity_penalty,
    prompt="""
        Write `brevity_penalty(c, r)` for a hypothesis of length `c` and a reference length `r`:
        1 if `c > r`, else `exp(1 - r / c)`; 0.0 for an empty hypothesis (`c == 0`).
        Check it with `ch7.ex2.check(brevity_penalty)`.
    """,
    cases=[
        (12, 10),
        (8, 10),
        (10, 10),
        (0, 5),
        (1, 20),
        (3, 0),
    ],
    hints=[
        "Without the penalty a one-word caption that is in the reference scores a precision of 1.",
        "Handle `c == 0` before dividing by `c`. Equal lengths give exp(0) = 1.",
    ],
)

ex3 = FunctionExercise(
    "The closest reference length",
    reference=closest_ref_length,
    prompt="""
        BLEU's `r` is the length of the reference closest in length to the hypothesis; on a tie
        the shorter one (as NLTK does). Write `closest_ref_length(hyp_len, ref_lens)`.
        Check it with `ch7.ex3.check(closest_ref_length)`.
    """,
    cases=[
        (10, [8, 11, 15]),
        (10, [9, 11]),
        Case((10, [11, 9]), "a tie, the longer reference first"),
        (5, [12]),
        (0, [3, 1, 2]),
        (7, [7, 7, 9]),
        (20, [8, 11, 15]),
    ],
    hints=[
        "`min(ref_lens, key=...)` picks the best; the key is the distance `abs(r - hyp_len)`.",
        "Break ties by length: use the key `(abs(r - hyp_len), r)`.",
    ],
    diagnose=lambda args, expected, got: (
        "On a tie choose the shorter reference."
        if sorted(abs(r - args[0]) for r in args[1])[:2].count(
            abs(expected - args[0])
        )
        == 2
        else None
    ),
)

_lp = np.log(np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]))

ex4 = FunctionExercise(
    "One step of beam search",
    reference=best_continuations,
    prompt="""
        Each of `k` beams has a score (the sum of its words' log-probabilities), `beam_scores`
        of shape `(k,)`, and the model gives `log_probs` of shape `(k, V)` for the next word.
        Write `best_continuations(log_probs, beam_scores, k)` returning the best `k`
        continuations over **all** beams as a list of `(beam_index, word_id, score)` tuples,
        best first (ties: lower beam index, then lower word id, first): the heart of the
        library's `beam_step`. Check it with `ch7.ex4.check(best_continuations)`.
    """,
    cases=[
        Case((_lp, np.array([0.0, -0.1]), 2)),
        Case((_lp, np.array([-5.0, 0.0]), 3), "one beam far behind"),
        Case((_lp[:1], np.array([0.0]), 2), "the first step: one beam"),
        Case((_lp, np.array([0.0, 0.0]), 1), "k = 1 is greedy"),
        Case(
            (np.log(np.full((2, 2), 0.5)), np.array([-1.0, -1.0]), 3), "ties"
        ),
    ],
    hints=[
        "Add each beam's score to its row: `beam_scores[:, None] + log_probs`, shape (k, V).",
        "Flatten, sort descending with a stable sort (`np.argsort(-x, kind='stable')`), take the"
        " first k; flat index i is beam `i // V`, word `i % V`.",
    ],
    diagnose=lambda args, expected, got: (
        "Rank the continuations of all beams together, not the top words of each beam."
        if isinstance(got, list) and len(got) == len(expected)
        else None
    ),
)

ex5 = ThoughtExercise(
    "The tutorial's BLEU-3",
    prompt="""
        The widely copied tutorial reports BLEU-3 with
        `corpus_bleu(refs, hyps, weights=(0.3, 0.3, 0.3, 0))`. What is wrong, and does the
        mistake make the score look better or worse?
    """,
    model_answer="""
        BLEU is the brevity penalty times a weighted geometric mean of the n-gram precisions,
        `exp(Σ w_n log p_n)`, and the weights must sum to 1: BLEU-3 is `(1/3, 1/3, 1/3, 0)`.
        With 0.3 each they sum to 0.9, so the score is `BP · (p1 p2 p3)^0.3` instead of
        `BP · (p1 p2 p3)^(1/3)`. Because the precisions are below 1, the smaller exponent makes
        the reported "BLEU-3" **higher** than the real one (e.g. 0.1 → 0.126), so it cannot be
        compared with published numbers. The same tutorial also leaves `startseq` / `endseq`
        in both references and hypotheses, which gives every caption free matching n-grams and
        inflates all four scores; strip them before scoring.
    """,
    hints=[
        "BLEU combines the n-gram precisions with a weighted geometric mean: exp(Σ w_n log p_n)."
    ],
)

ex6 = ValueExercise(
    "Free matches from start and end words",
    expected=0.4,
    rtol=1e-3,
    prompt="""
        Hypothesis `startseq a dog runs endseq`, single reference
        `startseq the cat sleeps endseq`. What is the clipped unigram precision when both keep
        the tutorial's `startseq`/`endseq`? (Without them it is 0.) Then `ch7.ex6.check(answer)`.
    """,
    why="Two of the five hypothesis tokens, startseq and endseq, match: 2 / 5 = 0.4 for a"
    " caption with no correct word. The markers must be stripped before computing BLEU.",
    hints=[
        "Count startseq and endseq as ordinary words: how many of the 5 tokens match?"
    ],
    mistakes=[
        Mistake(0.0, "startseq and endseq are in both, so they match."),
        Mistake(
            2 / 3, "the denominator is the number of hypothesis tokens (5)."
        ),
    ],
)

ex7 = FunctionExercise(
    "Length normalisation",
    reference=best_caption,
    prompt="""
        Beam search has finished with a few captions: `log_probs[i]` is caption i's
        log-probability (`<end>` included) and `lengths[i]` its number of tokens (`<end>`
        included). Write `best_caption(log_probs, lengths, alpha)` returning the index of the
        caption with the best length-normalised score `log_prob / length ** alpha`, as
        `beam_search_decode(..., length_normalisation=alpha)` ranks them (ties: the lower index).
        Check it with `ch7.ex7.check(best_caption)`.
    """,
    cases=[
        Case(
            ([-1.75, -1.95], [4, 7], 0.0),
            "no normalisation: the plain log-probability",
        ),
        Case(
            ([-1.75, -1.95], [4, 7], 1.0),
            "alpha = 1: the mean log-probability per token",
        ),
        Case(([-1.75, -1.95], [4, 7], 0.2), "a little normalisation"),
        Case(([-3.0, -2.0, -4.5], [6, 3, 9], 1.0), "three captions"),
        Case(([-2.0, -4.0], [2, 4], 1.0), "a tie"),
        Case(([-0.5], [3], 0.7), "one caption"),
    ],
    hints=[
        "Compute the score of every caption, then the index of the largest.",
        "`max(range(len(scores)), key=lambda i: (scores[i], -i))` takes the lower index on a tie.",
    ],
    diagnose=lambda args, expected, got: (
        "A log-probability is negative: the best score is the largest (closest to 0), "
        "not the smallest."
        if isinstance(got, int) and got != expected and len(args[0]) == 2
        else None
    ),
)

EXERCISES = bind(globals())
