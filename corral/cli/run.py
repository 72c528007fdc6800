"""`corral run`: create a pod running one image, like `kubectl run`; with -i attach to it
(and with --rm delete it when the session ends)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from corral import errors
from corral.cli.attach import attach_to
from corral.cli.common import Cli, CliError, duration_arg, meta_of
from corral.cli.delete import wait_for_deletion
from corral.cli.terminal import write_bytes
from corral.printers.output import make_printer
from proto import api_pb2, kinds
from proto.codec import DecodeError, decode

EXAMPLES = """\
examples:
  corral run web --image=nginx --port=80             # a pod named web (label run=web)
  corral run -it --rm shell --image=busybox -- sh    # an interactive shell, gone afterwards
  corral run job --image=busybox --restart=Never -- sh -c 'echo hi'
  corral run web --image=nginx --dry-run=client -o yaml   # print the manifest only
"""

RESTART_POLICIES = ("Always", "OnFailure", "Never")
# a container waiting for one of these will not start by itself: stop waiting and say why
HOPELESS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
            "CreateContainerConfigError", "CreateContainerError", "RunContainerError")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", parents=parents, help="run an image in a new pod",
                       description="Create and run a particular image in a pod.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--image", required=True, metavar="IMAGE", help="the container image")
    p.add_argument("--restart", default="Always", choices=RESTART_POLICIES,
                   help="the pod's restartPolicy (default Always)")
    p.add_argument("-i", "--stdin", action="store_true",
                   help="keep stdin open on the container and attach to it")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a TTY (needs -i)")
    p.add_argument("--rm", action="store_true",
                   help="delete the pod after the attached session ends (needs -i)")
    p.add_argument("--leave-stdin-open", action="store_true",
                   help="keep the container's stdin open after the first attach ends")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="an environment variable; repeatable")
    p.add_argument("-l", "--labels", default="", metavar="K=V,...",
                   help="the pod's labels (default run=NAME)")
    p.add_argument("--port", type=int, default=0, metavar="N",
                   help="the port the container exposes")
    p.add_argument("--command", action="store_true",
                   help="the arguments after -- are the command (not args to the entrypoint)")
    p.add_argument("--dry-run", nargs="?", const="client", default="none",
                   choices=("none", "client", "server"),
                   help="only print (client) or validate on the server (server)")
    p.add_argument("-o", "--output", default="", metavar="FORMAT",
                   help="print the pod as yaml|json|name")
    p.add_argument("--pod-running-timeout", type=duration_arg, default=60.0,
                   metavar="DURATION", help="how long to wait for the pod to run (default 1m)")
    p.add_argument("command_args", nargs="*", metavar="-- COMMAND [ARGS...]")
    p.set_defaults(func=run)


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"invalid {what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def manifest(name: str, image: str, namespace: str, *, restart: str = "Always",
             stdin: bool = False, tty: bool = False, stdin_once: bool = False,
             env: dict[str, str] | None = None, labels: dict[str, str] | None = None,
             port: int = 0, command: bool = False, args: list[str] | None = None,
             ) -> dict[str, Any]:
    """The Pod `kubectl run` would create, as a manifest."""
    container: dict[str, Any] = {"name": name, "image": image}
    if args:
        container["command" if command else "args"] = list(args)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if port:
        container["ports"] = [{"containerPort": port}]
    for key, on in (("stdin", stdin), ("stdinOnce", stdin_once), ("tty", tty)):
        if on:
            container[key] = True
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": labels or {"run": name}},
            "spec": {"containers": [container], "restartPolicy": restart}}


def build(cli: Cli, args: argparse.Namespace) -> api_pb2.Object:
    if args.tty and not args.stdin:
        raise CliError("-i/--stdin is required for containers with -t/--tty=true")
    if args.rm and not args.stdin:
        raise CliError("--rm should only be used for attached containers (with -i)")
    if args.port < 0 or args.port > 65535:
        raise CliError(f"--port {args.port}: must be between 1 and 65535")
    labels = parse_pairs([x for x in args.labels.split(",") if x], "label")
    doc = manifest(args.name, args.image, cli.namespace, restart=args.restart,
                   stdin=args.stdin, tty=args.tty,
                   stdin_once=args.stdin and not args.leave_stdin_open,
                   env=parse_pairs(args.env, "--env"), labels=labels, port=args.port,
                   command=args.command, args=list(args.command_args))
    try:
        return decode(doc)
    except DecodeError as e:
        raise CliError(str(e)) from None


def run(cli: Cli, args: argparse.Namespace) -> int:
    obj = build(cli, args)
    if args.dry_run != "none":
        if args.dry_run == "server":
            obj = cli.client.create(obj, dry_run=True)
        if args.output:
            cli.out.write(make_printer(args.output).print([obj], single=True))
        else:
            cli.print(f"pod/{args.name} created " +
                      ("(server dry run)" if args.dry_run == "server" else "(dry run)"))
        return 0
    obj = cli.client.create(obj)
    if not args.stdin:
        if args.output:
            cli.out.write(make_printer(args.output).print([obj], single=True))
        else:
            cli.print(f"pod/{args.name} created")
        return 0
    try:
        return _attached(cli, args, obj)
    finally:
        if args.rm:
            _remove(cli, obj)


def _attached(cli: Cli, args: argparse.Namespace, obj: api_pb2.Object) -> int:
    pod = wait_running(cli, obj, args.pod_running_timeout)
    container = pod.pod.spec.containers[0]
    if pod.pod.status.phase not in ("Succeeded", "Failed"):
        code = attach_to(cli, pod, container, True, args.tty)
        if code is not None:
            return code
        pod = cli.client.get("pods", args.name, cli.namespace)
    if pod.pod.status.phase in ("Succeeded", "Failed"):   # done before we could attach
        for chunk in cli.client.logs(cli.namespace, args.name, container.name):
            write_bytes(cli.out, chunk.data)
    return exit_code(pod)


def exit_code(pod: api_pb2.Object) -> int:
    for st in pod.pod.status.container_statuses:
        if st.state.HasField("terminated"):
            return int(st.state.terminated.exit_code)
    return 0


def _ready(pod: api_pb2.Object) -> bool:
    """Running (the container has started), or already done; CliError if it cannot start."""
    status = pod.pod.status
    if status.phase in ("Succeeded", "Failed"):
        return True
    for st in status.container_statuses:
        if st.state.HasField("running"):
            return status.phase == "Running"
        waiting = st.state.waiting
        if st.state.HasField("waiting") and waiting.reason in HOPELESS:
            raise CliError(f"pod {meta_of(pod).name}: container {st.name} cannot start: "
                           f"{waiting.reason}: {waiting.message}")
    return False


def wait_running(cli: Cli, obj: api_pb2.Object, timeout: float) -> api_pb2.Object:
    """The pod once it runs (or is done), watching it; CliError at the deadline."""
    meta = meta_of(obj)
    deadline = time.monotonic() + timeout
    pod = obj
    while not _ready(pod):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CliError(f"timed out waiting for pod {meta.name} to run "
                           f"(phase {pod.pod.status.phase or 'Pending'})")
        stream = cli.client.watch("pods", meta.namespace,
                                  field_selector=f"metadata.name={meta.name}",
                                  resource_version=meta_of(pod).resource_version,
                                  timeout=remaining)
        try:
            for ev in stream:
                if ev.type == "DELETED":
                    raise CliError(f"pod {meta.name} was deleted")
                pod = ev.object
                if _ready(pod):
                    break
        except (errors.Gone, errors.Timeout):
            pod = cli.client.get("pods", meta.name, meta.namespace)
        finally:
            stream.cancel()
    return pod


def _remove(cli: Cli, obj: api_pb2.Object) -> None:
    meta = meta_of(obj)
    try:
        cli.client.delete("pods", meta.name, meta.namespace)
    except errors.NotFound:
        return
    if wait_for_deletion(cli, kinds.lookup("pods"), [obj], 120.0):
        cli.print(f'pod "{meta.name}" deleted')
