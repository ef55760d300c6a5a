"""Write the Colab notebooks: the book's chapters as plain Jupyter notebooks, without MyST.

Colab shows Markdown, not MyST, so every chapter ``book/NN_*.ipynb`` is written, converted, to
``colab/book/NN_*.ipynb`` (the launch buttons open those; ``_config.yml``'s
``repository.path_to_book`` is ``colab``). These notebooks are the student edition: the book's
exercises are unanswered, and the solutions stay in ``course_lib.exercises``.

    python scripts/colab_notebooks.py           # (re)write colab/book/*.ipynb
    python scripts/colab_notebooks.py --check   # exit 1 if colab/ is not what book/ gives

What the conversion does (anything else that looks like MyST is an error that names the
notebook, the cell and the construct, so raw markup never reaches a student):

* roles: ``{cite}``, ``{cite:p}``, ``{cite:t}`` become author-year text, and a "References"
  list (from ``book/references.bib``) ends the notebook; ``{term}``, ``{ref}``, ``{numref}`` and
  ``{doc}`` become plain text (their explicit text, else the target's title); ``{math}`` becomes
  ``$…$``. ``{glue…}`` is refused: the book uses glue only for the solutions, which go.
* directives: admonitions (``note``, ``warning``, ``tip``… and ``admonition`` with a title)
  become a blockquote starting with **Warning.** (etc.); ``{exercise}`` becomes a heading
  "Exercise 3.2: title" with its prompt; ``{solution}`` is dropped, and replaced by a line naming
  ``ch3.ex2.hint()`` and ``ch3.ex2.solution()``; ``{literalinclude}`` becomes a code fence with
  the file's text (``:pyobject:``, ``:lines:``, ``:start-after:``, ``:end-before:``,
  ``:dedent:``, ``:language:``, ``:caption:``; paths relative to the notebook, or to the
  repository when they start with ``/``); ``{math}`` becomes ``$$…$$``; ``{code-block}``
  becomes a plain fence.
* ``(label)=`` targets and ``%`` comment lines are dropped; ``$…$`` and ``$$…$$`` math stays.
* cells tagged ``remove-cell`` are dropped, except the Colab setup cell (``colab-setup``), which
  stays the first code cell; tags, outputs and execution counts go.
* an exercise's code cell (``ch3-ex2-code``, written by ``scripts/exercise_cells.py``) becomes
  two: the student's answer, then its check, ``ch3.ex2.check(merge_add)``, marked (in metadata
  only) as an nbgrader autograder test worth one point, ``grade_id`` ``ch3-ex2``. So the student
  edition is an nbgrader source as it is: under ``nbgrader autograde`` a check that does not
  pass raises (``course_lib.exercises.core.grading``), elsewhere it only prints.

The output is deterministic: the same book gives byte-identical notebooks.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from course_lib.exercises import all_exercises
from course_lib.exercises.cells import answer_cell, check_cell, code_cell

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OUT = ROOT / "colab"
BIB = BOOK / "references.bib"
SETUP_TAG = "colab-setup"

ADMONITIONS = {
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "seealso": "See also",
    "tip": "Tip",
    "warning": "Warning",
}
#: Options that only style a block in the book; they mean nothing in plain Markdown.
STYLE_OPTIONS = {"class", "name", "label", "nonumber"}
LITERALINCLUDE_OPTIONS = {
    "pyobject",
    "lines",
    "start-after",
    "end-before",
    "dedent",
    "language",
    "caption",
    "name",
}
LANGUAGES = {".py": "python", ".toml": "toml", ".yml": "yaml", ".yaml": "yaml", ".json": "json"}

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[^}\s]+)\}\s*(?P<argument>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
INLINE = re.compile(
    r"(?P<role>\{(?P<name>[A-Za-z][\w:+.-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks))"
    r"|(?P<code>(?P<code_ticks>`+).+?(?P=code_ticks))"
)
SUBSTITUTION = re.compile(r"\{\{.*?\}\}")
EXPLICIT = re.compile(r"^(?P<text>.+?)\s*<(?P<target>[^<>]+)>$", re.S)
EXERCISE_TITLE = re.compile(r"^\d+\.\d+: \S")
SOLUTION_LABEL = re.compile(r"^ch(?P<chapter>\d+)-ex(?P<number>\d+)$")
EXERCISE_CODE = re.compile(r"^ch(?P<chapter>\d+)-ex(?P<number>\d+)-code$")
#: nbgrader points of an exercise's check (thought exercises have none).
POINTS = 1
URL = re.compile(r"\\url\s*\{([^}]*)\}")


class ConversionError(ValueError):
    """A construct the converter does not know (the message names notebook, cell, construct)."""


# -- the bibliography ------------------------------------------------------------------------


def _latex_text(value: str) -> str:
    """BibTeX field text as plain text (accents decoded, braces and ``\\url`` removed)."""
    from pybtex.richtext import Text

    pieces = []
    for k, piece in enumerate(URL.split(value)):
        pieces.append(piece if k % 2 else Text.from_latex(piece).render_as("text"))
    return " ".join("".join(pieces).split())


@dataclass(frozen=True)
class Reference:
    """One entry of ``references.bib``: its author-year label and its line in a list."""

    key: str
    authors: tuple[str, ...]  # last names
    year: str
    entry: str

    def label(self) -> str:
        """ "Tanti et al., 2018", "Simonyan and Zisserman, 2015" or "Brownlee, 2017"."""
        return f"{self.names()}, {self.year}"

    def names(self) -> str:
        """The authors as cited in the text."""
        if len(self.authors) > 2:
            return f"{self.authors[0]} et al."
        return " and ".join(self.authors)


def read_bibliography(path: Path = BIB) -> dict[str, Reference]:
    """Every entry of a ``.bib`` file, by key."""
    from pybtex.database import parse_file

    references = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author", [])
        last = tuple(_latex_text(" ".join(p.last_names)) for p in people)
        initials = []
        for person in people:
            first = " ".join(_latex_text(n)[:1] + "." for n in person.first_names)
            middle = " ".join(_latex_text(n)[:1] + "." for n in person.middle_names)
            given = " ".join(x for x in (first, middle) if x)
            initials.append(f"{_latex_text(' '.join(person.last_names))}, {given}".rstrip(", "))
        fields = {k.lower(): _latex_text(v) for k, v in entry.fields.items()}
        year = fields.get("year", "n.d.")
        venue = fields.get("journal") or fields.get("booktitle") or fields.get("howpublished")
        links = re.findall(r"https?://\S+", venue or "")
        venue = re.sub(r",?\s*https?://\S+", "", venue or "").strip()
        details = []
        if venue:
            volume = fields.get("volume", "")
            number = f"({fields['number']})" if "number" in fields else ""
            details.append(f"*{venue}*" + (f", {volume}{number}" if volume else ""))
        if "pages" in fields:
            details.append(fields["pages"].replace("--", "–"))
        if "doi" in fields:
            details.append(f"<https://doi.org/{fields['doi']}>")
        elif "eprint" in fields:
            details.append(f"arXiv:{fields['eprint']}")
        details += [f"<{link}>" for link in links]
        authors = ", ".join(initials[:-1]) + (" and " if len(initials) > 1 else "") + initials[-1]
        title = fields.get("title", key)
        title = title if title.endswith(("?", "!", ".")) else f"{title}."
        text = f"{authors} ({year}). {title}" + (f" {', '.join(details)}." if details else "")
        references[key] = Reference(key, last, year, text)
    return references


# -- the conversion --------------------------------------------------------------------------


@dataclass
class Context:
    """What converting one notebook needs, and what it collects (the citations)."""

    notebook: Path
    references: dict[str, Reference]
    labels: dict[str, str]
    cell: int = 0
    cited: list[str] = field(default_factory=list)

    def error(self, construct: str, why: str) -> ConversionError:
        """An error naming the notebook, the cell and the construct."""
        return ConversionError(f"{_shown(self.notebook)} cell {self.cell}: {construct}: {why}")


def _split_explicit(content: str) -> tuple[str | None, str]:
    """``"text <target>"`` → ``("text", "target")``; ``"target"`` → ``(None, "target")``."""
    match = EXPLICIT.match(content.strip())
    if match:
        return " ".join(match.group("text").split()), match.group("target").strip()
    return None, content.strip()


def _doc_title(target: str, ctx: Context) -> str:
    """The first heading of the document a ``{doc}`` role points to."""
    base = (ROOT / target.lstrip("/")) if target.startswith("/") else ctx.notebook.parent / target
    for path in (base, base.with_suffix(".ipynb"), base.with_suffix(".md")):
        if path.is_file():
            for line in _document_lines(path):
                if match := HEADING.match(line):
                    return _plain_heading(match.group("title"))
    raise ctx.error(f"{{doc}}`{target}`", "no such document, or it has no title")


def _plain_heading(title: str) -> str:
    """A heading's text without Markdown emphasis markers."""
    return title.replace("**", "").strip()


