"""Flickr8k: download, extract and verify the real dataset (parsed by
:mod:`course_lib.data.dataset`, with every oddity of the files reported, not hidden).

Known quirks of the real files, handled here: one caption is filed under the name
``2258277193_586949ec62.jpg.1`` (not an image file: skipped and counted), and the photo
``2258277193_586949ec62.jpg`` is not in the image zip (it is in no split; reported by
:meth:`CaptionDataset.missing_images`). The image zip holds 8,091 JPEGs.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from course_lib.data.dataset import (
    IMAGE_DIR_NAME,
    IMAGE_EXTENSIONS,
    SPLIT_FILES,
    TOKEN_FILE,
    CaptionDataset,
    list_files,
    load_flickr8k_layout,
)
from course_lib.data.download import (
    CorruptArchiveError,
    DataError,
    download,
    safe_extract_zip,
)
from course_lib.io import atomic_write_json, file_lock, read_json, sha256_file

__all__ = [
    "ARCHIVE_NAMES",
    "EXPECTED_IMAGES",
    "FLICKR8K_URLS",
    "KNOWN_MISSING_IMAGES",
    "TEXT_SHA256",
    "prepare_flickr8k",
    "verify_text_files",
]

LEMMA_TOKEN_FILE = "Flickr8k.lemma.token.txt"

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
    SPLIT_FILES[
        "train"
    ]: "e330ddd5156a4c2d2e2b67bc587e70e588f2d132bd8a10dc54dcb71e58115d8e",
    SPLIT_FILES[
        "dev"
    ]: "18ba829f47f6df1cb830bf7f0506e2ddf333818925299babbd1bbcaf50fdc504",
    SPLIT_FILES[
        "test"
    ]: "c0924146c131458ceba45da59670fe9520eadce1e5cafffa16a817672a9b1f17",
}
EXPECTED_IMAGES = 8091
#: Names with captions in the token file but no photo in the official image zip.
KNOWN_MISSING_IMAGES = frozenset({"2258277193_586949ec62.jpg"})
PREPARED_MARKER = "prepared.json"

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
        name: (root / name).is_file()
        and sha256_file(root / name) == digest.lower()
        for name, digest in expected.items()
    }


def _manual_hint(root: Path, urls: dict[str, str], images: bool) -> str:
    kinds = ("images", "text") if images else ("text",)
    lines = [
        "To prepare Flickr8k by hand:",
        "  1. On a machine with internet access, download",
    ]
    lines += [f"       {urls[kind]}" for kind in kinds]
    names = " and ".join(ARCHIVE_NAMES[kind] for kind in kinds)
    lines += [
        f"  2. Put {names} in",
        f"       {root}",
        "     or unzip them there so that",
    ]
    if images:
        lines.append(
            f"       {root / IMAGE_DIR_NAME}/*.jpg  ({EXPECTED_IMAGES:,} photos)"
        )
    lines.append(f"       {root / TOKEN_FILE}")
    lines += [f"       {root / name}" for name in SPLIT_FILES.values()]
    lines += [
        "     exist.",
        "  3. Run this again: files already in place are not downloaded.",
    ]
    return "\n".join(lines)


def _archive_sha256(
    archive_sha256: dict[str, str | None] | None, kind: str
) -> str | None:
    if archive_sha256 and archive_sha256.get(kind):
        return archive_sha256[kind]
    return os.environ.get(ARCHIVE_SHA256_ENV[kind]) or None


def _text_complete(root: Path, text_sha256: dict[str, str] | None) -> bool:
    if text_sha256 is None:
        return all(
            (root / name).is_file()
            for name in (TOKEN_FILE, *SPLIT_FILES.values())
        )
    return all(verify_text_files(root, text_sha256).values())


def _count_images(root: Path) -> int:
    return sum(
        1
        for name in list_files(root / IMAGE_DIR_NAME)
        if name.lower().endswith(IMAGE_EXTENSIONS)
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


def _member_names(zip_path: Path) -> list[str]:
    """The names in a zip archive; :class:`CorruptArchiveError` when it is not readable."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            return archive.namelist()
    except zipfile.BadZipFile as err:
        raise CorruptArchiveError(
            f"{zip_path} is not a readable zip archive ({err}). Delete it and download it again."
        ) from err


def _text_members(zip_path: Path, wanted: set[str]) -> list[str]:
    names = _member_names(zip_path)
    return [
        name
        for name in names
        if PurePosixPath(name).name in wanted
        and not name.startswith("__MACOSX/")
    ]


def _image_members(zip_path: Path) -> list[str]:
    members = []
    for name in _member_names(zip_path):
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


