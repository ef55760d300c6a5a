"""A clear message at import when an installed dependency is older than course_lib supports.

The lowest supported versions are the lower bounds of ``pyproject.toml``'s
``[project.dependencies]`` (the oldest versions the unit tests pass with: ``nox -s minimums``).
They reach this module through the installed package's metadata (``Requires-Dist``), and the
installed versions through ``importlib.metadata``: the check imports neither TensorFlow nor
anything else heavy. Where ``course_lib`` is imported from a folder without being installed
there is no metadata, and nothing is checked.
"""

from __future__ import annotations

import importlib.metadata
import re

DISTRIBUTION = "course_lib"
#: ``name>=version`` with no environment marker (an extra's requirement has ``; extra == …``).
_LOWER_BOUND = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*(\d+(?:\.\d+)*)\s*$"
)
_RELEASE = re.compile(r"\d+(?:\.\d+)*")


class OldDependencyError(ImportError):
    """An installed dependency is older than the oldest version course_lib is tested with."""


def release(version: str) -> tuple[int, ...]:
    """The numbers a version starts with: ``"2.16.1"`` → (2, 16, 1), ``"2.0.0rc1"`` → (2, 0, 0)."""
    match = _RELEASE.match(version.strip())
    return tuple(int(n) for n in match.group().split(".")) if match else ()


def is_older(installed: str, required: str) -> bool:
    """True when ``installed`` comes before ``required`` (a pre-release counts as its release)."""
    have, need = release(installed), release(required)
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) < need + (0,) * (
        width - len(need)
    )


def minimums() -> dict[str, str]:
    """Package → lowest supported version, from the installed course_lib's ``Requires-Dist``
    (empty when course_lib is imported without being installed)."""
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    return {m[1]: m[2] for m in map(_LOWER_BOUND.match, requirements) if m}


def too_old(required: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(package, installed, required)`` for each installed package older than required;
    a package that is not installed is left to its own import error."""
    found = []
    for name, minimum in required.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if is_older(installed, minimum):
            found.append((name, installed, minimum))
    return found


def message(old: list[tuple[str, str, str]]) -> str:
    """What to tell the user: each package, its installed and required versions, the fix."""
    lines = [
        f"course_lib needs newer versions of {len(old)} installed package(s):"
    ]
    lines += [
        f"  {name} {have} is installed; course_lib needs {name}>={need}"
        for name, have, need in old
    ]
    specs = " ".join(f'"{name}>={need}"' for name, _, need in old)
    lines += [
        "Upgrade them, then restart Python (in a notebook: restart the kernel):",
        f"  python -m pip install --upgrade {specs}",
        "(in a notebook cell: %pip install --upgrade ...). The README's 'Supported versions'",
        "lists the versions the course is tested with.",
    ]
    return "\n".join(lines)


def check() -> None:
    """Raise :class:`OldDependencyError` if a dependency is older than course_lib supports."""
    old = too_old(minimums())
    if old:
        raise OldDependencyError(message(old))
