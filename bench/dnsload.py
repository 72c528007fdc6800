"""``python -m bench.dnsload SERVER SECONDS CONCURRENCY NAME...``: a closed-loop DNS
load generator (run inside a node's network namespace by bench/dns.py).

CONCURRENCY UDP sockets each keep one query outstanding (the next is sent when
the answer arrives, or after a 1 s timeout), cycling through NAMEs (A queries);
prints one JSON line: queries, answers, timeouts, qps, p50 and p99 latency (s),
the count of each response code and of responses with answers.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import sys
import time


def query(name: str, qid: int) -> bytes:
    head = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split("."))
    return head + labels + b"\x00" + struct.pack("!HH", 1, 1)


def main(argv: list[str]) -> int:
    server, seconds, conc, names = argv[0], float(argv[1]), int(argv[2]), argv[3:]
    wires = [query(n, 0) for n in names]
    sel = selectors.DefaultSelector()
    sent: dict[socket.socket, float] = {}
    lat: list[float] = []
    rcodes: dict[int, int] = {}
    with_answers = 0
    timeouts = 0
    counter = 0

    def send(s: socket.socket) -> None:
        nonlocal counter
        w = wires[counter % len(wires)]
        counter += 1
        s.send(struct.pack("!H", counter & 0xFFFF) + w[2:])
        sent[s] = time.perf_counter()

    for _ in range(conc):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((server, 53))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, s)
        send(s)
    end = time.perf_counter() + seconds
    last_check = time.perf_counter()
    while (now := time.perf_counter()) < end:
        for key, _ in sel.select(0.1):
            s = key.data
            try:
                data = s.recv(4096)
            except OSError:
                continue
            lat.append(time.perf_counter() - sent[s])
            rcode = data[3] & 0x0F if len(data) >= 12 else -1
            rcodes[rcode] = rcodes.get(rcode, 0) + 1
            with_answers += len(data) >= 12 and struct.unpack("!H", data[6:8])[0] > 0
            send(s)
        if now - last_check > 0.2:
            last_check = now
            for s, t in list(sent.items()):
                if now - t > 1.0:
                    timeouts += 1
                    send(s)
    lat.sort()
    out = {"queries": counter, "answers": len(lat), "timeouts": timeouts,
           "qps": len(lat) / seconds, "rcodes": rcodes, "with_answers": with_answers,
           "p50": lat[len(lat) // 2] if lat else None,
           "p99": lat[int(len(lat) * 0.99)] if lat else None,
           "pid": os.getpid()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
