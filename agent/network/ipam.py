"""Node-local IPAM over the node's pod CIDR, persisted like CNI host-local.

Layout under ``<data_dir>/ipam/<network>_<prefixlen>/``::

    10.244.1.2        one file per allocated address, created with O_EXCL;
                      line 1: the owner key (the pod uid), line 2: a label
                      ("default/web-1") for people
    last_reserved_ip  the address handed out last (allocation goes round-robin
                      from there so a freed address is not reused at once)
    lock              flock()ed around every change; holds the change counter

The address file *is* the allocation: it is created with ``O_CREAT|O_EXCL``
before the address is returned, so two allocators (threads, processes, an
agent and its restarted self) can never hand out the same address, and an
agent crash never loses an allocation. A crash can at worst leak one (an
empty or stale file); :meth:`IPAM.reconcile` frees those.

The records are read once, not per call: each ``IPAM`` keeps an index of them
(address -> owner key, and the round-robin hint) and trusts it only while the
store's stamp is the one it saw last under the lock. The stamp is a change
counter in the ``lock`` file, which every change bumps under the lock *before*
it touches a record (so a writer that dies half-way still moves it), together
with the directory's mtime and inode (which also catch a record removed by
hand). Any other stamp and the index is rebuilt from the files, which stay the
truth; the ``O_EXCL`` create still decides every allocation.

Addresses: the first host address of the CIDR (``.1``) is the bridge gateway,
pods get the rest up to the last host address (the broadcast address is never
used). A /30 therefore has room for exactly one pod.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import ipaddress
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.network.errors import InvalidNetworkConfig, IPAMError, IPAMExhausted
from common.files import write_atomic

_LAST = "last_reserved_ip"
_LOCK = "lock"


@dataclass
class _Index:
    """What the record files said when the store had ``stamp``."""

    stamp: tuple[int, int, int]             # change counter, dir mtime_ns, dir inode
    owners: dict[ipaddress.IPv4Address, str]
    last: int | None                        # the last address handed out (round-robin)

    def held(self, key: str) -> ipaddress.IPv4Address | None:
        ips = [ip for ip, owner in self.owners.items() if owner == key]
        return min(ips) if ips else None


def parse_cidr(cidr: str) -> ipaddress.IPv4Network:
    """Parse an IPv4 pod CIDR; host bits must be zero. Raise InvalidNetworkConfig."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as e:
        raise InvalidNetworkConfig(f"pod CIDR {cidr!r} is not a valid network: {e}") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidNetworkConfig(f"pod CIDR {cidr!r}: only IPv4 is supported")
    if net.prefixlen > 30:
        raise InvalidNetworkConfig(
            f"pod CIDR {cidr!r} is too small: it needs a gateway and at least one pod"
            " address (/30 or larger)"
        )
    return net


