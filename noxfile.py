"""Nox sessions: tests, tests_pythons, colab, minimums, notebooks, book, student, lint, bench,
claims.

TensorFlow is a 600 MB install, so the sessions that need it share one virtual environment,
``.nox/course`` (created on first use; rebuilt when ``pyproject.toml`` changes), instead of
one each. Each session installs only the extras it needs (``book`` builds the book without
the test tools); a session that needs an extra the environment lacks adds it in place, and
the stamp file records which extras are installed. ``tests_pythons`` keeps one environment
per other Python version (``.nox/course-py3.12``, ...); ``colab`` and ``minimums`` one each,
installed through a constraints file of ``constraints/`` (rebuilt when it changes). ``lint``
gets its own small one. ``tests``, ``book`` and ``backends`` also install JAX and PyTorch
(CPU builds) into ``.nox/course``: the book times a training step on each backend, and the
tests compare the backends.

    nox -s book                                 # build the book → _build/html
    nox -s lint tests student book              # the whole test suite (what .ci/run runs)
    nox -s colab                                # the unit tests on Colab's Python and versions
    nox -s minimums                             # the unit tests at the declared minimums
    nox -s notebooks                            # the book's chapters under nbval
    nox -s tests_pythons                        # the tests on Python 3.11, 3.12 and 3.13
    nox -s backends                             # the models on TensorFlow, JAX and PyTorch
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).resolve().parent
COURSE_ENV = ROOT / ".nox" / "course"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
#: The Pythons ``tests_pythons`` tries (the newest versions of everything on each).
PYTHONS = ("3.11", "3.12", "3.13")
#: Constraints files (``constraints/NAME.txt``): pinned versions and, on a ``# python: X.Y``
#: line, the Python they are for. ``colab``: Colab's runtime; ``minimums``: the lower bounds.
CONSTRAINTS = ROOT / "constraints"
#: What ``minimums`` and ``colab`` run by default: the unit tests (the slow ones train models
#: and start subprocesses on the same APIs; ``nox -s tests`` runs them) and, on Colab's stack,
#: the setup cell's tests (``colab`` marker).
UNIT_TESTS = ("tests", "-m", "not slow")
COLAB_TESTS = ("tests", "-m", "not slow or colab")

nox.options.sessions = ["lint", "tests", "student", "book"]
nox.options.reuse_existing_virtualenvs = True

QUIET_ENV = {
    # course_lib sets 3 itself (course_lib/_tf_logging.py); here too for code that imports
    # TensorFlow before course_lib. A value set by the caller wins (0 shows every log line).
    "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
    "COURSE_PROFILE": "mini",
    "PYTHONHASHSEED": "0",
}


def _digest(*paths: Path) -> str:
    """One SHA-256 over the contents of ``paths``: an environment's recipe."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _installed_extras(env_dir: Path, wanted_digest: str) -> set[str] | None:
    """The extras recorded in ``env_dir``'s stamp, or None when it must be rebuilt."""
    stamp = env_dir / ".installed-from"
    if not ((env_dir / "bin" / "python").exists() and stamp.exists()):
        return None
    try:
        record = json.loads(stamp.read_text())
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("pyproject_sha256") != wanted_digest:
        return None
    return set(record.get("extras", []))


def _course_python(
    session: nox.Session,
    extras: Sequence[str] = ("test",),
    *,
    interpreter: str = sys.executable,
    env_dir: Path = COURSE_ENV,
    constraints: Path | None = None,
) -> str:
    """The Python of a shared environment with ``course_lib[extras]`` installed.

    Rebuilt when ``pyproject.toml`` (or ``constraints``, a pip constraints file that every
    install goes through) changes; extras it lacks are added in place, so that the sessions
    share one TensorFlow install.
    """
    python = env_dir / "bin" / "python"
    digest = _digest(ROOT / "pyproject.toml", *([constraints] if constraints else []))
    installed = _installed_extras(env_dir, digest)
    if installed is not None and set(extras) <= installed:
        session.log(f"reusing {env_dir} (course_lib[{','.join(sorted(installed))}])")
        return str(python)
    if installed is None:
        if env_dir.exists():
            shutil.rmtree(env_dir)
        session.run(interpreter, "-m", "venv", str(env_dir), external=True)
        session.run(str(python), "-m", "pip", "install", "--upgrade", "pip", external=True)
        installed = set()
    extras = sorted(installed | set(extras))
    target = f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT)
    pinned = ["-c", str(constraints)] if constraints else []
    session.run(str(python), "-m", "pip", "install", *pinned, "-e", target, external=True)
    stamp = {"pyproject_sha256": digest, "extras": extras}
    (env_dir / ".installed-from").write_text(json.dumps(stamp))
    return str(python)


