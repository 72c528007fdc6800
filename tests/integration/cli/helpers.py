"""Shared helpers for the CLI integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from corral.client import Client
from proto import api_pb2, kinds

if TYPE_CHECKING:
    from tests.integration.cli.conftest import Corral

REPO = Path(__file__).resolve().parents[3]

MANIFESTS = REPO / "manifests"


def unique_ns(corral: Corral) -> str:
    ns = "t-" + uuid.uuid4().hex[:8]
    r = corral("apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n"
                                        f"  name: {ns}\n")
    assert r.code == 0, r.err
    return ns


def wait_for(client: Client, resource: str, ns: str,
             pred: Callable[[list[api_pb2.Object]], bool], timeout: float = 30) -> None:
    """Block (on a watch, no polling) until pred(current objects) holds."""
    lst = client.list(resource, ns)
    objs = {o.SerializeToString(): o for o in lst.items}
    current = {kinds.key_of(o): o for o in objs.values()}
    if pred(list(current.values())):
        return
    stream = client.watch(resource, ns, resource_version=lst.resource_version, timeout=timeout)
    try:
        for ev in stream:
            if ev.type == "DELETED":
                current.pop(kinds.key_of(ev.object), None)
            elif ev.type in ("ADDED", "MODIFIED"):
                current[kinds.key_of(ev.object)] = ev.object
            if pred(list(current.values())):
                return
    finally:
        stream.cancel()
    raise AssertionError(f"condition on {resource} not reached")
