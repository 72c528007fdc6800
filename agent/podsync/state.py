"""What the agent remembers about a pod across its own restarts (restart
counts, start time): one small JSON file per pod under <data-dir>/pods/."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from common.files import write_atomic, write_json_atomic
from proto import core_pb2


@dataclass
class PodRecord:
    restart_counts: dict[str, int] = field(default_factory=dict)
    start_time: float | None = None


class PodStateStore:
    def __init__(self, data_dir: str) -> None:
        self.dir = os.path.join(data_dir, "pods")
        os.makedirs(self.dir, exist_ok=True)

    def _path(self, uid: str) -> str:
        if not uid or "/" in uid or uid.startswith("."):
            raise ValueError(f"bad pod uid {uid!r}")
        return os.path.join(self.dir, uid + ".json")

    def load(self, uid: str) -> PodRecord:
        try:
            with open(self._path(uid)) as f:
                d = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return PodRecord()
        return PodRecord(restart_counts={str(k): int(v) for k, v in
                                         d.get("restart_counts", {}).items()},
                         start_time=d.get("start_time"))

    def save(self, uid: str, rec: PodRecord) -> None:
        """fsync'd: restart counts must not go back after a machine crash."""
        write_json_atomic(self._path(uid), {"restart_counts": rec.restart_counts,
                                            "start_time": rec.start_time})

    def delete(self, uid: str) -> None:
        for path in (self._path(uid), self._pod_path(uid)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # the last desired pod object, so that after a restart the agent can keep
    # looking after its pods even while the control plane is unreachable

    def _pod_path(self, uid: str) -> str:
        return self._path(uid)[:-5] + ".pod"

    def save_pod(self, pod: core_pb2.Pod) -> None:
        """No fsync: a cache of the API's object, rewritten whenever it changes."""
        write_atomic(self._pod_path(pod.metadata.uid), pod.SerializeToString(), durable=False)

    def load_pods(self) -> list[core_pb2.Pod]:
        out = []
        for n in sorted(os.listdir(self.dir)):
            if not n.endswith(".pod"):
                continue
            try:
                with open(os.path.join(self.dir, n), "rb") as f:
                    out.append(core_pb2.Pod.FromString(f.read()))
            except (OSError, DecodeError):
                continue
        return out

    def uids(self) -> list[str]:
        return sorted({n.rsplit(".", 1)[0] for n in os.listdir(self.dir)
                       if n.endswith((".json", ".pod"))})
