"""Generated captions checked against the synthetic scenes' ground truth: what they say
(scene accuracy) and where the attention captioner looked when it said it (attention
correctness). Only the synthetic set has this ground truth (``scenes.json``).

**Scene accuracy** (:func:`scene_accuracy`). Each caption is parsed with
:func:`parse_scene_caption`; its objects are matched one to one to scene objects of the same
shape. Per caption:

* ``shapes_correct``: every scene object is named and nothing else is (no object missing,
  no hallucination);
* ``colours_correct``: every colour said for a matched object is its colour (an object
  named without a colour is not wrong, just less detailed);
* ``sizes_correct``: likewise for size words ("small"/"little", "large"/"big");
* ``relation_correct``: every relation said holds in the scene's ``relations``, read in
  either direction ("a left of b" == "b right of a"); a phrase with an object missing on
  one side, or naming an object not in the scene, does not hold. ``None`` (not judged)
  for 1-object scenes, and for captions that state no relation ("a red circle and a blue
  square", which the synthetic references themselves use) unless ``require_relation``,
  which counts saying no relation as wrong;
* ``all_correct``: all of the judged flags;
* ``hallucinations`` / ``missing``: objects named but not in the scene, and the reverse;
* ``colours_judged`` / ``sizes_judged``: how many colour and size words said about matched
  objects were checked (0: the colour or size flag is true only because nothing was said).

``scenes`` (``scenes.json``) must hold every hypothesis id. The result holds the mean of each
flag over the images where it is judged (``None`` when there are none),
``hallucination_rate`` (share of captions with at least one), ``relation_said_rate`` (share of
multi-object scenes whose caption states a relation: a phrase with a named object on each
side; "above above", babble, states none), ``n_images``, ``n_relation_images``
(where ``relation_correct`` is judged) and ``details: {id: per-caption dict}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib.data.synthetic import (
    COLOURS,
    INVERSE_RELATION,
    RELATION_PHRASES,
    SHAPES,
    SIZE_WORDS,
    describe_object,
)
from course_lib.metrics import Hypotheses, describe_ids, strip_special_tokens

__all__ = [
    "SCENE_CHECKS",
    "attention_correctness",
    "box_coverage",
    "check_scene_caption",
    "checks_passed",
    "parse_scene_caption",
    "relation_pairs",
    "scene_accuracy",
    "scene_report_table",
    "summarise_checks",
    "what_is_wrong",
]

# --------------------------------------------------------------------------------------------
# Scene accuracy (synthetic set only)
# --------------------------------------------------------------------------------------------

#: The per-caption checks, in the order they are reported.
SCENE_CHECKS: tuple[str, ...] = (
    "shapes_correct",
    "colours_correct",
    "sizes_correct",
    "relation_correct",
    "all_correct",
)

_CHECK_DESCRIPTIONS = {
    "shapes_correct": "every object named, nothing extra",
    "colours_correct": "every colour said is right",
    "sizes_correct": "every size word said is right",
    "relation_correct": "the relation said holds (2+ objects, a relation said)",
    "all_correct": "all of the above",
}


def _scene_words() -> dict[str, Any]:
    """The synthetic vocabulary, from the generator module (one source of truth)."""
    phrases = sorted(
        ((tuple(p), rel) for rel, ps in RELATION_PHRASES.items() for p in ps),
        key=lambda item: (
            -len(item[0])
        ),  # longest first: "to the left of" before "left of"
    )
    return {
        "shapes": frozenset(SHAPES),
        "colours": frozenset(COLOURS),
        "size_of_word": {
            w: size for size, words in SIZE_WORDS.items() for w in words
        },
        "phrases": phrases,
    }


def parse_scene_caption(
    tokens: Sequence[str],
) -> dict[str, list[dict[str, Any]]]:
    """Find object mentions and relation phrases in a synthetic-scene caption.

    A mention is ``[size word] [colour] shape`` (both modifiers optional, in that order,
    directly before the shape). A relation is a phrase from ``RELATION_PHRASES`` (longest
    match first) linking the nearest mention before it to the nearest mention after it.

    Returns ``{"mentions": [{"shape", "colour", "size", "start", "end"}],
    "relations": [{"subject": mention index | None, "relation", "object": index | None}]}``;
    missing modifiers are ``None``; token positions are after removing start/end markers.
    """
    words = _scene_words()
    toks = [t.lower() for t in strip_special_tokens(tokens)]
    mentions: list[dict[str, Any]] = []
    for i, tok in enumerate(toks):
        if tok not in words["shapes"]:
            continue
        start, colour, size = i, None, None
        if start > 0 and toks[start - 1] in words["colours"]:
            start -= 1
            colour = toks[start]
        if start > 0 and toks[start - 1] in words["size_of_word"]:
            start -= 1
            size = words["size_of_word"][toks[start]]
        mentions.append(
            {
                "shape": tok,
                "colour": colour,
                "size": size,
                "start": start,
                "end": i + 1,
            }
        )
    relations: list[dict[str, Any]] = []
    i = 0
    while i < len(toks):
        for phrase, rel in words["phrases"]:
            if tuple(toks[i : i + len(phrase)]) == phrase:
                end = i + len(phrase)
                before = [k for k, m in enumerate(mentions) if m["end"] <= i]
                after = [
                    k for k, m in enumerate(mentions) if m["start"] >= end
                ]
                relations.append(
                    {
                        "subject": before[-1] if before else None,
                        "relation": rel,
                        "object": after[0] if after else None,
                    }
                )
                i = end
                break
        else:
            i += 1
    return {"mentions": mentions, "relations": relations}


def _named_objects(
    mentions: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[int]]:
    """Merge mentions of one object. Returns the objects and each mention's object index.

    Mentions with a colour and the same (shape, colour) are one object (objects in a scene
    have distinct (shape, colour) pairs); a mention without a colour is its own object.
    """
    objects: list[dict[str, Any]] = []
    key_to_object: dict[tuple[str, str], int] = {}
    mention_to_object: list[int] = []
    for m in mentions:
        key = (m["shape"], m["colour"])
        if m["colour"] is not None and key in key_to_object:
            index = key_to_object[key]
        else:
            index = len(objects)
            objects.append(
                {"shape": m["shape"], "colour": m["colour"], "sizes": []}
            )
            if m["colour"] is not None:
                key_to_object[key] = index
        if m["size"] is not None:
            objects[index]["sizes"].append(m["size"])
        mention_to_object.append(index)
    return objects, mention_to_object


def _match(
    named: list[dict[str, Any]], scene_objects: Sequence[Mapping[str, Any]]
) -> list[int | None]:
    """Assign named objects to scene objects of the same shape, one to one.

    Maximises the number matched, then the colours and sizes that agree (DP over subsets of
    scene objects; ties go to the lowest indices, so the result is deterministic).
    """
    n_scene = len(scene_objects)

    def agree(obj: Mapping[str, Any], s: Mapping[str, Any]) -> int:
        return int(obj["colour"] == s.get("colour")) + sum(
            z == s.get("size") for z in obj["sizes"]
        )

    memo: dict[tuple[int, int], tuple[tuple[int, int], list[int | None]]] = {}

    def best(i: int, used: int) -> tuple[tuple[int, int], list[int | None]]:
        if i == len(named):
            return (0, 0), []
        if (i, used) in memo:
            return memo[(i, used)]
        (m, a), rest = best(i + 1, used)
        choice: tuple[tuple[int, int], list[int | None]] = (
            (m, a),
            [None, *rest],
        )
        for j in range(n_scene):
            if (
                used >> j & 1
                or scene_objects[j].get("shape") != named[i]["shape"]
            ):
                continue
            (m2, a2), rest2 = best(i + 1, used | 1 << j)
            score = (m2 + 1, a2 + agree(named[i], scene_objects[j]))
            if score > choice[0]:
                choice = (score, [j, *rest2])
        memo[(i, used)] = choice
        return choice

    return best(0, 0)[1]


def _describe(obj: Mapping[str, Any]) -> str:
    return " ".join(str(w) for w in (obj.get("colour"), obj.get("shape")) if w)


def check_scene_caption(
    tokens: Sequence[str],
    scene: Mapping[str, Any],
    require_relation: bool,
) -> dict[str, Any]:
    """One caption's checks against its scene (the module docstring), as one
    of :func:`scene_accuracy`'s details; ``require_relation`` counts saying
    no relation about two or more objects as wrong."""
    parsed = parse_scene_caption(tokens)
    scene_objects = list(scene.get("objects", []))
    named, mention_to_object = _named_objects(parsed["mentions"])
    match = _match(named, scene_objects)
    matched = [
        (obj, scene_objects[j])
        for obj, j in zip(named, match, strict=True)
        if j is not None
    ]
    hallucinations = [
        _describe(obj)
        for obj, j in zip(named, match, strict=True)
        if j is None
    ]
    missing = [
        _describe(s) for j, s in enumerate(scene_objects) if j not in match
    ]
    object_of = [match[k] for k in mention_to_object]  # mention → scene
    holds = _relations_hold(parsed, scene, object_of)
    relation_correct: bool | None = None
    if len(scene_objects) >= 2 and (holds or require_relation):
        relation_correct = bool(holds) and all(holds)

    flags = {
        "shapes_correct": not hallucinations and not missing,
        "colours_correct": all(
            o["colour"] in (None, s.get("colour")) for o, s in matched
        ),
        "sizes_correct": all(
            z == s.get("size") for o, s in matched for z in o["sizes"]
        ),
        "relation_correct": relation_correct,
    }
    flags["all_correct"] = all(v is not False for v in flags.values())
    return {
        "caption": " ".join(strip_special_tokens(tokens)),
        **flags,
        "hallucinations": hallucinations,
        "missing": missing,
        "n_objects": len(scene_objects),
        "relation_said": any(
            None not in (r["subject"], r["object"])
            for r in parsed["relations"]
        ),
        "colours_judged": sum(o["colour"] is not None for o, _ in matched),
        "sizes_judged": sum(len(o["sizes"]) for o, _ in matched),
        "named": [_describe(o) for o in named],
        "relations_said": _relations_said(parsed),
    }


def _relations_hold(
    parsed: Mapping[str, Any],
    scene: Mapping[str, Any],
    object_of: list[int | None],
) -> list[bool]:
    """Whether each relation a parsed caption states holds in the scene;
    ``object_of[k]``: the scene object mention k names (None: none)."""
    truth = {
        (r["subject"], r["relation"], r["object"])
        for r in scene.get("relations", [])
    }
    truth |= {(o, INVERSE_RELATION[rel], s) for s, rel, o in truth}
    holds = []
    for rel in parsed["relations"]:
        ends = [rel["subject"], rel["object"]]
        scene_ends = [None if k is None else object_of[k] for k in ends]
        holds.append(
            None not in scene_ends
            and (scene_ends[0], rel["relation"], scene_ends[1]) in truth
        )
    return holds


def _relations_said(parsed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The relations a parsed caption states, its objects described."""

    def side(k: int | None) -> str | None:
        return None if k is None else _describe(parsed["mentions"][k])

    return [
        {"subject": side(r["subject"]), "relation": r["relation"],
         "object": side(r["object"])}
        for r in parsed["relations"]
    ]  # fmt: skip


