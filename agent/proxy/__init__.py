"""agent/proxy: the node's service proxy (kube-proxy's job, nftables mode).

    model.py        Services + EndpointSlices -> ServicePorts with their endpoints (pure)
    rules.py        ServicePorts -> the wanted nftables chains, sets and maps (pure)
    transaction.py  have -> want as one `nft -f -` script (full or partial; pure)
    ports.py        what the proxier needs from the kernel (Netfilter, Conntrack)
    nft.py          Netfilter over the `nft` command; conntrack.py: Conntrack over `conntrack`
    proxier.py      the sync loop: watch, render, apply atomically, flush stale UDP flows,
                    publish the synced revision

Errors (one tree):

    ProxyError
    +-- NftError          nft refused a script or could not run
    +-- ConntrackError    conntrack could not run
"""


class ProxyError(Exception):
    """The service proxy could not do something to the kernel."""


class NftError(ProxyError):
    pass


class ConntrackError(ProxyError):
    pass
