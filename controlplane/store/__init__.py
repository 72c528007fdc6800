"""etcd-backed object storage.

    etcd_store.Store      objects under /corral/<resource>/[<namespace>/]<name>, CAS writes
    watch.StoreEvent      what Store.watch yields (one etcd watch per resource, fanned out)
    batch                 many objects in one etcd transaction
    keys, etcdio, compactor

The package imports none of its modules (import what you use from its module).
"""