def scene_accuracy(
    hypotheses: Hypotheses,
    scenes: Mapping[str, Mapping[str, Any]],
    *,
    require_relation: bool = False,
) -> dict[str, Any]:
    """Each caption ``{id: tokens}`` checked against its scene ``{id: scene}``
    (the checks: the module docstring), and the share that passes each."""
    missing = set(hypotheses) - set(scenes)
    if missing:
        ids = describe_ids(missing)
        raise ValueError(f"no ground-truth scene for hypotheses {ids}")
    if not hypotheses:
        raise ValueError("no hypotheses to check")
    details = {
        i: check_scene_caption(hypotheses[i], scenes[i], require_relation)
        for i in sorted(hypotheses)
    }
    return {**summarise_checks(list(details.values())), "details": details}


def summarise_checks(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each check over the captions where it is judged, and the counts."""

    def mean(key: str) -> float | None:
        values = [d[key] for d in details if d[key] is not None]
        return sum(values) / len(values) if values else None

    result: dict[str, Any] = {key: mean(key) for key in SCENE_CHECKS}
    result["hallucination_rate"] = sum(
        bool(d["hallucinations"]) for d in details
    ) / len(details)
    multi = [d for d in details if d["n_objects"] >= 2]
    said = sum(d["relation_said"] for d in multi)
    result["relation_said_rate"] = said / len(multi) if multi else None
    result["n_images"] = len(details)
    result["n_relation_images"] = sum(
        d["relation_correct"] is not None for d in details
    )
    return result


def checks_passed(detail: Mapping[str, Any]) -> float:
    """The share of the checks judged on one caption that it passes (one
    :func:`scene_accuracy` detail; a check not judged, None, is left out)."""
    judged = [detail[k] for k in SCENE_CHECKS[:-1] if detail[k] is not None]
    return sum(judged) / len(judged) if judged else 0.0


def what_is_wrong(detail: Mapping[str, Any]) -> str:
    """What one :func:`scene_accuracy` detail found wrong, in words ("—" if
    nothing): invented and missing objects, wrong colour, size, relation."""
    found = []
    if detail["hallucinations"]:
        found.append("invents " + ", ".join(detail["hallucinations"]))
    if detail["missing"]:
        found.append("misses " + ", ".join(detail["missing"]))
    checks = ("colours_correct", "sizes_correct", "relation_correct")
    for key, word in zip(checks, ("colour", "size", "relation"), strict=True):
        if detail[key] is False:
            found.append(f"wrong {word}")
    return "; ".join(found) or "—"


def relation_pairs(
    scenes: Mapping[str, Mapping[str, Any]], image_ids: Iterable[str]
) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """For every scene of two or more objects, its first relation stated both ways round.

    Returns ``(ids, true, opposite)``: the ids of those scenes and, for each, two token lists
    that name the same two objects in the same order, ``"a small red circle to the left of a
    large blue square"`` (the relation that holds) and ``"… to the right of …"`` (its opposite,
    as many words long). A model that knows where the objects are gives the first the higher
    probability; one that does not is right half of the time.
    """
    ids, true, opposite = [], [], []
    for image_id in image_ids:
        scene = scenes[image_id]
        if len(scene["objects"]) < 2:
            continue
        first = scene["relations"][0]
        a, b = (scene["objects"][first[k]] for k in ("subject", "object"))

        def caption(relation: str, a=a, b=b) -> list[str]:
            phrase = list(RELATION_PHRASES[relation][0])
            return [
                *describe_object(a).split(),
                *phrase,
                *describe_object(b).split(),
            ]

        ids.append(image_id)
        true.append(caption(first["relation"]))
        opposite.append(caption(INVERSE_RELATION[first["relation"]]))
    return ids, true, opposite


def scene_report_table(
    result: Mapping[str, Any], *, per_image: bool = False
) -> list[dict[str, Any]]:
    """Rows for a table in the book from a :func:`scene_accuracy` result.

    Default: one row per check, ``{"check", "meaning", "value", "images"}`` (plus a
    hallucination row). ``per_image=True``: one row per image with its caption and flags.
    """
    if per_image:
        return [
            {
                "image_id": image_id,
                "caption": d["caption"],
                **{key: d[key] for key in SCENE_CHECKS},
                "hallucinations": ", ".join(d["hallucinations"]),
                "missing": ", ".join(d["missing"]),
            }
            for image_id, d in result["details"].items()
        ]
    rows = []
    for key in SCENE_CHECKS:
        images = (
            result["n_relation_images"]
            if key == "relation_correct"
            else result["n_images"]
        )
        rows.append(
            {
                "check": key,
                "meaning": _CHECK_DESCRIPTIONS[key],
                "value": result[key],
                "images": images,
            }
        )
    rows.append(
        {
            "check": "hallucination_rate",
            "meaning": "captions naming an object not in the scene",
            "value": result["hallucination_rate"],
            "images": result["n_images"],
        }
    )
    return rows


# --------------------------------------------------------------------------------------------
# Attention correctness (synthetic set only)
# --------------------------------------------------------------------------------------------


def box_coverage(
    obj: Mapping[str, Any], scene: Mapping[str, Any], grid: tuple[int, int]
):
    """How much of each grid cell an object's box covers: (H·W,) in [0, 1].

    The image is cut into ``grid`` = (H, W) equal cells, row by row, as a
    backbone's last map cuts it; the box is the object's centre ± ``r``. A
    cell's value is the share of its area inside the box, so the mean of the
    result is the box's share of the image: the chance level.
    """
    rows, cols = grid
    width, height = float(scene.get("width", 1)), float(scene.get("height", 1))
    x, y, r = float(obj["x"]), float(obj["y"]), float(obj["r"])

    def overlap(lo: float, hi: float, size: float, n: int) -> np.ndarray:
        edges = np.linspace(0.0, size, n + 1)
        inside = np.clip(
            np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None
        )
        return inside / (size / n)  # share of each cell's extent

    return np.outer(
        overlap(y - r, y + r, height, rows), overlap(x - r, x + r, width, cols)
    ).ravel()


def _box(obj: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """An object's box ``(x0, y0, x1, y1)`` in image pixels: its centre ± its half-extent."""
    x, y, r = float(obj["x"]), float(obj["y"]), float(obj["r"])
    return (x - r, y - r, x + r, y + r)


