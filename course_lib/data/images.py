"""The course's one image path: any photo on disk becomes an (H, W, 3) uint8 RGB array.

Flickr8k is mostly plain RGB JPEGs, but a course that invites students to caption their own
photos meets everything: phone pictures rotated by an EXIF tag, grayscale scans, CMYK JPEGs,
PNGs with transparency, palette GIFs, 16-bit TIFFs, half-downloaded files and files that are
not images at all. :func:`load_image` turns the first kinds into RGB and the last kinds into an
:class:`ImageError` that names the file and says what is wrong.

Every image the course reads goes through :func:`load_image`: the backbone's pretraining
(:func:`read_images`), batched feature extraction (:func:`image_batches`, a ``tf.data``
pipeline that decodes with Pillow in parallel) and captioning a student's own photo. So the
pixels a model was trained on and the pixels of a photo it captions are decoded, oriented and
resized the same way (:data:`RESIZE`). :func:`image_batches` gives float32 0–255 images in the
order of the paths; an image that cannot be read is left out of its batch, and its index maps
to the reason in ``failures`` (when a dict is given).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from course_lib import config

__all__ = [
    "MAX_PIXELS",
    "RESIZE",
    "ImageError",
    "decode_pixels",
    "image_batches",
    "load_image",
    "numpy_image_batches",
    "open_image",
    "read_images",
    "size_pair",
    "to_rgb",
    "upright",
]

#: Largest image (width x height, after JPEG draft downscaling) that is decoded; larger ones are
#: refused as possible decompression bombs. Pillow's own limit applies on top of this one.
MAX_PIXELS = 64 * 1024 * 1024

_WHITE = (255, 255, 255)

#: The one resize of the course, as recorded in feature-cache metadata.
RESIZE = (
    "Pillow: EXIF orientation applied, converted to RGB (transparency over white), "
    "bicubic resize (antialiased when shrinking) to {size}x{size}, no crop"
)


class ImageError(ValueError):
    """An image file that cannot be used; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def size_pair(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``size`` as (height, width): an int is a square; None stays None."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    else:
        height, width = (int(v) for v in size)
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    return height, width


def open_image(path: Path) -> Image.Image:
    """Open ``path`` lazily (header only), turning every failure into an ImageError."""
    if not path.exists():
        raise ImageError(path, "file not found")
    if not path.is_file():
        raise ImageError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise ImageError(path, "empty file (0 bytes)")
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageError(
            path, "not an image (format not recognised)"
        ) from None
    except Image.DecompressionBombError as err:
        raise ImageError(path, f"too large to decode safely ({err})") from err
    except OSError as err:
        raise ImageError(path, f"cannot be opened ({err})") from err
    width, height = image.size
    if width == 0 or height == 0:
        image.close()
        raise ImageError(path, f"zero-size image ({width}x{height})")
    return image


def decode_pixels(
    image: Image.Image, path: Path, target: tuple[int, int] | None
) -> None:
    """Decode the pixels of an opened image, refusing decompression bombs (more than
    :data:`MAX_PIXELS`; a large JPEG is first drafted down towards ``target``) and truncated
    or corrupt data with an :class:`ImageError`."""
    if image.width * image.height > MAX_PIXELS:
        if image.format == "JPEG" and target is not None:
            # Decode at 1/2, 1/4 or 1/8 scale, never smaller than the target size.
            image.draft("RGB", (target[1], target[0]))
        if image.width * image.height > MAX_PIXELS:
            raise ImageError(
                path,
                f"{image.width}x{image.height} pixels is more than "
                f"MAX_PIXELS={MAX_PIXELS} (possible decompression bomb)",
            )
    try:
        image.load()  # raises OSError for truncated or corrupt data
    except Image.DecompressionBombError as err:
        raise ImageError(path, f"too large to decode safely ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(
            path, f"truncated or corrupt image data ({err})"
        ) from err


def upright(image: Image.Image) -> Image.Image:
    """The image as displayed: its EXIF orientation applied (a broken EXIF block is ignored)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not hide a good image
        return image


def to_rgb(image: Image.Image, path: Path) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited onto white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert(
            "RGBA" if "transparency" in image.info else "RGB"
        )
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if (
        mode.startswith("I") or mode == "F"
    ):  # 16/32-bit integer or float grayscale
        values = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or (
            mode == "I" and values.max(initial=0) > 255
        ):
            values = values / 257.0  # 0..65535 -> 0..255
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2))
    try:
        return image.convert("RGB")  # L, 1, CMYK, YCbCr, ...
    except (ValueError, OSError) as err:
        raise ImageError(
            path, f"unsupported image mode {mode!r} ({err})"
        ) from err


def load_image(
    path: str | os.PathLike, size: int | tuple[int, int] | None = None
) -> np.ndarray:
    """An image file as the (H, W, 3) uint8 RGB array it displays as.

    ``size``: resize (:data:`RESIZE`) to (size, size), or to (height,
    width) for a pair; None keeps the image's size. Any mode becomes RGB
    (:func:`to_rgb`); an animated image gives its first frame. Raises
    :class:`ImageError`, naming the file, for a missing, empty, truncated
    or corrupt file, a non-image, or one over :data:`MAX_PIXELS` pixels.
    """
    path, target = Path(path), size_pair(size)
    with open_image(path) as image:
        decode_pixels(image, path, target)
        rgb = to_rgb(upright(image), path)
        if target is not None and (rgb.height, rgb.width) != target:
            height, width = target
            rgb = rgb.resize((width, height), Image.Resampling.BICUBIC)
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def read_images(paths: Sequence[str | os.PathLike], size: int) -> np.ndarray:
    """Load and resize several images with :func:`load_image`: (n, size, size, 3) float32 in
    0–255, the input every backbone takes. Raises :class:`ImageError` naming the first file
    that cannot be read."""
    if not paths:
        return np.zeros((0, size, size, 3), dtype=np.float32)
    return np.stack([load_image(path, size) for path in paths]).astype(
        np.float32
    )


def was_read(index: Any, image: Any, ok: Any) -> Any:
    """Whether the image of an ``(index, image, ok)`` element could be read."""
    return ok


def without_flag(index: Any, image: Any, ok: Any) -> tuple[Any, Any]:
    """``(index, image)``: the element without its read flag."""
    return index, image


def image_batches(
    paths: Sequence[str | os.PathLike],
    size: int,
    batch_size: int,
    failures: dict[int, str] | None = None,
) -> Any:
    """Batches (indices (b,), images (b, S, S, 3)); skipped: ``failures``."""
    tf, failed = config.tensorflow(), {} if failures is None else failures

    def decode(index):
        try:
            return load_image(paths[int(index)], size).astype(np.float32), True
        except ImageError as err:
            failed[int(index)] = err.reason
            return np.zeros((size, size, 3), dtype=np.float32), False

    def load(index):
        out = (tf.float32, tf.bool)
        image, ok = tf.numpy_function(decode, [index], out, stateful=False)
        return index, tf.ensure_shape(image, (size, size, 3)), ok

    ds = tf.data.Dataset.range(len(paths))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(was_read).map(without_flag)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def numpy_image_batches(
    paths: Sequence[str | os.PathLike],
    size: int,
    batch_size: int,
    failures: dict[int, str] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`image_batches` without TensorFlow (for the other Keras
    backends): the same batches as NumPy arrays, decoded in order."""
    failed = {} if failures is None else failures
    indices: list[int] = []
    images: list[np.ndarray] = []
    for index, path in enumerate(paths):
        try:
            images.append(load_image(path, size).astype(np.float32))
        except ImageError as err:
            failed[index] = err.reason
            continue
        indices.append(index)
        if len(indices) == batch_size:
            yield np.array(indices), np.stack(images)
            indices, images = [], []
    if indices:
        yield np.array(indices), np.stack(images)
