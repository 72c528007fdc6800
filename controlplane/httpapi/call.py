"""One request to the Kubernetes API: what it targets, its query parameters, its body,
and the rooms it reaches (House: registry, authorization, agents), with the JSON
answers every handler shares.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import Agents
from controlplane.apiserver.fieldmanager.entries import manager_from
from controlplane.apiserver.registry import Registry
from controlplane.httpapi.paths import Target
from controlplane.httpapi.podconn import PodDialer
from controlplane.httpapi.status import Subject, UnsupportedMediaType
from proto import api_pb2, codec, kinds, wire

MAX_BODY = 3 * 1024 * 1024     # Kubernetes' limit for a request body


@dataclass(frozen=True)
class House:
    """The rooms both doors share (and how this one reaches a pod's port)."""

    registry: Registry
    access: Access
    agents: Agents
    dial_pod: PodDialer | None = None     # pods/portforward; None: not served


@dataclass
class Call:
    request: web.Request
    target: Target
    house: House
    body_name: str = ""        # the name in a created object's body, for error wording

    # -- what the request says ------------------------------------------------

    def param(self, name: str, default: str = "") -> str:
        return self.request.query.get(name, default)

    def flag(self, name: str) -> bool:
        return self.param(name).lower() in ("true", "1")

    def int_param(self, name: str) -> int | None:
        raw = self.param(name)
        if raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise errors.BadRequest(f'{name}: "{raw}" is not an integer') from None

    @property
    def dry_run(self) -> bool:
        values = self.request.query.getall("dryRun", [])
        for v in values:
            if v != "All":
                raise errors.BadRequest(f'dryRun: unsupported value "{v}" (only "All")')
        return bool(values)

    @property
    def manager(self) -> str:
        """The field manager of a write: fieldManager, else the user agent's program."""
        return manager_from(self.param("fieldManager"),
                            self.request.headers.get("User-Agent", ""))

    @property
    def subject(self) -> Subject:
        k = self.target.kind
        return Subject(self.target.resource, k.group, self.target.name or self.body_name,
                       k.kind)

    @property
    def namespace(self) -> str:
        return self.target.namespace if self.target.kind.namespaced else ""

    def accepts_table(self) -> bool:
        accept = self.request.headers.get("Accept", "")
        return any("as=Table" in part and "g=meta.k8s.io" in part
                   for part in accept.split(","))

    async def body(self) -> Any:
        """The request body parsed as JSON (or YAML, by Content-Type)."""
        raw = await self.request.read()
        if len(raw) > MAX_BODY:
            raise errors.TooLarge(f"the request body is {len(raw)} bytes, over the "
                                  f"{MAX_BODY} bytes limit")
        ctype = self.request.content_type
        if wire.is_protobuf(ctype):
            return _from_protobuf(raw)
        if "protobuf" in ctype or "cbor" in ctype:
            raise UnsupportedMediaType(
                f'the body of the request was in an unknown format - accepted media types '
                f'include: application/json, application/yaml, {wire.MEDIA_TYPE} '
                f'(got "{ctype}")')
        if not raw.strip():
            raise errors.BadRequest("the request has no body")
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise errors.BadRequest(f"the body is not valid {_format(ctype)}: {e}") from None

    async def object(self) -> api_pb2.Object:
        """The body as an object of the target's kind, in the target's namespace."""
        return self.decode(await self.body())

    def decode(self, doc: Any) -> api_pb2.Object:
        k = self.target.kind
        if isinstance(doc, dict):
            av, kind = doc.get("apiVersion"), doc.get("kind")
            if (av and av != k.api_version) or (kind and kind != k.kind):
                raise errors.BadRequest(
                    f'the API version in the data ({av}) and kind ({kind}) do not match '
                    f"the request: {k.api_version} {k.kind} ({self.request.path})")
            doc = {"apiVersion": k.api_version, "kind": k.kind, **doc}
        try:
            obj = codec.decode(doc)
        except codec.DecodeError as e:
            raise errors.BadRequest(
                f'{k.kind} in version "{k.api_version.rpartition("/")[2]}" cannot be '
                f"handled as a {k.kind}: strict decoding error: {e}") from None
        self._place(obj)
        return obj

    def _place(self, obj: api_pb2.Object) -> None:
        from controlplane.apiserver import objects as o

        m = o.meta(obj)
        if self.target.kind.namespaced:
            if m.namespace and self.target.namespace and m.namespace != self.target.namespace:
                raise errors.BadRequest("the namespace of the provided object does not match "
                                        "the namespace sent on the request")
            m.namespace = m.namespace or self.target.namespace
        if self.target.name and m.name and m.name != self.target.name:
            raise errors.BadRequest(f"the name of the object ({m.name}) does not match the "
                                    f"name on the URL ({self.target.name})")
        if self.target.name:
            m.name = self.target.name
        self.body_name = m.name


def _from_protobuf(raw: bytes) -> Any:
    """A Kubernetes protobuf body (client-go's typed clients) as its JSON document."""
    try:
        return wire.to_json(raw)
    except wire.Unsupported as e:
        raise UnsupportedMediaType(str(e)) from None
    except codec.DecodeError as e:
        raise errors.BadRequest(f"the body is not valid Kubernetes protobuf: {e}") from None


def _format(ctype: str) -> str:
    return "YAML" if "yaml" in ctype else "JSON"


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def respond(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(doc), status=status, content_type="application/json")


def encode(obj: api_pb2.Object) -> dict[str, Any]:
    return codec.encode(obj)


class _Encoded:
    """Objects' JSON by (kind, namespace, name, uid, resourceVersion): a stored version
    never changes, and a watch event goes to many watchers, a list to many clients."""

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self.cache: collections.OrderedDict[tuple[str, ...], bytes] = \
            collections.OrderedDict()

    def __call__(self, obj: api_pb2.Object) -> bytes:
        m = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
        if not m.resource_version:
            return dumps(encode(obj))
        key = (obj.WhichOneof("kind") or "", m.namespace, m.name, m.uid, m.resource_version)
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.move_to_end(key)
            return hit
        data = dumps(encode(obj))
        self.cache[key] = data
        if len(self.cache) > self.size:
            self.cache.popitem(last=False)
        return data


encoded = _Encoded()


def respond_raw(data: bytes, status: int = 200) -> web.Response:
    return web.Response(body=data, status=status, content_type="application/json")
