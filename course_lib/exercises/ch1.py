"""Chapter 1 exercises: convolutional networks (output size, convolution
and pooling by hand, Keras conv)."""

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


def conv_output_size(n, k, stride=1, padding=0, dilation=1):
    span = dilation * (k - 1) + 1  # the pixels the dilated kernel covers
    return (n + 2 * padding - span) // stride + 1


def conv2d_channels(image, kernels):
    kh, kw, _, filters = kernels.shape
    out_h = image.shape[0] - kh + 1
    out_w = image.shape[1] - kw + 1
    out = np.zeros((out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            window = image[i : i + kh, j : j + kw, :, None]  # (kh, kw, C, 1)
            out[i, j] = np.sum(window * kernels, axis=(0, 1, 2))
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
    "Output size of a dilated convolution",
    reference=conv_output_size,
    prompt="""
        A *dilated* convolution spreads its kernel out: with `dilation` d, neighbouring
        weights of the kernel are d pixels apart instead of 1 (d − 1 pixels skipped between
        them; Keras's `dilation_rate`), so it sees a larger window with the same number of
        weights. Write `conv_output_size(n, k, stride=1, padding=0, dilation=1)`: the width of
        the output of a convolution with a kernel of `k` weights, dilated by `dilation`, moved
        by `stride`, over an input of width `n` padded with `padding` zeros on each side.
        Check it with `ch1.ex1.check(conv_output_size)`.
    """,
    cases=[
        (5, 3),
        (5, 3, 2, 1),
        (7, 3, 2, 0),
        (6, 2, 3, 0),  # stride larger than the kernel
        (3, 3),  # kernel as large as the input
        Case((9, 3, 1, 0, 2), "dilation 2"),
        Case((28, 3, 1, 2, 2), "dilation 2, padded"),
        Case((15, 3, 2, 0, 3), "dilation 3 and stride 2"),
        Case((8, 1, 4, 0, 3), "a 1-weight kernel: dilation changes nothing"),
        Case((5, 3, 1, 0, 2), "the dilated kernel just fits"),
    ],
    hints=[
        "First find how many pixels the dilated kernel covers, from its first weight to its"
        " last: k weights with d − 1 pixels skipped between neighbours.",
        "Count the positions where that span fits entirely in the padded input of"
        " `n + 2 * padding` pixels, the first at 0, then one every `stride` pixels.",
    ],
    diagnose=lambda args, expected, got: (
        "Does your answer use the pixels the dilated kernel covers, not its k weights?"
        if len(args) == 5 and args[4] > 1 and args[1] > 1
        else None
    ),
    explanation="A dilated kernel covers d·(k − 1) + 1 pixels; positions 0, stride,"
    " 2·stride, … up to n + 2·padding − that span: (n + 2·padding − d·(k − 1) − 1)"
    " // stride + 1 positions. Keras's `Conv2D(..., dilation_rate=d)` gives the same sizes.",
)

_kernels = _rng.normal(size=(2, 3, 3, 4))
_pixels = _rng.normal(size=(5, 6, 3))

ex2 = FunctionExercise(
    "A convolution over channels, by hand",
    reference=conv2d_channels,
    prompt="""
        Real images have channels, and a layer has many filters. Write
        `conv2d_channels(image, kernels)` for a channels-last `image` of shape `(H, W, C)` and
        `kernels` in Keras's layout `(kh, kw, C, F)` (F filters): the "valid"
        cross-correlation that `keras.layers.Conv2D(F, (kh, kw), use_bias=False)` computes,
        of shape `(H - kh + 1, W - kw + 1, F)`. Check it with
        `ch1.ex2.check(conv2d_channels)`.
    """,
    cases=[
        Case(
            (np.ones((3, 3, 1)), np.ones((2, 2, 1, 1))),
            "one channel, one filter",
        ),
        Case((_pixels, _kernels), "3 channels, 4 filters"),
        Case(
            (np.arange(24.0).reshape(2, 4, 3), _kernels[:1, :2, :, :2]),
            "not symmetric",
        ),
        Case((_pixels, _rng.normal(size=(1, 1, 3, 2))), "1×1 kernels"),
        Case((_pixels[:2, :3], _kernels), "kernel as large as the image"),
    ],
    hints=[
        "Each output value (i, j, f) looks at one window `image[i:i + kh, j:j + kw, :]`"
        " through *all* C channels, with filter `kernels[:, :, :, f]`; do not flip it.",
        "Multiply the window by the filter and sum over height, width and channels:"
        " one number per filter. `window[..., None] * kernels` does all F filters at once.",
    ],
    diagnose=lambda args, expected, got: (
        "The shape is right but not the values: does each filter sum over all C input"
        " channels, and is the kernel unflipped?"
        if np.shape(got) == np.shape(expected)
        else None
    ),
    explanation="Each filter spans all input channels, and the same filters slide over every"
    " position: weight sharing.",
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
