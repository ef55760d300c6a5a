"""Check the built book: figures, no log noise, and no JavaScript error in a browser.

    python scripts/check_book.py [_build/html]

Fails (exit 1) when a chapter page has no image, shows a figure as text
(``<Figure size …>``, the sign of a non-inline matplotlib backend), or contains TensorFlow
log lines, Keras per-step progress bars or tqdm bars; or when headless Chromium, loading any
page of the site, logs a JavaScript error to its console (an uncaught exception such as
"Identifier 'THEBE_JS_URL' has already been declared", or a message naming an error). Without
Chromium on the PATH the browser check is skipped, and says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NOISE = {
    "a figure printed as text": re.compile(r"&lt;Figure size \d+x\d+ with \d+ Axes&gt;"),
    "a TensorFlow log line": re.compile(r"oneDNN custom operations|cuda_platform|absl::"),
    "a Keras per-step progress bar": re.compile(r"\d+/\d+ \[=+"),
    "a tqdm progress bar": re.compile(r"\d+%\|[█▏▎▍▌▋▊▉ ]*\|"),
}


def problems(page: Path) -> list[str]:
    """What is wrong with one rendered chapter page (empty when nothing is)."""
    html = page.read_text(encoding="utf-8")
    found = [f"{what}" for what, pattern in NOISE.items() if pattern.search(html)]
    if not re.search(r"<img [^>]*src=\"[^\"]*_images/", html):
        found.append("no figure")
    return found


#: Chromium's console lines on stderr (with ``--enable-logging=stderr``).
CONSOLE = re.compile(r':CONSOLE[:(]\d+\)?\] "(?P<message>.*)", source: (?P<source>.*)$', re.M)
#: Console messages that are errors: Chromium logs every level alike, so tell them by their text.
CONSOLE_ERROR = re.compile(r"^Uncaught\b|\b\w*Error\b|\berror\b|\b[Ff]ailed to\b")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    """The path of a Chromium on the PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def console_errors(page: Path, browser: str) -> list[str]:
    """The JavaScript errors headless Chromium logs while it loads ``page`` (and 5 s after)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
             page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    return [
        f"{m['message']} ({m['source'].strip()})"
        for m in CONSOLE.finditer(result.stderr)
        if CONSOLE_ERROR.search(m["message"])
    ]


def site_pages(html_dir: Path) -> list[Path]:
    """Every page of the built site (not the files under ``_static``, ``_sources``…)."""
    return sorted(
        p
        for p in html_dir.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html_dir).parts)
    )


def check_in_browser(html_dir: Path) -> int:
    """Load every page in headless Chromium; the number of pages with console errors."""
    browser = find_browser()
    if browser is None:
        print("browser check skipped: install chromium (apt-get install chromium)")
        return 0
    pages = site_pages(html_dir)
    bad = 0
    for page in pages:
        if errors := console_errors(page, browser):
            bad += 1
            for error in errors:
                print(f"{page.relative_to(html_dir)}: JavaScript console: {error}")
    print(f"loaded {len(pages)} pages in {Path(browser).name}: {bad} with console errors")
    return bad


def main(argv: list[str]) -> int:
    html_dir = Path(argv[0]) if argv else ROOT / "_build" / "html"
    pages = sorted((html_dir / "book").glob("0*.html"))
    if not pages:
        print(f"no chapter pages in {html_dir / 'book'}: build the book first")
        return 1
    bad = {page.name: p for page in pages if (p := problems(page))}
    for name, found in bad.items():
        print(f"{name}: {', '.join(found)}")
    print(f"checked {len(pages)} chapter pages: {len(bad)} with problems")
    browser_bad = check_in_browser(html_dir)
    return 1 if bad or browser_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
