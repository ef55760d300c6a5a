"""Every chapter opens with the Colab setup cell, and that cell works in a simulated Colab.

The setup cell (``scripts/setup_cell.py``) installs ``course_lib`` in Colab only, keeps the data
on Google Drive and warns when no GPU is attached. The ``colab`` tests run it in a fresh virtual
environment with a fake ``google.colab`` and ``course_lib`` built from this checkout (offline):
once on its own, and once with this environment's packages preinstalled, as Colab's are, where
its install must leave TensorFlow, Keras and NumPy as they were (``nox -s colab`` runs them on
Colab's versions).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from course_lib import _versions

BOOK = REPO_ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def _load_setup_cell_module():
    spec = importlib.util.spec_from_file_location("setup_cell", REPO_ROOT / "scripts/setup_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


setup_cell = _load_setup_cell_module()


def _config() -> dict:
    return yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))


def _first_code_cell(path: Path) -> dict:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = next((c for c in notebook["cells"] if c["cell_type"] == "code"), None)
    assert cell is not None, f"{path.name} has no code cell"
    return cell


def test_the_book_has_chapter_notebooks():
    assert NOTEBOOKS, f"no notebooks in {BOOK}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_first_code_cell_is_the_hidden_setup_cell(path):
    cell = _first_code_cell(path)
    assert "".join(cell["source"]) == setup_cell.setup_cell_source(), (
        f"{path.name}: the first code cell is not the current setup cell; "
        "run `python scripts/setup_cell.py`"
    )
    assert "remove-cell" in cell.get("metadata", {}).get("tags", []), (
        f"{path.name}: the setup cell must be tagged remove-cell (hidden in the book)"
    )


def test_setup_cell_installs_from_the_repository_and_branch_of_config():
    repo = _config()["repository"]
    source = setup_cell.setup_cell_source()
    url, branch = repo["url"].rstrip("/"), repo.get("branch", "main")
    assert f'REPO_URL = "{url}"' in source
    assert f'BRANCH = "{branch}"' in source
    assert "git+{REPO_URL}@{BRANCH}" in source
    assert 'if "google.colab" in sys.modules:' in source


def test_launch_buttons_open_colab_from_the_configured_repository():
    cfg = _config()
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert cfg["repository"]["url"].startswith("https://github.com/")
    assert cfg["repository"].get("branch")


def test_setup_cell_does_nothing_outside_colab():
    env = {k: v for k, v in os.environ.items() if k != "COURSE_DATA_DIR"}
    code = setup_cell.setup_cell_source() + "\nprint(os.environ.get('COURSE_DATA_DIR'))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


FAKE_COLAB = {
    "google/__init__.py": "",
    "google/colab/__init__.py": '"""A stand-in for Colab\'s module (tests only)."""\n',
    "google/colab/drive.py": (
        "import os\n\n\n"
        "def mount(mountpoint, force_remount=False):\n"
        "    with open(os.environ['FAKE_DRIVE_LOG'], 'a') as log:\n"
        "        log.write(mountpoint + '\\n')\n"
    ),
}

