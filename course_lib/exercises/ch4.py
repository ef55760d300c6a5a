"""Chapter 4 exercises: feature extraction with a pretrained CNN (VGG16 fc2) and caching."""

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


def vgg16_preprocess(rgb):
    bgr = rgb[..., ::-1].astype(np.float32)
    return bgr - np.array([103.939, 116.779, 123.68], dtype=np.float32)


_rng = np.random.default_rng(4)

ex1 = FunctionExercise(
    "VGG16's preprocessing by hand",
    reference=vgg16_preprocess,
    prompt="""
        Keras's `keras.applications.vgg16.preprocess_input` expects RGB pixels in 0–255; it
        reverses the channels to BGR (the original Caffe weights were trained on BGR) and
        subtracts the ImageNet mean of each channel, in BGR order `[103.939, 116.779, 123.68]`.
        Write `vgg16_preprocess(rgb)` for a `uint8` array of shape `(..., 3)` (one image or a
        batch), returning `float32`. Check it with `ch4.ex1.check(vgg16_preprocess)`.
    """,
    cases=[
        Case((np.array([[[255, 0, 0]]], dtype=np.uint8),), "one red pixel"),
        Case((np.zeros((2, 2, 3), dtype=np.uint8),), "black image"),
        Case((np.full((1, 2, 3), 255, dtype=np.uint8),), "white image"),
        Case(
            (_rng.integers(0, 256, size=(2, 4, 4, 3), dtype=np.uint8),),
            "a batch of images",
        ),
        Case(
            (np.array([[[10, 20, 30]]], dtype=np.uint8),),
            "small values: uint8 must not wrap",
        ),
    ],
    check_dtype=True,
    atol=1e-3,
    hints=[
        "`rgb[..., ::-1]` reverses the last (channel) axis.",
        "Convert to float32 *before* subtracting: in uint8, 10 − 104 wraps around to 162.",
    ],
)

ex2 = ValueExercise(
    "The size of an fc2 feature",
    expected=4096,
    prompt="""
        We cut VGG16 at its second fully connected layer, `fc2`. How many numbers describe one
        image? Then `ch4.ex2.check(answer)`.
    """,
    why="VGG16's two fully connected layers fc1 and fc2 have 4,096 units each; the removed"
    " `predictions` layer has 1,000 (the ImageNet classes).",
    hints=[
        "`keras.applications.VGG16().summary()` lists fc1, fc2 and predictions."
    ],
    mistakes=[
        Mistake(1000, "that is the softmax layer (`predictions`) we cut off."),
        Mistake(
            25088,
            "that is the flattened 7 × 7 × 512 output of the last pooling layer.",
        ),
        Mistake(
            512,
            "that is the number of channels of the last convolution block.",
        ),
    ],
)

ex3 = ThoughtExercise(
    "Why not the softmax layer?",
    prompt="""
        Why do we describe an image by VGG16's fc2 activations rather than by its final softmax
        output, the 1,000 ImageNet class probabilities?
    """,
    model_answer="""
        The softmax output is trained to answer one question, "which of these 1,000 ImageNet
        classes is the main object?": it is nearly one-hot, throws away everything else (how
        many objects, where, doing what, the background) and its classes (dog breeds, not
        "beach" or "crowd") do not match a caption's vocabulary. fc2 is the last *general*
        representation: 4,096 non-negative features that the classifier combines, which keep
        much more of the scene and transfer better to a new task. (Even earlier layers keep
        spatial detail; attention models use the 14 × 14 conv maps for that reason.)
    """,
    hints=[
        "What question was the softmax layer trained to answer, and what does a caption need?"
    ],
)

ex4 = ValueExercise(
    "How big is the feature cache?",
    expected=126.42,
    rtol=0.01,
    prompt="""
        We cache one 4,096-d float32 fc2 vector for each of Flickr8k's 8,091 images. How large
        is the cache in MiB (1 MiB = `2**20` bytes)? Round to two decimals, then
        `ch4.ex4.check(answer)`.
    """,
    why="8,091 × 4,096 × 4 bytes = 132,562,944 bytes = 126.42 MiB: small enough to keep in"
    " memory, which is why we extract the features once and never run VGG16 while training.",
    hints=["float32 is 4 bytes; divide the bytes by 2**20 for MiB."],
    mistakes=[
        Mistake(
            132.56,
            "that is MB (10**6 bytes); a MiB is 2**20 = 1,048,576 bytes.",
        ),
        Mistake(31.61, "each float32 takes 4 bytes."),
        Mistake(252.84, "float32 is 4 bytes, not 8 (that would be float64)."),
    ],
)

EXERCISES = bind(globals())