def _document_lines(path: Path) -> list[str]:
    """The Markdown lines of a ``.md`` file or of a notebook's markdown cells."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        return text.splitlines()
    return path.read_text(encoding="utf-8").splitlines()


def book_labels(book: Path = BOOK) -> dict[str, str]:
    """Every ``(label)=`` target of the book followed by a heading: label → heading text."""
    labels = {}
    for path in sorted([*book.glob("*.ipynb"), *book.glob("*.md")]):
        lines = _document_lines(path)
        for k, line in enumerate(lines):
            if TARGET.match(line):
                following = next((x for x in lines[k + 1 :] if x.strip()), "")
                if match := HEADING.match(following):
                    labels[line.strip()[1:-2]] = _plain_heading(match.group("title"))
    return labels


def _cite(name: str, content: str, ctx: Context) -> str:
    keys = [k.strip() for k in content.split(",") if k.strip()]
    for key in keys:
        if key not in ctx.references:
            raise ctx.error(f"{{{name}}}`{content}`", f"{key!r} is not in {BIB.name}")
        if key not in ctx.cited:
            ctx.cited.append(key)
    refs = [ctx.references[k] for k in keys]
    if name == "cite:t":
        return "; ".join(f"{r.names()} ({r.year})" for r in refs)
    return "(" + "; ".join(r.label() for r in refs) + ")"


def convert_role(name: str, content: str, ctx: Context) -> str:
    """The plain-Markdown text of one MyST role."""
    construct = f"{{{name}}}`{content}`"
    if name in ("cite", "cite:p", "cite:t"):
        return _cite(name, content, ctx)
    if name == "math":
        return f"${content}$"
    if name in ("term", "ref", "numref", "doc"):
        text, target = _split_explicit(content)
        if text is not None:
            if name == "numref" and ("%s" in text or "{number}" in text):
                raise ctx.error(construct, "a number placeholder has no plain-text equivalent")
            return text
        if name == "term":
            return target
        if name == "doc":
            return _doc_title(target, ctx)
        if target in ctx.labels:
            return ctx.labels[target]
        raise ctx.error(construct, "no heading with this label in the book; give explicit text")
    if name.startswith("glue"):
        raise ctx.error(construct, "glue is not supported in prose (only for the solutions)")
    raise ctx.error(construct, "unknown role")


def convert_inline(line: str, ctx: Context) -> str:
    """One line of text with its roles converted; code spans stay as they are."""

    def replace(match: re.Match) -> str:
        if match.group("code"):
            return match.group("code")
        return convert_role(match.group("name"), match.group("content"), ctx)

    out = INLINE.sub(replace, line)
    outside_code = re.sub(r"(`+).+?\1", "", line)
    if SUBSTITUTION.search(outside_code):
        raise ctx.error(SUBSTITUTION.search(outside_code).group(0), "substitutions are not known")
    return out


@dataclass
class Directive:
    """A fenced MyST directive: name, argument, options and body lines."""

    name: str
    argument: str
    options: dict[str, str]
    body: list[str]

    def construct(self) -> str:
        """How it is written, for error messages."""
        return f"{{{self.name}}} {self.argument}".strip()


def _parse_directive(name: str, argument: str, content: list[str]) -> Directive:
    options: dict[str, str] = {}
    body = list(content)
    if body and body[0].strip() == "---":
        import yaml

        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), None)
        if end is not None:
            options = {
                str(k): str(v) for k, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()
            }
            body = body[end + 1 :]
    else:
        while body and (match := OPTION.match(body[0].strip())):
            options[match.group("key")] = match.group("value").strip()
            body = body[1:]
    while body and not body[0].strip():
        body = body[1:]
    return Directive(name, argument.strip(), options, body)


def _check_options(directive: Directive, allowed: set[str], ctx: Context) -> None:
    unknown = sorted(set(directive.options) - allowed)
    if unknown:
        raise ctx.error(directive.construct(), f"unsupported option(s) {', '.join(unknown)}")


def _blockquote(label: str, body: list[str]) -> list[str]:
    """``body`` as a blockquote that starts with **label.**"""
    starts_block = re.compile(r"^\s*([-*+]\s|[>|#]|\d+[.)]\s|```|~~~|\$\$)")
    if body and body[0].strip() and not starts_block.match(body[0]):
        lines = [f"**{label}.** {body[0]}", *body[1:]]
    else:
        lines = [f"**{label}.**", "", *body]
    return [f"> {line}".rstrip() for line in lines]


def _code_fence(code: str) -> str:
    """A backtick fence longer than any fence inside ``code``."""
    runs = [len(run) for run in re.findall(r"^\s*(`{3,})", code, re.M)]
    return "`" * max([3, *(n + 1 for n in runs)])


def _literalinclude(directive: Directive, ctx: Context) -> list[str]:
    from sphinx.directives.code import LiteralIncludeReader

    _check_options(directive, LITERALINCLUDE_OPTIONS, ctx)
    target = directive.argument
    path = (ROOT / target.lstrip("/")) if target.startswith("/") else ctx.notebook.parent / target
    if not path.is_file():
        raise ctx.error(directive.construct(), f"no such file: {path}")
    options = {k: v for k, v in directive.options.items() if k not in ("language", "caption")}
    if "dedent" in options:
        options["dedent"] = int(options["dedent"]) if options["dedent"] else None
    try:
        text, _ = LiteralIncludeReader(
            str(path), options, SimpleNamespace(source_encoding="utf-8")
        ).read()
    except Exception as err:  # Sphinx's own message says what is wrong (pyobject not found…)
        raise ctx.error(directive.construct(), str(err)) from err
    language = directive.options.get("language") or LANGUAGES.get(path.suffix, "")
    fence = _code_fence(text)
    lines = [f"{fence}{language}", *text.rstrip("\n").splitlines(), fence]
    caption = directive.options.get("caption")
    return [f"*{convert_inline(caption, ctx)}*", "", *lines] if caption else lines


def convert_directive(directive: Directive, ctx: Context) -> list[str]:
    """The plain-Markdown lines of one MyST directive."""
    name = directive.name
    if name in ADMONITIONS or name == "admonition":
        _check_options(directive, STYLE_OPTIONS, ctx)
        if name == "admonition" and not directive.argument:
            raise ctx.error(directive.construct(), "an admonition needs a title")
        label = convert_inline(directive.argument, ctx) if name == "admonition" else None
        if name != "admonition" and directive.argument:
            label = f"{ADMONITIONS[name]}: {convert_inline(directive.argument, ctx)}"
        return _blockquote(label or ADMONITIONS[name], convert_lines(directive.body, ctx))
    if name == "exercise":
        _check_options(directive, STYLE_OPTIONS, ctx)
        if "nonumber" not in directive.options or not EXERCISE_TITLE.match(directive.argument):
            raise ctx.error(
                directive.construct(),
                'an exercise needs :nonumber: and a numbered title, "3.2: title"'
                " (write it with course_lib.exercises.cells.exercise_cell)",
            )
        title = convert_inline(directive.argument, ctx)
        return [f"### Exercise {title}", "", *convert_lines(directive.body, ctx)]
    if name == "solution":
        match = SOLUTION_LABEL.match(directive.argument)
        if not match:
            raise ctx.error(directive.construct(), "the label is not of the form chN-exK")
        ex = f"ch{match.group('chapter')}.ex{match.group('number')}"
        return [f"*Stuck? `{ex}.hint()` gives a hint, and `{ex}.solution()` shows the solution.*"]
    if name == "literalinclude":
        return _literalinclude(directive, ctx)
    if name == "math":
        _check_options(directive, STYLE_OPTIONS, ctx)
        return ["$$", *directive.body, "$$"]
    if name in ("code-block", "code", "sourcecode"):
        _check_options(directive, {"caption", "name", "class", "linenos", "emphasize-lines"}, ctx)
        fence = _code_fence("\n".join(directive.body))
        return [f"{fence}{directive.argument}", *directive.body, fence]
    if name.startswith("glue"):
        raise ctx.error(directive.construct(), "glue is not supported outside the solutions")
    raise ctx.error(directive.construct(), "unknown directive")


def convert_lines(lines: list[str], ctx: Context) -> list[str]:
    """Markdown lines with every MyST construct converted (see the module docstring)."""
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        fence = FENCE.match(line)
        if fence:
            char, length = fence.group("fence")[0], len(fence.group("fence"))
            end = k + 1
            while end < len(lines):
                closing = FENCE.match(lines[end])
                if (
                    closing
                    and closing.group("fence")[0] == char
                    and len(closing.group("fence")) >= length
                    and not closing.group("info").strip()
                ):
                    break
                end += 1
            content = lines[k + 1 : end]
            info = fence.group("info").strip()
            directive = DIRECTIVE.match(info)
            if directive:
                parsed = _parse_directive(
                    directive.group("name"), directive.group("argument"), content
                )
                out += convert_directive(parsed, ctx)
            elif char == ":":
                raise ctx.error(line.strip(), "a colon fence without a directive")
            else:
                out += lines[k : end + 1]
            k = end + 1
            continue
        if TARGET.match(line) or line.startswith("%") or line.strip() == "+++":
            k += 1
            continue
        out.append(convert_inline(line, ctx))
        k += 1
    return out


def convert_markdown(source: str, ctx: Context) -> str:
    """A markdown cell's source converted to plain Markdown."""
    lines = convert_lines(source.splitlines(), ctx)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _cell(cell_type: str, cell_id: str, source: str) -> dict:
    cell = {"cell_type": cell_type, "id": cell_id, "metadata": {}}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    cell["source"] = source.splitlines(keepends=True)
    return cell


