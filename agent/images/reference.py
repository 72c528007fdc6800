"""Image references, parsed and normalised by Docker's rules.

    nginx                         -> docker.io/library/nginx:latest
    user/app:1.0                  -> docker.io/user/app:1.0
    localhost/app                 -> localhost/app:latest
    host:5000/ns/app:tag          -> host:5000/ns/app:tag
    app@sha256:<64 hex>           -> docker.io/library/app@sha256:<64 hex>   (no tag added)
    app:tag@sha256:<64 hex>       -> kept with both; the digest is what is fetched

The first component is a registry host when it contains "." or ":", is
"localhost", or has an upper-case letter; otherwise the registry is docker.io.
Repository path components are lower case ([a-z0-9] with single ".", "_",
"__" or runs of "-" between), tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127},
digests are sha256:<64 lower-case hex> (other algorithms are rejected), and the
name is at most 255 characters. A bare 64-hex string is refused (it looks like
an image ID, as Docker says). Invalid references raise InvalidReference with
a message that quotes the reference.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from agent.images.errors import ImageError, InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_ANY_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX64 = re.compile(r"[a-f0-9]{64}")
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class Reference:
    """A normalised reference. `str()` gives the full form."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """domain/path, e.g. docker.io/library/nginx."""
        return f"{self.domain}/{self.path}"

    @property
    def remote(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def familiar(self) -> str:
        """The short form people type: nginx:latest, user/app:1.0, localhost:5000/x:y."""
        name = self.repository
        if self.domain == DEFAULT_DOMAIN:
            name = self.path
            if name.startswith(OFFICIAL_NAMESPACE + "/"):
                name = name[len(OFFICIAL_NAMESPACE) + 1 :]
        return name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid tag {tag!r}")
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        if not _DIGEST.fullmatch(digest):
            raise InvalidReference(f"invalid digest {digest!r}")
        return Reference(self.domain, self.path, None, digest)

    def _suffix(self) -> str:
        out = ""
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __str__(self) -> str:
        return self.repository + self._suffix()


def parse(ref: str) -> Reference:
    """Parse and normalise `ref`; raises InvalidReference naming it."""

    def bad(why: str) -> InvalidReference:
        return InvalidReference(f"invalid image reference {ref!r}: {why}")

    if not isinstance(ref, str) or not ref:
        raise InvalidReference("invalid image reference '': empty")
    if ref != ref.strip() or any(c.isspace() for c in ref):
        raise bad("contains whitespace")
    if _HEX64.fullmatch(ref):
        raise bad("a 64-character hexadecimal string looks like an image ID, not a reference")

    rest, digest = ref, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _ANY_DIGEST.fullmatch(digest):
            raise bad(f"invalid digest {digest!r}")
        if not digest.startswith("sha256:"):
            raise bad(f"unsupported digest algorithm in {digest!r} (only sha256)")
        if not _DIGEST.fullmatch(digest):
            raise bad(f"invalid sha256 digest {digest!r} (want 64 lower-case hex digits)")

    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise bad(f"invalid tag {tag!r}")

    if not rest:
        raise bad("missing repository name")
    first, sep, remainder = rest.partition("/")
    if sep and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    ):
        domain, path = first, remainder
        if not _DOMAIN.fullmatch(domain):
            raise bad(f"invalid registry host {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, rest
    if domain in LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"{OFFICIAL_NAMESPACE}/{path}"

    for component in path.split("/"):
        if not component:
            raise bad("empty path component")
        if component.lower() != component and _COMPONENT.fullmatch(component.lower()):
            raise bad("repository name must be lowercase")
        if not _COMPONENT.fullmatch(component):
            raise bad(f"invalid repository name component {component!r}")
    if len(domain) + 1 + len(path) > MAX_NAME_LENGTH:
        raise bad(f"repository name longer than {MAX_NAME_LENGTH} characters")

    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def is_digest(value: str) -> bool:
    return bool(_DIGEST.fullmatch(value))


def find_record(records: dict[str, dict[str, Any]], ref: str) -> tuple[str, dict[str, Any]] | None:
    """The stored image record (name, record) that `ref` names: an image id or digest,
    a name, or repo@digest (any name of that repository with that digest)."""
    if is_digest(ref):
        for name, rec in sorted(records.items()):
            if ref in (rec.get("config"), rec.get("digest"), rec.get("manifest")):
                return name, rec
        return None
    r = parse(ref)
    if str(r) in records:
        return str(r), records[str(r)]
    if r.digest is not None:
        for name, rec in sorted(records.items()):
            if r.digest not in (rec.get("digest"), rec.get("manifest")):
                continue
            with contextlib.suppress(ImageError):
                if parse(name).repository == r.repository:
                    return name, rec
    return None
