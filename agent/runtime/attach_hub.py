"""The shim's side of ``attach.sock`` (attach_wire.py): served from the shim's poll loop.

Only containers with ``stdin`` or ``tty`` have one (the others' output is their log).
Attached clients get the container's output as the shim reads it (besides the log);
what a client sends as stdin goes to the container's stdin (a pipe the shim holds,
or the pty master).  Nothing blocks the shim: stdin the container has not read yet
waits in a buffer (clients are not read while it is full), and a client that does
not read its output is dropped once MAX_BACKLOG is waiting for it.  ``stdin_once``
(Kubernetes' stdinOnce): the container's stdin closes when the first client that
sent stdin detaches or ends its stdin.  Lean like the shim: builtins, _socket, os.
"""

from __future__ import annotations

import _socket
import os

import agent.runtime.attach_wire as wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

POLLIN, POLLOUT, POLLERR, POLLHUP = 0x1, 0x4, 0x8, 0x10
MAX_BACKLOG = 4 << 20
CLOSE_FLUSH_SECONDS = 2.0


class Client:
    __slots__ = ("fd", "inbuf", "outbuf", "sock", "stdin")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.fd: int = sock.fileno()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.stdin = False


class Hub:
    def __init__(self, cdir: str, poller: Any, stdin_fd: int, stdin_once: bool,
                 tty_fd: int) -> None:
        """``stdin_fd``: where stdin goes (-1: the container has none); ``tty_fd``: the
        pty master (also the stdin with a tty, and an output stream of the shim's)."""
        self.poller = poller
        self.stdin_fd = stdin_fd
        self.stdin_once = stdin_once
        self.tty_fd = tty_fd
        self.pending = bytearray()        # stdin the container has not taken yet
        self.closing = False              # close stdin once `pending` is written
        self.watching_stdin = False
        self.clients: dict[int, Client] = {}
        if stdin_fd >= 0:
            os.set_blocking(stdin_fd, False)
        self.dirfd = os.open(cdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.path = wire.path_in(self.dirfd)
        self.listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM
                                       | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        old = os.umask(0o177)             # the socket is born 0600: root only
        try:
            self.listener.bind(self.path)
        finally:
            os.umask(old)
        self.listener.listen(8)
        self.lfd: int = self.listener.fileno()
        poller.register(self.lfd, POLLIN)

    # ---- events from the shim's poll loop ----------------------------------------------
    def handle(self, fd: int, ev: int) -> bool:
        """Handle ``fd`` if it is ours; False: the shim's (a pty master's input side)."""
        if fd == self.lfd:
            self._accept()
            return True
        client = self.clients.get(fd)
        if client is not None:
            self._client_event(client, ev)
            return True
        if fd == self.stdin_fd and self.watching_stdin:
            if ev & POLLOUT or fd != self.tty_fd:
                self._flush_stdin()
            return fd != self.tty_fd or not ev & ~POLLOUT
        return False

    def output(self, stream: str, data: bytes) -> None:
        """The container wrote ``data`` on ``stream``: to every client."""
        if not self.clients:
            return
        chunk = wire.frame(wire.STREAM_KIND[stream], data)
        for client in list(self.clients.values()):
            self._send(client, chunk)

    def forget(self, fd: int) -> None:
        """The shim closed ``fd`` (the pty master, at the end of its output)."""
        if fd == self.tty_fd:
            if self.stdin_fd == fd:
                self.stdin_fd, self.watching_stdin = -1, False
                self.pending.clear()
            self.tty_fd = -1

    def close(self, exit_code: int) -> None:
        """The container exited: tell the clients (a bounded wait for slow ones), close."""
        last = wire.frame(wire.EXIT, str(exit_code).encode())
        for client in list(self.clients.values()):
            try:
                client.sock.settimeout(CLOSE_FLUSH_SECONDS)
                client.sock.sendall(bytes(client.outbuf) + last)
            except OSError:
                pass
            client.sock.close()
        self.clients.clear()
        if self.stdin_fd >= 0 and self.stdin_fd != self.tty_fd:
            os.close(self.stdin_fd)
        self.stdin_fd = -1
        self.stop_listening()

    def stop_listening(self) -> None:
        """Remove the socket (no new client can attach) and close it; idempotent."""
        if self.dirfd < 0:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self.listener.close()
        os.close(self.dirfd)
        self.dirfd = -1

    # ---- clients -------------------------------------------------------------------------
    def _accept(self) -> None:
        try:
            fd, _addr = self.listener._accept()  # type: ignore[attr-defined]
        except OSError:
            return
        sock = _socket.socket(fileno=fd)
        sock.setblocking(False)
        client = Client(sock)
        self.clients[client.fd] = client
        self.poller.register(client.fd, self._client_events(client))

    def _client_events(self, client: Client) -> int:
        reading = 0 if len(self.pending) >= MAX_BACKLOG else POLLIN
        return reading | (POLLOUT if client.outbuf else 0)

    def _client_event(self, client: Client, ev: int) -> None:
        if ev & POLLOUT:
            self._send(client, b"")
        if client.fd not in self.clients or not ev & (POLLIN | POLLHUP | POLLERR):
            return
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._detach(client)
            return
        client.inbuf += data
        try:
            frames = wire.split(client.inbuf)
        except ValueError:
            self._detach(client)
            return
        for kind, payload in frames:
            self._frame(client, kind, payload)

    def _frame(self, client: Client, kind: str, payload: bytes) -> None:
        if kind == wire.HELLO_STDIN:
            client.stdin = True
        elif kind == wire.STDIN and self.stdin_fd >= 0 and not self.closing:
            self.pending += payload
            self._flush_stdin()
        elif kind == wire.CLOSE_STDIN and client.stdin and self.stdin_once:
            self._close_stdin_soon()
        elif kind == wire.RESIZE and self.tty_fd >= 0:
            rows, _, cols = payload.partition(b" ")
            if rows.isdigit() and cols.isdigit():
                resize(self.tty_fd, int(rows), int(cols))

    def _send(self, client: Client, chunk: bytes) -> None:
        client.outbuf += chunk
        try:
            sent = client.sock.send(client.outbuf) if client.outbuf else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self._detach(client)
            return
        del client.outbuf[:sent]
        if len(client.outbuf) > MAX_BACKLOG:
            self._detach(client)         # it does not read: drop it, never block the shim
            return
        self.poller.modify(client.fd, self._client_events(client))

    def _detach(self, client: Client) -> None:
        del self.clients[client.fd]
        self.poller.unregister(client.fd)
        client.sock.close()
        if client.stdin and self.stdin_once:
            self._close_stdin_soon()

    # ---- the container's stdin -------------------------------------------------------------
    def _flush_stdin(self) -> None:
        if self.pending and self.stdin_fd >= 0:
            try:
                del self.pending[:os.write(self.stdin_fd, self.pending)]
            except BlockingIOError:
                pass
            except OSError:                 # EPIPE, EIO: nobody reads the container's stdin
                self.pending.clear()
                self.closing = True
        self._watch_stdin(bool(self.pending))
        if self.closing and not self.pending:
            self._close_stdin()
        for client in self.clients.values():
            self.poller.modify(client.fd, self._client_events(client))

    def _watch_stdin(self, want: bool) -> None:
        if self.stdin_fd < 0 or want == self.watching_stdin:
            return
        self.watching_stdin = want
        if self.stdin_fd == self.tty_fd:
            self.poller.modify(self.stdin_fd, POLLIN | (POLLOUT if want else 0))
        elif want:
            self.poller.register(self.stdin_fd, POLLOUT)
        else:
            self.poller.unregister(self.stdin_fd)

    def _close_stdin_soon(self) -> None:
        self.closing = True
        self._flush_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        self._watch_stdin(False)
        if self.stdin_fd == self.tty_fd:
            try:
                os.write(self.stdin_fd, b"\x04")    # end of input on a terminal: ^D
            except OSError:
                pass
        else:
            os.close(self.stdin_fd)
        self.stdin_fd = -1


def resize(master: int, rows: int, cols: int) -> None:
    """The pty's window size (TIOCSWINSZ; the foreground process group gets SIGWINCH)."""
    import fcntl
    import sys
    import termios

    size = b"".join(n.to_bytes(2, sys.byteorder) for n in (rows, cols, 0, 0))
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass
