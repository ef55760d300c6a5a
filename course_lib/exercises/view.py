"""What the student sees of an exercise: ``ch3.ex2.check(...)``, ``.hint()`` and ``.solution()``
print the checker's verdict, hints and solution (learntools keeps the same split: its checks in
``problem.py``, their display in ``problem_view.py``).

A chapter module (``course_lib/exercises/ch3.py``) defines its exercises as ``ex1``, ``ex2``,
… in the order the chapter shows them, and ends with ``EXERCISES = bind(globals())``: each is
numbered by its place, and the module's ``exK`` becomes its :class:`ExerciseView`.

``check()`` never raises: it prints a line starting with ✓, ✗ or • and returns the
:class:`~course_lib.exercises.core.CheckResult`. The one exception is grading: while nbgrader
runs the notebook (:func:`grading`), a check that does not print ✓ also raises
:class:`AnswerNotAccepted`, so the cell that calls it, an nbgrader autograder test, scores no
points.
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import Any

from course_lib.exercises.core import CheckResult, Exercise

__all__ = [
    "AnswerNotAccepted",
    "ExerciseView",
    "bind",
    "glue_solutions",
    "grading",
]


class AnswerNotAccepted(AssertionError):
    """Raised by ``check()`` under nbgrader for a wrong or missing answer (see :func:`grading`)."""


def grading() -> bool:
    """Whether nbgrader is running the notebook (``nbgrader autograde`` or ``validate``)."""
    return os.environ.get("NBGRADER_EXECUTION") in ("autograde", "validate")


class ExerciseView:
    """An exercise as the student holds it: ``check``, ``hint`` and ``solution`` show what its
    checker (``exercise``) says; everything else (its ``name``, ``title``…) is the exercise's."""

    def __init__(self, exercise: Exercise) -> None:
        self.exercise = exercise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.exercise, name)

    def __repr__(self) -> str:
        return repr(self.exercise)

    def check(self, answer: Any = None) -> CheckResult:
        """Check ``answer`` and print ✓ / ✗ / • with a specific message."""
        result = self.exercise.evaluate(answer)
        # printed in lines of 80 characters: the book shows outputs without wrapping them
        print(textwrap.fill(result.message, 80, subsequent_indent="  ", break_long_words=False,
                            break_on_hyphens=False))  # fmt: skip
        if result.ok is not True and grading():
            raise AnswerNotAccepted(result.message)
        return result

    def hint(self, n: int = 1) -> None:
        """Print hint number ``n`` (1-based); says so when there are no more."""
        print(self.exercise.hint_text(n))

    def solution(self) -> None:
        """Show the reference solution: Markdown in a notebook, plain text elsewhere."""
        text = f"**Solution to {self.exercise.heading}**\n\n{self.exercise.solution_markdown()}"
        if _in_notebook():
            # IPython comes with the notebooks (and the book extra), not with course_lib
            from IPython.display import Markdown, display

            display(Markdown(text))
        else:
            print(text)


def bind(module_globals: dict[str, Any]) -> list[Exercise]:
    """Number a chapter module's exercises ``ex1``, ``ex2``, … by their place in it (its
    chapter from the module's name, ``chN``), make each ``exK`` its :class:`ExerciseView`, and
    return the exercises in order. ValueError when a name is not its place."""
    found = re.fullmatch(r".*\.ch(\d+)", module_globals["__name__"])
    if found is None:
        raise ValueError(
            f"{module_globals['__name__']}: not a chapter module (chN)"
        )
    chapter = int(found.group(1))
    names = [k for k, v in module_globals.items() if isinstance(v, Exercise)]
    exercises = []
    for number, name in enumerate(names, start=1):
        if name != f"ex{number}":
            raise ValueError(
                f"chapter {chapter}: exercise {number} is named {name}, not ex{number}"
            )
        exercise = module_globals[name]
        exercise.chapter, exercise.number = chapter, number
        module_globals[name] = ExerciseView(exercise)
        exercises.append(exercise)
    return exercises


def glue_solutions(exercises: Any) -> None:
    """Glue every exercise's :meth:`~course_lib.exercises.core.Exercise.solution_markdown` for
    the book's dropdowns.

    ``exercises`` is a chapter module (``ch3``) or a list of exercises. Needs myst-nb (the book
    build); the glued Markdown is shown by ``{glue:md}`` inside each ``{solution}`` block.
    """
    # IPython and myst-nb come with the book's extra, not with course_lib
    from IPython.display import Markdown
    from myst_nb import glue

    for ex in getattr(exercises, "EXERCISES", exercises):
        glue(ex.glue_key, Markdown(ex.solution_markdown()), display=False)


def _in_notebook() -> bool:
    try:
        # IPython comes with the notebooks (and the book extra), not with course_lib
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")
