"""imagePullSecrets at the image service: a pod's Docker config authenticates its pull
from a registry with htpasswd (Basic) or token (Bearer) auth, and only its own."""

from __future__ import annotations

import base64
import json
import os
import pathlib

import pytest

from agent.images import ImageService
from agent.images.errors import Unauthorized
from agent.images.pullsecrets import credentials_of, parse_docker_config, registry_of

from .test_registry import seed

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (whiteouts, chroot)"),
]


def docker_config(host: str, user: str, password: str) -> bytes:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"username": user, "password": password,
                                        "auth": auth}}}).encode()


def test_pull_secrets_with_htpasswd(tmp_path: pathlib.Path, auth_registry) -> None:
    host = auth_registry.host
    ref = f"{host}/private/busybox:1"
    seed(tmp_path, ref, registries_config={"registries": {host: {
        "username": "alice", "password": "s3cret"}}})
    node = ImageService(str(tmp_path / "node"))
    with pytest.raises(Unauthorized, match="requires credentials"):
        node.ensure(ref, "Always")
    wrong = credentials_of([docker_config(host, "alice", "nope")])
    with pytest.raises(Unauthorized, match="401"):
        node.ensure(ref, "Always", credentials=wrong)
    right = credentials_of([docker_config(f"https://{host}/v1/", "alice", "s3cret")])
    other = credentials_of([docker_config("elsewhere.example:5000", "x", "y")])
    img = node.ensure(ref, "Always", credentials=[*other, *wrong, *right])
    assert img.reference == ref


def test_tokens_are_not_shared_between_credentials(tmp_path: pathlib.Path, registry,
                                                   proxy) -> None:
    seed(tmp_path, f"{registry.host}/corral/busybox:1")
    proxy.token, proxy.token_user = "tok-123", ("bob", "pw")
    ref = f"{proxy.host}/corral/busybox:1"
    node = ImageService(str(tmp_path / "node"))
    node.ensure(ref, "Always", credentials=credentials_of([docker_config(proxy.host, "bob",
                                                                           "pw")]))
    with pytest.raises(Unauthorized):       # no credentials: the pod's token is not reused
        node.ensure(ref, "Always")


def test_docker_config_forms() -> None:
    assert registry_of("https://index.docker.io/v1/") == "docker.io"
    assert registry_of("Reg.Example:5000") == "reg.example:5000"
    legacy = json.dumps({"reg.example": {"auth": base64.b64encode(b"u:p").decode()}})
    (cred,) = parse_docker_config(legacy.encode())
    assert (cred.registry, cred.username, cred.password) == ("reg.example", "u", "p")
    assert credentials_of([b"not json", b'{"auths": {"r": {"auth": "!!"}}}']) == []
