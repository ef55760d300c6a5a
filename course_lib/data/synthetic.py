"""A synthetic, Flickr8k-shaped dataset of coloured shapes with ground-truth scenes.

Every image shows one to three coloured shapes (a circle, square or triangle in red, green,
blue or yellow, small or large) on a gently shaded background. Five captions per image are
written like five annotators would: paraphrases, a spatial relation stated either way round,
more or less detail. The language is deliberately small and regular, so a small LSTM can learn
it in minutes on a CPU, and every caption is true of its scene: ``scenes.json`` holds the
ground truth that ``course_lib.scene_checks.scene_accuracy`` checks generated captions against.

The files use Flickr8k's own layout and names, so the rest of the course never branches on
the dataset::

    <root>/Flicker8k_Dataset/syn_00000.jpg ...
    <root>/Flickr8k.token.txt            "<image id>#<k>\\t<caption>", k = 0..4
    <root>/Flickr_8k.trainImages.txt     75 % of the first n_images ids
    <root>/Flickr_8k.devImages.txt       12.5 %
    <root>/Flickr_8k.testImages.txt      12.5 %, and the extra test images
    <root>/scenes.json                   {image id: scene}
    <root>/synthetic.json                manifest, written last

The same seed gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from course_lib.data.dataset import (
    IMAGE_DIR_NAME,
    SCENES_FILE,
    SPLIT_FILES,
    TOKEN_FILE,
)
from course_lib.io import (
    atomic_write_bytes,
    atomic_write_json,
    file_lock,
    read_json,
    sha256_file,
)

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "GENERATOR_VERSION",
    "INVERSE_RELATION",
    "MANIFEST",
    "RELATIONS",
    "RELATION_PHRASES",
    "SHAPES",
    "SIZES",
    "SIZE_WORDS",
    "describe_object",
    "generate_synthetic",
    "make_captions",
    "make_scene",
    "render_scene",
]

# --- The vocabulary shared with course_lib.scene_checks (do not change lightly) -----------------
SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
}
SIZES = ("small", "large")
SIZE_WORDS = {
    "small": ("small", "little"),
    "large": ("large", "big"),
}  # words a caption may use
RELATIONS = ("left of", "right of", "above", "below")
RELATION_PHRASES = {  # token sequences a caption may use for each relation (after cleaning)
    "left of": (("to", "the", "left", "of"), ("left", "of")),
    "right of": (("to", "the", "right", "of"), ("right", "of")),
    "above": (("above",), ("over",)),
    "below": (("below",), ("under",), ("beneath",)),
}
INVERSE_RELATION = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
}

#: Background colours, named with words that are not in COLOURS so they never look like objects.
BACKGROUNDS = {
    "white": (240, 240, 236),
    "beige": (226, 212, 182),
    "grey": (140, 140, 142),
    "brown": (112, 82, 58),
    "black": (28, 28, 32),
}

# --- Layout: Flickr8k's (course_lib.data.dataset), plus the generator's manifest ------------------
MANIFEST = "synthetic.json"
#: Karpathy's split format (layout="karpathy"): the split file and the image folder.
KARPATHY_FILE = "dataset_synthetic.json"
KARPATHY_IMAGES = "images"

#: Bump when scenes, captions or rendering change, so old folders are regenerated.
GENERATOR_VERSION = 1

CAPTIONS_PER_IMAGE = 5
_N_OBJECTS_P = (0.3, 0.4, 0.3)  # probability of 1, 2, 3 objects
_SMALL_R = (0.075, 0.10)  # radius as a fraction of the image side
_LARGE_R = (0.15, 0.185)
_PAD = 0.04  # distance from the border, fraction of the side
_GAP = 0.06  # gap between the two related objects along the relation's axis
_CANONICAL_PHRASE = {
    "left of": "to the left of",
    "right of": "to the right of",
    "above": "above",
    "below": "below",
}
_ALT_PHRASES = {
    "left of": ("left of",),
    "right of": ("right of",),
    "above": ("over",),
    "below": ("under", "beneath"),
}


# --- Scenes --------------------------------------------------------------------------------------
def _relation_between(
    a: Mapping, b: Mapping, side: int, dominance: float = 0.5
) -> str | None:
    """The clear spatial relation of object ``a`` to object ``b``, or None when unclear.

    Clear means: the two bounding boxes are separated by at least ``_GAP * side`` along one
    axis, and the centres' offset along the other axis is at most ``dominance`` times their
    offset along that axis. Image ``y`` grows downwards, so smaller ``y`` is "above".
    """
    dx, dy = b["x"] - a["x"], b["y"] - a["y"]
    reach = a["r"] + b["r"]
    gap = _GAP * side
    if abs(dx) - reach >= gap and abs(dy) <= dominance * abs(dx):
        return "left of" if dx > 0 else "right of"
    if abs(dy) - reach >= gap and abs(dx) <= dominance * abs(dy):
        return "above" if dy > 0 else "below"
    return None


def _overlaps(a: Mapping, b: Mapping, side: int) -> bool:
    """Whether the bounding boxes of two objects come closer than 3 % of the side."""
    margin = 0.03 * side
    reach = a["r"] + b["r"] + margin
    return abs(a["x"] - b["x"]) < reach and abs(a["y"] - b["y"]) < reach


def _place_related(
    rng: np.random.Generator,
    a: Mapping,
    b: Mapping,
    relation: str,
    lo: int,
    hi: int,
    side: int,
) -> tuple[int, int] | None:
    """A centre for ``b`` such that ``a`` is clearly ``relation`` ``b``, or None if none fits.

    Along the relation's axis the boxes are at least ``_GAP * side`` apart; across it the
    centres are within 0.35 times the distance along it.
    """
    along, across = (
        ("x", "y") if relation in ("left of", "right of") else ("y", "x")
    )
    sign = (
        1 if relation in ("left of", "above") else -1
    )  # b has the larger coordinate
    reach = math.ceil(a["r"] + b["r"] + _GAP * side)
    if sign > 0:
        first, last = a[along] + reach, hi
    else:
        first, last = lo, a[along] - reach
    if first > last:
        return None
    position = int(rng.integers(first, last + 1))
    spread = math.floor(0.35 * abs(position - a[along]))
    cross_first, cross_last = (
        max(lo, a[across] - spread),
        min(hi, a[across] + spread),
    )
    if cross_first > cross_last:
        return None
    cross = int(rng.integers(cross_first, cross_last + 1))
    return (position, cross) if along == "x" else (cross, position)


def make_scene(rng: np.random.Generator, side: int) -> dict:
    """Draw one random scene on a ``side`` x ``side`` canvas.

    Returns the scene dict of the contract: ``width``, ``height``, ``background``, ``objects``
    (shape, colour, size, centre ``x``/``y`` and half-extent ``r`` in pixels) and ``relations``
    (``{"subject": i, "relation": r, "object": j}`` for every pair ``i < j`` whose relation is
    clear). For two or more objects the relation between objects 0 and 1 is chosen first and
    made unambiguous; it is always the first entry of ``relations``.
    """
    n_objects = int(rng.choice(3, p=_N_OBJECTS_P)) + 1
    pairs = [(shape, colour) for shape in SHAPES for colour in COLOURS]
    chosen = rng.choice(len(pairs), size=n_objects, replace=False)
    relation01 = (
        str(RELATIONS[rng.integers(len(RELATIONS))])
        if n_objects >= 2
        else None
    )
    background = str(list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))])
    # rejection sampling: a few tries at most, deterministic
    for _attempt in range(1000):
        objects = _place_objects(
            rng, [pairs[int(i)] for i in chosen], relation01, side
        )
        if len(objects) == n_objects:
            break
    else:  # pragma: no cover - only for absurd image sizes
        raise RuntimeError(
            f"cannot place {n_objects} objects on a {side}px canvas"
        )
    return {
        "width": side,
        "height": side,
        "background": background,
        "objects": objects,
        "relations": _relations(objects, side),
    }


def _place_objects(
    rng: np.random.Generator,
    kinds: list[tuple[str, str]],
    relation01: str | None,
    side: int,
) -> list[dict]:
    """One try at placing objects of ``kinds`` (shape, colour) without
    overlaps, object 1 where ``relation01`` to object 0 holds clearly; stops
    at the first object that finds no place (fewer objects than kinds)."""
    pad = _PAD * side
    objects: list[dict] = []
    for shape, colour in kinds:
        size = str(SIZES[rng.integers(2)])
        low, high = _SMALL_R if size == "small" else _LARGE_R
        r = round(side * rng.uniform(low, high))
        lo, hi = math.ceil(r + pad), math.floor(side - r - pad)
        obj: dict = {"shape": shape, "colour": colour, "size": size}
        obj.update(x=0, y=0, r=int(r))
        placed = False
        for _ in range(1 if len(objects) == 1 else 100):
            if len(objects) == 1:  # relation01 is drawn for 2+ objects
                assert relation01 is not None
                xy = _place_related(
                    rng, objects[0], obj, relation01, lo, hi, side
                )
                if xy is None:
                    break
            else:
                xy = (
                    int(rng.integers(lo, hi + 1)),
                    int(rng.integers(lo, hi + 1)),
                )
            obj["x"], obj["y"] = xy
            if not any(_overlaps(obj, other, side) for other in objects):
                placed = True
                break
        if not placed:
            break
        objects.append(obj)
    return objects


def _relations(objects: list[dict], side: int) -> list[dict]:
    """``{"subject": i, "relation": r, "object": j}`` for every pair
    ``i < j`` of ``objects`` whose relation is clear."""
    relations = []
    for i in range(len(objects)):
        for j in range(i + 1, len(objects)):
            relation = _relation_between(objects[i], objects[j], side)
            if relation is not None:
                relations.append(
                    {"subject": i, "relation": relation, "object": j}
                )
    return relations


# --- Captions ------------------------------------------------------------------------------------
def describe_object(
    obj: Mapping, *, size: bool | str = True, article: str = "a"
) -> str:
    """Name one object: ``"a large red circle"``.

    ``size=True`` uses the canonical size word ("small"/"large"), ``size=False`` leaves it out,
    and a string uses that word (it must be one of ``SIZE_WORDS[obj["size"]]``).
    """
    words = [article] if article else []
    if size is True:
        words.append(SIZE_WORDS[obj["size"]][0])
    elif size:
        if size not in SIZE_WORDS[obj["size"]]:
            raise ValueError(
                f"{size!r} does not describe a {obj['size']} object"
            )
        words.append(str(size))
    words += [obj["colour"], obj["shape"]]
    return " ".join(words)


def make_captions(scene: Mapping, rng: np.random.Generator) -> list[str]:
    """Five distinct captions of ``scene``, as five annotators might write them.

    One is always the canonical, detailed caption (canonical size words, the relation of
    object 0 to object 1 with its canonical phrase); the other four are drawn from a few
    paraphrases: size synonyms, the relation stated the other way round, no size words, the
    background added, or only the objects named. Order is shuffled.
    """
    background = f"on a {scene['background']} background"
    if len(scene["objects"]) == 1:
        canonical, others = _one_object_captions(
            scene["objects"][0], background
        )
    else:
        canonical, others = _relation_captions(scene, background, rng)
    picked = rng.choice(
        len(others), size=CAPTIONS_PER_IMAGE - 1, replace=False
    )
    captions = [canonical] + [others[int(i)] for i in picked]
    order = rng.permutation(CAPTIONS_PER_IMAGE)
    return [captions[int(i)] for i in order]


def _synonym(obj: Mapping) -> str:
    return describe_object(obj, size=SIZE_WORDS[obj["size"]][1])


def _plain(obj: Mapping) -> str:
    return describe_object(obj, size=False)


def _one_object_captions(a: Mapping, background: str) -> tuple[str, list[str]]:
    """The canonical caption of a one-object scene and its paraphrases."""
    canonical = describe_object(a)
    others = [
        _synonym(a),
        _plain(a),
        f"{canonical} {background}",
        f"{_plain(a)} {background}",
        f"{_synonym(a)} {background}",
    ]
    return canonical, others


def _relation_captions(
    scene: Mapping, background: str, rng: np.random.Generator
) -> tuple[str, list[str]]:
    """The canonical caption of a scene of 2 or 3 objects (object 0's relation to object 1)
    and its paraphrases."""
    objects = scene["objects"]
    a, b = objects[0], objects[1]
    relation = scene["relations"][0]
    assert relation["subject"] == 0 and relation["object"] == 1
    rel = relation["relation"]
    inv = INVERSE_RELATION[rel]
    phrase, inv_phrase = _CANONICAL_PHRASE[rel], _CANONICAL_PHRASE[inv]
    alt = str(rng.choice(_ALT_PHRASES[rel]))
    alt_inv = str(rng.choice(_ALT_PHRASES[inv]))
    tail = tail_plain = tail_syn = ""
    if len(objects) > 2:
        c = objects[2]
        tail, tail_plain, tail_syn = (
            f" and {describe_object(c)}",
            f" and {_plain(c)}",
            f" and {_synonym(c)}",
        )
    canonical = f"{describe_object(a)} {phrase} {describe_object(b)}{tail}"
    others = [
        f"{_synonym(a)} {alt} {_synonym(b)}{tail_syn}",
        f"{describe_object(b)} {inv_phrase} {describe_object(a)}{tail}",
        f"{_plain(a)} {phrase} {_plain(b)}{tail_plain}",
        f"{canonical} {background}",
        f"{_plain(b)} {alt_inv} {_plain(a)}{tail_plain}",
    ]
    if len(objects) == 2:
        others.append(f"{_plain(a)} and {_plain(b)}")
    else:
        others.append(f"{_plain(a)} and {_plain(b)} and {_plain(objects[2])}")
        others.append(
            f"{_plain(objects[2])} and {_plain(a)} {phrase} {_plain(b)}"
        )
    return canonical, others


# --- Rendering -----------------------------------------------------------------------------------
_SUPERSAMPLE = 4


def _shape_mask(obj: Mapping, side: int) -> np.ndarray:
    """Anti-aliased coverage (side, side) float32 in [0, 1] of one object."""
    s = _SUPERSAMPLE
    mask = Image.new("L", (side * s, side * s), 0)
    draw = ImageDraw.Draw(mask)
    x, y, r = obj["x"] * s, obj["y"] * s, obj["r"] * s
    if obj["shape"] == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    elif obj["shape"] == "square":
        h = 0.9 * r
        draw.rectangle([x - h, y - h, x + h, y + h], fill=255)
    else:  # triangle pointing up
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=255)
    small = mask.reduce(s)
    return np.asarray(small, dtype=np.float32) / 255.0


def render_scene(scene: Mapping, rng: np.random.Generator) -> np.ndarray:
    """Draw a scene as a (height, width, 3) uint8 RGB array.

    The background is a gentle linear brightness gradient; each object's colour is jittered a
    little; mild Gaussian noise is added on top.
    """
    side = int(scene["width"])
    base = np.asarray(BACKGROUNDS[scene["background"]], dtype=np.float32)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    strength = rng.uniform(-22.0, 22.0)
    coords = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5
    ramp = np.cos(angle) * coords[None, :] + np.sin(angle) * coords[:, None]
    image = base[None, None, :] + (2.0 * strength * ramp)[:, :, None]
    for obj in scene["objects"]:
        colour = np.asarray(COLOURS[obj["colour"]], dtype=np.float32)
        colour = colour + rng.uniform(-12.0, 12.0, size=3).astype(np.float32)
        alpha = _shape_mask(obj, side)[:, :, None]
        image = image * (1.0 - alpha) + colour[None, None, :] * alpha
    image = image + rng.normal(0.0, 3.0, size=image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(
        buffer, format="JPEG", quality=95, subsampling=0
    )
    return buffer.getvalue()


# --- The dataset ---------------------------------------------------------------------------------
def _normalise_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)):
        low = high = int(image_size)
    else:
        low, high = (int(v) for v in image_size)
    if not 16 <= low <= high:
        raise ValueError(
            f"image_size must be a side >= 16 or a (min, max) range, got {image_size}"
        )
    return low, high


def _split_sizes(n_images: int, extra_test_images: int = 0) -> dict[str, int]:
    """75 / 12.5 / 12.5 split, then the extra test images: 4000 + 500 -> 3000 / 500 / 1000."""
    n_held = n_images // 8
    return {
        "train": n_images - 2 * n_held,
        "dev": n_held,
        "test": n_held + extra_test_images,
    }


def _parameters(
    n_images: int,
    extra_test_images: int,
    seed: int,
    image_size: tuple[int, int],
    layout: str,
) -> dict:
    return {
        "generator": "course_lib.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "n_images": n_images,
        "extra_test_images": extra_test_images,
        "seed": seed,
        "image_size": list(image_size),
        "layout": layout,
    }


def _is_complete(root: Path, parameters: dict, image_ids: list[str]) -> bool:
    """Whether ``root`` already holds a finished dataset made with ``parameters``."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        return False
    try:
        manifest = read_json(manifest_path)
    except (ValueError, OSError):
        return False
    if not isinstance(manifest, dict):
        return False
    if any(manifest.get(key) != value for key, value in parameters.items()):
        return False
    captions_file, image_dir = _layout_files(root, parameters["layout"])
    files = [captions_file, root / SCENES_FILE]
    if parameters["layout"] == "flickr8k":
        files += [root / f for f in SPLIT_FILES.values()]
    if not all(path.is_file() for path in files):
        return False
    if sha256_file(captions_file) != manifest.get("token_sha256"):
        return False
    return all((image_dir / image_id).is_file() for image_id in image_ids)


def _layout_files(root: Path, layout: str) -> tuple[Path, Path]:
    """The captions file and the image folder of ``layout`` in ``root``."""
    if layout == "karpathy":
        return root / KARPATHY_FILE, root / KARPATHY_IMAGES
    return root / TOKEN_FILE, root / IMAGE_DIR_NAME


def _to_karpathy(root: Path, token_lines: list[str], splits: dict) -> None:
    """Rewrite the set just written in Flickr8k's layout in Karpathy's: a split file
    ``dataset_synthetic.json`` and the images in ``images/``."""
    captions: dict[str, list[str]] = {}
    for line in token_lines:
        key, caption = line.rstrip("\n").split("\t", 1)
        captions.setdefault(key.rsplit("#", 1)[0], []).append(caption)
    split_of = {i: s for s, ids in splits.items() for i in ids}
    names = {"train": "train", "dev": "val", "test": "test"}
    images = [
        {
            "filename": image_id,
            "split": names[split_of[image_id]],
            "sentences": [
                {"raw": c, "tokens": c.split()} for c in captions[image_id]
            ],
        }
        for image_id in sorted(captions)
    ]
    (root / KARPATHY_IMAGES).mkdir(exist_ok=True)
    for image_id in captions:
        os.replace(
            root / IMAGE_DIR_NAME / image_id, root / KARPATHY_IMAGES / image_id
        )
    shutil.rmtree(root / IMAGE_DIR_NAME)
    for path in (root / TOKEN_FILE, *(root / f for f in SPLIT_FILES.values())):
        path.unlink()
    text = (
        json.dumps({"dataset": "synthetic", "images": images}, sort_keys=True)
        + "\n"
    )
    atomic_write_bytes(root / KARPATHY_FILE, text.encode("utf-8"))


def _check_sizes(n_images: int, extra_test_images: int, layout: str) -> None:
    """ValueError naming the argument of :func:`generate_synthetic` that is out of range."""
    if int(n_images) != n_images or n_images < 8:
        raise ValueError(
            f"n_images must be an integer >= 8 (one per dev/test split), got {n_images}"
        )
    if int(extra_test_images) != extra_test_images or extra_test_images < 0:
        raise ValueError(
            f"extra_test_images must be an integer >= 0, got {extra_test_images}"
        )
    if layout not in ("flickr8k", "karpathy"):
        raise ValueError(
            f"layout must be 'flickr8k' or 'karpathy', not {layout!r}"
        )


def generate_synthetic(
    root: str | Path,
    *,
    n_images: int = 2000,
    extra_test_images: int = 0,
    seed: int = 0,
    image_size: int | tuple[int, int] = (64, 96),
    progress: bool = True,
    layout: str = "flickr8k",
) -> Path:
    """Write the synthetic shapes dataset into ``root`` in Flickr8k's layout (or, with
    ``layout="karpathy"``, in Karpathy's split format: ``dataset_synthetic.json`` and
    ``images/``); return ``root``.

    ``n_images`` (at least 8) square JPEG images whose side is drawn from the inclusive range
    ``image_size`` (or equals it when it is an int), five captions each, a 75/12.5/12.5
    train/dev/test split and ``scenes.json``; then ``extra_test_images`` more, all in the test
    split: a larger test split, whose scores move less from one trained model to another (the
    first ``n_images`` and their split are the same with or without them). Idempotent: when
    ``synthetic.json`` records the same parameters and the files are there, nothing is
    rewritten. Every file is written atomically and the manifest last, under a lock, so an
    interrupted run is simply redone.
    """
    root = Path(root)
    _check_sizes(n_images, extra_test_images, layout)
    n_images, extra_test_images, seed = (
        int(n_images),
        int(extra_test_images),
        int(seed),
    )
    sides = _normalise_size(image_size)
    parameters = _parameters(n_images, extra_test_images, seed, sides, layout)
    total = n_images + extra_test_images
    width = max(5, len(str(total - 1)))
    image_ids = [f"syn_{i:0{width}d}.jpg" for i in range(total)]
    if _is_complete(root, parameters, image_ids):
        return root
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / "generate"):
        if _is_complete(
            root, parameters, image_ids
        ):  # another process finished meanwhile
            return root
        (root / MANIFEST).unlink(missing_ok=True)
        scenes, token_lines = _write_images(
            root, image_ids, seed, sides, progress
        )
        splits, sizes = _write_splits(root, image_ids, seed, n_images)
        scenes_text = (
            json.dumps(scenes, sort_keys=True, separators=(",", ":")) + "\n"
        )
        atomic_write_bytes(root / SCENES_FILE, scenes_text.encode("utf-8"))
        atomic_write_bytes(
            root / TOKEN_FILE, "".join(token_lines).encode("utf-8")
        )
        if layout == "karpathy":
            _to_karpathy(root, token_lines, splits)
        manifest = dict(parameters)
        manifest.update(
            {
                "splits": sizes,
                "token_sha256": sha256_file(_layout_files(root, layout)[0]),
                "scenes_sha256": sha256_file(root / SCENES_FILE),
            }
        )
        atomic_write_json(root / MANIFEST, manifest)
    return root


