"""Tables for notebooks: Markdown in Jupyter and Colab, HTML in the book."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        text = format(float(value), floatfmt)
    elif isinstance(value, (list, tuple)) and all(
        isinstance(v, str) for v in value
    ):
        text = " ".join(value)  # a token list
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(
    rows: Sequence[Sequence[Any]], columns: Sequence[str], floatfmt: str
) -> str:
    header = "| " + " | ".join(_cell(c, floatfmt) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = [
        "| " + " | ".join(_cell(v, floatfmt) for v in row) + " |"
        for row in rows
    ]
    return "\n".join([header, rule, *body])


def _html(
    rows: Sequence[Sequence[Any]], columns: Sequence[str], floatfmt: str
) -> str:
    def esc(v: Any) -> str:
        return html.escape(_cell(v, floatfmt).replace("\\|", "|"))

    # a column without a name (row labels) has an empty data cell on top: an
    # empty header cell tells a screen reader nothing (axe: empty-table-header)
    head = "".join(f"<th>{esc(c)}</th>" if c else "<td></td>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
        for row in rows
    )
    table = f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    # a table wider than the page scrolls inside this frame, which shows that it does
    # (_static/course.css); focusable, so that the keyboard scrolls it too
    return f'<div class="scroll-table" data-scroll-hint tabindex="0">{table}</div>'


try:  # IPython is there in every notebook; the fallback keeps the library importable without it
    from IPython.display import Markdown as _MarkdownBase
except ImportError:  # pragma: no cover - exercised only without IPython

    class _MarkdownBase:  # type: ignore[no-redef]
        def __init__(self, data: str) -> None:
            self.data = data

        def _repr_markdown_(self) -> str:
            return self.data


class MarkdownTable(_MarkdownBase):
    """A table shown as Markdown in Jupyter (and as HTML where HTML is preferred, e.g. the
    book). ``.data`` is the Markdown text; ``.rows``/``.columns`` the values given."""

    def __init__(
        self,
        data: str,
        rows: list[list[Any]],
        columns: list[str],
        html_text: str,
    ):
        super().__init__(data)
        self.rows = rows
        self.columns = columns
        self._html_text = html_text

    def _repr_html_(self) -> str:
        return self._html_text

    def __str__(self) -> str:
        return self.data


def table(
    rows: Sequence[Sequence[Any]] | Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    floatfmt: str = ".3f",
) -> MarkdownTable:
    """A table for a notebook: an ``IPython.display.Markdown`` (pandas-free).

    ``rows``: sequences of values (one per column), or dicts (then ``columns`` defaults to
    the first row's keys). Floats use ``floatfmt``; token lists are joined with spaces; ``|``
    is escaped. Make it the last expression of a cell (or ``display(...)`` it).
    """
    given: list[Any] = list(rows)
    if given and isinstance(given[0], Mapping):
        columns = list(columns if columns is not None else given[0].keys())
        given = [[r.get(c, "") for c in columns] for r in given]
    if columns is None:
        raise ValueError("table: give the column names (or rows as dicts)")
    columns = [str(c) for c in columns]
    rows = [list(r) for r in given]
    for k, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(
                f"table: row {k} has {len(row)} values but there are {len(columns)} columns"
            )
    return MarkdownTable(
        _markdown(rows, columns, floatfmt),
        rows,
        columns,
        _html(rows, columns, floatfmt),
    )


#: The settings :func:`profile_table` shows: (row label, the profile's attribute).
PROFILE_SETTINGS = (
    ("dataset", "dataset"),
    ("backbone", "backbone"),
    ("backbone weights", "weights"),
    ("image size (px)", "image_size"),
    ("embedding", "embed_dim"),
    ("LSTM units", "units"),
    ("batch", "batch_size"),
    ("max epochs", "epochs"),
    ("learning rate", "learning_rate"),
)


def profile_table(profiles: Sequence[Any]) -> MarkdownTable:
    """The profiles side by side: one row per setting, one column per profile (by ``.name``),
    so that the table stays narrow however many settings it shows."""
    rows = [
        [label, *(getattr(p, attr) for p in profiles)]
        for label, attr in PROFILE_SETTINGS
    ]
    return table(rows, ["", *(p.name for p in profiles)], floatfmt="g")
