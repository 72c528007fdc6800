"""The script format of a demo: a Demo is a list of Steps, each with narration, a
command and a Wait that proves its claim; plus the step builders the demos share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcluster.demo.run import Run

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "demos"


class DemoFailed(Exception):
    """A step's command failed or its condition was not met in time."""


# -- the script format ----------------------------------------------------------------------------

Text = str | Callable[[Run], str]
Argv = list[str] | Callable[[Run], list[str]]


@dataclass
class Wait:
    """A condition with a deadline: `check` returns a proof line when it holds, else None."""
    what: str
    check: Callable[[Run], str | None]
    timeout: float = 60.0


@dataclass
class Step:
    say: Text = ""                       # narration: what is about to happen and why
    cmd: Argv | None = None              # a corral command line, without "corral"
    wait: Wait | None = None             # the claim, proven
    expect: str = ""                     # text the command's output must contain
    before: Callable[[Run], None] | None = None   # note facts for later steps (not shown)


@dataclass
class Demo:
    name: str
    title: str
    steps: list[Step]

    @property
    def namespace(self) -> str:
        return f"demo-{self.name}"

    @property
    def manifest(self) -> Path:
        return MANIFESTS / f"{self.name}.yaml"


def shown_path(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def apply_step(say: str, wait: Wait) -> Step:
    return Step(say, lambda r: ["apply", "-f", shown_path(r.manifest)], wait)


def get_pods_step(say: str = "") -> Step:
    return Step(say, lambda r: ["get", "pods", "-o", "wide", "-n", r.ns])

