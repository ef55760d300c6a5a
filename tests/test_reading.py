"""The book shows ideas, not listings: short visible cells, small public excerpts."""

from __future__ import annotations

import io
import json
import re
import statistics
import textwrap
import tokenize
from pathlib import Path

import pytest
from conftest import REPO_ROOT

PAGES = sorted((REPO_ROOT / "book").glob("*.ipynb"))
#: Cells the page does not show, or shows collapsed (plumbing one click away).
NOT_SHOWN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\n((?::[\w-]+:.*\n)*)")
MEDIAN_LINES, MOST_LINES = 6, 30
LISTING_LINES = range(5, 26)


def shown_code_cells(page: Path) -> list[tuple[str, int]]:
    """``(cell id, number of source lines)`` of every code cell ``page`` shows."""
    cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
    return [
        (c.get("id", "?"), len("".join(c["source"]).splitlines()))
        for c in cells
        if c["cell_type"] == "code" and not NOT_SHOWN & set(c["metadata"].get("tags", []))
    ]


def included_objects(page: Path) -> list[tuple[str, str, dict[str, str]]]:
    """``(file, pyobject, options)`` of every ``literalinclude`` on ``page``."""
    text = page.read_text(encoding="utf-8")
    if page.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = []
    for match in INCLUDE.finditer(text + "\n"):
        options = dict(re.findall(r":([\w-]+):\s*(.*)", match[2]))
        found.append((match[1], options.get("pyobject", ""), options))
    return found


def private_names(code: str) -> list[str]:
    """The private names (``_x``, not dunders) that ``code`` uses, outside its
    strings and comments."""
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return sorted(
        {
            t.string
            for t in tokens
            if t.type == tokenize.NAME
            and t.string.startswith("_")
            and t.string.strip("_")  # not the throwaway ``_``
            and not t.string.endswith("__")
        }
    )


def test_visible_code_cells_are_short():
    sizes = [n for page in PAGES for _, n in shown_code_cells(page)]
    long = [
        f"{page.name} {cell}: {n} lines"
        for page in PAGES
        for cell, n in shown_code_cells(page)
        if n > MOST_LINES
    ]
    assert not long, "cells longer than 30 lines:\n" + "\n".join(long)
    assert statistics.median(sizes) <= MEDIAN_LINES, statistics.median(sizes)


@pytest.mark.parametrize(
    "page", PAGES + sorted((REPO_ROOT / "book").glob("*.md")), ids=lambda p: p.name
)
def test_included_listings_are_small_public_objects(page):
    from test_page_width import _include

    problems = []
    for target, name, options in included_objects(page):
        where = f"{target} {name}".strip()
        if not name:
            problems.append(f"{where}: include a :pyobject:, not a file")
            continue
        if any(part.startswith("_") for part in name.split(".")):
            problems.append(f"{where}: a private name on the page")
        text = _include(target, options, page)
        if used := private_names(textwrap.dedent(text)):
            problems.append(f"{where} uses private names: {used}")
        lines = text.splitlines()
        if len(lines) not in LISTING_LINES:
            problems.append(f"{where}: {len(lines)} lines")
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


def test_the_checks_read_cells_and_includes(tmp_path):
    cell = {"cell_type": "code", "source": ["a\n", "b"], "metadata": {}}
    hidden = {**cell, "metadata": {"tags": ["hide-input"]}}
    text = "```{literalinclude} ../x.py\n:pyobject: f\n:dedent:\n```\n"
    note = {"cell_type": "markdown", "source": [text], "metadata": {}}
    page = tmp_path / "p.ipynb"
    page.write_text(json.dumps({"cells": [cell, hidden, note]}))
    assert shown_code_cells(page) == [("?", 2)]
    assert private_names('x, _ = _f(a.__len__(), "_s")  # _c\n') == ["_f"]
    assert included_objects(page) == [("../x.py", "f", {"pyobject": "f", "dedent": ""})]
