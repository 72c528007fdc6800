"""Bad manifests thrown at the API server by the thousand (through gRPC and
`corral apply -f -`): a clear error for each, and nothing changes."""

from __future__ import annotations

import copy
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proto import api_pb2, api_pb2_grpc, codec
from tests.faults.api.conftest import RESOURCES, channel, dep_doc, pod_doc
from tests.faults.conftest import corral_argv
from tests.support.controlplane import ControlPlaneProcess

# ---- 12. bad manifests at volume ------------------------------------------------------------

VALID = [pod_doc("valid-pod"), dep_doc("valid-dep")]

# (path to a struct, never a map such as labels) where an unknown field is an error
STRUCT_PATHS: list[tuple[Any, ...]] = [
    (), ("metadata",), ("spec",), ("spec", "containers", 0),
    ("spec", "template"), ("spec", "template", "spec"),
    ("spec", "template", "spec", "containers", 0), ("spec", "selector"),
]
# (path, bad value): wrong types, bad quantities, bad names, huge strings
BAD_VALUES: list[tuple[tuple[Any, ...], Any]] = [
    (("metadata", "name"), 12), (("metadata", "name"), ["a"]), (("metadata", "name"), "Bad_Name!"),
    (("metadata", "name"), "x" * 100_000), (("metadata", "name"), ""),
    (("metadata", "namespace"), "NOT-valid"), (("metadata", "labels"), "not-a-map"),
    (("metadata", "labels"), {"ok": "v" * 50_000}), (("metadata",), "string"),
    (("spec",), 5), (("spec",), []), (("apiVersion",), "v9"), (("kind",), "Poddy"),
    (("spec", "replicas"), "three"), (("spec", "replicas"), -1), (("spec", "replicas"), 1.5),
    (("spec", "replicas"), {"a": 1}), (("spec", "containers"), 5), (("spec", "containers"), []),
    (("spec", "containers", 0, "image"), ""), (("spec", "containers", 0, "name"), None),
    (("spec", "containers", 0, "resources"), {"limits": {"memory": "12X"}}),
    (("spec", "containers", 0, "resources"), {"limits": {"cpu": "-1"}}),
    (("spec", "template", "spec", "containers"), "nope"),
    (("spec", "template", "spec", "containers", 0, "resources"), {"requests": {"cpu": "lots"}}),
    (("spec", "template", "metadata", "labels"), {"app": "other"}),   # selector mismatch
    (("spec", "selector"), {"matchLabels": 7}),
    (("spec", "terminationGracePeriodSeconds"), "soon"),
    (("spec", "restartPolicy"), "Sometimes"),
]


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> bool:
    try:
        parent = _get(doc, path[:-1])
        if isinstance(parent, dict) or (isinstance(parent, list) and path[-1] < len(parent)):
            parent[path[-1]] = value
            return True
    except (KeyError, IndexError, TypeError):
        pass
    return False


def _nest(depth: int) -> Any:
    v: Any = "bottom"
    for i in range(depth):
        v = {"n": v} if i % 2 else [v]
    return v


@st.composite
def bad_manifest(draw: st.DrawFn) -> Any:
    base = copy.deepcopy(draw(st.sampled_from(VALID)))
    how = draw(st.sampled_from(["unknown", "value", "nest", "junk", "top"]))
    if how == "unknown":
        for _ in range(10):
            path = draw(st.sampled_from(STRUCT_PATHS))
            try:
                target = _get(base, path)
            except (KeyError, IndexError, TypeError):
                continue
            key = "zz" + draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20))
            target[key] = draw(st.one_of(st.integers(), st.text(max_size=50), st.none()))
            return base
        base["zzUnknown"] = 1
        return base
    if how == "value":
        for _ in range(10):
            path, value = draw(st.sampled_from(BAD_VALUES))
            if _set(base, path, copy.deepcopy(value)):
                return base
        base["spec"] = 5
        return base
    if how == "nest":
        depth = draw(st.integers(min_value=50, max_value=3000))
        where = draw(st.sampled_from([("spec",), ("metadata", "labels"), ("zzDeep",)]))
        _set(base, where, _nest(depth))
        return base
    if how == "top":
        return draw(st.one_of(st.none(), st.integers(), st.text(max_size=200),
                              st.lists(st.integers(), max_size=5)))
    # junk: random JSON-like trees with a real apiVersion/kind sometimes
    tree = draw(st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                  st.text(max_size=30)),
        lambda kids: st.one_of(st.lists(kids, max_size=4),
                               st.dictionaries(st.text(max_size=10), kids, max_size=4)),
        max_leaves=30))
    doc = {"apiVersion": base["apiVersion"], "kind": base["kind"], "spec": tree,
           "metadata": {"name": "junk"}}
    doc[draw(st.text(min_size=1, max_size=10).filter(
        lambda k: k not in ("apiVersion", "kind", "spec", "metadata")))] = tree
    return doc


