"""Helpers below every daemon: the bottom floor beside `proto/`.

`proto/` is the contract (the schema and what reads and writes it); `common/`
holds what the processes share that is not the contract: the log format
(`logfmt`), the metrics/health endpoint (`opshttp`), loopback checks
(`netaddr`) and atomic file writes (`files`). It imports only the standard
library and prometheus_client, never another corral package.
"""