def _find_python(version: str) -> str | None:
    """A working interpreter of ``version`` (e.g. "3.12"): ``python3.12`` on PATH, else one
    installed by pyenv (whose shims fail for versions it has not activated); None if absent."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    installed = sorted(
        pyenv.glob(f"{version}.*/bin/python{version}"),
        key=lambda p: [int(n) if n.isdigit() else -1 for n in p.parts[-3].split(".")],
        reverse=True,
    )
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
    for candidate in [shutil.which(f"python{version}"), *map(str, installed)]:
        if candidate is None:
            continue
        try:
            out = subprocess.run(
                [candidate, "-c", probe], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        lines = out.stdout.split("\n")
        if out.returncode == 0 and lines[0] == version:
            return lines[1]
    return None


A11Y = ROOT / "scripts" / "a11y"
#: pytest-xdist: one worker per core (most tests wait on subprocesses, TensorFlow's start-up or
#: single-threaded Python); a test file stays on one worker, so that a module's fixtures (a
#: trained model, a two-device run) are made once. ``-- -n 0`` runs in one process.
XDIST = ("-n", "auto", "--dist", "loadfile")


def _install_axe(session: nox.Session) -> None:
    """axe-core and playwright-core into ``scripts/a11y`` (versions pinned by its lock file), for
    the book's accessibility check; where npm is missing that check is skipped, and says so."""
    modules = A11Y / "node_modules"
    lock = A11Y / "package-lock.json"
    if modules.is_dir() and modules.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        session.log("npm not found: the book's accessibility check (axe-core) will be skipped")
        return
    session.run(npm, "ci", "--prefix", str(A11Y), "--no-audit", "--no-fund", external=True)


def _env(**extra: str) -> dict[str, str]:
    env = dict(QUIET_ENV)
    env.update(extra)
    return env


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """pytest: unit tests, fault injection and the full-profile path on fixtures."""
    python = _course_python(session, ["book", "test"])
    _install_backends(session, python)  # tests/test_backends.py compares them
    _install_axe(session)  # tests/test_accessibility.py runs it on small pages
    # Agg only here: notebooks need Jupyter's inline backend to show their figures.
    session.run(
        python, "-m", "pytest", *XDIST, "tests", *session.posargs, external=True,
        env=_env(MPLBACKEND="Agg"),
    )  # fmt: skip


@nox.session(venv_backend="none")
def tests_pythons(session: nox.Session) -> None:
    """pytest on each of Python 3.11, 3.12 (Colab's) and 3.13 that this machine has.

    Absent versions are skipped with a message. ``-- 3.12`` picks versions; other arguments go
    to pytest (default: ``tests``).
    """
    versions = [a for a in session.posargs if re.fullmatch(r"3\.\d+", a)] or list(PYTHONS)
    pytest_args = [a for a in session.posargs if a not in versions] or ["tests"]
    found = {v: _find_python(v) for v in versions}
    for version, interpreter in found.items():
        if interpreter is None:
            session.log(f"skipping Python {version}: no working python{version} on this machine")
            continue
        env_dir = COURSE_ENV if version == PYTHON else ROOT / ".nox" / f"course-py{version}"
        python = _course_python(session, ["book", "test"], interpreter=interpreter, env_dir=env_dir)
        session.log(f"Python {version}: pytest {' '.join(pytest_args)}")
        session.run(
            python, "-m", "pytest", *XDIST, *pytest_args, external=True,
            env=_env(MPLBACKEND="Agg"),
        )  # fmt: skip
    if not any(found.values()):
        session.skip(f"none of Python {', '.join(versions)} found")


