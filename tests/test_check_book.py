"""scripts/check_book.py's browser check: JavaScript console errors fail the book."""

from __future__ import annotations

import importlib.util
import shutil

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


def test_console_lines_that_are_errors():
    stderr = (
        "[1:1:0101/1:INFO:CONSOLE:63] \"Uncaught SyntaxError: Identifier 'X' has already been"
        ' declared", source: file:///b/x.html (63)\n'
        '[1:1:0101/1:INFO:CONSOLE:1] "[PST]: Changed to auto mode", source: file:///s.js (1)\n'
    )
    messages = [m["message"] for m in check_book.CONSOLE.finditer(stderr)]
    assert [bool(check_book.CONSOLE_ERROR.search(m)) for m in messages] == [True, False]


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
