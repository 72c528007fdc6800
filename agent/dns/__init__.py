"""agent/dns: the node-local cluster DNS (like NodeLocal DNSCache with the records
of CoreDNS' kubernetes plugin), answered by the agent itself.

    zone.py        Services + EndpointSlices -> the cluster's names (pure)
    server.py      UDP/TCP server on the cluster DNS address (dnspython), forwarding
                   names outside the cluster to the node's resolvers
    resolvconf.py  the resolv.conf and /etc/hosts a pod gets (dnsPolicy, dnsConfig,
                   hostAliases), like the kubelet writes them
    service.py     wiring: keep the zone current from the ServiceWatch
"""
