"""A synchronous Python client for corral's `Api` gRPC service.

    with Client("127.0.0.1:6445") as c:        # or "10.0.0.5:6445,10.0.0.6:6445,...": every
                                                # control-plane member, balanced, failing over
        pod = c.get("pods", "web", namespace="default")
        for ev in c.watch("pods", namespace="default"):
            ...

Every gRPC error comes out as one of corral.errors' ClientError classes,
with the server's message.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from corral import credentials as credentials_mod
from corral import errors
from corral.credentials import Credentials
from corral.streams import Stream
from proto import agent_pb2, api_pb2, api_pb2_grpc, build_pb2, kinds, membership_pb2

T = TypeVar("T")

DEFAULT_ADDRESS = "127.0.0.1:6445"
DEFAULT_TIMEOUT = 30.0


def resource_name(resource: str) -> str:
    """Normalise "po", "Pod", "pod" to "pods"; unknown names pass through."""
    try:
        return kinds.lookup(resource).resource
    except kinds.UnknownKind:
        return resource


def _scoped_namespace(resource: str, namespace: str) -> str:
    try:
        return namespace if kinds.lookup(resource).namespaced else ""
    except kinds.UnknownKind:
        return namespace


class Client:
    """A connection to the API server. Thread-safe; close() when done."""

    def __init__(self, address: str = DEFAULT_ADDRESS, credentials: Credentials | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ]
        # TLS when the context has CA/cert/key (corral/credentials.py), plaintext otherwise
        try:
            self._channel = credentials_mod.secure_channel(address, credentials, options)
        except credentials_mod.CredentialsError as e:
            raise errors.ClientError(f"bad credentials in the config: {e}") from None
        except credentials_mod.ServerListError as e:
            raise errors.ClientError(f"bad server address: {e}") from None
        self._stub = api_pb2_grpc.ApiStub(self._channel)

    # -- plumbing --------------------------------------------------------------

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unary(self, fn: Callable[..., T], request: Message, timeout: float | None = None) -> T:
        try:
            return fn(request, timeout=timeout if timeout is not None else self.timeout)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None

    # -- objects ---------------------------------------------------------------

    def get(self, resource: str, name: str, namespace: str = "") -> api_pb2.Object:
        resource = resource_name(resource)
        req = api_pb2.GetRequest(resource=resource, name=name,
                                 namespace=_scoped_namespace(resource, namespace))
        return self._unary(self._stub.Get, req)

    def list(self, resource: str, namespace: str = "", label_selector: str = "",
             field_selector: str = "", *, limit: int = 0,
             continue_token: str = "") -> api_pb2.ObjectList:
        """The objects; with `limit`, a page of them (`.continue_token` asks for the next)."""
        resource = resource_name(resource)
        req = api_pb2.ListRequest(resource=resource,
                                  namespace=_scoped_namespace(resource, namespace),
                                  label_selector=label_selector, field_selector=field_selector,
                                  limit=limit, continue_token=continue_token)
        return self._unary(self._stub.List, req)

    def create(self, obj: api_pb2.Object, dry_run: bool = False) -> api_pb2.Object:
        return self._unary(self._stub.Create, api_pb2.CreateRequest(object=obj, dry_run=dry_run))

    def update(self, obj: api_pb2.Object, dry_run: bool = False) -> api_pb2.Object:
        return self._unary(self._stub.Update, api_pb2.UpdateRequest(object=obj, dry_run=dry_run))

    def update_status(self, obj: api_pb2.Object) -> api_pb2.Object:
        return self._unary(self._stub.UpdateStatus, api_pb2.UpdateRequest(object=obj))

    def apply(self, obj: api_pb2.Object, dry_run: bool = False) -> tuple[api_pb2.Object, str]:
        resp = self._unary(self._stub.Apply, api_pb2.ApplyRequest(object=obj, dry_run=dry_run))
        return resp.object, resp.result

    def patch(self, resource: str, name: str, namespace: str, patch_type: str, patch: str, *,
              subresource: str = "", dry_run: bool = False, field_manager: str = "",
              force: bool = False) -> api_pb2.Object:
        """A patch of one object: patch_type json, merge, strategic or apply."""
        resource = resource_name(resource)
        req = api_pb2.PatchRequest(resource=resource, name=name,
                                   namespace=_scoped_namespace(resource, namespace),
                                   type=patch_type, patch=patch, subresource=subresource,
                                   dry_run=dry_run, field_manager=field_manager, force=force)
        return self._unary(self._stub.Patch, req)

    def delete(self, resource: str, name: str, namespace: str = "", *,
               grace_period_seconds: int | None = None, propagation_policy: str = "",
               resource_version: str = "", dry_run: bool = False) -> api_pb2.Object:
        resource = resource_name(resource)
        req = api_pb2.DeleteRequest(resource=resource, name=name,
                                    namespace=_scoped_namespace(resource, namespace),
                                    propagation_policy=propagation_policy,
                                    resource_version=resource_version, dry_run=dry_run)
        if grace_period_seconds is not None:
            req.grace_period_seconds = grace_period_seconds
        return self._unary(self._stub.Delete, req)

    def bind(self, namespace: str, name: str, node_name: str,
             resource_version: str = "") -> api_pb2.Object:
        req = api_pb2.BindRequest(namespace=namespace, name=name, node_name=node_name,
                                  resource_version=resource_version)
        return self._unary(self._stub.Bind, req)

    def watch(self, resource: str, namespace: str = "", label_selector: str = "",
              field_selector: str = "", resource_version: str = "",
              allow_bookmarks: bool = False,
              timeout: float | None = None) -> Stream[api_pb2.WatchEvent]:
        """Events after `resource_version` (empty: from now). Raises Gone if compacted."""
        resource = resource_name(resource)
        req = api_pb2.WatchRequest(resource=resource,
                                   namespace=_scoped_namespace(resource, namespace),
                                   label_selector=label_selector, field_selector=field_selector,
                                   resource_version=resource_version,
                                   allow_bookmarks=allow_bookmarks)
        try:
            call = self._stub.Watch(req, timeout=timeout)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None
        return Stream(call, self.address)

    # -- server info -----------------------------------------------------------

    def version(self) -> api_pb2.VersionInfo:
        return self._unary(self._stub.Version, api_pb2.VersionRequest())

    def api_resources(self) -> builtins.list[api_pb2.ApiResource]:
        return list(self._unary(self._stub.ApiResources, api_pb2.ApiResourcesRequest()).resources)

    # -- bootstrap tokens (admins only) ---------------------------------------

    def create_token(self, ttl_seconds: int = 0, description: str = "",
                     token: str = "", usages: Iterable[str] = ()) -> api_pb2.BootstrapToken:
        """A new bootstrap token; `.token` (id.secret) is only ever in this answer.
        usages: ["join"] (the default: nodes) or ["join-controlplane"] (members)."""
        return self._unary(self._stub.CreateToken, api_pb2.CreateTokenRequest(
            ttl_seconds=ttl_seconds, description=description, token=token,
            usages=list(usages)))

    # -- control-plane members (admins only) -------------------------------------

    def list_controlplanes(self) -> membership_pb2.ControlPlaneList:
        return self._unary(self._stub.ListControlPlanes,
                           membership_pb2.ListControlPlanesRequest())

    def remove_controlplane(self, name: str) -> membership_pb2.RemoveControlPlaneResponse:
        return self._unary(self._stub.RemoveControlPlane,
                           membership_pb2.RemoveControlPlaneRequest(name=name))

    def list_tokens(self) -> builtins.list[api_pb2.BootstrapToken]:
        return list(self._unary(self._stub.ListTokens, api_pb2.ListTokensRequest()).items)

    def encryption_keys(self) -> api_pb2.EncryptionKeyList:
        return self._unary(self._stub.ListEncryptionKeys, api_pb2.EncryptionKeysRequest())

    def rotate_encryption_key(self, timeout: float | None = None,
                              ) -> api_pb2.RotateEncryptionKeyResponse:
        """A new primary key, and every Secret re-encrypted with it (may take a while)."""
        return self._unary(self._stub.RotateEncryptionKey,
                           api_pb2.RotateEncryptionKeyRequest(), timeout)

    def remove_encryption_key(self, name: str) -> api_pb2.EncryptionKeyList:
        return self._unary(self._stub.RemoveEncryptionKey,
                           api_pb2.RemoveEncryptionKeyRequest(name=name))

    def delete_token(self, token_id: str) -> None:
        self._unary(self._stub.DeleteToken, api_pb2.DeleteTokenRequest(id=token_id))

    # -- proxied to agents -----------------------------------------------------

    def logs(self, namespace: str, pod: str, container: str = "", *, follow: bool = False,
             tail_lines: int | None = None, since_seconds: int | None = None,
             previous: bool = False, timestamps: bool = False,
             all_containers: bool = False) -> Stream[agent_pb2.LogChunk]:
        req = agent_pb2.LogsRequest(namespace=namespace, pod=pod, container=container,
                                    follow=follow, previous=previous, timestamps=timestamps,
                                    all_containers=all_containers)
        if tail_lines is not None:
            req.tail_lines = tail_lines
        if since_seconds is not None:
            req.since_seconds = since_seconds
        try:
            call = self._stub.Logs(req, timeout=None if follow else self.timeout)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None
        return Stream(call, self.address)

    def exec(self, start: agent_pb2.ExecStart,
             inputs: Iterable[agent_pb2.ExecInput] = ()) -> Stream[agent_pb2.ExecOutput]:
        """Run a command in a container: `start` first, then `inputs` (stdin, resize)."""
        return self._bidi_stream(self._stub.Exec, agent_pb2.ExecInput(start=start), inputs)

    def attach(self, start: agent_pb2.AttachStart,
               inputs: Iterable[agent_pb2.AttachInput] = ()) -> Stream[agent_pb2.ExecOutput]:
        """Join a running container's stdin and output: `start` first, then `inputs`."""
        return self._bidi_stream(self._stub.Attach, agent_pb2.AttachInput(start=start), inputs)

    def port_forward(self, start: agent_pb2.PortForwardStart,
                     inputs: Iterable[agent_pb2.PortForwardInput] = (),
                     ) -> Stream[agent_pb2.PortForwardOutput]:
        """One TCP connection to a pod's port: `start` first, then the bytes to send."""
        return self._bidi_stream(self._stub.PortForward,
                                 agent_pb2.PortForwardInput(start=start), inputs)

    def _bidi_stream(self, fn: Callable[..., Any], first: Message,
                     inputs: Iterable[Message]) -> Stream[Any]:
        def requests() -> Iterator[Message]:
            yield first
            yield from inputs

        try:
            call = fn(requests())
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None
        return Stream(call, self.address)

    def top(self, resource: str, namespace: str = "", name: str = "") -> api_pb2.TopResponse:
        req = api_pb2.TopRequest(resource=resource_name(resource), namespace=namespace, name=name)
        return self._unary(self._stub.Top, req)

    def node_images(self, node: str = "") -> api_pb2.NodeImagesResponse:
        return self._unary(self._stub.NodeImages, api_pb2.NodeImagesRequest(node=node))

    # images on the nodes (node "": every node); see controlplane/apiserver/images.py

    def pull_image(self, image: str, node: str = "") -> Stream[api_pb2.NodePullProgress]:
        """Pull on one node or every node: per-layer progress lines tagged with the node."""
        return self._server_stream(self._stub.PullImage,
                                   api_pb2.ImagePullRequest(node=node, image=image))

    def push_image(self, image: str, node: str = "",
                   target: str = "") -> Stream[api_pb2.NodePullProgress]:
        """Push from a node's store (node "": the first that has it) to `target` or `image`."""
        return self._server_stream(self._stub.PushImage, api_pb2.ImagePushRequest(
            node=node, image=image, target=target))

    def load_image(self, chunks: Iterable[bytes], node: str = "") -> api_pb2.ImageLoadResponse:
        """Stream a `docker save` / OCI layout archive to one node or every node."""

        def requests() -> Iterator[api_pb2.ImageLoadChunk]:
            yield api_pb2.ImageLoadChunk(node=node)
            for c in chunks:
                yield api_pb2.ImageLoadChunk(data=c)

        try:
            return self._stub.LoadImage(requests(), timeout=None)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None

    def build(self, start: build_pb2.ImageBuildStart,
              chunks: Iterable[bytes]) -> Stream[build_pb2.NodeBuildEvent]:
        """Build an image on a node: the start, then the context tar in pieces; the build's
        events as they come (proto/build.proto)."""

        def requests() -> Iterator[build_pb2.ImageBuildInput]:
            yield build_pb2.ImageBuildInput(start=start)
            for c in chunks:
                yield build_pb2.ImageBuildInput(context=c)

        try:
            call = self._stub.Build(requests(), timeout=None)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None
        return Stream(call, self.address)

    def prune_images(self, node: str = "") -> api_pb2.ImagePruneResponse:
        return self._unary(self._stub.PruneImages, api_pb2.ImagePruneRequest(node=node),
                           timeout=max(self.timeout or 0, 300))

    def tag_image(self, source: str, target: str, node: str = "") -> api_pb2.ImageTagResponse:
        """Another name for an image, on the nodes (node "": every node that has it)."""
        return self._unary(self._stub.TagImage, api_pb2.ImageTagRequest(
            node=node, source=source, target=target))

    def _server_stream(self, fn: Callable[..., Any], request: Message) -> Stream[Any]:
        try:
            call = fn(request, timeout=None)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, self.address) from None
        return Stream(call, self.address)
