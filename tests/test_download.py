"""Downloader, safe zip extraction and prepare_flickr8k, against a local faulty HTTP server."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from http_fixtures import FaultyServer, closed_port_url
from PIL import Image

from course_lib.data import download as dl
from course_lib.data.dataset import IMAGE_DIR_NAME, SPLIT_FILES, TOKEN_FILE
from course_lib.data.download import (
    ArchiveError,
    CorruptArchiveError,
    DataError,
    DownloadError,
    OfflineError,
    download,
    safe_extract_zip,
)
from course_lib.data.flickr8k import ARCHIVE_NAMES, prepare_flickr8k, verify_text_files

PAYLOAD = bytes(range(256)) * 400  # 100 KiB, several read chunks
FAST = {"progress": False, "backoff": 0.0, "timeout": 5}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server():
    with FaultyServer({"data.bin": PAYLOAD}) as srv:
        yield srv


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -------------------------------------------------------------------------------- download


def test_download_happy_path_writes_file_and_no_part(server, tmp_path):
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["data.bin"]
    assert server.hits() == 1


def test_download_skips_network_when_file_present(server, tmp_path):
    dest = tmp_path / "data.bin"
    download(server.url("data.bin"), dest, **FAST)
    download(server.url("data.bin"), dest, **FAST)
    download(server.url("data.bin"), dest, sha256=sha(PAYLOAD), **FAST)
    assert server.hits() == 1


def test_download_replaces_present_file_with_wrong_checksum(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"stale")
    download(server.url("data.bin"), dest, sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD


def test_download_corrupted_once_is_rejected_then_retried(server, tmp_path):
    server.add_fault("corrupt")
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.hits() == 2


def test_download_checksum_never_matching_names_file_and_digests(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download(server.url("data.bin"), tmp_path / "data.bin", sha256=wrong, retries=1, **FAST)
    message = str(info.value)
    assert "data.bin" in message and wrong in message and sha(PAYLOAD) in message
    assert leftovers(tmp_path) == []  # neither the file nor a part file is kept
    assert server.hits() == 2


def test_download_truncated_transfer_resumes_with_range(server, tmp_path):
    server.add_fault("drop", after=30_000)
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.range_requests() == ["bytes=30000-"]
    assert server.requests[-1].status == 206


def test_download_truncated_without_checksum_is_still_detected(server, tmp_path):
    server.add_fault("drop", after=1000, times=2)
    dest = download(server.url("data.bin"), tmp_path / "data.bin", **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.range_requests() == ["bytes=1000-", "bytes=2000-"]


def test_download_restarts_from_zero_when_server_ignores_range(server, tmp_path):
    server.add_fault("drop", after=30_000)
    server.add_fault("ignore_range", times=None)
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r.status for r in server.requests] == [200, 200]
    assert server.range_requests() == ["bytes=30000-"]  # asked, but got the whole file


def test_download_resumes_part_file_left_by_earlier_run(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD[:12345])
    download(server.url("data.bin"), dest, sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.range_requests() == ["bytes=12345-"]


def test_download_complete_part_file_is_finished_after_416(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD)  # crashed just before the rename
    download(server.url("data.bin"), dest, sha256=sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r.status for r in server.requests] == [416]


def test_download_404_is_clear_not_retried_and_leaves_nothing(server, tmp_path):
    url = server.url("nope.zip")
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "nope.zip", retries=3, **FAST)
    assert not isinstance(info.value, OfflineError)
    assert url in str(info.value) and "404" in str(info.value)
    assert server.hits() == 1
    assert leftovers(tmp_path) == []


def test_download_500_then_ok_is_retried(server, tmp_path):
    server.add_fault("status", status=500)
    dest = download(server.url("data.bin"), tmp_path / "data.bin", **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r.status for r in server.requests] == [500, 200]


def test_download_persistent_500_gives_up_after_retries(server, tmp_path):
    server.add_fault("status", status=503, times=None)
    with pytest.raises(DownloadError, match="503"):
        download(server.url("data.bin"), tmp_path / "data.bin", retries=2, **FAST)
    assert server.hits() == 3
    assert not (tmp_path / "data.bin").exists()


def test_download_slow_server_times_out_then_retries(server, tmp_path):
    server.add_fault("slow", delay=0.6)
    options = {**FAST, "timeout": 0.2}
    dest = download(server.url("data.bin"), tmp_path / "data.bin", **options)
    assert dest.read_bytes() == PAYLOAD


def test_download_offline_message_names_file_and_folder(tmp_path):
    url = closed_port_url("Flickr8k_text.zip")
    dest = tmp_path / "Flickr8k_text.zip"
    with pytest.raises(OfflineError) as info:
        download(url, dest, retries=1, manual_hint="HINT: put it there", **FAST)
    message = str(info.value)
    assert url in message and str(dest) in message and "HINT: put it there" in message
    assert isinstance(info.value, DataError)
    assert not dest.exists()


# -------------------------------------------------------------------------------- zip safety


def make_zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_extract_writes_members_and_skips_those_already_there(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"d/x.txt": b"hello", "y.txt": b"world"})
    out = tmp_path / "out"
    files = safe_extract_zip(archive, out, progress=False)
    assert sorted(p.relative_to(out).as_posix() for p in files) == ["d/x.txt", "y.txt"]
    assert (out / "d" / "x.txt").read_bytes() == b"hello"
    os.utime(out / "y.txt", (1, 1))
    safe_extract_zip(archive, out, progress=False)
    assert (out / "y.txt").stat().st_mtime == 1  # same size: not rewritten


def test_extract_only_selected_members(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"x.txt": b"1", "y.txt": b"2"})
    safe_extract_zip(archive, tmp_path / "out", members=["y.txt"], progress=False)
    assert leftovers(tmp_path / "out") == ["y.txt"]


@pytest.mark.parametrize(
    "name", ["../evil.txt", "ok/../../evil.txt", "/abs/evil.txt", "C:/evil.txt"]
)
def test_extract_refuses_paths_outside_target_and_writes_nothing(tmp_path, name):
    archive = make_zip(tmp_path / "bad.zip", {"fine.txt": b"ok", name: b"evil"})
    out = tmp_path / "sub" / "out"
    with pytest.raises(ArchiveError) as info:
        safe_extract_zip(archive, out, progress=False)
    assert "bad.zip" in str(info.value) and name in str(info.value)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "sub" / "evil.txt").exists()
    assert leftovers(out) == []  # checked before anything is written


def test_extract_refuses_symlink_member(tmp_path):
    archive = make_zip(tmp_path / "link.zip", {"a.txt": b"a"}, symlinks={"link": "/etc/passwd"})
    with pytest.raises(ArchiveError, match="symbolic link") as info:
        safe_extract_zip(archive, tmp_path / "out", progress=False)
    assert "link.zip" in str(info.value) and "'link'" in str(info.value)
    assert leftovers(tmp_path / "out") == []


def test_extract_truncated_zip_says_delete_and_download_again(tmp_path):
    good = make_zip(tmp_path / "good.zip", {"x.txt": b"x" * 1000})
    broken = tmp_path / "broken.zip"
    broken.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(CorruptArchiveError) as info:
        safe_extract_zip(broken, tmp_path / "out", progress=False)
    assert "broken.zip" in str(info.value) and "download it again" in str(info.value)


def test_extract_crc_error_is_reported_and_leaves_no_half_file(tmp_path):
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("x.bin", b"A" * 5000)
    data = bytearray(archive.read_bytes())
    at = data.index(b"A" * 100) + 50
    data[at] = ord("B")
    archive.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(CorruptArchiveError, match=r"crc\.zip") as info:
        safe_extract_zip(archive, out, progress=False)
    assert "x.bin" in str(info.value)
    assert leftovers(out) == []


def test_extract_interrupted_leaves_no_half_file(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "a.zip", {"big.bin": b"z" * 200_000})

    def boom(src, dst, length=0):
        dst.write(src.read(1000))
        raise KeyboardInterrupt

    monkeypatch.setattr(dl.shutil, "copyfileobj", boom)
    with pytest.raises(KeyboardInterrupt):
        safe_extract_zip(archive, tmp_path / "out", progress=False)
    assert leftovers(tmp_path / "out") == []


# -------------------------------------------------------------------------------- prepare


def tiny_jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (seed * 40 % 256, 90, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


IDS = ["1000_aaaa.jpg", "1001_bbbb.jpg", "1002_cccc.jpg"]


def fixture_archives() -> tuple[bytes, bytes, dict[str, str]]:
    """Flickr8k-named image and text archives (3 tiny photos) and the text files' SHA-256."""
    token = "".join(f"{i}#{k}\tcaption {k} of {i} .\n" for i in IDS for k in range(5))
    text = {
        TOKEN_FILE: token.encode(),
        "Flickr8k.lemma.token.txt": token.encode(),
        SPLIT_FILES["train"]: f"{IDS[0]}\n".encode(),
        SPLIT_FILES["dev"]: f"{IDS[1]}\n".encode(),
        SPLIT_FILES["test"]: IDS[2].encode(),
    }
    text_zip, image_zip = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(text_zip, "w") as zf:
        for name, data in text.items():
            zf.writestr(name, data)
        zf.writestr("readme.txt", b"not needed")
        zf.writestr("__MACOSX/._Flickr8k.token.txt", b"resource fork")
    with zipfile.ZipFile(image_zip, "w") as zf:
        for n, name in enumerate(IDS):
            zf.writestr(f"{IMAGE_DIR_NAME}/{name}", tiny_jpeg(n))
        zf.writestr(f"__MACOSX/{IMAGE_DIR_NAME}/._{IDS[0]}", b"resource fork")
    checksums = {name: sha(data) for name, data in text.items()}
    return image_zip.getvalue(), text_zip.getvalue(), checksums


