"""Check the built book: complete executions, figures with alt text, no log noise, no
JavaScript error, and axe.

    python scripts/check_book.py [_build/html]

Refuses the build first (exit 1, ending with one line per chapter that names the claim or
cell that failed) when a chapter's executed notebook (``_build/jupyter_execute/book/NN_*.ipynb``,
what its page is made from) holds an error or stopped before its last cell: its page would be
truncated. An incremental build that executes nothing keeps those notebooks, so a rebuild is
refused for as long as any page comes from a failed execution.

Then fails (exit 1) when a chapter page has no image, has a figure without alternative text (no
``alt``, or the file name Sphinx puts there when a cell sets none: see
``tests/test_accessibility.py``), shows a figure as text (``<Figure size …>``, the sign of a
non-inline matplotlib backend), or contains TensorFlow log lines, Keras per-step progress bars
or tqdm bars; or when headless Chromium, loading any page of the site, logs a JavaScript error
to its console (an uncaught exception such as "Identifier 'THEBE_JS_URL' has already been
declared", or a message naming an error); or when axe-core, run in Chromium over every page
(``scripts/a11y``, installed with ``npm ci --prefix scripts/a11y``), finds a serious or
critical accessibility violation. Without Chromium on the PATH, or without axe-core, those
checks are skipped and say so, except on CI (``CI=true``), where that is an error.
"""

from __future__ import annotations

import json
import os
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


def claim_of(source: str) -> str | None:
    """The claim a claim cell states (its first line, ``# Claim: …``), else None."""
    first = source.splitlines()[0] if source.strip() else ""
    return first.removeprefix("# Claim:").strip() if first.startswith("# Claim:") else None


def failed_execution(notebook: Path) -> str | None:
    """What went wrong in one executed chapter notebook, in one line; None when it ran to
    the end without an error."""
    cells = json.loads(notebook.read_text("utf-8"))["cells"]
    cells = [c for c in cells if c["cell_type"] == "code"]
    # Outputs merged from jupyter-cache (which keeps only executions that ran to the end) come
    # without execution counts: there only an error output tells of a failure.
    counted = any(c.get("execution_count") is not None for c in cells)
    for number, cell in enumerate(cells, 1):
        source = "".join(cell["source"])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                why = f"{output['ename']}: {output['evalue']}".strip().splitlines()[0][:200]
                claim = claim_of(source)
                what = f"the claim '{claim}'" if claim else f"code cell {number}"
                return f"{notebook.stem}: {what} failed ({why})"
        if counted and cell.get("execution_count") is None and source.strip():
            return f"{notebook.stem}: execution stopped before code cell {number}"
    return None


def failed_executions(html_dir: Path) -> list[str]:
    """One line per chapter whose page comes from a failed or incomplete execution."""
    build = html_dir.parent  # <project>/_build
    executed = build / "jupyter_execute" / "book"
    chapters = sorted((build.parent / "book").glob("[0-9][0-9]_*.ipynb"))
    lines = []
    for chapter in chapters:
        notebook = executed / chapter.name
        if not notebook.exists():
            lines.append(f"{chapter.stem}: not executed (no {notebook.relative_to(build)})")
        elif (line := failed_execution(notebook)) is not None:
            lines.append(line)
    return lines


def problems(page: Path) -> list[str]:
    """What is wrong with one rendered chapter page (empty when nothing is)."""
    html = page.read_text(encoding="utf-8")
    found = [f"{what}" for what, pattern in NOISE.items() if pattern.search(html)]
    figures = re.findall(r"<img [^>]*src=\"[^\"]*_images/[^>]*>", html)
    if not figures:
        found.append("no figure")
    if unnamed := [tag for tag in figures if not alt_text(tag)]:
        found.append(f"{len(unnamed)} figure(s) without alt text")
    return found


