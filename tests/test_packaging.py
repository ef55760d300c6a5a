"""The project's own files install everything: pyproject.toml, environment.yml and the
constraints files agree, every package a test imports is declared, and CI runs what the README
says."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

import pytest
import yaml
from conftest import REPO_ROOT

#: Top-level modules of the repository itself (not packages to install).
LOCAL_MODULES = {
    "course_lib", "benchmarks", "conftest", "http_fixtures", "faults", "readability"
}  # fmt: skip


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(requirement: str) -> str:
    return requirement.strip().lower().replace("_", "-").replace(" ", "")


def _project() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def _pyproject_requirements(extras: tuple[str, ...] = ("book", "test", "dev")) -> dict[str, str]:
    project = _project()
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return {_name(r): _spec(r) for r in reqs}


def _lower_bounds() -> dict[str, str]:
    """Runtime dependency -> its lower bound (``name>=version``, the only form allowed)."""
    bounds = {}
    for requirement in _project()["dependencies"]:
        match = re.fullmatch(r"([a-z0-9-]+)>=(\d+(?:\.\d+)*)", _spec(requirement))
        assert match, f"{requirement!r}: a runtime dependency is 'name>=version' and nothing else"
        bounds[match[1]] = match[2]
    return bounds


def _constraints(name: str) -> tuple[str, dict[str, str]]:
    """``constraints/NAME.txt``: the Python it is for (``# python: X.Y``) and its pins."""
    text = (REPO_ROOT / "constraints" / f"{name}.txt").read_text()
    python = re.search(r"^# python: (3\.\d+)$", text, re.MULTILINE)
    assert python, f"constraints/{name}.txt has no '# python: X.Y' line"
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, version = line.split("==")
            pins[_name(package)] = version
    return python[1], pins


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.match(r"\d+(?:\.\d+)*", version).group().split("."))


def _noxfile() -> ast.Module:
    return ast.parse((REPO_ROOT / "noxfile.py").read_text())


def _nox_pythons() -> tuple[str, ...]:
    for node in _noxfile().body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PYTHONS":
            return ast.literal_eval(node.value)
    raise AssertionError("noxfile.py has no PYTHONS")


def _imported_by_tests() -> dict[str, str]:
    """Top-level modules the tests import (or ``pytest.importorskip``), with a file each."""
    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [node.args[0].value]
            for name in names:
                found.setdefault(name.split(".")[0], path.name)
    return found


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    reqs: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            reqs += [r for r in dep["pip"] if not r.startswith("-e")]
        elif _name(dep) not in ("python", "pip"):
            reqs.append(dep)
    return {_name(r): _spec(r) for r in reqs}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_environment_yml_python_is_one_the_tests_run_on():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and _name(d) == "python")
    assert python.split("=", 1)[1] in _nox_pythons()


def test_environment_yml_installs_the_project_with_book_and_test_extras():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(r.startswith("-e .[") and "book" in r and "test" in r for r in pip)


def test_runtime_dependencies_have_lower_bounds_only_so_colab_keeps_its_own():
    bounds = _lower_bounds()  # fails on an upper bound or a pin
    assert {"tensorflow", "keras", "numpy"} <= set(bounds)


def test_the_minimums_constraints_pin_every_lower_bound_of_pyproject():
    python, pins = _constraints("minimums")
    assert pins == _lower_bounds()
    assert _project()["requires-python"] == f">={python}"


@pytest.mark.parametrize("runtime", ["colab", "colab-latest"])
def test_colabs_versions_meet_the_lower_bounds_so_installing_course_lib_keeps_them(runtime):
    python, pins = _constraints(runtime)
    assert python in _nox_pythons()
    assert {"tensorflow", "keras", "numpy", "matplotlib", "pillow"} <= set(pins)
    for package, minimum in _lower_bounds().items():
        assert package in pins, f"constraints/{runtime}.txt does not say which {package} it has"
        assert _release(pins[package]) >= _release(minimum), (package, pins[package], minimum)


def test_jupyter_book_is_pinned_to_version_1():
    assert _pyproject_requirements()["jupyter-book"] == "jupyter-book>=1.0,<2"


def test_every_package_a_test_imports_is_a_dependency_or_in_the_test_extra():
    # The test sessions install the book extra too: the tests check the book's extensions.
    declared = set(_pyproject_requirements(("test",))) | set(_pyproject_requirements(("book",)))
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in _imported_by_tests().items():
        if module in sys.stdlib_module_names or module in LOCAL_MODULES:
            continue
        if module.startswith("test_"):
            continue
        names = {_name(d) for d in distributions.get(module, [])}
        if not names & declared:
            missing.append(f"{module} ({where}; distribution {sorted(names) or 'not installed'})")
    assert not missing, f"imported by tests but not declared: {missing}"


def test_python_versions_have_no_upper_cap_and_start_at_the_oldest_tested():
    requires = _project()["requires-python"]
    assert "<" not in requires, "TensorFlow ships for new Pythons; no cap that nothing requires"
    pythons = _nox_pythons()
    assert _constraints("colab")[0] in pythons, "tests_pythons runs Colab's Python too"
    assert requires == f">={pythons[0]}"


def test_the_book_session_installs_the_book_extra_without_the_test_tools():
    book = next(n for n in _noxfile().body if isinstance(n, ast.FunctionDef) and n.name == "book")
    calls = [
        ast.literal_eval(c.args[1])
        for c in ast.walk(book)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "_course_python"
    ]
    assert calls == [["book"]]
    book_extra = set(_pyproject_requirements(("book",)))
    assert not {"pycocoevalcap", "pytest", "nbval"} & book_extra


def test_ci_runs_the_unit_tests_on_colabs_stack_too():
    commands = [x for x in (REPO_ROOT / ".ci" / "run").read_text().splitlines() if "nox -s" in x]
    assert commands[-1].strip() == "python3 -m nox -s colab colab_latest"
    assert "python3 -m nox -s colab colab_latest" in (REPO_ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in block.strip().splitlines()]
    assert len(commands) == 2, "the quickstart has exactly two commands"
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    nox_line = commands[1].split("&&")[-1].strip()
    assert nox_line in ci
    assert "nox -s book" in commands[0]
