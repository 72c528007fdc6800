"""Every example manifest decodes, defaults and validates, and round-trips."""

from pathlib import Path

import pytest
import yaml

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.validation import validate
from proto import codec

ROOT = Path(__file__).resolve().parents[3] / "manifests"
FILES = sorted(p for p in ROOT.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


def test_manifests_exist():
    names = {p.name for p in FILES}
    assert {"web-deployment.yaml", "pod.yaml", "namespace.yaml", "replicaset.yaml"} <= names


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_manifest_is_valid(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs
    for doc in docs:
        obj = codec.decode(doc)
        assert codec.decode(codec.encode(obj)) == obj
        apply_defaults(obj)
        assert validate(obj) == [], f"{path}: {[str(e) for e in validate(obj)]}"
        assert codec.decode(codec.encode(obj)) == obj


def test_web_deployment_image_line():
    text = (ROOT / "web-deployment.yaml").read_text()
    assert sum(1 for line in text.splitlines() if line.strip().startswith("image:")) == 1
