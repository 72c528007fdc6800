"""The smaller verbs against a real control plane: get's flags (--chunk-size, --show-labels,
-L, --sort-by, --field-selector, all), label and annotate, taint, config hygiene."""

from __future__ import annotations

import json

import yaml

from corral.client import Client
from proto import core_pb2, kinds
from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns

POD = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{tier: {tier}}}\n"
       "spec:\n  containers:\n  - name: c\n    image: demo\n")


def make_pods(corral: Corral, ns: str, n: int) -> list[str]:
    names = [f"p{i}" for i in range(n)]
    docs = "---\n".join(POD.format(name=p, tier="a" if i % 2 else "b")
                        for i, p in enumerate(names))
    r = corral("apply", "-n", ns, "-f", "-", stdin=docs)
    assert r.code == 0, r.err
    return names


def test_get_in_chunks_and_with_kubectls_flags(corral: Corral) -> None:
    ns = unique_ns(corral)
    names = make_pods(corral, ns, 5)
    whole = corral("get", "pods", "-n", ns, "-o", "name", "--chunk-size", "0")
    chunked = corral("get", "pods", "-n", ns, "-o", "name", "--chunk-size", "2")
    assert whole.out == chunked.out == "".join(f"pod/{n}\n" for n in names)
    r = corral("get", "pods", "-n", ns, "--chunk-size", "-1")
    assert r.code == 1 and "--chunk-size must be 0 or more" in r.err

    r = corral("get", "pods", "-n", ns, "--show-labels", "-L", "tier", "--sort-by",
               "{.metadata.labels.tier}", "--no-headers")
    rows = [ln.split() for ln in r.out.splitlines()]
    assert [row[-2:] for row in rows] == [["a", "tier=a"]] * 2 + [["b", "tier=b"]] * 3
    r = corral("get", "pods", "-n", ns, "--field-selector", "metadata.name=p3", "-o", "name")
    assert r.out == "pod/p3\n"
    r = corral("get", "pods", "-n", ns, "-o", "wide", "p1")      # a name after options
    assert r.code == 0 and r.out.splitlines()[1].split()[0] == "p1"

    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    r = corral("get", "all", "-n", ns)
    assert r.code == 0, r.err
    heads = [b.splitlines()[1].split("/")[0] for b in r.out.strip().split("\n\n")]
    assert heads == ["pod", "deployment.apps", "replicaset.apps"]   # kubectl's order
    assert "deployment.apps/web" in r.out


