"""Check the built book: complete executions, figures with alt text, no log noise, an empty
console, axe, nothing that scrolls sideways, and MathJax served with the site.

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
or tqdm bars; or when a page loads MathJax from a CDN instead of the site's copy
(``_static/mathjax``); or when headless Chromium, loading any page of the site, logs anything to
its console (an uncaught exception such as "Identifier 'THEBE_JS_URL' has already been
declared", a warning, or a plain log line: a reader's console stays empty); or when axe-core,
run in Chromium over every page (``scripts/a11y``, installed with ``npm ci --prefix
scripts/a11y``), finds a serious or critical accessibility violation; or when, measured in
Chromium at 1280 px with the network off (``scripts/a11y/overflow_check.mjs``), a block of a
page scrolls sideways (a code block, an output or a table wider than its box, other than a
table that scrolls inside its hinted frame) or a page's math is left unrendered. Without
Chromium on the PATH, or without the npm packages, those checks are skipped and say so, except
on CI (``CI=true``), where that is an error.
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
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    """The path of a Chromium on the PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def console_messages(page: Path, browser: str) -> list[str]:
    """Every message headless Chromium logs to the console while it loads ``page`` (and 5 s
    after): errors, warnings and plain logs alike."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
             page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    return [f"{m['message']} ({m['source'].strip()})" for m in CONSOLE.finditer(result.stderr)]


def site_pages(html_dir: Path) -> list[Path]:
    """Every page of the built site (not the files under ``_static``, ``_sources``…)."""
    return sorted(
        p
        for p in html_dir.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html_dir).parts)
    )


def check_in_browser(html_dir: Path) -> int:
    """Load every page in headless Chromium; the number of pages that log to the console."""
    browser = find_browser()
    if browser is None:
        print("browser check skipped: install chromium (apt-get install chromium)")
        return int(required())
    pages = site_pages(html_dir)
    bad = 0
    for page in pages:
        if messages := console_messages(page, browser):
            bad += 1
            for message in messages:
                print(f"{page.relative_to(html_dir)}: JavaScript console: {message}")
    print(f"loaded {len(pages)} pages in {Path(browser).name}: {bad} with console messages")
    return bad


A11Y = ROOT / "scripts" / "a11y"
#: A page that only sends the browser on (the site's root ``index.html``): nothing to check.
REDIRECT = re.compile(r'^\s*<meta http-equiv="Refresh"[^>]*>\s*$', re.I)
#: axe-core's impacts that fail the book (the others, minor and moderate, are printed).
FAILING_IMPACTS = ("serious", "critical")


def axe_violations(pages: list[Path], browser: str) -> dict[Path, list[dict]]:
    """axe-core's violations on each page, run in ``browser`` by ``scripts/a11y``."""
    results = run_in_browser("axe_check.mjs", browser, pages, "axe-core")
    return {Path(r["page"]): r["violations"] for r in results}


def run_in_browser(script: str, browser: str, pages: list[Path], what: str) -> list[dict]:
    """The JSON list that ``scripts/a11y/<script>`` prints for ``pages`` loaded in
    ``browser``; ``what`` names the check in the error when it does not run."""
    result = subprocess.run(
        ["node", str(A11Y / script), browser, *map(str, pages)],
        capture_output=True, text=True, timeout=60 + 30 * len(pages),
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{what} did not run: {result.stderr.strip()}")
    return json.loads(result.stdout)


def missing_tools(browser: str | None, *packages: str) -> list[str]:
    """What to install before a check in Chromium can run (empty when nothing is missing)."""
    needs = [
        ("install chromium (apt-get install chromium)", browser is None),
        ("install node (apt-get install nodejs npm)", shutil.which("node") is None),
        *(
            (
                f"install {name} (npm ci --prefix scripts/a11y)",
                not (A11Y / "node_modules" / name).is_dir(),
            )
            for name in packages
        ),
    ]
    return [why for why, absent in needs if absent]


def check_accessibility(html_dir: Path) -> int:
    """Run axe-core over every page; the number of pages with serious or critical violations."""
    browser = find_browser()
    if missing := missing_tools(browser, "axe-core", "playwright-core"):
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


def layouts(pages: list[Path], browser: str) -> list[dict]:
    """Each page measured at 1280 px in ``browser`` by ``scripts/a11y/overflow_check.mjs``:
    its overflowing blocks, and its math (found and rendered)."""
    return run_in_browser("overflow_check.mjs", browser, pages, "the overflow check")


def layout_problems(layout: dict) -> list[str]:
    """What scrolls sideways on one measured page, and math that did not render."""
    found = [
        f"{b['what']} is {b['contentWidth']} px wide in {b['boxWidth']} px: {b['text']!r}"
        for b in layout["blocks"]
    ]
    if layout["pageOverflow"]:
        found.append(f"the page scrolls sideways by {layout['pageOverflow']} px")
    if layout["math"] and not layout["mathRendered"]:
        found.append(f"{layout['math']} formulas, none rendered by MathJax (offline)")
    return found


def check_layout(html_dir: Path) -> int:
    """Measure every page at 1280 px, offline; the number of pages where something scrolls
    sideways or math is left as TeX."""
    browser = find_browser()
    if missing := missing_tools(browser, "playwright-core"):
        print(f"overflow check skipped: {'; '.join(missing)}")
        return int(required())
    pages = [p for p in site_pages(html_dir) if not REDIRECT.match(p.read_text("utf-8"))]
    bad = 0
    for layout in layouts(pages, browser):
        found = layout_problems(layout)
        bad += bool(found)
        for problem in found:
            print(f"{Path(layout['page']).relative_to(html_dir)}: {problem}")
    print(f"measured {len(pages)} pages at 1280 px: {bad} that scroll sideways or lack math")
    return bad


#: A ``<script>`` that loads MathJax from another site (a CDN) instead of the site's copy.
REMOTE_MATHJAX = re.compile(r'<script[^>]*\ssrc="(?:https?:)?//[^"]*mathjax[^"]*"', re.I)


def remote_mathjax(html_dir: Path) -> list[str]:
    """The pages that load MathJax from a CDN (so their math needs the network)."""
    return [
        str(page.relative_to(html_dir))
        for page in site_pages(html_dir)
        if REMOTE_MATHJAX.search(page.read_text("utf-8"))
    ]


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
    if remote := remote_mathjax(html_dir):
        print(f"MathJax loaded from a CDN, not _static/mathjax: {', '.join(remote)}")
    browser_bad = check_in_browser(html_dir)
    axe_bad = check_accessibility(html_dir)
    layout_bad = check_layout(html_dir)
    return 1 if bad or remote or browser_bad or axe_bad or layout_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
