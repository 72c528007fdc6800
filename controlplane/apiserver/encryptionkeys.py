"""The encryption-key calls of the API service (verb `manage_encryption`, admins only):

    ListEncryptionKeys    the keys of the serving control plane, primary first, with the
                          number of Secrets stored with each
    RotateEncryptionKey   a new primary key (saved to the key file), then every Secret
                          re-encrypted with it; the old keys stay until removed
    RemoveEncryptionKey   drop a key: refused while it is the primary or any Secret is
                          stored with it

Names and counts only: a key's secret never leaves its file. The functions take the
ApiService as `svc`; service.py wraps them with its error boundary.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.registry import Registry
from controlplane.store.encryption import KeyRing
from controlplane.store.reencrypt import key_usage, reencrypt
from proto import api_pb2

log = logging.getLogger(__name__)

VERB = "manage_encryption"
RESOURCE = "secrets"


class Service(Protocol):
    registry: Registry
    access: Access
    encryption_keys: KeyRing | None


def _ring(svc: Service) -> KeyRing:
    if svc.encryption_keys is None:
        raise errors.BadRequest("this API server was started without Secret encryption keys")
    return svc.encryption_keys


async def _key_list(svc: Service, ring: KeyRing) -> api_pb2.EncryptionKeyList:
    usage = await key_usage(svc.registry.store, RESOURCE)
    out = api_pb2.EncryptionKeyList(key_file=str(ring.path or ""))
    for i, k in enumerate(ring.keys):
        info = out.keys.add(name=k.name, primary=i == 0, secrets=usage.get(k.name, 0))
        info.created.FromDatetime(k.created)
    return out


async def list_keys(svc: Service, request: api_pb2.EncryptionKeysRequest,
                    context: Any) -> api_pb2.EncryptionKeyList:
    svc.access.check(VERB, RESOURCE)
    return await _key_list(svc, _ring(svc))


async def rotate_key(svc: Service, request: api_pb2.RotateEncryptionKeyRequest,
                     context: Any) -> api_pb2.RotateEncryptionKeyResponse:
    svc.access.check(VERB, RESOURCE)
    ring = _ring(svc)
    key = ring.rotate()
    log.info("new Secret encryption key %s (primary); re-encrypting every Secret", key.name)
    count = await reencrypt(svc.registry.store, RESOURCE, ring)
    return api_pb2.RotateEncryptionKeyResponse(key=key.name, reencrypted=count,
                                               keys=await _key_list(svc, ring))


async def remove_key(svc: Service, request: api_pb2.RemoveEncryptionKeyRequest,
                     context: Any) -> api_pb2.EncryptionKeyList:
    svc.access.check(VERB, RESOURCE)
    ring = _ring(svc)
    if request.name not in ring.names():
        raise errors.NotFound(f'encryption key "{request.name}" not found')
    if request.name == ring.primary.name:
        raise errors.BadRequest(
            f'encryption key "{request.name}" is the primary key (it encrypts new writes); '
            "rotate to a new key first")
    used = (await key_usage(svc.registry.store, RESOURCE)).get(request.name, 0)
    if used:
        raise errors.BadRequest(
            f'encryption key "{request.name}" still encrypts {used} Secret(s); run '
            "`corral secrets rotate-key` first (it re-encrypts them with a new key)")
    ring.remove(request.name)
    log.info("removed Secret encryption key %s", request.name)
    return await _key_list(svc, ring)
