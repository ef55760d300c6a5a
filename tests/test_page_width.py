"""Nothing on a page of the book scrolls sideways at 1280 px.

* Code shown on a page is at most 79 columns wide: the visible code cells of every chapter, the
  code blocks of its Markdown, of the appendix pages and of the exercises' solutions, and the
  library source the pages include (``literalinclude``, measured as Sphinx includes it).
  Printed messages (``text`` blocks, outputs) are wrapped by the page instead (_static/course.css).
* ``scripts/check_book.py`` measures the built pages in Chromium (``overflow_check.mjs``): here
  on small pages.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT

from course_lib.exercises import all_exercises

spec = importlib.util.spec_from_file_location("check_book", REPO_ROOT / "scripts/check_book.py")
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)

BOOK = REPO_ROOT / "book"
COLUMNS = 79
#: Code cells the page does not show.
HIDDEN = {"remove-cell", "remove-input"}
#: Fenced blocks that hold printed messages, not code: the page wraps them.
MESSAGES = {"text"}
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")


def _include(argument: str, options: dict[str, str], page: Path) -> str:
    """The text a ``literalinclude`` shows, read as Sphinx reads it."""
    from sphinx.directives.code import LiteralIncludeReader

    options = {k: v for k, v in options.items() if k not in ("language", "caption")}
    if "dedent" in options:
        options["dedent"] = int(options["dedent"]) if options["dedent"] else None
    reader = LiteralIncludeReader(
        str(page.parent / argument), options, SimpleNamespace(source_encoding="utf-8")
    )
    return reader.read()[0]


def markdown_code(text: str, page: Path) -> list[tuple[str, str]]:
    """The code blocks a Markdown text shows, as ``(what, code)``: fenced code (not ``text``)
    and ``literalinclude`` targets. Directives (``{warning}``, ``{exercise}``…) hold Markdown."""
    blocks: list[tuple[str, str]] = []
    directives: list[str] = []  # the fences of the directives we are inside
    code: tuple[str, str, list[str]] | None = None  # (fence, info, lines) of an open block
    for line in text.splitlines():
        match = FENCE.match(line)
        if code is not None:
            fence, info, body = code
            if match and not match["info"].strip() and match["fence"].startswith(fence):
                blocks.append(_block(info, body, page))
                code = None
            else:
                body.append(line)
        elif match:
            fence, info = match["fence"], match["info"].strip()
            if not info and directives and fence.startswith(directives[-1]):
                directives.pop()
            elif info.startswith("{") and not info.startswith("{literalinclude}"):
                directives.append(fence)
            else:
                code = (fence, info, [])
    return [b for b in blocks if b is not None]


def _block(info: str, body: list[str], page: Path) -> tuple[str, str] | None:
    """A fenced block as ``(what, code)``; None for printed messages."""
    if info.startswith("{literalinclude}"):
        options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", "\n".join(body), re.M))
        target = info.removeprefix("{literalinclude}").strip()
        return f"{target} {options.get('pyobject', '')}".strip(), _include(target, options, page)
    return None if info in MESSAGES else (f"a {info or 'plain'} block", "\n".join(body))


def _page_code(page: Path) -> list[tuple[str, str]]:
    """Every code block ``page`` shows, as ``(where, code)``."""
    if page.suffix == ".md":
        return markdown_code(page.read_text("utf-8"), page)
    blocks = []
    for n, cell in enumerate(json.loads(page.read_text("utf-8"))["cells"], 1):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            blocks += [(f"cell {n}: {what}", code) for what, code in markdown_code(source, page)]
        elif not HIDDEN & set(cell["metadata"].get("tags", [])):
            blocks.append((f"code cell {n}", source))
    return blocks


def _solutions() -> list[tuple[str, str]]:
    return [
        (f"solution of {ex.glue_key}: {what}", code)
        for exercises in all_exercises().values()
        for ex in exercises
        for what, code in markdown_code(ex.solution_markdown(), BOOK / "x.md")
    ]


def too_wide(blocks: list[tuple[str, str]]) -> list[str]:
    """One line per code line longer than ``COLUMNS``, naming its block."""
    return [
        f"{where}, line {k}: {len(line)} columns: {line.strip()[:50]}"
        for where, code in blocks
        for k, line in enumerate(code.splitlines(), 1)
        if len(line) > COLUMNS
    ]


PAGES = [
    pytest.param(p, id=p.name) for p in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))
]


@pytest.mark.parametrize("page", PAGES)
def test_code_on_the_page_is_at_most_79_columns(page):
    offenders = too_wide(_page_code(page))
    assert not offenders, f"{page.name}: code wider than {COLUMNS} columns:\n" + "\n".join(
        offenders
    )


def test_exercise_solutions_are_at_most_79_columns():
    offenders = too_wide(_solutions())
    assert not offenders, "\n".join(offenders)


def test_the_code_blocks_of_a_page_are_found_and_messages_left_out(tmp_path):
    (tmp_path / "lib.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    text = (
        "````{exercise} 1.1: x\n```python\nprint(1)\n```\n````\n"
        "```{warning}\nCareful.\n```\n"
        "```text\nERROR: a message\n```\n"
        "```{literalinclude} lib.py\n:pyobject: g\n```\n"
    )
    blocks = markdown_code(text, tmp_path / "page.md")
    assert blocks == [
        ("a python block", "print(1)"),
        ("lib.py g", "def g():\n    return 2\n"),
    ]
    assert too_wide([("x", "y" * 80 + "\nshort")]) == [f"x, line 1: 80 columns: {'y' * 50}"]


# -- the built pages, measured in Chromium -------------------------------------------------

WIDE = "x = 1  # " + "a comment far too long for the column " * 8
PAGE = f"""<!DOCTYPE html><html lang="en"><head><title>p</title>
<style>main {{ width: 600px }} pre {{ overflow-x: auto }}</style></head><body><main>
<section id="s"><h1>A page</h1><pre>{WIDE}</pre><pre>short = 1</pre>
<div class="scroll-table" data-scroll-hint style="overflow-x: auto"><table><tr>
<td style="white-space: nowrap">{WIDE}</td></tr></table></div>
<p style="position: absolute; width: 1px; overflow: hidden">{WIDE}</p>
<p><span class="math">\\(x^2\\)</span></p></section></main></body></html>"""


def test_what_scrolls_sideways_and_unrendered_math_are_problems():
    layout = {
        "page": "p.html",
        "pageOverflow": 12,
        "blocks": [{"what": "pre in #s", "text": "x = 1", "contentWidth": 900, "boxWidth": 600}],
        "math": 2,
        "mathRendered": 0,
    }
    assert check_book.layout_problems(layout) == [
        "pre in #s is 900 px wide in 600 px: 'x = 1'",
        "the page scrolls sideways by 12 px",
        "2 formulas, none rendered by MathJax (offline)",
    ]
    fine = {**layout, "pageOverflow": 0, "blocks": [], "mathRendered": 2}
    assert check_book.layout_problems(fine) == []


@pytest.mark.slow
def test_chromium_finds_the_block_that_scrolls_sideways(tmp_path, capsys):
    browser = check_book.find_browser()
    if check_book.missing_tools(browser, "playwright-core"):
        if check_book.required():
            pytest.fail("on CI chromium, node and scripts/a11y/node_modules must be installed")
        pytest.skip("needs chromium, node and `npm ci --prefix scripts/a11y`")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text(PAGE)
    assert check_book.check_layout(tmp_path) == 1
    out = capsys.readouterr().out.splitlines()
    problems = [line for line in out if line.startswith("book/a.html: ")]
    assert len(problems) == 2, out  # the table in its frame and the clipped text are fine
    assert re.match(r"book/a.html: pre in #s is \d+ px wide in 600 px: 'x = 1", problems[0])
    assert problems[1] == "book/a.html: 1 formulas, none rendered by MathJax (offline)"
