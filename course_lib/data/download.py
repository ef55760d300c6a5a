"""Robust downloads and safe zip extraction, with the standard library only (``urllib``).

:func:`download` resumes an interrupted transfer (HTTP ``Range`` on ``<dest>.part``), retries
with backoff on network hiccups, truncated transfers and server errors, checks a SHA-256 when
one is given, and makes the final file appear only by an atomic rename once it is complete.
:func:`safe_extract_zip` refuses archive members that would land outside the target folder
and writes every member atomically, so an interrupted extraction never leaves a half file.
"""

from __future__ import annotations

import errno
import http.client
import os
import re
import shutil
import socket
import stat
import time
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from tqdm import tqdm

from course_lib import __version__
from course_lib.io import sha256_file

__all__ = [
    "ArchiveError",
    "CorruptArchiveError",
    "DataError",
    "DownloadError",
    "OfflineError",
    "download",
    "safe_extract_zip",
]

CHUNK_SIZE = 1 << 16
USER_AGENT = f"course_lib/{__version__} (+urllib)"
#: HTTP statuses worth retrying: timeouts, rate limits and server errors.
_RETRY_STATUSES = {408, 425, 429}
#: errno values that mean "no network here" rather than "the transfer hiccuped".
_OFFLINE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.ENETDOWN,
    errno.EHOSTDOWN,
    errno.EADDRNOTAVAIL,
}

#: errno values of a full disk or quota: retrying cannot help.
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class DataError(Exception):
    """Base class of every dataset error of the course (download, archive, files)."""


class DownloadError(DataError):
    """A download failed: HTTP error, repeated truncation, or a checksum that never matched."""


class OfflineError(DownloadError):
    """The server could not be reached at all; the message says what to place where by hand."""


class ArchiveError(DataError):
    """An archive is unsafe (member outside the target folder, symlink) or unreadable."""


class CorruptArchiveError(ArchiveError):
    """An archive is truncated or corrupt: delete it and download it again."""


class _Truncated(Exception):
    """The server sent fewer bytes than it announced."""


