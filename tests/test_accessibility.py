"""Accessibility: every figure has alt text, and axe-core finds no serious or critical problem.

* Every code cell of a chapter that draws a figure (a ``course_lib.viz`` figure function, or
  pyplot) sets the alt text of its image outputs in its metadata, ``mystnb.image.alt``, which
  myst-nb writes into ``<img alt="…">``. Without it Sphinx writes the file name there.
* ``scripts/check_book.py`` checks the built pages: no figure without alt text, and no serious
  or critical violation found by axe-core (``scripts/a11y``, in headless Chromium); here its
  parts are tested on small pages.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil

import pytest
from conftest import REPO_ROOT

from course_lib import viz

spec = importlib.util.spec_from_file_location("check_book", REPO_ROOT / "scripts/check_book.py")
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)

CHAPTERS = sorted((REPO_ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
#: The helpers of course_lib.viz that make tables, not figures.
#: viz names that draw no figure: tables, and text for a reader (byte_size).
TABLES = {n for n in viz.__all__ if n.endswith(("table", "Table"))} | {"byte_size"}
FIGURE = re.compile(r"(plot|draw|show)_\w+")
#: A call that draws a figure: a viz figure function, or pyplot.
DRAWS = re.compile(rf"\bviz\.{FIGURE.pattern}\(|\bplt\.\w+\(")


def test_every_viz_function_is_a_figure_or_a_table():
    # A viz function named otherwise would escape the figure check below.
    assert all(FIGURE.fullmatch(name) for name in set(viz.__all__) - TABLES)


def _figure_cells(path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code" and DRAWS.search("".join(c["source"]))]


def _alt(cell: dict) -> str:
    return str(cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")).strip()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_cell_says_what_its_figure_shows(path):
    cells = _figure_cells(path)
    missing = [
        f"{c['id']} ({DRAWS.search(''.join(c['source'])).group(0)}…)"
        for c in cells
        if len(_alt(c).split()) < 8
    ]
    assert not missing, (
        f"{path.name}: figure cells without alt text of 8 words or more (cell metadata"
        f' {{"mystnb": {{"image": {{"alt": "what the figure shows"}}}}}}): {", ".join(missing)}'
    )
    alts = [_alt(c) for c in cells]
    assert len(set(alts)) == len(alts), f"{path.name}: two figure cells share one alt text"
    # split from its figure, an alt text describes a cell that draws nothing
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    stray = [c["id"] for c in cells if _alt(c) and c not in _figure_cells(path)]
    assert not stray, f"{path.name}: alt text on cells that draw no figure: {stray}"


def test_chapters_draw_figures_the_check_finds():
    assert sum(len(_figure_cells(p)) for p in CHAPTERS) >= 40


# -- the built pages: alt text ---------------------------------------------------------------


def test_an_image_named_only_by_its_file_has_no_alt_text():
    src = "../_images/1f2e.png"
    assert check_book.alt_text(f'<img alt="{src}" src="{src}" />') == ""
    assert check_book.alt_text(f'<img src="{src}" />') == ""
    assert check_book.alt_text(f'<img alt=" " src="{src}" />') == ""
    assert check_book.alt_text(f'<img alt="A loss curve" src="{src}" />') == "A loss curve"


def test_a_chapter_page_with_a_figure_without_alt_text_is_a_problem(tmp_path):
    page = tmp_path / "01_x.html"
    named = '<img alt="Two loss curves falling" src="../_images/a.png" />'
    page.write_text(f'<p>{named}<img alt="../_images/b.png" src="../_images/b.png" /></p>')
    assert check_book.problems(page) == ["1 figure(s) without alt text"]
    page.write_text(f"<p>{named}</p>")
    assert check_book.problems(page) == []


def test_the_reference_list_is_a_list_of_list_items():
    from course_lib.exercises.sphinx_ext import citations_as_list_items

    body = (
        '<div role="list" class="citation-list">\n'
        '<div class="citation" id="id11" role="doc-biblioentry">\n<p>Brownlee</p></div>\n'
        '<div class="citation" id="id10" role="doc-biblioentry">\n<p>Hochreiter</p></div>\n'
    )
    context = {"body": body}
    citations_as_list_items(None, "book/references", "page.html", context, None)
    assert context["body"].count('role="listitem"') == 2
    assert "doc-biblioentry" not in context["body"]


# -- axe-core in headless Chromium -----------------------------------------------------------

BAD = """<!DOCTYPE html><html lang="en"><head><title>bad</title></head><body><main>
<h1>A page</h1><img src="x.png"><p style="color:#bbb;background:#fff">faint text</p>
</main></body></html>"""
GOOD = """<!DOCTYPE html><html lang="en"><head><title>good</title></head><body><main>
<h1>A page</h1><img src="x.png" alt="a red square"><p>plain text</p></main></body></html>"""


def _site(tmp_path, pages: dict[str, str]):
    (tmp_path / "book").mkdir()
    for name, html in pages.items():
        (tmp_path / "book" / name).write_text(html)
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/a">')
    return tmp_path


def _axe_ready() -> bool:
    return (
        check_book.find_browser() is not None
        and shutil.which("node") is not None
        and (check_book.A11Y / "node_modules" / "axe-core").is_dir()
    )


@pytest.mark.slow
def test_axe_core_fails_a_page_with_serious_or_critical_violations(tmp_path, capsys):
    if not _axe_ready():
        if check_book.required():
            pytest.fail("on CI chromium, node and scripts/a11y/node_modules must be installed")
        pytest.skip("needs chromium, node and `npm ci --prefix scripts/a11y`")
    site = _site(tmp_path, {"a_bad.html": BAD, "b_good.html": GOOD})
    assert check_book.check_accessibility(site) == 1
    out = capsys.readouterr().out
    assert "book/a_bad.html: axe critical image-alt" in out
    assert "book/a_bad.html: axe serious color-contrast" in out
    assert "b_good.html" not in out  # nothing found on it
    assert "axe-core on 2 pages: 1 with serious or critical violations" in out  # no redirect


def test_without_the_tools_the_check_is_skipped_except_on_ci(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check_book, "find_browser", lambda: None)
    site = _site(tmp_path, {"a.html": GOOD})
    monkeypatch.delenv("CI", raising=False)
    assert check_book.check_accessibility(site) == 0
    assert "accessibility check skipped: install chromium" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    assert check_book.check_accessibility(site) == 1
    assert check_book.check_in_browser(site) == 1
