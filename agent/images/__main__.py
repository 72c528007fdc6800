"""`python -m agent.images`: the image store by hand, without an agent.

    python -m agent.images --data-dir DIR import-rootfs ROOTFS NAME:TAG [--cmd 'httpd -f']
    python -m agent.images --data-dir DIR push NAME:TAG [--to REGISTRY/NAME:TAG] [--insecure H]
    python -m agent.images --data-dir DIR ls
    python -m agent.images build-busybox ROOTFS     # a busybox-static rootfs, offline

The local-cluster tool uses it to build the demo image from busybox-static
and push it to the cluster's registry.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys

from agent.images import ImageService
from agent.images.errors import ImageError
from agent.images.imageconfig import ContainerDefaults

BUSYBOX = "/bin/busybox"

INDEX_HTML = """<!doctype html>
<title>corral demo</title>
<h1>Hello from corral</h1>
<p>Served by busybox httpd in a corral pod.</p>
"""


# coreutils' printenv, which Debian's busybox-static lacks (the Kubernetes docs' examples
# run it): the values of the named variables, exit 1 if one is unset; no name: env
PRINTENV = """#!/bin/sh
[ $# -eq 0 ] && exec env
rc=0
for n in "$@"; do
  eval "set=\\${$n+x}"
  if [ -n "$set" ]; then eval "printf '%s\\n' \\"\\$$n\\""; else rc=1; fi
done
exit $rc
"""


def build_busybox(root: str) -> None:
    """A minimal rootfs: busybox-static with its applets (and a printenv), /etc/passwd,
    a web root."""
    if not os.access(BUSYBOX, os.X_OK):
        raise SystemExit(f"{BUSYBOX} not found: apt-get install busybox-static")
    for d in ("bin", "etc", "tmp", "www", "proc", "sys", "dev", "root"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        link = os.path.join(root, "bin", a)
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    printenv = os.path.join(root, "bin", "printenv")
    if not os.path.lexists(printenv):
        with open(printenv, "w") as f:
            f.write(PRINTENV)
        os.chmod(printenv, 0o755)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnobody:x:65534:\n")
    with open(os.path.join(root, "www", "index.html"), "w") as f:
        f.write(INDEX_HTML)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent.images")
    p.add_argument("--data-dir", default="", help="the image store's directory")
    p.add_argument("--insecure", action="append", default=[], metavar="HOST:PORT",
                   help="a registry spoken to over plain HTTP")
    sub = p.add_subparsers(dest="verb", required=True)
    b = sub.add_parser("build-busybox")
    b.add_argument("rootfs")
    i = sub.add_parser("import-rootfs")
    i.add_argument("rootfs")
    i.add_argument("ref")
    i.add_argument("--cmd", default="sh", help='the image\'s Cmd, shell-quoted: "httpd -f"')
    i.add_argument("--workdir", default="")
    u = sub.add_parser("push")
    u.add_argument("ref")
    u.add_argument("--to", default=None)
    sub.add_parser("ls")
    a = p.parse_args(argv)
    if a.verb == "build-busybox":
        build_busybox(a.rootfs)
        return 0
    if not a.data_dir:
        p.error("--data-dir is required")
    cfg = {"registries": {h: {"insecure": True} for h in a.insecure}}
    svc = ImageService(a.data_dir, registries_config=cfg)
    try:
        if a.verb == "import-rootfs":
            img = svc.import_rootfs(a.rootfs, a.ref, ContainerDefaults(
                cmd=shlex.split(a.cmd), working_dir=a.workdir,
                env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]))
            print(f"{img.reference} {img.digest} {img.size}")
        elif a.verb == "push":
            digest = svc.push(a.ref, a.to)
            print(f"pushed {a.to or a.ref} {digest}")
        else:
            for img in svc.list():
                print(f"{img.reference} {img.digest} {img.size}")
    except ImageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
