"""Manifest dicts (parsed YAML/JSON) <-> protobuf messages, by walking descriptors.

    decode(doc) -> api_pb2.Object          apiVersion + kind pick the message
    decode_message(doc, core_pb2.PodSpec)   any message, no envelope
    encode(obj) -> dict                     Kubernetes' JSON form
    to_json(obj) -> str

Every field goes by its JSON name (restartPolicy, podIP, containerID, Port).
Decoding is strict and names the place of every problem:

    spec.template.spec.containers[0].imagePullPolcy: unknown field "imagePullPolcy"
        (did you mean "imagePullPolicy"?)

json_format is not used for decoding: it neither reports full paths nor knows
Kubernetes' leniencies (numbers as quantities, IntOrString, null = absent).
"""

from __future__ import annotations

# The package: descriptors (schema lookups both directions share), errors
# (DecodeError and its wording), scalars and decode (manifest -> message),
# encode (message -> Kubernetes' JSON form).
from proto.codec.decode import decode, decode_message, is_quantity
from proto.codec.encode import encode, encode_list, format_timestamp, is_micro_time, to_json
from proto.codec.errors import DecodeError

__all__ = [
    "DecodeError",
    "decode",
    "decode_message",
    "encode",
    "encode_list",
    "format_timestamp",
    "is_micro_time",
    "is_quantity",
    "to_json",
]
