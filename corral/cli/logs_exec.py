"""`corral logs` and `corral exec`: streams proxied by the control plane from the pod's node."""

from __future__ import annotations

import argparse
import sys

from corral.cli import multilogs, podsof, terminal
from corral.cli.common import Cli, CliError, duration_arg, lookup_kind, meta_of
from corral.cli.terminal import write_bytes
from proto import agent_pb2

WITH_PODS = ("deployments", "replicasets", "jobs", "daemonsets", "statefulsets")

LOGS_EXAMPLES = """\
examples:
  corral logs web                          # the pod's only container
  corral logs web -c sidecar               # one container of several
  corral logs -f web --tail 20             # follow, starting with the last 20 lines
  corral logs web --since 5m --timestamps
  corral logs web --previous               # the last terminated instance
  corral logs -f deploy/web                # every pod and container of the deployment,
                                           # new ones too (a rolling update's replicas)
  corral logs -f -l app=web --max-log-requests 10
  corral logs job/pi                       # also sts/NAME, rs/NAME, ds/NAME, svc/NAME
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
                       description="Print the logs for a container in a pod; of every pod "
                                   "and container of a workload (TYPE/NAME) or a selector "
                                   "(-l), each line prefixed [pod/NAME/CONTAINER].",
                       epilog=LOGS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pod", nargs="?", default="", metavar="POD | TYPE/NAME")
    p.add_argument("container_arg", nargs="?", metavar="CONTAINER", help=argparse.SUPPRESS)
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR",
                   help="the pods with these labels (all of them, and new ones with -f)")
    p.add_argument("-c", "--container", default="", metavar="NAME")
    p.add_argument("-f", "--follow", action="store_true", help="stream the log as it grows")
    p.add_argument("--tail", type=int, default=None, metavar="N",
                   help="the last N lines (-1: all; the default, but 10 with -l)")
    p.add_argument("--since", type=duration_arg, default=0.0, metavar="DURATION",
                   help="only lines newer than this, e.g. 5m, 1h")
    p.add_argument("-p", "--previous", action="store_true",
                   help="the previous instance of the container")
    p.add_argument("--all-containers", action="store_true", help="every container of the pod")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    p.add_argument("--prefix", nargs="?", const="true", default=None, choices=("true", "false"),
                   help="prefix each line with its pod and container (default: with several "
                        "pods)")
    p.add_argument("--max-log-requests", type=int, default=50, metavar="N",
                   help="streams open at once with several pods; more wait for one to end")
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
    """A pod name from `web`, `pod/web`, or a workload's `deploy/web`, `job/pi`, ... (its
    first running pod, as kubectl picks)."""
    if "/" not in ref:
        return ref
    type_, _, name = ref.partition("/")
    kind = lookup_kind(type_)
    if kind.resource == "pods":
        return name
    pods = cli.client.list("pods", cli.namespace, podsof.selector_of(cli, ref)).items
    if not pods:
        raise CliError(f"no pods found for {kind.singular}/{name}")
    running = [p for p in pods if p.pod.status.phase == "Running"] or list(pods)
    chosen = sorted(running, key=lambda p: p.pod.metadata.name)[0]
    if len(pods) > 1:
        cli.err.write(f"Found {len(pods)} pods, using pod/{meta_of(chosen).name}\n")
    return meta_of(chosen).name


def run_logs(cli: Cli, args: argparse.Namespace) -> int:
    if args.selector and args.pod:
        raise CliError("only a selector (-l) or a POD name is allowed")
    if not args.selector and not args.pod:
        raise CliError("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
                       "POD or TYPE/NAME is a required argument for the logs command")
    if args.max_log_requests < 1:
        raise CliError("--max-log-requests must be greater than 0")
    container = args.container or args.container_arg or ""
    workload = "/" in args.pod and lookup_kind(args.pod.partition("/")[0]).resource != "pods"
    if args.selector or workload:
        return _many(cli, args, container)
    pod = args.pod.partition("/")[2] if "/" in args.pod else args.pod
    tail = -1 if args.tail is None else args.tail
    stream = cli.client.logs(
        cli.namespace, pod, container, follow=args.follow,
        tail_lines=tail if tail >= 0 else None,
        since_seconds=int(args.since) if args.since > 0 else None,
        previous=args.previous, timestamps=args.timestamps, all_containers=args.all_containers,
    )
    prefix = args.prefix == "true"
    at_line_start: dict[str, bool] = {}
    try:
        for chunk in stream:
            data = chunk.data
            if prefix and chunk.container:
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


def _many(cli: Cli, args: argparse.Namespace, container: str) -> int:
    """Every pod of a workload or selector (corral/cli/multilogs.py)."""
    if args.previous:
        raise CliError("--previous is for one pod: name the pod")
    selector = args.selector or podsof.selector_of(cli, args.pod)
    tail = args.tail if args.tail is not None else (10 if args.selector else -1)
    opts = multilogs.Options(
        follow=args.follow, tail=tail if tail >= 0 else None,
        since=int(args.since) if args.since > 0 else None, timestamps=args.timestamps,
        container=container, prefix=args.prefix != "false", colour=cli.colour,
        max_requests=args.max_log_requests)
    if not args.follow:
        return multilogs.read_all(cli, selector, opts)
    try:
        return multilogs.Follower(cli, selector, opts).run()
    except KeyboardInterrupt:
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
