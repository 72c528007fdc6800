"""The images package's one error tree.

    ImageError                    anything that stops an image from being pulled, loaded or used
    +-- InvalidReference          a reference that breaks Docker's rules (reason InvalidImageName)
    +-- RegistryError             the registry answered with an error, or not at all
    |   +-- Unauthorized          401/403: missing or wrong credentials, or access denied
    |   +-- NotFound              404: manifest unknown, blob unknown, name unknown
    |   +-- Unavailable           connection refused/reset, timeouts, 5xx, 429 after retries
    +-- DigestMismatch            content whose sha256 is not the digest it was asked for
    +-- SizeMismatch              content whose length is not the size its descriptor states
    +-- UnsafeLayer               a layer tar that tries to escape its directory (../, symlinks,
    |   |                         hardlinks out of the layer, a bare .wh.) or is malformed
    |   +-- LayerTooLarge         decompresses beyond the configured bound (decompression bomb)
    +-- Unsupported               schema-1 manifests, unknown media types, zstd without the
    |   |                         `zstandard` module, digests other than sha256
    |   +-- PlatformNotFound      an image index without the node's platform
    +-- InvalidArchive            a docker-save / OCI-layout tar that is malformed
    +-- ImageNotPresent           not in the store (and policy Never forbids pulling it)
    +-- ConfigError               a registries config file that cannot be used

Every error carries a user-facing message that names the image (and, for
RegistryError, the registry's own error message), and `reason`: the container
waiting reason Kubernetes would show (ErrImagePull, InvalidImageName,
ErrImageNeverPull); the agent turns repeated ErrImagePull into ImagePullBackOff.
"""

from __future__ import annotations

# a layer's uncompressed bytes past which unpacking stops with LayerTooLarge
DEFAULT_MAX_SIZE = 16 << 30


class ImageError(Exception):
    """Base of the tree. `str(err)` is the message to show a person."""

    reason: str = "ErrImagePull"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidReference(ImageError):
    reason = "InvalidImageName"


class RegistryError(ImageError):
    """`status` is the HTTP status (0: no answer); `registry_message` the registry's own text."""

    def __init__(self, message: str, *, status: int = 0, registry_message: str = "") -> None:
        if registry_message and registry_message not in message:
            message = f"{message}: {registry_message}"
        super().__init__(message)
        self.status = status
        self.registry_message = registry_message


class Unauthorized(RegistryError):
    pass


class NotFound(RegistryError):
    pass


class Unavailable(RegistryError):
    pass


class DigestMismatch(ImageError):
    pass


class SizeMismatch(ImageError):
    pass


class UnsafeLayer(ImageError):
    pass


class LayerTooLarge(UnsafeLayer):
    pass


class Unsupported(ImageError):
    pass


class PlatformNotFound(Unsupported):
    pass


class InvalidArchive(ImageError):
    pass


class ImageNotPresent(ImageError):
    reason = "ErrImageNeverPull"


class ConfigError(ImageError):
    pass
