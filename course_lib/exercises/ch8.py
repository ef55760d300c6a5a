"""Chapter 8 exercises: attention (its weights with padding and the place it
looked at, by hand; the chance level; the memory of a grid store; where the
model's "where" comes from)."""

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


def attention_weights(keys, query, v, mask):
    scores = np.tanh(keys + query[:, None, :]) @ v  # (B, L)
    scores = np.where(mask, scores, -np.inf)  # padding: exp(-inf) = 0
    scores = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=-1, keepdims=True)


def attended_place(alpha, side):
    rows, cols = np.divmod(np.arange(side * side), side)  # row by row
    steps = np.linspace(-1.0, 1.0, side)
    places = np.stack([steps[cols], steps[rows]], axis=-1)  # (L, 2): x, y
    return alpha @ places


def _attention_case(
    real: tuple[int, ...],
    regions: int,
    units: int,
    seed: int,
    v_scale: float = 1.0,
):
    """Keys, query, v and a mask for ``len(real)`` images padded to
    ``regions``: image b's first ``real[b]`` regions are real."""
    rng = np.random.default_rng(seed)
    batch = len(real)
    mask = np.arange(regions)[None, :] < np.asarray(real)[:, None]
    return (
        rng.normal(size=(batch, regions, units)),
        rng.normal(size=(batch, units)),
        rng.normal(size=(units,)) * v_scale,
        mask,
    )


def _same_keys_case():
    keys, query, v, mask = _attention_case((5, 3), 5, 3, 4)
    return (np.repeat(keys[:, :1], 5, axis=1), query, v, mask)


def _wrong_axis_or_padding(args, expected, got) -> str | None:
    """ex1's diagnoses: weights that sum to 1 over the batch instead of over
    the regions, or weight left on the padded regions."""
    mask = np.asarray(args[3], dtype=bool)
    try:
        got = np.asarray(got, dtype=float)
        if got.shape != expected.shape:
            return None
        wrong_axis = (
            got.shape[0] > 1
            and np.allclose(got.sum(axis=0), 1.0)
            and not np.allclose(got.sum(axis=-1), 1.0)
        )
        on_padding = bool(np.any(np.abs(got[~mask]) > 1e-9))
    except (TypeError, ValueError):
        return None
    if wrong_axis:
        return "Each image's weights must sum to 1 over its regions (the last axis), not the batch."
    if on_padding:
        return "A padded region (mask False) must get weight 0, and the real ones share all of it."
    return None


def _place_diagnosis(args, expected, got) -> str | None:
    """ex2's diagnoses: the grid read column by column (x and y swapped), or
    the plain mean of the places, whatever the weights."""
    side = args[1]
    try:
        got = np.asarray(got, dtype=float)
        if got.shape != expected.shape:
            return None
        swapped = np.allclose(got, expected[:, ::-1])
        plain = np.allclose(got, 0.0)
    except (TypeError, ValueError):
        return None
    if swapped and not np.allclose(expected, expected[:, ::-1]):
        return (
            f"The grid is flattened row by row: region i is in row i // {side}"
            f" and column i % {side}, and x goes with the column."
        )
    if plain and not np.allclose(expected, 0.0):
        return "Weight each region's place by its α: the plain mean of the places is the centre."
    return None


ex1 = FunctionExercise(
    "Additive attention weights, with padding",
    reference=attention_weights,
    prompt="""
        One step of additive attention for a batch of `B` images whose grids differ in size:
        each is padded to `L` regions, and `mask`, booleans of shape `(B, L)`, is `True` for
        the real regions. The keys `W_a a_i` have shape `(B, L, A)`, the query `W_h h + b`
        shape `(B, A)` (one per image) and the score vector `v` shape `(A,)`. Write
        `attention_weights(keys, query, v, mask)` returning the weights `α = softmax(e)` of
        shape `(B, L)`, where `e_i = v · tanh(key_i + query)`: the softmax is taken over each
        image's real regions (a padded region gets weight 0) and is stable for large scores.
        Check it with `ch8.ex1.check(attention_weights)`.
    """,
    cases=[
        Case(_attention_case((6, 4), 6, 4, 0)),
        Case(_attention_case((9,), 9, 3, 1), "one image, no padding"),
        Case(
            _attention_case((4, 2, 3), 4, 5, 2, v_scale=500.0), "large scores"
        ),
        Case(_same_keys_case(), "every region the same: even weights"),
        Case(_attention_case((1, 1), 4, 3, 3), "a single real region"),
    ],
    hints=[
        "Add the query to every region's key with a region axis: `keys + query[:, None, :]`,"
        " shape (B, L, A); `np.tanh(...) @ v` gives the scores, shape (B, L).",
        "A score of `-np.inf` becomes a weight of 0: `np.where(mask, scores, -np.inf)`. The"
        " softmax runs over the last axis; subtract each row's maximum before `np.exp`.",
    ],
    diagnose=_wrong_axis_or_padding,
)

