"""Several devices: the ``tf.distribute`` strategy that trains a caption model, and the
cross-replica sums that keep the masked loss and metric equal to their one-device values.

Under a strategy the model is built and compiled in ``strategy.scope()``; ``Model.fit`` then
splits each *global* batch of ``B`` rows across the ``n`` replicas (about ``B / n`` each) and
sums their gradients. The masked loss is a mean over the real words of the whole batch, which
is not the mean of the replicas' own means (their captions differ in length), so each replica
divides its sum by the word count of the whole batch (:func:`batch_mean`). Keras builds the
model from the replicas' first batches, so every batch that may open an epoch must split evenly
(:func:`check_batches`).

The strategies (:data:`STRATEGIES`, ``--strategy`` on the command line):

* ``default``: one device, TensorFlow's default placement (a GPU when there is one).
* ``mirrored``: every GPU of the machine, or every logical CPU device where there is no GPU
  (``tf.config.set_logical_device_configuration`` splits the CPU, as the tests do).
* ``tpu``: a TPU (Colab's TPU runtime, a Cloud TPU VM, or the TPU named by ``$TPU_NAME``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
from keras import ops

from course_lib import config

__all__ = [
    "STRATEGIES",
    "OneDevice",
    "batch_mean",
    "check_batches",
    "global_sum",
    "make_strategy",
]

STRATEGIES = ("default", "mirrored", "tpu")

#: One strategy of each kind per process: a second ``MirroredStrategy`` would reuse the first
#: one's collective-op keys (TensorFlow then refuses the first step whose shapes differ), and a
#: TPU system is initialised once.
_MADE: dict[str, Any] = {}


class OneDevice:
    """The one device of a backend other than TensorFlow, with the two parts
    of a strategy that the course uses."""

    num_replicas_in_sync = 1

    def scope(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


def make_strategy(name: str = "default") -> Any:
    """The ``tf.distribute.Strategy`` named ``name`` (one of :data:`STRATEGIES`), made once per
    process; on another Keras backend, ``default`` is :class:`OneDevice`
    and the others a ValueError (``tf.distribute`` is TensorFlow's).

    ``tpu`` connects to and initialises the TPU system; without a TPU it raises
    ``RuntimeError`` saying so."""
    if name not in STRATEGIES:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}"
        )
    backend = keras.backend.backend()
    if backend != "tensorflow":
        if name != "default":
            raise ValueError(
                f"strategy {name!r} is tf.distribute, which only the "
                f"TensorFlow backend has; the Keras backend is {backend!r}: "
                "set KERAS_BACKEND=tensorflow to train on several devices"
            )
        return OneDevice()
    tf = config.tensorflow()
    if name == "default":
        return tf.distribute.get_strategy()
    if name not in _MADE:
        _MADE[name] = (
            _mirrored_strategy() if name == "mirrored" else _tpu_strategy()
        )
    return _MADE[name]


def _mirrored_strategy() -> Any:
    """``MirroredStrategy`` over every GPU, or over every logical CPU device without one."""
    tf = config.tensorflow()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")]
    )


def _tpu_strategy() -> Any:
    """``TPUStrategy`` on the machine's own TPU (a TPU VM, as Colab's TPU runtime is: its
    devices include a ``TPU_SYSTEM``) or on the one ``$TPU_NAME`` names."""
    tf = config.tensorflow()
    devices = tf.config.list_physical_devices()
    local = (
        "local"
        if any(d.device_type.startswith("TPU") for d in devices)
        else None
    )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=local)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.NotFoundError) as err:
        raise RuntimeError(
            f"strategy 'tpu': no TPU found ({type(err).__name__}: {err}). On Colab choose "
            "Runtime > Change runtime type > TPU; elsewhere set $TPU_NAME to the TPU's name or "
            "address, or train with the strategy 'mirrored' (GPUs) or 'default'."
        ) from err
    return tf.distribute.TPUStrategy(resolver)


def check_batches(
    strategy: Any, batch_size: int, *, train_rows: int, val_rows: int
) -> None:
    """Raise ``ValueError`` unless every batch that can open an epoch splits evenly across the
    replicas of ``strategy``: ``Model.fit`` builds the model from the average of the replicas'
    first batches. Training epochs may open with any batch (they are shuffled), the last,
    smaller one too; validation opens with its first."""
    n = strategy.num_replicas_in_sync
    openers = {
        "training": {min(batch_size, train_rows), train_rows % batch_size}
        - {0},
        "validation": {min(batch_size, val_rows)},
    }
    for split, sizes in openers.items():
        uneven = sorted(size for size in sizes if size % n)
        if uneven:
            raise ValueError(
                f"a {split} batch of {uneven[0]} captions does not split evenly across the "
                f"{n} devices of the strategy, and Keras needs it to: use a batch_size (of "
                f"the profile) that does, with {train_rows} training and {val_rows} "
                "validation captions, or fewer devices"
            )


def _replica_context() -> Any:
    """The ``tf.distribute`` replica context of a step on several replicas, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    tf = config.tensorflow()
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def global_sum(x: Any) -> Any:
    """``x`` (a scalar) summed over the replicas that share a global batch, the same on every
    replica; ``x`` itself on one device."""
    context = _replica_context()
    if context is None:
        return x
    tf = config.tensorflow()
    return context.all_reduce(tf.distribute.ReduceOp.SUM, x)


def batch_mean(total: Any, count: Any) -> Any:
    """The mean ``total / count`` (scalars) of a batch, as a loss: ``divide_no_nan(total,
    count)`` on one device; on ``n`` replicas, ``total`` and ``count`` are this replica's part.

    Keras adds the replicas' gradients and logs ``n`` times a replica's loss, averaged over the
    replicas by their rows. So the gradient here is that of ``total / Σ count``, this replica's
    share of the mean (the shares add up to the mean), and the value is ``mean / n`` on every
    replica, which logs the mean however unevenly the rows split."""
    context = _replica_context()
    if context is None:
        return ops.divide_no_nan(total, count)
    count = global_sum(count)
    share = ops.divide_no_nan(total, count)
    mean = ops.divide_no_nan(global_sum(total), count)
    return share + ops.stop_gradient(
        mean / context.num_replicas_in_sync - share
    )
