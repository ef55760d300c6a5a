"""Datasets in Flickr8k's layout: the real Flickr8k and the synthetic scenes."""

from __future__ import annotations

import os
from pathlib import Path

from course_lib import config
from course_lib.data.flickr8k import (
    TOKEN_FILE,
    CaptionDataset,
    SkippedEntry,
    load_dataset,
    prepare_flickr8k,
)
from course_lib.data.synthetic import generate_synthetic

DATASETS = ("synthetic", "flickr8k")

__all__ = [
    "DATASETS",
    "CaptionDataset",
    "SkippedEntry",
    "generate_synthetic",
    "load_dataset",
    "load_named_dataset",
    "prepare_dataset",
    "prepare_flickr8k",
]


def prepare_dataset(
    name: str, data_dir: str | os.PathLike | None = None, *, progress: bool = True, **kwargs
) -> CaptionDataset:
    """Make ``name`` ready in ``<data_dir>/<name>`` and load it.

    ``synthetic`` is generated (once; ``kwargs`` go to :func:`generate_synthetic`),
    ``flickr8k`` is downloaded, extracted and verified (``kwargs`` go to
    :func:`prepare_flickr8k`). Work already done is not repeated.
    """
    root = config.dataset_dir(name, data_dir)
    if name == "synthetic":
        generate_synthetic(root, progress=progress, **kwargs)
        return load_dataset(root, name="synthetic")
    return prepare_flickr8k(root, progress=progress, **kwargs)


def load_named_dataset(name: str, data_dir: str | os.PathLike | None = None) -> CaptionDataset:
    """Load ``<data_dir>/<name>`` as it is on disk, without downloading or generating.

    ``data_dir`` may also be the dataset folder itself (one that holds the token file).
    """
    if data_dir is not None and (Path(data_dir) / TOKEN_FILE).is_file():
        return load_dataset(Path(data_dir), name=name)
    return load_dataset(config.dataset_dir(name, data_dir), name=name)
