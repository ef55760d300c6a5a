"""Shared set-up of the fault-injection suite (the parent ``tests/conftest.py`` also applies)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:  # for ``http_fixtures``
    sys.path.insert(0, str(TESTS_DIR))
