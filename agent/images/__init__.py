"""agent/images: OCI images for the node agent — pull, store, unpack, load, push.

    svc = ImageService(data_dir, registries_config=None, platform=None)
    img = svc.ensure("nginx:1.25", "IfNotPresent", progress=cb)
    # mount overlay: lowerdir = svc.overlay_lowerdir(img).option (see layers.py)

All methods block (network, disk); they are thread-safe, so call them from
asyncio with `asyncio.to_thread`. Errors are the tree in errors.py; each has
a user-facing message and `.reason` (ErrImagePull, InvalidImageName,
ErrImageNeverPull) for the container's waiting state.

ImageService(data_dir, registries_config=None, platform=None, *, client=None,
             max_layer_size=16 GiB, gc_high_percent=None, gc_low_percent=None,
             in_use=None)
    data_dir          the agent's data dir; images live in <data_dir>/images
    registries_config a RegistriesConfig, a path to YAML/JSON, a dict, or None (registries.py)
    platform          "linux/arm64/v8" etc.; default: the config's, else the host's
    gc_high_percent   automatic prune: after a pull/load/import, when the filesystem is
                      fuller than this, unused images (not in in_use(), not the one just
                      made) go, least recently used first, until it is below
                      gc_low_percent (default high - 5); off unless both this and in_use
    in_use            a callable returning what prune(in_use) takes
  pull(ref, progress=None) -> Image              always asks the registry
  ensure(ref, pull_policy, progress=None) -> Image   Always / IfNotPresent / Never ("" = default)
  get(ref) -> Image | None                       by reference, name@digest, or image id
  list() -> list[Image]
  load_archive(path_or_fileobj) -> list[str]     docker save / OCI layout tar; loaded names
  save(refs, out) -> None                        OCI layout tar (with docker manifest.json)
  import_rootfs(dir, ref, defaults=None, base=None) -> Image   one new layer from a dir
  push(ref, target=None, progress=None) -> str   pushes blobs then the manifest; its digest
  remove(ref) -> bool                            drops the name; space goes at the next prune
  prune(in_use) -> (removed refs, bytes freed)   removes every image not in use, then every
                                                 blob/layer no image needs; in_use: refs in any
                                                 form ("nginx"), digests/ids, diffIDs, layer dirs
  overlay_lowerdir(image) -> OverlayLower        lowerdir= value (+ cwd) for the runtime

Image (frozen dataclass):
    reference        normalised, e.g. docker.io/library/busybox:latest
    digest           what the reference resolved to (the index digest for a multi-platform image)
    manifest_digest  the platform manifest
    id               the config digest (ImageSummary.id)
    config           ContainerDefaults: entrypoint, cmd, env, working_dir, user, stop_signal,
                     exposed_ports, labels
    layer_dirs       unpacked layer directories, LOWEST (base) FIRST; overlayfs wants the
                     reverse (topmost first) — overlay_lowerdir() does that
    diff_ids         in the same order
    size             bytes on disk: the unpacked layers' uncompressed sizes
    platform         "linux/amd64" ...
    created          the config's "created" (RFC 3339) or ""

Progress: progress.Progress(layer, status, current, total) events; statuses Resolving,
Downloading, Verifying, Extracting, Done, Already exists (and Pushing for push).

Modules, one job each:
    errors       the error tree          reference   Docker reference rules
    digest       streaming sha256/size   store       blobs by digest, image records, locks
    unpack       safe layer extraction   layers      one dir per diffID, overlay lowerdir
    manifest     manifests, indexes,     imageconfig image config -> ContainerDefaults
                 platforms
    registries   per-node config         auth        WWW-Authenticate, tokens
    transport    HTTP, auth, retries     client      pull/push over the distribution API
    archive      docker save / OCI       build       import_rootfs layers
                 layout load and save
    policy       pull policy, reasons    progress    progress events
    gc           prune / collect         service     ImageService
"""

from agent.images.imageconfig import ContainerDefaults
from agent.images.layers import OverlayLower
from agent.images.policy import PullPolicy
from agent.images.progress import Progress
from agent.images.service import Image, ImageService

__all__ = ["ContainerDefaults", "Image", "ImageService", "OverlayLower", "Progress", "PullPolicy"]
