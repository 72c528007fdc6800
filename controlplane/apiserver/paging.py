"""Lists in pages (`limit` and `continue`, as Kubernetes' list calls): every page is read
from etcd at the first page's revision, so the pages add up to one consistent list.

    lst = await list_page(store, "pods", "default", flt, limit=500, token="")
    lst.continue_token     # "" on the last page; give it back for the next one

The token carries the revision and the last key read. Selectors filter what etcd
returns, so a page with a selector may read several etcd ranges to fill itself. A
token whose revision etcd has compacted is errors.Gone, with Kubernetes' message;
the client starts the list again.
"""

from __future__ import annotations

import base64
import binascii
import json

from controlplane import errors
from controlplane.apiserver.selection import Filter
from controlplane.store import keys
from controlplane.store.etcd_store import Store
from proto import api_pb2

TOO_OLD = ("The provided continue parameter is too old to display a consistent list result. "
           "You can start a new list without the continue parameter.")


def encode_token(revision: int, key: str) -> str:
    raw = json.dumps({"v": 1, "rv": revision, "start": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, prefix: str) -> tuple[int, str]:
    """(revision, the last key read) of a token for a list under `prefix`."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        revision, key = int(doc["rv"]), str(doc["start"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.BadRequest(f'continue key is not valid: "{token}"') from None
    if revision <= 0 or not key.startswith(prefix):
        raise errors.BadRequest(f'continue key is not valid: "{token}"')
    return revision, key


async def list_page(store: Store, resource: str, namespace: str, flt: Filter, limit: int,
                    token: str, revision: int = 0) -> api_pb2.ObjectList:
    """One page of at most `limit` matching objects (limit <= 0: all the rest); the first
    page (no token) is read at `revision` (0: now)."""
    prefix = keys.prefix(resource, namespace)
    revision, after = decode_token(token, prefix) if token else (revision, "")
    want = limit if limit > 0 else 0
    items: list[api_pb2.Object] = []
    remaining = 0
    try:
        while True:
            batch, revision, remaining = await store.list_page(resource, namespace, after,
                                                               want, revision)
            full = False
            for i, obj in enumerate(batch):
                if want and len(items) >= want:
                    remaining += len(batch) - i        # read, but for the next page
                    full = True
                    break
                after = keys.key_of(obj)
                if flt.matches(obj):
                    items.append(obj)
            if full or not remaining or not batch:
                break
    except errors.Gone:
        if not token:
            raise
        raise errors.Gone(TOO_OLD) from None
    out = api_pb2.ObjectList(items=items, resource_version=str(revision))
    if remaining and items:
        out.continue_token = encode_token(revision, after)
        if flt.everything:
            out.remaining_item_count = remaining
    return out
