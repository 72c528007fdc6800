"""SPDY/3.1 framing of port-forward: frames a client writes (one compression context
for all its header blocks) read back whole however the bytes are split; what the
server writes parses as SPDY."""

from __future__ import annotations

import struct
import zlib

import pytest

from controlplane.httpapi import spdy


class Client:
    """A client's side of the framing, for the tests."""

    def __init__(self) -> None:
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)

    def block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + \
                v.encode()
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(kind: int, body: bytes, flags: int = 0, version: int = 3) -> bytes:
        return struct.pack(">HHB", 0x8000 | version, kind, flags) + \
            len(body).to_bytes(3, "big") + body

    def syn_stream(self, stream_id: int, headers: dict[str, str]) -> bytes:
        return self.control(spdy.SYN_STREAM, struct.pack(">IIBB", stream_id, 0, 0, 0) +
                            self.block(headers))


def test_frames_read_back_whole_however_the_bytes_are_split() -> None:
    c = Client()
    wire = (c.syn_stream(1, {"streamtype": "error", "port": "8080", "requestid": "0"}) +
            c.syn_stream(3, {"streamtype": "data", "port": "8080", "requestid": "0"}) +
            spdy.FrameWriter.data(3, b"hello", fin=True) +
            c.control(spdy.PING, struct.pack(">I", 7)) +
            c.control(spdy.SETTINGS, struct.pack(">I", 0)) +
            c.control(spdy.RST_STREAM, struct.pack(">II", 3, spdy.RST_CANCEL)))
    for step in (1, 3, 7, len(wire)):
        reader, frames = spdy.FrameReader(), []
        for i in range(0, len(wire), step):
            frames += reader.feed(wire[i:i + step])
        assert [f.type for f in frames] == [spdy.SYN_STREAM, spdy.SYN_STREAM, spdy.DATA,
                                            spdy.PING, spdy.SETTINGS, spdy.RST_STREAM]
        assert frames[1].headers == {"streamtype": "data", "port": "8080", "requestid": "0"}
        assert (frames[2].stream_id, frames[2].data, frames[2].fin) == (3, b"hello", True)
        assert frames[3].value == 7 and frames[5].value == spdy.RST_CANCEL


def test_what_the_server_writes_is_spdy() -> None:
    w = spdy.FrameWriter()
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    for stream_id in (1, 3):          # the second block uses the first one's context
        frame = w.syn_reply(stream_id)
        assert frame[:4] == b"\x80\x03\x00\x02" and frame[4] == 0
        assert int.from_bytes(frame[8:12], "big") == stream_id
        assert inflate.decompress(frame[12:]) == b"\x00\x00\x00\x00"
    big = spdy.FrameWriter.data(5, b"x" * spdy.MAX_FRAME, fin=True)
    frames = spdy.FrameReader().feed(big)
    assert [len(f.data) for f in frames] == [spdy.MAX_FRAME - 1, 1]
    assert [f.fin for f in frames] == [False, True]
    assert w.ping(9) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x09"
    assert w.goaway(3)[:4] == b"\x80\x03\x00\x07"


def test_bytes_that_are_not_spdy_3() -> None:
    with pytest.raises(spdy.SpdyError, match="version 2"):
        spdy.FrameReader().feed(Client.control(spdy.PING, b"\0\0\0\1", version=2))
    with pytest.raises(spdy.SpdyError, match="does not decompress"):
        spdy.FrameReader().feed(Client.control(spdy.SYN_STREAM, b"\0" * 10 + b"garbage"))
