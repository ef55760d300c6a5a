"""An older TensorFlow, Keras or NumPy gets a clear message at ``import course_lib``, read from
package metadata alone; and a nox session's environment has the versions it pins."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from course_lib import _versions


def test_the_minimums_are_pyprojects_lower_bounds():
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    declared = dict(re.fullmatch(r"(\S+)>=(\S+)", d).groups() for d in dependencies)
    assert _versions.minimums() == declared, (
        "the installed course_lib's metadata is not pyproject.toml's: reinstall it "
        "(pip install -e .)"
    )


@pytest.mark.parametrize(
    ("installed", "required", "older"),
    [
        ("2.15.1", "2.16.1", True),
        ("2.16.1", "2.16.1", False),
        ("2.21.0", "2.16.1", False),
        ("3.3.3", "3.4.0", True),
        ("3.4", "3.4.0", False),
        ("3.10.0", "3.4.0", False),  # numbers, not text: 10 > 4
        ("2.16.0rc0", "2.16.1", True),
        ("1.26.4", "1.23.5", False),
    ],
)
def test_versions_compare_as_numbers(installed, required, older):
    assert _versions.is_older(installed, required) is older


def test_an_older_package_is_named_with_both_versions_and_the_upgrade_command(monkeypatch):
    real = importlib.metadata.version
    installed = {"tensorflow": "2.15.1", "numpy": "1.22.4"}
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: installed.get(name) or real(name)
    )
    minimums = {"tensorflow": "2.16.1", "keras": "3.4.0", "numpy": "1.23.5"}
    monkeypatch.setattr(_versions, "minimums", lambda: minimums)
    with pytest.raises(_versions.OldDependencyError) as caught:
        _versions.check()
    text = str(caught.value)
    assert "tensorflow 2.15.1 is installed; course_lib needs tensorflow>=2.16.1" in text
    assert "numpy 1.22.4 is installed; course_lib needs numpy>=1.23.5" in text
    assert "keras" not in text  # installed here at a supported version
    assert 'pip install --upgrade "tensorflow>=2.16.1" "numpy>=1.23.5"' in text
    assert isinstance(caught.value, ImportError)


def test_a_missing_package_is_left_to_its_own_import_error(monkeypatch):
    monkeypatch.setattr(_versions, "minimums", lambda: {"no-such-package-here": "1.0"})
    _versions.check()


def test_import_course_lib_checks_versions_without_importing_tensorflow():
    code = (
        "import sys, course_lib; print(sorted({'tensorflow', 'keras', 'numpy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_course_lib_on_an_old_stack_fails_with_the_message(tmp_path):
    """A distribution ``numpy`` of version 1.0 shadowing the real one's metadata."""
    (tmp_path / "numpy-1.0.dist-info").mkdir()
    (tmp_path / "numpy-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: numpy\nVersion: 1.0\n"
    )
    if "numpy" not in _versions.minimums():
        pytest.skip("course_lib is not installed here (no metadata to read minimums from)")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import course_lib"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode != 0
    assert "OldDependencyError" in result.stderr
    assert f"numpy 1.0 is installed; course_lib needs numpy>={_versions.minimums()['numpy']}" in (
        result.stderr
    )


def test_this_environment_has_the_versions_its_constraints_file_pins():
    """Under ``nox -s colab`` or ``nox -s minimums`` (which name their file in
    ``COURSE_CONSTRAINTS``): pip installed exactly the pinned versions, on the named Python."""
    path = os.environ.get("COURSE_CONSTRAINTS")
    if not path:
        pytest.skip("not run by a nox session with a constraints file")
    text = Path(path).read_text()
    python = re.search(r"^# python: (3\.\d+)$", text, re.MULTILINE)[1]
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == python
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, version = line.split("==")
            assert importlib.metadata.version(package) == version, package