def _write_images(
    root: Path,
    image_ids: list[str],
    seed: int,
    sides: tuple[int, int],
    progress: bool,
) -> tuple[dict[str, dict], list[str]]:
    """Draw and write every image (removing images of other parameters); their scenes and the
    token file's lines (five captions each)."""
    image_dir = root / IMAGE_DIR_NAME
    image_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(image_ids)
    for stale in image_dir.glob(
        "syn_*.jpg"
    ):  # left over from other parameters
        if stale.name not in wanted:
            stale.unlink()
    scenes: dict[str, dict] = {}
    token_lines: list[str] = []
    for i in tqdm(
        range(len(image_ids)),
        desc="synthetic images",
        unit="img",
        disable=not progress,
    ):
        rng = np.random.default_rng(
            [seed, i]
        )  # image i does not depend on n_images
        side = int(rng.integers(sides[0], sides[1] + 1))
        scene = make_scene(rng, side)
        captions = make_captions(scene, rng)
        image = render_scene(scene, rng)
        image_id = image_ids[i]
        atomic_write_bytes(image_dir / image_id, _jpeg_bytes(image))
        scenes[image_id] = scene
        token_lines += [
            f"{image_id}#{k}\t{caption}\n"
            for k, caption in enumerate(captions)
        ]
    return scenes, token_lines


def _write_splits(
    root: Path, image_ids: list[str], seed: int, n_images: int
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Split the first ``n_images`` at random (for the seed) into train, dev and test, add the
    images after them to test, and write the three split files: the splits and their sizes."""
    split_rng = np.random.default_rng([seed, n_images, 8])
    order = split_rng.permutation(n_images)
    sizes = _split_sizes(n_images, len(image_ids) - n_images)
    start = 0
    splits = {}
    for split, filename in SPLIT_FILES.items():
        ids = [image_ids[int(i)] for i in order[start : start + sizes[split]]]
        start += sizes[split]
        if split == "test":
            ids += image_ids[n_images:]
        splits[split] = ids = sorted(ids)
        atomic_write_bytes(
            root / filename, "".join(f"{x}\n" for x in ids).encode("utf-8")
        )
    return splits, sizes
