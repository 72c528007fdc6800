"""Cluster security: PKI, bootstrap tokens, authentication, node authorization, joining.

    pki.py     the cluster CA (created on first start) and the certificates it issues
    certs.py   its building blocks: identity names, PEM, SPKI hashes, private files
    tokens.py  bootstrap tokens (id.secret) with TTL, usages and revocation
    etcdkv.py  the tokens' storage on the control plane's etcd connection
    authn.py   TLS credentials for the API/bootstrap ports, Identity from the peer cert,
               AuthInterceptor (in tls_credentials.py, identity.py, auth_interceptor.py)
    authz.py   authorize(identity, verb, resource, ...): admins all, nodes only their own
    join.py    the server side of Join / RenewCertificate as plain async functions
    wire.py    their wire messages and JoinInterceptor, which serves them
    setup.py   prepare(data_dir, hosts): CA, API server cert, admin.conf, agent channels
    serve.py   the hook controlplane/__main__.py calls: --tls and friends -> ApiServer kwargs

Design notes: README.md in this directory.
"""
