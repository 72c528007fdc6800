"""A client of the OCI distribution API v2 (pull and push), on http.client.

- Endpoints come from the registries config: mirrors first for pulls, plain
  HTTP for insecure registries (localhost and 127.0.0.0/8 by default).
- Auth and retries: transport.py (Bearer token flow, Basic, back-off, then
  Unavailable). Downloads interrupted mid-stream restart.
- Every manifest and blob is checked against its digest and size while it
  streams (digest.py); nothing unverified reaches the store.
- Errors carry the registry's own message (the JSON "errors" list).
- Push: HEAD each blob (skip when present), POST an upload, then a single PUT
  (monolithic) or PATCH chunks + PUT when the blob is larger than
  `chunk_size`; the manifest goes last.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlencode, urljoin

from agent.images.digest import sha256_bytes, verify_bytes
from agent.images.errors import DigestMismatch, NotFound, Unauthorized, Unavailable
from agent.images.manifest import ACCEPT, MAX_MANIFEST_SIZE, Descriptor
from agent.images.reference import Reference
from agent.images.registries import Endpoint
from agent.images.store import ContentStore
from agent.images.transport import Body, Response, Transport


class RegistryClient(Transport):
    """Pull and push operations; constructor arguments are Transport's."""

    # -- pull ------------------------------------------------------------------

    def ping(self, domain: str) -> None:
        ep = self.config.endpoints(domain, for_push=True)[-1]
        self.request(ep, "GET", "/v2/", what=f"ping {domain}").close()

    def _pull(self, ref: Reference, fn: Callable[[Endpoint], bytes | None]) -> bytes | None:
        eps = self.config.endpoints(ref.domain)
        for i, ep in enumerate(eps):
            try:
                return fn(ep)
            except (NotFound, Unavailable, Unauthorized):
                if i == len(eps) - 1:
                    raise
        raise AssertionError("no endpoints")

    def get_manifest(
        self, ref: Reference, digest: str | None = None, size: int | None = None
    ) -> tuple[bytes, str, str]:
        """Fetch ref's manifest or index (or `digest`); returns (raw, media type, digest)."""
        target = digest or ref.remote
        what = f"image {ref}" if digest is None else f"image {ref}: manifest {digest}"
        ctype = ""
        header_digest = ""

        def one(ep: Endpoint) -> bytes:
            nonlocal ctype, header_digest
            with self.request(ep, "GET", f"/v2/{ref.path}/manifests/{target}", repo=ref.path,
                              headers={"Accept": ACCEPT}, what=what) as r:
                ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip()
                header_digest = r.headers.get("Docker-Content-Digest") or ""
                return r.read_limited(MAX_MANIFEST_SIZE)

        raw = self._pull(ref, one)
        assert raw is not None
        want = digest or ref.digest
        verify_bytes(raw, want, size, what)
        got = sha256_bytes(raw)
        if want is None and header_digest.startswith("sha256:") and header_digest != got:
            raise DigestMismatch(
                f"{what}: registry says the manifest is {header_digest}, its content is {got}")
        return raw, ctype, got

    def fetch_blob(
        self,
        ref: Reference,
        desc: Descriptor,
        store: ContentStore,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Download a blob into the store, verified; restarts interrupted downloads."""
        what = f"image {ref}: blob {desc.digest}"
        attempt = 0
        while True:
            try:
                def one(ep: Endpoint) -> None:
                    with self.request(ep, "GET", f"/v2/{ref.path}/blobs/{desc.digest}",
                                      repo=ref.path, what=what) as r:
                        store.write_blob(r, desc.digest, desc.size, what, on_bytes)

                self._pull(ref, one)
                return
            except (OSError, http.client.HTTPException) as e:
                if attempt >= self.retries:
                    raise Unavailable(f"{what}: download failed after {attempt + 1} attempts: "
                                      f"{type(e).__name__}: {e}") from e
                self._sleep(self._delay(attempt))
                attempt += 1

    # -- push ------------------------------------------------------------------

    def _push_ep(self, ref: Reference) -> Endpoint:
        return self.config.endpoints(ref.domain, for_push=True)[-1]

    def blob_exists(self, ref: Reference, digest: str) -> bool:
        with self.request(self._push_ep(ref), "HEAD", f"/v2/{ref.path}/blobs/{digest}",
                          repo=ref.path, actions="pull,push", ok=(200, 404),
                          what=f"image {ref}: blob {digest}") as r:
            return r.status == 200

    def upload_blob(
        self,
        ref: Reference,
        digest: str,
        size: int,
        open_blob: Callable[[], BinaryIO],
        on_bytes: Callable[[int], None] | None = None,
    ) -> bool:
        """Upload a blob unless the registry has it; True when it was uploaded."""
        if self.blob_exists(ref, digest):
            return False
        ep = self._push_ep(ref)
        what = f"push {ref}: blob {digest}"

        def send(method: str, url: str, ok: tuple[int, ...], headers: dict[str, str],
                 body: Body) -> Response:
            return self.request(ep, method, url, repo=ref.path, actions="pull,push", ok=ok,
                                headers=headers, body=body, what=what)

        with send("POST", f"/v2/{ref.path}/blobs/uploads/", (202,),
                  {"Content-Length": "0"}, b"") as r:
            location = urljoin(r.url, r.headers.get("Location", ""))
        octet = {"Content-Type": "application/octet-stream"}
        if self.chunk_size is None or size <= self.chunk_size:
            with send("PUT", _with_query(location, digest=digest), (201, 204),
                      {**octet, "Content-Length": str(size)}, open_blob):
                pass
            if on_bytes is not None:
                on_bytes(size)
            return True
        offset = 0
        with open_blob() as f:
            while offset < size:
                data = f.read(self.chunk_size)
                if not data:
                    break
                end = offset + len(data) - 1
                with send("PATCH", location, (202,), {**octet, "Content-Range": f"{offset}-{end}",
                                                      "Content-Length": str(len(data))}, data) as r:
                    location = urljoin(r.url, r.headers.get("Location", location))
                offset += len(data)
                if on_bytes is not None:
                    on_bytes(offset)
        with send("PUT", _with_query(location, digest=digest), (201, 204),
                  {"Content-Length": "0"}, b""):
            pass
        return True

    def put_manifest(self, ref: Reference, raw: bytes, media_type: str) -> str:
        """PUT a manifest under ref's tag (or digest); returns its digest."""
        digest = sha256_bytes(raw)
        target = ref.tag or ref.digest or digest
        with self.request(self._push_ep(ref), "PUT", f"/v2/{ref.path}/manifests/{target}",
                          repo=ref.path, actions="pull,push", ok=(201, 200),
                          headers={"Content-Type": media_type, "Content-Length": str(len(raw))},
                          body=raw, what=f"push {ref}: manifest"):
            pass
        return digest


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)

