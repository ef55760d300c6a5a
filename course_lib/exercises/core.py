"""Exercise checkers with instant, specific feedback, in the spirit of Kaggle's learntools:
this module only checks (learntools' ``problem.py``); :mod:`course_lib.exercises.view` shows
the verdict to the student and :mod:`course_lib.exercises.cells` writes the notebook cells.

Every exercise has ``evaluate(answer)``, its verdict as a :class:`CheckResult`, ``hint_text(n)``
and ``solution_markdown()``:

* :class:`FunctionExercise` runs the student's function on test cases (edge cases included) and
  compares with the reference function;
* :class:`ValueExercise` compares a predicted value (a shape, a count, a size) with the answer;
* :class:`ThoughtExercise` is a question with a model answer and no automatic check.

``evaluate()`` never raises: an exception in the student's code is reported with the input that
caused it, and an answer not yet given (``...``, ``None`` or ``raise NotImplementedError()``)
is "not answered yet". Its message starts with ✓, ✗ or •. Messages never give the answer away:
a right value is confirmed without being repeated, and a wrong one is told what is wrong
without being told the reference value. The solution is written once, here, and the book shows
it from :meth:`Exercise.solution_markdown` in a collapsed dropdown.
"""

from __future__ import annotations

import copy
import inspect
import math
import signal
import textwrap
import threading
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Seconds a student's function may run on one test case before the check gives up.
TIME_LIMIT_S = 10
#: The placeholder comment of the cells the student completes.
STUB = "# YOUR CODE HERE"

