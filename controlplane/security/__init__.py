"""Cluster security: PKI, bootstrap tokens, authentication, node authorization, joining.

    pki.py     the cluster CA (created on first start) and the certificates it issues
    tokens.py  bootstrap tokens (id.secret) with TTL, usages and revocation
    authn.py   TLS credentials for the API/bootstrap ports, Identity from the peer cert,
               AuthInterceptor
    authz.py   authorize(identity, verb, resource, ...): admins all, nodes only their own
    join.py    the server side of Join / RenewCertificate as plain async functions
"""
