"""Chapter 5 exercises: the language model's data (cleaning, vocabulary, training samples)."""

from __future__ import annotations

import string

from course_lib.exercises.core import (
    Case,
    FunctionExercise,
    Mistake,
    ValueExercise,
)
from course_lib.exercises.view import bind

# -- reference solutions ----------------------------------------------------------------------


def my_clean_caption(text):
    text = text.lower()
    text = text.translate(str.maketrans("", "", string.punctuation))
    return [word for word in text.split() if word.isalpha()]


def my_per_prefix_samples(ids):
    return [(list(ids[:i]), ids[i]) for i in range(1, len(ids))]


ex1 = FunctionExercise(
    "Cleaning a caption",
    reference=my_clean_caption,
    prompt="""
        Write `my_clean_caption(text)`, your own version of the library's `clean_caption`,
        returning a list of tokens: lower-case the text, **delete**
        punctuation (`string.punctuation`; "man's" becomes "mans"), split on whitespace and drop
        the words that are not purely alphabetic (like "2" or "b2"). Keep one-letter words such
        as "a". Check it with `ch5.ex1.check(my_clean_caption)`.
    """,
    cases=[
        Case(("A dog runs on the grass .",)),
        Case(
            ("Two dogs, a ball; and a man's hat!",), "punctuation is deleted"
        ),
        Case(
            ("A girl in a pink dress is climbing 3 stairs",),
            "a digit is dropped",
        ),
        Case(("",), "empty caption"),
        Case(
            ("  A   B2 c  ",), "extra spaces, a mixed word, one-letter words"
        ),
        Case(("The T-shirt's COLOUR",), "hyphen and upper case"),
    ],
    hints=[
        "`text.translate(str.maketrans('', '', string.punctuation))` deletes punctuation.",
        "`str.split()` without an argument splits on any run of whitespace; `word.isalpha()`"
        " tells whether a word has letters only. Do not drop one-letter words.",
    ],
    diagnose=lambda args, expected, got: (
        "Keep one-letter words like 'a' (the seed tutorial drops them, which we undo)."
        if isinstance(got, list) and "a" in expected and "a" not in got
        else None
    ),
)

ex2 = FunctionExercise(
    "The seed tutorial's training samples",
    reference=my_per_prefix_samples,
    prompt="""
        The seed tutorial turns each caption of `n` token ids into `n - 1` samples: every prefix
        with the word that follows it. Write `my_per_prefix_samples(ids)` returning a list of
        `(prefix, next_id)` pairs, the prefix as a list, e.g. `[2, 7, 3]` gives
        `[([2], 7), ([2, 7], 3)]`. Check it with `ch5.ex2.check(my_per_prefix_samples)`.
    """,
    cases=[
        Case(([2, 7, 3],)),
        Case(([2, 10, 11, 12, 3],)),
        Case(([2, 3],), "an empty caption: <start> <end>"),
        Case(([2],), "one id: no samples"),
        Case(([],), "no ids"),
        Case(([2, 5, 5, 5, 3],), "repeated words"),
    ],
    hints=[
        "For i = 1 … n − 1 the prefix is `ids[:i]` and the next word `ids[i]`.",
        "`range(1, len(ids))` is empty when there are fewer than two ids.",
    ],
)

ex3 = ValueExercise(
    "Memory of one-hot targets",
    expected=58.34,
    rtol=0.01,
    prompt="""
        The chapter computed the seed tutorial's one-hot targets on Flickr8k. A larger
        dataset, in the seed tutorial's layout, has 1,740,000 samples and a vocabulary of 9,000
        words. If the targets are stored one-hot as float32, how many GiB (`2**30` bytes) do
        they take? Two decimals, then `ch5.ex3.check(answer)`.
    """,
    why="1,740,000 × 9,000 × 4 bytes = 62,640,000,000 bytes ≈ 58.34 GiB, for targets that"
    " hold 1,740,000 integers of information; that is why the tutorial needs a generator, and"
    " why we keep integer targets with a sparse cross-entropy.",
    hints=["Samples × classes × 4 bytes, divided by 2**30."],
    mistakes=[
        Mistake(
            62.64,
            "that is GB (10**9 bytes); a GiB is 2**30 = 1,073,741,824 bytes.",
        ),
        Mistake(14.58, "each float32 takes 4 bytes."),
        Mistake(116.67, "float32 is 4 bytes, not 8."),
    ],
)

ex4 = ValueExercise(
    "Predict the vocabulary size",
    expected=10,
    prompt="""
        We build a vocabulary (with `min_count=1`) from three cleaned captions:
        "A dog runs.", "a DOG sleeps!" and "The cat runs". How many entries does it have,
        counting the four reserved tokens `<pad>`, `<unk>`, `<start>` and `<end>`?
        Then `ch5.ex4.check(answer)`.
    """,
    why="After cleaning the words are a, dog, runs, sleeps, the, cat (upper case and"
    " punctuation are gone): 6 words + 4 reserved tokens = 10.",
    hints=[
        "Clean first: lower-case and delete punctuation, so 'A' and 'a' are one word.",
        "Then add the 4 reserved tokens.",
    ],
    mistakes=[
        Mistake(6, "add the 4 reserved tokens."),
        Mistake(
            12,
            "cleaning lower-cases: 'A'/'a' and 'dog'/'DOG' are the same word.",
        ),
        Mistake(8, "cleaning lower-cases, then add the 4 reserved tokens."),
    ],
)

ex5 = ValueExercise(
    "LSTM steps of the two layouts",
    expected=(11 * 39, 39),
    prompt="""
        Captions are right-padded to rows of 40 ids. One caption has 12 ids, `<start>` and
        `<end>` included. Teacher forcing feeds its row without the last id; the seed's
        per-prefix layout feeds one sample per target word, each prefix padded to that same
        length. Counting the padded positions too, how many LSTM input steps does each layout
        read for this caption? Answer `(per_prefix, teacher_forcing)`, then
        `ch5.ex5.check(answer)`.
    """,
    why="Teacher forcing reads the row once without its last id: 39 steps. A caption of"
    " n = 12 ids has n − 1 = 11 target words, so 11 per-prefix samples of 39 steps each:"
    " 11 × 39 = 429. The ratio is the number of targets of the caption, as the chapter"
    " measured on the dev captions, and the per-prefix layout also stores 11 one-hot"
    " targets as long as the vocabulary.",
    hints=[
        "How many ids of the caption are ever predicted? `<start>` never is.",
        "Both layouts read rows one id shorter than the padded caption.",
    ],
    mistakes=[
        Mistake(
            (12 * 39, 39),
            "one sample per *target* word: `<start>` is never a target, so a caption"
            " of n ids gives n − 1 samples.",
        ),
        Mistake(
            (11 * 40, 40),
            "the last id is never an input: both layouts read rows one id shorter"
            " than the padded caption.",
        ),
        Mistake(
            (66, 11),
            "that counts only the real ids; every prefix, and teacher forcing's row,"
            " is padded before the LSTM reads it.",
        ),
    ],
)

EXERCISES = bind(globals())