@pytest.fixture
def flickr_server():
    images, text, checksums = fixture_archives()
    with FaultyServer({ARCHIVE_NAMES["images"]: images, ARCHIVE_NAMES["text"]: text}) as srv:
        srv.urls = {kind: srv.url(name) for kind, name in ARCHIVE_NAMES.items()}
        srv.text_sha256 = checksums
        srv.archive_sha256 = {"images": sha(images), "text": sha(text)}
        yield srv


def prepare(srv: FaultyServer, root: Path, **kw):
    options = {
        "urls": srv.urls,
        "text_sha256": srv.text_sha256,
        "expected_images": len(IDS),
        "progress": False,
        **kw,
    }
    return prepare_flickr8k(root, **options)


def test_prepare_flickr8k_end_to_end_then_does_nothing_again(flickr_server, tmp_path):
    root = tmp_path / "flickr8k"
    dataset = prepare(flickr_server, root, archive_sha256=flickr_server.archive_sha256)
    assert sorted(dataset.captions) == IDS
    assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 1, "dev": 1, "test": 1}
    assert dataset.images_present() and dataset.missing_images() == []
    assert sorted(p.name for p in (root / IMAGE_DIR_NAME).iterdir()) == IDS  # no ._ files
    assert all(verify_text_files(root, flickr_server.text_sha256).values())
    assert not (root / "__MACOSX").exists() and not (root / "readme.txt").exists()
    hits = flickr_server.hits()
    assert hits == 2
    prepare(flickr_server, root)
    # Zips deleted, files in place (as if unzipped by hand): still nothing downloaded.
    for name in ARCHIVE_NAMES.values():
        (root / name).unlink()
    again = prepare(flickr_server, root)
    assert flickr_server.hits() == hits
    assert again.summary()["n_captions"] == 15


