"""agent: the node agent (corral-agent).

Inside the agent only `agent/adapters/` imports `agent.runtime`, `agent.images`
and `agent.network`; the rest (pod workers, the node, the Agent service, the
hollow agent) works through the Protocols of `agent/ports.py`. A module of
runtime, images or network imports its own package and nothing of the other two.

Import-light: the runtime's shim imports this package (docs/internals.md).
"""
