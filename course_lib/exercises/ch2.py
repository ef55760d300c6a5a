"""Chapter 2 exercises: recurrent networks and LSTMs (one LSTM step in NumPy, a word-level LM)."""

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


def lstm_step(x, h, c, W, U, b):
    z = x @ W + h @ U + b  # (B, 4H): gates in Keras's order i, f, c, o
    H = h.shape[-1]

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    i = sigmoid(z[:, :H])
    f = sigmoid(z[:, H : 2 * H])
    g = np.tanh(z[:, 2 * H : 3 * H])
    o = sigmoid(z[:, 3 * H :])
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return h_new, c_new


def softmax(logits):
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def _lstm_case(
    batch: int, dim: int, units: int, seed: int, scale: float = 0.5
) -> tuple:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, dim)),
        rng.normal(size=(batch, units)) * 0.5,
        rng.normal(size=(batch, units)),
        rng.normal(size=(dim, 4 * units)) * scale,
        rng.normal(size=(units, 4 * units)) * scale,
        rng.normal(size=(4 * units,)) * scale,
    )


_zero_case = _lstm_case(2, 3, 4, 5)
_zero_case = (
    np.zeros((2, 3)),
    np.zeros((2, 4)),
    np.zeros((2, 4)),
    *_zero_case[3:],
)
_forget_case = list(_lstm_case(1, 2, 3, 6))
_forget_case[5] = np.concatenate(
    [np.zeros(3), np.full(3, 5.0), np.zeros(6)]
)  # f gate ≈ 1

ex1 = FunctionExercise(
    "One LSTM step in NumPy",
    reference=lstm_step,
    prompt="""
        Write `lstm_step(x, h, c, W, U, b)` returning `(h_new, c_new)` for inputs `x` of shape
        `(B, D)`, state `h`, `c` of shape `(B, H)`, kernel `W` `(D, 4H)`, recurrent kernel `U`
        `(H, 4H)` and bias `b` `(4H,)`, with the gates concatenated in Keras's order
        **i, f, c, o** (input, forget, candidate, output): sigmoid for i, f, o and tanh for the
        candidate. Write it from the equations of this chapter, without looking back at its
        code, then check it with `ch2.ex1.check(lstm_step)`.
    """,
    cases=[
        Case(_lstm_case(2, 3, 4, 0)),
        Case(_lstm_case(1, 5, 2, 1), "batch of one"),
        Case(_zero_case, "zero input and state: only the bias acts"),
        Case(tuple(_forget_case), "a large forget-gate bias"),
        Case(
            _lstm_case(3, 2, 3, 2, scale=4.0), "large weights: saturated gates"
        ),
    ],
    hints=[
        "Compute all four pre-activations at once: `z = x @ W + h @ U + b`, shape `(B, 4H)`,"
        " then slice it into four blocks of `H` columns in the order i, f, c, o.",
        "`c_new = f * c + i * g` with `g = tanh(candidate)`, then `h_new = o * tanh(c_new)`.",
    ],
    diagnose=lambda args, expected, got: (
        "Check the gate order: Keras concatenates i, f, c, o (not i, f, o, c)."
        if isinstance(got, (tuple, list)) and len(got) == 2
        else "Return a tuple (h_new, c_new)."
    ),
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

ex5 = ThoughtExercise(
    "Why does an LSTM have a cell state?",
    prompt="""
        A simple RNN has only `h`. Why does the LSTM add a cell state `c` and gates?
        What goes wrong when a simple RNN is trained on long captions?
    """,
    model_answer="""
        Back-propagating through a simple RNN multiplies the gradient by the recurrent weights and
        the tanh derivative at every step, so over many steps it vanishes (or explodes) and the
        network cannot learn long-range dependencies (e.g. the subject at the start of a caption
        when choosing a word at the end). The LSTM's cell state is updated **additively**,
        `c_t = f * c_{t-1} + i * g`: when the forget gate is near 1 the gradient flows through
        `c` almost unchanged (the "constant error carousel"). The gates learn what to write (i),
        keep (f) and expose (o), so information can be held for many steps.
    """,
    hints=[
        "Think about a gradient multiplied by the same recurrent matrix and tanh derivative"
        " at every step."
    ],
)

EXERCISES = bind(globals())
