"""Datasets in Flickr8k's layout: the file names, and the parser every dataset goes through.

The layout (the real Flickr8k and the synthetic set share it, so nothing downstream branches
on the dataset)::

    <root>/Flicker8k_Dataset/<image id>     # "Flicker" (sic), as in the official zip
    <root>/Flickr8k.token.txt               # "<image id>#<k>\\t<caption>", k = 0..4
    <root>/Flickr_8k.{train,dev,test}Images.txt
    <root>/scenes.json                      # synthetic set only

:func:`load_flickr8k_layout` parses a folder into a :class:`CaptionDataset`; every line it cannot
use is kept in ``dataset.skipped`` with its file, line number and reason, never dropped silently.
(:func:`course_lib.data.load_dataset` reads a folder in either format, this one or Karpathy's.)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_lib.data.download import DataError
from course_lib.io import read_json

__all__ = [
    "IMAGE_DIR_NAME",
    "IMAGE_EXTENSIONS",
    "SCENES_FILE",
    "SPLIT_FILES",
    "TOKEN_FILE",
    "CaptionDataset",
    "SkippedEntry",
    "load_flickr8k_layout",
]

IMAGE_DIR_NAME = (
    "Flicker8k_Dataset"  # sic: the official archive spells it this way
)
TOKEN_FILE = "Flickr8k.token.txt"
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "dev": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
SCENES_FILE = "scenes.json"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# Reasons for skipped entries: fixed strings, so that they can be counted.
R_NO_TAB = "no tab between image name and caption"
R_BAD_NUMBER = "bad caption number (expected <image id>#<k>)"
R_DUPLICATE = "duplicate caption number for this image"
R_EMPTY = "empty caption"
R_NOT_IMAGE = "no image: name is not a .jpg file"
R_UNSAFE = "unsafe image name (path separators or '..')"
R_NOT_UTF8 = "not valid UTF-8"
R_SPLIT_UNKNOWN = "not in the token file"
R_SPLIT_NO_CAPTIONS = "its captions were all skipped"
R_SPLIT_DUPLICATE = "listed twice in this split"
R_SPLIT_OTHER = "already in another split"


@dataclass
class SkippedEntry:
    """One line of a dataset file that was not used, and why (``line`` is 1-based)."""

    file: str
    line: int | None
    entry: str
    reason: str


@dataclass
class CaptionDataset:
    """Captions, splits and image locations of one dataset in Flickr8k's layout."""

    name: str
    root: Path
    image_dir: Path
    captions: dict[str, list[str]]  # image id -> raw captions in #k order
    splits: dict[
        str, list[str]
    ]  # "train"/"dev"/"test" -> image ids, file order
    skipped: list[SkippedEntry] = field(default_factory=list)
    scenes: dict[str, dict] | None = (
        None  # synthetic ground truth, None for flickr8k
    )

    def image_ids(self) -> list[str]:
        """Every image id of the dataset (captioned or in a split), sorted."""
        ids = set(self.captions)
        for split_ids in self.splits.values():
            ids.update(split_ids)
        return sorted(ids)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the parsed captions, splits and scenes: what caches are keyed on."""
        content = {
            "captions": self.captions,
            "splits": self.splits,
            "scenes": self.scenes,
        }
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode(
            "utf-8"
        )
        return hashlib.sha256(blob).hexdigest()

    def image_path(self, image_id: str) -> Path:
        """Path of the image file of ``image_id`` (it may not exist; see missing_images)."""
        return self.image_dir / image_id

    def split_captions(self, split: str) -> dict[str, list[str]]:
        """``{image id: captions}`` for the images of ``split``, in split-file order."""
        if split not in self.splits:
            raise KeyError(
                f"{self.name}: no split {split!r}; known: {sorted(self.splits)}"
            )
        return {
            image_id: self.captions[image_id]
            for image_id in self.splits[split]
        }

    def images_present(self) -> bool:
        """Whether at least one captioned image's file is on disk."""
        return any(self.image_path(i).is_file() for i in self.captions)

    def missing_images(self) -> list[str]:
        """Image ids with captions but no image file (all of them if the folder is absent).

        Ids may name a subfolder (COCO's ``val2014/…``); those are looked up one by one."""
        on_disk = list_files(self.image_dir)
        return [
            image_id
            for image_id in self.captions
            if image_id not in on_disk
            and (
                "/" not in image_id or not self.image_path(image_id).is_file()
            )
        ]

    def extra_images(self) -> list[str]:
        """Files in the image folder that have no captions (sorted)."""
        return sorted(list_files(self.image_dir) - set(self.captions))

    def summary(self) -> dict:
        """A JSON-able overview: counts, caption histogram, splits, missing and skipped."""
        per_image = Counter(len(caps) for caps in self.captions.values())
        missing = self.missing_images()
        return {
            "name": self.name,
            "root": str(self.root),
            "image_dir": str(self.image_dir),
            "n_images": len(self.captions),
            "n_captions": sum(per_image[k] * k for k in per_image),
            "captions_per_image": {
                str(k): per_image[k] for k in sorted(per_image)
            },
            "splits": {split: len(ids) for split, ids in self.splits.items()},
            "n_in_no_split": len(
                set(self.captions)
                - {i for s in self.splits.values() for i in s}
            ),
            "images_present": self.images_present(),
            "n_missing_images": len(missing),
            "missing_images_sample": missing[:10],
            "has_scenes": self.scenes is not None,
            "skipped": [asdict(entry) for entry in self.skipped],
            "skipped_by_reason": dict(
                Counter(entry.reason for entry in self.skipped)
            ),
        }


