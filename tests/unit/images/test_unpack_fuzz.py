"""Random layer tars: unpacking either works or raises an ImageError; nothing escapes.

Escapes are observed two ways: every write the unpacker makes is resolved the
way the kernel will resolve it before it happens (fsaudit: a write through a
symlink to `/`, `/etc` or anywhere outside the layer is refused and recorded,
so the host is never touched even as root, and a refused write as non-root
cannot hide one), and a sentinel directory outside the layer, which the tars'
symlinks and hardlinks point at by absolute and relative paths, must be
unchanged afterwards.
"""

import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.images import unpack as unpack_mod
from agent.images.errors import ImageError
from agent.images.unpack import unpack_layer

from .fsaudit import Escape, audited
from .helpers import Entry, make_tar

# outside every layer: the tars aim their links at it (fixed per run: strategies are static)
OUTSIDE = os.path.join(tempfile.gettempdir(), f"corral-fuzz-outside-{os.getpid()}")
VICTIM = os.path.join(OUTSIDE, "victim")

# mostly a few plain names, so that entries collide (a link, then a path through it) and
# the unpack gets far (it stops at the first refused entry); sometimes odd ones
parts = st.sampled_from(["a", "a", "a", "b", "b", "etc", "etc",
                         "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh."])
names = st.lists(parts, min_size=1, max_size=3).map("/".join)
prefixed = st.tuples(st.sampled_from(["", "/", "./"]), names).map("".join)
targets = st.sampled_from(["/", "/etc", "/etc/passwd", "../../..", "a", OUTSIDE, VICTIM,
                           "../../outside", "../../outside/victim"])
entries = st.builds(
    Entry,
    name=prefixed,
    kind=st.sampled_from(["file", "file", "dir", "dir", "symlink", "symlink", "symlink",
                          "hardlink", "fifo", "chr"]),
    data=st.sampled_from([b"", b"x"]),
    mode=st.sampled_from([0o644, 0o600, 0o777]),
    link=st.one_of(targets, prefixed),
)

# the classic attack, generated on purpose: a link, then entries through it
attacks = st.builds(
    lambda name, target, kind, child: [Entry(name, "symlink", link=target),
                                       Entry(f"{name}/{child}", kind, data=b"x")],
    name=st.sampled_from(["a", "etc", "a/b"]), target=targets,
    kind=st.sampled_from(["file", "dir", "symlink", "fifo", "hardlink"]),
    child=st.sampled_from(["x", "passwd", "x/y"]))
layers = st.lists(st.one_of(entries.map(lambda e: [e]), attacks), min_size=1, max_size=6).map(
    lambda groups: [e for g in groups for e in g])


def _snapshot(path: str) -> list[tuple[str, int, int, float, bytes]]:
    """Names, modes, owners, mtimes and file contents of a tree (links not followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        for n in sorted([".", *dirnames, *filenames]):
            p = os.path.join(dirpath, n)
            s = os.lstat(p)
            data = b""
            if stat.S_ISREG(s.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            out.append((os.path.relpath(p, path), s.st_mode, s.st_uid, s.st_mtime, data))
    return out


@pytest.fixture(scope="module", autouse=True)
def outside() -> Iterator[None]:
    os.makedirs(OUTSIDE)
    with open(VICTIM, "w") as f:
        f.write("v")
    os.chmod(VICTIM, 0o640)
    try:
        yield
    finally:
        shutil.rmtree(OUTSIDE, ignore_errors=True)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(layers)
# found by this test: a directory, then a symlink of its name (or its parent's) to outside
@example([Entry("d", "dir", mode=0o777), Entry("d", "symlink", link=VICTIM)])
@example([Entry("d/e", "dir", mode=0o777), Entry("d", "symlink", link=OUTSIDE),
          Entry("x", "dir")])
def test_random_tars_never_escape(entry_list):
    before = _snapshot(OUTSIDE)
    top = tempfile.mkdtemp(prefix="corral-fuzz-")
    try:
        box = os.path.join(top, "box")
        dest = os.path.join(box, "layer")
        os.makedirs(dest)
        os.symlink(OUTSIDE, os.path.join(box, "outside"))    # "../../outside" from a/b
        sentinel = os.path.join(box, "sentinel")
        with open(sentinel, "w") as f:
            f.write("s")
        with audited(unpack_mod, dest) as escapes:
            try:
                unpack_layer(io.BytesIO(make_tar(entry_list)), dest, "fuzz")
            except ImageError:
                pass
        assert escapes == []
        assert sorted(os.listdir(box)) == ["layer", "outside", "sentinel"]
        assert sorted(os.listdir(top)) == ["box"]
        with open(sentinel) as f:
            assert f.read() == "s"
        assert _snapshot(OUTSIDE) == before
        for dirpath, dirnames, filenames in os.walk(dest):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                assert os.path.realpath(os.path.dirname(p)).startswith(os.path.realpath(dest))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_the_audit_sees_a_write_through_a_symlink(tmp_path):
    """The check above can fail: an unpacker that follows a symlink out of the layer
    (here: the directory entry replaced by a link is chmod'ed by a naive loop) is
    caught before the write happens."""
    dest = tmp_path / "layer"
    dest.mkdir()
    (tmp_path / "victim").mkdir(mode=0o700)
    (dest / "d").symlink_to(tmp_path / "victim")
    with audited(unpack_mod, str(dest)) as escapes, pytest.raises(Escape):
        unpack_mod.os.chmod(str(dest / "d"), 0o777)
    assert escapes and str(tmp_path / "victim") in escapes[0]
    assert stat.S_IMODE(os.stat(tmp_path / "victim").st_mode) == 0o700


def test_a_directory_replaced_by_a_symlink_keeps_its_target_untouched(tmp_path):
    """A directory entry, then a symlink of the same name to somewhere outside: the
    directory's mode/owner/mtime (set at the end, after every entry) must not land on
    the symlink's target."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    os.utime(victim, (1, 1))
    dest = tmp_path / "layer"
    dest.mkdir()
    tar = make_tar([Entry("d", "dir", mode=0o777), Entry("d", "symlink", link=str(victim))])
    with audited(unpack_mod, str(dest)) as escapes:
        unpack_layer(io.BytesIO(tar), str(dest), "t")
    assert escapes == []
    assert os.readlink(dest / "d") == str(victim)
    s = os.stat(victim)
    assert stat.S_IMODE(s.st_mode) == 0o700 and s.st_mtime == 1
