"""load_image: every kind of picture becomes (H, W, 3) uint8 RGB, bad files a clear ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from course_lib.data import images
from course_lib.data.images import ImageError, load_image


def save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def check_rgb(array: np.ndarray, shape: tuple[int, int]) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (*shape, 3)
    assert array.flags["C_CONTIGUOUS"]


def test_rgb_jpeg_loads_at_its_own_size_and_resized(tmp_path):
    path = save(Image.new("RGB", (12, 8), (200, 30, 30)), tmp_path / "red.jpg", quality=95)
    full = load_image(path)
    check_rgb(full, (8, 12))
    assert np.abs(full.astype(int) - (200, 30, 30)).max() < 12
    check_rgb(load_image(path, 6), (6, 6))
    check_rgb(load_image(path, (4, 10)), (4, 10))  # (height, width)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
    array = load_image(save(gray, tmp_path / "gray.png"))
    check_rgb(array, (8, 8))
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()
    assert array[0, 0, 0] == 0 and array[7, 7, 0] == 252


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    cyan = Image.new("CMYK", (8, 8), (255, 0, 0, 0))
    array = load_image(save(cyan, tmp_path / "cmyk.jpg", quality=95))
    check_rgb(array, (8, 8))
    r, g, b = array[4, 4].astype(int)
    assert r < 40 and g > 215 and b > 215


def test_rgba_png_is_composited_onto_white(tmp_path):
    rgba = Image.new("RGBA", (4, 2), (0, 0, 0, 0))  # fully transparent
    rgba.putpixel((0, 0), (255, 0, 0, 255))  # one opaque red pixel
    rgba.putpixel((1, 0), (0, 0, 0, 128))  # half-transparent black
    array = load_image(save(rgba, tmp_path / "rgba.png"))
    check_rgb(array, (2, 4))
    assert tuple(array[0, 0]) == (255, 0, 0)
    assert tuple(array[1, 3]) == (255, 255, 255)
    assert 120 <= array[0, 1, 0] <= 135


def test_gray_with_alpha_is_composited_onto_white(tmp_path):
    la = Image.new("LA", (3, 3), (0, 0))
    array = load_image(save(la, tmp_path / "la.png"))
    assert (array == 255).all()


def test_palette_images_with_and_without_transparency(tmp_path):
    palette = Image.new("RGB", (6, 6), (0, 0, 255)).convert("P")
    array = load_image(save(palette, tmp_path / "palette.png"))
    check_rgb(array, (6, 6))
    assert tuple(array[0, 0]) == (0, 0, 255)
    transparent = Image.new("P", (6, 6), 0)
    transparent.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    transparent.putpixel((0, 0), 1)
    gif = save(transparent, tmp_path / "palette.gif", transparency=0)
    array = load_image(gif)
    assert tuple(array[0, 0]) == (255, 0, 0)
    assert tuple(array[5, 5]) == (255, 255, 255)


def test_sixteen_bit_grayscale_is_scaled_to_eight_bits(tmp_path):
    values = np.array([[0, 65535], [257 * 100, 257 * 200]], dtype=np.uint16)
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    array = load_image(path)
    check_rgb(array, (2, 2))
    assert array[:, :, 0].tolist() == [[0, 255], [100, 200]]


def test_one_pixel_image_is_resized(tmp_path):
    path = save(Image.new("RGB", (1, 1), (10, 200, 30)), tmp_path / "dot.png")
    check_rgb(load_image(path), (1, 1))
    array = load_image(path, 8)
    check_rgb(array, (8, 8))
    assert (array == (10, 200, 30)).all()


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (4, 2), (0, 0, 0))
    image.putpixel((0, 0), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = save(image, tmp_path / "rotated.png", exif=exif)
    array = load_image(path)
    check_rgb(array, (4, 2))
    assert array[0, 1].min() == 255  # the top-left pixel moved to the top-right


def test_truncated_jpeg_raises_an_error_naming_the_file(tmp_path):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG", quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg") as caught:
        load_image(path, 16)
    assert "truncated" in caught.value.reason
    assert caught.value.path == path
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # no global switch was flipped


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n")
    with pytest.raises(ImageError, match=r"notes\.jpg.*not an image"):
        load_image(path)


def test_missing_and_empty_files_raise_image_error(tmp_path):
    with pytest.raises(ImageError, match=r"absent\.jpg.*not found") as caught:
        load_image(tmp_path / "absent.jpg")
    assert isinstance(caught.value, ValueError)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg.*empty"):
        load_image(tmp_path / "empty.jpg")
    with pytest.raises(ImageError, match="not a regular file"):
        load_image(tmp_path)


def test_images_over_max_pixels_are_refused_or_drafted(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    png = save(Image.new("RGB", (20, 20)), tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"big\.png.*MAX_PIXELS"):
        load_image(png, 8)
    # A JPEG is decoded at a reduced scale (40x40 -> 10x10) that fits, then resized.
    jpeg = save(Image.new("RGB", (40, 40), (0, 128, 0)), tmp_path / "big.jpg", quality=95)
    check_rgb(load_image(jpeg, 8), (8, 8))
    with pytest.raises(ImageError, match="MAX_PIXELS"):
        load_image(jpeg)  # no target size: nothing to draft down to


def test_invalid_size_is_refused(tmp_path):
    path = save(Image.new("RGB", (2, 2)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="size"):
        load_image(path, 0)


def test_size_pair_reads_a_square_a_pair_or_none():
    assert images.size_pair(5) == (5, 5)
    assert images.size_pair((4, 10)) == (4, 10)
    assert images.size_pair(None) is None
    with pytest.raises(ValueError, match="positive"):
        images.size_pair((0, 3))


def test_the_steps_of_load_image_one_by_one(tmp_path):
    path = save(Image.new("L", (6, 4), 128), tmp_path / "gray.png")
    with images.open_image(path) as image:
        images.decode_pixels(image, path, None)
        assert images.upright(image).size == (6, 4)  # no EXIF orientation
        rgb = images.to_rgb(image, path)
        assert rgb.mode == "RGB" and rgb.size == (6, 4)


def test_numpy_batches_are_the_tf_data_batches_without_tensorflow(tmp_path):
    paths = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        save(Image.new("RGB", (9, 5), (30 * i, 2 * i, 5)), path)
        paths.append(path)
    paths[2].write_text("not an image")
    failed_tf: dict[int, str] = {}
    failed_np: dict[int, str] = {}
    expected = list(images.image_batches(paths, 4, 3, failed_tf))
    found = list(images.numpy_image_batches(paths, 4, 3, failed_np))
    assert len(found) == len(expected) == 2
    for (i, x), (j, y) in zip(found, expected, strict=True):
        np.testing.assert_array_equal(i, j.numpy())
        np.testing.assert_array_equal(x, y.numpy())
    assert failed_np == failed_tf and list(failed_np) == [2]
