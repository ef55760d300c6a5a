"""Chapter 7 exercises: evaluation (corpus BLEU by hand, beam search, BLEU's weights, the
tutorial's start and end words, length normalisation)."""

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


def corpus_precision(hyps, refs, n):
    def ngrams(tokens):
        return Counter(
            tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)
        )

    matched = total = 0
    for hyp, hyp_refs in zip(hyps, refs, strict=True):
        counts = ngrams(hyp)
        max_ref = Counter()
        for ref in hyp_refs:
            for gram, count in ngrams(ref).items():
                max_ref[gram] = max(max_ref[gram], count)
        matched += sum(min(c, max_ref[gram]) for gram, c in counts.items())
        total += sum(counts.values())
    return matched / total if total else 0.0


def corpus_brevity_penalty(hyp_lens, ref_lens):
    c, r = sum(hyp_lens), sum(ref_lens)
    if c > r:
        return 1.0
    if c == 0:
        return 0.0
    return math.exp(1 - r / c)


def read_beams(parents, words):
    captions = []
    for beam in range(len(words[-1])):
        tokens = []
        for step in range(len(words) - 1, -1, -1):
            tokens.append(int(words[step][beam]))
            beam = parents[step][beam]
        captions.append(tokens[::-1])
    return captions


def best_caption(log_probs, lengths, alpha):
    scores = [lp / n**alpha for lp, n in zip(log_probs, lengths, strict=True)]
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


_cat = "the cat is on the mat".split()
_refs = [_cat, "there is a cat on the mat".split()]


def _mean_precision(hyps, refs, n):
    """The mean of the captions' own clipped precisions (not BLEU's)."""
    return float(
        np.mean(
            [
                corpus_precision([h], [r], n)
                for h, r in zip(hyps, refs, strict=True)
            ]
        )
    )


ex1 = FunctionExercise(
    "Clipped precision of a test set",
    reference=corpus_precision,
    prompt="""
        Corpus BLEU does not average the captions' precisions: it adds up their clipped
        n-gram matches and their n-gram counts over the whole test set and divides once.
        Write `corpus_precision(hyps, refs, n)` for hypotheses `hyps` (a list of token lists)
        and their references `refs` (`refs[i]`: the list of token lists of `hyps[i]`). Each
        caption's n-grams are clipped against its own references (an n-gram counts at most as
        often as in the one reference that has it most often). Return 0.0 when no hypothesis
        has an n-gram. Check it with `ch7.ex1.check(corpus_precision)`.
    """,
    cases=[
        Case(([_cat], [_refs], 1), "one caption"),
        Case(([_cat, "a cat".split()], [_refs, [["a", "dog"]]], 2)),
        Case(
            ([["the"] * 3, ["the"]], [[["the", "cat"]], [["the", "the"]]], 1),
            "clipping, each caption against its own references",
        ),
        Case(
            (
                [["cat"], "a dog runs".split()],
                [[["cat"]], [["a", "dog", "sleeps"]]],
                2,
            ),
            "a caption shorter than n",
        ),
        Case(([[], ["a"]], [[["a"]], [["a"]]], 2), "no n-gram at all"),
        Case(
            (["a a b".split()], [[["a", "b"], ["a", "a", "c"]]], 1),
            "the max over references",
        ),
    ],
    hints=[
        "Keep two running totals over the captions: the clipped matches and the n-grams.",
        "For one caption, `Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))`"
        " counts its n-grams; its clip for an n-gram is the maximum of its counts over that"
        " caption's references (not the sum).",
    ],
    diagnose=lambda args, expected, got: (
        "That is the mean of the captions' precisions: add up the matches and the n-grams"
        " of all captions first, then divide once."
        if isinstance(got, (int, float))
        and not np.isclose(got, expected)
        and np.isclose(got, _mean_precision(*args))
        else None
    ),
)


def _mean_penalty(hyp_lens, ref_lens):
    """The mean of the captions' own brevity penalties (not BLEU's)."""
    return float(
        np.mean(
            [
                corpus_brevity_penalty([c], [r])
                for c, r in zip(hyp_lens, ref_lens, strict=True)
            ]
        )
    )


ex2 = FunctionExercise(
    "The brevity penalty of a test set",
    reference=corpus_brevity_penalty,
    prompt="""
        `corpus_bleu` applies **one** brevity penalty to the whole test set, not one per
        caption. `hyp_lens[i]` is the length of hypothesis i and `ref_lens[i]` the length of
        its closest reference. Write `corpus_brevity_penalty(hyp_lens, ref_lens)`, using the
        penalty of the chapter (1 for a hypothesis longer than the reference, else
        `exp(1 - r / c)`), and 0.0 when every hypothesis is empty.
        Check it with `ch7.ex2.check(corpus_brevity_penalty)`.
    """,
    cases=[
        Case(([12], [10]), "one caption, longer"),
        Case(([8], [10]), "one caption, shorter"),
        Case(([5, 12], [10, 10])),
        Case(([20, 3], [10, 10]), "a long caption makes up for a short one"),
        Case(([11, 4], [10, 5]), "equal totals"),
        Case(([0, 0], [3, 4]), "only empty hypotheses"),
        Case(([0, 6], [3, 4]), "one empty hypothesis"),
    ],
    hints=[
        "Add up the lengths on each side first: c and r are totals over the test set.",
        "Handle `c == 0` before dividing by `c`. Equal totals give exp(0) = 1.",
    ],
    diagnose=lambda args, expected, got: (
        "That is the mean of the captions' penalties: corpus BLEU applies one penalty"
        " to the total lengths."
        if isinstance(got, (int, float))
        and not np.isclose(got, expected)
        and np.isclose(got, _mean_penalty(*args))
        else None
    ),
)

