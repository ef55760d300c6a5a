"""Chapter 2 exercises: recurrent networks and LSTMs (a GRU step in NumPy,
parameter counts, a stable softmax, how long a cell state remembers)."""

from __future__ import annotations

import numpy as np

from course_lib.exercises.core import (
    Case,
    FunctionExercise,
    Mistake,
    ValueExercise,
)
from course_lib.exercises.view import bind

# -- reference solutions ----------------------------------------------------------------------


def gru_step(x, h, W, U, b):
    H = h.shape[-1]

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    xw = x @ W + b  # (B, 3H): blocks in Keras's order z, r, candidate
    hu = h @ U  # (B, 3H)
    z = sigmoid(xw[:, :H] + hu[:, :H])
    r = sigmoid(xw[:, H : 2 * H] + hu[:, H : 2 * H])
    g = np.tanh(xw[:, 2 * H :] + r * hu[:, 2 * H :])
    return z * h + (1 - z) * g


def softmax(logits):
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def _gru_case(
    batch: int, dim: int, units: int, seed: int, scale: float = 0.5
) -> tuple:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, dim)),
        rng.normal(size=(batch, units)) * 0.5,
        rng.normal(size=(dim, 3 * units)) * scale,
        rng.normal(size=(units, 3 * units)) * scale,
        rng.normal(size=(3 * units,)) * scale,
    )


_zero_case = _gru_case(2, 3, 4, 5)
_zero_case = (np.zeros((2, 3)), np.zeros((2, 4)), *_zero_case[2:])
_keep_case = list(_gru_case(1, 2, 3, 6))
_keep_case[4] = np.concatenate([np.full(3, 5.0), np.zeros(6)])  # z ≈ 1

ex1 = FunctionExercise(
    "One GRU step in NumPy",
    reference=gru_step,
    prompt="""
        The GRU (the note on it in this chapter) has no cell state: its one state $h$ is
        updated with an *update gate* $z$, a *reset gate* $r$ and a candidate $g$:

        $$
        \\begin{aligned}
        z &= \\sigma(x W_z + h U_z + b_z), \\qquad r = \\sigma(x W_r + h U_r + b_r),\\\\
        g &= \\tanh\\bigl(x W_g + b_g + r \\odot (h U_g)\\bigr), \\qquad
        h_\\text{new} = z \\odot h + (1 - z) \\odot g .
        \\end{aligned}
        $$

        Write `gru_step(x, h, W, U, b)` returning `h_new` for inputs `x` of shape `(B, D)`,
        state `h` of shape `(B, H)`, kernel `W` `(D, 3H)`, recurrent kernel `U` `(H, 3H)` and
        bias `b` `(3H,)`, the three blocks concatenated in Keras's order **z, r, g**. (This is
        `keras.layers.GRU` with its recurrent bias at 0.) Check it with
        `ch2.ex1.check(gru_step)`.
    """,
    cases=[
        Case(_gru_case(2, 3, 4, 0)),
        Case(_gru_case(1, 5, 2, 1), "batch of one"),
        Case(_zero_case, "zero input and state: only the bias acts"),
        Case(tuple(_keep_case), "a large update-gate bias: z near 1"),
        Case(
            _gru_case(3, 2, 3, 2, scale=4.0), "large weights: saturated gates"
        ),
    ],
    hints=[
        "Compute `x @ W + b` and `h @ U` once each, shape `(B, 3H)`, then slice each into"
        " three blocks of `H` columns in the order z, r, g.",
        "The reset gate multiplies `h @ U_g` (after the product), and `z` keeps the old"
        " state: `h_new = z * h + (1 - z) * g`.",
    ],
    diagnose=lambda args, expected, got: (
        "Check the block order (z, r, g), that r multiplies h @ U_g, and which way z"
        " mixes: z keeps the old h, 1 − z takes the candidate."
        if np.shape(got) == np.shape(expected)
        else "Return h_new, one array of shape (B, H)."
    ),
    explanation="Two gates instead of the LSTM's three, three blocks of weights instead of"
    " four, and no cell state: when z is near 1 the state is copied forward almost"
    " unchanged, the same additive path for the gradient as the LSTM's cell.",
)

