"""Datasets in Karpathy's split format: Flickr8k, Flickr30k and COCO as the papers use them.

Karpathy and Fei-Fei's split files (``dataset_flickr8k.json``, ``dataset_flickr30k.json``,
``dataset_coco.json``) are the splits nearly every captioning paper reports on. Each holds
``{"images": [...]}``, one entry per image::

    {"filename": "COCO_val2014_000000391895.jpg", "filepath": "val2014",   # COCO only
     "split": "train" | "val" | "test" | "restval",
     "sentences": [{"raw": "A man with a red helmet ...", "tokens": ["a", "man", ...]}, ...]}

:func:`load_karpathy` reads one into the same :class:`~course_lib.data.dataset.CaptionDataset`
the rest of the course uses ("val" becomes the ``dev`` split). ``restval`` (COCO's 30,504
validation images outside Karpathy's 5,000 val and 5,000 test) goes to ``train`` by default,
as in the literature (113,287 training images); ``restval="skip"`` leaves it out. Every entry
that cannot be used is kept in ``dataset.skipped`` with its reason, as the Flickr8k parser does.

The images are found under the dataset's own layout (:data:`IMAGE_FOLDERS`): COCO's
``train2014/`` and ``val2014/`` (from each entry's ``filepath``), ``flickr30k-images/``,
Flickr8k's ``Flicker8k_Dataset/``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course_lib.data.dataset import (
    IMAGE_DIR_NAME,
    IMAGE_EXTENSIONS,
    R_EMPTY,
    R_NOT_IMAGE,
    R_UNSAFE,
    SCENES_FILE,
    CaptionDataset,
    SkippedEntry,
    is_safe_name,
)
from course_lib.data.download import DataError, download, safe_extract_zip
from course_lib.io import file_lock, read_json

__all__ = [
    "IMAGE_FOLDERS",
    "KARPATHY_SPLIT_SIZES",
    "karpathy_file",
    "load_karpathy",
    "missing_parts_message",
    "prepare_karpathy",
]

#: Where each dataset's images are, relative to its folder ("" = each entry's ``filepath``).
IMAGE_FOLDERS = {
    "flickr8k": IMAGE_DIR_NAME,
    "flickr30k": "flickr30k-images",
    "coco": "",
    "synthetic": "images",
}
#: The split sizes of the real files (train with restval, dev, test), for documentation.
KARPATHY_SPLIT_SIZES = {
    "flickr8k": (6000, 1000, 1000),
    "flickr30k": (29000, 1014, 1000),
    "coco": (113287, 5000, 5000),
}
_SPLITS: dict[Any, str] = {
    "train": "train",
    "val": "dev",
    "test": "test",
    "restval": "restval",
}

R_K_NOT_OBJECT = "not a JSON object with a filename"
R_K_BAD_SPLIT = "unknown split (expected train, val, test or restval)"
R_K_DUPLICATE = "duplicate image (same file as an earlier entry)"
R_K_NO_SENTENCES = "no usable sentence"
R_K_RESTVAL = "restval left out (restval='skip')"


def karpathy_file(root: str | os.PathLike) -> Path | None:
    """The ``dataset_*.json`` split file in ``root``, or None (several: the first by name)."""
    found = sorted(Path(root).glob("dataset_*.json"))
    return found[0] if found else None


def _caption(sentence: object) -> str:
    """A sentence's raw text, or its tokens joined, or "" when it has neither."""
    if not isinstance(sentence, dict):
        return ""
    raw = sentence.get("raw")
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    tokens = sentence.get("tokens")
    if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens):
        return " ".join(tokens).strip()
    return ""


def load_karpathy(
    root: str | os.PathLike, name: str | None = None, *, restval: str = "train"
) -> CaptionDataset:
    """Parse the Karpathy split file in ``root`` (images optional) into a CaptionDataset.

    ``name`` defaults to the file's (``dataset_coco.json`` → ``coco``); it chooses the image
    folder (:data:`IMAGE_FOLDERS`). Image ids are file names, prefixed with ``filepath/`` when
    an entry has one (COCO). ``restval``: ``"train"`` (default) or ``"skip"``.
    """
    if restval not in ("train", "skip"):
        raise ValueError(f"restval must be 'train' or 'skip', not {restval!r}")
    root = Path(root)
    path = karpathy_file(root)
    if path is None:
        raise DataError(
            f"{root}: no Karpathy split file (dataset_*.json) here"
        )
    name = name or path.stem.removeprefix("dataset_")
    skipped: list[SkippedEntry] = []
    captions: dict[str, list[str]] = {}
    splits: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for index, item in enumerate(_entries(path)):
        skip = functools.partial(_skip, skipped, path.name, index)
        kept = _entry(item, captions, restval, skip)
        if kept is not None:
            image_id, split, texts = kept
            captions[image_id] = texts
            splits["train" if split == "restval" else split].append(image_id)
    scenes_path = root / SCENES_FILE
    scenes = read_json(scenes_path) if scenes_path.is_file() else None
    return CaptionDataset(
        name=name,
        root=root,
        image_dir=root / IMAGE_FOLDERS.get(name, ""),
        captions=captions,
        splits=splits,
        skipped=skipped,
        scenes=scenes,
    )


