"""Chapter 8 exercises: attention (its weights and context by hand, the chance level, the memory
of a grid store, where the model's "where" comes from)."""

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


def attention_weights(keys, query, v):
    scores = np.tanh(keys + query[:, None, :]) @ v  # (B, L)
    scores = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=-1, keepdims=True)


def context_vector(alpha, regions):
    return np.sum(alpha[..., None] * regions, axis=1)


def _attention_case(
    batch: int, regions: int, units: int, seed: int, v_scale: float = 1.0
):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, regions, units)),
        rng.normal(size=(batch, units)),
        rng.normal(size=(units,)) * v_scale,
    )


def _same_keys_case():
    keys, query, v = _attention_case(2, 5, 3, 4)
    return (np.repeat(keys[:, :1], 5, axis=1), query, v)


def _softmax_over_the_batch(args, expected, got) -> str | None:
    """ex1's diagnosis: weights that sum to 1 over the batch instead of over the regions."""
    try:
        got = np.asarray(got, dtype=float)
        wrong_axis = (
            got.shape == expected.shape
            and got.shape[0] > 1
            and np.allclose(got.sum(axis=0), 1.0)
            and not np.allclose(got.sum(axis=-1), 1.0)
        )
    except (TypeError, ValueError):
        return None
    if wrong_axis:
        return "Each image's weights must sum to 1 over its regions (the last axis), not the batch."
    return None


def _plain_mean(args, expected, got) -> str | None:
    """ex2's diagnosis: the plain mean of the regions, whatever the weights."""
    mean = np.asarray(args[1], dtype=float).mean(axis=1)
    try:
        got = np.asarray(got, dtype=float)
        same = got.shape == mean.shape and np.allclose(got, mean)
    except (TypeError, ValueError):
        return None
    if same and not np.allclose(expected, mean):
        return "Weight each region by its α: the plain mean ignores where the model looks."
    return None


ex1 = FunctionExercise(
    "Additive attention weights",
    reference=attention_weights,
    prompt="""
        One step of additive attention for a batch of `B` images with `L` regions each: the
        keys `W_a a_i` of shape `(B, L, A)`, the query `W_h h + b` of shape `(B, A)` (one per
        image) and the score vector `v` of shape `(A,)`. Write `attention_weights(keys, query,
        v)` returning the weights `α = softmax(e)` of shape `(B, L)`, where
        `e_i = v · tanh(key_i + query)`, the softmax taken over each image's `L` regions and
        stable for large scores. Check it with `ch8.ex1.check(attention_weights)`.
    """,
    cases=[
        Case(_attention_case(2, 6, 4, 0)),
        Case(_attention_case(1, 9, 3, 1), "one image"),
        Case(_attention_case(3, 4, 5, 2, v_scale=500.0), "large scores"),
        Case(_same_keys_case(), "every region the same: uniform weights"),
        Case(_attention_case(2, 1, 3, 3), "a single region"),
    ],
    hints=[
        "Add the query to every region's key with a region axis: `keys + query[:, None, :]`,"
        " shape (B, L, A); `np.tanh(...) @ v` gives the scores, shape (B, L).",
        "The softmax runs over the regions, the last axis of the scores; subtract each row's"
        " maximum before `np.exp`.",
    ],
    diagnose=_softmax_over_the_batch,
)

_alpha = np.array([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]])
_regions = np.arange(24, dtype=float).reshape(2, 4, 3)

ex2 = FunctionExercise(
    "The context vector",
    reference=context_vector,
    prompt="""
        The model reads the image through the weighted mean of its regions, the context
        `z = Σ_i α_i a_i`. Write `context_vector(alpha, regions)` for weights `alpha` of shape
        `(B, L)` and region vectors `regions` of shape `(B, L, C)`, returning `z` of shape
        `(B, C)`. Check it with `ch8.ex2.check(context_vector)`.
    """,
    cases=[
        Case((_alpha, _regions)),
        Case((np.eye(4)[[2]], _regions[:1]), "all the attention on region 2"),
        Case((_alpha[1:], _regions[1:]), "uniform weights: the plain mean"),
        Case(
            (
                np.full((3, 5), 0.2),
                np.random.default_rng(0).normal(size=(3, 5, 2)),
            ),
            "three images",
        ),
        Case(
            (np.array([[1.0]]), np.array([[[1.0, -2.0, 3.0]]])),
            "a single region",
        ),
    ],
    hints=[
        "Give the weights a channel axis, `alpha[..., None]` of shape (B, L, 1), so that they"
        " multiply every channel of their region.",
        "Then sum over the regions, axis 1.",
    ],
    diagnose=_plain_mean,
)

