"""Write the student edition of the book: solutions replaced by ``# YOUR CODE HERE`` stubs.

    python -m course_lib.exercises.student SRC_DIR OUT_DIR

Every ``.ipynb`` under ``SRC_DIR`` is copied to the same relative path under ``OUT_DIR`` with

* each region between the lines ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of a code cell
  replaced (the nbgrader convention): an indented region (a function body) by
  ``# YOUR CODE HERE`` and ``raise NotImplementedError()``; a top-level region by one line
  ``name = ...  # YOUR CODE HERE`` per assignment in it (just ``# YOUR CODE HERE`` if none);
* markdown cells with a sphinx-exercise ``{solution}`` directive (or a gated
  ``{solution-start}`` … ``{solution-end}`` range) and cells tagged ``solution`` removed;
* outputs and execution counts stripped.

Other files (images, ``*.bib``, ``*.md``…) are copied unchanged; ``_build``, hidden folders and
``.ipynb_checkpoints`` are skipped.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "# YOUR CODE HERE"
SOLUTION_TAG = "solution"

_SOLUTION_DIRECTIVE = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution\}", re.MULTILINE)
_SOLUTION_START = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution-start\}", re.MULTILINE)
_SOLUTION_END = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution-end\}", re.MULTILINE)
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z_0-9]*(?:\s*,\s*[A-Za-z_][A-Za-z_0-9]*)*)\s*=[^=]")
_SKIP_DIRS = {"_build", ".ipynb_checkpoints", "__pycache__"}


class StudentEditionError(ValueError):
    """A notebook's solution markers are malformed (the message names the file and cell)."""


def _assigned_names(region: list[str]) -> list[str]:
    """Names assigned at the top level of ``region`` (code lines), in order."""
    try:
        tree = ast.parse("\n".join(region))
    except SyntaxError:
        names = []
        for line in region:
            m = _ASSIGNMENT.match(line)
            if m:
                names += [name.strip() for name in m.group(1).split(",")]
        return names
    names: list[str] = []
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def stub_source(source: str, where: str = "") -> str:
    """``source`` with every solution region replaced by a stub (see the module docstring)."""
    lines = source.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == END:
            raise StudentEditionError(f"{where}: line {i + 1}: '{END}' without '{BEGIN}'")
        if line.strip() != BEGIN:
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        j = i + 1
        while j < len(lines) and lines[j].strip() not in (BEGIN, END):
            j += 1
        if j == len(lines) or lines[j].strip() == BEGIN:
            raise StudentEditionError(f"{where}: line {i + 1}: '{BEGIN}' has no matching '{END}'")
        region = lines[i + 1 : j]
        if indent:
            out += [f"{indent}{STUB}", f"{indent}raise NotImplementedError()"]
        else:
            names = _assigned_names(region)
            out += [f"{name} = ...  {STUB}" for name in names] or [STUB]
        i = j + 1
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _is_solution_cell(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    if SOLUTION_TAG in tags:
        return True
    return cell.cell_type == "markdown" and bool(_SOLUTION_DIRECTIVE.search(cell.source))


def student_notebook(nb, where: str = ""):
    """A copy of notebook ``nb`` (nbformat) in the student edition."""
    nb = nbformat.from_dict(nb)
    cells = []
    in_gated = False
    for index, cell in enumerate(nb.cells):
        cell_where = f"{where} cell {index}"
        if cell.cell_type == "markdown":
            if _SOLUTION_START.search(cell.source):
                in_gated = not _SOLUTION_END.search(cell.source)
                continue
            if _SOLUTION_END.search(cell.source):
                in_gated = False
                continue
        if in_gated or _is_solution_cell(cell):
            continue
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source, cell_where)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    if in_gated:
        raise StudentEditionError(f"{where}: '{{solution-start}}' has no '{{solution-end}}'")
    nb.cells = cells
    return nb


def _skipped(relative: Path) -> bool:
    return any(part in _SKIP_DIRS or part.startswith(".") for part in relative.parts[:-1])


def write_student_edition(src: Path, out: Path) -> list[Path]:
    """Write the student edition of every notebook under ``src`` to ``out``; return them."""
    src, out = Path(src).resolve(), Path(out).resolve()
    if not src.is_dir():
        raise StudentEditionError(f"{src}: not a folder")
    written = []
    for path in sorted(src.rglob("*")):
        if not path.is_file() or out == path or out in path.parents:
            continue
        relative = path.relative_to(src)
        if _skipped(relative):
            continue
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            student = student_notebook(nb, str(relative))
            tmp = target.with_name(f".{target.name}.tmp")
            nbformat.write(student, tmp)
            tmp.replace(target)
            written.append(target)
        else:
            shutil.copy2(path, target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m course_lib.exercises.student SRC_DIR OUT_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m course_lib.exercises.student SRC_DIR OUT_DIR", file=sys.stderr)
        return 2
    try:
        written = write_student_edition(Path(args[0]), Path(args[1]))
    except (StudentEditionError, nbformat.reader.NotJSONError) as err:
        print(f"student edition: error: {err}", file=sys.stderr)
        return 1
    print(f"student edition: wrote {len(written)} notebook(s) to {args[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
