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
    "The size of a grid at another image size",
    expected=20 * 20 * 512,
    prompt="""
        Without its fully connected layers (`include_top=False`) VGG16 accepts other image
        sizes. We feed it 320 × 320 images and cut it at `block5_conv3`, the grid that
        attention reads. How many numbers describe one image? Then `ch4.ex2.check(answer)`.
    """,
    why="Every convolution keeps the size of its map (3 × 3 kernels, `same` padding); each"
    " of the four poolings before block5 halves it: 320 / 2**4 = 20. block5_conv3 has 512"
    " channels, so 20 × 20 regions of 512 numbers: 204,800.",
    hints=[
        "Which layers change the height and width of the map, and how many of them come"
        " before `block5_conv3`?",
        "The chapter's table gives the map at 224 × 224: scale its side, not the channels.",
    ],
    mistakes=[
        Mistake(
            14 * 14 * 512,
            "that is the grid of a 224 × 224 image; here the images are 320 × 320.",
        ),
        Mistake(
            10 * 10 * 512,
            "that is after `block5_pool`, one pooling too many: block5_conv3 comes"
            " before it.",
        ),
        Mistake(
            400,
            "that is the number of regions; each region has a vector of 512 numbers.",
        ),
        Mistake(
            4096,
            "that is `fc2`, which `include_top=False` leaves out (and which only takes"
            " 224 × 224 images).",
        ),
    ],
)

ex3 = ThoughtExercise(
    "Why not the last pooling layer?",
    prompt="""
        `fc1` connects all 25,088 numbers of VGG16's last pooling layer, `block5_pool`
        (7 × 7 positions × 512 channels), to its 4,096 units. Why not describe each image by
        those 25,088 numbers directly, instead of fc2's? Give one argument for it and two
        against it.
    """,
    model_answer="""
        * **For:** `block5_pool` keeps *where* things are (one vector per position of a 7 × 7
          grid), which fc1 and fc2 mix away, and it is further from the ImageNet classes, so
          a little more general.
        * **Against, size:** it is about six times larger than fc2's vector: six times the
          cache on disk and in memory, and a captioner whose first image layer,
          `Dense(256)`, has about six times the weights, to be learned from a few thousand
          training images, so it overfits more easily.
        * **Against, position:** flattened, each number belongs to one fixed position. The
          same dog on the left or on the right of the photo gives different numbers, and the
          captioner must learn that these mean the same thing; fc1 and fc2 were trained on
          ImageNet's photos to make that combination. The attention model of chapter 8 keeps
          the positions but treats every region with the same weights, which avoids both
          problems.
    """,
    hints=[
        "Compare the two: how many numbers, and what does one number of each stand for?",
        "What would the first layer of the captioner's image branch then have to learn?",
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
