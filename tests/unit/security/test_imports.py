"""The import rules of the security pieces (docs/internals.md): outside in only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def imported(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def test_agent_security_imports_only_proto_common_grpc_cryptography_stdlib() -> None:
    allowed = {"proto", "common", "grpc", "cryptography", "google", "__future__", "agent"}
    bad = {m for f in (ROOT / "agent/security").glob("*.py") for m in imported(f)
           if m not in allowed and m not in sys.stdlib_module_names}
    assert not bad


def test_controlplane_security_does_not_import_agent_or_cli() -> None:
    for f in (ROOT / "controlplane/security").glob("*.py"):
        assert not imported(f) & {"agent", "corral"}, f


def test_cli_credentials_does_not_import_controlplane_or_agent() -> None:
    assert not imported(ROOT / "corral/credentials.py") & {"agent", "controlplane"}
