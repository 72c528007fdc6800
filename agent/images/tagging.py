"""Another name for an image of the store (`docker tag SOURCE TARGET`).

The new name is a record like the source's (same manifest, config and layers); the
source may be a name, an image id or a digest (an unnamed image loaded from an
OCI layout archive has only its digest).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from agent.images.errors import ImageError, ImageNotPresent, InvalidReference
from agent.images.reference import parse as parse_reference
from agent.images.service import ImageService

RECORD_FIELDS = ("digest", "manifest", "config")
_ID_PREFIX = re.compile(r"(sha256:)?([0-9a-f]{12,64})")


def _record(svc: ImageService, source: str) -> dict[str, Any] | None:
    """The record of a name, digest or id, or of a unique id prefix (`image ls`'s 12
    hex digits, as Docker takes them)."""
    with contextlib.suppress(ImageError):
        found = svc._find(source)
        if found is not None:
            return found[1]
    m = _ID_PREFIX.fullmatch(source)
    if m is None:
        return None
    want = "sha256:" + m.group(2)
    hits = {rec.get("config"): rec for rec in svc.store.records().values()
            if str(rec.get("config", "")).startswith(want)}
    if len(hits) > 1:
        raise InvalidReference(f"{source} is ambiguous: {len(hits)} images have that id prefix")
    return next(iter(hits.values()), None)


def tag(svc: ImageService, source: str, target: str) -> str:
    """Name the image `source` also `target`; the target as stored (normalised)."""
    r = parse_reference(target)
    if r.digest is not None:
        raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
    record = _record(svc, source)
    if record is None:
        raise ImageNotPresent(f"No such image: {source}")
    svc.store.set_record(str(r), {k: record[k] for k in RECORD_FIELDS if k in record})
    return str(r)
