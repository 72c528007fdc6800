"""Hooks for every test: skips are listed and, on CI, bounded (tests/support/skips.py)."""

from tests.support.skips import (  # noqa: F401  (pytest finds hooks by name here)
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)