_peaked = np.random.default_rng(5).dirichlet(np.full(9, 0.3), size=2)
_two_cells = np.zeros((1, 64))
_two_cells[0, [1, 6]] = 0.5

ex2 = FunctionExercise(
    "Where the model looked",
    reference=attended_place,
    prompt="""
        The course's model appends each region's place `(x, y)` to its vector, so the context
        `z = Σ_i α_i a_i` holds the mean place the model looked at, `Σ_i α_i (x_i, y_i)`. The
        weights `alpha`, shape `(B, L)`, are over a `side × side` grid flattened row by row,
        the backbone's order (region `i` is in row `i // side` and column `i % side`); `x`
        runs from -1 in the left column to 1 in the right one, `y` from -1 in the top row to
        1 in the bottom one, in equal steps. Write `attended_place(alpha, side)` returning
        the mean places, shape `(B, 2)` with `x` first. Check it with
        `ch8.ex2.check(attended_place)`.
    """,
    cases=[
        Case((_peaked, 3)),
        Case((np.eye(4)[[2]], 2), "all the attention on one region"),
        Case((np.full((1, 16), 1 / 16), 4), "even weights"),
        Case((np.eye(64)[[0, 7, 63]], 8), "three images, one region each"),
        Case((_two_cells, 8), "half on each of two regions"),
    ],
    hints=[
        "Number the regions `np.arange(side * side)`; `np.divmod(i, side)` gives each one's"
        " row and column, and `np.linspace(-1, 1, side)` the coordinate of each row or column.",
        "Stack the regions' `(x, y)` into an `(L, 2)` array: `alpha @ places` is the weighted"
        " mean, since each image's weights sum to 1.",
    ],
    diagnose=_place_diagnosis,
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

#: Exercise 8.4: VGG16's map for 448-px images (the chapter's table has 224 px).
_SIDE_448 = 448 // 16  # four 2 × 2 poolings before block5_conv3
_GRID_BYTES = 8091 * _SIDE_448**2 * 512 * 2
_FC2_BYTES = 4096 * 4  # the merge model's fc2 vector, float32

ex4 = ValueExercise(
    "Flickr8k's grids at 448 pixels",
    expected=_GRID_BYTES / 2**30,
    rtol=0.01,
    prompt="""
        Fed 448 × 448 images instead of 224 × 224, VGG16's `block5_conv3` map has 28 × 28
        regions of 512 channels per image. Stored as float16 (2 bytes a number), how many
        GiB (2³⁰ bytes) do the grids of all 8,091 Flickr8k images take? Round to two
        decimals, then `ch8.ex4.check(answer)`.
    """,
    why=f"8,091 × 784 × 512 × 2 bytes ≈ {_GRID_BYTES / 1e9:.2f} × 10⁹ bytes ≈"
    f" {_GRID_BYTES / 2**30:.2f} GiB, {_GRID_BYTES / (8091 * _FC2_BYTES):g} times the"
    " fc2 vectors (4,096 float32 numbers an image), and four times the 224-pixel grids:"
    " which is why the store is read memory-mapped, a batch at a time.",
    hints=[
        "Numbers per image: regions × channels, and 28 × 28 regions. Bytes: images ×"
        " numbers × bytes per number.",
        "Divide by 2**30 for GiB (not 10**9).",
    ],
    mistakes=[
        Mistake(
            round(_GRID_BYTES * 2 / 2**30, 2),
            "float16 has 2 bytes a number, not 4.",
        ),
        Mistake(
            round(_GRID_BYTES / 1e9, 2),
            "a GiB is 2³⁰ bytes, not 10⁹.",
        ),
        Mistake(
            round(8091 * 28 * 512 * 2 / 2**30, 2),
            "a 28 × 28 grid has 28 × 28 regions.",
        ),
        Mistake(
            round(8091 * 14 * 14 * 512 * 2 / 2**30, 2),
            "that is the 224-pixel grid; at 448 pixels each side has twice the cells.",
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
