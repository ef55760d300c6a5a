"""The synthetic shapes dataset: layout, determinism, truthful captions, splits, idempotence."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib.data.synthetic import (
    BACKGROUNDS,
    COLOURS,
    INVERSE_RELATION,
    RELATION_PHRASES,
    RELATIONS,
    SHAPES,
    SIZE_WORDS,
    SIZES,
    describe_object,
    generate_synthetic,
)
from course_lib.scene_checks import parse_scene_caption

N_SMALL = 40
SIZE_SMALL = (48, 64)
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "dev": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """A 40-image dataset generated once for the read-only tests of this module."""
    root = tmp_path_factory.mktemp("synthetic") / "synthetic"
    return generate_synthetic(root, n_images=N_SMALL, seed=3, image_size=SIZE_SMALL, progress=False)


def read_captions(root: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = {}
    for line in (root / "Flickr8k.token.txt").read_text(encoding="utf-8").splitlines():
        key, caption = line.split("\t")
        image_id, k = key.split("#")
        captions.setdefault(image_id, []).append(caption)
        assert int(k) == len(captions[image_id]) - 1, f"caption numbers out of order: {line}"
    return captions


def read_scenes(root: Path) -> dict[str, dict]:
    return json.loads((root / "scenes.json").read_text(encoding="utf-8"))


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- An independent checker of the caption language --------------------------------------------
ARTICLES = ("a", "the")
SIZE_WORD_TO_SIZE = {word: size for size, words in SIZE_WORDS.items() for word in words}
ALLOWED_WORDS = (
    set(ARTICLES)
    | set(SIZE_WORD_TO_SIZE)
    | set(COLOURS)
    | set(SHAPES)
    | {word for phrases in RELATION_PHRASES.values() for phrase in phrases for word in phrase}
    | {"and", "on", "background"}
    | set(BACKGROUNDS)
)


def caption_problems(caption: str, scene: dict) -> list[str]:
    """Everything in ``caption`` that is not true of ``scene`` (empty list: consistent)."""
    problems = []
    tokens = caption.split()
    if not all(re.fullmatch(r"[a-z]+", token) for token in tokens):
        problems.append("not only lower-case words")
    unknown = set(tokens) - ALLOWED_WORDS
    if unknown:
        problems.append(f"unexpected words {sorted(unknown)}")
    objects = scene["objects"]
    # Mentions: article [size word] colour shape.
    mentions = []  # (start, end, object index, size word or None)
    i = 0
    while i < len(tokens):
        j = i + 1 if tokens[i] in ARTICLES else i
        size_word = tokens[j] if j < len(tokens) and tokens[j] in SIZE_WORD_TO_SIZE else None
        k = j + (size_word is not None)
        if k + 1 < len(tokens) and tokens[k] in COLOURS and tokens[k + 1] in SHAPES:
            colour, shape = tokens[k], tokens[k + 1]
            matches = [
                n for n, o in enumerate(objects) if (o["colour"], o["shape"]) == (colour, shape)
            ]
            if not matches:
                problems.append(f"no {colour} {shape} in the scene")
            else:
                obj = objects[matches[0]]
                if size_word is not None and SIZE_WORD_TO_SIZE[size_word] != obj["size"]:
                    problems.append(f"{size_word!r} for a {obj['size']} {colour} {shape}")
                mentions.append((i, k + 2, matches[0], size_word))
            i = k + 2
        else:
            i += 1
    # Every colour, shape and size word belongs to a mention.
    for vocabulary in (COLOURS, SHAPES):
        if sum(token in vocabulary for token in tokens) != len(mentions):
            problems.append("a colour or shape word outside an object mention")
    if sum(token in SIZE_WORD_TO_SIZE for token in tokens) != sum(
        m[3] is not None for m in mentions
    ):
        problems.append("a size word outside an object mention")
    indices = [m[2] for m in mentions]
    if sorted(indices) != list(range(len(objects))):
        problems.append(f"objects mentioned {indices}, scene has {len(objects)}")
    # What lies between and around the mentions.
    if mentions and mentions[0][0] != 0:
        problems.append("words before the first object")
    holds = {(r["subject"], r["relation"], r["object"]) for r in scene["relations"]}
    for (_, end, a, _), (start, _, b, _) in itertools.pairwise(mentions):
        between = tuple(tokens[end:start])
        if between == ("and",):
            continue
        stated = [rel for rel, phrases in RELATION_PHRASES.items() if between in phrases]
        if not stated:
            problems.append(f"unexpected words between objects: {' '.join(between)!r}")
        elif (a, stated[0], b) not in holds and (b, INVERSE_RELATION[stated[0]], a) not in holds:
            problems.append(f"relation {stated[0]!r} between objects {a} and {b} is not true")
    tail = tuple(tokens[mentions[-1][1] :]) if mentions else tuple(tokens)
    if tail not in ((), ("on", "a", scene["background"], "background")):
        problems.append(f"unexpected ending {' '.join(tail)!r}")
    return problems


# --- Tests ---------------------------------------------------------------------------------------
def test_constants_are_the_shared_vocabulary_of_the_contract():
    assert SHAPES == ("circle", "square", "triangle")
    assert COLOURS == {
        "red": (220, 40, 40),
        "green": (40, 170, 60),
        "blue": (40, 80, 220),
        "yellow": (235, 210, 40),
    }
    assert SIZES == ("small", "large")
    assert SIZE_WORDS == {"small": ("small", "little"), "large": ("large", "big")}
    assert RELATIONS == ("left of", "right of", "above", "below")
    assert set(RELATION_PHRASES) == set(RELATIONS)
    assert RELATION_PHRASES["left of"] == (("to", "the", "left", "of"), ("left", "of"))
    assert RELATION_PHRASES["below"] == (("below",), ("under",), ("beneath",))
    assert all(INVERSE_RELATION[INVERSE_RELATION[r]] == r for r in RELATIONS)
    background_words = {word for name in BACKGROUNDS for word in name.split()}
    assert not background_words & (set(COLOURS) | set(SHAPES) | set(SIZE_WORD_TO_SIZE))


def test_layout_uses_flickr8k_file_names(small_set):
    names = {p.name for p in small_set.iterdir()}
    expected = {
        "Flicker8k_Dataset",
        "Flickr8k.token.txt",
        *SPLIT_FILES.values(),
        "scenes.json",
        "synthetic.json",
    }
    assert expected <= names
    assert not [n for n in names if ".tmp" in n], "temporary files left behind"
    images = sorted(p.name for p in (small_set / "Flicker8k_Dataset").iterdir())
    assert images == [f"syn_{i:05d}.jpg" for i in range(N_SMALL)]
    lines = (small_set / "Flickr8k.token.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 * N_SMALL
    assert all(re.fullmatch(r"syn_\d{5}\.jpg#[0-4]\t[a-z ]+", line) for line in lines)
    assert set(read_scenes(small_set)) == set(images)
    manifest = json.loads((small_set / "synthetic.json").read_text(encoding="utf-8"))
    assert manifest["n_images"] == N_SMALL and manifest["seed"] == 3
    assert manifest["image_size"] == list(SIZE_SMALL)


def test_images_are_rgb_jpegs_with_the_scene_size(small_set):
    scenes = read_scenes(small_set)
    sides = set()
    for image_id, scene in scenes.items():
        with Image.open(small_set / "Flicker8k_Dataset" / image_id) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert image.size == (scene["width"], scene["height"])
        assert SIZE_SMALL[0] <= scene["width"] <= SIZE_SMALL[1]
        sides.add(scene["width"])
    assert len(sides) > 5, "image sides should vary within image_size"


def test_same_seed_gives_byte_identical_files(tmp_path):
    kwargs = {"n_images": 24, "seed": 11, "image_size": (32, 48), "progress": False}
    first = all_files(generate_synthetic(tmp_path / "one", **kwargs))
    second = all_files(generate_synthetic(tmp_path / "two", **kwargs))
    assert first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert not different, f"files differ between two runs with the same seed: {different}"


def test_different_seeds_give_different_data(tmp_path):
    kwargs = {"n_images": 8, "image_size": (32, 48), "progress": False}
    one = generate_synthetic(tmp_path / "one", seed=1, **kwargs)
    two = generate_synthetic(tmp_path / "two", seed=2, **kwargs)
    assert read_captions(one) != read_captions(two)


def test_every_caption_is_consistent_with_its_scene(small_set):
    scenes = read_scenes(small_set)
    for image_id, captions in read_captions(small_set).items():
        for caption in captions:
            problems = caption_problems(caption, scenes[image_id])
            assert not problems, f"{image_id}: {caption!r}: {problems}"


def test_consistency_checker_catches_false_captions():
    scene = {
        "width": 64,
        "height": 64,
        "background": "white",
        "objects": [
            {"shape": "circle", "colour": "red", "size": "large", "x": 16, "y": 32, "r": 10},
            {"shape": "square", "colour": "blue", "size": "small", "x": 48, "y": 32, "r": 5},
        ],
        "relations": [{"subject": 0, "relation": "left of", "object": 1}],
    }
    good = [
        "a large red circle to the left of a small blue square",
        "a little blue square right of a big red circle",
        "a red circle and a blue square on a white background",
    ]
    bad = [
        "a red circle to the right of a blue square",  # wrong relation
        "a small red circle to the left of a blue square",  # wrong size
        "a green circle to the left of a blue square",  # wrong colour
        "a red circle above a blue square",  # wrong axis
        "a red circle and a blue square on a black background",  # wrong background
        "a red circle",  # an object left out
        "two red circles",  # digits-like words and plurals
    ]
    assert all(not caption_problems(c, scene) for c in good)
    assert all(caption_problems(c, scene) for c in bad)


def test_five_distinct_regular_captions_per_image(small_set):
    captions = read_captions(small_set)
    assert len(captions) == N_SMALL
    plurals = {shape + "s" for shape in SHAPES}
    for image_id, five in captions.items():
        assert len(five) == 5 and len(set(five)) == 5, f"{image_id}: {five}"
        for caption in five:
            assert caption == caption.strip().lower()
            assert not re.search(r"\d", caption)
            assert not plurals & set(caption.split()), caption


def test_captions_include_the_canonical_one_and_both_directions(small_set):
    scenes = read_scenes(small_set)
    inverse_seen = False
    for image_id, five in read_captions(small_set).items():
        objects = scenes[image_id]["objects"]
        canonical = describe_object(objects[0])
        if len(objects) >= 2:
            relation = scenes[image_id]["relations"][0]
            assert (relation["subject"], relation["object"]) == (0, 1)
            phrase = " ".join(RELATION_PHRASES[relation["relation"]][0])
            canonical += f" {phrase} {describe_object(objects[1])}"
            if len(objects) == 3:
                canonical += f" and {describe_object(objects[2])}"
            second = (objects[1]["colour"], objects[1]["shape"])
            for caption in five:
                parsed = parse_scene_caption(caption.split())
                if parsed["relations"] and parsed["relations"][0]["subject"] is not None:
                    first = parsed["mentions"][parsed["relations"][0]["subject"]]
                    inverse_seen |= (first["colour"], first["shape"]) == second
        assert canonical in five, f"{image_id}: canonical {canonical!r} not in {five}"
    assert inverse_seen, "no caption states a relation the other way round"


def test_scene_geometry_is_unambiguous(small_set):
    counts = {1: 0, 2: 0, 3: 0}
    for image_id, scene in read_scenes(small_set).items():
        side = scene["width"]
        objects = scene["objects"]
        counts[len(objects)] += 1
        assert scene["background"] in BACKGROUNDS
        assert len({(o["shape"], o["colour"]) for o in objects}) == len(objects), image_id
        for o in objects:
            assert o["shape"] in SHAPES and o["colour"] in COLOURS and o["size"] in SIZES
            assert 0 <= o["x"] - o["r"] and o["x"] + o["r"] <= side, image_id
            assert 0 <= o["y"] - o["r"] and o["y"] + o["r"] <= side, image_id
        for a in range(len(objects)):
            for b in range(a + 1, len(objects)):
                oa, ob = objects[a], objects[b]
                reach = oa["r"] + ob["r"]
                assert abs(oa["x"] - ob["x"]) > reach or abs(oa["y"] - ob["y"]) > reach, (
                    f"{image_id}: objects {a} and {b} overlap"
                )
        small = [o["r"] for o in objects if o["size"] == "small"]
        large = [o["r"] for o in objects if o["size"] == "large"]
        if small and large:
            assert max(small) < min(large), image_id
        if len(objects) >= 2:
            assert scene["relations"][0]["subject"] == 0
            assert scene["relations"][0]["object"] == 1
        for relation in scene["relations"]:
            s, o = objects[relation["subject"]], objects[relation["object"]]
            gap = s["r"] + o["r"]
            truth = {
                "left of": o["x"] - s["x"] > gap,
                "right of": s["x"] - o["x"] > gap,
                "above": o["y"] - s["y"] > gap,
                "below": s["y"] - o["y"] > gap,
            }
            assert truth[relation["relation"]], f"{image_id}: {relation} is false"
    assert all(counts.values()), f"scenes with 1, 2 and 3 objects expected, got {counts}"


def test_rendered_objects_have_their_colour_at_the_centre(small_set):
    for image_id, scene in read_scenes(small_set).items():
        pixels = np.asarray(Image.open(small_set / "Flicker8k_Dataset" / image_id), dtype=float)
        for o in scene["objects"]:
            centre = pixels[o["y"], o["x"]]
            distance = np.linalg.norm(centre - np.asarray(COLOURS[o["colour"]], dtype=float))
            assert distance < 60, f"{image_id}: {o} is drawn as {centre}"


def test_splits_are_disjoint_and_75_12_12(small_set):
    splits = {
        name: (small_set / filename).read_text(encoding="utf-8").split()
        for name, filename in SPLIT_FILES.items()
    }
    assert {name: len(ids) for name, ids in splits.items()} == {"train": 30, "dev": 5, "test": 5}
    union = set().union(*splits.values())
    assert len(union) == N_SMALL == sum(len(ids) for ids in splits.values())
    assert union == set(read_scenes(small_set))


def test_second_call_does_not_rewrite_anything(tmp_path):
    kwargs = {"n_images": 8, "seed": 0, "image_size": (32, 40), "progress": False}
    root = generate_synthetic(tmp_path / "syn", **kwargs)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    time.sleep(0.01)
    assert generate_synthetic(root, **kwargs) == root
    after = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert after == before


def test_incomplete_folder_is_completed_identically(tmp_path):
    kwargs = {"n_images": 8, "seed": 5, "image_size": (32, 40), "progress": False}
    root = generate_synthetic(tmp_path / "syn", **kwargs)
    original = all_files(root)
    (root / "Flicker8k_Dataset" / "syn_00003.jpg").unlink()
    generate_synthetic(root, **kwargs)
    assert all_files(root) == original


def test_new_parameters_regenerate_and_drop_stale_images(tmp_path):
    root = tmp_path / "syn"
    generate_synthetic(root, n_images=16, seed=0, image_size=(32, 40), progress=False)
    generate_synthetic(root, n_images=8, seed=0, image_size=(32, 40), progress=False)
    assert len(list((root / "Flicker8k_Dataset").iterdir())) == 8
    assert len(read_captions(root)) == 8
    assert json.loads((root / "synthetic.json").read_text())["n_images"] == 8


def test_extra_test_images_join_the_test_split_and_leave_the_rest_alone(tmp_path):
    kwargs = {"n_images": 16, "seed": 2, "image_size": (32, 40), "progress": False}
    plain = generate_synthetic(tmp_path / "plain", **kwargs)
    extra = generate_synthetic(tmp_path / "extra", extra_test_images=6, **kwargs)

    def split(root, name):
        return (root / SPLIT_FILES[name]).read_text().split()

    assert split(extra, "train") == split(plain, "train")
    assert split(extra, "dev") == split(plain, "dev")
    new = [f"syn_{i:05d}.jpg" for i in range(16, 22)]
    assert split(extra, "test") == sorted(split(plain, "test") + new)
    for name in split(plain, "test") + split(plain, "train"):
        old, now = (root / "Flicker8k_Dataset" / name for root in (plain, extra))
        assert old.read_bytes() == now.read_bytes()
    assert json.loads((extra / "synthetic.json").read_text())["splits"]["test"] == 2 + 6


def test_invalid_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_images"):
        generate_synthetic(tmp_path / "a", n_images=3, progress=False)
    with pytest.raises(ValueError, match="extra_test_images"):
        generate_synthetic(tmp_path / "c", n_images=8, extra_test_images=-1, progress=False)
    with pytest.raises(ValueError, match="image_size"):
        generate_synthetic(tmp_path / "b", n_images=8, image_size=(64, 32), progress=False)


def test_describe_object_names_size_colour_and_shape():
    obj = {"shape": "circle", "colour": "red", "size": "large", "x": 0, "y": 0, "r": 1}
    assert describe_object(obj) == "a large red circle"
    assert describe_object(obj, size=False, article="the") == "the red circle"
    assert describe_object(obj, size="big") == "a big red circle"
    with pytest.raises(ValueError):
        describe_object(obj, size="little")


def test_loads_with_the_flickr8k_parser(small_set):
    from course_lib.data import load_dataset

    dataset = load_dataset(small_set, name="synthetic")
    assert len(dataset.captions) == N_SMALL
    assert all(len(c) == 5 for c in dataset.captions.values())
    assert len(dataset.splits["train"]) == 30 and not dataset.skipped
    assert dataset.scenes is not None and len(dataset.scenes) == N_SMALL


def test_the_default_2000_images_split_75_12_12(tmp_path):
    root = generate_synthetic(tmp_path / "syn", progress=False)
    sizes = [len((root / f).read_text().split()) for f in SPLIT_FILES.values()]
    assert sizes == [1500, 250, 250]


def test_the_mini_profile_trains_on_3000_images_and_scores_on_1000():
    from course_lib import config, pipeline
    from course_lib.data.synthetic import _split_sizes

    sizes = pipeline.synthetic_sizes(config.get_profile("mini"))
    assert _split_sizes(**sizes) == {"train": 3000, "dev": 500, "test": 1000}
