"""Smaller verbs: version, api-resources, explain, completion, label, annotate, top,
config.

One module per verb group: version (version, api-resources), explain, completion
(the bash/zsh scripts and their verb list), label (label, annotate), top and
config_verbs (config ...); verbparser builds their parsers alike.
"""

from __future__ import annotations

import argparse

from corral.cli.misc import completion, config_verbs, explain, label, top, version
from corral.cli.misc.completion import BASH, VERBS, ZSH, run_completion
from corral.cli.misc.config_verbs import (
    run_config_current,
    run_config_get_contexts,
    run_config_set,
    run_config_use,
    run_config_view,
)
from corral.cli.misc.explain import field_type, run_explain
from corral.cli.misc.label import run_annotate, run_label
from corral.cli.misc.top import run_top
from corral.cli.misc.verbparser import FMT, verb_parser
from corral.cli.misc.version import client_version, run_api_resources, run_version


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    for module in (version, explain, completion, label, top, config_verbs):
        module.register(sub, parents)


__all__ = ["BASH", "FMT", "VERBS", "ZSH", "client_version", "field_type", "register",
           "run_annotate", "run_api_resources", "run_completion", "run_config_current",
           "run_config_get_contexts", "run_config_set", "run_config_use", "run_config_view",
           "run_explain", "run_label", "run_top", "run_version", "verb_parser"]
