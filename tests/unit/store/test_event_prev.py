"""A watch event's previous state: decoded when a watcher asks for it (only watchers
with selectors do), the same object as before; a Secret's at once (a value that
cannot be decrypted is skipped where the event is decoded, not in a watcher)."""

from __future__ import annotations

from aetcd import rpc

from controlplane.store.objcodec import ObjectCodec
from proto import api_pb2


def _pod(phase: str) -> bytes:
    obj = api_pb2.Object()
    obj.pod.metadata.name, obj.pod.metadata.namespace = "p", "default"
    obj.pod.status.phase = phase
    return obj.SerializeToString()


class _Plain:
    def to_storage(self, etcd_key: bytes, plaintext: bytes) -> bytes:
        return plaintext[::-1]

    def from_storage(self, etcd_key: bytes, stored: bytes) -> bytes:
        return stored[::-1]


def _modified(key: bytes, old: bytes, new: bytes) -> rpc.Event:
    return rpc.Event(type=rpc.Event.EventType.PUT,
                     kv=rpc.KeyValue(key=key, value=new, create_revision=3, mod_revision=9),
                     prev_kv=rpc.KeyValue(key=key, value=old, create_revision=3,
                                          mod_revision=5))


def test_the_previous_state_is_decoded_when_asked_for() -> None:
    ev = ObjectCodec()._decode_raw_event(
        _modified(b"/corral/pods/default/p", _pod("Pending"), _pod("Running")))
    assert ev.type == "MODIFIED" and ev.object.pod.status.phase == "Running"
    assert ev.given_prev is None and ev.load_prev is not None
    assert ev.prev is not None and ev.prev.pod.status.phase == "Pending"
    assert ev.prev is ev.prev          # decoded once


def test_a_transformed_resource_has_its_previous_state_decoded_at_once() -> None:
    codec = ObjectCodec({"secrets": _Plain()})
    obj = api_pb2.Object()
    obj.secret.metadata.name, obj.secret.metadata.namespace = "s", "default"
    old = codec.transformers["secrets"].to_storage(b"", obj.SerializeToString())
    obj.secret.string_data["k"] = "v"
    new = codec.transformers["secrets"].to_storage(b"", obj.SerializeToString())
    ev = codec._decode_raw_event(_modified(b"/corral/secrets/default/s", old, new))
    assert ev.given_prev is not None and not ev.given_prev.secret.string_data
    assert ev.prev is ev.given_prev
