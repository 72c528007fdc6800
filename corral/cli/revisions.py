"""`corral rollout status|history|undo` for DaemonSets and StatefulSets: their status as
kubectl's status viewers word it, and their ControllerRevisions (the template history
their controllers keep)."""

from __future__ import annotations

from corral.cli.common import Cli, CliError, meta_of, mutate
from corral.printers import table
from corral.printers.describe import Writer
from corral.printers.describe.pod import containers_section
from corral.printers.describe.sections import map_section
from proto import api_pb2, apps_pb2, core_pb2, kinds

CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION_HASH = "controller-revision-hash"


def ds_message(d: apps_pb2.DaemonSet) -> tuple[str, bool]:
    """kubectl's DaemonSetStatusViewer: (message, done)."""
    if d.spec.update_strategy.type != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")
    name, st = d.metadata.name, d.status
    if d.metadata.generation > st.observed_generation:
        return "Waiting for daemon set spec update to be observed...", False
    if st.updated_number_scheduled < st.desired_number_scheduled:
        return (f'Waiting for daemon set "{name}" rollout to finish: '
                f"{st.updated_number_scheduled} out of {st.desired_number_scheduled} new pods "
                "have been updated..."), False
    if st.number_available < st.desired_number_scheduled:
        return (f'Waiting for daemon set "{name}" rollout to finish: {st.number_available} of '
                f"{st.desired_number_scheduled} updated pods are available..."), False
    return f'daemon set "{name}" successfully rolled out', True


def sts_message(s: apps_pb2.StatefulSet) -> tuple[str, bool]:
    """kubectl's StatefulSetStatusViewer: (message, done)."""
    if s.spec.update_strategy.type != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")
    st = s.status
    if st.observed_generation == 0 or s.metadata.generation > st.observed_generation:
        return "Waiting for statefulset spec update to be observed...", False
    want = s.spec.replicas if s.spec.HasField("replicas") else 1
    if st.ready_replicas < want:
        return f"Waiting for {want - st.ready_replicas} pods to be ready...", False
    ru = s.spec.update_strategy.rolling_update
    if ru.HasField("partition"):
        if st.updated_replicas < want - ru.partition:
            return (f"Waiting for partitioned roll out to finish: {st.updated_replicas} out of "
                    f"{want - ru.partition} new pods have been updated..."), False
        return (f"partitioned roll out complete: {st.updated_replicas} new pods have been "
                "updated..."), True
    if st.update_revision != st.current_revision:
        return (f"waiting for statefulset rolling update to complete {st.updated_replicas} "
                f"pods at revision {st.update_revision}..."), False
    return (f"statefulset rolling update complete {st.current_replicas} pods at revision "
            f"{st.current_revision}..."), True


def revisions_of(cli: Cli, obj: api_pb2.Object) -> list[apps_pb2.ControllerRevision]:
    meta = meta_of(obj)
    out = [o.controller_revision for o in
           cli.client.list("controllerrevisions", meta.namespace).items
           if any(r.uid == meta.uid and r.controller
                  for r in o.controller_revision.metadata.owner_references)]
    return sorted(out, key=lambda r: r.revision)


def history(cli: Cli, obj: api_pb2.Object, revision: int) -> int:
    kind = kinds.of(obj)
    what = f"{kind.singular}.apps/{meta_of(obj).name}"
    revs = revisions_of(cli, obj)
    if revision:
        r = next((r for r in revs if r.revision == revision), None)
        if r is None:
            raise CliError(f"unable to find the specified revision {revision}")
        cli.print(f"{what} with revision #{revision}")
        w = Writer()
        t = r.data.spec.template
        w.line(0, "Pod Template:")
        map_section(w, 1, "Labels", t.metadata.labels)
        if t.metadata.annotations:
            map_section(w, 1, "Annotations", t.metadata.annotations, ": ")
        containers_section(w, 1, "Containers", t.spec.containers, None)
        cli.out.write(w.render())
        return 0
    if not revs:
        cli.print("No rollout history found.")
        return 0
    cli.print(f"{what} ")
    rows = [[str(r.revision), r.metadata.annotations.get(CHANGE_CAUSE, "<none>")] for r in revs]
    cli.out.write(table.render(["REVISION", "CHANGE-CAUSE"], rows))
    cli.print()
    return 0


def _bare(t: core_pb2.PodTemplateSpec) -> core_pb2.PodTemplateSpec:
    out = core_pb2.PodTemplateSpec()
    out.CopyFrom(t)
    out.metadata.labels.pop(REVISION_HASH, None)
    return out


def undo(cli: Cli, obj: api_pb2.Object, to_revision: int) -> int:
    kind = kinds.of(obj)
    name = meta_of(obj).name
    what = f"{kind.singular}.apps/{name}"
    revs = revisions_of(cli, obj)
    if to_revision:
        target = next((r for r in revs if r.revision == to_revision), None)
        if target is None:
            raise CliError(f"unable to find specified revision {to_revision} in history")
    else:
        if len(revs) < 2:
            raise CliError(f'no rollout history found for {kind.singular} "{name}"')
        target = revs[-2]
    template = _bare(target.data.spec.template)
    spec = kinds.unwrap(obj).spec  # type: ignore[attr-defined]
    if _bare(spec.template) == template:
        cli.print(f"{what} skipped rollback (current template already matches revision "
                  f"{target.revision})")
        return 0

    def change(o: api_pb2.Object) -> bool:
        kinds.unwrap(o).spec.template.CopyFrom(template)  # type: ignore[attr-defined]
        return True

    mutate(cli, kind.resource, name, meta_of(obj).namespace, change)
    cli.print(f"{what} rolled back")
    return 0
