"""Write (or check) the exercise cells of every chapter from ``course_lib.exercises``.

Each exercise is written once, in ``course_lib/exercises/chN.py``: its title, prompt, checker and
solution. A chapter notebook shows it with cells generated from there, in the chapter's exercise
section, in number order:

* one hidden (``remove-cell``) code cell that glues the chapter's solutions for the book;
* per exercise: the ``{exercise}`` markdown cell ("Exercise 3.2: …", ``:nonumber:``), the code
  cell the student completes (not for thought exercises), and the collapsed ``{solution}`` cell
  that shows the glued solution.

    python scripts/exercise_cells.py           # rewrite the exercise cells of every chapter
    python scripts/exercise_cells.py --check   # exit 1 if a chapter's exercise cells are stale

The cells stay where the chapter has them (where its first exercise cell is); a chapter without
exercise cells gets them at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from course_lib.exercises import all_exercises, cells
from course_lib.exercises.core import Exercise

ROOT = Path(__file__).resolve().parents[1]

CHAPTER = re.compile(r"^0?(\d+)_")
GLUE_CALL = "glue_solutions("
EXERCISE_DIRECTIVE = re.compile(r"^\s*[`:]{3,}\s*\{(exercise|solution)\}", re.M)


def _code_cell(cell_id: str, source: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def _markdown_cell(cell_id: str, source: str) -> dict:
    return {
        "cell_type": "markdown",
        "id": cell_id,
        "metadata": {},
        "source": source.splitlines(keepends=True),
    }


def exercise_cells(chapter: int) -> list[dict]:
    """The generated cells of chapter ``chapter``'s exercise section, in order."""
    exercises: list[Exercise] = all_exercises()[chapter]
    glue = cells.glue_cell(chapter)
    written = [_code_cell(f"ch{chapter}-solutions-glue", glue, ["remove-cell"])]
    for ex in exercises:
        written.append(_markdown_cell(f"{ex.label}", cells.exercise_cell(ex)))
        if cells.code_cell(ex):
            written.append(_code_cell(f"{ex.label}-code", cells.code_cell(ex)))
        written.append(_markdown_cell(f"{ex.label}-solution", cells.solution_cell(ex)))
    return written


def is_exercise_cell(cell: dict, chapter: int) -> bool:
    """Whether ``cell`` is one of the generated exercise cells (of any version) of a chapter."""
    source = "".join(cell["source"])
    if cell["cell_type"] == "code":
        check = re.search(rf"\bch{chapter}\.ex\d+\.check\(", source)
        return GLUE_CALL in source or check is not None
    return EXERCISE_DIRECTIVE.search(source) is not None


def chapter_number(path: Path) -> int | None:
    """The chapter number of ``book/NN_name.ipynb``, None for chapters without exercises."""
    match = CHAPTER.match(path.name)
    number = int(match.group(1)) if match else None
    return number if number in all_exercises() else None


def synced(notebook: dict, chapter: int) -> dict:
    """``notebook`` with its exercise cells replaced by the generated ones."""
    cells = notebook["cells"]
    positions = [i for i, c in enumerate(cells) if is_exercise_cell(c, chapter)]
    at = positions[0] if positions else len(cells)
    kept = [c for i, c in enumerate(cells) if i not in set(positions)]
    at -= sum(1 for i in positions if i < at)
    return {**notebook, "cells": [*kept[:at], *exercise_cells(chapter), *kept[at:]]}


def chapters_with_exercises() -> list[Path]:
    """The chapter notebooks that have exercises."""
    return [p for p in sorted((ROOT / "book").glob("*.ipynb")) if chapter_number(p) is not None]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` only report) stale exercise cells."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    stale = []
    for path in chapters_with_exercises():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        new = synced(notebook, chapter_number(path))
        if new != notebook:
            stale.append(path)
            if not args.check:
                text = json.dumps(new, indent=1, ensure_ascii=False) + "\n"
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
