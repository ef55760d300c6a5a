"""The notebook cells of an exercise, which ``scripts/exercise_cells.py`` writes into the
chapters and ``scripts/colab_notebooks.py`` into the student edition: the ``{exercise}``
prompt, the code cell the student completes (its answer part and its check), the collapsed
``{solution}``, and the hidden cell that glues a chapter's solutions for the book."""

from __future__ import annotations

import ast

from course_lib.exercises.core import (
    STUB,
    Exercise,
    FunctionExercise,
    ValueExercise,
)

__all__ = [
    "answer_cell",
    "check_cell",
    "code_cell",
    "exercise_cell",
    "glue_cell",
    "solution_cell",
]


def exercise_cell(ex: Exercise) -> str:
    """The markdown cell: a ``{exercise}`` block titled with the exercise's number.

    ``:nonumber:`` turns off sphinx-exercise's own count, so the number shown is always the
    checker's (``ch3.ex2`` is "Exercise 3.2"), wherever the exercise sits in the chapter.
    """
    fence = _fence(ex.prompt)
    return (
        f"{fence}{{exercise}} {ex.number_text}: {ex.title}\n"
        f":label: {ex.label}\n:nonumber:\n\n{ex.prompt}\n{fence}"
    )


def code_cell(ex: Exercise) -> str:
    """The code cell the student completes, the answer then the check (empty for thought
    exercises): a function's imports, ``def`` line and docstring over a stub, or
    ``answer = ...``; the stub is reported as "not answered yet"."""
    if isinstance(ex, FunctionExercise):
        return f"{answer_cell(ex)}\n\n\n{check_cell(ex)}"
    if isinstance(ex, ValueExercise):
        return f"{answer_cell(ex)}\n{check_cell(ex)}"
    return ""


def answer_cell(ex: Exercise) -> str:
    """The part of :func:`code_cell` the student writes in: all of it but the check."""
    if isinstance(ex, ValueExercise):
        return f"{ex.answer_name} = ...  {STUB}"
    if not isinstance(ex, FunctionExercise):
        return ""
    lines = ex.source.splitlines()
    func = ast.parse(ex.source).body[0]
    assert isinstance(func, ast.FunctionDef), (
        "a FunctionExercise's reference is a function"
    )
    first = func.body[0]
    has_docstring = isinstance(first, ast.Expr) and isinstance(
        getattr(first, "value", None), ast.Constant
    )
    header_end = first.end_lineno if has_docstring else first.lineno - 1
    imports = [*ex.imports, "", ""] if ex.imports else []
    return "\n".join(
        [
            *imports,
            *lines[:header_end],
            f"    {STUB}",
            "    raise NotImplementedError()",
        ]
    )


def check_cell(ex: Exercise) -> str:
    """The last line of :func:`code_cell`, the check (the student edition's graded cell):
    ``ch3.ex2.check(merge_add)`` or ``ch3.ex1.check(answer)``."""
    if isinstance(ex, FunctionExercise):
        return f"{ex.name}.check({ex.func_name})"
    if isinstance(ex, ValueExercise):
        return f"{ex.name}.check({ex.answer_name})"
    return ""


def solution_cell(ex: Exercise) -> str:
    """The markdown cell: a collapsed ``{solution}`` showing the glued solution.

    The solution itself is not in the notebook: :func:`course_lib.exercises.glue_solutions`
    glues :meth:`~course_lib.exercises.core.Exercise.solution_markdown` under its ``glue_key``
    when the book is built.
    """
    return (
        f"````{{solution}} {ex.label}\n:class: dropdown\n\n"
        f"```{{glue:md}} {ex.glue_key}\n:format: myst\n```\n````"
    )


def glue_cell(chapter: int) -> str:
    """The hidden (``remove-cell``) code cell that glues chapter ``chapter``'s solutions."""
    return f"from course_lib.exercises import glue_solutions\n\nglue_solutions(ch{chapter})"


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks at the start of a line of ``text``."""
    runs = [len(line) - len(line.lstrip("`")) for line in text.splitlines()]
    return "`" * max(3, max(runs, default=0) + 1)