ex3 = ValueExercise(
    "The chance level of attention correctness",
    expected=0.0625,
    prompt="""
        A 64 × 64 image is read as an 8 × 8 grid of regions, and an object's box covers a
        16 × 16-pixel square that lines up with the cells. What share of its attention does a
        model that spreads its attention evenly over the grid put on the box? Write it as a
        fraction between 0 and 1, then `ch8.ex3.check(answer)`.
    """,
    why="Each cell is 8 × 8 pixels, so the box covers 2 × 2 = 4 of the 64 cells; even attention"
    " gives each cell 1/64, so 4/64 of it falls on the box: the box's share of the image.",
    hints=[
        "How many pixels wide is one cell? Then how many cells does the box cover?",
        "Even attention gives every cell the same weight; the weights sum to 1.",
    ],
    mistakes=[
        Mistake(
            0.25,
            "16 pixels is a quarter of the side, but the box is a square: count cells.",
        ),
        Mistake(
            4,
            "that is the number of cells; the answer is a share of the attention.",
        ),
        Mistake(
            1 / 64,
            "that is one cell's share; the box covers more than one cell.",
        ),
    ],
)

ex4 = ValueExercise(
    "Flickr8k's grids in memory",
    expected=8091 * 196 * 512 * 2 / 2**30,
    rtol=0.01,
    prompt="""
        On Flickr8k the attention model reads VGG16's `block5_conv3` map: 14 × 14 regions of
        512 channels per image, stored as float16 (2 bytes a number). How many GiB
        (2³⁰ bytes) do the grids of all 8,091 images take? Round to two decimals, then
        `ch8.ex4.check(answer)`.
    """,
    why="8,091 × 196 × 512 × 2 bytes ≈ 1.62 × 10⁹ bytes ≈ 1.51 GiB: fifty times the fc2 vectors"
    " (4,096 numbers an image), which is why the store is read memory-mapped, a batch at a time.",
    hints=[
        "Numbers per image: regions × channels. Bytes: images × numbers × bytes per number.",
        "Divide by 2**30 for GiB (not 10**9).",
    ],
    mistakes=[
        Mistake(
            round(8091 * 196 * 512 * 4 / 2**30, 2),
            "float16 has 2 bytes a number, not 4.",
        ),
        Mistake(
            round(8091 * 196 * 512 * 2 / 1e9, 2),
            "a GiB is 2³⁰ bytes, not 10⁹.",
        ),
        Mistake(
            round(8091 * 14 * 512 * 2 / 2**30, 2),
            "a 14 × 14 grid has 196 regions.",
        ),
    ],
)

ex5 = ThoughtExercise(
    "Where does the context say where?",
    prompt="""
        The context `z = Σ α_i a_i` is a weighted mean of region vectors. The course's model
        appends each region's `(x, y)` to its vector before attending. Why does that help it
        choose between "left of" and "right of"? What would the context say about *where* the
        model looked without it, and what still could carry that information?
    """,
    model_answer="""
        A weighted mean keeps *what* the attended regions contain and throws away their order:
        the same vectors in other cells give the same `z`. With `(x, y)` appended, `z` also
        holds the attention-weighted mean position, so when the model has looked at the first
        object and then at the second, its LSTM has seen both positions and can compare them:
        "left of" is the sign of the difference in `x`. Without the coordinates, the position
        survives only as far as the region vectors themselves encode it: the backbone's
        receptive fields reach the image borders, padding makes edge cells differ, and the small
        CNN adds coordinate channels of its own before its last convolution. But that is
        incidental, and a model would have to learn to decode it; appending `(x, y)` makes it
        explicit.
    """,
    hints=["Swap two region vectors and their weights: does `z` change?"],
)

EXERCISES = bind(globals())