def attention_correctness(
    hypotheses: Hypotheses,
    attention: Mapping[str, np.ndarray],
    scenes: Mapping[str, Mapping[str, Any]],
    grid: tuple[int, int],
) -> dict[str, Any]:
    """Where the model looked when it named an object, against where the object is.

    After Liu et al. 2017 ("Attention Correctness in Neural Image Captioning"): for every
    generated word that names an object of the scene (its shape word, and a colour or size
    word attached to it, found and matched to the scene's objects as :func:`scene_accuracy`
    does), the share of that step's attention that falls on the object's box
    (:func:`box_coverage`; attention spread evenly within each cell). Words naming an object
    that is not in the scene are not counted.

    ``hypotheses``: ``{id: tokens}``; ``attention``: ``{id: (n_steps, H·W)}``, row ``t`` the
    weights when token ``t`` was chosen (a decoder's ``Decoded.attention``); ``scenes``:
    ground truth; ``grid``: (H, W) of the attended map.

    Returns ``{"correctness", "chance", "ratio", "n_words", "n_images", "by_kind", "details"}``:
    the mean share on the box, the mean share the box has of the image (what uniform attention
    would give), their ratio, counts, the means per kind of word (``"shape"``, ``"colour"``,
    ``"size"``) and one dict per word (its image, position, word, kind, object, the object's box
    ``(x0, y0, x1, y1)`` in image pixels, its mass on the box and the box's chance). When no word
    names an object of its scene (an untrained model), the means and the ratio are None.
    """
    missing = set(hypotheses) - set(scenes) | set(hypotheses) - set(attention)
    if missing:
        raise ValueError(
            f"no scene or no attention for hypotheses {describe_ids(missing)}"
        )
    details: list[dict[str, Any]] = []
    for image_id in sorted(hypotheses):
        weights = np.asarray(attention[image_id], dtype=float)
        if weights.ndim != 2 or weights.shape[1] != grid[0] * grid[1]:
            raise ValueError(
                f"attention of {image_id!r} has shape {weights.shape}; "
                f"expected (steps, {grid[0] * grid[1]})"
            )
        details += _words_on_objects(
            image_id, hypotheses[image_id], weights, scenes[image_id], grid
        )
    by_kind = {}
    for kind in ("shape", "colour", "size"):
        rows = [d for d in details if d["kind"] == kind]
        if rows:
            by_kind[kind] = _mass_and_chance(rows)
    result = _mass_and_chance(details)
    correctness, chance = result["correctness"], result["chance"]
    ratio = None
    if correctness is not None and chance is not None:
        ratio = correctness / chance
    n_images = len({d["image_id"] for d in details})
    return {**result, "ratio": ratio, "n_images": n_images,
            "by_kind": by_kind, "details": details}  # fmt: skip


