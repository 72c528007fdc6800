"""The grpc.aio servicer of `Api` (proto/api.proto) on top of the Registry.

The ONE place where errors.ApiError becomes a gRPC status code; any other
exception is logged and answered INTERNAL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib.metadata
import logging
import os
import platform
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import grpc

from controlplane import errors
from controlplane.apiserver import (
    attach,
    build,
    encryptionkeys,
    imageload,
    images,
    patch_rpc,
    portforward,
    top,
)
from controlplane.apiserver.access import Access, Authorize
from controlplane.apiserver.agents import (
    AgentError,
    Agents,
    ChannelFactory,
    agent_call,
)
from controlplane.apiserver.registry import Registry
from controlplane.rpc import CallContext
from controlplane.security import authn
from controlplane.security import join as joining
from controlplane.security.tokens import DEFAULT_TTL, BootstrapTokens, TokenInfo
from controlplane.store.encryption import KeyRing
from proto import agent_pb2, api_pb2, api_pb2_grpc, kinds, membership_pb2

if TYPE_CHECKING:
    from proto.agent_pb2_grpc import AgentAsyncStub

log = logging.getLogger(__name__)

T = TypeVar("T")
Ctx = grpc.aio.ServicerContext[object, object]


async def _abort(context: CallContext, e: BaseException, method: str) -> None:
    if isinstance(e, errors.ApiError | AgentError):
        await context.abort(e.code, e.message)
    log.error("internal error in %s", method, exc_info=e)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}: {e!r}")


def unary(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """The error boundary of a unary method (its signature is the generated servicer's)."""
    @functools.wraps(fn)
    async def wrapper(self: object, request: object, context: CallContext) -> T:
        try:
            return await fn(self, request, context)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            await _abort(context, e, fn.__name__)
            raise AssertionError("unreachable") from e

    return wrapper


def streaming(fn: Callable[..., AsyncIterator[T]]) -> Callable[..., AsyncIterator[T]]:
    """The error boundary of a streaming method."""
    @functools.wraps(fn)
    async def wrapper(self: object, request: object, context: CallContext) -> AsyncIterator[T]:
        try:
            async for item in fn(self, request, context):
                yield item
        except asyncio.CancelledError:
            raise
        except Exception as e:
            await _abort(context, e, fn.__name__)

    return wrapper


def _version() -> str:
    try:
        return importlib.metadata.version("corral")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


class ApiService(api_pb2_grpc.ApiServicer):
    def __init__(self, registry: Registry, authorize: Authorize | None = None, *,
                 agent_channel: ChannelFactory | None = None,
                 tokens: BootstrapTokens | None = None,
                 encryption_keys: KeyRing | None = None) -> None:
        self.registry = registry
        self.agents = Agents(registry, agent_channel)
        self.access = Access(registry, authorize)
        self.tokens = tokens
        self.encryption_keys = encryption_keys
        self.open_watches: dict[str, int] = {}   # resource -> open Watch streams (metrics)

    async def close(self) -> None:
        await self.agents.close()

    # -- objects --------------------------------------------------------------

    @unary
    async def Create(self, request: api_pb2.CreateRequest, context: Ctx) -> api_pb2.Object:
        await self.access.check_write("create", request.object)
        return await self.registry.create(request.object, dry_run=request.dry_run)

    @unary
    async def Get(self, request: api_pb2.GetRequest, context: Ctx) -> api_pb2.Object:
        if self.access.pod_scoped(request.resource):   # decided before the read
            await self.access.check_read("get", request.resource, request.namespace,
                                         request.name)
            return await self.registry.get(request.resource, request.namespace, request.name)
        obj = await self.registry.get(request.resource, request.namespace, request.name)
        self.access.check("get", request.resource, request.namespace, request.name, obj)
        return obj

    @unary
    async def List(self, request: api_pb2.ListRequest, context: Ctx) -> api_pb2.ObjectList:
        if self.access.pod_scoped(request.resource):
            await self.access.check_read("list", request.resource, request.namespace,
                                         field_selector=request.field_selector)
        else:
            self.access.check("list", request.resource, request.namespace,
                              field_selector=request.field_selector)
        return await self.registry.list(request.resource, request.namespace,
                                        request.label_selector, request.field_selector,
                                        limit=request.limit,
                                        continue_token=request.continue_token)

    @streaming
    async def Watch(self, request: api_pb2.WatchRequest,  # type: ignore[override]
                    context: Ctx) -> AsyncIterator[bytes]:
        """Serialized WatchEvents (the method's serializer passes bytes: wirewatch.py)."""
        if self.access.pod_scoped(request.resource):
            await self.access.check_read("watch", request.resource, request.namespace,
                                         field_selector=request.field_selector)
        else:
            self.access.check("watch", request.resource, request.namespace,
                              field_selector=request.field_selector)
        stream = self.registry.watch_wire(request.resource, request.namespace,
                                          request.label_selector, request.field_selector,
                                          request.resource_version,
                                          allow_bookmarks=request.allow_bookmarks)
        res = request.resource
        self.open_watches[res] = self.open_watches.get(res, 0) + 1
        try:
            async for ev in stream:
                yield ev
        finally:
            self.open_watches[res] -= 1
            await stream.aclose()

    @unary
    async def Update(self, request: api_pb2.UpdateRequest, context: Ctx) -> api_pb2.Object:
        await self.access.check_write("update", request.object)
        return await self.registry.update(request.object, dry_run=request.dry_run)

    @unary
    async def UpdateStatus(self, request: api_pb2.UpdateRequest,
                           context: Ctx) -> api_pb2.Object:
        await self.access.check_write("update_status", request.object)
        return await self.registry.update_status(request.object)

    @unary
    async def Apply(self, request: api_pb2.ApplyRequest, context: Ctx) -> api_pb2.ApplyResponse:
        await self.access.check_write("apply", request.object)
        obj, result = await self.registry.apply(request.object, dry_run=request.dry_run)
        return api_pb2.ApplyResponse(object=obj, result=result)

    @unary
    async def Delete(self, request: api_pb2.DeleteRequest, context: Ctx) -> api_pb2.Object:
        grace = request.grace_period_seconds if request.HasField("grace_period_seconds") \
            else None
        await self.access.check_delete(request.resource, request.namespace, request.name, grace)
        return await self.registry.delete(
            request.resource, request.namespace, request.name, grace_period_seconds=grace,
            propagation_policy=request.propagation_policy or "Background",
            resource_version=request.resource_version, dry_run=request.dry_run)

    Patch = unary(patch_rpc.patch)        # controlplane/apiserver/patch_rpc.py

    @unary
    async def Bind(self, request: api_pb2.BindRequest, context: Ctx) -> api_pb2.Object:
        self.access.check("bind", "pods", request.namespace, request.name)
        return await self.registry.bind(request.namespace, request.name, request.node_name,
                                        request.resource_version)

    @unary
    async def Version(self, request: api_pb2.VersionRequest,
                      context: Ctx) -> api_pb2.VersionInfo:
        self.access.check("version", "")
        etcd_version = ""
        try:
            client = await self.registry.store.conn.client()
            etcd_version = (await client.status()).version
        except Exception as e:  # the version call must work while etcd is down
            log.debug("etcd status: %s", e)
        return api_pb2.VersionInfo(
            version=_version(), git_commit=os.environ.get("CORRAL_GIT_COMMIT", ""),
            python_version=platform.python_version(),
            platform=f"{sys.platform}/{platform.machine()}", etcd_version=etcd_version)

    @unary
    async def ApiResources(self, request: api_pb2.ApiResourcesRequest,
                           context: Ctx) -> api_pb2.ApiResourceList:
        self.access.check("discovery", "")
        return api_pb2.ApiResourceList(resources=[
            api_pb2.ApiResource(name=k.resource, singular_name=k.singular,
                                short_names=list(k.short_names), api_version=k.api_version,
                                kind=k.kind, namespaced=k.namespaced)
            for k in kinds.KINDS])

    # -- proxied to agents ------------------------------------------------------

    @streaming
    async def Logs(self, request: agent_pb2.LogsRequest,
                   context: Ctx) -> AsyncIterator[agent_pb2.LogChunk]:
        self.access.check("proxy", "pods", request.namespace, request.pod)
        stub, addr, pod = await self.agents.stub_for_pod(request.namespace, request.pod)
        node = pod.pod.spec.node_name
        call = stub.Logs(request)
        try:
            with agent_call(node, addr):
                async for chunk in call:
                    yield chunk
        finally:
            call.cancel()  # the client went away: stop following on the agent too

    Exec = streaming(attach.exec_)        # controlplane/apiserver/attach.py
    Attach = streaming(attach.attach)     # controlplane/apiserver/attach.py
    PortForward = streaming(portforward.port_forward)   # controlplane/apiserver/portforward.py

    async def _nodes(self, name: str) -> list[str]:
        return await top.node_names(self.registry, name)

    Top = unary(top.top)                  # controlplane/apiserver/top.py

    # images on the nodes: controlplane/apiserver/images.py
    NodeImages = unary(images.node_images)
    PullImage = streaming(images.pull_image)
    LoadImage = unary(imageload.load_image)
    PushImage = streaming(images.push_image)
    PruneImages = unary(images.prune_images)
    Build = streaming(build.build)        # controlplane/apiserver/build.py
    TagImage = unary(images.tag_image)

    # -- bootstrap tokens (admins only: controlplane/security/join.py) -----------

    # Join and RenewCertificate are answered by controlplane/security/wire.py's
    # JoinInterceptor; these run only on a control plane without it (--insecure).
    @unary
    async def Join(self, request: api_pb2.JoinRequest, context: Ctx) -> api_pb2.JoinResponse:
        raise errors.BadRequest("this control plane runs with --insecure: there is nothing "
                                "to join (start the agent with --insecure too)")

    @unary
    async def RenewCertificate(self, request: api_pb2.RenewCertificateRequest,
                               context: Ctx) -> api_pb2.JoinResponse:
        raise errors.BadRequest("this control plane runs with --insecure: no certificates")

    # The control-plane member RPCs are answered by controlplane/members/rpc.py through
    # the same JoinInterceptor; these run only without it (--insecure).
    @unary
    async def JoinControlPlane(self, request: membership_pb2.ControlPlaneJoinRequest,
                               context: Ctx) -> membership_pb2.ControlPlaneJoinResponse:
        raise errors.BadRequest("this control plane runs with --insecure: members join a "
                                "cluster that serves TLS (--cluster-init)")

    @unary
    async def ListControlPlanes(self, request: membership_pb2.ListControlPlanesRequest,
                                context: Ctx) -> membership_pb2.ControlPlaneList:
        raise errors.BadRequest("this control plane runs with --insecure: no members")

    @unary
    async def RemoveControlPlane(self, request: membership_pb2.RemoveControlPlaneRequest,
                                 context: Ctx) -> membership_pb2.RemoveControlPlaneResponse:
        raise errors.BadRequest("this control plane runs with --insecure: no members")

    def _token_store(self) -> BootstrapTokens:
        if self.tokens is None:
            raise errors.BadRequest("bootstrap tokens need a control plane serving TLS; this "
                                    "one runs with --insecure (plaintext, nothing to join)")
        return self.tokens

    @unary
    async def CreateToken(self, request: api_pb2.CreateTokenRequest,
                          context: Ctx) -> api_pb2.BootstrapToken:
        if request.ttl_seconds < 0:
            raise errors.BadRequest("ttlSeconds must not be negative")
        ttl = dt.timedelta(seconds=request.ttl_seconds) if request.ttl_seconds \
            else DEFAULT_TTL
        usages = tuple(request.usages) or ("join",)
        token, expires = await joining.create_token(
            self._token_store(), authn.current_identity(), ttl=ttl,
            description=request.description, token=request.token, usages=usages)
        out = api_pb2.BootstrapToken(id=token.partition(".")[0], token=token,
                                     description=request.description,
                                     usages=sorted(set(usages)))
        out.expires.FromDatetime(expires)
        out.created.FromDatetime(dt.datetime.now(dt.UTC))
        return out

    @unary
    async def ListTokens(self, request: api_pb2.ListTokensRequest,
                         context: Ctx) -> api_pb2.BootstrapTokenList:
        infos = await joining.list_tokens(self._token_store(), authn.current_identity())
        return api_pb2.BootstrapTokenList(items=[_token_message(t) for t in infos])

    @unary
    async def DeleteToken(self, request: api_pb2.DeleteTokenRequest,
                          context: Ctx) -> api_pb2.DeleteTokenResponse:
        await joining.delete_token(self._token_store(), authn.current_identity(), request.id)
        return api_pb2.DeleteTokenResponse()

    # Secret encryption keys (admins only): controlplane/apiserver/encryptionkeys.py
    ListEncryptionKeys = unary(encryptionkeys.list_keys)
    RotateEncryptionKey = unary(encryptionkeys.rotate_key)
    RemoveEncryptionKey = unary(encryptionkeys.remove_key)

    async def _each_node(self, nodes: list[str], call: Callable[[AgentAsyncStub], Awaitable[T]],
                         ) -> list[tuple[str, T]]:
        return await top.each_node(self.agents, nodes, call)


def _token_message(t: TokenInfo) -> api_pb2.BootstrapToken:
    """A token as listed: never its secret."""
    out = api_pb2.BootstrapToken(id=t.id, description=t.description, usages=list(t.usages))
    out.expires.FromDatetime(t.expires)
    if t.created is not None:
        out.created.FromDatetime(t.created)
    return out