ex2 = ValueExercise(
    "Parameters of an LSTM layer",
    expected=525_312,
    prompt="""
        How many trainable parameters does `keras.layers.LSTM(256)` have on inputs of dimension
        256 (the captioning model's embeddings)? Predict it, then `ch2.ex2.check(answer)`.
    """,
    why="Four gates, each with an input kernel (256 × 256), a recurrent kernel (256 × 256) and a"
    " bias (256): 4 × (256 × (256 + 256) + 256) = 525,312.",
    hints=[
        "There are four gates (i, f, c, o) and each is a small dense layer.",
        "Each gate sees the input *and* the previous hidden state:"
        " units × (input + units) + units.",
    ],
    mistakes=[
        Mistake(131_328, "that is one gate; an LSTM has four (i, f, c, o)."),
        Mistake(524_288, "do not forget the biases (4 × 256)."),
        Mistake(
            262_400,
            "each gate also has a recurrent kernel acting on the hidden state.",
        ),
    ],
)

ex3 = FunctionExercise(
    "A numerically stable softmax",
    reference=softmax,
    prompt="""
        The language model's last layer turns scores (logits) into a probability for every word.
        Write `softmax(logits)` over the last axis of an array of any shape, stable for large
        logits (no `inf` or `nan` for logits of 1000). Check it with `ch2.ex3.check(softmax)`.
    """,
    cases=[
        Case((np.array([1.0, 2.0, 3.0]),)),
        Case(
            (np.array([[1.0, 2.0], [3.0, 3.0]]),),
            "a batch: softmax of each row",
        ),
        Case((np.array([1000.0, 1000.0, 999.0]),), "large logits"),
        Case((np.array([-1000.0, 0.0]),), "very negative logits"),
        Case((np.array([5.0]),), "a single word"),
        Case((np.zeros((2, 3, 4)),), "3-D, all equal"),
    ],
    hints=[
        "softmax(z) = exp(z) / sum(exp(z)) over the last axis (`axis=-1, keepdims=True`).",
        "Subtracting the maximum logit first does not change the result and keeps exp() finite.",
    ],
)

ex4 = ValueExercise(
    "Parameters of the output layer",
    expected=1_285_000,
    prompt="""
        A word-level language model ends with `Dense(5000, activation="softmax")` on the
        outputs of an `LSTM(256)`. How many parameters does that output layer have?
        Then `ch2.ex4.check(answer)`.
    """,
    why="256 inputs × 5,000 words + 5,000 biases = 1,285,000: the output layer grows with the"
    " vocabulary, which is why rare words are often mapped to `<unk>`.",
    hints=["A Dense layer has inputs × units weights plus units biases."],
    mistakes=[Mistake(1_280_000, "add one bias per word (5,000).")],
)

ex5 = ValueExercise(
    "How long does a cell state remember?",
    expected=0.95**39,
    prompt="""
        An LSTM unit writes a value into its cell state at the first word of a 40-word
        caption. From then on its input gate stays at 0 and its forget gate at 0.95. What
        fraction of that value is still in its cell state after the 40th word? Predict it
        (a number between 0 and 1), then `ch2.ex5.check(answer)`.
    """,
    why="With the input gate at 0 the update is $c_t = f \\, c_{t-1}$: each word after the"
    " first multiplies the value by 0.95, 39 times from word 1 to word 40, so"
    " 0.95 ** 39 ≈ 0.135 of it is left. The same product is the gradient"
    " ∂c₄₀/∂c₁ along the cell: a forget gate near 1 keeps it alive, one of 0.5 would leave"
    " 0.5 ** 39 ≈ 2e-12.",
    hints=[
        "Write the cell update $c_t = f \\odot c_{t-1} + i \\odot g$ with $i = 0$.",
        "Count the steps: from word 1 to word 40 the cell is updated 39 times.",
    ],
    mistakes=[
        Mistake(
            0.95**40, "count the updates: from word 1 to word 40 there are 39."
        ),
        Mistake(
            1 - 0.95**39,
            "that is the share lost; the question asks what is left.",
        ),
        Mistake(
            0.05**39,
            "the forget gate is the share *kept* at each step, not lost.",
        ),
    ],
    rtol=0.01,
)

EXERCISES = bind(globals())
