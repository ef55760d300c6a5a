"""Caption models: the seed article's *merge* model, the *inject* model, and a step model.

Both models read ``{"image": (B, D) float32, "caption": (B, T) int32}`` and return next-word
probabilities ``(B, T, V)``: position ``t`` predicts word ``t + 1`` of the caption (teacher
forcing, one pass per caption). Padding id 0 is masked (``Embedding(mask_zero=True)``).

* **merge** (Tanti et al. 2017; the widely copied tutorial): the LSTM reads only words; the image
  vector is *added* to every LSTM output just before the word classifier.
* **inject**: the image vector becomes the LSTM's initial state (``h`` and ``c``).

:func:`build_step_model` wraps the *same layer objects* (same weights) to decode one word at a
time while carrying the LSTM state, so decoding costs one cheap step per word instead of a
pass over the whole prefix (:func:`course_lib.decoding.step_model` picks the step model of any
caption model, the attention captioner's included).

Everything is written with keras layers and ``keras.ops`` so it runs on any Keras backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from course_lib.distribute import batch_mean, global_sum

__all__ = [
    "DropMask",
    "StepModel",
    "build_inject_model",
    "build_merge_model",
    "build_step_model",
    "caption_inputs",
    "compile_captioner",
    "masked_accuracy",
    "masked_loss",
    "masked_sparse_categorical_crossentropy",
]

#: Layer names shared by every caption model (the step model and the book look them up).
LAYER_NAMES = (
    "image_dropout",
    "image_dense",
    "embedding",
    "caption_dropout",
    "lstm",
    "add",
    "decoder_dense",
    "output",
)


# ----------------------------------------------------------------------------- loss and metric
@keras.saving.register_keras_serializable(package="course_lib")
def masked_sparse_categorical_crossentropy(y_true, y_pred):
    """Mean cross-entropy over the real target words (target 0 is padding).

    ``y_true``: (B, T) int ids; ``y_pred``: (B, T, V) probabilities. Returns
    ``sum(-log p(target) * [target != 0]) / number of real targets``, over
    the whole batch even when it is split across devices (``batch_mean``).
    """
    y_true = ops.cast(y_true, "int32")
    per_token = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
    real = ops.cast(ops.not_equal(y_true, 0), per_token.dtype)
    return batch_mean(ops.sum(per_token * real), ops.sum(real))


@keras.saving.register_keras_serializable(package="course_lib")
def masked_accuracy(y_true, y_pred):
    """Share of real target words (not padding) whose most probable prediction is right, over
    the whole batch also when it is split across devices (every device returns it)."""
    y_true = ops.cast(y_true, "int32")
    predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    real = ops.not_equal(y_true, 0)
    hits = ops.cast(
        ops.logical_and(ops.equal(predicted, y_true), real), "float32"
    )
    return ops.divide_no_nan(
        global_sum(ops.sum(hits)),
        global_sum(ops.sum(ops.cast(real, "float32"))),
    )


#: Short alias used in the design notes.
masked_loss = masked_sparse_categorical_crossentropy


def compile_captioner(
    model: keras.Model,
    learning_rate: float = 1e-3,
    *,
    decay_steps: int | None = None,
) -> keras.Model:
    """Compile a caption model with Adam, the masked loss and masked accuracy; returns it.

    With ``decay_steps`` (the run's training steps) the learning rate falls along a cosine
    from ``learning_rate`` to 1 % of it: the run ends with small steps, so that runs from
    different seeds settle to similar models instead of stopping wherever the last large step
    left them."""
    if decay_steps is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps, alpha=0.01
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=masked_sparse_categorical_crossentropy,
        metrics=[masked_accuracy],
    )
    return model


# ----------------------------------------------------------------------------- models
@keras.saving.register_keras_serializable(package="course_lib")
class DropMask(layers.Layer):
    """Identity layer that removes the Keras padding mask from its output.

    The loss and metric find padding themselves (targets equal to 0); a mask left on the
    model's output would make Keras reweight them with the *input* mask, which differs by one
    position per caption (the input ``<end>`` whose target is padding).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.copy(inputs)  # a new tensor: the input's mask stays behind

    def compute_mask(self, inputs, mask=None):
        return None


def check_model_sizes(vocab_size: int, feature_dim: int) -> None:
    """Raise ``ValueError`` unless the vocabulary and the features can make a caption model."""
    if vocab_size < 5:
        raise ValueError(
            f"vocab_size must count the 4 reserved tokens and a word, got {vocab_size}"
        )
    if feature_dim < 1:
        raise ValueError(f"feature_dim must be positive, got {feature_dim}")


def caption_inputs(
    vocab_size: int, feature_dim: int
) -> dict[str, keras.KerasTensor]:
    """A caption model's inputs, ``{"image": (B, D), "caption": (B, T)}``,
    once the sizes are checked (:func:`check_model_sizes`)."""
    check_model_sizes(vocab_size, feature_dim)
    return {
        "image": keras.Input((feature_dim,), dtype="float32", name="image"),
        "caption": keras.Input((None,), dtype="int32", name="caption"),
    }


def build_merge_model(
    vocab_size: int,
    feature_dim: int,
    *,
    embed_dim: int = 256,
    units: int = 256,
    dropout: float = 0.5,
) -> keras.Model:
    """The merge model: ``{"image": (B, D), "caption": (B, T)}`` → (B, T, V).

    image → Dropout → Dense(units, relu) ───────────┐ (the same at every t)
    caption → Embedding(mask_zero) → Dropout → LSTM ┴ add → Dense → softmax"""
    inputs = caption_inputs(vocab_size, feature_dim)
    x = layers.Dropout(dropout, name="image_dropout")(inputs["image"])
    x = layers.Dense(units, activation="relu", name="image_dense")(x)
    x = layers.Reshape((1, units), name="image_time_axis")(x)  # (B, 1, U)
    w = layers.Embedding(
        vocab_size, embed_dim, mask_zero=True, name="embedding"
    )(inputs["caption"])
    w = layers.Dropout(dropout, name="caption_dropout")(w)
    w = layers.LSTM(units, return_sequences=True, name="lstm")(w)  # (B, T, U)
    h = layers.Add(name="add")([x, w])  # broadcasts the image over time
    h = layers.Dense(units, activation="relu", name="decoder_dense")(h)
    probs = layers.Dense(vocab_size, activation="softmax", name="output")(h)
    return keras.Model(inputs, probs, name="merge")


def build_inject_model(
    vocab_size: int,
    feature_dim: int,
    *,
    embed_dim: int = 256,
    units: int = 256,
    dropout: float = 0.5,
) -> keras.Model:
    """The inject model: the image is the LSTM's initial state → (B, T, V).

    image → Dropout → Dense(units, tanh) → the LSTM's initial h and c
    caption → Embedding(mask_zero) → Dropout → LSTM → Dense → softmax
    """
    inputs = caption_inputs(vocab_size, feature_dim)
    x = layers.Dropout(dropout, name="image_dropout")(inputs["image"])
    state = layers.Dense(units, activation="tanh", name="image_dense")(x)
    w = layers.Embedding(
        vocab_size, embed_dim, mask_zero=True, name="embedding"
    )(inputs["caption"])
    w = layers.Dropout(dropout, name="caption_dropout")(w)
    lstm = layers.LSTM(units, return_sequences=True, name="lstm")
    w = DropMask(name="drop_mask")(lstm(w, initial_state=[state, state]))
    h = layers.Dense(units, activation="relu", name="decoder_dense")(w)
    probs = layers.Dense(vocab_size, activation="softmax", name="output")(h)
    return keras.Model(inputs, probs, name="inject")


def model_kind(model: keras.Model) -> str:
    """``"merge"``, ``"inject"`` or ``"attention"`` (:mod:`course_lib.attention`): where the
    image enters the caption model."""
    names = {layer.name for layer in model.layers}
    if "attention_lstm" in names:
        return "attention"
    missing = {
        "image_dense",
        "embedding",
        "lstm",
        "decoder_dense",
        "output",
    } - names
    if missing:
        raise ValueError(
            f"model {model.name!r} is not a course_lib caption model (no layers {sorted(missing)})"
        )
    return "merge" if "add" in names else "inject"


# ----------------------------------------------------------------------------- step model
@dataclass
class StepModel:
    """Decode one word at a time with the trained layers, carrying the LSTM state.

    The layers are the model's own objects (same weights), called directly on concrete arrays,
    so building a step model adds nothing to the model's graph or summary. ``state`` is a dict of
    NumPy arrays ``{"h": (B, U), "c": (B, U)}`` plus ``"image": (B, U)`` (the image vector) for
    the merge model; :meth:`select` picks or repeats its rows (beam search reorders them).
    """

    kind: str
    image_dense: layers.Layer
    embedding: layers.Embedding
    cell: layers.Layer
    decoder_dense: layers.Dense
    output: layers.Dense
    vocab_size: int
    units: int

    def init(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """The state before the first word, for image features (B, D)."""
        features = np.asarray(features, dtype="float32")
        if features.ndim != 2:
            raise ValueError(
                f"features must have shape (B, D), got {features.shape}"
            )
        vector = ops.convert_to_numpy(self.image_dense(features)).astype(
            "float32"
        )
        if self.kind == "merge":
            zeros = np.zeros((len(features), self.units), dtype="float32")
            return {"h": zeros, "c": zeros.copy(), "image": vector}
        return {"h": vector, "c": vector.copy()}

    def step(
        self, word_ids: np.ndarray, state: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Feed words (B,) → next-word probabilities (B, V), new state."""
        ids = np.asarray(word_ids, dtype="int32").reshape(-1)
        words = ops.convert_to_tensor(ids)
        # (B, E): what the Embedding layer does
        x = ops.take(self.embedding.embeddings, words, axis=0)
        y, (h, c) = self.cell(x, [state["h"], state["c"]], training=False)
        h, c = ops.convert_to_numpy(h), ops.convert_to_numpy(c)
        new_state = {**state, "h": h, "c": c}  # merge keeps "image"
        if self.kind == "merge":
            y = ops.add(y, state["image"])  # ops converts NumPy (torch)
        probs = ops.convert_to_numpy(self.output(self.decoder_dense(y)))
        return probs.astype("float32", copy=False), new_state

    @staticmethod
    def select(
        state: dict[str, np.ndarray], rows: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The state of rows ``rows`` (int array, repeats allowed)."""
        return {key: value[rows] for key, value in state.items()}


def build_step_model(model: keras.Model) -> StepModel:
    """A :class:`StepModel` sharing a merge or inject ``model``'s layers (so
    its weights, even as they train); for the attention captioner, see
    :func:`course_lib.attention.build_attention_step_model`. The LSTM steps
    through its own cell, the computation the LSTM layer repeats at every
    time step (dropout inactive)."""
    kind = model_kind(model)
    if kind == "attention":
        raise ValueError(
            f"model {model.name!r} is the attention captioner: use "
            "course_lib.attention.build_attention_step_model"
        )
    lstm = model.get_layer("lstm")
    output = model.get_layer("output")
    return StepModel(
        kind=kind,
        image_dense=model.get_layer("image_dense"),
        embedding=model.get_layer("embedding"),
        cell=lstm.cell,
        decoder_dense=model.get_layer("decoder_dense"),
        output=output,
        vocab_size=int(output.units),
        units=int(lstm.units),
    )
