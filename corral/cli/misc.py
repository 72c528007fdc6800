"""Smaller verbs: version, api-resources, explain, completion, label, annotate, top,
image, config."""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from corral import config, errors
from corral.cli.common import Cli, CliError, meta_of, mutate, parse_targets
from corral.printers import columns, table
from corral.printers.humanize import format_bytes
from corral.printers.output import to_json, to_yaml
from proto import api_pb2, kinds

FMT = argparse.RawDescriptionHelpFormatter


def _parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
            parents: list[argparse.ArgumentParser], name: str, help_: str,
            examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, parents=parents, help=help_, description=help_.capitalize() + ".",
                          epilog="examples:\n" + examples, formatter_class=FMT)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = _parser(sub, parents, "version", "print the client and server version",
                "  corral version\n  corral version --client\n  corral version -o json\n")
    p.add_argument("--client", action="store_true", help="the client version only")
    p.add_argument("-o", "--output", default="", choices=("", "yaml", "json"))
    p.set_defaults(func=run_version)

    p = _parser(sub, parents, "api-resources", "print the supported API resources",
                "  corral api-resources\n  corral api-resources --namespaced=false\n"
                "  corral api-resources -o name\n")
    p.add_argument("--namespaced", choices=("true", "false"), default=None)
    p.add_argument("-o", "--output", default="", choices=("", "wide", "name"))
    p.add_argument("--no-headers", action="store_true")
    p.set_defaults(func=run_api_resources)

    p = _parser(sub, parents, "explain", "list the fields of a resource",
                "  corral explain pods\n  corral explain pod.spec.containers\n"
                "  corral explain deploy.spec.strategy --recursive\n")
    p.add_argument("field", metavar="TYPE[.FIELD...]")
    p.add_argument("--recursive", action="store_true", help="every field, nested")
    p.set_defaults(func=run_explain)

    p = _parser(sub, parents, "completion", "print a shell completion script",
                "  source <(corral completion bash)\n  corral completion zsh > ~/.zfunc/_corral\n")
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(func=run_completion)

    for verb, func in (("label", run_label), ("annotate", run_annotate)):
        what = "labels" if verb == "label" else "annotations"
        p = _parser(sub, parents, verb, f"update the {what} of a resource",
                    f"  corral {verb} pods web tier=frontend\n"
                    f"  corral {verb} --overwrite deploy/web tier=backend\n"
                    f"  corral {verb} pods web tier-            # remove\n")
        p.add_argument("args", nargs="+", metavar="TYPE NAME KEY=VAL | KEY-")
        p.add_argument("--overwrite", action="store_true", help="replace existing values")
        p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
        p.add_argument("--all", action="store_true")
        p.set_defaults(func=func, meta_field=what)

    p = _parser(sub, parents, "top", "show CPU and memory use of pods or nodes",
                "  corral top nodes\n  corral top pods -A\n  corral top pod web --containers\n")
    p.add_argument("resource", choices=("pods", "pod", "po", "nodes", "node", "no"))
    p.add_argument("name", nargs="?", default="")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--containers", action="store_true", help="a row per container")
    p.add_argument("--no-headers", action="store_true")
    p.set_defaults(func=run_top)

    p = _parser(sub, parents, "image", "manage images on the nodes",
                "  corral image ls\n  corral image ls --node node-1\n"
                "  corral image pull busybox:1.36\n")
    isub = p.add_subparsers(dest="image_verb", metavar="SUBCOMMAND", required=True)
    ip = isub.add_parser("ls", parents=parents, help="list the images of every node",
                         aliases=["list"], formatter_class=FMT,
                         epilog="examples:\n  corral image ls\n"
                                "  corral image ls --node node-1 -q\n")
    ip.add_argument("--node", default="", help="only this node")
    ip.add_argument("-q", "--quiet", action="store_true", help="image references only")
    ip.set_defaults(func=run_image_ls)
    for name, help_ in (("pull", "pull an image on the nodes"),
                        ("load", "load an image archive onto the nodes"),
                        ("push", "push an image from a node to a registry"),
                        ("prune", "remove unused images from the nodes")):
        example = {"pull": "busybox:1.36", "load": "busybox.tar", "push": "busybox:1.36",
                   "prune": ""}[name]
        ip = isub.add_parser(name, parents=parents, help=help_, formatter_class=FMT,
                             epilog=f"examples:\n  corral image {name} {example}\n")
        if name != "prune":
            ip.add_argument("image", metavar="IMAGE" if name != "load" else "ARCHIVE")
        ip.add_argument("--node", default="", help="only this node")
        ip.set_defaults(func=run_image_other, image_op=name)

    p = _parser(sub, parents, "config", "view and change the CLI config file",
                "  corral config view\n  corral config get-contexts\n"
                "  corral config set-context local --server 10.0.0.1:6443 --namespace dev\n"
                "  corral config use-context local\n")
    csub = p.add_subparsers(dest="config_verb", metavar="SUBCOMMAND", required=True)
    cp = csub.add_parser("view", parents=parents, help="print the config",
                         formatter_class=FMT, epilog="examples:\n  corral config view\n")
    cp.set_defaults(func=run_config_view)
    cp = csub.add_parser("get-contexts", parents=parents, help="list the contexts",
                         formatter_class=FMT, epilog="examples:\n  corral config get-contexts\n")
    cp.set_defaults(func=run_config_get_contexts)
    cp = csub.add_parser("current-context", parents=parents, help="print the current context",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config current-context\n")
    cp.set_defaults(func=run_config_current)
    cp = csub.add_parser("use-context", parents=parents, help="set the current context",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config use-context local\n")
    cp.add_argument("name")
    cp.set_defaults(func=run_config_use)
    cp = csub.add_parser("set-context", parents=parents, help="create or change a context",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config set-context local "
                                "--server 127.0.0.1:6443 -n dev\n")
    cp.add_argument("name")
    cp.add_argument("--ca", dest="certificate_authority", default=None)
    cp.add_argument("--client-certificate", default=None)
    cp.add_argument("--client-key", default=None)
    cp.set_defaults(func=run_config_set)


# -- version / api-resources ----------------------------------------------------------------------


def client_version() -> str:
    try:
        return metadata.version("corral")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def run_version(cli: Cli, args: argparse.Namespace) -> int:
    client = {"version": "v" + client_version(), "pythonVersion": platform.python_version(),
              "platform": f"{platform.system().lower()}/{platform.machine()}"}
    server: dict[str, str] | None = None
    err: errors.ClientError | None = None
    if not args.client:
        try:
            v = cli.client.version()
            server = {"version": v.version if v.version.startswith("v") else "v" + v.version,
                      "gitCommit": v.git_commit, "pythonVersion": v.python_version,
                      "platform": v.platform, "etcdVersion": v.etcd_version}
        except errors.ClientError as e:
            err = e
    if args.output:
        doc: dict[str, object] = {"clientVersion": client}
        if server is not None:
            doc["serverVersion"] = server
        cli.out.write(to_json(doc) if args.output == "json" else to_yaml(doc))
    else:
        cli.print(f"Client Version: {client['version']}")
        if server is not None:
            cli.print(f"Server Version: {server['version']}")
    if err is not None:
        cli.server_error(err)
        return 1
    return 0


def run_api_resources(cli: Cli, args: argparse.Namespace) -> int:
    try:
        resources: list[api_pb2.ApiResource] = cli.client.api_resources()
    except errors.Unsupported:
        resources = [api_pb2.ApiResource(name=k.resource, singular_name=k.singular,
                                         short_names=k.short_names, api_version=k.api_version,
                                         kind=k.kind, namespaced=k.namespaced)
                     for k in kinds.KINDS]
    if args.namespaced is not None:
        want = args.namespaced == "true"
        resources = [r for r in resources if r.namespaced == want]
    resources = sorted(resources, key=lambda r: (r.api_version.rpartition("/")[0], r.name))
    if args.output == "name":
        for r in resources:
            group = r.api_version.rpartition("/")[0]
            cli.print(f"{r.name}.{group}" if group else r.name)
        return 0
    rows = [[r.name, ",".join(r.short_names), r.api_version,
             "true" if r.namespaced else "false", r.kind] for r in resources]
    hdr = None if args.no_headers else ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    cli.out.write(table.render(hdr, rows))
    return 0


# -- explain --------------------------------------------------------------------------------------

_SCALARS = {
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BOOL: "boolean",
    FieldDescriptor.TYPE_BYTES: "string", FieldDescriptor.TYPE_DOUBLE: "number",
    FieldDescriptor.TYPE_FLOAT: "number",
}


def field_type(fd: Any) -> str:
    """kubectl explain's type names: <string>, <integer>, <[]Container>, <map[string]string>."""
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        value = fd.message_type.fields_by_name["value"]
        return f"map[string]{field_type(value)}"
    if fd.message_type is not None:
        name = fd.message_type.name
        if fd.message_type.full_name == "google.protobuf.Timestamp":
            name = "string"
        elif fd.message_type.full_name == "corral.v1.IntOrString":
            name = "IntOrString"
        base = name if fd.message_type.full_name != "google.protobuf.Timestamp" else "string"
    else:
        base = _SCALARS.get(fd.type, "integer")
    repeated = getattr(fd, "is_repeated", None)
    is_rep = repeated if isinstance(repeated, bool) else \
        fd.label == FieldDescriptor.LABEL_REPEATED
    return f"[]{base}" if is_rep else base


def _is_object(fd: Any) -> bool:
    return (fd.message_type is not None and not fd.message_type.GetOptions().map_entry
            and fd.message_type.full_name not in ("google.protobuf.Timestamp",
                                                   "corral.v1.IntOrString"))


def _fields(cli: Cli, desc: Any, indent: int, recursive: bool, depth: int = 0) -> None:
    for fd in desc.fields:
        cli.print(f"{'  ' * indent}{fd.json_name}\t<{field_type(fd)}>")
        if recursive and _is_object(fd) and depth < 12:
            _fields(cli, fd.message_type, indent + 1, recursive, depth + 1)


def run_explain(cli: Cli, args: argparse.Namespace) -> int:
    parts = args.field.split(".")
    try:
        kind = kinds.lookup(parts[0])
    except kinds.UnknownKind as e:
        raise CliError(str(e)) from None
    desc: Any = kind.message.DESCRIPTOR
    fd: Any | None = None
    path = []
    for p in parts[1:]:
        by_json = {f.json_name: f for f in desc.fields}
        fd = by_json.get(p)
        if fd is None:
            raise CliError(f'field "{p}" does not exist')
        path.append(p)
        if _is_object(fd):
            desc = fd.message_type
        elif p != parts[-1]:
            raise CliError(f'field "{p}" is not an object; it has no fields')
    cli.print(f"KIND:       {kind.kind}")
    cli.print(f"VERSION:    {kind.api_version}")
    cli.print()
    if fd is not None:
        cli.print(f"FIELD: {fd.json_name} <{field_type(fd)}>")
        cli.print()
    cli.print("DESCRIPTION:")
    cli.print("    (descriptions are not available; see the Kubernetes API reference for "
              f"{kind.kind}{'.' + '.'.join(path) if path else ''})")
    cli.print()
    if fd is None or _is_object(fd):
        cli.print("FIELDS:")
        _fields(cli, desc, 1, args.recursive)
    return 0


# -- completion -----------------------------------------------------------------------------------

VERBS = ("annotate", "api-resources", "apply", "completion", "config", "cordon", "create",
         "delete", "describe", "drain", "exec", "explain", "get", "image", "label", "logs",
         "rollout", "scale", "set", "top", "uncordon", "version")


def _resource_words() -> list[str]:
    words: set[str] = set()
    for k in kinds.KINDS:
        words.update((k.resource, k.singular, *k.short_names))
    return sorted(words)


BASH = """\
# bash completion for corral                              -*- shell-script -*-
_corral() {
    local cur prev words cword
    _init_completion 2>/dev/null || { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
    local verbs="__VERBS__"
    local resources="__RESOURCES__"
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=( $(compgen -W "$verbs" -- "$cur") ); return
    fi
    case "$prev" in
        -n|--namespace)
            COMPREPLY=( $(compgen -W "$(corral get namespaces -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return;;
        -f|--filename|--config)
            COMPREPLY=( $(compgen -f -- "$cur") ); return;;
        -o|--output)
            COMPREPLY=( $(compgen -W "wide yaml json name jsonpath= custom-columns=" -- "$cur") ); return;;
    esac
    case "${words[1]}" in
        get|describe|delete|label|annotate|explain)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "$resources" -- "$cur") ); return; fi
            if [[ $cword -eq 3 ]]; then COMPREPLY=( $(compgen -W "$(corral get "${words[2]}" -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return; fi;;
        logs|exec)
            COMPREPLY=( $(compgen -W "$(corral get pods -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return;;
        cordon|uncordon|drain)
            COMPREPLY=( $(compgen -W "$(corral get nodes -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return;;
        rollout)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "status history undo restart pause resume" -- "$cur") ); return; fi;;
        top)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "pods nodes" -- "$cur") ); return; fi;;
        image)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "ls pull load push prune" -- "$cur") ); return; fi;;
        completion)
            COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ); return;;
    esac
    COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -o default -F _corral corral
"""  # noqa: E501


ZSH = """\
#compdef corral
# zsh completion for corral
autoload -U +X bashcompinit && bashcompinit
"""


def _verbs() -> list[str]:
    """Every verb of the parser (plugins such as `cluster` included), else VERBS."""
    try:
        from corral.cli.main import build_parser
        parser = build_parser()
    except Exception:
        return list(VERBS)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return list(VERBS)


def run_completion(cli: Cli, args: argparse.Namespace) -> int:
    script = BASH.replace("__VERBS__", " ".join(_verbs())).replace(
        "__RESOURCES__", " ".join(_resource_words()))
    cli.out.write(ZSH + script if args.shell == "zsh" else script)
    return 0


# -- label / annotate -----------------------------------------------------------------------------


def _meta_changes(items: list[str], what: str) -> tuple[dict[str, str], list[str]]:
    sets: dict[str, str] = {}
    removes: list[str] = []
    for item in items:
        if item.endswith("-") and "=" not in item:
            removes.append(item[:-1])
        elif "=" in item:
            k, _, v = item.partition("=")
            if not k:
                raise CliError(f"invalid {what[:-1]} spec: {item}")
            sets[k] = v
        else:
            raise CliError(f"invalid {what[:-1]} spec: {item}, expected KEY=VALUE or KEY-")
    if not sets and not removes:
        raise CliError(f"at least one {what[:-1]} update is required")
    return sets, removes


def _run_meta(cli: Cli, args: argparse.Namespace, verb: str) -> int:
    what: str = args.meta_field
    positional = [a for a in args.args if "=" not in a and not a.endswith("-")]
    changes = [a for a in args.args if a not in positional]
    sets, removes = _meta_changes(changes, what)
    targets = parse_targets(positional, verb)
    objs: list[tuple[kinds.Kind, str, str]] = []
    for t in targets:
        if t.names:
            objs.extend((t.kind, n, cli.namespace) for n in t.names)
        elif args.selector or args.all:
            for o in cli.client.list(t.kind.resource, cli.namespace, args.selector).items:
                objs.append((t.kind, meta_of(o).name, meta_of(o).namespace))
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    past = "labeled" if verb == "label" else "annotated"
    for kind, name, ns in objs:
        def change(obj: api_pb2.Object) -> bool:
            m = getattr(meta_of(obj), what)
            for k, v in sets.items():
                if k in m and m[k] != v and not args.overwrite:
                    raise CliError(f"'{k}' already has a value ({m[k]}), and --overwrite is false")
            changed = False
            for k, v in sets.items():
                if m.get(k) != v:
                    m[k] = v
                    changed = True
            for k in removes:
                if k in m:
                    del m[k]
                    changed = True
            return changed

        result = mutate(cli, kind.resource, name, ns, change)
        word = past if result is not None else "not " + past
        cli.print(f"{columns.qualified_kind(kind)}/{name} {word}")
    return 0


def run_label(cli: Cli, args: argparse.Namespace) -> int:
    return _run_meta(cli, args, "label")


def run_annotate(cli: Cli, args: argparse.Namespace) -> int:
    return _run_meta(cli, args, "annotate")


# -- top ------------------------------------------------------------------------------------------


def _cpu(nano: int) -> str:
    return f"{nano // 1_000_000}m"


def run_top(cli: Cli, args: argparse.Namespace) -> int:
    resource = kinds.lookup(args.resource).resource
    if resource == "nodes":
        resp = cli.client.top("nodes", "", args.name)
        rows = []
        for n in sorted(resp.nodes, key=lambda x: x.name):
            cpu_pct = (n.cpu_usage_nano_cores / (n.cpu_capacity_cores * 1e9) * 100
                       if n.cpu_capacity_cores else 0)
            mem_pct = (n.memory_working_set_bytes / n.memory_capacity_bytes * 100
                       if n.memory_capacity_bytes else 0)
            rows.append([n.name, _cpu(n.cpu_usage_nano_cores), f"{int(cpu_pct)}%",
                         format_bytes(n.memory_working_set_bytes), f"{int(mem_pct)}%"])
        if not rows:
            raise CliError("metrics not available yet")
        hdr = ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
        cli.out.write(table.render(None if args.no_headers else hdr, rows))
        return 0
    ns = "" if args.all_namespaces else cli.namespace
    presp = cli.client.top("pods", ns, args.name)
    rows = []
    for p in sorted(presp.pods, key=lambda x: (x.namespace, x.name)):
        lead = [p.namespace] if args.all_namespaces else []
        if args.containers:
            for c in p.containers:
                rows.append([*lead, p.name, c.name, _cpu(c.cpu_usage_nano_cores),
                             format_bytes(c.memory_working_set_bytes)])
        else:
            cpu = sum(c.cpu_usage_nano_cores for c in p.containers)
            mem = sum(c.memory_working_set_bytes for c in p.containers)
            rows.append([*lead, p.name, _cpu(cpu), format_bytes(mem)])
    if not rows:
        if args.name:
            raise CliError(f'pod "{args.name}" has no metrics yet')
        cli.err.write(f"No resources found in {ns} namespace.\n" if ns else
                      "No resources found\n")
        return 0
    hdr = (["NAMESPACE"] if args.all_namespaces else []) + ["NAME"] + \
        (["NAME"] if args.containers else []) + ["CPU(cores)", "MEMORY(bytes)"]
    if args.containers:
        hdr[-4] = "POD"
    cli.out.write(table.render(None if args.no_headers else hdr, rows))
    return 0


# -- image ----------------------------------------------------------------------------------------


def _split_ref(ref: str) -> tuple[str, str]:
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return name, digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "<none>"


def run_image_ls(cli: Cli, args: argparse.Namespace) -> int:
    resp = cli.client.node_images(args.node)
    rows = []
    for node in sorted(resp.nodes, key=lambda n: n.node):
        for img in node.images:
            names = list(img.names) or ["<none>"]
            for ref in names:
                repo, tag = _split_ref(ref)
                image_id = img.id.removeprefix("sha256:")[:12]
                rows.append([node.node, repo, tag, image_id, _size(img.size_bytes)])
    if args.quiet:
        for r in rows:
            cli.print(f"{r[1]}:{r[2]}")
        return 0
    if not rows:
        cli.err.write("No images found\n")
        return 0
    cli.out.write(table.render(["NODE", "IMAGE", "TAG", "IMAGE ID", "SIZE"], rows))
    return 0


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n}B"


def run_image_other(cli: Cli, args: argparse.Namespace) -> int:
    op = args.image_op
    try:
        if op == "pull":
            for progress in cli.client.pull_image(args.image):
                status = getattr(progress, "status", "")
                layer = getattr(progress, "layer", "")
                error = getattr(progress, "error", "")
                if error:
                    raise CliError(error)
                cli.print(f"{layer[:19] + ': ' if layer else ''}{status}")
            return 0
        if op == "prune":
            resp = cli.client.prune_images()
            for r in resp.removed:
                cli.print(f"deleted: {r}")
            cli.print(f"Total reclaimed space: {_size(resp.bytes_freed)}")
            return 0
    except errors.Unsupported:
        pass
    raise CliError(f"image {op} is not yet supported by this server "
                   f"(it serves no {op.capitalize()}Image call); use `corral image ls`, or run "
                   "the image tools on the node")


# -- config ---------------------------------------------------------------------------------------


def _load(cli: Cli) -> config.Config:
    try:
        return config.load(getattr(cli.args, "config", None))
    except config.ConfigError as e:
        raise CliError(str(e)) from None


def run_config_view(cli: Cli, args: argparse.Namespace) -> int:
    cli.out.write(to_yaml(_load(cli).to_dict()))
    return 0


def run_config_get_contexts(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    rows = [["*" if name == cfg.current_context else "", name, c.server or "", c.namespace]
            for name, c in cfg.contexts.items()]
    cli.out.write(table.render(["CURRENT", "NAME", "SERVER", "NAMESPACE"], rows))
    return 0


def run_config_current(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    if not cfg.current_context:
        raise CliError("current-context is not set")
    cli.print(cfg.current_context)
    return 0


def run_config_use(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    if args.name not in cfg.contexts:
        raise CliError(f'no context exists with the name: "{args.name}"')
    cfg.current_context = args.name
    cfg.save()
    cli.print(f'Switched to context "{args.name}".')
    return 0


def run_config_set(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    existed = args.name in cfg.contexts
    ctx = cfg.contexts.setdefault(args.name, config.Context(name=args.name))
    server = getattr(args, "server", None)
    namespace = getattr(args, "namespace", None)
    if server:
        ctx.server = server
    if namespace:
        ctx.namespace = namespace
    for attr in ("certificate_authority", "client_certificate", "client_key"):
        value = getattr(args, attr)
        if value is not None:
            setattr(ctx, attr, value)
    if not cfg.current_context:
        cfg.current_context = args.name
    cfg.save()
    cli.print(f'Context "{args.name}" {"modified" if existed else "created"}.')
    return 0


__all__ = ["json"]
