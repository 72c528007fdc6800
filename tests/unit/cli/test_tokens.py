"""`corral token`: the join command it prints and its TTL parsing."""

from __future__ import annotations

import pytest

from controlplane.security import pki
from corral.cli import tokens
from corral.cli.common import CliError, ttl_seconds


def test_join_command_pins_the_ca() -> None:
    ca = pki.ClusterCA.create()
    cmd = tokens.join_command("10.0.0.5:6445", "abcdef.0123456789abcdef", ca.cert_pem)
    assert cmd.startswith("corral-agent --server 10.0.0.5:6445 --token abcdef.0123456789abcdef")
    assert f"--ca-cert-hash {ca.ca_hash()}" in cmd           # the same hash agents check
    assert "sha256:<" in tokens.join_command("h:1", "t", None)


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("30m", 1800), ("7d", 604800),
                                          ("90", 90), ("1h30m", 5400)])
def test_ttl(text: str, seconds: int) -> None:
    assert ttl_seconds(text) == seconds


@pytest.mark.parametrize("text", ["0", "forever", "-1h"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(CliError):
        ttl_seconds(text)
