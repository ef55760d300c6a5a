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


def rebuild_ids(inputs, targets):
    return np.concatenate([inputs[:, :1], targets], axis=1)


def masked_mean_loss(losses, targets, pad_id=0):
    mask = (targets != pad_id).astype(losses.dtype)
    total = mask.sum()
    if total == 0:
        return 0.0
    return float((losses * mask).sum() / total)


_batch = np.array(
    [[2, 10, 11, 3, 0, 0], [2, 12, 13, 14, 15, 3]], dtype=np.int32
)


def _shifted(ids):
    """The (inputs, targets) pair of ``make_tf_dataset`` for ``ids``."""
    ids = np.asarray(ids)
    return ids[:, :-1], ids[:, 1:]


def _rebuild_diagnosis(args, expected, got):
    """What a wrong ``rebuild_ids`` shape says about the answer."""
    shape = np.shape(got)
    if len(shape) != 2 or shape == expected.shape:
        return None
    if shape[0] != expected.shape[0]:
        return "Join along the time axis (axis 1), not the batch axis."
    if shape[1] > expected.shape[1]:
        return (
            "inputs and targets share most of their columns: each column"
            " of ids belongs in the result once."
        )
    return None


ex1 = FunctionExercise(
    "Undoing the teacher-forcing shift",
    reference=rebuild_ids,
    prompt="""
        Teacher forcing {cite}`williams1989learning` feeds the model the true previous word at
        every position. `make_tf_dataset` turns a batch of captions, an int array `ids` of
        shape `(N, T)` (`<start>` (2), words, `<end>` (3), then padding (0)), into the model's
        `inputs` and `targets`, both `(N, T - 1)`. Go the other way: write
        `rebuild_ids(inputs, targets)` returning the `ids` they were made from. Check it with
        `ch6.ex1.check(rebuild_ids)`.
    """,
    cases=[
        Case(_shifted(_batch)),
        Case(_shifted([[2, 3]]), "T = 2: one prediction"),
        Case(_shifted([[2, 7, 8, 9, 3]]), "one caption, no padding"),
        Case(_shifted(np.arange(24).reshape(4, 6)), "N = 4"),
    ],
    hints=[
        "Which column of `ids` is in `inputs` but not in `targets`?",
        "Every other column of `ids` is in `targets`; `np.concatenate(..., axis=1)`"
        " joins arrays along the time axis.",
    ],
    explanation="""
        The targets are `ids` without its first column, so only that column (the `<start>` of
        every row) is missing from them, and it is the first column of `inputs`. Adding the
        last column of `targets` to `inputs` works too:
        `np.concatenate([inputs, targets[:, -1:]], axis=1)`.
    """,
    diagnose=_rebuild_diagnosis,
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
        and keeping the CNN frozen. Judge the final choice by BLEU/CIDEr (chapter 7) on the
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
