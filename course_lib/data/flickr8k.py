"""Flickr8k: download, verify and parse, with every oddity of the files reported, not hidden.

The layout (shared by the synthetic set)::

    <root>/Flicker8k_Dataset/<image id>     # "Flicker" (sic), as in the official zip
    <root>/Flickr8k.token.txt               # "<image id>#<k>\\t<caption>", k = 0..4
    <root>/Flickr_8k.{train,dev,test}Images.txt
    <root>/scenes.json                      # synthetic set only

Known quirks of the real files, handled here: one caption is filed under the name
``2258277193_586949ec62.jpg.1`` (not an image file: skipped and counted), and the photo
``2258277193_586949ec62.jpg`` is not in the image zip (it is in no split; reported by
:meth:`CaptionDataset.missing_images`). The image zip holds 8,091 JPEGs.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from course_lib.data.download import (
    CorruptArchiveError,
    DataError,
    OfflineError,
    download,
    safe_extract_zip,
)
from course_lib.io import atomic_write_json, file_lock, read_json, sha256_file

__all__ = [
    "ARCHIVE_NAMES",
    "EXPECTED_IMAGES",
    "FLICKR8K_URLS",
    "IMAGE_DIR_NAME",
    "KNOWN_MISSING_IMAGES",
    "SCENES_FILE",
    "SPLIT_FILES",
    "TEXT_SHA256",
    "TOKEN_FILE",
    "CaptionDataset",
    "DataError",
    "OfflineError",
    "SkippedEntry",
    "load_dataset",
    "prepare_flickr8k",
    "verify_text_files",
]

IMAGE_DIR_NAME = "Flicker8k_Dataset"  # sic: the official archive spells it this way
TOKEN_FILE = "Flickr8k.token.txt"
LEMMA_TOKEN_FILE = "Flickr8k.lemma.token.txt"
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "dev": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
SCENES_FILE = "scenes.json"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

FLICKR8K_URLS = {
    "images": "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip",
    "text": "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip",
}
ARCHIVE_NAMES = {"images": "Flickr8k_Dataset.zip", "text": "Flickr8k_text.zip"}
#: Environment variables that pin the archives' SHA-256 (checked when set).
ARCHIVE_SHA256_ENV = {
    "images": "COURSE_FLICKR8K_SHA256_IMAGES",
    "text": "COURSE_FLICKR8K_SHA256_TEXT",
}
#: SHA-256 of the five text files of ``Flickr8k_text.zip``.
TEXT_SHA256 = {
    TOKEN_FILE: "9b8608b02da9040581f1e3d4c8738db1fb6f63314342100432adc3962f77d71a",
    LEMMA_TOKEN_FILE: "aebf8ed1e3edd18bbe6cd7c70e5cec6f543f5b0592c371cc69b4507f40092d82",
    SPLIT_FILES["train"]: "e330ddd5156a4c2d2e2b67bc587e70e588f2d132bd8a10dc54dcb71e58115d8e",
    SPLIT_FILES["dev"]: "18ba829f47f6df1cb830bf7f0506e2ddf333818925299babbd1bbcaf50fdc504",
    SPLIT_FILES["test"]: "c0924146c131458ceba45da59670fe9520eadce1e5cafffa16a817672a9b1f17",
}
EXPECTED_IMAGES = 8091
#: Names with captions in the token file but no photo in the official image zip.
KNOWN_MISSING_IMAGES = frozenset({"2258277193_586949ec62.jpg"})
PREPARED_MARKER = "prepared.json"

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
    splits: dict[str, list[str]]  # "train"/"dev"/"test" -> image ids, file order
    skipped: list[SkippedEntry] = field(default_factory=list)
    scenes: dict[str, dict] | None = None  # synthetic ground truth, None for flickr8k

    def image_path(self, image_id: str) -> Path:
        """Path of the image file of ``image_id`` (it may not exist; see missing_images)."""
        return self.image_dir / image_id

    def split_captions(self, split: str) -> dict[str, list[str]]:
        """``{image id: captions}`` for the images of ``split``, in split-file order."""
        if split not in self.splits:
            raise KeyError(f"{self.name}: no split {split!r}; known: {sorted(self.splits)}")
        return {image_id: self.captions[image_id] for image_id in self.splits[split]}

    def images_present(self) -> bool:
        """Whether the image folder exists and holds at least one file."""
        return self.image_dir.is_dir() and any(self.image_dir.iterdir())

    def missing_images(self) -> list[str]:
        """Image ids with captions but no image file (all of them if the folder is absent)."""
        on_disk = _list_files(self.image_dir)
        return [image_id for image_id in self.captions if image_id not in on_disk]

    def extra_images(self) -> list[str]:
        """Files in the image folder that have no captions (sorted)."""
        return sorted(_list_files(self.image_dir) - set(self.captions))

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
            "captions_per_image": {str(k): per_image[k] for k in sorted(per_image)},
            "splits": {split: len(ids) for split, ids in self.splits.items()},
            "n_in_no_split": len(set(self.captions) - {i for s in self.splits.values() for i in s}),
            "images_present": self.images_present(),
            "n_missing_images": len(missing),
            "missing_images_sample": missing[:10],
            "has_scenes": self.scenes is not None,
            "skipped": [asdict(entry) for entry in self.skipped],
            "skipped_by_reason": dict(Counter(entry.reason for entry in self.skipped)),
        }


def _list_files(folder: Path) -> set[str]:
    try:
        return {entry.name for entry in os.scandir(folder) if entry.is_file()}
    except (FileNotFoundError, NotADirectoryError):
        return set()


# --------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------


def _read_lines(path: Path, skipped: list[SkippedEntry]) -> list[tuple[int, str]]:
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
                SkippedEntry(path.name, number, raw.decode("utf-8", "replace"), R_NOT_UTF8)
            )
            continue
        if text.strip():
            lines.append((number, text.lstrip("\ufeff")))
    return lines


def _is_safe_name(name: str) -> bool:
    return "/" not in name and "\\" not in name and name not in (".", "..") and "\x00" not in name


def _parse_tokens(path: Path, skipped: list[SkippedEntry]) -> dict[str, list[str]]:
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
        if not _is_safe_name(name):
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
    return {name: [caps[k] for k in sorted(caps)] for name, caps in by_name.items() if caps}


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
            reason = R_SPLIT_NO_CAPTIONS if name in skipped_names else R_SPLIT_UNKNOWN
        elif name in taken:
            reason = f"{R_SPLIT_OTHER} ({taken[name]})"
        if reason:
            skipped.append(SkippedEntry(path.name, number, name, reason))
            continue
        seen.add(name)
        taken[name] = split
        ids.append(name)
    return ids


def load_dataset(root: str | os.PathLike, name: str | None = None) -> CaptionDataset:
    """Parse a dataset in Flickr8k's layout at ``root`` (images are optional).

    Lines that cannot be used are kept in ``dataset.skipped`` with file, line and reason;
    nothing is dropped silently. Missing split files give empty splits. ``scenes.json`` is
    read when present. ``name`` defaults to the folder name.
    """
    root = Path(root)
    token_path = root / TOKEN_FILE
    if not token_path.is_file():
        raise DataError(
            f"{token_path} not found: {root} does not hold a dataset in Flickr8k's layout "
            "(prepare it first, e.g. course_lib.data.prepare_dataset(...))"
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
            raise DataError(f"{scenes_path}: expected a JSON object {{image id: scene}}")
    return CaptionDataset(
        name=name or root.name,
        root=root,
        image_dir=root / IMAGE_DIR_NAME,
        captions=captions,
        splits=splits,
        skipped=skipped,
        scenes=scenes,
    )


# --------------------------------------------------------------------------------------------
# download and verification
# --------------------------------------------------------------------------------------------


def verify_text_files(
    root: str | os.PathLike, expected: dict[str, str] | None = None
) -> dict[str, bool]:
    """``{file name: present and matching its SHA-256}`` for the text files in ``root``.

    ``expected`` defaults to :data:`TEXT_SHA256`.
    """
    root = Path(root)
    expected = TEXT_SHA256 if expected is None else expected
    return {
        name: (root / name).is_file() and sha256_file(root / name) == digest.lower()
        for name, digest in expected.items()
    }


def _manual_hint(root: Path, urls: dict[str, str], images: bool) -> str:
    kinds = ("images", "text") if images else ("text",)
    lines = ["To prepare Flickr8k by hand:", "  1. On a machine with internet access, download"]
    lines += [f"       {urls[kind]}" for kind in kinds]
    names = " and ".join(ARCHIVE_NAMES[kind] for kind in kinds)
    lines += [f"  2. Put {names} in", f"       {root}", "     or unzip them there so that"]
    if images:
        lines.append(f"       {root / IMAGE_DIR_NAME}/*.jpg  ({EXPECTED_IMAGES:,} photos)")
    lines.append(f"       {root / TOKEN_FILE}")
    lines += [f"       {root / name}" for name in SPLIT_FILES.values()]
    lines += ["     exist.", "  3. Run this again: files already in place are not downloaded."]
    return "\n".join(lines)


def _archive_sha256(archive_sha256: dict[str, str | None] | None, kind: str) -> str | None:
    if archive_sha256 and archive_sha256.get(kind):
        return archive_sha256[kind]
    return os.environ.get(ARCHIVE_SHA256_ENV[kind]) or None


def _text_complete(root: Path, text_sha256: dict[str, str] | None) -> bool:
    if text_sha256 is None:
        return all((root / name).is_file() for name in (TOKEN_FILE, *SPLIT_FILES.values()))
    return all(verify_text_files(root, text_sha256).values())


def _count_images(root: Path) -> int:
    return sum(
        1 for name in _list_files(root / IMAGE_DIR_NAME) if name.lower().endswith(IMAGE_EXTENSIONS)
    )


def _images_complete(root: Path, expected_images: int | None) -> bool:
    n = _count_images(root)
    if n == 0:
        return False
    if expected_images is not None:
        return n == expected_images
    marker = root / PREPARED_MARKER
    try:
        return marker.is_file() and read_json(marker).get("n_images") == n
    except (ValueError, AttributeError):
        return False


def _text_members(zip_path: Path, wanted: set[str]) -> list[str]:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as err:
        raise CorruptArchiveError(
            f"{zip_path} is not a readable zip archive ({err}). Delete it and download it again."
        ) from err
    return [
        name
        for name in names
        if PurePosixPath(name).name in wanted and not name.startswith("__MACOSX/")
    ]


def _image_members(zip_path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as err:
        raise CorruptArchiveError(
            f"{zip_path} is not a readable zip archive ({err}). Delete it and download it again."
        ) from err
    members = []
    for name in names:
        path = PurePosixPath(name)
        if (
            len(path.parts) == 2
            and path.parts[0] == IMAGE_DIR_NAME
            and not path.name.startswith(".")
            and path.suffix.lower() in IMAGE_EXTENSIONS
        ):
            members.append(name)
    if not members:
        raise DataError(
            f"{zip_path}: no {IMAGE_DIR_NAME}/*.jpg members; this is not Flickr8k's image "
            "archive. Delete it and run again."
        )
    return members


def _extract_text(zip_path: Path, root: Path, wanted: set[str], progress: bool) -> None:
    members = _text_members(zip_path, wanted)
    safe_extract_zip(zip_path, root, members=members, progress=progress)
    for member in members:  # files inside a sub-folder of the archive move up to ``root``
        path = PurePosixPath(member)
        if len(path.parts) > 1 and not (root / path.name).exists():
            os.replace(root / member, root / path.name)


def prepare_flickr8k(
    root: str | os.PathLike,
    *,
    urls: dict[str, str] = FLICKR8K_URLS,
    archive_sha256: dict[str, str | None] | None = None,
    text_sha256: dict[str, str] | None = TEXT_SHA256,
    expected_images: int | None = EXPECTED_IMAGES,
    progress: bool = True,
    images: bool = True,
    retries: int = 3,
    timeout: float = 30,
) -> CaptionDataset:
    """Download, extract and verify Flickr8k into ``root`` and load it (idempotent).

    - ``urls``: ``{"images": ..., "text": ...}`` (default: the jbrownlee/Datasets release).
      The archives are saved as ``<root>/Flickr8k_Dataset.zip`` and ``<root>/Flickr8k_text.zip``
      and kept, so a rerun never downloads again.
    - ``archive_sha256``: ``{"images": hex, "text": hex}`` checked when set; otherwise the
      environment variables ``COURSE_FLICKR8K_SHA256_IMAGES`` / ``..._TEXT`` when set.
    - ``text_sha256``: checksums of the extracted text files (None: only check they exist).
    - ``expected_images``: number of photos the image folder must hold (None: any).
    - ``images=False`` fetches only the text archive (enough for the text chapters).

    Work already done (verified text files, a complete image folder) is skipped, so files
    placed by hand are used as they are. A lock on ``<root>/prepare.lock`` makes concurrent
    calls take turns. Raises :class:`OfflineError` (with what to place where by hand) when
    there is no network and the files are not there yet, :class:`DataError` when a file does
    not match.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    hint = _manual_hint(root, urls, images)
    wanted_text = {TOKEN_FILE, *SPLIT_FILES.values(), *(text_sha256 or {})}

    def fetch(kind: str) -> Path:
        return download(
            urls[kind],
            root / ARCHIVE_NAMES[kind],
            sha256=_archive_sha256(archive_sha256, kind),
            retries=retries,
            timeout=timeout,
            progress=progress,
            manual_hint=hint,
        )

    def fetch_and_extract(kind: str, extract) -> None:
        zip_path = fetch(kind)
        try:
            extract(zip_path)
        except CorruptArchiveError:  # a bad copy from an earlier run: fetch it once more
            zip_path.unlink(missing_ok=True)
            extract(fetch(kind))

    with file_lock(root / "prepare"):
        if not _text_complete(root, text_sha256):
            if text_sha256 is not None:  # re-extract the files that do not match
                for file_name, ok in verify_text_files(root, text_sha256).items():
                    if not ok:
                        (root / file_name).unlink(missing_ok=True)
            fetch_and_extract(
                "text", lambda z: _extract_text(z, root, wanted_text, progress=progress)
            )
            _check_text(root, text_sha256)

        if images and not _images_complete(root, expected_images):
            fetch_and_extract(
                "images",
                lambda z: safe_extract_zip(z, root, members=_image_members(z), progress=progress),
            )
            n = _count_images(root)
            if expected_images is not None and n != expected_images:
                raise DataError(
                    f"{root / IMAGE_DIR_NAME} holds {n:,} images after extraction, expected "
                    f"{expected_images:,}. Delete {root / ARCHIVE_NAMES['images']} and the "
                    "folder, then run again."
                )

        dataset = load_dataset(root, name="flickr8k")
        if images:
            _report_image_mismatch(dataset)
            atomic_write_json(
                root / PREPARED_MARKER,
                {"n_images": _count_images(root), "text_sha256": text_sha256},
            )
    return dataset