def _mass_and_chance(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean attention on the box and the mean chance of some words (None
    for no words), and how many."""

    def mean(key: str) -> float | None:
        return math.fsum(d[key] for d in rows) / len(rows) if rows else None

    return {
        "correctness": mean("mass"),
        "chance": mean("chance"),
        "n_words": len(rows),
    }


def _words_on_objects(
    image_id: str,
    hypothesis: Sequence[str],
    weights: np.ndarray,
    scene: Mapping[str, Any],
    grid: tuple[int, int],
) -> list[dict[str, Any]]:
    """One dict per word of a caption that names an object of its scene: its attention
    ``weights`` (steps, H·W) on the object's box, and the box's chance."""
    tokens = [t.lower() for t in strip_special_tokens(hypothesis)]
    objects = list(scene.get("objects", []))
    mentions = parse_scene_caption(tokens)["mentions"]
    named, mention_to_object = _named_objects(mentions)
    match = _match(named, objects)
    details = []
    for mention, k in zip(mentions, mention_to_object, strict=True):
        j = match[k]
        if j is None:
            continue
        obj = objects[j]
        cover = box_coverage(obj, scene, grid)
        for position in range(
            mention["start"], min(mention["end"], len(weights))
        ):
            word = tokens[position]
            kind = "shape" if position == mention["end"] - 1 else (
                "colour" if word == mention["colour"] else "size"
            )  # fmt: skip
            details.append(
                {
                    "image_id": image_id,
                    "position": position,
                    "word": word,
                    "kind": kind,
                    "object": _describe(obj),
                    "box": _box(obj),
                    "mass": float(weights[position] @ cover),
                    "chance": float(cover.sum() / (grid[0] * grid[1])),
                }
            )
    return details
