"""SPDY/3.1 framing, as Kubernetes' port-forward uses it (tunneled in a WebSocket's binary
messages: kubectl port-forward since 1.31). Only what a server needs: read the client's
frames from a byte stream, write replies, data, resets, pings and a goaway.

    reader = FrameReader()
    for frame in reader.feed(chunk):       # any split of the stream; Frame objects
        ...
    writer = FrameWriter()
    wire = writer.syn_reply(frame.stream_id)   # bytes to send, in the order made

A frame is a control frame (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
HEADERS, WINDOW_UPDATE: 8 bytes of header, the first bit set) or a data frame (a stream
id, flags, a length). Header blocks are zlib-compressed, one compression context per
direction for the whole connection, primed with the dictionary of the SPDY/3 draft
(section 2.6.10.1). Flow control is not kept (kubectl's SPDY library keeps none).

Errors: SpdyError for bytes that are not SPDY/3.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
DATA = 0                        # a data frame (not a control frame type)
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_CANCEL = 1, 5
MAX_FRAME = 16 * 1024 * 1024    # SPDY's 24-bit length allows 16 MiB
_MASK31 = 0x7FFFFFFF

_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range",
    "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status",
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
    "504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad "
    "Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not "
    "Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec "
    "00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,"
    "image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
# the header compression dictionary: each word with its 32-bit length, then the tail
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + \
    _TAIL.encode()


class SpdyError(ValueError):
    """Bytes that are not a SPDY/3 frame stream (the session ends with a GOAWAY)."""


@dataclass
class Frame:
    type: int                           # DATA, SYN_STREAM, ...
    stream_id: int = 0
    flags: int = 0
    data: bytes = b""                   # a data frame's payload
    headers: dict[str, str] = field(default_factory=dict)
    value: int = 0                      # PING's id, RST_STREAM's and GOAWAY's status

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class FrameReader:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames complete after `chunk` (the rest waits for more bytes)."""
        self._buf += chunk
        out: list[Frame] = []
        while len(self._buf) >= 8:
            flags, length = self._buf[4], int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                break
            head, body = bytes(self._buf[:4]), bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            out.append(self._frame(head, flags, body))
        return out

    def _frame(self, head: bytes, flags: int, body: bytes) -> Frame:
        word = int.from_bytes(head, "big")
        if not word & 0x80000000:
            return Frame(DATA, word & _MASK31, flags, data=body)
        version, kind = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"SPDY version {version} (only 3 is served)")
        if kind in (SYN_STREAM, SYN_REPLY, HEADERS, RST_STREAM, WINDOW_UPDATE) and \
                len(body) < 4:
            raise SpdyError(f"control frame {kind} is too short")
        stream = int.from_bytes(body[:4], "big") & _MASK31 if len(body) >= 4 else 0
        if kind == SYN_STREAM:
            return Frame(kind, stream, flags, headers=self._headers(body[10:]))
        if kind in (SYN_REPLY, HEADERS):
            return Frame(kind, stream, flags, headers=self._headers(body[4:]))
        if kind in (RST_STREAM, GOAWAY):
            return Frame(kind, stream, flags, value=int.from_bytes(body[4:8], "big"))
        if kind == PING:
            return Frame(kind, 0, flags, value=int.from_bytes(body[:4], "big"))
        return Frame(kind, stream, flags)        # SETTINGS, WINDOW_UPDATE, others: no use

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as e:
            raise SpdyError(f"a header block does not decompress: {e}") from None
        out: dict[str, str] = {}
        try:
            (count,), at = struct.unpack_from(">I", raw), 4
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, at)
                name = raw[at + 4:at + 4 + n].decode()
                at += 4 + n
                (n,) = struct.unpack_from(">I", raw, at)
                out[name.lower()] = raw[at + 4:at + 4 + n].decode().split("\0")[0]
                at += 4 + n
        except (struct.error, UnicodeDecodeError):
            raise SpdyError("a header block is malformed") from None
        return out


class FrameWriter:
    """Frames to send; header blocks share one compression context, so send them in
    the order they are made."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    @staticmethod
    def _control(kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHB", 0x8000 | VERSION, kind, flags) + \
            len(body).to_bytes(3, "big") + body

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.lower().encode()
            raw += struct.pack(">I", len(value.encode())) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None,
                  fin: bool = False) -> bytes:
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0,
                             struct.pack(">I", stream_id) + self._block(headers or {}))

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
        """One or more data frames (a frame holds at most MAX_FRAME - 1 bytes)."""
        out, step = b"", MAX_FRAME - 1
        chunks = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
        for i, chunk in enumerate(chunks):
            flags = FLAG_FIN if fin and i == len(chunks) - 1 else 0
            out += struct.pack(">IB", stream_id & _MASK31, flags) + \
                len(chunk).to_bytes(3, "big") + chunk
        return out

    def rst_stream(self, stream_id: int, status: int = RST_CANCEL) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
