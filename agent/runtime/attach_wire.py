"""The attach socket's framing, shared by the shim (attach_hub.py) and the agent
(attach_client.py).

``attach.sock`` in the container's state directory is a unix stream socket
(mode 0600, root's).  Both ways a frame is one kind byte, a 4-byte big-endian
length and the payload.  Client to shim: ``s`` (this client sends stdin;
first), ``i`` stdin data, ``c`` the client's stdin ended, ``r`` a terminal
size (``b"ROWS COLS"``).  Shim to client: ``o`` stdout, ``e`` stderr, ``x``
the container's exit code (``b"0"``), last.

Imported by the shim: nothing beyond builtins.
"""

from __future__ import annotations

SOCKET = "attach.sock"
MAX_FRAME = 1 << 20

HELLO_STDIN, STDIN, CLOSE_STDIN, RESIZE = "s", "i", "c", "r"
STDOUT, STDERR, EXIT = "o", "e", "x"
STREAM_KIND = {"stdout": STDOUT, "stderr": STDERR}


def frame(kind: str, payload: bytes = b"") -> bytes:
    return kind.encode() + len(payload).to_bytes(4, "big") + payload


def split(buf: bytearray) -> list[tuple[str, bytes]]:
    """The complete frames at the front of ``buf`` (removed from it); ValueError for a
    frame longer than MAX_FRAME."""
    out = []
    while len(buf) >= 5:
        n = int.from_bytes(buf[1:5], "big")
        if n > MAX_FRAME:
            raise ValueError(f"attach frame of {n} bytes is too large")
        if len(buf) < 5 + n:
            break
        out.append((chr(buf[0]), bytes(buf[5:5 + n])))
        del buf[:5 + n]
    return out


def path_in(dirfd: int) -> str:
    """The socket's path through an fd of its directory: a state directory's path may be
    longer than a unix socket address (108 bytes), /proc/self/fd/N/attach.sock is not."""
    return f"/proc/self/fd/{dirfd}/{SOCKET}"
