"""The local-cluster tool's commands: `corral-cluster`, `corral-chaos`, `corral-demo`.

`corral cluster up` runs `corral-cluster up` (corral hands a verb it does not have to
the executable `corral-<verb>`, as kubectl does with plugins: corral.cli.plugins).
Each command runs corral's own CLI with this package's verbs added, on corral's
command line again (corral.cli.main.plugin_main), so the global flags, the help,
the errors and the exit codes are corral's, and `corral-cluster up` is `corral
cluster up`.
"""

from __future__ import annotations

import argparse
from typing import Any

from corral.cli import main as corral_main
from localcluster import cli
from localcluster.demo import verb as demo_verb


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    """The verbs: demo, cluster, chaos."""
    demo_verb.register(sub, parents)
    cli.register(sub, parents)


def _main(verb: str) -> None:
    corral_main.plugin_main(verb, [register])


def cluster() -> None:
    """`corral-cluster`: `corral cluster up|down|ls`."""
    _main("cluster")


def chaos() -> None:
    """`corral-chaos`: `corral chaos VERB TARGET`."""
    _main("chaos")


def demo() -> None:
    """`corral-demo`: `corral demo NAME|ls|all`."""
    _main("demo")
