"""Every chapter has the shape the course promises, and is stored without outputs."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from course_lib.exercises.cells import code_cell

CHAPTERS = sorted((REPO_ROOT / "book").glob("0*.ipynb"))
TOC = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _markdown(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")


def _toc_files() -> list[str]:
    return [ch["file"] for part in TOC["parts"] for ch in part["chapters"]]


def test_the_toc_lists_the_nine_chapters_in_order_and_every_file_exists():
    chapters = [f for f in _toc_files() if re.match(r"book/0\d_", f)]
    assert chapters == [f"book/{p.stem}" for p in CHAPTERS]
    assert len(chapters) == 9
    for entry in [TOC["root"], *_toc_files()]:
        assert any((REPO_ROOT / f"{entry}{ext}").is_file() for ext in (".ipynb", ".md")), entry


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_stored_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_objectives_pitfalls_summary_and_prints_the_profile_banner(path):
    text = _markdown(path)
    assert re.search(r"learning objectives", text, re.I), "no learning objectives"
    assert re.search(r"^#+ .*summary", text, re.I | re.M), "no summary section"
    assert re.search(r"pitfall|\{warning\}", text, re.I), "no pitfalls"
    code = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    assert "config.banner(" in code and "get_profile(" in code


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exercise_cells = _load_script("exercise_cells")
EXERCISE = re.compile(r"^`{3,}\{exercise\} (?P<shown>.*)\n:label: (?P<label>\S+)")
CHECK = re.compile(r"\bch(\d+)\.ex(\d+)\.check\(")


def _exercise_units(path: Path) -> list[dict]:
    """Per exercise of a chapter: its shown title, label, the checker its code calls, solution."""
    units = []
    for cell in _cells(path):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and (match := EXERCISE.match(source)):
            units.append({**match.groupdict(), "checks": [], "solutions": []})
        elif units and cell["cell_type"] == "code":
            units[-1]["checks"] += [f"ch{c}.ex{k}" for c, k in CHECK.findall(source)]
        elif units and (match := re.match(r"^`{3,}\{solution\} (\S+)", source)):
            units[-1]["solutions"].append(match.group(1))
    return units


@pytest.mark.parametrize("path", CHAPTERS[1:], ids=lambda p: p.stem)
def test_exercise_cells_are_the_ones_generated_from_course_lib(path):
    chapter = int(path.name[:2])
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert exercise_cells.synced(notebook, chapter) == notebook, (
        f"{path.name}: the exercise cells differ from course_lib.exercises.ch{chapter}; "
        "edit the exercise there and run `python scripts/exercise_cells.py`"
    )


@pytest.mark.parametrize("path", CHAPTERS[1:], ids=lambda p: p.stem)
def test_every_exercise_shows_the_number_of_the_checker_it_calls(path):
    chapter = int(path.name[:2])
    module = importlib.import_module(f"course_lib.exercises.ch{chapter}")
    units = _exercise_units(path)
    assert len(units) == len(module.EXERCISES) >= 3
    for number, (unit, ex) in enumerate(zip(units, module.EXERCISES, strict=True), start=1):
        assert unit["shown"].startswith(f"{chapter}.{number}: "), unit["shown"]
        assert unit["label"] == f"ch{chapter}-ex{number}" == ex.label
        assert unit["solutions"] == [unit["label"]]
        expected_checks = [] if not code_cell(ex) else [f"ch{chapter}.ex{number}"]
        assert unit["checks"] == expected_checks, (unit["shown"], unit["checks"])


@pytest.mark.parametrize("path", CHAPTERS[1:], ids=lambda p: p.stem)
def test_exercises_are_unanswered_and_solutions_hidden_in_a_collapsed_glued_dropdown(path):
    chapter = int(path.name[:2])
    module = importlib.import_module(f"course_lib.exercises.ch{chapter}")
    cells = _cells(path)
    sources = ["".join(cell["source"]) for cell in cells]
    for ex in module.EXERCISES:
        if hasattr(ex, "reference"):  # a function exercise: its reference is not in the book
            assert not any(ex.source in source for source in sources), ex.name
    for cell in cells:
        source = "".join(cell["source"])
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] == "code" and CHECK.search(source):
            assert not tags, f"an exercise cell must be shown, untagged: {source[:60]}"
            assert "# YOUR CODE HERE" in source
        if "{solution}" in source:
            assert ":class: dropdown" in source and "{glue:md}" in source
    glue = [c for c in cells if "glue_solutions(" in "".join(c["source"])]
    assert len(glue) == 1 and glue[0]["metadata"]["tags"] == ["remove-cell"]


def test_no_solution_markers_anywhere_in_the_book():
    for path in sorted((REPO_ROOT / "book").rglob("*")):
        if path.is_file() and path.suffix in (".ipynb", ".md"):
            assert "BEGIN SOLUTION" not in path.read_text(encoding="utf-8"), path.name


def test_the_toc_numbers_the_chapters_and_only_them():
    parts = TOC["parts"]
    numbered = [part for part in parts if part.get("numbered")]
    assert len(numbered) == 1
    assert [c["file"] for c in numbered[0]["chapters"]] == [f"book/{p.stem}" for p in CHAPTERS[1:]]
    unnumbered = [c["file"] for part in parts if not part.get("numbered") for c in part["chapters"]]
    assert "book/00_welcome" in unnumbered
    appendix = [c["file"] for c in parts[-1]["chapters"]]
    for page in ("notebooks", "when_things_go_wrong", "glossary", "references"):
        assert f"book/{page}" in appendix


@pytest.mark.parametrize(
    "path",
    [*CHAPTERS, *sorted((REPO_ROOT / "book").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_titles_and_headings_carry_no_hand_typed_numbers(path):
    # The toc numbers chapters and sections ("3.", "3.1"); a typed number would be doubled.
    text = _markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", text, flags=re.M | re.S)
    assert not re.findall(r"^#{1,6} +\d+(\.\d+)*\.? ", text, re.M)


def test_every_reference_is_cited_somewhere_in_the_book():
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    pages = sorted((REPO_ROOT / "book").glob("*.ipynb")) + sorted((REPO_ROOT / "book").glob("*.md"))
    text = "\n".join(_markdown(p) if p.suffix == ".ipynb" else p.read_text() for p in pages)
    cited = {k.strip() for c in re.findall(r"\{cite[pt]?\}`([^`]+)`", text) for k in c.split(",")}
    assert keys - cited == set(), "cite these references or remove them from references.bib"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_citations_refer_to_entries_of_the_bibliography(path):
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for cited in re.findall(r"\{cite[pt]?\}`([^`]+)`", _markdown(path)):
        for key in cited.split(","):
            assert key.strip() in keys, key


@pytest.mark.parametrize(
    "notebook",
    sorted(REPO_ROOT.glob("book/*.ipynb")) + sorted(REPO_ROOT.glob("colab/book/*.ipynb")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_cell_ids_are_unique(notebook):
    ids = [c.get("id") for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]]
    repeated = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    assert not repeated, f"{notebook.name}: cell ids used twice: {repeated}"
