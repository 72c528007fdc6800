"""The conditions that demos wait on: pods ready, a Deployment fully rolled out."""

from __future__ import annotations

from collections.abc import Callable

from localcluster.demo.run import Run
from proto import core_pb2


def pod_ready(p: core_pb2.Pod) -> bool:
    return (p.status.phase == "Running" and not p.metadata.HasField("deletion_timestamp")
            and bool(p.status.container_statuses)
            and all(c.ready for c in p.status.container_statuses))


def _spread(pods: list[core_pb2.Pod]) -> str:
    count: dict[str, int] = {}
    for p in pods:
        count[p.spec.node_name] = count.get(p.spec.node_name, 0) + 1
    return ", ".join(f"{n}: {k}" for n, k in sorted(count.items()))


def deployment_ready(name: str, n: int, image: str = "",
                     extra: Callable[[Run, list[core_pb2.Pod]], str | None] | None = None,
                     ) -> Callable[[Run], str | None]:
    """Deployment `name` has n/n ready, updated and available; exactly n pods, all Running
    and ready (none terminating), all on `image` when given."""
    def check(r: Run) -> str | None:
        d = r.deployment(name)
        st = d.status
        want = d.spec.replicas if d.spec.HasField("replicas") else 1
        r.why = (f"deployment {name}: {st.ready_replicas}/{want} ready, "
                 f"{st.updated_replicas} updated, {st.replicas} total")
        if want != n or st.observed_generation < d.metadata.generation:
            return None
        if not (st.ready_replicas == st.updated_replicas == st.replicas == n):
            return None
        pods = r.pods(f"app={name}")
        r.why = f"{sum(map(pod_ready, pods))} of {len(pods)} pods Running and ready"
        if len(pods) != n or not all(pod_ready(p) for p in pods):
            return None
        if image and any(c.image != image for p in pods for c in p.spec.containers):
            r.why = f"pods not all on {image} yet"
            return None
        more = ""
        if extra is not None:
            got = extra(r, pods)
            if got is None:
                return None
            more = f"; {got}" if got else ""
        on = f", running {image}" if image else ""
        return f"deployment {name}: {n}/{n} ready{on} (pods per node: {_spread(pods)}){more}"
    return check


def container_status(p: core_pb2.Pod) -> core_pb2.ContainerStatus | None:
    return p.status.container_statuses[0] if p.status.container_statuses else None