def alt_text(img_tag: str) -> str:
    """An ``<img>``'s alternative text; empty when it has none or only its file name."""
    alt = re.search(r'\salt="([^"]*)"', img_tag)
    src = re.search(r'\ssrc="([^"]*)"', img_tag)
    text = alt.group(1).strip() if alt else ""
    named_by_file = src is not None and Path(text).name == Path(src.group(1)).name
    return "" if named_by_file else text


def required() -> bool:
    """On CI (``CI=true``) the browser checks must run: a missing tool is an error, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


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
        return int(required())
    pages = site_pages(html_dir)
    bad = 0
    for page in pages:
        if errors := console_errors(page, browser):
            bad += 1
            for error in errors:
                print(f"{page.relative_to(html_dir)}: JavaScript console: {error}")
    print(f"loaded {len(pages)} pages in {Path(browser).name}: {bad} with console errors")
    return bad


A11Y = ROOT / "scripts" / "a11y"
#: A page that only sends the browser on (the site's root ``index.html``): nothing to check.
REDIRECT = re.compile(r'^\s*<meta http-equiv="Refresh"[^>]*>\s*$', re.I)
#: axe-core's impacts that fail the book (the others, minor and moderate, are printed).
FAILING_IMPACTS = ("serious", "critical")


def axe_violations(pages: list[Path], browser: str) -> dict[Path, list[dict]]:
    """axe-core's violations on each page, run in ``browser`` by ``scripts/a11y``."""
    result = subprocess.run(
        ["node", str(A11Y / "axe_check.mjs"), browser, *map(str, pages)],
        capture_output=True, text=True, timeout=60 + 30 * len(pages),
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"axe-core did not run: {result.stderr.strip()}")
    return {Path(r["page"]): r["violations"] for r in json.loads(result.stdout)}


def check_accessibility(html_dir: Path) -> int:
    """Run axe-core over every page; the number of pages with serious or critical violations."""
    browser = find_browser()
    missing = [
        why
        for why, absent in [
            ("install chromium (apt-get install chromium)", browser is None),
            ("install node (apt-get install nodejs npm)", shutil.which("node") is None),
            (
                "install axe-core (npm ci --prefix scripts/a11y)",
                not (A11Y / "node_modules" / "axe-core").is_dir(),
            ),
        ]
        if absent
    ]
    if missing:
        print(f"accessibility check skipped: {'; '.join(missing)}")
        return int(required())
    pages = [p for p in site_pages(html_dir) if not REDIRECT.match(p.read_text("utf-8"))]
    bad = 0
    for page, violations in axe_violations(pages, browser).items():
        failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
        bad += bool(failing)
        for v in violations:
            first = v["nodes"][0]["target"] if v["nodes"] else ""
            print(
                f"{page.relative_to(html_dir)}: axe {v['impact']} {v['id']}: {v['help']}"
                f" ({len(v['nodes'])} element(s), first: {first})"
            )
    print(f"axe-core on {len(pages)} pages: {bad} with serious or critical violations")
    return bad


def main(argv: list[str]) -> int:
    html_dir = Path(argv[0]) if argv else ROOT / "_build" / "html"
    if failed := failed_executions(html_dir):
        print(
            f"refused: {len(failed)} chapter page(s) come from a failed execution (the build "
            "keeps them until the chapter runs to the end); fix the chapter and build again"
        )
        for line in failed:
            print(f"BOOK FAILED: {line}")
        return 1
    pages = sorted((html_dir / "book").glob("0*.html"))
    if not pages:
        print(f"no chapter pages in {html_dir / 'book'}: build the book first")
        return 1
    bad = {page.name: p for page in pages if (p := problems(page))}
    for name, found in bad.items():
        print(f"{name}: {', '.join(found)}")
    print(f"checked {len(pages)} chapter pages: {len(bad)} with problems")
    browser_bad = check_in_browser(html_dir)
    axe_bad = check_accessibility(html_dir)
    return 1 if bad or browser_bad or axe_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
