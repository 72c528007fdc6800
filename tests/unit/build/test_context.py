"""What `corral build` sends (.dockerignore, the tar) and how the agent takes it in."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from agent.build.errors import ContextError
from agent.build.sources import digest, find, unpack_context
from agent.build.view import View
from corral import buildcontext


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def _sent(root: Path) -> list[str]:
    buf = io.BytesIO()
    buildcontext.pack(str(root), buildcontext.load_ignore(str(root)), buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        return sorted(m.name for m in tf if not m.isdir())


def test_dockerignore_like_docker(tmp_path: Path) -> None:
    _tree(tmp_path, {"app.py": "", "README.md": "", "docs/a.md": "", "docs/keep.md": "",
                     "build/out.o": "", "src/x/cache.pyc": "", "src/x/y.py": "",
                     ".git/HEAD": "", "Dockerfile": ""})
    (tmp_path / ".dockerignore").write_text(
        "# comment\n/.git\n*.md\n!docs/keep.md\ndocs\n!docs/keep.md\nbuild/\n**/*.pyc\n")
    assert _sent(tmp_path) == [".dockerignore", "Dockerfile", "app.py", "docs/keep.md",
                               "src/x/y.py"]


def test_pattern_rules() -> None:
    pats = buildcontext.parse_ignore("a/*/c\n**/tmp\nx?z\n[ab]q\n")
    assert buildcontext.excluded("a/b/c", pats)
    assert not buildcontext.excluded("a/b/d/c", pats)
    assert buildcontext.excluded("tmp", pats) and buildcontext.excluded("deep/er/tmp/f", pats)
    assert buildcontext.excluded("xyz", pats) and not buildcontext.excluded("xyyz", pats)
    assert buildcontext.excluded("bq", pats) and not buildcontext.excluded("cq", pats)


def test_context_size_counts_what_is_sent(tmp_path: Path) -> None:
    _tree(tmp_path, {"big.bin": "x" * 100_000, "small": "y"})
    (tmp_path / ".dockerignore").write_text("big.bin\n")
    pats = buildcontext.load_ignore(str(tmp_path))
    assert buildcontext.context_size(str(tmp_path), pats) < 10_000


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for ti in entries:
            payload = (data or {}).get(ti.name)
            if payload is not None:
                ti.size = len(payload)
                tf.addfile(ti, io.BytesIO(payload))
            else:
                tf.addfile(ti)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("make, message", [
    (lambda: [tarfile.TarInfo("../evil")], "absolute or with .."),
    (lambda: [tarfile.TarInfo("/etc/evil")], "absolute or with .."),
    (lambda: [_link("l", "/etc"), tarfile.TarInfo("l/passwd")], "outside the context"),
    (lambda: [_dev("sda")], "device"),
])
def test_unpack_refuses_what_leads_out(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "ctx"
    dest.mkdir()
    with pytest.raises(ContextError, match=message):
        unpack_context(_tar(make()), str(dest))
    assert not (Path("/etc/evil")).exists() and not (tmp_path / "evil").exists()


def _link(name: str, target: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = tarfile.SYMTYPE, target
    return ti


def _dev(name: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.devmajor, ti.devminor = tarfile.BLKTYPE, 8, 0
    return ti


def test_copy_sources_may_not_leave_the_context(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.txt": "a", "dir/b.txt": "b", "dir/c.log": "c"})
    os.symlink("/etc/passwd", tmp_path / "abs")
    os.symlink("../../outside", tmp_path / "dir" / "up")
    os.symlink("dir/b.txt", tmp_path / "inside")
    v = View([str(tmp_path)])
    assert find(v, ["a.txt", "dir/*.txt"], True, "COPY") == ["/a.txt", "/dir/b.txt"]
    assert find(v, ["inside"], True, "COPY") == ["/dir/b.txt"]
    for bad, why in (("../x", "outside the build context"), ("/etc/passwd", "absolute"),
                     ("abs", "symlink leads outside"), ("dir/up", "symlink leads outside"),
                     ("nope*", "no such file")):
        with pytest.raises(ContextError, match=why):
            find(v, [bad], True, "COPY")


def test_digest_changes_with_content_and_mode_not_mtime(tmp_path: Path) -> None:
    _tree(tmp_path, {"d/a": "1", "d/b": "2"})
    v = View([str(tmp_path)])
    d1 = digest(v, ["/d"])
    os.utime(tmp_path / "d" / "a", (1, 1))
    assert digest(v, ["/d"]) == d1
    (tmp_path / "d" / "a").write_text("changed")
    d2 = digest(v, ["/d"])
    assert d2 != d1
    os.chmod(tmp_path / "d" / "b", 0o755)
    assert digest(v, ["/d"]) != d2
