"""The project's own files install everything: pyproject.toml and environment.yml agree."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO_ROOT

tomllib = pytest.importorskip(
    "tomllib", reason="tomllib is in the standard library from Python 3.11"
)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(requirement: str) -> str:
    return requirement.strip().lower().replace("_", "-").replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("book", "test", "dev"):
        reqs += project["optional-dependencies"][extra]
    return {_name(r): _spec(r) for r in reqs}


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


def test_environment_yml_installs_the_project_with_book_and_test_extras():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(r.startswith("-e .[") and "book" in r and "test" in r for r in pip)


def test_tensorflow_and_keras_have_lower_bounds_only_so_colab_keeps_its_own():
    reqs = _pyproject_requirements()
    assert reqs["tensorflow"] == "tensorflow>=2.16"
    assert reqs["keras"] == "keras>=3"


def test_jupyter_book_is_pinned_to_version_1():
    assert _pyproject_requirements()["jupyter-book"] == "jupyter-book>=1.0,<2"


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in block.strip().splitlines()]
    assert len(commands) == 2, "the quickstart has exactly two commands"
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    nox_line = commands[1].split("&&")[-1].strip()
    assert nox_line in ci
    assert "nox -s book" in commands[0]
