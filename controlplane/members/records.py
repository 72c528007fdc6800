"""What each member publishes about itself: its addresses, in etcd under /corral-members/.

    await publish(conn, MemberRecord("cp-1", "10.0.0.5", api_port=6445, kube_port=6443,
                                     bootstrap_port=6444, etcd_url="https://10.0.0.5:2379",
                                     peer_url="https://10.0.0.5:2380"))
    recs = await load_all(conn)          # name -> MemberRecord
    await delete(conn, "cp-3")

etcd's own member list knows names and etcd URLs only; the API addresses (for the
clients' server lists, the certificates' SANs and `corral controlplane ls`) live here.
Outside /corral/, so no object list or watch sees them (like the bootstrap tokens).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from aetcd import rpc

from controlplane.store.etcdio import Connection
from controlplane.store.keys import prefix_end

PREFIX = "/corral-members/"


@dataclass(frozen=True)
class MemberRecord:
    name: str
    address: str
    api_port: int = 6445
    kube_port: int = 6443            # 0: not served
    bootstrap_port: int = 6444
    etcd_url: str = ""
    peer_url: str = ""

    @property
    def api(self) -> str:
        return _hostport(self.address, self.api_port)

    @property
    def kube(self) -> str:
        return _hostport(self.address, self.kube_port) if self.kube_port else ""

    @property
    def bootstrap(self) -> str:
        return _hostport(self.address, self.bootstrap_port)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> MemberRecord:
        raw = json.loads(data)
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def publish(conn: Connection, rec: MemberRecord) -> None:
    with conn.guard(f"publishing control-plane member {rec.name}"):
        await (await conn.kv()).Put(rpc.PutRequest(key=(PREFIX + rec.name).encode(),
                                                   value=rec.encode()), timeout=conn.timeout)


async def load_all(conn: Connection) -> dict[str, MemberRecord]:
    p = PREFIX.encode()
    with conn.guard("listing control-plane members"):
        resp = await (await conn.kv()).Range(rpc.RangeRequest(key=p, range_end=prefix_end(p)),
                                             timeout=conn.timeout)
    out: dict[str, MemberRecord] = {}
    for kv in resp.kvs:
        try:
            rec = MemberRecord.decode(bytes(kv.value))
        except (ValueError, TypeError, KeyError):
            continue          # a record we cannot read is no member address
        out[rec.name] = rec
    return out


async def delete(conn: Connection, name: str) -> None:
    with conn.guard(f"deleting control-plane member {name}"):
        await (await conn.kv()).DeleteRange(rpc.DeleteRangeRequest(key=(PREFIX + name).encode()),
                                            timeout=conn.timeout)
