"""The sealed in-memory copy of the interpreter that helpers entering a container run from."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.runtime import sealedexe


def test_copy_is_identical_and_refuses_every_change(tmp_path: Path) -> None:
    src = tmp_path / "binary"
    src.write_bytes(b"\x7fELF" + bytes(range(256)) * 5000)
    fd = sealedexe.sealed_copy(str(src))
    try:
        assert Path(f"/proc/self/fd/{fd}").read_bytes() == src.read_bytes()
        assert not os.get_inheritable(fd)
        w = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)   # opening is allowed, changing is not
        try:
            with pytest.raises(OSError) as err:
                os.pwrite(w, b"PWNED", 0)
            assert err.value.errno == errno.EPERM
            for size in (0, 10 << 20):
                with pytest.raises(OSError) as err:
                    os.ftruncate(w, size)
                assert err.value.errno == errno.EPERM
        finally:
            os.close(w)
        assert Path(f"/proc/self/fd/{fd}").read_bytes() == src.read_bytes()
    finally:
        os.close(fd)


def test_children_run_the_copy_and_find_the_stdlib() -> None:
    out = subprocess.run(
        [sys.executable, "-S", "-c", "import os, json; print(os.readlink('/proc/self/exe'))"],
        executable=sealedexe.path(), capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert out.startswith("/memfd:corral-python")
    assert sealedexe.path() == sealedexe.path()   # one copy per process
