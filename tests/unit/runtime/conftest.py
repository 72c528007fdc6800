"""Unit-test fixtures: a temp dir that is removed after each test (pytest's own
``tmp_path`` keeps the last runs' directories around)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="corral-unit-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
