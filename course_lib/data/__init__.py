"""The datasets: the synthetic scenes and Flickr8k in Flickr8k's layout, and Flickr30k and COCO
(or any of them) in Karpathy's split format, all read into one :class:`CaptionDataset`.

The two formats are told apart here, in one place (:func:`dataset_format`); the modules below
each read one format (``dataset``: Flickr8k's layout, ``karpathy``: Karpathy's split files).
"""

from __future__ import annotations

import os
from pathlib import Path

from course_lib import config
from course_lib.config import DATASETS
from course_lib.data.dataset import (
    TOKEN_FILE,
    CaptionDataset,
    SkippedEntry,
    load_flickr8k_layout,
)
from course_lib.data.download import DataError
from course_lib.data.flickr8k import prepare_flickr8k
from course_lib.data.karpathy import (
    karpathy_file,
    load_karpathy,
    prepare_karpathy,
)
from course_lib.data.synthetic import generate_synthetic

__all__ = [
    "DATASETS",
    "CaptionDataset",
    "SkippedEntry",
    "dataset_format",
    "generate_synthetic",
    "load_dataset",
    "load_karpathy",
    "load_named_dataset",
    "prepare_dataset",
    "prepare_flickr8k",
    "prepare_karpathy",
]


def prepare_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    **kwargs,
) -> CaptionDataset:
    """Make ``name`` ready in ``<data_dir>/<name>`` and load it.

    ``synthetic`` is generated (once; ``kwargs`` go to :func:`generate_synthetic`),
    ``flickr8k`` is downloaded, extracted and verified (``kwargs`` go to
    :func:`prepare_flickr8k`), ``flickr30k`` and ``coco`` are read from Karpathy's split
    format, from mirrors the user names (``kwargs`` go to :func:`prepare_karpathy`). Work
    already done is not repeated.
    """
    root = config.dataset_dir(name, data_dir)
    if name == "synthetic":
        generate_synthetic(root, progress=progress, **kwargs)
        return load_dataset(root, name="synthetic")
    if name == "flickr8k":
        return prepare_flickr8k(root, progress=progress, **kwargs)
    return prepare_karpathy(root, name, progress=progress, **kwargs)


def dataset_format(root: str | os.PathLike) -> str | None:
    """``"flickr8k"`` for a folder in Flickr8k's layout (its token file), ``"karpathy"`` for
    one with a Karpathy split file (``dataset_*.json``), else None."""
    if (Path(root) / TOKEN_FILE).is_file():
        return "flickr8k"
    if karpathy_file(root) is not None:
        return "karpathy"
    return None


def load_dataset(
    root: str | os.PathLike, name: str | None = None
) -> CaptionDataset:
    """Parse the dataset at ``root`` (images are optional), in Flickr8k's layout
    (:func:`~course_lib.data.dataset.load_flickr8k_layout`) or Karpathy's split format
    (:func:`~course_lib.data.karpathy.load_karpathy`). ``name`` defaults to the folder's (the
    split file's for Karpathy's format)."""
    found = dataset_format(root)
    if found == "flickr8k":
        return load_flickr8k_layout(root, name)
    if found == "karpathy":
        return load_karpathy(root, name)
    raise DataError(
        f"{Path(root) / TOKEN_FILE} not found: {root} holds neither a dataset in Flickr8k's "
        "layout nor a Karpathy split file (prepare it first, e.g. "
        "course_lib.data.prepare_dataset(...))"
    )


def load_named_dataset(
    name: str, data_dir: str | os.PathLike | None = None
) -> CaptionDataset:
    """Load ``<data_dir>/<name>`` as it is on disk, without downloading or generating.

    ``data_dir`` may also be the dataset folder itself (one that holds the token file or a
    Karpathy split file).
    """
    if data_dir is not None and dataset_format(data_dir) is not None:
        return load_dataset(Path(data_dir), name=name)
    return load_dataset(config.dataset_dir(name, data_dir), name=name)
