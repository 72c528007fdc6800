"""common.files: the one atomic private-file write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from common import files


def test_write_atomic_replaces_with_the_mode_asked(tmp_path: Path) -> None:
    p = tmp_path / "key.pem"
    p.write_bytes(b"old")
    os.chmod(p, 0o644)
    old_umask = os.umask(0o077)
    try:
        files.write_atomic(p, b"new" * 10000, mode=0o640)
    finally:
        os.umask(old_umask)
    assert p.read_bytes() == b"new" * 10000
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert sorted(x.name for x in tmp_path.iterdir()) == ["key.pem"]


def test_write_atomic_default_is_private(tmp_path: Path) -> None:
    p = tmp_path / "state.json"
    files.write_json_atomic(p, {"b": 1, "a": [1, 2]}, durable=False)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert files.read_json(p) == {"a": [1, 2], "b": 1}


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"old")

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space"):
        files.write_atomic(p, b"new")
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x"]
