"""corral's builder against buildah: the same Dockerfile, the same base image pulled from
the same local docker-registry, offline; the image configs, histories and file trees
must match, except for the differences listed in docs/build.md (asserted here one by one).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.build.view import View
from agent.images.__main__ import build_busybox
from tests.integration.build.conftest import Build
from tests.integration.build.peer import BUILDAH, Buildah, config_fields, history, tree, tree_diff
from tests.integration.images.conftest import REGISTRY_BIN, Registry

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(BUILDAH is None, reason="no buildah (apt-get install buildah)"),
              pytest.mark.skipif(not Path(REGISTRY_BIN).exists(), reason="no docker-registry")]

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE
ARG GREETING=hello

FROM scratch AS tools
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
SHELL ["/bin/sh", "-ec"]
RUN mkdir -p /etc /tmp && chmod 1777 /tmp && echo 'app:x:1000:1000::/:/bin/sh' > /etc/passwd \\
 && echo 'app:x:1000:' > /etc/group
WORKDIR /opt/tools
COPY --chmod=0755 --chown=app:app tool.sh ./
ENV TOOLS=/opt/tools
USER app
CMD ["/opt/tools/tool.sh"]

FROM $BASE AS build
ARG GREETING
ARG EXTRA=default
ENV OUT=/out
WORKDIR /src
COPY *.txt ./
ADD files.tar /unpacked/
RUN echo "$GREETING $EXTRA" > greeting && mkdir -p $OUT && cp greeting *.txt $OUT/ \\
 && ln -s greeting $OUT/link
RUN ["/bin/sh", "-c", "echo exec-form > /out/exec"]
RUN rm /src/a.txt

FROM $BASE
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY --from=build --chown=nobody:nobody /out/ ./data/
COPY --from=build /unpacked/ /unpacked/
COPY --from=tools /opt/tools/tool.sh /usr/local/bin/
COPY --from=build /bin/capped /usr/local/bin/
RUN mkdir -p /var/log/app && chown nobody /var/log/app && rm -rf /www && touch /bin/capped
USER nobody
LABEL org.example.name="every instruction" version=1
EXPOSE 8080 53/udp
VOLUME ["/var/log/app"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD wget -qO- localhost:8080 || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/data/greeting"]
"""


