"""Two processes (two notebooks, parallel nbval) doing the same work at once: they take turns
or write atomically; no file is ever corrupt and both get the same result."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from http_fixtures import FaultyServer

from course_lib.data.flickr8k import ARCHIVE_NAMES, prepare_flickr8k

from . import concurrent_child
from .helpers import files_under, jpeg_bytes, make_zip, scene_image, write_dataset

SPAWN = multiprocessing.get_context("spawn")


def _run_together(target, *arg_lists, timeout=600):
    """Start one spawned process per argument tuple, all at once, and wait for them."""
    procs = [SPAWN.Process(target=target, args=args) for args in arg_lists]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout)
        assert proc.exitcode == 0, f"{target.__name__} failed in a child ({proc.exitcode})"


def test_two_processes_generating_the_same_synthetic_dataset_at_once_agree(tmp_path):
    shared = tmp_path / "shared"
    _run_together(concurrent_child.generate, (str(shared),), (str(shared),))
    alone = tmp_path / "alone"
    concurrent_child.generate(str(alone))
    names = [n for n in files_under(alone) if not n.endswith(".lock")]
    assert [n for n in files_under(shared) if not n.endswith(".lock")] == names
    for name in names:
        assert (shared / name).read_bytes() == (alone / name).read_bytes(), name


@pytest.mark.slow
def test_two_processes_extracting_the_same_features_at_once_agree(tmp_path):
    root = write_dataset(
        tmp_path / "tiny", {f"im_{k}.jpg": jpeg_bytes(scene_image(k)) for k in range(6)}
    )
    data_dir = tmp_path / "data"
    outs = [str(tmp_path / f"out{k}.npy") for k in range(2)]
    _run_together(concurrent_child.extract, *[(str(root), str(data_dir), o) for o in outs])
    a, b = (np.load(o, allow_pickle=False) for o in outs)
    np.testing.assert_array_equal(a, b)
    assert json.loads(Path(outs[0] + ".json").read_text()) == json.loads(
        Path(outs[1] + ".json").read_text()
    )
    files = [p for p in files_under(data_dir / "features") if not p.endswith(".lock")]
    names = sorted(Path(p).name for p in files)  # one store, no temporary files
    assert names == [
        "manifest.json",
        *(f"shard-0000{k}.{e}" for k in range(3) for e in ("json", "npy")),
    ]
    assert len({Path(p).parent for p in files}) == 1


def test_two_processes_replacing_the_same_file_never_leave_it_half_written(tmp_path):
    path = tmp_path / "state.json"
    _run_together(concurrent_child.write_many, (str(path), "a", 60), (str(path), "b", 60))
    data = json.loads(path.read_text())
    assert data["i"] == 59 and len(data["pad"]) == 20_000
    assert files_under(tmp_path) == ["state.json"]


def test_file_lock_lets_only_one_process_in_at_a_time(tmp_path):
    log = tmp_path / "log.txt"
    lock = str(tmp_path / "work")
    _run_together(concurrent_child.locked_section, (lock, str(log), "a"), (lock, str(log), "b"))
    lines = log.read_text().splitlines()
    assert len(lines) == 12
    for first, second in zip(lines[::2], lines[1::2], strict=True):
        assert first.endswith(" in") and second == first.replace(" in", " out")


def test_two_threads_preparing_flickr8k_at_once_download_each_archive_once(tmp_path):
    import threading

    ids = [f"{k:03d}.jpg" for k in range(3)]
    text = make_zip(
        {
            "Flickr8k.token.txt": "".join(f"{i}#0\ta photo\n" for i in ids).encode(),
            "Flickr_8k.trainImages.txt": b"000.jpg\n001.jpg\n",
            "Flickr_8k.devImages.txt": b"002.jpg\n",
            "Flickr_8k.testImages.txt": b"",
        }
    )
    images = make_zip(
        {f"Flicker8k_Dataset/{i}": jpeg_bytes(scene_image(k)) for k, i in enumerate(ids)}
    )
    root = tmp_path / "flickr8k"
    results, errors = [], []
    with FaultyServer({"t.zip": text, "i.zip": images}) as server:
        server.add_fault("slow", delay=0.3, times=None)  # so that the two calls overlap
        urls = {"text": server.url("t.zip"), "images": server.url("i.zip")}

        def prepare():
            try:
                results.append(
                    prepare_flickr8k(
                        root, urls=urls, text_sha256=None, expected_images=3, progress=False
                    )
                )
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=prepare) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert server.hits("t.zip") == 1 and server.hits("i.zip") == 1
    assert results[0].captions == results[1].captions and len(results[0].captions) == 3
    assert (root / ARCHIVE_NAMES["images"]).read_bytes() == images