_SYMBOL = {True: "✓", False: "✗", None: "•"}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``check()``: ``ok`` is True, False, or None (not answered / not checkable)."""

    ok: bool | None
    message: str

    def __bool__(self) -> bool:
        return self.ok is True

    def _ipython_display_(self) -> None:
        """Show nothing: ``check()`` has already printed the message."""


@dataclass(frozen=True)
class Case:
    """One test case: positional arguments for the function, and an optional note."""

    args: tuple
    note: str = ""


class _TimeLimit(Exception):
    pass


@contextmanager
def _time_limit(seconds: int):
    """Raise :class:`_TimeLimit` in the main thread after ``seconds`` (no-op elsewhere)."""
    usable = (
        hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _handler(signum, frame):
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, _handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def not_answered(value: Any) -> bool:
    """True for the placeholders a student has not replaced yet: ``...`` and ``None``."""
    return value is Ellipsis or value is None


def format_value(value: Any, max_items: int = 12) -> str:
    """A short, readable repr for messages: small arrays in full, big ones by shape and dtype."""
    if isinstance(value, np.ndarray):
        if value.size <= max_items:
            body = np.array2string(
                value, separator=", ", precision=4, suppress_small=True
            )
            body = " ".join(body.split())
            return f"np.array({body}, dtype={value.dtype})"
        return f"<array shape={value.shape} dtype={value.dtype}>"
    if isinstance(value, np.generic):
        return format_value(value.item())
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        if len(value) > max_items:
            return f"<{type(value).__name__} of {len(value)} items>"
        inner = ", ".join(format_value(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    if isinstance(value, dict):
        if len(value) > max_items:
            return f"<dict of {len(value)} items>"
        return (
            "{"
            + ", ".join(f"{k!r}: {format_value(v)}" for k, v in value.items())
            + "}"
        )
    return repr(value)


def _is_number(x: Any) -> bool:
    return isinstance(
        x, (int, float, np.integer, np.floating)
    ) and not isinstance(x, bool)


def compare(
    expected: Any,
    got: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    check_dtype: bool = False,
    path: str = "",
) -> str | None:
    """None when ``got`` matches ``expected``, else a short reason.

    Integers, strings and booleans must be equal; floats and float arrays are compared with
    ``np.allclose(rtol, atol)``; lists and tuples element by element (a list equals a tuple);
    arrays must have the expected shape (and, with ``check_dtype``, the same dtype kind).
    """
    where = f" at {path}" if path else ""
    if isinstance(expected, np.ndarray):
        return _compare_array(
            expected, got, where, rtol=rtol, atol=atol, check_dtype=check_dtype
        )
    if _is_number(expected):
        return _compare_number(expected, got, where, rtol=rtol, atol=atol)
    if isinstance(expected, (list, tuple)):
        if isinstance(got, np.ndarray):
            got = got.tolist()
        if not isinstance(got, (list, tuple)):
            return f"expected a {type(expected).__name__}{where}, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items{where}, got {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            reason = compare(
                e,
                g,
                rtol=rtol,
                atol=atol,
                check_dtype=check_dtype,
                path=f"{path}[{i}]",
            )
            if reason:
                return reason
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict{where}, got {type(got).__name__}"
        if set(got) != set(expected):
            return (
                f"expected keys {sorted(expected)}{where}, got {sorted(got)}"
            )
        for k in expected:
            reason = compare(
                expected[k],
                got[k],
                rtol=rtol,
                atol=atol,
                path=f"{path}[{k!r}]",
            )
            if reason:
                return reason
        return None
    if got != expected:
        return f"expected {format_value(expected)}{where}, got {format_value(got)}"
    return None


def _compare_array(
    expected: np.ndarray,
    got: Any,
    where: str,
    *,
    rtol: float,
    atol: float,
    check_dtype: bool,
) -> str | None:
    """:func:`compare` for an expected array: its shape, then its values."""
    try:
        arr = np.asarray(got)
    except Exception:
        return f"expected an array{where}, got {type(got).__name__}"
    if arr.dtype == object:
        return f"expected a numeric array{where}, got {type(got).__name__}"
    if arr.shape != expected.shape:
        return f"expected shape {expected.shape}{where}, got shape {arr.shape}"
    if check_dtype and arr.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}{where}, got dtype {arr.dtype}"
    if expected.dtype.kind in "fc" or arr.dtype.kind in "fc":
        close = np.isclose(arr, expected, rtol=rtol, atol=atol, equal_nan=True)
        if not np.all(close):
            index = tuple(int(i) for i in np.argwhere(~close)[0])
            return (
                f"values differ{where}, first at index {index}"
                f" (expected {format_value(expected[index])}, got {format_value(arr[index])})"
            )
    elif not np.array_equal(arr, expected):
        return f"values differ{where}"
    return None


def _compare_number(
    expected: Any, got: Any, where: str, *, rtol: float, atol: float
) -> str | None:
    """:func:`compare` for an expected number: floats within tolerance, integers exactly."""
    if not _is_number(got):
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        else:
            return f"expected a number{where}, got {type(got).__name__}"
    if isinstance(expected, (float, np.floating)) or isinstance(
        got, (float, np.floating)
    ):
        if not math.isclose(
            float(got), float(expected), rel_tol=rtol, abs_tol=atol
        ):
            return f"expected {format_value(expected)}{where}, got {format_value(got)}"
        return None
    if int(got) != int(expected) or float(got) != int(got):
        return f"expected {format_value(expected)}{where}, got {format_value(got)}"
    return None


class Exercise:
    """Base class: an exercise with a title, a prompt, hints and a solution, numbered by its
    place in its chapter. It only checks: :meth:`evaluate` returns a :class:`CheckResult`, and
    :class:`course_lib.exercises.view.ExerciseView` shows it to the student."""

    kind = "exercise"

    def __init__(
        self,
        title: str,
        *,
        prompt: str,
        hints: Sequence[str] = (),
        solution_text: str = "",
        explanation: str = "",
    ) -> None:
        #: Its chapter and its place there, given by :func:`course_lib.exercises.view.bind`
        #: (0 until then).
        self.chapter = 0
        self.number = 0
        self.title = title
        self.prompt = textwrap.dedent(prompt).strip()
        self.hints = [textwrap.dedent(h).strip() for h in hints]
        self._solution_text = textwrap.dedent(solution_text).strip()
        self.explanation = textwrap.dedent(explanation).strip()

    # -- names -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """How the notebook refers to it, e.g. ``"ch1.ex1"``."""
        return f"ch{self.chapter}.ex{self.number}"

    @property
    def label(self) -> str:
        """The sphinx-exercise label, e.g. ``"ch1-ex1"``."""
        return f"ch{self.chapter}-ex{self.number}"

    @property
    def number_text(self) -> str:
        """The number shown in the book and the notebooks, e.g. ``"1.1"`` for ``ch1.ex1``."""
        return f"{self.chapter}.{self.number}"

    @property
    def heading(self) -> str:
        """The title as shown, e.g. ``"Exercise 1.1: Output size of a convolution"``."""
        return f"Exercise {self.number_text}: {self.title}"

    @property
    def glue_key(self) -> str:
        """The myst-nb glue key of the solution, e.g. ``"ch1-ex1-solution"``."""
        return f"{self.label}-solution"

    def __repr__(self) -> str:
        return f"<{self.name} ({self.kind}): {self.title}>"

    # -- feedback ----------------------------------------------------------------------------
    def _result(self, ok: bool | None, message: str) -> CheckResult:
        return CheckResult(
            ok, f"{_SYMBOL[ok]} {self.name} ({self.title}): {message}"
        )

    #: What "not answered yet" asks the student to do (depends on the kind of exercise).
    placeholder_advice = "Replace the placeholder with your answer"

    def _not_answered(self) -> CheckResult:
        return self._result(
            None,
            f"not answered yet. {self.placeholder_advice} and run the cell again;"
            f" {self.name}.hint() gives a hint.",
        )

    def evaluate(
        self, answer: Any = None
    ) -> CheckResult:  # pragma: no cover - overridden
        """Check ``answer``: ✓ / ✗ / • and a specific message."""
        raise NotImplementedError

    def hint_text(self, n: int = 1) -> str:
        """Hint number ``n`` (1-based), or what to do when there is no such hint."""
        if not self.hints:
            return f"{self.name}: there are no hints for this exercise; try {self.name}.solution()."
        if n < 1 or n > len(self.hints):
            return (
                f"{self.name}: there is no hint {n}; this exercise has {len(self.hints)}"
                f" hint(s) ({self.name}.hint(1) … {self.name}.hint({len(self.hints)})),"
                f" and {self.name}.solution() shows the answer."
            )
        more = (
            f" (more: {self.name}.hint({n + 1}))"
            if n < len(self.hints)
            else f" (no more hints; {self.name}.solution() shows the answer)"
        )
        return f"Hint {n}/{len(self.hints)} for {self.name}: {self.hints[n - 1]}{more}"

    def solution_markdown(self) -> str:
        """The reference solution (and why) as Markdown: the one copy the book and Colab show."""
        parts = [self._solution_text] if self._solution_text else []
        if self.explanation:
            parts.append(self.explanation)
        return "\n\n".join(parts)


#: Imports a reference solution's source needs, found by a name it uses.
_IMPORTS = (
    ("math.", "import math"),
    ("string.", "import string"),
    ("Counter(", "from collections import Counter"),
    ("np.", "import numpy as np"),
)


def _library_name(answer: Any) -> str | None:
    """``module.name`` when ``answer`` is one of course_lib's own functions
    (not an exercise's), else None."""
    module = getattr(answer, "__module__", None) or ""
    if module.startswith("course_lib.") and not module.startswith(
        "course_lib.exercises"
    ):
        return f"{module}.{getattr(answer, '__qualname__', '?')}"
    return None


class FunctionExercise(Exercise):
    """The student implements a function; it is run on test cases and compared with a reference."""

    kind = "function"

    def __init__(
        self,
        title: str,
        *,
        reference: Callable,
        cases: Sequence[Case | tuple],
        prompt: str,
        hints: Sequence[str] = (),
        explanation: str = "",
        rtol: float = 1e-5,
        atol: float = 1e-8,
        check_dtype: bool = False,
        diagnose: Callable[[tuple, Any, Any], str | None] | None = None,
    ) -> None:
        source = textwrap.dedent(inspect.getsource(reference)).strip()
        self.imports = [line for needle, line in _IMPORTS if needle in source]
        shown = (
            "\n".join([*self.imports, "", "", source])
            if self.imports
            else source
        )
        super().__init__(
            title,
            prompt=prompt,
            hints=hints,
            solution_text=f"```python\n{shown}\n```",
            explanation=explanation,
        )
        self.reference = reference
        self.source = source
        self.func_name = reference.__name__
        self.cases = [
            c if isinstance(c, Case) else Case(tuple(c)) for c in cases
        ]
        self.rtol, self.atol, self.check_dtype = rtol, atol, check_dtype
        self.diagnose = diagnose
        self._params = list(inspect.signature(reference).parameters)

    def call_repr(self, args: tuple) -> str:
        """``name(p1=v1, p2=v2)`` with the reference's parameter names."""
        names = self._params + [
            f"arg{i}" for i in range(len(self._params), len(args))
        ]
        inner = ", ".join(
            f"{n}={format_value(a)}" for n, a in zip(names, args, strict=False)
        )
        return f"{self.func_name}({inner})"

    placeholder_advice = "Write the body of the function in place of raise NotImplementedError()"

    def _refuse_library(self, answer: Any) -> CheckResult | None:
        """A failed result naming the library's function when ``answer`` is one."""
        library = _library_name(answer)
        if library is None:
            return None
        return self._result(
            False,
            f"that is the library's {library}, not your answer: write your own "
            f"{self.func_name} and pass it: {self.name}.check({self.func_name}).",
        )

    def evaluate(self, answer: Any = None) -> CheckResult:
        """Run ``answer`` (the student's function) on every test case."""
        if not_answered(answer):
            return self._not_answered()
        if not callable(answer):
            return self._result(
                False,
                f"expected a function, got {format_value(answer)} ({type(answer).__name__});"
                f" pass the function itself: {self.name}.check({self.func_name}).",
            )
        if (refused := self._refuse_library(answer)) is not None:
            return refused
        for case in self.cases:
            expected = self.reference(*copy.deepcopy(case.args))
            call = self.call_repr(case.args)
            note = f" [{case.note}]" if case.note else ""
            try:
                with (
                    _time_limit(TIME_LIMIT_S),
                    warnings.catch_warnings(),
                    np.errstate(all="ignore"),
                ):
                    warnings.simplefilter("ignore")
                    got = answer(*copy.deepcopy(case.args))
            except NotImplementedError:
                return self._not_answered()
            except _TimeLimit:
                return self._result(
                    False,
                    f"{call}{note} took longer than {TIME_LIMIT_S} s (an endless loop?)",
                )
            except (
                Exception
            ) as err:  # the student's bug, reported, never raised
                return self._result(
                    False,
                    f"{call}{note} raised {type(err).__name__}: {err}".rstrip(
                        ": "
                    ),
                )
            if got is Ellipsis:
                return self._not_answered()
            if got is None and expected is not None:
                return self._result(
                    False,
                    f"{call}{note}: expected {format_value(expected)}, got None"
                    " (did you forget `return`?)",
                )
            try:
                reason = compare(
                    expected,
                    got,
                    rtol=self.rtol,
                    atol=self.atol,
                    check_dtype=self.check_dtype,
                )
            except (
                Exception
            ) as err:  # an odd return value must not crash the check
                reason = f"could not compare the result ({type(err).__name__}: {err})"
            if reason is not None:
                message = f"{call}{note}: {reason}"
                shown = format_value(expected)
                if shown not in reason and not shown.startswith("<"):
                    message += f"; expected {format_value(expected)}, got {format_value(got)}"
                extra = (
                    self.diagnose(case.args, expected, got)
                    if self.diagnose
                    else None
                )
                if extra:
                    message += f". {extra}"
                return self._result(False, message)
        return self._result(
            True, f"correct on all {len(self.cases)} test cases."
        )


@dataclass
class Mistake:
    """A typical wrong answer and what it reveals."""

    value: Any
    message: str


class ValueExercise(Exercise):
    """The student predicts a value (a shape, a count, a size) before running anything."""

    kind = "value"

    def __init__(
        self,
        title: str,
        *,
        expected: Any,
        prompt: str,
        why: str,
        hints: Sequence[str] = (),
        mistakes: Sequence[Mistake] = (),
        rtol: float = 1e-9,
        atol: float = 0.0,
        answer_name: str = "answer",
    ) -> None:
        super().__init__(
            title,
            prompt=prompt,
            hints=hints,
            solution_text=f"```python\n{answer_name} = {format_value(expected)}\n```",
            explanation=why,
        )
        self.expected = expected
        self.why = textwrap.dedent(why).strip()
        self.mistakes = list(mistakes)
        self.rtol, self.atol = rtol, atol
        self.answer_name = answer_name

    placeholder_advice = "Replace the ... with your answer"

    def evaluate(self, answer: Any = None) -> CheckResult:
        """Compare the predicted value with the answer, without ever showing the answer.

        A right answer is confirmed (not repeated: the book must not give it away); a wrong one
        gets the message of a matching :class:`Mistake`, or what kind of value was expected.
        """
        if not_answered(answer):
            return self._not_answered()
        try:
            reason = compare(
                self.expected, answer, rtol=self.rtol, atol=self.atol
            )
        except Exception:
            reason = "could not compare it"
        if reason is None:
            return self._result(
                True,
                f"correct. {self.name}.solution() explains the reasoning, to compare.",
            )
        for mistake in self.mistakes:
            try:
                matches = (
                    compare(mistake.value, answer, rtol=1e-3, atol=0.0) is None
                )
            except Exception:
                matches = False
            if matches:
                return self._result(
                    False,
                    f"you answered {format_value(answer)}: {mistake.message}",
                )
        same_kind = answer
        if isinstance(answer, (list, tuple)) and isinstance(
            self.expected, (list, tuple)
        ):
            same_kind = type(self.expected)(
                answer
            )  # a list is as good as a tuple
        wanted, given = describe_kind(self.expected), describe_kind(same_kind)
        detail = (
            f" (expected {wanted}, got {given})" if wanted != given else ""
        )
        hint = f" Hint: {self.hints[0]}" if self.hints else ""
        return self._result(
            False,
            f"you answered {format_value(answer)}, which is not right{detail}.{hint}"
            f" ({self.name}.solution() shows the answer and why.)",
        )


def describe_kind(value: Any) -> str:
    """What kind of value this is, never the value: "a number", "a tuple of 3 numbers"…"""
    if _is_number(value):
        return "a number"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        kinds = {describe_kind(v) for v in value}
        name = type(value).__name__
        if kinds == {"a number"}:
            return f"a {name} of {len(value)} number{'s' if len(value) != 1 else ''}"
        return f"a {name} of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


class ThoughtExercise(Exercise):
    """A question to think about, with a model answer and no automatic check."""

    kind = "thought"

    def __init__(
        self,
        title: str,
        *,
        prompt: str,
        model_answer: str,
        hints: Sequence[str] = (),
    ) -> None:
        super().__init__(
            title, prompt=prompt, hints=hints, solution_text=model_answer
        )
        self.model_answer = textwrap.dedent(model_answer).strip()

    def evaluate(self, answer: Any = None) -> CheckResult:
        """Thought exercises have no automatic check: say how to see the model answer."""
        return self._result(
            None,
            "this is a question to think about, with no automatic check. Write your answer down,"
            f" then compare it with the model answer: {self.name}.solution()",
        )