def snapshot(stub: api_pb2_grpc.ApiStub) -> dict[str, Any]:
    """Every object the API has, and etcd's revision (any write moves it)."""
    out: dict[str, Any] = {}
    rev = ""
    for res in RESOURCES:
        resp = stub.List(api_pb2.ListRequest(resource=res), timeout=10)
        out[res] = sorted(i.SerializeToString(deterministic=True) for i in resp.items)
        rev = max(rev, resp.resource_version, key=lambda s: int(s or 0))
    out["revision"] = rev
    return out


def serving(cp: ControlPlaneProcess) -> bool:
    with channel(cp) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


ACCEPTED_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                  grpc.StatusCode.RESOURCE_EXHAUSTED}


def test_bad_manifests_get_clear_errors_and_change_nothing(cp: ControlPlaneProcess) -> None:
    with channel(cp) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        before = snapshot(stub)
        seen: dict[str, int] = {"decode": 0, "server": 0}

        @settings(max_examples=400, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(bad_manifest())
        def throw(doc: Any) -> None:
            try:
                o = codec.decode(doc)
            except codec.DecodeError as e:
                assert str(e).strip(), "a decode error without a message"
                seen["decode"] += 1
                return
            except RecursionError:
                pytest.fail("the codec hit the recursion limit on a deeply nested manifest "
                            "instead of a DecodeError")
            for call in (stub.Create, stub.Apply):
                req: Any = (api_pb2.CreateRequest(object=o) if call is stub.Create
                            else api_pb2.ApplyRequest(object=o))
                try:
                    call(req, timeout=30)
                except grpc.RpcError as e:
                    assert e.code() in ACCEPTED_CODES, f"{e.code()}: {e.details()} for {doc!r:.300}"
                    details = e.details() or ""
                    assert details and "internal error" not in details
                    seen["server"] += 1
                else:
                    pytest.fail(f"the server accepted a bad manifest: {doc!r:.500}")

        throw()
        assert seen["decode"] > 50 and seen["server"] > 20, seen
        # raw garbage on the wire: not even a protobuf message
        raw = ch.unary_unary("/corral.v1.Api/Create", request_serializer=lambda b: b,
                             response_deserializer=lambda b: b)
        for junk in (b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f", bytes(range(256)) * 10):
            with pytest.raises(grpc.RpcError):
                raw(junk, timeout=10)
        assert serving(cp)
        assert snapshot(stub) == before, "a bad manifest changed what the API stores"


# Deeply nested YAML once crashed `corral apply` with a RecursionError traceback.

BAD_TEXTS: list[Any] = [
    "apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n",
    "\x00\x01\x02 binary \xff",
    "[" * 5000 + "]" * 5000,
    "a: " + "{b: " * 3000 + "1" + "}" * 3000,
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: huge\n  labels:\n    k: " + "v" * 300_000,
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x, "
    "resources: {limits: {memory: 12X}}}]}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: many}\n",
    "--- !!python/object/apply:os.system ['true']\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, bogus: 1}\n",
]


@pytest.mark.parametrize("text", BAD_TEXTS, ids=[str(i) for i in range(len(BAD_TEXTS))])
def test_bad_yaml_through_the_cli(cp: ControlPlaneProcess, tmp_path: Any, text: str) -> None:
    import subprocess
    env = {"CORRAL_SERVER": cp.address, "CORRAL_CONFIG": str(tmp_path / "config"),
           "PATH": "/usr/bin:/bin"}
    with channel(cp) as ch:
        before = snapshot(api_pb2_grpc.ApiStub(ch))
    r = subprocess.run([*corral_argv(), "apply", "-f", "-"], input=text.encode(errors="replace"),
                       env=env, capture_output=True, timeout=120, check=False)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode != 0, out
    assert "Traceback" not in out, out[-3000:]
    assert "error" in out.lower(), out[-2000:]
    assert len(out) < 20_000, "the error repeats the whole manifest"
    assert serving(cp)
    with channel(cp) as ch:
        assert snapshot(api_pb2_grpc.ApiStub(ch)) == before
