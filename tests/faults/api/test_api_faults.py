"""Faults at the API: racing writers, and a watcher that falls behind a compaction. A
real etcd and a real `python -m controlplane` process (API only), through gRPC."""

from __future__ import annotations

import threading

import grpc

from controlplane.store.etcd_store import Store
from proto import api_pb2, api_pb2_grpc
from tests.faults.api.conftest import channel, dep_doc, obj, pod_doc
from tests.support.aio import run
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess

# ---- 4. two writers, one resourceVersion ----------------------------------------------------

def test_two_clients_same_resource_version_one_conflict_no_lost_update(
        cp: ControlPlaneProcess) -> None:
    rounds = 10
    with channel(cp) as ch_a, channel(cp) as ch_b:
        a, b = api_pb2_grpc.ApiStub(ch_a), api_pb2_grpc.ApiStub(ch_b)
        a.Create(api_pb2.CreateRequest(object=obj(dep_doc("race"))), timeout=10)
        for r in range(rounds):
            # both clients read the same version ...
            got_a = a.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                             name="race"), timeout=10)
            got_b = b.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                             name="race"), timeout=10)
            rv = got_a.deployment.metadata.resource_version
            assert got_b.deployment.metadata.resource_version == rv
            got_a.deployment.metadata.labels[f"a{r}"] = "x"
            got_b.deployment.metadata.labels[f"b{r}"] = "y"
            # ... and write it back at the same moment
            barrier = threading.Barrier(2)
            results: dict[str, grpc.StatusCode] = {}

            def write(name: str, stub: api_pb2_grpc.ApiStub, o: api_pb2.Object,
                      barrier: threading.Barrier = barrier,
                      results: dict[str, grpc.StatusCode] = results) -> None:
                barrier.wait(10)
                try:
                    stub.Update(api_pb2.UpdateRequest(object=o), timeout=10)
                    results[name] = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    results[name] = e.code()

            threads = [threading.Thread(target=write, args=("a", a, got_a)),
                       threading.Thread(target=write, args=("b", b, got_b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            codes = sorted(results.values(), key=str)
            assert codes == sorted([grpc.StatusCode.OK, grpc.StatusCode.ABORTED], key=str), \
                f"round {r}: {results}"
            # the loser retries from a fresh read, as the API asks; nothing is lost
            loser, key, val = (b, f"b{r}", "y") if results["b"] != grpc.StatusCode.OK \
                else (a, f"a{r}", "x")
            fresh = loser.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                                 name="race"), timeout=10)
            fresh.deployment.metadata.labels[key] = val
            loser.Update(api_pb2.UpdateRequest(object=fresh), timeout=10)
        final = a.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                         name="race"), timeout=10).deployment
        labels = dict(final.metadata.labels)
        for r in range(rounds):
            assert labels.get(f"a{r}") == "x" and labels.get(f"b{r}") == "y", labels
        a.Delete(api_pb2.DeleteRequest(resource="deployments", namespace="default",
                                       name="race"), timeout=10)


# ---- 5. compaction while a watcher lags ------------------------------------------------------

class Reflector:
    """A client-side cache of pods kept by list + watch, relisting on OUT_OF_RANGE."""

    def __init__(self, stub: api_pb2_grpc.ApiStub) -> None:
        self.stub = stub
        self.cache: dict[str, str] = {}     # name -> resourceVersion
        self.rv = ""
        self.relists = 0
        self.out_of_range = 0

    def relist(self) -> None:
        resp = self.stub.List(api_pb2.ListRequest(resource="pods", namespace="default"),
                              timeout=10)
        self.cache = {i.pod.metadata.name: i.pod.metadata.resource_version for i in resp.items}
        self.rv = resp.resource_version
        self.relists += 1

    def catch_up(self, until: str, timeout: float = 20) -> None:
        """Watch from self.rv until an event at revision >= `until` (relisting if told)."""
        while True:
            call = self.stub.Watch(api_pb2.WatchRequest(resource="pods", namespace="default",
                                                        resource_version=self.rv),
                                   timeout=timeout)
            try:
                for ev in call:
                    name = ev.object.pod.metadata.name
                    if ev.type == "DELETED":
                        self.cache.pop(name, None)
                    elif ev.type in ("ADDED", "MODIFIED"):
                        self.cache[name] = ev.object.pod.metadata.resource_version
                    self.rv = ev.resource_version or self.rv
                    if int(self.rv) >= int(until):
                        call.cancel()
                        return
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.OUT_OF_RANGE:
                    self.out_of_range += 1
                    self.relist()
                    if int(self.rv) >= int(until):
                        return
                    continue
                if e.code() == grpc.StatusCode.CANCELLED:
                    return
                raise


def etcd_pods(endpoint: str) -> dict[str, str]:
    """The pods as etcd has them (read past the API server)."""
    async def read() -> dict[str, str]:
        store = Store(endpoint)
        try:
            items, _rev = await store.list("pods", "default")
            out = {}
            for o in items:
                out[o.pod.metadata.name] = o.pod.metadata.resource_version
            return out
        finally:
            await store.close()
    return run(read(), timeout=30)


def compact(endpoint: str) -> int:
    async def go() -> int:
        store = Store(endpoint)
        try:
            rev = await store.revision()
            await store.compact(rev)
            return rev
        finally:
            await store.close()
    return run(go(), timeout=30)


def test_watcher_lagging_behind_compaction_relists_and_matches_etcd(
        etcd: EtcdProcess, cp: ControlPlaneProcess) -> None:
    with channel(cp) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        names = [f"w{i}" for i in range(30)]
        for n in names:
            stub.Create(api_pb2.CreateRequest(object=obj(pod_doc(n))), timeout=10)
        r = Reflector(stub)
        r.relist()
        assert set(r.cache) >= set(names)
        # the watcher falls behind (stops reading at r.rv); meanwhile: deletions,
        # updates and creations ...
        for n in names[:10]:
            stub.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name=n,
                                              grace_period_seconds=0), timeout=10)
        for n in names[10:20]:
            o = stub.Get(api_pb2.GetRequest(resource="pods", namespace="default", name=n),
                         timeout=10)
            o.pod.metadata.labels["touched"] = "yes"
            stub.Update(api_pb2.UpdateRequest(object=o), timeout=10)
        for i in range(5):
            stub.Create(api_pb2.CreateRequest(object=obj(pod_doc(f"late{i}"))), timeout=10)
        # ... and the history it would need is compacted away
        rev = compact(etcd.endpoint)
        r.catch_up(str(rev))
        assert r.out_of_range == 1, "the lagging watch was not told its version is too old"
        assert r.relists == 2
        want = etcd_pods(etcd.endpoint)
        assert r.cache == want
        assert not set(names[:10]) & set(r.cache), "deletions in the gap survived the relist"
        # and it keeps up from the relisted version: a later deletion arrives as an event
        stub.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name="late0",
                                          grace_period_seconds=0), timeout=10)
        latest = stub.List(api_pb2.ListRequest(resource="pods", namespace="default"),
                           timeout=10).resource_version
        r.catch_up(latest)
        assert r.out_of_range == 1
        assert r.cache == etcd_pods(etcd.endpoint) and "late0" not in r.cache
        for n in list(r.cache):
            stub.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default", name=n,
                                              grace_period_seconds=0), timeout=10)
