"""secrets: what encrypting Secrets at rest costs, and how long a key rotation takes.

A control plane (``python -m controlplane --no-loops``, embedded etcd) on
loopback; one client creates N ConfigMaps and N Secrets with the same 1 KiB of
data (a ConfigMap is stored as it is, a Secret encrypted with AES-256-GCM), gets
each back, then ``RotateEncryptionKey`` re-encrypts the N Secrets.
"""

from __future__ import annotations

import time

from bench.common import BenchResult, summary

NAME = "secrets"
VALUE = "x" * 1024


def run(quick: bool = False) -> BenchResult:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    n = 50 if quick else 500
    res = BenchResult(NAME)
    times: dict[str, list[float]] = {}
    with ControlPlaneProcess("", loops=False) as cp, Client(cp.address) as cl:
        cl.create(codec.decode({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "b"}}))
        for kind, field in (("ConfigMap", "data"), ("Secret", "stringData")):
            for i in range(n):
                doc = {"apiVersion": "v1", "kind": kind,
                       "metadata": {"name": f"o{i:04d}", "namespace": "b"},
                       field: {"value": VALUE}}
                t = time.perf_counter()
                cl.create(codec.decode(doc))
                times.setdefault(f"{kind} create", []).append(time.perf_counter() - t)
            resource = kind.lower() + "s"
            for i in range(n):
                t = time.perf_counter()
                cl.get(resource, f"o{i:04d}", "b")
                times.setdefault(f"{kind} get", []).append(time.perf_counter() - t)
        t = time.perf_counter()
        out = cl.rotate_encryption_key(timeout=600)
        rotation = time.perf_counter() - t
        assert out.reencrypted == n
    for what, values in times.items():
        res.add(f"{what} p50", summary(values)["p50"] * 1000, "ms")
    res.add(f"rotate-key ({n} Secrets re-encrypted)", rotation, "s")
    res.notes.append(f"{n} ConfigMaps and {n} Secrets of 1 KiB, one client in a row; "
                     "ConfigMaps are not encrypted, Secrets are (AES-256-GCM)")
    return res
