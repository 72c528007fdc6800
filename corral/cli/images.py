"""`corral image ls|pull|load|push|prune`: the images of the nodes' stores.

Every verb takes `--node N` (one node) or works on every node. Pull and push
show per-layer progress (corral/printers/progress.py); a node that fails is
named with the reason and makes the command exit 1, after the others finish.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, TypeVar

from corral.cli.common import Cli, CliError, _is_tty
from corral.client import Stream
from corral.imagearchive import ImageImportError, docker_save_of_dir
from corral.printers import table
from corral.printers.progress import ProgressRenderer, format_size
from proto import api_pb2

T = TypeVar("T")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
FMT = argparse.RawDescriptionHelpFormatter
CHUNK = 1 << 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("image", parents=parents, help="manage images on the nodes",
                       description="Manage images on the nodes.", formatter_class=FMT,
                       epilog="examples:\n  corral image ls\n  corral image ls --node node-1\n"
                              "  corral image pull busybox:1.36\n"
                              "  corral image load -i busybox.tar\n")
    isub = p.add_subparsers(dest="image_verb", metavar="SUBCOMMAND", required=True)

    def verb(name: str, help_: str, examples: str, func: object,
             aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        ip = isub.add_parser(name, parents=parents, help=help_, aliases=list(aliases),
                             description=help_.capitalize() + ".", formatter_class=FMT,
                             epilog="examples:\n" + examples)
        ip.add_argument("--node", default="", metavar="NODE",
                        help="only this node (default: every node)")
        ip.set_defaults(func=func)
        return ip

    ip = verb("ls", "list the images of every node",
              "  corral image ls\n  corral image ls --node node-1 -q\n", run_ls, ("list",))
    ip.add_argument("-q", "--quiet", action="store_true", help="image references only")
    ip = verb("pull", "pull an image on the nodes, showing per-layer progress",
              "  corral image pull busybox:1.36\n"
              "  corral image pull 10.213.0.1:5000/library/demo --node node-1\n", run_pull)
    ip.add_argument("image", metavar="IMAGE")
    ip = verb("load", "load a `docker save` or OCI layout archive onto the nodes",
              "  corral image load -i busybox.tar\n"
              "  docker save app:1 > app.tar && corral image load -i app.tar --node node-2\n",
              run_load)
    ip.add_argument("-i", "--input", required=True, metavar="FILE",
                    help="the archive (a tar file)")
    ip = verb("push", "push an image from a node's store to a registry",
              "  corral image push 10.213.0.1:5000/library/demo:v2\n"
              "  corral image push demo:v2 --node node-1 --to 10.213.0.1:5000/team/demo:v2\n",
              run_push)
    ip.add_argument("image", metavar="IMAGE")
    ip.add_argument("--to", default="", metavar="IMAGE",
                    help="push under this reference (default: IMAGE)")
    ip = verb("import", "make a single-layer image of a directory and load it onto the nodes",
              "  corral image import ./rootfs app:1 --cmd 'httpd -f -p 8080'\n", run_import)
    ip.add_argument("root", metavar="ROOTFS_DIR")
    ip.add_argument("image", metavar="NAME:TAG")
    ip.add_argument("--cmd", default="", metavar="COMMAND",
                    help="the image's default command (split like a shell line)")
    verb("prune", "remove the images no pod uses from the nodes",
         "  corral image prune\n  corral image prune --node node-1\n", run_prune)
    ip = verb("tag", "give an image of the nodes another name (docker tag)",
              "  corral image tag demo:latest demo:stable\n"
              "  corral image tag sha256:4b2e... app:1      # an unnamed image, by id\n",
              run_tag)
    ip.add_argument("source", metavar="SOURCE_IMAGE", help="a name, an image id or a digest")
    ip.add_argument("target", metavar="TARGET_IMAGE")


# -- ls -------------------------------------------------------------------------------------------


def split_ref(ref: str) -> tuple[str, str]:
    """("docker.io/library/busybox", "1.36") of a reference; "<none>" without a tag, and
    ("<none>", "<none>") for an unnamed image (known by its digest only), as Docker shows."""
    if _DIGEST.fullmatch(ref):
        return "<none>", "<none>"
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return name, digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "<none>"


def run_ls(cli: Cli, args: argparse.Namespace) -> int:
    resp = cli.client.node_images(args.node)
    rows = []
    for node in sorted(resp.nodes, key=lambda n: n.node):
        for img in node.images:
            for ref in list(img.names) or ["<none>"]:
                repo, tag = split_ref(ref)
                image_id = img.id.removeprefix("sha256:")[:12]
                rows.append([node.node, repo, tag, image_id, format_size(img.size_bytes)])
    if args.quiet:
        for r in rows:
            cli.print(r[3] if r[1] == "<none>" else f"{r[1]}:{r[2]}")
        return 0
    if not rows:
        cli.err.write("No images found\n")
        return 0
    cli.out.write(table.render(["NODE", "IMAGE", "TAG", "IMAGE ID", "SIZE"], rows))
    return 0


# -- pull and push --------------------------------------------------------------------------------


def _follow(cli: Cli, stream: Stream[api_pb2.NodePullProgress], verb: str,
            summary: Callable[[str], str]) -> int:
    done_word = "Pull complete" if verb == "pull" else "Pushed"
    r = ProgressRenderer(cli.out, _is_tty(cli.out), done_word=done_word)
    with stream:
        for line in stream:
            r.update(line.node, line.progress)
    ok = sorted(n for n in r.nodes if n not in r.failed)
    r.finish(summary(", ".join(ok)) if ok else "")
    return _check(verb, r.failed)


def run_pull(cli: Cli, args: argparse.Namespace) -> int:
    stream = cli.client.pull_image(args.image, node=args.node)
    return _follow(cli, stream, "pull", lambda nodes: f"Pulled {args.image} on {nodes}")


def run_push(cli: Cli, args: argparse.Namespace) -> int:
    stream = cli.client.push_image(args.image, node=args.node, target=args.to)
    return _follow(cli, stream, "push",
                   lambda nodes: f"Pushed {args.to or args.image} from {nodes}")


# -- load -----------------------------------------------------------------------------------------


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while data := f.read(CHUNK):
        yield data


def _answered(cli: Cli, results: Sequence[T]) -> tuple[list[T], list[str]]:
    """The nodes' results that succeeded, and the names of those that failed (said on stderr)."""
    ok, failed = [], []
    for r in results:
        if getattr(r, "error", ""):
            failed.append(getattr(r, "node", ""))
            cli.err.write(f"{getattr(r, 'node', '')}: failed: {getattr(r, 'error', '')}\n")
        else:
            ok.append(r)
    return ok, failed