def _check_text(root: Path, text_sha256: dict[str, str] | None) -> None:
    """Raise :class:`DataError` naming each text file that is missing or does not match."""
    problems = []
    for file_name in (TOKEN_FILE, *SPLIT_FILES.values()):
        if not (root / file_name).is_file():
            problems.append(f"{root / file_name}: missing from {ARCHIVE_NAMES['text']}")
    for file_name, digest in (text_sha256 or {}).items():
        path = root / file_name
        if path.is_file() and (actual := sha256_file(path)) != digest.lower():
            problems.append(f"{path}: SHA-256 {actual}, expected {digest.lower()}")
        elif not path.is_file() and file_name not in {TOKEN_FILE, *SPLIT_FILES.values()}:
            problems.append(f"{path}: missing from {ARCHIVE_NAMES['text']}")
    if problems:
        raise DataError(
            "The Flickr8k text files are not the expected ones:\n  "
            + "\n  ".join(problems)
            + f"\nDelete {root / ARCHIVE_NAMES['text']} and these files, then run again."
        )


def _report_image_mismatch(dataset: CaptionDataset) -> None:
    """Warn about captioned names without a photo (beyond the known one) and stray photos."""
    missing = [name for name in dataset.missing_images() if name not in KNOWN_MISSING_IMAGES]
    extra = dataset.extra_images()
    if missing or extra:
        warnings.warn(
            f"{dataset.image_dir}: {len(missing)} captioned image(s) without a file "
            f"{missing[:5]}, {len(extra)} file(s) without captions {extra[:5]}",
            stacklevel=3,
        )
