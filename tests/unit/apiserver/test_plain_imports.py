"""Validation, defaulting, security and the loops are wired with plain imports: a
missing module stops the control plane at start, it never runs without them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane import errors
from controlplane.apiserver import objects as o
from proto import api_pb2

ROOT = Path(__file__).resolve().parents[3]


def import_without(missing: str, module: str) -> subprocess.CompletedProcess[str]:
    """Import `module` in a fresh interpreter in which `missing` cannot be imported."""
    code = f"import sys; sys.modules[{missing!r}] = None; import {module}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


@pytest.mark.parametrize("missing", ["controlplane.apiserver.validation",
                                     "controlplane.apiserver.defaults"])
def test_the_registry_cannot_load_without_validation_or_defaulting(missing: str) -> None:
    r = import_without(missing, "controlplane.apiserver.registry")
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    assert r.returncode != 0 and "Error" in last and missing in last, r.stderr


def test_the_control_plane_cannot_start_without_its_security_flags() -> None:
    r = import_without("controlplane.security.flags", "controlplane.__main__")
    assert r.returncode != 0 and "controlplane.security.flags" in r.stderr, r.stderr


def test_registry_objects_are_validated_and_defaulted() -> None:
    pod = api_pb2.Object()
    pod.pod.metadata.name = "web"
    pod.pod.spec.containers.add(name="c", image="nginx")
    o.apply_defaults(pod)
    assert pod.pod.spec.restart_policy == "Always"
    del pod.pod.spec.containers[:]
    with pytest.raises(errors.Invalid) as e:
        o.validate(pod)
    assert "spec.containers" in str(e.value)


def test_nothing_in_the_control_plane_loads_code_by_name() -> None:
    by_name = []
    for f in sorted((ROOT / "controlplane").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            loads = ((isinstance(node, ast.Attribute) and node.attr == "import_module")
                     or (isinstance(node, ast.Name) and node.id == "__import__"))
            if loads:
                by_name.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert by_name == []
