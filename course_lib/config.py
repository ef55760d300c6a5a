"""Profiles, paths and seeds: every location and default of the course is decided here.

Two profiles share one code path:

========  ===========  ==========================================  =================
profile   dataset      backbone                                    where
========  ===========  ==========================================  =================
``mini``  synthetic    small CNN pretrained on the synthetic scenes CI, laptops (CPU)
``full``  flickr8k     VGG16 (ImageNet) fc2, 4096-d                 Colab with a GPU
========  ===========  ==========================================  =================

``COURSE_PROFILE`` picks the profile (default: ``full`` where a GPU is visible, else
``mini``); ``COURSE_DATA_DIR`` picks the data folder; ``COURSE_SEED`` the seed of everything
random in training (:func:`course_seed`); ``COURSE_VGG16_WEIGHTS`` names a local copy of
VGG16's ImageNet weights (:mod:`course_lib.backbones`).

Importing this module quiets TensorFlow's start-up log lines (:mod:`course_lib._tf_logging`):
the command line and every notebook import it before anything imports TensorFlow.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from course_lib import _tf_logging

_tf_logging.install()

PROFILE_ENV = "COURSE_PROFILE"
DATA_DIR_ENV = "COURSE_DATA_DIR"
VGG16_WEIGHTS_ENV = "COURSE_VGG16_WEIGHTS"
SEED_ENV = "COURSE_SEED"
DEFAULT_SEED = 1234
#: The datasets the course reads: its own two, and the larger ones in Karpathy's split format.
DATASETS = ("synthetic", "flickr8k", "flickr30k", "coco")
#: The caption models (``--model`` on the command line; see course_lib.pipeline.build_model).
MODELS = ("merge", "inject", "attention")

#: Where the package lives in a source checkout (``<repo>/course_lib``).
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Profile:
    """Everything that differs between the ``mini`` and ``full`` runs of the course."""

    name: str
    dataset: str  # one of DATASETS
    backbone: str  # "smallcnn" or "vgg16"
    weights: (
        str | None
    )  # "scenes" (smallcnn pretrained here), "imagenet", or None (random)
    image_size: int  # square side in pixels fed to the backbone
    embed_dim: int = 256
    units: int = 256
    dropout: float = 0.5
    batch_size: int = 64
    epochs: int = 20
    patience: int = 3
    learning_rate: float = 1e-3
    #: The learning rate falls along a cosine to 1 % over ``epochs`` (compile_captioner).
    cosine_decay: bool = False
    min_word_count: int = 1
    beam_width: int = 3
    attention_penalty: float = (
        0.0  # doubly stochastic penalty λ (Xu et al.: 1; attention.py)
    )
    #: Batches of training captions sorted by length together (``make_tf_dataset``; None: its
    #: default); 1 mixes lengths in every batch, so that every word weighs the same in the loss.
    sort_window: int | None = None
    seed: int = DEFAULT_SEED
    #: The synthetic dataset (mini profile): images split 75/12.5/12.5, and images added to its
    #: test split; 4,000 + 500 give 3,000 training images and 1,000 test images.
    synthetic_images: int = 4000
    synthetic_extra_test_images: int = 500
    #: Training settings of one model kind that differ from the above, e.g.
    #: ``{"attention": {"epochs": 30}}``; applied by :meth:`for_model`.
    model_settings: dict[str, dict[str, Any]] = field(
        default_factory=dict, hash=False
    )

    def to_dict(self) -> dict:
        """The profile as a plain JSON-serialisable dict."""
        return asdict(self)

    def for_model(self, model: str) -> Profile:
        """The settings that train ``model`` (one of :data:`MODELS`): this profile with that
        model's ``model_settings`` applied."""
        if model not in MODELS:
            raise ValueError(
                f"unknown model {model!r}; choose one of {list(MODELS)}"
            )
        return replace(self, **self.model_settings.get(model, {}))


#: The mini profile's attention model: smaller than the merge model (its LSTM attends over the
#: grid at every word), a constant learning rate, and batches that mix caption lengths
#: (sort_window 1), since in batches grouped by length a word of a short caption weighs more in
#: the loss, which favours the short captions that state no relation.
ATTENTION_MINI = {
    "embed_dim": 128,
    "units": 128,
    "dropout": 0.2,
    "batch_size": 128,
    "learning_rate": 4e-3,
    "sort_window": 1,
    "cosine_decay": False,
    "epochs": 14,
    "patience": 3,
}

PROFILES: dict[str, Profile] = {
    "mini": Profile(
        name="mini",
        dataset="synthetic",
        backbone="smallcnn",
        weights="scenes",
        image_size=64,
        batch_size=64,
        epochs=16,
        patience=3,
        learning_rate=2e-3,
        cosine_decay=True,
        model_settings={"attention": ATTENTION_MINI},
    ),
    "full": Profile(
        name="full",
        dataset="flickr8k",
        backbone="vgg16",
        weights="imagenet",
        image_size=224,
        batch_size=64,
        epochs=20,
        patience=3,
        learning_rate=1e-3,
    ),
}


