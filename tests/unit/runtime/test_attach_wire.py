"""The attach socket's framing, and the shim side staying lean."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.runtime import attach_wire as wire


def test_frames_split_back_whole_and_partial() -> None:
    data = wire.frame(wire.STDIN, b"hello") + wire.frame(wire.CLOSE_STDIN) + \
        wire.frame(wire.STDOUT, b"x" * 70000)
    buf = bytearray(data[:-10])
    assert wire.split(buf) == [(wire.STDIN, b"hello"), (wire.CLOSE_STDIN, b"")]
    buf += data[-10:]                          # the rest of the last frame arrives
    assert wire.split(buf) == [(wire.STDOUT, b"x" * 70000)] and not buf


def test_an_oversized_frame_is_refused() -> None:
    buf = bytearray(b"i" + (wire.MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(ValueError, match="too large"):
        wire.split(buf)


def test_the_shims_attach_side_imports_nothing_heavy() -> None:
    from agent.runtime.helpers import PROJECT_ROOT

    heavy = ("typing", "json", "re", "pathlib", "dataclasses", "enum", "socket", "inspect",
             "selectors")
    code = ("import sys, agent.runtime.shim, agent.runtime.attach_hub; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(PROJECT_ROOT)}, check=True).stdout.strip()
    assert out == ""
