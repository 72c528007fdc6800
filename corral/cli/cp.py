"""`corral cp`: files between a container and this machine, through exec and tar, as
kubectl does (the container needs `tar`).

    corral cp web:/etc/nginx ./nginx        tar cf - in the container, read here
    corral cp ./site web:/usr/share/html    tar here, tar -xmf - in the container
    corral cp ns/web:/tmp/x ./x -c sidecar

Reading from a container, the whole archive is checked before anything is written:
a member outside the destination (`../`, an absolute path, a link that points out of
it, a device) is refused and nothing changes (corral/cli/cparchive.py).
"""

from __future__ import annotations

import argparse
import os
import posixpath
import queue
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from corral.cli import cparchive
from corral.cli.common import Cli, CliError
from proto import agent_pb2

EXAMPLES = """\
examples:
  corral cp web:/etc/hostname ./hostname          # a file from the pod
  corral cp web:/var/log ./logs                   # a directory's contents into ./logs
  corral cp ./site.tar web:/tmp/site.tar          # to the pod
  corral cp ./static web:/srv -c sidecar          # into /srv/static of one container
  corral cp other-ns/web:/tmp/x ./x
"""

CHUNK = 64 * 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cp", parents=parents, help="copy files and directories to and from "
                       "containers", description="Copy files and directories to and from "
                       "containers (the container needs tar).", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("-c", "--container", default="", metavar="NAME")
    p.add_argument("--no-preserve", action="store_true",
                   help="do not keep the files' permissions (writing to the container)")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Spec:
    namespace: str
    pod: str          # "" for a local path
    path: str


def parse_spec(text: str, namespace: str) -> Spec:
    """`[ns/]pod:path` or a local path."""
    if ":" not in text:
        return Spec("", "", text)
    left, _, path = text.partition(":")
    if not left:
        raise CliError(f"{text}: no pod name before the colon")
    ns, sep, pod = left.partition("/")
    if not sep:
        ns, pod = namespace, left
    if not path:
        raise CliError("filepath can not be empty")
    return Spec(ns, pod, path)


def exec_tar(cli: Cli, spec: Spec, container: str, command: list[str],
             stdin: Iterator[bytes] | None, stdout: BinaryIO | None) -> None:
    """Run a command in the container, stdin from `stdin`, stdout into `stdout`; raises
    CliError with its stderr when it fails."""
    start = agent_pb2.ExecStart(namespace=spec.namespace, pod=spec.pod, container=container,
                                command=command, stdin=stdin is not None)
    inputs: queue.Queue[agent_pb2.ExecInput | None] = queue.Queue()

    def requests() -> Iterator[agent_pb2.ExecInput]:
        if stdin is not None:
            for data in stdin:
                yield agent_pb2.ExecInput(stdin=data)
            yield agent_pb2.ExecInput(close_stdin=True)
        while (item := inputs.get()) is not None:
            yield item

    stream = cli.client.exec(start, requests())
    err = b""
    code: int | None = None
    error = ""
    try:
        for out in stream:
            which = out.WhichOneof("output")
            if which == "stdout" and stdout is not None:
                stdout.write(out.stdout)
            elif which == "stderr":
                err += out.stderr
            elif which == "exit":
                code, error = out.exit.exit_code, out.exit.error
                break
    finally:
        inputs.put(None)
        stream.cancel()
    if error or code:
        lines = [ln for ln in err.decode(errors="replace").splitlines()
                 if ln.strip() and "error exit delayed" not in ln]
        detail = "; ".join(lines) or error or f"command terminated with exit code {code}"
        raise CliError(f"{spec.pod}:{spec.path}: {detail}")


def _is_remote_dir(cli: Cli, spec: Spec, container: str) -> bool:
    try:
        exec_tar(cli, spec, container, ["test", "-d", spec.path], None, None)
    except CliError:
        return False
    return True


def from_pod(cli: Cli, src: Spec, dest: str, container: str) -> None:
    path = src.path.rstrip("/") or "/"
    parent, base = posixpath.split(path)
    if not base:
        parent, base = "/", "."
    with tempfile.TemporaryFile() as buf:
        exec_tar(cli, src, container, ["tar", "cf", "-", "-C", parent or "/", base], None, buf)
        buf.seek(0)
        try:
            with tarfile.open(fileobj=buf, mode="r:") as tar:
                plan = cparchive.plan(tar, base, dest)
                cparchive.extract(tar, plan)
        except tarfile.TarError as e:
            raise CliError(f"cannot read the archive from the pod: {e}") from None
        except cparchive.Escape as e:
            raise CliError(str(e)) from None


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while data := f.read(CHUNK):
        yield data


def to_pod(cli: Cli, src: str, dest: Spec, container: str, preserve: bool) -> None:
    if not os.path.lexists(src):
        raise CliError(f"{src} doesn't exist in local filesystem")
    target = dest.path.rstrip("/") or "/"
    if _is_remote_dir(cli, dest, container):
        target = posixpath.join(target, os.path.basename(os.path.abspath(src)))
    parent, base = posixpath.split(target)
    with tempfile.TemporaryFile() as buf:
        with tarfile.open(fileobj=buf, mode="w:") as tar:
            tar.add(src, arcname=base,
                    filter=None if preserve else cparchive.no_preserve)
        buf.seek(0)
        exec_tar(cli, dest, container, ["tar", "-xmf", "-", "-C", parent or "/"],
                 _chunks(buf), None)


def run(cli: Cli, args: argparse.Namespace) -> int:
    src, dest = parse_spec(args.src, cli.namespace), parse_spec(args.dest, cli.namespace)
    if src.pod and dest.pod:
        raise CliError("one of src or dest must be a local file specification")
    if not src.pod and not dest.pod:
        raise CliError("one of src or dest must be a remote file specification")
    if src.pod:
        from_pod(cli, src, dest.path, args.container)
    else:
        to_pod(cli, src.path, dest, args.container, not args.no_preserve)
    return 0
