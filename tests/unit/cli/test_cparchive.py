"""`corral cp`'s check of an archive from a container: every member lands inside the
destination, or nothing is written."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from corral.cli import cparchive
from corral.cli.cp import Spec, parse_spec


def archive(*members: tuple[str, str, str]) -> tarfile.TarFile:
    """(name, type: f|d|l|h|c, content or link target) -> an open archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        for name, type_, data in members:
            info = tarfile.TarInfo(name)
            if type_ == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif type_ in "lh":
                info.type = tarfile.SYMTYPE if type_ == "l" else tarfile.LNKTYPE
                info.linkname = data
                tar.addfile(info)
            elif type_ == "c":
                info.type = tarfile.CHRTYPE
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o640
                tar.addfile(info, io.BytesIO(data.encode()))
    buf.seek(0)
    return tarfile.open(fileobj=buf, mode="r:")


def copy(tar: tarfile.TarFile, base: str, dest: Path) -> None:
    cparchive.extract(tar, cparchive.plan(tar, base, str(dest)))


def test_a_directory_lands_as_the_destination(tmp_path: Path) -> None:
    tar = archive(("site", "d", ""), ("site/index.html", "f", "hi"), ("site/css", "d", ""),
                  ("site/css/a.css", "f", "x"), ("site/home", "l", "index.html"),
                  ("site/copy", "h", "site/index.html"))
    copy(tar, "site", tmp_path / "out")
    assert (tmp_path / "out/index.html").read_text() == "hi"
    assert (tmp_path / "out/css/a.css").read_text() == "x"
    assert os.readlink(tmp_path / "out/home") == "index.html"
    assert (tmp_path / "out/copy").stat().st_ino == (tmp_path / "out/index.html").stat().st_ino
    assert (tmp_path / "out/index.html").stat().st_mode & 0o777 == 0o640


def test_a_file_into_an_existing_directory_keeps_its_name(tmp_path: Path) -> None:
    copy(archive(("hostname", "f", "web-1\n")), "hostname", tmp_path)
    assert (tmp_path / "hostname").read_text() == "web-1\n"
    copy(archive(("hostname", "f", "web-2\n")), "hostname", tmp_path / "h")
    assert (tmp_path / "h").read_text() == "web-2\n"


@pytest.mark.parametrize(("members", "message"), [
    ((("site", "d", ""), ("site/../../evil", "f", "x")), 'file "site/../../evil" is outside'),
    ((("site", "d", ""), ("/etc/evil", "f", "x")), 'file "/etc/evil" is outside'),
    ((("site", "d", ""), ("other/evil", "f", "x")), 'file "other/evil" is outside'),
    ((("site", "d", ""), ("site/pw", "l", "/etc/passwd")), 'link "site/pw" -> "/etc/passwd"'),
    ((("site", "d", ""), ("site/up", "l", "../../..")), 'link "site/up" -> "../../.."'),
    ((("site", "d", ""), ("site/h", "h", "etc/shadow")), 'file "etc/shadow" is outside'),
    ((("site", "d", ""), ("site/tty", "c", "")), "not a regular file, directory or link"),
])
def test_an_escape_writes_nothing(tmp_path: Path, members: tuple[tuple[str, str, str], ...],
                                  message: str) -> None:
    # the good member comes first: it must not be written either
    tar = archive(members[0], ("site/good", "f", "ok"), *members[1:])
    with pytest.raises(cparchive.Escape, match=message.replace("(", r"\(")):
        copy(tar, "site", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(os.listdir(tmp_path)) == []


def test_specs_name_a_pod_and_its_namespace() -> None:
    assert parse_spec("web:/etc", "default") == Spec("default", "web", "/etc")
    assert parse_spec("ns1/web:/etc", "default") == Spec("ns1", "web", "/etc")
    assert parse_spec("./local", "default").pod == ""
