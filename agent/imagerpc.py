"""The Agent service's image calls (ListImages, PullImage, PushImage, LoadImage,
PruneImages, TagImage) over the ImagePort, and what an image failure means to a caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from agent.podsync.manager import PodManager
from agent.ports import ContainerRuntimePort, ImagePort, ImagePullError, Progress
from proto import agent_pb2

# what an image failure means to a caller
_IMAGE_CODES = {"invalid": grpc.StatusCode.INVALID_ARGUMENT,
                "not_found": grpc.StatusCode.NOT_FOUND,
                "denied": grpc.StatusCode.PERMISSION_DENIED,
                "failed": grpc.StatusCode.FAILED_PRECONDITION}


def image_status(e: Exception) -> grpc.StatusCode:
    """The status of a failed pull or push (ImagesAdapter sets `kind` on its errors)."""
    if isinstance(e, ValueError):
        return grpc.StatusCode.INVALID_ARGUMENT
    return _IMAGE_CODES.get(getattr(e, "kind", ""), grpc.StatusCode.FAILED_PRECONDITION)


def images_in_use(manager: PodManager) -> set[str]:
    """The images of the node's pods (also called from the pulling thread: one snapshot)."""
    keep: set[str] = set()
    for w in list(manager.workers.values()):
        keep.update(c.image for c in w.pod.spec.containers)
        keep.update(c.image for c in w.pod.spec.init_containers)
    return keep


class ImageCalls:
    def __init__(self, images: ImagePort, runtime: ContainerRuntimePort,
                 manager: PodManager) -> None:
        self.images = images
        self.runtime = runtime
        self.manager = manager

    async def list(self) -> agent_pb2.ListImagesResponse:
        resp = agent_pb2.ListImagesResponse()
        for i in await self.images.list_images():
            s = resp.images.add(names=i.names, id=i.id, size_bytes=i.size_bytes)
            if i.created:
                s.created.FromNanoseconds(int(i.created * 1e9))
        return resp

    async def progress(self, stream: AsyncIterator[Progress],
                       context: grpc.aio.ServicerContext
                       ) -> AsyncIterator[agent_pb2.PullProgress]:
        try:
            async for p in stream:
                yield agent_pb2.PullProgress(layer=p.layer, status=p.status,
                                             current=p.current, total=p.total, error=p.error)
        except (ImagePullError, ValueError) as e:
            await context.abort(image_status(e), str(e))

    async def load(self, request_iterator: AsyncIterator[agent_pb2.LoadImageChunk],
                   context: grpc.aio.ServicerContext) -> agent_pb2.LoadImageResponse:
        async def chunks() -> AsyncIterator[bytes]:
            async for c in request_iterator:
                yield c.data
        try:
            names = await self.images.load(chunks())
        except (ValueError, ImagePullError) as e:    # whatever is wrong, the archive is
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        return agent_pb2.LoadImageResponse(names=names)

    async def tag(self, request: agent_pb2.TagImageRequest,
                  context: grpc.aio.ServicerContext) -> agent_pb2.TagImageResponse:
        try:
            name = await self.images.tag(request.source, request.target)
        except (ImagePullError, ValueError) as e:
            await context.abort(image_status(e), str(e))
        return agent_pb2.TagImageResponse(name=name)

    async def prune(self) -> agent_pb2.PruneImagesResponse:
        keep = {c.image for c in await self.runtime.list_containers()}
        removed, freed = await self.images.prune(keep | images_in_use(self.manager))
        return agent_pb2.PruneImagesResponse(removed=removed, bytes_freed=freed)
