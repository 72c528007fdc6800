"""The VM lane's run state: the VMs (name, address, tap, qemu PID) and state.json,
from which `down` works even after a crash."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

NET = "10.231.0"
BRIDGE_IP = f"{NET}.1"
CP_NAME = "cp"


@dataclass
class Vm:
    name: str
    ip: str
    index: int
    role: str                       # "controlplane" or "worker"
    pid: int = 0
    overlay: str = ""
    console: str = ""

    @property
    def tap(self) -> str:
        return f"tap{self.index}"

    @property
    def mac(self) -> str:
        return f"52:54:00:c0:aa:{self.index + 10:02x}"


@dataclass
class State:
    run_dir: str
    netns: str
    image_dir: str
    vms: list[Vm] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def save(self) -> None:
        path = Path(self.run_dir) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, run_dir: str) -> State:
        data = json.loads((Path(run_dir) / "state.json").read_text())
        vms = [Vm(**v) for v in data.pop("vms")]
        return cls(vms=vms, **data)
