"""Chapter 1 exercises: convolutional networks (convolution and pooling by hand, Keras conv)."""

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

# -- reference solutions (what the notebooks' solution cells contain) ------------------------


def conv_output_size(n, k, stride=1, padding=0):
    return (n + 2 * padding - k) // stride + 1


def conv2d_valid(image, kernel):
    kh, kw = kernel.shape
    out_h = image.shape[0] - kh + 1
    out_w = image.shape[1] - kw + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def max_pool2d(x, size=2, stride=None):
    stride = size if stride is None else stride
    out_h = (x.shape[0] - size) // stride + 1
    out_w = (x.shape[1] - size) // stride + 1
    out = np.zeros((out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = x[
                i * stride : i * stride + size, j * stride : j * stride + size
            ].max()
    return out


_rng = np.random.default_rng(1)
_img = _rng.normal(size=(6, 7))

ex1 = FunctionExercise(
    "Output size of a convolution",
    reference=conv_output_size,
    prompt="""
        Write `conv_output_size(n, k, stride=1, padding=0)`: the width of the output of a
        convolution with a kernel of width `k`, moved by `stride`, over an input of width `n`
        padded with `padding` zeros on each side. Check it with `ch1.ex1.check(conv_output_size)`.
    """,
    cases=[
        (5, 3),
        (5, 3, 2, 1),
        (224, 3, 1, 1),
        (7, 3, 2, 0),
        (6, 2, 3, 0),  # stride larger than the kernel
        (3, 3),  # kernel as large as the input
        (28, 5, 1, 2),
        (8, 1, 4, 0),
    ],
    hints=[
        "Count the positions where the kernel fits entirely: the padded input has `n + 2 * padding`"
        " pixels, and the first position is 0.",
        "The kernel's left edge can go from 0 to `n + 2 * padding - k`, in steps of `stride`."
        " Integer division `//` counts the steps; add 1 for the first position.",
    ],
    explanation="Positions 0, stride, 2·stride, … up to n + 2·padding − k: that is"
    " (n + 2·padding − k) // stride + 1 positions.",
)

ex2 = FunctionExercise(
    "A 2-D convolution by hand",
    reference=conv2d_valid,
    prompt="""
        Write `conv2d_valid(image, kernel)` for a single-channel `image` of shape `(H, W)` and a
        `kernel` of shape `(kh, kw)`: the "valid" 2-D cross-correlation (what deep-learning
        libraries call convolution: the kernel is **not** flipped), of shape
        `(H - kh + 1, W - kw + 1)`. Check it with `ch1.ex2.check(conv2d_valid)`.
    """,
    cases=[
        Case((np.arange(16.0).reshape(4, 4), np.ones((2, 2)))),
        Case((_img, np.array([[1.0, 0.0, -1.0]] * 3))),
        Case(
            (
                np.arange(12.0).reshape(3, 4),
                np.array([[0.0, 1.0], [2.0, 3.0]]),
            ),
            "not symmetric",
        ),
        Case((_img, np.array([[2.0]])), "1×1 kernel"),
        Case((np.eye(3), np.eye(3)), "kernel as large as the image"),
        Case((_img[:2], np.ones((1, 4))), "rectangular kernel"),
    ],
    hints=[
        "Loop over every output position (i, j); the window is `image[i:i + kh, j:j + kw]`.",
        "Each output value is `np.sum(window * kernel)`; do not flip the kernel.",
    ],
    explanation="The same small kernel slides over every position: that is weight sharing.",
)

ex3 = FunctionExercise(
    "Max pooling",
    reference=max_pool2d,
    prompt="""
        Write `max_pool2d(x, size=2, stride=None)` for a 2-D array `x`: the maximum of each
        `size × size` window, windows moved by `stride` (which defaults to `size`). Rows and
        columns that do not fill a whole window are dropped (Keras's `padding="valid"`).
        Check it with `ch1.ex3.check(max_pool2d)`.
    """,
    cases=[
        Case((np.arange(16).reshape(4, 4),)),
        Case(
            (np.arange(25).reshape(5, 5),),
            "odd size: the last row and column are dropped",
        ),
        Case((-np.arange(16.0).reshape(4, 4),), "negative values"),
        Case((_img, 3, 1), "overlapping windows (stride < size)"),
        Case((_img, 2, 3), "stride > size"),
        Case((np.array([[7.0]]), 1), "1×1"),
    ],
    hints=[
        "The output size is the same formula as for a convolution without padding:"
        " `(n - size) // stride + 1` in each direction.",
        "Take `window.max()` of each window, `window = x[i * stride:i * stride + size, ...]`."
        " A running maximum must not start at 0: inputs can be negative.",
    ],
    diagnose=lambda args, expected, got: (
        "Negative inputs: did you start the running maximum at 0?"
        if np.all(np.asarray(args[0]) < 1) and np.any(np.asarray(got) == 0)
        else None
    ),
)

ex4 = ValueExercise(
    "Parameters of a convolution layer",
    expected=448,
    prompt="""
        How many trainable parameters does `keras.layers.Conv2D(16, 3)` have on an RGB input
        (3 channels)? Predict it, then `ch1.ex4.check(answer)`.
    """,
    why="Each of the 16 filters has 3 × 3 × 3 = 27 weights (it spans all 3 input channels) and"
    " one bias: 16 × (27 + 1) = 448. The image size does not matter.",
    hints=[
        "A filter covers a 3 × 3 window across *all* input channels.",
        "Do not forget one bias per filter.",
    ],
    mistakes=[
        Mistake(
            432,
            "that is the weights only; each filter also has a bias (16 more).",
        ),
        Mistake(
            160,
            "each filter spans all 3 input channels, so it has 3 × 3 × 3 weights.",
        ),
        Mistake(144, "each filter spans all 3 input channels and has a bias."),
    ],
)

ex5 = ThoughtExercise(
    "Why convolutions and not dense layers?",
    prompt="""
        A `Dense(16)` layer on a flattened 224 × 224 × 3 image and a `Conv2D(16, 3)` both output
        16 numbers per … what? Compare their parameter counts and say why the convolution suits
        images better.
    """,
    model_answer="""
        `Dense(16)` on 150,528 inputs has 150,528 × 16 + 16 ≈ 2.4 million parameters, and it
        outputs 16 numbers for the whole image. `Conv2D(16, 3)` has 448 parameters and outputs 16
        numbers **per position** (a feature map). The convolution (1) shares the same small
        filter across all positions, so a pattern learnt in one place is recognised everywhere
        (translation equivariance; pooling adds some invariance); (2) looks at local
        neighbourhoods, which is where the structure of images is (edges, textures), and stacking
        layers grows the receptive field; (3) needs far fewer parameters, so it over-fits less
        and trains on less data.
    """,
    hints=["Count Dense's parameters: inputs × units + units."],
)

EXERCISES = bind(globals())
