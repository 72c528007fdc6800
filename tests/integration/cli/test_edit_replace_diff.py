"""`corral edit` (with a scripted $EDITOR), `replace` and `diff` against a real control plane."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from corral.client import Client
from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns

# An editor that applies its n-th step to the file: a list of [old, new] regex
# replacements, {"run": a shell command to run first, "sub": replacements}, "empty" or
# "fail"; it keeps a copy of every file it was given.
EDITOR = """\
import json, os, re, subprocess, sys
path = sys.argv[1]
state = os.environ["EDIT_STATE"]
n = len([f for f in os.listdir(state) if f.startswith("seen-")])
text = open(path).read()
open(os.path.join(state, f"seen-{n}"), "w").write(text)
steps = json.load(open(os.path.join(state, "steps.json")))
step = steps[min(n, len(steps) - 1)]
if step == "fail":
    sys.exit(3)
if step == "empty":
    text = ""
else:
    if isinstance(step, dict):
        subprocess.run(step["run"], shell=True, check=True)
        step = step["sub"]
    for old, new in step:
        text = re.sub(old, new, text, flags=re.M)
open(path, "w").write(text)
"""


def edit(corral: Corral, tmp: Path, steps: list[object], *argv: str) -> tuple[
        int, str, str, list[str]]:
    """Run `corral edit` with the scripted editor; (code, out, err, files it saw)."""
    state = tmp / "editor"
    state.mkdir(exist_ok=True)
    for f in state.glob("seen-*"):
        f.unlink()
    (state / "steps.json").write_text(json.dumps(steps))
    (tmp / "editor.py").write_text(EDITOR)
    corral.env["EDITOR"] = f"{sys.executable} {tmp / 'editor.py'}"
    corral.env["EDIT_STATE"] = str(state)
    corral.env.pop("KUBE_EDITOR", None)
    r = corral("edit", *argv)
    seen = [(state / f"seen-{i}").read_text() for i in range(len(list(state.glob("seen-*"))))]
    return r.code, r.out, r.err, seen


def make_web(corral: Corral) -> str:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    return ns


def replicas(client: Client, ns: str) -> int:
    return client.get("deployments", "web", ns).deployment.spec.replicas


def test_edit_writes_the_change(corral: Corral, client: Client, tmp_path: Path) -> None:
    ns = make_web(corral)
    code, out, err, seen = edit(corral, tmp_path, [[[r"^  replicas: 3$", "  replicas: 5"]]],
                                "deploy/web", "-n", ns)
    assert (code, out) == (0, "deployment.apps/web edited\n"), err
    assert seen[0].startswith("# Please edit the object below.")
    assert "resourceVersion:" in seen[0]
    assert replicas(client, ns) == 5


def test_invalid_edit_reopens_with_the_error_on_top(corral: Corral, client: Client,
                                                    tmp_path: Path) -> None:
    ns = make_web(corral)
    steps = [[[r"^  replicas: 3$", "  replicas: -1"]], [[r"^  replicas: -1$", "  replicas: 2"]]]
    code, out, err, seen = edit(corral, tmp_path, steps, "deployment", "web", "-n", ns)
    assert (code, out) == (0, "deployment.apps/web edited\n"), err
    assert len(seen) == 2
    head = [ln for ln in seen[1].splitlines() if ln.startswith("#")]
    assert '# deployments.apps "web" was not valid:' in head
    assert any(ln.startswith("# * spec.replicas: Invalid value: -1") for ln in head), head
    assert "  replicas: -1" in seen[1]           # the user's text, not the original
    assert replicas(client, ns) == 2

    # a field the schema does not know reopens too
    code, out, err, seen = edit(corral, tmp_path, [
        [[r"^  replicas: 2$", "  replicas: 2\n  replicaz: 4"]],
        [[r"^  replicaz: 4\n", ""]]], "deploy/web", "-n", ns)
    assert code == 0 and len(seen) == 2, err
    assert 'unknown field "replicaz"' in seen[1]


def test_saving_the_same_invalid_text_gives_up_and_keeps_the_file(
        corral: Corral, client: Client, tmp_path: Path) -> None:
    ns = make_web(corral)
    before = client.get("deployments", "web", ns).deployment.metadata.resource_version
    code, _, err, seen = edit(corral, tmp_path, [[[r"^  replicas: 3$", "  replicas: -1"]],
                                                   []], "deploy/web", "-n", ns)
    assert code == 1 and len(seen) == 2
    assert "error: Edit cancelled, no valid changes were saved." in err
    kept = re.search(r'A copy of your changes has been stored to "([^"]+)"', err)
    assert kept, err
    try:
        assert "  replicas: -1" in Path(kept.group(1)).read_text()
    finally:
        Path(kept.group(1)).unlink()
    assert client.get("deployments", "web", ns).deployment.metadata.resource_version == before


def test_edit_is_compare_and_swap(corral: Corral, client: Client, tmp_path: Path) -> None:
    """Someone scales the deployment while the editor is open: the edit is not written
    over it, and the user's text is kept."""
    ns = make_web(corral)
    scale = (f"{sys.executable} -m corral.cli.main --server {corral.address} -n {ns} "
             "scale deploy/web --replicas 8")
    code, out, err, _ = edit(corral, tmp_path, [
        {"run": scale, "sub": [[r"^  replicas: 3$", "  replicas: 9"]]}], "deploy/web", "-n", ns)
    assert code == 1, out + err
    assert 'deployments.apps "web" could not be updated' in err
    assert "the object has been modified" in err
    kept = re.search(r'A copy of your changes has been stored to "([^"]+)"', err)
    assert kept, err
    try:
        assert "  replicas: 9" in Path(kept.group(1)).read_text()
    finally:
        Path(kept.group(1)).unlink()
    assert replicas(client, ns) == 8          # the other writer's change stands


