"""etcd-backed object storage: `Store`, its watch events (`StoreEvent`) and key layout."""

from controlplane.store.etcd_store import Store, meta
from controlplane.store.watch import StoreEvent

__all__ = ["Store", "StoreEvent", "meta"]
