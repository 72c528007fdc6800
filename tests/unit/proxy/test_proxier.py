"""The proxier's loop with fakes for the kernel: a full sync first, partial ones after,
a full one again after a failure, the synced revision published on the Node, the
rules removed when the node is deleted and back when it returns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.backoff import RetryBackoff
from agent.proxy import NftError
from agent.proxy.proxier import Proxier, ProxyConfig
from agent.proxy.publish import ANNOTATION, SyncedRevision, revision_of
from agent.proxy.transaction import Existing
from agent.servicewatch import ServiceWatch
from proto import api_pb2
from tests.support.aio import eventually, run
from tests.unit.agent.fakes import FakeApi
from tests.unit.proxy.test_rules import READY, eps, svc


class FakeNft:
    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.fail = False
        self.deleted = 0

    async def apply(self, script: str) -> None:
        if self.fail:
            raise NftError("nft: Error: Could not process rule")
        self.scripts.append(script)

    async def existing(self) -> Existing | None:
        return None

    async def delete_table(self) -> None:
        self.deleted += 1


class FakeConntrack:
    def __init__(self) -> None:
        self.flushed: list[tuple[str, int, str]] = []

    async def flush_udp(self, orig_dst: str = "", orig_port: int = 0,
                        dst_nat: str = "") -> None:
        self.flushed.append((orig_dst, orig_port, dst_nat))


def node(name: str = "n1") -> api_pb2.Object:
    o = api_pb2.Object()
    o.node.metadata.name = name
    o.node.spec.pod_cidr = "10.244.1.0/24"
    return o


def test_sync_loop() -> None:
    async def main() -> None:
        api = FakeApi()
        api.put(node())
        api.put(svc("web"))
        api.put(eps("web", ("10.244.1.2", *READY)))
        watch = ServiceWatch(api, lambda: RetryBackoff(0.01, 0.05))
        nft, ct = FakeNft(), FakeConntrack()
        def seen() -> str | None:
            n = watch.nodes.items().get("n1")
            return n.node.metadata.annotations.get(ANNOTATION, "") if n is not None else None
        pub = SyncedRevision(api, "n1", RetryBackoff(0.01, 0.05), seen=seen)
        proxier = Proxier(ProxyConfig(node_name="n1", retry=0.05), watch, nft, ct,
                          publish=pub)
        tasks = [asyncio.ensure_future(t) for t in (*watch.start(), proxier.run(), pub.run())]
        try:
            await eventually(lambda: nft.scripts, what="the first sync")
            assert nft.scripts[0].startswith("add table ip corral-proxy")     # full
            assert "dnat to 10.244.1.2:8080" in nft.scripts[0]
            # the Node tells up to which EndpointSlice revision its rules are in place
            await eventually(lambda: revision_of(api.objects[("nodes", "", "n1")].node)
                             == int(watch.slices.resource_version), what="published")
            # an endpoint joins: a partial transaction with just that
            api.put(eps("web", ("10.244.1.2", *READY), ("10.244.1.3", *READY)))
            await eventually(lambda: len(nft.scripts) >= 2, what="the partial sync")
            assert not nft.scripts[-1].startswith("add table")
            assert "dnat to 10.244.1.3:8080" in nft.scripts[-1]
            assert "10.244.1.2:8080" not in nft.scripts[-1]
            # nft refuses: the next sync is a full one
            nft.fail = True
            api.put(svc("other", "10.96.0.9"))
            await asyncio.sleep(0.2)
            nft.fail = False
            await eventually(lambda: nft.scripts[-1].startswith("add table"),
                             what="a full sync after the failure")
            assert "10.96.0.9" in nft.scripts[-1]
            # the node is deleted: the table goes; it comes back: rules come back
            await api.delete("nodes", "", "n1")
            await eventually(lambda: nft.deleted == 1, what="rules removed")
            n = len(nft.scripts)
            api.put(node())
            await eventually(lambda: len(nft.scripts) > n and
                             nft.scripts[-1].startswith("add table"), what="rules back")
            await eventually(lambda: ANNOTATION in api.objects[("nodes", "", "n1")].node
                             .metadata.annotations, what="the revision published again")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run(main(), timeout=30)


def test_services_cache_survives_an_agent_restart(tmp_path: Path) -> None:
    """What an agent knew of Services is on disk: a new agent, with the control plane
    away, starts from it (service variables and DNS keep working)."""
    async def main() -> None:
        path = str(tmp_path / "services.pb")
        api = FakeApi()
        api.put(svc("web"))
        api.put(eps("web", ("10.244.1.2", *READY)))
        w = ServiceWatch(api, lambda: RetryBackoff(0.01, 0.05), cache_path=path)
        assert not w.restored and not w.known()
        tasks = w.start()
        try:
            await eventually(lambda: (tmp_path / "services.pb").exists(), timeout=5,
                             what="the cache written")
            assert w.known()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        api.down = True
        again = ServiceWatch(api, lambda: RetryBackoff(0.01, 0.05), cache_path=path)
        assert again.restored and again.known() and not again.services.synced.is_set()
        assert list(again.services.items()) == ["ns/web"]
        assert list(again.slices.items()) == ["ns/web-x"]

    run(main(), timeout=30)


def test_the_first_list_is_cached_at_once(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent killed just after its first list (the control plane going away meanwhile)
    must find the Services on disk: the first write does not wait for more changes."""
    import agent.servicewatch as servicewatch
    monkeypatch.setattr(servicewatch, "WRITE_DELAY", 3600.0)

    async def main() -> None:
        path = tmp_path / "services.pb"
        api = FakeApi()
        api.put(svc("web"))
        w = ServiceWatch(api, lambda: RetryBackoff(0.01, 0.05), cache_path=str(path))
        tasks = w.start()
        try:
            await eventually(path.exists, timeout=5, what="the first list on disk")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run(main(), timeout=30)
