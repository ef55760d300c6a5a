"""Exercises with instant feedback for chapters 1–8: ``from course_lib.exercises import ch1``.

Each chapter module ``chN`` has exercises ``ex1``, ``ex2``, …, numbered by their place in it,
with ``check(answer)``, ``hint(n=1)`` and ``solution()``: :mod:`course_lib.exercises.core`
checks the answers, :mod:`course_lib.exercises.view` shows what it says, and
:mod:`course_lib.exercises.cells` writes the notebook cells. The book shows every
exercise unanswered and glues each solution from here into a collapsed dropdown
(:func:`glue_solutions`), and :mod:`course_lib.exercises.sphinx_ext`, the book's Sphinx
extension, titles them "Exercise 3.2: …".
"""

from __future__ import annotations

import importlib

from course_lib.exercises.core import (
    Case,
    CheckResult,
    Exercise,
    FunctionExercise,
    Mistake,
    ThoughtExercise,
    ValueExercise,
)
from course_lib.exercises.view import ExerciseView, glue_solutions

__all__ = [
    "CHAPTERS",
    "Case",
    "CheckResult",
    "Exercise",
    "ExerciseView",
    "FunctionExercise",
    "Mistake",
    "ThoughtExercise",
    "ValueExercise",
    "all_exercises",
    "glue_solutions",
    "table",
]

#: The chapters that have exercises.
CHAPTERS = (1, 2, 3, 4, 5, 6, 7, 8)


def all_exercises() -> dict[int, list[Exercise]]:
    """Chapter number -> its exercises, in order."""
    return {
        n: importlib.import_module(f"course_lib.exercises.ch{n}").EXERCISES
        for n in CHAPTERS
    }


def table() -> str:
    """A Markdown table of every exercise: name, kind, title and what the student writes."""
    rows = [
        "| exercise | kind | title | the student writes |",
        "|---|---|---|---|",
    ]
    for exercises in all_exercises().values():
        for ex in exercises:
            if isinstance(ex, FunctionExercise):
                writes = f"`{ex.func_name}(...)`, then `{ex.name}.check({ex.func_name})`"
            elif isinstance(ex, ValueExercise):
                writes = f"`{ex.answer_name} = ...`, then `{ex.name}.check({ex.answer_name})`"
            else:
                writes = f"an answer in words; `{ex.name}.solution()` shows a model answer"
            rows.append(f"| `{ex.name}` | {ex.kind} | {ex.title} | {writes} |")
    return "\n".join(rows)
