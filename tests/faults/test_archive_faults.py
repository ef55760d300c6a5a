"""Archives: members that escape the target folder, symbolic links, truncated or corrupt zips
and zips holding the wrong files are refused with a clear message; nothing lands outside."""

from __future__ import annotations

import zipfile

import pytest
from http_fixtures import closed_port_url

from course_lib.data.dataset import IMAGE_DIR_NAME, TOKEN_FILE
from course_lib.data.download import (
    ArchiveError,
    CorruptArchiveError,
    DataError,
    OfflineError,
    safe_extract_zip,
)
from course_lib.data.flickr8k import ARCHIVE_NAMES, prepare_flickr8k

from .helpers import files_under, jpeg_bytes, make_zip, scene_image


@pytest.fixture
def sandbox(tmp_path):
    """``(zip path, target folder, outer folder)``: the target sits two levels inside."""
    outer = tmp_path / "outer"
    target = outer / "data" / "target"
    target.mkdir(parents=True)
    return tmp_path / "archive.zip", target, outer


def _refused(sandbox, members=None, symlinks=None, match=None):
    zip_path, target, outer = sandbox
    zip_path.write_bytes(make_zip({"good.txt": b"fine", **(members or {})}, symlinks=symlinks))
    with pytest.raises(ArchiveError, match=match) as err:
        safe_extract_zip(zip_path, target, progress=False)
    assert str(zip_path) in str(err.value) and "Nothing was extracted" in str(err.value)
    assert files_under(outer) == []  # not even the good member: checks come first
    return err.value


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "../../evil.txt",
        "sub/../../evil.txt",
        "..\\evil.txt",
        "sub\\..\\..\\evil.txt",
    ],
)
def test_zip_member_with_dotdot_is_refused_and_nothing_written_outside(sandbox, name):
    err = _refused(sandbox, {name: b"pwned"}, match="'..' component")
    assert repr(name) in str(err)


@pytest.mark.parametrize("name", ["/tmp/evil.txt", "\\evil.txt", "C:/evil.txt", "c:evil.txt"])
def test_zip_member_with_absolute_path_is_refused_and_nothing_written(sandbox, name):
    _refused(sandbox, {name: b"pwned"}, match="absolute path")


def test_zip_symlink_member_is_refused_and_no_link_created(sandbox):
    _refused(sandbox, symlinks={"link": "/etc/passwd"}, match="symbolic link")


def test_zip_symlink_then_file_through_it_is_refused(sandbox):
    _refused(
        sandbox, {"link/evil.txt": b"pwned"}, symlinks={"link": "../../.."}, match="symbolic link"
    )


def test_zip_member_through_an_existing_symlinked_folder_is_refused(sandbox, tmp_path):
    zip_path, target, _outer = sandbox
    (target / "escape").symlink_to(tmp_path)  # planted beforehand, e.g. by a bad earlier run
    zip_path.write_bytes(make_zip({"escape/evil.txt": b"pwned"}))
    with pytest.raises(ArchiveError, match="outside the target folder"):
        safe_extract_zip(zip_path, target, progress=False)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_zip_is_refused_with_delete_and_download_again(sandbox, keep):
    zip_path, target, outer = sandbox
    blob = make_zip({f"f{k}.bin": bytes(range(256)) * 64 for k in range(4)})
    zip_path.write_bytes(blob[: int(len(blob) * keep)])
    with pytest.raises(CorruptArchiveError, match="download it again") as err:
        safe_extract_zip(zip_path, target, progress=False)
    assert str(zip_path) in str(err.value)
    assert files_under(outer) == []


