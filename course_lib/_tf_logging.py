"""Quiet TensorFlow's start-up log lines without hiding real errors.

What TensorFlow 2.21 prints to stderr on a machine without CUDA, and what controls it:

- ``TF_CPP_MIN_LOG_LEVEL`` is read once, when TensorFlow is imported; setting it later has no
  effect. ``1`` hides INFO lines (``cpu_feature_guard.cc``), ``3`` also hides the ERROR lines
  ``E0000 … cuda_platform.cc failed call to cuInit``, ``node_def_util.cc NodeDef mentions
  attribute use_unbounded_threadpool`` and ``util.cc oneDNN supports DT_BOOL only on platforms
  with AVX-512``: log lines, not failures. A real TensorFlow error is raised as a Python
  exception, and shows whatever the level.
- The lines printed while TensorFlow's C++ libraries load (``WARNING: All log messages before
  absl::InitializeLog() is called are written to STDERR``, ``port.cc oneDNN custom operations
  are on``, ``cudart_stub.cc Could not find cuda drivers``) come before TensorFlow reads the
  level, so no variable hides them. :func:`install` therefore runs the first ``import
  tensorflow`` with file descriptor 2 sent to a temporary file, and then writes back every line
  except TensorFlow's log lines below the level: Python warnings and tracebacks still show.

``TF_CPP_MIN_LOG_LEVEL=0`` (set before importing ``course_lib``) shows everything again.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType

LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
#: Hide INFO, WARNING and ERROR log lines; exceptions still show.
DEFAULT_LEVEL = "3"

_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
#: absl's format (``E0000 00:00:1700000000.123 12345 file.cc:52] …``) and TensorFlow's own
#: (``2025-01-01 12:00:00.123456: I tensorflow/…/file.cc:31] …``).
_LOG_LINE = re.compile(
    rb"^(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<tf>[IWEF]) \S+:\d+\])"
)
_ABSL_BANNER = (
    b"WARNING: All log messages before absl::InitializeLog() is called"
)


def min_log_level() -> int:
    """TensorFlow's C++ log level, ``$TF_CPP_MIN_LOG_LEVEL`` as a number 0–3 (0 if unset)."""
    try:
        return min(max(int(os.environ.get(LEVEL_ENV, "0")), 0), 3)
    except ValueError:
        return 0


def is_quiet_line(line: bytes, level: int) -> bool:
    """True for a TensorFlow log line that ``level`` (``TF_CPP_MIN_LOG_LEVEL``) hides."""
    if level < 1:
        return False
    if line.startswith(_ABSL_BANNER):
        return True
    match = _LOG_LINE.match(line)
    return (
        match is not None and _SEVERITY[match["absl"] or match["tf"]] < level
    )


@contextlib.contextmanager
def stderr_without_log_lines(level: int) -> Iterator[None]:
    """Collect what is written to file descriptor 2 inside the block, then write it back
    without the TensorFlow log lines that ``level`` hides (all of it, even on an exception)."""
    if level < 1:
        yield
        return
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(AttributeError, ValueError, OSError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                capture.seek(0)
                kept = [
                    line
                    for line in capture.read().splitlines(keepends=True)
                    if not is_quiet_line(line, level)
                ]
                if kept:
                    os.write(2, b"".join(kept))
    finally:
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` inside :func:`stderr_without_log_lines`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(
        self, spec: importlib.machinery.ModuleSpec
    ) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with stderr_without_log_lines(min_log_level()):
            self._loader.exec_module(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and wraps its loader; used once."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Default ``TF_CPP_MIN_LOG_LEVEL`` to 3 and quiet the first ``import tensorflow``.

    Imports nothing heavy; does nothing to a TensorFlow that is already imported (its level
    was read then). Safe to call more than once.
    """
    os.environ.setdefault(LEVEL_ENV, DEFAULT_LEVEL)
    if "tensorflow" in sys.modules:
        return
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