def test_prepare_flickr8k_text_only_fetches_only_text_zip(flickr_server, tmp_path):
    dataset = prepare(flickr_server, tmp_path / "f", images=False)
    assert flickr_server.hits(ARCHIVE_NAMES["text"]) == 1
    assert flickr_server.hits(ARCHIVE_NAMES["images"]) == 0
    assert not dataset.images_present() and len(dataset.captions) == 3


def test_prepare_flickr8k_reextracts_a_tampered_text_file(flickr_server, tmp_path):
    root = tmp_path / "f"
    prepare(flickr_server, root, images=False)
    token = root / TOKEN_FILE
    token.write_bytes(token.read_bytes().replace(b"caption", b"CAPTION"))  # same size
    prepare(flickr_server, root, images=False)
    assert b"CAPTION" not in token.read_bytes()
    assert flickr_server.hits() == 1  # the kept zip was used


def test_prepare_flickr8k_wrong_text_checksum_names_the_file(flickr_server, tmp_path):
    wrong = {**flickr_server.text_sha256, SPLIT_FILES["dev"]: "f" * 64}
    with pytest.raises(DataError) as info:
        prepare(flickr_server, tmp_path / "f", images=False, text_sha256=wrong)
    assert SPLIT_FILES["dev"] in str(info.value) and "f" * 64 in str(info.value)


def test_prepare_flickr8k_archive_checksum_from_environment(flickr_server, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FLICKR8K_SHA256_TEXT", "a" * 64)
    with pytest.raises(DownloadError, match="a" * 64):
        prepare(flickr_server, tmp_path / "f", images=False, retries=0)


def test_prepare_flickr8k_wrong_image_count_is_an_error(flickr_server, tmp_path):
    with pytest.raises(DataError, match="holds 3 images after extraction, expected 5"):
        prepare(flickr_server, tmp_path / "f", expected_images=5)


def test_prepare_flickr8k_offline_explains_what_to_place_where(tmp_path):
    root = tmp_path / "flickr8k"
    urls = {"images": closed_port_url("Flickr8k_Dataset.zip"), "text": closed_port_url("x.zip")}
    with pytest.raises(OfflineError) as info:
        prepare_flickr8k(root, urls=urls, progress=False, retries=0)
    message = str(info.value)
    for expected in (
        str(root),
        "Flickr8k_Dataset.zip",
        "Flickr8k_text.zip",
        f"{root / IMAGE_DIR_NAME}/*.jpg",
        str(root / TOKEN_FILE),
        urls["images"],
        urls["text"],
    ):
        assert expected in message
