"""scripts/check_book.py: pages from a failed execution, any console message, and MathJax
from a CDN fail the book."""

from __future__ import annotations

import importlib.util
import json
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("check_book", REPO_ROOT / "scripts/check_book.py")
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)

PAGE = """<html><head>
<script>const THEBE_JS_URL = "a";</script>
<script>const THEBE_JS_URL = "a";</script>
</head><body><p>page</p><script>console.log("[PST]: only a log");</script></body></html>
"""


def _site(tmp_path, page: str):
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "book" / "01_x.html").write_text(page)
    (tmp_path / "index.html").write_text("<html><body>home</body></html>")
    (tmp_path / "_static" / "ignored.html").write_text("<script>undefinedFn();</script>")
    return tmp_path


def test_site_pages_are_the_pages_not_the_static_files(tmp_path):
    site = _site(tmp_path, PAGE)
    assert check_book.site_pages(site) == [site / "book" / "01_x.html", site / "index.html"]


def test_console_lines_are_found_in_chromiums_log():
    stderr = (
        "[1:1:0101/1:INFO:CONSOLE:63] \"Uncaught SyntaxError: Identifier 'X' has already been"
        ' declared", source: file:///b/x.html (63)\n'
        "[1:1:0101/1:INFO:other.cc:5] not a console line\n"
        '[1:1:0101/1:INFO:CONSOLE:1] "[PST]: Changed to auto mode", source: file:///s.js (1)\n'
    )
    messages = [m["message"] for m in check_book.CONSOLE.finditer(stderr)]
    assert messages == [
        "Uncaught SyntaxError: Identifier 'X' has already been declared",
        "[PST]: Changed to auto mode",
    ]


def test_a_page_that_loads_mathjax_from_a_cdn_is_named(tmp_path):
    site = _site(tmp_path, '<script src="../_static/mathjax/tex-chtml.js"></script>')
    assert check_book.remote_mathjax(site) == []
    cdn = '<script async="async" src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex.js">'
    (site / "book" / "01_x.html").write_text(cdn)
    assert check_book.remote_mathjax(site) == ["book/01_x.html"]


def test_the_book_serves_its_own_mathjax():
    config = (REPO_ROOT / "_config.yml").read_text("utf-8")
    path = re.search(r"^\s+mathjax_path:\s*(\S+)$", config, re.M).group(1)
    assert not re.match(r"(https?:)?//", path)
    extra = re.search(r"^\s+html_extra_path:\s*\[\"(\w+)\"\]$", config, re.M).group(1)
    on_the_site = posixpath.normpath(f"_static/{path}")  # Sphinx reads it from _static
    assert (REPO_ROOT / extra / on_the_site).is_file()


def test_without_a_browser_the_check_is_skipped_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check_book, "find_browser", lambda: None)
    monkeypatch.delenv("CI", raising=False)  # on CI a missing browser is an error
    assert check_book.check_in_browser(_site(tmp_path, PAGE)) == 0
    assert "browser check skipped: install chromium" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_chromium_finds_a_script_declared_twice(tmp_path, capsys):
    site = _site(tmp_path, PAGE)
    assert check_book.check_in_browser(site) == 1
    out = capsys.readouterr().out
    assert "book/01_x.html: JavaScript console: Uncaught SyntaxError" in out
    assert "THEBE_JS_URL" in out and "loaded 2 pages" in out
    assert "book/01_x.html: JavaScript console: [PST]: only a log" in out  # a log fails too


# --------------------------------------------------------------------- failed executions
def _notebook(cells: list[tuple[str, list[str], list[dict], int | None]]) -> dict:
    """A notebook of code cells ``(source, tags, outputs, execution_count)``."""
    return {
        "cells": [
            {"cell_type": "code", "source": src, "metadata": {"tags": tags},
             "outputs": outs, "execution_count": count}
            for src, tags, outs, count in cells
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip


def _project(tmp_path, executed: dict | None):
    """A project with one chapter, ``book/03_x.ipynb``, executed into ``_build`` as given."""
    (tmp_path / "book").mkdir(parents=True)
    (tmp_path / "book" / "03_x.ipynb").write_text("{}")
    html = tmp_path / "_build" / "html"
    html.mkdir(parents=True)
    if executed is not None:
        out = tmp_path / "_build" / "jupyter_execute" / "book"
        out.mkdir(parents=True)
        (out / "03_x.ipynb").write_text(json.dumps(executed))
    return html


ERROR = {"output_type": "error", "ename": "AssertionError", "evalue": "0.58", "traceback": []}


def test_a_failed_claim_refuses_the_build_and_names_chapter_and_claim(tmp_path, capsys):
    executed = _notebook([
        ("x = 1", [], [], 1),
        ("# Claim: three different numbers\nassert x == 2", ["claim"], [ERROR], 2),
        ("print(x)", [], [], None),
    ])  # fmt: skip
    assert check_book.main([str(_project(tmp_path, executed))]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (
        "BOOK FAILED: 03_x: the claim 'three different numbers' failed (AssertionError: 0.58)"
    )


def test_an_execution_that_stopped_or_never_ran_is_refused(tmp_path, capsys):
    stopped = _notebook([("x = 1", [], [], 1), ("y = 2", [], [], None)])
    assert check_book.failed_executions(_project(tmp_path / "a", stopped)) == [
        "03_x: execution stopped before code cell 2"
    ]
    assert check_book.failed_executions(_project(tmp_path / "b", None)) == [
        "03_x: not executed (no jupyter_execute/book/03_x.ipynb)"
    ]
    complete = _notebook([("x = 1", [], [], 1), ("", [], [], None)])
    assert check_book.failed_executions(_project(tmp_path / "c", complete)) == []


def test_outputs_merged_from_the_cache_have_no_counts_and_are_accepted(tmp_path):
    cached = _notebook([("x = 1", [], [], None), ("print(x)", [], [], None)])
    assert check_book.failed_executions(_project(tmp_path / "a", cached)) == []
    failed = _notebook([("x = 1", [], [], None), ("assert x == 2", [], [ERROR], None)])
    assert check_book.failed_executions(_project(tmp_path / "b", failed)) == [
        "03_x: code cell 2 failed (AssertionError: 0.58)"
    ]


TINY_CONFIG = """title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: cache
  allow_errors: false
"""


@pytest.mark.slow
def test_a_failed_chapter_fails_every_build_until_it_is_fixed(tmp_path, capsys):
    """Built twice with a failing claim, the book is refused twice (the second, incremental
    build executes nothing); fixed, it passes the execution check."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        pytest.skip("jupyter-book is not installed beside this Python")
    (tmp_path / "_config.yml").write_text(TINY_CONFIG)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nchapters:\n- file: book/00_x\n"
    )
    (tmp_path / "index.md").write_text("# Tiny\n")
    (tmp_path / "book").mkdir()
    chapter = tmp_path / "book" / "00_x.ipynb"

    def write(claim: str) -> None:
        nb = _notebook([("x = 1", [], [], None), (claim, ["remove-cell", "claim"], [], None)])
        nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        chapter.write_text(json.dumps(nb))

    def build() -> int:
        subprocess.run([str(jupyter_book), "build", str(tmp_path), "-W", "--keep-going"],
                       capture_output=True, check=False)  # fmt: skip
        return check_book.failed_executions(tmp_path / "_build" / "html")

    write("# Claim: x is two\nassert x == 2, x")
    assert build() == ["00_x: the claim 'x is two' failed (AssertionError: 1)"]
    assert build() == ["00_x: the claim 'x is two' failed (AssertionError: 1)"]
    write("# Claim: x is one\nassert x == 1, x")
    assert build() == []