def list_files(folder: Path) -> set[str]:
    """Names of the regular files directly in ``folder`` (empty when it does not exist)."""
    try:
        return {entry.name for entry in os.scandir(folder) if entry.is_file()}
    except (FileNotFoundError, NotADirectoryError):
        return set()


# --------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------


def _read_lines(
    path: Path, skipped: list[SkippedEntry]
) -> list[tuple[int, str]]:
    """Non-blank lines of ``path`` as (1-based number, text without end of line).

    Tolerates a BOM, CRLF and a last line without newline; lines that are not UTF-8 are
    recorded in ``skipped``.
    """
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append(
                SkippedEntry(
                    path.name,
                    number,
                    raw.decode("utf-8", "replace"),
                    R_NOT_UTF8,
                )
            )
            continue
        if text.strip():
            lines.append((number, text.lstrip("\ufeff")))
    return lines


def is_safe_name(name: str) -> bool:
    """Whether an image name from a dataset file is a plain file name (no path, no ``..``)."""
    return (
        "/" not in name
        and "\\" not in name
        and name not in (".", "..")
        and "\x00" not in name
    )


def _parse_tokens(
    path: Path, skipped: list[SkippedEntry]
) -> dict[str, list[str]]:
    """Parse ``<id>#<k>\\t<caption>`` lines into ``{id: captions in k order}``."""
    by_name: dict[str, dict[int, str]] = {}
    for number, line in _read_lines(path, skipped):
        line = line.strip(" \r\n")
        if "\t" not in line:
            skipped.append(SkippedEntry(path.name, number, line, R_NO_TAB))
            continue
        key, caption = (part.strip() for part in line.split("\t", 1))
        name, sep, k_text = key.rpartition("#")
        name = name.strip()
        if not sep or not name or not k_text.strip().isdigit():
            skipped.append(SkippedEntry(path.name, number, line, R_BAD_NUMBER))
            continue
        if not is_safe_name(name):
            skipped.append(SkippedEntry(path.name, number, line, R_UNSAFE))
            continue
        if not name.lower().endswith(IMAGE_EXTENSIONS):
            skipped.append(SkippedEntry(path.name, number, line, R_NOT_IMAGE))
            continue
        if not caption:
            skipped.append(SkippedEntry(path.name, number, line, R_EMPTY))
            continue
        k = int(k_text)
        entries = by_name.setdefault(name, {})
        if k in entries:
            skipped.append(SkippedEntry(path.name, number, line, R_DUPLICATE))
            continue
        entries[k] = caption
    return {
        name: [caps[k] for k in sorted(caps)]
        for name, caps in by_name.items()
        if caps
    }


def _parse_split(
    path: Path,
    captions: dict[str, list[str]],
    skipped_names: set[str],
    taken: dict[str, str],
    split: str,
    skipped: list[SkippedEntry],
) -> list[str]:
    """Image ids of one split file that have captions, in file order."""
    ids: list[str] = []
    seen: set[str] = set()
    for number, line in _read_lines(path, skipped):
        name = line.strip()
        reason = None
        if name in seen:
            reason = R_SPLIT_DUPLICATE
        elif name not in captions:
            reason = (
                R_SPLIT_NO_CAPTIONS
                if name in skipped_names
                else R_SPLIT_UNKNOWN
            )
        elif name in taken:
            reason = f"{R_SPLIT_OTHER} ({taken[name]})"
        if reason:
            skipped.append(SkippedEntry(path.name, number, name, reason))
            continue
        seen.add(name)
        taken[name] = split
        ids.append(name)
    return ids


def load_flickr8k_layout(
    root: str | os.PathLike, name: str | None = None
) -> CaptionDataset:
    """Parse the dataset in Flickr8k's layout at ``root`` (images are optional).

    Lines that cannot be used are kept in ``dataset.skipped`` with file, line and reason;
    nothing is dropped silently. Missing split files give empty splits. ``scenes.json`` is
    read when present. ``name`` defaults to the folder name.
    """
    root = Path(root)
    token_path = root / TOKEN_FILE
    if not token_path.is_file():
        raise DataError(
            f"{token_path} not found: {root} holds no dataset in Flickr8k's layout (prepare "
            "it first, e.g. course_lib.data.prepare_dataset(...))"
        )
    skipped: list[SkippedEntry] = []
    captions = _parse_tokens(token_path, skipped)
    skipped_names = {
        entry.entry.split("\t", 1)[0].rpartition("#")[0].strip()
        for entry in skipped
        if entry.file == TOKEN_FILE
    }
    splits: dict[str, list[str]] = {}
    taken: dict[str, str] = {}
    for split, file_name in SPLIT_FILES.items():
        path = root / file_name
        splits[split] = (
            _parse_split(path, captions, skipped_names, taken, split, skipped)
            if path.is_file()
            else []
        )
    scenes = None
    scenes_path = root / SCENES_FILE
    if scenes_path.is_file():
        scenes = read_json(scenes_path)
        if not isinstance(scenes, dict):
            raise DataError(
                f"{scenes_path}: expected a JSON object {{image id: scene}}"
            )
    return CaptionDataset(
        name=name or root.name,
        root=root,
        image_dir=root / IMAGE_DIR_NAME,
        captions=captions,
        splits=splits,
        skipped=skipped,
        scenes=scenes,
    )
