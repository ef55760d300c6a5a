"""Builders for the fault-injection tests: tiny datasets in Flickr8k's layout, odd images,
zip archives and child processes that can be killed part way."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = "Flicker8k_Dataset"
TOKEN_FILE = "Flickr8k.token.txt"
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "dev": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


def scene_image(k: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A small, distinct RGB picture for image number ``k`` (deterministic)."""
    rng = np.random.default_rng(k)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def jpeg_bytes(image: Image.Image, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **kw)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_dataset(
    root: Path,
    images: Mapping[str, bytes | None],
    *,
    captions: Mapping[str, list[str]] | None = None,
    splits: Mapping[str, list[str]] | None = None,
) -> Path:
    """Write a dataset in Flickr8k's layout: ``images`` maps image id -> file bytes (None: no
    file); every id gets two captions unless ``captions`` says otherwise; all ids go to train
    unless ``splits`` says otherwise. Returns ``root``."""
    image_dir = root / IMAGE_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        if data is not None:
            (image_dir / name).write_bytes(data)
    captions = captions or {name: [f"picture {name[:3]}", "a thing"] for name in images}
    lines = [
        f"{name}#{k}\t{text}\n" for name, caps in captions.items() for k, text in enumerate(caps)
    ]
    (root / TOKEN_FILE).write_text("".join(lines), encoding="utf-8")
    splits = splits or {"train": list(images), "dev": [], "test": []}
    for split, file_name in SPLIT_FILES.items():
        (root / file_name).write_text("".join(f"{i}\n" for i in splits.get(split, [])))
    return root


def make_zip(members: Mapping[str, bytes], *, symlinks: Mapping[str, str] | None = None) -> bytes:
    """A zip archive (bytes) of ``members``; ``symlinks`` maps member name -> link target."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix, so that the mode bits below count
            info.external_attr = 0o120777 << 16  # S_IFLNK | 0777
            archive.writestr(info, target)
    return buffer.getvalue()


def files_under(folder: Path) -> list[str]:
    """Every file and link below ``folder``, relative, sorted (hidden temp files included)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]),
        "CUDA_VISIBLE_DEVICES": "",
    }


def start_child(module: str, *args: str) -> subprocess.Popen:
    """Run ``python -m module args`` in a child process with the repository importable."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *map(str, args)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen | None, what: str, timeout: float = 300.0
) -> None:
    """Poll ``condition`` (generous timeout for a loaded machine); fail if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"child exited ({proc.returncode}) before {what}:\n{out[-3000:]}")
        if time.monotonic() > deadline:
            if proc is not None:
                stop(proc)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and close its pipe (a killed child's open pipe is a ResourceWarning)."""
    proc.kill()
    proc.communicate()


def finish(proc: subprocess.Popen, timeout: float = 600.0) -> str:
    out, _ = proc.communicate(timeout=timeout)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    return text
