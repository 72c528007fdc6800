"""Builds on the real runtime and image store: every instruction, the cache, bad input,
a failing RUN, and the confinement of RUN steps."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile

import pytest

from agent.build.errors import ContextError, DockerfileError, StepFailed
from agent.build.view import View
from tests.integration.build.conftest import BASE, Build

pytestmark = pytest.mark.root

EVERYTHING = f"""\
# syntax=docker/dockerfile:1
ARG BASE={BASE}
ARG GREETING=hello

FROM $BASE AS build
ARG GREETING
ARG EXTRA
ENV OUT=/out
SHELL ["/bin/sh", "-ec"]
WORKDIR /src
COPY *.txt ./
COPY --chmod=0750 tool.sh /usr/local/bin/
ADD files.tar /unpacked/
RUN echo "$GREETING $EXTRA" > greeting && mkdir -p $OUT && cp greeting *.txt $OUT/
RUN ["/bin/sh", "-c", "echo exec-form > /out/exec"]
RUN rm /src/a.txt

FROM {BASE}
ENV APP_HOME=/app PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR $APP_HOME
COPY --from=build --chown=nobody:nobody /out/ ./data/
COPY --from=build /unpacked/ /unpacked/
RUN rm -rf /www && mkdir -p /var/log/app
USER nobody
LABEL org.example.name="every instruction" version=1
EXPOSE 8080 53/udp
VOLUME ["/var/log/app"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD wget -qO- localhost:8080 || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/data/greeting"]
"""


def _files() -> dict[str, str | bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("inner/x", b"from the tar\n"), ("top", b"top\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.uid, ti.gid, ti.mode = len(data), 1234, 99, 0o640
            tf.addfile(ti, io.BytesIO(data))
    return {"a.txt": "a\n", "b.txt": "b\n", "tool.sh": "#!/bin/sh\necho tool\n",
            "files.tar": buf.getvalue(), "ignored.md": "no"}


def _config(b: Build, name: str = "built:test") -> dict:  # type: ignore[type-arg]
    img = b.svc.get(name)
    assert img is not None
    rec = b.svc.store.get_record(img.reference)
    assert rec is not None
    m = json.loads(b.svc.store.read_blob(rec["manifest"]))
    return json.loads(b.svc.store.read_blob(m["config"]["digest"]))  # type: ignore[no-any-return]


def _view(b: Build, name: str = "built:test") -> View:
    img = b.svc.get(name)
    assert img is not None
    return View(list(img.layer_dirs))


def _read(v: View, path: str) -> str:
    entry = v.lookup(path)
    assert entry is not None, f"{path} is not in the image"
    with open(entry.path) as f:
        return f.read()


def test_every_instruction(builder: Build) -> None:
    res, ev = builder.run(EVERYTHING, _files(), build_args={"EXTRA": "world", "UNUSED": "x"})
    assert res.names == ["docker.io/library/built:test"]
    cfg = _config(builder)
    c = cfg["config"]
    assert c["Entrypoint"] == ["/bin/sh", "-c"] and c["Cmd"] == ["cat /app/data/greeting"]
    assert c["WorkingDir"] == "/app" and c["User"] == "nobody"
    assert "APP_HOME=/app" in c["Env"]
    assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert c["Labels"] == {"org.example.name": "every instruction", "version": "1"}
    assert c["Volumes"] == {"/var/log/app": {}}
    assert c["StopSignal"] == "SIGQUIT"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -qO- localhost:8080 || exit 1"],
                                "Interval": 5_000_000_000, "Retries": 2}
    assert len(cfg["rootfs"]["diff_ids"]) == len(
        [h for h in cfg["history"] if not h.get("empty_layer")])
    assert any("UNUSED" in m for m in ev.messages)       # the build-arg no ARG consumed

    v = _view(builder)
    greeting = v.lookup("/app/data/greeting")
    assert greeting is not None and _read(v, "/app/data/greeting") == "hello world\n"
    assert (greeting.st.st_uid, greeting.st.st_gid) == (65534, 65534)       # --chown by name
    assert _read(v, "/app/data/exec") == "exec-form\n"
    assert v.lookup("/app/data/a.txt") is not None      # copied before the rm in build
    assert v.lookup("/www") is None                      # removed: a whiteout hides it
    x = v.lookup("/unpacked/inner/x")                    # ADD extracted the tar, owners kept
    assert x is not None and (x.st.st_uid, stat.S_IMODE(x.st.st_mode)) == (1234, 0o640)
    assert v.lookup("/src") is None                      # the build stage's files stay there
    # the build stage itself: --chmod, the rm as a whiteout
    assert v.lookup("/usr/local/bin/tool.sh") is None


def test_cache_hits_and_a_changed_file(builder: Build, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = tmp_path_factory.mktemp("cachectx")
    df = f"FROM {BASE}\nCOPY a.txt /a\nRUN cat /a > /copy\nCOPY b.txt /b\nRUN ls /\nENV X=1\n"
    first, ev1 = builder.run(df, {"a.txt": "1", "b.txt": "1"}, ctx=ctx)
    assert not ev1.cached()
    again, ev2 = builder.run(df, ctx=ctx)
    assert ev2.cached() == ["COPY a.txt /a", "RUN cat /a > /copy", "COPY b.txt /b", "RUN ls /"]
    assert again.image_id == first.image_id               # all hits: the same image
    (ctx / "b.txt").write_text("2")
    changed, ev3 = builder.run(df, ctx=ctx)
    assert ev3.cached() == ["COPY a.txt /a", "RUN cat /a > /copy"]
    assert "COPY b.txt /b" in ev3.made() and "RUN ls /" in ev3.made()
    assert changed.image_id != first.image_id
    _, ev4 = builder.run(df, ctx=ctx, no_cache=True)
    assert ev4.cached() == []
    _, ev5 = builder.run(df, ctx=ctx, build_args={"X": "y"})      # undeclared: no change
    assert len(ev5.cached()) == 4


def test_failing_run_stops_with_its_output_and_leaves_nothing(builder: Build) -> None:
    before = {i.reference for i in builder.svc.list()}
    with pytest.raises(StepFailed) as e:
        builder.run(f"FROM {BASE}\nRUN echo about to fail; echo oops >&2; exit 3\nCMD x\n",
                    tags=["failing:1"])
    assert e.value.exit_code == 3 and "[stage-0 2/3] RUN" in str(e.value)
    out = bytes(e.value.events.output)  # type: ignore[attr-defined]
    assert b"about to fail" in out and b"oops" in out
    assert {i.reference for i in builder.svc.list()} == before
    assert builder.leftovers() == []


@pytest.mark.parametrize("dockerfile, files, error, message", [
    ("FROM {b}\nCOPY ../secret /s\n", {}, ContextError, "outside the build context"),
    ("FROM {b}\nCOPY /etc/passwd /p\n", {}, ContextError, "absolute path"),
    ("FROM {b}\nCOPY link /x\n", {"link": None}, ContextError, "symlink leads outside"),
    ("FROM {b}\nADD https://example.com/x.tgz /x\n", {}, ContextError, "offline"),
    ("FROM {b}\nCOPY missing /x\n", {}, ContextError, "no such file"),
    ("FROM {b}\nCOPY a b /x\n", {"a": "1", "b": "2"}, ContextError, "end with a /"),
    ("FROM {b}\nRUN true\nBOGUS x\n", {}, DockerfileError, "Dockerfile:3: unknown"),
    ("FROM no-such-image:1\n", {}, DockerfileError, "Dockerfile:1"),
    ("FROM {b} AS first\nCOPY --from=later /x /x\nFROM {b} AS later\nFROM first\n", {},
     DockerfileError, "earlier stage"),
])
def test_bad_input(builder: Build, dockerfile: str, files: dict, error: type,  # type: ignore[type-arg]
                   message: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = tmp_path_factory.mktemp("bad")
    if "link" in files:
        os.symlink("/etc/shadow", ctx / "link")
        files = {}
    with pytest.raises(error, match=message):
        builder.run(dockerfile.format(b=BASE), files, ctx=ctx, tags=["bad:1"])
    assert builder.svc.get("bad:1") is None
    assert builder.leftovers() == []


def test_run_is_confined_like_a_pod(builder: Build) -> None:
    df = (f"FROM {BASE}\n"
          "RUN grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status > /facts; "
          "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /ifaces; "
          "(cat /sys/fs/cgroup/memory.max 2>/dev/null || "
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes) > /memlimit\n")
    builder.run(df, tags=["confined:1"])
    v = _view(builder, "confined:1")
    facts = dict(line.split(":\t") for line in _read(v, "/facts").split("\n") if line)
    assert facts["NoNewPrivs"] == "1" and facts["Seccomp"] == "2"
    assert int(facts["CapEff"], 16) & (1 << 21) == 0          # no CAP_SYS_ADMIN
    assert _read(v, "/ifaces").split() == ["lo"]
    assert int(_read(v, "/memlimit")) == 2 << 30
    assert v.lookup("/proc") is not None      # the base has /proc: kept, not a stub