def _skip(
    skipped: list[SkippedEntry], file: str, index: int, entry: str, reason: str
) -> None:
    """Record entry ``index`` of the file as skipped, and why."""
    skipped.append(
        SkippedEntry(file, None, f"images[{index}] {entry}".strip(), reason)
    )


def _entries(path: Path) -> list:
    """The ``images`` list of a Karpathy split file; DataError naming the file otherwise."""
    try:
        data = read_json(path)
    except ValueError as err:
        raise DataError(str(err)) from err
    entries = data.get("images") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DataError(f"{path}: expected a JSON object with a list 'images'")
    return entries


def _entry_problem(
    item: dict,
    filename: str,
    folder: str,
    image_id: str,
    captions: dict,
    restval: str,
) -> tuple[str | None, str]:
    """Why an entry cannot be used (None: it can), and its split, checked in this order."""
    if not (is_safe_name(filename) and (not folder or is_safe_name(folder))):
        return R_UNSAFE, ""
    if not filename.lower().endswith(IMAGE_EXTENSIONS):
        return R_NOT_IMAGE, ""
    split = _SPLITS.get(item.get("split"))
    if split is None:
        return R_K_BAD_SPLIT, ""
    if image_id in captions:
        return R_K_DUPLICATE, split
    if split == "restval" and restval == "skip":
        return R_K_RESTVAL, split
    return None, split


def _entry(
    item: object,
    captions: dict[str, list[str]],
    restval: str,
    skip: Callable[[str, str], None],
) -> tuple[str, str, list[str]] | None:
    """``(image id, split, captions)`` of one entry of the file, or None after ``skip(entry,
    reason)`` when it cannot be used (``captions``: the images kept so far)."""
    filename = item.get("filename") if isinstance(item, dict) else None
    if (
        not isinstance(item, dict)
        or not isinstance(filename, str)
        or not filename
    ):
        skip("", R_K_NOT_OBJECT)
        return None
    folder = item.get("filepath", "") or ""
    image_id = f"{folder}/{filename}" if folder else filename
    problem, split = _entry_problem(
        item, filename, str(folder), image_id, captions, restval
    )
    if problem is not None:
        skip(image_id, problem)
        return None
    texts = []
    for k, sentence in enumerate(item.get("sentences") or []):
        text = _caption(sentence)
        if text:
            texts.append(text)
        else:
            skip(f"{image_id}#{k}", R_EMPTY)
    if not texts:
        skip(image_id, R_K_NO_SENTENCES)
        return None
    return image_id, split, texts


def missing_parts_message(name: str, root: Path) -> str:
    """What to download for ``name`` and where to put it under ``root`` (one paragraph)."""
    split = f"dataset_{name}.json"
    where_split = (
        f"Karpathy's split file {split} (in caption_datasets.zip, from the page of Karpathy "
        "and Fei-Fei's 'Deep Visual-Semantic Alignments', "
        f"cs.stanford.edu/people/karpathy/deepimagesent) → {root / split}"
    )
    images = {
        "coco": f"the COCO 2014 train and val images (cocodataset.org, 13 GB) → "
        f"{root / 'train2014'} and {root / 'val2014'}",
        "flickr30k": f"the Flickr30k images (from its authors, after agreeing to the terms) → "
        f"{root / 'flickr30k-images'}",
        "flickr8k": f"the Flickr8k images → {root / IMAGE_DIR_NAME}",
    }[name]
    return (
        f"{name} is not downloaded automatically. Put {where_split}; and {images}. Or name "
        "mirrors you trust: python -m course_lib data --dataset "
        f"{name} --url split=URL --url images=URL (each file checked with --sha256 KIND=HEX)."
    )


def prepare_karpathy(
    root: str | os.PathLike,
    name: str,
    *,
    urls: dict[str, str] | None = None,
    sha256: dict[str, str] | None = None,
    progress: bool = True,
) -> CaptionDataset:
    """Make a Karpathy-format dataset ready in ``root`` and load it.

    Nothing is downloaded by default (COCO's images are 13 GB): a dataset whose split file is
    missing raises :class:`DataError` saying what to put where (:func:`missing_parts_message`).
    ``urls`` names mirrors the user trusts, ``{kind: url}`` (kind: ``split`` or ``images``, or
    any other label); each file is downloaded (resumed, retried, checked against
    ``sha256[kind]`` when given) into ``<root>/downloads/`` and, when it is a zip archive,
    extracted safely into ``root``. Images that are still missing are reported, not fatal.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / "prepare"):
        for kind, url in (urls or {}).items():
            target = (
                root
                / "downloads"
                / (url.rstrip("/").rsplit("/", 1)[-1] or kind)
            )
            path = download(
                url, target, sha256=(sha256 or {}).get(kind), progress=progress,
                manual_hint=missing_parts_message(name, root),
            )  # fmt: skip
            if path.suffix.lower() == ".zip":
                safe_extract_zip(path, root, progress=progress)
            elif path.name.startswith("dataset_") and path.suffix == ".json":
                (root / path.name).write_bytes(path.read_bytes())
    if karpathy_file(root) is None:
        raise DataError(missing_parts_message(name, root))
    dataset = load_karpathy(root, name)
    missing = dataset.missing_images()
    if missing and progress:
        print(
            f"{name}: {len(missing)} of {len(dataset.captions)} images are not on disk yet "
            f"(e.g. {dataset.image_path(missing[0])}); {missing_parts_message(name, root)}"
        )
    return dataset
