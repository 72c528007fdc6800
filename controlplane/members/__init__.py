"""Control-plane members: several corral-controlplane processes, each with its own
member of ONE etcd cluster, so that losing any one machine loses nothing.

    corral-controlplane --cluster-init --advertise-address 10.0.0.5 ...     # the first
    corral-controlplane --join 10.0.0.5:6444 --token ID.SECRET \\
        --ca-cert-hash sha256:... --advertise-address 10.0.0.6 ...          # every other

Rooms:
  flags.py      the command line (--cluster-init, --join, --member-name, --etcd-*file ...)
  startup.py    before the event loop: join (first start), etcd's certificates and
                peering, the member's etcd; then its promotion and the supervisor
  joiner.py     the joining side: pin the CA by its hash, JoinControlPlane, write the
                shared files (pki/ca.crt, pki/ca.key, pki/secret-keys.yaml)
  admit.py      the admitting side: the token, etcd MemberAdd (as a learner), the answer
  etcdadmin.py  etcd's cluster API (list, add, promote, remove, status of one member)
  records.py    each member's published addresses, in etcd under /corral-members/
  sync.py       follow membership changes: etcd endpoints, known addresses (certificate
                SANs at the next start), this member's record
  status.py     ListControlPlanes: members, health, the etcd leader, the loops' leader
  rpc.py        the three RPCs as gRPC handlers (served by the JoinInterceptor)

Errors are controlplane.errors (the package's one tree): Unauthenticated (the token),
Forbidden (not an admin), BadRequest (a malformed request), AlreadyExists (a live member
of that name or address), Conflict (etcd refused a membership change, e.g. one that
would lose quorum), NotFound (no such member), Unavailable (etcd unreachable, another
member is joining: retry). The joiner raises JoinFailed (below) with what to do.
"""


class JoinFailed(RuntimeError):
    """This member could not join (unreachable, refused, the CA pin did not match)."""
