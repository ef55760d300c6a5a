"""The student edition is the Colab notebooks (colab/book): its exercises run, unanswered.

Every exercise of every Colab notebook, its answer cell then its check cell, is run in a fresh
kernel (with the chapter's ``from course_lib.exercises import chN``): each check must report
"not answered yet", with no error and no solution shown. ``nox -s student`` runs the whole
notebooks under nbval.
"""

from __future__ import annotations

import itertools
import json
import re

import nbformat
import pytest
from conftest import REPO_ROOT

from course_lib.exercises import all_exercises
from course_lib.exercises.cells import answer_cell, check_cell, code_cell

COLAB = sorted((REPO_ROOT / "colab" / "book").glob("[0-9][0-9]_*.ipynb"))
CHECK = re.compile(r"\bch\d+\.ex\d+\.check\(")


def _exercise_cells() -> list[tuple[str, str]]:
    """Every (answer cell, check cell) of the student edition: a check follows its answer."""
    pairs = []
    for path in COLAB:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for before, cell in itertools.pairwise(cells):
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and CHECK.search(source):
                pairs.append(("".join(before["source"]), source))
    return pairs


def test_every_exercise_with_code_has_its_answer_and_check_cells_in_the_student_edition():
    with_code = [ex for exercises in all_exercises().values() for ex in exercises if code_cell(ex)]
    assert sorted(_exercise_cells()) == sorted(
        (answer_cell(ex), check_cell(ex)) for ex in with_code
    )


@pytest.mark.slow
def test_the_student_editions_exercise_cells_run_and_report_not_answered_yet():
    nbclient = pytest.importorskip("nbclient")
    imports = "from course_lib.exercises import " + ", ".join(f"ch{n}" for n in all_exercises())
    cells = [nbformat.v4.new_code_cell(imports)]
    for answer, check in _exercise_cells():
        cells += [nbformat.v4.new_code_cell(answer), nbformat.v4.new_code_cell(check)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    for answer, cell in zip(notebook.cells[1::2], notebook.cells[2::2], strict=True):
        assert not answer.outputs, answer.source
        outputs = cell.outputs
        assert not any(o.get("output_type") == "error" for o in outputs), cell.source
        text = "".join(o.get("text", "") for o in outputs)
        assert text.startswith("• ") and "not answered yet" in text, (cell.source, text)
        assert ".hint() gives a hint" in " ".join(text.split())
