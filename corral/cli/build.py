"""`corral build`: build an image from a Dockerfile on the cluster's own nodes.

The context directory (less .dockerignore, corral/buildcontext.py) is packed
as a tar, refused when over --max-context-size before anything is sent, and
streamed with the Dockerfile through the API server to a node's agent, which
builds with its own runtime and stores the image. By default the image is then
copied to every other node too (like `kind load`), so a pod with
imagePullPolicy IfNotPresent runs it wherever it lands; --node keeps it on one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from corral import buildcontext
from corral.cli.common import Cli, CliError, _is_tty
from corral.client import Stream
from corral.printers.buildprogress import BuildRenderer
from proto import build_pb2, quantity

CHUNK = 1 << 20
DEFAULT_MAX_CONTEXT = "256Mi"
EXAMPLES = """\
examples:
  corral build -t hello:1 manifests/examples/hello
  corral build -t app:2 -f docker/Dockerfile.prod --build-arg VERSION=2 .
  corral build -t app:dev --target build --no-cache --node node-1 .
  corral build -t app:1 --push .          # also push it (a local cluster: to its registry)
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("build", parents=parents, help="build an image from a Dockerfile",
                       description="Build an image from a Dockerfile on a node of the cluster "
                                   "(no Docker needed), and put it on the nodes.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    p.add_argument("build_context", metavar="CONTEXT", help="the build context: a directory")
    p.add_argument("-t", "--tag", action="append", required=True, metavar="NAME[:TAG]",
                   help="name the image (repeatable)")
    p.add_argument("-f", "--file", default="", metavar="FILE",
                   help="the Dockerfile (default: CONTEXT/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]",
                   help="set a build-time variable (KEY alone: from the environment)")
    p.add_argument("--target", default="", metavar="STAGE", help="build up to this stage")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--push", action="store_true",
                   help="push the image when built (Docker Hub names go to the node's docker.io "
                        "mirror: a local cluster's own registry)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--node", default="", metavar="NODE",
                       help="build on this node and keep the image there only")
    where.add_argument("--all-nodes", action="store_true",
                       help="put the image on every node (the default without --node)")
    p.add_argument("--network", default="none", choices=("none", "cluster"),
                   help="RUN steps' network: none (default) or the cluster's pod network")
    p.add_argument("--progress", default="auto", choices=("auto", "plain", "tty"),
                   help="output style (auto: tty on a terminal)")
    p.add_argument("--max-context-size", default=DEFAULT_MAX_CONTEXT, metavar="SIZE",
                   help=f"refuse a larger context (default {DEFAULT_MAX_CONTEXT})")
    p.set_defaults(func=run_build)


def _build_args(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise CliError(f"--build-arg {item!r}: want KEY=VALUE")
        if not eq:
            if key not in os.environ:
                continue                     # docker: KEY alone and unset is skipped
            value = os.environ[key]
        out[key] = value
    return out


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while data := f.read(CHUNK):
        yield data


def run_build(cli: Cli, args: argparse.Namespace) -> int:
    root = args.build_context
    if not os.path.isdir(root):
        raise CliError(f"{root}: the build context must be a directory")
    df_path = args.file or os.path.join(root, "Dockerfile")
    try:
        with open(df_path, "rb") as f:
            dockerfile = f.read()
    except OSError as e:
        raise CliError(f"cannot read the Dockerfile {df_path}: {e.strerror}") from None
    try:
        limit = quantity.to_bytes(args.max_context_size)
    except quantity.QuantityError as e:
        raise CliError(f"--max-context-size: {e}") from None
    try:
        pats = buildcontext.load_ignore(root)
        size = buildcontext.context_size(root, pats)
        if size > limit:
            raise CliError(f"the build context {root} is {size} bytes, over the limit of "
                           f"{limit} (--max-context-size); exclude files in .dockerignore")
        with tempfile.TemporaryFile() as tar:
            buildcontext.pack(root, pats, tar)
            tar.seek(0)
            spec = build_pb2.BuildSpec(
                tags=args.tag, dockerfile=dockerfile,
                dockerfile_name=os.path.relpath(df_path, root) if not args.file
                else os.path.basename(df_path),
                build_args=_build_args(args.build_arg), target=args.target,
                no_cache=args.no_cache, push=args.push, network=args.network,
                context_size=os.fstat(tar.fileno()).st_size)
            start = build_pb2.ImageBuildStart(node=args.node, all_nodes=not args.node,
                                              spec=spec)
            return _follow(cli, args, cli.client.build(start, _chunks(tar)))
    except buildcontext.ContextError as e:
        raise CliError(str(e)) from None


def _follow(cli: Cli, args: argparse.Namespace,
            stream: Stream[build_pb2.NodeBuildEvent]) -> int:
    tty = args.progress == "tty" or (args.progress == "auto" and _is_tty(cli.out))
    r = BuildRenderer(cli.out, tty)
    result: build_pb2.BuildResult | None = None
    built_on, copied, failed = "", list[str](), list[str]()
    with stream:
        for item in stream:
            if item.error:
                failed.append(item.node)
                cli.err.write(f"{item.node}: failed: {item.error}\n")
                continue
            if item.event.HasField("result"):
                result, built_on = item.event.result, item.node
                continue
            if item.node != built_on and built_on:
                copied.append(item.node)
            r.event(item.node, item.event)
    r.finish()
    if result is None:
        raise CliError("the build ended without a result")
    cli.print(f"Successfully built {result.image_id.removeprefix('sha256:')[:12]} on {built_on}")
    for name in result.names:
        cli.print(f"Successfully tagged {name}")
    for p in result.pushed:
        cli.print(f"Pushed {p}")
    if copied:
        cli.print(f"Copied to {', '.join(copied)}")
    if failed:
        raise CliError(f"copying the image failed on {', '.join(failed)}")
    return 0
