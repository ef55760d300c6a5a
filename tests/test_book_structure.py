"""Every chapter has the shape the course promises, and is stored without outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

CHAPTERS = sorted((REPO_ROOT / "book").glob("0*.ipynb"))
TOC = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _markdown(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")


def _toc_files() -> list[str]:
    return [ch["file"] for part in TOC["parts"] for ch in part["chapters"]]


def test_the_toc_lists_the_eight_chapters_in_order_and_every_file_exists():
    chapters = [f for f in _toc_files() if re.match(r"book/0\d_", f)]
    assert chapters == [f"book/{p.stem}" for p in CHAPTERS]
    assert len(chapters) == 8
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


@pytest.mark.parametrize("path", CHAPTERS[1:], ids=lambda p: p.stem)
def test_chapters_one_to_seven_have_three_exercises_with_hidden_solutions(path):
    text = _markdown(path)
    labels = re.findall(r"```+\{exercise\}.*\n:label: (\S+)", text)
    assert len(labels) >= 3
    for label in labels:
        assert re.search(r"\{solution\} " + re.escape(label) + r"\s*\n:class: dropdown", text), (
            label
        )
    for cell in _cells(path):
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in "".join(cell["source"]):
            assert "hide-input" in cell["metadata"].get("tags", []), "".join(cell["source"])[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_citations_refer_to_entries_of_the_bibliography(path):
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for cited in re.findall(r"\{cite[pt]?\}`([^`]+)`", _markdown(path)):
        for key in cited.split(","):
            assert key.strip() in keys, key
