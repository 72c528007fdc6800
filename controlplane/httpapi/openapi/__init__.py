"""The OpenAPI v2 and v3 documents of the Kubernetes API."""

from __future__ import annotations

from aiohttp import web


async def documents(request: web.Request) -> web.StreamResponse | None:
    return None
