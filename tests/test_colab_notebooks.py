"""The Colab notebooks (colab/book): the book's chapters in plain Jupyter, with no MyST left."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from course_lib.exercises import all_exercises
from course_lib.exercises.cells import answer_cell, check_cell, code_cell


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


colab = _load_script("colab_notebooks")
setup_cell = _load_script("setup_cell")

CHAPTERS = sorted((REPO_ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
#: Every notebook of the book: the chapters and the appendix's (data_safety).
NOTEBOOKS = sorted((REPO_ROOT / "book").glob("*.ipynb"))
COLAB = sorted((REPO_ROOT / "colab" / "book").glob("*.ipynb"))
RAW_MYST = {
    "a role": re.compile(r"\{[A-Za-z][\w:+.-]*\}`"),
    "a directive": re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*\{", re.M),
    "a colon fence": re.compile(r"^\s*:{3,}", re.M),
    "a target": re.compile(r"^\s*\([^()\s]+\)=\s*$", re.M),
}


def _markdown(notebook: dict) -> str:
    return "\n".join(
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"
    )


def _code(notebook: dict) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


# -- the committed notebooks -------------------------------------------------------------------


def test_there_is_one_colab_notebook_per_chapter_and_appendix_notebook():
    assert [p.name for p in COLAB] == [p.name for p in NOTEBOOKS]
    assert len(CHAPTERS) == 9
    assert {"backends.ipynb", "data_safety.ipynb"} < {p.name for p in COLAB}


def test_colab_notebooks_are_up_to_date_with_the_book():
    wanted = colab.generate()
    for path, text in wanted.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(REPO_ROOT)} is out of date: run `python scripts/colab_notebooks.py`"
        )


def test_generation_is_deterministic():
    assert colab.generate() == colab.generate()


def test_the_launch_buttons_open_the_colab_notebooks():
    # sphinx-book-theme: {colab_url}/github/{org}/{repo}/blob/{branch}/{path_to_book}/{page}.ipynb
    repository = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["repository"]
    for chapter in NOTEBOOKS:
        page = chapter.relative_to(REPO_ROOT).with_suffix(".ipynb")
        assert (REPO_ROOT / repository["path_to_book"] / page).is_file(), page


@pytest.mark.parametrize("path", COLAB, ids=lambda p: p.stem)
def test_no_raw_myst_reaches_a_student(path):
    text = _markdown(json.loads(path.read_text(encoding="utf-8")))
    for what, pattern in RAW_MYST.items():
        assert not pattern.search(text), f"{path.name}: {what}: {pattern.search(text).group(0)!r}"
    assert "{glue" not in text and "{solution" not in text


@pytest.mark.parametrize("path", COLAB, ids=lambda p: p.stem)
def test_cells_are_clean_and_the_setup_cell_comes_first(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        # an exercise's check carries its nbgrader metadata, and nothing else does
        assert set(cell["metadata"]) == ({"nbgrader"} if cell["id"].endswith("-check") else set())
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert _code(notebook)[0] == setup_cell.setup_cell_source()
    assert notebook["metadata"]["accelerator"] == "GPU"
    assert all(len(line) <= 80 for line in _code(notebook)[0].splitlines())


@pytest.mark.parametrize(
    "path", [p for p in COLAB if p.name[:2].isdigit()][1:], ids=lambda p: p.stem
)
def test_exercises_are_numbered_unanswered_and_point_to_hint_and_solution(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    text, code = _markdown(notebook), "\n".join(_code(notebook))
    chapter = int(path.name[:2])
    headings = re.findall(r"^### Exercise (\d+)\.(\d+): ", text, re.M)
    exercises = all_exercises()[chapter]
    assert headings == [(str(chapter), str(ex.number)) for ex in exercises]
    for ex in exercises:
        assert f"`{ex.name}.hint()`" in text and f"`{ex.name}.solution()`" in text
        if code_cell(ex):
            assert answer_cell(ex) in code and check_cell(ex) in code
        if hasattr(ex, "reference"):
            assert ex.source not in code and ex.source not in text
    assert "glue_solutions" not in code and "BEGIN SOLUTION" not in code


@pytest.mark.parametrize("path", COLAB, ids=lambda p: p.stem)
def test_citations_are_author_year_with_a_reference_list(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    last = "".join(notebook["cells"][-1]["source"])
    assert last.startswith("## References\n\n- ")
    assert re.search(r"\([A-Z][\w-]+( et al\.| and [A-Z][\w-]+)?, \d{4}[;)]", _markdown(notebook))


# -- the converter, on small notebooks -----------------------------------------------------------

BIB = """@article{tanti2018where,
  author = {Tanti, Marc and Gatt, Albert and Camilleri, Kenneth P.},
  title = {Where to put the image?},
  journal = {Natural Language Engineering},
  volume = {24}, number = {3}, pages = {467--489}, year = {2018},
  doi = {10.1017/S1351324918000098}
}
@misc{brownlee2017caption,
  author = {Brownlee, Jason},
  title = {A Photo Caption Generator},
  howpublished = {Machine Learning Mastery, \\url{https://example.org/caption}},
  year = {2017}
}
@article{hochreiter1997long,
  author = {Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen},
  title = {Long Short-Term Memory}, journal = {Neural Computation}, year = {1997}
}
"""

LIBRARY = '''"""A module."""


def helper(x):
    """Double x."""
    return 2 * x


def other():
    return 0
'''


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A small book folder: references, a library file, and a writer of one-notebook chapters."""
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    (root / "pkg").mkdir()
    (root / "pkg" / "lib.py").write_text(LIBRARY)
    (root / "book" / "references.bib").write_text(BIB)
    (root / "book" / "02_other.md").write_text("(other-label)=\n# The other chapter\n\ntext\n")
    monkeypatch.setattr(colab, "ROOT", root)
    references = colab.read_bibliography(root / "book" / "references.bib")
    labels = colab.book_labels(root / "book")

    def convert(*cells: dict) -> dict:
        path = root / "book" / "01_test.ipynb"
        notebook = {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        path.write_text(json.dumps(notebook))
        return colab.convert_notebook(path, references, labels)

    return convert


def md(source: str, cell_id: str = "m", tags: list[str] | None = None) -> dict:
    metadata = {"tags": tags} if tags else {}
    return {"cell_type": "markdown", "id": cell_id, "metadata": metadata, "source": source}


def code(source: str, cell_id: str = "c", tags: list[str] | None = None) -> dict:
    metadata = {"tags": tags} if tags else {}
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": metadata,
        "execution_count": 3,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
        "source": source,
    }


def _texts(notebook: dict) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"]]


def test_citations_become_author_year_and_a_reference_list(book):
    nb = book(md("As {cite}`tanti2018where,brownlee2017caption` and {cite:t}`hochreiter1997long`."))
    text, references = _texts(nb)
    assert text == (
        "As (Tanti et al., 2018; Brownlee, 2017) and Hochreiter and Schmidhuber (1997)."
    )
    assert references.splitlines() == [
        "## References",
        "",
        "- Brownlee, J. (2017). A Photo Caption Generator. *Machine Learning Mastery*,"
        " <https://example.org/caption>.",
        "- Hochreiter, S. and Schmidhuber, J. (1997). Long Short-Term Memory."
        " *Neural Computation*.",
        "- Tanti, M., Gatt, A. and Camilleri, K. P. (2018). Where to put the image?"
        " *Natural Language Engineering*, 24(3), 467–489,"
        " <https://doi.org/10.1017/S1351324918000098>.",
    ]


def test_terms_refs_and_docs_become_plain_text(book):
    nb = book(
        md(
            "A {term}`LSTM`, {term}`states <cell state>`, {doc}`02_other`, {doc}`see <02_other>`,"
            " {ref}`other-label`, {numref}`that chapter <other-label>` and {math}`x^2`."
        )
    )
    assert _texts(nb) == [
        "A LSTM, states, The other chapter, see, The other chapter, that chapter and $x^2$."
    ]


def test_admonitions_become_blockquotes(book):
    nb = book(
        md("```{warning}\n**Careful.** Two\nlines.\n```"),
        md(":::{note}\n:class: tip\n- a list\n:::"),
        md("```{admonition} A title\nBody with {term}`x`.\n```"),
    )
    assert _texts(nb) == [
        "> **Warning.** **Careful.** Two\n> lines.",
        "> **Note.**\n>\n> - a list",
        "> **A title.** Body with x.",
    ]


def test_exercises_become_headings_and_solutions_a_pointer_to_hint_and_solution(book):
    nb = book(
        code("glue_solutions(ch1)", "g", ["remove-cell"]),
        md("```{exercise} 1.2: A title\n:label: ch1-ex2\n:nonumber:\n\nDo {term}`it`.\n```"),
        code("answer = ...  # YOUR CODE HERE\nch1.ex2.check(answer)", "e"),
        md("````{solution} ch1-ex2\n:class: dropdown\n\n```{glue:md} k\n:format: myst\n```\n````"),
    )
    assert _texts(nb) == [
        "### Exercise 1.2: A title\n\nDo it.",
        "answer = ...  # YOUR CODE HERE\nch1.ex2.check(answer)",
        "*Stuck? `ch1.ex2.hint()` gives a hint, and `ch1.ex2.solution()` shows the solution.*",
    ]


def test_an_exercise_cell_becomes_the_answer_then_an_nbgrader_test_of_its_check(book):
    ex = all_exercises()[1][0]
    nb = book(code(code_cell(ex), f"{ex.label}-code"))
    answer, check = nb["cells"]
    assert (answer["id"], _texts(nb)[0]) == (f"{ex.label}-code", answer_cell(ex))
    assert (check["id"], _texts(nb)[1]) == (f"{ex.label}-check", check_cell(ex))
    assert answer["metadata"] == {}
    assert check["metadata"]["nbgrader"] == {
        "grade": True, "grade_id": ex.label, "locked": True, "points": 1,
        "schema_version": 3, "solution": False, "task": False,
    }  # fmt: skip


def test_a_stale_exercise_cell_is_refused(book):
    ex = all_exercises()[1][0]
    with pytest.raises(colab.ConversionError, match=r"ch1-ex1-code: .*exercise_cells.py"):
        book(code(code_cell(ex) + "\nprint(1)", "ch1-ex1-code"))


def test_an_exercise_without_its_number_is_refused(book):
    with pytest.raises(colab.ConversionError, match=r"01_test.ipynb cell 0: \{exercise\} Title"):
        book(md("```{exercise} Title\n:label: ch1-ex1\n\nDo it.\n```"))


def test_literalinclude_shows_the_librarys_source(book):
    nb = book(
        md("```{literalinclude} ../pkg/lib.py\n:pyobject: helper\n```"),
        md(
            "```{literalinclude} /pkg/lib.py\n:lines: 9-10\n:language: python3\n"
            ":caption: From {term}`lib`\n```"
        ),
    )
    assert _texts(nb) == [
        '```python\ndef helper(x):\n    """Double x."""\n    return 2 * x\n```',
        "*From lib*\n\n```python3\ndef other():\n    return 0\n```",
    ]


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        ("```{literalinclude} ../pkg/lib.py\n:pyobject: missing\n```", "literalinclude"),
        ("```{literalinclude} ../pkg/lib.py\n:emphasize-lines: 1\n```", "emphasize-lines"),
        ("The value is {glue:text}`loss`.", "glue"),
        ("```{glue:figure} fig\n```", "glue"),
        ("```{figure} a.png\n```", "figure"),
        ("A {abbr}`LSTM (long short-term memory)`.", "abbr"),
        ("```{exercise-start}\n:label: x\n```", "exercise-start"),
        ("Unknown {cite}`nobody2020`.", "nobody2020"),
        ("A {ref}`missing-label`.", "missing-label"),
        ("A {{ substitution }}.", "substitution"),
        (":::\nbare colon fence\n:::", "colon fence"),
    ],
)
def test_unknown_constructs_are_refused_naming_notebook_cell_and_construct(book, source, construct):
    with pytest.raises(colab.ConversionError) as err:
        book(md("fine", "a"), md(source, "b"))
    message = str(err.value)
    assert message.startswith("book/01_test.ipynb cell 1: ") and construct in message, message


