"""The agent's security flags: joining by default, --insecure only on loopback."""

from __future__ import annotations

import pytest

from agent.config import is_loopback, parse_args

BASE = ["--server", "10.0.0.5:6445", "--node-name", "n1", "--data-dir", "/tmp/x",
        "--node-ip", "10.0.0.7"]


def test_secure_by_default_with_join_flags() -> None:
    cfg = parse_args([*BASE, "--token", "abcdef.0123456789abcdef",
                      "--ca-cert-hash", "sha256:" + "0" * 64])
    assert not cfg.insecure
    assert cfg.token == "abcdef.0123456789abcdef"
    assert cfg.bootstrap_server == "10.0.0.5:6444"       # the --server host, port 6444
    cfg = parse_args([*BASE, "--bootstrap-server", "10.0.0.6:7000"])
    assert cfg.bootstrap_server == "10.0.0.6:7000" and not cfg.insecure


def test_insecure_only_on_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args([*BASE, "--insecure"])                 # listens on 10.0.0.7:10250
    assert "only allowed when the agent listens on a loopback address" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args([*BASE, "--insecure", "--listen", "0.0.0.0:10250"])
    cfg = parse_args([*BASE, "--insecure", "--listen", "127.0.0.1:0"])
    assert cfg.insecure
    with pytest.raises(SystemExit):
        parse_args([*BASE, "--insecure", "--listen", "127.0.0.1:0", "--token", "a.b"])


@pytest.mark.parametrize("address,loopback", [
    ("127.0.0.1:1", True), ("127.9.9.9:1", True), ("[::1]:1", True), ("localhost:1", True),
    ("0.0.0.0:1", False), ("10.0.0.1:1", False), ("[::]:1", False), (":1", False),
    ("example.com:1", False)])
def test_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback
