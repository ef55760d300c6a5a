"""The shape of the library: its import graph has no cycle and keeps to the layers of
ARCHITECTURE.md, every module imports in a fresh interpreter, and every function fits on a
screen."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "course_lib"
#: The longest a function may be, in lines from ``def`` to its end, docstring included; drawing
#: functions (``course_lib/viz``) may be longer, as a figure is many small calls in a row. A
#: screen holds 60 lines of the project's 100-column code; the library is formatted at 79
#: columns (the chapters include it), where the same code takes 100/79 as many lines.
MAX_LINES = 60
MAX_DRAWING_LINES = 80
LIBRARY_WIDTH, PROJECT_WIDTH = 79, 100


def screen_lines(lines: int, width: int) -> int:
    """``lines`` of the project's width, as lines of code ``width`` columns wide."""
    return round(lines * PROJECT_WIDTH / width)


def module_name(path: Path) -> str:
    """``course_lib/data/karpathy.py`` → ``course_lib.data.karpathy`` (a package: its name)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The course_lib modules that module ``name`` imports, at any depth of its code (an
    import inside a function counts: it hides a cycle, it does not remove it)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from course_lib import config" imports the module course_lib.config
            targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_imports_inside_functions(tmp_path):
    source = "def f():\n    from course_lib.models import StepModel\n    import course_lib.io\n"
    (tmp_path / "m.py").write_text(source)
    assert imported("x", tmp_path / "m.py") == {"course_lib.models", "course_lib.io"}


def test_course_lib_has_no_import_cycle():
    assert cycles(GRAPH) == []


@pytest.mark.slow
def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(n for n in MODULES if not n.endswith("__main__"))
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    out = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]


def layers(text: str) -> dict[str, int]:
    """``{top-level module: layer}`` from the block under "The layers, as the tests read
    them" in ARCHITECTURE.md (``course_lib`` itself: the package's ``__init__``)."""
    block = re.search(r"as the tests read them\n+```text\n(.*?)```", text, re.S)
    assert block, "ARCHITECTURE.md has no block of layers for the tests"
    found = {}
    for line in block.group(1).strip().splitlines():
        number, *names = line.split()
        found.update(dict.fromkeys(names, int(number)))
    return found


LAYERS = layers((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))


def unit(name: str) -> str:
    """The top-level module a module belongs to: ``course_lib.data.karpathy`` → ``data``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "course_lib"


def against_the_layers(graph: dict[str, set[str]], layer_of: dict[str, int]) -> list[str]:
    """Every import from a lower layer to a higher one, as ``a (3) imports b (5)``."""
    wrong = []
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = layer_of[unit(name)], layer_of[unit(target)]
            if b > a:
                wrong.append(f"{name} ({a}) imports {target} ({b})")
    return wrong


def test_every_module_has_a_layer():
    assert {unit(name) for name in MODULES} - set(LAYERS) == set()
    assert set(LAYERS) - {unit(name) for name in MODULES} == set()  # no stale row


def test_imports_go_down_the_layers():
    assert against_the_layers(GRAPH, LAYERS) == []


def test_an_import_against_the_layers_is_found():
    graph = {"course_lib.io": {"course_lib.pipeline"}, "course_lib.pipeline": {"course_lib.io"}}
    assert against_the_layers(graph, {"io": 1, "pipeline": 6}) == [
        "course_lib.io (1) imports course_lib.pipeline (6)"
    ]


def _lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines, less those of the classes it defines (their methods are measured
    on their own: a class defined in a function, after an import it needs, is no longer a
    function for it)."""
    classes = [n for n in ast.walk(function) if isinstance(n, ast.ClassDef)]
    outer = [c for c in classes if not any(c is not d and _inside(c, d) for d in classes)]
    return (
        function.end_lineno - function.lineno + 1 - sum(c.end_lineno - c.lineno + 1 for c in outer)
    )


def _inside(node: ast.AST, outer: ast.AST) -> bool:
    return outer.lineno <= node.lineno and node.end_lineno <= outer.end_lineno


def long_functions(path: Path, limit: int, root: Path = ROOT) -> list[str]:
    """The functions and methods of ``path`` longer than ``limit`` lines, with their length."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = _lines(node)
            if length > limit:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_a_screen():
    too_long = []
    for folder in ("course_lib", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            drawing = path.parent == PACKAGE / "viz"
            limit = MAX_DRAWING_LINES if drawing else MAX_LINES
            if folder == "course_lib":
                limit = screen_lines(limit, LIBRARY_WIDTH)
            too_long += long_functions(path, limit)
    assert too_long == []


def test_a_long_function_is_found(tmp_path):
    body = "".join(f"    x{k} = {k}\n" for k in range(60))
    (tmp_path / "m.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}")
    path = tmp_path / "m.py"
    assert [f.split()[1] for f in long_functions(path, 60, tmp_path)] == ["long"]


def test_a_class_defined_in_a_function_is_measured_by_its_methods(tmp_path):
    body = "".join(f"        x{k} = {k}\n" for k in range(60))
    source = f"def factory():\n    class Made:\n{body}\n    return Made\n"
    (tmp_path / "m.py").write_text(source)
    assert long_functions(tmp_path / "m.py", 60, tmp_path) == []