# --------------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------------


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 30,
    progress: bool = True,
    backoff: float = 0.5,
    manual_hint: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (resuming, retrying, verifying) and return ``dest``.

    - When ``dest`` already exists and ``sha256`` is None or matches, nothing is fetched.
    - Bytes are written to ``<dest>.part``; an interrupted transfer resumes from there with an
      HTTP ``Range`` request (a server that ignores it and answers 200 restarts from zero).
    - Connection errors, timeouts, truncated transfers (fewer bytes than ``Content-Length``),
      HTTP 5xx/408/429 and checksum mismatches are retried ``retries`` times, waiting
      ``backoff * 2**i`` seconds; other HTTP errors (404, 403...) raise at once.
    - ``dest`` appears only by ``os.replace`` after the transfer is complete and verified.

    Raises :class:`OfflineError` when the host cannot be reached at all (refused, DNS failure,
    no route); its message says which file to save where by hand, followed by ``manual_hint``.
    Raises :class:`DownloadError` for everything else that does not recover.
    """
    dest = Path(dest)
    expected = sha256.strip().lower() if sha256 else None
    if dest.is_file() and (expected is None or sha256_file(dest) == expected):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    hint = f"\n{manual_hint}" if manual_hint else ""
    last_error: BaseException | None = None
    offline = False
    attempts = max(0, int(retries)) + 1
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        failed = _attempt(
            url,
            dest,
            part,
            expected,
            timeout=timeout,
            progress=progress,
            hint=hint,
        )
        if failed is None:
            os.replace(part, dest)
            return dest
        last_error, still_offline = failed
        offline = offline if still_offline is None else still_offline
    raise _final_error(url, dest, part, attempts, last_error, offline, hint)


def _attempt(
    url: str,
    dest: Path,
    part: Path,
    expected: str | None,
    *,
    timeout: float,
    progress: bool,
    hint: str,
) -> tuple[BaseException, bool | None] | None:
    """One try of :func:`download`: None when ``part`` holds the whole, verified file, else
    the error to retry after and whether it says the host is unreachable (None: this error
    does not tell). Errors that retrying cannot fix (HTTP 404, a full disk) are raised."""
    try:
        _fetch_into(
            url, part, timeout=timeout, progress=progress, label=dest.name
        )
    except HTTPError as err:
        err.close()  # an HTTPError holds the response: close its connection
        if err.code == 416:  # our Range starts at or past the end of the file
            if not _part_is_complete(part, err):
                part.unlink(missing_ok=True)
                return err, None
            # else a previous run got every byte but stopped before the rename
        elif err.code >= 500 or err.code in _RETRY_STATUSES:
            return err, False
        else:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"Download of {url} failed: HTTP {err.code} {err.reason}. "
                f"Check the address; nothing was saved to {dest}.{hint}"
            ) from err
    except (URLError, OSError, http.client.HTTPException, _Truncated) as err:
        if isinstance(err, OSError) and err.errno in _DISK_FULL_ERRNOS:
            raise DownloadError(
                f"Cannot save {dest.name}: {err.strerror or err} in {dest.parent}. "
                f"Free some disk space (or point COURSE_DATA_DIR at a bigger disk) and run "
                f"this again; the bytes received so far are kept in {part} and the next "
                f"attempt resumes from there."
            ) from err
        return err, _is_offline(err)
    if expected is not None:
        actual = sha256_file(part)
        if actual != expected:
            part.unlink(missing_ok=True)
            mismatch = f"{dest.name}: SHA-256 mismatch (expected {expected}, got {actual})"
            return DownloadError(mismatch), False
    return None


def _final_error(
    url: str,
    dest: Path,
    part: Path,
    attempts: int,
    last_error: BaseException | None,
    offline: bool,
    hint: str,
) -> DownloadError:
    """What :func:`download` raises once every attempt has failed."""
    error: DownloadError
    if offline:
        host = urlparse(url).netloc or url
        error = OfflineError(
            f"Cannot reach {host} to download {url} ({_describe(last_error)}); "
            f"no network? To continue without it, download {url} on a machine with internet "
            f"access and save it as {dest}, then run this again.{hint}"
        )
    elif isinstance(last_error, DownloadError):  # the checksum never matched
        return DownloadError(
            f"Download of {url} to {dest} failed after {attempts} attempt(s): {last_error}. "
            f"The file on the server is not the expected one (or it is corrupted on the "
            f"way); nothing was kept.{hint}"
        )
    else:
        kept = (
            f"The bytes received so far are kept in {part} and the next attempt resumes from there."
            if part.exists()
            else "Nothing was saved."
        )
        error = DownloadError(
            f"Download of {url} to {dest} failed after {attempts} attempt(s): "
            f"{_describe(last_error)}. {kept}{hint}"
        )
    error.__cause__ = last_error
    return error


def _fetch_into(
    url: str, part: Path, *, timeout: float, progress: bool, label: str
) -> None:
    """One HTTP GET of ``url`` appended to (or restarting) ``part``; raises on short reads."""
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    with urlopen(Request(url, headers=headers), timeout=timeout) as response:
        length_header = response.headers.get("Content-Length")
        length = (
            int(length_header)
            if length_header and length_header.isdigit()
            else None
        )
        if start and response.status == 206:
            first, total = _parse_content_range(
                response.headers.get("Content-Range")
            )
            if (
                first != start
            ):  # not the range we asked for: start again from zero
                part.unlink(missing_ok=True)
                raise _Truncated(
                    f"server answered Range {start}- with bytes from {first}"
                )
            mode = "ab"
        else:  # 200: the server ignored the Range header (or there was none)
            start, total, mode = 0, length, "wb"
        if total is None and length is not None:
            total = start + length
        received = 0
        with (
            open(part, mode) as handle,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            try:
                while chunk := response.read(CHUNK_SIZE):
                    handle.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except http.client.IncompleteRead as err:
                handle.write(err.partial)
                received += len(err.partial)
                raise _Truncated(
                    f"connection closed after {start + received} bytes"
                ) from err
        if length is not None and received != length:
            raise _Truncated(
                f"connection closed after {start + received} of {start + length} bytes"
            )


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``"bytes 100-199/1000"`` -> (100, 1000); unknown parts are None."""
    match = re.match(r"\s*bytes\s+(\d+|\*)(?:-\d+)?/(\d+|\*)", value or "")
    if not match:
        return None, None
    first, total = match.groups()
    return (int(first) if first != "*" else None), (
        int(total) if total != "*" else None
    )


