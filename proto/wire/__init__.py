"""Kubernetes' protobuf wire form, read into the JSON form corral decodes.

client-go's generated clients send create/update/delete bodies as
`application/vnd.kubernetes.protobuf` whenever the program did not choose a content type
(kubectl's `create namespace|deployment|configmap|secret ...`, Go operators), and do not
fall back to JSON on a 415. The HTTP door reads such a body with

    doc = wire.to_json(body)     # {"apiVersion": "v1", "kind": "Namespace", "metadata": ...}

and goes on exactly as with a JSON body (one decoding, one validation).

    envelope.py   the "k8s\\0" magic and runtime.Unknown: (apiVersion, kind, raw bytes)
    messages.py   (apiVersion, kind) -> the wire message (proto/kubepb_*.proto)
    tojson.py     a wire message -> Kubernetes' JSON: Time, Quantity, IntOrString,
                  inlined structs, base64 bytes; a set field corral does not serve
                  is an error naming where

Errors: codec.DecodeError (path and message) for a body that is not what it says;
messages.Unsupported for a kind that has no wire form here (the door answers 415).
"""

from __future__ import annotations

from proto.wire.envelope import MEDIA_TYPE, is_protobuf
from proto.wire.messages import Unsupported, to_json

__all__ = ["MEDIA_TYPE", "Unsupported", "is_protobuf", "to_json"]