def test_label_and_annotate(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    make_pods(corral, ns, 3)
    r = corral("label", "pods", "p0", "team=x", "-n", ns)
    assert (r.code, r.out) == (0, "pod/p0 labeled\n")
    r = corral("label", "pods", "p0", "team=y", "-n", ns)
    assert r.code == 1
    assert r.err == "error: 'team' already has a value (x), and --overwrite is false\n"
    assert client.get("pods", "p0", ns).pod.metadata.labels["team"] == "x"
    r = corral("label", "--overwrite", "pods", "p0", "team=y", "-n", ns)
    assert r.out == "pod/p0 labeled\n"
    r = corral("label", "pods", "-l", "tier=b", "owner=me", "-n", ns)     # intermixed
    assert sorted(r.out.splitlines()) == ["pod/p0 labeled", "pod/p2 labeled"]
    r = corral("label", "pods", "p0", "team-", "-n", ns)
    assert r.out == "pod/p0 unlabeled\n"
    r = corral("label", "pods", "p0", "team-", "-n", ns)
    assert (r.out, r.err) == ("pod/p0 not labeled\n", 'label "team" not found.\n')
    r = corral("label", "pods", "p0", "--list", "-n", ns)
    assert r.out == "owner=me\ntier=b\n"
    r = corral("annotate", "pods", "--all", "note=hello world", "-n", ns)
    assert r.out.count("annotated") == 3
    assert client.get("pods", "p1", ns).pod.metadata.annotations["note"] == "hello world"
    for argv, err in ((["pods", "p0", "bad key=1"], "Invalid value"),
                      (["pods", "nope", "a=b"], 'pods "nope" not found'),
                      (["widgets", "x", "a=b"], 'resource type "widgets"'),
                      (["pods", "a=b"], "no name was specified")):
        r = corral("label", *argv, "-n", ns)
        assert r.code == 1 and err in r.err, (argv, r.err)


def test_taint_nodes(corral: Corral, client: Client) -> None:
    node = core_pb2.Node()
    node.metadata.name = "taint-" + unique_ns(corral)
    node.metadata.labels["disk"] = "ssd"
    client.create(kinds.wrap(node))

    def taints() -> list[tuple[str, str, str]]:
        n = client.get("nodes", node.metadata.name).node
        return [(t.key, t.value, t.effect) for t in n.spec.taints]

    name = node.metadata.name
    r = corral("taint", "nodes", name, "dedicated=db:NoSchedule")
    assert (r.code, r.out) == (0, f"node/{name} tainted\n"), r.err
    r = corral("taint", "nodes", name, "dedicated=web:NoSchedule")
    assert r.code == 1 and "already has dedicated taint(s) with same effect(s) and " \
                           "--overwrite is false" in r.err
    r = corral("taint", "nodes", name, "dedicated=web:NoSchedule", "--overwrite")
    assert r.out == f"node/{name} modified\n"
    r = corral("taint", "nodes", "-l", "disk=ssd", "maint:NoExecute")
    assert r.out == f"node/{name} tainted\n"
    assert taints() == [("dedicated", "web", "NoSchedule"), ("maint", "", "NoExecute")]
    assert client.get("nodes", name).node.spec.taints[1].HasField("time_added")
    r = corral("taint", "nodes", name, "dedicated:NoSchedule-")
    assert r.out == f"node/{name} untainted\n"
    r = corral("taint", f"node/{name}", "maint-")
    assert r.out == f"node/{name} untainted\n" and taints() == []
    before = client.get("nodes", name).node.metadata.resource_version
    for argv, err in ((["nodes", name, "maint-"], 'taint "maint" not found'),
                      (["nodes", name, "a=b:Sometimes"], "invalid taint effect: Sometimes"),
                      (["nodes", name, "a=b"], "invalid taint spec: a=b"),
                      (["pods", "x", "a=b:NoSchedule"], "invalid resource type pods"),
                      (["nodes", "ghost", "a=b:NoSchedule"], 'nodes "ghost" not found')):
        r = corral("taint", *argv)
        assert r.code == 1 and err in r.err, (argv, r.err)
    assert client.get("nodes", name).node.metadata.resource_version == before


def test_config_view_keeps_the_key_out(corral: Corral) -> None:
    r = corral("config", "view")
    assert r.code == 0, r.err
    doc = yaml.safe_load(r.out)
    (ctx,) = doc["contexts"]
    assert "BEGIN" not in r.out                        # the admin.conf's inline key and certs
    assert (ctx["certificate-authority-data"], ctx["client-certificate-data"],
            ctx["client-key-data"]) == ("DATA+OMITTED", "DATA+OMITTED", "REDACTED")
    raw = corral("config", "view", "--raw", "-o", "json")
    key = json.loads(raw.out)["contexts"][0]["client-key-data"]
    assert key.startswith("-----BEGIN") and "PRIVATE KEY" in key
    r = corral("config", "set-context", "--current", "--namespace", "dev")
    assert r.out == f'Context "{ctx["name"]}" modified.\n'
    r = corral("config", "get-contexts")
    assert r.out.splitlines()[1].split() == ["*", ctx["name"], *_server(ctx), "dev"]
    assert corral("config", "get-contexts", "-o", "name").out == ctx["name"] + "\n"
    r = corral("config", "use-context", "nope")
    assert r.code == 1 and 'no context exists with the name: "nope"' in r.err
    r = corral("config", "set-context")
    assert r.code == 1 and "--current" in r.err


def _server(ctx: dict[str, str]) -> list[str]:
    return [ctx["server"]] if ctx.get("server") else []