ex3 = ValueExercise(
    "The reference length of a test set",
    expected=10,
    prompt="""
        A test set of two captions: the first has 9 words and references of 7, 11 and 12
        words; the second has 4 words and references of 3, 5 and 6 words. What is the
        reference length `r` that `corpus_bleu` uses for its brevity penalty? Then
        `ch7.ex3.check(answer)`.
    """,
    why="Each caption contributes its closest reference length, the shorter one on a tie"
    " (as NLTK does): 9 words is 2 away from both 7 and 11, so 7; 4 words is 1 away from"
    " both 3 and 5, so 3. r = 7 + 3 = 10, below c = 9 + 4 = 13, so there is no penalty.",
    hints=[
        "Find each caption's closest reference length first, then add them up.",
        "Both captions have a tie: BLEU takes the shorter reference.",
    ],
    mistakes=[
        Mistake(
            16, "on a tie BLEU takes the shorter reference, not the longer."
        ),
        Mistake(
            14, "apply the tie rule (the shorter reference) to both captions."
        ),
        Mistake(
            12, "apply the tie rule (the shorter reference) to both captions."
        ),
        Mistake(
            13, "that is c, the hypotheses' total length; r sums references."
        ),
    ],
)

_parents = [[0, 0, 0], [1, 0, 1], [0, 2, 1]]
_words = [[5, 6, 7], [8, 9, 4], [3, 3, 8]]


def _straight_down(parents, words):
    """Column j read top to bottom, as if beam j always extended beam j."""
    return [[int(row[j]) for row in words] for j in range(len(words[-1]))]


def _read_beams_diagnosis(args, expected, got):
    """What a wrong ``read_beams`` answer that is a list of lists says."""
    if not isinstance(got, list) or not all(isinstance(c, list) for c in got):
        return None
    if got == _straight_down(*args):
        return (
            "Follow the parents: beam j of a step need not extend beam j of"
            " the step before."
        )
    if got == [c[::-1] for c in expected]:
        return "Words collected backwards must be reversed."
    return None


ex4 = FunctionExercise(
    "Reading the captions out of the beams",
    reference=read_beams,
    prompt="""
        Beam search keeps `k` beams at every step `t`. Beam `j` of step `t` is beam
        `parents[t][j]` of step `t - 1` extended by the word `words[t][j]` (at step 0 every beam
        extends the one start beam: parent 0). `parents` and `words` have shape `(steps, k)`
        (nested lists or arrays). Write `read_beams(parents, words)` returning the `k` captions
        of the last step, beam 0 first, each as a list of word ids. Check it with
        `ch7.ex4.check(read_beams)`.
    """,
    cases=[
        Case((_parents, _words)),
        Case(([[0], [0], [0]], [[4], [5], [3]]), "k = 1 is greedy"),
        Case(([[0, 0]], [[7, 9]]), "one step"),
        Case(([[0, 0], [1, 1]], [[4, 5], [6, 7]]), "both extend beam 1"),
        Case((np.array(_parents), np.array(_words)), "numpy arrays"),
    ],
    hints=[
        "Start at the last step and walk back: beam j of step t came from beam"
        " `parents[t][j]` of step t - 1.",
        "Collect the words on the way back, then reverse the list.",
    ],
    diagnose=_read_beams_diagnosis,
)

ex5 = ThoughtExercise(
    "BLEU-3 weights that sum to more than one",
    prompt="""
        A notebook reports BLEU-3 with `corpus_bleu(refs, hyps, weights=(0.5, 0.5, 0.5, 0))`.
        What is wrong, and does the mistake make the score look better or worse? What does
        it report for a true BLEU-3 of 0.5 (with no brevity penalty)?
    """,
    model_answer="""
        BLEU is the brevity penalty times a weighted geometric mean of the n-gram precisions,
        `exp(Σ w_n log p_n)`, and the weights must sum to 1: BLEU-3 is `(1/3, 1/3, 1/3, 0)`.
        With 0.5 each they sum to 1.5, so the score is `BP · (p1 p2 p3)^0.5` instead of
        `BP · (p1 p2 p3)^(1/3)`: the true geometric mean raised to the power 1.5. The
        precisions are below 1, so the larger exponent makes the reported "BLEU-3" **lower**
        than the real one: a true 0.5 is reported as 0.5^1.5 ≈ 0.35. It is the tutorial's
        mistake the other way round (its weights sum to 0.9 and inflate the score); either
        way the number cannot be compared with published BLEU-3.
    """,
    hints=[
        "Write BLEU-3 as BP · exp(Σ w_n log p_n) and factor out the sum of the weights."
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
