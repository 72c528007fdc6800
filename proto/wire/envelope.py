"""The envelope of a Kubernetes protobuf body: the 4 bytes "k8s\\0", then a
runtime.Unknown holding the object's apiVersion and kind and its own encoded message."""

from __future__ import annotations

from google.protobuf.message import DecodeError as ProtobufError

from proto.codec import DecodeError
from proto.kubepb_meta_pb2 import Unknown

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


def is_protobuf(content_type: str) -> bool:
    """Whether a Content-Type names Kubernetes' protobuf (parameters aside)."""
    return content_type.split(";")[0].strip().lower() == MEDIA_TYPE


def unwrap(body: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, the object's bytes) of an enveloped body."""
    if not body.startswith(MAGIC):
        raise DecodeError("", 'not a Kubernetes protobuf body: it does not start with "k8s\\0"')
    envelope = Unknown()
    try:
        envelope.ParseFromString(body[len(MAGIC):])
    except ProtobufError:
        raise DecodeError("", "not a Kubernetes protobuf body: the envelope does not parse") \
            from None
    if envelope.contentEncoding:
        raise DecodeError("", f'contentEncoding "{envelope.contentEncoding}" is not served')
    meta = envelope.typeMeta
    if not meta.kind:
        raise DecodeError("kind", "Required value: the envelope names no kind")
    return meta.apiVersion, meta.kind, envelope.raw
