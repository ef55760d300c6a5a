"""The datasets: the synthetic scenes and Flickr8k in Flickr8k's layout, and Flickr30k and COCO
(or any of them) in Karpathy's split format, all read into one :class:`CaptionDataset`."""

from __future__ import annotations

import os
from pathlib import Path

from course_lib import config
from course_lib.config import DATASETS
from course_lib.data.dataset import TOKEN_FILE, CaptionDataset, SkippedEntry, load_dataset
from course_lib.data.flickr8k import prepare_flickr8k
from course_lib.data.karpathy import karpathy_file, load_karpathy, prepare_karpathy
from course_lib.data.synthetic import generate_synthetic

__all__ = [
    "DATASETS",
    "CaptionDataset",
    "SkippedEntry",
    "generate_synthetic",
    "load_dataset",
    "load_karpathy",
    "load_named_dataset",
    "prepare_dataset",
    "prepare_flickr8k",
    "prepare_karpathy",
]


def prepare_dataset(
    name: str, data_dir: str | os.PathLike | None = None, *, progress: bool = True, **kwargs
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


def load_named_dataset(name: str, data_dir: str | os.PathLike | None = None) -> CaptionDataset:
    """Load ``<data_dir>/<name>`` as it is on disk, without downloading or generating.

    ``data_dir`` may also be the dataset folder itself (one that holds the token file or a
    Karpathy split file).
    """
    if data_dir is not None and (
        (Path(data_dir) / TOKEN_FILE).is_file() or karpathy_file(data_dir) is not None
    ):
        return load_dataset(Path(data_dir), name=name)
    return load_dataset(config.dataset_dir(name, data_dir), name=name)
