"""Nox sessions: tests, notebooks, book, student, lint, bench.

TensorFlow is a 600 MB install, so the sessions that need it share one virtual environment,
``.nox/course`` (created on first use; reinstalled when ``pyproject.toml`` changes), instead
of one each. ``lint`` gets its own small environment.

    nox -s book                                 # build the book → _build/html
    nox -s lint tests notebooks student book    # the whole test suite (what .ci/run runs)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
COURSE_ENV = ROOT / ".nox" / "course"
STAMP = COURSE_ENV / ".installed-from"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

nox.options.sessions = ["lint", "tests", "notebooks", "student", "book"]
nox.options.reuse_existing_virtualenvs = True

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "COURSE_PROFILE": "mini",
    "PYTHONHASHSEED": "0",
}


def _course_python(session: nox.Session) -> str:
    """The shared environment's Python, with ``course_lib[book,test]`` installed."""
    python = COURSE_ENV / "bin" / "python"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        session.log(f"reusing {COURSE_ENV}")
        return str(python)
    if COURSE_ENV.exists():
        shutil.rmtree(COURSE_ENV)
    session.run(sys.executable, "-m", "venv", str(COURSE_ENV), external=True)
    session.run(str(python), "-m", "pip", "install", "--upgrade", "pip", external=True)
    session.run(str(python), "-m", "pip", "install", "-e", f"{ROOT}[book,test]", external=True)
    STAMP.write_text(wanted)
    return str(python)


def _env(**extra: str) -> dict[str, str]:
    env = dict(QUIET_ENV)
    env.update(extra)
    return env


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """pytest: unit tests, fault injection and the full-profile path on fixtures."""
    python = _course_python(session)
    # Agg only here: notebooks need Jupyter's inline backend to show their figures.
    session.run(
        python, "-m", "pytest", "tests", *session.posargs, external=True, env=_env(MPLBACKEND="Agg")
    )


@nox.session(venv_backend="none")
def notebooks(session: nox.Session) -> None:
    """Run every chapter end to end with nbval in the mini profile."""
    python = _course_python(session)
    session.run(
        python,
        "-m",
        "pytest",
        "--nbval-lax",
        "-p",
        "no:cacheprovider",
        "book",
        *session.posargs,
        external=True,
        env=_env(),
    )


@nox.session(venv_backend="none")
def book(session: nox.Session) -> None:
    """Build the book (executing the notebooks on the synthetic data) → _build/html."""
    python = _course_python(session)
    jb = str(Path(python).parent / "jupyter-book")
    session.run(jb, "build", ".", "-W", "--keep-going", *session.posargs, external=True, env=_env())
    session.run(python, str(ROOT / "scripts" / "check_book.py"), external=True)
    session.log(f"open {ROOT / '_build' / 'html' / 'index.html'}")


@nox.session(venv_backend="none")
def student(session: nox.Session) -> None:
    """Write the student edition to _build/student and run it with nbval."""
    python = _course_python(session)
    out = ROOT / "_build" / "student"
    session.run(python, "-m", "course_lib.exercises.student", "book", str(out), external=True)
    session.run(
        python,
        "-m",
        "pytest",
        "--nbval-lax",
        "-p",
        "no:cacheprovider",
        str(out),
        "--rootdir",
        str(ROOT),
        external=True,
        env=_env(),
    )


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the tests): writes benchmarks/results/*.json and *.md."""
    python = _course_python(session)
    args = session.posargs or ["--scale", os.environ.get("BENCH_SCALE", "0.1")]
    session.run(python, "-m", "benchmarks.run", *args, external=True, env=_env())


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the library, tests, benchmarks and notebooks."""
    ruff_env = ROOT / ".nox" / "lint"
    ruff = ruff_env / "bin" / "ruff"
    if not ruff.exists():
        session.run(sys.executable, "-m", "venv", str(ruff_env), external=True)
        session.run(
            str(ruff_env / "bin" / "python"), "-m", "pip", "install", "ruff>=0.5", external=True
        )
    session.run(str(ruff), "check", ".", external=True)
    session.run(str(ruff), "format", "--check", ".", external=True)
