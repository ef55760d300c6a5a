"""Downloads against a faulty server on 127.0.0.1: drops, corruption, HTTP errors, a slow
server and no network at all."""

from __future__ import annotations

import errno
import hashlib
import time

import pytest
from http_fixtures import FaultyServer, closed_port_url

from course_lib.data.dataset import IMAGE_DIR_NAME, TOKEN_FILE
from course_lib.data.download import DownloadError, OfflineError, download
from course_lib.data.flickr8k import ARCHIVE_NAMES, prepare_flickr8k

from .helpers import SPLIT_FILES, files_under, jpeg_bytes, make_zip, scene_image

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: several 64 KiB read chunks
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
QUIET = {"progress": False, "backoff": 0.0, "timeout": 10}


@pytest.fixture
def server():
    with FaultyServer({"data.bin": PAYLOAD}) as srv:
        yield srv


@pytest.mark.parametrize("offset", [1, 65_536, 100_000, len(PAYLOAD) - 1])
def test_connection_dropped_at_byte_offset_resumes_and_verifies(server, tmp_path, offset):
    server.add_fault("drop", after=offset)
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=DIGEST, **QUIET)
    assert dest.read_bytes() == PAYLOAD
    assert server.range_requests("data.bin") == [f"bytes={offset}-"]
    assert files_under(tmp_path) == ["data.bin"]


def test_connection_dropped_three_times_at_different_offsets_resumes_each_time(server, tmp_path):
    server.add_fault("drop", after=10_000, times=3)  # each answer is cut after 10,000 bytes
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=DIGEST, **QUIET)
    assert dest.read_bytes() == PAYLOAD
    assert server.range_requests("data.bin") == ["bytes=10000-", "bytes=20000-", "bytes=30000-"]


def test_connection_dropped_on_every_attempt_fails_keeps_part_and_no_final_file(server, tmp_path):
    server.add_fault("drop", after=1000, times=None)
    with pytest.raises(DownloadError, match=r"failed after 3 attempt\(s\)") as err:
        download(server.url("data.bin"), tmp_path / "data.bin", retries=2, **QUIET)
    assert "resumes" in str(err.value)
    assert not (tmp_path / "data.bin").exists()
    assert (tmp_path / "data.bin.part").stat().st_size == 3000
    server.clear_faults()  # the network is back: the next run resumes from the .part
    download(server.url("data.bin"), tmp_path / "data.bin", sha256=DIGEST, **QUIET)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert server.range_requests("data.bin")[-1] == "bytes=3000-"


def test_corrupted_bytes_on_every_attempt_are_rejected_and_nothing_kept(server, tmp_path):
    server.add_fault("corrupt", offset=12_345, times=None)
    with pytest.raises(DownloadError, match="SHA-256 mismatch") as err:
        download(server.url("data.bin"), tmp_path / "data.bin", sha256=DIGEST, **QUIET)
    assert "nothing was kept" in str(err.value)
    assert files_under(tmp_path) == []


def test_corrupted_bytes_in_a_resumed_range_are_rejected_then_downloaded_again(server, tmp_path):
    server.add_fault("drop", after=50_000)
    server.add_fault("corrupt", offset=10, times=2)  # the first and the resumed answer
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=DIGEST, **QUIET)
    assert dest.read_bytes() == PAYLOAD
    assert server.hits("data.bin") == 3  # dropped, resumed-but-corrupt, clean restart


@pytest.mark.parametrize("with_stale_part", [False, True])
def test_http_404_is_a_clear_error_and_leaves_no_partial_file(server, tmp_path, with_stale_part):
    dest = tmp_path / "missing.zip"
    if with_stale_part:
        dest.with_name("missing.zip.part").write_bytes(b"half")
    with pytest.raises(DownloadError, match="HTTP 404") as err:
        download(server.url("missing.zip"), dest, **QUIET)
    assert server.url("missing.zip") in str(err.value) and "Check the address" in str(err.value)
    assert files_under(tmp_path) == []
    assert server.hits("missing.zip") == 1  # not retried


def test_http_500_every_time_is_retried_then_a_clear_error_and_no_final_file(server, tmp_path):
    server.add_fault("status", status=500, times=None)
    with pytest.raises(DownloadError, match="HTTP 500") as err:
        download(server.url("data.bin"), tmp_path / "data.bin", retries=2, **QUIET)
    assert server.hits("data.bin") == 3
    assert not (tmp_path / "data.bin").exists()
    assert "data.bin.part" not in str(err.value)  # nothing was received, so nothing is "kept"
    assert files_under(tmp_path) == []


def test_http_500_twice_then_success_is_retried_and_verified(server, tmp_path):
    server.add_fault("status", status=500, times=2)
    dest = download(server.url("data.bin"), tmp_path / "data.bin", sha256=DIGEST, **QUIET)
    assert dest.read_bytes() == PAYLOAD and server.hits("data.bin") == 3


