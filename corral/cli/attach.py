"""`corral attach`: join a running container's own stdin and output (no new process,
unlike exec), proxied by the control plane to the container's shim on its node."""

from __future__ import annotations

import argparse
import sys

from corral.cli import terminal
from corral.cli.common import Cli, CliError, meta_of
from corral.cli.logs_exec import resolve_pod
from proto import agent_pb2, api_pb2, core_pb2

EXAMPLES = """\
examples:
  corral attach web                        # the output of the pod's first container
  corral attach -it shell                  # type into a container started with stdin and tty
  corral attach web -c sidecar -i          # send stdin to one container of several
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("attach", parents=parents, help="attach to a running container",
                       description="Attach to a process that is already running inside an "
                                   "existing container.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument("-c", "--container", default="", metavar="NAME",
                   help="the container (default: the pod's first)")
    p.add_argument("-i", "--stdin", action="store_true",
                   help="pass stdin to the container (it must have stdin: true)")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    p.set_defaults(func=run_attach)


def pick_container(cli: Cli, pod: api_pb2.Object, name: str) -> core_pb2.Container:
    """The container named `name`, or the pod's first (said on stderr when there are more)."""
    containers = list(pod.pod.spec.containers)
    if name:
        for c in [*containers, *pod.pod.spec.init_containers]:
            if c.name == name:
                return c
        raise CliError(f"container {name} not found in pod {meta_of(pod).name}")
    if not containers:
        raise CliError(f"pod {meta_of(pod).name} has no containers")
    if len(containers) > 1:
        cli.err.write(f'Defaulted container "{containers[0].name}" out of: '
                      f'{", ".join(c.name for c in containers)}\n')
    return containers[0]


def attach_to(cli: Cli, pod: api_pb2.Object, container: core_pb2.Container, stdin: bool,
              tty: bool) -> int | None:
    """Attach to `container` of `pod` until its output ends or ^C; its exit code if it
    exited while attached."""
    name = meta_of(pod).name
    phase = pod.pod.status.phase
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot attach a container in a completed pod; current phase is {phase}")
    if stdin and not container.stdin:
        cli.err.write(f"Unable to use stdin - container {container.name} was not started with "
                      "stdin: true\n")
        stdin = False
    if tty and not container.tty:
        cli.err.write(f"Unable to use a TTY - container {container.name} did not allocate one\n")
        tty = False
    elif stdin and container.tty:
        tty = True           # the container's stdin is its terminal
    tty = terminal.tty_mode(cli, stdin, tty)
    start = agent_pb2.AttachStart(namespace=meta_of(pod).namespace or cli.namespace, pod=name,
                                  container=container.name, stdin=stdin, tty=tty)
    size = terminal.terminal_size(sys.stdin.fileno()) if tty else None
    if size is not None:
        start.size.CopyFrom(size)
    banner = "If you don't see a command prompt, try pressing enter.\n" if tty else ""
    exit_code, error = terminal.session(
        cli, lambda inputs: cli.client.attach(start, inputs), agent_pb2.AttachInput, stdin, tty,
        banner)
    if error:
        raise CliError(error)
    return exit_code


def run_attach(cli: Cli, args: argparse.Namespace) -> int:
    pod = cli.client.get("pods", resolve_pod(cli, args.pod), cli.namespace)
    container = pick_container(cli, pod, args.container)
    attach_to(cli, pod, container, args.stdin, args.tty)
    return 0
