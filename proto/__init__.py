"""The contract: generated protobuf/gRPC modules and small pure helpers on them.

Hand-written modules here (codec, quantity, labels) import only protobuf and
the standard library, never another corral package, so every side of the
wire (CLI, control plane, agent) can depend on them.
"""
