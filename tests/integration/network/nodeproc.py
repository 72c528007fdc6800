"""Run PodNetwork operations inside a node netns: ``ip netns exec <node> python -m <this>``.

argv[1] is JSON: {"net": {PodNetwork kwargs}, "ops": [[method, *args], ...]}.
Prints one JSON line: {"results": [...]} or {"error": class name, "message": ...}.
A trailing dict argument is passed as keyword arguments. The op
``["exhaust_allocate"]`` makes every later allocation raise IPAMExhausted
(as if another allocator took the last address), and ``["crash_in_setup", uid]``
makes the process die (os._exit) inside setup_pod after the veth exists and
before the address is recorded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

from agent.network import PodNetwork
from agent.network.errors import IPAMExhausted, NetworkError
from agent.network.ipam import IPAM


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def main() -> int:
    spec = json.loads(sys.argv[1])
    results: list[Any] = []
    with PodNetwork(**spec["net"]) as net:
        try:
            for op, *args in spec["ops"]:
                if op == "crash_in_setup":
                    def crash(self: IPAM, key: str, label: str = "") -> Any:
                        os._exit(17)

                    IPAM.claim = crash  # type: ignore[method-assign]
                    net.setup_pod(args[0], "default", "crashy")
                    continue
                if op == "exhaust_allocate":
                    def exhausted(self: IPAM, key: str, label: str = "") -> Any:
                        raise IPAMExhausted(f"no free IP in {self.network} for pod {label}")

                    IPAM.claim = exhausted  # type: ignore[method-assign]
                    continue
                kwargs: dict[str, Any] = {}
                if args and isinstance(args[-1], dict):
                    kwargs = args.pop()
                results.append(_plain(getattr(net, op)(*args, **kwargs)))
        except NetworkError as e:
            print(json.dumps({"error": type(e).__name__, "message": str(e), "results": results}))
            return 0
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
