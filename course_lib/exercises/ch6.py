"""Chapter 6 exercises: training (teacher forcing, the masked loss, over-fitting)."""

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


def shift_for_teacher_forcing(ids):
    return ids[:, :-1], ids[:, 1:]


def masked_mean_loss(losses, targets, pad_id=0):
    mask = (targets != pad_id).astype(losses.dtype)
    total = mask.sum()
    if total == 0:
        return 0.0
    return float((losses * mask).sum() / total)


_batch = np.array(
    [[2, 10, 11, 3, 0, 0], [2, 12, 13, 14, 15, 3]], dtype=np.int32
)

ex1 = FunctionExercise(
    "Inputs and targets for teacher forcing",
    reference=shift_for_teacher_forcing,
    prompt="""
        Teacher forcing {cite}`williams1989learning` feeds the model the true previous word at
        every position. A batch of captions is an int array `ids` of shape `(N, T)`: `<start>`
        (2), words, `<end>` (3), then padding (0). Write `shift_for_teacher_forcing(ids)`
        returning `(inputs, targets)`, both `(N, T - 1)`: at each position the model reads a word
        and must predict the next one. Check it with `ch6.ex1.check(shift_for_teacher_forcing)`.
    """,
    cases=[
        Case((_batch,)),
        Case((np.array([[2, 3]]),), "T = 2: one prediction"),
        Case((np.array([[2, 7, 8, 9, 3]]),), "one caption, no padding"),
        Case((np.arange(24).reshape(4, 6),), "N = 4"),
    ],
    hints=[
        "The inputs drop the last position, the targets drop the first.",
        "Slice the time axis (axis 1), not the batch axis: `ids[:, :-1]`.",
    ],
    diagnose=lambda args, expected, got: (
        "Slice axis 1 (time), not axis 0 (batch)."
        if isinstance(got, (tuple, list))
        and len(got) == 2
        and np.shape(got[0])[0] != args[0].shape[0]
        else None
    ),
)

_losses = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
_targets = np.array([[10, 11, 3, 0, 0], [12, 13, 14, 15, 3]])

ex2 = FunctionExercise(
    "A loss that ignores padding",
    reference=masked_mean_loss,
    prompt="""
        The loss per position `losses` `(N, T)` includes positions whose target is padding
        (`pad_id=0`). Write `masked_mean_loss(losses, targets, pad_id=0)` returning the mean
        loss over the positions whose target is not padding, as a float (0.0 when every target
        is padding). Check it with `ch6.ex2.check(masked_mean_loss)`.
    """,
    cases=[
        Case((_losses, _targets)),
        Case(
            (np.ones((2, 3)), np.array([[5, 6, 7], [8, 9, 3]])), "no padding"
        ),
        Case(
            (np.array([[4.0, 9.0, 9.0]]), np.array([[3, 0, 0]])),
            "one real position",
        ),
        Case(
            (np.ones((1, 3)), np.zeros((1, 3), dtype=int)), "only padding: 0.0"
        ),
        Case(
            (np.array([[2.0, 6.0]]), np.array([[-1, 7]]), -1), "another pad id"
        ),
    ],
    hints=[
        "Build a mask `targets != pad_id` and use it as 0/1 weights.",
        "Divide by the number of real positions (`mask.sum()`), not by N × T.",
    ],
    diagnose=lambda args, expected, got: (
        "That is the plain mean over all positions: padding must not count."
        if isinstance(got, (float, np.floating))
        and np.isclose(got, np.mean(args[0]))
        else None
    ),
)

ex3 = ThoughtExercise(
    "Reading the loss curves",
    prompt="""
        Training loss keeps falling every epoch; validation loss falls until epoch 4 and then
        rises. What is happening, which checkpoint do you keep, and name two things that would
        help.
    """,
    model_answer="""
        The model is over-fitting from epoch 4 on: it memorises the training captions (lower
        training loss) while getting worse on unseen images. Keep the checkpoint with the lowest
        validation loss (epoch 4): `EarlyStopping(patience=…, restore_best_weights=True)` plus a
        `ModelCheckpoint(save_best_only=True)`, so a resumed run starts from the right weights.
        Remedies: more data (or more captions per image), more dropout, a smaller model (fewer
        units, smaller embedding), a larger `min_count` (smaller vocabulary), weight decay,
        and keeping the CNN frozen. Judge the final choice by BLEU/CIDEr on the
        validation set too, since the loss and the caption quality do not always agree.
    """,
    hints=[
        "Which of the two losses tells you how the model does on images it has not seen?"
    ],
)

ex4 = ValueExercise(
    "Steps per epoch",
    expected=469,
    prompt="""
        Flickr8k's training split has 6,000 images with 5 captions each. With teacher forcing
        (one sample per caption) and `batch_size=64`, how many steps (batches) make one epoch?
        Then `ch6.ex4.check(answer)`.
    """,
    why="6,000 × 5 = 30,000 captions; 30,000 / 64 = 468.75, so 469 batches, the last one"
    " partial (Keras keeps it unless the dataset is batched with `drop_remainder=True`).",
    hints=["One sample per caption, and a partial last batch still counts."],
    mistakes=[
        Mistake(
            468,
            "the last, partial batch of 48 captions still counts: round up.",
        ),
        Mistake(
            94, "each image has 5 captions, and each caption is one sample."
        ),
        Mistake(
            93, "each image has 5 captions, and each caption is one sample."
        ),
    ],
)

EXERCISES = bind(globals())
