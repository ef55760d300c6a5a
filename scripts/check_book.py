"""Check the built book: every chapter page shows figures, and no log noise leaked into it.

    python scripts/check_book.py [_build/html]

Fails (exit 1) when a chapter page has no image, shows a figure as text
(``<Figure size …>``, the sign of a non-inline matplotlib backend), or contains TensorFlow
log lines, Keras per-step progress bars or tqdm bars.
"""

from __future__ import annotations

import re
import sys
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
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
