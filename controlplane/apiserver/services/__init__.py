"""What the API server does for Services beyond storing them.

    network.py     the service CIDR and node port range (flags), the static/dynamic bands
    allocation.py  which cluster IP and node ports a Service gets or gives back (pure)
    allocator.py   those claims written with the Service in one etcd transaction
    admission.py   named target ports checked against the pods a Service selects
    apiserver.py   the `kubernetes` Service in `default` and its endpoints (the API servers)
"""