def test_slow_server_within_the_timeout_shows_progress_and_completes(server, tmp_path, capsys):
    server.add_fault("slow", delay=0.3)
    download(
        server.url("data.bin"),
        tmp_path / "data.bin",
        sha256=DIGEST,
        progress=True,
        backoff=0,
        timeout=30,
    )
    err = capsys.readouterr().err
    assert "data.bin" in err and "B" in err  # tqdm's bar: file name and bytes


def test_slow_server_beyond_the_timeout_is_abandoned_in_time_and_reported(server, tmp_path):
    server.add_fault("slow", delay=4.0, times=None)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out") as err:
        download(
            server.url("data.bin"),
            tmp_path / "data.bin",
            retries=1,
            timeout=0.5,
            backoff=0,
            progress=False,
        )
    elapsed = time.monotonic() - start
    assert elapsed < 3.5, f"the 0.5 s timeout was not honoured ({elapsed:.1f} s for 2 tries)"
    assert not isinstance(err.value, OfflineError)
    assert not (tmp_path / "data.bin").exists()


def test_disk_full_while_downloading_stops_at_once_with_a_clear_message(
    server, tmp_path, monkeypatch
):
    import builtins

    real_open = builtins.open

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(file, mode="r", *args, **kw):
        handle = real_open(file, mode, *args, **kw)
        return FullDisk(handle) if str(file).endswith(".part") and "b" in mode else handle

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(DownloadError, match="No space left") as err:
        download(server.url("data.bin"), tmp_path / "data.bin", **QUIET)
    assert "free" in str(err.value).lower()  # says what to do
    assert server.hits("data.bin") == 1  # not retried: retrying cannot help
    assert not (tmp_path / "data.bin").exists()


def test_no_network_says_which_file_to_save_where_by_hand(tmp_path):
    url = closed_port_url("Flickr8k_text.zip")
    dest = tmp_path / "Flickr8k_text.zip"
    with pytest.raises(OfflineError) as err:
        download(url, dest, retries=0, **{**QUIET, "timeout": 5})
    message = str(err.value)
    assert "no network?" in message and url in message and f"save it as {dest}" in message
    assert files_under(tmp_path) == []


def test_no_network_prepare_flickr8k_lists_both_archives_and_where_to_put_them(tmp_path):
    urls = {
        "images": closed_port_url("Flickr8k_Dataset.zip"),
        "text": closed_port_url("Flickr8k_text.zip"),
    }
    root = tmp_path / "flickr8k"
    with pytest.raises(OfflineError) as err:
        prepare_flickr8k(root, urls=urls, retries=0, progress=False)
    message = str(err.value)
    for expected in (
        ARCHIVE_NAMES["images"],
        ARCHIVE_NAMES["text"],
        str(root),
        TOKEN_FILE,
        f"{root / IMAGE_DIR_NAME}",
        "Run this again",
    ):
        assert expected in message, expected


def _text_zip() -> bytes:
    ids = [f"{k:03d}_x.jpg" for k in range(4)]
    token = "".join(f"{i}#{k}\ta photo number {n}\n" for n, i in enumerate(ids) for k in range(5))
    members = {f"Flickr8k_text/{TOKEN_FILE}": token.encode()}
    for split, name in SPLIT_FILES.items():
        chosen = {"train": ids[:2], "dev": ids[2:3], "test": ids[3:]}[split]
        members[f"Flickr8k_text/{name}"] = "".join(f"{i}\n" for i in chosen).encode()
    return make_zip(members)


def _image_zip() -> bytes:
    return make_zip(
        {f"{IMAGE_DIR_NAME}/{k:03d}_x.jpg": jpeg_bytes(scene_image(k)) for k in range(4)}
    )


def test_no_network_with_archives_placed_by_hand_prepares_the_dataset(tmp_path):
    root = tmp_path / "flickr8k"
    root.mkdir()
    (root / ARCHIVE_NAMES["text"]).write_bytes(_text_zip())
    (root / ARCHIVE_NAMES["images"]).write_bytes(_image_zip())
    urls = {"images": closed_port_url("a.zip"), "text": closed_port_url("b.zip")}
    dataset = prepare_flickr8k(
        root, urls=urls, text_sha256=None, expected_images=None, retries=0, progress=False
    )
    assert len(dataset.captions) == 4 and dataset.splits["train"] == ["000_x.jpg", "001_x.jpg"]
    assert dataset.missing_images() == []


def test_no_network_with_files_unzipped_by_hand_prepares_the_dataset(tmp_path):
    import io
    import zipfile

    root = tmp_path / "flickr8k"
    for blob in (_text_zip(), _image_zip()):
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            archive.extractall(root)
    for name in (TOKEN_FILE, *SPLIT_FILES.values()):  # a student flattens the text folder
        (root / "Flickr8k_text" / name).rename(root / name)
    urls = {"images": closed_port_url("a.zip"), "text": closed_port_url("b.zip")}
    dataset = prepare_flickr8k(
        root, urls=urls, text_sha256=None, expected_images=4, retries=0, progress=False
    )
    assert len(dataset.captions) == 4 and not dataset.missing_images()
    assert not (root / ARCHIVE_NAMES["text"]).exists()  # nothing was downloaded
