"""AttachSession (agent/ports.py) over a container's attach socket, with asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from agent.runtime import attach_wire as wire
from agent.runtime.attach_client import resize_frame

_STREAMS = {wire.STDOUT: "stdout", wire.STDERR: "stderr"}


class SocketAttachSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._exit: int | None = None

    @classmethod
    async def open(cls, sock: socket.socket) -> SocketAttachSession:
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    async def _send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(data)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def write(self, data: bytes) -> None:
        await self._send(wire.frame(wire.STDIN, data))

    async def close_stdin(self) -> None:
        await self._send(wire.frame(wire.CLOSE_STDIN))

    async def resize(self, width: int, height: int) -> None:
        if width and height:
            await self._send(resize_frame(height, width))

    async def read(self) -> tuple[str, bytes] | None:
        while True:
            try:
                head = await self.reader.readexactly(5)
                payload = await self.reader.readexactly(int.from_bytes(head[1:], "big"))
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            kind = chr(head[0])
            if kind in _STREAMS:
                return _STREAMS[kind], payload
            if kind == wire.EXIT and payload.strip().lstrip(b"-").isdigit():
                self._exit = int(payload)

    def exit_code(self) -> int | None:
        return self._exit

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
