"""The `corral completion` verb: the bash and zsh completion scripts."""

from __future__ import annotations

import argparse

from corral.cli.common import Cli
from corral.cli.misc.verbparser import verb_parser
from proto import kinds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = verb_parser(sub, parents, "completion", "print a shell completion script",
                    "  source <(corral completion bash)\n"
                    "  corral completion zsh > ~/.zfunc/_corral\n")
    p.add_argument("shell", choices=("bash", "zsh"))
    # every verb of the parser this registers into, and the kinds `create` makes from
    # flags, read when the verb runs (all are there by then)
    p.set_defaults(func=run_completion, completion_verbs=lambda: sorted(sub.choices),
                   create_kinds=lambda: _create_kinds(sub))


def _create_kinds(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[str]:
    create = sub.choices.get("create")
    if create is None:
        return []
    for action in create._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


VERBS = ("annotate", "api-resources", "apply", "attach", "build", "completion", "config", "cordon",
         "cp", "create", "delete", "describe", "diff", "drain", "edit", "events", "exec",
         "explain", "get", "image", "label", "logs", "patch", "replace", "rollout", "run",
         "scale", "set", "taint", "top", "uncordon", "version", "wait")


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
        -f|--filename|--config|--patch-file)
            COMPREPLY=( $(compgen -f -- "$cur") ); return;;
        -o|--output)
            COMPREPLY=( $(compgen -W "wide yaml json name jsonpath= custom-columns=" -- "$cur") ); return;;
        --type)
            COMPREPLY=( $(compgen -W "strategic merge json" -- "$cur") ); return;;
        --for)
            if [[ "${words[1]}" == wait ]]; then COMPREPLY=( $(compgen -W "condition= delete create jsonpath=" -- "$cur") ); return; fi
            COMPREPLY=( $(compgen -W "$(corral get pods,deploy -o name 2>/dev/null)" -- "$cur") ); return;;
        --context)
            COMPREPLY=( $(compgen -W "$(corral config get-contexts -o name 2>/dev/null)" -- "$cur") ); return;;
    esac
    case "${words[1]}" in
        get|describe|delete|label|annotate|explain|edit|patch|wait)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "$resources" -- "$cur") ); return; fi
            if [[ $cword -eq 3 ]]; then COMPREPLY=( $(compgen -W "$(corral get "${words[2]}" -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return; fi;;
        logs|exec|attach)
            COMPREPLY=( $(compgen -W "$(corral get pods -o name 2>/dev/null | sed 's|.*/||') $(corral get deploy,rs -o name 2>/dev/null)" -- "$cur") ); return;;
        cp)
            COMPREPLY=( $(compgen -f -- "$cur") $(compgen -W "$(corral get pods -o name 2>/dev/null | sed 's|.*/||; s|$|:|')" -- "$cur") ); compopt -o nospace 2>/dev/null; return;;
        cordon|uncordon|drain)
            COMPREPLY=( $(compgen -W "$(corral get nodes -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return;;
        taint)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "nodes" -- "$cur") ); return; fi
            if [[ $cword -eq 3 ]]; then COMPREPLY=( $(compgen -W "$(corral get nodes -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return; fi;;
        create)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "__CREATE__" -- "$cur") ); return; fi;;
        rollout)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "status history undo restart pause resume" -- "$cur") ); return; fi;;
        top)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "pods nodes" -- "$cur") ); return; fi;;
        config)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "view get-contexts current-context use-context set-context kubeconfig" -- "$cur") ); return; fi
            if [[ "${words[2]}" == use-context ]]; then COMPREPLY=( $(compgen -W "$(corral config get-contexts -o name 2>/dev/null)" -- "$cur") ); return; fi;;
        image)
            if [[ $cword -eq 2 ]]; then COMPREPLY=( $(compgen -W "ls pull load import push prune tag" -- "$cur") ); return; fi;;
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


def run_completion(cli: Cli, args: argparse.Namespace) -> int:
    verbs = args.completion_verbs() if callable(getattr(args, "completion_verbs", None)) \
        else VERBS
    creates = args.create_kinds() if callable(getattr(args, "create_kinds", None)) else []
    script = BASH.replace("__VERBS__", " ".join(verbs)).replace(
        "__RESOURCES__", " ".join(_resource_words())).replace("__CREATE__", " ".join(creates))
    cli.out.write(ZSH + script if args.shell == "zsh" else script)
    return 0
