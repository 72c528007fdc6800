"""The contract: generated protobuf/gRPC modules and small pure helpers on them.

Hand-written modules here (kinds, codec, quantity, labels, and the daemons'
shared operational surface: logfmt, opshttp) import only protobuf,
prometheus_client and the standard library, never another corral package,
so every side of the wire (CLI, control plane, agent) can depend on them.
"""