def tensorflow() -> ModuleType:
    """TensorFlow, imported on first use: the one place where the course imports it lazily.

    Importing TensorFlow takes seconds, and the light modules (this one, the data and text
    modules, the command line's parser) must import quickly: every chapter and the command
    line import this module first, so that TensorFlow's start-up lines are quieted before
    TensorFlow loads. With another Keras backend TensorFlow may not be installed, and the models
    and decoders import without it. (The modules that train or run models import Keras at the
    top.)"""
    import tensorflow as tf

    return tf


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU."""
    return bool(tensorflow().config.list_physical_devices("GPU"))


def default_profile_name() -> str:
    """``$COURSE_PROFILE`` if set, else ``full`` on a GPU machine and ``mini`` elsewhere."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={name!r} is not a profile; choose one of {sorted(PROFILES)}"
            )
        return name
    return "full" if gpu_available() else "mini"


def course_seed() -> int:
    """``$COURSE_SEED``, else :data:`DEFAULT_SEED`: the seed of everything random in training
    (the small CNN's pretraining, the caption models' initialisation, shuffles and dropout).

    Another seed trains other models from the same data, as another processor's float rounding
    does: the book's claims must hold for any seed."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return DEFAULT_SEED
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"{SEED_ENV}={text!r} is not an integer seed"
        ) from None


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The named profile (default: :func:`default_profile_name`), with optional overrides;
    its ``seed`` is :func:`course_seed` unless overridden.

    An override also wins over the profile's ``model_settings`` (``epochs=1`` trains every
    model kind for one epoch)."""
    name = name or default_profile_name()
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}; choose one of {sorted(PROFILES)}"
        )
    if overrides.get("seed") is None:
        overrides["seed"] = course_seed()
    if overrides == {"seed": PROFILES[name].seed}:
        return PROFILES[name]
    profile = replace(PROFILES[name], **overrides)
    settings = {
        model: {k: v for k, v in values.items() if k not in overrides}
        for model, values in profile.model_settings.items()
    }
    return replace(profile, model_settings=settings)


def _source_checkout_root() -> Path | None:
    """The repository root when course_lib is imported from a source checkout, else None."""
    root = _PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (
        root / "_config.yml"
    ).is_file():
        return root
    return None


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The course's data folder.

    Order: the ``root`` argument, ``$COURSE_DATA_DIR``, ``<repo>/data`` in a source
    checkout, else ``~/course_data``. The folder is not created here.
    """
    if root is not None:
        return Path(root).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    checkout = _source_checkout_root()
    if checkout is not None:
        return checkout / "data"
    return Path.home() / "course_data"


def shown_path(
    path: str | os.PathLike, root: str | os.PathLike | None = None
) -> str:
    """``path`` as a page prints it: ``<data>/runs/merge/best.keras`` inside
    the data folder, relative to the current folder below it, else as given.

    The book's outputs name no folder of the machine that built them."""
    path = Path(path).expanduser().resolve()
    for base, shown in ((data_dir(root), "<data>"), (Path.cwd(), ".")):
        if path.is_relative_to(base):
            return str(Path(shown, path.relative_to(base)))
    return str(path)


def dataset_dir(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Folder of one dataset, e.g. ``<data>/synthetic`` (see :data:`DATASETS`)."""
    if dataset not in DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}"
        )
    return data_dir(root) / dataset


def features_dir(root: str | os.PathLike | None = None) -> Path:
    """Folder of the feature stores (:mod:`course_lib.features`: shards and a manifest)."""
    return data_dir(root) / "features"


def backbones_dir(root: str | os.PathLike | None = None) -> Path:
    """Folder of backbone weights trained by the course (the mini profile's small CNN)."""
    return data_dir(root) / "backbones"


def runs_dir(root: str | os.PathLike | None = None) -> Path:
    """Folder of training runs: checkpoints, backups, CSV histories, vocabularies."""
    return data_dir(root) / "runs"


def set_seed(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy and Keras for a reproducible run; with the TensorFlow backend also
    make its ops deterministic (multi-threaded CPU reductions otherwise vary run to run)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeds code that uses the legacy global RNG)
    import keras  # here, not at the top: Keras imports its backend, see tensorflow()

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        tensorflow().config.experimental.enable_op_determinism()


def _shown_data_dir(root: str | os.PathLike | None) -> str:
    """The data folder as the banner names it: ``$COURSE_DATA_DIR`` when set,
    else the checkout's ``data/`` or ``~/course_data``, never the machine's path."""
    if root is not None:
        return str(root)  # the caller's own choice
    if os.environ.get(DATA_DIR_ENV, "").strip():
        return f"${DATA_DIR_ENV}"
    if _source_checkout_root() is not None:
        return "the repository's data/"
    return "~/course_data"


def banner(profile: Profile, root: str | os.PathLike | None = None) -> str:
    """One paragraph that every notebook prints: profile, dataset, backbone, how to switch."""
    other = "full" if profile.name == "mini" else "mini"
    return (
        f"Profile: {profile.name} | dataset: {profile.dataset} | backbone: {profile.backbone}"
        f" ({profile.weights or 'random'} weights, {profile.image_size}px)"
        f" | data folder <data>: {_shown_data_dir(root)}\n"
        f"Switch with the environment variable {PROFILE_ENV}={other} before importing course_lib"
        f" (or restart the kernel after setting it)."
    )
