"""Services and cluster DNS on a local 3-node cluster, through the real CLI: a pod on
node-1 reaches pods on node-2 and node-3 by cluster IP and by name, the host reaches a
node port on every node, UDP, hairpin, readiness, a deleted Service's rules and name,
an agent killed with -9, and a rolling update under load."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.servicekit import (
    SERVE,
    Kubectl,
    Load,
    apply,
    fetch,
    http_get,
    node_of,
    pod,
    service,
    svc,
)

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def backends(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    tmp = tmp_path_factory.mktemp("svc")
    apply(cluster, tmp,
          pod("web-b", "node-2", {"app": "web", "who": "web-b"}, SERVE),
          pod("web-c", "node-3", {"app": "web"}, SERVE),
          pod("client", "node-1", {"role": "client"}, "exec sleep 100000"),
          service("web", {"app": "web"}, type_="NodePort"),
          service("self-b", {"who": "web-b"}))
    try:
        wait_for(lambda: cluster.running("app=web", 2) and cluster.running("role=client", 1),
                 90, "backends and client Running")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{cluster.corral('describe', 'pods', check=False)}") from None
    return cluster


def test_cluster_ip_and_name_from_another_node(backends: Cluster) -> None:
    c = backends
    ip = svc(c, "web")["clusterIP"]
    seen = wait_for(lambda: {fetch(c, "client", f"http://{ip}/") for _ in range(8)} >=
                    {"web-b", "web-c"} or None, 30, "both backends through the cluster IP")
    assert seen
    # the name resolves at the node's DNS, to the cluster IP
    out = c.corral("exec", "client", "--", "nslookup", "web.default.svc.cluster.local",
                   "10.96.0.10")
    assert ip in out, out
    # hairpin: a pod reaching itself through a Service that selects only it
    self_ip = svc(c, "self-b")["clusterIP"]
    assert wait_for(lambda: fetch(c, "web-b", f"http://{self_ip}/") == "web-b", 20,
                    "web-b through its own Service")


def test_node_port_on_every_node_from_the_host(backends: Cluster) -> None:
    c = backends
    node_port = svc(c, "web")["ports"][0]["nodePort"]
    for node in c.record()["nodes"]:
        url = f"http://{node['ip']}:{node_port}/"
        assert wait_for(lambda u=url: http_get(u) in ("web-b", "web-c"), 20,
                        f"node port on {node['name']}")


@pytest.fixture(scope="module")
def udpecho(backends: Cluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the UDP echo image")
    from agent.images import __main__ as images
    root = tmp_path_factory.mktemp("udproot")
    images.build_busybox(str(root))
    subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "bin" / "udpecho"),
                    str(HERE / "udpecho.c")], check=True)
    backends.corral("image", "import", str(root), "udpecho:e2e", timeout=300)
    return "udpecho:e2e"


def test_udp_service(backends: Cluster, udpecho: str,
                                     tmp_path: Path) -> None:
    c = backends
    apply(c, tmp_path,
          pod("udp-b", "node-2", {"app": "udp"}, "exec udpecho -l 9000", image=udpecho),
          pod("udp-client", "node-1", {"role": "udp"}, "exec sleep 100000", image=udpecho),
          service("udp", {"app": "udp"}, port=53, target="9000", protocol="UDP"))
    wait_for(lambda: c.running("app=udp", 1) and c.running("role=udp", 1), 90, "udp pods")
    ip = svc(c, "udp")["clusterIP"]
    assert wait_for(lambda: "udp-b" in c.corral("exec", "udp-client", "--", "udpecho", ip,
                                                "53", check=False), 30, "a UDP answer")


def test_readiness_moves_endpoints_and_traffic(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    apply(c, tmp_path,
          pod("ready-a", "node-2", {"app": "rd"}, "touch /tmp/ready && " + SERVE,
              readiness="test -f /tmp/ready"),
          pod("ready-b", "node-3", {"app": "rd"}, SERVE),
          service("rd", {"app": "rd"}))
    wait_for(lambda: c.running("app=rd", 2), 90, "rd pods")
    ip = svc(c, "rd")["clusterIP"]

    def ready_ips() -> set[str]:
        ep = c.json("get", "endpoints", "rd")
        return {a["ip"] for s in ep.get("subsets", []) for a in s.get("addresses", [])}

    wait_for(lambda: len(ready_ips()) == 2, 30, "2 ready endpoints")
    c.corral("exec", "ready-a", "--", "rm", "/tmp/ready")
    wait_for(lambda: len(ready_ips()) == 1, 30, "ready-a out of the endpoints")
    assert {fetch(c, "client", f"http://{ip}/") for _ in range(6)} == {"ready-b"}
    c.corral("exec", "ready-a", "--", "touch", "/tmp/ready")
    wait_for(lambda: len(ready_ips()) == 2, 30, "ready-a back")
    assert wait_for(lambda: "ready-a" in {fetch(c, "client", f"http://{ip}/")
                                          for _ in range(6)}, 30, "traffic to ready-a again")


def test_deleted_service_loses_rules_and_name(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    apply(c, tmp_path, service("gone", {"app": "web"}))
    ip = svc(c, "gone")["clusterIP"]
    ns = node_of(c, "node-1")["netns"]

    def rules() -> str:
        return subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "map", "ip",
                               "corral-proxy", "service-ips"],
                              capture_output=True, text=True).stdout

    wait_for(lambda: ip in rules(), 20, "the Service's rules")
    assert wait_for(lambda: ip in c.corral("exec", "client", "--", "nslookup",
                                           "gone.default.svc.cluster.local", "10.96.0.10",
                                           check=False), 20, "the name")
    c.corral("delete", "svc", "gone")
    wait_for(lambda: ip not in rules(), 20, "the rules gone")
    assert wait_for(lambda: "NXDOMAIN" in c.corral(
        "exec", "client", "--", "nslookup", "gone.default.svc.cluster.local", "10.96.0.10",
        check=False), 20, "the name gone")


# ---- what pods get from Services: names, environment, resolv.conf; the drain --------------

def test_by_name_env_and_resolv_conf(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    # the short name, through the pod's search path, at the node's DNS
    assert wait_for(lambda: fetch(c, "client", "http://web/").startswith("web-"), 30,
                    "http://web/ from the client")
    assert fetch(c, "client", "http://web.default.svc.cluster.local/").startswith("web-")
    conf = c.corral("exec", "client", "--", "cat", "/etc/resolv.conf")
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in conf
    assert "nameserver 10.96.0.10" in conf and "options ndots:5" in conf
    # the Kubernetes docs' commands.yaml, image changed: printenv finds KUBERNETES_PORT
    (tmp_path / "commands.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: command-demo\n  labels:\n"
        "    purpose: demonstrate-command\nspec:\n  containers:\n"
        "  - name: command-demo-container\n    image: demo:latest\n"
        "    command: [\"printenv\"]\n    args: [\"HOSTNAME\", \"KUBERNETES_PORT\"]\n"
        "  restartPolicy: OnFailure\n")
    c.corral("apply", "-f", str(tmp_path / "commands.yaml"))
    wait_for(lambda: c.json("get", "pod", "command-demo")["status"].get("phase")
             == "Succeeded", 60, "command-demo Succeeded")
    out = c.corral("logs", "command-demo")
    assert out.splitlines() == ["command-demo", "tcp://10.96.0.1:443"], out
    # dnsPolicy None with dnsConfig, and hostAliases
    doc = pod("dnsnone", "node-2", {"role": "dns"}, "exec sleep 100000") + (
        "  dnsPolicy: None\n  dnsConfig:\n    nameservers: [192.0.2.53]\n"
        "    searches: [corp.example]\n    options: [{name: ndots, value: \"2\"}]\n"
        "  hostAliases:\n  - {ip: 10.1.2.3, hostnames: [foo.local]}\n")
    apply(c, tmp_path, doc)
    wait_for(lambda: c.running("role=dns", 1), 60, "dnsnone Running")
    conf = c.corral("exec", "dnsnone", "--", "cat", "/etc/resolv.conf")
    assert conf.split("\n")[:3] == ["search corp.example", "nameserver 192.0.2.53",
                                    "options ndots:2"], conf
    hosts = c.corral("exec", "dnsnone", "--", "cat", "/etc/hosts")
    assert "10.1.2.3\tfoo.local" in hosts and "\tdnsnone" in hosts, hosts


def nslookup(c: Cluster, *args: str) -> str:
    return c.corral("exec", "client", "--", "nslookup", *args, "10.96.0.10", check=False)


def test_headless_pod_names_srv_and_external_name(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    apply(c, tmp_path,
          service("db", {"app": "db"}, port=5432, target="8080", port_name="pg",
                  cluster_ip="None"),
          pod("db-0", "node-2", {"app": "db"}, SERVE,
              extra="  hostname: db-0\n  subdomain: db\n"),
          "apiVersion: v1\nkind: Service\nmetadata: {name: search}\n"
          "spec: {type: ExternalName, externalName: search.example.com}\n")
    wait_for(lambda: c.running("app=db", 1), 60, "db-0 Running")
    ip = c.json("get", "pod", "db-0")["status"]["podIP"]
    # a headless Service answers its ready pods' IPs; the pod has a name of its own
    assert wait_for(lambda: ip in nslookup(c, "db.default.svc.cluster.local"), 30,
                    "db's A record")
    assert ip in nslookup(c, "db-0.db.default.svc.cluster.local")
    srv = nslookup(c, "-type=srv", "_pg._tcp.db.default.svc.cluster.local")
    assert "8080 db-0.db.default.svc.cluster.local" in srv, srv
    cname = nslookup(c, "-type=cname", "search.default.svc.cluster.local")
    assert "canonical name = search.example.com" in cname, cname
    hosts = c.corral("exec", "db-0", "--", "cat", "/etc/hosts")
    assert f"{ip}\tdb-0.db.default.svc.cluster.local\tdb-0" in hosts, hosts


def test_kubernetes_service_reaches_the_api_server(backends: Cluster) -> None:
    c = backends
    ep = c.json("get", "endpoints", "kubernetes")["subsets"][0]
    assert ep["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    assert [a["ip"] for a in ep["addresses"]] == [c.record()["gateway"]]
    assert "10.96.0.1" in nslookup(c, "kubernetes.default.svc.cluster.local")
    # a pod's TCP connection through the Service; a node's HTTPS request to the API
    out = c.corral("exec", "client", "--", "sh", "-c", "nc -w 3 10.96.0.1 443 -e true && "
                   "echo connected", check=False)
    assert "connected" in out, out
    # the certificate names the Service's IP, as kube-apiserver's does
    ca = c.dir / c.name / "controlplane" / "pki" / "ca.crt"
    code = ("import ssl, sys, urllib.request as u; print(u.urlopen('https://10.96.0.1/version',"
            " context=ssl.create_default_context(cafile=sys.argv[1]), timeout=5).read()"
            ".decode())")
    r = subprocess.run(["ip", "netns", "exec", node_of(c, "node-2")["netns"], sys.executable,
                        "-c", code, str(ca)], capture_output=True, text=True, timeout=30)
    assert '"major":"1"' in r.stdout.replace(" ", ""), r.stdout + r.stderr


def test_port_forward_to_a_service_and_a_pod(backends: Cluster) -> None:
    """`corral port-forward svc/web :80` forwards a free local port to a pod of the
    Service (its targetPort, by name), through the API server to the pod's agent."""
    c = backends
    for target, port, who in (("svc/self-b", ":80", {"web-b"}),
                              ("pod/web-c", "0:8080", {"web-c"})):
        proc = subprocess.Popen([sys.executable, "-m", "corral.cli.main", "port-forward",
                                 target, port], env=c.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()      # Forwarding from 127.0.0.1:PORT -> 8080
            m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080$", line.strip())
            assert m, line + (proc.stdout.read() if proc.poll() is not None else "")
            url = f"http://127.0.0.1:{m.group(1)}/"
            assert {http_get(url) for _ in range(3)} == who     # a connection each
        finally:
            proc.terminate()
            proc.wait(10)


def test_kubectl_expose_get_describe_and_apply(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    k = Kubectl(c, tmp_path)
    assert "service/web-b-svc exposed" in k("expose", "pod", "web-b", "--name", "web-b-svc",
                                            "--port", "80", "--target-port", "8080")
    rows = [ln.split() for ln in k("get", "svc", "web-b-svc").splitlines()]
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    ip = svc(c, "web-b-svc")["clusterIP"]
    assert rows[1][:5] == ["web-b-svc", "ClusterIP", ip, "<none>", "80/TCP"], rows
    b_ip = c.json("get", "pod", "web-b")["status"]["podIP"]
    assert wait_for(lambda: f"{b_ip}:8080" in k("get", "endpoints", "web-b-svc"), 30,
                    "the endpoints of web-b-svc")
    assert b_ip in k("get", "endpointslices", "-l", "kubernetes.io/service-name=web-b-svc")
    described = k("describe", "svc", "web-b-svc")
    assert re.search(rf"Endpoints:\s+{re.escape(b_ip)}:8080\n", described), described
    assert wait_for(lambda: fetch(c, "client", "http://web-b-svc/") == "web-b", 30,
                    "web-b through the exposed Service")
    # kubectl apply, then a change of its ports, then server-side apply (no warning)
    f = tmp_path / "svc.yaml"
    f.write_text(service("kapply", {"app": "web"}, port_name="http"))
    k("apply", "-f", str(f))
    f.write_text(service("kapply", {"app": "web"}, port_name="http", target="8080"))
    k("apply", "-f", str(f))
    out = k("apply", "--server-side", "-f", str(f))
    assert "serverside-applied" in out and "Warning" not in out, out
    got = k.json("get", "svc", "kapply")
    assert [(p["port"], p["targetPort"]) for p in got["spec"]["ports"]] == [(80, 8080)]
    assert got["status"] == {"loadBalancer": {}}


# At SIGTERM the server stops listening (its accepting process ends) and lets the
# requests it already accepted finish, as servers that shut down gracefully do: a new
# connection after the signal is refused, so one the drain let through still fails.
SERVE_TERM = ("echo $HOSTNAME > /www/index.html; "
              "trap 'kill $!; sleep 1; exit 0' TERM; httpd -f -p 8080 -h /www & wait")


def test_rolling_update_under_load_loses_no_request(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    deploy = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: roll}\nspec:\n"
        "  replicas: 3\n  selector: {matchLabels: {app: roll}}\n"
        "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n"
        "  template:\n    metadata: {labels: {app: roll}}\n    spec:\n"
        "      terminationGracePeriodSeconds: 5\n      containers:\n"
        "      - name: web\n        image: demo:latest\n        imagePullPolicy: IfNotPresent\n"
        f"        command: [sh, -c, {SERVE_TERM!r}]\n"
        "        ports: [{name: http, containerPort: 8080}]\n"
        "        readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1}\n")
    apply(c, tmp_path, deploy, service("roll", {"app": "roll"}, type_="NodePort"))
    c.corral("rollout", "status", "deploy/roll", "--timeout", "120s", timeout=150)
    port = svc(c, "roll")["ports"][0]["nodePort"]
    with Load([f"http://{n['ip']}:{port}/" for n in c.record()["nodes"]]) as load:
        wait_for(lambda: load.ok > 20, 30, "requests flowing")
        c.corral("set", "image", "deploy/roll", "web=demo:v2")
        c.corral("rollout", "status", "deploy/roll", "--timeout", "120s", timeout=150)
    print(f"rolling update under load: {load.summary()}")
    assert load.failed == 0, load.summary()


# last: the node's pods (the client) are evicted while its agent is down
def test_agent_killed_keeps_serving_and_resyncs(backends: Cluster, tmp_path: Path) -> None:
    c = backends
    node_port = svc(c, "web")["ports"][0]["nodePort"]
    url = f"http://{node_of(c, 'node-1')['ip']}:{node_port}/"
    with Load([url], clients=2) as load:
        wait_for(lambda: load.ok > 10, 30, "requests flowing through node-1")
        c.corral("chaos", "kill-agent", "node-1", "--no-restart")       # SIGKILL
        try:
            # node-1's agent is down: its rules keep serving
            before = load.ok
            wait_for(lambda: load.ok > before + 10, 30, "requests while the agent is down")
            # a change made while it is away is in node-1's rules once it is back
            apply(c, tmp_path, pod("web-d", "node-3", {"app": "web"}, SERVE))
            wait_for(lambda: c.running("app=web", 3), 60, "web-d Running")
        finally:
            c.corral("chaos", "restart-agent", "node-1")
        assert wait_for(lambda: "web-d" in {http_get(url) for _ in range(8)}, 60,
                        "web-d served through node-1 after the agent's restart")
    print(f"agent killed and restarted under load: {load.summary()}")
    assert load.failed == 0, load.summary()
