"""The Kubernetes API over HTTPS: the second door to the registry (DESIGN.md, "Two doors,
one house").

kubectl, client-go, the `kubernetes` Python package and operators talk to it; it
translates their REST requests into calls of the same Registry, Access (authorization)
and Agents (logs, exec, attach) the gRPC `Api` service uses, and the answers and errors
back into Kubernetes' JSON (metav1.Status for errors). It holds no API logic of its own.

    server.py        KubeApiServer: aiohttp on TLS, client certificates (CN user, O groups)
    tls.py           the TLS context and the caller's identity
    paths.py         /api, /apis/<group>/<version>/..., to a Target (kind, namespace, name,
                     subresource)
    status.py        errors.ApiError -> metav1.Status and its HTTP code (the ONE boundary)
    discovery.py     /api, /apis, resource lists, aggregated discovery, /version
    call.py          one request: its target, query parameters and body (JSON, YAML, or
                     Kubernetes protobuf read by proto/wire/) -> Object
    reads.py         get and list (label/field selectors, limit/continue), Table printing
    watch.py         watch: chunked JSON events, resourceVersion semantics, bookmarks
    writes.py        create, update, delete, deletecollection
    patching.py      the four patch types (proto/patch/ does the merging)
    subresources.py  status, scale, eviction, binding
    streams.py       exec and attach over WebSocket (v5/v4.channel.k8s.io); logs.py pods/log
    portforward.py   pods/portforward: kubectl port-forward's SPDY streams (spdy.py: the
                     framing) in a WebSocket, to a PodDialer (podconn.py, the House's)
    podproxy.py      pods/proxy: an HTTP request to a pod's port by the same PodDialer
    openapi/         the OpenAPI v2 and v3 documents, generated from the schema

Errors: every handler raises only controlplane.errors.ApiError (or lets an unexpected
exception through, answered 500 InternalError by status.py); see status.py for the map.
"""
