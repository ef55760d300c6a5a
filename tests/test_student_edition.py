"""The student edition is the Colab notebooks (colab/book): its exercises run, unanswered.

Every exercise cell of every Colab notebook is run in a fresh kernel (with the chapter's
``from course_lib.exercises import chN``): each one must report "not answered yet", with no error
and no solution shown. ``nox -s student`` runs the whole notebooks under nbval.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from conftest import REPO_ROOT

from course_lib.exercises import all_exercises

COLAB = sorted((REPO_ROOT / "colab" / "book").glob("0[1-7]_*.ipynb"))
CHECK = re.compile(r"\bch\d+\.ex\d+\.check\(")


def _exercise_cells() -> list[str]:
    cells = []
    for path in COLAB:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and CHECK.search(source):
                cells.append(source)
    return cells


def test_every_exercise_with_code_has_its_cell_in_the_student_edition():
    with_code = [ex for exercises in all_exercises().values() for ex in exercises if ex.code_cell()]
    assert sorted(_exercise_cells()) == sorted(ex.code_cell() for ex in with_code)


@pytest.mark.slow
def test_the_student_editions_exercise_cells_run_and_report_not_answered_yet():
    nbclient = pytest.importorskip("nbclient")
    imports = "from course_lib.exercises import " + ", ".join(f"ch{n}" for n in all_exercises())
    cells = [nbformat.v4.new_code_cell(imports)]
    cells += [nbformat.v4.new_code_cell(source) for source in _exercise_cells()]
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    for cell in notebook.cells[1:]:
        outputs = cell.outputs
        assert not any(o.get("output_type") == "error" for o in outputs), cell.source
        text = "".join(o.get("text", "") for o in outputs)
        assert text.startswith("• ") and "not answered yet" in text, (cell.source, text)
        assert ".hint() gives a hint" in " ".join(text.split())