SHOW_INSTALLED = "import course_lib; print(course_lib.__version__, course_lib.__file__)"
PRELUDE = "import google.colab  # Colab has it imported before any cell runs\n"
EPILOGUE = "\nprint('COURSE_DATA_DIR=' + os.environ['COURSE_DATA_DIR'])\n"


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel of course_lib built from a copy of this checkout (offline, no build isolation)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    shutil.copytree(
        REPO_ROOT / "course_lib",
        src / "course_lib",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(dist), str(src)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    wheels = list(dist.glob("course_lib-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _run_setup_cell(tmp_path: Path, python: Path, **pip_env: str):
    """Run the setup cell with ``python`` in a simulated Colab (a fake ``google.colab``, Drive
    mounts logged to ``tmp_path/drive.log``), offline: pip reads no configuration file and no
    index. ``pip_env`` adds pip's settings (``PIP_*``) and ``COURSE_LIB_SPEC``."""
    fake = tmp_path / "fake_colab"
    for rel, text in FAKE_COLAB.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COURSE_DATA_DIR", "PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PIP_")
    }
    env.update(
        PYTHONPATH=str(fake),
        FAKE_DRIVE_LOG=str(tmp_path / "drive.log"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        **pip_env,
    )
    script = tmp_path / "cell.py"
    script.write_text(PRELUDE + setup_cell.setup_cell_source() + EPILOGUE, encoding="utf-8")
    return subprocess.run(
        [str(python), str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


#: What Colab has installed before the setup cell runs, and must keep as it is.
PREINSTALLED = ("tensorflow", "keras", "numpy")
SHOW_VERSIONS = (
    "import importlib.metadata as m, json, sys; "
    "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
)


def _preinstalled_view(folder: Path) -> Path:
    """A folder of links to everything installed in this environment except course_lib: the
    packages a fresh interpreter sees as preinstalled, as Colab's are."""
    view = folder / "preinstalled"
    view.mkdir()
    site = Path(sysconfig.get_path("purelib"))
    own = ("course_lib", "__editable__", "_course_lib", "__editable___course_lib")
    for entry in site.iterdir():
        if not entry.name.lower().startswith(own) and entry.suffix != ".pth":
            (view / entry.name).symlink_to(entry)
    return view


@dataclass
class ColabInstall:
    """The setup cell, run once in a simulated Colab (see :func:`colab_install`)."""

    folder: Path
    python: Path
    site: Path  # the venv's own site-packages, where pip installs
    result: subprocess.CompletedProcess
    before: dict[str, str]  # the preinstalled versions of PREINSTALLED and course_lib's deps


@pytest.fixture(scope="module")
def colab_install(tmp_path_factory) -> ColabInstall:
    """A fresh venv that sees this environment's packages as preinstalled (under ``nox -s
    colab``: Colab's versions), and the setup cell run in it: its own pip install of a wheel
    built from this checkout, dependencies resolved, offline."""
    folder = tmp_path_factory.mktemp("colab")
    wheel = _build_wheel(folder)
    venv = folder / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )  # pip comes with the preinstalled packages, as in Colab
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            text=True, timeout=60,
        ).strip()
    )  # fmt: skip
    (site / "preinstalled.pth").write_text(f"{_preinstalled_view(folder)}\n")
    names = [*PREINSTALLED, *_versions.minimums()]
    before = {n: importlib.metadata.version(n) for n in names}
    result = _run_setup_cell(folder, python, COURSE_LIB_SPEC=str(wheel))
    return ColabInstall(folder, python, site, result, before)


@pytest.mark.slow
@pytest.mark.colab
def test_setup_cell_in_a_simulated_colab_installs_course_lib_and_uses_drive(colab_install):
    result = colab_install.result
    assert result.returncode == 0, result.stdout + result.stderr
    installed = subprocess.run(
        [str(colab_install.python), "-c", SHOW_INSTALLED],
        cwd=colab_install.folder, env={"PATH": os.environ.get("PATH", "")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    version, location = installed.stdout.split()
    assert version == _load_version()
    assert location.startswith(str(colab_install.site))  # the wheel, not this checkout

    assert (colab_install.folder / "drive.log").read_text().splitlines() == ["/content/drive"]
    data_line = [line for line in result.stdout.splitlines() if line.startswith("COURSE_DATA_DIR=")]
    assert data_line == ["COURSE_DATA_DIR=/content/drive/MyDrive/captioning-course/data"]
    if shutil.which("nvidia-smi") is None:
        assert "WARNING: no GPU is attached" in result.stdout


@pytest.mark.slow
@pytest.mark.colab
def test_the_setup_cell_leaves_the_preinstalled_tensorflow_keras_and_numpy_as_they_are(
    colab_install,
):
    assert colab_install.result.returncode == 0, colab_install.result.stderr
    site = str(colab_install.site)
    installed = {d.metadata["Name"] for d in importlib.metadata.distributions(path=[site])}
    assert installed == {"course_lib"}, f"the setup cell also installed {installed}"
    names = list(colab_install.before)
    after = subprocess.run(
        [str(colab_install.python), "-c", SHOW_VERSIONS, *names],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == colab_install.before


def _load_version() -> str:
    match = re.search(
        r'^__version__ = "([^"]+)"$', (REPO_ROOT / "course_lib" / "__init__.py").read_text(), re.M
    )
    assert match, "course_lib/__init__.py sets no __version__"
    return match[1]
