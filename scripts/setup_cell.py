"""Write (or check) the Colab setup cell that opens every chapter notebook.

The repository URL and branch come from ``_config.yml`` (``repository.url`` and
``repository.branch``), the one place where they are set; the launch buttons use the same.

    python scripts/setup_cell.py           # rewrite the first code cell of every notebook
    python scripts/setup_cell.py --check   # exit 1 if a notebook's setup cell is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"

TEMPLATE = """\
# Course setup. In Google Colab: installs course_lib, offers to keep data,
# features and checkpoints on Google Drive (so a disconnect loses nothing)
# and checks for a GPU. Anywhere else it does nothing.
# Generated from _config.yml by scripts/setup_cell.py.
import os
import sys

REPO_URL = "{url}"
BRANCH = "{branch}"
# False keeps everything on the (temporary) Colab disk instead of Drive
KEEP_ON_DRIVE = True

if "google.colab" in sys.modules:
    import shutil
    import subprocess

    package = f"course_lib @ git+{{REPO_URL}}@{{BRANCH}}"
    spec = os.environ.get("COURSE_LIB_SPEC", package)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", spec]
    subprocess.run(pip, check=True)
    if KEEP_ON_DRIVE:
        from google.colab import drive

        drive.mount("/content/drive")
        data_dir = "/content/drive/MyDrive/captioning-course/data"
    else:
        data_dir = "/content/course_data"
    os.environ.setdefault("COURSE_DATA_DIR", data_dir)
    if shutil.which("nvidia-smi") is None:
        print("WARNING: no GPU is attached, so the course runs the small")
        print("'mini' profile. For Flickr8k choose Runtime > Change runtime")
        print("type > GPU, then run this cell again.")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")"""


def repository() -> tuple[str, str]:
    """``(url, branch)`` from ``_config.yml``."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = cfg["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_cell_source() -> str:
    """The source of the setup cell, for the repository configured in ``_config.yml``."""
    url, branch = repository()
    return TEMPLATE.format(url=url, branch=branch)


def setup_cell() -> dict:
    """The setup cell as notebook JSON: hidden in the rendered book (``remove-cell``)."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "colab-setup",
        "metadata": {"tags": ["remove-cell", TAG]},
        "outputs": [],
        "source": setup_cell_source().splitlines(keepends=True),
    }


def book_notebooks() -> list[Path]:
    """Every notebook of the book (``book/*.ipynb``)."""
    return sorted((ROOT / "book").glob("*.ipynb"))


def first_code_cell(notebook: dict) -> dict | None:
    """The first code cell of a notebook, or None."""
    return next((c for c in notebook["cells"] if c["cell_type"] == "code"), None)


def sync(path: Path) -> bool:
    """Put the current setup cell first in ``path``; True when the file changed."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if TAG not in c.get("metadata", {}).get("tags", [])]
    first_code = next((k for k, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    cells.insert(first_code, setup_cell())
    if cells == notebook["cells"]:
        return False
    notebook["cells"] = cells
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    stale = []
    for path in book_notebooks():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = first_code_cell(notebook)
        if cell is None or "".join(cell["source"]) != setup_cell_source():
            stale.append(path)
            if not args.check:
                sync(path)
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
