"""Students' own photos through the one image path: a phone photo stored sideways with an EXIF
orientation tag is seen upright by the backbone and captioned like the upright photo, and every
odd file gets either a caption or a one-line reason, never a traceback."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from course_lib.__main__ import main
from course_lib.backbones import build_backbone
from course_lib.data.images import load_image, read_images

pytestmark = pytest.mark.slow

#: How Pillow's ``exif_transpose`` turns the stored pixels upright, per EXIF orientation.
UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: The inverse transform: how a camera stores an upright scene under each orientation.
STORED = {
    k: {Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90}.get(t, t)
    if t != Image.Transpose.ROTATE_90
    else Image.Transpose.ROTATE_270
    for k, t in UPRIGHT.items()
    if t is not None
}


def upright_scene() -> Image.Image:
    """An asymmetric 96×64 scene: flipping or rotating it changes the pixels."""
    image = Image.new("RGB", (96, 64), (240, 240, 236))
    draw = ImageDraw.Draw(image)
    draw.ellipse((6, 8, 34, 36), fill=(220, 40, 40))
    draw.rectangle((60, 30, 88, 58), fill=(40, 80, 220))
    draw.polygon([(48, 4), (40, 20), (56, 20)], fill=(235, 210, 40))
    return image


def stored_as(orientation: int, path, fmt: str):
    """Save the upright scene as a camera would with ``orientation``; return the path."""
    image = upright_scene()
    if orientation in STORED:
        image = image.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
    image.save(path, format=fmt, exif=exif, **options)
    return path


def test_the_stored_images_really_are_turned(tmp_path):
    """Guard for the tests below: without its tag, each stored file is not upright."""
    upright = np.asarray(upright_scene())
    for orientation in range(2, 9):
        with Image.open(stored_as(orientation, tmp_path / f"o{orientation}.png", "PNG")) as im:
            stored = np.asarray(im.convert("RGB"))
        assert stored.shape != upright.shape or not np.array_equal(stored, upright)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_upright_pixels(tmp_path, orientation):
    upright = np.asarray(upright_scene())
    path = stored_as(orientation, tmp_path / f"o{orientation}.png", "PNG")
    np.testing.assert_array_equal(load_image(path), upright)
    np.testing.assert_array_equal(
        load_image(path, 64), load_image(stored_as(1, tmp_path / "u.png", "PNG"), 64)
    )


def test_every_exif_orientation_gives_the_upright_features(tmp_path):
    """JPEG (a phone's format): the backbone's features of each stored photo match the
    upright photo's, up to JPEG's re-encoding noise; the stored pixels without EXIF do not."""
    backbone = build_backbone("smallcnn", weights=None, image_size=64)
    upright = stored_as(1, tmp_path / "upright.jpg", "JPEG")
    paths = [stored_as(k, tmp_path / f"o{k}.jpg", "JPEG") for k in range(2, 9)]
    reference = backbone.predict_on_batch(read_images([upright], 64))[0]
    features = backbone.predict_on_batch(read_images(paths, 64))
    scale = np.abs(reference).mean()
    for k, row in zip(range(2, 9), features, strict=True):
        assert np.abs(row - reference).mean() < 0.02 * scale, f"orientation {k}"
    ignored = upright_scene().transpose(Image.Transpose.ROTATE_90).resize((64, 64))
    unturned = backbone.predict_on_batch(np.asarray(ignored, np.float32)[None])[0]
    assert np.abs(unturned - reference).mean() > 0.1 * scale  # the check can fail


# --------------------------------------------------------------------------- odd files


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` grey pixels and holds one row of them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


def odd_files(folder) -> dict[str, bool]:
    """Write every kind of file a student may bring; ``{name: should it be captioned}``."""
    scene = upright_scene()
    scene.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    scene.convert("L").save(folder / "grayscale.jpg", quality=95)
    scene.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    wide = (np.asarray(scene.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(wide).save(folder / "sixteen_bit.png")
    rgba = scene.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "rgba.png")
    frames = [scene, scene.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    whole = (folder / "cmyk.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "page.jpg").write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    (folder / "huge.png").write_bytes(png_header_only(30_000, 30_000))
    return {
        "cmyk.jpg": True,
        "grayscale.jpg": True,
        "palette.png": True,
        "sixteen_bit.png": True,
        "rgba.png": True,
        "animated.gif": True,
        "truncated.jpg": False,
        "page.jpg": False,
        "huge.png": False,
    }


def test_the_odd_files_load_or_fail_with_a_reason(tmp_path):
    for name, readable in odd_files(tmp_path).items():
        if readable:
            assert load_image(tmp_path / name, 64).shape == (64, 64, 3), name
        else:
            with pytest.raises(ValueError, match=name):
                load_image(tmp_path / name, 64)
    first = load_image(tmp_path / "animated.gif")
    np.testing.assert_allclose(
        first.mean(axis=(0, 1)), np.asarray(upright_scene()).mean(axis=(0, 1)), atol=3
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A mini-profile captioner trained for one epoch on 40 scenes, in its own data folder."""
    data_dir = tmp_path_factory.mktemp("photos-data")
    base = ["--data-dir", str(data_dir)]
    assert main(["data", "--dataset", "synthetic", *base, "--n-images", "40"]) == 0
    assert main(["train", "--profile", "mini", *base, "--epochs", "1"]) == 0
    return data_dir


def caption_cli(capsys, data_dir, paths) -> dict[str, str]:
    """``python -m course_lib caption`` (greedy); ``{file name: caption or reason}``."""
    capsys.readouterr()
    args = ["caption", "--profile", "mini", "--data-dir", str(data_dir), "--decoder", "greedy"]
    assert main([*args, *map(str, paths)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = out.strip().splitlines()[-len(paths) :]
    return {line.split("\t")[0].rsplit("/", 1)[-1]: line.split("\t", 1)[1] for line in lines}


def test_a_sideways_phone_photo_gets_the_upright_photos_caption(trained, tmp_path, capsys):
    paths = [stored_as(k, tmp_path / f"o{k}.jpg", "JPEG") for k in range(1, 9)]
    captions = caption_cli(capsys, trained, paths)
    assert len(set(captions.values())) == 1, captions
    assert not next(iter(captions.values())).startswith("[skipped")


def test_every_odd_file_gets_a_caption_or_a_one_line_reason(trained, tmp_path, capsys):
    expected = odd_files(tmp_path)
    captions = caption_cli(capsys, trained, [tmp_path / name for name in expected])
    assert set(captions) == set(expected)
    for name, readable in expected.items():
        said = captions[name]
        assert "\n" not in said
        if readable:
            assert said and not said.startswith("[skipped"), (name, said)
        else:
            assert said.startswith(f"[skipped: {tmp_path / name}: "), (name, said)
    assert "decompression bomb" in captions["huge.png"] or "too large" in captions["huge.png"]
    assert "not an image" in captions["page.jpg"]
    assert "truncated" in captions["truncated.jpg"]