def student_exercise_cells(cell_id: str, source: str, ctx: Context) -> list[dict]:
    """An exercise's code cell as two: the answer, then the check as an nbgrader test cell."""
    match = EXERCISE_CODE.match(cell_id)
    chapter, number = int(match.group("chapter")), int(match.group("number"))
    ex = next((e for e in all_exercises().get(chapter, []) if e.number == number), None)
    if ex is None or source != code_cell(ex):
        raise ctx.error(cell_id, "not the exercise's cell: run scripts/exercise_cells.py")
    check = _cell("code", f"{ex.label}-check", check_cell(ex))
    check["metadata"]["nbgrader"] = {
        "grade": True,
        "grade_id": ex.label,
        "locked": True,
        "points": POINTS,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return [_cell("code", cell_id, answer_cell(ex)), check]


def convert_notebook(path: Path, references: dict[str, Reference], labels: dict[str, str]) -> dict:
    """The Colab notebook of one book notebook (a notebook as a JSON-ready dict)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    ctx = Context(path, references, labels)
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        ctx.cell = index
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code":
            if "remove-cell" in tags and SETUP_TAG not in tags:
                continue
            if EXERCISE_CODE.match(cell["id"]):
                cells += student_exercise_cells(cell["id"], source, ctx)
            else:
                cells.append(_cell("code", cell["id"], source))
        elif cell["cell_type"] == "markdown":
            if "remove-cell" in tags:
                continue
            text = convert_markdown(source, ctx)
            if text.strip():
                cells.append(_cell("markdown", cell["id"], text))
        else:
            raise ctx.error(f"a {cell['cell_type']} cell", "only code and markdown cells are known")
    setup = [k for k, c in enumerate(cells) if c["cell_type"] == "code"][:1]
    first_code = notebook_setup_cell(notebook)
    if first_code is not None and (not setup or cells[setup[0]]["id"] != first_code):
        raise ctx.error("the setup cell", "the Colab setup cell must be the first code cell")
    if ctx.cited:
        entries = sorted((ctx.references[k] for k in ctx.cited), key=lambda r: r.entry)
        text = "## References\n\n" + "\n".join(f"- {r.entry}" for r in entries)
        cells.append(_cell("markdown", "references", text))
    return {
        "cells": cells,
        "metadata": {
            "accelerator": "GPU",
            "colab": {"gpuType": "T4", "provenance": []},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_setup_cell(notebook: dict) -> str | None:
    """The id of the book notebook's Colab setup cell (tagged ``colab-setup``), or None."""
    for cell in notebook["cells"]:
        if SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return cell["id"]
    return None


def notebook_text(notebook: dict) -> str:
    """A notebook as the exact text written to disk."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def numbered_chapters(book: Path = BOOK) -> list[Path]:
    """The book's notebooks: the chapters, ``book/NN_*.ipynb``, and the appendix's
    (each page with code has a launch button that opens its Colab notebook)."""
    return sorted(book.glob("*.ipynb"))


def colab_path(path: Path, out: Path = OUT) -> Path:
    """Where the Colab notebook of ``book/NN_x.ipynb`` goes: ``colab/book/NN_x.ipynb``."""
    return out / path.relative_to(ROOT)


def generate(out: Path = OUT) -> dict[Path, str]:
    """Every Colab notebook's path and text (nothing is written)."""
    references, labels = read_bibliography(), book_labels()
    return {
        colab_path(path, out): notebook_text(convert_notebook(path, references, labels))
        for path in numbered_chapters()
    }


def _shown(path: Path) -> Path:
    """``path`` relative to the repository, when it is inside."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` only compare) ``colab/book/*.ipynb``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    try:
        wanted = generate()
    except ConversionError as err:
        print(f"colab notebooks: error: {err}", file=sys.stderr)
        return 1
    existing = set((OUT / "book").glob("*.ipynb"))
    stale = [p for p, text in wanted.items() if not p.is_file() or p.read_text("utf-8") != text]
    extra = sorted(existing - set(wanted))
    if args.check:
        for path in [*stale, *extra]:
            print(f"stale: {_shown(path)}")
        if stale or extra:
            print("run `python scripts/colab_notebooks.py` to update colab/", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {_shown(path)}")
    for path in extra:
        path.unlink()
        print(f"removed {_shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
