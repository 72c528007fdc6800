"""tokens.KeyValue on the control plane's etcd connection (raw keys, outside /corral/)."""

from __future__ import annotations

from aetcd import rpc

from controlplane.store.etcdio import Connection
from controlplane.store.keys import prefix_end


class EtcdKeyValue:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def get(self, key: str) -> bytes | None:
        with self.conn.guard("reading a bootstrap token"):
            resp = await (await self.conn.kv()).Range(rpc.RangeRequest(key=key.encode()),
                                                      timeout=self.conn.timeout)
        return bytes(resp.kvs[0].value) if resp.kvs else None

    async def put(self, key: str, value: bytes) -> None:
        with self.conn.guard("writing a bootstrap token"):
            await (await self.conn.kv()).Put(rpc.PutRequest(key=key.encode(), value=value),
                                             timeout=self.conn.timeout)

    async def delete(self, key: str) -> bool:
        with self.conn.guard("deleting a bootstrap token"):
            resp = await (await self.conn.kv()).DeleteRange(
                rpc.DeleteRangeRequest(key=key.encode()), timeout=self.conn.timeout)
        return bool(resp.deleted)

    async def list(self, prefix: str) -> dict[str, bytes]:
        p = prefix.encode()
        with self.conn.guard("listing bootstrap tokens"):
            resp = await (await self.conn.kv()).Range(
                rpc.RangeRequest(key=p, range_end=prefix_end(p)), timeout=self.conn.timeout)
        return {kv.key.decode(): bytes(kv.value) for kv in resp.kvs}
