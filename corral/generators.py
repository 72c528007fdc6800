"""The manifests `corral create KIND NAME` makes from flags, as kubectl's generators do.

Each function returns a manifest in Kubernetes' JSON form (a dict), the same a user
would write in a file; `proto.codec.decode` turns it into an object, so a generator
needs nothing but its kind in the kind table (proto/kinds.py).

    namespace("demo")
    deployment("web", ["demo:v2"], replicas=3, port=8080)
    job("pi", "perl", ["perl", "-e", "print 1"])
    job_from_cronjob("manual-1", cronjob_doc)
    cronjob("tick", "busybox", "*/1 * * * *", ["date"])

Errors: GeneratorError (a ValueError) with kubectl's wording.
"""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any

Manifest = dict[str, Any]

RESTART_POLICIES = ("OnFailure", "Never")


class GeneratorError(ValueError):
    """Flags that cannot make the object (kubectl's message)."""


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def container_name(image: str) -> str:
    """kubectl's name for a container of an image: the last path element without its
    tag or digest, `_` made `-` (`registry:5000/team/web_app:v2` -> `web-app`)."""
    name = image.rsplit("/", 1)[-1]
    name = name.split("@", 1)[0].split(":", 1)[0]
    return name.replace("_", "-")


def _unique(names: list[str]) -> list[str]:
    """kubectl's sanitizeAndUniquify: a repeated name gets a random 5-letter suffix."""
    seen: set[str] = set()
    out = []
    alphabet = string.ascii_lowercase + string.digits
    for n in names:
        while n in seen:
            n = f"{n}-{''.join(secrets.choice(alphabet) for _ in range(5))}"
        seen.add(n)
        out.append(n)
    return out


def deployment(name: str, images: list[str], *, replicas: int = 1, port: int = -1,
               command: list[str] | None = None) -> Manifest:
    """`create deployment NAME --image=I [--image=J] [--replicas=N] [--port=P] [-- CMD]`:
    labels and selector app=NAME, one container per image."""
    if not images:
        raise GeneratorError('required flag(s) "image" not set')
    if command and len(images) > 1:
        raise GeneratorError("cannot specify multiple --image options and command")
    if replicas < 0:
        raise GeneratorError(f"--replicas must be 0 or more, not {replicas}")
    containers: list[dict[str, Any]] = []
    for cname, image in zip(_unique([container_name(i) for i in images]), images, strict=True):
        c: dict[str, Any] = {"name": cname, "image": image}
        if command:
            c["command"] = list(command)
        containers.append(c)
    if port >= 0:
        if port > 65535:
            raise GeneratorError(f"--port must be between 0 and 65535, not {port}")
        containers[0]["ports"] = [{"containerPort": port}]
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": containers}},
        },
    }


def _pod_template(name: str, image: str, command: list[str] | None,
                  restart: str) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    if command:
        c["command"] = list(command)
    return {"spec": {"containers": [c], "restartPolicy": restart}}


def job(name: str, image: str, command: list[str] | None = None) -> Manifest:
    """`create job NAME --image=I [-- CMD]`: one container named NAME, restartPolicy Never."""
    if not image:
        raise GeneratorError("either --image or --from must be specified")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": _pod_template(name, image, command, "Never")}}


def job_from_cronjob(name: str, cron: Manifest) -> Manifest:
    """`create job NAME --from=cronjob/C`: C's job template, annotated as started by hand
    and owned by C (as the CronJob controller's own jobs are)."""
    template = cron.get("spec", {}).get("jobTemplate", {})
    tmeta = template.get("metadata", {})
    annotations = dict(tmeta.get("annotations", {}))
    annotations["cronjob.kubernetes.io/instantiate"] = "manual"
    meta: dict[str, Any] = {"name": name, "annotations": annotations}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    cmeta = cron.get("metadata", {})
    meta["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob",
                                "name": cmeta.get("name", ""), "uid": cmeta.get("uid", ""),
                                "controller": True}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec", {}))}


def cronjob(name: str, image: str, schedule: str, command: list[str] | None = None,
            restart: str = "OnFailure") -> Manifest:
    """`create cronjob NAME --image=I --schedule=S [--restart=R] [-- CMD]`."""
    if not image:
        raise GeneratorError('required flag(s) "image" not set')
    if not schedule:
        raise GeneratorError('required flag(s) "schedule" not set')
    if restart not in RESTART_POLICIES:
        raise GeneratorError(f"invalid restart policy: {restart}, "
                             "the restart policy must be OnFailure or Never")
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule,
                     "jobTemplate": {"metadata": {"name": name},
                                     "spec": {"template": _pod_template(
                                         name, image, command, restart)}}}}
