import os
import pathlib

import pytest

from agent.images import ImageService
from agent.images.errors import ImageNotPresent
from agent.images.imageconfig import ContainerDefaults
from agent.images.policy import PullPolicy, default_policy, waiting_reason
from agent.images.reference import parse


def rootfs(tmp_path: pathlib.Path, name: str, files: dict[str, bytes]) -> str:
    d = tmp_path / name
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    return str(d)


def test_import_layers_shared_and_prune(tmp_path):
    svc = ImageService(str(tmp_path / "data"), platform="linux/arm64")
    base = svc.import_rootfs(rootfs(tmp_path, "b", {"bin/a": b"a"}), "base:1",
                             ContainerDefaults(cmd=["/bin/a"], env=["A=1"]))
    top = svc.import_rootfs(rootfs(tmp_path, "t", {"etc/t": b"t"}), "top:1", base="base:1")
    assert top.layer_dirs[0] == base.layer_dirs[0] and len(top.layer_dirs) == 2
    assert top.config.cmd == ["/bin/a"] and top.config.env_dict == {"A": "1"}
    assert top.platform == "linux/arm64/v8" or top.platform == "linux/arm64"
    assert {i.reference for i in svc.list()} == {"docker.io/library/base:1",
                                                 "docker.io/library/top:1"}
    low = svc.overlay_lowerdir(top)
    assert low.cwd is None and low.option == f"{top.layer_dirs[1]}:{top.layer_dirs[0]}"

    removed, freed = svc.prune({top.layer_dirs[1]})  # a container uses top
    assert removed == ["docker.io/library/base:1"] and freed > 0
    assert svc.get("top:1") is not None and os.path.isdir(base.layer_dirs[0])
    assert svc.prune({"top:1"}) == ([], 0)  # familiar names count too
    removed, freed = svc.prune(set())
    assert removed == ["docker.io/library/top:1"]
    assert svc.store.list_blobs() == [] and svc.layers.list() == []


def test_many_layers_use_short_links(tmp_path):
    svc = ImageService(str(tmp_path / ("d" * 150)))
    ref = None
    for i in range(30):
        img = svc.import_rootfs(rootfs(tmp_path, f"r{i}", {f"f{i}": b"x"}), f"img:{i}", base=ref)
        ref = f"img:{i}"
    assert len(img.layer_dirs) == 30
    low = svc.overlay_lowerdir(img)
    assert low.cwd == svc.root and len(low.option) < 1000
    first = low.option.split(":")[0]
    assert os.path.realpath(os.path.join(low.cwd, first)) == os.path.realpath(img.layer_dirs[-1])


def test_policy():
    assert default_policy(parse("nginx")) is PullPolicy.ALWAYS
    assert default_policy(parse("nginx:latest")) is PullPolicy.ALWAYS
    assert default_policy(parse("nginx:1.2")) is PullPolicy.IF_NOT_PRESENT
    assert default_policy(parse("nginx@sha256:" + "a" * 64)) is PullPolicy.IF_NOT_PRESENT
    assert PullPolicy.parse("Never", parse("x")) is PullPolicy.NEVER
    assert PullPolicy.parse("", parse("x:1")) is PullPolicy.IF_NOT_PRESENT


def test_ensure_never_and_if_not_present(tmp_path):
    svc = ImageService(str(tmp_path / "data"))
    with pytest.raises(ImageNotPresent) as ei:
        svc.ensure("nothere:1", "Never")
    assert ei.value.reason == "ErrImageNeverPull"
    assert waiting_reason(ei.value, backing_off=True) == "ErrImageNeverPull"
    img = svc.import_rootfs(rootfs(tmp_path, "r", {"x": b"x"}), "local:1")
    assert svc.ensure("local:1", "IfNotPresent") == img
    assert svc.ensure("local:1", "Never") == img
    assert svc.get(img.id) == img
    assert svc.remove("local:1") and svc.get("local:1") is None
