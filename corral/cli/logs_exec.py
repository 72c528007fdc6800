"""`corral logs` and `corral exec`: streams proxied by the control plane from the pod's node."""

from __future__ import annotations

import argparse
import sys

from corral.cli import terminal
from corral.cli.common import Cli, CliError, duration_arg, lookup_kind, meta_of
from corral.cli.terminal import write_bytes
from proto import agent_pb2

LOGS_EXAMPLES = """\
examples:
  corral logs web                          # the pod's only container
  corral logs web -c sidecar               # one container of several
  corral logs -f web --tail 20             # follow, starting with the last 20 lines
  corral logs web --since 5m --timestamps
  corral logs web --previous               # the last terminated instance
  corral logs deploy/web                   # a pod of the deployment
"""

EXEC_EXAMPLES = """\
examples:
  corral exec web -- ls /                  # run a command
  corral exec -it web -- sh                # an interactive shell
  corral exec web -c sidecar -- cat /etc/hostname
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("logs", parents=parents, help="print the logs of a container in a pod",
                       description="Print the logs for a container in a pod.",
                       epilog=LOGS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument("container_arg", nargs="?", metavar="CONTAINER", help=argparse.SUPPRESS)
    p.add_argument("-c", "--container", default="", metavar="NAME")
    p.add_argument("-f", "--follow", action="store_true", help="stream the log as it grows")
    p.add_argument("--tail", type=int, default=-1, metavar="N",
                   help="the last N lines (-1: all)")
    p.add_argument("--since", type=duration_arg, default=0.0, metavar="DURATION",
                   help="only lines newer than this, e.g. 5m, 1h")
    p.add_argument("-p", "--previous", action="store_true",
                   help="the previous instance of the container")
    p.add_argument("--all-containers", action="store_true", help="every container of the pod")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    p.add_argument("--prefix", action="store_true", help="prefix each line with the container")
    p.set_defaults(func=run_logs)

    p = sub.add_parser("exec", parents=parents, help="execute a command in a container",
                       description="Execute a command in a container.",
                       epilog=EXEC_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    p.add_argument("-c", "--container", default="", metavar="NAME")
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument("command", nargs="*", metavar="-- COMMAND [ARGS...]")
    p.set_defaults(func=run_exec)


def resolve_pod(cli: Cli, ref: str) -> str:
    """A pod name from `web`, `pod/web`, `deploy/web` or `rs/web-abc` (the first such pod)."""
    if "/" not in ref:
        return ref
    type_, _, name = ref.partition("/")
    kind = lookup_kind(type_)
    if kind.resource == "pods":
        return name
    if kind.resource not in ("deployments", "replicasets"):
        raise CliError(f"cannot get the pods of a {kind.singular}")
    from proto.columns import format_selector

    obj = cli.client.get(kind.resource, name, cli.namespace)
    sel = obj.deployment.spec.selector if kind.resource == "deployments" \
        else obj.replica_set.spec.selector
    pods = cli.client.list("pods", cli.namespace, format_selector(sel)).items
    if not pods:
        raise CliError(f"no pods found for {kind.singular}/{name}")
    running = [p for p in pods if p.pod.status.phase == "Running"] or list(pods)
    chosen = sorted(running, key=lambda p: p.pod.metadata.name)[0]
    if len(pods) > 1:
        cli.err.write(f"Found {len(pods)} pods, using pod/{meta_of(chosen).name}\n")
    return meta_of(chosen).name


def run_logs(cli: Cli, args: argparse.Namespace) -> int:
    pod = resolve_pod(cli, args.pod)
    container = args.container or args.container_arg or ""
    stream = cli.client.logs(
        cli.namespace, pod, container, follow=args.follow,
        tail_lines=args.tail if args.tail >= 0 else None,
        since_seconds=int(args.since) if args.since > 0 else None,
        previous=args.previous, timestamps=args.timestamps, all_containers=args.all_containers,
    )
    at_line_start: dict[str, bool] = {}
    try:
        for chunk in stream:
            data = chunk.data
            if args.prefix and chunk.container:
                prefix = f"[pod/{pod}/{chunk.container}] ".encode()
                start = at_line_start.get(chunk.container, True)
                lines = data.split(b"\n")
                out = b""
                for i, ln in enumerate(lines):
                    last = i == len(lines) - 1
                    if ln or not last:
                        out += (prefix if (start or i > 0) else b"") + ln + (b"" if last else b"\n")
                at_line_start[chunk.container] = data.endswith(b"\n")
                data = out
            write_bytes(cli.out, data)
    except KeyboardInterrupt:
        stream.cancel()
    return 0


# -- exec -----------------------------------------------------------------------------------------


def run_exec(cli: Cli, args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("you must specify at least one command for the container")
    pod = resolve_pod(cli, args.pod)
    tty = terminal.tty_mode(cli, args.stdin, args.tty)
    start = agent_pb2.ExecStart(namespace=cli.namespace, pod=pod, container=args.container,
                                command=command, stdin=args.stdin, tty=tty)
    size = terminal.terminal_size(sys.stdin.fileno()) if tty else None
    if size is not None:
        start.size.CopyFrom(size)
    try:
        exit_code, error = terminal.session(
            cli, lambda inputs: cli.client.exec(start, inputs), agent_pb2.ExecInput,
            args.stdin, tty)
    except KeyboardInterrupt:
        return 130
    if error:
        cli.error(error)
        return exit_code or 1
    if exit_code:
        cli.err.write(f"command terminated with exit code {exit_code}\n")
    return exit_code or 0
