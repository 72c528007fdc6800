"""`image tag`: another name for an image of the store, found by name, digest or id."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agent.images import ImageService
from agent.images.errors import ImageNotPresent, InvalidReference
from agent.images.tagging import tag

from .test_archive import needs_root, oci_layout, two_layers


@needs_root
def test_an_image_loaded_with_a_bare_tag_gets_a_name(tmp_path: Path) -> None:
    svc = ImageService(str(tmp_path / "store"))
    l1, l2 = two_layers()
    (digest,) = svc.load_archive(io.BytesIO(oci_layout(l1, l2, "v1")))   # umoci's ref name
    assert digest.startswith("sha256:")                    # known by its digest only
    (img,) = svc.list()
    assert tag(svc, digest, "app:v1") == "docker.io/library/app:v1"
    by_id = img.id.removeprefix("sha256:")[:12]            # as `image ls` shows it
    assert tag(svc, by_id, "registry.local:5000/team/app") == \
        "registry.local:5000/team/app:latest"
    tagged = svc.get("app:v1")
    assert tagged is not None and tagged.id == img.id
    assert tagged.layer_dirs == img.layer_dirs
    assert {i.reference for i in svc.list()} == {
        digest, "docker.io/library/app:v1", "registry.local:5000/team/app:latest"}
    assert tag(svc, "app:v1", "app:v2") == "docker.io/library/app:v2"


def test_a_missing_source_or_a_digest_target_is_refused(tmp_path: Path) -> None:
    svc = ImageService(str(tmp_path / "store"))
    with pytest.raises(ImageNotPresent, match="No such image: nope:1"):
        tag(svc, "nope:1", "x:1")
    with pytest.raises(InvalidReference, match="refusing to create a tag with a digest"):
        tag(svc, "nope:1", "x@sha256:" + "0" * 64)
    with pytest.raises(InvalidReference):
        tag(svc, "nope:1", "app/Bad:1")
    assert svc.list() == []
