import io
import os
import pathlib
import stat

import pytest
import zstandard as zstd

from agent.images.errors import LayerTooLarge, UnsafeLayer
from agent.images.unpack import DEFAULT_MAX_SIZE, unpack_layer

from .helpers import Entry, gz, make_tar, sha

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and owners need root")


def unpack(
    tmp_path: pathlib.Path, data: bytes, max_size: int = DEFAULT_MAX_SIZE
) -> tuple[pathlib.Path, tuple[str, int]]:
    dest = tmp_path / "layer"
    dest.mkdir()
    return dest, unpack_layer(io.BytesIO(data), str(dest), "test", max_size)


def outside_untouched(tmp_path):
    # everything the tests try to write outside lands here if unpacking were unsafe
    return not (tmp_path / "escaped").exists()


def test_plain_and_gzip_give_the_diff_id(tmp_path):
    tar = make_tar([Entry("bin", "dir"), Entry("bin/hello", data=b"hi", mode=0o755),
                    Entry("bin/hi", "symlink", link="hello"),
                    Entry("bin/hello2", "hardlink", link="bin/hello")])
    for i, blob in enumerate((tar, gz(tar))):
        dest = tmp_path / f"l{i}"
        dest.mkdir()
        diff_id, size = unpack_layer(io.BytesIO(blob), str(dest), "t")
        assert diff_id == sha(tar) and size == len(tar)
        assert (dest / "bin/hello").read_bytes() == b"hi"
        assert os.readlink(dest / "bin/hi") == "hello"
        assert os.stat(dest / "bin/hello").st_ino == os.stat(dest / "bin/hello2").st_ino
        assert stat.S_IMODE(os.stat(dest / "bin/hello").st_mode) == 0o755


@root_only
def test_whiteouts(tmp_path):
    tar = make_tar([
        Entry("etc", "dir"), Entry("etc/.wh.passwd", data=b""),
        Entry("var/cache", "dir"), Entry("var/cache/.wh..wh..opq", data=b""),
        Entry("var/cache/keep", data=b"k"), Entry(".wh..wh.plnk", "dir"),
    ])
    dest, _ = unpack(tmp_path, tar)
    st = os.lstat(dest / "etc/passwd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert not (dest / "etc/.wh.passwd").exists()
    assert os.getxattr(dest / "var/cache", "trusted.overlay.opaque") == b"y"
    assert (dest / "var/cache/keep").read_bytes() == b"k"
    assert not os.path.lexists(dest / ".wh..wh.plnk")


@root_only
def test_owner_mode_setuid_and_devices_policy(tmp_path):
    tar = make_tar([
        Entry("su", data=b"x", mode=0o4755, uid=1234, gid=5678),
        Entry("dev/null", "chr"), Entry("fifo", "fifo"),
        Entry("f", data=b"x", pax={"SCHILY.xattr.user.k": "v",
                                   "SCHILY.xattr.trusted.overlay.opaque": "y"}),
    ])
    dest, _ = unpack(tmp_path, tar)
    st = os.stat(dest / "su")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o4755)
    assert not os.path.lexists(dest / "dev/null")  # device nodes are skipped
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    assert os.getxattr(dest / "f", "user.k") == b"v"
    with pytest.raises(OSError):
        os.getxattr(dest / "f", "trusted.overlay.opaque")  # never from the tar


def test_absolute_names_become_relative(tmp_path):
    dest, _ = unpack(tmp_path, make_tar([Entry("/abs/file", data=b"a")]))
    assert (dest / "abs/file").read_bytes() == b"a"


