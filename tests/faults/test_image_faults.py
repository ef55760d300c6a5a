"""Images: odd, broken and missing files are converted or reported by name, and feature
extraction of the other images goes on, counting what was skipped and why."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from course_lib.data import images as images_module
from course_lib.data import load_dataset
from course_lib.data.images import ImageError, load_image
from course_lib.features import FeatureRequest, extract_features

from .helpers import jpeg_bytes, png_bytes, scene_image, write_dataset

SIZE = 16


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(scene_image(1, (64, 48)))
    return data[: len(data) // 2]


def grayscale_jpeg() -> bytes:
    return jpeg_bytes(scene_image(2).convert("L"))


def cmyk_jpeg() -> bytes:
    return jpeg_bytes(scene_image(3).convert("CMYK"))


def rgba_png() -> bytes:
    image = scene_image(4).convert("RGBA")
    alpha = np.zeros((image.height, image.width), np.uint8)
    alpha[:, : image.width // 2] = 255  # right half fully transparent
    image.putalpha(Image.fromarray(alpha))
    return png_bytes(image)


def one_pixel_png() -> bytes:
    return png_bytes(Image.new("RGB", (1, 1), (10, 200, 30)))


def large_jpeg() -> bytes:
    """A 4000×3000 phone-sized photo (12 MP), cheap to make: one colour."""
    return jpeg_bytes(Image.new("RGB", (4000, 3000), (30, 90, 200)))


NOT_AN_IMAGE = b"%PDF-1.4 this is a PDF, not a photo\n" * 10


# ------------------------------------------------------------------------ load_image, one by one


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_truncated_jpeg_is_reported_by_name(tmp_path):
    path = _write(tmp_path, "cut.jpg", truncated_jpeg())
    with pytest.raises(ImageError, match="truncated or corrupt") as err:
        load_image(path, SIZE)
    assert err.value.path == path and str(path) in str(err.value)


def test_grayscale_jpeg_is_converted_to_rgb(tmp_path):
    array = load_image(_write(tmp_path, "gray.jpg", grayscale_jpeg()), SIZE)
    assert array.shape == (SIZE, SIZE, 3) and array.dtype == np.uint8
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()


def test_cmyk_jpeg_is_converted_to_rgb_with_the_right_colours(tmp_path):
    path = _write(
        tmp_path, "cmyk.jpg", jpeg_bytes(Image.new("RGB", (20, 20), (200, 30, 30)).convert("CMYK"))
    )
    array = load_image(path, SIZE)
    assert array.shape == (SIZE, SIZE, 3)
    assert np.abs(array.astype(int) - (200, 30, 30)).max() < 30  # red, not its inverse


def test_png_with_alpha_is_composited_onto_white(tmp_path):
    array = load_image(_write(tmp_path, "alpha.png", rgba_png()))
    assert array.shape[-1] == 3
    assert (array[:, -1] == 255).all()  # the transparent half is white


def test_one_by_one_image_is_resized(tmp_path):
    array = load_image(_write(tmp_path, "dot.png", one_pixel_png()), SIZE)
    assert array.shape == (SIZE, SIZE, 3) and (array == (10, 200, 30)).all()


def test_very_large_jpeg_is_decoded_downscaled(tmp_path):
    array = load_image(_write(tmp_path, "huge.jpg", large_jpeg()), SIZE)
    assert array.shape == (SIZE, SIZE, 3)
    assert np.abs(array.astype(int) - (30, 90, 200)).max() < 12


def test_image_beyond_the_pixel_limit_is_refused_as_a_possible_bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(images_module, "MAX_PIXELS", 10_000)
    path = _write(tmp_path, "bomb.png", png_bytes(Image.new("RGB", (200, 200))))
    with pytest.raises(ImageError, match="decompression bomb") as err:
        load_image(path, SIZE)
    assert "bomb.png" in str(err.value)


def test_file_that_is_not_an_image_is_reported_by_name(tmp_path):
    path = _write(tmp_path, "notes.jpg", NOT_AN_IMAGE)
    with pytest.raises(ImageError, match="not an image") as err:
        load_image(path, SIZE)
    assert "notes.jpg" in str(err.value)


def test_empty_image_file_is_reported_by_name(tmp_path):
    with pytest.raises(ImageError, match="empty file"):
        load_image(_write(tmp_path, "empty.jpg", b""), SIZE)


def test_missing_image_file_is_reported_by_name(tmp_path):
    with pytest.raises(ImageError, match="file not found") as err:
        load_image(tmp_path / "gone.jpg", SIZE)
    assert "gone.jpg" in str(err.value)


def test_png_saved_with_a_jpg_name_still_loads(tmp_path):
    array = load_image(_write(tmp_path, "really_png.jpg", png_bytes(scene_image(5))), SIZE)
    assert array.shape == (SIZE, SIZE, 3)


# ------------------------------------------------------------------------ extraction goes on

GOOD = [f"good_{k}.jpg" for k in range(3)]
BAD = {  # image id -> (file bytes or None, words the reason must contain)
    "truncated.jpg": (truncated_jpeg, ("decode", "broken", "truncat")),
    "not_an_image.jpg": (lambda: NOT_AN_IMAGE, ("not an image",)),
    "missing.jpg": (lambda: None, ("not found",)),
    "empty.jpg": (lambda: b"", ("empty",)),
}
ODD_BUT_FINE = {
    "gray.jpg": grayscale_jpeg,
    "cmyk.jpg": cmyk_jpeg,
    "alpha.png": rgba_png,
    "dot.png": one_pixel_png,
    "large.jpg": large_jpeg,
}


@pytest.fixture(scope="module")
def mixed_extraction(tmp_path_factory):
    """Extract features of a folder holding good, odd and broken images (once per module)."""
    root = tmp_path_factory.mktemp("mixed") / "mixed"
    files = {name: jpeg_bytes(scene_image(10 + k)) for k, name in enumerate(GOOD)}
    files.update({name: make() for name, make in ODD_BUT_FINE.items()})
    files.update({name: make() for name, (make, _) in BAD.items()})
    write_dataset(root, files)
    dataset = load_dataset(root, name="mixed")
    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        request = FeatureRequest(
            dataset,
            "smallcnn",
            weights=None,
            image_size=SIZE,
            data_dir=root.parent / "data",
            batch_size=4,
            progress=False,
        )
        store = extract_features(request)
    return store, out.getvalue(), dataset


def test_extraction_skips_the_broken_images_and_keeps_every_other_one(mixed_extraction):
    store, _, _dataset = mixed_extraction
    assert sorted(store.image_ids) == sorted([*GOOD, *ODD_BUT_FINE])
    assert store.features.shape == (len(GOOD) + len(ODD_BUT_FINE), store.dim)
    assert np.isfinite(store.features).all()


def test_extraction_counts_each_skipped_image_with_its_reason(mixed_extraction):
    store, printed, _ = mixed_extraction
    skipped = {s["image_id"]: s["reason"] for s in store.skipped}
    assert sorted(skipped) == sorted(BAD)
    for name, (_, words) in BAD.items():
        assert any(w in skipped[name].lower() for w in words), (name, skipped[name])
    assert f"Skipped {len(BAD)} image(s)" in printed
    for name in BAD:
        assert name in printed
    with pytest.raises(KeyError, match="skipped during extraction"):
        store["missing.jpg"]


def test_extraction_of_an_odd_image_matches_a_plain_rgb_copy_of_it(mixed_extraction, tmp_path):
    """Grayscale and CMYK files give the features of their RGB rendering, not garbage."""
    store, _, dataset = mixed_extraction
    rgb = {}
    for name in ("gray.jpg", "cmyk.jpg"):
        with Image.open(dataset.image_path(name)) as image:
            rgb[name] = png_bytes(image.convert("RGB"))
    write_dataset(tmp_path / "rgb", rgb)
    request = FeatureRequest(
        load_dataset(tmp_path / "rgb", name="rgb"),
        "smallcnn",
        weights=None,
        image_size=SIZE,
        data_dir=tmp_path / "data",
        progress=False,
    )
    copy = extract_features(request)
    for name in rgb:
        np.testing.assert_allclose(
            store[name], copy[name], rtol=0.05, atol=0.05 * float(np.abs(copy[name]).max())
        )