def test_cells_removed_kept_and_cleaned(book):
    nb = book(
        md("(intro)=\n# Title\n\n% a comment\nText $a_{i}$ and $$x$$ stay."),
        code("# setup", "setup", ["remove-cell", "colab-setup"]),
        code("hidden()", "h", ["remove-cell"]),
        code("shown()", "s", ["hide-input"]),
        code("quiet()", "q", ["remove-input"]),
        md("```python\n{cite}`not_a_role` in code stays\n```", "m2"),
    )
    assert _texts(nb) == [
        "# Title\n\nText $a_{i}$ and $$x$$ stay.",
        "# setup",
        "shown()",
        "quiet()",
        "```python\n{cite}`not_a_role` in code stays\n```",
    ]
    assert [c["id"] for c in nb["cells"]] == ["m", "setup", "s", "q", "m2"]
    for cell in nb["cells"]:
        assert cell["metadata"] == {}
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_the_setup_cell_must_be_the_first_code_cell(book):
    with pytest.raises(colab.ConversionError, match="setup cell"):
        book(code("import os", "first"), code("# setup", "setup", ["remove-cell", "colab-setup"]))


def test_check_mode_reports_stale_notebooks(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(colab, "OUT", tmp_path / "colab")
    monkeypatch.setattr(colab, "generate", lambda: {tmp_path / "colab" / "book" / "x.ipynb": "{}"})
    assert colab.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().out
    assert colab.main([]) == 0
    assert (tmp_path / "colab" / "book" / "x.ipynb").read_text() == "{}"
    assert colab.main(["--check"]) == 0
    (tmp_path / "colab" / "book" / "old.ipynb").write_text("{}")
    assert colab.main(["--check"]) == 1
    assert colab.main([]) == 0
    assert not (tmp_path / "colab" / "book" / "old.ipynb").exists()


def test_a_conversion_error_is_reported_and_fails(monkeypatch, capsys):
    def broken():
        raise colab.ConversionError("book/01_x.ipynb cell 4: {figure} a.png: unknown directive")

    monkeypatch.setattr(colab, "generate", broken)
    assert colab.main(["--check"]) == 1
    assert "cell 4: {figure}" in capsys.readouterr().err


def test_reference_list_sorting_and_titles_ending_in_punctuation(tmp_path):
    references = colab.read_bibliography(_write(tmp_path / "r.bib", BIB))
    assert references["tanti2018where"].label() == "Tanti et al., 2018"
    assert "image? *Natural" in references["tanti2018where"].entry  # no "?."
    assert references["hochreiter1997long"].entry.startswith("Hochreiter, S. and Schmidhuber, J.")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
