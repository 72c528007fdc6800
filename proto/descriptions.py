"""What messages and fields mean, in words: the comments of proto/*.proto, collected into
proto/descriptions.json by scripts/genproto.sh (scripts/protodocs.py).

    of("corral.v1.PodSpec")                    # the message's description, or ""
    of("corral.v1.PodSpec", "restart_policy")  # a field's (proto field name)

The OpenAPI documents carry them (`kubectl explain`), and so does `corral explain`. A
kind's apiVersion, kind and metadata read the same everywhere, so they are written
once here rather than on every kind's message.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

_FILE = Path(__file__).with_name("descriptions.json")

COMMON = {
    "api_version": "The group and version of the schema this object follows: v1, apps/v1, "
                   "...",
    "kind": "The kind of object this is (Pod, Deployment, ...), in CamelCase. The server "
            "infers it from the endpoint a request goes to; it cannot change.",
    "metadata": "The object's name, namespace, labels, annotations and the fields the "
                "system sets (uid, resourceVersion, creationTimestamp, ...).",
}


@functools.cache
def _table() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_FILE.read_text())
    except FileNotFoundError:        # a tree without its generated files: no words
        return {}
    return data if isinstance(data, dict) else {}


def of(message: str, field: str = "") -> str:
    """The description of a message (field "") or of one of its fields, or ""."""
    return _table().get(message, {}).get(field, "")


def of_kind_field(message: str, field: str) -> str:
    """A field of a kind's top-level message: its own words, else the common ones."""
    return of(message, field) or COMMON.get(field, "")