class IPAM:
    """Allocate pod addresses from one CIDR, one file per address under ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike[str], cidr: str) -> None:
        self.network = parse_cidr(cidr)
        self.gateway = self.network.network_address + 1
        self._first = int(self.network.network_address) + 2
        self._last = int(self.network.broadcast_address) - 1
        name = f"{self.network.network_address}_{self.network.prefixlen}"
        self.dir = Path(data_dir) / "ipam" / name
        self._index: _Index | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IPAMError(f"cannot create IPAM store {self.dir}: {e}") from e

    # -- queries ---------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """How many pod addresses the CIDR holds."""
        return self._last - self._first + 1

    def list(self) -> dict[ipaddress.IPv4Address, str]:
        """Every allocation: address -> owner key ("" for a file a crash left empty)."""
        with self._locked() as ix:
            return dict(sorted(ix.owners.items()))

    def lookup(self, key: str) -> ipaddress.IPv4Address | None:
        """The address held by ``key``, if any (the lowest one should it hold several)."""
        with self._locked() as ix:
            return ix.held(key)

    def free_count(self) -> int:
        with self._locked() as ix:
            return self.capacity - len(ix.owners)

    # -- changes ---------------------------------------------------------------

    def allocate(self, key: str, label: str = "") -> ipaddress.IPv4Address:
        """Give ``key`` an address; return the one it already holds if it has one.

        ``label`` (e.g. "default/web-1") only makes records and errors readable.
        Raises IPAMExhausted when every address is taken.
        """
        return self.claim(key, label)[0]

    def claim(self, key: str, label: str = "") -> tuple[ipaddress.IPv4Address, bool]:
        """`allocate`, and whether the address is new (False: ``key`` already held it)."""
        if not key or "\n" in key:
            raise InvalidNetworkConfig(f"IPAM key {key!r} must be a non-empty single line")
        with self._locked(change=True) as ix:
            existing = ix.held(key)
            if existing is not None:
                return existing, False
            start = ix.last + 1 if ix.last is not None else self._first
            start = start if self._first <= start <= self._last else self._first
            for i in range(self.capacity):
                n = self._first + (start - self._first + i) % self.capacity
                ip = ipaddress.IPv4Address(n)
                if ip in ix.owners:
                    continue
                if self._claim(ip, key, label):   # O_EXCL: the file decides, not the index
                    ix.owners[ip] = key
                    ix.last = n
                    self._write_last(ip)
                    return ip, True
                ix.owners[ip] = self._read_key(self.dir / str(ip))  # not ours: learn it
        who = label or key
        raise IPAMExhausted(f"no free IP in {self.network} for pod {who}")

    def release(self, key: str) -> builtins.list[ipaddress.IPv4Address]:
        """Free every address held by ``key``; return them (empty if none: idempotent)."""
        with self._locked(change=True) as ix:
            return self._free(ix, [ip for ip, owner in ix.owners.items() if owner == key])

    def release_ip(self, ip: str | ipaddress.IPv4Address) -> bool:
        """Free one address whoever holds it; True if it was allocated."""
        addr = ipaddress.IPv4Address(ip)
        with self._locked(change=True) as ix:
            return bool(self._free(ix, [addr] if addr in ix.owners else []))

    def reconcile(self, live_keys: Iterable[str]) -> builtins.list[ipaddress.IPv4Address]:
        """Free every address whose owner is not in ``live_keys`` (leaks, crash debris)."""
        live = set(live_keys)
        with self._locked(change=True) as ix:
            return self._free(ix, [ip for ip, owner in ix.owners.items() if owner not in live])

    # -- internals -------------------------------------------------------------

    @contextmanager
    def _locked(self, change: bool = False) -> Iterator[_Index]:
        """Hold the store's lock; yield the index, valid for the store as it is now.

        ``change``: the caller may change records, so the change counter is bumped
        first (a writer that dies half-way has still moved it for everyone else).
        """
        try:
            fd = os.open(self.dir / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise IPAMError(f"cannot open IPAM lock in {self.dir}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                gen = int.from_bytes(os.pread(fd, 8, 0).ljust(8, b"\0"), "little")
                if change:
                    gen = (gen + 1) % (1 << 64)
                    os.pwrite(fd, gen.to_bytes(8, "little"), 0)
            except OSError as e:
                raise IPAMError(f"cannot use the IPAM lock in {self.dir}: {e}") from e
            ix, self._index = self._index, None     # kept again only if all goes well
            stamp = self._stamp(gen - change)       # as this index last saw the store
            if ix is None or ix.stamp != stamp:     # stat before reading: a later change
                ix = _Index(stamp, {ip: self._read_key(path) for ip, path in self._files()},
                            self._read_last())      # moves the stamp past this one
            yield ix
            ix.stamp = self._stamp(gen) if change else stamp
            self._index = ix
        finally:
            os.close(fd)

    def _stamp(self, gen: int) -> tuple[int, int, int]:
        try:
            st = os.stat(self.dir)
        except OSError as e:
            raise IPAMError(f"cannot read IPAM store {self.dir}: {e}") from e
        return gen, st.st_mtime_ns, st.st_ino

    def _free(self, ix: _Index,
              ips: builtins.list[ipaddress.IPv4Address]) -> builtins.list[ipaddress.IPv4Address]:
        for ip in sorted(ips):
            self._unlink(self.dir / str(ip))
            del ix.owners[ip]
        return sorted(ips)

    def _files(self) -> builtins.list[tuple[ipaddress.IPv4Address, Path]]:
        out: builtins.list[tuple[ipaddress.IPv4Address, Path]] = []
        try:
            names = os.listdir(self.dir)
        except OSError as e:
            raise IPAMError(f"cannot read IPAM store {self.dir}: {e}") from e
        for name in names:
            try:
                ip = ipaddress.IPv4Address(name)
            except ValueError:
                continue  # lock, last_reserved_ip, temp files
            if ip in self.network:
                out.append((ip, self.dir / name))
        out.sort()
        return out

    @staticmethod
    def _read_key(path: Path) -> str:
        try:
            text = path.read_text()
        except FileNotFoundError:
            return ""
        except OSError as e:
            raise IPAMError(f"cannot read IPAM record {path}: {e}") from e
        return text.split("\n", 1)[0].strip()

    def _claim(self, ip: ipaddress.IPv4Address, key: str, label: str) -> bool:
        path = self.dir / str(ip)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        except OSError as e:
            raise IPAMError(f"cannot record {ip} in {self.dir}: {e}") from e
        try:
            # no fsync: the page cache outlives an agent crash, and what a machine
            # crash could lose (a fresh record) dies with every pod netns anyway
            os.write(fd, f"{key}\n{label}\n".encode())
        except OSError as e:
            os.close(fd)
            self._unlink(path)
            raise IPAMError(f"cannot record {ip} in {self.dir}: {e}") from e
        os.close(fd)
        return True

    def _read_last(self) -> int | None:
        """The round-robin hint: the address handed out last, if recorded."""
        try:
            return int(ipaddress.IPv4Address((self.dir / _LAST).read_text().strip()))
        except (OSError, ValueError):
            return None

    def _write_last(self, ip: ipaddress.IPv4Address) -> None:
        try:
            write_atomic(self.dir / _LAST, f"{ip}\n".encode(), mode=0o644, durable=False)
        except OSError:
            pass  # only a hint for round-robin; the address file is what counts

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            os.unlink(path)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise IPAMError(f"cannot free IPAM record {path}: {e}") from e
