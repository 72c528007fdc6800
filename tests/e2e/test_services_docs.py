"""The Kubernetes docs' "Connecting Applications with Services" on a local 3-node
cluster, its Deployment and Service applied unchanged but for the image
(tests/e2e/k8sdocs/run-my-nginx.yaml, nginx-svc.yaml): a pod on a node without
a replica reaches both replicas by the Service's name, the name resolves to the
cluster IP through the search path, the pod sees the Service's environment
variables, `corral expose deployment/my-nginx` makes the docs' Service, and the
unmodified kubectl's port-forward and pods/proxy reach the replicas."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.servicekit import KUBECTL, Kubectl, apply, fetch, http_get, pod, svc

DOCS = Path(__file__).resolve().parent / "k8sdocs"

# nginx's part: serve port 80 (each replica's page is its hostname, to tell them apart)
DOCKERFILE = ('FROM demo:latest\n'
              'CMD ["sh", "-c", "echo $HOSTNAME > /www/index.html && '
              'exec httpd -f -p 80 -h /www"]\n')


def test_docs_deployment_and_service_by_name_from_another_node(
        cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    ctx = tmp_path / "image"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    c.corral("build", "-t", "docs-nginx:1", str(ctx), timeout=300)     # on every node
    c.corral("apply", "-f", str(DOCS / "run-my-nginx.yaml"))
    c.corral("apply", "-f", str(DOCS / "nginx-svc.yaml"))
    replicas = wait_for(lambda: c.running("run=my-nginx", 2), 120, "the two my-nginx replicas")
    names = {p["metadata"]["name"] for p in replicas}
    used = {p["spec"]["nodeName"] for p in replicas}
    nodes = [n["metadata"]["name"] for n in c.json("get", "nodes")["items"]]
    other = next((n for n in nodes if n not in used),
                 next(n for n in nodes if n != replicas[0]["spec"]["nodeName"]))
    apply(c, tmp_path, pod("docs-client", other, {"role": "docs-client"}, "exec sleep 100000"))
    wait_for(lambda: c.running("role=docs-client", 1), 90, "the client pod")

    ip = svc(c, "my-nginx")["clusterIP"]
    eps = c.json("get", "endpoints", "my-nginx")["subsets"][0]
    assert {a["ip"] for a in eps["addresses"]} == {p["status"]["podIP"] for p in replicas}
    assert [p["port"] for p in eps["ports"]] == [80]        # targetPort defaults to port
    # by name (the search path finds my-nginx.default.svc.cluster.local), both replicas
    seen: set[str] = set()
    assert wait_for(lambda: seen.update({fetch(c, "docs-client", "http://my-nginx/")}) or
                    names <= seen or None, 60, f"both replicas by name from {other}"), seen
    # busybox's nslookup asks every search domain and exits 1 for the ones that fail
    out = c.corral("exec", "docs-client", "--", "nslookup", "my-nginx", check=False)
    assert f"Name:\tmy-nginx.default.svc.cluster.local\nAddress: {ip}\n" in out, out
    env = c.corral("exec", "docs-client", "--", "printenv", "MY_NGINX_SERVICE_HOST",
                   "MY_NGINX_SERVICE_PORT")
    assert env.split() == [ip, "80"], env

    # the docs: `kubectl expose deployment/my-nginx` is the same as nginx-svc.yaml
    out = c.corral("expose", "deployment/my-nginx", "--name", "my-nginx-exposed")
    assert "service/my-nginx-exposed exposed" in out, out
    spec = svc(c, "my-nginx-exposed")
    assert spec["selector"] == {"run": "my-nginx"}
    assert [(p["port"], p["protocol"], p["targetPort"]) for p in spec["ports"]] == \
        [(80, "TCP", 80)]
    # the unmodified kubectl: port-forward to the Service (pods/portforward through the
    # pod's agent) and get --raw through pods/proxy
    k = Kubectl(c, tmp_path)
    proc = subprocess.Popen([KUBECTL, "port-forward", "svc/my-nginx", ":80"], env=k.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()          # Forwarding from 127.0.0.1:PORT -> 80
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 80$", line.strip())
        assert m, line + (proc.stdout.read() if proc.poll() is not None else "")
        assert http_get(f"http://127.0.0.1:{m.group(1)}/") in names
    finally:
        proc.terminate()
        proc.wait(10)
    one = sorted(names)[0]
    assert k("get", "--raw", f"/api/v1/namespaces/default/pods/{one}:80/proxy/").strip() == one

    c.corral("delete", "svc", "my-nginx-exposed", "my-nginx")
    c.corral("delete", "-f", str(DOCS / "run-my-nginx.yaml"))
    c.corral("delete", "pod", "docs-client")
