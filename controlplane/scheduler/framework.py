"""The scheduling framework: Status, CycleState, NodeInfo, PodInfo, plugins.

Shaped like kube-scheduler's framework. A plugin is one file under
``controlplane/scheduler/plugins/`` exporting ``NAME`` and ``factory(args)``,
which makes either

* a ``FilterPlugin``: ``filter(state, pod, node_info) -> Status`` (can the pod
  run on this node?), with two fast paths: ``passes_clean_nodes = True`` says it
  accepts every pod on a *clean* node (Ready, schedulable, no NoSchedule/NoExecute
  taint), so it is only run on the others; ``relevant(pod) -> bool`` False says it
  cannot reject this pod, so the scheduler skips it for the whole cycle; or
* a ``ScorePlugin``: ``score(state, pod, node_info) -> tuple[int, Status]`` (how
  good is the node?). Raw scores are normalised to 0-100 across the feasible
  nodes by its ``normalize`` (``normalize_scores``: the best is 100) and weighted;
  a scorer whose ``relevant(pod)`` is False is left out for that pod.

A plugin may also be a ``PreBindPlugin``: ``await prebind(pod, node) -> Status``
runs after the pod was placed and before its bind is written (the VolumeBinding
plugin names the node on the pod's unbound claims there); a failure sends the pod
back to the queue. Plugins that read other objects find them through the
``Handle`` in their args (``args["handle"]``): the loops' client, the shared
informers, and ``requeue()`` to retry unschedulable pods when something they
wait for changed.

Plugins return a Status (the shared ``SUCCESS`` when fine) and never raise; a
raising plugin is caught by the scheduler and counted as an Error status.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from controlplane.client import Client
from controlplane.informer import InformerFactory
from proto import core_pb2


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    SKIP = 4


@dataclass(frozen=True)
class Status:
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @staticmethod
    def unschedulable(*reasons: str, plugin: str = "") -> Status:
        return Status(Code.UNSCHEDULABLE, tuple(reasons), plugin)

    @staticmethod
    def unresolvable(*reasons: str, plugin: str = "") -> Status:
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, tuple(reasons), plugin)

    @staticmethod
    def error(reason: str, plugin: str = "") -> Status:
        return Status(Code.ERROR, (reason,), plugin)


SUCCESS = Status()

MAX_NODE_SCORE = 100


@dataclass
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    pods: int = 0

    def add(self, other: Resources) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.pods += other.pods

    def sub(self, other: Resources) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.pods -= other.pods


@dataclass
class PodInfo:
    """A pod with what the plugins need computed once."""

    pod: core_pb2.Pod
    key: str                        # namespace/name
    uid: str
    requests: Resources             # sum of container requests (init: max), pods=1
    nonzero: Resources              # requests with Kubernetes' scoring defaults for 0
    owner_uid: str = ""             # controller ownerReference uid ("" if none)


@dataclass
class NodeInfo:
    """A node with the pods bound (or assumed) to it and their summed requests."""

    node: core_pb2.Node
    name: str
    allocatable: Resources
    requested: Resources = field(default_factory=Resources)
    nonzero_requested: Resources = field(default_factory=Resources)
    pods: dict[str, PodInfo] = field(default_factory=dict)      # uid -> PodInfo
    owner_counts: dict[str, int] = field(default_factory=dict)  # owner uid -> pods
    generation: int = 0
    # Ready, schedulable and without NoSchedule/NoExecute taints: the filters marked
    # ``passes_clean_nodes`` pass for any pod, so the scheduler skips them (fast path)
    clean: bool = False

    def add_pod(self, pi: PodInfo) -> None:
        if pi.uid in self.pods:
            return
        self.pods[pi.uid] = pi
        self.requested.add(pi.requests)
        self.nonzero_requested.add(pi.nonzero)
        if pi.owner_uid:
            self.owner_counts[pi.owner_uid] = self.owner_counts.get(pi.owner_uid, 0) + 1
        self.generation += 1

    def remove_pod(self, uid: str) -> PodInfo | None:
        pi = self.pods.pop(uid, None)
        if pi is None:
            return None
        self.requested.sub(pi.requests)
        self.nonzero_requested.sub(pi.nonzero)
        if pi.owner_uid:
            n = self.owner_counts.get(pi.owner_uid, 0) - 1
            if n > 0:
                self.owner_counts[pi.owner_uid] = n
            else:
                self.owner_counts.pop(pi.owner_uid, None)
        self.generation += 1
        return pi


class CycleState(dict[str, object]):
    """Per-scheduling-cycle scratch space shared by the plugins (pre-computations)."""


# a plugin's configuration (None: its defaults)
PluginArgs = Mapping[str, object] | None


class FilterPlugin(Protocol):
    name: str
    passes_clean_nodes: bool   # True: accepts every pod on a clean node (skipped there)

    def relevant(self, pod: PodInfo) -> bool:
        """False: cannot reject this pod (skipped for the whole cycle)."""
        ...

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status: ...


class ScorePlugin(Protocol):
    name: str
    description: str          # how the score is named in the "Scheduled" event

    def relevant(self, pod: PodInfo) -> bool:
        """False: this scorer has nothing to say about the pod (left out of its score)."""
        ...

    def score(self, state: CycleState, pod: PodInfo, node_info: NodeInfo
              ) -> tuple[int, Status]: ...

    def normalize(self, scores: list[int]) -> list[int]:
        """The raw scores of the feasible nodes, scaled to 0..MAX_NODE_SCORE."""
        ...


@runtime_checkable
class PreBindPlugin(Protocol):
    name: str

    def relevant(self, pod: PodInfo) -> bool: ...

    async def prebind(self, pod: PodInfo, node: str) -> Status:
        """Prepare what the pod needs on `node` before it is bound (not SUCCESS: the bind
        is not written and the pod is retried)."""
        ...


@dataclass(frozen=True)
class Handle:
    """What the scheduler lends its plugins: the client, the shared informers, and
    ``requeue()`` (unschedulable pods are tried again)."""

    client: Client
    informers: InformerFactory
    requeue: Callable[[], None]


def handle_of(args: PluginArgs, plugin: str) -> Handle:
    h = args.get("handle") if args else None
    if not isinstance(h, Handle):
        raise ValueError(f"the {plugin} plugin needs the scheduler's handle (args['handle'])")
    return h


def normalize_scores(scores: list[int], reverse: bool = False) -> list[int]:
    """Kubernetes' DefaultNormalizeScore: scale so the best is 100 (reverse: fewest is 100)."""
    if not scores:
        return scores
    hi = max(scores)
    if hi <= 0:
        return [MAX_NODE_SCORE if reverse else 0 for _ in scores]
    out = [MAX_NODE_SCORE * max(s, 0) // hi for s in scores]
    if reverse:
        out = [MAX_NODE_SCORE - s for s in out]
    return out