def test_edit_cancelled_or_failed_changes_nothing(corral: Corral, client: Client,
                                                  tmp_path: Path) -> None:
    ns = make_web(corral)
    rv = client.get("deployments", "web", ns).deployment.metadata.resource_version
    code, out, _, _ = edit(corral, tmp_path, ["empty"], "deploy/web", "-n", ns)
    assert (code, out) == (0, "Edit cancelled, no changes made.\n")
    code, out, err, _ = edit(corral, tmp_path, ["fail"], "deploy/web", "-n", ns)
    assert code == 1 and "there was a problem with the editor" in err
    kept = re.search(r'A copy of your changes has been stored to "([^"]+)"', err)
    assert kept, err                      # kept for the user, as kubectl does; ours to remove
    Path(kept.group(1)).unlink()
    code, out, err, _ = edit(corral, tmp_path, [[]], "deploy/nope", "-n", ns)
    assert (code, err) == (1, 'Error from server (NotFound): deployments.apps "nope" not '
                              "found\n")
    code, out, err, _ = edit(corral, tmp_path, [[]], "widgets/x", "-n", ns)
    assert code == 1 and 'the server doesn\'t have a resource type "widgets"' in err
    assert client.get("deployments", "web", ns).deployment.metadata.resource_version == rv


def test_replace_and_replace_force(corral: Corral, client: Client, tmp_path: Path) -> None:
    ns = make_web(corral)
    doc = yaml.safe_load(corral("get", "deploy", "web", "-n", ns, "-o", "yaml").out)
    doc["spec"]["replicas"] = 1
    f = tmp_path / "web.yaml"
    f.write_text(yaml.safe_dump(doc))
    r = corral("replace", "-f", str(f))
    assert (r.code, r.out) == (0, "deployment.apps/web replaced\n"), r.err
    assert replicas(client, ns) == 1
    r = corral("replace", "-f", str(f))            # stale resourceVersion: refused
    assert r.code == 1 and "Error from server (Conflict)" in r.err
    doc["metadata"]["name"] = "nope"
    f.write_text(yaml.safe_dump(doc))
    r = corral("replace", "-f", str(f))
    assert r.code == 1
    assert r.err == (f'Error from server (NotFound): error when replacing "{f}": '
                     'deployments.apps "nope" not found\n')

    pod = tmp_path / "pod.yaml"
    pod.write_text((MANIFESTS / "pod.yaml").read_text())
    r = corral("apply", "-n", ns, "-f", str(pod))
    assert r.code == 0, r.err
    name = yaml.safe_load(pod.read_text())["metadata"]["name"]
    uid = client.get("pods", name, ns).pod.metadata.uid
    changed = yaml.safe_load(pod.read_text())
    changed["spec"]["containers"][0]["command"] = ["sleep", "1000"]
    pod.write_text(yaml.safe_dump(changed))
    r = corral("replace", "-n", ns, "-f", str(pod))       # a pod's command cannot change
    assert r.code == 1 and "Error from server (Invalid)" in r.err
    assert client.get("pods", name, ns).pod.metadata.uid == uid
    r = corral("replace", "--force", "-n", ns, "-f", str(pod), "--grace-period", "0")
    assert r.code == 0, r.err
    assert r.out == f'pod "{name}" deleted\npod/{name} replaced\n'
    new = client.get("pods", name, ns).pod
    assert new.metadata.uid != uid and list(new.spec.containers[0].command) == ["sleep", "1000"]


def test_diff_shows_what_apply_would_change(corral: Corral, client: Client,
                                            tmp_path: Path) -> None:
    ns = make_web(corral)
    f = tmp_path / "web.yaml"
    f.write_text((MANIFESTS / "web-deployment.yaml").read_text())
    r = corral("diff", "-n", ns, "-f", str(f))
    assert (r.code, r.out) == (0, ""), r.err
    f.write_text(f.read_text().replace("replicas: 3", "replicas: 5"))
    rv = client.get("deployments", "web", ns).deployment.metadata.resource_version
    r = corral("diff", "-n", ns, "-f", str(f))
    assert r.code == 1, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("diff -u -N ") and lines[0].endswith(
        f"LIVE/apps.v1.Deployment.{ns}.web " + lines[0].split()[-1])
    assert lines[1].startswith("--- ") and lines[2].startswith("+++ ")
    assert "-  replicas: 3" in lines and "+  replicas: 5" in lines
    assert client.get("deployments", "web", ns).deployment.metadata.resource_version == rv

    new = tmp_path / "new.yaml"
    new.write_text(corral("create", "deploy", "api", "--image=demo", "--dry-run=client",
                          "-o", "yaml").out)
    r = corral("diff", "-n", ns, "-f", str(new))
    assert r.code == 1
    assert "+  name: api" in r.out and not any(
        ln.startswith("-") and not ln.startswith("---") for ln in r.out.splitlines())
    assert [o.deployment.metadata.name for o in client.list("deployments", ns).items] == ["web"]

    new.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {rep: 1}\n")
    r = corral("diff", "-n", ns, "-f", str(new))
    assert r.code == 2 and 'unknown field "rep"' in r.err
