"""ImageService.on_pull reports the layer bytes it downloaded and how long the pull
took — the hook agent/metrics.py turns into corral_agent_image_pull_*."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.images import ImageService
from agent.metrics import AgentMetrics
from tests.unit.images.helpers import Entry, config_for, gz, make_tar, sha

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class FakeRegistry:
    """One image, one layer, served from memory (the RegistryClient calls ImageService
    makes)."""

    def __init__(self) -> None:
        tar = make_tar([Entry("hello.txt", data=b"hi\n")])
        self.layer = gz(tar)
        self.config = config_for([sha(tar)])
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(self.config), "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha(self.layer), "size": len(self.layer)}],
        }).encode()
        self.blobs = {sha(self.config): self.config, sha(self.layer): self.layer}

    def get_manifest(self, ref: Any, digest: str | None = None,
                     size: int | None = None) -> tuple[bytes, str, str]:
        return self.manifest, MANIFEST, sha(self.manifest)

    def fetch_blob(self, ref: Any, desc: Any, store: Any, on_bytes: Any = None) -> None:
        data = self.blobs[desc.digest]
        store.write_blob(io.BytesIO(data), desc.digest, desc.size, "blob", on_bytes)


def test_pull_reports_bytes_and_duration(tmp_path: Path) -> None:
    reg = FakeRegistry()
    svc = ImageService(str(tmp_path), client=reg)  # type: ignore[arg-type]
    m = AgentMetrics("n1")
    svc.on_pull = m.image_pulled
    svc.pull("example.com/hello:1")
    svc.pull("example.com/hello:1")       # layer already there: nothing downloaded
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for fam in text_string_to_metric_families(generate_latest(m.registry).decode())
           for s in fam.samples}
    assert got[("corral_agent_image_pull_bytes_total", (("node", "n1"),))] == len(reg.layer)
    count = ("corral_agent_image_pull_duration_seconds_count",
             (("node", "n1"), ("result", "ok")))
    assert got[count] == 2
