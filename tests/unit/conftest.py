"""Unit tests never read the machine's own client config: every test gets an
empty one (a `corral cluster up` on this machine must not change a result)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_client_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CORRAL_CONFIG", str(tmp_path / "corral-config"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("CORRAL_SERVER", raising=False)