def _extract_text(
    zip_path: Path, root: Path, wanted: set[str], progress: bool
) -> None:
    members = _text_members(zip_path, wanted)
    safe_extract_zip(zip_path, root, members=members, progress=progress)
    for member in (
        members
    ):  # files inside a sub-folder of the archive move up to ``root``
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
    archives = _Archives(
        root, urls, archive_sha256, retries=retries, timeout=timeout, progress=progress,
        hint=_manual_hint(root, urls, images),
    )  # fmt: skip
    with file_lock(root / "prepare"):
        if not _text_complete(root, text_sha256):
            _prepare_text(root, archives, text_sha256)
        if images and not _images_complete(root, expected_images):
            _prepare_images(root, archives, expected_images)
        dataset = load_flickr8k_layout(root, name="flickr8k")
        if images:
            _report_image_mismatch(dataset)
            atomic_write_json(
                root / PREPARED_MARKER,
                {"n_images": _count_images(root), "text_sha256": text_sha256},
            )
    return dataset


@dataclass(frozen=True)
class _Archives:
    """Flickr8k's two archives in ``root``: downloaded once, extracted safely."""

    root: Path
    urls: dict[str, str]
    archive_sha256: dict[str, str | None] | None
    retries: int
    timeout: float
    progress: bool
    hint: str

    def fetch(self, kind: str) -> Path:
        """The ``kind`` archive (``"images"`` or ``"text"``), downloaded when missing."""
        return download(
            self.urls[kind],
            self.root / ARCHIVE_NAMES[kind],
            sha256=_archive_sha256(self.archive_sha256, kind),
            retries=self.retries,
            timeout=self.timeout,
            progress=self.progress,
            manual_hint=self.hint,
        )

    def extract(self, kind: str, extract: Callable[[Path], object]) -> None:
        """``extract(archive)``; a corrupt copy from an earlier run is fetched once more."""
        zip_path = self.fetch(kind)
        try:
            extract(zip_path)
        except CorruptArchiveError:
            zip_path.unlink(missing_ok=True)
            extract(self.fetch(kind))


def _prepare_text(
    root: Path, archives: _Archives, text_sha256: dict[str, str] | None
) -> None:
    """Extract the text files that are missing or do not match, and check them."""
    if text_sha256 is not None:  # re-extract the files that do not match
        for file_name, ok in verify_text_files(root, text_sha256).items():
            if not ok:
                (root / file_name).unlink(missing_ok=True)
    wanted = {TOKEN_FILE, *SPLIT_FILES.values(), *(text_sha256 or {})}
    progress = archives.progress
    archives.extract(
        "text", lambda z: _extract_text(z, root, wanted, progress=progress)
    )
    _check_text(root, text_sha256)


def _prepare_images(
    root: Path, archives: _Archives, expected_images: int | None
) -> None:
    """Extract the photos; DataError when the folder then holds another number of them."""
    archives.extract(
        "images",
        lambda z: safe_extract_zip(
            z, root, members=_image_members(z), progress=archives.progress
        ),
    )
    n = _count_images(root)
    if expected_images is not None and n != expected_images:
        raise DataError(
            f"{root / IMAGE_DIR_NAME} holds {n:,} images after extraction, expected "
            f"{expected_images:,}. Delete {root / ARCHIVE_NAMES['images']} and the "
            "folder, then run again."
        )


def _check_text(root: Path, text_sha256: dict[str, str] | None) -> None:
    """Raise :class:`DataError` naming each text file that is missing or does not match."""
    problems = []
    for file_name in (TOKEN_FILE, *SPLIT_FILES.values()):
        if not (root / file_name).is_file():
            problems.append(
                f"{root / file_name}: missing from {ARCHIVE_NAMES['text']}"
            )
    for file_name, digest in (text_sha256 or {}).items():
        path = root / file_name
        if path.is_file() and (actual := sha256_file(path)) != digest.lower():
            problems.append(
                f"{path}: SHA-256 {actual}, expected {digest.lower()}"
            )
        elif not path.is_file() and file_name not in {
            TOKEN_FILE,
            *SPLIT_FILES.values(),
        }:
            problems.append(f"{path}: missing from {ARCHIVE_NAMES['text']}")
    if problems:
        raise DataError(
            "The Flickr8k text files are not the expected ones:\n  "
            + "\n  ".join(problems)
            + f"\nDelete {root / ARCHIVE_NAMES['text']} and these files, then run again."
        )


def _report_image_mismatch(dataset: CaptionDataset) -> None:
    """Warn about captioned names without a photo (beyond the known one) and stray photos."""
    missing = [
        name
        for name in dataset.missing_images()
        if name not in KNOWN_MISSING_IMAGES
    ]
    extra = dataset.extra_images()
    if missing or extra:
        warnings.warn(
            f"{dataset.image_dir}: {len(missing)} captioned image(s) without a file "
            f"{missing[:5]}, {len(extra)} file(s) without captions {extra[:5]}",
            stacklevel=3,
        )
