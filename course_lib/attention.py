"""The attention captioner (Show, Attend and Tell, Xu et al. 2015): where the model looks.

The merge and inject models read one vector per image, which keeps *what* is in the picture
and loses most of *where*. This model reads a **grid** of region vectors, ``(B, L, C)`` (the
backbone's last convolutional map, L = H × W regions), and at every word

1. scores each region against what it has written so far (its LSTM state ``h``) with *additive*
   (Bahdanau) attention, ``e_i = v · tanh(W_a a_i + W_h h)``, and turns the scores into
   weights ``α = softmax(e)`` over the L regions;
2. takes the weighted mean of the regions, the *context* ``z = Σ α_i a_i``, scaled by a learnt
   *gate* ``β = σ(w · h)`` (so the model can choose to look less, e.g. for "of" or "the");
3. feeds the previous word and ``β z`` to the LSTM, and predicts the next word from the LSTM
   output, the context and the word (Xu et al.'s "deep output").

Each region's place on the grid, ``(x, y)``, goes in before and after the regions' projection,
so that what the model looked at says where it is (the relation words need it). The LSTM's
state starts from an MLP of the regions' channel-wise maximum over the grid (Xu et al. use an
MLP of their mean): a projected channel that responds to one object peaks where that object is,
so the first state can hold every object with its place, which the first words need (which two
objects to name, and so which relation). Training can add the "doubly stochastic" penalty
``λ · Σ_i (1 - Σ_t α_ti)²``, which pushes every region to be looked at some time during the
caption. Everything is written with keras layers and ``keras.ops``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from course_lib.models import check_model_sizes

__all__ = [
    "AttentionLSTM",
    "AttentionStepModel",
    "RegionPositions",
    "SoftAttention",
    "build_attention_model",
    "build_attention_step_model",
    "placed_regions",
]


@keras.saving.register_keras_serializable(package="course_lib")
class RegionPositions(layers.Layer):
    """Append each region's place on the (square) grid to its vector: (B, L, C) → (B, L, C + 2).

    The place is ``(x, y)`` in [-1, 1], regions in row-major order (as the backbone's map is
    flattened). The context ``z = Σ α_i a_i`` then carries the mean place the model looked at,
    which is what the relation words ("left of", "above") need; without it, where a region is
    survives only as much as the backbone's features happen to keep it.
    """

    def call(self, regions):
        n_regions = regions.shape[1]
        side = math.isqrt(n_regions)
        if side * side != n_regions:
            raise ValueError(f"{n_regions} regions do not make a square grid")
        y, x = np.meshgrid(
            np.linspace(-1, 1, side), np.linspace(-1, 1, side), indexing="ij"
        )
        places = np.stack([x.ravel(), y.ravel()], axis=-1).astype(
            "float32"
        )  # (L, 2)
        places = ops.broadcast_to(
            places[None], (ops.shape(regions)[0], n_regions, 2)
        )
        return ops.concatenate(
            [regions, ops.cast(places, regions.dtype)], axis=-1
        )

    def compute_output_shape(self, regions_shape):
        return (*regions_shape[:-1], regions_shape[-1] + 2)


@keras.saving.register_keras_serializable(package="course_lib")
class SoftAttention(layers.Layer):
    """Additive attention: keys (B, L, A) and state h (B, U) → weights (B, L).

    ``e_i = v · tanh(key_i + W_h h)``; ``α = softmax(e)`` over the L regions.
    The keys ``W_a a_i`` are computed once per image by :meth:`keys` (they do
    not change with the word).
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.key_dense = layers.Dense(units, use_bias=False, name="key")
        self.query_dense = layers.Dense(units, name="query")
        self.score_dense = layers.Dense(1, use_bias=False, name="score")

    def build(self, regions_shape, state_shape):
        self.key_dense.build(regions_shape)
        self.query_dense.build(state_shape)
        self.score_dense.build((*regions_shape[:-1], self.units))

    def keys(self, regions):
        """``W_a a_i`` for every region: (B, L, C) → (B, L, A)."""
        return self.key_dense(regions)

    def call(self, keys, h):
        """Weights α (B, L) over the regions, from their keys (B, L, A) and
        the LSTM's state h (B, U): ``e_i = v · tanh(key_i + W_h h + b)``."""
        query = self.query_dense(h)[:, None, :]  # (B, 1, A): W_h h + b
        scores = self.score_dense(ops.tanh(keys + query))  # (B, L, 1): e
        return ops.softmax(scores[..., 0], axis=-1)  # over the L regions

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="course_lib")
class AttentionLSTM(layers.Layer):
    """The attention decoder's recurrence, run over a caption with ``keras.ops.scan``.

    ``call(regions (B, L, C), words (B, T, E), caption (B, T))`` returns the LSTM outputs
    (B, T, U), the gated contexts (B, T, C) and the attention weights (B, T, L); ``caption``
    (the word ids) tells real words from padding (id 0) for the doubly stochastic penalty,
    ``penalty · Σ_i (1 - Σ_t α_ti)²`` averaged over the captions, added while training.
    """

    def __init__(
        self, units: int, attention_units: int, penalty: float = 1.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.units = units
        self.attention_units = attention_units
        self.penalty = penalty
        self.attention = SoftAttention(attention_units, name="attention")
        self.gate = layers.Dense(1, activation="sigmoid", name="gate")
        self.init_hidden = layers.Dense(
            units, activation="relu", name="init_hidden"
        )
        self.init_h = layers.Dense(units, activation="tanh", name="init_h")
        self.init_c = layers.Dense(units, activation="tanh", name="init_c")
        self.cell = layers.LSTMCell(units, name="cell")

    def build(self, regions_shape, words_shape, caption_shape=None):
        batch, _, channels = regions_shape
        state = (batch, self.units)
        self.attention.build(regions_shape, state)
        self.gate.build(state)
        self.init_hidden.build((batch, channels))
        self.init_h.build((batch, self.units))
        self.init_c.build((batch, self.units))
        self.cell.build((batch, words_shape[-1] + channels))

    def start(self, regions):
        """The state before the first word, ``(h, c, keys)``, from the regions
        (B, L, C): ``h`` and ``c`` from an MLP of each channel's peak over the
        grid, and the keys of every region."""
        peaks = ops.max(regions, axis=1)  # (B, C): each channel's peak
        summary = self.init_hidden(peaks)
        return (
            self.init_h(summary),
            self.init_c(summary),
            self.attention.keys(regions),
        )

    def step(self, h, c, word, keys, regions, training=False):
        """One word: ``(h, c, y, context, alpha)`` after reading ``word``
        (B, E): attend, gate the context, run the LSTM cell."""
        alpha = self.attention(keys, h)  # (B, L)
        context = self.gate(h) * ops.sum(
            ops.multiply(alpha[..., None], regions), axis=1
        )
        x = ops.concatenate([word, context], axis=-1)
        y, (h, c) = self.cell(x, [h, c], training=training)
        return h, c, y, context, alpha

    def call(self, regions, words, caption, training=False):
        h, c, keys = self.start(regions)
        batch, n_regions = ops.shape(regions)[0], ops.shape(regions)[1]
        # keras.ops.scan on TensorFlow returns the carry at every step, so the carry holds
        # this step's outputs (y, context, alpha) next to the state (h, c).
        zeros = (
            ops.zeros_like(h),
            ops.zeros((batch, ops.shape(regions)[2]), dtype=regions.dtype),
            ops.zeros((batch, n_regions), dtype=regions.dtype),
        )

        def one_word(carry, word):
            out = self.step(carry[0], carry[1], word, keys, regions, training)
            return out, out

        _, (_, _, ys, contexts, alphas) = ops.scan(
            one_word, (h, c, *zeros), ops.transpose(words, (1, 0, 2))
        )
        ys, contexts, alphas = (
            ops.transpose(t, (1, 0, 2)) for t in (ys, contexts, alphas)
        )
        if training and self.penalty:
            real = ops.cast(ops.not_equal(caption, 0), alphas.dtype)[
                ..., None
            ]  # (B, T, 1)
            coverage = ops.sum(
                alphas * real, axis=1
            )  # (B, L): attention each region got
            self.add_loss(
                self.penalty
                * ops.mean(ops.sum((1.0 - coverage) ** 2, axis=-1))
            )
        return ys, contexts, alphas

    def compute_output_shape(
        self, regions_shape, words_shape, caption_shape=None
    ):
        batch, steps = words_shape[0], words_shape[1]
        return (
            (batch, steps, self.units),
            (batch, steps, regions_shape[-1]),
            (batch, steps, regions_shape[1]),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "attention_units": self.attention_units,
            "penalty": self.penalty,
        }


def placed_regions(image, units: int, dropout: float):
    """The regions the LSTM attends over: (B, L, C) → (B, L, units + 2).

    Each region's place on the grid, (x, y), goes in twice: into the
    projection of its vector (what is where), and beside the projected
    vector, so that the context holds the mean place the model looked at,
    ``Σ α_i (x_i, y_i)``, as it is.
    """
    regions = layers.Dropout(dropout, name="image_dropout")(image)
    regions = RegionPositions(name="region_positions")(regions)
    dense = layers.Dense(units, activation="relu", name="region_dense")
    return RegionPositions(name="context_positions")(dense(regions))


def build_attention_model(
    vocab_size: int,
    grid_shape: tuple[int, int],
    *,
    embed_dim: int = 256,
    units: int = 256,
    attention_units: int = 256,
    dropout: float = 0.5,
    penalty: float = 1.0,
    name: str = "attention",
) -> keras.Model:
    """The attention captioner: ``{"image": (B, L, C) regions, "caption":
    (B, T)}`` → next-word probabilities (B, T, V).

    image → :func:`placed_regions` ──────────────────────────┐
    caption → Embedding → Dropout → AttentionLSTM (attend, gate, LSTM)
    [LSTM output, context, word] → Dropout → Dense(relu) → softmax
    """
    n_regions, channels = grid_shape
    check_model_sizes(vocab_size, channels)
    image = keras.Input(
        shape=(n_regions, channels), dtype="float32", name="image"
    )
    caption = keras.Input(shape=(None,), dtype="int32", name="caption")
    regions = placed_regions(image, units, dropout)
    words = layers.Embedding(vocab_size, embed_dim, name="embedding")(caption)
    words = layers.Dropout(dropout, name="caption_dropout")(words)
    ys, contexts, _ = AttentionLSTM(
        units, attention_units, penalty, name="attention_lstm"
    )(regions, words, caption)
    h = layers.Concatenate(name="deep_output")([ys, contexts, words])
    h = layers.Dropout(dropout, name="output_dropout")(h)
    h = layers.Dense(units, activation="relu", name="decoder_dense")(h)
    probs = layers.Dense(vocab_size, activation="softmax", name="output")(h)
    return keras.Model({"image": image, "caption": caption}, probs, name=name)


@dataclass
class AttentionStepModel:
    """Decode the attention captioner one word at a time with its trained layers.

    ``regions``: the model's own layers from its image input to what the recurrence reads,
    (B, L, C) → (B, L, R). ``state``: ``{"h", "c": (B, U), "regions": (B, L, R), "keys":
    (B, L, A), "alpha": (B, L)}``; ``alpha`` holds the weights the model gave the regions when
    it predicted the last word. The same interface as :class:`course_lib.models.StepModel`
    (``init``/``step``/``select``), so the decoders of :mod:`course_lib.decoding` work with both.
    """

    regions: keras.Model
    embedding: layers.Embedding
    recurrence: AttentionLSTM
    decoder_dense: layers.Dense
    output: layers.Dense
    vocab_size: int

    def init(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """The state before the first word, for region vectors (B, L, C)."""
        features = np.asarray(features, dtype="float32")
        if features.ndim != 3:
            raise ValueError(
                f"features must have shape (B, L, C), got {features.shape}"
            )
        regions = self.regions(features, training=False)
        h, c, keys = self.recurrence.start(regions)
        state = {"h": h, "c": c, "regions": regions, "keys": keys}
        state = {
            k: ops.convert_to_numpy(v).astype("float32")
            for k, v in state.items()
        }
        state["alpha"] = np.zeros(features.shape[:2], dtype="float32")
        return state

    def step(
        self, word_ids: np.ndarray, state: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Words (B,) → next-word probabilities (B, V) and the new state (its
        ``alpha``: the weights with which these probabilities were made)."""
        words = ops.convert_to_tensor(
            np.asarray(word_ids, dtype="int32").reshape(-1)
        )
        word = ops.take(self.embedding.embeddings, words, axis=0)  # (B, E)
        h, c, y, context, alpha = self.recurrence.step(
            state["h"], state["c"], word, state["keys"], state["regions"]
        )
        probs = self.output(
            self.decoder_dense(ops.concatenate([y, context, word], axis=-1))
        )
        new = {
            k: ops.convert_to_numpy(v)
            for k, v in (("h", h), ("c", c), ("alpha", alpha))
        }
        new.update(regions=state["regions"], keys=state["keys"])
        return ops.convert_to_numpy(probs).astype("float32", copy=False), new

    @staticmethod
    def select(
        state: dict[str, np.ndarray], rows: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The state of rows ``rows`` (int array, repeats allowed)."""
        return {key: value[rows] for key, value in state.items()}


def build_attention_step_model(model: keras.Model) -> AttentionStepModel:
    """An :class:`AttentionStepModel` sharing ``model``'s layers (and so its weights)."""
    output = model.get_layer("output")
    recurrence = model.get_layer("attention_lstm")
    regions = keras.Model(
        model.input["image"], recurrence.input[0], name="regions"
    )
    return AttentionStepModel(
        regions=regions,
        embedding=model.get_layer("embedding"),
        recurrence=recurrence,
        decoder_dense=model.get_layer("decoder_dense"),
        output=output,
        vocab_size=int(output.units),
    )