MALICIOUS = {
    "dotdot": ([Entry("../escaped", data=b"x")], "'..' component"),
    "dotdot-deep": ([Entry("a/../../escaped", data=b"x")], "'..' component"),
    "dotdot-abs": ([Entry("/../escaped", data=b"x")], "'..' component"),
    "symlink-escape-write": ([Entry("evil", "symlink", link=".."),
                              Entry("evil/escaped", data=b"x")], "goes through the symlink"),
    "symlink-abs-write": ([Entry("evil", "symlink", link="/tmp"),
                           Entry("evil/escaped", data=b"x")], "goes through the symlink"),
    "symlink-dir-write": ([Entry("d", "dir"), Entry("d/l", "symlink", link="../../.."),
                           Entry("d/l/x/escaped", data=b"x")], "goes through the symlink"),
    "hardlink-passwd": ([Entry("pw", "hardlink", link="/etc/passwd")], "not in this layer"),
    "hardlink-dotdot": ([Entry("pw", "hardlink", link="../../etc/passwd")], "'..' component"),
    "hardlink-via-symlink": ([Entry("e", "symlink", link="/etc"),
                              Entry("pw", "hardlink", link="e/passwd")],
                             "goes through the symlink"),
    "bare-whiteout": ([Entry("dir/.wh.", data=b"")], "bare whiteout"),
    "whiteout-dotdot": ([Entry("d/.wh...", data=b"")], "is a whiteout of '..'"),
    "whiteout-dot": ([Entry("d/.wh..", data=b"")], "is a whiteout of '.'"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_tars_are_refused(tmp_path, case):
    entries, why = MALICIOUS[case]
    (tmp_path / "inside").mkdir()
    dest = tmp_path / "inside" / "layer"
    dest.mkdir()
    with pytest.raises(UnsafeLayer) as ei:
        unpack_layer(io.BytesIO(gz(make_tar(entries))), str(dest), "evil-layer")
    assert why in str(ei.value)
    assert "evil-layer" in str(ei.value)
    assert outside_untouched(tmp_path)
    assert not os.path.exists("/tmp/escaped")
    assert not (tmp_path / "inside" / "escaped").exists()


def test_replacing_a_symlink_does_not_write_through_it(tmp_path):
    target = tmp_path / "victim"
    target.write_bytes(b"original")
    tar = make_tar([Entry("f", "symlink", link=str(target)), Entry("f", data=b"new")])
    dest, _ = unpack(tmp_path, tar)
    assert target.read_bytes() == b"original"
    assert (dest / "f").read_bytes() == b"new" and not os.path.islink(dest / "f")


def test_decompression_bomb_is_bounded(tmp_path):
    bomb = gz(make_tar([Entry("zeros", data=b"\0" * (4 << 20))]))
    assert len(bomb) < 64 << 10
    with pytest.raises(LayerTooLarge, match="exceeds the limit of 1048576"):
        unpack(tmp_path, bomb, max_size=1 << 20)


def test_zstd_gives_the_diff_id(tmp_path):
    tar = make_tar([Entry("bin", "dir"), Entry("bin/hello", data=b"hi" * 1000, mode=0o755)])
    dest, (diff_id, size) = unpack(tmp_path, zstd.ZstdCompressor().compress(tar))
    assert diff_id == sha(tar) and size == len(tar)
    assert (dest / "bin/hello").read_bytes() == b"hi" * 1000


def test_zstd_decompression_bomb_is_bounded(tmp_path):
    bomb = zstd.ZstdCompressor(level=19).compress(
        make_tar([Entry("zeros", data=b"\0" * (4 << 20))]))
    assert len(bomb) < 64 << 10
    with pytest.raises(LayerTooLarge, match="exceeds the limit of 1048576"):
        unpack(tmp_path, bomb, max_size=1 << 20)
    # streamed without a content size in the frame header: bounded all the same
    buf = io.BytesIO()
    with zstd.ZstdCompressor().stream_writer(buf, closefd=False) as w:
        w.write(make_tar([Entry("zeros", data=b"\0" * (4 << 20))]))
    (tmp_path / "again").mkdir()
    with pytest.raises(LayerTooLarge):
        unpack(tmp_path / "again", buf.getvalue(), max_size=1 << 20)


def test_corrupt_zstd_is_refused(tmp_path):
    tar = make_tar([Entry("f", data=os.urandom(5000))])
    data = bytearray(zstd.ZstdCompressor(write_checksum=True).compress(tar))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(UnsafeLayer, match="layer test"):
        unpack(tmp_path, bytes(data))


def test_garbage_is_refused(tmp_path):
    with pytest.raises(UnsafeLayer, match="not a valid tar"):
        unpack(tmp_path, b"\x1f\x8b" + b"garbage" * 100)
