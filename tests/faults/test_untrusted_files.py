"""Untrusted files: models load in Keras safe mode only, nothing is unpickled, and captions or
paths with shell or HTML metacharacters are plain data everywhere."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from course_lib.data import load_dataset
from course_lib.text import Vocabulary, clean_caption

from .helpers import REPO_ROOT, jpeg_bytes, scene_image, write_dataset

LIBRARY = REPO_ROOT / "course_lib"
NASTY_CAPTIONS = [
    "a dog; rm -rf / && echo pwned",
    "<script>alert('x')</script> a cat",
    "$(touch PWNED) and `touch PWNED2` in a field",
    "a \"quoted\" 'caption' with $HOME and %PATH%",
    "a man & <b>bold</b> $x^2$ math",
]
NASTY_NAME = "my photo; rm -rf ~ $(touch PWNED) <b>'x'\".jpg"


def test_keras_file_with_a_lambda_layer_is_refused_by_load_captioner(tmp_path):
    import keras

    from course_lib.training import load_captioner

    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)  # code that would run on load
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="safe mode") as err:
        load_captioner(path)
    assert str(path) in str(err.value)


def _sources() -> list[Path]:
    return sorted(LIBRARY.rglob("*.py"))


def test_library_never_uses_pickle_joblib_dill_or_allow_pickle_true():
    pattern = re.compile(
        r"\b(import\s+(c?pickle|joblib|dill|shelve)|from\s+(c?pickle|joblib|dill"
        r"|shelve)\s+import|allow_pickle\s*=\s*True|pickle\.loads?\()"
    )
    hits = [
        f"{p.relative_to(REPO_ROOT)}:{n}"
        for p in _sources()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def _calls(name: str):
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    yield path, node


def test_every_np_load_passes_allow_pickle_false():
    calls = list(_calls("load"))
    np_loads = [(p, c) for p, c in calls if ast.unparse(c.func) in ("np.load", "numpy.load")]
    for path, call in np_loads:
        kw = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert kw.get("allow_pickle") == "False", f"{path}: {ast.unparse(call)}"


def test_every_keras_model_load_uses_safe_mode():
    for path, call in _calls("load_model"):
        kw = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert kw.get("safe_mode") == "True", f"{path}: {ast.unparse(call)}"
    assert "safe_mode=False" not in "".join(p.read_text() for p in _sources())


@pytest.fixture
def nasty_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything executed would create PWNED here
    names = {NASTY_NAME: jpeg_bytes(scene_image(0)), "plain.jpg": jpeg_bytes(scene_image(1))}
    captions = {NASTY_NAME: NASTY_CAPTIONS, "plain.jpg": ["a plain <caption>"]}
    root = write_dataset(tmp_path / "data" / "synthetic", names, captions=captions)
    return load_dataset(root, name="synthetic")


def _nothing_executed(tmp_path: Path) -> None:
    assert not list(tmp_path.rglob("PWNED*")) and not (Path.home() / "PWNED").exists()


def test_captions_and_names_with_metacharacters_are_parsed_as_plain_data(nasty_dataset, tmp_path):
    assert nasty_dataset.captions[NASTY_NAME] == NASTY_CAPTIONS
    assert nasty_dataset.splits["train"] == [NASTY_NAME, "plain.jpg"]
    assert nasty_dataset.missing_images() == []
    from course_lib.data.images import load_image

    assert load_image(nasty_dataset.image_path(NASTY_NAME), 8).shape == (8, 8, 3)
    _nothing_executed(tmp_path)


def test_vocabulary_of_metacharacter_captions_holds_plain_words_and_round_trips(tmp_path):
    tokens = [clean_caption(c) for c in NASTY_CAPTIONS]
    assert tokens[0] == ["a", "dog", "rm", "rf", "echo", "pwned"]
    assert all(t.isalpha() for caption in tokens for t in caption)
    vocab = Vocabulary.build(tokens)
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab


def test_cli_info_prints_metacharacter_entries_as_plain_text(nasty_dataset, tmp_path, capsys):
    from course_lib.__main__ import main

    with (nasty_dataset.root / "Flickr8k.token.txt").open("a") as captions:
        captions.write(f"{NASTY_NAME}#9 no tab\n")
    assert main(["info", "--dataset", "synthetic", "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert repr(f"{NASTY_NAME}#9 no tab") in out and "skipped entries: 1" in out
    assert (
        main(["info", "--dataset", "synthetic", "--data-dir", str(tmp_path / "data"), "--json"])
        == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert info["skipped"][0]["entry"] == f"{NASTY_NAME}#9 no tab"
    _nothing_executed(tmp_path)


def test_viz_titles_show_metacharacter_captions_without_error(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib import viz

    images = [np.zeros((8, 8, 3), np.uint8)] * len(NASTY_CAPTIONS)
    fig = viz.show_captioned_images(images, NASTY_CAPTIONS, titles=[NASTY_NAME] * 5, ncols=1)
    fig.savefig(tmp_path / "grid.png")  # draws the text: mathtext errors would raise here
    for ax, caption in zip(fig.axes, NASTY_CAPTIONS, strict=True):
        title = " ".join(ax.get_title().split())  # wrapped to the panel's width
        assert " ".join(caption.split()) in title
    _nothing_executed(tmp_path)


def test_viz_titles_with_dollar_signs_are_not_rendered_as_math():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib import viz

    fig = viz.show_captioned_images([np.zeros((8, 8, 3), np.uint8)], ["costs $5 or $10"])
    assert fig.axes[0].title.get_parse_math() is False


def test_viz_html_table_escapes_metacharacters():
    from course_lib import viz

    html = viz.table([[NASTY_CAPTIONS[1], 1.0]], ["caption", "score"])._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
