import pytest

from agent.images.auth import parse_challenges
from agent.images.errors import ConfigError, PlatformNotFound, Unsupported
from agent.images.imageconfig import parse_config
from agent.images.manifest import Descriptor, Index, Platform, parse, select_platform
from agent.images.registries import RegistriesConfig

D = "sha256:" + "1" * 64


def test_challenges():
    [c] = parse_challenges('Bearer realm="https://auth.docker.io/token",'
                           'service="registry.docker.io",scope="repository:a/b:pull,push"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:a/b:pull,push"}
    [b] = parse_challenges('Basic realm="basic-realm"')
    assert b.scheme == "basic" and b.params["realm"] == "basic-realm"


def desc(arch, variant="", digest=D):
    return Descriptor("application/vnd.oci.image.manifest.v1+json", digest, 1,
                      Platform("linux", arch, variant))


def test_platform_selection():
    idx = Index("x", [desc("amd64", digest="sha256:" + "a" * 64),
                      desc("arm", "v6", "sha256:" + "b" * 64),
                      desc("arm", "v7", "sha256:" + "c" * 64),
                      desc("arm64", "", "sha256:" + "d" * 64)])
    assert select_platform(idx, Platform.parse("linux/amd64")).digest.endswith("a")
    assert select_platform(idx, Platform.parse("linux/arm/v7")).digest.endswith("c")
    assert select_platform(idx, Platform.parse("linux/arm64/v8")).digest.endswith("d")
    with pytest.raises(PlatformNotFound, match="linux/s390x"):
        select_platform(idx, Platform.parse("linux/s390x"))


def test_manifest_parsing():
    with pytest.raises(Unsupported, match="schema 1"):
        parse(b'{"schemaVersion": 1, "fsLayers": []}')
    with pytest.raises(Unsupported, match="unsupported media type"):
        parse(b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
              b'"config": {"digest": "' + D.encode() + b'", "size": 1},'
              b'"layers": [{"mediaType": "application/x-foreign", "digest": "' + D.encode()
              + b'", "size": 1}]}')


def test_config_defaults():
    cfg = parse_config(b'{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/e"],'
                       b'"Cmd":["c"],"Env":["A=b=c"],"WorkingDir":"/w","User":"u:g",'
                       b'"StopSignal":"SIGINT","ExposedPorts":{"53/udp":{},"80/tcp":{}}},'
                       b'"rootfs":{"type":"layers","diff_ids":[]}}')
    d = cfg.defaults
    assert (d.entrypoint, d.cmd, d.working_dir, d.user, d.stop_signal) == \
        (["/e"], ["c"], "/w", "u:g", "SIGINT")
    assert d.env_dict == {"A": "b=c"} and d.exposed_ports == ["53/udp", "80/tcp"]


def test_registries_config(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("registries:\n  docker.io:\n    mirrors: ['127.0.0.1:5001']\n"
                 "  reg.example:5000:\n    insecure: true\n    auth: dTpw\n")
    cfg = RegistriesConfig.load(str(p))
    eps = cfg.endpoints("docker.io")
    assert [e.base_url for e in eps] == ["http://127.0.0.1:5001", "https://registry-1.docker.io"]
    assert cfg.endpoints("docker.io", for_push=True)[0].base_url == "https://registry-1.docker.io"
    h = cfg.host("reg.example:5000")
    assert (h.insecure, h.username, h.password) == (True, "u", "p")
    assert cfg.endpoints("localhost:5000")[0].base_url == "http://localhost:5000"
    assert cfg.endpoints("quay.io")[0].base_url == "https://quay.io"
    with pytest.raises(ConfigError, match="unknown field"):
        RegistriesConfig.from_dict({"registries": {"x": {"insecur": True}}})