def _constraints_python(path: Path) -> str:
    """The Python version a constraints file is for: its ``# python: X.Y`` line."""
    match = re.search(r"^# python: (3\.\d+)$", path.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{path}: no '# python: X.Y' line says which Python it is for")
    return match[1]


def _constrained_tests(session: nox.Session, name: str, default: Sequence[str]) -> None:
    """pytest (arguments: the session's, else ``default``) in ``.nox/NAME``:
    course_lib[book,test] installed through ``constraints/NAME.txt`` on the Python it names.

    Where that Python is missing the session is skipped with a message, or fails under CI.
    """
    constraints = CONSTRAINTS / f"{name}.txt"
    version = _constraints_python(constraints)
    interpreter = _find_python(version)
    if interpreter is None:
        missing = f"no working python{version} on this machine ({constraints.name} is for it)"
        if os.environ.get("CI"):
            session.error(missing)
        session.skip(missing)
    python = _course_python(
        session, ["book", "test"], interpreter=interpreter, env_dir=ROOT / ".nox" / name,
        constraints=constraints,
    )  # fmt: skip
    session.run(python, "-m", "pip", "list", "--format=freeze", external=True)  # in the log
    session.run(
        python, "-m", "pytest", *XDIST, *(session.posargs or default), external=True,
        env=_env(MPLBACKEND="Agg", COURSE_CONSTRAINTS=str(constraints)),
    )  # fmt: skip


@nox.session(venv_backend="none")
def colab(session: nox.Session) -> None:
    """pytest on Colab's runtime: its Python and versions (``constraints/colab.txt``).

    Arguments go to pytest (default: ``tests -m "not slow or colab"``).
    """
    _constrained_tests(session, "colab", COLAB_TESTS)


@nox.session(venv_backend="none")
def colab_latest(session: nox.Session) -> None:
    """The same on Colab's default runtime today (``constraints/colab-latest.txt``)."""
    _constrained_tests(session, "colab-latest", COLAB_TESTS)


@nox.session(venv_backend="none")
def minimums(session: nox.Session) -> None:
    """pytest at the declared minimums: the lowest Python and the lower bound of every
    runtime dependency of ``pyproject.toml`` (``constraints/minimums.txt``).

    Arguments go to pytest (default: ``tests -m "not slow"``).
    """
    _constrained_tests(session, "minimums", UNIT_TESTS)


@nox.session(venv_backend="none")
def notebooks(session: nox.Session) -> None:
    """Run every chapter end to end with nbval in the mini profile."""
    python = _course_python(session, ["test"])
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
    python = _course_python(session, ["book"])
    _install_backends(session, python)  # the appendix times a step on each
    jb = str(Path(python).parent / "jupyter-book")
    # The placeholder repository URL is printed as a notice, not a -W error, so that the
    # quickstart builds on a fresh clone; COURSE_ALLOW_PLACEHOLDER_URL=0 makes it an error.
    allow = {"COURSE_ALLOW_PLACEHOLDER_URL": os.environ.get("COURSE_ALLOW_PLACEHOLDER_URL", "1")}
    # A chapter that fails to execute fails the build, and check_book.py then names it (and
    # keeps refusing the pages of a failed execution on later, incremental builds).
    try:
        session.run(
            jb, "build", ".", "-W", "--keep-going", *session.posargs, external=True,
            env=_env(**allow),
        )  # fmt: skip
        built = True
    except CommandFailed:
        built = False
    _install_axe(session)
    session.run(python, str(ROOT / "scripts" / "check_book.py"), external=True)
    if not built:
        session.error("jupyter-book build failed: see its warnings above")
    session.log(f"open {ROOT / '_build' / 'html' / 'index.html'}")


#: The other Keras backends, CPU builds: JAX's wheel from PyPI is CPU-only (about 520 MB
#: installed with SciPy); PyTorch's Linux wheels from PyPI bring several GB of CUDA libraries,
#: so the sessions ask for 2.13.0, whose CPU build pip takes from a local wheel folder
#: (``PIP_FIND_LINKS``) where a machine has one. ``COURSE_TORCH`` replaces the requirement
#: (``torch==2.13.0+cpu --extra-index-url https://download.pytorch.org/whl/cpu``: PyTorch's
#: CPU index; empty: no PyTorch, and the book says it is not installed in that build).
BACKEND_PACKAGES = ("jax", *os.environ.get("COURSE_TORCH", "torch==2.13.0").split())


def _install_backends(session: nox.Session, python: str) -> None:
    """JAX and PyTorch beside TensorFlow in ``python``'s environment (a no-op once there)."""
    session.run(python, "-m", "pip", "install", "--quiet", *BACKEND_PACKAGES, external=True)


#: The tests that build, decode, train and resume, run again on each backend.
BACKEND_TESTS = (
    "tests/test_models.py", "tests/test_decoding.py", "tests/test_attention.py",
    "tests/test_streams.py", "tests/test_training.py",
)  # fmt: skip


@nox.session(venv_backend="none")
def backends(session: nox.Session) -> None:
    """The models, decoding, training and resuming on TensorFlow, JAX and PyTorch (CPU): each
    backend's tests in a process of its own (``KERAS_BACKEND``), then the comparison across
    backends (tests/test_backends.py, which ``tests`` runs too). Arguments go to pytest."""
    python = _course_python(session, ["test"])
    _install_backends(session, python)
    tests = session.posargs or list(BACKEND_TESTS)
    for backend in ("tensorflow", "jax", "torch"):
        session.log(f"KERAS_BACKEND={backend}")
        session.run(
            python, "-m", "pytest", *XDIST, *tests, external=True,
            env=_env(KERAS_BACKEND=backend, MPLBACKEND="Agg"),
        )  # fmt: skip
    session.run(python, "-m", "pytest", "tests/test_backends.py", external=True, env=_env())


@nox.session(venv_backend="none")
def claims(session: nox.Session) -> None:
    """The claims sweep (long, not part of CI): every chapter under the default settings,
    ``COURSE_SEED=1..5`` and ``TF_ENABLE_ONEDNN_OPTS=0`` → benchmarks/results/claims.{json,md}.

    Arguments go to ``scripts/claims.py`` (``-- --seeds 1 2 --chapters 07 08 --jobs 2``)."""
    python = _course_python(session, ["book"])
    session.run(python, str(ROOT / "scripts" / "claims.py"), *session.posargs, external=True,
                env=_env())  # fmt: skip


@nox.session(venv_backend="none")
def student(session: nox.Session) -> None:
    """The student edition, colab/book: up to date with book/, and every notebook runs (nbval)."""
    python = _course_python(session)
    session.run(python, str(ROOT / "scripts" / "colab_notebooks.py"), "--check", external=True)
    session.run(
        python,
        "-m",
        "pytest",
        "--nbval-lax",
        "-p",
        "no:cacheprovider",
        str(ROOT / "colab" / "book"),
        "--rootdir",
        str(ROOT),
        *session.posargs,
        external=True,
        env=_env(),
    )


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the tests): writes benchmarks/results/*.json and *.md."""
    python = _course_python(session, [])
    args = session.posargs or ["--scale", os.environ.get("BENCH_SCALE", "0.1")]
    session.run(python, "-m", "benchmarks.run", *args, external=True, env=_env())


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the library, tests, benchmarks and notebooks;
    mypy over course_lib (it ships py.typed)."""
    ruff_env = ROOT / ".nox" / "lint"
    ruff, mypy = ruff_env / "bin" / "ruff", ruff_env / "bin" / "mypy"
    if not (ruff.exists() and mypy.exists()):
        session.run(sys.executable, "-m", "venv", str(ruff_env), external=True)
        tools = ("ruff>=0.5", "mypy>=1.10", "numpy>=1.23")  # mypy reads NumPy's types
        session.run(str(ruff_env / "bin" / "python"), "-m", "pip", "install", *tools, external=True)
    session.run(str(ruff), "check", ".", external=True)
    session.run(str(ruff), "format", "--check", ".", external=True)
    session.run(str(mypy), external=True)  # over course_lib: [tool.mypy] in pyproject.toml
