"""Chapter 3 exercises: the hybrid CNN-LSTM (merge versus inject, tensor shapes)."""

from __future__ import annotations

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


def merge_add(image_vec, seq):
    return image_vec[:, None, :] + seq


ex1 = ValueExercise(
    "The merge model's output shape",
    expected=(8, 20, 1000),
    prompt="""
        The merge model gets a batch of `B = 8` image vectors and caption prefixes of `T = 20`
        token ids, with a vocabulary of `V = 1000` words. What is the shape of its output?
        Write it as a tuple, then `ch3.ex1.check(answer)`.
    """,
    why="The LSTM returns one vector per time step (`return_sequences=True`), so after the add,"
    " the Dense(256) and the softmax every position gets a distribution over the vocabulary:"
    " (B, T, V) = (8, 20, 1000).",
    hints=[
        "With `return_sequences=True` the LSTM keeps the time axis.",
        "The last layer is a softmax over the vocabulary, at every time step.",
    ],
    mistakes=[
        Mistake(
            (8, 1000),
            "that is the seed tutorial's model, which predicts one next word per"
            " sample; ours keeps the time axis (`return_sequences=True`).",
        ),
        Mistake(
            (8, 20, 256),
            "256 is the hidden size; the last layer is a softmax over V words.",
        ),
        Mistake(
            (20, 8, 1000),
            "Keras puts the batch axis first: (batch, time, features).",
        ),
    ],
)

_rng = np.random.default_rng(3)

ex2 = FunctionExercise(
    "Adding the image to every time step",
    reference=merge_add,
    prompt="""
        In the merge model the image branch gives one vector per caption, shape `(B, D)`, and
        the language branch one vector per time step, shape `(B, T, D)`. Write
        `merge_add(image_vec, seq)` returning their sum, shape `(B, T, D)`: the image vector is
        added at every time step. Check it with `ch3.ex2.check(merge_add)`.
    """,
    cases=[
        Case((np.ones((2, 3)), np.zeros((2, 4, 3)))),
        Case(
            (_rng.normal(size=(3, 2)), _rng.normal(size=(3, 5, 2))),
            "B = 3, T = 5, D = 2",
        ),
        Case(
            (np.arange(6.0).reshape(3, 2), np.zeros((3, 3, 2))),
            "B == T: plain broadcasting adds the wrong image",
        ),
        Case(
            (_rng.normal(size=(1, 4)), _rng.normal(size=(1, 1, 4))),
            "one caption, one step",
        ),
    ],
    hints=[
        "Give the image vector a time axis of length 1: `image_vec[:, None, :]` has shape"
        " (B, 1, D) and broadcasts over T.",
        "`image_vec + seq` without the new axis broadcasts (B, D) against (T, D): it only runs"
        " when B == T, and then adds image t to time step t of *every* caption.",
    ],
    diagnose=lambda args, expected, got: (
        "Without a new time axis, (B, D) broadcasts against the time axis, not the batch axis."
        if np.shape(got) == np.shape(expected)
        else None
    ),
)

ex3 = ThoughtExercise(
    "Merge or inject?",
    prompt="""
        In an *inject* model the image is fed into the LSTM (as its first input or initial
        state); in the *merge* model the LSTM sees only words and the image is added afterwards.
        Give two reasons why Tanti et al. found merge at least as good, and one thing inject can
        do that merge cannot.
    """,
    model_answer="""
        * In merge the LSTM only encodes the words so far, so its units are not spent on
          remembering the image; the image enters after the LSTM, at every step, so it cannot
          fade over a long caption.
        * Merge is not smaller at the same sizes: with the same embedding, LSTM and dense layers
          the two models have exactly the same number of parameters (this chapter prints both
          totals). The saving comes from what merge allows: since its LSTM does not hold the
          image, Tanti et al. reached similar caption quality with a hidden state up to four
          times smaller. The language part is also a module of its own, which can be
          pre-trained or reused.
        * Inject lets the image influence how the sentence is *encoded* (the hidden state depends
          on the image from the first word), which can help when the words to say depend
          strongly on the picture; merge can only combine the two at the end, with one addition.
    """,
    hints=[
        "Ask what the LSTM has to remember in each design, and where the image enters."
    ],
)

ex4 = ValueExercise(
    "Parameters of the image branch",
    expected=1_048_832,
    prompt="""
        The image branch is `Dropout(0.5)` then `Dense(256, activation="relu")` on VGG16's
        4,096-d fc2 features. How many trainable parameters does it have?
        Then `ch3.ex4.check(answer)`.
    """,
    why="Dropout has no parameters; Dense has 4,096 × 256 weights + 256 biases = 1,048,832.",
    hints=["Dropout has no weights. Dense has inputs × units + units."],
    mistakes=[
        Mistake(1_048_576, "add the 256 biases."),
        Mistake(
            2_097_664, "Dropout has no parameters; count only the Dense layer."
        ),
    ],
)

EXERCISES = bind(globals())
