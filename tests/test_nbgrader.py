"""nbgrader grades the student edition (colab/book) as it is, with the course's own checkers.

In a temporary nbgrader course, every chapter of the student edition goes through
``nbgrader generate_assignment`` unchanged; chapter 2 (the quickest to run, with both function
and value exercises) is then autograded for two students: one with the reference answers gets
full marks, one with the typical wrong answers of ``tests/test_exercises.py`` (and one exercise
left unanswered) gets none. Offline; both tests are ``slow`` (autograding runs chapter 2 twice:
115 s measured on 2 CPU cores shared with other work).
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT
from nbgrader.api import Gradebook
from test_exercises import WRONG

from course_lib.exercises import FunctionExercise, ValueExercise, all_exercises
from course_lib.exercises.cells import check_cell

COLAB = REPO_ROOT / "colab" / "book"
CHAPTER = re.compile(r"^0?(\d+)_")
CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "captioning"
# a chapter trains small models before its exercises: the default 30 s per cell is too short
c.Execute.timeout = 900
# nbgrader's own log records in a format of this test's: see _nbgrader
c.Application.log_format = "{log_prefix} %(levelname)s: %(message)s"
"""
#: Starts each of nbgrader's own log records; other lines of its output (a notebook kernel's
#: stderr, TensorFlow's start-up log) are not nbgrader's and are not read.
LOG_PREFIX = "[nbgrader-test]"


def _chapters() -> dict[int, Path]:
    """Chapter number -> its student-edition notebook, for the chapters with exercises."""
    found = {int(CHAPTER.match(p.name).group(1)): p for p in sorted(COLAB.glob("0*.ipynb"))}
    return {n: p for n, p in found.items() if n in all_exercises()}


def _nbgrader(course: Path, *args: str) -> str:
    """Run ``nbgrader ARGS`` in ``course``; its output. Fails the test when nbgrader exits with
    an error or logs one (a record of its own at level ERROR or CRITICAL)."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic from the PATH
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "JUPYTER_CONFIG_DIR": str(course / ".jupyter"),  # no user or system config
    }
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    log = result.stdout + result.stderr
    errors = [
        line
        for line in log.splitlines()
        if line.startswith((f"{LOG_PREFIX} ERROR:", f"{LOG_PREFIX} CRITICAL:"))
    ]
    assert result.returncode == 0 and not errors, log
    return log


def _course(tmp_path: Path, chapters: dict[int, Path]) -> Path:
    """A course whose assignment ``chN`` is chapter N's student-edition notebook."""
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        CONFIG.format(root=str(course), log_prefix=LOG_PREFIX)
    )
    for number, path in chapters.items():
        (course / "source" / f"ch{number}").mkdir(parents=True)
        shutil.copy(path, course / "source" / f"ch{number}" / path.name)
    return course


def _graded(notebook: dict) -> dict[str, dict]:
    """grade_id -> cell, for the nbgrader test cells of a notebook."""
    return {
        c["metadata"]["nbgrader"]["grade_id"]: c
        for c in notebook["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade")
    }


@pytest.mark.slow
def test_every_chapter_is_an_nbgrader_source_released_unchanged(tmp_path):
    chapters = _chapters()
    course = _course(tmp_path, chapters)
    _nbgrader(course, "generate_assignment", "*")
    for number, path in chapters.items():
        student = json.loads(path.read_text(encoding="utf-8"))
        release = json.loads((course / "release" / f"ch{number}" / path.name).read_text())
        assert [c["source"] for c in release["cells"]] == [c["source"] for c in student["cells"]]
        checkable = [e for e in all_exercises()[number] if check_cell(e)]
        graded = _graded(release)
        assert list(graded) == [e.label for e in checkable]
        for ex in checkable:
            cell = graded[ex.label]
            assert "".join(cell["source"]) == check_cell(ex)
            assert cell["metadata"]["nbgrader"]["points"] == 1
            assert cell["metadata"]["editable"] is False  # a student cannot change the test
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for number in chapters:
            assignment = gradebook.find_assignment(f"ch{number}")
            checkable = [e for e in all_exercises()[number] if check_cell(e)]
            assert assignment.max_score == len(checkable)


def _answer(ex, answer) -> str:
    """The source of an answer cell: a function's code (named as asked) or ``answer = …``."""
    if isinstance(ex, FunctionExercise):
        source = re.sub(r"^def \w+\(", f"def {ex.func_name}(", inspect.getsource(answer), count=1)
        return "\n".join([*ex.imports, "", "", source.strip()])
    assert isinstance(ex, ValueExercise)
    return f"{ex.answer_name} = {answer!r}"


def _submit(course: Path, student: str, release: dict, name: str, answers: dict) -> None:
    """``submitted/STUDENT/ch2/NAME``: the release with ``answers`` (exercise -> answer)."""
    notebook = copy.deepcopy(release)
    for cell in notebook["cells"]:
        label = cell["id"].removesuffix("-code")
        if cell["id"].endswith("-code") and label in answers:
            cell["source"] = _answer(*answers[label])
    folder = course / "submitted" / student / "ch2"
    folder.mkdir(parents=True)
    (folder / name).write_text(json.dumps(notebook))


@pytest.mark.slow
def test_autograde_gives_full_marks_to_right_answers_and_none_to_typical_wrong_ones(tmp_path):
    path = _chapters()[2]
    exercises = {e.label: e for e in all_exercises()[2] if check_cell(e)}
    assert [type(e) for e in exercises.values()].count(ValueExercise) >= 1
    course = _course(tmp_path, {2: path})
    _nbgrader(course, "generate_assignment", "ch2")
    release = json.loads((course / "release" / "ch2" / path.name).read_text())
    right = {
        label: (ex, ex.reference if isinstance(ex, FunctionExercise) else ex.expected)
        for label, ex in exercises.items()
    }
    unanswered = list(exercises)[-1]  # left as released: "not answered yet"
    wrong = {
        label: (ex, WRONG[ex.name][0]) for label, ex in exercises.items() if label != unanswered
    }
    _submit(course, "right", release, path.name, right)
    _submit(course, "wrong", release, path.name, wrong)
    _nbgrader(course, "autograde", "ch2")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {
            student: gradebook.find_submission("ch2", student) for student in ("right", "wrong")
        }
        assert scores["right"].max_score == len(exercises)
        assert scores["right"].score == len(exercises)
        assert scores["wrong"].score == 0
        for label in exercises:
            grade = gradebook.find_grade(label, path.stem, "ch2", "wrong")
            assert grade.auto_score == 0, label
    graded = nbformat.read(course / "autograded" / "wrong" / "ch2" / path.name, as_version=4)
    for label, cell in _graded(graded).items():
        text = "".join(o.get("text", "") for o in cell["outputs"])
        shown = "not answered yet" if label == unanswered else "✗"
        assert shown in text, (label, text)  # the student's feedback names what is wrong
