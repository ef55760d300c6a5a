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
        We train the merge model with teacher forcing on a batch of 8 images, each with one
        caption encoded and right-padded to rows of 21 ids (`<start>` and `<end>` included),
        and a vocabulary of 1,000 ids. What is the shape of the model's output for this
        batch? Write it as a tuple, then `ch3.ex1.check(answer)`.
    """,
    why="Teacher forcing feeds each row without its last id, `ids[:, :-1]`: 20 ids per"
    " caption. The LSTM returns one vector per position (`return_sequences=True`), so after"
    " the add, the Dense layer and the softmax every position gets a distribution over the"
    " 1,000 ids: (batch, positions, vocabulary) = (8, 20, 1000).",
    hints=[
        "What goes into the model: the whole row, or the row without its last id?",
        "With `return_sequences=True` the LSTM keeps the time axis, and the last layer is a"
        " softmax over the vocabulary at every position.",
    ],
    mistakes=[
        Mistake(
            (8, 21, 1000),
            "the model reads each row without its last id: teacher forcing's"
            " input is `ids[:, :-1]` and its target `ids[:, 1:]`.",
        ),
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
        The course's inject model is *init-inject*: the image is the LSTM's initial state.
        *Par-inject* instead feeds the image next to every word: the LSTM's input at each
        step is the word vector concatenated with the projected image. Compared with
        init-inject, what does par-inject fix? Compared with merge, name two things it
        still gives up.
    """,
    model_answer="""
        * **What it fixes.** In init-inject the image is seen once, at the start, and the
          LSTM must carry it in its state: over a long caption the state is rewritten and
          the image may fade. Par-inject shows the image again at every step, so like merge
          it is present at every position.
        * **First thing it gives up: a pure language encoder.** The LSTM still reads the image
          and the words together, so its state must hold both; with merge it holds only the
          words, which is why Tanti et al. could make merge's state smaller for similar
          quality. The LSTM is also tied to the image: it cannot be trained or reused as a
          language model on text alone.
        * **Second thing: size and cost.** The LSTM's input grows from the `d` numbers of a
          word vector to `d` plus the image's size, and each of its four gates has a weight for
          every input: `4u` more weights per extra input number, and the image is multiplied
          through them at every step. Merge adds the image once, after the LSTM, through one
          `Dense` layer.
    """,
    hints=[
        "Follow the image: where does it enter, and what must the LSTM's state hold in each"
        " design?",
        "Chapter 2's LSTM has `4(u(d + u) + u)` parameters: what happens to `d`?",
    ],
)

ex4 = ValueExercise(
    "Parameters of the image branch",
    expected=2048 * 256 + 256,
    prompt="""
        The image branch is `Dropout(0.5)` then `Dense(256, activation="relu")`. A
        backbone other than this profile's gives image vectors of `D = 2048` numbers
        (ResNet-50's pooled features, for example). How many trainable parameters does the
        image branch then have? Then `ch3.ex4.check(answer)`.
    """,
    why="Dropout has no parameters; Dense has 2,048 × 256 weights + 256 biases"
    " = 524,544.",
    hints=["Dropout has no weights. Dense has inputs × units + units."],
    mistakes=[
        Mistake(524_288, "add the 256 biases."),
        Mistake(
            1_049_088, "Dropout has no parameters; count only the Dense layer."
        ),
        Mistake(
            65_792,
            "that is the image branch for 256-d image vectors; here D = 2048.",
        ),
    ],
)

EXERCISES = bind(globals())
