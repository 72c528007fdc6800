"""Secrets at rest, for the control plane process: the key file flag, the key ring
(made with the cluster CA on first start) and the check at start that this control
plane can read every stored Secret (else it refuses to start, naming the key).

    corral-controlplane --encryption-key-file /etc/corral/secret-keys.yaml

Imported by controlplane/__main__.py before etcd starts: the store and the crypto
modules are imported only when used.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controlplane.store.encryption import KeyRing
    from controlplane.store.etcd_store import Store

log = logging.getLogger(__name__)

RESOURCE = "secrets"
KEY_FILE_NAME = "secret-keys.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encryption-key-file", default="", metavar="FILE",
                   help="the keys that encrypt Secrets in etcd (default "
                        f"DATA_DIR/pki/{KEY_FILE_NAME}, made on first start; every replica "
                        "needs the same file)")


def key_file(args: argparse.Namespace) -> Path:
    given = getattr(args, "encryption_key_file", "")
    return Path(given) if given else Path(args.data_dir) / "pki" / KEY_FILE_NAME


def open_keyring(args: argparse.Namespace) -> KeyRing:
    from controlplane.store.encryption import KeyRing
    return KeyRing.load_or_create(key_file(args))


async def check_stored(store: Store, ring: KeyRing) -> None:
    """Refuse to serve with keys that cannot read what etcd holds (DecryptError)."""
    from controlplane.store.reencrypt import verify
    usage = await verify(store, RESOURCE, ring)
    if usage:
        by_key = ", ".join(f"{n}: {c}" for n, c in sorted(usage.items()))
        log.info("Secrets in etcd by encryption key: %s (primary %s)", by_key,
                 ring.primary.name)