# struct vfs_cap_data, revision 2, effective: cap_net_raw+ep
CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def _context(ctx: Path) -> None:
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    shutil.copy2("/bin/busybox", ctx / "busybox")
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("b\n")
    (ctx / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("inner/x", b"from the tar\n"), ("top", b"top\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.uid, ti.gid, ti.mode, ti.mtime = len(data), 1234, 99, 0o640, 1_000_000
            if name == "top":        # a file capability in the archive (PAX SCHILY.xattr)
                ti.pax_headers = {"SCHILY.xattr.security.capability":
                                  CAP_NET_RAW.decode("utf-8", "surrogateescape")}
            tf.addfile(ti, io.BytesIO(data))
    (ctx / "files.tar").write_bytes(buf.getvalue())


@dataclass
class Pair:
    """One Dockerfile target built by both: (config document, merged view) of each."""
    ours: tuple[dict[str, Any], View]
    theirs: tuple[dict[str, Any], View]


def _image(b: Build, name: str) -> tuple[dict[str, Any], View]:
    img = b.svc.get(name)
    assert img is not None, name
    rec = b.svc.store.get_record(img.reference)
    assert rec is not None
    m = json.loads(b.svc.store.read_blob(rec["manifest"]))
    return json.loads(b.svc.store.read_blob(m["config"]["digest"])), View(list(img.layer_dirs))


@pytest.fixture(scope="module")
def built(builder: Build) -> Iterator[dict[str, Pair]]:
    registry = Registry()
    bh = Buildah()
    ctx = Path(tempfile.mkdtemp(prefix="corral-vs-buildah-"))
    try:
        root = ctx / "baseroot"
        build_busybox(str(root))
        capped = root / "bin" / "capped"           # a file with a file capability
        capped.write_text("#!/bin/sh\necho capped\n")
        capped.chmod(0o755)
        os.setxattr(capped, "security.capability", CAP_NET_RAW)
        base = f"{registry.host}/corral-test/busybox:1"
        builder.svc.import_rootfs(str(root), "vs-buildah-base:1")
        builder.svc.push("vs-buildah-base:1", base)
        builder.svc.remove("vs-buildah-base:1")
        shutil.rmtree(root)
        _context(ctx)
        args = {"BASE": base, "EXTRA": "world"}
        out: dict[str, Pair] = {}
        for target in ("tools", ""):
            name = f"vs-{target or 'final'}:1"
            bh.bud(ctx, name, target, args)
            builder.svc.load_archive(str(bh.export(name, f"docker.io/library/buildah-{name}")))
            builder.run(DOCKERFILE, ctx=ctx, tags=[f"corral-{name}"], build_args=args,
                        target=target)
            out[target or "final"] = Pair(_image(builder, f"corral-{name}"),
                                          _image(builder, f"buildah-{name}"))
        yield out
    finally:
        bh.close()
        registry.stop()
        shutil.rmtree(ctx, ignore_errors=True)



# -- the differences, each asserted (and listed in docs/build.md) -----------------------

# buildah's chroot isolation leaves the mount points of a RUN step in the layer: empty
# files (mode 0755) and directories; corral drops them unless the image had them (as
# BuildKit does). FROM scratch has no /dev, /proc or /sys either.
STUBS = {"/etc/hostname": ("file", "0o755", 0, 0, "e3b0c44298fc1c14", ()),
         "/etc/hosts": ("file", "0o755", 0, 0, "e3b0c44298fc1c14", ()),
         "/etc/resolv.conf": ("file", "0o755", 0, 0, "e3b0c44298fc1c14", ()),
         "/run": ("dir", "0o755", 0, 0, "", ())}
SCRATCH_STUBS = {p: ("dir", "0o755", 0, 0, "", ()) for p in ("/dev", "/proc", "/sys")}
# WORKDIR: BuildKit and corral make the directory at once (a layer, root's unless USER
# is set); buildah only records it, so a later `COPY --chown` makes it with that owner.
WORKDIRS = {"tools": {"/opt": 1000, "/opt/tools": 1000}, "final": {"/app": 65534}}


@pytest.mark.parametrize("target", ["tools", "final"])
def test_file_trees_match(built: dict[str, Pair], target: str) -> None:
    p = built[target]
    ours, theirs = tree(p.ours[1]), tree(p.theirs[1])
    assert len(ours) > (30 if target == "final" else 10)
    expected: dict[str, tuple[object, object]] = {
        path: (None, entry) for path, entry in
        {**STUBS, **(SCRATCH_STUBS if target == "tools" else {})}.items()}
    for path, owner in WORKDIRS[target].items():
        assert ours[path][2:4] == (0, 0)
        expected[path] = (ours[path], (*ours[path][:2], owner, owner, *ours[path][4:]))
    assert tree_diff(ours, theirs) == expected
    if target == "final":        # what the Dockerfile did is there, in both
        cap = ("security.capability", CAP_NET_RAW.hex())
        for path in ("/bin/capped", "/usr/local/bin/capped",     # RUN touch; COPY --from
                     "/unpacked/top"):                           # ADD of a tar
            assert ours[path][5] == (cap,), path
        assert ours["/app/data/link"][4] == "greeting"
        assert ours["/app/data/greeting"][2:4] == (65534, 65534)
        assert ours["/unpacked/inner/x"][1:4] == ("0o640", 1234, 99)
        assert "/www" not in ours and "/app/data/a.txt" in ours


@pytest.mark.parametrize("target", ["tools", "final"])
def test_configs_match(built: dict[str, Pair], target: str) -> None:
    ours, theirs = config_fields(built[target].ours[0]), config_fields(built[target].theirs[0])
    # buildah labels every image with its version
    assert theirs["Labels"].pop("io.buildah.version")
    assert ours == {**theirs, "Labels": theirs["Labels"] or None}
    assert ours["User"] and ours["Cmd"] and ours["Env"]
    if target == "final":
        assert ours["Healthcheck"] and ours["Volumes"] and ours["StopSignal"]
        # the same base, pulled from the same registry
        assert built[target].ours[0]["rootfs"]["diff_ids"][0] == \
            built[target].theirs[0]["rootfs"]["diff_ids"][0]


def _ours(created_by: str) -> str:
    return re.sub(r"^RUN /bin/sh -e?c ", "RUN ", created_by)


def _theirs(created_by: str) -> str:
    """buildah writes Docker's legacy forms: `/bin/sh -c #(nop) ENV ...`, `/bin/sh -c cmd`."""
    if created_by.startswith("/bin/sh -c #(nop) "):
        return created_by.removeprefix("/bin/sh -c #(nop) ").rstrip()
    if created_by.startswith("/bin/sh -c "):
        return "RUN " + created_by.removeprefix("/bin/sh -c ")
    return created_by


# buildah's texts for these keep the instruction as written (`WORKDIR $APP_HOME`, `EXPOSE
# 8080`) or Docker's legacy content hashes (`COPY file:<sha256> in /dest`); corral writes
# them expanded and normalised as BuildKit does. Only the instruction is compared.
OWN_TEXT = ("COPY", "ADD", "WORKDIR", "EXPOSE", "HEALTHCHECK")


@pytest.mark.parametrize("target", ["tools", "final"])
def test_histories_match(built: dict[str, Pair], target: str) -> None:
    ours = [(_ours(t), e) for t, e in history(built[target].ours[0])]
    theirs = [(_theirs(t), e) for t, e in history(built[target].theirs[0])]
    assert len(ours) == len(theirs) > 8
    for (o, o_empty), (t, t_empty) in zip(ours, theirs, strict=True):
        keyword = o.split()[0]
        if keyword in OWN_TEXT:
            assert t.split()[0] == keyword, (o, t)
        else:
            assert o == t
        # WORKDIR is a layer in corral (as in BuildKit), an empty entry in buildah
        assert (o_empty, t_empty) == ((False, True) if keyword == "WORKDIR"
                                      else (o_empty, o_empty)), (o, t)
