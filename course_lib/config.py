"""Profiles, paths and seeds: every location and default of the course is decided here.

Two profiles share one code path:

========  ===========  ==========================================  =================
profile   dataset      backbone                                    where
========  ===========  ==========================================  =================
``mini``  synthetic    small CNN pretrained on the synthetic scenes CI, laptops (CPU)
``full``  flickr8k     VGG16 (ImageNet) fc2, 4096-d                 Colab with a GPU
========  ===========  ==========================================  =================

``COURSE_PROFILE`` picks the profile (default: ``full`` where a GPU is visible, else
``mini``); ``COURSE_DATA_DIR`` picks the data folder.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

PROFILE_ENV = "COURSE_PROFILE"
DATA_DIR_ENV = "COURSE_DATA_DIR"
DEFAULT_SEED = 1234

#: Where the package lives in a source checkout (``<repo>/course_lib``).
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Profile:
    """Everything that differs between the ``mini`` and ``full`` runs of the course."""

    name: str
    dataset: str  # "synthetic" or "flickr8k"
    backbone: str  # "smallcnn" or "vgg16"
    weights: str | None  # "scenes" (smallcnn pretrained here), "imagenet", or None (random)
    image_size: int  # square side in pixels fed to the backbone
    embed_dim: int = 256
    units: int = 256
    dropout: float = 0.5
    batch_size: int = 64
    epochs: int = 20
    patience: int = 3
    learning_rate: float = 1e-3
    min_word_count: int = 1
    beam_width: int = 3
    seed: int = DEFAULT_SEED
    synthetic_images: int = 2000  # size of the synthetic dataset (mini profile)

    def to_dict(self) -> dict:
        """The profile as a plain JSON-serialisable dict."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "mini": Profile(
        name="mini",
        dataset="synthetic",
        backbone="smallcnn",
        weights="scenes",
        image_size=64,
        batch_size=64,
        epochs=12,
        patience=3,
        learning_rate=2e-3,
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


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU (imports TensorFlow lazily)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


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


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The named profile (default: :func:`default_profile_name`), with optional overrides."""
    name = name or default_profile_name()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return replace(PROFILES[name], **overrides) if overrides else PROFILES[name]


def _source_checkout_root() -> Path | None:
    """The repository root when course_lib is imported from a source checkout, else None."""
    root = _PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "_config.yml").is_file():
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


def dataset_dir(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Folder of one dataset in Flickr8k's layout, e.g. ``<data>/synthetic``."""
    if dataset not in ("synthetic", "flickr8k"):
        raise ValueError(f"unknown dataset {dataset!r}; choose 'synthetic' or 'flickr8k'")
    return data_dir(root) / dataset


def features_dir(root: str | os.PathLike | None = None) -> Path:
    """Folder of cached image features (``.npz`` with metadata)."""
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
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def banner(profile: Profile, root: str | os.PathLike | None = None) -> str:
    """One paragraph that every notebook prints: profile, dataset, backbone, how to switch."""
    other = "full" if profile.name == "mini" else "mini"
    return (
        f"Profile: {profile.name} | dataset: {profile.dataset} | backbone: {profile.backbone}"
        f" ({profile.weights or 'random'} weights, {profile.image_size}px)"
        f" | data: {data_dir(root)}\n"
        f"Switch with the environment variable {PROFILE_ENV}={other} before importing course_lib"
        f" (or restart the kernel after setting it)."
    )
