"""The VM lane's tests run only when asked for: `make test-vm` (scripts/vm/lane.sh),
or CORRAL_VM_LANE=1 with root, QEMU and the lane's image. Everywhere else, including
the default `pytest tests` run, they are skipped."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# the lane's driver lives in scripts/vm (not a package)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "vm"))


def lane_enabled() -> bool:
    return os.environ.get("CORRAL_VM_LANE") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if lane_enabled():
        return
    skip = pytest.mark.skip(reason="VM lane: run with `make test-vm` (or CORRAL_VM_LANE=1)")
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(skip)