def _part_is_complete(part: Path, err: HTTPError) -> bool:
    """After a 416, whether ``part`` already holds the whole file (per ``Content-Range``)."""
    _, total = _parse_content_range(
        err.headers.get("Content-Range") if err.headers else None
    )
    return total is not None and part.exists() and part.stat().st_size == total


def _is_offline(err: BaseException) -> bool:
    """Whether ``err`` means the host is unreachable (no DNS, refused, no route)."""
    reason = err.reason if isinstance(err, URLError) else err
    if isinstance(reason, socket.gaierror):
        return True
    if isinstance(reason, ConnectionRefusedError):
        return True
    return isinstance(reason, OSError) and reason.errno in _OFFLINE_ERRNOS


def _describe(err: BaseException | None) -> str:
    if isinstance(err, HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, URLError):
        return str(err.reason)
    return (
        f"{type(err).__name__}: {err}" if err is not None else "unknown error"
    )


# --------------------------------------------------------------------------------------------
# zip extraction
# --------------------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


def _safe_member_path(
    zip_path: Path, info: zipfile.ZipInfo, target_dir: Path
) -> Path:
    """Where ``info`` goes under ``target_dir``; raises :class:`ArchiveError` if unsafe."""
    name = info.filename
    problem = None
    if not name or "\x00" in name:
        problem = "an empty or NUL-containing name"
    elif name.startswith(("/", "\\")) or _DRIVE.match(name):
        problem = "an absolute path"
    elif ".." in re.split(r"[/\\]", name):
        problem = "a '..' component (it would land outside the target folder)"
    elif stat.S_ISLNK(info.external_attr >> 16):
        problem = "a symbolic link"
    if problem is None:
        target = (target_dir / name).resolve()
        if target != target_dir and target_dir not in target.parents:
            problem = "a path outside the target folder"
    if problem:
        raise ArchiveError(
            f"{zip_path}: refusing member {name!r}: it is {problem}. "
            "Nothing was extracted; the archive is not the expected one."
        )
    return target_dir / name.replace("\\", "/")


def safe_extract_zip(
    zip_path: str | os.PathLike,
    target_dir: str | os.PathLike,
    *,
    members: Iterable[str] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Extract ``members`` (default: all) of ``zip_path`` into ``target_dir``; return the files.

    Every member is checked before anything is written: ``..`` components, absolute paths,
    drive letters and symbolic links raise :class:`ArchiveError` naming the archive and the
    member. Each file is written to a temporary name and renamed into place, so an interrupted
    extraction never leaves a half file; files already there with the member's size are
    skipped. A truncated or corrupt archive raises :class:`CorruptArchiveError`.
    """
    zip_path = Path(zip_path)
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    root = target_dir.resolve()
    corrupt = (
        f"Delete {zip_path} and download it again (the download was probably interrupted "
        "or corrupted)."
    )
    try:
        archive = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
    ) as err:
        raise CorruptArchiveError(
            f"{zip_path} is not a readable zip archive ({err}). {corrupt}"
        ) from err
    written: list[Path] = []
    with archive:
        infos = archive.infolist()
        if members is not None:
            by_name = {info.filename: info for info in infos}
            wanted = list(members)
            unknown = [name for name in wanted if name not in by_name]
            if unknown:
                raise ArchiveError(
                    f"{zip_path}: no member(s) named {unknown[:5]} in the archive"
                )
            infos = [by_name[name] for name in wanted]
        targets = [
            (info, _safe_member_path(zip_path, info, root)) for info in infos
        ]
        for info, target in tqdm(
            targets,
            desc=f"extract {zip_path.name}",
            unit="file",
            disable=not progress,
        ):
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if target.is_file() and target.stat().st_size == info.file_size:
                written.append(target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                _extract_member_atomically(archive, info, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as err:
                raise CorruptArchiveError(
                    f"{zip_path}: member {info.filename!r} is corrupt ({err}). {corrupt}"
                ) from err
            written.append(target)
    return written


def _extract_member_atomically(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path
):
    """Copy one member to a temporary file beside ``target``, then rename it into place."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666
        )  # honours the umask
        with archive.open(info) as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK_SIZE)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