def _check(verb: str, failed: list[str]) -> int:
    if failed:
        raise CliError(f"{verb} failed on {', '.join(failed)}")
    return 0


def run_load(cli: Cli, args: argparse.Namespace) -> int:
    path = args.input
    if not os.path.isfile(path):
        raise CliError(f"{path}: no such file (give a `docker save` or OCI layout tar)")
    with open(path, "rb") as f:
        return _load(cli, f, args.node)


def run_import(cli: Cli, args: argparse.Namespace) -> int:
    try:
        cmd = shlex.split(args.cmd)
    except ValueError as e:
        raise CliError(f"--cmd: {e}") from None
    with tempfile.TemporaryFile() as f:
        try:
            docker_save_of_dir(args.root, args.image, f, cmd=cmd)
        except ImageImportError as e:
            raise CliError(str(e)) from None
        f.seek(0)
        return _load(cli, f, args.node)


def _load(cli: Cli, f: BinaryIO, node: str) -> int:
    size = os.fstat(f.fileno()).st_size
    resp = cli.client.load_image(_chunks(f), node=node)
    ok, failed = _answered(cli, resp.nodes)
    for n in ok:
        for name in n.names:
            cli.print(f"{n.node}: Loaded image: {name}")
    cli.print(f"Sent {format_size(size)} to {len(ok)} "
              f"of {len(resp.nodes)} node{'' if len(resp.nodes) == 1 else 's'}")
    return _check("load", failed)


# -- prune ----------------------------------------------------------------------------------------


def run_prune(cli: Cli, args: argparse.Namespace) -> int:
    resp = cli.client.prune_images(node=args.node)
    ok, failed = _answered(cli, resp.nodes)
    for n in ok:
        for r in n.removed:
            cli.print(f"{n.node}: deleted: {r}")
        cli.print(f"{n.node}: reclaimed {format_size(n.bytes_freed)}")
    cli.print(f"Total reclaimed space: {format_size(sum(n.bytes_freed for n in ok))}")
    return _check("prune", failed)


# -- tag ------------------------------------------------------------------------------------------


def run_tag(cli: Cli, args: argparse.Namespace) -> int:
    resp = cli.client.tag_image(args.source, args.target, node=args.node)
    ok, failed = _answered(cli, resp.nodes)
    for n in ok:
        if n.name:
            cli.print(f"{n.node}: Tagged {args.source} as {n.name}")
    return _check("tag", failed)