def test_zip_with_corrupted_member_data_is_refused_and_leaves_no_half_file(sandbox):
    zip_path, target, outer = sandbox
    payload = bytes(range(256)) * 256
    blob = bytearray(make_zip({"a.bin": payload}))
    blob[len(blob) // 3] ^= 0xFF  # inside the compressed data, the central directory intact
    zip_path.write_bytes(bytes(blob))
    with pytest.raises(CorruptArchiveError, match=r"'a\.bin' is corrupt"):
        safe_extract_zip(zip_path, target, progress=False)
    assert files_under(outer) == []  # the temporary copy was removed


def test_file_that_is_not_a_zip_at_all_is_refused(sandbox):
    zip_path, target, _outer = sandbox
    zip_path.write_bytes(b"<html>404 Not Found</html>")  # what a bad mirror serves
    with pytest.raises(CorruptArchiveError, match="not a readable zip archive"):
        safe_extract_zip(zip_path, target, progress=False)


OFFLINE = {"images": closed_port_url("a.zip"), "text": closed_port_url("b.zip")}


def test_text_zip_holding_the_wrong_files_is_refused_naming_what_is_missing(tmp_path):
    root = tmp_path / "flickr8k"
    root.mkdir()
    (root / ARCHIVE_NAMES["text"]).write_bytes(make_zip({"README.txt": b"something else"}))
    with pytest.raises(DataError, match="not the expected ones") as err:
        prepare_flickr8k(
            root, urls=OFFLINE, text_sha256=None, images=False, retries=0, progress=False
        )
    assert f"{root / TOKEN_FILE}: missing from {ARCHIVE_NAMES['text']}" in str(err.value)
    assert not (root / "README.txt").exists()


def test_image_zip_holding_the_wrong_files_is_refused_and_nothing_extracted(tmp_path):
    root = tmp_path / "flickr8k"
    root.mkdir()
    token = "".join(f"{k:03d}.jpg#0\ta photo\n" for k in range(2))
    (root / TOKEN_FILE).write_text(token)
    for name in (
        "Flickr_8k.trainImages.txt",
        "Flickr_8k.devImages.txt",
        "Flickr_8k.testImages.txt",
    ):
        (root / name).write_text("000.jpg\n" if "train" in name else "")
    wrong = make_zip({"photos/000.jpg": jpeg_bytes(scene_image(0)), "notes.txt": b"x"})
    (root / ARCHIVE_NAMES["images"]).write_bytes(wrong)
    with pytest.raises(DataError, match="not Flickr8k's image archive"):
        prepare_flickr8k(
            root, urls=OFFLINE, text_sha256=None, expected_images=None, retries=0, progress=False
        )
    assert not (root / "photos").exists() and not (root / IMAGE_DIR_NAME).exists()


def test_truncated_archive_placed_by_hand_is_refused_then_fetched_again(tmp_path):
    root = tmp_path / "flickr8k"
    root.mkdir()
    blob = make_zip({f"{IMAGE_DIR_NAME}/{k}.jpg": jpeg_bytes(scene_image(k)) for k in range(3)})
    (root / ARCHIVE_NAMES["text"]).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(OfflineError, match="save it as"):  # refused, re-download needs a network
        prepare_flickr8k(
            root, urls=OFFLINE, text_sha256=None, images=False, retries=0, progress=False
        )
    assert not (root / ARCHIVE_NAMES["text"]).exists()  # the bad copy is not trusted again
    assert not (root / TOKEN_FILE).exists()


def test_zip_extraction_interrupted_then_rerun_completes(sandbox, monkeypatch):
    zip_path, target, _outer = sandbox
    members = {f"f{k}.bin": bytes([k]) * 5000 for k in range(4)}
    zip_path.write_bytes(make_zip(members))
    from course_lib.data import download as dl

    real = dl._extract_member_atomically
    calls = []

    def crash_on_third(archive, info, dest):
        calls.append(info.filename)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Colab's stop button
        real(archive, info, dest)

    monkeypatch.setattr(dl, "_extract_member_atomically", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        safe_extract_zip(zip_path, target, progress=False)
    assert files_under(target) == ["f0.bin", "f1.bin"]  # whole files only, no temp names
    monkeypatch.setattr(dl, "_extract_member_atomically", real)
    safe_extract_zip(zip_path, target, progress=False)
    assert {p: (target / p).read_bytes() for p in members} == members
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == files_under(target)
